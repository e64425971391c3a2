//! Ingest → worker queues: one bounded lock-free SPSC ring of 64-byte ticks
//! per (ingest thread, worker) pair, and the routing of a symbol to its worker.
//!
//! The rings are [`rtrb`]'s (each side caches the other's index, indices are
//! cache-padded). `benches/spsc.rs` measures them against crossbeam's
//! `ArrayQueue` across the two cores; `docs/perf.md` has the figures that
//! justify the choice.
//!
//! ```
//! use engine::queue::{Router, tick_queue};
//! let (mut tx, mut rx) = tick_queue(1024);
//! let t = mtf::Tick::trade(7, 1, 100.0, 1.0, mtf::Side::Buy, 1);
//! assert!(tx.push(t).is_ok());
//! let mut got = Vec::new();
//! rx.drain(64, |batch| got.extend_from_slice(batch));
//! assert_eq!(got, vec![t]);
//! assert_eq!(Router::new(4).worker_of(7), 3);
//! ```

use mtf::{SymbolId, Tick};

/// The producing end, owned by one ingest thread.
pub struct TickTx {
    inner: rtrb::Producer<Tick>,
}

/// The consuming end, owned by one worker thread.
pub struct TickRx {
    inner: rtrb::Consumer<Tick>,
}

/// A new queue of `capacity` ticks.
pub fn tick_queue(capacity: usize) -> (TickTx, TickRx) {
    let (p, c) = rtrb::RingBuffer::new(capacity.max(1));
    (TickTx { inner: p }, TickRx { inner: c })
}

/// The queue was full; the tick is handed back.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Full(pub Tick);

impl TickTx {
    /// Push one tick; `Err(Full)` returns it when the queue is full.
    #[inline]
    pub fn push(&mut self, tick: Tick) -> Result<(), Full> {
        self.inner
            .push(tick)
            .map_err(|rtrb::PushError::Full(t)| Full(t))
    }

    /// Free slots, as seen by the producer (may grow concurrently).
    #[inline]
    pub fn free(&self) -> usize {
        self.inner.slots()
    }

    /// Whether the worker dropped its end (it stopped).
    pub fn is_abandoned(&self) -> bool {
        self.inner.is_abandoned()
    }
}

impl TickRx {
    /// Hand up to `max` queued ticks to `f` as one or two contiguous slices,
    /// then free their slots. Returns how many were consumed.
    #[inline]
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(&[Tick])) -> usize {
        let n = self.inner.slots().min(max);
        if n == 0 {
            return 0;
        }
        match self.inner.read_chunk(n) {
            Ok(chunk) => {
                let (a, b) = chunk.as_slices();
                f(a);
                if !b.is_empty() {
                    f(b);
                }
                chunk.commit_all();
                n
            }
            // `slots()` said n were there and only this consumer removes them.
            Err(_) => 0,
        }
    }

    /// Queued ticks, as seen by the consumer.
    #[inline]
    pub fn len(&self) -> usize {
        self.inner.slots()
    }

    /// Whether nothing is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Whether the ingest thread dropped its end.
    pub fn is_abandoned(&self) -> bool {
        self.inner.is_abandoned()
    }
}

/// Which worker owns a symbol: `symbol mod workers`, so a symbol always goes
/// to the same worker (and keeps its order) for a given worker count, across
/// restarts too.
#[derive(Clone, Copy, Debug)]
pub struct Router {
    workers: u32,
}

impl Router {
    /// A router over `workers` (at least 1).
    pub fn new(workers: usize) -> Router {
        Router {
            workers: u32::try_from(workers.max(1)).unwrap_or(u32::MAX),
        }
    }

    /// The worker index of `symbol`.
    #[inline]
    pub fn worker_of(&self, symbol: SymbolId) -> usize {
        (symbol % self.workers) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtf::Side;

    #[test]
    fn fifo_across_the_wrap_and_full() {
        let (mut tx, mut rx) = tick_queue(8);
        let mut next = 0u64;
        let mut want = 0u64;
        for _ in 0..50 {
            while tx.free() > 0 {
                tx.push(Tick::trade(1, next as i64, 1.0, 1.0, Side::Buy, next))
                    .unwrap();
                next += 1;
            }
            let t = Tick::trade(1, 0, 1.0, 1.0, Side::Buy, 999);
            assert_eq!(tx.push(t), Err(Full(t)));
            rx.drain(5, |b| {
                for t in b {
                    assert_eq!(t.id, want);
                    want += 1;
                }
            });
        }
        rx.drain(usize::MAX, |b| want += b.len() as u64);
        assert_eq!(want, next);
        assert!(rx.is_empty());
    }

    #[test]
    fn one_symbol_one_worker() {
        let r = Router::new(3);
        for s in 0..100u32 {
            assert_eq!(r.worker_of(s), r.worker_of(s));
            assert!(r.worker_of(s) < 3);
        }
        assert_eq!(Router::new(0).worker_of(5), 0);
    }

    #[test]
    fn order_is_kept_across_threads() {
        let (mut tx, mut rx) = tick_queue(64);
        let n = if cfg!(miri) { 1_000 } else { 200_000 };
        let h = std::thread::spawn(move || {
            let mut i = 0u64;
            while i < n {
                if tx
                    .push(Tick::trade(0, i as i64, 1.0, 1.0, Side::Sell, i))
                    .is_ok()
                {
                    i += 1;
                } else {
                    std::hint::spin_loop();
                }
            }
        });
        let mut want = 0u64;
        while want < n {
            rx.drain(32, |b| {
                for t in b {
                    assert_eq!(t.id, want);
                    want += 1;
                }
            });
        }
        h.join().unwrap();
    }
}
