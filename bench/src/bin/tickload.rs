//! `tickload`: offers ticks to a running tickd (or to an in-process sink)
//! and reports offered vs accepted rate, drops by cause, latency
//! percentiles and CPU per core.
//!
//! ```text
//! tickload --protocol udp --target 127.0.0.1:7400 --rate 1000000 --seconds 60 \
//!          --symbols 100 --metrics 127.0.0.1:9187
//! tickload --protocol tcp --sink --rate max --seconds 5      # generator + parser only
//! tickload --protocol ilp --target 127.0.0.1:9009 --replay ../shared/data/lean/equity/usa/tick/spy
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, bail};
use bench::daemon::{Stats, http_get};
use bench::hist::Summary;
use bench::load::{self, LoadConfig, Protocol, Rate, ReplaySource, SynthSource, TickSource};
use bench::sink::Sink;
use bench::synth::SynthConfig;
use clap::Parser;
use ingest::SymbolName;

#[derive(Parser)]
#[command(name = "tickload", about = "tickd load generator")]
struct Args {
    /// udp, tcp or ilp.
    #[arg(long, default_value = "udp")]
    protocol: String,
    /// The listener (IP:PORT).
    #[arg(long, conflicts_with = "sink")]
    target: Option<SocketAddr>,
    /// Send to an in-process receiver using tickd's parsers instead (floor, self-test).
    #[arg(long)]
    sink: bool,
    /// Ticks per second, or `max`.
    #[arg(long, default_value = "1000000")]
    rate: String,
    /// Run length.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Stop after this many ticks.
    #[arg(long)]
    ticks: Option<u64>,
    /// Synthetic symbols.
    #[arg(long, default_value_t = 100)]
    symbols: u32,
    /// Replay the LEAN trade files (`*_trade.zip`) of this directory in a loop instead.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Largest frame / datagram, bytes.
    #[arg(long)]
    frame_bytes: Option<usize>,
    /// The daemon's metrics endpoint: its counters and histograms are read
    /// before and after the run.
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// Write the report as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tickload: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: Args) -> anyhow::Result<()> {
    let protocol: Protocol = a.protocol.parse()?;
    let rate = match a.rate.as_str() {
        "max" => Rate::Max,
        r => Rate::Fixed(r.parse().context("--rate: a number of ticks/s or max")?),
    };
    let mut src: Box<dyn TickSource> = match &a.replay {
        Some(dir) => {
            let ticks = bench::scenario::s4::lean_trades(dir)?;
            let names = vec![SymbolName::new(b"SPY").unwrap_or_else(|_| unreachable!())];
            let mut ticks = ticks;
            for t in &mut ticks {
                t.symbol = 0;
            }
            Box::new(ReplaySource::new(Arc::from(ticks), names)?)
        }
        None => Box::new(SynthSource::new(SynthConfig {
            symbols: a.symbols.max(1),
            mean_gap_ns: 1_000,
            skew: 1.0,
            ..SynthConfig::default()
        })),
    };
    let slot = Arc::new(parking_lot::Mutex::new(None));
    let (target, sink) = match (a.target, a.sink) {
        (_, true) => {
            let s = Sink::start(protocol, slot.clone())?;
            (s.addr(), Some(s))
        }
        (Some(t), false) => (t, None),
        (None, false) => bail!("give --target IP:PORT or --sink"),
    };
    let mut cfg = LoadConfig::new(protocol, target);
    cfg.rate = rate;
    cfg.duration = Duration::from_secs_f64(a.seconds.max(0.001));
    if let Some(n) = a.ticks {
        cfg.max_ticks = n;
    }
    if let Some(f) = a.frame_bytes {
        cfg.frame_bytes = f;
    }
    let before = a
        .metrics
        .map(|m| http_get(m, "/stats.json").and_then(|b| Ok(Stats(serde_json::from_str(&b)?))))
        .transpose()?;
    let cpu0 = bench::sys::cpu_sample();
    let publish = |s| *slot.lock() = Some(s);
    let rep = load::run_observed(&cfg, src.as_mut(), &AtomicBool::new(false), &publish)?;
    let cpu1 = bench::sys::cpu_sample();
    println!(
        "{:?}: sent {} ticks in {} frames/lines, {:.1} MB, {:.2} s: {:.0} ticks/s (offered {}); sender drops {}",
        protocol,
        rep.ticks,
        rep.frames,
        rep.bytes as f64 / 1e6,
        rep.elapsed_s,
        rep.achieved_rate,
        rep.offered_rate.map_or("max".into(), |r| r.to_string()),
        rep.send_drops
    );
    println!("{}", Summary::markdown_header());
    if rep.offered_rate.is_some() {
        println!("{}", rep.lag.markdown_row("send lag behind schedule"));
    }
    let mut js = serde_json::json!({"load": rep});
    if let Some(s) = sink {
        let got = s.finish(Duration::from_millis(200))?;
        if rep.offered_rate.is_some() {
            println!(
                "{}",
                Summary::of(&got.latency).markdown_row("scheduled → decoded (sink)")
            );
        }
        println!(
            "sink: received {} of {} ticks, malformed {}, reordered {}",
            got.ticks, rep.ticks, got.malformed, got.reordered
        );
        js["sink"] = serde_json::json!({"ticks": got.ticks, "malformed": got.malformed,
            "latency_ns": Summary::of(&got.latency)});
    }
    if let (Some(m), Some(b)) = (a.metrics, before) {
        std::thread::sleep(Duration::from_millis(500));
        let after = Stats(serde_json::from_str(&http_get(m, "/stats.json")?)?);
        let d = |k: &str| after.counter(k).saturating_sub(b.counter(k));
        println!(
            "daemon: received {} accepted {} processed {} stored {}; drops: queue full {}, UDP kernel {}, malformed {}, rejected {:?}",
            d("received"),
            d("accepted"),
            d("processed"),
            d("ticks_stored"),
            d("queue_full_drops"),
            d("udp_kernel_drops"),
            d("malformed"),
            after.rejected()
        );
        for stage in ["recv_to_enqueue", "queue_wait", "aggregate", "end_to_end"] {
            println!(
                "daemon {stage} (since start): p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs",
                bench::hist::us(after.latency(stage, "p50")),
                bench::hist::us(after.latency(stage, "p99")),
                bench::hist::us(after.latency(stage, "p999")),
                bench::hist::us(after.latency(stage, "max"))
            );
        }
        js["daemon"] = after.0;
    }
    println!(
        "CPU: {}",
        bench::sys::cpu_line(&bench::sys::cpu_use(&cpu0, &cpu1))
    );
    if let Some(p) = a.json {
        std::fs::write(&p, serde_json::to_string_pretty(&js)? + "\n")
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}
