//! Binance websocket messages as captured by hftbacktest's collector:
//! `<local receive time, ns since the epoch> <space> <raw JSON message>` per line.
//!
//! Combined-stream envelopes (`{"stream":…,"data":{…}}`) and bare messages are
//! both read. `trade` and `aggTrade` give trades (`T` trade time → `ts_event`;
//! `m` true = the buyer was the maker, i.e. the aggressor sold); `bookTicker`
//! gives quotes (spot bookTicker has no time: `ts_event` = receive time;
//! futures' `T`/`E` are used when present); `depthUpdate` lines are skipped and
//! counted ([`Skip::Depth`]), other messages too ([`Skip::OtherEvent`]).
//! `ts_recv` is always the capture time, so a replay paces by it.

use mtf::{Side, Tick};

use super::counts::{RowError, Skip};
use super::json::{Members, Value};
use super::num::{parse_f64, parse_u64};
use super::{Decode, ImportError, Outcome, SymState, Syms};

/// The hftbacktest/Binance decoder (stateless).
#[derive(Debug, Default)]
pub(crate) struct BinanceDecoder;

#[derive(Default)]
struct Msg<'a> {
    e: Option<&'a [u8]>,
    event_ms: Option<&'a [u8]>,
    trade_ms: Option<&'a [u8]>,
    s: Option<&'a [u8]>,
    t: Option<&'a [u8]>,
    agg: Option<&'a [u8]>,
    p: Option<&'a [u8]>,
    q: Option<&'a [u8]>,
    m: Option<bool>,
    u: Option<&'a [u8]>,
    b: Option<&'a [u8]>,
    bq: Option<&'a [u8]>,
    a: Option<&'a [u8]>,
    aq: Option<&'a [u8]>,
    depth: bool,
}

fn read_msg<'a>(obj: &'a [u8], msg: &mut Msg<'a>) -> Result<(), ()> {
    let mut it = Members::new(obj).ok_or(())?;
    while let Some(kv) = it.next() {
        let (k, v) = kv?;
        match k {
            b"e" => msg.e = v.text(),
            b"E" => msg.event_ms = v.text(),
            b"T" => msg.trade_ms = v.text(),
            b"s" => msg.s = v.text(),
            b"t" => msg.t = v.text(),
            b"a" => match v {
                // aggTrade id is a number; bookTicker's best ask is a string
                Value::Num(n) => msg.agg = Some(n),
                Value::Str(s) => msg.a = Some(s),
                Value::Arr(_) => msg.depth = true,
                _ => {}
            },
            b"b" => match v {
                Value::Str(s) => msg.b = Some(s),
                Value::Arr(_) => msg.depth = true,
                _ => {}
            },
            b"p" => msg.p = v.text(),
            b"q" => msg.q = v.text(),
            b"m" => {
                if let Value::Bool(b) = v {
                    msg.m = Some(b)
                }
            }
            b"u" => msg.u = v.text(),
            b"B" => msg.bq = v.text(),
            b"A" => msg.aq = v.text(),
            _ => {}
        }
    }
    Ok(())
}

#[inline]
fn ms_to_ns(b: &[u8]) -> Option<i64> {
    let ms = parse_u64(b)?;
    i64::try_from(ms).ok()?.checked_mul(1_000_000)
}

impl Decode for BinanceDecoder {
    fn begin(&mut self, _: &str, _: &str, _: &mut SymState) -> Result<(), ImportError> {
        Ok(())
    }

    fn decode(&mut self, line: &[u8], syms: &mut Syms<'_>, out: &mut Tick) -> Outcome {
        let Some(sp) = memchr::memchr(b' ', line) else {
            return Outcome::Error(RowError::Fields);
        };
        let Some(recv) = parse_u64(&line[..sp]).and_then(|v| i64::try_from(v).ok()) else {
            return Outcome::Error(RowError::Time);
        };
        let json = &line[sp + 1..];
        let Some(mut outer) = Members::new(json) else {
            return Outcome::Error(RowError::Json);
        };
        // the envelope: stream name first (depth is skipped before its body is scanned)
        let mut msg = Msg::default();
        let mut data: Option<&[u8]> = None;
        let mut bare = false;
        while let Some(kv) = outer.next() {
            let Ok((k, v)) = kv else {
                return Outcome::Error(RowError::Json);
            };
            match (k, v) {
                (b"stream", Value::Str(s)) => {
                    if memchr::memmem::find(s, b"@depth").is_some() {
                        return Outcome::Skip(Skip::Depth);
                    }
                }
                (b"data", Value::Obj(o)) => data = Some(o),
                _ => bare = true,
            }
        }
        let parsed = match data {
            Some(o) => read_msg(o, &mut msg),
            None if bare => read_msg(json, &mut msg),
            None => return Outcome::Skip(Skip::OtherEvent),
        };
        if parsed.is_err() {
            return Outcome::Error(RowError::Json);
        }
        match msg.e {
            Some(b"trade") | Some(b"aggTrade") => {
                let Some(ts) = msg.trade_ms.or(msg.event_ms).and_then(ms_to_ns) else {
                    return Outcome::Error(RowError::Time);
                };
                let Some(price) = msg.p.and_then(parse_f64) else {
                    return Outcome::Error(RowError::Price);
                };
                let Some(size) = msg.q.and_then(parse_f64) else {
                    return Outcome::Error(RowError::Size);
                };
                let side = match msg.m {
                    Some(true) => Side::Sell,
                    Some(false) => Side::Buy,
                    None => return Outcome::Error(RowError::Side),
                };
                let id_text = if msg.e == Some(b"aggTrade") {
                    msg.agg
                } else {
                    msg.t
                };
                let id = match id_text {
                    None => 0,
                    Some(t) => match parse_u64(t) {
                        Some(v) => v,
                        None => return Outcome::Error(RowError::Id),
                    },
                };
                let symbol = match msg.s {
                    Some(s) => syms.named(s),
                    None => syms.fixed(),
                };
                let symbol = match symbol {
                    Ok(s) => s,
                    Err(r) => return Outcome::Reject(r),
                };
                *out = Tick::trade(symbol, ts, price, size, side, id).with_recv(recv);
                Outcome::Tick
            }
            Some(b"depthUpdate") => Outcome::Skip(Skip::Depth),
            _ if msg.depth => Outcome::Skip(Skip::Depth),
            Some(b"bookTicker") | None if msg.b.is_some() && msg.a.is_some() => {
                let ts = match msg.trade_ms.or(msg.event_ms) {
                    None => recv,
                    Some(t) => match ms_to_ns(t) {
                        Some(v) => v,
                        None => return Outcome::Error(RowError::Time),
                    },
                };
                let (Some(bid), Some(ask)) = (msg.b.and_then(parse_f64), msg.a.and_then(parse_f64))
                else {
                    return Outcome::Error(RowError::Price);
                };
                let (Some(bs), Some(as_)) = (
                    msg.bq.map_or(Some(0.0), parse_f64),
                    msg.aq.map_or(Some(0.0), parse_f64),
                ) else {
                    return Outcome::Error(RowError::Size);
                };
                let id = msg.u.and_then(parse_u64).unwrap_or(0);
                let symbol = match msg.s {
                    Some(s) => syms.named(s),
                    None => syms.fixed(),
                };
                let symbol = match symbol {
                    Ok(s) => s,
                    Err(r) => return Outcome::Reject(r),
                };
                *out = Tick::quote(symbol, ts, bid, bs, ask, as_).with_recv(recv);
                out.id = id;
                Outcome::Tick
            }
            _ => Outcome::Skip(Skip::OtherEvent),
        }
    }
}
