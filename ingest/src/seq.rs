//! Sequence tracking per (source, stream id) for the binary wire format.
//!
//! Every message carries a sequence number (the frame header holds the first;
//! the others follow consecutively). Per (source, stream) the tracker keeps the
//! next expected number and a few recent gaps:
//!
//! - a frame that starts past the expected number opens a **gap**: counted,
//!   logged (rate-limited) with the first and last missing number, remembered;
//! - numbers already seen are **duplicates**: dropped and counted, so a feed
//!   sent twice never counts a tick twice (a frame that overlaps partly keeps
//!   only its new tail);
//! - a late frame that lies wholly inside a remembered gap (UDP reordering) is
//!   **recovered**: accepted, and the gap shrinks;
//! - the frame flag [`FRAME_SEQ_RESET`] starts a new session on that stream:
//!   the tracker forgets what it saw (a publisher restarting from 1 sets it).
//!
//! The source is the sender's IP address, not its port: a sender restarted on
//! the same host with a new ephemeral port is still recognised as replaying.
//! The number of streams is bounded; frames of streams beyond the bound are
//! accepted untracked and counted.
//!
//! ```
//! use ingest::seq::{SeqTracker, source_of};
//! use ingest::wire::FrameHeader;
//! let mut t = SeqTracker::new(1024);
//! let src = source_of(&"10.0.0.1:5000".parse().unwrap());
//! let h = |seq, count| FrameHeader { flags: 0, count, stream_id: 1, seq, send_time: 0 };
//! assert_eq!(t.check(src, &h(1, 10), 0), 0);   // skip 0: all new
//! assert_eq!(t.check(src, &h(1, 10), 0), 10);  // the same frame again: all duplicates
//! assert_eq!(t.check(src, &h(21, 5), 0), 0);   // 11..=20 missing: one gap
//! assert_eq!((t.counts.gaps, t.counts.missing, t.counts.duplicates), (1, 10, 10));
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use rustc_hash::FxBuildHasher;

use crate::ratelog::LogLimiter;
use crate::wire::{FRAME_SEQ_RESET, FrameHeader};

/// Identifies a sender: its IP address as an IPv6 (IPv4-mapped) number.
pub type SourceId = u128;

/// The [`SourceId`] of a peer address (the port is ignored).
#[inline]
pub fn source_of(addr: &SocketAddr) -> SourceId {
    let v6 = match addr.ip() {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    };
    u128::from_be_bytes(v6.octets())
}

/// How many gaps per stream are remembered for late arrivals.
const GAPS: usize = 8;

#[derive(Clone, Copy, Debug, Default)]
struct Stream {
    next: u64,
    /// Inclusive ranges of missing numbers, oldest first; `n_gaps` used.
    gaps: [(u64, u64); GAPS],
    n_gaps: u8,
}

impl Stream {
    fn add_gap(&mut self, lo: u64, hi: u64) {
        if self.n_gaps as usize == GAPS {
            self.gaps.copy_within(1.., 0);
            self.n_gaps -= 1;
        }
        self.gaps[self.n_gaps as usize] = (lo, hi);
        self.n_gaps += 1;
    }

    /// If `[lo, hi]` lies inside a remembered gap, removes it from the gap.
    fn fill(&mut self, lo: u64, hi: u64) -> bool {
        let n = self.n_gaps as usize;
        let Some(i) = self.gaps[..n].iter().position(|&(a, b)| a <= lo && hi <= b) else {
            return false;
        };
        let (a, b) = self.gaps[i];
        self.gaps.copy_within(i + 1..n, i);
        self.n_gaps -= 1;
        if a < lo {
            self.add_gap(a, lo - 1);
        }
        if hi < b {
            self.add_gap(hi + 1, b);
        }
        true
    }
}

/// Plain per-thread counters of a [`SeqTracker`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqCounts {
    /// Gaps opened.
    pub gaps: u64,
    /// Message numbers found missing (sum of gap lengths).
    pub missing: u64,
    /// Messages that arrived late into a remembered gap and were accepted.
    pub recovered: u64,
    /// Messages dropped as already seen.
    pub duplicates: u64,
    /// Frames with [`FRAME_SEQ_RESET`].
    pub resets: u64,
    /// Frames of streams beyond the bound, accepted untracked.
    pub untracked_frames: u64,
    /// Gaps counted but not queued as [`GapEvent`]s because
    /// [`MAX_PENDING_GAPS`] were already waiting to be taken.
    pub gaps_unreported: u64,
}

impl SeqCounts {
    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &SeqCounts) {
        self.gaps += o.gaps;
        self.missing += o.missing;
        self.recovered += o.recovered;
        self.duplicates += o.duplicates;
        self.resets += o.resets;
        self.untracked_frames += o.untracked_frames;
        self.gaps_unreported += o.gaps_unreported;
    }
}

/// How many gap events wait for [`SeqTracker::take_gaps`] at most; more are
/// counted in [`SeqCounts::gaps_unreported`], never queued without bound.
pub const MAX_PENDING_GAPS: usize = 64;

/// A gap just opened in one stream: messages `first_missing ..= last_missing`
/// never arrived (yet). For telling subscribers, e.g. as a ring record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GapEvent {
    /// The frame header's stream id.
    pub stream: u32,
    /// First missing message number.
    pub first_missing: u64,
    /// Last missing message number.
    pub last_missing: u64,
    /// Receive time of the frame that revealed the gap, ns.
    pub at_ns: i64,
}

/// Sequence state of every (source, stream) one ingest thread has seen.
pub struct SeqTracker {
    index: HashMap<(SourceId, u32), usize, FxBuildHasher>,
    streams: Vec<Stream>,
    /// The last stream looked up: consecutive frames usually share it.
    last: Option<((SourceId, u32), usize)>,
    max_streams: usize,
    /// Counters (plain; read by the owner).
    pub counts: SeqCounts,
    log: LogLimiter,
    /// Gaps not yet taken by [`SeqTracker::take_gaps`] (at most [`MAX_PENDING_GAPS`]).
    pending: Vec<GapEvent>,
}

impl SeqTracker {
    /// A tracker for at most `max_streams` (source, stream) pairs.
    pub fn new(max_streams: usize) -> SeqTracker {
        SeqTracker {
            index: HashMap::with_capacity_and_hasher(max_streams.min(4096), FxBuildHasher),
            streams: Vec::with_capacity(max_streams.min(4096)),
            last: None,
            max_streams,
            counts: SeqCounts::default(),
            log: LogLimiter::default(),
            pending: Vec::with_capacity(MAX_PENDING_GAPS),
        }
    }

    /// Hands every gap opened since the last call to `f`, oldest first.
    pub fn take_gaps(&mut self, mut f: impl FnMut(GapEvent)) {
        for g in self.pending.drain(..) {
            f(g);
        }
    }

    /// How many leading messages of the frame are duplicates and must be
    /// skipped (`header.count` when the whole frame was seen before).
    /// Updates the state; call once per structurally valid frame.
    pub fn check(&mut self, source: SourceId, h: &FrameHeader, now_ns: i64) -> usize {
        let count = h.count as u64;
        let end = h.seq.saturating_add(count);
        let key = (source, h.stream_id);
        let slot = match self.last {
            Some((k, i)) if k == key => Some(i),
            _ => self.index.get(&key).copied(),
        };
        let Some(i) = slot else {
            if self.streams.len() >= self.max_streams {
                self.counts.untracked_frames += 1;
                return 0;
            }
            if h.flags & FRAME_SEQ_RESET != 0 {
                self.counts.resets += 1;
            }
            self.index.insert(key, self.streams.len());
            self.last = Some((key, self.streams.len()));
            self.streams.push(Stream {
                next: end,
                ..Stream::default()
            });
            return 0;
        };
        self.last = Some((key, i));
        let st = &mut self.streams[i];
        if h.flags & FRAME_SEQ_RESET != 0 {
            self.counts.resets += 1;
            *st = Stream {
                next: end,
                ..Stream::default()
            };
            return 0;
        }
        if h.seq >= st.next {
            if h.seq > st.next {
                let (lo, hi) = (st.next, h.seq - 1);
                st.add_gap(lo, hi);
                self.counts.gaps += 1;
                self.counts.missing += hi - lo + 1;
                if self.pending.len() < MAX_PENDING_GAPS {
                    self.pending.push(GapEvent {
                        stream: h.stream_id,
                        first_missing: lo,
                        last_missing: hi,
                        at_ns: now_ns,
                    });
                } else {
                    self.counts.gaps_unreported += 1;
                }
                if let Some(suppressed) = self.log.allow(now_ns) {
                    tracing::warn!(
                        source = %std::net::Ipv6Addr::from(source),
                        stream = h.stream_id,
                        first_missing = lo,
                        last_missing = hi,
                        suppressed,
                        "sequence gap"
                    );
                }
            }
            st.next = end;
            return 0;
        }
        // Starts before the expected number.
        if count == 0 {
            return 0; // an old heartbeat
        }
        if end <= st.next {
            if st.fill(h.seq, end - 1) {
                self.counts.recovered += count;
                return 0;
            }
            self.counts.duplicates += count;
            return h.count as usize;
        }
        let dup = st.next - h.seq;
        self.counts.duplicates += dup;
        st.next = end;
        dup as usize
    }

    /// The next expected number of a stream, if it is tracked.
    pub fn expected(&self, source: SourceId, stream_id: u32) -> Option<u64> {
        let i = *self.index.get(&(source, stream_id))?;
        Some(self.streams[i].next)
    }

    /// Streams tracked.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream is tracked.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(stream: u32, seq: u64, count: u16) -> FrameHeader {
        FrameHeader {
            flags: 0,
            count,
            stream_id: stream,
            seq,
            send_time: 0,
        }
    }

    #[test]
    fn gaps_are_queued_for_subscribers_with_a_bound() {
        let mut t = SeqTracker::new(10);
        let s = source_of(&"127.0.0.1:1".parse().unwrap());
        t.check(s, &h(7, 1, 10), 5);
        t.check(s, &h(7, 20, 1), 6); // 11..=19 missing
        t.check(s, &h(7, 21, 1), 7); // in order: no gap
        let mut got = Vec::new();
        t.take_gaps(|g| got.push(g));
        assert_eq!(
            got,
            [GapEvent {
                stream: 7,
                first_missing: 11,
                last_missing: 19,
                at_ns: 6
            }]
        );
        t.take_gaps(|_| panic!("taken once"));
        // More gaps than the bound: the rest are counted, not queued.
        let mut seq = 22;
        for _ in 0..MAX_PENDING_GAPS + 5 {
            seq += 2;
            t.check(s, &h(7, seq, 1), 0);
        }
        let mut n = 0;
        t.take_gaps(|_| n += 1);
        assert_eq!(n, MAX_PENDING_GAPS);
        assert_eq!(t.counts.gaps_unreported, 5);
        assert_eq!(t.counts.gaps, 1 + MAX_PENDING_GAPS as u64 + 5);
    }

    #[test]
    fn gaps_duplicates_overlaps_recovery_reset() {
        let mut t = SeqTracker::new(10);
        let s = source_of(&"127.0.0.1:1".parse().unwrap());
        assert_eq!(t.check(s, &h(1, 100, 10), 0), 0);
        assert_eq!(t.expected(s, 1), Some(110));
        // a different port of the same host is the same source
        let s2 = source_of(&"127.0.0.1:2".parse().unwrap());
        assert_eq!(s, s2);
        assert_eq!(t.check(s2, &h(1, 100, 10), 0), 10);
        // partial overlap keeps the new tail
        assert_eq!(t.check(s, &h(1, 105, 10), 0), 5);
        assert_eq!(t.expected(s, 1), Some(115));
        // gap 115..=119, then a late frame inside it is recovered once
        assert_eq!(t.check(s, &h(1, 120, 5), 0), 0);
        assert_eq!(t.check(s, &h(1, 116, 2), 0), 0);
        assert_eq!(t.check(s, &h(1, 116, 2), 0), 2);
        assert_eq!(t.check(s, &h(1, 115, 1), 0), 0);
        assert_eq!(t.check(s, &h(1, 118, 2), 0), 0);
        assert_eq!(t.check(s, &h(1, 115, 5), 0), 5);
        // heartbeats: a gap is noticed without messages
        assert_eq!(t.check(s, &h(1, 130, 0), 0), 0);
        assert_eq!(t.expected(s, 1), Some(130));
        assert_eq!(t.check(s, &h(1, 3, 0), 0), 0);
        // reset
        let mut r = h(1, 1, 3);
        r.flags = FRAME_SEQ_RESET;
        assert_eq!(t.check(s, &r, 0), 0);
        assert_eq!(t.expected(s, 1), Some(4));
        // other stream is independent
        assert_eq!(t.check(s, &h(2, 100, 1), 0), 0);
        let c = t.counts;
        assert_eq!(c.gaps, 2);
        assert_eq!(c.missing, 5 + 5);
        assert_eq!(c.recovered, 5);
        assert_eq!(c.duplicates, 10 + 5 + 2 + 5);
        assert_eq!(c.resets, 1);
    }

    #[test]
    fn bounded_streams() {
        let mut t = SeqTracker::new(2);
        for st in 0..5 {
            assert_eq!(t.check(0, &h(st, 0, 1), 0), 0);
            assert_eq!(t.check(0, &h(st, 0, 1), 0), if st < 2 { 1 } else { 0 });
        }
        assert_eq!(t.len(), 2);
        assert_eq!(t.counts.untracked_frames, 6);
    }

    #[test]
    fn extreme_numbers_do_not_panic() {
        let mut t = SeqTracker::new(4);
        for seq in [0, 1, u64::MAX - 1, u64::MAX, 5, u64::MAX] {
            for count in [0, 1, u16::MAX] {
                let _ = t.check(0, &h(1, seq, count), 0);
            }
        }
    }

    proptest! {
        /// Any interleaving of a feed's frames, each sent up to three times in any
        /// order, counts every message exactly once when nothing is lost for good.
        #[test]
        fn every_message_counted_once(
            sizes in proptest::collection::vec(0u16..20, 1..40),
            order in proptest::collection::vec(any::<u16>(), 0..120),
        ) {
            let mut frames = Vec::new();
            let mut seq = 1u64;
            for &n in &sizes {
                frames.push(h(9, seq, n));
                seq += n as u64;
            }
            // In-order delivery first, then random replays.
            let mut t = SeqTracker::new(8);
            let mut accepted = 0u64;
            for f in &frames {
                accepted += f.count as u64 - t.check(7, f, 0) as u64;
            }
            for &i in &order {
                let f = &frames[i as usize % frames.len()];
                accepted += f.count as u64 - t.check(7, f, 0) as u64;
            }
            prop_assert_eq!(accepted, seq - 1);
            prop_assert_eq!(t.counts.gaps, 0);
        }
    }
}
