//! Scenario 5 (fan-out part): the shared-memory ring with 1, 4 and 8
//! subscribers — writer rate with nobody throttling it, and publish → read
//! latency at a paced rate the subscribers can follow.
//!
//! Every subscriber is a thread of this process reading the ring file through
//! its own read-only mapping, exactly as a subscriber process does. The
//! latency of a record is `CLOCK_MONOTONIC` at read minus the stamp the
//! writer put in the tick's `ts_recv` just before publishing. On a 2-core
//! machine 4 and 8 spinning subscribers oversubscribe the CPU: their figures
//! show what the writer does when readers are descheduled (it never waits),
//! not a dedicated-core latency.
//!
//! The resident-memory half of scenario 5 (a year × 10 symbols stored
//! against one day) is [`super::s5rss`]; `scenario 5` runs both halves,
//! `--part fanout` or `--part rss` one.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mtf::{Side, Tick};
use ring::{ReaderOptions, Received, Record, RingConfig, RingReader, RingWriter, StartAt};
use serde_json::json;

use super::Opts;
use crate::hist::{self, Summary};

struct FanOut {
    subscribers: usize,
    writer_rate: f64,
    delivered: u64,
    lost: u64,
    latency: Histogram<u64>,
}

fn one(subs: usize, dur: Duration, pace: Option<u64>) -> anyhow::Result<FanOut> {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm")?
    } else {
        tempfile::tempdir()?
    };
    let path = dir.path().join("fanout.ring");
    let mut w = RingWriter::create(
        &path,
        &RingConfig {
            capacity: 1 << 16,
            group: None,
        },
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicU64::new(0));
    let mut joins = Vec::new();
    for _ in 0..subs {
        let opts = ReaderOptions {
            start: StartAt::Newest,
            ..ReaderOptions::default()
        };
        let mut r = RingReader::open(&path, &opts)?;
        let (stop, ready) = (stop.clone(), ready.clone());
        joins.push(std::thread::spawn(move || {
            let mut h = hist::new_histogram();
            let (mut got, mut lost) = (0u64, 0u64);
            ready.fetch_add(1, Ordering::AcqRel);
            while !stop.load(Ordering::Relaxed) {
                match r.next() {
                    Some(Received::Record {
                        record: Record::Tick(t),
                        ..
                    }) => {
                        let now = ring::monotonic_ns();
                        hist::record(&mut h, now.saturating_sub(t.ts_recv as u64));
                        got += 1;
                    }
                    Some(Received::Lapped { lost: l }) => lost += l,
                    Some(_) => {}
                    None => std::hint::spin_loop(),
                }
            }
            (h, got, lost)
        }));
    }
    while ready.load(Ordering::Acquire) < subs as u64 {
        std::thread::yield_now();
    }
    let mut t = Tick::trade(1, 1_700_000_000_000_000_000, 100.0, 1.0, Side::Buy, 0);
    let start = Instant::now();
    let mut n = 0u64;
    let period = pace.map(|r| 1e9 / r as f64);
    loop {
        if n & 1023 == 0 && start.elapsed() >= dur {
            break;
        }
        if let Some(p) = period {
            let due = Duration::from_nanos((n as f64 * p) as u64);
            while start.elapsed() < due {
                std::hint::spin_loop();
            }
        }
        t.id = n;
        t.ts_event += 1_000;
        t.ts_recv = ring::monotonic_ns() as i64;
        w.publish_tick(&t)?;
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Relaxed);
    let mut latency = hist::new_histogram();
    let (mut delivered, mut lost) = (0, 0);
    for j in joins {
        let (h, g, l) = j
            .join()
            .map_err(|_| anyhow::anyhow!("subscriber panicked"))?;
        latency.add(&h).ok();
        delivered += g;
        lost += l;
    }
    w.shutdown();
    Ok(FanOut {
        subscribers: subs,
        writer_rate: n as f64 / secs,
        delivered,
        lost,
        latency,
    })
}

/// Runs the fan-out part of scenario 5.
pub fn run(opts: &Opts) -> anyhow::Result<()> {
    let dur = opts.duration.unwrap_or(if opts.smoke {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(5)
    });
    let pace = 100_000u64;
    let command = format!(
        "cargo run --release -p bench --bin scenario -- 5{}",
        if opts.smoke { " --smoke" } else { "" }
    );
    let mut md = super::block_header(5, "ring fan-out (1, 4, 8 subscribers)", opts, &command);
    let _ = writeln!(
        md,
        "Writer: one thread publishing one-line (64-byte) tick records into a 65,536-line ring on \
         `/dev/shm`. *Max* rows: the writer as fast as it can for {:.1} s (subscribers lapped \
         are counted, never waited for). *Paced* rows: {pace} records/s, latency = read time − \
         publish stamp (CLOCK_MONOTONIC), all subscribers merged. Medians of {} runs for the rate; \
         the latency row is the last run.\n",
        dur.as_secs_f64(),
        opts.runs
    );
    let _ = writeln!(
        md,
        "| subscribers | writer rate, max (M rec/s) | delivered / published (max) | lost to laps (max) |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    let mut series: Vec<(String, Histogram<u64>)> = Vec::new();
    let mut lat_md = String::new();
    for subs in [1usize, 4, 8] {
        let mut rates = Vec::new();
        let mut last = None;
        for _ in 0..opts.runs {
            let r = one(subs, dur, None)?;
            rates.push(r.writer_rate);
            last = Some(r);
        }
        let Some(last) = last else { continue };
        let rate = super::median(&rates);
        let published = (last.writer_rate * dur.as_secs_f64()) as u64;
        let _ = writeln!(
            md,
            "| {subs} | {:.2} | {:.3} | {} |",
            rate / 1e6,
            last.delivered as f64 / (published.max(1) * subs as u64) as f64,
            last.lost
        );
        let paced = one(subs, dur, Some(pace))?;
        let s = Summary::of(&paced.latency);
        let _ = writeln!(
            lat_md,
            "{}",
            s.markdown_row(&format!("{subs} subscriber(s), paced, lost {}", paced.lost))
        );
        rows.push(json!({
            "subscribers": last.subscribers, "writer_rate_max": rate, "writer_rate_runs": rates,
            "max_delivered": last.delivered, "max_lost": last.lost,
            "paced_rate": pace, "paced_latency_ns": s, "paced_lost": paced.lost,
        }));
        series.push((format!("{subs} sub"), paced.latency));
    }
    let _ = writeln!(md, "\nPublish → read latency at {pace} records/s:\n");
    let _ = writeln!(md, "{}", Summary::markdown_header());
    md.push_str(&lat_md);
    let refs: Vec<(&str, &Histogram<u64>)> = series.iter().map(|(n, h)| (n.as_str(), h)).collect();
    let csv = hist::distribution_csv(&refs);
    let img = super::write_plot(
        opts,
        5,
        "percentiles",
        &csv,
        "Scenario 5: ring publish → read latency by subscriber count",
    )?;
    let _ = writeln!(md, "\n{img}\n");
    super::write_results(
        opts,
        5,
        &md,
        &json!({"scenario": 5, "smoke": opts.smoke, "runs": opts.runs, "fanout": rows}),
    )?;
    print!("{md}");
    Ok(())
}
