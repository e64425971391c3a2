//! QuantConnect LEAN tick data: `<asset>/<market>/tick/<symbol>/YYYYMMDD_<trade|quote>.zip`,
//! each zip holding header-less CSV member(s) (futures and options: one per contract).
//!
//! Time is milliseconds since midnight of the file's date, as wall-clock time
//! in the data time zone (LEAN adds the ms to the local date, then converts),
//! so a DST day is handled through [`ZoneConverter`]. See `docs/formats.md`.

use mtf::{Side, Tick};

use super::counts::{RowError, Skip};
use super::fields::{Cursor, Row};
use super::time::{TimeUnit, Zone, ZoneConverter};
use super::window::{self, Window, at};
use super::{Decode, ImportError, Outcome, SymState, Syms};
use crate::symbols::SymbolName;
use crate::validate::Validator;

/// The asset class (LEAN's `SecurityType`), which fixes columns, price scale and time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeanAsset {
    /// US equity: prices in 1/10000 USD, America/New_York.
    Equity,
    /// Equity options: prices in 1/10000, America/New_York, one member per contract.
    Option,
    /// Forex: `time,bid,ask`, fixed UTC−05:00 (LEAN's `EST` for FXCM/OANDA).
    Forex,
    /// CFDs: like forex (`time,bid,ask`); UTC unless a zone is given.
    Cfd,
    /// Futures: real prices, one member per contract; UTC unless a zone is given.
    Future,
    /// Crypto (spot and perpetuals): real prices, UTC.
    Crypto,
}

impl LeanAsset {
    /// The asset for a directory name of LEAN's data tree.
    pub fn from_dir(s: &str) -> Option<LeanAsset> {
        Some(match s {
            "equity" => LeanAsset::Equity,
            "option" => LeanAsset::Option,
            "forex" => LeanAsset::Forex,
            "cfd" => LeanAsset::Cfd,
            "future" => LeanAsset::Future,
            "crypto" | "cryptofuture" => LeanAsset::Crypto,
            _ => return None,
        })
    }

    /// The default data time zone.
    pub fn default_zone(self) -> Zone {
        match self {
            LeanAsset::Equity | LeanAsset::Option => Zone::Named(
                jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC),
            ),
            LeanAsset::Forex => Zone::Fixed(-5 * 3600),
            LeanAsset::Cfd | LeanAsset::Future | LeanAsset::Crypto => Zone::Utc,
        }
    }

    /// What a price field is divided by.
    pub fn price_scale(self) -> f64 {
        match self {
            LeanAsset::Equity | LeanAsset::Option => 10_000.0,
            _ => 1.0,
        }
    }
}

/// Trade or quote file (or open interest, which holds no ticks: its rows are skipped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeanKind {
    /// `_trade.zip`.
    Trade,
    /// `_quote.zip`.
    Quote,
    /// `_openinterest.zip`: no ticks.
    OpenInterest,
}

/// LEAN options; each `None` is derived from the input's path.
#[derive(Clone, Debug, Default)]
pub struct LeanOptions {
    /// Asset class (from the path's `<asset>/<market>/tick/<symbol>/` directories).
    pub asset: Option<LeanAsset>,
    /// Trade or quote (from `_trade`/`_quote` in the file name).
    pub kind: Option<LeanKind>,
    /// Data time zone (from the asset class).
    pub zone: Option<Zone>,
    /// Date `(year, month, day)` (from the member's or the file's `YYYYMMDD` prefix).
    pub date: Option<(i32, u32, u32)>,
}

/// `YYYYMMDD_<trade|quote|openinterest>.zip` → (days, kind).
pub(crate) fn parse_file_name(name: &str) -> Option<(i64, LeanKind)> {
    let (date, rest) = name.split_at_checked(8)?;
    let kind = match rest.to_ascii_lowercase().as_str() {
        "_trade.zip" => LeanKind::Trade,
        "_quote.zip" => LeanKind::Quote,
        "_openinterest.zip" => LeanKind::OpenInterest,
        _ => return None,
    };
    Some((parse_date8(date.as_bytes())?, kind))
}

/// Days of a `YYYYMMDD` prefix.
fn parse_date8(b: &[u8]) -> Option<i64> {
    let b = b.get(..8)?;
    let c = super::time::parse_datetime(b)?;
    (c.nanos == 0 && c.offset_s.is_none()).then_some(c.days)
}

/// A kind from a member name like `20131008_spy_Trade_Tick.csv` or `…_tick_quote_201312.csv`.
fn kind_in(name: &str) -> Option<LeanKind> {
    let l = name.to_ascii_lowercase();
    if l.contains("_trade") {
        Some(LeanKind::Trade)
    } else if l.contains("_quote") {
        Some(LeanKind::Quote)
    } else if l.contains("_openinterest") {
        Some(LeanKind::OpenInterest)
    } else {
        None
    }
}

/// Keeps the last bid and ask of one-sided quote rows.
///
/// A row updating one side gives a two-sided quote with the other side carried
/// over and [`Tick::FLAG_ONE_SIDED`]; rows before both sides are known give
/// nothing ([`Skip::OneSidedWarmup`]); a row with neither side is an error.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct QuoteState {
    bid: Option<(f64, f64)>,
    ask: Option<(f64, f64)>,
}

/// (bid, bid size, ask, ask size, one-sided).
pub(crate) type Quote = (f64, f64, f64, f64, bool);

impl QuoteState {
    #[inline]
    pub(crate) fn update(
        &mut self,
        bid: Option<(f64, f64)>,
        ask: Option<(f64, f64)>,
    ) -> Result<Quote, Outcome> {
        if bid.is_none() && ask.is_none() {
            return Err(Outcome::Error(RowError::EmptyQuote));
        }
        let one_sided = bid.is_none() || ask.is_none();
        if bid.is_some() {
            self.bid = bid;
        }
        if ask.is_some() {
            self.ask = ask;
        }
        match (self.bid, self.ask) {
            (Some((b, bs)), Some((a, as_))) => Ok((b, bs, a, as_, one_sided)),
            _ => Err(Outcome::Skip(Skip::OneSidedWarmup)),
        }
    }
}

/// Column layout of one (asset, kind).
#[derive(Clone, Copy, Debug)]
struct Layout {
    kind: LeanKind,
    /// forex/cfd: `time,bid,ask`
    fx: bool,
    /// index of the suspicious flag, if the layout has one
    suspicious: Option<usize>,
}

fn layout(asset: LeanAsset, kind: LeanKind) -> Layout {
    let fx = matches!(asset, LeanAsset::Forex | LeanAsset::Cfd);
    let suspicious = match (asset, kind) {
        (_, LeanKind::OpenInterest) => None,
        (LeanAsset::Forex | LeanAsset::Cfd, _) => None,
        (LeanAsset::Equity, LeanKind::Trade) => Some(5),
        (LeanAsset::Equity, LeanKind::Quote) => Some(7),
        (LeanAsset::Option | LeanAsset::Future, LeanKind::Trade) => Some(5),
        (LeanAsset::Option | LeanAsset::Future, LeanKind::Quote) => Some(6),
        (LeanAsset::Crypto, LeanKind::Trade) => Some(3),
        (LeanAsset::Crypto, LeanKind::Quote) => Some(5),
    };
    Layout {
        kind: if fx { LeanKind::Quote } else { kind },
        fx,
        suspicious,
    }
}

/// The LEAN decoder.
#[derive(Debug)]
pub(crate) struct LeanDecoder {
    opts: LeanOptions,
    asset: LeanAsset,
    file_kind: Option<LeanKind>,
    file_days: Option<i64>,
    path_symbol: Option<SymbolName>,
    // per member
    layout: Layout,
    scale: f64,
    days: i64,
    zone: ZoneConverter,
    quote: QuoteState,
}

impl LeanDecoder {
    pub(crate) fn new(opts: LeanOptions, input: &str) -> Result<LeanDecoder, ImportError> {
        let parts: Vec<&str> = input.split(['/', '\\']).collect();
        let file = parts.last().copied().unwrap_or("");
        let from_name = parse_file_name(file);
        // .../<asset>/<market>/<resolution>/<symbol>/<file>
        let n = parts.len();
        let dir_asset = (n >= 5)
            .then(|| LeanAsset::from_dir(&parts[n - 5].to_ascii_lowercase()))
            .flatten();
        let asset = opts.asset.or(dir_asset).ok_or_else(|| {
            ImportError::config(
                input,
                "LEAN: asset class not in the path (…/<equity|forex|future|…>/<market>/tick/<symbol>/file.zip); set LeanOptions::asset",
            )
        })?;
        let path_symbol = (n >= 2)
            .then(|| SymbolName::new(parts[n - 2].to_ascii_uppercase().as_bytes()).ok())
            .flatten();
        let file_days = match opts.date {
            Some((y, m, d)) => {
                let days = parse_date8(format!("{y:04}{m:02}{d:02}").as_bytes())
                    .ok_or_else(|| ImportError::config(input, "LEAN: invalid date option"))?;
                Some(days)
            }
            None => from_name.map(|(d, _)| d),
        };
        let file_kind = opts.kind.or(from_name.map(|(_, k)| k));
        let zone = ZoneConverter::new(opts.zone.clone().unwrap_or_else(|| asset.default_zone()));
        Ok(LeanDecoder {
            layout: layout(asset, file_kind.unwrap_or(LeanKind::Trade)),
            scale: asset.price_scale(),
            asset,
            file_kind,
            file_days,
            path_symbol,
            days: file_days.unwrap_or(0),
            zone,
            quote: QuoteState::default(),
            opts,
        })
    }

    /// A price as written → in currency units. An integer divided by 10,000 (two
    /// exact values, one correctly rounded division) is the f64 nearest the decimal.
    #[inline]
    fn scaled(&self, v: f64) -> f64 {
        if self.scale == 1.0 { v } else { v / self.scale }
    }

    /// An optional quote side from its parsed price and size fields: an empty
    /// or zero price means absent; an empty size is 0.
    #[inline]
    fn side(
        &self,
        p: Result<Option<f64>, ()>,
        s: Result<Option<f64>, ()>,
    ) -> Result<Option<(f64, f64)>, RowError> {
        let Some(price) = p.map_err(|_| RowError::Price)? else {
            return Ok(None);
        };
        if price == 0.0 {
            return Ok(None);
        }
        let size = s.map_err(|_| RowError::Size)?.unwrap_or(0.0);
        Ok(Some((self.scaled(price), size)))
    }
}

impl Decode for LeanDecoder {
    fn begin(&mut self, input: &str, member: &str, syms: &mut SymState) -> Result<(), ImportError> {
        let base = member.rsplit(['/', '\\']).next().unwrap_or(member);
        if self.opts.date.is_none() {
            if let Some(d) = parse_date8(base.as_bytes()) {
                self.days = d;
            } else if let Some(d) = self.file_days {
                self.days = d;
            } else {
                return Err(ImportError::config(
                    input,
                    format!(
                        "LEAN: no YYYYMMDD date in {member:?} or the file name; set LeanOptions::date"
                    ),
                ));
            }
        }
        let kind = self
            .opts
            .kind
            .or(kind_in(base))
            .or(self.file_kind)
            .ok_or_else(|| {
                ImportError::config(
                    input,
                    "LEAN: trade or quote? not in the name; set LeanOptions::kind",
                )
            })?;
        self.layout = layout(self.asset, kind);
        self.quote = QuoteState::default();
        if !syms.rule_given {
            syms.fallback = member_symbol(self.asset, base, self.path_symbol);
        }
        Ok(())
    }

    #[inline]
    fn decode(&mut self, line: &[u8], syms: &mut Syms<'_>, out: &mut Tick) -> Outcome {
        let lay = self.layout;
        if lay.kind == LeanKind::OpenInterest {
            return Outcome::Skip(Skip::OtherEvent);
        }
        let mut cur = Cursor::new(line, b',');
        let ms_ns = match cur.u64_or_text() {
            None => return Outcome::Error(RowError::Fields),
            Some(Ok(ms)) if ms < (1 << 40) => ms as i64 * 1_000_000,
            // decimal milliseconds (LEAN reads the column as a decimal)
            Some(Err(text)) => match TimeUnit::Millis.parse_ns(text) {
                Some(v) => v,
                None => return Outcome::Error(RowError::Time),
            },
            Some(Ok(_)) => return Outcome::Error(RowError::Time),
        };
        let Some(ts) = self.zone.to_utc(self.days, ms_ns) else {
            return Outcome::Error(RowError::Time);
        };
        let symbol = match syms.fixed() {
            Ok(s) => s,
            Err(r) => return Outcome::Reject(r),
        };
        if lay.fx {
            let (Some(b), Some(a)) = (cur.f64(), cur.f64()) else {
                return Outcome::Error(RowError::Fields);
            };
            let (Some(bid), Some(ask)) = (b, a) else {
                return Outcome::Error(RowError::Price);
            };
            *out = Tick::quote(symbol, ts, bid, 0.0, ask, 0.0);
            return Outcome::Tick;
        }
        // fields after time: trade 1 price, 2 size; quote 1-4 bid, bid size, ask, ask size
        match lay.kind {
            LeanKind::Trade => {
                let (Some(p), Some(q)) = (cur.f64(), cur.f64()) else {
                    return Outcome::Error(RowError::Fields);
                };
                let Some(price) = p.map(|p| self.scaled(p)) else {
                    return Outcome::Error(RowError::Price);
                };
                let Some(size) = q else {
                    return Outcome::Error(RowError::Size);
                };
                *out = Tick::trade(symbol, ts, price, size, Side::Unknown, 0);
            }
            _ => {
                let (Some(bp), Some(bs), Some(ap), Some(as_)) =
                    (cur.opt_f64(), cur.opt_f64(), cur.opt_f64(), cur.opt_f64())
                else {
                    return Outcome::Error(RowError::Fields);
                };
                let bid = match self.side(bp, bs) {
                    Ok(b) => b,
                    Err(e) => return Outcome::Error(e),
                };
                let ask = match self.side(ap, as_) {
                    Ok(a) => a,
                    Err(e) => return Outcome::Error(e),
                };
                match self.quote.update(bid, ask) {
                    Ok((b, bs, a, as_, one_sided)) => {
                        *out = Tick::quote(symbol, ts, b, bs, a, as_);
                        if one_sided {
                            out.flags |= Tick::FLAG_ONE_SIDED;
                        }
                    }
                    Err(o) => return o,
                }
            }
        }
        let first = if lay.kind == LeanKind::Trade { 3 } else { 5 };
        let suspicious = match lay.suspicious {
            Some(i) => {
                // skip to the flag's field
                let mut v = None;
                for _ in first..=i {
                    v = cur.field();
                }
                v == Some(b"1")
            }
            None => false,
        };
        if suspicious {
            out.flags |= Tick::FLAG_SUSPICIOUS;
        }
        Outcome::Tick
    }

    /// Trade rows (`ms,price,size[,exchange,condition,suspicious…]`) whose
    /// numbers are plain: the same tick as [`LeanDecoder::decode`], the line's
    /// end found while reading its fields. Quote rows (their one-sided state)
    /// and anything else go the line path.
    #[inline]
    fn decode_fused(
        &mut self,
        rest: &[u8],
        syms: &mut Syms<'_>,
        out: &mut Tick,
    ) -> Option<(Outcome, usize)> {
        let lay = self.layout;
        if lay.kind != LeanKind::Trade || lay.fx {
            return None;
        }
        let mut row = Row::new(rest, b',');
        let ms = row.u64()?;
        if ms >= 1 << 40 {
            return None;
        }
        let price = row.f64()?;
        let (size, mut end) = row.f64_or_end()?;
        // the flag (field `i`) and the line's end: fields 3 ..= i in one scan
        // when the flag is the line's last field (the usual), else one by one
        let mut flag = None;
        let len = match (end, lay.suspicious) {
            (Some(len), _) => len,
            (None, None) => row.line_end()?,
            (None, Some(i)) => {
                let from = row.clone();
                let (k, last, len) = row.rest_of_line()?;
                let want = i as u32 - 3;
                if k == want {
                    flag = Some(last);
                } else if k > want {
                    // more fields after the flag
                    row = from;
                    for _ in 3..=i {
                        let (f, e) = row.text_or_end()?;
                        flag = Some(f);
                        end = e;
                    }
                    if end.is_some() {
                        return None;
                    }
                }
                len
            }
        };
        let ts = self.zone.to_utc(self.days, ms as i64 * 1_000_000)?;
        let symbol = match syms.fixed() {
            Ok(s) => s,
            Err(r) => return Some((Outcome::Reject(r), len)),
        };
        *out = Tick::trade(symbol, ts, self.scaled(price), size, Side::Unknown, 0);
        if flag == Some(b"1") {
            out.flags |= Tick::FLAG_SUSPICIOUS;
        }
        Some((Outcome::Tick, len))
    }

    /// Trade rows as [`LeanDecoder::decode_fused`] takes them whose line ends
    /// within 48 bytes and has no field after the flag: see [`trade_row`].
    #[inline]
    fn decode_run(
        &mut self,
        rest: &[u8],
        max_len: usize,
        syms: &mut Syms<'_>,
        out: &mut [Tick],
        window: (i64, i64),
    ) -> (usize, usize) {
        let lay = self.layout;
        let (LeanKind::Trade, false, Some(flag)) = (lay.kind, lay.fx, lay.suspicious) else {
            return (0, 0);
        };
        // the member's symbol, resolved once (a refusal goes the per-row path)
        let Ok(symbol) = syms.fixed() else {
            return (0, 0);
        };
        let tmpl = Tick {
            symbol,
            flags: Tick::FLAG_REPLAY,
            ..Tick::trade(symbol, 0, 0.0, 0.0, Side::Unknown, 0)
        };
        let mut pos = 0;
        let mut rows = 0;
        // trade layouts put the flag at field 3 or later
        if flag < 3 {
            return (0, 0);
        }
        for slot in out.iter_mut() {
            let Some(w) = window::window(rest, pos) else {
                break;
            };
            // equity, option and future trades: the flag after two fields (a
            // constant trip count); crypto: right after the size
            let row = match flag {
                5 => trade_row(w, 5),
                f => trade_row(w, f as u32),
            };
            let Some((ms, price, size, suspicious, len)) = row else {
                break;
            };
            let Some(ts) = self.zone.to_utc(self.days, ms as i64 * 1_000_000) else {
                break;
            };
            let mut t = tmpl;
            t.ts_event = ts;
            t.ts_recv = ts;
            t.price = self.scaled(price);
            t.size = size;
            t.flags |= u16::from(suspicious) * Tick::FLAG_SUSPICIOUS;
            if len > max_len || !Validator::trade_ok(t.price, t.size, t.ts_event, window) {
                break;
            }
            *slot = t;
            pos += len;
            rows += 1;
        }
        (rows, pos)
    }
}

/// One LEAN trade row from the start of `w`: `ms,price,size` (ms a run of 1
/// to 19 digits below 2^40, price and size short plain decimals, as
/// [`Row`] reads them), then either the line's end or trailing fields, the
/// row's `\n` within its first 48 bytes. `flag`: the index of the
/// suspicious-flag field (at least 3). `(ms, price as written, size,
/// suspicious, line length through its \n)`, the same as
/// [`LeanDecoder::decode_fused`] (a flag field is `1` exactly, after the
/// line's `\r` is stripped; fewer fields than the flag's: not suspicious);
/// `None` for anything else, including fields after the flag.
///
/// The commas and the line's end come first, from one mask of the row's 48
/// bytes ([`window::commas_newlines48`]), so each field is parsed from its
/// known start, independently of the others; a parse that does not end
/// exactly at its field's comma refuses the row.
#[inline(always)]
fn trade_row(w: &Window, flag: u32) -> Option<(u64, f64, f64, bool, usize)> {
    let (cm, nl) = window::commas_newlines48(w, 0);
    if nl == 0 {
        return None;
    }
    let at_nl = nl.trailing_zeros() as usize;
    let len = at_nl + 1;
    // the commas of the line, in order: c1 after ms, c2 after price, c3 after size
    let c = cm & ((nl & nl.wrapping_neg()) - 1);
    let c1 = c.trailing_zeros() as usize;
    let c = c & c.wrapping_sub(1);
    let c2 = c.trailing_zeros() as usize;
    let c = c & c.wrapping_sub(1);
    if c2 >= at_nl {
        // fewer than three fields (also no comma at all: c1 = c2 = 64)
        return None;
    }
    let (ms, e) = window::digits(w, 0)?;
    if e != c1 || e == 0 || ms >= 1 << 40 {
        return None;
    }
    let (price, e) = window::short_f64(w, c1 + 1)?;
    if e != c2 {
        return None;
    }
    let (size, e) = window::short_f64(w, c2 + 1)?;
    if c == 0 {
        // the size ends the line
        let end = if at_nl > 0 && at(w, at_nl - 1) == b'\r' {
            at_nl - 1
        } else {
            at_nl
        };
        return (e == end).then_some((ms, price, size, false, len));
    }
    if e != c.trailing_zeros() as usize {
        return None;
    }
    // the flag field starts after comma number `flag`, the last one
    let mut c = c;
    for _ in 3..flag {
        c &= c.wrapping_sub(1);
    }
    if c == 0 {
        // fewer fields than the flag's
        return Some((ms, price, size, false, len));
    }
    let start = c.trailing_zeros() as usize + 1;
    if c & c.wrapping_sub(1) != 0 {
        // more fields after the flag: the fused path finds it
        return None;
    }
    let end = if at_nl > start && at(w, at_nl - 1) == b'\r' {
        at_nl - 1
    } else {
        at_nl
    };
    let suspicious = end == start + 1 && at(w, start) == b'1';
    Some((ms, price, size, suspicious, len))
}

/// The symbol of a member: futures and options name the contract
/// (`20131008_es_tick_trade_201312.csv` → `ES201312`), others use the path's
/// symbol directory (`…/tick/spy/…` → `SPY`).
fn member_symbol(asset: LeanAsset, member: &str, path: Option<SymbolName>) -> Option<SymbolName> {
    if matches!(asset, LeanAsset::Future | LeanAsset::Option) {
        let stem = member.split('.').next().unwrap_or(member);
        let parts: Vec<&str> = stem.split('_').collect();
        if parts.len() >= 5 {
            let name = format!("{}{}", parts[1], parts[parts.len() - 1]).to_ascii_uppercase();
            if let Ok(s) = SymbolName::new(name.as_bytes()) {
                return Some(s);
            }
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::days_from_civil;

    #[test]
    fn names() {
        assert_eq!(
            parse_file_name("20131008_trade.zip"),
            Some((days_from_civil(2013, 10, 8), LeanKind::Trade))
        );
        assert_eq!(parse_file_name("20131308_trade.zip"), None);
        assert_eq!(parse_file_name("2013100_trade.zip"), None);
        assert_eq!(parse_file_name("20131008_quote.csv"), None);
        assert_eq!(
            kind_in("20131008_spy_Trade_Tick.csv"),
            Some(LeanKind::Trade)
        );
        assert_eq!(
            member_symbol(LeanAsset::Future, "20131008_es_tick_quote_201312.csv", None)
                .map(|s| s.to_string()),
            Some("ES201312".into())
        );
    }

    #[test]
    fn one_sided_quotes() {
        let mut q = QuoteState::default();
        assert_eq!(
            q.update(Some((1.0, 2.0)), None),
            Err(Outcome::Skip(Skip::OneSidedWarmup))
        );
        assert_eq!(
            q.update(None, Some((1.1, 3.0))),
            Ok((1.0, 2.0, 1.1, 3.0, true))
        );
        assert_eq!(
            q.update(Some((1.05, 1.0)), Some((1.2, 1.0))),
            Ok((1.05, 1.0, 1.2, 1.0, false))
        );
        assert_eq!(
            q.update(None, None),
            Err(Outcome::Error(RowError::EmptyQuote))
        );
    }
}
