//! [`Aggregator`]: the streaming multi-timeframe bar builder.
//!
//! Per symbol (a dense slot indexed by [`SymbolId`]) it keeps the watermark —
//! the highest event time seen for that symbol — and, per timeframe, a small
//! ring of *held* bars: the newest bar, bars not closed yet, and closed bars
//! that late ticks may still correct. The ring's capacity is fixed when the
//! symbol is first seen, so nothing allocates per tick.
//!
//! When every timeframe is a multiple of the finest (they share the origin, so
//! every coarse edge is a fine edge), a tick updates only the finest bar; a
//! fine bar is folded into the coarser ones once the watermark leaves it.
//! Otherwise every timeframe is updated directly. Both give the same open,
//! high, low, close, count, first and last time; sums may differ in the last
//! bits (see the crate docs).
//!
//! Fold mode has four paths, cheapest first, each chosen by comparing the
//! tick's time with windows of the symbol's `Hot` state (set by `set_due`
//! after every slow path, and by the rolls, so the common cases need no
//! other test):
//!
//! - hot (`update`, inline): an in-order trade of the newest finest bar that
//!   closes nothing; only with trade bars and no open updates (otherwise the
//!   window is empty and `update_cold` takes the same ticks, then emits);
//! - roll (`roll`): the tick starts a later finest bar, the finest ring
//!   holds only the current one, and no coarser timeframe is due: fold
//!   (into `pending`, or the coarser bars with open updates), emit, with
//!   fill emit the flat bars of the empty buckets between, release, load
//!   the new bar. After a coarser bar closed, its timeframe holds no bar
//!   until the next finest bar is folded; the roll still takes such ticks
//!   when `route` would create that bar quietly, and `sync_out` creates it;
//! - far roll (`roll_far`; no lateness, no open updates): the tick is past
//!   the roll window, so coarser bars close: fold, emit and release them
//!   (with fill, their empty buckets too) and start the new finest bar,
//!   without the rings' generic settling;
//! - slow (`update_slow`): anything else — first sight, late ticks,
//!   lateness, seeds, the clock, rings holding more — through the rings.
//!
//! The two rolls are in the `roll` submodule.
//!
//! Each roll emits exactly what the slow path would for the same tick (the
//! unit tests in `roll_tests.rs` compare them on random streams); only the
//! coarser bars' sums may differ in the last bits, as pending bars are
//! merged into one before they are folded.

use crate::accum::{self, Hot, TS_MAX, TS_MIN, tick_is_valid};
use crate::config::{AggConfig, BarSource, CloseAt, ConfigError, OpenUpdates, QuotePrice};
use crate::event::{BarEvent, BarEventKind, BarSink};
use crate::held::{Common, TfParams, TfState};
use crate::{Bar, Side, SymbolId, Tick, Timeframe};

mod roll;

/// Pairs of neighbouring ticks `update_all` looks at to choose its loop.
const RUN_SAMPLE: usize = 16;

/// Default upper bound on symbol ids (exclusive): ids at or above it are
/// refused and counted, so a corrupt id cannot make the slot table huge.
pub const DEFAULT_MAX_SYMBOLS: u32 = 1 << 20;

/// Counters kept by the aggregator; a cold thread reads and reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AggStats {
    /// Ticks applied to at least one bar.
    pub applied: u64,
    /// Ticks refused: event time outside `TS_MIN ..= TS_MAX`, non-finite
    /// price, non-finite or negative size. No state changes.
    pub invalid: u64,
    /// Ticks of the kind the aggregator does not build (quotes for trade
    /// bars, trades for quote bars). No state changes.
    pub ignored: u64,
    /// Ticks too late for at least one timeframe (not applied there).
    pub late: u64,
    /// (tick, timeframe) pairs not applied because the tick was too late.
    pub late_bar_updates: u64,
    /// `Corrected` events emitted.
    pub corrections: u64,
    /// Empty buckets not filled because a gap exceeded `max_fill_per_gap`.
    pub fill_skipped: u64,
    /// Ticks whose symbol id is at or above the configured maximum.
    pub symbol_out_of_range: u64,
    /// Held bars pushed out of a full ring (never expected: the ring is sized
    /// for the lateness); they are emitted as closed first.
    pub evicted: u64,
}

/// Why [`Aggregator::seed`] refused a bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// The bar's timeframe is not configured.
    #[error("timeframe {0} is not configured")]
    Timeframe(Timeframe),
    /// The bar's start is not on this aggregator's bucket grid.
    #[error("bar start {0} is not on the bucket grid")]
    OffGrid(i64),
    /// Symbol id at or above the configured maximum.
    #[error("symbol id {0} is out of range")]
    Symbol(SymbolId),
    /// The close is not finite, or the start is outside the supported range.
    #[error("bar is not valid (non-finite close or time out of range)")]
    Invalid,
}

#[derive(Debug)]
struct SymState {
    /// Highest event time seen (or advanced to); `i64::MIN` before any.
    /// While the fold-mode hot bar is loaded, its ticks are not folded in
    /// yet: the watermark is [`watermark`] (the hot bar's last time is the
    /// largest hot-path time), `sync_out` folds them in.
    wm: i64,
    /// Ticks applied on the hot path and already written back (`sync_out`),
    /// and ticks applied by a roll; those of the loaded hot bar are its
    /// `count`. Summed by [`Aggregator::stats`], so the hot path bumps no
    /// shared counter.
    applied: u64,
    /// `settle` is needed once `wm >= due`.
    due: i64,
    /// Fold mode: the least `due` of the coarser timeframes (a roll leaves
    /// it unchanged), and the end of the roll window (`i64::MIN`: no roll).
    coarse_due: i64,
    roll_until: i64,
    /// The latest tick that took the slow path (the one that opened the
    /// newest bar, or a late one) was not flagged [`Tick::FLAG_REPLAY`].
    live: bool,
    /// Direct mode: a tick with `hot_start <= ts < hot_limit` only updates
    /// the newest bars in place: nothing closes or rolls (`hot_start >
    /// hot_limit` when no such bar). Derived by `set_due`. (Fold mode keeps
    /// its windows in [`Hot`].)
    hot_start: i64,
    hot_limit: i64,
    tfs: Box<[TfState]>,
    /// Fold mode without open updates: the finest bars closed by rolls
    /// since the last `sync_out`, merged into one (count 0: none). A roll
    /// merges its closed bar here, not into each coarser newest bar; every
    /// reader of the rings runs `sync_out` first, which merges this into
    /// them (a roll's window keeps every such bar inside each coarser
    /// newest bar, and those change only in slow paths). One merge per roll
    /// instead of one per coarser timeframe; the coarser sums may differ
    /// from merging bar by bar in the last bits (fold mode's 1e-12).
    pending: Bar,
}

impl SymState {
    fn absent() -> SymState {
        SymState {
            wm: i64::MIN,
            applied: 0,
            due: i64::MAX,
            coarse_due: i64::MAX,
            roll_until: i64::MIN,
            live: true,
            hot_start: i64::MAX,
            hot_limit: i64::MIN,
            tfs: Box::default(),
            pending: accum::empty_bar(0, Timeframe::S1, 0, 0),
        }
    }

    #[inline(always)]
    fn present(&self) -> bool {
        !self.tfs.is_empty()
    }

    /// Writes the hot bar back to its ring slot (and its ticks into the
    /// watermark and the applied count); every hot window is closed until
    /// `set_due` reopens it.
    ///
    /// A coarser timeframe without a bar for the pending bars' bucket (the
    /// roll window allows that only when `route` would create it quietly,
    /// see `set_due`) gets it now, as folding the first of them would have.
    fn sync_out(&mut self, hot: &mut Hot, params: &[TfParams], c: &Common) {
        if self.pending.count > 0 {
            let ts = self.pending.first_ts;
            for (t, p) in self.tfs[1..].iter_mut().zip(&params[1..]) {
                if !(ts >= t.back_start && ts < t.back_end) {
                    t.create_quietly(p, c, ts);
                }
                let j = t.back_idx;
                accum::merge(&mut t.ring[j].bar, &self.pending);
            }
            self.pending = accum::empty_bar(0, Timeframe::S1, 0, 0);
        }
        if hot.cached() {
            self.wm = watermark(self, hot);
            self.applied += hot.count;
            let t = &mut self.tfs[0];
            let i = t.back_idx;
            t.ring[i].bar = hot.bar(&t.ring[i].bar);
            hot.unload();
        }
        self.hot_start = i64::MAX;
        self.hot_limit = i64::MIN;
    }
}

/// The watermark including hot-path ticks not written back yet.
#[inline]
fn watermark(sym: &SymState, hot: &Hot) -> i64 {
    if hot.cached() {
        sym.wm.max(hot.last_ts)
    } else {
        sym.wm
    }
}

/// Ticks applied on the hot path (written back or not).
fn hot_applied(sym: &SymState, hot: &Hot) -> u64 {
    sym.applied + if hot.cached() { hot.count } else { 0 }
}

/// The streaming multi-timeframe aggregator. See the crate docs for the contract.
#[derive(Debug)]
pub struct Aggregator {
    cfg: AggConfig,
    params: Box<[TfParams]>,
    /// `params[0]` (the finest), for the roll.
    p0: TfParams,
    caps: Box<[usize]>,
    fold: bool,
    lateness: i64,
    delay: i64,
    flags: u32,
    max_symbols: u32,
    /// No open-bar updates: the hot path may skip the policy.
    hot_ok: bool,
    /// Fold mode, trade bars, no open updates: `update` takes the inline
    /// hot path (everything else starts in `update_cold`).
    fast: bool,
    /// Fold mode, no open updates, no lateness: a tick past the roll window
    /// may take `roll_far` (coarser bars closing).
    far_rolls: bool,
    /// The tick kind bars are built from, and the quote price (from `source`).
    kind: crate::TickKind,
    quote_price: QuotePrice,
    /// Dense by symbol id; an absent symbol has no timeframes.
    syms: Vec<SymState>,
    /// Fold mode: the hot bar of each symbol of `syms` (same index).
    hot: Vec<Hot>,
    stats: AggStats,
    /// Tests: `false` sends every tick the roll would take to the slow path.
    #[cfg(test)]
    rolls: bool,
    /// Tests: rolls taken, and those that emitted flat bars.
    #[cfg(test)]
    rolled: (u64, u64, u64),
}

impl Aggregator {
    /// An aggregator for `cfg`, or why the config is refused.
    pub fn new(cfg: AggConfig) -> Result<Aggregator, ConfigError> {
        let tfs = cfg.validate()?;
        let params: Box<[TfParams]> = tfs
            .iter()
            .map(|&tf| TfParams::new(tf, cfg.origin_ns))
            .collect();
        let p0 = params[0];
        let caps = tfs
            .iter()
            .map(|&tf| crate::config::held_capacity(tf, cfg.allowed_lateness_ns))
            .collect();
        let finest = tfs[0].millis();
        let fold =
            cfg.fold && tfs.len() > 1 && tfs.iter().all(|tf| tf.millis().is_multiple_of(finest));
        let lateness = cfg.allowed_lateness_ns;
        let delay = match cfg.close_at {
            CloseAt::EndPlusLateness => lateness,
            CloseAt::End => 0,
        };
        let flags = match cfg.source {
            BarSource::Trades => 0,
            BarSource::Quotes(_) => Bar::FLAG_QUOTES,
        };
        let hot_ok = matches!(cfg.open_updates, OpenUpdates::None);
        let (kind, quote_price) = match cfg.source {
            BarSource::Trades => (crate::TickKind::Trade, QuotePrice::Mid),
            BarSource::Quotes(q) => (crate::TickKind::Quote, q),
        };
        let fast = fold && hot_ok && kind == crate::TickKind::Trade;
        let far_rolls = fold && hot_ok && lateness == 0;
        Ok(Aggregator {
            cfg,
            params,
            p0,
            caps,
            fold,
            lateness,
            delay,
            flags,
            max_symbols: DEFAULT_MAX_SYMBOLS,
            hot_ok,
            fast,
            far_rolls,
            kind,
            quote_price,
            syms: Vec::new(),
            hot: Vec::new(),
            stats: AggStats::default(),
            #[cfg(test)]
            rolls: true,
            #[cfg(test)]
            rolled: (0, 0, 0),
        })
    }

    /// Refuse (and count) symbol ids at or above `max` (default
    /// [`DEFAULT_MAX_SYMBOLS`]); bounds the slot table.
    pub fn with_max_symbols(mut self, max: u32) -> Aggregator {
        self.max_symbols = max;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &AggConfig {
        &self.cfg
    }

    /// The timeframes, finest first (the order bars are emitted in per tick).
    pub fn timeframes(&self) -> impl Iterator<Item = Timeframe> + '_ {
        self.params.iter().map(|p| p.tf)
    }

    /// Whether ticks update only the finest timeframe and fold into the others.
    pub fn folds(&self) -> bool {
        self.fold
    }

    /// Counters.
    ///
    /// Hot-path ticks are counted per symbol and summed here (cost linear in
    /// the symbol slots; call it from a cold thread).
    pub fn stats(&self) -> AggStats {
        let mut s = self.stats;
        s.applied += self
            .syms
            .iter()
            .zip(&self.hot)
            .map(|(s, h)| hot_applied(s, h))
            .sum::<u64>();
        s
    }

    /// The watermark of a symbol: the highest event time seen (or advanced
    /// to), `None` before its first tick.
    pub fn watermark(&self, symbol: SymbolId) -> Option<i64> {
        let i = symbol as usize;
        let (s, h) = (self.syms.get(i)?, self.hot.get(i)?);
        Some(watermark(s, h)).filter(|&w| s.present() && w != i64::MIN)
    }

    /// An upper bound on the events one `update` or `advance` of one symbol
    /// can emit: size a `Vec` sink with it (times the symbols for `advance`
    /// and `flush`). Per timeframe: every held bar closing, two fills of a
    /// gap (before and after the watermark's bucket), a correction, an open
    /// update, an eviction.
    pub fn max_events_per_update(&self) -> usize {
        self.caps
            .iter()
            .map(|&c| c + 2 * self.cfg.max_fill_per_gap as usize + 3)
            .sum()
    }

    fn common(&self, symbol: SymbolId) -> Common {
        Common {
            symbol,
            lateness: self.lateness,
            delay: self.delay,
            fill: self.cfg.fill_empty,
            max_fill: self.cfg.max_fill_per_gap,
            flags: self.flags,
            fast: self.fast,
            hot_ok: self.hot_ok,
        }
    }

    /// Price, size and side of a tick for this aggregator's bars; `None` for
    /// the kind it ignores.
    #[inline(always)]
    fn price_of(&self, t: &Tick) -> Option<(f64, f64, Side)> {
        if t.kind != self.kind {
            return None;
        }
        if self.kind == crate::TickKind::Trade {
            return Some((t.price, t.size, t.side));
        }
        let p = match self.quote_price {
            QuotePrice::Mid => t.mid(),
            QuotePrice::Bid => t.price,
            QuotePrice::Ask => t.ask,
        };
        Some((p, 0.0, Side::Unknown))
    }

    /// Applies one tick to every timeframe of its symbol and emits what it
    /// closes, corrects, or (by policy) updates. Never panics; bad ticks are
    /// counted in [`AggStats`].
    #[inline]
    pub fn update<S: BarSink>(&mut self, tick: &Tick, out: &mut S) {
        // Hot path (fold mode, trade bars, no open updates: otherwise every
        // `limit` is `i64::MIN`): an in-order trade of the newest finest bar
        // that closes nothing. The window
        // lies within `TS_MIN ..= TS_MAX` (`set_due` clamps it), so inside
        // it only price and size are left to check (the rare valid pair the
        // cheap check misses takes the full one on the cold path).
        if !hot_push(&mut self.hot, tick) {
            self.update_cold(tick, out);
        }
    }

    /// [`update`](Aggregator::update) for each tick of `ticks`, in order:
    /// the same events, counters and state as that loop (a consumer that
    /// takes ticks in batches, like the engine's worker, calls this once per
    /// batch). Faster: the loop keeps the symbol table in registers, and on
    /// a CPU with AVX (detected once, at run time) it is compiled with
    /// three-operand instructions, which drop the register copies SSE2's
    /// two-operand max, min and adds need.
    pub fn update_all<S: BarSink>(&mut self, ticks: &[Tick], out: &mut S) {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx) = x86::Avx::detect() {
            return avx.update_all(self, ticks, out);
        }
        self.update_each(ticks, out);
    }

    #[inline(always)]
    fn update_each<S: BarSink>(&mut self, ticks: &[Tick], out: &mut S) {
        // Runs of one symbol (a single-instrument replay, a burst of prints)
        // take a loop that keeps the bar in registers; interleaved symbols
        // the plain one. Whether a tick continues a run is a coin toss in an
        // interleaved stream, so the choice is made once per call, from the
        // first pairs of ticks.
        let sample = &ticks[..ticks.len().min(RUN_SAMPLE + 1)];
        let same = sample
            .windows(2)
            .filter(|w| w[0].symbol == w[1].symbol)
            .count();
        let runs = 2 * same >= RUN_SAMPLE;
        if !runs {
            // The hot path over as many ticks as take it, the table
            // borrowed once (its pointer and length stay in registers), then
            // one tick through the roll (sparse symbols) or the cold path,
            // which may grow the table.
            let mut k = 0;
            while k < ticks.len() {
                let hot = &mut self.hot[..];
                while let Some(t) = ticks.get(k)
                    && hot_push(hot, t)
                {
                    k += 1;
                }
                if let Some(t) = ticks.get(k) {
                    k += 1;
                    if !(self.fast && self.roll_trade::<S, true>(t, out)) {
                        self.update_colder(t, out);
                    }
                }
            }
            return;
        }
        let mut rest = ticks;
        while !rest.is_empty() {
            // The hot path over as many ticks as take it, the table borrowed
            // once (its pointer and length stay in registers), then one tick
            // through the cold path, which may grow the table.
            let hot = &mut self.hot[..];
            let mut n = 0;
            if runs {
                while let Some(t) = rest.get(n)
                    && hot_push(hot, t)
                {
                    n += 1;
                    if let Some(h) = hot.get_mut(t.symbol as usize) {
                        n += h.push_run(t.symbol, &rest[n..]);
                    }
                }
            } else {
                n = rest.iter().take_while(|t| hot_push(hot, t)).count();
            }
            rest = &rest[n..];
            if let Some((t, tail)) = rest.split_first() {
                // Sparse symbols: most ticks the hot path leaves roll.
                if !(self.fast && self.roll_trade::<S, false>(t, out)) {
                    self.update_colder(t, out);
                }
                rest = tail;
            }
        }
    }

    /// Everything but the hot path: quotes, open updates, direct mode, a
    /// tick out of order within the newest bar, a roll to the next finest
    /// bar, and the slow path.
    #[inline(never)]
    fn update_cold<S: BarSink>(&mut self, tick: &Tick, out: &mut S) {
        // Sparse symbols: most ticks that miss the hot path roll.
        if self.fast && self.roll_trade::<S, false>(tick, out) {
            return;
        }
        self.update_colder(tick, out);
    }

    #[inline(never)]
    fn update_colder<S: BarSink>(&mut self, tick: &Tick, out: &mut S) {
        let Some((price, size, side)) = self.price_of(tick) else {
            self.stats.ignored += 1;
            return;
        };
        let ts = tick.ts_event;
        let i = tick.symbol as usize;
        if self.fold {
            if let Some(h) = self.hot.get_mut(i)
                && accum::price_size_ok(price, size)
            {
                if ts >= h.start && ts < h.warm_limit {
                    if ts >= h.last_ts {
                        h.push(ts, price, size, side);
                    } else {
                        h.apply(ts, price, size, side);
                    }
                    if !self.hot_ok {
                        self.emit_hot_open(i, ts, out);
                    }
                    return;
                }
                let before_until = ts < h.roll_until;
                if ts >= h.roll_from && self.rolls() {
                    if before_until {
                        if self.roll(i, tick.flags, ts, price, size, side, out) {
                            return;
                        }
                    } else if self.far_rolls
                        && ts <= TS_MAX
                        && self.roll_far(i, tick.flags, ts, price, size, side, out)
                    {
                        return;
                    }
                }
            }
        } else if let Some(sym) = self.syms.get_mut(i)
            && ts >= sym.hot_start
            && ts < sym.hot_limit
            && accum::price_size_ok(price, size)
        {
            sym.wm = sym.wm.max(ts);
            for t in sym.tfs.iter_mut() {
                let i = t.back_idx;
                accum::apply_held(&mut t.ring[i].bar, ts, price, size, side);
            }
            sym.applied += 1;
            if !self.hot_ok {
                self.emit_hot_open(i, ts, out);
            }
            return;
        }
        if !tick_is_valid(ts, price, size) {
            self.stats.invalid += 1;
            return;
        }
        self.update_slow(tick, ts, price, size, side, out);
    }

    /// Open updates after a hot-path tick.
    #[inline(never)]
    fn emit_hot_open<S: BarSink>(&mut self, i: usize, ts: i64, out: &mut S) {
        let policy = self.cfg.open_updates;
        let sym = &mut self.syms[i];
        if self.fold {
            emit_fold_open(sym, &self.hot[i], &self.params, policy, ts, out);
        } else {
            for t in sym.tfs.iter_mut() {
                let bar = t.ring[t.back_idx].bar;
                if t.open_due(policy, bar.start, ts) {
                    emit_open(&bar, out);
                }
            }
        }
    }

    #[inline(never)]
    fn update_slow<S: BarSink>(
        &mut self,
        tick: &Tick,
        ts: i64,
        price: f64,
        size: f64,
        side: Side,
        out: &mut S,
    ) {
        if tick.symbol >= self.max_symbols {
            self.stats.symbol_out_of_range += 1;
            return;
        }
        let c = self.common(tick.symbol);
        let fold = self.fold;
        let policy = self.cfg.open_updates;
        let i = tick.symbol as usize;
        if !self.syms.get(i).is_some_and(SymState::present) {
            // First sight of this symbol: the only allocation, never per tick.
            Self::slot_static(
                &mut self.syms,
                &mut self.hot,
                &self.caps,
                self.max_symbols,
                tick.symbol,
            );
        }
        let (Some(sym), Some(hot)) = (self.syms.get_mut(i), self.hot.get_mut(i)) else {
            return;
        };
        sym.sync_out(hot, &self.params, &c);
        let (params, stats) = (&self.params, &mut self.stats);
        sym.live = tick.flags & Tick::FLAG_REPLAY == 0;
        if ts > sym.wm {
            sym.wm = ts;
            if ts >= sym.due {
                // No `set_due` here: it runs once at the end of this call.
                settle_tfs(sym, params, &c, fold, out, stats);
            }
        }
        let wm = sym.wm;
        let late = if fold {
            update_fold(
                sym, hot, params, &c, policy, ts, price, size, side, wm, out, stats,
            )
        } else {
            update_direct(
                sym, params, &c, policy, ts, price, size, side, wm, out, stats,
            )
        };
        if late == HOT {
            stats.applied += 1;
        } else if late == params.len() {
            stats.late += 1;
        } else {
            stats.applied += 1;
            if late > 0 {
                stats.late += 1;
            }
        }
        // Slow paths may have created bars with earlier thresholds.
        set_due(sym, hot, params, &c, fold);
    }

    fn slot_static<'a>(
        syms: &'a mut Vec<SymState>,
        hot: &'a mut Vec<Hot>,
        caps: &[usize],
        max: u32,
        symbol: SymbolId,
    ) -> Option<(&'a mut SymState, &'a mut Hot)> {
        if symbol >= max {
            return None;
        }
        let i = symbol as usize;
        if i >= syms.len() {
            syms.resize_with(i + 1, SymState::absent);
            hot.resize(i + 1, Hot::UNLOADED);
        }
        let s = &mut syms[i];
        if !s.present() {
            s.tfs = caps.iter().map(|&c| TfState::new(c)).collect();
        }
        Some((s, &mut hot[i]))
    }

    /// Wall-clock timer: moves the watermark of every *live* symbol (the
    /// latest of its ticks that opened a bar, or came late, was not flagged
    /// [`Tick::FLAG_REPLAY`]) to
    /// `now_ns - clock_grace_ns` if that is later, closing (and, with fill,
    /// filling) what that passes. Replayed symbols are left alone: a replay of
    /// 2013 data is never closed by today's clock.
    pub fn advance<S: BarSink>(&mut self, now_ns: i64, out: &mut S) {
        let to = now_ns
            .saturating_sub(self.cfg.clock_grace_ns)
            .clamp(TS_MIN, TS_MAX);
        for i in 0..self.syms.len() {
            let c = self.common(i as SymbolId);
            let (params, stats, fold) = (&self.params, &mut self.stats, self.fold);
            let (sym, hot) = (&mut self.syms[i], &mut self.hot[i]);
            if !sym.present() {
                continue;
            }
            let wm = watermark(sym, hot);
            if !sym.live || wm == i64::MIN || to <= wm {
                continue;
            }
            // `to` is above the hot-path ticks too, so it is the watermark
            // whether or not they were written back.
            sym.wm = to;
            if to >= sym.due {
                sym.sync_out(hot, params, &c);
                settle_symbol(sym, hot, params, &c, fold, out, stats);
            }
        }
    }

    /// Emits every held bar not emitted yet as `Closed` (end of a replay, or
    /// shutdown). Watermarks do not move; a later tick for such a bar is a
    /// correction.
    pub fn flush<S: BarSink>(&mut self, out: &mut S) {
        for i in 0..self.syms.len() {
            let c = self.common(i as SymbolId);
            let (params, stats, fold) = (&self.params, &mut self.stats, self.fold);
            let (sym, hot) = (&mut self.syms[i], &mut self.hot[i]);
            if !sym.present() {
                continue;
            }
            sym.sync_out(hot, params, &c);
            if fold {
                fold_back(sym, params, &c, out, stats);
            }
            for t in sym.tfs.iter_mut() {
                for j in 0..t.len {
                    let h = t.get_mut(j);
                    if !h.emitted {
                        h.emitted = true;
                        out.push_event(BarEvent {
                            kind: BarEventKind::Closed,
                            bar: accum::finish(&h.bar),
                        });
                    }
                }
            }
            set_due(sym, hot, params, &c, fold);
        }
    }

    /// Restores state after a restart: `last` is the newest stored bar of its
    /// (symbol, timeframe). Buckets up to its end are never reopened, and with
    /// `fill_empty` the next bars continue from its close. Seeding an older bar
    /// than the state already has is a no-op.
    pub fn seed(&mut self, last: &Bar) -> Result<(), SeedError> {
        let Some(k) = self.params.iter().position(|p| p.tf == last.timeframe) else {
            return Err(SeedError::Timeframe(last.timeframe));
        };
        if !last.close.is_finite() || !(TS_MIN..=TS_MAX).contains(&last.start) {
            return Err(SeedError::Invalid);
        }
        let p = self.params[k];
        if p.start(last.start) != last.start {
            return Err(SeedError::OffGrid(last.start));
        }
        let c = self.common(last.symbol);
        let fold = self.fold;
        let params = &self.params;
        let Some((sym, hot)) = Self::slot_static(
            &mut self.syms,
            &mut self.hot,
            &self.caps,
            self.max_symbols,
            last.symbol,
        ) else {
            return Err(SeedError::Symbol(last.symbol));
        };
        sym.sync_out(hot, params, &c);
        let t = &mut sym.tfs[k];
        let end = p.tf.bucket_end(last.start);
        if end > t.tail_end {
            t.tail_end = end;
            t.tail_close = last.close;
            t.floor_end = t.floor_end.max(end);
            t.set_back_bounds();
        }
        set_due(sym, hot, params, &c, fold);
        Ok(())
    }
}

/// Returned by the update paths when only hot paths ran (no bar created).
const HOT: usize = usize::MAX;

/// Direct mode: every timeframe sees the tick. Returns how many were too late,
/// or [`HOT`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_direct<S: BarSink>(
    sym: &mut SymState,
    params: &[TfParams],
    c: &Common,
    policy: OpenUpdates,
    ts: i64,
    price: f64,
    size: f64,
    side: Side,
    wm: i64,
    out: &mut S,
    stats: &mut AggStats,
) -> usize {
    let mut late = 0;
    let mut slow = false;
    for (t, p) in sym.tfs.iter_mut().zip(params.iter()) {
        if ts >= t.back_start && ts < t.back_end {
            let h = t.back_mut();
            accum::apply(&mut h.bar, ts, price, size, side);
            if !matches!(policy, OpenUpdates::None) {
                let bar = h.bar;
                if t.open_due(policy, bar.start, ts) {
                    emit_open(&bar, out);
                }
            }
            continue;
        }
        slow = true;
        let was_tail = ts >= t.tail_end;
        match t.route(p, c, ts, wm, false, out, stats) {
            Some(i) => {
                let h = t.get_mut(i);
                accum::apply(&mut h.bar, ts, price, size, side);
                if was_tail {
                    let bar = h.bar;
                    if t.open_due(policy, bar.start, ts) {
                        emit_open(&bar, out);
                    }
                } else {
                    t.after_change(i, c, wm, out, stats);
                }
            }
            None => {
                late += 1;
                stats.late_bar_updates += 1;
            }
        }
    }
    if slow { late } else { HOT }
}

/// Fold mode: the tick updates the finest bar; late ticks go to every
/// timeframe directly. Returns how many timeframes it was too late for.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_fold<S: BarSink>(
    sym: &mut SymState,
    hot: &Hot,
    params: &[TfParams],
    c: &Common,
    policy: OpenUpdates,
    ts: i64,
    price: f64,
    size: f64,
    side: Side,
    wm: i64,
    out: &mut S,
    stats: &mut AggStats,
) -> usize {
    let fine = &mut sym.tfs[0];
    if ts >= fine.back_start && ts < fine.back_end {
        let h = fine.back_mut();
        accum::apply(&mut h.bar, ts, price, size, side);
        if !matches!(policy, OpenUpdates::None) {
            emit_fold_open(sym, hot, params, policy, ts, out);
        }
        return HOT;
    }
    let p0 = &params[0];
    if ts >= fine.tail_end {
        // A new finest bucket: fold the old one, then start the new one.
        fold_back(sym, params, c, out, stats);
        let fine = &mut sym.tfs[0];
        match fine.route(p0, c, ts, wm, false, out, stats) {
            Some(i) => {
                let h = fine.get_mut(i);
                accum::apply(&mut h.bar, ts, price, size, side);
                h.folded = false;
                if !matches!(policy, OpenUpdates::None) {
                    emit_fold_open(sym, hot, params, policy, ts, out);
                }
                return 0;
            }
            None => {
                // Too late for the finest bucket (beyond the lateness of an
                // advanced watermark): then too late for all of them.
                stats.late_bar_updates += params.len() as u64;
                return params.len();
            }
        }
    }
    // Late for the finest bucket: every timeframe directly.
    let mut late = 0;
    for (k, (t, p)) in sym.tfs.iter_mut().zip(params.iter()).enumerate() {
        match t.route(p, c, ts, wm, false, out, stats) {
            Some(i) => {
                let h = t.get_mut(i);
                accum::apply(&mut h.bar, ts, price, size, side);
                if k == 0 {
                    h.folded = true;
                }
                t.after_change(i, c, wm, out, stats);
            }
            None => {
                late += 1;
                stats.late_bar_updates += 1;
            }
        }
    }
    late
}

/// The flat bars [`TfState::fill_gap`] emits for the empty buckets `from ..
/// to` (on the grid, `from <= to`) of a timeframe when none of them is held
/// (all closed and released): at most `max_fill`, the newest, and the others
/// counted as skipped. A counted loop, so that a sink that only counts takes
/// all of them at once (how many is a coin toss for sparse symbols).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn emit_fills<S: BarSink>(
    p: &TfParams,
    max_fill: u32,
    close: f64,
    mut from: i64,
    to: i64,
    symbol: SymbolId,
    flags: u32,
    out: &mut S,
    stats: &mut AggStats,
) {
    let w = p.width;
    let n = crate::held::floor_div(to - from, w, p.inv_width) as u64;
    let k = n.min(u64::from(max_fill));
    stats.fill_skipped += n - k;
    // The last `k` buckets: from `from + (n - k)·w`, which is `to - k·w`.
    from = to - k as i64 * w;
    for _ in 0..k {
        let bar = accum::filled_bar(symbol, p.tf, from, close, flags);
        out.push_event(BarEvent {
            kind: BarEventKind::Closed,
            bar: accum::finish(&bar),
        });
        from += w;
    }
}

/// Fold mode: merges the newest finest bar into the coarser timeframes, once.
fn fold_back<S: BarSink>(
    sym: &mut SymState,
    params: &[TfParams],
    c: &Common,
    out: &mut S,
    stats: &mut AggStats,
) {
    let (fine, coarse) = sym.tfs.split_at_mut(1);
    let fine = &mut fine[0];
    if fine.len == 0 {
        return;
    }
    let h = fine.back_mut();
    if h.folded {
        return;
    }
    h.folded = true;
    let src = h.bar;
    fine.set_back_bounds();
    if src.count == 0 {
        return;
    }
    let wm = sym.wm;
    for (t, p) in coarse.iter_mut().zip(params[1..].iter()) {
        match t.route(p, c, src.start, wm, true, out, stats) {
            Some(i) => {
                let h = t.get_mut(i);
                accum::merge(&mut h.bar, &src);
                // Closes are left to `settle` (it runs right after a fold),
                // which emits them in start order.
                if h.emitted {
                    t.after_change(i, c, wm, out, stats);
                }
            }
            None => stats.late_bar_updates += 1,
        }
    }
}

/// Fold mode open updates: the finest bar as is, each coarser one as its
/// folded part merged with the newest finest bar.
fn emit_fold_open<S: BarSink>(
    sym: &mut SymState,
    hot: &Hot,
    params: &[TfParams],
    policy: OpenUpdates,
    ts: i64,
    out: &mut S,
) {
    let fb = {
        let fine = &sym.tfs[0];
        let b = &fine.get(fine.len - 1).bar;
        if hot.cached() { hot.bar(b) } else { *b }
    };
    let (fine, coarse) = sym.tfs.split_at_mut(1);
    let fine = &mut fine[0];
    if fine.open_due(policy, fb.start, ts) {
        emit_open(&fb, out);
    }
    for (t, p) in coarse.iter_mut().zip(params[1..].iter()) {
        let start = if fb.start >= t.back_start && fb.start < t.back_end {
            t.back_start
        } else {
            p.start(fb.start)
        };
        if !t.open_due(policy, start, ts) {
            continue;
        }
        let mut view = if start == t.back_start {
            t.get(t.len - 1).bar
        } else {
            accum::empty_bar(fb.symbol, p.tf, start, fb.flags)
        };
        accum::merge(&mut view, &fb);
        emit_open(&view, out);
    }
}

#[inline]
fn emit_open<S: BarSink>(bar: &Bar, out: &mut S) {
    let mut b = accum::finish(bar);
    b.flags |= Bar::FLAG_OPEN;
    out.push_event(BarEvent {
        kind: BarEventKind::Open,
        bar: b,
    });
}

fn settle_symbol<S: BarSink>(
    sym: &mut SymState,
    hot: &mut Hot,
    params: &[TfParams],
    c: &Common,
    fold: bool,
    out: &mut S,
    stats: &mut AggStats,
) {
    settle_tfs(sym, params, c, fold, out, stats);
    set_due(sym, hot, params, c, fold);
}

/// [`settle_symbol`] without recomputing the hot window: the caller runs
/// `set_due` afterwards (until then the hot window is closed, as `sync_out`
/// left it).
fn settle_tfs<S: BarSink>(
    sym: &mut SymState,
    params: &[TfParams],
    c: &Common,
    fold: bool,
    out: &mut S,
    stats: &mut AggStats,
) {
    let wm = sym.wm;
    if fold {
        let fine = &sym.tfs[0];
        if fine.len > 0 && fine.back_end <= wm {
            fold_back(sym, params, c, out, stats);
        }
    }
    for (t, p) in sym.tfs.iter_mut().zip(params.iter()) {
        t.settle(p, c, wm, out, stats);
    }
}

/// Recomputes when the symbol next needs `settle`, and its hot windows.
fn set_due(sym: &mut SymState, hot: &mut Hot, params: &[TfParams], c: &Common, fold: bool) {
    // Each timeframe's due time once: the finest, and the least of the
    // coarser ones (the roll window below needs that too).
    let Some((fine, coarse)) = sym.tfs.split_first() else {
        return; // an absent symbol: nothing held, nothing due
    };
    let mut coarse_due = i64::MAX;
    for (t, p) in coarse.iter().zip(params.iter().skip(1)) {
        coarse_due = coarse_due.min(t.due(p, c));
    }
    let mut due = params.first().map_or(i64::MAX, |p| fine.due(p, c));
    due = due.min(coarse_due);
    if fold && fine.len > 0 && !fine.get(fine.len - 1).folded {
        due = due.min(fine.back_end);
    }
    sym.due = due;
    let (mut lo, mut hi) = (i64::MIN, sym.due);
    let hot_tfs = if fold { &sym.tfs[..1] } else { &sym.tfs[..] };
    for t in hot_tfs {
        lo = lo.max(t.back_start);
        hi = hi.min(t.back_end);
    }
    // Within the valid times, so the hot path needs no time check.
    let (lo, hi) = (lo.max(TS_MIN), hi.min(TS_MAX + 1));
    if !fold {
        sym.hot_start = lo;
        sym.hot_limit = hi;
        return;
    }
    // Inside slow paths the ring is authoritative (`sync_out` ran first), so
    // the hot bar is simply reloaded, or dropped.
    hot.unload();
    sym.coarse_due = i64::MAX;
    sym.roll_until = i64::MIN;
    let (fine, coarse) = sym.tfs.split_at(1);
    let fine = &fine[0];
    if fine.back_start > fine.back_end {
        return; // no unfolded newest finest bar
    }
    hot.load(&fine.ring[fine.back_idx].bar, lo, hi, c.fast);
    // The roll window: a later tick may start the next finest bar without
    // the slow path when the finest ring holds only this bar (not emitted),
    // every coarser timeframe's newest bar holds its bucket (not emitted,
    // not filled) or, with `pending`, `route` would create the bar of that
    // bucket quietly (`sync_out` does, later), and the tick is (a) late
    // enough to release this bar (end + lateness), (b) before any coarser
    // due time, so nothing else closes, is released or filled, and (c)
    // within every coarser bucket of this bar, so the new finest bar folds
    // into the same ones. With fill, the empty finest buckets of a gap are
    // the roll's to emit (it checks that the slow path would emit and
    // release them all).
    sym.coarse_due = coarse_due;
    if fine.len != 1 || fine.get(0).emitted {
        return;
    }
    let s = fine.back_start;
    let mut until = coarse_due.min(TS_MAX + 1);
    for (t, p) in coarse.iter().zip(&params[1..]) {
        if s >= t.back_start && s < t.back_end && !t.ring[t.back_idx].emitted {
            until = until.min(t.back_end);
        } else if c.hot_ok && t.creates_quietly(p, c, s) {
            until = until.min(p.tf.bucket_end(p.start(s)));
        } else {
            return;
        }
    }
    sym.roll_until = until;
    hot.roll_from = fine.back_end.saturating_add(c.lateness);
    hot.roll_until = until;
}

/// The inline hot path (see [`Aggregator::update`]): applies `tick` and
/// returns `true` when it is an in-order trade of its symbol's newest finest
/// bar that closes nothing; otherwise changes nothing and returns `false`.
#[inline(always)]
fn hot_push(hot: &mut [Hot], tick: &Tick) -> bool {
    if let Some(h) = hot.get_mut(tick.symbol as usize)
        && tick.kind == crate::TickKind::Trade
        && tick.ts_event >= h.last_ts
        && tick.ts_event < h.limit
        && accum::price_size_surely_ok(tick.price, tick.size)
    {
        h.push(tick.ts_event, tick.price, tick.size, tick.side);
        return true;
    }
    false
}

/// The AVX build of [`Aggregator::update_all`].
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Aggregator;
    use crate::{BarSink, Tick};

    /// Proof that this CPU runs AVX. Get one from [`Avx::detect`].
    #[derive(Clone, Copy)]
    pub(super) struct Avx {
        _private: (),
    }

    impl Avx {
        /// `Some` when this CPU runs AVX (std detects once and caches it).
        #[inline]
        pub(super) fn detect() -> Option<Avx> {
            std::arch::is_x86_feature_detected!("avx").then_some(Avx { _private: () })
        }

        #[inline]
        pub(super) fn update_all<S: BarSink>(
            self,
            agg: &mut Aggregator,
            ticks: &[Tick],
            out: &mut S,
        ) {
            // SAFETY: an `Avx` exists only when `detect` saw AVX on this CPU.
            unsafe { update_all_avx(agg, ticks, out) }
        }
    }

    #[target_feature(enable = "avx")]
    fn update_all_avx<S: BarSink>(agg: &mut Aggregator, ticks: &[Tick], out: &mut S) {
        agg.update_each(ticks, out);
    }
}

#[cfg(test)]
#[path = "roll_tests.rs"]
mod roll_tests;
