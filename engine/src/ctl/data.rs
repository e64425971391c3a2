//! `tickctl import`, `query` and `info`: the segment store, read and written
//! directly (no daemon needed; `import` refuses to run beside a live daemon
//! on the same data directory, since both would assign symbol ids).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use ingest::import::{Format, ImportOptions, Importer, Input, SymbolRule};
use ingest::{SymbolCache, SymbolName, SymbolTable};
use mtf::{Tick, Timeframe};
use store::StoreReader;

use super::send::{FileFormat, guess};
use super::table::{
    BAR_COLUMNS, bar_cells, bar_json, csv_field, fmt_f, print_table, tick_json, ts_text,
};
use super::{CtlError, OutFormat};
use crate::daemon::DaemonState;

/// `tickctl import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// History files (plain, gzip or zip).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value_t = FileFormat::Auto)]
    pub format: FileFormat,
    /// Give every tick this symbol.
    #[arg(long)]
    pub symbol: Option<String>,
}

/// `tickctl query`.
#[derive(Args, Debug, Clone)]
pub struct QueryArgs {
    /// Symbol name.
    pub symbol: String,
    /// Bars of this timeframe (stored, or rebuilt from ticks); without it: ticks.
    #[arg(long)]
    pub timeframe: Option<String>,
    /// From (inclusive): RFC 3339 (2024-08-09T00:01:00Z), a date (2024-08-09)
    /// or ns since the epoch. Default: the beginning.
    #[arg(long)]
    pub from: Option<String>,
    /// To (exclusive), same forms. Default: the end.
    #[arg(long)]
    pub to: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Table)]
    pub format: OutFormat,
    /// Print at most this many rows.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Quote bars (stored under the companion symbol `SYMBOL~q`).
    #[arg(long, requires = "timeframe")]
    pub quotes: bool,
    /// Print only the count and a checksum of what matches (see [`Digest`]).
    #[arg(long)]
    pub summary: bool,
}

fn store_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("store")
}

fn open_reader(data_dir: &Path) -> Result<StoreReader, CtlError> {
    let dir = store_dir(data_dir);
    if !dir.is_dir() {
        return Err(CtlError::Input(format!(
            "no store in {} (wrong --data-dir?)",
            data_dir.display()
        )));
    }
    StoreReader::open(&dir).map_err(|e| CtlError::Input(format!("{}: {e}", dir.display())))
}

/// Parse a time bound.
pub fn parse_time(s: &str) -> Result<i64, CtlError> {
    let t = s.trim();
    if let Ok(ns) = t.parse::<i64>() {
        return Ok(ns);
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return i64::try_from(ts.as_nanosecond())
            .map_err(|_| CtlError::TimeRange(format!("{s:?} is out of range")));
    }
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        let z = d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| CtlError::TimeRange(format!("{s:?}: {e}")))?;
        return i64::try_from(z.timestamp().as_nanosecond())
            .map_err(|_| CtlError::TimeRange(format!("{s:?} is out of range")));
    }
    Err(CtlError::TimeRange(format!(
        "{s:?}: expected RFC 3339 (2024-08-09T00:01:00Z), a date (2024-08-09) or ns since the epoch"
    )))
}

/// `tickctl query`.
pub fn query(data_dir: &Path, a: &QueryArgs) -> Result<(), CtlError> {
    let from = a
        .from
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(i64::MIN);
    let to =
        a.to.as_deref()
            .map(parse_time)
            .transpose()?
            .unwrap_or(i64::MAX);
    if from >= to {
        return Err(CtlError::TimeRange(format!(
            "from {} is not before to {}",
            ts_text(from),
            ts_text(to)
        )));
    }
    let tf: Option<Timeframe> = match &a.timeframe {
        Some(s) => Some(
            s.parse()
                .map_err(|e| CtlError::Usage(format!("--timeframe: {e}")))?,
        ),
        None => None,
    };
    let r = open_reader(data_dir)?;
    let map = r.symbols().map_err(|e| CtlError::Input(e.to_string()))?;
    let name = if a.quotes {
        format!("{}{}", a.symbol, crate::worker::QUOTE_SUFFIX)
    } else {
        a.symbol.clone()
    };
    let id = map
        .id(&name)
        .ok_or_else(|| CtlError::UnknownSymbol(name.clone()))?;
    let io = |e: store::StoreError| CtlError::Input(e.to_string());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let limit = a.limit.unwrap_or(u64::MAX);
    match tf {
        None => {
            let mut it = r.ticks(id, from, to).map_err(io)?;
            if a.summary {
                let mut digest = Digest::new();
                while let Some(b) = it.next_batch() {
                    for t in b.map_err(io)? {
                        digest.add(t);
                    }
                }
                let _ = writeln!(
                    out,
                    "{{\"symbol\":\"{}\",\"ticks\":{},\"digest\":\"{:016x}\"}}",
                    a.symbol, digest.n, digest.h
                );
                return Ok(());
            }
            let mut rows = Vec::new();
            let mut printed = 0u64;
            if a.format == OutFormat::Csv {
                let _ = writeln!(
                    out,
                    "ts_event,ts_utc,kind,price,size,ask,ask_size,side,id,flags"
                );
            }
            'outer: while let Some(b) = it.next_batch() {
                for t in b.map_err(io)? {
                    if printed >= limit {
                        break 'outer;
                    }
                    printed += 1;
                    match a.format {
                        OutFormat::Json => {
                            if writeln!(out, "{}", tick_json(&a.symbol, t)).is_err() {
                                return Ok(());
                            }
                        }
                        OutFormat::Csv => {
                            let kind = if t.is_trade() { "trade" } else { "quote" };
                            if writeln!(
                                out,
                                "{},{},{kind},{},{},{},{},{},{},{}",
                                t.ts_event,
                                ts_text(t.ts_event),
                                fmt_f(t.price),
                                fmt_f(t.size),
                                fmt_f(t.ask),
                                fmt_f(t.ask_size),
                                t.side as u8,
                                t.id,
                                t.flags
                            )
                            .is_err()
                            {
                                return Ok(());
                            }
                        }
                        OutFormat::Table => {
                            rows.push(vec![
                                ts_text(t.ts_event),
                                if t.is_trade() { "trade" } else { "quote" }.into(),
                                fmt_f(t.price),
                                fmt_f(t.size),
                                fmt_f(t.ask),
                                fmt_f(t.ask_size),
                                t.id.to_string(),
                            ]);
                            if rows.len() >= 100_000 {
                                let _ = out.flush();
                                print_table(
                                    &[
                                        "ts_utc",
                                        "kind",
                                        "price/bid",
                                        "size",
                                        "ask",
                                        "ask_size",
                                        "id",
                                    ],
                                    &rows,
                                );
                                rows.clear();
                            }
                        }
                    }
                }
            }
            let _ = out.flush();
            if a.format == OutFormat::Table && !rows.is_empty() {
                print_table(
                    &[
                        "ts_utc",
                        "kind",
                        "price/bid",
                        "size",
                        "ask",
                        "ask_size",
                        "id",
                    ],
                    &rows,
                );
            }
        }
        Some(tf) => {
            let it = r.bars(id, tf, from, to).map_err(io)?;
            let mut rows = Vec::new();
            if a.format == OutFormat::Csv {
                let _ = writeln!(out, "{}", BAR_COLUMNS.join(","));
            }
            let (mut n, mut printed) = (0u64, 0u64);
            for b in it {
                let b = b.map_err(io)?;
                n += 1;
                if a.summary || printed >= limit {
                    continue;
                }
                printed += 1;
                let kind = if b.revision > 0 {
                    "corrected"
                } else {
                    "closed"
                };
                match a.format {
                    OutFormat::Json => {
                        if writeln!(out, "{}", bar_json(kind, &a.symbol, &b)).is_err() {
                            return Ok(());
                        }
                    }
                    OutFormat::Csv => {
                        let cells: Vec<String> = bar_cells(kind, &a.symbol, &b)
                            .iter()
                            .map(|c| csv_field(c))
                            .collect();
                        if writeln!(out, "{}", cells.join(",")).is_err() {
                            return Ok(());
                        }
                    }
                    OutFormat::Table => rows.push(bar_cells(kind, &a.symbol, &b)),
                }
            }
            if a.summary {
                let _ = writeln!(
                    out,
                    "{{\"symbol\":\"{}\",\"timeframe\":\"{tf}\",\"bars\":{n}}}",
                    a.symbol
                );
            }
            let _ = out.flush();
            if a.format == OutFormat::Table && !a.summary {
                print_table(&BAR_COLUMNS, &rows);
            }
        }
    }
    Ok(())
}

/// FNV-1a 64 over each tick's event time, kind and side, price, size, ask
/// and ask size bits and id, in order: what `query --summary` prints.
pub struct Digest {
    /// Ticks so far.
    pub n: u64,
    /// Hash so far.
    pub h: u64,
}

impl Default for Digest {
    fn default() -> Self {
        Digest::new()
    }
}

impl Digest {
    /// Empty.
    pub fn new() -> Digest {
        Digest {
            n: 0,
            h: 0xcbf2_9ce4_8422_2325,
        }
    }

    fn eat(&mut self, v: u64) {
        for b in v.to_le_bytes() {
            self.h ^= b as u64;
            self.h = self.h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Add one tick.
    pub fn add(&mut self, t: &Tick) {
        self.n += 1;
        self.eat(t.ts_event as u64);
        self.eat(t.kind as u64 | (t.side as u64) << 8);
        self.eat(t.price.to_bits());
        self.eat(t.size.to_bits());
        self.eat(t.ask.to_bits());
        self.eat(t.ask_size.to_bits());
        self.eat(t.id);
    }
}

/// `tickctl info`.
pub fn info(data_dir: &Path, format: OutFormat) -> Result<(), CtlError> {
    let daemon = DaemonState::read(data_dir).ok();
    let r = open_reader(data_dir)?;
    let infos = r.info().map_err(|e| CtlError::Input(e.to_string()))?;
    if format == OutFormat::Json {
        for i in &infos {
            println!(
                "{}",
                serde_json::json!({
                    "symbol": i.name, "symbol_id": i.symbol, "ticks": i.ticks, "bars": i.bars,
                    "tick_bytes": i.tick_bytes, "bar_bytes": i.bar_bytes,
                    "compression_ratio": i.compression_ratio,
                    "first": i.first, "last": i.last,
                })
            );
        }
        return Ok(());
    }
    match &daemon {
        Some(d) => println!(
            "daemon: pid {} (state file {}), data {}",
            d.pid,
            DaemonState::path_in(data_dir).display(),
            d.data_dir.display()
        ),
        None => println!("daemon: not running on {}", data_dir.display()),
    }
    let rows: Vec<Vec<String>> = infos
        .iter()
        .map(|i| {
            vec![
                i.name.clone().unwrap_or_else(|| format!("#{}", i.symbol)),
                i.ticks.to_string(),
                i.bars.to_string(),
                (i.tick_bytes + i.bar_bytes).to_string(),
                if i.ticks > 0 {
                    format!("{:.2}", i.tick_bytes as f64 / i.ticks as f64)
                } else {
                    "-".into()
                },
                format!("{:.1}", i.compression_ratio),
                i.first.map(ts_text).unwrap_or_default(),
                i.last.map(ts_text).unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &[
            "symbol",
            "ticks",
            "bars",
            "bytes",
            "bytes/tick",
            "ratio",
            "first",
            "last",
        ],
        &rows,
    );
    Ok(())
}

/// `tickctl import`.
pub fn import(data_dir: &Path, a: &ImportArgs) -> Result<(), CtlError> {
    if let Ok(st) = DaemonState::read(data_dir)
        && Path::new(&format!("/proc/{}", st.pid)).exists()
    {
        return Err(CtlError::Usage(format!(
            "tickd (pid {}) is running on {}: stop it first, or replay with `tickctl send` \
                 (the daemon and an import would both assign symbol ids)",
            st.pid,
            data_dir.display()
        )));
    }
    let dir = store_dir(data_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| CtlError::Input(format!("{}: {e}", dir.display())))?;
    for f in &a.files {
        if !f.is_file() {
            return Err(CtlError::Input(format!("{}: no such file", f.display())));
        }
        let format = match a.format {
            FileFormat::Auto => guess(f)?,
            FileFormat::Tardis => Format::Tardis,
            FileFormat::Lean => Format::Lean(Default::default()),
            FileFormat::HftBinance => Format::HftBinance,
            FileFormat::Truefx => Format::TrueFx,
        };
        let mut opts = ImportOptions::new(format);
        if let Some(s) = &a.symbol {
            let name: SymbolName = s
                .parse()
                .map_err(|e| CtlError::Usage(format!("--symbol {s:?}: {e}")))?;
            opts = opts.symbol(SymbolRule::Force(name));
        }
        let fp = store::import::fingerprint_file(f).map_err(|e| CtlError::Input(e.to_string()))?;
        let mut imp = Importer::open(Input::Path(f.clone()), opts)
            .map_err(|e| CtlError::Input(e.to_string()))?;
        let table = Arc::new(SymbolTable::new(1 << 20));
        let mut cache = SymbolCache::new(table.clone());
        let mut buf = vec![Tick::default(); 8192];
        let mut err: Option<CtlError> = None;
        let iter = std::iter::from_fn(|| {
            let n = match imp.next_batch(&mut cache, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    err = Some(CtlError::Input(e.to_string()));
                    0
                }
            };
            (n > 0).then(|| buf[..n].to_vec())
        })
        .flatten()
        .map(|t| {
            let name = table
                .name(t.symbol)
                .map(|n| n.as_str().to_string())
                .unwrap_or_default();
            (name, t)
        });
        let report =
            store::import::import_ticks(&dir, fp, iter, &store::import::ImportOptions::default())
                .map_err(|e| CtlError::Failed(format!("{}: {e}", f.display())))?;
        if let Some(e) = err {
            return Err(e);
        }
        if report.already_imported {
            println!(
                "{}: already imported (same file fingerprint), nothing written",
                f.display()
            );
        } else {
            let c = imp.counts();
            println!(
                "{}: {} ticks imported into {} files ({} bytes, {:.2} bytes/tick); {} rows read, {} without a tick",
                f.display(),
                report.ticks,
                report.files.len(),
                report.bytes,
                report.bytes as f64 / report.ticks.max(1) as f64,
                c.rows,
                c.rows.saturating_sub(c.ticks)
            );
        }
    }
    Ok(())
}
