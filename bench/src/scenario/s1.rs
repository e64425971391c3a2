//! Scenario 1: 1 M ticks/s for 60 s over UDP binary, 100 symbols; the
//! daemon's receive → published latency beside the same run's floors.
//!
//! Floors, measured in the same invocation right before the daemon run:
//! - *queue hop*: a bare SPSC queue (rtrb) between a producer on core 0 and a
//!   spinning consumer on core 1, at the same offered rate, each element
//!   stamped at its scheduled time — what this VM's scheduler and caches
//!   alone cost (its p99.9 and max show the VM's stalls);
//! - *loopback + parse*: the same load generator into an in-process receiver
//!   that decodes with tickd's own parser ([`crate::sink`]) — what the kernel's
//!   UDP path costs before tickd does anything.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

use super::Opts;
use crate::daemon::{self, Daemon};
use crate::hist::{self, Summary};
use crate::load::{self, LoadConfig, Protocol, Rate, SynthSource};
use crate::synth::SynthConfig;

/// Scheduled-time latency of a bare SPSC hop between two pinned threads.
pub fn queue_hop_floor(rate: u64, dur: Duration) -> Histogram<u64> {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(1 << 16);
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let (c0, c1) = (cores.first().copied(), cores.get(1).copied());
    let start = Instant::now();
    let consumer = std::thread::spawn(move || {
        if let Some(c) = c1 {
            core_affinity::set_for_current(c);
        }
        let mut h = hist::new_histogram();
        loop {
            match rx.pop() {
                Ok(due) => {
                    let now = start.elapsed().as_nanos() as u64;
                    hist::record(&mut h, now.saturating_sub(due));
                }
                Err(_) => {
                    if st.load(Ordering::Acquire) && rx.is_empty() {
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
        }
        h
    });
    let producer = std::thread::spawn(move || {
        if let Some(c) = c0 {
            core_affinity::set_for_current(c);
        }
        let sched = load::Schedule {
            start,
            start_unix_ns: 0,
            rate,
        };
        let end = dur.as_nanos() as u64;
        let mut i = 0u64;
        loop {
            let now = sched.now_ns();
            if now >= end {
                break;
            }
            let due = sched.due_count(now);
            while i < due {
                let d = sched.due_ns(i);
                while tx.push(d).is_err() {
                    std::hint::spin_loop();
                }
                i += 1;
            }
        }
        stop.store(true, Ordering::Release);
    });
    let _ = producer.join();
    consumer.join().unwrap_or_else(|_| hist::new_histogram())
}

fn synth_100() -> SynthSource {
    SynthSource::new(SynthConfig {
        symbols: 100,
        mean_gap_ns: 1_000,
        skew: 1.0,
        ..SynthConfig::default()
    })
}

/// Loopback UDP into tickd's parser, no daemon: the network floor.
fn udp_floor(rate: u64, dur: Duration) -> anyhow::Result<(load::LoadReport, Histogram<u64>, u64)> {
    let slot = Arc::new(parking_lot::Mutex::new(None));
    let sink = crate::sink::Sink::start(Protocol::UdpBinary, slot.clone())?;
    let mut cfg = LoadConfig::new(Protocol::UdpBinary, sink.addr());
    cfg.rate = Rate::Fixed(rate);
    cfg.duration = dur;
    let publish = |s| *slot.lock() = Some(s);
    let rep = load::run_observed(&cfg, &mut synth_100(), &AtomicBool::new(false), &publish)?;
    let got = sink.finish(Duration::from_millis(200))?;
    Ok((rep, got.latency, got.ticks))
}

/// Runs scenario 1.
pub fn run(opts: &Opts, tickd_set: &[String]) -> anyhow::Result<()> {
    let (rate, dur) = if opts.smoke {
        (100_000, Duration::from_secs(2))
    } else {
        (1_000_000, Duration::from_secs(60))
    };
    let dur = opts.duration.unwrap_or(dur);
    let command = format!(
        "cargo run --release -p bench --bin scenario -- 1{}",
        if opts.smoke { " --smoke" } else { "" }
    );
    let mut md = super::block_header(
        1,
        "1 M ticks/s over UDP binary, 100 symbols: receive → published",
        opts,
        &command,
    );
    let _ = writeln!(
        md,
        "Offered: {rate} ticks/s for {:.0} s, 100 synthetic symbols (skewed), 1472-byte \
         datagrams; every tick has a scheduled send time. Targets (issue 7): p50 ≤ 1 µs, p99 ≤ 5 µs \
         receive → published.\n",
        dur.as_secs_f64()
    );
    let floor_q = queue_hop_floor(rate, dur.min(Duration::from_secs(10)));
    let (frep, floor_udp, floor_got) = udp_floor(rate, dur.min(Duration::from_secs(10)))?;
    let mut csv = String::from("series,percentile,value_ns\n");
    let d = hist::distribution_csv(&[
        ("floor: queue hop core0→core1", &floor_q),
        ("floor: UDP loopback + tickd parser", &floor_udp),
    ]);
    csv.push_str(d.split_once('\n').map_or("", |x| x.1));
    let _ = writeln!(md, "{}", Summary::markdown_header());
    let _ = writeln!(
        md,
        "{}",
        Summary::of(&floor_q).markdown_row("floor: bare SPSC hop, scheduled → popped")
    );
    let _ = writeln!(
        md,
        "{}",
        Summary::of(&floor_udp).markdown_row(&format!(
            "floor: UDP loopback + parse, scheduled → decoded ({} of {} ticks)",
            floor_got, frep.ticks
        ))
    );
    let mut js = json!({
        "scenario": 1, "smoke": opts.smoke, "rate": rate, "seconds": dur.as_secs_f64(),
        "floor_queue_hop_ns": Summary::of(&floor_q),
        "floor_udp_ns": Summary::of(&floor_udp),
    });

    match daemon::tickd_bin() {
        None => {
            let _ = writeln!(
                md,
                "\nSKIP daemon run: no tickd binary (build it with `cargo build --release -p engine`, \
                 or set TICKD_BIN)."
            );
            eprintln!("SKIP: tickd binary not found (cargo build --release -p engine)");
        }
        Some(bin) => {
            let d = Daemon::start(&bin, None, tickd_set)?;
            let target = d
                .udp
                .ok_or_else(|| anyhow::anyhow!("tickd has no UDP listener"))?;
            let mut cfg = LoadConfig::new(Protocol::UdpBinary, target);
            cfg.rate = Rate::Fixed(rate);
            cfg.duration = dur;
            let cpu0 = crate::sys::cpu_sample();
            let snmp0 = crate::sys::udp_errors();
            let rep = load::run(&cfg, &mut synth_100(), &AtomicBool::new(false))?;
            let cpu1 = crate::sys::cpu_sample();
            let sent = rep.ticks;
            let (st, drained) =
                d.wait_until(Duration::from_secs(30), Duration::from_secs(2), |s| {
                    // Ticks only: `udp_kernel_drops` counts datagrams (of
                    // however many ticks each), so it cannot be added here.
                    s.counter("processed") + s.counter("queue_full_drops") >= sent
                })?;
            let rcvbuf = match (snmp0, crate::sys::udp_errors()) {
                (Some(a), Some(b)) => Some(b.1.saturating_sub(a.1)),
                _ => None,
            };
            let prom = d.prometheus().unwrap_or_default();
            let buckets = daemon::prometheus_buckets(&prom, "end_to_end");
            csv.push_str(&super::bucket_rows("tickd receive → published", &buckets));
            if let Some(lag) = rep.lag_hist.as_ref() {
                let d = hist::distribution_csv(&[("load generator send lag", lag)]);
                csv.push_str(d.split_once('\n').map_or("", |x| x.1));
            }
            let rss = crate::sys::rss_bytes(d.pid()).unwrap_or(0);
            let stage = |f: &str| hist::us(st.latency("end_to_end", f));
            let _ = writeln!(
                md,
                "| **tickd receive → published** (daemon histogram) | {} | {} | – | {} | {} | – | {} |",
                st.latency("end_to_end", "count"),
                stage("p50"),
                stage("p99"),
                stage("p999"),
                stage("max")
            );
            let _ = writeln!(
                md,
                "{}",
                rep.lag
                    .markdown_row("load generator: send lag behind schedule")
            );
            let _ = writeln!(
                md,
                "\nSent {} ticks in {:.1} s ({:.0}/s offered {}/s); daemon received {}, processed {}, \
                 stored {}; ticks lost before the daemon (sent − received) {}; drops: queue full {} ticks, \
                 UDP kernel {} datagrams (daemon's SO_RXQ_OVFL count), UDP receive-buffer \
                 {} datagrams (kernel /proc/net/snmp RcvbufErrors, whole machine), sender {}; \
                 rejected {:?}; drained: {drained}. Daemon RSS {:.1} MiB.\n\nCPU during the load: {}\n",
                sent,
                rep.elapsed_s,
                rep.achieved_rate,
                rate,
                st.counter("received"),
                st.counter("processed"),
                st.counter("ticks_stored"),
                sent.saturating_sub(st.counter("received")),
                st.counter("queue_full_drops"),
                st.counter("udp_kernel_drops"),
                rcvbuf.map_or("n/a".into(), |n| n.to_string()),
                rep.send_drops,
                st.rejected(),
                rss as f64 / 1048576.0,
                crate::sys::cpu_line(&crate::sys::cpu_use(&cpu0, &cpu1)),
            );
            js["daemon"] = json!({
                "sent": sent, "elapsed_s": rep.elapsed_s, "lag_ns": rep.lag,
                "stats": st.0, "rss_bytes": rss, "drained": drained,
                "udp_rcvbuf_errors_datagrams": rcvbuf,
                "end_to_end_buckets": buckets,
            });
        }
    }
    let img = super::write_plot(
        opts,
        1,
        "percentiles",
        &csv,
        "Scenario 1: latency percentiles at 1 M ticks/s",
    )?;
    let _ = writeln!(md, "{img}\n");
    super::write_results(opts, 1, &md, &js)?;
    print!("{md}");
    Ok(())
}
