//! Generic delimited text through a column mapping: trades or quotes, epoch
//! times in s/ms/µs/ns or datetimes (ISO-like fast path, or any strftime format
//! through jiff) in a given time zone.

use mtf::{Side, Tick};

use super::counts::{RowError, Skip};
use super::fields::{eq_ci, split, split_quoted, trim};
use super::num::{parse_f64, parse_u64};
use super::time::{TimeUnit, Zone, ZoneConverter, days_from_civil, parse_datetime};
use super::{Decode, ImportError, Outcome, SymState, Syms};

/// Most columns a mapped line may have that are looked at (columns past it are ignored).
pub const MAX_COLUMNS: usize = 64;

/// A column, by 0-based index or by header name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// 0-based position.
    Index(usize),
    /// Name in the header line (needs [`CsvMapping::header`]).
    Name(String),
}

impl From<usize> for Column {
    fn from(i: usize) -> Column {
        Column::Index(i)
    }
}

impl From<&str> for Column {
    fn from(s: &str) -> Column {
        Column::Name(s.to_owned())
    }
}

/// How time columns are written.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TimeFormat {
    /// A number since the Unix epoch, UTC, in this unit (decimals allowed down to 1 ns).
    Epoch(TimeUnit),
    /// `YYYY-MM-DD[T ]HH:MM[:SS[.f]]` or `YYYYMMDD …`, with an optional offset
    /// (`Z`, `±HH:MM`); times without one are in `zone`. Fast, allocation-free.
    Datetime {
        /// Zone of times without an offset.
        zone: Zone,
    },
    /// Any strftime-style format (jiff's `strtime`, e.g. `%d/%m/%Y %H:%M:%S%.f`);
    /// times without `%z` are in `zone`.
    Strftime {
        /// The format.
        format: String,
        /// Zone of times without an offset.
        zone: Zone,
    },
}

/// What the rows hold.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CsvFields {
    /// Trades.
    Trade {
        /// Price.
        price: Column,
        /// Size (absent: 0).
        size: Option<Column>,
        /// Aggressor side: `buy`/`b`, `sell`/`s`, `unknown` or empty (any case).
        side: Option<Column>,
        /// Trade id (an unsigned integer; non-numeric ids give 0).
        id: Option<Column>,
    },
    /// Top-of-book quotes.
    Quote {
        /// Bid price.
        bid: Column,
        /// Ask price.
        ask: Column,
        /// Bid size (absent: 0).
        bid_size: Option<Column>,
        /// Ask size (absent: 0).
        ask_size: Option<Column>,
    },
}

/// The column mapping of a generic CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvMapping {
    /// Field delimiter (`,` `;` `\t` `|` …).
    pub delimiter: u8,
    /// Quote character of RFC 4180 quoting (`None`: fields are never quoted, faster).
    pub quote: Option<u8>,
    /// The first line of each file (or zip member) is a header.
    pub header: bool,
    /// The event time column.
    pub time: Column,
    /// How times are written (this and `recv_time`).
    pub time_format: TimeFormat,
    /// A receive/capture time column (`ts_recv`), if any.
    pub recv_time: Option<Column>,
    /// A symbol column, if any (else the file name or the import's symbol rule).
    pub symbol: Option<Column>,
    /// Trade or quote columns.
    pub fields: CsvFields,
}

impl CsvMapping {
    /// A trade mapping: comma-separated, `"`-quoted, no header, epoch time in `unit`.
    pub fn trades(time: impl Into<Column>, unit: TimeUnit, price: impl Into<Column>) -> CsvMapping {
        CsvMapping {
            delimiter: b',',
            quote: Some(b'"'),
            header: false,
            time: time.into(),
            time_format: TimeFormat::Epoch(unit),
            recv_time: None,
            symbol: None,
            fields: CsvFields::Trade {
                price: price.into(),
                size: None,
                side: None,
                id: None,
            },
        }
    }
}

// slots of `CsvDecoder::idx`
const TIME: usize = 0;
const RECV: usize = 1;
const SYMBOL: usize = 2;
const PRICE: usize = 3; // or bid
const SIZE: usize = 4; // or bid size
const SIDE: usize = 5; // or ask
const ID: usize = 6; // or ask size
const SLOTS: usize = 7;

/// The generic CSV decoder.
#[derive(Debug)]
pub(crate) struct CsvDecoder {
    m: CsvMapping,
    quote_rows: bool,
    cols: [Option<Column>; SLOTS],
    idx: [Option<usize>; SLOTS],
    need: usize,
    /// the member's header is still to come
    expect_header: bool,
    zone: ZoneConverter,
}

impl CsvDecoder {
    pub(crate) fn new(m: CsvMapping, input: &str) -> Result<CsvDecoder, ImportError> {
        let (quote_rows, a, b, c, d) = match &m.fields {
            CsvFields::Trade {
                price,
                size,
                side,
                id,
            } => (
                false,
                Some(price.clone()),
                size.clone(),
                side.clone(),
                id.clone(),
            ),
            CsvFields::Quote {
                bid,
                ask,
                bid_size,
                ask_size,
            } => (
                true,
                Some(bid.clone()),
                bid_size.clone(),
                Some(ask.clone()),
                ask_size.clone(),
            ),
        };
        let cols = [
            Some(m.time.clone()),
            m.recv_time.clone(),
            m.symbol.clone(),
            a,
            b,
            c,
            d,
        ];
        for c in cols.iter().flatten() {
            match c {
                Column::Index(i) if *i >= MAX_COLUMNS => {
                    return Err(ImportError::config(
                        input,
                        format!("column {i}: at most {MAX_COLUMNS} columns are read"),
                    ));
                }
                Column::Name(n) if !m.header => {
                    return Err(ImportError::config(
                        input,
                        format!("column {n:?} named but the mapping has no header"),
                    ));
                }
                _ => {}
            }
        }
        let zone = match &m.time_format {
            TimeFormat::Epoch(_) => Zone::Utc,
            TimeFormat::Datetime { zone } | TimeFormat::Strftime { zone, .. } => zone.clone(),
        };
        let mut d = CsvDecoder {
            quote_rows,
            cols,
            idx: [None; SLOTS],
            need: 0,
            expect_header: m.header,
            zone: ZoneConverter::new(zone),
            m,
        };
        if !d.m.header {
            d.resolve(&[]).map_err(|e| ImportError::config(input, e))?;
        }
        Ok(d)
    }

    /// Column positions from the header's names.
    fn resolve(&mut self, header: &[&[u8]]) -> Result<(), String> {
        let mut need = 0;
        for (slot, c) in self.cols.iter().enumerate() {
            self.idx[slot] = match c {
                None => None,
                Some(Column::Index(i)) => Some(*i),
                Some(Column::Name(n)) => Some(
                    header
                        .iter()
                        .position(|h| trim(h) == n.as_bytes())
                        .ok_or_else(|| format!("column {n:?} not in the header"))?,
                ),
            };
            if let Some(i) = self.idx[slot] {
                need = need.max(i + 1);
            }
        }
        self.need = need;
        Ok(())
    }

    #[inline]
    fn time(&mut self, b: &[u8]) -> Option<i64> {
        let b = trim(b);
        match &self.m.time_format {
            TimeFormat::Epoch(u) => u.parse_ns(b),
            TimeFormat::Datetime { .. } => self.zone.civil_to_utc(&parse_datetime(b)?),
            TimeFormat::Strftime { format, .. } => {
                let t = jiff::fmt::strtime::parse(format.as_bytes(), b).ok()?;
                if t.offset().is_some() {
                    return i64::try_from(t.to_timestamp().ok()?.as_nanosecond()).ok();
                }
                let dt = t.to_datetime().ok()?;
                let days = days_from_civil(dt.year() as i64, dt.month() as u32, dt.day() as u32);
                let nanos = ((dt.hour() as i64 * 60 + dt.minute() as i64) * 60
                    + dt.second() as i64)
                    * 1_000_000_000
                    + dt.subsec_nanosecond() as i64;
                self.zone.to_utc(days, nanos)
            }
        }
    }
}

#[inline]
fn num(f: &[&[u8]], i: Option<usize>) -> Result<f64, ()> {
    match i {
        None => Ok(0.0),
        Some(i) => parse_f64(trim(f[i])).ok_or(()),
    }
}

impl Decode for CsvDecoder {
    fn begin(&mut self, _: &str, _: &str, _: &mut SymState) -> Result<(), ImportError> {
        self.expect_header = self.m.header;
        Ok(())
    }

    fn decode(&mut self, line: &[u8], syms: &mut Syms<'_>, out: &mut Tick) -> Outcome {
        let mut f = [&b""[..]; MAX_COLUMNS];
        let n = match self.m.quote {
            Some(q) => match split_quoted(line, self.m.delimiter, q, &mut f) {
                Some(n) => n,
                None => return Outcome::Error(RowError::Fields),
            },
            None => split(line, self.m.delimiter, &mut f),
        }
        .min(MAX_COLUMNS);
        if self.expect_header {
            self.expect_header = false;
            return match self.resolve(&f[..n]) {
                Ok(()) => Outcome::Skip(Skip::Header),
                Err(_) => {
                    // names missing: every row of this member would fail; say so once per row
                    self.need = usize::MAX;
                    Outcome::Error(RowError::Fields)
                }
            };
        }
        if n < self.need {
            return Outcome::Error(RowError::Fields);
        }
        let idx = self.idx;
        let Some(ts) = idx[TIME].and_then(|i| self.time(f[i])) else {
            return Outcome::Error(if matches!(self.m.time_format, TimeFormat::Epoch(_)) {
                RowError::Time
            } else {
                RowError::Format
            });
        };
        let recv = match idx[RECV] {
            None => ts,
            Some(i) => match self.time(f[i]) {
                Some(t) => t,
                None => return Outcome::Error(RowError::Time),
            },
        };
        let symbol = match idx[SYMBOL].map(|i| trim(f[i])) {
            Some(s) if !s.is_empty() => syms.named(s),
            _ => syms.fixed(),
        };
        let symbol = match symbol {
            Ok(s) => s,
            Err(r) => return Outcome::Reject(r),
        };
        if self.quote_rows {
            let (Ok(bid), Ok(ask)) = (num(&f, idx[PRICE]), num(&f, idx[SIDE])) else {
                return Outcome::Error(RowError::Price);
            };
            let (Ok(bs), Ok(as_)) = (num(&f, idx[SIZE]), num(&f, idx[ID])) else {
                return Outcome::Error(RowError::Size);
            };
            *out = Tick::quote(symbol, ts, bid, bs, ask, as_).with_recv(recv);
            return Outcome::Tick;
        }
        let Ok(price) = num(&f, idx[PRICE]) else {
            return Outcome::Error(RowError::Price);
        };
        let Ok(size) = num(&f, idx[SIZE]) else {
            return Outcome::Error(RowError::Size);
        };
        let side = match idx[SIDE].map(|i| trim(f[i])) {
            None => Side::Unknown,
            Some(s) if s.is_empty() || eq_ci(s, b"unknown") => Side::Unknown,
            Some(s) if eq_ci(s, b"buy") || eq_ci(s, b"b") => Side::Buy,
            Some(s) if eq_ci(s, b"sell") || eq_ci(s, b"s") => Side::Sell,
            Some(_) => return Outcome::Error(RowError::Side),
        };
        let id = idx[ID].and_then(|i| parse_u64(trim(f[i]))).unwrap_or(0);
        *out = Tick::trade(symbol, ts, price, size, side, id).with_recv(recv);
        Outcome::Tick
    }
}
