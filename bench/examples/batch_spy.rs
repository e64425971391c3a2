//! On-CPU time of tickd's batch path alone (scenario 4's `aggregate_many`,
//! six timeframes 1s 1m 5m 15m 1h 1d) on the SPY week and on scenario 4's
//! synthetic random walk, without the rivals: the quick loop for work on
//! `mtf::batch`.
//!
//! `cargo run --release -p bench --example batch_spy -- [passes] [datasets] [synth_ticks]`
//!
//! `passes` (default 11) samples per dataset, the median reported; `datasets`
//! a comma list of `spy`, `synth` (default both); `synth_ticks` default 10M
//! as in scenario 4. The SPY week is skipped, with a message, when
//! `../shared/data` (or `TICKD_SHARED_DATA`) is absent. `passes = 0` runs
//! `aggregate_many` exactly once per dataset and times nothing: for
//! instruction counts under callgrind, minus a run with `datasets = none`.
//!
//! Before any timing the bars are checked against the scalar kernel (exact
//! open, high, low, close, count, times; sums within 1e-12 relative) and
//! the bar counts against the streaming aggregator.
//!
//! On-CPU time comes from the scheduler (/proc/thread-self/schedstat, Linux),
//! which time slicing on a shared machine does not inflate.

use std::hint::black_box;

use anyhow::{Context, bail};
use bench::scenario::s4::{TFS, spy_week};
use bench::scenario::shared_data;
use bench::synth::{Synth, SynthConfig};
use mtf::batch::{BatchSpec, Kernel, SortedColumns};
use mtf::{AggConfig, Aggregator, Bar, CountingSink, Side, Tick};

fn on_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

struct Columns {
    ts: Vec<i64>,
    price: Vec<f64>,
    size: Vec<f64>,
    side: Vec<Side>,
}

fn columns(ticks: &[Tick]) -> Columns {
    Columns {
        ts: ticks.iter().map(|t| t.ts_event).collect(),
        price: ticks.iter().map(|t| t.price).collect(),
        size: ticks.iter().map(|t| t.size).collect(),
        side: ticks.iter().map(|t| t.side).collect(),
    }
}

/// Sums every column (4 independent sums each, so that the adds keep up).
fn read_all(c: &Columns) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut t = [0i64; 4];
    let mut s = [0u8; 4];
    for (k, (&ts, (&p, (&q, &sd)))) in
        c.ts.iter()
            .zip(c.price.iter().zip(c.size.iter().zip(&c.side)))
            .enumerate()
    {
        acc[k & 3] += p + q;
        t[k & 3] ^= ts;
        s[k & 3] ^= sd as u8;
    }
    acc.iter().sum::<f64>()
        + t.iter().sum::<i64>() as f64
        + s.iter().map(|&b| b as f64).sum::<f64>()
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// The bars of `kernel` equal the scalar kernel's, and their counts the
/// streaming aggregator's.
fn check(
    label: &str,
    ticks: &[Tick],
    cols: &SortedColumns<'_>,
    spec: &BatchSpec,
) -> anyhow::Result<()> {
    let mut want = vec![Vec::new(); TFS.len()];
    Kernel::Scalar.aggregate_many(cols, spec, &TFS, &mut want);
    let mut got: Vec<Vec<Bar>> = vec![Vec::new(); TFS.len()];
    Kernel::best().aggregate_many(cols, spec, &TFS, &mut got);
    for (tf, (g, w)) in TFS.iter().zip(got.iter().zip(&want)) {
        if g.len() != w.len() {
            bail!("{label} {tf}: {} bars, scalar {}", g.len(), w.len());
        }
        for (a, b) in g.iter().zip(w) {
            let exact = (a.start, a.end, a.count, a.first_ts, a.last_ts)
                == (b.start, b.end, b.count, b.first_ts, b.last_ts)
                && [a.open, a.high, a.low, a.close].map(f64::to_bits)
                    == [b.open, b.high, b.low, b.close].map(f64::to_bits);
            let sums = close(a.volume, b.volume)
                && close(a.vwap_num, b.vwap_num)
                && close(a.buy_volume, b.buy_volume)
                && close(a.sell_volume, b.sell_volume);
            if !exact || !sums {
                bail!("{label} {tf}: bar differs from scalar:\n{a:?}\n{b:?}");
            }
        }
    }
    let mut agg = Aggregator::new(AggConfig {
        timeframes: TFS.to_vec(),
        ..AggConfig::default()
    })?;
    let mut sink = CountingSink::default();
    for t in ticks {
        agg.update(t, &mut sink);
    }
    agg.flush(&mut sink);
    let total: u64 = got.iter().map(|o| o.len() as u64).sum();
    if sink.closed != total {
        bail!(
            "{label}: streaming built {} bars, batch {total}",
            sink.closed
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let passes: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(11);
    let which = args.next().unwrap_or_else(|| "spy,synth".into());
    let n_synth: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let mut sets: Vec<(String, Vec<Tick>)> = Vec::new();
    for name in which.split(',') {
        match name {
            "spy" => match shared_data() {
                Some(d) => {
                    let spy = spy_week(&d).context("loading the SPY week")?;
                    sets.push((format!("SPY week, {} trades", spy.len()), spy));
                }
                None => eprintln!("SKIP: SPY week (../shared/data not found)"),
            },
            "synth" => {
                // Scenario 4's synthetic dataset.
                let synth = Synth::new(SynthConfig {
                    symbols: 1,
                    mean_gap_ns: 5_000_000,
                    ..SynthConfig::default()
                })
                .take_vec(n_synth);
                sets.push((format!("synthetic, {n_synth} trades"), synth));
            }
            _ => {}
        }
    }
    let spec = BatchSpec {
        symbol: 0,
        timeframe: TFS[0],
        origin_ns: 0,
        flags: 0,
    };
    let kernel = Kernel::best();
    for (label, ticks) in &sets {
        let c = columns(ticks);
        let cols = SortedColumns::new(&c.ts, &c.price, &c.size, Some(&c.side))?;
        let mut outs: Vec<Vec<Bar>> = TFS
            .iter()
            .map(|_| Vec::with_capacity(ticks.len() / 8 + 1024))
            .collect();
        if passes == 0 {
            black_box(kernel.aggregate_many(&cols, &spec, &TFS, &mut outs));
            continue;
        }
        check(label, ticks, &cols, &spec)?;
        // On-CPU time advances in scheduler ticks (4 ms): repeat so that a
        // sample covers ~100M ticks.
        let reps = (100_000_000 / ticks.len().max(1)).max(1);
        let mut ns = Vec::with_capacity(passes);
        for _ in 0..passes {
            let t0 = on_cpu_ns();
            for _ in 0..reps {
                outs.iter_mut().for_each(Vec::clear);
                black_box(kernel.aggregate_many(&cols, &spec, &TFS, &mut outs));
            }
            let dt = on_cpu_ns().saturating_sub(t0);
            ns.push(dt as f64 / (reps * ticks.len()) as f64);
        }
        ns.sort_by(f64::total_cmp);
        let bars: Vec<usize> = outs.iter().map(Vec::len).collect();
        println!(
            "{label}: batch {:.3} ns/tick on-CPU (median of {passes}; min {:.3}, max {:.3}); bars {bars:?}",
            ns[passes / 2],
            ns[0],
            ns[passes - 1]
        );
        if std::env::var_os("BATCH_SPY_FLOOR").is_some() {
            // The memory floor: reading the four columns once (summing them).
            let mut fl = Vec::with_capacity(passes);
            for _ in 0..passes {
                let t0 = on_cpu_ns();
                for _ in 0..reps {
                    black_box(read_all(&c));
                }
                fl.push(on_cpu_ns().saturating_sub(t0) as f64 / (reps * ticks.len()) as f64);
            }
            fl.sort_by(f64::total_cmp);
            println!(
                "{label}: reading the columns {:.3} ns/tick on-CPU",
                fl[passes / 2]
            );
        }
    }
    Ok(())
}
