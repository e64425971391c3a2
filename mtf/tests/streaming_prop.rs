//! Issue 2: streaming == batch == a naive reference, on random streams with
//! equal timestamps, ticks on bucket edges, long gaps, late ticks, hostile
//! values and 10+ interleaved symbols.

mod common;

use common::*;
use mtf::batch::{BatchSpec, Kernel, SortedColumns};
use mtf::{AggConfig, Aggregator, Bar, CloseAt, OpenUpdates, Tick, Timeframe};
use proptest::prelude::*;

fn tfs(set: u8) -> Vec<Timeframe> {
    let p = |s: &str| s.parse::<Timeframe>().unwrap();
    match set {
        // multiples of the finest: fold mode
        0 => vec![p("1s"), p("1m"), p("5m"), p("1h")],
        1 => vec![p("250ms"), p("1s"), p("15m"), p("4h"), p("1d")],
        // not multiples: direct mode
        2 => vec![p("1s"), p("1500ms"), p("1m")],
        _ => vec![p("7s")],
    }
}

const ORIGINS: [i64; 4] = [0, 250_000_000, -7_000_000_000, 22 * 3_600_000_000_000];
const LATENESS: [i64; 4] = [0, 500_000_000, 3_000_000_000, 90_000_000_000];

fn run(agg: &mut Aggregator, ticks: &[Tick]) -> Vec<mtf::BarEvent> {
    let mut out = Vec::with_capacity(agg.max_events_per_update());
    let mut all = Vec::new();
    for t in ticks {
        agg.update(t, &mut out);
        all.append(&mut out);
    }
    agg.flush(&mut out);
    all.append(&mut out);
    all
}

fn cases() -> u32 {
    std::env::var("MTF_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(160)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Out-of-order streams: the final revision of every bar equals the naive
    /// reference with the same lateness rule.
    #[test]
    fn streaming_matches_naive_with_late_ticks(
        ticks in ticks(12, 400, true),
        set in 0u8..4,
        oi in 0usize..4,
        li in 0usize..4,
        at_end in any::<bool>(),
        open in 0u8..3,
        fold in any::<bool>(),
    ) {
        let cfg = AggConfig {
            timeframes: tfs(set),
            origin_ns: ORIGINS[oi],
            allowed_lateness_ns: LATENESS[li],
            close_at: if at_end { CloseAt::End } else { CloseAt::EndPlusLateness },
            open_updates: match open {
                0 => OpenUpdates::None,
                1 => OpenUpdates::EveryTick,
                _ => OpenUpdates::Every(700_000_000),
            },
            fold,
            ..AggConfig::default()
        };
        let mut agg = Aggregator::new(cfg.clone()).unwrap();
        let events = run(&mut agg, &ticks);
        let got = final_bars(&events, !at_end);
        let want = naive(&ticks, &cfg.timeframes, cfg.origin_ns, cfg.allowed_lateness_ns);
        compare_maps(&got, &want, !agg.folds());
        let st = agg.stats();
        prop_assert_eq!(st.evicted, 0);
        if !at_end {
            // Closing after the lateness: nothing is ever corrected.
            prop_assert_eq!(st.corrections, 0);
        }
        let corrections = events.iter().filter(|e| e.kind == mtf::BarEventKind::Corrected).count();
        prop_assert_eq!(corrections as u64, st.corrections);
        // Every tick is applied, invalid, or late (partly late ones are both).
        let n = ticks.len() as u64;
        prop_assert!(st.applied + st.invalid <= n);
        prop_assert!(st.applied + st.invalid + st.late >= n);
    }

    /// In-order streams: streaming == every batch kernel == naive.
    #[test]
    fn streaming_matches_batch_in_order(
        ticks in ticks(11, 500, false),
        set in 0u8..4,
        oi in 0usize..4,
    ) {
        let cfg = AggConfig {
            timeframes: tfs(set),
            origin_ns: ORIGINS[oi],
            ..AggConfig::default()
        };
        let mut agg = Aggregator::new(cfg.clone()).unwrap();
        let got = final_bars(&run(&mut agg, &ticks), true);
        let want = naive(&ticks, &cfg.timeframes, cfg.origin_ns, 0);
        compare_maps(&got, &want, !agg.folds());
        prop_assert_eq!(agg.stats().late, 0);

        let mut kernels = vec![Kernel::Scalar];
        if let Some(k) = mtf::batch::Avx2::detect() { kernels.push(Kernel::Avx2(k)); }
        if let Some(k) = mtf::batch::Avx512::detect() { kernels.push(Kernel::Avx512(k)); }
        for sym in 0..11u32 {
            let rows: Vec<&Tick> = ticks.iter().filter(|t| t.symbol == sym).collect();
            let ts: Vec<i64> = rows.iter().map(|t| t.ts_event).collect();
            let px: Vec<f64> = rows.iter().map(|t| t.price).collect();
            let sz: Vec<f64> = rows.iter().map(|t| t.size).collect();
            let sd: Vec<mtf::Side> = rows.iter().map(|t| t.side).collect();
            let cols = SortedColumns::new(&ts, &px, &sz, Some(&sd)).unwrap();
            for &tf in &cfg.timeframes {
                let spec = BatchSpec { symbol: sym, timeframe: tf, origin_ns: cfg.origin_ns, flags: 0 };
                for &k in &kernels {
                    let mut bars: Vec<Bar> = Vec::new();
                    let st = k.aggregate(&cols, &spec, &mut bars);
                    prop_assert_eq!(st.bars as usize, bars.len());
                    let got: std::collections::BTreeMap<Key, Bar> =
                        bars.iter().map(|b| ((sym, tf.millis(), b.start), *b)).collect();
                    let want: std::collections::BTreeMap<Key, RefBar> = want
                        .iter()
                        .filter(|(k, _)| k.0 == sym && k.1 == tf.millis())
                        .map(|(k, v)| (*k, *v))
                        .collect();
                    compare_maps(&got, &want, k == Kernel::Scalar);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 2, ..ProptestConfig::default() })]

    /// Fill on: the bars with ticks are exactly the naive ones, and (in order,
    /// no lateness) every (symbol, timeframe) is a gap-free run of buckets
    /// whose flat bars carry the previous close.
    #[test]
    fn fill_adds_only_flat_bars(
        ticks in ticks(4, 200, true),
        oi in 0usize..4,
        li in 0usize..3,
        fold in any::<bool>(),
        at_end in any::<bool>(),
    ) {
        let p = |s: &str| s.parse::<Timeframe>().unwrap();
        let cfg = AggConfig {
            timeframes: vec![p("1m"), p("5m"), p("1h")],
            origin_ns: ORIGINS[oi],
            allowed_lateness_ns: LATENESS[li],
            close_at: if at_end { CloseAt::End } else { CloseAt::EndPlusLateness },
            fill_empty: true,
            max_fill_per_gap: 5_000,
            fold,
            ..AggConfig::default()
        };
        let mut agg = Aggregator::new(cfg.clone()).unwrap();
        let events = run(&mut agg, &ticks);
        prop_assert_eq!(agg.stats().fill_skipped, 0);
        let all = final_bars(&events, !at_end);
        let real: std::collections::BTreeMap<Key, Bar> =
            all.iter().filter(|(_, b)| b.count > 0).map(|(k, b)| (*k, *b)).collect();
        let want = naive(&ticks, &cfg.timeframes, cfg.origin_ns, cfg.allowed_lateness_ns);
        compare_maps(&real, &want, !agg.folds());
        for (k, b) in &all {
            if b.count == 0 {
                prop_assert!(b.flags & Bar::FLAG_FILLED != 0);
                prop_assert!(b.open == b.close && b.high == b.close && b.low == b.close);
                prop_assert_eq!(b.volume, 0.0);
            } else {
                prop_assert!(b.flags & Bar::FLAG_FILLED == 0, "{:?}", k);
            }
        }
        if li == 0 {
            let mut prev: Option<(Key, Bar)> = None;
            for (k, b) in &all {
                if let Some((pk, pb)) = prev
                    && (pk.0, pk.1) == (k.0, k.1)
                {
                    prop_assert_eq!(pb.end, b.start, "gap before {:?}", k);
                    if b.count == 0 {
                        prop_assert_eq!(b.close, pb.close);
                    }
                }
                prev = Some((*k, *b));
            }
        }
    }
}
