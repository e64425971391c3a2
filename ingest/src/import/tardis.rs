//! Tardis.dev CSV: `trades` and `quotes` (top of book) datasets.
//!
//! Columns are found by name in the header (every member starts with one), so
//! column order does not matter and extra columns are ignored. Times are µs
//! since the epoch, UTC: `timestamp` → `ts_event`, `local_timestamp` → `ts_recv`.

use mtf::{Side, Tick, TickKind};

use super::counts::{RowError, Skip};
use super::fields::split;
use super::num::{parse_f64, parse_u64};
use super::time::TimeUnit;
use super::{Decode, ImportError, Outcome, SymState, Syms};

const MAX_FIELDS: usize = 16;
const NONE: u8 = u8::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Trades,
    Quotes,
}

/// Column indices (NONE: absent).
#[derive(Clone, Copy, Debug)]
struct Cols {
    symbol: u8,
    ts: u8,
    local_ts: u8,
    id: u8,
    side: u8,
    price: u8,
    amount: u8,
    ask_amount: u8,
    ask_price: u8,
    bid_price: u8,
    bid_amount: u8,
}

impl Default for Cols {
    fn default() -> Cols {
        Cols {
            symbol: NONE,
            ts: NONE,
            local_ts: NONE,
            id: NONE,
            side: NONE,
            price: NONE,
            amount: NONE,
            ask_amount: NONE,
            ask_price: NONE,
            bid_price: NONE,
            bid_amount: NONE,
        }
    }
}

/// The Tardis decoder: header first, then rows.
#[derive(Debug, Default)]
pub(crate) struct TardisDecoder {
    kind: Option<Kind>,
    cols: Cols,
    /// fields a row needs at least (highest required index + 1)
    need: usize,
}

impl TardisDecoder {
    fn header(&mut self, line: &[u8]) -> Outcome {
        let mut f = [&b""[..]; MAX_FIELDS];
        let n = split(line, b',', &mut f).min(MAX_FIELDS);
        let mut c = Cols::default();
        for (i, name) in f[..n].iter().enumerate() {
            let slot = match *name {
                b"symbol" => &mut c.symbol,
                b"timestamp" => &mut c.ts,
                b"local_timestamp" => &mut c.local_ts,
                b"id" => &mut c.id,
                b"side" => &mut c.side,
                b"price" => &mut c.price,
                b"amount" => &mut c.amount,
                b"ask_amount" => &mut c.ask_amount,
                b"ask_price" => &mut c.ask_price,
                b"bid_price" => &mut c.bid_price,
                b"bid_amount" => &mut c.bid_amount,
                _ => continue,
            };
            *slot = i as u8;
        }
        let (kind, required) = if c.price != NONE {
            (Kind::Trades, [c.ts, c.price, c.amount, c.ts])
        } else {
            (Kind::Quotes, [c.ts, c.bid_price, c.ask_price, c.ts])
        };
        if required.contains(&NONE) {
            self.kind = None;
            return Outcome::Error(RowError::Fields);
        }
        self.need = required.iter().map(|&i| i as usize + 1).max().unwrap_or(0);
        self.kind = Some(kind);
        self.cols = c;
        Outcome::Skip(Skip::Header)
    }
}

#[inline]
fn col<'a>(f: &[&'a [u8]; MAX_FIELDS], n: usize, i: u8) -> Option<&'a [u8]> {
    let i = i as usize;
    if i < n { Some(f[i]) } else { None }
}

/// An optional size: empty or absent → `Ok(None)`.
#[inline]
fn opt_f64(v: Option<&[u8]>) -> Result<Option<f64>, ()> {
    match v {
        None | Some(b"") => Ok(None),
        Some(b) => parse_f64(b).map(Some).ok_or(()),
    }
}

impl Decode for TardisDecoder {
    fn begin(&mut self, _: &str, _: &str, _: &mut SymState) -> Result<(), ImportError> {
        self.kind = None;
        Ok(())
    }

    #[inline]
    fn decode(&mut self, line: &[u8], syms: &mut Syms<'_>, out: &mut Tick) -> Outcome {
        let Some(kind) = self.kind else {
            return self.header(line);
        };
        let mut f = [&b""[..]; MAX_FIELDS];
        let n = split(line, b',', &mut f).min(MAX_FIELDS);
        if n < self.need {
            if line.starts_with(b"exchange,") {
                // a header repeated (concatenated files)
                return self.header(line);
            }
            return Outcome::Error(RowError::Fields);
        }
        let c = self.cols;
        let Some(ts) = TimeUnit::Micros.parse_ns(f[c.ts as usize]) else {
            return Outcome::Error(RowError::Time);
        };
        let recv = match col(&f, n, c.local_ts) {
            None | Some(b"") => ts,
            Some(b) => match TimeUnit::Micros.parse_ns(b) {
                Some(v) => v,
                None => return Outcome::Error(RowError::Time),
            },
        };
        let symbol = match col(&f, n, c.symbol) {
            Some(s) if !s.is_empty() => syms.named(s),
            _ => syms.fixed(),
        };
        let symbol = match symbol {
            Ok(s) => s,
            Err(r) => return Outcome::Reject(r),
        };
        match kind {
            Kind::Trades => {
                let Some(price) = parse_f64(f[c.price as usize]) else {
                    return Outcome::Error(RowError::Price);
                };
                let Some(size) = parse_f64(f[c.amount as usize]) else {
                    return Outcome::Error(RowError::Size);
                };
                let side = match col(&f, n, c.side) {
                    Some(b"buy") => Side::Buy,
                    Some(b"sell") => Side::Sell,
                    Some(b"unknown") | Some(b"") | None => Side::Unknown,
                    Some(_) => return Outcome::Error(RowError::Side),
                };
                // Tardis ids are venue strings; non-numeric ones (UUIDs) keep the trade, id 0
                let id = col(&f, n, c.id).and_then(parse_u64).unwrap_or(0);
                *out = Tick::trade(symbol, ts, price, size, side, id).with_recv(recv);
                Outcome::Tick
            }
            Kind::Quotes => {
                let (Ok(bid), Ok(ask)) = (
                    opt_f64(col(&f, n, c.bid_price)),
                    opt_f64(col(&f, n, c.ask_price)),
                ) else {
                    return Outcome::Error(RowError::Price);
                };
                let (Ok(bid_size), Ok(ask_size)) = (
                    opt_f64(col(&f, n, c.bid_amount)),
                    opt_f64(col(&f, n, c.ask_amount)),
                ) else {
                    return Outcome::Error(RowError::Size);
                };
                // an empty side means that side of the book is empty: no quote to give
                let (Some(bid), Some(ask)) = (bid, ask) else {
                    return Outcome::Error(RowError::EmptyQuote);
                };
                *out = Tick::quote(
                    symbol,
                    ts,
                    bid,
                    bid_size.unwrap_or(0.0),
                    ask,
                    ask_size.unwrap_or(0.0),
                )
                .with_recv(recv);
                debug_assert_eq!(out.kind, TickKind::Quote);
                Outcome::Tick
            }
        }
    }
}
