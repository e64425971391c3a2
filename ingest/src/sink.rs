//! [`Sink`]: where the receivers hand their ticks.
//!
//! The engine implements it over its per-worker SPSC queues: route each tick
//! by symbol to its worker's queue, answer [`SinkFull`] when that queue has no
//! room. The receivers react per transport:
//!
//! - **TCP** (binary and ILP) offers with [`Sink::offer_batch`] and keeps what
//!   was not taken; the connection is not read again until the sink took it
//!   all, so the sender's TCP window closes and a TCP tick is never dropped.
//!   The order of a connection's ticks is kept (a full queue for one symbol
//!   holds back the ticks behind it on that connection).
//! - **UDP** offers each tick with [`Sink::offer`]; a refused tick is dropped
//!   and counted apart (`ReceiverStats::udp_sink_full_drops`), the rest of
//!   the datagram still goes to the queues that have room.
//!
//! Calls come from the receiver's thread only; an implementation needs no
//! locks. After each burst of offers the receiver calls [`Sink::flush`] (for
//! a sink that batches its queue writes).
//!
//! ```
//! use ingest::sink::{Sink, SinkFull, VecSink};
//! use mtf::{Side, Tick};
//! let mut s = VecSink::with_capacity(1);
//! let t = Tick::trade(0, 1, 1.0, 1.0, Side::Buy, 0);
//! assert_eq!(s.offer(&t), Ok(()));
//! assert_eq!(s.offer(&t), Err(SinkFull));
//! assert_eq!(s.offer_batch(&[t, t]), 0);
//! s.ticks.clear();
//! assert_eq!(s.offer_batch(&[t, t]), 1);
//! ```

use mtf::Tick;

/// The sink has no room for this tick now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkFull;

impl std::fmt::Display for SinkFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sink full")
    }
}

impl std::error::Error for SinkFull {}

/// The downstream of a receiver (see the module docs for the contract).
pub trait Sink {
    /// Takes one tick, or refuses it without side effects.
    fn offer(&mut self, tick: &Tick) -> Result<(), SinkFull>;

    /// Takes a prefix of `ticks`, in order; returns its length. The default
    /// offers one by one and stops at the first refusal.
    #[inline]
    fn offer_batch(&mut self, ticks: &[Tick]) -> usize {
        for (i, t) in ticks.iter().enumerate() {
            if self.offer(t).is_err() {
                return i;
            }
        }
        ticks.len()
    }

    /// Called after each burst of offers (publish batched writes, wake workers).
    #[inline]
    fn flush(&mut self) {}
}

impl<S: Sink + ?Sized> Sink for &mut S {
    #[inline]
    fn offer(&mut self, tick: &Tick) -> Result<(), SinkFull> {
        (**self).offer(tick)
    }
    #[inline]
    fn offer_batch(&mut self, ticks: &[Tick]) -> usize {
        (**self).offer_batch(ticks)
    }
    #[inline]
    fn flush(&mut self) {
        (**self).flush()
    }
}

/// A bounded in-memory sink for tests and tools: refuses once it holds
/// `capacity` ticks (drain `ticks` to make room).
#[derive(Clone, Debug, Default)]
pub struct VecSink {
    /// What was taken, in order.
    pub ticks: Vec<Tick>,
    /// The most it holds.
    pub capacity: usize,
}

impl VecSink {
    /// Room for `capacity` ticks, allocated now.
    pub fn with_capacity(capacity: usize) -> VecSink {
        VecSink {
            ticks: Vec::with_capacity(capacity),
            capacity,
        }
    }
}

impl Sink for VecSink {
    #[inline]
    fn offer(&mut self, tick: &Tick) -> Result<(), SinkFull> {
        if self.ticks.len() >= self.capacity {
            return Err(SinkFull);
        }
        self.ticks.push(*tick);
        Ok(())
    }

    #[inline]
    fn offer_batch(&mut self, ticks: &[Tick]) -> usize {
        let n = ticks
            .len()
            .min(self.capacity.saturating_sub(self.ticks.len()));
        self.ticks.extend_from_slice(&ticks[..n]);
        n
    }
}

/// A sink that counts and discards (benchmarks).
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingSink {
    /// Ticks taken.
    pub count: u64,
    /// Sum of trade ids taken (so the work is not optimised away).
    pub checksum: u64,
}

impl Sink for CountingSink {
    #[inline]
    fn offer(&mut self, tick: &Tick) -> Result<(), SinkFull> {
        self.count += 1;
        self.checksum = self.checksum.wrapping_add(tick.id);
        Ok(())
    }
}
