//! Scenario 4: the same bars from the same ticks, tickd vs polars
//! (`group_by_dynamic`) and DuckDB (integer buckets), in the same run.
//!
//! Datasets: a synthetic random walk (one symbol) and, when `../shared/data`
//! is present, the real SPY week (LEAN trade files, 1.9 M ticks). For each,
//! tickd builds the 6 timeframes (1s 1m 5m 15m 1h 1d) streaming (one
//! [`mtf::Aggregator`] pass, every tick through every timeframe) and batch
//! ([`mtf::batch::Kernel::aggregate_many`] over columns: one SIMD pass for 1s,
//! the coarser timeframes folded from its bars); the rivals build the
//! same bars from the same columns in a Python child process. Bar counts per
//! timeframe are checked equal across all four before any time is reported.
//! The NautilusTrader comparison is `bench/compare-nautilus` (its own crate);
//! its latest output is linked from the result block.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use ingest::import::{Format, ImportOptions, Importer, Input, LeanOptions};
use ingest::{SymbolCache, SymbolTable};
use mtf::batch::{BatchSpec, Kernel, SortedColumns};
use mtf::{AggConfig, Aggregator, Bar, CountingSink, Tick, TickKind, Timeframe};
use serde_json::json;

use super::{Opts, median};
use crate::synth::{Synth, SynthConfig};

/// The six timeframes of scenario 4 (and of the tickd-only examples).
pub const TFS: [Timeframe; 6] = [
    Timeframe::S1,
    Timeframe::M1,
    Timeframe::M5,
    Timeframe::M15,
    Timeframe::H1,
    Timeframe::D1,
];

/// The trades of the SPY week from the shared data, in time order.
pub fn spy_week(data: &Path) -> anyhow::Result<Vec<Tick>> {
    lean_trades(&data.join("lean/equity/usa/tick/spy"))
}

/// The trades of every LEAN `*_trade.zip` file in `dir`, in time order.
pub fn lean_trades(dir: &Path) -> anyhow::Result<Vec<Tick>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_trade.zip"))
        .collect();
    files.sort();
    let mut syms = SymbolCache::new(Arc::new(SymbolTable::new(1024)));
    let mut buf = vec![Tick::default(); 64 << 10];
    let mut out: Vec<Tick> = Vec::with_capacity(2_000_000);
    for f in files {
        let opts = ImportOptions::new(Format::Lean(LeanOptions::default()));
        let mut imp = Importer::open(Input::Path(f.clone()), opts)
            .with_context(|| format!("opening {}", f.display()))?;
        loop {
            let n = imp.next_batch(&mut syms, &mut buf)?;
            if n == 0 {
                break;
            }
            out.extend(buf[..n].iter().filter(|t| t.kind == TickKind::Trade));
        }
    }
    if out.windows(2).any(|w| w[0].ts_event > w[1].ts_event) {
        bail!("SPY ticks are not in time order");
    }
    Ok(out)
}

struct Measured {
    streaming_s: f64,
    /// Streaming with the ticks in cache: chunks of [`CHUNK`] ticks, each
    /// read once before its timing (as ticks fresh off a receive queue
    /// are), each handed to `update_all` as the engine's worker does.
    streaming_cached_s: f64,
    batch_s: f64,
    bars_streaming: u64,
    bars_batch: Vec<u64>,
}

/// Ticks per chunk of the from-cache streaming run (256 KiB of ticks).
const CHUNK: usize = 4096;

/// Reads every cache line of `v`, so that it is in cache for what follows.
fn warm(v: &[Tick]) {
    let mut acc = 0i64;
    // One field per 64-byte tick: every line of the chunk.
    for t in v {
        acc ^= t.ts_event;
    }
    black_box(acc);
}

/// tickd streaming with the ticks in cache, as the engine's worker gets
/// them: [`TFS`], `update_all` per chunk of [`CHUNK`] ticks, each chunk read
/// once before its timing. Seconds inside `update_all`, and bars closed.
pub fn streaming_in_cache(ticks: &[Tick]) -> anyhow::Result<(f64, u64)> {
    let mut agg = Aggregator::new(AggConfig {
        timeframes: TFS.to_vec(),
        ..AggConfig::default()
    })?;
    let mut sink = CountingSink::default();
    let mut dt = 0.0;
    for c in ticks.chunks(CHUNK) {
        warm(c);
        let t0 = Instant::now();
        agg.update_all(c, &mut sink);
        dt += t0.elapsed().as_secs_f64();
    }
    agg.flush(&mut sink);
    Ok((dt, black_box(sink).closed))
}

fn tickd(ticks: &[Tick], runs: usize) -> anyhow::Result<Measured> {
    let ts: Vec<i64> = ticks.iter().map(|t| t.ts_event).collect();
    let price: Vec<f64> = ticks.iter().map(|t| t.price).collect();
    let size: Vec<f64> = ticks.iter().map(|t| t.size).collect();
    let side: Vec<mtf::Side> = ticks.iter().map(|t| t.side).collect();
    let cols = SortedColumns::new(&ts, &price, &size, Some(&side))?;
    let kernel = Kernel::best();
    let (mut st, mut bt) = (Vec::new(), Vec::new());
    let mut sc = Vec::new();
    let mut bars_streaming = 0;
    let mut bars_batch = Vec::new();
    // (`vec![v; n]` would clone away the capacity.)
    let mut outs: Vec<Vec<Bar>> = TFS
        .iter()
        .map(|_| Vec::with_capacity(ticks.len() / 8 + 1024))
        .collect();
    for _ in 0..runs {
        let cfg = AggConfig {
            timeframes: TFS.to_vec(),
            ..AggConfig::default()
        };
        let mut agg = Aggregator::new(cfg)?;
        let mut sink = CountingSink::default();
        let t0 = Instant::now();
        for t in ticks {
            agg.update(t, &mut sink);
        }
        agg.flush(&mut sink);
        st.push(t0.elapsed().as_secs_f64());
        bars_streaming = black_box(sink).closed;

        let (dt, closed) = streaming_in_cache(ticks)?;
        sc.push(dt);
        if closed != bars_streaming {
            bail!("streaming from cache built {closed} bars, from memory {bars_streaming}");
        }

        // All six timeframes in one pass over the columns: the finest (1s)
        // reduced by the SIMD kernel, the coarser ones folded from its bars.
        let spec = BatchSpec {
            symbol: 0,
            timeframe: TFS[0],
            origin_ns: 0,
            flags: 0,
        };
        outs.iter_mut().for_each(Vec::clear);
        let t0 = Instant::now();
        kernel.aggregate_many(&cols, &spec, &TFS, &mut outs);
        black_box(&outs);
        bt.push(t0.elapsed().as_secs_f64());
        bars_batch = outs.iter().map(|o| o.len() as u64).collect();
    }
    Ok(Measured {
        streaming_s: median(&st),
        streaming_cached_s: median(&sc),
        batch_s: median(&bt),
        bars_streaming,
        bars_batch,
    })
}

fn write_columns(dir: &Path, ticks: &[Tick]) -> std::io::Result<()> {
    let mut ts = Vec::with_capacity(ticks.len() * 8);
    let mut price = Vec::with_capacity(ticks.len() * 8);
    let mut size = Vec::with_capacity(ticks.len() * 8);
    for t in ticks {
        ts.extend_from_slice(&t.ts_event.to_le_bytes());
        price.extend_from_slice(&t.price.to_le_bytes());
        size.extend_from_slice(&t.size.to_le_bytes());
    }
    std::fs::write(dir.join("ts.i64"), ts)?;
    std::fs::write(dir.join("price.f64"), price)?;
    std::fs::write(dir.join("size.f64"), size)
}

/// Runs scenario 4.
pub fn run(opts: &Opts) -> anyhow::Result<()> {
    let n_synth = if opts.smoke { 200_000 } else { 10_000_000 };
    let mut sets: Vec<(String, Vec<Tick>)> = Vec::new();
    let synth = Synth::new(SynthConfig {
        symbols: 1,
        mean_gap_ns: 5_000_000,
        ..SynthConfig::default()
    })
    .take_vec(n_synth);
    sets.push((
        format!("synthetic random walk, 1 symbol, {n_synth} trades"),
        synth,
    ));
    match super::shared_data() {
        Some(d) => {
            let mut spy = spy_week(&d)?;
            if opts.smoke {
                spy.truncate(200_000);
            }
            sets.push((format!("SPY week (LEAN), {} trades", spy.len()), spy));
        }
        None => eprintln!("SKIP: SPY week (../shared/data not found)"),
    }

    let command = format!(
        "cargo run --release -p bench --bin scenario -- 4{}",
        if opts.smoke { " --smoke" } else { "" }
    );
    let mut md = super::block_header(
        4,
        "bars vs polars and DuckDB (and NautilusTrader)",
        opts,
        &command,
    );
    let _ = writeln!(
        md,
        "Six timeframes (1s 1m 5m 15m 1h 1d), same ticks, same run. tickd streaming runs twice: \
         over the whole tick array in one pass (each 64-byte tick streamed from memory), and \
         with the ticks in cache (chunks of 4096 ticks, each read once before its timing, as \
         ticks fresh off the receive queue are; `update_all` per chunk, as the engine's worker \
         calls it). tickd is single-threaded; \
         polars and DuckDB use every core they find. Times are ns per input tick for all six \
         timeframes together (median of {} runs); the ratio is rival time / tickd time \
         (how many times faster tickd is).\n",
        opts.runs
    );
    let _ = writeln!(
        md,
        "| dataset | tickd streaming ns/tick | tickd streaming, ticks in cache | tickd batch ns/tick | polars ns/tick | DuckDB ns/tick | polars/streaming | DuckDB/streaming | polars/batch | DuckDB/batch | faster rival / streaming | faster rival / streaming in cache | faster rival / batch |"
    );
    let _ = writeln!(
        md,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut csv = String::from("series,label,value\n");
    let mut results = Vec::new();
    let mut versions = json!({});
    for (label, ticks) in &sets {
        let n = ticks.len() as f64;
        let m = tickd(ticks, opts.runs)?;
        let batch_total: u64 = m.bars_batch.iter().sum();
        if batch_total != m.bars_streaming {
            bail!(
                "{label}: streaming built {} bars, batch {batch_total}",
                m.bars_streaming
            );
        }
        let dir = tempfile::tempdir()?;
        write_columns(dir.path(), ticks)?;
        let runs = opts.runs.to_string();
        let rivals: serde_json::Value = match super::run_python(
            "bars_rivals.py",
            &["--dir", &dir.path().to_string_lossy(), "--runs", &runs],
        ) {
            Ok(s) => serde_json::from_str(s.trim()).context("bars_rivals.py output")?,
            Err(e) => {
                eprintln!("SKIP rivals: {e}");
                json!({})
            }
        };
        let mut rival_ns = |name: &str| -> Option<f64> {
            let r = rivals.get(name)?;
            if let Some(e) = r.get("error") {
                eprintln!("SKIP {name}: {e}");
                return None;
            }
            versions[name] = r.get("version").cloned().unwrap_or_default();
            let bars: Vec<u64> = r
                .get("bars")?
                .as_array()?
                .iter()
                .filter_map(|b| b.as_u64())
                .collect();
            if bars != m.bars_batch {
                eprintln!(
                    "WARNING {label}: {name} built {bars:?} bars per timeframe, tickd {:?}",
                    m.bars_batch
                );
                return None;
            }
            Some(r.get("seconds")?.as_f64()? * 1e9 / n)
        };
        let (pol, duck) = (rival_ns("polars"), rival_ns("duckdb"));
        let s_ns = m.streaming_s * 1e9 / n;
        let c_ns = m.streaming_cached_s * 1e9 / n;
        let b_ns = m.batch_s * 1e9 / n;
        let fmt = |x: Option<f64>| x.map_or("n/a".into(), |v| format!("{v:.1}"));
        let ratio = |x: Option<f64>, d: f64| x.map_or("n/a".into(), |v| format!("{:.1}×", v / d));
        let faster = match (pol, duck) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let _ = writeln!(
            md,
            "| {label} | {s_ns:.2} | {c_ns:.2} | {b_ns:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            fmt(pol),
            fmt(duck),
            ratio(pol, s_ns),
            ratio(duck, s_ns),
            ratio(pol, b_ns),
            ratio(duck, b_ns),
            ratio(faster, s_ns),
            ratio(faster, c_ns),
            ratio(faster, b_ns),
        );
        let short = label.split(',').next().unwrap_or(label);
        let _ = writeln!(csv, "tickd streaming,{short},{s_ns}");
        let _ = writeln!(csv, "tickd streaming (ticks in cache),{short},{c_ns}");
        let _ = writeln!(csv, "tickd batch,{short},{b_ns}");
        if let Some(p) = pol {
            let _ = writeln!(csv, "polars group_by_dynamic,{short},{p}");
        }
        if let Some(d) = duck {
            let _ = writeln!(csv, "DuckDB GROUP BY bucket,{short},{d}");
        }
        results.push(json!({
            "dataset": label, "ticks": ticks.len(),
            "tickd_streaming_ns_per_tick": s_ns, "tickd_streaming_cached_ns_per_tick": c_ns,
            "tickd_batch_ns_per_tick": b_ns,
            "polars_ns_per_tick": pol, "duckdb_ns_per_tick": duck,
            "bars_per_timeframe": m.bars_batch,
            "rivals_raw": rivals,
        }));
    }
    let _ = writeln!(
        md,
        "\nBar counts per timeframe were equal for tickd streaming, tickd batch, polars and \
         DuckDB (a rival whose counts differ is reported as n/a with a warning). \
         Rival versions: {versions}. Target (issue 7): tickd ≥ 10× faster than the faster \
         rival.\n"
    );
    let _ = writeln!(
        md,
        "NautilusTrader `TimeBarAggregator` (nautilus-data 0.62.0): see `scenario4-nautilus.md`, \
         written by `bench/compare-nautilus` (`cd bench/compare-nautilus && cargo run --release \
         --ignore-rust-version -- --json ../results/scenario4-nautilus.json`). Target: tickd \
         streaming ≥ 20× faster.\n"
    );
    let img = super::write_plot(
        opts,
        4,
        "bars",
        &csv,
        "Scenario 4: 6 timeframes of bars, ns/tick",
    )?;
    let _ = writeln!(md, "{img}");
    super::write_results(
        opts,
        4,
        &md,
        &json!({"scenario": 4, "smoke": opts.smoke, "runs": opts.runs, "results": results, "versions": versions}),
    )?;
    print!("{md}");
    Ok(())
}
