//! Issue 2: SMA, EMA and RSI (Wilder), incremental and batch, each against a
//! naive recomputation from scratch at every step.

use mtf::indicators::{self, Ema, IndicatorError, Rsi, Sma};
use proptest::prelude::*;

fn near(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        30 => (1i64..=2_000_000).prop_map(|c| c as f64 / 100.0),
        3 => Just(100.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
    ]
}

fn naive_sma(f: &[f64], n: usize) -> f64 {
    if f.len() < n {
        return f64::NAN;
    }
    f[f.len() - n..].iter().sum::<f64>() / n as f64
}

fn naive_ema(f: &[f64], n: usize) -> f64 {
    if f.len() < n {
        return f64::NAN;
    }
    let a = 2.0 / (n as f64 + 1.0);
    let mut e = f[..n].iter().sum::<f64>() / n as f64;
    for &x in &f[n..] {
        e = a * x + (1.0 - a) * e;
    }
    e
}

fn naive_rsi(f: &[f64], n: usize) -> f64 {
    if f.len() < n + 1 {
        return f64::NAN;
    }
    let ch: Vec<f64> = f.windows(2).map(|w| w[1] - w[0]).collect();
    let mut g = ch[..n].iter().map(|d| d.max(0.0)).sum::<f64>() / n as f64;
    let mut l = ch[..n].iter().map(|d| (-d).max(0.0)).sum::<f64>() / n as f64;
    for d in &ch[n..] {
        g = (g * (n as f64 - 1.0) + d.max(0.0)) / n as f64;
        l = (l * (n as f64 - 1.0) + (-d).max(0.0)) / n as f64;
    }
    if l == 0.0 {
        if g == 0.0 { 50.0 } else { 100.0 }
    } else {
        100.0 - 100.0 / (1.0 + g / l)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn indicators_match_naive(xs in proptest::collection::vec(value(), 0..300), n in 1usize..20) {
        let (mut s, mut e, mut r) = (Sma::new(n).unwrap(), Ema::new(n).unwrap(), Rsi::new(n).unwrap());
        let (bs, be, br) = (
            indicators::sma(&xs, n).unwrap(),
            indicators::ema(&xs, n).unwrap(),
            indicators::rsi(&xs, n).unwrap(),
        );
        let mut finite = Vec::new();
        for (i, &x) in xs.iter().enumerate() {
            if x.is_finite() {
                finite.push(x);
            }
            let (vs, ve, vr) = (
                s.update(x).unwrap_or(f64::NAN),
                e.update(x).unwrap_or(f64::NAN),
                r.update(x).unwrap_or(f64::NAN),
            );
            let (ws, we, wr) = (naive_sma(&finite, n), naive_ema(&finite, n), naive_rsi(&finite, n));
            prop_assert!(near(vs, ws), "sma {} vs {} at {}", vs, ws, i);
            prop_assert!(near(ve, we), "ema {} vs {} at {}", ve, we, i);
            prop_assert!(near(vr, wr), "rsi {} vs {} at {}", vr, wr, i);
            prop_assert!(near(bs[i], vs) && near(be[i], ve) && near(br[i], vr));
        }
    }
}

#[test]
fn bad_periods_are_errors() {
    assert_eq!(Sma::new(0).unwrap_err(), IndicatorError::Period(0));
    assert!(Ema::new(usize::MAX).is_err());
    assert!(indicators::rsi(&[1.0], 0).is_err());
}

#[test]
fn sma_does_not_drift_over_long_runs() {
    let mut s = Sma::new(7).unwrap();
    let mut last = 0.0;
    for i in 0..1_000_000u64 {
        last = s.update(1e9 + (i % 13) as f64 * 0.01).unwrap_or(0.0);
    }
    let want: f64 = (1_000_000u64 - 7..1_000_000)
        .map(|i| 1e9 + (i % 13) as f64 * 0.01)
        .sum::<f64>()
        / 7.0;
    assert!((last - want).abs() < 1e-6, "{last} vs {want}");
}
