//! Latency histograms: creation with fixed bounds, the percentile summary every
//! report prints, and the percentile-distribution table the plots are drawn from.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram holds: 60 s, in ns (larger values are clamped).
pub const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// A histogram of nanoseconds, 1 ns to [`MAX_LATENCY_NS`], 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // Bounds are constants within hdrhistogram's limits: this cannot fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).unwrap_or_else(|_| unreachable!())
}

/// Records `ns` (clamped into the histogram's range).
#[inline]
pub fn record(h: &mut Histogram<u64>, ns: u64) {
    let _ = h.record(ns.clamp(1, MAX_LATENCY_NS));
}

/// Records `ns` and, as HdrHistogram's `record_correct` does, the samples a
/// stalled sender would have taken every `interval_ns` during the stall
/// (coordinated-omission correction for loops that measure after a wait).
#[inline]
pub fn record_correct(h: &mut Histogram<u64>, ns: u64, interval_ns: u64) {
    let _ = h.record_correct(ns.clamp(1, MAX_LATENCY_NS), interval_ns);
}

/// The percentiles every report states, in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Minimum.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
    /// Maximum.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Summary {
    /// The summary of `h` (all zeros when empty).
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            min: h.min(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
            mean: h.mean(),
        }
    }

    /// One Markdown table row: `| label | count | p50 | … | max |`, in µs.
    pub fn markdown_row(&self, label: &str) -> String {
        format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} |",
            self.count,
            us(self.p50),
            us(self.p90),
            us(self.p99),
            us(self.p999),
            us(self.p9999),
            us(self.max)
        )
    }

    /// The header matching [`Summary::markdown_row`].
    pub fn markdown_header() -> &'static str {
        "| series | samples | p50 µs | p90 µs | p99 µs | p99.9 µs | p99.99 µs | max µs |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|"
    }
}

/// ns as µs with 3 decimals.
pub fn us(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1_000.0)
}

/// The percentile distribution of `h` as `(percentile, value_ns)` rows, from
/// the median out to the maximum in halving steps (HdrHistogram's classic
/// "percentile distribution" table: 50, 75, 87.5, …).
pub fn distribution(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut rows = Vec::new();
    for it in h.iter_quantiles(2) {
        let q = it.quantile_iterated_to();
        rows.push((q * 100.0, it.value_iterated_to()));
        if q >= 1.0 {
            break;
        }
    }
    if rows.last().is_none_or(|&(p, _)| p < 100.0) {
        rows.push((100.0, h.max()));
    }
    rows
}

/// [`distribution`] as CSV text: `series,percentile,value_ns` lines for each series.
pub fn distribution_csv(series: &[(&str, &Histogram<u64>)]) -> String {
    let mut s = String::from("series,percentile,value_ns\n");
    for (name, h) in series {
        for (p, v) in distribution(h) {
            s.push_str(&format!("{name},{p:.6},{v}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_distribution_are_monotone() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            record(&mut h, v * 100);
        }
        let s = Summary::of(&h);
        assert_eq!(s.count, 10_000);
        assert!(s.min <= s.p50 && s.p50 <= s.p90 && s.p90 <= s.p99);
        assert!(s.p99 <= s.p999 && s.p999 <= s.p9999 && s.p9999 <= s.max);
        let d = distribution(&h);
        assert!(d.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(d.last().map(|r| r.0), Some(100.0));
    }

    #[test]
    fn record_correct_fills_a_stall() {
        let mut h = new_histogram();
        record_correct(&mut h, 10_000, 1_000);
        // 10 µs with a 1 µs expected interval: 10, 9, 8, … 1 µs recorded.
        assert_eq!(h.len(), 10);
        assert_eq!(Summary::of(&new_histogram()), Summary::default());
    }

    #[test]
    fn out_of_range_values_are_clamped_not_lost() {
        let mut h = new_histogram();
        record(&mut h, 0);
        record(&mut h, u64::MAX);
        assert_eq!(h.len(), 2);
    }
}
