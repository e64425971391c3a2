//! CPU time of the store thread per tick: `StoreWriter::append_ticks` of the
//! load of scenario 2 (100 synthetic symbols, Zipf skew 1, trades, 1 µs mean
//! gap: `bench/src/synth.rs`, included verbatim), receive times stamped per
//! batch of 256 ticks as the daemon stamps a read, appended in chunks of
//! 8,192 with `poll` between chunks, with the engine's store settings
//! (256 MiB hot segments, no hot compression, msync every second).
//!
//! Each iteration opens a fresh writer, appends 2 M ticks and reports the
//! appending thread's CPU time for the last 1,737,856 of them (`/proc/thread-self/schedstat`), not wall
//! time: on a shared machine the CPU a thread spent is the steadier figure.
//! Opening and closing the writer are not counted.
//!
//! `cargo bench -p store --bench append`

#[allow(dead_code)]
#[path = "../../bench/src/synth.rs"]
mod synth;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mtf::Tick;
use store::{FsyncPolicy, HotCompression, StoreConfig, StoreReader, StoreWriter};
use synth::{Synth, SynthConfig};

const N: usize = 2_000_000;
/// Ticks appended before the clock starts (of `N`).
const WARM_UP: usize = 262_144;
const SYMBOLS: u32 = 100;

/// The ticks of scenario 2, receive times stamped per 256 (10 M ticks/s).
fn ticks() -> Vec<Tick> {
    let mut g = Synth::new(SynthConfig {
        symbols: SYMBOLS,
        mean_gap_ns: 1_000,
        skew: 1.0,
        ..SynthConfig::default()
    });
    let recv0 = 1_763_000_000_000_000_000i64;
    (0..N)
        .map(|i| {
            let recv = recv0 + (i / 256) as i64 * 25_600;
            g.next_tick().with_recv(recv)
        })
        .collect()
}

fn config() -> StoreConfig {
    StoreConfig {
        segment_bytes: 256 << 20,
        hot_compression: HotCompression::None,
        fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
        ..StoreConfig::default()
    }
}

/// CPU time of the calling thread so far, ns.
fn own_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time of the writer's background threads (`store-*`: sync, seal,
/// pre-fault), summed over the runs: (ns, runs), per thread name.
static HELPERS: std::sync::Mutex<Vec<(String, u64, u64)>> = std::sync::Mutex::new(Vec::new());

/// Adds the CPU time of this process's live `store-*` threads to [`HELPERS`].
fn helpers_cpu() {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    let mut h = HELPERS.lock().unwrap();
    for e in dir.flatten() {
        let name = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        let name = name.trim();
        if !name.starts_with("store-") {
            continue;
        }
        let ns = std::fs::read_to_string(e.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        match h.iter_mut().find(|x| x.0 == name) {
            Some(x) => {
                x.1 += ns;
                x.2 += 1;
            }
            None => h.push((name.to_string(), ns, 1)),
        }
    }
}

/// Appends `ticks` to a fresh store in `dir` as the store thread does; the
/// CPU time of the appends.
fn append_all(dir: &std::path::Path, ticks: &[Tick]) -> Duration {
    let mut w = StoreWriter::open(dir, 0, config()).unwrap();
    for s in 0..SYMBOLS {
        w.define_symbol(s, &format!("SYN{s:04}")).unwrap();
    }
    // Not counted: the first ticks of every symbol fault in the stage's
    // slots, which a running daemon does once at its start.
    let (warm, timed) = ticks.split_at(WARM_UP);
    for chunk in warm.chunks(8192) {
        w.append_ticks(chunk).unwrap();
        w.poll(Instant::now()).unwrap();
    }
    let c0 = own_cpu_ns();
    for chunk in timed.chunks(8192) {
        w.append_ticks(chunk).unwrap();
        w.poll(Instant::now()).unwrap();
    }
    let cpu = own_cpu_ns() - c0;
    helpers_cpu();
    w.close().unwrap();
    Duration::from_nanos(cpu)
}

fn store_thread(c: &mut Criterion) {
    let ticks = ticks();
    // behaviour first: every tick comes back, per symbol in order
    {
        let dir = tempfile::tempdir().unwrap();
        append_all(dir.path(), &ticks);
        let r = StoreReader::open(dir.path()).unwrap();
        for s in [0, 7, SYMBOLS - 1] {
            let want: Vec<Tick> = ticks.iter().filter(|t| t.symbol == s).copied().collect();
            let got: Vec<Tick> = r
                .ticks(s, i64::MIN, i64::MAX)
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(got, want, "symbol {s}");
        }
    }
    let mut g = c.benchmark_group("store_thread");
    g.throughput(Throughput::Elements((N - WARM_UP) as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("append_scenario2_cpu", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let dir = tempfile::tempdir().unwrap();
                    append_all(dir.path(), &ticks)
                })
                .sum()
        })
    });
    g.finish();
    let h = HELPERS.lock().unwrap();
    let parts: Vec<String> = h
        .iter()
        .map(|(n, ns, runs)| format!("{n} {:.1} ms", *ns as f64 / *runs as f64 / 1e6))
        .collect();
    println!(
        "background threads, CPU per run (all {N} ticks, opening included): {}",
        parts.join(", ")
    );
}

criterion_group!(benches, store_thread);
criterion_main!(benches);
