//! History importers: files of other tools and vendors → validated [`Tick`]s.
//!
//! # Contract
//!
//! - **Streaming, constant memory.** An [`Importer`] holds one line buffer
//!   (`max_line` + 64 KiB, at least 256 KiB) and one decompressor; lines longer
//!   than `max_line` are skipped unread and counted ([`RowError::TooLong`]).
//! - **Plain, gzip and zip read transparently**, told apart by magic bytes, not
//!   by the file name ([`Container::detect`]); every member of a zip is read in
//!   order, its CRC-32 checked.
//! - **Pull-based, caller's buffer.** [`Importer::next_batch`] fills a
//!   caller-provided `&mut [Tick]`: no allocation, lock or syscall per tick
//!   (only per buffer refill); symbols resolve through the caller's per-thread
//!   [`SymbolCache`].
//! - **Bad rows never stop an import.** Each row that gives no tick is counted
//!   by reason in [`ImportCounts`] (parse errors keep their line numbers, the
//!   first few are logged with `tracing`, then at powers of two); only I/O
//!   errors (including corrupt compression) end it, as [`ImportError`]. No
//!   input makes it panic (property-tested and fuzzed).
//! - **Every tick passes the [`Validator`]** of [`ImportOptions::validator`] and
//!   carries [`Tick::FLAG_REPLAY`]. `ts_recv` is the *recorded* time — the
//!   capture time when the source has one (hftbacktest, Tardis), else the event
//!   time — which is what a replay paces by (see [`Pacer`]).
//!
//! The formats, their columns, time zones and choices are described in
//! `docs/formats.md`.
//!
//! ```
//! use std::sync::Arc;
//! use ingest::import::{Format, ImportOptions, Importer, Input};
//! use ingest::{SymbolCache, SymbolTable};
//! use mtf::Tick;
//!
//! let csv = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n\
//!            binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.132\n";
//! let input = Input::Bytes { name: "trades.csv".into(), data: Arc::from(csv.as_bytes()) };
//! let mut imp = Importer::open(input, ImportOptions::new(Format::Tardis)).unwrap();
//! let mut syms = SymbolCache::new(Arc::new(SymbolTable::new(1024)));
//! let mut buf = [Tick::default(); 1024];
//! let n = imp.next_batch(&mut syms, &mut buf).unwrap();
//! assert_eq!(n, 1);
//! assert_eq!((buf[0].price, buf[0].size, buf[0].id), (9682.0, 0.132, 42377944));
//! assert_eq!(buf[0].ts_event, 1_582_329_602_111_000_000);
//! assert_eq!(buf[0].ts_recv, 1_582_329_602_418_379_000);
//! assert_eq!(imp.next_batch(&mut syms, &mut buf).unwrap(), 0);
//! assert_eq!(imp.counts().rows, 1);
//! ```

mod binance;
mod counts;
mod csv;
mod fields;
mod json;
mod lean;
mod lines;
mod num;
mod replay;
mod source;
mod tardis;
mod time;
mod truefx;
mod window;

use std::io::Read;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mtf::{SymbolId, Tick};

use crate::symbols::{SymbolCache, SymbolName};
use crate::validate::{Reject, Validator};

pub use counts::{ErrorAt, ImportCounts, KEPT_ERRORS, RowError, Skip};
pub use csv::{Column, CsvFields, CsvMapping, TimeFormat};
pub use lean::{LeanAsset, LeanKind, LeanOptions};
pub use lines::{Line, LineReader};
pub use num::{parse_f64, parse_i64, parse_u64};
pub use replay::Pacer;
pub use source::{Container, Input, MAX_ZIP_MEMBERS, Member, Source};
pub use time::{Civil, TimeUnit, Zone, ZoneConverter, days_from_civil, parse_datetime};

/// Default cap on a line's length: 64 KiB (hftbacktest depth lines reach 28 KiB).
pub const DEFAULT_MAX_LINE: usize = 64 << 10;

/// What ends an import. Row-level problems never do: they are counted in [`ImportCounts`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Reading or decompressing failed.
    #[error("{input}: {source}")]
    Io {
        /// The input's path or name.
        input: String,
        /// The error.
        source: std::io::Error,
    },
    /// A zip archive that cannot be read (or uses an unsupported feature).
    #[error("{input}: zip: {detail}")]
    Zip {
        /// The input's path or name.
        input: String,
        /// What is wrong.
        detail: String,
    },
    /// The options do not fit the input (no symbol, no date in a LEAN name, unknown column, …).
    #[error("{input}: {detail}")]
    Config {
        /// The input's path or name.
        input: String,
        /// What is wrong.
        detail: String,
    },
}

impl ImportError {
    pub(crate) fn io(input: &Input, source: std::io::Error) -> ImportError {
        ImportError::Io {
            input: input.path_text(),
            source,
        }
    }

    pub(crate) fn zip(input: &Input, detail: String) -> ImportError {
        ImportError::Zip {
            input: input.path_text(),
            detail,
        }
    }

    pub(crate) fn config(input: &str, detail: impl Into<String>) -> ImportError {
        ImportError::Config {
            input: input.to_owned(),
            detail: detail.into(),
        }
    }
}

/// Which importer reads the input.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Format {
    /// Any delimited text, through a column mapping.
    Csv(CsvMapping),
    /// Tardis.dev CSV (`trades` or `quotes`, told apart by the header).
    Tardis,
    /// QuantConnect LEAN tick zips (equity, option, forex, cfd, future, crypto).
    Lean(LeanOptions),
    /// Binance websocket messages as captured by hftbacktest: `<recv ns> <json>` per line.
    HftBinance,
    /// TrueFX CSV, raw (`USD/JPY,20130101 22:00:00.295,bid,ask`) or as
    /// re-serialised by NautilusTrader (`timestamp,bid,ask` header, ISO times).
    TrueFx,
}

impl Format {
    /// Guesses the format from the input's path and its first (decompressed)
    /// line; `None` when nothing fits (use [`Format::Csv`]).
    pub fn guess(path: &str, first_line: &[u8]) -> Option<Format> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        if lean::parse_file_name(name).is_some() {
            return Some(Format::Lean(LeanOptions::default()));
        }
        if first_line.starts_with(b"exchange,symbol,timestamp,local_timestamp,") {
            return Some(Format::Tardis);
        }
        let digits = first_line.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits >= 16 && first_line[digits..].starts_with(b" {") {
            return Some(Format::HftBinance);
        }
        if first_line == b"timestamp,bid,ask" || truefx::looks_raw(first_line) {
            return Some(Format::TrueFx);
        }
        None
    }
}

/// Guesses the format of `input`: [`Format::guess`] over its path and the first
/// line of its first member, decompressed (plain, gzip or zip alike). Reads at
/// most one line (capped at [`DEFAULT_MAX_LINE`]); `Ok(None)` when nothing fits.
pub fn sniff(input: &Input) -> Result<Option<Format>, ImportError> {
    let path = input.path_text();
    let mut src = Source::open(input.clone())?;
    let Some(mut m) = src.next_member()? else {
        return Ok(Format::guess(&path, b""));
    };
    let mut lines = LineReader::new(DEFAULT_MAX_LINE);
    let first = match lines.next_line(&mut m.reader) {
        Ok(Line::Data(l)) => l.to_vec(),
        Ok(_) => Vec::new(),
        Err(e) => return Err(ImportError::io(input, e)),
    };
    Ok(Format::guess(&path, &first))
}

/// How each tick gets its symbol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SymbolRule {
    /// From the data when it has one, else from the file (or zip member) name.
    #[default]
    Auto,
    /// From the data when it has one, else this one (not the file name).
    Default(SymbolName),
    /// This one for every tick, whatever the data says.
    Force(SymbolName),
}

/// Options of one import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The format.
    pub format: Format,
    /// Where symbols come from.
    pub symbol: SymbolRule,
    /// The checks every tick passes (default: history, 1990-01-01 to now + 1 day).
    pub validator: Validator,
    /// The clock the validator's window is relative to, ns since the epoch
    /// (`None`: the system clock, read once per batch).
    pub now_ns: Option<i64>,
    /// Longest line read; longer ones are skipped and counted.
    pub max_line: usize,
    /// Log the first row errors and then every power of two (`tracing::warn`).
    pub log_errors: bool,
}

impl ImportOptions {
    /// Defaults for `format`.
    pub fn new(format: Format) -> ImportOptions {
        ImportOptions {
            format,
            symbol: SymbolRule::Auto,
            validator: Validator::history(),
            now_ns: None,
            max_line: DEFAULT_MAX_LINE,
            log_errors: true,
        }
    }

    /// Builder: the symbol rule.
    pub fn symbol(mut self, rule: SymbolRule) -> ImportOptions {
        self.symbol = rule;
        self
    }
}

/// What a decoder made of one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `out` holds a tick (not validated yet).
    Tick,
    /// Nothing, by design.
    Skip(Skip),
    /// The row is malformed.
    Error(RowError),
    /// The row is refused (its symbol).
    Reject(Reject),
}

/// Symbol resolution for decoders: the caller's cache plus the import's rule.
pub(crate) struct Syms<'a> {
    cache: &'a mut SymbolCache,
    st: &'a mut SymState,
}

#[derive(Debug, Default)]
pub(crate) struct SymState {
    /// The symbol of rows whose data has none (rule or file name), per member.
    fallback: Option<SymbolName>,
    fallback_id: Option<SymbolId>,
    force: bool,
    /// the options name a symbol: decoders keep `fallback` as set
    rule_given: bool,
    /// the last name resolved from data and its id
    last: [u8; 16],
    last_len: u8,
    last_id: Option<SymbolId>,
}

impl Syms<'_> {
    /// The id for a row that carries no symbol.
    #[inline]
    pub(crate) fn fixed(&mut self) -> Result<SymbolId, Reject> {
        if let Some(id) = self.st.fallback_id {
            return Ok(id);
        }
        self.fixed_slow()
    }

    #[cold]
    fn fixed_slow(&mut self) -> Result<SymbolId, Reject> {
        let name = self.st.fallback.ok_or(Reject::Symbol)?;
        let id = self.cache.resolve(name).map_err(|_| Reject::Symbol)?;
        self.st.fallback_id = Some(id);
        Ok(id)
    }

    /// The id for a row whose data names `name`.
    #[inline(always)]
    pub(crate) fn named(&mut self, name: &[u8]) -> Result<SymbolId, Reject> {
        if self.st.force {
            return self.fixed();
        }
        if let Some(id) = self.st.last_id
            && name.len() == self.st.last_len as usize
            && same_prefix(name, &self.st.last)
        {
            return Ok(id);
        }
        self.named_slow(name)
    }

    #[cold]
    fn named_slow(&mut self, name: &[u8]) -> Result<SymbolId, Reject> {
        let id = self.cache.resolve_bytes(name).map_err(|_| Reject::Symbol)?;
        self.st.last[..name.len()].copy_from_slice(name);
        self.st.last_len = name.len() as u8;
        self.st.last_id = Some(id);
        Ok(id)
    }
}

/// Whether `name` equals the first `name.len()` bytes of `last`: two
/// overlapping loads per side instead of a `memcmp` call (names are short).
#[inline(always)]
fn same_prefix(name: &[u8], last: &[u8; 16]) -> bool {
    let n = name.len();
    let w8 = |b: &[u8], i: usize| {
        b.get(i..i + 8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
    };
    let w4 = |b: &[u8], i: usize| {
        b.get(i..i + 4)
            .map(|s| u32::from_le_bytes(s.try_into().unwrap_or([0; 4])))
    };
    match n {
        8..=16 => w8(name, 0) == w8(last, 0) && w8(name, n - 8) == w8(last, n - 8),
        4..=7 => w4(name, 0) == w4(last, 0) && w4(name, n - 4) == w4(last, n - 4),
        _ => last.get(..n) == Some(name),
    }
}

/// A format's line decoder.
pub(crate) trait Decode {
    /// A new member starts (`name`: zip entry or file name); resets per-stream state.
    fn begin(&mut self, input: &str, member: &str, syms: &mut SymState) -> Result<(), ImportError>;
    /// Decodes one line into `out`.
    fn decode(&mut self, line: &[u8], syms: &mut Syms<'_>, out: &mut Tick) -> Outcome;
    /// The fused fast path: decodes the line at the start of `rest` (the input
    /// from that line on, past its `\n`) in the same pass that finds the
    /// line's end, sparing the separate newline search. `Some((outcome,
    /// length of the line through its \n))` only when `outcome` (and `out`) is
    /// exactly what [`Decode::decode`] gives for that line; `None` (the
    /// default) leaves the line to the line splitter and `decode`, and must
    /// leave the decoder's state as it was.
    #[inline(always)]
    fn decode_fused(
        &mut self,
        rest: &[u8],
        syms: &mut Syms<'_>,
        out: &mut Tick,
    ) -> Option<(Outcome, usize)> {
        let _ = (rest, syms, out);
        None
    }

    /// The batch fast path: decodes rows from the start of `rest` (the input
    /// from a line's start on) straight into `out` while each row is one that
    /// [`Decode::decode_fused`] gives as [`Outcome::Tick`], its line (through
    /// its `\n`) is at most `max_len` bytes, and its tick passes
    /// [`Validator::check_in`] against `window`; each tick gets
    /// [`Tick::FLAG_REPLAY`], as the per-row path sets it. Returns `(rows,
    /// bytes)`: that many leading lines were consumed, each giving one tick in
    /// `out[..rows]`. It stops before the first other row (which the per-row
    /// path then decodes, so a state change the batch made for it must give
    /// the same result there), when `out` is full, or when too few bytes
    /// remain for its fixed window; `(0, 0)` (the default) takes nothing.
    #[inline(always)]
    fn decode_run(
        &mut self,
        rest: &[u8],
        max_len: usize,
        syms: &mut Syms<'_>,
        out: &mut [Tick],
        window: (i64, i64),
    ) -> (usize, usize) {
        let _ = (rest, max_len, syms, out, window);
        (0, 0)
    }
}

enum Decoder {
    Csv(Box<csv::CsvDecoder>),
    Tardis(tardis::TardisDecoder),
    Lean(Box<lean::LeanDecoder>),
    Binance(binance::BinanceDecoder),
    TrueFx(truefx::TrueFxDecoder),
}

/// Reads one input of one format, batch by batch.
pub struct Importer {
    core: Core,
    decoder: Decoder,
}

/// The current member's bytes.
enum Reader {
    /// Decompressed or read from a file, through the line buffer.
    Stream(Box<dyn Read + Send>),
    /// Already in memory: lines are slices of it.
    Memory(Arc<[u8]>, usize),
}

/// Everything of an import but its decoder.
struct Core {
    source: Source,
    input_name: String,
    lines: LineReader,
    reader: Option<Reader>,
    member: u32,
    sym: SymState,
    rule: SymbolRule,
    validator: Validator,
    now_ns: Option<i64>,
    log_errors: bool,
    counts: ImportCounts,
    done: bool,
}

impl std::fmt::Debug for Importer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Importer")
            .field("input", &self.core.input_name)
            .field("member", &self.core.member)
            .field("counts", &self.core.counts)
            .finish()
    }
}

impl Importer {
    /// Opens `input` (reads a zip's directory; nothing else yet).
    pub fn open(input: Input, opts: ImportOptions) -> Result<Importer, ImportError> {
        let input_name = input.path_text();
        let decoder = match opts.format {
            Format::Csv(m) => Decoder::Csv(Box::new(csv::CsvDecoder::new(m, &input_name)?)),
            Format::Tardis => Decoder::Tardis(tardis::TardisDecoder::default()),
            Format::Lean(o) => Decoder::Lean(Box::new(lean::LeanDecoder::new(o, &input_name)?)),
            Format::HftBinance => Decoder::Binance(binance::BinanceDecoder),
            Format::TrueFx => Decoder::TrueFx(truefx::TrueFxDecoder::default()),
        };
        let source = Source::open(input)?;
        let sym = SymState {
            force: matches!(opts.symbol, SymbolRule::Force(_)),
            rule_given: !matches!(opts.symbol, SymbolRule::Auto),
            ..SymState::default()
        };
        Ok(Importer {
            core: Core {
                source,
                input_name,
                lines: LineReader::new(opts.max_line),
                reader: None,
                member: 0,
                sym,
                rule: opts.symbol,
                validator: opts.validator,
                now_ns: opts.now_ns,
                log_errors: opts.log_errors,
                counts: ImportCounts::default(),
                done: false,
            },
            decoder,
        })
    }

    /// The counters so far.
    pub fn counts(&self) -> &ImportCounts {
        &self.core.counts
    }

    /// The container found (plain, gzip, zip).
    pub fn container(&self) -> Container {
        self.core.source.container()
    }

    /// Fills `out` with the next ticks; returns how many (0: the input is done).
    /// Fewer than `out.len()` only at the end of the input.
    ///
    /// After an error the importer is finished: later calls return `Ok(0)`.
    pub fn next_batch(
        &mut self,
        cache: &mut SymbolCache,
        out: &mut [Tick],
    ) -> Result<usize, ImportError> {
        let core = &mut self.core;
        if core.done || out.is_empty() {
            return Ok(0);
        }
        let now = core.now_ns.unwrap_or_else(now_ns);
        let r = match &mut self.decoder {
            Decoder::Csv(d) => core.fill(&mut **d, now, cache, out),
            Decoder::Tardis(d) => core.fill(d, now, cache, out),
            Decoder::Lean(d) => core.fill(&mut **d, now, cache, out),
            Decoder::Binance(d) => core.fill(d, now, cache, out),
            Decoder::TrueFx(d) => core.fill(d, now, cache, out),
        };
        core.counts.bytes = core.lines.bytes_read();
        match r {
            Ok((n, end)) => {
                core.done = end;
                Ok(n)
            }
            Err(e) => {
                core.done = true;
                Err(e)
            }
        }
    }

    /// Runs the import to its end, handing each batch to `f`; returns the counts.
    /// Uses one buffer of 4096 ticks (256 KiB), allocated once.
    pub fn run(
        mut self,
        cache: &mut SymbolCache,
        mut f: impl FnMut(&[Tick]),
    ) -> Result<ImportCounts, ImportError> {
        let mut buf = vec![Tick::default(); 4096];
        loop {
            let n = self.next_batch(cache, &mut buf)?;
            if n == 0 {
                return Ok(self.core.counts);
            }
            f(&buf[..n]);
        }
    }
}

impl Core {
    /// Decodes lines into `out` until it is full or the input ends; `(n, ended)`.
    #[inline(never)]
    fn fill<D: Decode>(
        &mut self,
        dec: &mut D,
        now: i64,
        cache: &mut SymbolCache,
        out: &mut [Tick],
    ) -> Result<(usize, bool), ImportError> {
        // the time window once per batch: each tick then compares two integers
        let window = self.validator.window(now);
        let mut n = 0;
        while n < out.len() {
            let Some(r) = self.reader.as_mut() else {
                if !self.next_member(dec)? {
                    return Ok((n, true));
                }
                continue;
            };
            // the fused path first: the line's fields and its end in one pass
            let rest = match r {
                Reader::Stream(_) => self.lines.pending(),
                Reader::Memory(data, pos) => data.get(*pos..).unwrap_or_default(),
            };
            #[cfg(test)]
            let rest = if tests::NO_FUSED.get() { &[][..] } else { rest };
            // whole runs of plain rows, validated, straight into `out`
            let mut syms = Syms {
                cache,
                st: &mut self.sym,
            };
            let max_len = self.lines.max_line().saturating_add(1);
            let (rows, len) = dec.decode_run(rest, max_len, &mut syms, &mut out[n..], window);
            if rows > 0 {
                debug_assert!(len <= rest.len() && rows <= out.len() - n);
                match r {
                    Reader::Stream(_) => self.lines.consume_lines(rows as u64, len),
                    Reader::Memory(_, pos) => {
                        *pos += len;
                        self.lines.consumed_in_lines(rows as u64, len);
                    }
                }
                self.counts.lines += rows as u64;
                self.counts.rows += rows as u64;
                self.counts.ticks += rows as u64;
                n += rows;
                continue;
            }
            let slot = &mut out[n];
            // a line over the cap (a '\r' before its '\n' counts, as for the
            // splitter) cannot find its end here: it goes the line path whole,
            // before the decoder resolves (interns) its symbol
            let rest = &rest[..rest.len().min(max_len)];
            let fused = match dec.decode_fused(rest, &mut syms, slot) {
                Some((o, len)) => {
                    debug_assert!(len <= rest.len());
                    match r {
                        Reader::Stream(_) => self.lines.consume(len),
                        Reader::Memory(_, pos) => {
                            *pos += len;
                            self.lines.consumed_in(len);
                        }
                    }
                    Some(o)
                }
                _ => None,
            };
            let outcome = match fused {
                Some(o) => {
                    self.counts.lines += 1;
                    o
                }
                None => {
                    let next = match r {
                        Reader::Stream(r) => self.lines.next_line(r),
                        Reader::Memory(data, pos) => Ok(self.lines.next_in(data, pos)),
                    };
                    let line = match next {
                        Ok(Line::Data(l)) => l,
                        Ok(Line::TooLong) => {
                            self.counts.lines += 1;
                            self.counts.rows += 1;
                            let at = ErrorAt {
                                member: self.member,
                                line: self.lines.line_no(),
                                error: RowError::TooLong,
                            };
                            if self.counts.error(at) && self.log_errors {
                                log_error(&self.input_name, &at, self.lines.max_line());
                            }
                            continue;
                        }
                        Ok(Line::End) => {
                            self.reader = None;
                            continue;
                        }
                        Err(e) => return Err(ImportError::io(self.source.input(), e)),
                    };
                    self.counts.lines += 1;
                    if line.is_empty() {
                        self.counts.skip(Skip::Empty);
                        continue;
                    }
                    let mut syms = Syms {
                        cache,
                        st: &mut self.sym,
                    };
                    dec.decode(line, &mut syms, slot)
                }
            };
            let line_no = self.lines.line_no();
            match outcome {
                Outcome::Tick => {
                    self.counts.rows += 1;
                    slot.flags |= Tick::FLAG_REPLAY;
                    match Validator::check_in(slot, window) {
                        Ok(()) => {
                            self.counts.ticks += 1;
                            n += 1;
                        }
                        Err(r) => self.reject(r, line_no),
                    }
                }
                Outcome::Skip(Skip::Header) => self.counts.skip(Skip::Header),
                Outcome::Skip(s) => {
                    self.counts.rows += 1;
                    self.counts.skip(s);
                }
                Outcome::Error(e) => {
                    self.counts.rows += 1;
                    let at = ErrorAt {
                        member: self.member,
                        line: line_no,
                        error: e,
                    };
                    if self.counts.error(at) && self.log_errors {
                        log_error(&self.input_name, &at, self.lines.max_line());
                    }
                }
                Outcome::Reject(r) => {
                    self.counts.rows += 1;
                    self.reject(r, line_no);
                }
            }
        }
        Ok((n, false))
    }

    /// Opens the next member; `false` when there is none.
    #[cold]
    fn next_member<D: Decode>(&mut self, dec: &mut D) -> Result<bool, ImportError> {
        let Some(m) = self.source.next_member()? else {
            return Ok(false);
        };
        if self.counts.members > 0 {
            self.member += 1;
        }
        self.counts.members += 1;
        self.lines.reset();
        self.sym.fallback = fallback_symbol(&self.rule, &m.name)
            .or_else(|| fallback_symbol(&self.rule, &self.input_name));
        self.sym.fallback_id = None;
        dec.begin(&self.input_name, &m.name, &mut self.sym)?;
        self.reader = Some(match m.bytes {
            #[cfg(test)]
            Some(b) if tests::READ_SPLITS.with_borrow(|s| !s.is_empty()) => {
                Reader::Stream(Box::new(tests::Splits::new(b)))
            }
            Some(b) => Reader::Memory(b, 0),
            None => Reader::Stream(m.reader),
        });
        Ok(true)
    }

    #[cold]
    fn reject(&mut self, r: Reject, line: u64) {
        self.counts.rejects.bump(r);
        let total = self.counts.rejects.total();
        if self.log_errors && (total <= 16 || total.is_power_of_two()) {
            tracing::warn!(
                input = self.input_name.as_str(),
                member = self.member,
                line,
                reason = r.as_str(),
                total,
                "import: tick rejected"
            );
        }
    }
}

/// The system clock, ns since the epoch.
fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The fallback symbol of a member: the rule's, else one derived from `name`.
fn fallback_symbol(rule: &SymbolRule, name: &str) -> Option<SymbolName> {
    match rule {
        SymbolRule::Default(s) | SymbolRule::Force(s) => Some(*s),
        SymbolRule::Auto => symbol_from_file_name(name),
    }
}

/// A symbol from a file name: the leading run of letters, digits and `.` of
/// its last path component, up to the first `-`, `_` or the extension, upper-cased
/// (`usdjpy-ticks.csv` → `USDJPY`, `AAPL_trades.csv.gz` → `AAPL`); `None` when
/// that is not a valid name (for example all digits, like a date).
pub fn symbol_from_file_name(name: &str) -> Option<SymbolName> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem: Vec<u8> = base
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if stem.is_empty() || stem.iter().all(u8::is_ascii_digit) {
        return None;
    }
    SymbolName::new(&stem).ok()
}

#[cold]
fn log_error(input: &str, at: &ErrorAt, max_line: usize) {
    if at.error == RowError::TooLong {
        tracing::warn!(
            input,
            member = at.member,
            line = at.line,
            max_line,
            "import: line longer than the cap skipped"
        );
    } else {
        tracing::warn!(
            input,
            member = at.member,
            line = at.line,
            reason = at.error.as_str(),
            "import: row does not parse"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::Cell;
    use std::io::Write;

    thread_local! {
        /// Turns the fused path off (the reference for equivalence tests).
        pub(super) static NO_FUSED: Cell<bool> = const { Cell::new(false) };
        /// When not empty, an in-memory input is read as a stream whose reads
        /// return these sizes in turn (arbitrary read splits).
        pub(super) static READ_SPLITS: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// A reader over bytes whose reads stop at the sizes of [`READ_SPLITS`], cycled.
    pub(super) struct Splits {
        data: Arc<[u8]>,
        pos: usize,
        sizes: Vec<usize>,
        k: usize,
    }

    impl Splits {
        pub(super) fn new(data: Arc<[u8]>) -> Splits {
            Splits {
                data,
                pos: 0,
                sizes: READ_SPLITS.with_borrow(Clone::clone),
                k: 0,
            }
        }
    }

    impl Read for Splits {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let size = self.sizes[self.k % self.sizes.len()].max(1);
            self.k += 1;
            let n = size.min(out.len()).min(self.data.len() - self.pos);
            out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// (ticks, counts) of importing `data`, as text (NaN-safe comparison).
    fn import(name: &str, data: &[u8], format: Format, max_line: usize, fused: bool) -> String {
        import_with(name, data, format, max_line, fused, 5)
    }

    /// [`import`] with a tick buffer of `buf_len`.
    fn import_with(
        name: &str,
        data: &[u8],
        format: Format,
        max_line: usize,
        fused: bool,
        buf_len: usize,
    ) -> String {
        NO_FUSED.set(!fused);
        let table = Arc::new(crate::SymbolTable::new(64));
        let mut cache = SymbolCache::new(table);
        let input = Input::Bytes {
            name: name.into(),
            data: Arc::from(data),
        };
        let mut opts = ImportOptions::new(format);
        opts.max_line = max_line;
        opts.now_ns = Some(1_763_700_000_000_000_000);
        opts.log_errors = false;
        let mut imp = Importer::open(input, opts).unwrap();
        let mut buf = vec![Tick::default(); buf_len];
        let mut out = String::new();
        loop {
            match imp.next_batch(&mut cache, &mut buf) {
                Ok(0) => break,
                // one tick per line: the batch path fills a buffer as the per-row path does
                Ok(n) => out += &format!("{:?}\n", &buf[..n]),
                Err(e) => {
                    out += &format!("error {e}\n");
                    break;
                }
            }
        }
        NO_FUSED.set(false);
        out + &format!("{:?}", imp.counts())
    }

    /// Lines built from real-looking rows, mutated: the fused path (in memory
    /// and through the streaming line buffer, gzip) gives the same ticks and
    /// counts as the line path.
    fn fused_equals_line_path(
        name: &str,
        format: &Format,
        lines: &[Vec<u8>],
        crlf: bool,
        max_line: usize,
    ) -> Result<(), TestCaseError> {
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let data = lines.join(eol);
        let want = import(name, &data, format.clone(), max_line, false);
        let got = import(name, &data, format.clone(), max_line, true);
        prop_assert_eq!(&got, &want);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let got = import(&format!("{name}.gz"), &gz, format.clone(), max_line, true);
        prop_assert_eq!(&got, &want);
        Ok(())
    }

    /// A row from `templates`, with up to two bytes replaced or removed.
    fn mutated(templates: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
        (
            0..templates.len(),
            proptest::collection::vec(
                (
                    any::<prop::sample::Index>(),
                    prop_oneof![
                        Just(None),
                        Just(Some(b',')),
                        Just(Some(b'.')),
                        Just(Some(b'\n')),
                        Just(Some(b'\r')),
                        Just(Some(b'1')),
                        Just(Some(b'x')),
                        any::<u8>().prop_map(Some)
                    ],
                ),
                0..3,
            ),
            any::<bool>(),
        )
            .prop_map(move |(t, edits, keep)| {
                let mut row = templates[t].as_bytes().to_vec();
                if keep {
                    return row;
                }
                for (at, c) in edits {
                    if row.is_empty() {
                        break;
                    }
                    let i = at.index(row.len());
                    match c {
                        Some(c) => row[i] = c,
                        None => {
                            row.remove(i);
                        }
                    }
                }
                row
            })
    }

    const LEAN_ROWS: &[&str] = &[
        "14417034,1674200,210,Q,2000,0",
        "14726965,1673300,200,Q,20002020,1",
        "34200000,1674200,100",
        "34200000,1674200,100,",
        "34200001,1674250,5,P,1,0,extra,fields",
        "34200002,1674200.5,1e2,N,1,0",
        "34200003.5,1674200,100,Q,2000,0",
        "99999999999,1674200,100,Q,2000,0",
        "",
        "34200004,-5,100,Q,2000,0",
        "34200005,16742001234567,100,Q,2000,1",
    ];

    const TARDIS_ROWS: &[&str] = &[
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount",
        "binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.132",
        "binance-futures,BTCUSDT,1582329602116000,1582329602418420,42377945,sell,9681.92,0.412",
        "binance-futures,ETHUSDT,1582329602117000,,7,unknown,265.5,1.5",
        "binance-futures,,1582329602117000,1582329602118000,8,,265.5,1",
        "binance-futures,BTCUSDT,1582329602117000,1582329602118000,a1b2-c3,buy,265.5,1",
        "binance-futures,BTCUSDT,1582329602117000,1582329602118000,9,buy,9682.123456,0.00017000",
        "binance-futures,BTCUSDT,1582329602117000,1582329602118000,9,buy,1e3,5",
        "binance-futures,BTCUSDT,1582329602117000,1582329602118000,9,hold,1,5",
        "binance-futures,BTCUSDT,1582329602117000,1582329602118000,9,buy,1,5,extra",
        "binance-futures,A_SYMBOL_LONGER_THAN_16,1582329602117000,1582329602118000,9,buy,1,5",
        "binance-futures,BTCUSDT,9999999999999999999,1582329602118000,9,buy,1,5",
    ];

    #[test]
    fn fused_path_takes_plain_rows() {
        let mut cache = SymbolCache::new(Arc::new(crate::SymbolTable::new(8)));
        let mut st = SymState::default();
        let mut t = Tick::default();
        let name = "equity/usa/tick/spy/20131008_trade.csv";
        let mut lean = lean::LeanDecoder::new(LeanOptions::default(), name).unwrap();
        lean.begin(name, "20131008_trade.csv", &mut st).unwrap();
        let mut syms = Syms {
            cache: &mut cache,
            st: &mut st,
        };
        for (rest, len) in [
            ("14417034,1674200,210,Q,2000,0\n1", 30),
            ("14417034,1674200,210,Q,2000,1\r\n", 31),
            ("14417034,1674200,210\n", 21),
            ("14417034,1674200,210,Q,2000,0,x,y\n", 34),
        ] {
            assert_eq!(
                lean.decode_fused(rest.as_bytes(), &mut syms, &mut t),
                Some((Outcome::Tick, len)),
                "{rest:?}"
            );
        }
        assert_eq!(t.flags & Tick::FLAG_SUSPICIOUS, 0);
        let mut tardis = tardis::TardisDecoder::default();
        let header = TARDIS_ROWS[0].as_bytes();
        assert_eq!(
            tardis.decode(header, &mut syms, &mut t),
            Outcome::Skip(Skip::Header)
        );
        let rest = format!("{}\r\nnext", TARDIS_ROWS[1]);
        assert_eq!(
            tardis.decode_fused(rest.as_bytes(), &mut syms, &mut t),
            Some((Outcome::Tick, TARDIS_ROWS[1].len() + 2))
        );
        // no line end in sight: the line path decides
        assert_eq!(
            tardis.decode_fused(TARDIS_ROWS[1].as_bytes(), &mut syms, &mut t),
            None
        );
    }

    /// Found by the property below: an over-long line's symbol must not be
    /// interned (shifting later ids) before the line is known to fit the cap.
    #[test]
    fn over_long_line_interns_no_symbol() {
        let lines: Vec<Vec<u8>> = [
            TARDIS_ROWS[0],
            "binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.13200",
            "binance-futures,ETHUSDT,1582329602117000,,7,unknown,265.5,1.5",
        ]
        .iter()
        .map(|l| l.as_bytes().to_vec())
        .collect();
        fused_equals_line_path("trades.csv", &Format::Tardis, &lines, false, 80).unwrap();
    }

    /// Runs of plain rows (the batch path) broken by mutated ones: the batch
    /// path gives the same ticks, counts and errors as the line path, in
    /// memory (any tick buffer) and streamed with arbitrary read splits.
    fn batch_equals_line_path(
        name: &str,
        format: &Format,
        lines: &[Vec<u8>],
        crlf: bool,
        max_line: usize,
        buf_len: usize,
        splits: Vec<usize>,
    ) -> Result<(), TestCaseError> {
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let data = lines.join(eol);
        let want = import_with(name, &data, format.clone(), max_line, false, buf_len);
        let got = import_with(name, &data, format.clone(), max_line, true, buf_len);
        prop_assert_eq!(&got, &want);
        READ_SPLITS.set(splits);
        let got = import_with(name, &data, format.clone(), max_line, true, buf_len);
        READ_SPLITS.set(Vec::new());
        prop_assert_eq!(&got, &want);
        Ok(())
    }

    /// Mostly plain rows of `plain` (whole runs for the batch path), some from
    /// `templates` mutated.
    fn batch_lines(
        plain: &'static [&'static str],
        templates: &'static [&'static str],
    ) -> impl Strategy<Value = Vec<Vec<u8>>> {
        proptest::collection::vec(
            prop_oneof![
                6 => (0..plain.len()).prop_map(move |i| plain[i].as_bytes().to_vec()),
                1 => mutated(templates),
            ],
            0..80,
        )
    }

    const LEAN_PLAIN: &[&str] = &[
        "14417034,1674200,210,Q,2000,0",
        "14726965,1673300,200,Q,20002020,0",
        "34200000,1674200,100,P,1,1",
        "34200001,1674250.5,5,N,1,0",
        "34200002,1674200,100",
        "34200003,167,0.25,T,1",
        "34200004,1674200,100,Q,20002020,1\r",
        "1,1,1,,,1",
    ];

    const TARDIS_PLAIN: &[&str] = &[
        "binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.132",
        "binance-futures,BTCUSDT,1582329602116000,1582329602418420,42377945,sell,9681.92,0.412",
        "binance-futures,BTCUSDT,1582329602116000,1582329602418420,1,unknown,9681.92,0.412",
        "binance-futures,BTCUSDT,1582329602116000,1582329602418420,1234567890123456789,buy,1.5,2",
        "binance-futures,ETHUSDT,1582329602117000,1582329602117001,7,sell,265.5,1.5",
        "binance-futures,BTCUSDT,0582329602116000,1582329602418420,42,buy,0.5,0",
        "binance-futures,BTCUSDT,9999999999999999,1582329602418420,42,buy,0.5,0",
        "binance-futures,BTCUSDT,1582329602116000,1582329602418420,42,buy,0,1",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn lean_batch_matches_line_path(lines in batch_lines(LEAN_PLAIN, LEAN_ROWS), crlf in any::<bool>(), short_cap in any::<bool>(), buf_len in 1usize..200, splits in proptest::collection::vec(1usize..600, 1..40)) {
            let format = Format::Lean(LeanOptions::default());
            batch_equals_line_path("equity/usa/tick/spy/20131008_trade.csv", &format, &lines, crlf, if short_cap { 30 } else { DEFAULT_MAX_LINE }, buf_len, splits)?;
        }

        #[test]
        fn tardis_batch_matches_line_path(mut lines in batch_lines(TARDIS_PLAIN, TARDIS_ROWS), crlf in any::<bool>(), short_cap in any::<bool>(), buf_len in 1usize..200, splits in proptest::collection::vec(1usize..600, 1..40)) {
            lines.insert(0, TARDIS_ROWS[0].as_bytes().to_vec());
            batch_equals_line_path("trades.csv", &Format::Tardis, &lines, crlf, if short_cap { 84 } else { DEFAULT_MAX_LINE }, buf_len, splits)?;
        }

        #[test]
        fn lean_fused_matches_line_path(lines in proptest::collection::vec(mutated(LEAN_ROWS), 0..12), crlf in any::<bool>(), short_cap in any::<bool>()) {
            let format = Format::Lean(LeanOptions::default());
            fused_equals_line_path("equity/usa/tick/spy/20131008_trade.csv", &format, &lines, crlf, if short_cap { 30 } else { DEFAULT_MAX_LINE })?;
        }

        #[test]
        fn tardis_fused_matches_line_path(mut lines in proptest::collection::vec(mutated(TARDIS_ROWS), 0..12), crlf in any::<bool>(), short_cap in any::<bool>()) {
            lines.insert(0, TARDIS_ROWS[0].as_bytes().to_vec());
            fused_equals_line_path("trades.csv", &Format::Tardis, &lines, crlf, if short_cap { 80 } else { DEFAULT_MAX_LINE })?;
        }

        #[test]
        fn same_prefix_is_slice_equality(name in proptest::collection::vec(b'A'..=b'D', 0..=16), last in proptest::collection::vec(b'A'..=b'D', 16)) {
            let last: [u8; 16] = last.try_into().unwrap();
            prop_assert_eq!(same_prefix(&name, &last), name[..] == last[..name.len()]);
            let mut copy = [0u8; 16];
            copy[..name.len()].copy_from_slice(&name);
            prop_assert!(same_prefix(&name, &copy));
        }
    }
}
