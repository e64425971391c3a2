//! Cross-process stress test (issue 5): one writer (this process) and several
//! reader processes (this test binary re-executed), every record carrying a
//! checksum of itself. Zero torn reads; every lap count exact: each sequence
//! number is delivered once or counted lost once.
//!
//! Scale with `RING_STRESS_RECORDS` (default 300,000; CI's heavy run uses
//! 5,000,000 in release: see docs/ring.md).

#![cfg(not(loom))]

use mtf::{Bar, Tick, TickKind, Timeframe};
use ring::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ENV_PATH: &str = "RING_STRESS_PATH";
const ENV_READY: &str = "RING_STRESS_READY";
const ENV_SLOW: &str = "RING_STRESS_SLOW";

fn mix(words: &[u64]) -> u64 {
    // FNV-1a over the words, then a final avalanche (splitmix64).
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &w in words {
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn tick_sum(t: &Tick) -> u64 {
    mix(&[
        t.ts_event as u64,
        t.ts_recv as u64,
        t.symbol as u64,
        t.kind as u64,
        t.side as u64,
        t.flags as u64,
        t.price.to_bits(),
        t.size.to_bits(),
        t.ask.to_bits(),
        t.ask_size.to_bits(),
    ])
}

fn bar_sum(b: &Bar) -> u64 {
    mix(&[
        b.symbol as u64,
        b.timeframe.millis() as u64,
        b.start as u64,
        b.end as u64,
        b.open.to_bits(),
        b.high.to_bits(),
        b.low.to_bits(),
        b.close.to_bits(),
        b.volume.to_bits(),
        b.vwap.to_bits(),
        b.vwap_num.to_bits(),
        b.buy_volume.to_bits(),
        b.sell_volume.to_bits(),
        b.first_ts as u64,
        b.last_ts as u64,
        b.revision as u64,
        b.flags as u64,
    ])
}

/// Record `n`: a quote tick, or every third record a bar; its checksum in
/// `id` / `count`, its sequence number in `ts_event` / `start`.
fn publish_nth(w: &mut RingWriter, n: u64) {
    let x = n as f64;
    if n % 3 == 2 {
        let tf = Timeframe::from_millis(1 + (n % 60_000) as u32).unwrap();
        let start = n as i64;
        let mut b = Bar {
            symbol: (n % 101) as u32,
            timeframe: tf,
            start,
            end: tf.bucket_end(start),
            open: x,
            high: x + 1.0,
            low: x - 1.0,
            close: x + 0.5,
            volume: x * 2.0,
            vwap: x + 0.25,
            vwap_num: x * x,
            buy_volume: x,
            sell_volume: x * 0.5,
            count: 0,
            first_ts: start + 1,
            last_ts: start + 2,
            revision: (n % 5) as u32,
            flags: (n % 8) as u32,
        };
        b.count = bar_sum(&b);
        let kind = [BarKind::Closed, BarKind::Corrected, BarKind::Update][(n % 3) as usize];
        w.publish_bar(kind, &b).unwrap();
    } else {
        let mut t = Tick::quote(
            (n % 97) as u32,
            n as i64,
            x * 0.25,
            x,
            x * 0.25 + 1.0,
            x + 2.0,
        )
        .with_recv((n * 3) as i64);
        t.flags = (n % 7) as u16;
        t.id = tick_sum(&t);
        w.publish_tick(&t).unwrap();
    }
}

/// Checks one record against its sequence number; `false` when torn.
fn verify(seq: u64, r: &Record) -> bool {
    match r {
        Record::Tick(t) => {
            t.ts_event as u64 == seq && t.kind == TickKind::Quote && t.id == tick_sum(t)
        }
        Record::Bar { bar, .. } => bar.start as u64 == seq && bar.count == bar_sum(bar),
        Record::Shutdown { .. } => true,
        _ => false,
    }
}

/// The reader process: reads until the shutdown record, prints a summary.
#[test]
fn stress_child() {
    let Ok(path) = std::env::var(ENV_PATH) else {
        return; // not re-executed by `cross_process_readers`: nothing to do
    };
    let slow = std::env::var(ENV_SLOW).is_ok();
    let mut r = RingReader::open(
        &path,
        &ReaderOptions {
            start: StartAt::Seq(0),
            dead_after: Duration::from_secs(60),
            ..ReaderOptions::default()
        },
    )
    .unwrap();
    std::fs::write(std::env::var(ENV_READY).unwrap(), b"").unwrap();
    let wait = Wait {
        timeout: Some(Duration::from_secs(120)),
        ..Wait::default()
    };
    let (mut expected, mut delivered, mut lost, mut laps, mut torn, mut misordered) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    loop {
        match r.next_wait(&wait).expect("writer vanished") {
            Received::Lapped { lost: l } => {
                laps += 1;
                lost += l;
                expected += l;
            }
            Received::Record { seq, record } => {
                delivered += 1;
                if seq != expected {
                    misordered += 1;
                }
                expected = seq + 1;
                if !verify(seq, &record) {
                    torn += 1;
                }
                if matches!(record, Record::Shutdown { .. }) {
                    println!(
                        "STRESS_RESULT last={seq} delivered={delivered} lost={lost} laps={laps} torn={torn} misordered={misordered}"
                    );
                    return;
                }
                if slow && delivered % 4096 == 0 {
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
        }
    }
}

fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in {line:?}"))
        .parse()
        .unwrap()
}

fn wait_ready(paths: &[PathBuf], w: &RingWriter) {
    let t0 = Instant::now();
    while !paths.iter().all(|p| p.exists()) {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "readers did not start"
        );
        w.touch();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run(dir: &Path, readers: usize, records: u64, capacity: u64, pace: Option<u64>) {
    let path = dir.join("stress.ring");
    let mut w = RingWriter::create(
        &path,
        &RingConfig {
            capacity,
            group: None,
        },
    )
    .unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    let mut ready = Vec::new();
    for i in 0..readers {
        let rp = dir.join(format!("ready.{i}"));
        let mut c = Command::new(&exe);
        c.args([
            "--exact",
            "stress_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(ENV_PATH, &path)
        .env(ENV_READY, &rp)
        .stdout(Stdio::piped());
        if i % 2 == 1 {
            c.env(ENV_SLOW, "1");
        }
        children.push(c.spawn().unwrap());
        ready.push(rp);
    }
    wait_ready(&ready, &w);
    for n in 0..records {
        publish_nth(&mut w, n);
        if n % 65_536 == 0 {
            w.touch();
        }
        if pace.is_some_and(|p| n % p == 0) {
            std::thread::sleep(Duration::from_micros(20));
        }
    }
    w.shutdown();
    let (mut total_laps, mut total_delivered) = (0, 0);
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "reader failed: {stdout}");
        let line = stdout
            .lines()
            .find_map(|l| l.find("STRESS_RESULT").map(|i| &l[i..]))
            .unwrap_or_else(|| panic!("no result in {stdout}"));
        eprintln!("{line}");
        assert_eq!(field(line, "torn"), 0, "{line}");
        assert_eq!(field(line, "misordered"), 0, "{line}");
        assert_eq!(field(line, "last"), records, "{line}");
        assert_eq!(
            field(line, "delivered") + field(line, "lost"),
            records + 1,
            "every record delivered or counted lost, exactly: {line}"
        );
        total_laps += field(line, "laps");
        total_delivered += field(line, "delivered");
    }
    eprintln!(
        "{readers} readers, {records} records, capacity {capacity}, pace {pace:?}: \
         {total_delivered} delivered, {total_laps} laps"
    );
}

#[test]
fn cross_process_readers() {
    let records = std::env::var("RING_STRESS_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300_000);
    let dir = tempfile::tempdir().unwrap();
    // Flat out into a small ring: readers are lapped many times.
    run(dir.path(), 4, records, 256, None);
    // Paced, with a larger ring: readers mostly keep up, so most records are
    // read while the writer is writing their neighbours (the torn-read case).
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), 4, records, 4096, Some(256));
}
