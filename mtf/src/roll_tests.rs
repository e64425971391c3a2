//! Rolls against the slow path: the same stream through an aggregator with
//! rolls and one without (every tick a roll would take goes through
//! `update_slow`) gives the same events, counters and watermarks. Sums of
//! the coarser bars may differ in the last bits (a roll merges closed finest
//! bars into one pending bar first, the slow path one by one), so they are
//! compared to a relative 1e-9; everything else bit for bit.

use proptest::prelude::*;

use super::Aggregator;
use crate::{AggConfig, Bar, BarEvent, CloseAt, OpenUpdates, Side, Tick, Timeframe};

const S: i64 = 1_000_000_000;

/// Sparse streams of 1 to 4 symbols: gaps within a second, to the next
/// second, over a few seconds, over minutes and hours, some ticks late, a
/// few invalid or replayed; sorted only by arrival.
fn stream() -> impl Strategy<Value = Vec<Tick>> {
    let item = (
        0u32..4,
        prop_oneof![
            3 => 0i64..S,
            4 => S..4 * S,
            2 => 4 * S..90 * S,
            1 => 90 * S..7_200 * S,
            1 => -5 * S..0,
        ],
        -8i32..8,
        0.0f64..5.0,
        0u8..3,
        0u8..40,
    );
    proptest::collection::vec(item, 0..250).prop_map(|items| {
        let mut ts = 1_700_000_000 * S + 3 * S / 4;
        items
            .into_iter()
            .map(|(sym, dt, px, q, side, odd)| {
                ts += dt;
                let mut t = Tick::trade(
                    sym,
                    ts,
                    100.0 + f64::from(px) * 0.25,
                    q,
                    Side::from_u8(side),
                    0,
                );
                match odd {
                    0 => t.price = f64::NAN,
                    1 => t.flags |= Tick::FLAG_REPLAY,
                    _ => {}
                }
                t
            })
            .collect()
    })
}

fn rel_eq(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
}

fn same_bar(a: &Bar, b: &Bar) -> bool {
    let mut x = *a;
    let mut y = *b;
    let sums = rel_eq(x.volume, y.volume)
        && rel_eq(x.vwap_num, y.vwap_num)
        && rel_eq(x.vwap, y.vwap)
        && rel_eq(x.buy_volume, y.buy_volume)
        && rel_eq(x.sell_volume, y.sell_volume);
    for b in [&mut x, &mut y] {
        (b.volume, b.vwap_num, b.vwap, b.buy_volume, b.sell_volume) = (0.0, 0.0, 0.0, 0.0, 0.0);
    }
    sums && format!("{x:?}") == format!("{y:?}")
}

/// `chunk`: `update` per tick (0), or `update_all` per `chunk` ticks (7
/// never chooses `update_all`'s single-symbol loop; 64 does when most
/// neighbouring ticks share a symbol).
fn run(agg: &mut Aggregator, ticks: &[Tick], chunk: usize, clock: Option<i64>) -> Vec<BarEvent> {
    let mut out = Vec::new();
    if chunk > 0 {
        for c in ticks.chunks(chunk) {
            agg.update_all(c, &mut out);
        }
    } else {
        for t in ticks {
            agg.update(t, &mut out);
        }
    }
    if let Some(now) = clock {
        agg.advance(now, &mut out);
    }
    agg.flush(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn rolls_match_the_slow_path(
        ticks in stream(),
        set in 0u8..3,
        li in 0usize..4,
        at_end in any::<bool>(),
        fill in any::<bool>(),
        mi in 0usize..3,
        open in 0u8..4,
        chunk in prop_oneof![Just(0usize), Just(7), Just(64)],
        one_symbol in any::<bool>(),
        clock in proptest::option::of(0i64..100_000),
    ) {
        let p = |s: &str| s.parse::<Timeframe>().unwrap();
        let timeframes = match set {
            0 => vec![p("1s"), p("1m"), p("5m"), p("1h"), p("1d")],
            1 => vec![p("250ms"), p("1s"), p("15s")],
            _ => vec![p("1s"), p("2s"), p("1m")],
        };
        let cfg = AggConfig {
            timeframes,
            allowed_lateness_ns: [0, S / 2, 3 * S, 70 * S][li],
            close_at: if at_end { CloseAt::End } else { CloseAt::EndPlusLateness },
            fill_empty: fill,
            max_fill_per_gap: [0, 2, 50][mi],
            open_updates: match open {
                0 => OpenUpdates::EveryTick,
                1 => OpenUpdates::Every(700_000_000),
                _ => OpenUpdates::None,
            },
            ..AggConfig::default()
        };
        let mut ticks = ticks;
        if one_symbol {
            // Runs of one symbol: `update_all`'s single-symbol loop.
            ticks.iter_mut().for_each(|t| t.symbol = 0);
        }
        let clock = clock.map(|c| ticks.last().map_or(0, |t| t.ts_event) + c * S / 1000);
        let mut with = Aggregator::new(cfg.clone()).unwrap();
        let mut without = Aggregator::new(cfg).unwrap();
        without.rolls = false;
        let a = run(&mut with, &ticks, chunk, clock);
        let b = run(&mut without, &ticks, chunk, clock);
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!(x.kind, y.kind);
            prop_assert!(same_bar(&x.bar, &y.bar), "{:?}\n{:?}", x.bar, y.bar);
        }
        prop_assert_eq!(with.stats(), without.stats());
        for s in 0..4 {
            prop_assert_eq!(with.watermark(s), without.watermark(s));
        }
    }
}

/// The streams above take every kind of roll: a sparse stream of 3 symbols
/// (a tick per symbol every ~2 s, gaps to fill, minutes closing) rolls most
/// ticks, with and without fill, and matches the slow path.
#[test]
fn sparse_streams_roll() {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut ts = 1_700_000_000 * S;
    let ticks: Vec<Tick> = (0..20_000)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ts += (x % (4 * S as u64 / 3)) as i64;
            let px = 100.0 + ((x >> 40) % 50) as f64 * 0.25;
            Tick::trade(
                (x >> 32) as u32 % 3,
                ts,
                px,
                ((x >> 20) % 7) as f64,
                Side::from_u8((x >> 50) as u8 % 3),
                i,
            )
        })
        .collect();
    for fill in [false, true] {
        let cfg = AggConfig {
            fill_empty: fill,
            ..AggConfig::default()
        };
        let mut with = Aggregator::new(cfg.clone()).unwrap();
        let mut without = Aggregator::new(cfg).unwrap();
        without.rolls = false;
        let a = run(&mut with, &ticks, 7, None);
        let b = run(&mut without, &ticks, 7, None);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.kind, y.kind);
            assert!(same_bar(&x.bar, &y.bar), "{:?}\n{:?}", x.bar, y.bar);
        }
        assert_eq!(with.stats(), without.stats());
        let (rolls, filled, far) = with.rolled;
        assert!(rolls > 15_000, "{rolls} rolls");
        assert_eq!(filled > 5_000, fill, "{filled} rolls with flat bars");
        assert!(far > 500, "{far} far rolls");
    }
}
