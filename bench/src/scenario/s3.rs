//! Scenario 3: history. Import the SPY week (real, LEAN) and a synthetic year
//! (≥ 100 M ticks, 10 symbols) into a store, then query one day of ticks, one
//! year of 1m bars, and 5m bars rebuilt from ticks; times and bytes per tick.
//!
//! The import is the store's bulk path ([`store::import::import_ticks`]:
//! straight into sealed, compressed segments, no daemon). The 1m bars are
//! built by [`mtf::Aggregator`] over the same ticks and appended with a
//! [`store::StoreWriter`], as the daemon stores them live. 5m bars are not
//! stored, so [`store::StoreReader::bars`] rebuilds them from the ticks.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use mtf::{AggConfig, Aggregator, BarEvent, NANOS_PER_DAY, Tick, Timeframe};
use serde_json::json;
use store::import::{ImportOptions, import_ticks};
use store::{StoreConfig, StoreReader, StoreWriter};

use super::Opts;
use crate::synth::{Synth, SynthConfig, symbol_name};

fn dir_bytes(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

struct Imported {
    ticks: u64,
    tick_bytes: u64,
    import_s: f64,
    bars_s: f64,
    bars: u64,
    bytes: u64,
}

/// Imports `ticks` (named by `name_of`) into `root`, then stores their 1m bars.
fn import<I>(
    root: &Path,
    fp: u128,
    ticks: I,
    again: I,
    names: &[String],
) -> anyhow::Result<Imported>
where
    I: Iterator<Item = Tick>,
{
    let t0 = Instant::now();
    let rep = import_ticks(
        root,
        fp,
        ticks.map(|t| (names[t.symbol as usize].as_str(), t)),
        &ImportOptions::default(),
    )?;
    let import_s = t0.elapsed().as_secs_f64();
    // The store assigns ids by name; bars must carry the store's ids.
    let map = StoreReader::open(root)?.symbols()?;
    let ids: Vec<u32> = names
        .iter()
        .map(|n| map.id(n).context("imported symbol missing"))
        .collect::<anyhow::Result<_>>()?;
    let t0 = Instant::now();
    // A bulk write of past days: small hot segments, no periodic fsync; every
    // day is sealed (compressed) before the size is taken.
    let cfg = StoreConfig {
        segment_bytes: 4 << 20,
        fsync: store::FsyncPolicy::Never,
        ..StoreConfig::default()
    };
    let mut w = StoreWriter::open(root, 7, cfg)?;
    let mut agg = Aggregator::new(AggConfig {
        timeframes: vec![Timeframe::M1],
        ..AggConfig::default()
    })?;
    let mut out: Vec<BarEvent> = Vec::with_capacity(agg.max_events_per_update());
    let mut bars = 0u64;
    let mut store_bars = |out: &mut Vec<BarEvent>, w: &mut StoreWriter| -> anyhow::Result<()> {
        for e in out.drain(..) {
            let mut b = e.bar;
            b.symbol = ids[b.symbol as usize];
            w.append_bar(&b)?;
            bars += 1;
        }
        Ok(())
    };
    for t in again {
        agg.update(&t, &mut out);
        store_bars(&mut out, &mut w)?;
    }
    agg.flush(&mut out);
    store_bars(&mut out, &mut w)?;
    w.seal_all()?;
    w.close()?;
    let bars_s = t0.elapsed().as_secs_f64();
    Ok(Imported {
        ticks: rep.ticks,
        tick_bytes: rep.bytes,
        import_s,
        bars_s,
        bars,
        bytes: dir_bytes(root),
    })
}

fn time<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, f64)> {
    let t0 = Instant::now();
    let v = f()?;
    Ok((v, t0.elapsed().as_secs_f64()))
}

/// Runs scenario 3.
pub fn run(opts: &Opts) -> anyhow::Result<()> {
    let n_year: u64 = if opts.smoke { 1_000_000 } else { 100_000_000 };
    let command = format!(
        "cargo run --release -p bench --bin scenario -- 3{}",
        if opts.smoke { " --smoke" } else { "" }
    );
    let mut md = super::block_header(3, "history: import and queries", opts, &command);
    let _ = writeln!(
        md,
        "| dataset | ticks | import s | import M ticks/s | tick bytes | bytes/tick | 1m bars stored | bars s | store bytes in all |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut js = json!({"scenario": 3, "smoke": opts.smoke});
    let base =
        tempfile::tempdir_in(super::repo_root().join("target")).or_else(|_| tempfile::tempdir())?;

    // The SPY week.
    if let Some(d) = super::shared_data() {
        let spy = super::s4::spy_week(&d)?;
        let root = base.path().join("spy");
        let names = vec!["SPY".to_string()];
        let mut ticks = spy.clone();
        for t in &mut ticks {
            t.symbol = 0;
        }
        let im = import(
            &root,
            1,
            ticks.clone().into_iter(),
            ticks.into_iter(),
            &names,
        )?;
        let _ = writeln!(
            md,
            "| SPY week (LEAN trades) | {} | {:.2} | {:.2} | {} | {:.2} | {} | {:.2} | {} |",
            im.ticks,
            im.import_s,
            im.ticks as f64 / im.import_s / 1e6,
            im.tick_bytes,
            im.tick_bytes as f64 / im.ticks.max(1) as f64,
            im.bars,
            im.bars_s,
            im.bytes,
        );
        js["spy"] = json!({"ticks": im.ticks, "import_s": im.import_s, "bars": im.bars, "bars_s": im.bars_s, "tick_bytes": im.tick_bytes, "bytes": im.bytes});
    } else {
        eprintln!("SKIP: SPY week (../shared/data not found)");
    }

    // The synthetic year: 10 symbols, ticks spread over 365 days.
    let year_ns = 365 * NANOS_PER_DAY;
    let cfg = SynthConfig {
        symbols: 10,
        mean_gap_ns: (year_ns / n_year as i64).max(1),
        start_ns: 1_672_531_200_000_000_000, // 2023-01-01
        ..SynthConfig::default()
    };
    let names: Vec<String> = (0..10).map(symbol_name).collect();
    let root = base.path().join("year");
    let ticks_of = || Synth::new(cfg).take(n_year as usize);
    let im = import(&root, 2, ticks_of(), ticks_of(), &names)?;
    let _ = writeln!(
        md,
        "| synthetic year, 10 symbols | {} | {:.2} | {:.2} | {} | {:.2} | {} | {:.2} | {} |",
        im.ticks,
        im.import_s,
        im.ticks as f64 / im.import_s / 1e6,
        im.tick_bytes,
        im.tick_bytes as f64 / im.ticks.max(1) as f64,
        im.bars,
        im.bars_s,
        im.bytes,
    );
    js["year"] = json!({"ticks": im.ticks, "import_s": im.import_s, "bars": im.bars, "bars_s": im.bars_s, "tick_bytes": im.tick_bytes, "bytes": im.bytes});

    // Queries on the year, symbol S0000 (the busiest: uniform here, so 1/10).
    let r = StoreReader::open(&root)?;
    let sym = r.symbols()?.id("S0000").context("S0000 missing")?;
    let day0 = cfg.start_ns + 100 * NANOS_PER_DAY;
    let mut q = Vec::new();
    // Enough repetitions for a latency distribution (the plot), ~10 s.
    let reps = opts.runs.max(if opts.smoke { 1 } else { 20 });
    for _ in 0..reps {
        let (n_day, t_day) = time(|| {
            let mut n = 0u64;
            for t in r.ticks(sym, day0, day0 + NANOS_PER_DAY)? {
                std::hint::black_box(t?);
                n += 1;
            }
            Ok(n)
        })?;
        let (n_1m, t_1m) = time(|| {
            let mut n = 0u64;
            for b in r.stored_bars(sym, Timeframe::M1, cfg.start_ns, cfg.start_ns + year_ns)? {
                std::hint::black_box(b?);
                n += 1;
            }
            Ok(n)
        })?;
        let (n_5m, t_5m) = time(|| {
            let mut n = 0u64;
            for b in r.bars(sym, Timeframe::M5, cfg.start_ns, cfg.start_ns + year_ns)? {
                std::hint::black_box(b?);
                n += 1;
            }
            Ok(n)
        })?;
        q.push((n_day, t_day, n_1m, t_1m, n_5m, t_5m));
    }
    let med = |k: usize| {
        let v: Vec<f64> = q.iter().map(|x| [x.1, x.3, x.5][k]).collect();
        super::median(&v)
    };
    let (n_day, _, n_1m, _, n_5m, _) = q[0];
    let mut hs: Vec<_> = (0..3).map(|_| crate::hist::new_histogram()).collect();
    for x in &q {
        for (h, t) in hs.iter_mut().zip([x.1, x.3, x.5]) {
            crate::hist::record(h, (t * 1e9) as u64);
        }
    }
    let csv = crate::hist::distribution_csv(&[
        ("one day of ticks", &hs[0]),
        ("one year of stored 1m bars", &hs[1]),
        ("one year of 5m bars rebuilt from ticks", &hs[2]),
    ]);
    let img = super::write_plot(
        opts,
        3,
        "percentiles",
        &csv,
        &format!(
            "Scenario 3: query times over {reps} repetitions (synthetic year, one symbol, warm cache)"
        ),
    )?;
    let _ = writeln!(
        md,
        "\nQueries on the synthetic year, one symbol (median of {} runs, warm page cache):\n\n\
         | query | rows | seconds | rows/s |\n|---|---:|---:|---:|\n\
         | one day of ticks | {n_day} | {:.4} | {:.2} M |\n\
         | one year of stored 1m bars | {n_1m} | {:.4} | {:.2} M |\n\
         | one year of 5m bars rebuilt from ticks | {n_5m} | {:.4} | {:.2} M |\n",
        reps,
        med(0),
        n_day as f64 / med(0) / 1e6,
        med(1),
        n_1m as f64 / med(1) / 1e6,
        med(2),
        n_5m as f64 / med(2) / 1e6,
    );
    js["queries"] = json!({"day_ticks": [n_day, med(0)], "year_1m_bars": [n_1m, med(1)], "year_5m_rebuilt": [n_5m, med(2)]});
    let _ = writeln!(md, "{img}\n");
    super::write_results(opts, 3, &md, &js)?;
    print!("{md}");
    Ok(())
}
