//! AVX2 and AVX-512 kernels, reachable only through [`Avx2`] / [`Avx512`]
//! values, which exist only after run-time detection saw the feature.

use std::arch::x86_64::*;
use std::sync::atomic::{AtomicU8, Ordering};

use super::{
    AfterBar, BatchSpec, BatchStats, NO_SHORT, NoFold, RunSums, SortedColumns, drive, row_ok,
};
use crate::{Bar, Side};

/// Rows ahead of the loads that the SIMD loops prefetch into L1 (2 KiB of `f64`).
const PREFETCH_L1: usize = 256;
/// Rows ahead of the loads that the SIMD loops prefetch into L2 (16 KiB of
/// `f64`). Two distances measured 6-8 % faster from DRAM than one (L1 at 512
/// rows): the far prefetch has the lines on their way from memory, the near one
/// only brings them from L2 into L1.
const PREFETCH_L2: usize = 2048;

/// Prefetches the price and size lines of row `k + PREFETCH_L1` into L1 and of
/// row `k + PREFETCH_L2` into L2, and the side line of row `k + PREFETCH_L1`
/// (a side line holds 64 rows, so 7 of 8 of these find it already on its way:
/// measured ~2 % faster than a test and branch that prefetches it once). Call
/// once per 8 rows (one line of `f64`).
#[target_feature(enable = "avx2")]
#[inline]
fn prefetch_rows(pp: *const f64, qp: *const f64, sp: Option<*const u8>, k: usize) {
    // A prefetch is a hint that never faults, so the addresses may run past
    // the end; `wrapping_add` keeps the pointer arithmetic defined.
    _mm_prefetch::<_MM_HINT_T0>(pp.wrapping_add(k + PREFETCH_L1).cast());
    _mm_prefetch::<_MM_HINT_T0>(qp.wrapping_add(k + PREFETCH_L1).cast());
    _mm_prefetch::<_MM_HINT_T2>(pp.wrapping_add(k + PREFETCH_L2).cast());
    _mm_prefetch::<_MM_HINT_T2>(qp.wrapping_add(k + PREFETCH_L2).cast());
    if let Some(sp) = sp {
        _mm_prefetch::<_MM_HINT_T0>(sp.wrapping_add(k + PREFETCH_L1).cast());
    }
}

/// Proof that this CPU runs AVX2. Get one from [`Avx2::detect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Avx2 {
    _private: (),
}

/// Proof that this CPU runs AVX-512F. Get one from [`Avx512::detect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Avx512 {
    _private: (),
}

/// Detection cache: 0 not yet, 1 absent, 2 present. Written by whichever
/// thread detects first (all write the same value); `Relaxed` suffices since
/// the value carries no other memory with it.
static HAS_AVX2: AtomicU8 = AtomicU8::new(0);
static HAS_AVX512: AtomicU8 = AtomicU8::new(0);

fn cached(flag: &AtomicU8, detect: fn() -> bool) -> bool {
    match flag.load(Ordering::Relaxed) {
        0 => {
            let has = detect();
            flag.store(if has { 2 } else { 1 }, Ordering::Relaxed);
            has
        }
        v => v == 2,
    }
}

impl Avx2 {
    /// `Some` when this CPU runs AVX2 (detected once, then cached).
    pub fn detect() -> Option<Avx2> {
        cached(&HAS_AVX2, || is_x86_feature_detected!("avx2")).then_some(Avx2 { _private: () })
    }

    /// Bars of `cols` for `spec`, appended to `out`.
    pub fn aggregate(
        self,
        cols: &SortedColumns<'_>,
        spec: &BatchSpec,
        out: &mut Vec<Bar>,
    ) -> BatchStats {
        self.run(cols, spec, out, &mut NoFold)
    }

    /// Bars of `cols` for `spec`, appended to `out` and then shown to
    /// `after`, in time order.
    #[inline]
    pub(crate) fn run<E: AfterBar>(
        self,
        cols: &SortedColumns<'_>,
        spec: &BatchSpec,
        out: &mut Vec<Bar>,
        after: &mut E,
    ) -> BatchStats {
        // SAFETY: an `Avx2` exists only when `detect` saw AVX2 on this CPU.
        unsafe { aggregate_avx2(cols, spec, out, after) }
    }
}

impl Avx512 {
    /// `Some` when this CPU runs AVX-512F (detected once, then cached).
    pub fn detect() -> Option<Avx512> {
        cached(&HAS_AVX512, || is_x86_feature_detected!("avx512f"))
            .then_some(Avx512 { _private: () })
    }

    /// Bars of `cols` for `spec`, appended to `out`.
    pub fn aggregate(
        self,
        cols: &SortedColumns<'_>,
        spec: &BatchSpec,
        out: &mut Vec<Bar>,
    ) -> BatchStats {
        self.run(cols, spec, out, &mut NoFold)
    }

    /// Bars of `cols` for `spec`, appended to `out` and then shown to
    /// `after`, in time order.
    #[inline]
    pub(crate) fn run<E: AfterBar>(
        self,
        cols: &SortedColumns<'_>,
        spec: &BatchSpec,
        out: &mut Vec<Bar>,
        after: &mut E,
    ) -> BatchStats {
        // SAFETY: an `Avx512` exists only when `detect` saw AVX-512F on this CPU.
        unsafe { aggregate_avx512(cols, spec, out, after) }
    }
}

#[target_feature(enable = "avx2")]
fn aggregate_avx2<E: AfterBar>(
    cols: &SortedColumns<'_>,
    spec: &BatchSpec,
    out: &mut Vec<Bar>,
    after: &mut E,
) -> BatchStats {
    // The closures inherit this function's target feature.
    drive(
        cols,
        spec,
        |c, a, b| reduce_avx2(c, a, b),
        Some(|c: &SortedColumns<'_>, i, hi, end| short_avx2(c, i, hi, end)),
        out,
        after,
    )
}

#[target_feature(enable = "avx512f")]
fn aggregate_avx512<E: AfterBar>(
    cols: &SortedColumns<'_>,
    spec: &BatchSpec,
    out: &mut Vec<Bar>,
    after: &mut E,
) -> BatchStats {
    // The closure inherits this function's target feature.
    drive(
        cols,
        spec,
        |c, a, b| reduce_avx512(c, a, b),
        NO_SHORT,
        out,
        after,
    )
}

/// Rows a bucket is followed for at most by [`short_avx2`]; a longer one is
/// galloped and reduced instead (its time column not read, its other columns
/// prefetched), the rows followed wasted.
const SHORT_MAX: usize = 1024;

/// AVX2, a short bucket: rows from `i` (time `< end`), 4 at a time, each
/// group's times compared with `end` and its rows beyond the bucket masked
/// off, until a group reaches the end (see [`super::drive`]). No per-row
/// validity masks, as in [`reduce_avx2_clean`]: any invalid row shows in the
/// sums, and then this returns `None`, as it does when the end is not found
/// within [`SHORT_MAX`] rows or before the last whole group before `hi`.
#[target_feature(enable = "avx2")]
fn short_avx2(cols: &SortedColumns<'_>, i: usize, hi: usize, end: i64) -> Option<(usize, RunSums)> {
    let (tp, pp, qp) = (cols.ts.as_ptr(), cols.price.as_ptr(), cols.size.as_ptr());
    let sp = cols.side.map(|s| s.as_ptr().cast::<u8>());
    let zero = _mm256_setzero_pd();
    let (one, two) = (_mm256_set1_epi64x(1), _mm256_set1_epi64x(2));
    let endv = _mm256_set1_epi64x(end);
    let first = _mm256_set1_pd(cols.price[i]);
    let (mut hi_v, mut lo_v) = (first, first);
    let (mut vol, mut num, mut buy, mut sell, mut sign) = (zero, zero, zero, zero, zero);
    let limit = hi.min(i.saturating_add(SHORT_MAX));
    let mut k = i;
    let j = loop {
        // Whole groups only.
        if k + 4 > limit {
            return None;
        }
        // SAFETY: k + 4 <= limit <= hi <= len of every column (SortedColumns
        // has equal lengths); unaligned loads.
        let (tv, pv, qv) = unsafe {
            (
                _mm256_loadu_si256(tp.add(k).cast()),
                _mm256_loadu_pd(pp.add(k)),
                _mm256_loadu_pd(qp.add(k)),
            )
        };
        // SAFETY: as above, for the side column (the bytes are `Side` values,
        // repr(u8)); an unaligned read of rows k..k + 4.
        let sides = sp.map(|sp| unsafe { sp.add(k).cast::<i32>().read_unaligned() });
        // Rows of the bucket: time < end (a prefix of the group: times are sorted).
        let inb = _mm256_cmpgt_epi64(endv, tv);
        let m = _mm256_movemask_pd(_mm256_castsi256_pd(inb)) as u32;
        if m == 0b1111 {
            // The whole group is in the bucket.
            hi_v = _mm256_max_pd(hi_v, pv);
            lo_v = _mm256_min_pd(lo_v, pv);
            vol = _mm256_add_pd(vol, qv);
            num = _mm256_add_pd(num, _mm256_mul_pd(pv, qv));
            sign = _mm256_or_pd(sign, qv);
            if let Some(raw) = sides {
                let sv = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(raw));
                let isb = _mm256_castsi256_pd(_mm256_cmpeq_epi64(sv, one));
                let iss = _mm256_castsi256_pd(_mm256_cmpeq_epi64(sv, two));
                buy = _mm256_add_pd(buy, _mm256_and_pd(qv, isb));
                sell = _mm256_add_pd(sell, _mm256_and_pd(qv, iss));
            }
            k += 4;
            continue;
        }
        // The bucket ends in this group: its rows beyond the end masked off
        // (price to the first price, size and product to +0.0, which leave
        // the extremes and the sums as they are).
        let inb = _mm256_castsi256_pd(inb);
        let pm = _mm256_blendv_pd(first, pv, inb);
        hi_v = _mm256_max_pd(hi_v, pm);
        lo_v = _mm256_min_pd(lo_v, pm);
        let qm = _mm256_and_pd(qv, inb);
        vol = _mm256_add_pd(vol, qm);
        num = _mm256_add_pd(num, _mm256_and_pd(_mm256_mul_pd(pv, qv), inb));
        sign = _mm256_or_pd(sign, qm);
        if let Some(raw) = sides {
            let sv = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(raw));
            let isb = _mm256_castsi256_pd(_mm256_cmpeq_epi64(sv, one));
            let iss = _mm256_castsi256_pd(_mm256_cmpeq_epi64(sv, two));
            buy = _mm256_add_pd(buy, _mm256_and_pd(qm, isb));
            sell = _mm256_add_pd(sell, _mm256_and_pd(qm, iss));
        }
        break k + m.count_ones() as usize;
    };
    // [volume, vwap_num, buy, sell], each the sum of its 4 lanes.
    let sums = hsum4x256(vol, num, buy, sell);
    let mut v = [0.0f64; 4];
    // SAFETY: `v` is 32 bytes; unaligned store.
    unsafe { _mm256_storeu_pd(v.as_mut_ptr(), sums) };
    let [volume, vwap_num, buy, sell] = v;
    if _mm256_movemask_pd(sign) != 0 || !volume.is_finite() || !vwap_num.is_finite() {
        return None;
    }
    Some((
        j,
        RunSums {
            count: (j - i) as u64,
            high: hmax256(hi_v),
            low: hmin256(lo_v),
            volume,
            vwap_num,
            buy,
            sell,
        },
    ))
}

/// Adds the scalar rows `from..b` into `s` in row order.
#[inline(always)]
fn tail(cols: &SortedColumns<'_>, from: usize, b: usize, s: &mut RunSums) {
    for k in from..b {
        let (p, q) = (cols.price[k], cols.size[k]);
        if !row_ok(p, q) {
            continue;
        }
        if p > s.high {
            s.high = p;
        }
        if p < s.low {
            s.low = p;
        }
        s.volume += q;
        s.vwap_num += p * q;
        match cols.side.map_or(Side::Unknown, |sd| sd[k]) {
            Side::Buy => s.buy += q,
            Side::Sell => s.sell += q,
            Side::Unknown => {}
        }
        s.count += 1;
    }
}

#[target_feature(enable = "avx2")]
fn hsum256(v: __m256d) -> f64 {
    let lo = _mm256_castpd256_pd128(v);
    let hi = _mm256_extractf128_pd::<1>(v);
    let s = _mm_add_pd(lo, hi);
    _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
}

/// `[Σ a, Σ b, Σ c, Σ d]`, each over its 4 lanes, in one vector: two
/// horizontal adds and one cross-lane add instead of four reductions.
#[target_feature(enable = "avx2")]
fn hsum4x256(a: __m256d, b: __m256d, c: __m256d, d: __m256d) -> __m256d {
    // [a0+a1, b0+b1, a2+a3, b2+b3] and the same for c, d.
    let ab = _mm256_hadd_pd(a, b);
    let cd = _mm256_hadd_pd(c, d);
    // [a0+a1, b0+b1, c0+c1, d0+d1] + [a2+a3, b2+b3, c2+c3, d2+d3]
    _mm256_add_pd(
        _mm256_permute2f128_pd::<0x20>(ab, cd),
        _mm256_permute2f128_pd::<0x31>(ab, cd),
    )
}

#[target_feature(enable = "avx2")]
fn hmax256(v: __m256d) -> f64 {
    let m = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
    _mm_cvtsd_f64(_mm_max_sd(m, _mm_unpackhi_pd(m, m)))
}

#[target_feature(enable = "avx2")]
fn hmin256(v: __m256d) -> f64 {
    let m = _mm_min_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
    _mm_cvtsd_f64(_mm_min_sd(m, _mm_unpackhi_pd(m, m)))
}

/// AVX2: rows `a..b` (`a` and `b - 1` valid). First without per-row masks,
/// which is right when every row is valid; any invalid row shows in the sums
/// (a NaN or infinite price makes `price·size` NaN or infinite, a NaN or
/// infinite size the volume, a negative size its sign bit), and then the
/// masked kernel redoes the run.
#[target_feature(enable = "avx2")]
fn reduce_avx2(cols: &SortedColumns<'_>, a: usize, b: usize) -> RunSums {
    if let Some(s) = reduce_avx2_clean(cols, a, b) {
        return s;
    }
    reduce_avx2_masked(cols, a, b)
}

/// AVX2 without masks; `None` when some row of `a..b` (before the tail) may
/// be invalid.
#[target_feature(enable = "avx2")]
fn reduce_avx2_clean(cols: &SortedColumns<'_>, a: usize, b: usize) -> Option<RunSums> {
    let (pp, qp) = (cols.price.as_ptr(), cols.size.as_ptr());
    let sp = cols.side.map(|s| s.as_ptr().cast::<u8>());
    let zero = _mm256_setzero_pd();
    let (one, two) = (_mm256_set1_epi64x(1), _mm256_set1_epi64x(2));
    let first = _mm256_set1_pd(cols.price[a]);
    let mut hi = [first; 2];
    let mut lo = [first; 2];
    let mut vol = [zero; 2];
    let mut num = [zero; 2];
    let mut buy = [zero; 2];
    let mut sell = [zero; 2];
    let mut sign = zero;
    let mut k = a;
    while k + 8 <= b {
        // Software prefetch: the hardware prefetcher alone leaves this
        // single-core stream ~20 % below the bandwidth it can reach.
        prefetch_rows(pp, qp, sp, k);
        for u in 0..2 {
            let at = k + 4 * u;
            // SAFETY: at + 4 <= k + 8 <= b <= len of both columns (SortedColumns
            // has equal lengths); unaligned loads.
            let (pv, qv) = unsafe { (_mm256_loadu_pd(pp.add(at)), _mm256_loadu_pd(qp.add(at))) };
            hi[u] = _mm256_max_pd(hi[u], pv);
            lo[u] = _mm256_min_pd(lo[u], pv);
            vol[u] = _mm256_add_pd(vol[u], qv);
            num[u] = _mm256_add_pd(num[u], _mm256_mul_pd(pv, qv));
            sign = _mm256_or_pd(sign, qv);
            if let Some(sp) = sp {
                // SAFETY: at + 4 <= len of the side column (equal lengths); the
                // bytes are `Side` values (repr(u8)); unaligned read.
                let raw = unsafe { sp.add(at).cast::<i32>().read_unaligned() };
                let sv = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(raw));
                let isb = _mm256_castsi256_pd(_mm256_cmpeq_epi64(sv, one));
                let iss = _mm256_castsi256_pd(_mm256_cmpeq_epi64(sv, two));
                buy[u] = _mm256_add_pd(buy[u], _mm256_and_pd(qv, isb));
                sell[u] = _mm256_add_pd(sell[u], _mm256_and_pd(qv, iss));
            }
        }
        k += 8;
    }
    let volume = hsum256(_mm256_add_pd(vol[0], vol[1]));
    let vwap_num = hsum256(_mm256_add_pd(num[0], num[1]));
    if _mm256_movemask_pd(sign) != 0 || !volume.is_finite() || !vwap_num.is_finite() {
        return None;
    }
    let mut s = RunSums {
        count: (k - a) as u64,
        high: hmax256(_mm256_max_pd(hi[0], hi[1])),
        low: hmin256(_mm256_min_pd(lo[0], lo[1])),
        volume,
        vwap_num,
        buy: hsum256(_mm256_add_pd(buy[0], buy[1])),
        sell: hsum256(_mm256_add_pd(sell[0], sell[1])),
    };
    tail(cols, k, b, &mut s);
    Some(s)
}

/// AVX2 with a validity mask per row: 2 × 4 lanes, then the tail in order.
#[target_feature(enable = "avx2")]
fn reduce_avx2_masked(cols: &SortedColumns<'_>, a: usize, b: usize) -> RunSums {
    let (pp, qp) = (cols.price.as_ptr(), cols.size.as_ptr());
    let sp = cols.side.map(|s| s.as_ptr().cast::<u8>());
    let inf = _mm256_set1_pd(f64::INFINITY);
    let ninf = _mm256_set1_pd(f64::NEG_INFINITY);
    let zero = _mm256_setzero_pd();
    let abs = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
    let (one, two) = (_mm256_set1_epi64x(1), _mm256_set1_epi64x(2));
    let mut hi = [ninf; 2];
    let mut lo = [inf; 2];
    let mut vol = [zero; 2];
    let mut num = [zero; 2];
    let mut buy = [zero; 2];
    let mut sell = [zero; 2];
    let mut cnt = [_mm256_setzero_si256(); 2];
    let mut k = a;
    while k + 8 <= b {
        prefetch_rows(pp, qp, sp, k);
        for u in 0..2 {
            let at = k + 4 * u;
            // SAFETY: at + 4 <= k + 8 <= b <= len of both columns (SortedColumns
            // has equal lengths); unaligned loads.
            let (pv, qv) = unsafe { (_mm256_loadu_pd(pp.add(at)), _mm256_loadu_pd(qp.add(at))) };
            let okp = _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_and_pd(pv, abs), inf);
            let okq = _mm256_and_pd(
                _mm256_cmp_pd::<_CMP_GE_OQ>(qv, zero),
                _mm256_cmp_pd::<_CMP_LT_OQ>(qv, inf),
            );
            let ok = _mm256_and_pd(okp, okq);
            hi[u] = _mm256_max_pd(hi[u], _mm256_blendv_pd(ninf, pv, ok));
            lo[u] = _mm256_min_pd(lo[u], _mm256_blendv_pd(inf, pv, ok));
            let qm = _mm256_and_pd(qv, ok);
            vol[u] = _mm256_add_pd(vol[u], qm);
            num[u] = _mm256_add_pd(num[u], _mm256_and_pd(_mm256_mul_pd(pv, qv), ok));
            cnt[u] = _mm256_sub_epi64(cnt[u], _mm256_castpd_si256(ok));
            if let Some(sp) = sp {
                // SAFETY: at + 4 <= len of the side column (equal lengths); the
                // bytes are `Side` values (repr(u8)); unaligned read.
                let raw = unsafe { sp.add(at).cast::<i32>().read_unaligned() };
                let sv = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(raw));
                let isb = _mm256_castsi256_pd(_mm256_cmpeq_epi64(sv, one));
                let iss = _mm256_castsi256_pd(_mm256_cmpeq_epi64(sv, two));
                buy[u] = _mm256_add_pd(buy[u], _mm256_and_pd(qm, isb));
                sell[u] = _mm256_add_pd(sell[u], _mm256_and_pd(qm, iss));
            }
        }
        k += 8;
    }
    let c = _mm256_add_epi64(cnt[0], cnt[1]);
    let mut lanes = [0i64; 4];
    // SAFETY: `lanes` is 32 bytes; unaligned store.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), c) };
    let mut s = RunSums {
        count: lanes.iter().sum::<i64>() as u64,
        high: hmax256(_mm256_max_pd(hi[0], hi[1])),
        low: hmin256(_mm256_min_pd(lo[0], lo[1])),
        volume: hsum256(_mm256_add_pd(vol[0], vol[1])),
        vwap_num: hsum256(_mm256_add_pd(num[0], num[1])),
        buy: hsum256(_mm256_add_pd(buy[0], buy[1])),
        sell: hsum256(_mm256_add_pd(sell[0], sell[1])),
    };
    tail(cols, k, b, &mut s);
    s
}

/// AVX-512F: rows `a..b` (`a` and `b - 1` valid), 2 × 8 lanes with masks.
#[target_feature(enable = "avx512f")]
fn reduce_avx512(cols: &SortedColumns<'_>, a: usize, b: usize) -> RunSums {
    let (pp, qp) = (cols.price.as_ptr(), cols.size.as_ptr());
    let sp = cols.side.map(|s| s.as_ptr().cast::<u8>());
    let inf = _mm512_set1_pd(f64::INFINITY);
    let zero = _mm512_setzero_pd();
    let (one, two) = (_mm512_set1_epi64(1), _mm512_set1_epi64(2));
    let mut hi = [_mm512_set1_pd(f64::NEG_INFINITY); 2];
    let mut lo = [inf; 2];
    let mut vol = [zero; 2];
    let mut num = [zero; 2];
    let mut buy = [zero; 2];
    let mut sell = [zero; 2];
    let mut count = 0u64;
    let mut k = a;
    while k + 16 <= b {
        prefetch_rows(pp, qp, sp, k);
        prefetch_rows(pp, qp, sp, k + 8);
        for u in 0..2 {
            let at = k + 8 * u;
            // SAFETY: at + 8 <= k + 16 <= b <= len of both columns; unaligned loads.
            let (pv, qv) = unsafe { (_mm512_loadu_pd(pp.add(at)), _mm512_loadu_pd(qp.add(at))) };
            let okp = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_abs_pd(pv), inf);
            let okq = _mm512_mask_cmp_pd_mask::<_CMP_GE_OQ>(okp, qv, zero);
            let ok = _mm512_mask_cmp_pd_mask::<_CMP_LT_OQ>(okq, qv, inf);
            hi[u] = _mm512_mask_max_pd(hi[u], ok, hi[u], pv);
            lo[u] = _mm512_mask_min_pd(lo[u], ok, lo[u], pv);
            vol[u] = _mm512_mask_add_pd(vol[u], ok, vol[u], qv);
            num[u] = _mm512_mask_add_pd(num[u], ok, num[u], _mm512_mul_pd(pv, qv));
            count += ok.count_ones() as u64;
            if let Some(sp) = sp {
                // SAFETY: at + 8 <= len of the side column; `Side` bytes; unaligned read.
                let raw = unsafe { sp.add(at).cast::<i64>().read_unaligned() };
                let sv = _mm512_cvtepu8_epi64(_mm_cvtsi64_si128(raw));
                let isb = _mm512_mask_cmpeq_epi64_mask(ok, sv, one);
                let iss = _mm512_mask_cmpeq_epi64_mask(ok, sv, two);
                buy[u] = _mm512_mask_add_pd(buy[u], isb, buy[u], qv);
                sell[u] = _mm512_mask_add_pd(sell[u], iss, sell[u], qv);
            }
        }
        k += 16;
    }
    let mut s = RunSums {
        count,
        high: _mm512_reduce_max_pd(_mm512_max_pd(hi[0], hi[1])),
        low: _mm512_reduce_min_pd(_mm512_min_pd(lo[0], lo[1])),
        volume: _mm512_reduce_add_pd(_mm512_add_pd(vol[0], vol[1])),
        vwap_num: _mm512_reduce_add_pd(_mm512_add_pd(num[0], num[1])),
        buy: _mm512_reduce_add_pd(_mm512_add_pd(buy[0], buy[1])),
        sell: _mm512_reduce_add_pd(_mm512_add_pd(sell[0], sell[1])),
    };
    tail(cols, k, b, &mut s);
    s
}
