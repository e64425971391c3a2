//! [`Dispatcher`]: the ingest side of the pipeline. One per ingest thread (or
//! per in-process injector): validates each tick, routes it by symbol to its
//! worker's SPSC queue, counts, and records receive → enqueue latency.
//!
//! In inline mode (`workers.mode = "inline"`) there are no worker queues: the
//! dispatcher buffers the validated ticks of a burst and processes them on its
//! own thread ([`Inline`]) when the burst ends ([`Dispatcher::end_batch`]).
//!
//! Nothing here allocates, locks, logs or makes a syscall per tick: the clock
//! is read once per batch ([`Dispatcher::begin_batch`]), counters are plain
//! integers published per batch ([`Dispatcher::end_batch`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ingest::Validator;
use mtf::Tick;

use crate::clock::{elapsed_ns, now_ns};
use crate::queue::{Full, Router, TickTx};
use crate::stats::{Counter, Stage, ThreadStats};
use crate::worker::Inline;

/// What happened to an offered tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Queued for its worker (inline: buffered for processing at the end
    /// of the burst).
    Queued,
    /// Refused by validation (counted by reason).
    Rejected,
    /// Its worker's queue was full; the tick was dropped and counted.
    Dropped,
}

/// Routes ticks from one producing thread to the workers.
pub struct Dispatcher {
    txs: Vec<TickTx>,
    router: Router,
    validator: Validator,
    stats: ThreadStats,
    /// Clock at the start of the current batch, ns since the epoch.
    now: i64,
    /// The validator's event-time window at `now` (computed once per batch).
    window: (i64, i64),
    /// `now` is from an earlier batch: read the clock at the next offer.
    stale: bool,
    /// Receive time of the current run of queued ticks with equal receive
    /// times, and its length: their receive → enqueue latency is recorded
    /// once per run (when the run or the batch ends), not per tick.
    run_ts: i64,
    run: u64,
    /// Inline mode: the worker's processing, run on this thread (`txs` is
    /// then empty).
    inline: Option<Box<Inline>>,
}

impl Dispatcher {
    /// A dispatcher over one queue per worker (`txs[w]` feeds worker `w`).
    pub fn new(txs: Vec<TickTx>, validator: Validator, stats: ThreadStats) -> Dispatcher {
        let router = Router::new(txs.len());
        let now = now_ns();
        Dispatcher {
            txs,
            router,
            window: validator.window(now),
            validator,
            stats,
            now,
            stale: false,
            run_ts: 0,
            run: 0,
            inline: None,
        }
    }

    /// A dispatcher that processes its ticks itself (inline mode).
    pub(crate) fn inline(inline: Inline, validator: Validator, stats: ThreadStats) -> Dispatcher {
        let mut d = Dispatcher::new(Vec::new(), validator, stats);
        d.inline = Some(Box::new(inline));
        d
    }

    /// Read the clock for the ticks that follow (once per datagram, read or batch).
    #[inline]
    pub fn begin_batch(&mut self) -> i64 {
        self.end_run();
        self.now = now_ns();
        self.window = self.validator.window(self.now);
        self.stale = false;
        self.now
    }

    /// The clock reading of the current batch.
    #[inline]
    pub fn batch_time(&self) -> i64 {
        self.now
    }

    /// Publish counters (and, now and then, histograms). Once per batch.
    #[inline]
    pub fn end_batch(&mut self) {
        self.end_run();
        let now = Instant::now();
        if let Some(inl) = &mut self.inline {
            inl.end_burst(now);
        }
        self.stats.publish(now);
        self.stale = true;
    }

    /// Whether every worker queue has room for `n` more ticks: a TCP reader
    /// checks this before reading, so a TCP tick is never dropped.
    #[inline]
    pub fn has_room(&self, n: usize) -> bool {
        if self.inline.is_some() {
            // Checked per tick by `try_offer` (the store queue's room).
            return true;
        }
        self.txs.iter().all(|t| t.free() >= n)
    }

    /// Validate and queue one tick, or drop it (counted) when its queue is
    /// full. For UDP, where waiting would only move the loss into the kernel.
    #[inline]
    pub fn offer(&mut self, tick: &Tick) -> Offer {
        match self.try_offer(tick) {
            Ok(o) => o,
            Err(_) => {
                self.stats.bump(Counter::Received, 1);
                self.stats.bump(Counter::QueueFull, 1);
                Offer::Dropped
            }
        }
    }

    /// Validate and queue one tick; `Err(Full)` hands it back when its queue is
    /// full (nothing counted for it yet: offer it again).
    #[inline]
    pub fn try_offer(&mut self, tick: &Tick) -> Result<Offer, Full> {
        if self.stale {
            self.begin_batch();
        }
        if let Err(r) = Validator::check_in(tick, self.window) {
            self.stats.bump(Counter::Received, 1);
            self.stats.reject(r);
            return Ok(Offer::Rejected);
        }
        if let Some(inl) = &mut self.inline {
            if !inl.push(tick) {
                return Err(Full(*tick));
            }
        } else {
            let w = self.router.worker_of(tick.symbol);
            // `txs` has one entry per worker and the router maps into 0..workers.
            let tx = &mut self.txs[w];
            tx.push(*tick)?;
        }
        self.stats.bump(Counter::Received, 1);
        self.stats.bump(Counter::Queued, 1);
        if tick.ts_recv != self.run_ts {
            self.end_run();
            self.run_ts = tick.ts_recv;
        }
        self.run += 1;
        Ok(Offer::Queued)
    }

    /// Record the receive → enqueue latency of the current run of ticks.
    #[inline]
    fn end_run(&mut self) {
        if self.run > 0 {
            // The batch's clock reading stands in for the enqueue time.
            self.stats.record_n(
                Stage::RecvToEnqueue,
                elapsed_ns(self.run_ts, self.now),
                self.run,
            );
            self.run = 0;
        }
    }

    /// Validate and queue one tick, spinning while its queue is full (in-process
    /// replays and TCP paths that already hold the tick). Gives up and returns
    /// `Dropped` (counted) only when `stop` is set.
    pub fn offer_wait(&mut self, tick: &Tick, stop: &AtomicBool) -> Offer {
        let mut spins = 0u32;
        loop {
            match self.try_offer(tick) {
                Ok(o) => return o,
                Err(_) => {
                    // Acquire: pairs with the Release store of whoever stops us.
                    if stop.load(Ordering::Acquire) {
                        self.stats.bump(Counter::Received, 1);
                        self.stats.bump(Counter::QueueFull, 1);
                        return Offer::Dropped;
                    }
                    if let Some(inl) = &mut self.inline {
                        // Inline: the store is behind; let it have the core.
                        // Process what is buffered first (it holds slots).
                        inl.run();
                        std::thread::sleep(Duration::from_micros(50));
                        continue;
                    }
                    spins += 1;
                    if spins.is_multiple_of(1024) {
                        // The worker is far behind; publish so the stall is visible.
                        self.stats.publish(Instant::now());
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
            }
        }
    }

    /// Count ticks that a receiver decoded but refused before offering them,
    /// and other receiver-side events.
    #[inline]
    pub fn count(&mut self, c: Counter, n: u64) {
        self.stats.bump(c, n);
    }

    /// Count a rejection found by a receiver's own validation.
    #[inline]
    pub fn count_reject(&mut self, r: ingest::Reject) {
        self.stats.bump(Counter::Received, 1);
        self.stats.reject(r);
    }

    /// The hot thread's stats (for receivers that keep their own tallies).
    pub fn stats_mut(&mut self) -> &mut ThreadStats {
        &mut self.stats
    }

    /// Whether every worker stopped (the engine is shutting down).
    pub fn workers_gone(&self) -> bool {
        self.inline.is_none() && self.txs.iter().all(|t| t.is_abandoned())
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.end_run();
        if let Some(inl) = self.inline.take() {
            // Process what is buffered and hand everything to the store.
            inl.finish();
        }
        self.stats.publish_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::tick_queue;
    use crate::stats::Stats;
    use mtf::Side;

    #[test]
    fn routes_validates_and_counts() {
        let stats = Stats::new();
        let (tx0, mut rx0) = tick_queue(4);
        let (tx1, mut rx1) = tick_queue(4);
        let mut d = Dispatcher::new(
            vec![tx0, tx1],
            Validator::history(),
            stats.register("ingest-0"),
        );
        let now = d.begin_batch();
        let t = |sym, price| Tick::trade(sym, now - 1_000, price, 1.0, Side::Buy, 0).with_recv(now);
        assert_eq!(d.offer(&t(0, 1.0)), Offer::Queued);
        assert_eq!(d.offer(&t(1, 1.0)), Offer::Queued);
        assert_eq!(d.offer(&t(2, 1.0)), Offer::Queued);
        assert_eq!(d.offer(&t(2, f64::NAN)), Offer::Rejected);
        let old = Tick::trade(3, 5, 1.0, 1.0, Side::Buy, 0);
        assert_eq!(d.offer(&old), Offer::Rejected);
        for _ in 0..2 {
            assert_eq!(d.offer(&t(4, 1.0)), Offer::Queued);
        }
        assert_eq!(d.offer(&t(4, 1.0)), Offer::Dropped);
        assert!(!d.has_room(1));
        d.end_batch();
        drop(d);
        let mut on0 = Vec::new();
        rx0.drain(16, |b| on0.extend(b.iter().map(|t| t.symbol)));
        assert_eq!(on0, vec![0, 2, 4, 4]);
        let mut on1 = Vec::new();
        rx1.drain(16, |b| on1.extend(b.iter().map(|t| t.symbol)));
        assert_eq!(on1, vec![1]);
        let s = stats.snapshot();
        assert_eq!(s.counter(Counter::Received), 8);
        assert_eq!(s.counter(Counter::Queued), 5);
        assert_eq!(s.counter(Counter::QueueFull), 1);
        assert_eq!(s.rejected(ingest::Reject::Price), 1);
        assert_eq!(s.rejected(ingest::Reject::TimeTooEarly), 1);
        assert_eq!(s.latency(Stage::RecvToEnqueue).len(), 5);
    }
}
