//! Counters and latency histograms of the hot threads, read by cold threads.
//!
//! Every hot thread owns a [`ThreadStats`]: plain `u64` counters and one
//! hdrhistogram per [`Stage`], recorded without allocation or locking. Once
//! per batch it calls [`ThreadStats::publish`], which stores the counters into
//! its own cache-padded atomic slots (single writer, `Relaxed` stores) and,
//! at most every [`FLUSH_EVERY`], folds the histograms into a shared copy with
//! `try_lock` (never waits: when the reporter holds the lock it tries again
//! next batch). [`Stats::snapshot`] sums everything off the hot path.
//!
//! ```
//! use engine::stats::{Counter, Stage, Stats};
//! let stats = Stats::new();
//! let mut t = stats.register("worker-0");
//! t.bump(Counter::Accepted, 3);
//! t.record(Stage::EndToEnd, 12_000);
//! t.publish_now();
//! let s = stats.snapshot();
//! assert_eq!(s.counter(Counter::Accepted), 3);
//! assert_eq!(s.latency(Stage::EndToEnd).len(), 1);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use hdrhistogram::Histogram;
use ingest::Reject;
use parking_lot::Mutex;

/// How often a hot thread folds its histograms into the shared copy.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Highest latency a histogram tracks (larger values are clamped): 60 s in ns.
pub const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// A latency stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Receive time → in the worker's queue (ingest thread: parse, validate, route).
    RecvToEnqueue = 0,
    /// Receive time → taken off the queue by the worker (includes the stage
    /// above, which is a few hundred ns: the queue slot carries only the tick).
    QueueWait,
    /// Aggregation of one tick (`mtf` update), per batch divided by its size.
    Aggregate,
    /// Receive time → bars and tick published to the ring and snapshot table.
    EndToEnd,
}

impl Stage {
    /// Number of stages.
    pub const COUNT: usize = 4;
    /// Every stage.
    pub const ALL: [Stage; Stage::COUNT] = [
        Stage::RecvToEnqueue,
        Stage::QueueWait,
        Stage::Aggregate,
        Stage::EndToEnd,
    ];

    /// Metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::RecvToEnqueue => "recv_to_enqueue",
            Stage::QueueWait => "queue_wait",
            Stage::Aggregate => "aggregate",
            Stage::EndToEnd => "end_to_end",
        }
    }
}

/// A counter. Names are the Prometheus names without `tickd_` and `_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    /// Ticks decoded by the receivers (before validation).
    Received = 0,
    /// Ticks that passed validation, were aggregated and (store on) appended
    /// to the store: counted only once they survive a kill of the process.
    Accepted,
    /// Ticks that passed validation and were queued for a worker.
    Queued,
    /// Ticks dropped because the worker's queue was full (UDP only; TCP waits).
    QueueFull,
    /// Ticks aggregated by a worker.
    Processed,
    /// Ticks older than their bar (counted by `mtf`; stored, not applied).
    Late,
    /// Messages missing in a sequence (feed gaps).
    Gaps,
    /// Messages already seen (duplicates or replays), dropped.
    Duplicates,
    /// Frames, datagrams or lines that could not be parsed.
    Malformed,
    /// Closed bars emitted (first closes and corrections).
    BarsEmitted,
    /// Corrections of closed bars by late ticks.
    BarRevisions,
    /// Updates of open bars emitted.
    BarUpdates,
    /// Records written to the shared-memory ring.
    Published,
    /// Ticks written to the store.
    TicksStored,
    /// Bars written to the store.
    BarsStored,
    /// Bytes appended to segment files.
    BytesStored,
    /// Store operations that failed (logged by the store thread).
    StoreErrors,
    /// Datagrams received.
    Datagrams,
    /// TCP connections accepted.
    Connections,
    /// TCP connections refused at the connection limit.
    ConnectionsRefused,
    /// Datagrams the kernel dropped for a full receive buffer (`SO_RXQ_OVFL`).
    KernelDrops,
    /// Times a TCP connection was paused because a worker queue was full.
    TcpBackpressure,
}

impl Counter {
    /// Number of plain counters.
    pub const COUNT: usize = 22;
    /// Every counter, in index order.
    pub const ALL: [Counter; Counter::COUNT] = [
        Counter::Received,
        Counter::Accepted,
        Counter::Queued,
        Counter::QueueFull,
        Counter::Processed,
        Counter::Late,
        Counter::Gaps,
        Counter::Duplicates,
        Counter::Malformed,
        Counter::BarsEmitted,
        Counter::BarRevisions,
        Counter::BarUpdates,
        Counter::Published,
        Counter::TicksStored,
        Counter::BarsStored,
        Counter::BytesStored,
        Counter::StoreErrors,
        Counter::Datagrams,
        Counter::Connections,
        Counter::ConnectionsRefused,
        Counter::KernelDrops,
        Counter::TcpBackpressure,
    ];

    /// Metric name part (`tickd_<name>_total`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Counter::Received => "received",
            Counter::Accepted => "accepted",
            Counter::Queued => "queued",
            Counter::QueueFull => "queue_full_drops",
            Counter::Processed => "processed",
            Counter::Late => "late",
            Counter::Gaps => "gaps",
            Counter::Duplicates => "duplicates",
            Counter::Malformed => "malformed",
            Counter::BarsEmitted => "bars_emitted",
            Counter::BarRevisions => "bar_revisions",
            Counter::BarUpdates => "bar_updates",
            Counter::Published => "published",
            Counter::TicksStored => "ticks_stored",
            Counter::BarsStored => "bars_stored",
            Counter::BytesStored => "bytes_stored",
            Counter::StoreErrors => "store_errors",
            Counter::Datagrams => "datagrams",
            Counter::Connections => "connections",
            Counter::ConnectionsRefused => "connections_refused",
            Counter::KernelDrops => "udp_kernel_drops",
            Counter::TcpBackpressure => "tcp_backpressure",
        }
    }

    /// One-line help for the metric.
    pub const fn help(self) -> &'static str {
        match self {
            Counter::Received => "Ticks decoded by the receivers, before validation.",
            Counter::Accepted => {
                "Ticks validated, aggregated and appended to the store (kill-safe)."
            }
            Counter::Queued => "Ticks that passed validation and were queued for a worker.",
            Counter::QueueFull => "UDP ticks dropped because a worker queue was full.",
            Counter::Processed => "Ticks aggregated by the workers.",
            Counter::Late => "Ticks older than their bar, stored but not applied.",
            Counter::Gaps => "Messages missing in a feed sequence.",
            Counter::Duplicates => "Messages already seen (duplicates, replays), dropped.",
            Counter::Malformed => "Frames, datagrams or lines that could not be parsed.",
            Counter::BarsEmitted => "Closed bars emitted, corrections included.",
            Counter::BarRevisions => "Corrections of closed bars by late ticks.",
            Counter::BarUpdates => "Updates of open bars emitted.",
            Counter::Published => "Records written to the shared-memory ring.",
            Counter::TicksStored => "Ticks written to the store.",
            Counter::BarsStored => "Bars written to the store.",
            Counter::BytesStored => "Bytes appended to segment files.",
            Counter::StoreErrors => "Store operations that failed.",
            Counter::Datagrams => "UDP datagrams received.",
            Counter::Connections => "TCP connections accepted.",
            Counter::ConnectionsRefused => "TCP connections refused at the limit.",
            Counter::KernelDrops => "UDP datagrams dropped by the kernel (full receive buffer).",
            Counter::TcpBackpressure => "Times a TCP connection paused on a full worker queue.",
        }
    }
}

const SLOTS: usize = Counter::COUNT + Reject::COUNT;

/// The shared side of one hot thread: counters in atomics, histograms behind a lock.
struct Shared {
    name: String,
    /// Written only by the owning thread (`Relaxed` stores of its running
    /// totals, monotonically non-decreasing); read by cold threads with
    /// `Relaxed` loads. No other memory is published through them.
    counters: CachePadded<[AtomicU64; SLOTS]>,
    hists: Mutex<[Histogram<u64>; Stage::COUNT]>,
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("static bounds are valid")
}

fn new_hists() -> [Histogram<u64>; Stage::COUNT] {
    [new_hist(), new_hist(), new_hist(), new_hist()]
}

/// Registry of every thread's stats.
#[derive(Clone, Default)]
pub struct Stats {
    threads: Arc<Mutex<Vec<Arc<Shared>>>>,
    /// Counters set by cold code (the store thread, receivers' summaries).
    cold: Arc<ColdCounters>,
}

/// Counters written by several cold threads (atomic adds).
pub struct ColdCounters {
    vals: [AtomicU64; SLOTS],
}

impl Default for ColdCounters {
    fn default() -> Self {
        ColdCounters {
            vals: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl ColdCounters {
    /// Add to a counter.
    pub fn add(&self, c: Counter, n: u64) {
        // Relaxed: a statistic; pairs with the Relaxed loads of `snapshot`.
        self.vals[c as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Add to a rejection reason.
    pub fn add_reject(&self, r: Reject, n: u64) {
        self.vals[Counter::COUNT + r as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Set a counter to an absolute total kept elsewhere (e.g. by a receiver).
    pub fn set(&self, c: Counter, v: u64) {
        self.vals[c as usize].store(v, Ordering::Relaxed);
    }
}

impl Stats {
    /// An empty registry.
    pub fn new() -> Stats {
        Stats::default()
    }

    /// Counters for cold threads.
    pub fn cold(&self) -> &ColdCounters {
        &self.cold
    }

    /// A new hot-thread handle, named for the metrics (`ingest-0`, `worker-1`).
    pub fn register(&self, name: &str) -> ThreadStats {
        let shared = Arc::new(Shared {
            name: name.to_string(),
            counters: CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))),
            hists: Mutex::new(new_hists()),
        });
        self.threads.lock().push(shared.clone());
        ThreadStats {
            shared,
            local: [0; SLOTS],
            hists: new_hists(),
            dirty: false,
            last_flush: Instant::now(),
        }
    }

    /// Sum of every thread's counters and histograms (cumulative since start).
    pub fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot {
            values: [0; SLOTS],
            latency: new_hists(),
            threads: Vec::new(),
        };
        for (i, v) in self.cold.vals.iter().enumerate() {
            s.values[i] += v.load(Ordering::Relaxed);
        }
        let threads = self.threads.lock().clone();
        for t in threads {
            let mut per = [0u64; SLOTS];
            for (i, v) in t.counters.iter().enumerate() {
                // Relaxed: pairs with the owner's Relaxed stores; a statistic.
                let x = v.load(Ordering::Relaxed);
                per[i] = x;
                s.values[i] += x;
            }
            {
                let h = t.hists.lock();
                for (dst, src) in s.latency.iter_mut().zip(h.iter()) {
                    // Same bounds everywhere: `add` cannot fail or allocate.
                    let _ = dst.add(src);
                }
            }
            s.threads.push((t.name.clone(), per));
        }
        s
    }
}

/// One hot thread's counters and histograms. Not `Sync`: owned by its thread.
pub struct ThreadStats {
    shared: Arc<Shared>,
    local: [u64; SLOTS],
    hists: [Histogram<u64>; Stage::COUNT],
    dirty: bool,
    last_flush: Instant,
}

impl ThreadStats {
    /// Count `n` events.
    #[inline]
    pub fn bump(&mut self, c: Counter, n: u64) {
        self.local[c as usize] += n;
    }

    /// Count one rejection.
    #[inline]
    pub fn reject(&mut self, r: Reject) {
        self.local[Counter::COUNT + r as usize] += 1;
    }

    /// Set the rejection totals from a running tally kept on this thread (a
    /// receiver's `RejectCounts`); use either this or [`ThreadStats::reject`].
    pub fn set_rejects(&mut self, counts: &ingest::RejectCounts) {
        for (r, n) in counts.iter() {
            self.local[Counter::COUNT + r as usize] = n;
        }
    }

    /// Set a counter to a running total kept by someone else on this thread.
    #[inline]
    pub fn set(&mut self, c: Counter, total: u64) {
        self.local[c as usize] = total;
    }

    /// The running total of a counter.
    #[inline]
    pub fn get(&self, c: Counter) -> u64 {
        self.local[c as usize]
    }

    /// Record a latency in ns (clamped to 1 ns ..= 60 s). No allocation.
    #[inline]
    pub fn record(&mut self, stage: Stage, ns: u64) {
        self.hists[stage as usize].saturating_record(ns.clamp(1, MAX_LATENCY_NS));
        self.dirty = true;
    }

    /// Record, for each tick, the time from its receipt to `at` (ns since
    /// the epoch): one histogram update per run of ticks with the same
    /// receive time (a receiver stamps every tick of a read or datagram
    /// batch alike), the same histogram as one update per tick.
    #[inline]
    pub fn record_since_recv(&mut self, stage: Stage, ticks: &[mtf::Tick], at: i64) {
        let Some(first) = ticks.first() else {
            return;
        };
        let mut run_ts = first.ts_recv;
        let mut run = 0u64;
        for t in ticks {
            if t.ts_recv != run_ts {
                self.record_n(stage, crate::clock::elapsed_ns(run_ts, at), run);
                run_ts = t.ts_recv;
                run = 0;
            }
            run += 1;
        }
        self.record_n(stage, crate::clock::elapsed_ns(run_ts, at), run);
    }

    /// Record `count` samples of the same latency.
    #[inline]
    pub fn record_n(&mut self, stage: Stage, ns: u64, count: u64) {
        if count > 0 {
            let _ = self.hists[stage as usize].record_n(ns.clamp(1, MAX_LATENCY_NS), count);
            self.dirty = true;
        }
    }

    /// Publish the counters (cheap: relaxed stores), and fold the histograms
    /// into the shared copy when [`FLUSH_EVERY`] has passed and the lock is free.
    /// `now` is the caller's clock reading (one per batch).
    #[inline]
    pub fn publish(&mut self, now: Instant) {
        for (slot, v) in self.shared.counters.iter().zip(self.local.iter()) {
            // Relaxed: single writer; readers only sum statistics.
            slot.store(*v, Ordering::Relaxed);
        }
        if self.dirty && now.duration_since(self.last_flush) >= FLUSH_EVERY {
            self.flush_hists(now);
        }
    }

    /// Publish everything now, waiting for the lock if needed (cold paths, exit).
    pub fn publish_now(&mut self) {
        for (slot, v) in self.shared.counters.iter().zip(self.local.iter()) {
            slot.store(*v, Ordering::Relaxed);
        }
        let mut shared = self.shared.hists.lock();
        for (dst, src) in shared.iter_mut().zip(self.hists.iter_mut()) {
            let _ = dst.add(&*src);
            src.reset();
        }
        self.dirty = false;
    }

    fn flush_hists(&mut self, now: Instant) {
        if let Some(mut shared) = self.shared.hists.try_lock() {
            for (dst, src) in shared.iter_mut().zip(self.hists.iter_mut()) {
                // Same bounds: no resize, no allocation.
                let _ = dst.add(&*src);
                src.reset();
            }
            self.dirty = false;
            self.last_flush = now;
        }
    }
}

impl Drop for ThreadStats {
    fn drop(&mut self) {
        self.publish_now();
    }
}

/// A point-in-time sum of all stats.
pub struct Snapshot {
    values: [u64; SLOTS],
    latency: [Histogram<u64>; Stage::COUNT],
    threads: Vec<(String, [u64; SLOTS])>,
}

impl Snapshot {
    /// A counter's total.
    pub fn counter(&self, c: Counter) -> u64 {
        self.values[c as usize]
    }

    /// Rejections for one reason.
    pub fn rejected(&self, r: Reject) -> u64 {
        self.values[Counter::COUNT + r as usize]
    }

    /// Rejections over all reasons.
    pub fn rejected_total(&self) -> u64 {
        Reject::ALL.iter().map(|&r| self.rejected(r)).sum()
    }

    /// Cumulative latency histogram of a stage (ns).
    pub fn latency(&self, s: Stage) -> &Histogram<u64> {
        &self.latency[s as usize]
    }

    /// Per-thread counter of one thread.
    pub fn thread_counter(&self, thread: &str, c: Counter) -> Option<u64> {
        self.threads
            .iter()
            .find(|(n, _)| n == thread)
            .map(|(_, v)| v[c as usize])
    }

    /// Names of the registered hot threads.
    pub fn thread_names(&self) -> impl Iterator<Item = &str> {
        self.threads.iter().map(|(n, _)| n.as_str())
    }

    /// The histograms of `self` minus those of an earlier snapshot: the
    /// latencies recorded in between (for interval reports).
    pub fn latency_since(&self, earlier: &Snapshot, s: Stage) -> Histogram<u64> {
        let mut h = self.latency[s as usize].clone();
        let _ = h.subtract(&earlier.latency[s as usize]);
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_across_threads_and_cold_code() {
        let stats = Stats::new();
        let mut a = stats.register("ingest-0");
        let mut b = stats.register("worker-0");
        a.bump(Counter::Received, 5);
        a.reject(Reject::Price);
        a.reject(Reject::Price);
        b.bump(Counter::Received, 2);
        stats.cold().add(Counter::BytesStored, 100);
        a.publish(Instant::now());
        b.publish(Instant::now());
        let s = stats.snapshot();
        assert_eq!(s.counter(Counter::Received), 7);
        assert_eq!(s.rejected(Reject::Price), 2);
        assert_eq!(s.rejected_total(), 2);
        assert_eq!(s.counter(Counter::BytesStored), 100);
        assert_eq!(s.thread_counter("worker-0", Counter::Received), Some(2));
    }

    #[test]
    fn histograms_flush_without_blocking_and_merge() {
        let stats = Stats::new();
        let mut t = stats.register("w");
        for ns in 1..=1000u64 {
            t.record(Stage::Aggregate, ns * 1000);
        }
        // Not yet FLUSH_EVERY: nothing visible.
        t.publish(Instant::now());
        let early = stats.snapshot();
        assert_eq!(early.latency(Stage::Aggregate).len(), 0);
        t.publish(Instant::now() + FLUSH_EVERY * 2);
        let s = stats.snapshot();
        let h = s.latency(Stage::Aggregate);
        assert_eq!(h.len(), 1000);
        let p50 = h.value_at_quantile(0.5);
        assert!((495_000..=505_000).contains(&p50), "{p50}");
        assert_eq!(s.latency_since(&early, Stage::Aggregate).len(), 1000);
        // Out-of-range values are clamped, never a panic.
        t.record(Stage::EndToEnd, 0);
        t.record(Stage::EndToEnd, u64::MAX);
        drop(t);
        assert_eq!(stats.snapshot().latency(Stage::EndToEnd).len(), 2);
    }

    #[test]
    fn names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in Counter::ALL {
            assert!(seen.insert(c.as_str()));
        }
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
    }

    #[test]
    fn runs_of_equal_receive_times_record_like_single_ticks() {
        let stats = Stats::new();
        let (mut a, mut b) = (stats.register("a"), stats.register("b"));
        let recv = [5, 5, 5, 9, 9, 5, 100, 100, 100, 100];
        let ticks: Vec<mtf::Tick> = recv
            .iter()
            .map(|&r| mtf::Tick::trade(0, 1, 1.0, 1.0, mtf::Side::Buy, 0).with_recv(r))
            .collect();
        a.record_since_recv(Stage::EndToEnd, &ticks, 1_000);
        a.record_since_recv(Stage::EndToEnd, &[], 1_000);
        for t in &ticks {
            b.record(Stage::QueueWait, crate::clock::elapsed_ns(t.ts_recv, 1_000));
        }
        a.publish_now();
        b.publish_now();
        let s = stats.snapshot();
        let (e2e, qw) = (s.latency(Stage::EndToEnd), s.latency(Stage::QueueWait));
        assert_eq!(e2e.len(), 10);
        assert_eq!(e2e.len(), qw.len());
        for v in [900, 991, 995] {
            assert_eq!(e2e.count_at(v), qw.count_at(v), "{v}");
        }
    }
}
