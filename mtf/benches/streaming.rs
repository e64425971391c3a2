//! Issue 2 benchmark: streaming, 6 timeframes (1s 1m 5m 15m 1h 1d), 10
//! symbols interleaved; ns per tick, against a naive HashMap-per-timeframe
//! aggregator in the same run.
//!
//! `cargo bench -p mtf --bench streaming`; `sparse_closed_only_fold` runs
//! ticks ~2 s apart per symbol (every tick starts a new 1 s bar). The
//! `_update_all` variants hand the ticks over in batches of 256
//! (`Aggregator::update_all`, as the engine's worker does); the others call
//! `update` once per tick. MTF_BENCH_STREAM_TICKS (default
//! 20,000 = 1.3 MB, so ticks come from cache as they do from the engine's
//! queue; 2,000,000 measures ticks streamed from memory). Each iteration
//! starts a fresh aggregator (created outside the timing; first sight of the
//! 10 symbols inside it). A plain array-of-structs OHLC for the same 6
//! timeframes (no lateness, no validation, no events) is the issue's
//! reference point, measured in the same run.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mtf::{AggConfig, Aggregator, BarEvent, CountingSink, OpenUpdates, Side, Tick, Timeframe};

const SYMBOLS: u32 = 10;

/// Ticks per `update_all` call.
const BATCH: usize = 256;

/// Ticks of 10 symbols, `step / 2` ns apart on average overall (2 ms: about
/// 100 per second per symbol; 400 ms: each symbol ~2 s apart, so every tick
/// starts a new 1 s bar), prices on a random walk, sides mixed, some equal
/// timestamps.
fn ticks(n: usize, step: u64) -> Vec<Tick> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut ts = 1_700_000_000_000_000_000i64;
    let mut px = [100.0f64; SYMBOLS as usize];
    (0..n)
        .map(|i| {
            let r = rnd();
            ts += (r % step) as i64;
            let s = (r >> 32) as u32 % SYMBOLS;
            let p = &mut px[s as usize];
            *p += ((r >> 40) % 21) as f64 * 0.01 - 0.1;
            let side = match (r >> 50) % 3 {
                0 => Side::Unknown,
                1 => Side::Buy,
                _ => Side::Sell,
            };
            Tick::trade(s, ts, *p, ((r >> 20) % 1000) as f64 * 0.001, side, i as u64)
        })
        .collect()
}

#[derive(Clone, Copy)]
struct NaiveBar {
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    vwap_num: f64,
    count: u64,
}

/// The straightforward version: per timeframe a HashMap from (symbol, bucket
/// start) to the open bar; a bar is emitted when its symbol moves on.
struct Naive {
    tfs: Vec<i64>,
    open: Vec<HashMap<(u32, i64), NaiveBar>>,
    current: Vec<HashMap<u32, i64>>,
    closed: u64,
}

impl Naive {
    fn new(tfs: &[Timeframe]) -> Naive {
        Naive {
            tfs: tfs.iter().map(|t| t.nanos()).collect(),
            open: tfs.iter().map(|_| HashMap::new()).collect(),
            current: tfs.iter().map(|_| HashMap::new()).collect(),
            closed: 0,
        }
    }

    fn update(&mut self, t: &Tick) {
        for k in 0..self.tfs.len() {
            let w = self.tfs[k];
            let start = t.ts_event.div_euclid(w) * w;
            if let Some(prev) = self.current[k].insert(t.symbol, start)
                && prev != start
                && let Some(b) = self.open[k].remove(&(t.symbol, prev))
            {
                black_box(b);
                self.closed += 1;
            }
            let b = self.open[k].entry((t.symbol, start)).or_insert(NaiveBar {
                open: t.price,
                high: t.price,
                low: t.price,
                close: t.price,
                volume: 0.0,
                vwap_num: 0.0,
                count: 0,
            });
            b.high = b.high.max(t.price);
            b.low = b.low.min(t.price);
            b.close = t.price;
            b.volume += t.size;
            b.vwap_num += t.price * t.size;
            b.count += 1;
            black_box(b.open);
        }
    }
}

/// A plain array-of-structs OHLC per (symbol, timeframe): what any
/// aggregator must at least do, without the contract (validation, lateness,
/// first/last time, side volumes, events).
fn aos_6tf(ticks: &[Tick]) -> f64 {
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
    let mut bars = [[B::default(); 6]; SYMBOLS as usize];
    let mut closed = 0u64;
    for t in ticks {
        for (k, b) in bars[t.symbol as usize].iter_mut().enumerate() {
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
    closed as f64
        + bars
            .iter()
            .flatten()
            .map(|b| b.o + b.h + b.l + b.c + b.v + b.n as f64)
            .sum::<f64>()
}

fn ticks_sparse(n: usize) -> Vec<Tick> {
    ticks(n, 400_000_000)
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("MTF_BENCH_STREAM_TICKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let ticks = ticks(n, 2_000_000);
    let sparse = ticks_sparse(n);
    let base = AggConfig::default();

    // Behaviour before timing: both versions close the same number of bars.
    let mut agg = Aggregator::new(base.clone()).unwrap();
    let mut sink = CountingSink::default();
    for t in &ticks {
        agg.update(t, &mut sink);
    }
    let mut naive = Naive::new(&base.timeframes);
    for t in &ticks {
        naive.update(t);
    }
    assert_eq!(sink.closed, naive.closed, "closed bar counts differ");
    assert!(agg.folds());

    let mut g = c.benchmark_group("streaming_6tf_10sym");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(50);
    // `update_all` over batches of `BATCH` ticks, each batch's events handed
    // on after it, as the engine's worker does with what it takes from its
    // queue (same events and state as `update` per tick; the loop keeps the
    // symbol table in registers and, on AVX machines, runs three-operand
    // code).
    for (name, ticks) in [
        ("closed_only_fold_update_all", &ticks),
        ("sparse_closed_only_fold_update_all", &sparse),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let agg = Aggregator::new(base.clone()).unwrap();
                    let out: Vec<BarEvent> = Vec::with_capacity(agg.max_events_per_update());
                    (agg, out)
                },
                |(mut agg, mut out)| {
                    for batch in ticks.chunks(BATCH) {
                        agg.update_all(batch, &mut out);
                        black_box(out.as_slice());
                        out.clear();
                    }
                    (agg, out)
                },
                BatchSize::LargeInput,
            )
        });
    }
    for (name, fold, open, ticks) in [
        ("closed_only_fold", true, OpenUpdates::None, &ticks),
        ("closed_only_direct", false, OpenUpdates::None, &ticks),
        ("open_every_tick_fold", true, OpenUpdates::EveryTick, &ticks),
        (
            "open_every_tick_direct",
            false,
            OpenUpdates::EveryTick,
            &ticks,
        ),
        ("sparse_closed_only_fold", true, OpenUpdates::None, &sparse),
    ] {
        let cfg = AggConfig {
            fold,
            open_updates: open,
            ..base.clone()
        };
        g.bench_function(name, |b| {
            b.iter_batched(
                // The sink is sized once, as a caller does (its capacity,
                // ~16 MB with the default fill bound, is never touched but
                // would cost an mmap/munmap per iteration).
                || {
                    let agg = Aggregator::new(cfg.clone()).unwrap();
                    let out: Vec<BarEvent> = Vec::with_capacity(agg.max_events_per_update());
                    (agg, out)
                },
                // The events are handed on when there are some, as a
                // publisher does. (Doing it after every tick, empty or not,
                // made each tick reload the `Vec`'s pointer and length with
                // one 16-byte load right after the 8-byte store of the
                // length: a failed store-to-load forward, ~2.5 ns of
                // harness per tick.)
                |(mut agg, mut out)| {
                    for t in ticks {
                        agg.update(t, &mut out);
                        if !out.is_empty() {
                            black_box(out.as_slice());
                            out.clear();
                        }
                    }
                    (agg, out)
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.bench_function("reference_plain_aos_6tf", |b| b.iter(|| aos_6tf(&ticks)));
    g.bench_function("naive_hashmap_per_timeframe", |b| {
        b.iter_batched(
            || Naive::new(&base.timeframes),
            |mut nv| {
                for t in &ticks {
                    nv.update(t);
                }
                nv
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
