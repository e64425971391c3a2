//! CPU-time harness for the streaming aggregator (on a shared, loaded machine
//! wall-clock benchmarks are noisy; this thread's CPU time is not affected by
//! time slicing). Linux only: reads `CLOCK_THREAD_CPUTIME_ID`.
//!
//! `cargo run --release -p mtf --example stream_cpu [ticks] [passes] [variant]`
//! (variant: one name exactly, default all). Environment: `STEP=ns` the
//! largest gap between two dense ticks (default 2 ms; 20 us keeps all 20k
//! ticks within one second, so no rolls: the hot path alone); `WARM=1` runs
//! the same ticks a day earlier through each aggregator before timing (its
//! symbols already known, as in a running daemon); `SYMS=1..=10` the number
//! of symbols (default 10). `sparse_filled_fold_update_all` is the sparse
//! stream with empty buckets filled; the `nautilus_*` variants are the cases
//! of `bench/compare-nautilus` as it runs tickd from cache (its synthetic
//! ticks, `update_all` per 4096-tick chunk, a `CountingSink`).

use std::hint::black_box;

use mtf::{AggConfig, Aggregator, BarEvent, CountingSink, OpenUpdates, Side, Tick};

/// The synthetic ticks of the tickd benchmarks (`bench/src/synth.rs`, which
/// depends on `mtf` and `std` only, as `bench/compare-nautilus` includes it).
#[path = "../../bench/src/synth.rs"]
#[allow(dead_code)]
mod synth;

/// This thread's CPU time, ns (`CLOCK_THREAD_CPUTIME_ID`: exact to the
/// call; `/proc/thread-self/schedstat`, used before, moved in steps of a
/// scheduler tick, several % of a 50 ms pass).
fn on_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `step`: the largest gap between two ticks (of any symbol), ns; the mean is
/// half of it. 2 ms: dense (~100 ticks per second per symbol); 400 ms:
/// sparse (each symbol ~2 s apart, so every tick starts a new 1 s bar).
fn ticks(n: usize, step: u64) -> Vec<Tick> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut ts = 1_700_000_000_000_000_000i64;
    let mut px = [100.0f64; 10];
    let syms: u32 = std::env::var("SYMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10u32)
        .clamp(1, 10);
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let r = x;
            ts += (r % step) as i64;
            let s = (r >> 32) as u32 % syms;
            let p = &mut px[s as usize];
            *p += ((r >> 40) % 21) as f64 * 0.01 - 0.1;
            let side = Side::from_u8(((r >> 50) % 3) as u8);
            Tick::trade(s, ts, *p, ((r >> 20) % 1000) as f64 * 0.001, side, i as u64)
        })
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let passes: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let only = args.next().unwrap_or_default();
    let dense_step: u64 = std::env::var("STEP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let ticks_dense = ticks(n, dense_step);
    let ticks_sparse = ticks(n, 400_000_000);
    let ticks = &ticks_dense;
    // Calibration: a plain array-of-structs OHLC per symbol for 1 and for 6
    // timeframes (the reference point), without any of the contract.
    {
        #[derive(Clone, Copy, Default)]
        struct B {
            end: i64,
            o: f64,
            h: f64,
            l: f64,
            c: f64,
            v: f64,
            n: u64,
        }
        const W: [i64; 6] = [1, 60, 300, 900, 3600, 86400];
        for ntf in [1usize, 6] {
            let mut total = 0u64;
            let mut closed = 0u64;
            for _ in 0..passes {
                let mut bars = [[B::default(); 6]; 10];
                let t0 = on_cpu_ns();
                for t in ticks {
                    for (k, b) in bars[t.symbol as usize][..ntf].iter_mut().enumerate() {
                        if t.ts_event >= b.end {
                            closed += 1;
                            let w = W[k] * 1_000_000_000;
                            *b = B {
                                end: t.ts_event - t.ts_event.rem_euclid(w) + w,
                                o: t.price,
                                h: t.price,
                                l: t.price,
                                ..B::default()
                            };
                        }
                        b.h = if t.price > b.h { t.price } else { b.h };
                        b.l = if t.price < b.l { t.price } else { b.l };
                        b.c = t.price;
                        b.v += t.size;
                        b.n += 1;
                    }
                }
                total += on_cpu_ns() - t0;
                black_box(
                    bars.iter()
                        .flatten()
                        .map(|b| b.o + b.h + b.l + b.c + b.v + b.n as f64)
                        .sum::<f64>(),
                );
            }
            black_box(closed);
            let per = total as f64 / (n * passes) as f64;
            println!("calibration_aos_{ntf}tf: {per:.2} ns/tick");
        }
    }
    for (name, fold, open, sparse, all) in [
        ("closed_only_fold", true, OpenUpdates::None, false, false),
        (
            "closed_only_fold_update_all",
            true,
            OpenUpdates::None,
            false,
            true,
        ),
        ("closed_only_direct", false, OpenUpdates::None, false, false),
        (
            "open_every_tick_fold",
            true,
            OpenUpdates::EveryTick,
            false,
            false,
        ),
        (
            "sparse_closed_only_fold",
            true,
            OpenUpdates::None,
            true,
            false,
        ),
        (
            "sparse_closed_only_fold_update_all",
            true,
            OpenUpdates::None,
            true,
            true,
        ),
        (
            "sparse_filled_fold_update_all",
            true,
            OpenUpdates::None,
            true,
            true,
        ),
    ] {
        if !only.is_empty() && name != only {
            continue;
        }
        let cfg = AggConfig {
            fold,
            open_updates: open,
            fill_empty: name.contains("filled"),
            ..AggConfig::default()
        };
        let mut total = 0u64;
        for _ in 0..passes {
            let mut agg = Aggregator::new(cfg.clone()).unwrap();
            let mut out: Vec<BarEvent> = Vec::with_capacity(agg.max_events_per_update());
            let ticks = if sparse { &ticks_sparse } else { &ticks_dense };
            if std::env::var_os("WARM").is_some() {
                let span = 86_400_000_000_000;
                for t in ticks {
                    let mut w = *t;
                    w.ts_event -= span;
                    agg.update(&w, &mut out);
                    out.clear();
                }
            }
            let t0 = on_cpu_ns();
            if all {
                for batch in ticks.chunks(256) {
                    agg.update_all(batch, &mut out);
                    black_box(out.as_slice());
                    out.clear();
                }
            }
            for t in ticks.iter().take(if all { 0 } else { ticks.len() }) {
                agg.update(t, &mut out);
                if !out.is_empty() {
                    black_box(out.as_slice());
                    out.clear();
                }
            }
            let dt = on_cpu_ns() - t0;
            total += dt;
            black_box(&agg);
        }
        let per = total as f64 / (n * passes) as f64;
        println!("{name}: {per:.2} ns/tick (on-CPU, mean of {passes} passes of {n} ticks)");
    }
    // The cases of `bench/compare-nautilus`, as it runs tickd from cache:
    // the same synthetic ticks, `update_all` per 4096-tick chunk, a
    // `CountingSink`, `max_fill_per_gap = 1 << 20`.
    // (Generated whatever the variant, so that `instr.sh`'s baseline
    // includes them.)
    let synth_ticks = |symbols, mean_gap_ns| {
        synth::Synth::new(synth::SynthConfig {
            symbols,
            mean_gap_ns,
            ..synth::SynthConfig::default()
        })
        .take_vec(n)
    };
    let (dense, sparse) = (synth_ticks(1, 1_000_000), synth_ticks(10, 200_000_000));
    for (name, ticks, fill) in [
        ("nautilus_dense", &dense, false),
        ("nautilus_sparse", &sparse, false),
        ("nautilus_sparse_filled", &sparse, true),
    ] {
        if !only.is_empty() && name != only {
            continue;
        }
        let cfg = AggConfig {
            fill_empty: fill,
            max_fill_per_gap: 1 << 20,
            ..AggConfig::default()
        };
        let mut total = 0u64;
        for _ in 0..passes {
            let mut agg = Aggregator::new(cfg.clone()).unwrap();
            let mut sink = CountingSink::default();
            let t0 = on_cpu_ns();
            for c in ticks.chunks(4096) {
                agg.update_all(c, &mut sink);
            }
            total += on_cpu_ns() - t0;
            black_box((&agg, sink));
        }
        let per = total as f64 / (n * passes) as f64;
        println!("{name}: {per:.2} ns/tick (on-CPU, mean of {passes} passes of {n} ticks)");
    }
}
