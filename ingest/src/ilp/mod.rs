//! InfluxDB line protocol (ILP), as QuestDB's clients send it, into [`Tick`]s.
//!
//! ```text
//! trades,symbol=BTCUSDT,side=buy price=101.25,amount=3i 1700000000123456789
//! quotes,symbol=EURUSD bid=1.1,ask=1.2,bid_size=1000000.0,ask_size=2.5e-7
//! ```
//!
//! The measurement is the table; the table's [`FieldMap`] says which tag and
//! field names feed which tick field (default: tags `symbol`, `side`; trade
//! fields `price` and one of `size`/`amount`/`qty`/`volume`; quote fields
//! `bid`, `ask`, `bid_size`, `ask_size`; `id`). Other tags and fields are
//! checked for syntax and ignored. The optional trailing timestamp is ns since
//! the epoch; without it the tick gets the receive time.
//!
//! Escaping (as QuestDB's clients write it): in the measurement, tag keys, tag
//! values and field keys a backslash takes the next byte literally (`\,` `\ `
//! `\=` `\\`, and `\` before a newline, which then does not end the line);
//! string field values are in double quotes, with `\"`, `\\` and `\`+newline.
//!
//! A malformed line is counted by [`IlpError`] reason and logged, rate-limited,
//! with its connection and line number; the lines around it are kept and the
//! connection stays open (see `docs/wire.md` for why).
//!
//! ```
//! use std::sync::Arc;
//! use ingest::ilp::{IlpConfig, IlpParser};
//! use ingest::{SymbolCache, SymbolTable, Validator};
//! let table = Arc::new(SymbolTable::new(1024));
//! let mut p = IlpParser::new(&IlpConfig::default(), SymbolCache::new(table), Validator::history()).unwrap();
//! let now = 1_700_000_000_200_000_000;
//! let t = p.parse_line(b"trades,symbol=SPY,side=sell price=412.5,size=100i 1700000000123456789", now).unwrap();
//! assert_eq!((t.price, t.size, t.ts_event, t.ts_recv), (412.5, 100.0, 1_700_000_000_123_456_789, now));
//! ```

mod map;

use std::fmt;
use std::net::SocketAddr;

use mtf::{Side, SymbolId, Tick, TickKind};

use map::{Compiled, CompiledConfig};
pub use map::{FieldMap, IlpConfig, IlpConfigError, KindRule, Target};

use crate::ratelog::LogLimiter;
use crate::symbols::{MAX_SYMBOL_LEN, SymbolCache};
use crate::symfront::SymbolFront;
use crate::validate::{Reject, RejectCounts, Validator};

/// Why a line was refused. Counted per reason; `as_str` is the metric label.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IlpError {
    /// Longer than `max_line`.
    LineTooLong = 0,
    /// No measurement (the line starts with a space or a comma).
    NoMeasurement,
    /// The measurement has no configured mapping and there is no default.
    UnknownTable,
    /// A tag without `=`, or with an empty key or value.
    BadTag,
    /// No field set.
    NoFields,
    /// A field without `=`, or with an empty key.
    BadField,
    /// A field value that is not a float, integer, boolean or string, or the
    /// wrong type for the tick field it feeds.
    BadValue,
    /// A string value without its closing quote.
    UnterminatedString,
    /// A backslash at the end of the line.
    BadEscape,
    /// The timestamp is not an integer of ns.
    BadTimestamp,
    /// A tick field fed twice in one line.
    DuplicateField,
    /// No symbol tag (or field).
    MissingSymbol,
    /// A trade without a price, or a line with neither price nor bid/ask.
    MissingPrice,
    /// A trade without a size.
    MissingSize,
    /// A quote without bid or ask.
    MissingQuote,
    /// Both trade and quote fields in one line of an `Auto` table.
    AmbiguousKind,
    /// A side that is not buy/b, sell/s or unknown.
    BadSide,
    /// Refused by validation (price, size, time, symbol): counted in [`RejectCounts`].
    Rejected(Reject),
}

impl IlpError {
    /// Reasons other than `Rejected`.
    pub const COUNT: usize = 17;
    const LABELS: [&'static str; IlpError::COUNT] = [
        "line_too_long",
        "no_measurement",
        "unknown_table",
        "bad_tag",
        "no_fields",
        "bad_field",
        "bad_value",
        "unterminated_string",
        "bad_escape",
        "bad_timestamp",
        "duplicate_field",
        "missing_symbol",
        "missing_price",
        "missing_size",
        "missing_quote",
        "ambiguous_kind",
        "bad_side",
    ];

    fn index(self) -> Option<usize> {
        Some(match self {
            IlpError::LineTooLong => 0,
            IlpError::NoMeasurement => 1,
            IlpError::UnknownTable => 2,
            IlpError::BadTag => 3,
            IlpError::NoFields => 4,
            IlpError::BadField => 5,
            IlpError::BadValue => 6,
            IlpError::UnterminatedString => 7,
            IlpError::BadEscape => 8,
            IlpError::BadTimestamp => 9,
            IlpError::DuplicateField => 10,
            IlpError::MissingSymbol => 11,
            IlpError::MissingPrice => 12,
            IlpError::MissingSize => 13,
            IlpError::MissingQuote => 14,
            IlpError::AmbiguousKind => 15,
            IlpError::BadSide => 16,
            IlpError::Rejected(_) => return None,
        })
    }

    /// Stable snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            IlpError::Rejected(r) => r.as_str(),
            e => e.index().map_or("rejected", |i| IlpError::LABELS[i]),
        }
    }
}

impl fmt::Display for IlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IlpError::Rejected(r) => write!(f, "rejected by validation: {r}"),
            e => f.write_str(e.as_str()),
        }
    }
}

impl std::error::Error for IlpError {}

/// Plain per-thread counters of an [`IlpParser`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IlpCounts {
    /// Lines seen (blank and comment lines included).
    pub lines: u64,
    /// Ticks produced.
    pub ticks: u64,
    /// Blank lines and `#` comments (skipped, not errors).
    pub blank: u64,
    /// Malformed lines by reason (see [`IlpCounts::malformed`]).
    pub errors: [u64; IlpError::COUNT],
    /// Lines refused by validation, by reason.
    pub rejects: RejectCounts,
}

impl IlpCounts {
    /// Counts one refused line.
    #[inline]
    pub fn bump(&mut self, e: IlpError) {
        match e {
            IlpError::Rejected(r) => self.rejects.bump(r),
            e => {
                if let Some(i) = e.index() {
                    self.errors[i] += 1;
                }
            }
        }
    }

    /// The count of one reason (`Rejected(r)` reads the reject counts).
    pub fn get(&self, e: IlpError) -> u64 {
        match e {
            IlpError::Rejected(r) => self.rejects.get(r),
            e => e.index().map_or(0, |i| self.errors[i]),
        }
    }

    /// `(label, count)` of malformed lines by reason.
    pub fn malformed(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        IlpError::LABELS.iter().copied().zip(self.errors)
    }

    /// Malformed lines (not counting validation rejects).
    pub fn malformed_total(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &IlpCounts) {
        self.lines += o.lines;
        self.ticks += o.ticks;
        self.blank += o.blank;
        for (a, b) in self.errors.iter_mut().zip(o.errors) {
            *a += b;
        }
        self.rejects.merge(&o.rejects);
    }
}

/// Per-connection (or per-datagram source) line state: line numbers for logs,
/// and whether the rest of an over-long line is being skipped.
#[derive(Clone, Debug, Default)]
pub struct IlpStream {
    /// Connection id (receiver-assigned), for logs.
    pub conn: u64,
    /// Peer address, for logs.
    pub peer: Option<SocketAddr>,
    /// Lines completed on this stream so far.
    pub line_no: u64,
    discarding: bool,
    /// While discarding: the discarded bytes end with an odd run of
    /// backslashes (so a `\n` right after them is escaped).
    discard_odd: bool,
}

impl IlpStream {
    /// A stream for connection `conn` from `peer`.
    pub fn new(conn: u64, peer: Option<SocketAddr>) -> IlpStream {
        IlpStream {
            conn,
            peer,
            line_no: 0,
            discarding: false,
            discard_odd: false,
        }
    }
}

/// What [`IlpParser::parse_buf`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Bytes of the input consumed (whole lines; the rest is an incomplete line).
    pub consumed: usize,
    /// Ticks written to the front of the output slice.
    pub ticks: usize,
}

/// Per-thread ILP parser: lines → ticks, symbol resolution, validation, counts.
pub struct IlpParser {
    cfg: CompiledConfig,
    symbols: SymbolFront,
    validator: Validator,
    /// Counters (plain; read by the owner).
    pub counts: IlpCounts,
    log: LogLimiter,
}

/// Finds the end of the line starting at `from`: the first `\n` not escaped
/// by an odd run of backslashes.
#[inline]
fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    line_end_after(buf, from, false)
}

/// [`line_end`] for a line whose earlier bytes are gone (an over-long line
/// being discarded across reads): `odd` says whether they ended with an odd
/// run of backslashes, which then continues into `buf[from..]`.
#[inline]
fn line_end_after(buf: &[u8], from: usize, odd: bool) -> Option<usize> {
    let mut i = from;
    loop {
        let nl = i + memchr::memchr(b'\n', buf.get(i..)?)?;
        let run = buf[from..nl]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        // A run reaching back to `from` continues the carried one.
        let carried = usize::from(odd && run == nl - from);
        if (run + carried) % 2 == 0 {
            return Some(nl);
        }
        i = nl + 1;
    }
}

/// Whether `bytes`, following bytes that ended with an odd run of
/// backslashes when `odd`, end with an odd run of backslashes.
fn ends_escaping(bytes: &[u8], odd: bool) -> bool {
    let run = bytes.iter().rev().take_while(|&&b| b == b'\\').count();
    let carried = usize::from(odd && run == bytes.len());
    (run + carried) % 2 == 1
}

/// Scans from `i` to the first unescaped byte that `stop` accepts; returns its
/// index (or the line length) and whether an escape was seen.
#[inline]
fn scan(line: &[u8], mut i: usize, stop: impl Fn(u8) -> bool) -> Result<(usize, bool), IlpError> {
    let mut esc = false;
    while i < line.len() {
        let b = line[i];
        if b == b'\\' {
            if i + 1 >= line.len() {
                return Err(IlpError::BadEscape);
            }
            esc = true;
            i += 2;
            continue;
        }
        if stop(b) {
            return Ok((i, esc));
        }
        i += 1;
    }
    Ok((i, esc))
}

/// Unescapes `raw` (backslash takes the next byte) into `out`; `None` when it
/// does not fit.
#[inline]
fn unescape<'b>(raw: &[u8], out: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut n = 0;
    let mut i = 0;
    while i < raw.len() {
        let mut b = raw[i];
        if b == b'\\' && i + 1 < raw.len() {
            i += 1;
            b = raw[i];
        }
        *out.get_mut(n)? = b;
        n += 1;
        i += 1;
    }
    Some(&out[..n])
}

/// A number as a float: plain decimals take an exact fast path (at most 15
/// significant digits and 22 fraction digits: `m / 10^k` with both exact is
/// correctly rounded); everything else goes through `str::parse`.
#[inline]
fn parse_f64(v: &[u8]) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let (neg, digits) = match v.first() {
        Some(b'-') => (true, &v[1..]),
        _ => (false, v),
    };
    let mut m: u64 = 0;
    let mut nd = 0usize;
    let mut frac: Option<usize> = None;
    let mut fast = !digits.is_empty();
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                m = m * 10 + (b - b'0') as u64;
                nd += 1;
                if nd > 15 {
                    fast = false;
                    break;
                }
            }
            b'.' if frac.is_none() => frac = Some(i),
            _ => {
                fast = false;
                break;
            }
        }
    }
    if fast && nd > 0 {
        let k = frac.map_or(0, |f| digits.len() - f - 1);
        if k < POW10.len() {
            let x = m as f64 / POW10[k];
            return Some(if neg { -x } else { x });
        }
    }
    std::str::from_utf8(v).ok()?.parse::<f64>().ok()
}

#[inline]
fn parse_i64(v: &[u8]) -> Option<i64> {
    let (neg, d) = match v.first() {
        Some(b'-') => (true, &v[1..]),
        _ => (false, v),
    };
    if d.is_empty() || d.len() > 19 {
        return None;
    }
    // Up to 18 digits cannot overflow an i64: no checks per digit.
    let mut x: u64 = 0;
    for &b in d {
        let v = b.wrapping_sub(b'0');
        if v > 9 {
            return None;
        }
        x = x.wrapping_mul(10).wrapping_add(v as u64);
    }
    if d.len() == 19 && (d > b"9223372036854775807".as_slice()) {
        return None;
    }
    let x = x as i64;
    Some(if neg { -x } else { x })
}

#[inline]
fn parse_u64(d: &[u8]) -> Option<u64> {
    if d.is_empty() || d.len() > 20 {
        return None;
    }
    let mut x: u64 = 0;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        x = x.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    Some(x)
}

/// A non-string field value, typed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    Float(f64),
    Int(i64),
    UInt(u64),
    Other, // boolean or timestamp column: valid ILP, not a number we map
}

#[inline]
fn parse_value(v: &[u8]) -> Option<Num> {
    let (&last, head) = v.split_last()?;
    match last {
        b'i' => return parse_i64(head).map(Num::Int),
        b'u' => return parse_u64(head).map(Num::UInt),
        b't' | b'n' if !head.is_empty() && head[0] != b'-' && parse_i64(head).is_some() => {
            return Some(Num::Other);
        }
        _ => {}
    }
    match v {
        b"t" | b"T" | b"true" | b"True" | b"TRUE" | b"f" | b"F" | b"false" | b"False"
        | b"FALSE" => Some(Num::Other),
        _ => parse_f64(v).map(Num::Float),
    }
}

#[inline]
fn parse_side(v: &[u8]) -> Option<Side> {
    if v.eq_ignore_ascii_case(b"buy") || v.eq_ignore_ascii_case(b"b") {
        Some(Side::Buy)
    } else if v.eq_ignore_ascii_case(b"sell") || v.eq_ignore_ascii_case(b"s") {
        Some(Side::Sell)
    } else if v.is_empty() || v.eq_ignore_ascii_case(b"unknown") || v.eq_ignore_ascii_case(b"none")
    {
        Some(Side::Unknown)
    } else {
        None
    }
}

/// The tick fields collected from one line.
#[derive(Default)]
struct Fields {
    symbol: Option<SymbolId>,
    side: Option<Side>,
    price: Option<f64>,
    size: Option<f64>,
    bid: Option<f64>,
    ask: Option<f64>,
    bid_size: Option<f64>,
    ask_size: Option<f64>,
    id: Option<u64>,
}

#[inline]
fn set<T>(slot: &mut Option<T>, v: T) -> Result<(), IlpError> {
    if slot.is_some() {
        return Err(IlpError::DuplicateField);
    }
    *slot = Some(v);
    Ok(())
}

/// Up to 64 bytes of a line, printable, for a log message.
struct Snippet<'a>(&'a [u8]);

impl fmt::Display for Snippet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0[..self.0.len().min(64)];
        for &b in s {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        if self.0.len() > 64 {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl IlpParser {
    /// A parser for `cfg`, resolving names through `cache`.
    pub fn new(
        cfg: &IlpConfig,
        cache: SymbolCache,
        validator: Validator,
    ) -> Result<IlpParser, IlpConfigError> {
        Ok(IlpParser {
            cfg: cfg.compile()?,
            symbols: SymbolFront::new(cache),
            validator,
            counts: IlpCounts::default(),
            log: LogLimiter::default(),
        })
    }

    /// The longest line accepted, bytes.
    pub fn max_line(&self) -> usize {
        self.cfg.max_line
    }

    /// Parses one line (without its newline) into a tick. Does not count; see
    /// [`IlpParser::parse_buf`] for the counting, logging stream form.
    pub fn parse_line(&mut self, line: &[u8], now_ns: i64) -> Result<Tick, IlpError> {
        if line.len() > self.cfg.max_line {
            return Err(IlpError::LineTooLong);
        }
        let (m_end, m_esc) = scan(line, 0, |b| b == b',' || b == b' ')?;
        if m_end == 0 {
            return Err(IlpError::NoMeasurement);
        }
        let raw_m = &line[..m_end];
        let mut mbuf = [0u8; 256];
        let m: &[u8] = if m_esc {
            unescape(raw_m, &mut mbuf).ok_or(IlpError::UnknownTable)?
        } else {
            raw_m
        };
        let cfg = &self.cfg;
        let map: &Compiled = match cfg.tables.get(m).or(cfg.default.as_ref()) {
            Some(c) => c,
            None => return Err(IlpError::UnknownTable),
        };
        let mut f = Fields::default();
        let mut i = m_end;
        let symbols = &mut self.symbols;
        // tags
        while i < line.len() && line[i] == b',' {
            let (k_end, k_esc) = scan(line, i + 1, |b| b == b'=' || b == b',' || b == b' ')?;
            if k_end == i + 1 || k_end >= line.len() || line[k_end] != b'=' {
                return Err(IlpError::BadTag);
            }
            let (v_end, v_esc) = scan(line, k_end + 1, |b| b == b',' || b == b' ')?;
            if v_end == k_end + 1 {
                return Err(IlpError::BadTag);
            }
            let target = key_target(map, &line[i + 1..k_end], k_esc);
            let raw_v = &line[k_end + 1..v_end];
            match target {
                None => {}
                Some(Target::Symbol) => {
                    set(&mut f.symbol, resolve(symbols, raw_v, v_esc)?)?;
                }
                Some(Target::Side) => {
                    let mut b = [0u8; 16];
                    let v = if v_esc {
                        unescape(raw_v, &mut b)
                    } else {
                        Some(raw_v)
                    };
                    set(
                        &mut f.side,
                        v.and_then(parse_side).ok_or(IlpError::BadSide)?,
                    )?;
                }
                Some(_) => return Err(IlpError::BadValue),
            }
            i = v_end;
        }
        if i >= line.len() || line[i] != b' ' {
            return Err(IlpError::NoFields);
        }
        // fields
        loop {
            let start = i + 1;
            let (k_end, k_esc) = scan(line, start, |b| b == b'=' || b == b',' || b == b' ')?;
            if k_end == start || k_end >= line.len() || line[k_end] != b'=' {
                return Err(if start >= line.len() {
                    IlpError::NoFields
                } else {
                    IlpError::BadField
                });
            }
            let target = key_target(map, &line[start..k_end], k_esc);
            let vs = k_end + 1;
            let v_end;
            if line.get(vs) == Some(&b'"') {
                let (q, esc) = scan(line, vs + 1, |b| b == b'"')?;
                if q >= line.len() {
                    return Err(IlpError::UnterminatedString);
                }
                v_end = q + 1;
                let raw = &line[vs + 1..q];
                match target {
                    None => {}
                    Some(Target::Symbol) => set(&mut f.symbol, resolve(symbols, raw, esc)?)?,
                    Some(Target::Side) => {
                        let mut b = [0u8; 16];
                        let v = if esc {
                            unescape(raw, &mut b)
                        } else {
                            Some(raw)
                        };
                        set(
                            &mut f.side,
                            v.and_then(parse_side).ok_or(IlpError::BadSide)?,
                        )?;
                    }
                    Some(_) => return Err(IlpError::BadValue),
                }
            } else {
                // Values are short: a plain loop beats a vectorised search here.
                let mut e = vs;
                while e < line.len() && line[e] != b',' && line[e] != b' ' {
                    e += 1;
                }
                v_end = e;
                let v = parse_value(&line[vs..v_end]).ok_or(IlpError::BadValue)?;
                if let Some(t) = target {
                    let x = match v {
                        Num::Float(x) => x,
                        Num::Int(x) => x as f64,
                        Num::UInt(x) => x as f64,
                        Num::Other => return Err(IlpError::BadValue),
                    };
                    match t {
                        Target::Price => set(&mut f.price, x)?,
                        Target::Size => set(&mut f.size, x)?,
                        Target::Bid => set(&mut f.bid, x)?,
                        Target::Ask => set(&mut f.ask, x)?,
                        Target::BidSize => set(&mut f.bid_size, x)?,
                        Target::AskSize => set(&mut f.ask_size, x)?,
                        Target::Id => {
                            let id = match v {
                                Num::Int(x) if x >= 0 => x as u64,
                                Num::UInt(x) => x,
                                _ => return Err(IlpError::BadValue),
                            };
                            set(&mut f.id, id)?;
                        }
                        Target::Symbol | Target::Side => return Err(IlpError::BadValue),
                    }
                }
            }
            i = v_end;
            if i >= line.len() || line[i] == b' ' {
                break;
            }
            // line[i] == b','
            if i + 1 >= line.len() {
                return Err(IlpError::BadField);
            }
        }
        let ts = if i < line.len() {
            parse_i64(&line[i + 1..]).ok_or(IlpError::BadTimestamp)?
        } else {
            now_ns
        };
        let kind = match map.kind {
            KindRule::Trade => TickKind::Trade,
            KindRule::Quote => TickKind::Quote,
            KindRule::Auto => match (f.price.is_some(), f.bid.is_some() || f.ask.is_some()) {
                (true, false) => TickKind::Trade,
                (false, true) => TickKind::Quote,
                (true, true) => return Err(IlpError::AmbiguousKind),
                (false, false) => return Err(IlpError::MissingPrice),
            },
        };
        let symbol = f.symbol.ok_or(IlpError::MissingSymbol)?;
        let t = match kind {
            TickKind::Trade => Tick {
                ts_event: ts,
                ts_recv: now_ns,
                symbol,
                kind,
                side: f.side.unwrap_or(Side::Unknown),
                flags: 0,
                price: f.price.ok_or(IlpError::MissingPrice)?,
                size: f.size.ok_or(IlpError::MissingSize)?,
                ask: 0.0,
                ask_size: 0.0,
                id: f.id.unwrap_or(0),
            },
            TickKind::Quote => Tick {
                ts_event: ts,
                ts_recv: now_ns,
                symbol,
                kind,
                side: Side::Unknown,
                flags: 0,
                price: f.bid.ok_or(IlpError::MissingQuote)?,
                size: f.bid_size.unwrap_or(0.0),
                ask: f.ask.ok_or(IlpError::MissingQuote)?,
                ask_size: f.ask_size.unwrap_or(0.0),
                id: f.id.unwrap_or(0),
            },
        };
        self.validator
            .check(&t, now_ns)
            .map_err(IlpError::Rejected)?;
        Ok(t)
    }

    /// Parses the complete lines at the front of `buf` into `out`, counting
    /// and logging malformed lines (which are skipped; parsing goes on).
    ///
    /// Stops at the first incomplete line (its bytes are not consumed: call
    /// again with more data appended), or when `out` is full. With `eof`
    /// (the end of a UDP datagram or of a connection) a last line without a
    /// newline is parsed too. A line longer than `max_line` is counted once
    /// and skipped up to its newline, however long (a stream buffer must hold
    /// `max_line + 2` bytes for this to be seen before the buffer fills).
    pub fn parse_buf(
        &mut self,
        st: &mut IlpStream,
        buf: &[u8],
        eof: bool,
        now_ns: i64,
        out: &mut [Tick],
    ) -> Parsed {
        let max = self.cfg.max_line;
        let mut pos = 0usize;
        let mut n = 0usize;
        while pos < buf.len() {
            if st.discarding {
                match line_end_after(buf, pos, st.discard_odd) {
                    Some(nl) => {
                        st.discarding = false;
                        st.discard_odd = false;
                        pos = nl + 1;
                        continue;
                    }
                    None => {
                        st.discard_odd = ends_escaping(&buf[pos..], st.discard_odd);
                        pos = buf.len();
                        break;
                    }
                }
            }
            if n >= out.len() {
                break;
            }
            let (line, next) = match line_end(buf, pos) {
                Some(nl) => (&buf[pos..nl], nl + 1),
                None if eof => (&buf[pos..], buf.len()),
                None => {
                    // Longer than `max` even if a `\r` ends it: it can never be accepted.
                    if buf.len() - pos > max + 1 {
                        // An over-long line with no end in sight: count it now, skip the rest.
                        st.line_no += 1;
                        self.counts.lines += 1;
                        self.fail(st, IlpError::LineTooLong, &buf[pos..], now_ns);
                        st.discarding = true;
                        st.discard_odd = ends_escaping(&buf[pos..], false);
                        pos = buf.len();
                    }
                    break;
                }
            };
            pos = next;
            st.line_no += 1;
            self.counts.lines += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > max {
                self.fail(st, IlpError::LineTooLong, line, now_ns);
                continue;
            }
            if line.is_empty() || line[0] == b'#' {
                self.counts.blank += 1;
                continue;
            }
            match self.parse_line(line, now_ns) {
                Ok(t) => {
                    out[n] = t;
                    n += 1;
                }
                Err(e) => self.fail(st, e, line, now_ns),
            }
        }
        self.counts.ticks += n as u64;
        Parsed {
            consumed: pos,
            ticks: n,
        }
    }

    #[cold]
    fn fail(&mut self, st: &IlpStream, e: IlpError, line: &[u8], now_ns: i64) {
        self.counts.bump(e);
        if let Some(suppressed) = self.log.allow(now_ns) {
            tracing::warn!(
                conn = st.conn,
                peer = ?st.peer,
                line = st.line_no,
                reason = e.as_str(),
                suppressed,
                text = %Snippet(line),
                "malformed ILP line skipped"
            );
        }
    }
}

#[inline]
fn key_target(map: &Compiled, raw: &[u8], esc: bool) -> Option<Target> {
    if esc {
        let mut b = [0u8; 64];
        unescape(raw, &mut b).and_then(|k| map.target(k))
    } else {
        map.target(raw)
    }
}

#[inline]
fn resolve(symbols: &mut SymbolFront, raw: &[u8], esc: bool) -> Result<SymbolId, IlpError> {
    let mut b = [0u8; MAX_SYMBOL_LEN];
    let name = if esc {
        unescape(raw, &mut b).ok_or(IlpError::Rejected(Reject::Symbol))?
    } else {
        raw
    };
    symbols
        .resolve_bytes(name)
        .map_err(|_| IlpError::Rejected(Reject::Symbol))
}

#[cfg(test)]
mod tests;
