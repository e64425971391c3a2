//! Held bars of one (symbol, timeframe): a fixed ring, oldest first, with the
//! newest bar's bounds cached for the hot check; closing, filling, releasing
//! and routing late ticks to their bucket.

use crate::accum;
use crate::aggregator::AggStats;
use crate::config::OpenUpdates;
use crate::event::{BarEvent, BarEventKind, BarSink};
use crate::{Bar, SymbolId, Timeframe};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Held {
    pub(crate) bar: Bar,
    /// Emitted as `Closed` (later changes emit `Corrected`).
    pub(crate) emitted: bool,
    /// Fold mode, finest timeframe: already merged into the coarser bars.
    pub(crate) folded: bool,
}

/// Settings shared by all timeframes, copied for the slow paths.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Common {
    pub(crate) symbol: SymbolId,
    pub(crate) lateness: i64,
    pub(crate) delay: i64,
    pub(crate) fill: bool,
    pub(crate) max_fill: u32,
    pub(crate) flags: u32,
    /// Fold mode, trade bars, no open updates: the inline hot path is on.
    pub(crate) fast: bool,
    /// No open updates: rolls merge closed finest bars into `pending`
    /// (see the aggregator's `SymState`), not into the coarser bars.
    pub(crate) hot_ok: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct TfParams {
    pub(crate) tf: Timeframe,
    /// Width, ns.
    pub(crate) width: i64,
    /// Origin reduced into `[0, width)`.
    pub(crate) origin: i64,
    /// `1 / width`, for [`floor_div`].
    pub(crate) inv_width: f64,
}

impl TfParams {
    pub(crate) fn new(tf: Timeframe, origin_ns: i64) -> TfParams {
        TfParams {
            tf,
            width: tf.nanos(),
            origin: tf.normalize_origin(origin_ns),
            inv_width: 1.0 / tf.nanos() as f64,
        }
    }
}

/// `n.div_euclid(w)` (the floor of `n / w`, as `w > 0`) for `|n| < 2^63 -
/// 2w`, without a 64-bit division (tens of cycles of latency, on the path
/// of every tick that starts a bar past a gap): an estimate from `n * (1 /
/// w)` in `f64`, then made exact. The estimate is within one of the floor
/// (the quotient is below 2^44 for widths of at least 1 ms, far inside
/// `f64`'s 53 bits), so each correction loop runs at most once or twice.
#[inline]
pub(crate) fn floor_div(n: i64, w: i64, inv_w: f64) -> i64 {
    debug_assert!(w >= 1_000_000 && n.unsigned_abs() < 1 << 63);
    let x = n as f64 * inv_w;
    debug_assert!(x.abs() < 2f64.powi(45));
    // SAFETY: `w` is a timeframe's width, a whole number of milliseconds
    // (at least 10^6 ns), so `inv_w <= 1e-6`; with `|n| <= 2^63`, `x` is
    // finite and `|x| < 2^44`: it truncates to an `i64`.
    let mut q = unsafe { x.to_int_unchecked::<i64>() };
    let mut r = n.wrapping_sub(q.wrapping_mul(w));
    while r < 0 {
        q -= 1;
        r += w;
    }
    while r >= w {
        q += 1;
        r -= w;
    }
    q
}

/// `n / w` for `n`, a multiple of `w` with `0 <= n < 2^63`, and `w` of at
/// least 1 ms (a timeframe's width): the quotient is below 2^44, and the
/// estimate `n * (1 / w)` in `f64` is within 3 * 2^-53 of it relative (three
/// roundings), so within 0.01: adding one half and truncating gives it with
/// no correction.
#[inline]
pub(crate) fn exact_div(n: i64, w: i64, inv_w: f64) -> i64 {
    debug_assert!(w >= 1_000_000 && n >= 0 && n % w == 0);
    let x = n as f64 * inv_w + 0.5;
    debug_assert!(x < 2f64.powi(45));
    // SAFETY: `0 <= n < 2^63` and `inv_w <= 1e-6`, so `x` is finite and
    // within `0.5 .. 2^45`: it truncates to an `i64`.
    let q = unsafe { x.to_int_unchecked::<i64>() };
    debug_assert_eq!(q * w, n);
    q
}

impl TfParams {
    /// Bucket start of `ts`. `ts` is within `TS_MIN - MAX_LATENESS_NS ..=
    /// TS_MAX` (valid ticks, clamped clocks) and `origin` within the width,
    /// so nothing overflows; one division.
    #[inline]
    pub(crate) fn start(&self, ts: i64) -> i64 {
        let rel = ts - self.origin;
        rel.div_euclid(self.width) * self.width + self.origin
    }

    /// [`TfParams::start`] without the division (see [`floor_div`]): for
    /// the rolls, where a tick past a gap needs its bucket on every roll.
    #[inline]
    pub(crate) fn start_fast(&self, ts: i64) -> i64 {
        let rel = ts - self.origin;
        floor_div(rel, self.width, self.inv_width) * self.width + self.origin
    }
}

/// One (symbol, timeframe).
#[derive(Debug)]
pub(crate) struct TfState {
    /// Bounds of the newest held bar (`start > end` when none): the hot check.
    pub(crate) back_start: i64,
    pub(crate) back_end: i64,
    /// Ring index of that bar, when there is one.
    pub(crate) back_idx: usize,
    /// Ring of held bars, oldest first, sorted by start.
    pub(crate) ring: Box<[Held]>,
    pub(crate) head: usize,
    pub(crate) len: usize,
    /// End of the newest bar ever created or seeded (`i64::MIN`: none).
    pub(crate) tail_end: i64,
    /// Close of that bar once it left the ring (or was seeded).
    pub(crate) tail_close: f64,
    /// Buckets ending at or before this are never reopened (seeded state).
    pub(crate) floor_end: i64,
    /// Open updates: start of the bar last emitted, and the event time.
    pub(crate) open_emit_start: i64,
    pub(crate) open_emit_ts: i64,
}

impl TfState {
    pub(crate) fn new(cap: usize) -> TfState {
        let blank = Held {
            bar: accum::empty_bar(0, Timeframe::S1, 0, 0),
            emitted: false,
            folded: false,
        };
        TfState {
            back_start: i64::MAX,
            back_end: i64::MIN,
            back_idx: 0,
            ring: vec![blank; cap].into_boxed_slice(),
            head: 0,
            len: 0,
            tail_end: i64::MIN,
            tail_close: f64::NAN,
            floor_end: i64::MIN,
            open_emit_start: i64::MIN,
            open_emit_ts: i64::MIN,
        }
    }

    #[inline(always)]
    pub(crate) fn mask(&self) -> usize {
        self.ring.len() - 1
    }

    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> &Held {
        &self.ring[(self.head + i) & self.mask()]
    }

    #[inline(always)]
    pub(crate) fn get_mut(&mut self, i: usize) -> &mut Held {
        let m = self.mask();
        &mut self.ring[(self.head + i) & m]
    }

    #[inline(always)]
    pub(crate) fn back_mut(&mut self) -> &mut Held {
        let i = self.len - 1;
        self.get_mut(i)
    }

    /// Re-arms the hot check: only a newest bar that is not folded (fold
    /// mode) is updated in place; anything else takes the slow path.
    pub(crate) fn set_back_bounds(&mut self) {
        if self.len > 0 && !self.get(self.len - 1).folded {
            let b = self.get(self.len - 1).bar;
            self.back_start = b.start;
            self.back_end = b.end;
            self.back_idx = (self.head + self.len - 1) & self.mask();
        } else {
            self.back_start = i64::MAX;
            self.back_end = i64::MIN;
        }
    }

    pub(crate) fn pop_front<S: BarSink>(&mut self, out: &mut S) {
        let h = *self.get(0);
        if !h.emitted {
            out.push_event(BarEvent {
                kind: BarEventKind::Closed,
                bar: accum::finish(&h.bar),
            });
        }
        if self.len == 1 {
            self.tail_close = h.bar.close;
        }
        self.head = (self.head + 1) & self.mask();
        self.len -= 1;
    }

    /// Inserts at position `at` (0 ..= len), evicting the oldest when full.
    /// Returns the position of the inserted bar.
    pub(crate) fn insert<S: BarSink>(
        &mut self,
        mut at: usize,
        h: Held,
        out: &mut S,
        stats: &mut AggStats,
    ) -> usize {
        if self.len == self.ring.len() {
            stats.evicted += 1;
            self.pop_front(out);
            if at == 0 {
                // The new bar is older than everything held: emit it at once.
                let mut h = h;
                if !h.emitted {
                    out.push_event(BarEvent {
                        kind: BarEventKind::Closed,
                        bar: accum::finish(&h.bar),
                    });
                    h.emitted = true;
                }
                self.head = (self.head + self.mask()) & self.mask();
                self.len += 1;
                *self.get_mut(0) = h;
                self.pop_front(out);
                self.set_back_bounds();
                return usize::MAX;
            }
            at -= 1;
        }
        let mut i = self.len;
        self.len += 1;
        while i > at {
            let prev = *self.get(i - 1);
            *self.get_mut(i) = prev;
            i -= 1;
        }
        *self.get_mut(at) = h;
        self.set_back_bounds();
        at
    }

    pub(crate) fn last_close(&self) -> f64 {
        if self.len > 0 {
            let b = &self.get(self.len - 1).bar;
            if b.end == self.tail_end {
                return b.close;
            }
        }
        self.tail_close
    }

    /// Flat bars for the empty buckets `[from, to)`, `from` on the grid.
    pub(crate) fn fill_gap<S: BarSink>(
        &mut self,
        p: &TfParams,
        c: &Common,
        to: i64,
        wm: i64,
        out: &mut S,
        stats: &mut AggStats,
    ) {
        let w = p.tf.nanos();
        let mut from = self.tail_end;
        if from >= to {
            return;
        }
        let n = ((to - from) / w) as u64;
        if n > c.max_fill as u64 {
            let skip = n - c.max_fill as u64;
            stats.fill_skipped += skip;
            from += skip as i64 * w;
        }
        let close = self.last_close();
        let mut s = from;
        while s < to {
            let bar = accum::filled_bar(c.symbol, p.tf, s, close, c.flags);
            let mut emitted = false;
            if bar.end.saturating_add(c.delay) <= wm {
                out.push_event(BarEvent {
                    kind: BarEventKind::Closed,
                    bar: accum::finish(&bar),
                });
                emitted = true;
            }
            if bar.end.saturating_add(c.lateness) > wm {
                let h = Held {
                    bar,
                    emitted,
                    folded: true,
                };
                let at = self.len;
                self.insert(at, h, out, stats);
            } else {
                self.tail_close = close;
            }
            s = bar.end;
        }
        self.tail_end = to;
    }

    /// The held bar for the bucket of `ts`, created if needed; `None` when the
    /// tick is too late for this timeframe. `fold`: the data was accepted
    /// already (a finest bar being folded), skip the lateness check.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn route<S: BarSink>(
        &mut self,
        p: &TfParams,
        c: &Common,
        ts: i64,
        wm: i64,
        fold: bool,
        out: &mut S,
        stats: &mut AggStats,
    ) -> Option<usize> {
        if ts >= self.back_start && ts < self.back_end {
            // The newest bar: held, so within the lateness.
            return Some(self.len - 1);
        }
        let s = p.start(ts);
        let e = p.tf.bucket_end(s);
        if e <= self.floor_end || (!fold && e.saturating_add(c.lateness) <= wm) {
            return None;
        }
        let h = Held {
            bar: accum::empty_bar(c.symbol, p.tf, s, c.flags),
            emitted: false,
            folded: false,
        };
        if s >= self.tail_end {
            if c.fill && self.tail_end != i64::MIN {
                self.fill_gap(p, c, s, wm, out, stats);
            }
            self.tail_end = e;
            let at = self.len;
            let at = self.insert(at, h, out, stats);
            return (at != usize::MAX).then_some(at);
        }
        let mut i = self.len;
        while i > 0 {
            let st = self.get(i - 1).bar.start;
            if st == s {
                return Some(i - 1);
            }
            if st < s {
                break;
            }
            i -= 1;
        }
        let at = self.insert(i, h, out, stats);
        (at != usize::MAX).then_some(at)
    }

    /// Whether [`TfState::route`] would create the bar for `ts` (fold mode,
    /// `fold = true`) as a new newest bar without emitting anything: its
    /// bucket starts at or after every bar ever created here, no gap before
    /// it needs filling, and the ring has room (no eviction).
    pub(crate) fn creates_quietly(&self, p: &TfParams, c: &Common, ts: i64) -> bool {
        let s = p.start(ts);
        s >= self.tail_end
            && self.len < self.ring.len()
            && (!c.fill || self.tail_end == i64::MIN || s == self.tail_end)
    }

    /// [`TfState::route`] for `ts` when [`TfState::creates_quietly`] holds:
    /// the same new empty newest bar, the same state, nothing emitted.
    pub(crate) fn create_quietly(&mut self, p: &TfParams, c: &Common, ts: i64) {
        debug_assert!(self.creates_quietly(p, c, ts));
        let s = p.start(ts);
        let h = Held {
            bar: accum::empty_bar(c.symbol, p.tf, s, c.flags),
            emitted: false,
            folded: false,
        };
        self.tail_end = p.tf.bucket_end(s);
        let at = self.len;
        self.len += 1;
        *self.get_mut(at) = h;
        self.set_back_bounds();
    }

    /// Emits what the watermark closes, fills empty buckets before it, and
    /// releases what it puts beyond the lateness.
    pub(crate) fn settle<S: BarSink>(
        &mut self,
        p: &TfParams,
        c: &Common,
        wm: i64,
        out: &mut S,
        stats: &mut AggStats,
    ) {
        for i in 0..self.len {
            let h = self.get_mut(i);
            if h.emitted {
                continue;
            }
            if h.bar.end.saturating_add(c.delay) > wm {
                break;
            }
            h.emitted = true;
            let bar = accum::finish(&h.bar);
            out.push_event(BarEvent {
                kind: BarEventKind::Closed,
                bar,
            });
        }
        while self.len > 0 && self.get(0).bar.end.saturating_add(c.lateness) <= wm {
            self.pop_front(out);
        }
        // Empty buckets after every held bar: emitted after them, in order.
        if c.fill && self.tail_end != i64::MIN {
            let upto = p.start(wm.saturating_sub(c.delay));
            if self.tail_end < upto {
                self.fill_gap(p, c, upto, wm, out, stats);
            }
        }
        self.set_back_bounds();
    }

    /// The event time at which `settle` has something to do.
    pub(crate) fn due(&self, p: &TfParams, c: &Common) -> i64 {
        let mut due = i64::MAX;
        if self.len > 0 {
            due = self.get(0).bar.end.saturating_add(c.lateness);
            for i in 0..self.len {
                let h = self.get(i);
                if !h.emitted {
                    due = due.min(h.bar.end.saturating_add(c.delay));
                    break;
                }
            }
        }
        if c.fill && self.tail_end != i64::MIN {
            due = due.min(
                self.tail_end
                    .saturating_add(p.tf.nanos())
                    .saturating_add(c.delay),
            );
        }
        due
    }

    /// After a change to the held bar at `i` off the hot path: a correction
    /// if it was emitted, a close if it is overdue (a bar created late).
    pub(crate) fn after_change<S: BarSink>(
        &mut self,
        i: usize,
        c: &Common,
        wm: i64,
        out: &mut S,
        stats: &mut AggStats,
    ) {
        let h = self.get_mut(i);
        if h.emitted {
            h.bar.revision = h.bar.revision.saturating_add(1);
            stats.corrections += 1;
            out.push_event(BarEvent {
                kind: BarEventKind::Corrected,
                bar: accum::finish(&h.bar),
            });
        } else if h.bar.end.saturating_add(c.delay) <= wm {
            h.emitted = true;
            out.push_event(BarEvent {
                kind: BarEventKind::Closed,
                bar: accum::finish(&h.bar),
            });
        }
    }

    /// Whether the open-update policy emits now for the bar starting at `start`.
    #[inline]
    pub(crate) fn open_due(&mut self, policy: OpenUpdates, start: i64, ts: i64) -> bool {
        match policy {
            OpenUpdates::None => false,
            OpenUpdates::EveryTick => true,
            OpenUpdates::Every(ns) => {
                if start != self.open_emit_start || ts.saturating_sub(self.open_emit_ts) >= ns {
                    self.open_emit_start = start;
                    self.open_emit_ts = ts;
                    true
                } else {
                    false
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const WIDTHS: [i64; 8] = [
        1_000_000,
        7_000_000,
        250_000_000,
        1_000_000_000,
        60_000_000_000,
        900_000_000_000,
        14_400_000_000_000,
        86_400_000_000_000,
    ];

    #[test]
    fn floor_div_is_div_euclid_at_the_edges() {
        let lim = crate::accum::TS_MAX + crate::config::MAX_LATENESS_NS + 86_400_000_000_000;
        for w in WIDTHS {
            let inv = 1.0 / w as f64;
            for base in [
                0,
                lim,
                -lim,
                1_700_000_000_000_000_000,
                -1_700_000_000_000_000_000,
            ] {
                for k in [-3i64, -1, 0, 1, 3] {
                    for d in [-w - 1, -w, -1, 0, 1, w - 1, w, w + 1] {
                        let n = (base + k * w + d).clamp(-lim, lim);
                        assert_eq!(floor_div(n, w, inv), n.div_euclid(w), "{n} / {w}");
                    }
                }
            }
        }
    }

    #[test]
    fn exact_div_at_the_edges() {
        for w in WIDTHS.into_iter().filter(|&w| w >= 1_000_000) {
            let inv = 1.0 / w as f64;
            let top = i64::MAX / w;
            for q in [0, 1, 2, 3, 1 << 20, 1 << 40, top - 2, top - 1, top] {
                let q = q.min(top);
                assert_eq!(exact_div(q * w, w, inv), q, "{q} * {w}");
            }
        }
    }

    proptest! {
        #[test]
        fn exact_div_is_division(q in 0i64..(1 << 44), ms in 1i64..=86_400_000) {
            let w = ms * 1_000_000;
            let q = q % (i64::MAX / w + 1);
            prop_assert_eq!(exact_div(q * w, w, 1.0 / w as f64), q);
        }

        #[test]
        fn floor_div_is_div_euclid(n in -(1i64 << 62) - (1 << 60)..=(1i64 << 62) + (1 << 60), wi in 0usize..8, ms in 1i64..=86_400_000) {
            for w in [WIDTHS[wi], ms * 1_000_000] {
                prop_assert_eq!(floor_div(n, w, 1.0 / w as f64), n.div_euclid(w));
            }
        }
    }
}
