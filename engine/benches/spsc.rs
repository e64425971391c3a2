//! Which SPSC queue carries ticks from an ingest thread to a worker?
//!
//! One producer pinned to core 0 and one consumer pinned to core 1 (or
//! unpinned when the machine lacks them) move `N` 64-byte ticks through:
//! - `rtrb` (what the engine uses, through `engine::queue`), popped in batches;
//! - `rtrb` popped one at a time;
//! - crossbeam's `ArrayQueue`, one at a time.
//!
//! Each run first checks that every tick arrives once, in order. Run with
//! `cargo bench -p engine --bench spsc`.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crossbeam_queue::ArrayQueue;
use engine::queue::tick_queue;
use mtf::{Side, Tick};

const N: u64 = 2_000_000;
const CAP: usize = 65_536;

fn pin(core: usize) {
    if let Some(ids) = core_affinity::get_core_ids()
        && let Some(id) = ids.into_iter().find(|c| c.id == core)
    {
        core_affinity::set_for_current(id);
    }
}

fn tick(i: u64) -> Tick {
    Tick::trade(1, i as i64, 100.0, 1.0, Side::Buy, i)
}

/// Moves N ticks through the engine's queue; returns the consumer's elapsed time.
fn run_rtrb_batched() -> Duration {
    let (mut tx, mut rx) = tick_queue(CAP);
    let go = Arc::new(Barrier::new(2));
    let g = go.clone();
    let prod = std::thread::spawn(move || {
        pin(0);
        g.wait();
        let mut i = 0;
        while i < N {
            if tx.push(tick(i)).is_ok() {
                i += 1;
            } else {
                std::hint::spin_loop();
            }
        }
    });
    pin(1);
    go.wait();
    let t0 = Instant::now();
    let mut want = 0u64;
    while want < N {
        let n = rx.drain(1024, |b| {
            for t in b {
                assert_eq!(t.id, want);
                want += 1;
            }
        });
        if n == 0 {
            std::hint::spin_loop();
        }
    }
    let el = t0.elapsed();
    prod.join().unwrap();
    el
}

fn run_rtrb_single() -> Duration {
    let (mut p, mut c) = rtrb::RingBuffer::<Tick>::new(CAP);
    let go = Arc::new(Barrier::new(2));
    let g = go.clone();
    let prod = std::thread::spawn(move || {
        pin(0);
        g.wait();
        let mut i = 0;
        while i < N {
            if p.push(tick(i)).is_ok() {
                i += 1;
            } else {
                std::hint::spin_loop();
            }
        }
    });
    pin(1);
    go.wait();
    let t0 = Instant::now();
    let mut want = 0u64;
    while want < N {
        match c.pop() {
            Ok(t) => {
                assert_eq!(t.id, want);
                want += 1;
            }
            Err(_) => std::hint::spin_loop(),
        }
    }
    let el = t0.elapsed();
    prod.join().unwrap();
    el
}

fn run_crossbeam() -> Duration {
    let q = Arc::new(ArrayQueue::<Tick>::new(CAP));
    let go = Arc::new(Barrier::new(2));
    let (g, qp) = (go.clone(), q.clone());
    let prod = std::thread::spawn(move || {
        pin(0);
        g.wait();
        let mut i = 0;
        while i < N {
            if qp.push(tick(i)).is_ok() {
                i += 1;
            } else {
                std::hint::spin_loop();
            }
        }
    });
    pin(1);
    go.wait();
    let t0 = Instant::now();
    let mut want = 0u64;
    while want < N {
        match q.pop() {
            Some(t) => {
                assert_eq!(t.id, want);
                want += 1;
            }
            None => std::hint::spin_loop(),
        }
    }
    let el = t0.elapsed();
    prod.join().unwrap();
    el
}

fn spsc(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc_64B_ticks_across_cores");
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("rtrb_batched_pop", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run_rtrb_batched()).sum())
    });
    g.bench_function("rtrb_single_pop", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run_rtrb_single()).sum())
    });
    g.bench_function("crossbeam_array_queue", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run_crossbeam()).sum())
    });
    g.finish();
}

criterion_group!(benches, spsc);
criterion_main!(benches);
