//! Issue 2 benchmark: batch 1-minute bars over 100M ticks from memory —
//! scalar, AVX2, AVX-512 — against a naive HashMap aggregator in the same run
//! (on a 10M-tick prefix: it is slow), as ticks per second.
//!
//! `cargo bench -p mtf --bench batch` (MTF_BENCH_BATCH_TICKS, default 100M;
//! about 2.5 GB of columns).
//!
//! The columns live in memory advised for transparent huge pages (2 MiB,
//! `madvise(MADV_HUGEPAGE)`), as a query engine keeps large column buffers;
//! `MTF_BENCH_HUGEPAGES=0` keeps 4 KiB pages (about 15 % slower here: one TLB
//! miss per 512 rows and column, and the hardware prefetcher stops at each
//! 4 KiB page boundary).

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mtf::batch::{Avx2, Avx512, BatchSpec, Kernel, SortedColumns};
use mtf::{Bar, Timeframe};

#[path = "common/batch_data.rs"]
mod batch_data;
use batch_data::{Cols, anon_huge_kb, columns, read_floor, read_floor_with_side};

fn naive(c: &Cols, n: usize, w: i64) -> usize {
    #[derive(Clone, Copy)]
    struct B {
        o: f64,
        h: f64,
        l: f64,
        c: f64,
        v: f64,
        pv: f64,
        n: u64,
    }
    let mut m: HashMap<i64, B> = HashMap::new();
    for i in 0..n {
        let (t, p, q) = (c.ts[i], c.price[i], c.size[i]);
        let s = t.div_euclid(w) * w;
        let b = m.entry(s).or_insert(B {
            o: p,
            h: p,
            l: p,
            c: p,
            v: 0.0,
            pv: 0.0,
            n: 0,
        });
        b.h = b.h.max(p);
        b.l = b.l.min(p);
        b.c = p;
        b.v += q;
        b.pv += p * q;
        b.n += 1;
    }
    black_box(
        m.values()
            .map(|b| b.o + b.h + b.l + b.c + b.v + b.pv + b.n as f64)
            .sum::<f64>(),
    );
    m.len()
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("MTF_BENCH_BATCH_TICKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000_000);
    let huge = std::env::var("MTF_BENCH_HUGEPAGES").map_or(true, |v| v != "0");
    let before = anon_huge_kb();
    let data = columns(n, huge);
    eprintln!(
        "batch columns: {n} rows, huge pages {}; AnonHugePages grew by {} MiB",
        if huge { "advised" } else { "off" },
        anon_huge_kb().saturating_sub(before) / 1024
    );
    let cols = SortedColumns::new(&data.ts, &data.price, &data.size, Some(&data.side)).unwrap();
    let spec = BatchSpec {
        symbol: 1,
        timeframe: Timeframe::M1,
        origin_ns: 0,
        flags: 0,
    };
    let mut kernels = vec![("scalar", Kernel::Scalar)];
    if let Some(k) = Avx2::detect() {
        kernels.push(("avx2", Kernel::Avx2(k)));
    }
    if let Some(k) = Avx512::detect() {
        kernels.push(("avx512", Kernel::Avx512(k)));
    }

    // Behaviour before timing: every kernel gives the same bars.
    let mut reference: Vec<Bar> = Vec::new();
    Kernel::Scalar.aggregate(&cols, &spec, &mut reference);
    for (name, k) in &kernels {
        let mut bars = Vec::new();
        k.aggregate(&cols, &spec, &mut bars);
        assert_eq!(bars.len(), reference.len(), "{name}");
        for (a, b) in bars.iter().zip(&reference) {
            assert_eq!(
                (
                    a.start, a.open, a.high, a.low, a.close, a.count, a.first_ts, a.last_ts
                ),
                (
                    b.start, b.open, b.high, b.low, b.close, b.count, b.first_ts, b.last_ts
                ),
                "{name}"
            );
            assert!((a.volume - b.volume).abs() <= 1e-12 * b.volume, "{name}");
            assert!(
                (a.vwap_num - b.vwap_num).abs() <= 1e-12 * b.vwap_num,
                "{name}"
            );
        }
    }
    let naive_n = n.min(10_000_000);
    assert_eq!(
        naive(&data, naive_n, Timeframe::M1.nanos()),
        {
            let c = SortedColumns::new(
                &data.ts[..naive_n],
                &data.price[..naive_n],
                &data.size[..naive_n],
                None,
            )
            .unwrap();
            let mut b = Vec::new();
            Kernel::Scalar.aggregate(&c, &spec, &mut b);
            b.len()
        },
        "naive bar count"
    );

    let mut g = c.benchmark_group("batch_1m");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    let mut out: Vec<Bar> = Vec::with_capacity(reference.len());
    for (name, k) in &kernels {
        g.bench_function(*name, |b| {
            b.iter(|| {
                out.clear();
                k.aggregate(&cols, &spec, &mut out);
                black_box(out.len())
            })
        });
    }
    // Reference: only reading the price and size columns, with the kernels'
    // software prefetch: the memory floor any kernel sits on.
    g.bench_function("reference_read_price_size", |b| {
        b.iter(|| black_box(read_floor(&data.price, &data.size)))
    });
    // The same with the side column: the floor for all the bytes the kernels read.
    g.bench_function("reference_read_price_size_side", |b| {
        b.iter(|| black_box(read_floor_with_side(&data.price, &data.size, &data.side)))
    });
    g.bench_function("validate_sorted_columns", |b| {
        b.iter(|| {
            black_box(
                SortedColumns::new(&data.ts, &data.price, &data.size, Some(&data.side)).is_ok(),
            )
        })
    });
    g.throughput(Throughput::Elements(naive_n as u64));
    g.bench_function("naive_hashmap_10M", |b| {
        b.iter(|| naive(&data, naive_n, Timeframe::M1.nanos()))
    });
    g.finish();

    // Six timeframes (1s 1m 5m 15m 1h 1d): one pass plus folding, against six
    // separate passes (the streaming aggregator's set), on a 10M-row prefix.
    let m = n.min(10_000_000);
    let cols = SortedColumns::new(
        &data.ts[..m],
        &data.price[..m],
        &data.size[..m],
        Some(&data.side[..m]),
    )
    .unwrap();
    let tfs = [
        Timeframe::S1,
        Timeframe::M1,
        Timeframe::M5,
        Timeframe::M15,
        Timeframe::H1,
        Timeframe::D1,
    ];
    let kernel = Kernel::best();
    let mut outs = vec![Vec::new(); tfs.len()];
    let mut g = c.benchmark_group("batch_6tf");
    g.sample_size(10);
    g.throughput(Throughput::Elements(m as u64));
    g.bench_function("aggregate_many", |b| {
        b.iter(|| {
            outs.iter_mut().for_each(Vec::clear);
            black_box(kernel.aggregate_many(&cols, &spec, &tfs, &mut outs))
        })
    });
    g.bench_function("six_passes", |b| {
        b.iter(|| {
            for (tf, o) in tfs.iter().zip(outs.iter_mut()) {
                o.clear();
                let s = BatchSpec {
                    timeframe: *tf,
                    ..spec
                };
                black_box(kernel.aggregate(&cols, &s, o));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
