//! tickd's streaming aggregator alone on the real SPY week (scenario 4's
//! `tickd()` from-cache measurement without the rivals): the 6 timeframes
//! (1s 1m 5m 15m 1h 1d), `update_all` per 4096-tick chunk, each chunk read
//! once before its timing, a `CountingSink`; ns per tick, median of the runs.
//!
//! ```text
//! cargo run --release -p bench --example spy_stream [runs] [data dir]
//! ```
//!
//! The data dir defaults to `../shared/data` (see scenario 4); without it the
//! example says so and exits. For instruction counts, run it with one run
//! under callgrind collecting only inside the aggregator:
//! `valgrind --tool=callgrind --toggle-collect='*update_all*' … spy_stream 1`.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(7).max(1);
    let data = args
        .next()
        .map_or_else(|| PathBuf::from("../shared/data"), PathBuf::from);
    if !data.join("lean/equity/usa/tick/spy").is_dir() {
        println!("spy_stream: skipped, no SPY data under {}", data.display());
        return Ok(());
    }
    let ticks = bench::scenario::s4::spy_week(&data)?;
    let mut per_tick = Vec::with_capacity(runs);
    let mut bars = 0;
    for _ in 0..runs {
        let (dt, closed) = bench::scenario::s4::streaming_in_cache(&ticks)?;
        bars = closed;
        per_tick.push(dt * 1e9 / ticks.len() as f64);
    }
    per_tick.sort_by(f64::total_cmp);
    println!(
        "spy_stream: {} ticks, {bars} bars, {:.3} ns/tick (median of {runs}; min {:.3}, max {:.3})",
        ticks.len(),
        per_tick[runs / 2],
        per_tick[0],
        per_tick[runs - 1]
    );
    Ok(())
}
