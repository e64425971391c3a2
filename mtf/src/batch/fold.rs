//! The fold behind [`super::Kernel::aggregate_many`]: coarser bars built from
//! finer ones as the finest are produced, in a cascade (1s → 1m → 5m → 15m →
//! 1h → 1d): each coarser timeframe folds the bars of the widest other one
//! that divides it, so a finest bar is merged once (into the next level up)
//! while it is still in registers, not once per coarser timeframe from memory.

use super::push_bar;
use crate::accum::{finish, merge};
use crate::{Bar, Timeframe};

/// No level.
const NONE: usize = usize::MAX;

/// One timeframe of the cascade.
struct Level {
    tf: Timeframe,
    /// Origin reduced into `[0, width)`.
    origin: i64,
    /// Index into the outputs.
    out: usize,
    /// Levels folded from this one: the first, then each one's next sibling.
    first_child: usize,
    next_sibling: usize,
    /// The bar being folded.
    acc: Option<Bar>,
}

/// Timeframes whose bars are folded from the finest one's, level by level
/// (the finest bars are appended by the driver, then passed to
/// [`Cascade::fold_up`]).
pub(crate) struct Cascade<'o> {
    /// Sorted by width; `levels[0]` is the finest (fed by the driver).
    levels: Vec<Level>,
    out: &'o mut [Vec<Bar>],
}

impl<'o> Cascade<'o> {
    /// A cascade over `tfs` (sorted by width, distinct, each a multiple of
    /// `tfs[0]`), the bars of `tfs[k]` appended to `out[outs[k]]`.
    pub(crate) fn new(
        tfs: &[Timeframe],
        outs: &[usize],
        origin_ns: i64,
        out: &'o mut [Vec<Bar>],
    ) -> Cascade<'o> {
        let mut levels: Vec<Level> = Vec::with_capacity(tfs.len());
        for (k, (&tf, &o)) in tfs.iter().zip(outs).enumerate() {
            levels.push(Level {
                tf,
                origin: tf.normalize_origin(origin_ns),
                out: o,
                first_child: NONE,
                next_sibling: NONE,
                acc: None,
            });
            if k == 0 {
                continue;
            }
            // The parent: the widest finer level whose width divides this one's
            // (the finest always does), so its buckets nest in this level's.
            let parent = (0..k)
                .rev()
                .find(|&p| tf.nanos() % levels[p].tf.nanos() == 0)
                .unwrap_or(0);
            // Append as the parent's last child (children fed in width order).
            match levels[parent].first_child {
                NONE => levels[parent].first_child = k,
                mut c => {
                    while levels[c].next_sibling != NONE {
                        c = levels[c].next_sibling;
                    }
                    levels[c].next_sibling = k;
                }
            }
        }
        Cascade { levels, out }
    }

    /// A finished bar of level `l` (above the finest): appended to its
    /// output and folded into the levels built from it.
    #[inline(never)]
    fn emit(&mut self, l: usize, bar: &Bar) {
        push_bar(&mut self.out[self.levels[l].out], *bar);
        self.fold_up(l, bar);
    }

    /// Folds a finished bar of level `l` into the levels built from it.
    #[inline(always)]
    pub(crate) fn fold_up(&mut self, l: usize, bar: &Bar) {
        let mut c = self.levels[l].first_child;
        while c != NONE {
            self.fold(c, bar);
            c = self.levels[c].next_sibling;
        }
    }

    /// Folds `f`, a bar of `c`'s parent level (later than every bar folded
    /// into `c` so far), into level `c`.
    #[inline(always)]
    fn fold(&mut self, c: usize, f: &Bar) {
        let lv = &mut self.levels[c];
        if let Some(acc) = lv.acc.as_mut() {
            if f.first_ts < acc.end {
                merge(acc, f);
                return;
            }
            let done = finish(acc);
            self.emit(c, &done);
        }
        let lv = &mut self.levels[c];
        let start = lv.tf.bucket_start(f.first_ts, lv.origin);
        lv.acc = Some(Bar {
            timeframe: lv.tf,
            start,
            end: lv.tf.bucket_end(start),
            ..*f
        });
    }

    /// Emits the open bar of every coarser level, finer levels first (each
    /// one's last bar still folds into the coarser ones).
    pub(crate) fn flush(&mut self) {
        for l in 1..self.levels.len() {
            if let Some(acc) = self.levels[l].acc.take() {
                self.emit(l, &finish(&acc));
            }
        }
    }
}
