//! Issue 2: alignment case tables, empty-bucket fill, the wall-clock timer,
//! restored state, quote bars, corrections, open updates, config errors, and
//! "never panics, whatever the input".

use mtf::batch::{BatchSpec, Kernel, SortedColumns};
use mtf::{
    AggConfig, Aggregator, Bar, BarEvent, BarEventKind, BarSource, CloseAt, ConfigError,
    OpenUpdates, QuotePrice, SeedError, Side, Tick, Timeframe,
};
use proptest::prelude::*;
use rstest::rstest;

const S: i64 = 1_000_000_000;
const MIN: i64 = 60 * S;
const H: i64 = 60 * MIN;
const D: i64 = 24 * H;

fn cfg(tfs: &[&str]) -> AggConfig {
    AggConfig {
        timeframes: tfs.iter().map(|s| s.parse().unwrap()).collect(),
        ..AggConfig::default()
    }
}

fn feed(agg: &mut Aggregator, ticks: &[Tick]) -> Vec<BarEvent> {
    let mut out = Vec::new();
    for t in ticks {
        agg.update(t, &mut out);
    }
    out
}

fn closed(ev: &[BarEvent]) -> Vec<Bar> {
    ev.iter()
        .filter(|e| e.kind == BarEventKind::Closed)
        .map(|e| e.bar)
        .collect()
}

/// (timeframe, origin, tick times, expected (start, count) of each bar).
#[rstest]
#[case("250ms", 0, &[0, 249_999_999, 250_000_000], &[(0, 2), (250_000_000, 1)])]
#[case("250ms", 100_000_000, &[99_999_999, 100_000_000], &[(-150_000_000, 1), (100_000_000, 1)])]
#[case("1s", 0, &[-1, 0], &[(-S, 1), (0, 1)])]
#[case("4h", 0, &[4 * H - 1, 4 * H, 8 * H - 1], &[(0, 1), (4 * H, 2)])]
#[case("4h", 2 * H, &[2 * H - 1, 2 * H, 6 * H], &[(-2 * H, 1), (2 * H, 1), (6 * H, 1)])]
#[case("1d", 0, &[D - 1, D, 2 * D + 5], &[(0, 1), (D, 1), (2 * D, 1)])]
// a session day starting 17:00 New York (22:00 UTC in winter)
#[case("1d", 22 * H, &[22 * H - 1, 22 * H, D + 22 * H - 1], &[(22 * H - D, 1), (22 * H, 2)])]
// negative origins: the same grid as origin + width
#[case("1h", -15 * MIN, &[44 * MIN, 45 * MIN], &[(-15 * MIN, 1), (45 * MIN, 1)])]
#[case("1d", -2 * H, &[22 * H - 1, 22 * H], &[(-2 * H, 1), (22 * H, 1)])]
#[case("1m", -1, &[MIN - 2, MIN - 1], &[(-1, 1), (MIN - 1, 1)])]
fn alignment_edges(
    #[case] tf: &str,
    #[case] origin: i64,
    #[case] ts: &[i64],
    #[case] want: &[(i64, u64)],
) {
    let base = 1_600_000_000 * S - (1_600_000_000 * S).rem_euclid(D); // a UTC midnight
    let tfv: Timeframe = tf.parse().unwrap();
    let ticks: Vec<Tick> = ts
        .iter()
        .map(|&t| Tick::trade(1, base + t, 10.0, 1.0, Side::Buy, 0))
        .collect();
    let mut agg = Aggregator::new(AggConfig {
        origin_ns: origin,
        ..cfg(&[tf])
    })
    .unwrap();
    let mut ev = feed(&mut agg, &ticks);
    agg.flush(&mut ev);
    let got: Vec<(i64, u64)> = closed(&ev)
        .iter()
        .map(|b| {
            assert_eq!(b.end - b.start, tfv.nanos());
            (b.start - base, b.count)
        })
        .collect();
    assert_eq!(got, want);
    let t: Vec<i64> = ticks.iter().map(|t| t.ts_event).collect();
    let p = vec![10.0; t.len()];
    let q = vec![1.0; t.len()];
    let cols = SortedColumns::new(&t, &p, &q, None).unwrap();
    let mut bars = Vec::new();
    Kernel::best().aggregate(
        &cols,
        &BatchSpec {
            symbol: 1,
            timeframe: tfv,
            origin_ns: origin,
            flags: 0,
        },
        &mut bars,
    );
    let got: Vec<(i64, u64)> = bars.iter().map(|b| (b.start - base, b.count)).collect();
    assert_eq!(got, want);
}

#[test]
fn empty_buckets_fill_with_the_previous_close() {
    let mut agg = Aggregator::new(AggConfig {
        fill_empty: true,
        ..cfg(&["1s"])
    })
    .unwrap();
    let ev = feed(
        &mut agg,
        &[
            Tick::trade(0, 0, 10.0, 1.0, Side::Buy, 0),
            Tick::trade(0, S / 2, 11.0, 1.0, Side::Sell, 0),
            Tick::trade(0, 3 * S + 1, 12.0, 2.0, Side::Buy, 0),
        ],
    );
    let b = closed(&ev);
    assert_eq!(b.len(), 3);
    assert_eq!((b[0].start, b[0].close, b[0].count), (0, 11.0, 2));
    for (k, f) in b[1..].iter().enumerate() {
        assert_eq!(f.start, (k as i64 + 1) * S);
        assert_eq!((f.open, f.high, f.low, f.close), (11.0, 11.0, 11.0, 11.0));
        assert_eq!((f.volume, f.count, f.vwap), (0.0, 0, 11.0));
        assert!(f.flags & Bar::FLAG_FILLED != 0);
    }
    // A long gap is capped; the skipped buckets are counted.
    let mut agg = Aggregator::new(AggConfig {
        fill_empty: true,
        max_fill_per_gap: 5,
        ..cfg(&["1s"])
    })
    .unwrap();
    let ev = feed(
        &mut agg,
        &[
            Tick::trade(0, 0, 10.0, 1.0, Side::Buy, 0),
            Tick::trade(0, 100 * S, 12.0, 2.0, Side::Buy, 0),
        ],
    );
    let b = closed(&ev);
    assert_eq!(b.len(), 6);
    assert_eq!(b[1].start, 95 * S, "the newest empty buckets are kept");
    assert_eq!(agg.stats().fill_skipped, 94);
}

#[test]
fn the_clock_closes_live_symbols_only() {
    let mut agg = Aggregator::new(AggConfig {
        clock_grace_ns: S / 10,
        ..cfg(&["1s", "1m"])
    })
    .unwrap();
    let now = 1_700_000_000 * S;
    let mut out = Vec::new();
    agg.update(&Tick::trade(1, now, 5.0, 1.0, Side::Buy, 0), &mut out);
    let mut replay = Tick::trade(2, 1_381_000_000 * S, 7.0, 1.0, Side::Sell, 0);
    replay.flags |= Tick::FLAG_REPLAY;
    agg.update(&replay, &mut out);
    assert!(out.is_empty());
    // Within the grace: nothing closes.
    agg.advance(now + S, &mut out);
    assert!(out.is_empty());
    agg.advance(now + S + S / 10, &mut out);
    let b = closed(&out);
    assert_eq!(b.len(), 1);
    assert_eq!(
        (b[0].symbol, b[0].timeframe, b[0].start),
        (1, Timeframe::S1, now)
    );
    out.clear();
    agg.advance(now + 2 * MIN, &mut out);
    let b = closed(&out);
    assert_eq!(
        b.len(),
        1,
        "the 1m bar of the live symbol; the 2013 replay stays open"
    );
    assert_eq!((b[0].symbol, b[0].timeframe), (1, Timeframe::M1));
    assert_eq!(agg.watermark(2), Some(1_381_000_000 * S));
    // A tick behind the advanced watermark is late.
    out.clear();
    agg.update(
        &Tick::trade(1, now + 30 * S, 5.0, 1.0, Side::Buy, 0),
        &mut out,
    );
    assert_eq!(agg.stats().late, 1);
}

#[test]
fn seeded_state_continues() {
    let mut agg = Aggregator::new(AggConfig {
        fill_empty: true,
        ..cfg(&["1m"])
    })
    .unwrap();
    let mut last = Bar {
        symbol: 4,
        timeframe: Timeframe::M1,
        start: 10 * MIN,
        end: 11 * MIN,
        open: 1.0,
        high: 2.0,
        low: 0.5,
        close: 1.5,
        volume: 3.0,
        vwap: 1.2,
        vwap_num: 3.6,
        buy_volume: 0.0,
        sell_volume: 0.0,
        count: 3,
        first_ts: 10 * MIN,
        last_ts: 10 * MIN + 5,
        revision: 0,
        flags: 0,
    };
    agg.seed(&last).unwrap();
    let ev = feed(
        &mut agg,
        &[
            Tick::trade(4, 10 * MIN + 7, 9.0, 1.0, Side::Buy, 0), // in the stored bar: late
            Tick::trade(4, 13 * MIN, 2.0, 1.0, Side::Buy, 0),
        ],
    );
    assert_eq!(agg.stats().late, 1);
    let b = closed(&ev);
    assert_eq!(b.len(), 2, "11:00 and 12:00 filled from the stored close");
    assert!(
        b.iter()
            .all(|b| b.close == 1.5 && b.flags & Bar::FLAG_FILLED != 0)
    );
    last.start = 10 * MIN + 1;
    assert_eq!(agg.seed(&last), Err(SeedError::OffGrid(10 * MIN + 1)));
    last.timeframe = Timeframe::H1;
    assert_eq!(agg.seed(&last), Err(SeedError::Timeframe(Timeframe::H1)));
}

#[rstest]
#[case(QuotePrice::Mid, 100.5)]
#[case(QuotePrice::Bid, 100.0)]
#[case(QuotePrice::Ask, 101.0)]
fn quote_bars(#[case] q: QuotePrice, #[case] px: f64) {
    let mut agg = Aggregator::new(AggConfig {
        source: BarSource::Quotes(q),
        ..cfg(&["1s"])
    })
    .unwrap();
    let mut ev = feed(
        &mut agg,
        &[
            Tick::quote(0, 1, 100.0, 5.0, 101.0, 7.0),
            Tick::trade(0, 2, 555.0, 1.0, Side::Buy, 9),
            Tick::quote(0, 3, 100.0, 5.0, 101.0, 7.0),
        ],
    );
    agg.flush(&mut ev);
    let b = closed(&ev);
    assert_eq!(b.len(), 1);
    assert_eq!(
        (b[0].open, b[0].close, b[0].volume, b[0].count),
        (px, px, 0.0, 2)
    );
    assert_eq!(b[0].vwap, px);
    assert!(b[0].flags & Bar::FLAG_QUOTES != 0);
    assert_eq!(agg.stats().ignored, 1);
}

#[test]
fn late_ticks_correct_closed_bars() {
    let mut agg = Aggregator::new(AggConfig {
        allowed_lateness_ns: 2 * S,
        close_at: CloseAt::End,
        ..cfg(&["1s"])
    })
    .unwrap();
    let ev = feed(
        &mut agg,
        &[
            Tick::trade(0, 100, 10.0, 1.0, Side::Buy, 0),
            Tick::trade(0, S + 1, 11.0, 1.0, Side::Buy, 0), // closes [0, 1s)
            Tick::trade(0, 50, 9.0, 1.0, Side::Sell, 0),    // new open, revision 1
            Tick::trade(0, 900_000_000, 12.0, 1.0, Side::Buy, 0), // new close, revision 2
            Tick::trade(0, 3 * S, 11.0, 1.0, Side::Buy, 0), // [0, 1s) released at 3s
            Tick::trade(0, 10, 1.0, 1.0, Side::Buy, 0),     // too late
        ],
    );
    let kinds: Vec<_> = ev
        .iter()
        .filter(|e| e.bar.start == 0)
        .map(|e| (e.kind, e.bar.revision, e.bar.open, e.bar.close, e.bar.count))
        .collect();
    assert_eq!(
        kinds,
        [
            (BarEventKind::Closed, 0, 10.0, 10.0, 1),
            (BarEventKind::Corrected, 1, 9.0, 10.0, 2),
            (BarEventKind::Corrected, 2, 9.0, 12.0, 3),
        ]
    );
    assert_eq!((agg.stats().late, agg.stats().corrections), (1, 2));
}

#[test]
fn open_updates_by_policy() {
    let ticks: Vec<Tick> = (0..10)
        .map(|i| Tick::trade(0, i * 100_000_000, 10.0 + i as f64, 1.0, Side::Buy, 0))
        .collect();
    for (policy, want) in [
        (OpenUpdates::None, 0),
        (OpenUpdates::EveryTick, 20),
        (OpenUpdates::Every(300_000_000), 8),
    ] {
        let mut agg = Aggregator::new(AggConfig {
            open_updates: policy,
            ..cfg(&["1s", "1m"])
        })
        .unwrap();
        let ev = feed(&mut agg, &ticks);
        let open: Vec<_> = ev.iter().filter(|e| e.kind == BarEventKind::Open).collect();
        assert_eq!(open.len(), want, "{policy:?}");
        assert!(open.iter().all(|e| e.bar.flags & Bar::FLAG_OPEN != 0));
        if let Some(last) = open.last() {
            assert_eq!((last.bar.count, last.bar.close), (10, 19.0));
        }
    }
}

#[test]
fn config_errors() {
    let e = |c: AggConfig| Aggregator::new(c).unwrap_err();
    assert_eq!(e(cfg(&[])), ConfigError::TimeframeCount(0));
    assert_eq!(
        e(cfg(&["1s", "1000ms"])),
        ConfigError::DuplicateTimeframe(Timeframe::S1)
    );
    assert_eq!(
        e(AggConfig {
            allowed_lateness_ns: -1,
            ..cfg(&["1s"])
        }),
        ConfigError::Lateness(-1)
    );
    assert!(matches!(
        e(AggConfig {
            allowed_lateness_ns: D,
            ..cfg(&["1ms"])
        }),
        ConfigError::LatenessTooLongFor { .. }
    ));
    assert_eq!(
        e(AggConfig {
            open_updates: OpenUpdates::Every(0),
            ..cfg(&["1s"])
        }),
        ConfigError::OpenInterval(0)
    );
    assert!(e(cfg(&[])).to_string().contains("timeframes"));
}

#[test]
fn symbol_ids_are_bounded() {
    let mut agg = Aggregator::new(cfg(&["1s"])).unwrap().with_max_symbols(8);
    let mut out = Vec::new();
    agg.update(&Tick::trade(u32::MAX, 1, 1.0, 1.0, Side::Buy, 0), &mut out);
    agg.update(&Tick::trade(8, 1, 1.0, 1.0, Side::Buy, 0), &mut out);
    agg.update(&Tick::trade(7, 1, 1.0, 1.0, Side::Buy, 0), &mut out);
    assert_eq!(agg.stats().symbol_out_of_range, 2);
    assert_eq!(agg.stats().applied, 1);
}

fn any_tick() -> impl Strategy<Value = Tick> {
    (
        prop_oneof![
            any::<i64>(),
            -(3i64 * S)..(3 * S),
            Just(i64::MAX),
            Just(i64::MIN)
        ],
        prop_oneof![0u32..4, any::<u32>()],
        any::<bool>(),
        any::<u8>(),
        any::<u16>(),
        any::<f64>(),
        any::<f64>(),
        any::<f64>(),
    )
        .prop_map(|(ts, sym, quote, side, flags, p, q, a)| {
            let mut t = if quote {
                Tick::quote(sym, ts, p, q, a, q)
            } else {
                Tick::trade(sym, ts, p, q, Side::from_u8(side), 0)
            };
            t.flags = flags;
            t
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Whatever the ticks, clock and seeds: no panic, counters add up, and
    /// every emitted bar is well-formed.
    #[test]
    fn never_panics(
        ticks in proptest::collection::vec(any_tick(), 0..120),
        clocks in proptest::collection::vec(any::<i64>(), 0..4),
        origin in any::<i64>(),
        li in 0usize..3,
        fill in any::<bool>(),
        fold in any::<bool>(),
        at_end in any::<bool>(),
        quotes in any::<bool>(),
        open in 0u8..3,
        seed_close in any::<f64>(),
        seed_start in any::<i64>(),
    ) {
        let cfg = AggConfig {
            timeframes: vec![Timeframe::from_millis(1).unwrap(), Timeframe::S1, Timeframe::M1, "7s".parse().unwrap()],
            origin_ns: origin,
            allowed_lateness_ns: [0, S / 2, 5 * S][li],
            close_at: if at_end { CloseAt::End } else { CloseAt::EndPlusLateness },
            source: if quotes { BarSource::Quotes(QuotePrice::Mid) } else { BarSource::Trades },
            open_updates: [OpenUpdates::None, OpenUpdates::EveryTick, OpenUpdates::Every(S)][open as usize],
            fill_empty: fill,
            max_fill_per_gap: 50,
            fold,
            ..AggConfig::default()
        };
        let mut agg = Aggregator::new(cfg).unwrap().with_max_symbols(1 << 12);
        let _ = agg.seed(&Bar { close: seed_close, start: seed_start, ..Bar {
            symbol: 1, timeframe: Timeframe::S1, start: 0, end: 0, open: 0.0, high: 0.0, low: 0.0,
            close: 0.0, volume: 0.0, vwap: 0.0, vwap_num: 0.0, buy_volume: 0.0, sell_volume: 0.0,
            count: 0, first_ts: 0, last_ts: 0, revision: 0, flags: 0 } });
        let mut out = Vec::new();
        let bound = agg.max_events_per_update();
        for (i, t) in ticks.iter().enumerate() {
            let before = out.len();
            agg.update(t, &mut out);
            prop_assert!(out.len() - before <= bound);
            if let Some(&c) = clocks.get(i % 7) {
                agg.advance(c, &mut out);
            }
        }
        agg.flush(&mut out);
        let st = agg.stats();
        let n = ticks.len() as u64;
        prop_assert!(st.applied + st.invalid + st.ignored + st.symbol_out_of_range <= n);
        prop_assert!(st.applied + st.invalid + st.ignored + st.symbol_out_of_range + st.late >= n);
        prop_assert_eq!(st.evicted, 0);
        for e in &out {
            let b = e.bar;
            prop_assert_eq!(b.end - b.start, b.timeframe.nanos());
            if b.count > 0 {
                prop_assert!(b.low <= b.open && b.open <= b.high);
                prop_assert!(b.low <= b.close && b.close <= b.high);
                prop_assert!(b.first_ts >= b.start && b.last_ts < b.end && b.first_ts <= b.last_ts);
                // Σ price·size of huge prices of both signs overflows to
                // +inf + -inf = NaN (valid input: prices may be negative);
                // otherwise the VWAP is a number.
                prop_assert!(b.volume >= 0.0 && (!b.vwap.is_nan() || b.vwap_num.is_nan()));
            }
        }
    }
}

/// Issue 2 (mtf speed): the hot path keeps its tick count and watermark in
/// the symbol's newest bar; `stats`, `watermark` and `advance` still see
/// them before anything is written back.
#[test]
fn hot_path_ticks_show_in_stats_watermark_and_advance() {
    let mut agg = Aggregator::new(cfg(&["1s", "1m"])).unwrap();
    assert!(agg.folds());
    let t0 = 1_700_000_100 * S;
    let mut ticks: Vec<Tick> = (0..5)
        .map(|k| {
            Tick::trade(
                3,
                t0 + k * 1_000,
                100.0 + k as f64,
                1.0,
                Side::Buy,
                k as u64,
            )
        })
        .collect();
    // The bar's newest tick, then one out of order inside it (neither a new
    // open nor a new watermark).
    ticks.push(Tick::trade(3, t0 - 10 + S, 99.0, 2.0, Side::Sell, 9));
    ticks.push(Tick::trade(3, t0 + 1, 98.0, 1.0, Side::Sell, 10));
    let out = feed(&mut agg, &ticks);
    assert!(out.is_empty());
    assert_eq!(agg.stats().applied, 7);
    assert_eq!(agg.watermark(3), Some(t0 - 10 + S));
    // A clock behind the watermark moves nothing.
    let mut out = Vec::new();
    agg.advance(t0 + 2_000, &mut out);
    assert!(out.is_empty());
    assert_eq!(agg.watermark(3), Some(t0 - 10 + S));
    // A clock past the bar closes it with every hot-path tick in it.
    agg.advance(t0 + S + S / 2, &mut out);
    assert_eq!(agg.watermark(3), Some(t0 + S + S / 2));
    assert_eq!(out.len(), 1);
    let b = out[0].bar;
    assert_eq!(out[0].kind, BarEventKind::Closed);
    assert_eq!(
        (b.start, b.open, b.high, b.low, b.close, b.count),
        (t0, 100.0, 104.0, 98.0, 99.0, 7)
    );
    assert_eq!((b.volume, b.buy_volume, b.sell_volume), (8.0, 5.0, 3.0));
    assert_eq!((b.first_ts, b.last_ts), (t0, t0 - 10 + S));
    assert_eq!(agg.stats().applied, 7);
}

/// Issue 2 (mtf speed): a tick that starts the next 1 s bar while nothing
/// coarser is due takes the roll (no slow path); the closed 1 s bars, the
/// folded 1 m bar, the counters and the watermark are those of the slow path.
#[test]
fn rolls_to_the_next_finest_bar_keep_bars_and_counters() {
    let mut agg = Aggregator::new(cfg(&["1s", "1m"])).unwrap();
    let t0 = 1_700_000_100 * S; // a minute edge
    // Three ticks per second for 5 s, the last second's ticks out of order.
    let mut ticks = Vec::new();
    for s in 0..5 {
        for (k, dt) in [(0, 10), (1, 500_000), (2, 900_000_000)] {
            let dt = if s == 4 { 900_000_010 - dt } else { dt };
            let px = 100.0 + (s * 3 + k) as f64;
            let side = if k == 1 { Side::Sell } else { Side::Buy };
            ticks.push(Tick::trade(3, t0 + s * S + dt, px, 1.0 + k as f64, side, 0));
        }
    }
    let out = feed(&mut agg, &ticks);
    // Four 1 s bars closed, in order, each with its three ticks.
    assert_eq!(out.len(), 4);
    for (s, e) in out.iter().enumerate() {
        let b = e.bar;
        let base = 100.0 + (s * 3) as f64;
        assert_eq!(e.kind, BarEventKind::Closed);
        assert_eq!(
            (
                b.timeframe,
                b.start,
                b.open,
                b.high,
                b.low,
                b.close,
                b.count
            ),
            (
                Timeframe::S1,
                t0 + s as i64 * S,
                base,
                base + 2.0,
                base,
                base + 2.0,
                3
            )
        );
        assert_eq!((b.volume, b.buy_volume, b.sell_volume), (6.0, 4.0, 2.0));
    }
    assert_eq!(agg.stats().applied, 15);
    assert_eq!(agg.watermark(3), Some(t0 + 4 * S + 900_000_000));
    // The clock closes the last second (its open is the earliest tick) and
    // the minute with all 15 ticks.
    let mut out = Vec::new();
    agg.advance(t0 + 60 * S, &mut out);
    assert_eq!(out.len(), 2);
    let (s4, m1) = (out[0].bar, out[1].bar);
    assert_eq!(
        (s4.start, s4.open, s4.close, s4.count),
        (t0 + 4 * S, 114.0, 112.0, 3)
    );
    assert_eq!(
        (
            m1.timeframe,
            m1.start,
            m1.open,
            m1.high,
            m1.low,
            m1.close,
            m1.count
        ),
        (Timeframe::M1, t0, 100.0, 114.0, 100.0, 112.0, 15)
    );
    assert_eq!(
        (m1.volume, m1.buy_volume, m1.sell_volume),
        (30.0, 20.0, 10.0)
    );
    assert_eq!(agg.stats().applied, 15);
}

/// Mostly in-order trades of a few symbols a few ms apart (the hot path and
/// rolls), with some of anything (late ticks, quotes, bad values, `-0.0`
/// sizes at negative prices, which the hot path leaves to the full check).
/// The symbols are either four interleaved or mostly long runs of one
/// (`update_all`'s two loops).
fn stream() -> impl Strategy<Value = Vec<Tick>> {
    any::<bool>().prop_flat_map(stream_of)
}

fn stream_of(runs: bool) -> impl Strategy<Value = Vec<Tick>> {
    let dense = (
        (0u32..8).prop_map(move |x| if runs { u32::from(x == 0) } else { x % 4 }),
        0i64..4_000_000,
        -3i32..3,
        0u8..3,
        prop_oneof![Just(-0.0f64), 0.0f64..5.0],
    );
    proptest::collection::vec(
        prop_oneof![
            8 => dense.prop_map(|(sym, dt, px, side, q)| (Some((sym, dt, px, side, q)), None)),
            1 => any_tick().prop_map(|t| (None, Some(t))),
        ],
        0..300,
    )
    .prop_map(|items| {
        let mut ts = 1_700_000_000 * S;
        items
            .into_iter()
            .map(|(d, t)| match (d, t) {
                (Some((sym, dt, px, side, q)), _) => {
                    ts += dt;
                    Tick::trade(sym, ts, f64::from(px) * 0.25, q, Side::from_u8(side), 0)
                }
                (None, Some(t)) => t,
                (None, None) => unreachable!(),
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// `update_all` over any split of the stream gives exactly what
    /// `update` tick by tick gives: events (bit for bit), counters,
    /// watermarks.
    #[test]
    fn update_all_is_update_tick_by_tick(
        ticks in stream(),
        cuts in proptest::collection::vec(0usize..300, 0..4),
        li in 0usize..3,
        fold in any::<bool>(),
        open in 0u8..2,
    ) {
        let cfg = AggConfig {
            timeframes: vec![Timeframe::S1, Timeframe::M1, "5s".parse().unwrap()],
            allowed_lateness_ns: [0, S / 2, 3 * S][li],
            open_updates: [OpenUpdates::None, OpenUpdates::EveryTick][open as usize],
            fold,
            ..AggConfig::default()
        };
        let mut one = Aggregator::new(cfg.clone()).unwrap().with_max_symbols(1 << 12);
        let mut all = Aggregator::new(cfg).unwrap().with_max_symbols(1 << 12);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for t in &ticks {
            one.update(t, &mut a);
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(ticks.len())).collect();
        cuts.sort_unstable();
        let mut from = 0;
        for c in cuts.into_iter().chain([ticks.len()]) {
            all.update_all(&ticks[from..c], &mut b);
            from = c;
        }
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!(x.kind, y.kind);
            prop_assert_eq!(format!("{:?}", x.bar), format!("{:?}", y.bar));
        }
        prop_assert_eq!(one.stats(), all.stats());
        for s in 0..4 {
            prop_assert_eq!(one.watermark(s), all.watermark(s));
        }
    }
}
