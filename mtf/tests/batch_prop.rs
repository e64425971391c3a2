//! Issue 2: every batch kernel equals the scalar reference on long runs with
//! hostile rows mixed in (NaN / infinite prices, negative, -0.0, NaN and
//! infinite sizes), any timeframe and origin.

use mtf::batch::{Avx2, Avx512, BatchError, BatchSpec, Kernel, SortedColumns};
use mtf::{Bar, Side, Timeframe};
use proptest::prelude::*;

fn price() -> impl Strategy<Value = f64> {
    prop_oneof![
        40 => (-1_000_000i64..=100_000_000).prop_map(|c| c as f64 / 100.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

fn size() -> impl Strategy<Value = f64> {
    prop_oneof![
        40 => (0i64..=10_000_000).prop_map(|c| c as f64 / 1000.0),
        1 => Just(-0.0),
        1 => Just(-1.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
    ]
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn kernels_match_scalar(
        rows in proptest::collection::vec((0i64..3_000_000, price(), size(), 0u8..3), 0..3000),
        clean in any::<bool>(),
        tf_ms in prop_oneof![Just(1u32), Just(250), Just(1000), Just(60_000), Just(86_400_000)],
        origin in any::<i64>(),
    ) {
        let mut t = 1_600_000_000_000_000_000i64;
        let mut ts = Vec::new();
        let (mut px, mut sz, mut sd) = (Vec::new(), Vec::new(), Vec::new());
        for (d, p, q, s) in rows {
            t += d;
            ts.push(t);
            px.push(if clean && !p.is_finite() { 1.0 } else { p });
            sz.push(if clean && !(q >= 0.0 && q.is_finite()) { 2.0 } else { q });
            sd.push(Side::from_u8(s));
        }
        let cols = SortedColumns::new(&ts, &px, &sz, Some(&sd)).unwrap();
        let spec = BatchSpec {
            symbol: 9,
            timeframe: Timeframe::from_millis(tf_ms).unwrap(),
            origin_ns: origin,
            flags: Bar::FLAG_QUOTES,
        };
        let mut want = Vec::new();
        let ws = Kernel::Scalar.aggregate(&cols, &spec, &mut want);
        prop_assert_eq!(ws.rows + ws.invalid, ts.len() as u64);
        let mut kernels = Vec::new();
        kernels.extend(Avx2::detect().map(Kernel::Avx2));
        kernels.extend(Avx512::detect().map(Kernel::Avx512));
        for k in kernels {
            let mut got = Vec::new();
            prop_assert_eq!(k.aggregate(&cols, &spec, &mut got), ws);
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                prop_assert_eq!(
                    (g.start, g.end, g.open, g.high, g.low, g.close, g.count, g.first_ts, g.last_ts, g.flags),
                    (w.start, w.end, w.open, w.high, w.low, w.close, w.count, w.first_ts, w.last_ts, w.flags)
                );
                prop_assert!(close(g.volume, w.volume) && close(g.vwap_num, w.vwap_num));
                prop_assert!(close(g.buy_volume, w.buy_volume) && close(g.sell_volume, w.sell_volume));
                prop_assert!(close(g.vwap, w.vwap));
            }
        }
    }
}

#[test]
fn bad_columns_are_errors() {
    assert_eq!(
        SortedColumns::new(&[1, 2], &[1.0], &[1.0, 1.0], None).unwrap_err(),
        BatchError::LengthMismatch {
            ts: 2,
            price: 1,
            size: 2,
            side: 2
        }
    );
    let ts: Vec<i64> = (0..5000).map(|i| if i == 3333 { 0 } else { i }).collect();
    let v = vec![1.0; 5000];
    assert_eq!(
        SortedColumns::new(&ts, &v, &v, None).unwrap_err(),
        BatchError::Unsorted { index: 3332 }
    );
}
