//! `scenario N [--smoke] [--runs R] [--seconds S] [--tickd-set key=value]…`:
//! runs one scenario of issue 7 and writes its result block, JSON and plot
//! under `bench/results/`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bench::scenario::{self, Opts};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "scenario",
    about = "tickd end-to-end scenarios (bench/RESULTS.md)"
)]
struct Args {
    /// Scenario number: 1 (latency at 1 M/s), 2 (max sustained rate),
    /// 3 (history import and queries), 4 (bars vs polars/DuckDB), 5 (ring
    /// fan-out, and the daemon's resident memory with a year stored vs a day).
    n: u32,
    /// Only this part of scenario 5: `fanout` or `rss` (default: both).
    #[arg(long, value_parser = ["fanout", "rss"])]
    part: Option<String>,
    /// Seconds-long CI mode: same code paths, small counts.
    #[arg(long)]
    smoke: bool,
    /// Repetitions (median reported); default 3, 1 in smoke mode.
    #[arg(long)]
    runs: Option<usize>,
    /// Override the scenario's run length.
    #[arg(long)]
    seconds: Option<f64>,
    /// Results directory (default bench/results).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Extra `tickd --set` overrides for the daemon (repeatable).
    #[arg(long = "tickd-set", value_name = "KEY=VALUE")]
    tickd_set: Vec<String>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let opts = Opts {
        smoke: a.smoke,
        runs: a.runs.unwrap_or(if a.smoke { 1 } else { 3 }).max(1),
        out_dir: a
            .out
            .unwrap_or_else(|| scenario::repo_root().join("bench").join("results")),
        duration: a
            .seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64),
        part: a.part,
    };
    let r = match a.n {
        1 => scenario::s1::run(&opts, &a.tickd_set),
        2 => scenario::s2::run(&opts, &a.tickd_set),
        4 => scenario::s4::run(&opts),
        5 => {
            let part = opts.part.as_deref();
            let fanout = if part.is_none_or(|p| p == "fanout") {
                scenario::s5::run(&opts)
            } else {
                Ok(())
            };
            fanout.and_then(|()| {
                if part.is_none_or(|p| p == "rss") {
                    scenario::s5rss::run(&opts, &a.tickd_set)
                } else {
                    Ok(())
                }
            })
        }
        3 => scenario::s3::run(&opts),
        n => Err(anyhow::anyhow!("no scenario {n}: 1 to 5")),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scenario {}: {e:#}", a.n);
            ExitCode::FAILURE
        }
    }
}
