//! How many ticks/s does the pipeline take, in-process (no sockets)?
//!
//! One injector thread offers 1M synthetic ticks (8 symbols, a quarter of
//! them quotes) to one worker that aggregates 6 timeframes and publishes bars
//! to a ring in a temporary directory; the time runs until the worker has
//! processed the last tick. Variants: without the store, and with the store
//! (the tick is then counted accepted only once the store thread holds it),
//! the latter with a parking and with a spinning worker (the store thread is
//! unpinned and wakes once per store block, so it fits beside a spinning
//! worker on two cores). The `inline_` variants run `workers.mode =
//! "inline"`: the injector thread aggregates and publishes itself (no worker
//! thread). Each run checks that every tick was processed.
//!
//! `cargo bench -p engine --bench pipeline` (one variant: append its name,
//! e.g. `-- store_worker_spin`; old against new: `-- ring_and_store`)

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine::config::Config;
use engine::pipeline::{Engine, EngineOptions};
use engine::stats::Counter;
use engine::synth::{Synth, SynthOptions};
use mtf::Tick;

const N: u64 = 1_000_000;

/// CPU time of the engine's threads (name → ns on a CPU, runs), summed over
/// the runs of one variant. Wall time on a shared machine is noise; the CPU
/// time a thread spent per million ticks is not (much).
static CPU: Mutex<BTreeMap<String, (u64, u64)>> = Mutex::new(BTreeMap::new());

/// Add the CPU time of every live `tickd-*` thread of this process
/// (`/proc/self/task/*/schedstat`, first field: ns on a CPU).
fn sample_engine_threads() {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    let mut cpu = CPU.lock().unwrap();
    for e in dir.flatten() {
        let p = e.path();
        let Ok(name) = std::fs::read_to_string(p.join("comm")) else {
            continue;
        };
        let name = name.trim();
        if !name.starts_with("tickd-") {
            continue;
        }
        let ns = std::fs::read_to_string(p.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
        if let Some(ns) = ns {
            let slot = cpu.entry(name.to_string()).or_default();
            slot.0 += ns;
            slot.1 += 1;
        }
    }
}

/// Print and reset the CPU times gathered for one variant.
fn report_cpu(variant: &str) {
    let mut cpu = CPU.lock().unwrap();
    if cpu.is_empty() {
        return;
    }
    let parts: Vec<String> = cpu
        .iter()
        .map(|(name, (ns, runs))| format!("{name} {:.1} ms", *ns as f64 / *runs as f64 / 1e6))
        .collect();
    println!(
        "{variant}: CPU time per run of 1M ticks: {}",
        parts.join(", ")
    );
    cpu.clear();
}

fn ticks() -> Vec<Tick> {
    let mut g = Synth::new(SynthOptions {
        symbols: 8,
        ..SynthOptions::default()
    });
    (0..N).map(|_| g.next_tick().0).collect()
}

/// CPU time of the calling thread so far, ns (`/proc/thread-self/schedstat`).
fn own_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn run(ticks: &[Tick], store: bool, idle: &str, mode: &str) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::load(
        None,
        &[
            format!("daemon.data_dir={}", dir.path().join("data").display()),
            format!("ring.path={}", dir.path().join("r").display()),
            format!("ring.snapshot_path={}", dir.path().join("s").display()),
            "ring.capacity=65536".into(),
            format!("store.enabled={store}"),
            "metrics.listen=".into(),
            "report.interval=0s".into(),
            "ingest.cores=[0]".into(),
            "workers.cores=[1]".into(),
            format!("workers.idle=\"{idle}\""),
            format!("workers.mode=\"{mode}\""),
        ],
    )
    .unwrap();
    let mut engine = Engine::start(
        cfg,
        EngineOptions {
            injectors: 1,
            ..EngineOptions::default()
        },
    )
    .unwrap();
    for i in 0..8 {
        engine
            .symbols()
            .intern(format!("SYN{i:04}").parse().unwrap())
            .unwrap();
    }
    let stats = engine.stats().clone();
    let mut inj = engine.take_injectors().pop().unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let t0 = Instant::now();
    let feeder = {
        let ticks = ticks.to_vec();
        std::thread::spawn(move || {
            if let Some(id) = core_affinity::get_core_ids().and_then(|c| c.into_iter().next()) {
                core_affinity::set_for_current(id);
            }
            let mut now = inj.begin_batch();
            for (i, t) in ticks.iter().enumerate() {
                if i % 256 == 0 {
                    inj.end_batch();
                    now = inj.begin_batch();
                }
                inj.offer_wait(&t.with_recv(now), &stop);
            }
            inj.end_batch();
            // Inline: the processing happens here, so count this thread too.
            drop(inj);
            own_cpu_ns()
        })
    };
    let want = if store {
        Counter::Accepted
    } else {
        Counter::Processed
    };
    while stats.snapshot().counter(want) < N {
        std::thread::sleep(Duration::from_micros(200));
    }
    let el = t0.elapsed();
    let feeder_ns = feeder.join().unwrap();
    sample_engine_threads();
    if let Some(ns) = feeder_ns {
        let mut cpu = CPU.lock().unwrap();
        let slot = cpu.entry("injector".to_string()).or_default();
        slot.0 += ns;
        slot.1 += 1;
    }
    let done = engine.shutdown(Duration::from_secs(30)).unwrap();
    assert_eq!(done.processed, N);
    el
}

fn pipeline(c: &mut Criterion) {
    let ticks = ticks();
    let mut g = c.benchmark_group("pipeline_in_process_1_worker");
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    let variants = [
        ("aggregate_and_ring", false, "spin", "threads"),
        ("inline_aggregate_and_ring", false, "spin", "inline"),
        ("aggregate_ring_and_store", true, "park", "threads"),
        ("inline_aggregate_ring_and_store", true, "park", "inline"),
        (
            "aggregate_ring_and_store_worker_spin",
            true,
            "spin",
            "threads",
        ),
    ];
    for (name, store, idle, mode) in variants {
        CPU.lock().unwrap().clear();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run(&ticks, store, idle, mode)).sum())
        });
        report_cpu(name);
    }
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
