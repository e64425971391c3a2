//! tickd's streaming aggregator against NautilusTrader's `TimeBarAggregator`
//! (crate `nautilus-data` 0.62.0), same ticks, same process, same run.
//!
//! Kept outside the tickd workspace (as rtrb keeps its rivals in
//! `performance-comparison/`): Nautilus needs a newer Rust than ours, builds
//! only with `--ignore-rust-version`, and is LGPL; nothing of it is vendored,
//! it is a crates.io dependency of this benchmark only.
//!
//! ```text
//! cd bench/compare-nautilus
//! cargo run --release --ignore-rust-version -- [--ticks N] [--runs R] [--json FILE]
//! ```
//!
//! Two cases, each tick fed once to every timeframe:
//! - `dense`: 1 symbol, 6 timeframes (1s 1m 5m 15m 1h 1d), 1 ms mean gap;
//! - `sparse`: 10 symbols, 6 timeframes, 2 s mean gap per symbol; once
//!   without and once with empty buckets filled on both sides (Nautilus `build_with_no_updates = true`,
//!   its default; tickd `fill_empty = true`), so both emit the same bars.
//!
//! Each case runs twice: ticks streamed from memory in one pass (tickd
//! `update` per tick), and ticks from cache — 4096-tick chunks, each read
//! once before its timing, as ticks fresh off a receive queue are (tickd
//! `update_all` per chunk, the batch form the engine's worker calls; Nautilus
//! tick by tick, it has no batch form).
//!
//! Nautilus is driven as its backtest engine drives it: historical mode, one
//! private `TestClock` per aggregator, advanced by each trade's `ts_init`.
//! Its input (`TradeTick` with fixed-point `Price`/`Quantity`) is converted
//! before the clock starts; tickd's input is the `mtf::Tick` slice.

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::Instant;

use mtf::{AggConfig, Aggregator, CountingSink, Side, Tick, Timeframe};
use nautilus_common::clock::{Clock, TestClock};
use nautilus_data::aggregation::{BarAggregator, TimeBarAggregator};
use nautilus_model::data::{Bar as NBar, BarSpecification, BarType, trade::TradeTick};
use nautilus_model::enums::{
    AggregationSource, AggressorSide, BarAggregation, BarIntervalType, PriceType,
};
use nautilus_model::identifiers::{InstrumentId, TradeId};
use nautilus_model::types::{Price, Quantity};

#[path = "../../src/synth.rs"]
#[allow(dead_code)]
mod synth;

use synth::{Synth, SynthConfig};

const SPECS: [(usize, BarAggregation, Timeframe); 6] = [
    (1, BarAggregation::Second, Timeframe::S1),
    (1, BarAggregation::Minute, Timeframe::M1),
    (5, BarAggregation::Minute, Timeframe::M5),
    (15, BarAggregation::Minute, Timeframe::M15),
    (1, BarAggregation::Hour, Timeframe::H1),
    (1, BarAggregation::Day, Timeframe::D1),
];

struct Case {
    name: &'static str,
    cfg: SynthConfig,
    fill: bool,
}

fn nautilus_trades(ticks: &[Tick], ids: &[InstrumentId]) -> Vec<TradeTick> {
    ticks
        .iter()
        .map(|t| TradeTick {
            instrument_id: ids[t.symbol as usize],
            price: Price::new(t.price, 2),
            size: Quantity::new(t.size, 0),
            aggressor_side: match t.side {
                Side::Buy => AggressorSide::Buy,
                Side::Sell => AggressorSide::Sell,
                Side::Unknown => AggressorSide::NoAggressor,
            },
            trade_id: TradeId::new(itoa_id(t.id).as_str()),
            ts_event: (t.ts_event as u64).into(),
            ts_init: (t.ts_event as u64).into(),
        })
        .collect()
}

fn itoa_id(id: u64) -> String {
    format!("{}", id + 1)
}

type Agg = Rc<RefCell<Box<dyn BarAggregator>>>;

/// Six aggregators per symbol, historical mode, each with its own clock.
fn nautilus_aggregators(
    ids: &[InstrumentId],
    fill: bool,
    bars: &Rc<RefCell<u64>>,
) -> Vec<Vec<Agg>> {
    ids.iter()
        .map(|&id| {
            SPECS
                .iter()
                .map(|&(step, agg, _)| {
                    let bar_type = BarType::new(
                        id,
                        BarSpecification::new(step, agg, PriceType::Last),
                        AggregationSource::Internal,
                    );
                    let clock: Rc<RefCell<dyn Clock>> = Rc::new(RefCell::new(TestClock::new()));
                    let counter = bars.clone();
                    let a = TimeBarAggregator::new(
                        bar_type,
                        2,
                        0,
                        clock,
                        |_b: NBar| {},
                        fill,
                        false,
                        BarIntervalType::LeftOpen,
                        None,
                        0,
                        false,
                    );
                    let rc: Agg = Rc::new(RefCell::new(Box::new(a)));
                    rc.borrow_mut().set_aggregator_weak(Rc::downgrade(&rc));
                    rc.borrow_mut().set_historical_mode(
                        true,
                        Box::new(move |b: NBar| {
                            black_box(b);
                            *counter.borrow_mut() += 1;
                        }),
                    );
                    rc.borrow_mut().set_is_running(true);
                    rc
                })
                .collect()
        })
        .collect()
}

/// Ticks per chunk in the from-cache mode: 256 KiB of `mtf::Tick`, about
/// what a receive queue hands over, well inside L2.
const CHUNK: usize = 4096;

/// Reads every cache line of `v` (outside the timing), so the chunk about to
/// be timed comes from cache, as ticks fresh off a receive queue do.
fn warm<T>(v: &[T]) {
    let bytes = std::mem::size_of_val(v);
    let p = v.as_ptr().cast::<u8>();
    let mut acc = 0u8;
    for off in (0..bytes).step_by(64) {
        // SAFETY: `off < bytes`, inside the slice's memory.
        acc ^= unsafe { p.add(off).read_volatile() };
    }
    black_box(acc);
}

/// `cached`: time chunk by chunk, each chunk warmed first (else the whole
/// slice, streamed from memory, in one timing).
fn run_nautilus(
    trades: &[TradeTick],
    ids: &[InstrumentId],
    sym_of: &[u32],
    fill: bool,
    cached: bool,
) -> (f64, u64) {
    let bars = Rc::new(RefCell::new(0u64));
    let aggs = nautilus_aggregators(ids, fill, &bars);
    let chunk = if cached { CHUNK } else { trades.len().max(1) };
    let mut dt = 0.0;
    for (tc, sc) in trades.chunks(chunk).zip(sym_of.chunks(chunk)) {
        if cached {
            warm(tc);
            warm(sc);
        }
        let t0 = Instant::now();
        for (tr, &s) in tc.iter().zip(sc) {
            for a in &aggs[s as usize] {
                a.borrow_mut().handle_trade(*tr);
            }
        }
        dt += t0.elapsed().as_secs_f64();
    }
    let n = *bars.borrow();
    (dt, n)
}

/// As [`run_nautilus`]; `cached` also hands each chunk to `update_all` (the
/// batch form of `update`, as the engine's worker calls it), else `update`
/// tick by tick.
fn run_tickd(ticks: &[Tick], fill: bool, cached: bool) -> (f64, u64) {
    let cfg = AggConfig {
        timeframes: SPECS.iter().map(|s| s.2).collect(),
        fill_empty: fill,
        max_fill_per_gap: 1 << 20,
        ..AggConfig::default()
    };
    let mut agg = Aggregator::new(cfg).expect("valid config");
    let mut sink = CountingSink::default();
    let mut dt = 0.0;
    if cached {
        for c in ticks.chunks(CHUNK) {
            warm(c);
            let t0 = Instant::now();
            agg.update_all(c, &mut sink);
            dt += t0.elapsed().as_secs_f64();
        }
    } else {
        let t0 = Instant::now();
        for t in ticks {
            agg.update(t, &mut sink);
        }
        dt = t0.elapsed().as_secs_f64();
    }
    black_box(&sink);
    (dt, sink.closed + sink.corrected + sink.open)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut n: usize = 2_000_000;
    let mut runs = 5usize;
    let mut json: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--ticks" => n = args.next().and_then(|v| v.parse().ok()).unwrap_or(n),
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(runs)
                    .max(1)
            }
            "--json" => json = args.next(),
            "--smoke" => {
                n = 50_000;
                runs = 1;
            }
            other => {
                eprintln!(
                    "unknown argument {other:?}; usage: [--ticks N] [--runs R] [--json FILE] [--smoke]"
                );
                std::process::exit(2);
            }
        }
    }
    let cases = [
        Case {
            name: "dense: 1 symbol, 6 timeframes",
            cfg: SynthConfig {
                symbols: 1,
                mean_gap_ns: 1_000_000,
                ..SynthConfig::default()
            },
            fill: false,
        },
        Case {
            name: "sparse: 10 symbols, 6 timeframes",
            cfg: SynthConfig {
                symbols: 10,
                mean_gap_ns: 200_000_000,
                ..SynthConfig::default()
            },
            fill: false,
        },
        Case {
            name: "sparse: 10 symbols, 6 timeframes, filled gaps",
            cfg: SynthConfig {
                symbols: 10,
                mean_gap_ns: 200_000_000,
                ..SynthConfig::default()
            },
            fill: true,
        },
    ];
    let mut out = Vec::new();
    println!(
        "| case | ticks from | ticks | tickd ns/tick | nautilus ns/tick | nautilus / tickd | bars tickd | bars nautilus |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (c, cached) in cases.iter().flat_map(|c| [(c, false), (c, true)]) {
        let from = if cached {
            "cache (4096-tick chunks; tickd `update_all`)"
        } else {
            "memory (one pass; tickd `update`)"
        };
        let ticks = Synth::new(c.cfg).take_vec(n);
        let ids: Vec<InstrumentId> = (0..c.cfg.symbols)
            .map(|k| InstrumentId::from(format!("{}.SIM", synth::symbol_name(k)).as_str()))
            .collect();
        let trades = nautilus_trades(&ticks, &ids);
        let sym_of: Vec<u32> = ticks.iter().map(|t| t.symbol).collect();
        let (mut tt, mut tn) = (Vec::new(), Vec::new());
        let (mut bars_t, mut bars_n) = (0, 0);
        for _ in 0..runs {
            let (dt, b) = run_tickd(&ticks, c.fill, cached);
            tt.push(dt * 1e9 / n as f64);
            bars_t = b;
            let (dn, b) = run_nautilus(&trades, &ids, &sym_of, c.fill, cached);
            tn.push(dn * 1e9 / n as f64);
            bars_n = b;
        }
        let (mt, mn) = (median(&mut tt), median(&mut tn));
        println!(
            "| {} | {from} | {n} | {mt:.2} | {mn:.1} | {:.0}× | {bars_t} | {bars_n} |",
            c.name,
            mn / mt
        );
        out.push(format!(
            "{{\"case\":\"{}\",\"from\":\"{}\",\"ticks\":{n},\"runs\":{runs},\"tickd_ns_per_tick\":{mt:.4},\"nautilus_ns_per_tick\":{mn:.4},\"ratio\":{:.2},\"bars_tickd\":{bars_t},\"bars_nautilus\":{bars_n}}}",
            c.name,
            if cached { "cache" } else { "memory" },
            mn / mt
        ));
    }
    if let Some(path) = json {
        let text = format!("[{}]\n", out.join(","));
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
}
