//! Test helpers: a naive reference aggregator sharing no code with the crate,
//! tick stream generators, and bar comparison.
#![allow(dead_code)]

use std::collections::BTreeMap;

use mtf::{Bar, BarEvent, BarEventKind, Side, Tick, Timeframe};
use proptest::prelude::*;

/// The naive reference bar: plain fields, filled in arrival order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefBar {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub vwap_num: f64,
    pub buy: f64,
    pub sell: f64,
    pub count: u64,
    pub first_ts: i64,
    pub last_ts: i64,
}

/// Key: (symbol, timeframe ms, bucket start).
pub type Key = (u32, u32, i64);

fn floor_bucket(ts: i64, w: i64, origin: i64) -> i64 {
    let o = origin.rem_euclid(w);
    let rel = ts - o;
    let mut k = rel / w;
    if rel % w != 0 && rel < 0 {
        k -= 1;
    }
    k * w + o
}

fn ok(ts: i64, p: f64, q: f64) -> bool {
    (-(1i64 << 62)..=(1i64 << 62)).contains(&ts) && p.is_finite() && q.is_finite() && q >= 0.0
}

/// The reference: every valid tick whose bucket end + lateness is after its
/// symbol's watermark (the highest valid event time so far, this tick
/// included) goes into its bucket; open/close by event time, ties by arrival.
pub fn naive(
    ticks: &[Tick],
    tfs: &[Timeframe],
    origin: i64,
    lateness: i64,
) -> BTreeMap<Key, RefBar> {
    let mut wm: BTreeMap<u32, i64> = BTreeMap::new();
    let mut bars: BTreeMap<Key, RefBar> = BTreeMap::new();
    for t in ticks {
        if !ok(t.ts_event, t.price, t.size) {
            continue;
        }
        let w = wm.entry(t.symbol).or_insert(i64::MIN);
        if t.ts_event > *w {
            *w = t.ts_event;
        }
        let w = *w;
        for tf in tfs {
            let width = tf.millis() as i64 * 1_000_000;
            let s = floor_bucket(t.ts_event, width, origin);
            if s + width + lateness <= w {
                continue;
            }
            let b = bars.entry((t.symbol, tf.millis(), s)).or_insert(RefBar {
                open: t.price,
                high: t.price,
                low: t.price,
                close: t.price,
                volume: 0.0,
                vwap_num: 0.0,
                buy: 0.0,
                sell: 0.0,
                count: 0,
                first_ts: t.ts_event,
                last_ts: t.ts_event,
            });
            b.high = b.high.max(t.price);
            b.low = b.low.min(t.price);
            if t.ts_event < b.first_ts {
                b.first_ts = t.ts_event;
                b.open = t.price;
            }
            if t.ts_event >= b.last_ts {
                b.last_ts = t.ts_event;
                b.close = t.price;
            }
            b.volume += t.size;
            b.vwap_num += t.price * t.size;
            if t.side == Side::Buy {
                b.buy += t.size;
            }
            if t.side == Side::Sell {
                b.sell += t.size;
            }
            b.count += 1;
        }
    }
    bars
}

/// The newest emission (highest revision) of every bar, from an event log;
/// checks on the way that each bar is closed once, corrections count up by
/// one, and (when `ordered`) closes come in start order per (symbol,
/// timeframe). With `CloseAt::End` a late tick may create a bar in an empty
/// bucket older than bars already closed: it is closed at once, out of order.
pub fn final_bars(events: &[BarEvent], ordered: bool) -> BTreeMap<Key, Bar> {
    let mut out: BTreeMap<Key, Bar> = BTreeMap::new();
    let mut last_closed: BTreeMap<(u32, u32), i64> = BTreeMap::new();
    for ev in events {
        let b = ev.bar;
        let key = (b.symbol, b.timeframe.millis(), b.start);
        match ev.kind {
            BarEventKind::Open => {
                assert!(b.flags & Bar::FLAG_OPEN != 0);
                assert!(!out.contains_key(&key), "open update after close: {b:?}");
            }
            BarEventKind::Closed => {
                assert_eq!(b.revision, 0);
                assert!(out.insert(key, b).is_none(), "closed twice: {b:?}");
                let lc = last_closed
                    .entry((b.symbol, b.timeframe.millis()))
                    .or_insert(i64::MIN);
                assert!(!ordered || b.start > *lc, "closes out of order: {b:?}");
                *lc = (*lc).max(b.start);
            }
            BarEventKind::Corrected => {
                let prev = out.get(&key).expect("correction of a bar never closed");
                assert_eq!(b.revision, prev.revision + 1);
                out.insert(key, b);
            }
        }
    }
    out
}

/// Relative closeness for sums (1e-12), exact for zero.
pub fn close_rel(a: f64, b: f64) -> bool {
    if a == b {
        return true;
    }
    let scale = a.abs().max(b.abs());
    (a - b).abs() <= 1e-12 * scale
}

/// Exact OHLC/count/first/last, sums within 1e-12 relative (or exact).
pub fn assert_bar_matches(key: &Key, b: &Bar, r: &RefBar, exact_sums: bool) {
    let ctx = format!("{key:?}: got {b:?}, want {r:?}");
    assert_eq!(b.open, r.open, "open {ctx}");
    assert_eq!(b.high, r.high, "high {ctx}");
    assert_eq!(b.low, r.low, "low {ctx}");
    assert_eq!(b.close, r.close, "close {ctx}");
    assert_eq!(b.count, r.count, "count {ctx}");
    assert_eq!(b.first_ts, r.first_ts, "first {ctx}");
    assert_eq!(b.last_ts, r.last_ts, "last {ctx}");
    let sums = [
        (b.volume, r.volume),
        (b.vwap_num, r.vwap_num),
        (b.buy_volume, r.buy),
        (b.sell_volume, r.sell),
    ];
    for (x, y) in sums {
        if exact_sums {
            assert_eq!(x, y, "sum {ctx}");
        } else {
            assert!(close_rel(x, y), "sum {x} vs {y} {ctx}");
        }
    }
    let vwap = if r.volume > 0.0 {
        r.vwap_num / r.volume
    } else {
        r.close
    };
    assert!(
        close_rel(b.vwap, vwap) || (b.vwap - vwap).abs() < 1e-9,
        "vwap {ctx}"
    );
    assert_eq!(b.end, b.start + b.timeframe.nanos());
}

pub fn compare_maps(got: &BTreeMap<Key, Bar>, want: &BTreeMap<Key, RefBar>, exact_sums: bool) {
    let gk: Vec<_> = got.keys().collect();
    let wk: Vec<_> = want.keys().collect();
    assert_eq!(gk, wk, "different bar sets");
    for (k, r) in want {
        assert_bar_matches(k, &got[k], r, exact_sums);
    }
}

/// A value generator that is mostly sane, sometimes hostile.
pub fn price() -> impl Strategy<Value = f64> {
    prop_oneof![
        20 => (9_000i64..=9_100).prop_map(|c| c as f64 / 4.0),
        2 => (1i64..=1_000_000).prop_map(|c| c as f64 * 0.01),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-12.5),
        1 => Just(0.0),
    ]
}

pub fn size() -> impl Strategy<Value = f64> {
    prop_oneof![
        20 => (1i64..=5_000).prop_map(|c| c as f64 / 1000.0),
        2 => Just(0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(-1.0),
    ]
}

pub fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Unknown), Just(Side::Buy), Just(Side::Sell)]
}

/// Time steps: equal stamps, small steps, jumps to bucket edges, long gaps,
/// and (when `late`) steps back in time.
pub fn step(late: bool) -> impl Strategy<Value = i64> {
    let back = if late { 3 } else { 0 };
    prop_oneof![
        6 => Just(0i64),
        10 => 1i64..=400_000_000,
        3 => (1i64..=4).prop_map(|k| k * 250_000_000),
        3 => (1i64..=3).prop_map(|k| k * 60_000_000_000),
        1 => (1i64..=3).prop_map(|k| k * 3_600_000_000_000),
        1 => Just(86_400_000_000_000i64),
        back => (1i64..=5_000_000_000).prop_map(|d| -d),
    ]
}

/// Ticks for `nsym` symbols, interleaved, each symbol's clock advancing by `step`.
pub fn ticks(nsym: u32, max_len: usize, late: bool) -> impl Strategy<Value = Vec<Tick>> {
    let base = 1_582_329_600_000_000_000i64; // 2020-02-22 00:00 UTC
    proptest::collection::vec((0..nsym, step(late), price(), size(), side()), 1..max_len).prop_map(
        move |rows| {
            let mut clock = vec![base; nsym as usize];
            rows.into_iter()
                .enumerate()
                .map(|(i, (s, d, p, q, sd))| {
                    let c = &mut clock[s as usize];
                    *c += d;
                    Tick::trade(s, *c, p, q, sd, i as u64)
                })
                .collect()
        },
    )
}

/// Events from a `Vec` sink, drained.
pub fn drain(v: &mut Vec<BarEvent>) -> Vec<BarEvent> {
    std::mem::take(v)
}
