//! Scenario 2: the maximum sustained rate with nothing lost — every tick
//! stored, aggregated and published — over TCP binary, UDP binary and ILP.
//!
//! A fresh daemon per protocol (store and ring on, the defaults). The rate is
//! ticks sent divided by the time from the first send until the daemon's
//! `ticks_stored` counter reached the number sent: a daemon that accepts
//! fast but stores slowly is charged for the backlog. TCP and ILP are
//! backpressured, so the load runs at the maximum rate; UDP is not, so it
//! runs a descending ladder of fixed rates and reports the highest one at
//! which nothing was lost (kernel drops, queue drops, or ticks not stored).

use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde_json::json;

use super::Opts;
use crate::daemon::{self, Daemon};
use crate::load::{self, LoadConfig, Protocol, Rate, SynthSource};
use crate::synth::SynthConfig;

struct Outcome {
    sent: u64,
    stored: u64,
    lost: u64,
    sustained: f64,
    send_rate: f64,
    drained: bool,
    detail: serde_json::Value,
    cpu: String,
    /// Load average (1, 5, 15 min) just before the daemon started.
    load: String,
    /// The daemon's receive → published histogram (cumulative Prometheus
    /// buckets: upper bound ns, count).
    buckets: Vec<(u64, u64)>,
}

fn once(
    bin: &std::path::Path,
    protocol: Protocol,
    rate: Rate,
    dur: Duration,
    set: &[String],
) -> anyhow::Result<Outcome> {
    let load = super::load_average();
    let d = Daemon::start(bin, None, set)?;
    let target = match protocol {
        Protocol::UdpBinary => d.udp,
        Protocol::TcpBinary => d.tcp,
        Protocol::IlpTcp => d.ilp,
    }
    .ok_or_else(|| anyhow::anyhow!("tickd has no {protocol:?} listener"))?;
    let mut cfg = LoadConfig::new(protocol, target);
    cfg.rate = rate;
    cfg.duration = dur;
    let mut src = SynthSource::new(SynthConfig {
        symbols: 100,
        mean_gap_ns: 1_000,
        skew: 1.0,
        ..SynthConfig::default()
    });
    let cpu0 = crate::sys::cpu_sample();
    let t0 = Instant::now();
    let rep = load::run(&cfg, &mut src, &AtomicBool::new(false))?;
    let sent = rep.ticks;
    let lossy = protocol == Protocol::UdpBinary;
    let (st, drained) = d.wait_until(Duration::from_secs(120), Duration::from_secs(2), |s| {
        let stored = s.counter("ticks_stored");
        stored >= sent
            || (lossy
                && stored + s.counter("udp_kernel_drops") + s.counter("queue_full_drops") >= sent
                && s.counter("processed") == s.counter("queued"))
    })?;
    // Time until the last tick was stored, not until idleness was noticed.
    let idle_tail = if drained { 0.0 } else { 2.0 };
    let secs = (t0.elapsed().as_secs_f64() - idle_tail).max(rep.elapsed_s);
    let cpu1 = crate::sys::cpu_sample();
    let stored = st.counter("ticks_stored");
    let prom = d.prometheus().unwrap_or_default();
    let buckets = daemon::prometheus_buckets(&prom, "end_to_end");
    Ok(Outcome {
        sent,
        stored,
        lost: sent.saturating_sub(stored),
        sustained: stored as f64 / secs,
        send_rate: rep.achieved_rate,
        drained,
        cpu: crate::sys::cpu_line(&crate::sys::cpu_use(&cpu0, &cpu1)),
        load: load.clone(),
        buckets,
        detail: json!({
            "sent": sent, "send_seconds": rep.elapsed_s, "until_stored_seconds": secs,
            "load_average_at_start": load,
            "frames": rep.frames, "bytes": rep.bytes, "sender_drops": rep.send_drops,
            "stats": st.0,
        }),
    })
}

/// Runs scenario 2.
pub fn run(opts: &Opts, set: &[String]) -> anyhow::Result<()> {
    let dur = opts.duration.unwrap_or(if opts.smoke {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(10)
    });
    let command = format!(
        "cargo run --release -p bench --bin scenario -- 2{}",
        if opts.smoke { " --smoke" } else { "" }
    );
    let mut md = super::block_header(
        2,
        "maximum sustained rate, nothing lost (stored, aggregated, published)",
        opts,
        &command,
    );
    let Some(bin) = daemon::tickd_bin() else {
        eprintln!("SKIP: tickd binary not found (cargo build --release -p engine)");
        let _ = writeln!(md, "SKIP: no tickd binary.");
        return super::write_results(opts, 2, &md, &json!({"scenario": 2, "skipped": true}))
            .map_err(Into::into);
    };
    let _ = writeln!(
        md,
        "100 synthetic symbols, {:.0} s of load per try, a fresh daemon per try (defaults: store on, \
         ring on). Sustained = ticks stored / seconds from first send to last tick stored. \
         Targets (issue 7): TCP ≥ 10 M/s, UDP ≥ 6 M/s, ILP ≥ 3 M lines/s.\n",
        dur.as_secs_f64()
    );
    let _ = writeln!(
        md,
        "| protocol | offered | sent | stored | lost | send rate (M/s) | sustained (M/s) | median sustained of runs (M/s) | drained | CPU |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---|---|");
    let mut rows = Vec::new();
    let mut per_run = String::new();
    // Receive → published at the rates measured: the last try of each
    // protocol at its maximum, UDP at its highest lossless rate.
    let mut csv = String::from("series,percentile,value_ns\n");
    for protocol in [Protocol::TcpBinary, Protocol::IlpTcp] {
        let mut rates = Vec::new();
        let mut loads = Vec::new();
        let mut last = None;
        for _ in 0..opts.runs {
            let o = once(&bin, protocol, Rate::Max, dur, set)?;
            rates.push(if o.lost == 0 { o.sustained } else { 0.0 });
            loads.push(o.load.clone());
            last = Some(o);
        }
        let _ = writeln!(
            per_run,
            "- {protocol:?}, each run (M/s, load average at its start): {}",
            rates
                .iter()
                .zip(&loads)
                .map(|(r, l)| format!("{:.2} ({l})", r / 1e6))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(o) = last {
            let med = super::median(&rates);
            csv.push_str(&super::bucket_rows(
                &format!("{protocol:?} at its maximum ({:.1} M/s)", o.sustained / 1e6),
                &o.buckets,
            ));
            let _ = writeln!(
                md,
                "| {protocol:?} | max | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} |",
                o.sent,
                o.stored,
                o.lost,
                o.send_rate / 1e6,
                o.sustained / 1e6,
                med / 1e6,
                o.drained,
                o.cpu
            );
            rows.push(json!({"protocol": protocol, "rate": "max", "median_sustained": med, "runs": rates, "runs_load_average": loads, "last": o.detail}));
        }
    }
    let ladder: &[u64] = if opts.smoke {
        &[200_000]
    } else {
        &[
            6_000_000, 4_000_000, 3_000_000, 2_000_000, 1_000_000, 500_000,
        ]
    };
    let mut best = None;
    for &r in ladder {
        let o = once(&bin, Protocol::UdpBinary, Rate::Fixed(r), dur, set)?;
        let _ = writeln!(
            per_run,
            "- UdpBinary at {:.1} M/s: load average at its start {}",
            r as f64 / 1e6,
            o.load
        );
        let _ = writeln!(
            md,
            "| UdpBinary | {:.1} M/s | {} | {} | {} | {:.2} | {:.2} | – | {} | {} |",
            r as f64 / 1e6,
            o.sent,
            o.stored,
            o.lost,
            o.send_rate / 1e6,
            o.sustained / 1e6,
            o.drained,
            o.cpu
        );
        rows.push(json!({"protocol": "UdpBinary", "rate": r, "lost": o.lost, "detail": o.detail}));
        if o.lost == 0 && o.drained {
            csv.push_str(&super::bucket_rows(
                &format!("UdpBinary at {:.1} M/s", r as f64 / 1e6),
                &o.buckets,
            ));
            best = Some(r);
            break;
        }
    }
    let _ = write!(md, "\n{per_run}");
    let img = super::write_plot(
        opts,
        2,
        "percentiles",
        &csv,
        "Scenario 2: receive → published at the maximum rates (a backlog is queueing)",
    )?;
    let _ = writeln!(
        md,
        "\nHighest UDP rate of the ladder with nothing lost: {}.\n",
        best.map_or("none".into(), |r| format!(
            "{:.1} M ticks/s",
            r as f64 / 1e6
        ))
    );
    let _ = writeln!(
        md,
        "The plot: the daemon's receive → published histogram (its Prometheus buckets) of the last \
         try of each protocol at its maximum and of UDP at its highest lossless rate; at the \
         maximum rate a tick waits behind the backlog, so these are queueing times, not the \
         latency at a paced rate (scenario 1).\n\n{img}\n"
    );
    super::write_results(
        opts,
        2,
        &md,
        &json!({"scenario": 2, "smoke": opts.smoke, "seconds": dur.as_secs_f64(), "rows": rows, "udp_best": best}),
    )?;
    print!("{md}");
    Ok(())
}
