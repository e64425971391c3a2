//! Batch kernels: bars from columnar ticks of one symbol, sorted by time.
//!
//! [`SortedColumns::new`] checks the columns once (equal lengths, times
//! non-decreasing); [`aggregate`] then builds the bars of any timeframe with
//! the best kernel of this machine. Each bucket's end is found by a galloping
//! search over the time column (starting from the previous bucket's row
//! count), and the bucket's run of rows is reduced by a
//! kernel: [`Kernel::Scalar`] (the reference), [`Kernel::Avx2`] or
//! [`Kernel::Avx512`], reachable only through a value that proves the CPU
//! has the feature. Short buckets (real trades: ~18 a second in the SPY
//! week) are dominated by per-bucket costs, so after a bucket of at most 128
//! rows the AVX2 kernel reduces the next one 4 rows at a time while comparing
//! their times with the bucket's end, with no separate search.
//!
//! Rows are skipped (and counted) exactly as the streaming aggregator skips
//! ticks: time outside [`crate::TS_MIN`] ..= [`crate::TS_MAX`], non-finite
//! price, non-finite or negative size. A bucket with no valid row has no bar.
//!
//! Open, high, low, close, count, first and last time are exactly equal
//! across kernels and the streaming aggregator. Volume, VWAP numerator, buy and
//! sell volume are sums: the scalar kernel adds row by row (bit-equal to the
//! streaming aggregator in direct mode), the SIMD kernels add in 8 or 16
//! lanes (4 on the AVX2 short-bucket path) and then combine the lanes, so
//! the rounding differs; for sums of
//! non-negative terms the relative difference is bounded by `(n-1)·2^-53` and
//! is below 1e-12 in every test.
//!
//! ```
//! use mtf::batch::{aggregate, BatchSpec, SortedColumns};
//! use mtf::Timeframe;
//!
//! let ts = [0, 500_000_000, 1_000_000_000, 1_000_000_000];
//! let price = [10.0, 12.0, 11.0, 9.0];
//! let size = [1.0, 1.0, 2.0, f64::NAN]; // the NaN row is skipped
//! let cols = SortedColumns::new(&ts, &price, &size, None).unwrap();
//! let spec = BatchSpec { symbol: 1, timeframe: Timeframe::S1, origin_ns: 0, flags: 0 };
//! let mut bars = Vec::new();
//! let st = aggregate(&cols, &spec, &mut bars);
//! assert_eq!((st.bars, st.rows, st.invalid), (2, 3, 1));
//! assert_eq!((bars[0].open, bars[0].high, bars[0].close, bars[0].count), (10.0, 12.0, 12.0, 2));
//! assert_eq!((bars[1].start, bars[1].close, bars[1].volume), (1_000_000_000, 11.0, 2.0));
//! ```
//!
//! [`aggregate_many`] builds several timeframes in about one pass: the finest
//! from the columns, the coarser ones folded from its bars as they are built,
//! in a cascade (1s into 1m, 1m into 5m, ...).

mod fold;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::accum::{TS_MAX, TS_MIN};
use crate::{Bar, Side, SymbolId, Timeframe};
use fold::Cascade;

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};

/// Why columns were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The columns do not have the same length.
    #[error("column lengths differ: time {ts}, price {price}, size {size}, side {side}")]
    LengthMismatch {
        /// Length of the time column.
        ts: usize,
        /// Length of the price column.
        price: usize,
        /// Length of the size column.
        size: usize,
        /// Length of the side column (equal to `ts` when absent).
        side: usize,
    },
    /// `ts[index] > ts[index + 1]`.
    #[error("time column is not sorted: row {index} is later than row {}", index + 1)]
    Unsorted {
        /// First row out of order.
        index: usize,
    },
}

/// Columns of one symbol's ticks, checked: equal lengths, time non-decreasing.
#[derive(Clone, Copy, Debug)]
pub struct SortedColumns<'a> {
    ts: &'a [i64],
    price: &'a [f64],
    size: &'a [f64],
    side: Option<&'a [Side]>,
}

impl<'a> SortedColumns<'a> {
    /// Checks the columns (one pass over `ts`). `side` may be absent (all
    /// unknown). Quote bars: pass the price you build on (e.g. the mid) and a
    /// size column of zeros.
    pub fn new(
        ts: &'a [i64],
        price: &'a [f64],
        size: &'a [f64],
        side: Option<&'a [Side]>,
    ) -> Result<SortedColumns<'a>, BatchError> {
        let n = ts.len();
        let ns = side.map_or(n, |s| s.len());
        if price.len() != n || size.len() != n || ns != n {
            return Err(BatchError::LengthMismatch {
                ts: n,
                price: price.len(),
                size: size.len(),
                side: ns,
            });
        }
        if let Some(index) = first_unsorted(ts) {
            return Err(BatchError::Unsorted { index });
        }
        Ok(SortedColumns {
            ts,
            price,
            size,
            side,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// The time column.
    pub fn ts(&self) -> &'a [i64] {
        self.ts
    }

    /// The price column.
    pub fn price(&self) -> &'a [f64] {
        self.price
    }

    /// The size column.
    pub fn size(&self) -> &'a [f64] {
        self.size
    }

    /// The side column, if any.
    pub fn side(&self) -> Option<&'a [Side]> {
        self.side
    }
}

/// First `i` with `ts[i] > ts[i + 1]`. Branch-free over blocks so it vectorizes.
fn first_unsorted(ts: &[i64]) -> Option<usize> {
    const BLOCK: usize = 1024;
    let n = ts.len();
    let mut base = 0;
    while base + 1 < n {
        let end = (base + BLOCK + 1).min(n);
        let blk = &ts[base..end];
        let mut bad = false;
        for w in blk.windows(2) {
            bad |= w[0] > w[1];
        }
        if bad {
            return blk.windows(2).position(|w| w[0] > w[1]).map(|k| base + k);
        }
        base = end - 1;
    }
    None
}

/// What to label the bars with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSpec {
    /// Symbol id written into each bar.
    pub symbol: SymbolId,
    /// Bar width.
    pub timeframe: Timeframe,
    /// Buckets start at `origin_ns + k·width`.
    pub origin_ns: i64,
    /// `Bar::FLAG_*` bits for every bar (e.g. [`Bar::FLAG_QUOTES`]).
    pub flags: u32,
}

/// What a batch run skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Rows turned into bars.
    pub rows: u64,
    /// Rows skipped as invalid (same rule as the streaming aggregator).
    pub invalid: u64,
    /// Bars appended.
    pub bars: u64,
}

/// A bucket run reduced: everything but open/close/first/last, which the
/// driver takes from the first and last valid rows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunSums {
    pub count: u64,
    pub high: f64,
    pub low: f64,
    pub volume: f64,
    pub vwap_num: f64,
    pub buy: f64,
    pub sell: f64,
}

/// The kernel that reduces a bucket's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Portable, row by row: the reference.
    Scalar,
    /// AVX2, 4 lanes × 2 accumulators.
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2),
    /// AVX-512F, 8 lanes × 2 accumulators.
    #[cfg(target_arch = "x86_64")]
    Avx512(Avx512),
}

impl Kernel {
    /// The kernel to use on this CPU, detected once and cached: AVX2 when
    /// present. AVX-512 is not chosen: the kernels are bound by memory
    /// bandwidth, where it measured at most ~3 % faster than AVX2 on our
    /// machines (100M rows from DRAM); it stays available through
    /// [`Avx512::detect`].
    pub fn best() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(k) = Avx2::detect() {
                return Kernel::Avx2(k);
            }
        }
        Kernel::Scalar
    }

    /// Builds the bars of `cols` for `spec`, appending them to `out` in time order.
    pub fn aggregate(
        self,
        cols: &SortedColumns<'_>,
        spec: &BatchSpec,
        out: &mut Vec<Bar>,
    ) -> BatchStats {
        self.run(cols, spec, out, &mut NoFold)
    }

    /// Builds the bars of `cols` for `spec`, appending each to `out` and
    /// then showing it to `after`, in time order.
    #[inline]
    fn run<E: AfterBar>(
        self,
        cols: &SortedColumns<'_>,
        spec: &BatchSpec,
        out: &mut Vec<Bar>,
        after: &mut E,
    ) -> BatchStats {
        match self {
            Kernel::Scalar => drive(cols, spec, scalar::reduce, NO_SHORT, out, after),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2(k) => k.run(cols, spec, out, after),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512(k) => k.run(cols, spec, out, after),
        }
    }
}

/// Bars ahead of the one appended whose cache lines [`push_bar`] asks for.
const PREFETCH_BARS: usize = 8;

/// Appends `bar` to `out`, first asking for the cache lines of the bar
/// [`PREFETCH_BARS`] places further on to be fetched, so that appending does
/// not wait for each line it writes (a bar is two lines; with short buckets
/// the stores stalled). The hint asks for the lines to write
/// (`_MM_HINT_ET0`); without the `prfchw` target feature, as built by
/// default, it is emitted as a plain `prefetcht0`, which brings a line no
/// other core holds in exclusive state anyway.
#[inline(always)]
pub(crate) fn push_bar(out: &mut Vec<Bar>, bar: Bar) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_ET0, _mm_prefetch};
        // A prefetch is a hint that never faults, so the address may run past
        // the allocation; `wrapping_add` keeps the arithmetic defined.
        let ahead = out
            .as_ptr()
            .wrapping_add(out.len() + PREFETCH_BARS)
            .cast::<i8>();
        // SAFETY: SSE, which `_mm_prefetch` needs, is part of the x86_64
        // baseline; a prefetch reads and writes no memory.
        unsafe {
            _mm_prefetch::<_MM_HINT_ET0>(ahead);
            _mm_prefetch::<_MM_HINT_ET0>(ahead.wrapping_add(64));
        }
    }
    out.push(bar);
}

/// What the driver does with each bar after appending it.
pub(crate) trait AfterBar {
    /// `bar` was just appended.
    fn after(&mut self, bar: &Bar);
}

/// Nothing: one timeframe.
pub(crate) struct NoFold;

impl AfterBar for NoFold {
    #[inline(always)]
    fn after(&mut self, _: &Bar) {}
}

impl AfterBar for Cascade<'_> {
    /// Folds the finest bar up, inlined into the driver so that the bar's
    /// fields come from registers, not from the 8-byte stores just made.
    #[inline(always)]
    fn after(&mut self, bar: &Bar) {
        self.fold_up(0, bar);
    }
}

/// A short-bucket path for [`drive`]: `(cols, i, hi, end)` to the bucket's
/// end and sums, if found and clean.
pub(crate) type ShortPath = fn(&SortedColumns<'_>, usize, usize, i64) -> Option<(usize, RunSums)>;

/// No short-bucket path: every bucket galloped and reduced.
pub(crate) const NO_SHORT: Option<ShortPath> = None;

/// Builds the bars of several timeframes with [`Kernel::best`]; see
/// [`Kernel::aggregate_many`].
pub fn aggregate_many(
    cols: &SortedColumns<'_>,
    spec: &BatchSpec,
    timeframes: &[Timeframe],
    out: &mut [Vec<Bar>],
) -> BatchStats {
    Kernel::best().aggregate_many(cols, spec, timeframes, out)
}

impl Kernel {
    /// Builds the bars of every timeframe in `timeframes` (in any order;
    /// `spec.timeframe` is ignored), appending those of `timeframes[i]` to
    /// `out[i]`. The columns are reduced once, into bars of the finest
    /// timeframe; every timeframe that is a whole multiple of it (1s, 1m, 5m,
    /// 15m, 1h, 1d all are) is folded as those bars are built, each from the
    /// widest other timeframe that divides it (1m from 1s, 5m from 1m, ...),
    /// so six timeframes cost about one pass instead of six. A timeframe that
    /// is not a multiple is reduced from the columns on its own.
    ///
    /// The bars equal [`Kernel::aggregate`]'s for each timeframe: open, high,
    /// low, close, count, first and last time exactly; volume, VWAP numerator,
    /// buy and sell volume are summed in another order (bar by bar, level by
    /// level), so they may differ in the last bits, as between kernels. The returned stats
    /// count rows once (`rows`, `invalid` as for one timeframe) and `bars`
    /// over all timeframes.
    ///
    /// # Panics
    ///
    /// If `out` is shorter than `timeframes`.
    pub fn aggregate_many(
        self,
        cols: &SortedColumns<'_>,
        spec: &BatchSpec,
        timeframes: &[Timeframe],
        out: &mut [Vec<Bar>],
    ) -> BatchStats {
        assert!(out.len() >= timeframes.len(), "one output per timeframe");
        let Some(finest) = timeframes.iter().copied().min_by_key(|tf| tf.nanos()) else {
            return BatchStats::default();
        };
        let before: Vec<usize> = out.iter().map(Vec::len).collect();
        // The cascade: each distinct multiple of the finest, in width order,
        // at the output of its first occurrence.
        let mut casc: Vec<(Timeframe, usize)> = Vec::new();
        for (i, &tf) in timeframes.iter().enumerate() {
            if tf.nanos() % finest.nanos() == 0 && casc.iter().all(|&(t, _)| t != tf) {
                casc.push((tf, i));
            }
        }
        casc.sort_by_key(|&(tf, _)| tf.nanos());
        let tfs: Vec<Timeframe> = casc.iter().map(|&(tf, _)| tf).collect();
        let outs: Vec<usize> = casc.iter().map(|&(_, i)| i).collect();
        let fine_spec = BatchSpec {
            timeframe: finest,
            ..*spec
        };
        // The finest bars go straight from the driver into their output, taken
        // out of `out` meanwhile, and each is folded up from there.
        let mut fine = std::mem::take(&mut out[outs[0]]);
        let mut fold = Cascade::new(&tfs, &outs, spec.origin_ns, out);
        let st = self.run(cols, &fine_spec, &mut fine, &mut fold);
        fold.flush();
        out[outs[0]] = fine;
        for (i, &tf) in timeframes.iter().enumerate() {
            if let Some(&(_, first)) = casc.iter().find(|&&(t, _)| t == tf) {
                if first != i {
                    // A repeated timeframe: the same bars again.
                    let (src, dst) = two(out, first, i);
                    dst.extend_from_slice(&src[before[first]..]);
                }
            } else {
                // Not a multiple of the finest: reduced from the columns on its own.
                let own = BatchSpec {
                    timeframe: tf,
                    ..*spec
                };
                self.aggregate(cols, &own, &mut out[i]);
            }
        }
        let bars = timeframes
            .iter()
            .enumerate()
            .map(|(i, _)| (out[i].len() - before[i]) as u64)
            .sum();
        BatchStats { bars, ..st }
    }
}

/// `(&v[a], &mut v[b])` for `a != b`.
fn two(v: &mut [Vec<Bar>], a: usize, b: usize) -> (&[Bar], &mut Vec<Bar>) {
    if a < b {
        let (l, r) = v.split_at_mut(b);
        (&l[a], &mut r[0])
    } else {
        let (l, r) = v.split_at_mut(a);
        (&r[0], &mut l[b])
    }
}

/// Builds the bars of `cols` for `spec` with [`Kernel::best`], appending to `out`.
pub fn aggregate(cols: &SortedColumns<'_>, spec: &BatchSpec, out: &mut Vec<Bar>) -> BatchStats {
    Kernel::best().aggregate(cols, spec, out)
}

#[inline(always)]
fn row_ok(price: f64, size: f64) -> bool {
    price.is_finite() && size.is_finite() && size >= 0.0
}

/// First index `>= from` with `ts[index] >= end` (or `ts.len()`), galloping
/// from `from`: O(log run) probes, so long buckets cost no time-column reads.
#[inline]
fn gallop(ts: &[i64], from: usize, end: i64) -> usize {
    let n = ts.len();
    let mut lo = from;
    let mut step = 1usize;
    let mut hi = from;
    while hi < n && ts[hi] < end {
        lo = hi + 1;
        hi = hi.saturating_add(step).min(n);
        step = step.saturating_mul(2);
    }
    // ts[lo - 1] < end (or lo == from), and hi == n or ts[hi] >= end.
    lo + ts[lo..hi].partition_point(|&t| t < end)
}

/// First index `>= from` with `ts[index] >= end` (or `ts.len()`), galloping
/// forward or back from `guess`. Buckets of one series tend to hold similar
/// row counts, so with the previous bucket's count as the guess this probes
/// a few lines near the edge instead of ~2·log2(run) lines spread over the
/// run (each a cache miss from DRAM: ~3 % of the 100M-row bench).
#[inline]
fn gallop_from(ts: &[i64], from: usize, end: i64, guess: usize) -> usize {
    let g = guess.clamp(from, ts.len());
    if g == from || ts[g - 1] < end {
        // Rows from..g are all before `end`.
        return gallop(ts, g, end);
    }
    // ts[hi] >= end: the answer is in from..=hi.
    let mut hi = g - 1;
    let mut step = 1usize;
    loop {
        let lo = hi.saturating_sub(step).max(from);
        if lo == from || ts[lo] < end {
            return lo + ts[lo..hi].partition_point(|&t| t < end);
        }
        hi = lo;
        step = step.saturating_mul(2);
    }
}

/// Rows of the previous bucket at most which the next one is tried with the
/// kernel's short-bucket path (when it has one): ending the bucket by
/// comparing each row's time as it is reduced costs a time-column read per
/// row, which long buckets skip by galloping (measured: 128 kept scenario 4's
/// synthetic walk, ~200 rows a bucket from memory, on the galloping path,
/// and was faster than 64 on the SPY week; following every bucket was ~25 %
/// slower on the synthetic walk).
const SHORT_RUN: usize = 128;

/// The driver shared by every kernel: bucket edges, first/last valid rows,
/// and the reduction `reduce(cols, a, b)` of rows `a..b`; each bar is
/// appended to `out` and then shown to `after`, in time order. (Built in
/// place, a bar is stored field by field; copied from a temporary, it was
/// read back in 16-byte halves of 8-byte stores, which cannot be forwarded.)
///
/// A bucket after a short one (at most [`SHORT_RUN`] rows) is first offered
/// to `short(cols, i, hi, end)`, a reduction that also finds the bucket's
/// end: rows from `i` (the bucket's first) up to the first with time `>=
/// end`, looked for before row `hi`. It returns `Some((j, sums))` when it
/// found the end `j` and every row of `i..j` is valid, `None` (nothing
/// decided) otherwise.
#[inline(always)]
pub(crate) fn drive<F, S, E>(
    cols: &SortedColumns<'_>,
    spec: &BatchSpec,
    reduce: F,
    short: Option<S>,
    out: &mut Vec<Bar>,
    after: &mut E,
) -> BatchStats
where
    F: Fn(&SortedColumns<'_>, usize, usize) -> RunSums,
    S: Fn(&SortedColumns<'_>, usize, usize, i64) -> Option<(usize, RunSums)>,
    E: AfterBar,
{
    let ts = cols.ts;
    let tf = spec.timeframe;
    let width = tf.nanos();
    let origin = tf.normalize_origin(spec.origin_ns);
    let lo = ts.partition_point(|&t| t < TS_MIN);
    let hi = ts.partition_point(|&t| t <= TS_MAX);
    let mut st = BatchStats {
        invalid: (lo + (ts.len() - hi)) as u64,
        ..BatchStats::default()
    };
    let mut i = lo;
    // Rows of the previous bucket: where the next bucket's end is looked for first.
    let mut last_run = 1;
    // The bucket after the previous one: `[next_start, next_end)` (none yet).
    let (mut next_start, mut next_end) = (i64::MAX, i64::MAX);
    while i < hi {
        let t = ts[i];
        // Dense data: the next bucket is usually the one right after the
        // previous one, whose start needs no division. Times are within
        // TS_MIN..=TS_MAX, so neither edge saturated and both are exact.
        let start = if next_start <= t && t < next_end {
            next_start
        } else {
            tf.bucket_start(t, origin)
        };
        let end = tf.bucket_end(start);
        (next_start, next_end) = (end, end.saturating_add(width));
        if let Some(short) = &short
            && last_run <= SHORT_RUN
            && let Some((j, s)) = short(cols, i, hi, end)
        {
            // Every row of i..j is valid.
            emit_run(cols, spec, start, end, i, j - 1, &s, out, after, &mut st);
            last_run = j - i;
            i = j;
            continue;
        }
        let j = gallop_from(&ts[..hi], i + 1, end, i + last_run);
        let run = j - i;
        last_run = run;
        // First and last valid rows of the run (almost always i and j - 1).
        let mut a = i;
        while a < j && !row_ok(cols.price[a], cols.size[a]) {
            a += 1;
        }
        if a < j {
            let mut b = j - 1;
            while !row_ok(cols.price[b], cols.size[b]) {
                b -= 1;
            }
            let s = reduce(cols, a, b + 1);
            emit_run(cols, spec, start, end, a, b, &s, out, after, &mut st);
            st.invalid += run as u64 - s.count;
        } else {
            st.invalid += run as u64;
        }
        i = j;
    }
    st
}

/// The bar of one bucket `[start, end)` whose first and last valid rows are
/// `a` and `b` and whose valid rows sum to `s`: appended to `out`, shown to
/// `after`, counted in `st`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn emit_run<E: AfterBar>(
    cols: &SortedColumns<'_>,
    spec: &BatchSpec,
    start: i64,
    end: i64,
    a: usize,
    b: usize,
    s: &RunSums,
    out: &mut Vec<Bar>,
    after: &mut E,
    st: &mut BatchStats,
) {
    let bar = Bar {
        symbol: spec.symbol,
        timeframe: spec.timeframe,
        start,
        end,
        open: cols.price[a],
        high: s.high,
        low: s.low,
        close: cols.price[b],
        volume: s.volume,
        vwap: Bar::vwap_of(s.vwap_num, s.volume, cols.price[b]),
        vwap_num: s.vwap_num,
        buy_volume: s.buy,
        sell_volume: s.sell,
        count: s.count,
        first_ts: cols.ts[a],
        last_ts: cols.ts[b],
        revision: 0,
        flags: spec.flags,
    };
    push_bar(out, bar);
    after.after(&bar);
    st.bars += 1;
    st.rows += s.count;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TFS: [Timeframe; 6] = [
        Timeframe::H1,
        Timeframe::S1,
        Timeframe::M1,
        Timeframe::M5,
        Timeframe::M15,
        Timeframe::D1,
    ];

    fn close(a: f64, b: f64) -> bool {
        a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
    }

    fn kernels() -> Vec<Kernel> {
        let mut k = vec![Kernel::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            k.extend(Avx2::detect().map(Kernel::Avx2));
            k.extend(Avx512::detect().map(Kernel::Avx512));
        }
        k
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// One pass + folding gives each timeframe's bars as `aggregate` does,
        /// with invalid rows, gaps, equal times and an origin offset; a
        /// timeframe that is no multiple of the finest (7s) is reduced on its own.
        #[test]
        fn many_equals_one_by_one(
            rows in proptest::collection::vec(
                (0i64..5_000_000_000, prop_oneof![9 => 1.0f64..200.0, 1 => Just(f64::NAN)],
                 prop_oneof![9 => 0.0f64..10.0, 1 => Just(-1.0)], 0u8..3),
                0..400),
            origin in -100_000_000_000i64..100_000_000_000,
            base in 0i64..4_000_000_000_000_000_000,
        ) {
            let mut t = base;
            let (mut ts, mut price, mut size, mut side) = (vec![], vec![], vec![], vec![]);
            for (gap, p, q, sd) in &rows {
                t += gap % 3 * gap; // many equal times, some long gaps
                ts.push(t);
                price.push(*p);
                size.push(*q);
                side.push(Side::from_u8(*sd));
            }
            let cols = SortedColumns::new(&ts, &price, &size, Some(&side)).unwrap();
            let mut tfs = TFS.to_vec();
            tfs.push(Timeframe::from_millis(7_000).unwrap());
            let spec = BatchSpec { symbol: 3, timeframe: Timeframe::S1, origin_ns: origin, flags: 0 };
            for k in kernels() {
                let mut many = vec![Vec::new(); tfs.len()];
                let st = k.aggregate_many(&cols, &spec, &tfs, &mut many);
                let mut total = 0;
                for (i, &tf) in tfs.iter().enumerate() {
                    let mut one = Vec::new();
                    let s1 = k.aggregate(&cols, &BatchSpec { timeframe: tf, ..spec }, &mut one);
                    prop_assert_eq!((s1.rows, s1.invalid), (st.rows, st.invalid));
                    prop_assert_eq!(one.len(), many[i].len(), "{:?} {:?}", k, tf);
                    for (a, b) in many[i].iter().zip(&one) {
                        prop_assert_eq!(
                            (a.symbol, a.timeframe, a.start, a.end, a.count, a.first_ts, a.last_ts, a.revision, a.flags),
                            (b.symbol, b.timeframe, b.start, b.end, b.count, b.first_ts, b.last_ts, b.revision, b.flags)
                        );
                        prop_assert_eq!(
                            [a.open, a.high, a.low, a.close].map(f64::to_bits),
                            [b.open, b.high, b.low, b.close].map(f64::to_bits)
                        );
                        prop_assert!(close(a.volume, b.volume) && close(a.vwap_num, b.vwap_num)
                            && close(a.buy_volume, b.buy_volume) && close(a.sell_volume, b.sell_volume)
                            && close(a.vwap, b.vwap), "{:?} {:?} {:?}", k, a, b);
                    }
                    total += one.len() as u64;
                }
                prop_assert_eq!(st.bars, total);
            }
        }
    }

    /// Columns of short buckets (1 to ~20 rows a second) with bursts of long
    /// ones, equal times, gaps of seconds to minutes, hostile rows, and times
    /// near either end of the accepted range (some rows beyond it).
    fn short_bucket_rows() -> impl Strategy<Value = (Vec<i64>, Vec<f64>, Vec<f64>, Vec<Side>)> {
        let gap = prop_oneof![
            8 => 0i64..200_000_000,
            2 => Just(0i64),
            2 => 0i64..2_000_000,
            1 => 1_000_000_000i64..60_000_000_000,
        ];
        let price = prop_oneof![
            30 => (1i64..=2_000_000).prop_map(|c| c as f64 / 100.0),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
        ];
        let size = prop_oneof![
            30 => (0i64..=100_000).prop_map(|c| c as f64 / 1000.0),
            1 => Just(-0.0),
            1 => Just(-1.0),
            1 => Just(f64::NAN),
        ];
        let base = prop_oneof![
            Just(1_600_000_000_000_000_000i64),
            Just(TS_MAX - 20_000_000_000),
            Just(TS_MIN - 5_000_000_000),
        ];
        (
            base,
            any::<bool>(),
            proptest::collection::vec((gap, price, size, 0u8..3), 0..600),
        )
            .prop_map(|(base, clean, rows)| {
                let mut t = base;
                let (mut ts, mut px, mut sz, mut sd) = (vec![], vec![], vec![], vec![]);
                for (g, p, q, s) in rows {
                    t += g;
                    ts.push(t);
                    px.push(if clean && !p.is_finite() { 1.0 } else { p });
                    sz.push(if clean && !(q >= 0.0 && q.is_finite()) {
                        2.0
                    } else {
                        q
                    });
                    sd.push(Side::from_u8(s));
                }
                (ts, px, sz, sd)
            })
    }

    fn same_bars(a: &[Bar], b: &[Bar]) -> Result<(), TestCaseError> {
        prop_assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(b) {
            prop_assert_eq!(
                (
                    a.symbol,
                    a.timeframe,
                    a.start,
                    a.end,
                    a.count,
                    a.first_ts,
                    a.last_ts,
                    a.revision,
                    a.flags
                ),
                (
                    b.symbol,
                    b.timeframe,
                    b.start,
                    b.end,
                    b.count,
                    b.first_ts,
                    b.last_ts,
                    b.revision,
                    b.flags
                )
            );
            prop_assert_eq!(
                [a.open, a.high, a.low, a.close].map(f64::to_bits),
                [b.open, b.high, b.low, b.close].map(f64::to_bits)
            );
            prop_assert!(
                close(a.volume, b.volume)
                    && close(a.vwap_num, b.vwap_num)
                    && close(a.buy_volume, b.buy_volume)
                    && close(a.sell_volume, b.sell_volume)
                    && close(a.vwap, b.vwap),
                "{:?} {:?}",
                a,
                b
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Short buckets (the kernels' short-bucket path, its fall back to
        /// galloping after long buckets and on invalid rows, buckets ending
        /// in the last rows or at the accepted range's end) give the scalar
        /// kernel's bars, alone and through `aggregate_many`.
        #[test]
        fn short_buckets_match_scalar(
            (ts, px, sz, sd) in short_bucket_rows(),
            with_side in any::<bool>(),
            tf_ms in prop_oneof![Just(1u32), Just(250), Just(1000), Just(3000)],
            origin in -10_000_000_000i64..10_000_000_000,
        ) {
            let side = with_side.then_some(&sd[..]);
            let cols = SortedColumns::new(&ts, &px, &sz, side).unwrap();
            let spec = BatchSpec {
                symbol: 5,
                timeframe: Timeframe::from_millis(tf_ms).unwrap(),
                origin_ns: origin,
                flags: 0,
            };
            let mut want = Vec::new();
            let ws = Kernel::Scalar.aggregate(&cols, &spec, &mut want);
            prop_assert_eq!(ws.rows + ws.invalid, ts.len() as u64);
            let tfs = [spec.timeframe, Timeframe::M1, Timeframe::M5, Timeframe::H1];
            let mut want_many = vec![Vec::new(); tfs.len()];
            let wm = Kernel::Scalar.aggregate_many(&cols, &spec, &tfs, &mut want_many);
            same_bars(&want_many[0], &want)?;
            for k in kernels() {
                let mut got = Vec::new();
                prop_assert_eq!(k.aggregate(&cols, &spec, &mut got), ws);
                same_bars(&got, &want)?;
                let mut many = vec![Vec::new(); tfs.len()];
                prop_assert_eq!(k.aggregate_many(&cols, &spec, &tfs, &mut many), wm);
                for (g, w) in many.iter().zip(&want_many) {
                    same_bars(g, w)?;
                }
            }
        }
    }

    proptest! {
        /// `gallop_from` finds the bucket edge `partition_point` finds, from
        /// any guess.
        #[test]
        fn gallop_from_any_guess(
            mut ts in proptest::collection::vec(-50i64..50, 0..300),
            from in 0usize..310,
            end in -60i64..60,
            guess in 0usize..400,
        ) {
            ts.sort_unstable();
            let from = from.min(ts.len());
            let want = from + ts[from..].partition_point(|&t| t < end);
            prop_assert_eq!(gallop_from(&ts, from, end, guess), want);
            prop_assert_eq!(gallop(&ts, from, end), want);
        }
    }

    #[test]
    fn many_with_no_timeframes_or_rows() {
        let cols = SortedColumns::new(&[], &[], &[], None).unwrap();
        let spec = BatchSpec {
            symbol: 0,
            timeframe: Timeframe::S1,
            origin_ns: 0,
            flags: 0,
        };
        assert_eq!(
            aggregate_many(&cols, &spec, &[], &mut []),
            BatchStats::default()
        );
        let mut out = vec![Vec::new(); 2];
        let st = aggregate_many(&cols, &spec, &[Timeframe::M1, Timeframe::M1], &mut out);
        assert_eq!(st.bars, 0);
        assert!(out.iter().all(Vec::is_empty));
    }
}
