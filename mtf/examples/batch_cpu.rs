//! CPU-time harness for the batch kernels (the criterion bench `batch` is the
//! wall-clock reference; on a shared, loaded machine wall time is noisy, while
//! on-CPU time from the scheduler is not affected by time slicing). Linux
//! only: reads /proc/thread-self/schedstat.
//!
//! `cargo run --release -p mtf --example batch_cpu [ticks] [passes] [kernels]`
//! (defaults 20M ticks, 11 passes, every kernel; `kernels` is a comma list
//! of names to run, e.g. `avx2,read_floor`; `MTF_BENCH_HUGEPAGES=0` for
//! 4 KiB pages).
//! Small `ticks` (e.g. 50000, in cache) show the kernels' compute cost.
//! Prints the median M ticks/s of each kernel and of the read-only floors
//! (price and size; price, size and side),
//! the kernels interleaved pass by pass so that they see the same machine.

use std::hint::black_box;

use mtf::Timeframe;
use mtf::batch::{Avx2, Avx512, BatchSpec, Kernel, SortedColumns};

#[path = "../benches/common/batch_data.rs"]
mod batch_data;
use batch_data::{anon_huge_kb, columns, read_floor, read_floor_with_side};

fn on_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000_000);
    let passes: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(11);
    let only = args.next();
    let huge = std::env::var("MTF_BENCH_HUGEPAGES").map_or(true, |v| v != "0");
    let before = anon_huge_kb();
    let data = columns(n, huge);
    println!(
        "{n} rows, huge pages {} (AnonHugePages +{} MiB)",
        if huge { "advised" } else { "off" },
        anon_huge_kb().saturating_sub(before) / 1024
    );
    let cols = SortedColumns::new(&data.ts, &data.price, &data.size, Some(&data.side))
        .expect("generated columns are sorted");
    let spec = BatchSpec {
        symbol: 1,
        timeframe: Timeframe::M1,
        origin_ns: 0,
        flags: 0,
    };
    let mut kernels = vec![("scalar", Some(Kernel::Scalar))];
    if let Some(k) = Avx2::detect() {
        kernels.push(("avx2", Some(Kernel::Avx2(k))));
    }
    if let Some(k) = Avx512::detect() {
        kernels.push(("avx512", Some(Kernel::Avx512(k))));
    }
    kernels.push(("read_floor", None));
    kernels.push(("read_floor_side", None));
    if let Some(only) = &only {
        kernels.retain(|(name, _)| only.split(',').any(|o| o == *name));
    }
    let mut out = Vec::new();
    let mut rates = vec![Vec::new(); kernels.len()];
    // On-CPU time advances in scheduler ticks (4 ms on our VM): repeat runs
    // so that each sample covers at least ~400M rows (~0.4 s at 1 G ticks/s,
    // so a tick is 1 % of a sample).
    let reps = (400_000_000 / n.max(1)).max(1);
    for _ in 0..passes {
        for (i, (name, k)) in kernels.iter().enumerate() {
            let t0 = on_cpu_ns();
            for _ in 0..reps {
                match k {
                    Some(k) => {
                        out.clear();
                        k.aggregate(&cols, &spec, &mut out);
                        black_box(out.len());
                    }
                    None if *name == "read_floor" => {
                        black_box(read_floor(&data.price, &data.size));
                    }
                    None => {
                        black_box(read_floor_with_side(&data.price, &data.size, &data.side));
                    }
                }
            }
            let ns = on_cpu_ns().saturating_sub(t0).max(1);
            rates[i].push((n * reps) as f64 / ns as f64 * 1e3);
        }
    }
    for ((name, _), r) in kernels.iter().zip(&mut rates) {
        println!(
            "{name:16} {:8.1} M ticks/s (median of {passes}, on-CPU)",
            median(r)
        );
    }
}
