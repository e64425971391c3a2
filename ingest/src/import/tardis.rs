//! Tardis.dev CSV: `trades` and `quotes` (top of book) datasets.
//!
//! Columns are found by name in the header (every member starts with one), so
//! column order does not matter and extra columns are ignored. Times are µs
//! since the epoch, UTC: `timestamp` → `ts_event`, `local_timestamp` → `ts_recv`.

use mtf::{Side, SymbolId, Tick, TickKind};

use super::counts::{RowError, Skip};
use super::fields::{Cursor, Row, split};
use super::num::word_at;
use super::window::{self, Window, at, ld};
use super::{Decode, ImportError, Outcome, SymState, Syms};
use crate::validate::Validator;

const MAX_FIELDS: usize = 16;
const NONE: u8 = u8::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Trades,
    Quotes,
}

/// What a column holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Role {
    #[default]
    Skip,
    Symbol,
    Ts,
    LocalTs,
    Id,
    Side,
    Price,
    Amount,
    AskAmount,
    AskPrice,
    BidPrice,
    BidAmount,
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
    /// role of each column, up to the last one used
    roles: [Role; MAX_FIELDS],
    used: usize,
    /// the header is exactly Tardis' trades layout: a straight-line decoder applies
    standard_trades: bool,
    /// the fused path's last `exchange,symbol,` (per member)
    prefix: Prefix,
}

/// The `exchange,symbol,` text that starts the last row of the fused path
/// (at most 32 bytes) and the id its symbol resolved to: a row starting with
/// the same bytes has the same two fields and the same symbol id (ids are
/// stable, and the symbol rule is fixed within a member), so neither field is
/// scanned nor the symbol looked up again. Rows of one file mostly share them.
#[derive(Clone, Copy, Debug, Default)]
struct Prefix {
    /// the text, eight bytes per word, little-endian
    words: [u64; 4],
    /// the bytes of each word that belong to the text
    masks: [u64; 4],
    /// its length; 0: none
    len: usize,
    id: SymbolId,
}

impl Prefix {
    /// Whether `rest` starts with the prefix (and runs on past it).
    #[inline(always)]
    fn matches(&self, rest: &[u8]) -> bool {
        let mut diff = 0;
        for k in 0..4 {
            diff |= (word_at(rest, 8 * k) ^ self.words[k]) & self.masks[k];
        }
        self.len != 0 && rest.len() > self.len && diff == 0
    }

    /// The first `len` bytes of `rest` with `id`; no prefix when longer than 32 bytes.
    #[cold]
    fn set(&mut self, rest: &[u8], len: usize, id: SymbolId) {
        *self = Prefix::default();
        if len > 32 || len > rest.len() {
            return;
        }
        for k in 0..4 {
            let bytes = len.saturating_sub(8 * k).min(8);
            self.masks[k] = if bytes == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * bytes)) - 1
            };
            self.words[k] = word_at(rest, 8 * k) & self.masks[k];
        }
        self.len = len;
        self.id = id;
    }
}

/// The header of Tardis' `trades` dataset.
const TRADES_HEADER: &[u8] = b"exchange,symbol,timestamp,local_timestamp,id,side,price,amount";

impl TardisDecoder {
    fn header(&mut self, line: &[u8]) -> Outcome {
        self.standard_trades = line == TRADES_HEADER;
        self.prefix = Prefix::default();
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
        self.kind = Some(kind);
        self.roles = [Role::Skip; MAX_FIELDS];
        let set: [(u8, Role); 11] = match kind {
            Kind::Trades => [
                (c.symbol, Role::Symbol),
                (c.ts, Role::Ts),
                (c.local_ts, Role::LocalTs),
                (c.id, Role::Id),
                (c.side, Role::Side),
                (c.price, Role::Price),
                (c.amount, Role::Amount),
                (NONE, Role::Skip),
                (NONE, Role::Skip),
                (NONE, Role::Skip),
                (NONE, Role::Skip),
            ],
            Kind::Quotes => [
                (c.symbol, Role::Symbol),
                (c.ts, Role::Ts),
                (c.local_ts, Role::LocalTs),
                (c.ask_amount, Role::AskAmount),
                (c.ask_price, Role::AskPrice),
                (c.bid_price, Role::BidPrice),
                (c.bid_amount, Role::BidAmount),
                (NONE, Role::Skip),
                (NONE, Role::Skip),
                (NONE, Role::Skip),
                (NONE, Role::Skip),
            ],
        };
        self.used = 0;
        for (i, r) in set {
            if i != NONE {
                self.roles[i as usize] = r;
                self.used = self.used.max(i as usize + 1);
            }
        }
        Outcome::Skip(Skip::Header)
    }
}

impl Decode for TardisDecoder {
    fn begin(&mut self, _: &str, _: &str, _: &mut SymState) -> Result<(), ImportError> {
        self.kind = None;
        self.prefix = Prefix::default();
        Ok(())
    }

    #[inline]
    fn decode(&mut self, line: &[u8], syms: &mut Syms<'_>, out: &mut Tick) -> Outcome {
        let Some(kind) = self.kind else {
            return self.header(line);
        };
        if line.starts_with(b"exchange,") {
            // a header repeated (concatenated files)
            return self.header(line);
        }
        if self.standard_trades {
            return standard_trade(line, syms, out);
        }
        let mut cur = Cursor::new(line, b',');
        let (mut ts, mut recv, mut id) = (None, None, 0u64);
        let mut symbol: &[u8] = b"";
        let mut side = Side::Unknown;
        let (mut price, mut amount) = (None, None);
        let (mut bid, mut ask, mut bid_size, mut ask_size) = (None, None, None, None);
        for k in 0..self.used {
            let ok = match self.roles[k] {
                Role::Skip => cur.field().map(|_| Ok(())),
                Role::Symbol => cur.field().map(|s| {
                    symbol = s;
                    Ok(())
                }),
                Role::Ts => cur.u64().map(|v| match v.and_then(micros) {
                    Some(v) => {
                        ts = Some(v);
                        Ok(())
                    }
                    None => Err(RowError::Time),
                }),
                Role::LocalTs if cur.next_is_empty() => cur.field().map(|_| Ok(())),
                Role::LocalTs => cur.u64().map(|v| match v.and_then(micros) {
                    Some(v) => {
                        recv = Some(v);
                        Ok(())
                    }
                    None => Err(RowError::Time),
                }),
                Role::Id => cur.u64().map(|v| {
                    // Tardis ids are venue strings; non-numeric ones (UUIDs) keep the trade, id 0
                    id = v.unwrap_or(0);
                    Ok(())
                }),
                Role::Side => cur.field().map(|f| {
                    side = match f {
                        b"buy" => Side::Buy,
                        b"sell" => Side::Sell,
                        b"unknown" | b"" => Side::Unknown,
                        _ => return Err(RowError::Side),
                    };
                    Ok(())
                }),
                Role::Price => cur.f64().map(|v| {
                    price = v;
                    v.map(|_| ()).ok_or(RowError::Price)
                }),
                Role::Amount => cur.f64().map(|v| {
                    amount = v;
                    v.map(|_| ()).ok_or(RowError::Size)
                }),
                Role::AskAmount => cur
                    .opt_f64()
                    .map(|v| v.map(|v| ask_size = v).map_err(|_| RowError::Size)),
                Role::BidAmount => cur
                    .opt_f64()
                    .map(|v| v.map(|v| bid_size = v).map_err(|_| RowError::Size)),
                Role::AskPrice => cur
                    .opt_f64()
                    .map(|v| v.map(|v| ask = v).map_err(|_| RowError::Price)),
                Role::BidPrice => cur
                    .opt_f64()
                    .map(|v| v.map(|v| bid = v).map_err(|_| RowError::Price)),
            };
            match ok {
                Some(Ok(())) => {}
                Some(Err(e)) => return Outcome::Error(e),
                None => return Outcome::Error(RowError::Fields),
            }
        }
        let Some(ts) = ts else {
            return Outcome::Error(RowError::Time);
        };
        let recv = recv.unwrap_or(ts);
        let symbol = if symbol.is_empty() {
            syms.fixed()
        } else {
            syms.named(symbol)
        };
        let symbol = match symbol {
            Ok(s) => s,
            Err(r) => return Outcome::Reject(r),
        };
        match kind {
            Kind::Trades => {
                let (Some(price), Some(size)) = (price, amount) else {
                    return Outcome::Error(RowError::Fields);
                };
                *out = Tick::trade(symbol, ts, price, size, side, id).with_recv(recv);
            }
            Kind::Quotes => {
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
            }
        }
        Outcome::Tick
    }

    #[inline]
    fn decode_fused(
        &mut self,
        rest: &[u8],
        syms: &mut Syms<'_>,
        out: &mut Tick,
    ) -> Option<(Outcome, usize)> {
        if self.kind.is_none() || !self.standard_trades {
            return None;
        }
        standard_trade_fused(rest, &mut self.prefix, syms, out)
    }

    /// Rows of the standard trades layout that start with the last row's
    /// `exchange,symbol,` (the fused path set it), with 16-digit times: see
    /// [`trade_row`]. The first row of a member, and a row whose symbol
    /// changes, go the fused path first (which sets the prefix).
    #[inline]
    fn decode_run(
        &mut self,
        rest: &[u8],
        max_len: usize,
        _: &mut Syms<'_>,
        out: &mut [Tick],
        window: (i64, i64),
    ) -> (usize, usize) {
        if self.kind.is_none() || !self.standard_trades || self.prefix.len == 0 {
            return (0, 0);
        }
        trades_run(rest, max_len, &self.prefix, out, window)
    }
}

/// The batch loop of [`TardisDecoder::decode_run`].
#[inline(never)]
fn trades_run(
    rest: &[u8],
    max_len: usize,
    prefix: &Prefix,
    out: &mut [Tick],
    window: (i64, i64),
) -> (usize, usize) {
    let mut pos = 0;
    let mut rows = 0;
    for slot in out.iter_mut() {
        let Some(w) = window::window(rest, pos) else {
            break;
        };
        let Some((t, len)) = trade_row(w, prefix) else {
            break;
        };
        if len > max_len || !Validator::trade_ok(t.price, t.size, t.ts_event, window) {
            break;
        }
        *slot = t;
        pos += len;
        rows += 1;
    }
    (rows, pos)
}

/// `"buy,"`, `"sell,"` and `"unknown,"` as little-endian words.
const BUY: u64 = u32::from_le_bytes(*b"buy,") as u64;
const SELL: u64 = u64::from_le_bytes(*b"sell,\0\0\0");
const UNKNOWN: u64 = u64::from_le_bytes(*b"unknown,");

/// One row of the batch path from the start of `w`: `prefix` (its exchange
/// and symbol), `timestamp` and `local_timestamp` of exactly 16 digits, an id
/// of 1 to 19 digits, a side of `buy`, `sell` or `unknown`, price and amount
/// as short plain decimals (as [`Row::f64`]), then the line's end. The tick
/// (with [`Tick::FLAG_REPLAY`]) and the line's length through its `\n`; the
/// same tick as [`standard_trade_fused`] and the line path. `None` for
/// anything else.
///
/// Offsets stay inside the window: the prefix is at most 32 bytes, the times
/// 17 each with their commas, the id at most 20 (its loads reach 24 from its
/// start), the side 8, the price 8, the amount 7 and its `\r\n` 2: the last
/// byte read is below 112 < [`window::WIN`].
#[inline(always)]
fn trade_row(w: &Window, prefix: &Prefix) -> Option<(Tick, usize)> {
    let mut diff = 0;
    for k in 0..4 {
        diff |= (ld(w, 8 * k) ^ prefix.words[k]) & prefix.masks[k];
    }
    if diff != 0 {
        return None;
    }
    let i = prefix.len;
    debug_assert!(i <= 32);
    // the line's end first, from a mask of the 48 bytes after the times: the
    // next row's start then does not wait for this row's fields (which must
    // end exactly there)
    let (_, nl) = window::commas_newlines48(w, i + 34);
    if nl == 0 {
        return None;
    }
    let len = i + 34 + nl.trailing_zeros() as usize + 1;
    let (ts, recv) = micros16x2(w, i)?;
    let (id, e) = window::digits(w, i + 34)?;
    if e == i + 34 || at(w, e) != b',' {
        return None;
    }
    let k = e + 1;
    let sw = ld(w, k);
    let (side, k) = if sw & 0xFFFF_FFFF == BUY {
        (Side::Buy, k + 4)
    } else if sw & 0xFF_FFFF_FFFF == SELL {
        (Side::Sell, k + 5)
    } else if sw == UNKNOWN {
        (Side::Unknown, k + 8)
    } else {
        return None;
    };
    let (price, e) = window::short_f64(w, k)?;
    if at(w, e) != b',' {
        return None;
    }
    let (size, e) = window::short_f64(w, e + 1)?;
    if window::line_end(w, e)? != len {
        return None;
    }
    let t = Tick {
        ts_event: ts,
        ts_recv: recv,
        symbol: prefix.id,
        kind: TickKind::Trade,
        side,
        flags: Tick::FLAG_REPLAY,
        price,
        size,
        ask: 0.0,
        ask_size: 0.0,
        id,
    };
    Some((t, len))
}

/// `timestamp,local_timestamp,` as exactly 16 digits (µs) each, from `w[i]`
/// → ns; `None` past the `i64` range (as [`micros`]) or for any other text.
#[inline(always)]
fn micros16x2(w: &Window, i: usize) -> Option<(i64, i64)> {
    if at(w, i + 16) != b',' || at(w, i + 33) != b',' {
        return None;
    }
    let (ts, recv) = window::digits16x2([ld(w, i), ld(w, i + 8)], [ld(w, i + 17), ld(w, i + 25)])?;
    const MAX: u64 = (i64::MAX / 1_000) as u64;
    if ts > MAX || recv > MAX {
        return None;
    }
    Some((ts as i64 * 1_000, recv as i64 * 1_000))
}

/// [`standard_trade`] fused with the line's end: rows whose numbers are plain
/// digit runs and short decimals; anything else (headers, UUID ids, other
/// number forms, errors) goes the line path. Same tick as the line path
/// (`tardis_fused_matches_line_path` checks it).
#[inline]
fn standard_trade_fused(
    rest: &[u8],
    prefix: &mut Prefix,
    syms: &mut Syms<'_>,
    out: &mut Tick,
) -> Option<(Outcome, usize)> {
    let mut row = Row::new(rest, b',');
    // the last row's exchange and symbol, or the fields read and the symbol looked up below
    let (known, symbol) = if prefix.matches(rest) {
        row.skip(prefix.len);
        (Some(prefix.id), &b""[..])
    } else {
        let exchange = row.text()?;
        if exchange == b"exchange" {
            // a repeated header
            return None;
        }
        (None, row.text()?)
    };
    let fields_end = row.pos();
    let ts = micros(row.u64()?)?;
    let recv = if row.next_is_empty() {
        row.skip_empty()?;
        ts
    } else {
        micros(row.u64()?)?
    };
    let id = row.u64()?;
    let side = match row.word_prefix() {
        // "buy," and "sell," straight from the word, else the field's text
        w if w & 0xFFFF_FFFF == u64::from(u32::from_le_bytes(*b"buy,")) => {
            row.skip(4);
            Side::Buy
        }
        w if w & 0xFF_FFFF_FFFF == u64::from_le_bytes(*b"sell,\0\0\0") => {
            row.skip(5);
            Side::Sell
        }
        _ => match row.text()? {
            b"buy" => Side::Buy,
            b"sell" => Side::Sell,
            b"unknown" | b"" => Side::Unknown,
            _ => return None,
        },
    };
    let price = row.f64()?;
    let (size, len) = row.f64_last()?;
    let symbol = match known {
        Some(id) => id,
        None => {
            let r = if symbol.is_empty() {
                syms.fixed()
            } else {
                syms.named(symbol)
            };
            match r {
                Ok(id) => {
                    if !symbol.is_empty() {
                        prefix.set(rest, fields_end, id);
                    }
                    id
                }
                Err(r) => return Some((Outcome::Reject(r), len)),
            }
        }
    };
    *out = Tick::trade(symbol, ts, price, size, side, id).with_recv(recv);
    Some((Outcome::Tick, len))
}

/// A row of the standard trades layout, in one straight pass (same results as
/// the general path: `tardis_standard_layout_matches_general` checks it).
#[inline]
fn standard_trade(line: &[u8], syms: &mut Syms<'_>, out: &mut Tick) -> Outcome {
    let mut cur = Cursor::new(line, b',');
    let (Some(_exchange), Some(symbol)) = (cur.field(), cur.field()) else {
        return Outcome::Error(RowError::Fields);
    };
    let Some(ts) = cur.u64() else {
        return Outcome::Error(RowError::Fields);
    };
    let Some(ts) = ts.and_then(micros) else {
        return Outcome::Error(RowError::Time);
    };
    let recv = if cur.next_is_empty() {
        cur.field().map(|_| Some(ts))
    } else {
        cur.u64().map(|r| r.and_then(micros))
    };
    let Some(recv) = recv else {
        return Outcome::Error(RowError::Fields);
    };
    let Some(recv) = recv else {
        return Outcome::Error(RowError::Time);
    };
    let (Some(id), Some(side)) = (cur.u64(), cur.field()) else {
        return Outcome::Error(RowError::Fields);
    };
    let side = match side {
        b"buy" => Side::Buy,
        b"sell" => Side::Sell,
        b"unknown" | b"" => Side::Unknown,
        _ => return Outcome::Error(RowError::Side),
    };
    let (Some(price), Some(size)) = (cur.f64(), cur.f64()) else {
        return Outcome::Error(RowError::Fields);
    };
    let Some(price) = price else {
        return Outcome::Error(RowError::Price);
    };
    let Some(size) = size else {
        return Outcome::Error(RowError::Size);
    };
    let symbol = if symbol.is_empty() {
        syms.fixed()
    } else {
        syms.named(symbol)
    };
    let symbol = match symbol {
        Ok(s) => s,
        Err(r) => return Outcome::Reject(r),
    };
    // Tardis ids are venue strings; non-numeric ones (UUIDs) keep the trade, id 0
    *out = Tick::trade(symbol, ts, price, size, side, id.unwrap_or(0)).with_recv(recv);
    Outcome::Tick
}

/// µs since the epoch → ns, `None` past the `i64` range.
#[inline]
fn micros(v: u64) -> Option<i64> {
    i64::try_from(v.checked_mul(1_000)?).ok()
}
