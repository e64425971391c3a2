//! The worker thread: takes ticks off its SPSC queues in batches, aggregates
//! them (`mtf`), publishes bars (and optionally ticks) to subscribers, and
//! hands ticks and bars to the store thread.
//!
//! Per tick: no allocation, no lock, no syscall, no log. The clock is read
//! three times per batch; counters are published once per batch; histograms
//! are folded into the shared copy at most every 50 ms (never waiting).
//!
//! Disk work never stalls aggregation: ticks and bars go to the store thread
//! through bounded SPSC queues. Only when those are full (the disk is behind
//! by a whole queue) does the worker stop taking new ticks, which pushes back
//! on TCP senders and makes UDP drop (counted) at the ingest queue: a tick that
//! was accepted is never dropped after that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use ingest::seq::GapEvent;
use mtf::{Aggregator, BarEvent, BarEventKind, SymbolId, Tick, TickKind};

use crate::clock::{elapsed_ns, now_ns};
use crate::config::{Config, IdlePolicy};
use crate::queue::TickRx;
use crate::stats::{Counter, Stage, ThreadStats};

/// Ticks taken off one queue at a time.
pub const BATCH: usize = 256;

/// How often housekeeping runs (wall-clock bar closing, stats).
const HOUSEKEEPING: Duration = Duration::from_millis(1);

/// Timer slack of the calling thread (how late the kernel may wake a
/// sleeper to batch wake-ups; 50 µs by default).
fn set_timer_slack_ns(ns: libc::c_ulong) {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and touches no
    // memory of ours; failure only leaves the default slack.
    unsafe {
        libc::prctl(
            libc::PR_SET_TIMERSLACK,
            ns,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
    }
}

/// How often the ring gets a heartbeat.
const HEARTBEAT: Duration = Duration::from_millis(100);

/// Where bars and ticks go for subscribers (the shared-memory ring).
pub trait Publish: Send {
    /// A new symbol was seen (its id and name), before any of its records.
    fn symbol(&mut self, id: SymbolId, name: &str);
    /// Bars emitted for a batch, in order.
    fn bars(&mut self, events: &[BarEvent]) -> u64;
    /// The batch's ticks (only called when ticks are published).
    fn ticks(&mut self, ticks: &[Tick]) -> u64;
    /// Liveness for readers; called every millisecond or so.
    fn heartbeat(&mut self);
    /// A sequence gap an ingest thread saw in a feed.
    fn gap(&mut self, _gap: &GapEvent) {}
    /// Clean shutdown (readers learn the writer stopped on purpose).
    fn shutdown(self: Box<Self>);
}

/// The worker's ends of the worker → store queues.
pub struct StoreTx {
    /// Ticks, in the order the worker processed them.
    pub ticks: rtrb::Producer<Tick>,
    /// Bars, in the order they were emitted.
    pub bars: rtrb::Producer<BarEvent>,
}

/// The store thread's ends.
pub struct StoreRx {
    /// Ticks.
    pub ticks: rtrb::Consumer<Tick>,
    /// Bars.
    pub bars: rtrb::Consumer<BarEvent>,
}

/// A pair of worker → store queues of `capacity` records each.
pub fn store_queue(capacity: usize) -> (StoreTx, StoreRx) {
    let (tp, tc) = rtrb::RingBuffer::new(capacity);
    let (bp, bc) = rtrb::RingBuffer::new(capacity);
    (
        StoreTx {
            ticks: tp,
            bars: bp,
        },
        StoreRx {
            ticks: tc,
            bars: bc,
        },
    )
}

/// Looks up symbol names for the first sight of an id (cold: once per symbol).
pub type NameOf = Arc<dyn Fn(SymbolId) -> Option<String> + Send + Sync>;

/// The companion symbol that carries a symbol's quote bars (`NAME~q`), its
/// id and name, interned on first use (cold: once per symbol).
///
/// Trade bars and quote bars of one symbol are different series; giving the
/// quote bars their own symbol keeps them apart in the store and the
/// snapshot table, which key bars by (symbol, timeframe, start).
pub type CompanionOf = Arc<dyn Fn(SymbolId) -> Option<(SymbolId, String)> + Send + Sync>;

/// Suffix of the companion symbol of quote bars.
pub const QUOTE_SUFFIX: &str = "~q";

const NO_ID: u32 = u32::MAX;

/// Everything a worker owns.
pub struct Worker {
    /// Worker index (0-based).
    pub id: usize,
    rxs: Vec<TickRx>,
    core: WorkerCore,
    idle: IdlePolicy,
    park_after: Duration,
    nap: Duration,
    pin: Option<usize>,
}

/// The part of the worker that processes a batch (separate from the queues
/// so a batch can be processed while its queue is borrowed, and so the
/// ingest thread can run it inline: [`Inline`]).
pub(crate) struct WorkerCore {
    trades: Aggregator,
    quotes: Aggregator,
    events: Vec<BarEvent>,
    /// Bars the store queue could not take yet (bounded: the worker takes no
    /// new ticks while this is not empty).
    pending_bars: Vec<BarEvent>,
    publish: Option<Box<dyn Publish>>,
    publish_ticks: bool,
    store: Option<StoreTx>,
    stats: ThreadStats,
    seen: Vec<bool>,
    names: NameOf,
    companion: CompanionOf,
    /// Symbol id → companion id of its quote bars (`NO_ID`: not resolved yet).
    quote_ids: Vec<u32>,
    wall_clock_close: bool,
    last_heartbeat: Instant,
    /// Feed gaps seen by the ingest threads, published by this worker
    /// (worker 0 only; taken at housekeeping).
    gaps: Option<Arc<ArrayQueue<GapEvent>>>,
    /// Late ticks counted by the aggregators during restart recovery.
    late_base: u64,
}

impl Worker {
    /// A worker over its input queues (one per ingest thread or injector).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: usize,
        cfg: &Config,
        rxs: Vec<TickRx>,
        trades: Aggregator,
        quotes: Aggregator,
        publish: Option<Box<dyn Publish>>,
        store: Option<StoreTx>,
        stats: ThreadStats,
        names: NameOf,
        companion: CompanionOf,
        gaps: Option<Arc<ArrayQueue<GapEvent>>>,
    ) -> Worker {
        let core = WorkerCore::new(
            cfg, trades, quotes, publish, store, stats, names, companion, gaps,
        );
        Worker::with_core(id, cfg, rxs, core)
    }

    /// A worker over its input queues, around its processing state.
    pub(crate) fn with_core(id: usize, cfg: &Config, rxs: Vec<TickRx>, core: WorkerCore) -> Worker {
        Worker {
            id,
            rxs,
            core,
            idle: cfg.workers.idle,
            park_after: cfg.workers.park_after,
            nap: cfg.workers.nap,
            pin: cfg.workers.cores.get(id).copied(),
        }
    }

    /// Run until every input queue is abandoned by its producer and empty,
    /// then hand everything left to the store and return.
    pub fn run(mut self) -> WorkerSummary {
        crate::pin::pin_current(&format!("worker-{}", self.id), self.pin);
        if self.idle == IdlePolicy::Park {
            set_timer_slack_ns(1_000);
        }
        let mut last_house = Instant::now();
        let mut busy_at = last_house;
        loop {
            let mut got = 0usize;
            if self.core.pending_bars.is_empty() {
                for rx in &mut self.rxs {
                    let room = self.core.store_room();
                    if room == 0 {
                        break;
                    }
                    let core = &mut self.core;
                    got += rx.drain(BATCH.min(room), |batch| core.process(batch));
                }
            } else {
                self.core.retry_pending();
            }
            let now = Instant::now();
            if now.duration_since(last_house) >= HOUSEKEEPING {
                last_house = now;
                self.core.housekeeping(now);
            }
            if got > 0 {
                busy_at = now;
                continue;
            }
            if self.rxs.iter().all(|r| r.is_abandoned() && r.is_empty())
                && self.core.pending_bars.is_empty()
            {
                break;
            }
            match self.idle {
                IdlePolicy::Spin => std::hint::spin_loop(),
                // Spin through short pauses between bursts, then sleep in
                // short naps (the timer slack is 1 µs, not the default 50).
                IdlePolicy::Park if now.duration_since(busy_at) < self.park_after => {
                    std::hint::spin_loop()
                }
                IdlePolicy::Park => std::thread::sleep(self.nap),
            }
        }
        self.core.finish()
    }
}

/// What a worker did, returned when it stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    /// Ticks processed.
    pub processed: u64,
    /// Bars emitted (closed and corrected).
    pub bars: u64,
}

impl WorkerCore {
    /// The processing state of one worker (or of the inline ingest thread).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cfg: &Config,
        trades: Aggregator,
        quotes: Aggregator,
        publish: Option<Box<dyn Publish>>,
        store: Option<StoreTx>,
        stats: ThreadStats,
        names: NameOf,
        companion: CompanionOf,
        gaps: Option<Arc<ArrayQueue<GapEvent>>>,
    ) -> WorkerCore {
        let late_base = trades.stats().late + quotes.stats().late;
        let per = trades
            .max_events_per_update()
            .max(quotes.max_events_per_update());
        WorkerCore {
            events: Vec::with_capacity(per.saturating_mul(BATCH).min(1 << 20)),
            pending_bars: Vec::with_capacity(4096),
            trades,
            quotes,
            publish,
            publish_ticks: cfg.ring.publish_ticks,
            store,
            stats,
            seen: Vec::new(),
            names,
            companion,
            quote_ids: Vec::new(),
            wall_clock_close: cfg.aggregation.wall_clock_close,
            last_heartbeat: Instant::now(),
            gaps,
            late_base,
        }
    }

    /// How many more ticks may be taken: bounded by the room in the store queue.
    #[inline]
    fn store_room(&self) -> usize {
        match &self.store {
            Some(s) => s.ticks.slots(),
            None => usize::MAX,
        }
    }

    #[inline]
    fn process(&mut self, batch: &[Tick]) {
        let n = batch.len() as u64;
        let t0 = now_ns();
        self.stats.record_since_recv(Stage::QueueWait, batch, t0);
        for t in batch {
            if self.seen.get(t.symbol as usize) != Some(&true) {
                self.first_sight(t.symbol);
            }
        }
        // Runs of one kind go to their aggregator in one call (the same
        // events, in the same order, as tick by tick).
        let mut rest = batch;
        while let Some(first) = rest.first() {
            let n = rest.iter().take_while(|t| t.kind == first.kind).count();
            let (run, tail) = rest.split_at(n);
            match first.kind {
                TickKind::Trade => self.trades.update_all(run, &mut self.events),
                TickKind::Quote => {
                    let before = self.events.len();
                    self.quotes.update_all(run, &mut self.events);
                    if self.events.len() > before {
                        self.rename_quote_bars(before);
                    }
                }
            }
            rest = tail;
        }
        let t1 = now_ns();
        self.stats
            .record_n(Stage::Aggregate, elapsed_ns(t0, t1) / n.max(1), n);

        self.publish_batch(batch);
        // Receive → published: taken before the store hand-off, which a
        // subscriber does not wait for.
        let t2 = now_ns();
        self.stats.record_since_recv(Stage::EndToEnd, batch, t2);
        self.store_batch(batch);
        self.stats.bump(Counter::Processed, n);
        if self.store.is_none() {
            // No store: a tick is accepted once aggregated and published.
            self.stats.bump(Counter::Accepted, n);
        }
    }

    /// Publish what a batch produced (then [`WorkerCore::store_batch`]).
    fn publish_batch(&mut self, batch: &[Tick]) {
        let mut closed = 0u64;
        let mut revisions = 0u64;
        let mut updates = 0u64;
        for e in &self.events {
            match e.kind {
                BarEventKind::Closed => closed += 1,
                BarEventKind::Corrected => revisions += 1,
                BarEventKind::Open => updates += 1,
            }
        }
        self.stats.bump(Counter::BarsEmitted, closed + revisions);
        self.stats.bump(Counter::BarRevisions, revisions);
        self.stats.bump(Counter::BarUpdates, updates);
        if let Some(p) = &mut self.publish {
            let mut published = 0;
            if !self.events.is_empty() {
                published += p.bars(&self.events);
            }
            if self.publish_ticks {
                published += p.ticks(batch);
            }
            self.stats.bump(Counter::Published, published);
        }
    }

    /// Hand a batch's ticks and its closed bars to the store thread.
    fn store_batch(&mut self, batch: &[Tick]) {
        if let Some(s) = &mut self.store {
            // `store_room` bounded the batch by the free tick slots.
            if let Ok(chunk) = s.ticks.write_chunk_uninit(batch.len()) {
                chunk.fill_from_iter(batch.iter().copied());
            }
            for e in self.events.drain(..) {
                if e.kind == BarEventKind::Open {
                    continue;
                }
                if let Err(rtrb::PushError::Full(e)) = s.bars.push(e) {
                    self.pending_bars.push(e);
                }
            }
        }
        self.events.clear();
    }

    fn retry_pending(&mut self) {
        let Some(s) = &mut self.store else {
            self.pending_bars.clear();
            return;
        };
        let mut sent = 0;
        for e in &self.pending_bars {
            if s.bars.push(*e).is_err() {
                break;
            }
            sent += 1;
        }
        self.pending_bars.drain(..sent);
    }

    /// Give the quote bars `events[from..]` their companion symbol.
    #[inline]
    fn rename_quote_bars(&mut self, from: usize) {
        for i in from..self.events.len() {
            let sym = self.events[i].bar.symbol;
            let cid = match self.quote_ids.get(sym as usize) {
                Some(&c) if c != NO_ID => c,
                _ => self.resolve_companion(sym),
            };
            self.events[i].bar.symbol = cid;
        }
    }

    #[cold]
    fn resolve_companion(&mut self, symbol: SymbolId) -> SymbolId {
        let i = symbol as usize;
        if i >= mtf::DEFAULT_MAX_SYMBOLS as usize {
            return symbol;
        }
        // A name too long for the suffix keeps its own id (bars then share
        // the series of its trade bars, as without companions).
        let (cid, name) = (self.companion)(symbol).unwrap_or((symbol, String::new()));
        if self.quote_ids.len() <= i {
            self.quote_ids.resize(i + 1, NO_ID);
        }
        self.quote_ids[i] = cid;
        if cid != symbol
            && let Some(p) = &mut self.publish
        {
            p.symbol(cid, &name);
        }
        cid
    }

    #[cold]
    fn first_sight(&mut self, symbol: SymbolId) {
        let i = symbol as usize;
        // Bounded by the aggregator's symbol limit; ids beyond it are refused
        // and counted there, and never marked here.
        if i >= mtf::DEFAULT_MAX_SYMBOLS as usize {
            return;
        }
        if self.seen.len() <= i {
            self.seen.resize(i + 1, false);
        }
        self.seen[i] = true;
        if let Some(p) = &mut self.publish
            && let Some(name) = (self.names)(symbol)
        {
            p.symbol(symbol, &name);
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        if self.wall_clock_close {
            let wall = now_ns();
            self.trades.advance(wall, &mut self.events);
            let before = self.events.len();
            self.quotes.advance(wall, &mut self.events);
            self.rename_quote_bars(before);
            if !self.events.is_empty() {
                self.publish_batch(&[]);
                self.store_batch(&[]);
            }
        }
        let (a, b) = (self.trades.stats(), self.quotes.stats());
        self.stats.set(
            Counter::Late,
            (a.late + b.late).saturating_sub(self.late_base),
        );
        if let Some(q) = &self.gaps {
            while let Some(g) = q.pop() {
                if let Some(p) = &mut self.publish {
                    p.gap(&g);
                }
            }
        }
        if now.duration_since(self.last_heartbeat) >= HEARTBEAT {
            self.last_heartbeat = now;
            if let Some(p) = &mut self.publish {
                p.heartbeat();
            }
        }
        self.stats.publish(now);
    }

    fn finish(mut self) -> WorkerSummary {
        // Hand every remaining bar to the store thread before leaving.
        while !self.pending_bars.is_empty() {
            self.retry_pending();
            if !self.pending_bars.is_empty() {
                if self.store.as_ref().is_some_and(|s| s.bars.is_abandoned()) {
                    self.stats
                        .bump(Counter::StoreErrors, self.pending_bars.len() as u64);
                    break;
                }
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        let (a, b) = (self.trades.stats(), self.quotes.stats());
        self.stats.set(
            Counter::Late,
            (a.late + b.late).saturating_sub(self.late_base),
        );
        self.stats.publish_now();
        if let Some(p) = self.publish.take() {
            p.shutdown();
        }
        WorkerSummary {
            processed: self.stats.get(Counter::Processed),
            bars: self.stats.get(Counter::BarsEmitted),
        }
    }
}

/// Most ticks an [`Inline`] holds before it processes them (a burst that
/// ends earlier is processed when it ends).
pub const INLINE_BATCH: usize = BATCH;

/// Run-to-completion processing (`workers.mode = "inline"`): the thread that
/// received a burst of ticks (the one ingest thread, or an injector)
/// aggregates and publishes it itself when the burst ends, and hands ticks
/// and bars to the store thread. No queue to a worker, no wake-up, no
/// cross-core transfer of a tick before it is published.
///
/// Backpressure is the worker's: while the store queue has no room (or bars
/// wait for it), [`Inline::push`] refuses ticks, which stops a TCP reader and
/// makes UDP drop (counted) exactly where a full worker queue would.
pub struct Inline {
    core: WorkerCore,
    buf: Vec<Tick>,
    /// Ticks that may still be buffered before the store queue's free slots
    /// are read again (once per batch, not per tick: the read touches the
    /// store thread's cache line).
    credit: usize,
    /// Whether this burst already napped on a full store queue.
    napped: bool,
    last_house: Instant,
}

/// How long the inline thread gives its core away when the store queue is
/// full (once per burst): spinning would only take the CPU the store thread
/// (and, on a small machine, the sender) needs to catch up. At 4M ticks/s the
/// store frees about 200 slots in that time, a fraction of a permille of the
/// default queue.
const STORE_FULL_NAP: Duration = Duration::from_micros(50);

impl Inline {
    pub(crate) fn new(core: WorkerCore) -> Inline {
        Inline {
            core,
            buf: Vec::with_capacity(INLINE_BATCH),
            credit: 0,
            napped: false,
            last_house: Instant::now(),
        }
    }

    /// Take one validated tick, or refuse it (`false`) while the store is
    /// behind by a whole queue.
    #[inline]
    pub(crate) fn push(&mut self, tick: &Tick) -> bool {
        if self.credit == 0 && !self.refill() {
            return false;
        }
        self.buf.push(*tick);
        self.credit -= 1;
        true
    }

    /// Process a full buffer, then grant credit for as many ticks as both the
    /// buffer and the store queue have room for.
    #[inline(never)]
    fn refill(&mut self) -> bool {
        if self.buf.len() >= INLINE_BATCH {
            self.run();
        }
        if !self.core.pending_bars.is_empty() {
            self.core.retry_pending();
            if !self.core.pending_bars.is_empty() {
                return false;
            }
        }
        self.credit = self.grant();
        if self.credit == 0 && !self.napped {
            self.napped = true;
            std::thread::sleep(STORE_FULL_NAP);
            self.credit = self.grant();
        }
        self.credit > 0
    }

    #[inline]
    fn grant(&self) -> usize {
        self.core
            .store_room()
            .saturating_sub(self.buf.len())
            .min(INLINE_BATCH - self.buf.len())
    }

    /// Aggregate, publish and store the buffered ticks.
    #[inline]
    pub(crate) fn run(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        self.core.process(&self.buf);
        self.buf.clear();
        // `credit` never exceeded the store room left after the buffer, so it
        // still holds; it is only capped by the (now empty) buffer's size.
    }

    /// End of a burst (and of every idle poll round): process what is
    /// buffered, and run the housekeeping when it is due.
    #[inline]
    pub(crate) fn end_burst(&mut self, now: Instant) {
        self.run();
        self.napped = false;
        if !self.core.pending_bars.is_empty() {
            self.core.retry_pending();
        }
        if now.duration_since(self.last_house) >= HOUSEKEEPING {
            self.last_house = now;
            self.core.housekeeping(now);
        }
    }

    /// Process the rest, hand every bar to the store, close the publisher.
    pub(crate) fn finish(mut self) -> WorkerSummary {
        self.run();
        self.core.finish()
    }
}
