//! The rolls: fold mode's paths for a tick that starts a later finest bar
//! while the symbol's rings hold little (see the parent module's docs for
//! the four paths and when each is taken). [`Aggregator::roll`] takes a tick
//! in the roll window (nothing else due), [`Aggregator::roll_far`] one past
//! it (coarser bars closing). Both emit exactly what `update_slow` would; the
//! unit tests in `roll_tests.rs` compare them on random streams.

#[cfg(debug_assertions)]
use super::set_due;
use super::{Aggregator, emit_fills, emit_fold_open};
use crate::accum::{self, TS_MAX, TS_MIN};
use crate::event::{BarEvent, BarEventKind, BarSink};
use crate::held::{Held, TfParams, TfState};
use crate::{Side, SymbolId, Tick, Timeframe};

impl Aggregator {
    /// [`Aggregator::roll`] for a trade in the roll window, with the
    /// inline hot path on; `false` (nothing changed) for any other tick.
    /// (The warm window of `update_colder` ends before the roll window.)
    /// `INLINE`: the roll's body is compiled into the caller (the
    /// interleaved loop of `update_each`, where sparse symbols roll most
    /// ticks: no call, and with AVX its three-operand instructions).
    #[inline(always)]
    pub(super) fn roll_trade<S: BarSink, const INLINE: bool>(
        &mut self,
        tick: &Tick,
        out: &mut S,
    ) -> bool {
        tick.kind == crate::TickKind::Trade
            && self
                .hot
                .get(tick.symbol as usize)
                .is_some_and(|h| tick.ts_event >= h.roll_from && tick.ts_event < h.roll_until)
            && accum::price_size_ok(tick.price, tick.size)
            && self.rolls()
            && if INLINE {
                self.roll_inline::<S, true>(
                    tick.symbol as usize,
                    tick.flags,
                    tick.ts_event,
                    tick.price,
                    tick.size,
                    tick.side,
                    out,
                )
            } else {
                self.roll(
                    tick.symbol as usize,
                    tick.flags,
                    tick.ts_event,
                    tick.price,
                    tick.size,
                    tick.side,
                    out,
                )
            }
    }

    /// Fold mode: a valid tick in the roll window starts a later finest
    /// bar, and nothing else is due (see `set_due` for the conditions): the
    /// hot bar is folded into the coarser ones (the newest of each, not
    /// emitted), closed and released, with fill the empty buckets between
    /// are emitted as flat bars, and the tick loads a new one. Emits exactly
    /// what `update_slow` would, without routing or settling. Returns
    /// `false`, having changed nothing, when the slow path must take the
    /// tick instead: with fill, a gap whose flat bars the slow path would
    /// hold (the lateness reaches past them).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn roll<S: BarSink>(
        &mut self,
        i: usize,
        tick_flags: u16,
        ts: i64,
        price: f64,
        size: f64,
        side: Side,
        out: &mut S,
    ) -> bool {
        self.roll_inline::<S, false>(i, tick_flags, ts, price, size, side, out)
    }

    /// [`Aggregator::roll`], compiled into its caller; `FAST`: the inline
    /// hot path is on (`self.fast`, so no open updates: the callers that
    /// know it leave the open-update code out).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn roll_inline<S: BarSink, const FAST: bool>(
        &mut self,
        i: usize,
        tick_flags: u16,
        ts: i64,
        price: f64,
        size: f64,
        side: Side,
        out: &mut S,
    ) -> bool {
        let (Some(sym), Some(h)) = (self.syms.get_mut(i), self.hot.get_mut(i)) else {
            return false;
        };
        let p0 = self.p0;
        let (fine, coarse) = sym.tfs.split_at_mut(1);
        let fine = &mut fine[0];
        let end_old = fine.back_end;
        // No branch on whether the tick is in the next bucket: for sparse
        // symbols that is a coin toss (and `start` needs no division).
        let start = p0.start_fast(ts);
        // With fill, the slow path emits the flat bars of the empty buckets
        // `end_old .. start` as it releases the old bar, and does not hold
        // them when the last one is beyond the lateness (so all are):
        // `start + lateness <= ts`. (Without a gap, the window's
        // `end_old + lateness <= ts`.) One branch on all three (`&`, not
        // `&&`): a gap or not is a coin toss, but without lateness the
        // answer is always no.
        // (No overflow: `start <= ts <= TS_MAX`, the lateness at most a
        // week.)
        let fill = self.cfg.fill_empty;
        if fill & (start + self.lateness > ts) & (start != end_old) {
            return false;
        }
        let old = h.bar(&fine.ring[fine.back_idx].bar);
        debug_assert!(!FAST || (self.fast && self.hot_ok));
        let hot_ok = FAST || self.hot_ok;
        if hot_ok {
            accum::merge_later(&mut sym.pending, &old);
        } else {
            // Open updates read the coarser bars right after.
            for t in coarse.iter_mut() {
                let j = t.back_idx;
                accum::merge(&mut t.ring[j].bar, &old);
            }
        }
        // The old bar closes, then with fill come the flat bars of the empty
        // buckets `end_old .. start` (as `TfState::fill_gap` emits them when
        // none is held: at most `max_fill_per_gap`, the newest, the others
        // counted as skipped). One counted loop, run at least once, so that a
        // sink that only counts takes them all at once without a branch on
        // how many (a coin toss for sparse symbols).
        let k = if fill {
            let n = crate::held::exact_div(start - end_old, p0.width, p0.inv_width) as u64;
            let k = n.min(u64::from(self.cfg.max_fill_per_gap));
            self.stats.fill_skipped += n - k;
            k
        } else {
            0
        };
        let mut s = start - k as i64 * p0.width;
        for e in 0..k + 1 {
            let bar = if e == 0 {
                old
            } else {
                let b = accum::filled_bar(old.symbol, p0.tf, s, old.close, self.flags);
                s += p0.width;
                b
            };
            out.push_event(BarEvent {
                kind: BarEventKind::Closed,
                bar: accum::finish(&bar),
            });
        }
        // The old bar leaves the ring (it was the only one), the new one
        // takes the next slot.
        fine.tail_close = old.close;
        let bar = start_fine_bar(fine, &p0, i, self.flags, start, ts, price, size, side);
        let end = bar.end;
        sym.wm = ts;
        sym.live = tick_flags & Tick::FLAG_REPLAY == 0;
        // The old bar's hot-path ticks, and this one.
        sym.applied += h.count + 1;
        // The new bar's own due times are at or after its end; the coarser
        // timeframes' are unchanged.
        sym.due = end.min(sym.coarse_due);
        h.load(
            &bar,
            start.max(TS_MIN),
            sym.due.min(TS_MAX + 1),
            FAST || self.fast,
        );
        h.roll_from = end + self.lateness;
        h.roll_until = sym.roll_until;
        if !hot_ok {
            emit_fold_open(sym, h, &self.params, self.cfg.open_updates, ts, out);
        }
        #[cfg(test)]
        {
            self.rolled.0 += 1;
            self.rolled.1 += u64::from(fill && start != end_old);
        }
        true
    }

    /// Fold mode, no open updates, no lateness: a valid tick at or past the
    /// end of the roll window (some coarser bar closes) while the finest
    /// ring holds only the hot bar, each coarser timeframe holds at most
    /// the bar of the hot bar's bucket (or `route` would create it
    /// quietly: `set_due` checked both): what `update_slow` does, without
    /// routing or the generic settling. The hot bar and the pending bars
    /// are folded into the coarser bars (created if needed); the hot bar is
    /// closed and released, with fill the empty finest buckets up to the
    /// tick's are emitted; each coarser bar that ends by the tick is closed
    /// and released, with fill followed by its empty buckets up to the
    /// tick's; the tick starts the next finest bar. Returns `false`, having
    /// changed nothing, when a coarser timeframe holds more (the slow path
    /// takes the tick).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn roll_far<S: BarSink>(
        &mut self,
        i: usize,
        tick_flags: u16,
        ts: i64,
        price: f64,
        size: f64,
        side: Side,
        out: &mut S,
    ) -> bool {
        debug_assert!(self.far_rolls && self.lateness == 0);
        let c = self.common(i as SymbolId);
        let (Some(sym), Some(h)) = (self.syms.get_mut(i), self.hot.get_mut(i)) else {
            return false;
        };
        let (params, stats) = (&self.params, &mut self.stats);
        let p0 = params[0];
        let (fine, coarse) = sym.tfs.split_at_mut(1);
        let fine = &mut fine[0];
        let old = h.bar(&fine.ring[fine.back_idx].bar);
        if coarse.iter().any(|t| {
            t.len > 1 || (t.len == 1 && !(old.start >= t.back_start && old.start < t.back_end))
        }) {
            return false;
        }
        // Fold: the hot bar joins the pending bars (as a roll merges it),
        // then they go into each coarser bar as `sync_out` merges them: one
        // merge per coarser timeframe.
        accum::merge_later(&mut sym.pending, &old);
        let first = sym.pending.first_ts;
        for (t, p) in coarse.iter_mut().zip(&params[1..]) {
            if t.len == 0 {
                t.create_quietly(p, &c, first);
            }
            let j = t.back_idx;
            accum::merge(&mut t.ring[j].bar, &sym.pending);
        }
        sym.pending = accum::empty_bar(0, Timeframe::S1, 0, 0);
        // Settle, finest first: close and release (no lateness), then fill.
        out.push_event(BarEvent {
            kind: BarEventKind::Closed,
            bar: accum::finish(&old),
        });
        fine.tail_close = old.close;
        let end_old = fine.back_end;
        let start = p0.start_fast(ts);
        if c.fill && start > end_old {
            emit_fills(
                &p0, c.max_fill, old.close, end_old, start, c.symbol, c.flags, out, stats,
            );
        }
        // The next roll window, as `set_due` would find it: a coarser bar
        // left open holds the new finest bar (it ends after the tick), is
        // due at its end and bounds the window there; a closed one leaves
        // its timeframe empty, creatable quietly at the tick's bucket
        // (filled up to it), which bounds the window at its end and, with
        // fill, is due then.
        let mut coarse_due = i64::MAX;
        let mut until = TS_MAX + 1;
        for (t, p) in coarse.iter_mut().zip(&params[1..]) {
            if t.back_end > ts {
                coarse_due = coarse_due.min(t.back_end);
                until = until.min(t.back_end);
                continue;
            }
            let upto = p.start_fast(ts);
            let next_end = p.tf.bucket_end(upto);
            until = until.min(next_end);
            if c.fill {
                coarse_due = coarse_due.min(next_end);
            }
            let bar = t.ring[t.back_idx].bar;
            out.push_event(BarEvent {
                kind: BarEventKind::Closed,
                bar: accum::finish(&bar),
            });
            t.tail_close = bar.close;
            t.head = (t.head + 1) & t.mask();
            t.len = 0;
            if c.fill && t.tail_end < upto {
                emit_fills(
                    p, c.max_fill, bar.close, t.tail_end, upto, c.symbol, c.flags, out, stats,
                );
                t.tail_end = upto;
            }
            t.set_back_bounds();
        }
        // The new finest bar, as `roll` starts it.
        let bar = start_fine_bar(fine, &p0, i, c.flags, start, ts, price, size, side);
        let end = bar.end;
        sym.wm = ts;
        sym.live = tick_flags & Tick::FLAG_REPLAY == 0;
        sym.applied += h.count + 1;
        sym.coarse_due = coarse_due;
        sym.roll_until = until.min(coarse_due);
        sym.due = end.min(coarse_due);
        h.load(&bar, start.max(TS_MIN), sym.due.min(TS_MAX + 1), c.fast);
        h.roll_from = end;
        h.roll_until = sym.roll_until;
        #[cfg(debug_assertions)]
        {
            let (due, roll_until, hot) = (sym.due, sym.roll_until, *h);
            set_due(sym, h, params, &c, true);
            debug_assert_eq!((due, roll_until), (sym.due, sym.roll_until));
            debug_assert_eq!(format!("{hot:?}"), format!("{h:?}"));
        }
        #[cfg(test)]
        {
            self.rolled.2 += 1;
        }
        true
    }

    /// Whether rolls are on (always, but in tests that compare them with
    /// the slow path).
    #[inline(always)]
    pub(super) fn rolls(&self) -> bool {
        #[cfg(test)]
        return self.rolls;
        #[cfg(not(test))]
        true
    }
}

/// The roll's and `roll_far`'s common step: the tick starts the finest
/// timeframe's bar at `start` in the ring slot after the head, which becomes
/// the newest bar. Returns the new bar (its `end` set).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn start_fine_bar(
    fine: &mut TfState,
    p0: &TfParams,
    slot: usize,
    flags: u32,
    start: i64,
    ts: i64,
    price: f64,
    size: f64,
    side: Side,
) -> crate::Bar {
    // (No overflow: `start <= ts <= TS_MAX` is the bucket of a valid tick,
    // the width at most a day.)
    let end = start + p0.width;
    // (The symbol id is the slot's index; the end is `bucket_end`'s, without
    // its overflow test.)
    let mut bar = accum::empty_bar(slot as SymbolId, p0.tf, start, flags);
    bar.end = end;
    accum::apply(&mut bar, ts, price, size, side);
    let j = (fine.head + 1) & fine.mask();
    fine.ring[j] = Held {
        bar,
        emitted: false,
        folded: false,
    };
    fine.head = j;
    fine.back_idx = j;
    fine.back_start = start;
    fine.back_end = end;
    fine.tail_end = end;
    bar
}
