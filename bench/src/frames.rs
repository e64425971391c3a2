//! The load generator's frame encoder: the same bytes as
//! [`ingest::wire::FrameEncoder`], written straight into the caller's output
//! buffer with a few fixed-offset stores per message.
//!
//! `FrameEncoder` builds each message through [`ingest::wire::WireMsg`]
//! (a 100-byte struct, a bounds-checked write per field) into a buffer of its
//! own that the sender then copies out; on the two cores the generator shares
//! with the daemon, that per-tick cost is taken from the daemon. Here a
//! message is assembled in a fixed-size array (constant offsets, so plain
//! register stores) and appended to the output, which already holds the
//! frame's length prefix and header; the header is patched when the frame is
//! finished. Every byte is the same as `FrameEncoder`'s for the same ticks
//! (`tests::same_bytes_as_frame_encoder`), so the daemon gets exactly what it
//! got before: valid frames, consecutive sequence numbers, the ticks as
//! generated.

use ingest::symbols::MAX_SYMBOL_LEN;
use ingest::wire::{
    self, HEADER_LEN, MAGIC, MSG_FLAGS_KNOWN, MSG_OFF_PRICE, MSG_OFF_SIZE, MSG_OFF_SYMBOL,
    MSG_OFF_TS, OFF_COUNT, OFF_MAGIC, OFF_SEND_TIME, OFF_SEQ, OFF_STREAM, OFF_VERSION, QUOTE_LEN,
    QUOTE_OFF_ASK, QUOTE_OFF_ASK_SIZE, QUOTE_OFF_ID, TCP_PREFIX_LEN, TRADE_LEN, TRADE_OFF_ID,
    VERSION, WireError,
};
use mtf::{Tick, TickKind};

/// Builds frames (TCP: each behind its `u32` LE length) at the end of a `Vec<u8>`.
///
/// Push messages with [`FrameBuilder::push`]; the first push opens a frame
/// at the end of the output. [`FrameBuilder::finish`] writes the header of
/// the open frame. Bytes before [`FrameBuilder::open_at`] are whole frames.
#[derive(Debug)]
pub struct FrameBuilder {
    stream_id: u32,
    next_seq: u64,
    max_frame: usize,
    prefix: usize,
    /// Offset of the open frame (its length prefix, for TCP) in the output.
    start: usize,
    open: bool,
    count: u16,
}

impl FrameBuilder {
    /// Frames of at most `max_frame` bytes (header included, TCP prefix not),
    /// sequence numbers from `first_seq`; the same limits as
    /// [`wire::FrameEncoder::new`] (UDP) and [`wire::FrameEncoder::new_tcp`].
    pub fn new(
        stream_id: u32,
        first_seq: u64,
        max_frame: usize,
        tcp: bool,
    ) -> Result<FrameBuilder, WireError> {
        let max = if tcp {
            u32::MAX as usize
        } else {
            wire::MAX_DATAGRAM
        };
        if !(HEADER_LEN + QUOTE_LEN..=max).contains(&max_frame) {
            return Err(WireError::BadLength {
                len: max_frame.min(u32::MAX as usize) as u32,
                max,
            });
        }
        Ok(FrameBuilder {
            stream_id,
            next_seq: first_seq,
            max_frame,
            prefix: if tcp { TCP_PREFIX_LEN } else { 0 },
            start: 0,
            open: false,
            count: 0,
        })
    }

    /// Messages in the open frame.
    #[inline]
    pub fn pending(&self) -> usize {
        self.count as usize
    }

    /// Where the open frame starts in the output (`None`: no frame open).
    #[inline]
    pub fn open_at(&self) -> Option<usize> {
        self.open.then_some(self.start)
    }

    /// Tells the builder the output lost its first `n` bytes (written out):
    /// `n` must not reach into the open frame.
    #[inline]
    pub fn consumed(&mut self, n: usize) {
        debug_assert!(!self.open || n <= self.start);
        self.start = self.start.saturating_sub(n);
    }

    #[inline]
    fn begin(&mut self, out: &mut Vec<u8>) {
        self.start = out.len();
        self.open = true;
        self.count = 0;
        out.reserve(self.prefix + self.max_frame);
        out.resize(self.start + self.prefix + HEADER_LEN, 0);
    }

    /// Appends `t` as a message named `name` (the padded wire symbol; `t.symbol`
    /// is ignored). `false`: the open frame is full; finish it and push again.
    #[inline]
    pub fn push(&mut self, out: &mut Vec<u8>, t: &Tick, name: &[u8; MAX_SYMBOL_LEN]) -> bool {
        if !self.open {
            self.begin(out);
        }
        let quote = t.kind == TickKind::Quote;
        let len = if quote { QUOTE_LEN } else { TRADE_LEN };
        let used = out.len() - self.start - self.prefix;
        if used + len > self.max_frame || self.count == u16::MAX {
            return false;
        }
        // Bytes 0..8: type, side (0 in quotes), flags, reserved (0).
        let side = if quote { 0 } else { t.side as u64 };
        let w0 = t.kind as u64 | side << 8 | ((t.flags & MSG_FLAGS_KNOWN) as u64) << 16;
        let mut m = [0u8; QUOTE_LEN];
        m[..8].copy_from_slice(&w0.to_le_bytes());
        m[MSG_OFF_TS..MSG_OFF_TS + 8].copy_from_slice(&t.ts_event.to_le_bytes());
        m[MSG_OFF_SYMBOL..MSG_OFF_SYMBOL + MAX_SYMBOL_LEN].copy_from_slice(name);
        m[MSG_OFF_PRICE..MSG_OFF_PRICE + 8].copy_from_slice(&t.price.to_le_bytes());
        m[MSG_OFF_SIZE..MSG_OFF_SIZE + 8].copy_from_slice(&t.size.to_le_bytes());
        if quote {
            m[QUOTE_OFF_ASK..QUOTE_OFF_ASK + 8].copy_from_slice(&t.ask.to_le_bytes());
            m[QUOTE_OFF_ASK_SIZE..QUOTE_OFF_ASK_SIZE + 8]
                .copy_from_slice(&t.ask_size.to_le_bytes());
            m[QUOTE_OFF_ID..QUOTE_OFF_ID + 8].copy_from_slice(&t.id.to_le_bytes());
            out.extend_from_slice(&m);
        } else {
            m[TRADE_OFF_ID..TRADE_OFF_ID + 8].copy_from_slice(&t.id.to_le_bytes());
            out.extend_from_slice(&m[..TRADE_LEN]);
        }
        self.count += 1;
        true
    }

    /// Completes the open frame (a heartbeat if none is open) and returns
    /// its range in `out` (with the length prefix, for TCP).
    pub fn finish(&mut self, out: &mut Vec<u8>, send_time: i64) -> std::ops::Range<usize> {
        if !self.open {
            self.begin(out);
        }
        let start = self.start;
        let frame_len = out.len() - start - self.prefix;
        let seq = self.next_seq;
        let h = &mut out[start + self.prefix..start + self.prefix + HEADER_LEN];
        h[OFF_MAGIC..OFF_MAGIC + 4].copy_from_slice(&MAGIC);
        h[OFF_VERSION] = VERSION;
        // Flags and the reserved word stay 0 (`begin` zeroed the header).
        h[OFF_COUNT..OFF_COUNT + 2].copy_from_slice(&self.count.to_le_bytes());
        h[OFF_STREAM..OFF_STREAM + 4].copy_from_slice(&self.stream_id.to_le_bytes());
        h[OFF_SEQ..OFF_SEQ + 8].copy_from_slice(&seq.to_le_bytes());
        h[OFF_SEND_TIME..OFF_SEND_TIME + 8].copy_from_slice(&send_time.to_le_bytes());
        if self.prefix > 0 {
            out[start..start + TCP_PREFIX_LEN].copy_from_slice(&(frame_len as u32).to_le_bytes());
        }
        self.next_seq = seq.wrapping_add(self.count as u64);
        self.open = false;
        self.count = 0;
        start..out.len()
    }
}

/// Padded wire names by symbol id, filled on first use.
#[derive(Debug, Default)]
pub struct NameCache {
    names: Vec<Option<[u8; MAX_SYMBOL_LEN]>>,
}

impl NameCache {
    /// Ids at or above this are looked up every time (no cache slot).
    const MAX_CACHED: usize = 1 << 20;

    /// The padded name of `id`, from `lookup` the first time.
    #[inline]
    pub fn get(
        &mut self,
        id: mtf::SymbolId,
        lookup: impl FnOnce(mtf::SymbolId) -> ingest::SymbolName,
    ) -> [u8; MAX_SYMBOL_LEN] {
        let i = id as usize;
        if let Some(Some(n)) = self.names.get(i) {
            return *n;
        }
        let n = lookup(id).padded();
        if i < Self::MAX_CACHED {
            if self.names.len() <= i {
                self.names.resize(i + 1, None);
            }
            self.names[i] = Some(n);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{Synth, SynthConfig};
    use ingest::wire::{FrameEncoder, WireDecoder, WireMsg};
    use ingest::{SymbolCache, SymbolName, SymbolTable, Validator};
    use mtf::Side;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn name(k: u32) -> SymbolName {
        SymbolName::new(crate::synth::symbol_name(k).as_bytes()).unwrap()
    }

    /// Encodes `ticks` with both encoders, frames of `max_frame`, finishing a
    /// frame every `every` ticks as well as when it is full.
    fn both(ticks: &[Tick], max_frame: usize, tcp: bool, every: usize) -> (Vec<u8>, Vec<u8>) {
        let mut enc = if tcp {
            FrameEncoder::new_tcp(9, 100, max_frame).unwrap()
        } else {
            FrameEncoder::new(9, 100, max_frame).unwrap()
        };
        let mut old = Vec::new();
        let mut fb = FrameBuilder::new(9, 100, max_frame, tcp).unwrap();
        let mut new = Vec::new();
        let mut names = NameCache::default();
        for (i, t) in ticks.iter().enumerate() {
            let send = i as i64 * 7;
            let m = WireMsg::from_tick(t, name(t.symbol));
            if enc.push(&m).is_err() {
                old.extend_from_slice(enc.finish(send));
                enc.push(&m).unwrap();
            }
            let n = names.get(t.symbol, name);
            if !fb.push(&mut new, t, &n) {
                fb.finish(&mut new, send);
                assert!(fb.push(&mut new, t, &n));
            }
            if (i + 1) % every == 0 {
                old.extend_from_slice(enc.finish(send + 1));
                fb.finish(&mut new, send + 1);
            }
        }
        old.extend_from_slice(enc.finish(-5));
        fb.finish(&mut new, -5);
        (old, new)
    }

    fn synth_ticks(n: usize, quote_every: u32, seed: u64) -> Vec<Tick> {
        let mut s = Synth::new(SynthConfig {
            symbols: 100,
            seed,
            mean_gap_ns: 1_000,
            quote_every,
            skew: 1.0,
            ..SynthConfig::default()
        });
        s.take_vec(n)
    }

    #[test]
    fn same_bytes_as_frame_encoder() {
        for tcp in [true, false] {
            for quote_every in [0, 1, 3] {
                let ticks = synth_ticks(5_000, quote_every, 7);
                for (max_frame, every) in [(1472, usize::MAX), (65_000, 1000), (200, 3)] {
                    let (old, new) = both(&ticks, max_frame, tcp, every);
                    assert!(
                        old == new,
                        "tcp {tcp} quotes {quote_every} frame {max_frame}"
                    );
                }
            }
        }
    }

    /// Decodes TCP frames with tickd's parser; checks the sequence numbers run on.
    fn decode_tcp(bytes: &[u8], first_seq: u64) -> Vec<Tick> {
        let table = Arc::new(SymbolTable::new(1 << 12));
        let mut dec = WireDecoder::new(SymbolCache::new(table), Validator::history());
        let mut out = vec![Tick::default(); wire::MAX_MESSAGES];
        let mut got = Vec::new();
        let mut at = 0;
        let mut seq = first_seq;
        let now = crate::synth::DEFAULT_START_NS + 3_600_000_000_000;
        while at < bytes.len() {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let d = dec
                .decode(&bytes[at + 4..at + 4 + len], now, &mut out)
                .unwrap();
            assert_eq!((d.skipped, d.header.seq), (0, seq));
            seq += d.header.count as u64;
            got.extend_from_slice(&out[..d.ticks]);
            at += 4 + len;
        }
        got
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Generated frames parse back to the ticks generated: same event
        /// times, prices, sizes, sides, ids, kinds and symbol names.
        #[test]
        fn frames_parse_back_to_the_ticks(
            seed in any::<u64>(),
            n in 1usize..3_000,
            quote_every in 0u32..5,
            max_frame in (HEADER_LEN + QUOTE_LEN)..4_000usize,
        ) {
            let ticks = synth_ticks(n, quote_every, seed);
            let (old, new) = both(&ticks, max_frame, true, usize::MAX);
            prop_assert!(old == new);
            let got = decode_tcp(&new, 100);
            prop_assert_eq!(got.len(), ticks.len());
            let mut last_ts = i64::MIN;
            for (g, t) in got.iter().zip(&ticks) {
                prop_assert!(g.ts_event >= last_ts);
                last_ts = g.ts_event;
                prop_assert_eq!(
                    (g.ts_event, g.kind, g.price, g.size, g.id),
                    (t.ts_event, t.kind, t.price, t.size, t.id)
                );
                if t.is_trade() {
                    prop_assert_eq!(g.side, t.side);
                } else {
                    prop_assert_eq!((g.side, g.ask, g.ask_size), (Side::Unknown, t.ask, t.ask_size));
                }
            }
            // Symbol ids are interned by first appearance: names map one to one.
            let mut map = std::collections::HashMap::new();
            for (g, t) in got.iter().zip(&ticks) {
                prop_assert_eq!(*map.entry(t.symbol).or_insert(g.symbol), g.symbol);
            }
        }
    }

    #[test]
    fn heartbeat_and_limits() {
        assert!(FrameBuilder::new(1, 0, HEADER_LEN + QUOTE_LEN - 1, true).is_err());
        assert!(FrameBuilder::new(1, 0, wire::MAX_DATAGRAM + 1, false).is_err());
        let mut fb = FrameBuilder::new(1, 5, 1472, false).unwrap();
        let mut enc = FrameEncoder::new(1, 5, 1472).unwrap();
        let mut out = Vec::new();
        let r = fb.finish(&mut out, 3);
        assert_eq!(&out[r], enc.finish(3));
    }
}
