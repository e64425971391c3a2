//! The store thread: drains the worker → store queues, appends ticks and bars
//! through a [`Persist`] backend, makes them visible every flush interval, and
//! closes the segments when the workers are gone.
//!
//! It is the only thread that touches the disk: compression, syncing and
//! sealing happen here or in the store's own background threads, never on a
//! worker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ingest::SymbolTable;
use mtf::BarEvent;

use crate::config::Config;
use crate::pipeline::{EngineError, Persist};
use crate::stats::{Counter, Stats};
use crate::worker::StoreRx;

/// Records taken off one queue per round.
const CHUNK: usize = 8192;

/// How often the store's periodic work runs.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// The store thread takes the queues once this many ticks (or bars) wait in
/// one of them: one store block (`StoreConfig::block_ticks`), so the thread
/// wakes per block, not per worker batch, and leaves the cores to the
/// ingest and worker threads in between.
const WAKE_AT: usize = 4096;

/// ... or once the oldest queued record may have waited this long (bounds
/// how late a tick is counted `accepted`; far below `store.flush_interval`).
const MAX_HOLD: Duration = Duration::from_millis(2);

/// One nap of the store thread while less than [`WAKE_AT`] records wait.
/// At 10M ticks/s a nap lets about 5,000 ticks queue up, 2% of the default
/// `store.queue_capacity`.
const NAP: Duration = Duration::from_micros(500);

/// Whether the store thread should take the queues now: a block's worth is
/// waiting, something waited [`MAX_HOLD`], or a worker is gone (drain).
fn due(rxs: &[StoreRx], since_take: Duration) -> bool {
    since_take >= MAX_HOLD
        || rxs.iter().any(|rx| {
            rx.ticks.slots() >= WAKE_AT
                || rx.bars.slots() >= WAKE_AT
                || rx.ticks.is_abandoned()
                || rx.bars.is_abandoned()
        })
}

/// Open the configured store; `None` when it is disabled.
pub fn open(
    cfg: &Config,
    symbols: Arc<SymbolTable>,
) -> Result<Option<Box<dyn Persist>>, EngineError> {
    if !cfg.store.enabled {
        return Ok(None);
    }
    crate::storage::open_store(cfg, symbols).map(Some)
}

/// The store thread's loop. Returns when every worker dropped its queue ends
/// and everything has been appended and closed.
pub fn run_store_thread(
    mut p: Box<dyn Persist>,
    mut rxs: Vec<StoreRx>,
    stats: Stats,
    recovered: Vec<BarEvent>,
) {
    let cold = stats.cold();
    let mut last_poll = Instant::now();
    let mut errors_logged = 0u64;
    if !recovered.is_empty() {
        append_bars(
            &mut *p,
            &recovered,
            cold,
            &mut errors_logged,
            "append recovered bars",
        );
    }
    let mut last_take = Instant::now();
    loop {
        if !due(&rxs, last_take.elapsed()) {
            poll_if_due(&mut *p, &mut last_poll, cold, &mut errors_logged);
            std::thread::sleep(NAP);
            continue;
        }
        last_take = Instant::now();
        let mut moved = 0usize;
        let mut all_gone = true;
        for rx in &mut rxs {
            // Ticks first, then the bars they produced. Appended straight
            // from the queue's memory (no copy), released after.
            moved += take(&mut rx.ticks, |ticks| match p.ticks(ticks) {
                Ok(bytes) => {
                    // Counted only now: an accepted tick survives a kill.
                    cold.add(Counter::TicksStored, ticks.len() as u64);
                    cold.add(Counter::Accepted, ticks.len() as u64);
                    cold.add(Counter::BytesStored, bytes);
                }
                Err(e) => {
                    cold.add(Counter::StoreErrors, 1);
                    log_error(&mut errors_logged, "append ticks", &e);
                }
            });
            moved += take(&mut rx.bars, |bars| {
                append_bars(&mut *p, bars, cold, &mut errors_logged, "append bars")
            });
            let gone = rx.ticks.is_abandoned() && rx.bars.is_abandoned();
            all_gone &= gone && rx.ticks.is_empty() && rx.bars.is_empty();
        }
        poll_if_due(&mut *p, &mut last_poll, cold, &mut errors_logged);
        if all_gone {
            break;
        }
        if moved == 0 {
            std::thread::sleep(NAP);
        }
    }
    if let Err(e) = p.close() {
        cold.add(Counter::StoreErrors, 1);
        tracing::error!(error = %e, "closing the store failed");
    } else {
        tracing::info!("store flushed and closed");
    }
}

/// Appends bars, counting them (or the error, logged as `what`).
fn append_bars(
    p: &mut dyn Persist,
    bars: &[BarEvent],
    cold: &crate::stats::ColdCounters,
    errors_logged: &mut u64,
    what: &str,
) {
    match p.bars(bars) {
        Ok(bytes) => {
            cold.add(Counter::BarsStored, bars.len() as u64);
            cold.add(Counter::BytesStored, bytes);
        }
        Err(e) => {
            cold.add(Counter::StoreErrors, 1);
            log_error(errors_logged, what, &e);
        }
    }
}

/// The store's periodic work (flush, symbol table), every [`POLL_EVERY`].
fn poll_if_due(
    p: &mut dyn Persist,
    last_poll: &mut Instant,
    cold: &crate::stats::ColdCounters,
    errors_logged: &mut u64,
) {
    if last_poll.elapsed() < POLL_EVERY {
        return;
    }
    match p.poll() {
        Ok(bytes) => cold.add(Counter::BytesStored, bytes),
        Err(e) => {
            cold.add(Counter::StoreErrors, 1);
            log_error(errors_logged, "flush", &e);
        }
    }
    *last_poll = Instant::now();
}

/// Hands up to [`CHUNK`] queued records to `f` in place (one or two slices:
/// the queue may wrap), then releases them; returns how many.
fn take<T: Copy>(c: &mut rtrb::Consumer<T>, mut f: impl FnMut(&[T])) -> usize {
    let n = c.slots().min(CHUNK);
    if n == 0 {
        return 0;
    }
    let Ok(chunk) = c.read_chunk(n) else {
        return 0;
    };
    let (a, b) = chunk.as_slices();
    for part in [a, b] {
        if !part.is_empty() {
            f(part);
        }
    }
    chunk.commit_all();
    n
}

/// Log the first 10 errors, then every 1000th (the counter has them all).
fn log_error(logged: &mut u64, what: &str, e: &str) {
    *logged += 1;
    if *logged <= 10 || (*logged).is_multiple_of(1000) {
        tracing::error!(occurrence = *logged, "store: {what} failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::store_queue;
    use mtf::{Side, Tick};
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Fake {
        ticks: Vec<u64>,
        bars: usize,
        flushes: usize,
        closed: bool,
    }

    struct FakePersist(Arc<Mutex<Fake>>);

    impl Persist for FakePersist {
        fn ticks(&mut self, t: &[Tick]) -> Result<u64, String> {
            self.0.lock().ticks.extend(t.iter().map(|t| t.id));
            Ok(t.len() as u64 * 10)
        }
        fn bars(&mut self, b: &[BarEvent]) -> Result<u64, String> {
            self.0.lock().bars += b.len();
            Ok(0)
        }
        fn poll(&mut self) -> Result<u64, String> {
            self.0.lock().flushes += 1;
            Ok(0)
        }
        fn close(self: Box<Self>) -> Result<(), String> {
            self.0.lock().closed = true;
            Ok(())
        }
    }

    #[test]
    fn drains_everything_then_closes() {
        let fake = Arc::new(Mutex::new(Fake::default()));
        let (mut tx, rx) = store_queue(1024);
        let stats = Stats::new();
        let p = Box::new(FakePersist(fake.clone()));
        let s2 = stats.clone();
        let h = std::thread::spawn(move || run_store_thread(p, vec![rx], s2, Vec::new()));
        let mut sent = 0u64;
        while sent < 100_000 {
            let t = Tick::trade(1, sent as i64, 1.0, 1.0, Side::Buy, sent);
            if tx.ticks.push(t).is_ok() {
                sent += 1;
            }
        }
        drop(tx);
        h.join().unwrap();
        let f = fake.lock();
        assert!(f.closed);
        assert_eq!(f.ticks.len(), 100_000);
        assert!(f.ticks.windows(2).all(|w| w[1] == w[0] + 1));
        let s = stats.snapshot();
        assert_eq!(s.counter(Counter::TicksStored), 100_000);
        assert_eq!(s.counter(Counter::Accepted), 100_000);
        assert_eq!(s.counter(Counter::BytesStored), 1_000_000);
    }

    /// Fewer ticks than a block are still stored (and counted accepted)
    /// within about `MAX_HOLD`, while the worker keeps its queue ends.
    #[test]
    fn a_few_ticks_are_not_held_back() {
        let fake = Arc::new(Mutex::new(Fake::default()));
        let (mut tx, rx) = store_queue(1024);
        let stats = Stats::new();
        let p = Box::new(FakePersist(fake.clone()));
        let s2 = stats.clone();
        let h = std::thread::spawn(move || run_store_thread(p, vec![rx], s2, Vec::new()));
        for i in 0..10u64 {
            tx.ticks
                .push(Tick::trade(1, i as i64, 1.0, 1.0, Side::Buy, i))
                .unwrap();
        }
        let t0 = Instant::now();
        while stats.snapshot().counter(Counter::Accepted) < 10 {
            assert!(t0.elapsed() < Duration::from_secs(10), "ticks held back");
            std::thread::sleep(Duration::from_micros(100));
        }
        assert!(!tx.ticks.is_abandoned());
        drop(tx);
        h.join().unwrap();
        assert_eq!(fake.lock().ticks, (0..10).collect::<Vec<_>>());
    }
}
