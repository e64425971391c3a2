//! tickd wire format v1: the binary frame, its pure parser and its encoder.
//!
//! `docs/wire.md` is the single truth for the layout; the constants here are
//! chained from it and `tests::layout_matches_the_doc` checks them.
//!
//! A frame is a 32-byte header followed by `count` messages, each a trade
//! (56 bytes) or a quote (72 bytes), all integers and floats little-endian.
//! UDP carries one frame per datagram; TCP carries frames back to back, each
//! prefixed by its length as a `u32` LE. A frame with zero messages is a
//! heartbeat.
//!
//! Parsing is split in two pure steps so that nothing is handed on from a
//! frame that turns out to be malformed:
//!
//! 1. [`FrameView::parse`] checks the header and that the messages tile the
//!    frame exactly (one byte read per message);
//! 2. [`WireDecoder::decode`] turns the messages into [`Tick`]s in a
//!    caller-provided slice, resolving symbols and validating values; a bad
//!    message is skipped and counted, its neighbours are kept.
//!
//! ```
//! use std::sync::Arc;
//! use ingest::wire::{FrameEncoder, WireDecoder, WireMsg};
//! use ingest::{SymbolCache, SymbolTable, Validator};
//! use mtf::{Side, Tick};
//!
//! let mut enc = FrameEncoder::new(7, 1, 1408).unwrap();
//! let t = Tick::trade(0, 1_700_000_000_000_000_000, 101.25, 3.0, Side::Buy, 42);
//! enc.push(&WireMsg::from_tick(&t, "SPY".parse().unwrap())).unwrap();
//! let frame = enc.finish(0).to_vec();
//!
//! let table = Arc::new(SymbolTable::new(1024));
//! let mut dec = WireDecoder::new(SymbolCache::new(table), Validator::history());
//! let mut out = [Tick::default(); 32];
//! let now = 1_700_000_000_100_000_000;
//! let got = dec.decode(&frame, now, &mut out).unwrap();
//! assert_eq!(got.ticks, 1);
//! assert_eq!((out[0].price, out[0].size, out[0].id), (101.25, 3.0, 42));
//! ```

use std::fmt;

use mtf::{Side, Tick, TickKind};

use crate::symbols::{MAX_SYMBOL_LEN, SymbolCache, SymbolName};
use crate::symfront::SymbolFront;
use crate::validate::{Reject, RejectCounts, Validator};

/// Frame magic, bytes 0..4: ASCII `TKWF`.
pub const MAGIC: [u8; 4] = *b"TKWF";
/// The version this module reads and writes.
pub const VERSION: u8 = 1;

// Header: chained offsets (see docs/wire.md).
/// Offset of the magic.
pub const OFF_MAGIC: usize = 0;
/// Offset of the version byte.
pub const OFF_VERSION: usize = OFF_MAGIC + 4;
/// Offset of the frame flags byte.
pub const OFF_FLAGS: usize = OFF_VERSION + 1;
/// Offset of the message count (`u16`).
pub const OFF_COUNT: usize = OFF_FLAGS + 1;
/// Offset of the stream id (`u32`).
pub const OFF_STREAM: usize = OFF_COUNT + 2;
/// Offset of the reserved word (`u32`, zero).
pub const OFF_RESERVED: usize = OFF_STREAM + 4;
/// Offset of the sequence number of the first message (`u64`).
pub const OFF_SEQ: usize = OFF_RESERVED + 4;
/// Offset of the sender's clock at send time (`i64` ns, 0: unknown).
pub const OFF_SEND_TIME: usize = OFF_SEQ + 8;
/// Header length.
pub const HEADER_LEN: usize = OFF_SEND_TIME + 8;

// Message: common prefix.
/// Message offset of the type byte (1 trade, 2 quote: the [`TickKind`] codes).
pub const MSG_OFF_TYPE: usize = 0;
/// Message offset of the aggressor side byte (trades; 0 in quotes).
pub const MSG_OFF_SIDE: usize = MSG_OFF_TYPE + 1;
/// Message offset of the tick flags (`u16`).
pub const MSG_OFF_FLAGS: usize = MSG_OFF_SIDE + 1;
/// Message offset of the reserved word (`u32`, zero).
pub const MSG_OFF_RESERVED: usize = MSG_OFF_FLAGS + 2;
/// Message offset of the event time (`i64` ns since the epoch, UTC).
pub const MSG_OFF_TS: usize = MSG_OFF_RESERVED + 4;
/// Message offset of the symbol (16 bytes, printable ASCII, zero-padded).
pub const MSG_OFF_SYMBOL: usize = MSG_OFF_TS + 8;
/// Message offset of the trade price or the quote bid (`f64`).
pub const MSG_OFF_PRICE: usize = MSG_OFF_SYMBOL + MAX_SYMBOL_LEN;
/// Message offset of the trade size or the quote bid size (`f64`).
pub const MSG_OFF_SIZE: usize = MSG_OFF_PRICE + 8;
/// Trade: offset of the trade id (`u64`).
pub const TRADE_OFF_ID: usize = MSG_OFF_SIZE + 8;
/// Trade message length.
pub const TRADE_LEN: usize = TRADE_OFF_ID + 8;
/// Quote: offset of the ask (`f64`).
pub const QUOTE_OFF_ASK: usize = MSG_OFF_SIZE + 8;
/// Quote: offset of the ask size (`f64`).
pub const QUOTE_OFF_ASK_SIZE: usize = QUOTE_OFF_ASK + 8;
/// Quote: offset of the update id (`u64`).
pub const QUOTE_OFF_ID: usize = QUOTE_OFF_ASK_SIZE + 8;
/// Quote message length.
pub const QUOTE_LEN: usize = QUOTE_OFF_ID + 8;

/// TCP: length of the `u32` LE prefix before each frame.
pub const TCP_PREFIX_LEN: usize = 4;
/// Largest frame in a UDP datagram that fits a 1500-byte Ethernet MTU over IPv4
/// (1500 - 20 IP - 8 UDP).
pub const DEFAULT_MAX_DATAGRAM: usize = 1472;
/// Largest frame the format allows in one UDP datagram (64 KiB minus headers).
pub const MAX_DATAGRAM: usize = 65_507;
/// The most messages a frame may hold.
pub const MAX_MESSAGES: usize = u16::MAX as usize;

/// Frame flag: the ticks are a replay (history), not live; they get [`Tick::FLAG_REPLAY`].
pub const FRAME_REPLAY: u8 = 1 << 0;
/// Frame flag: the sender restarted its sequence at this frame's number; the
/// receiver forgets what it saw on this (source, stream) before.
pub const FRAME_SEQ_RESET: u8 = 1 << 1;
const FRAME_KNOWN: u8 = FRAME_REPLAY | FRAME_SEQ_RESET;
/// Tick flags a message may carry (the rest must be zero).
pub const MSG_FLAGS_KNOWN: u16 = Tick::FLAG_SUSPICIOUS | Tick::FLAG_ONE_SIDED | Tick::FLAG_REPLAY;

/// Length of a message of type `code`, `None` for an unknown type.
#[inline]
pub const fn message_len(code: u8) -> Option<usize> {
    match TickKind::from_u8(code) {
        Some(TickKind::Trade) => Some(TRADE_LEN),
        Some(TickKind::Quote) => Some(QUOTE_LEN),
        None => None,
    }
}

/// Why a frame cannot be read at all (a structural error: nothing from it is used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// Shorter than the 32-byte header.
    Short {
        /// Bytes present.
        len: usize,
    },
    /// Bytes 0..4 are not `TKWF`.
    BadMagic,
    /// A version this build does not read.
    BadVersion(u8),
    /// Frame flag bits that v1 does not define are set.
    ReservedFlags(u8),
    /// The header's reserved word is not zero.
    ReservedHeader,
    /// Message `index` has an unknown type code.
    UnknownType {
        /// Message index in the frame.
        index: u16,
        /// The code found.
        code: u8,
    },
    /// The messages run past the end of the frame.
    Truncated {
        /// Message index that did not fit.
        index: u16,
    },
    /// Bytes left after the last message.
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// More messages than the caller's output slice holds.
    OutputTooSmall {
        /// Messages in the frame.
        count: u16,
        /// Output capacity.
        capacity: usize,
    },
    /// TCP: a length prefix larger than the configured maximum (or smaller than a header).
    BadLength {
        /// The prefix value.
        len: u32,
        /// The configured maximum.
        max: usize,
    },
}

impl WireError {
    /// Stable snake_case label for metrics and logs.
    pub const fn as_str(&self) -> &'static str {
        match self {
            WireError::Short { .. } => "short",
            WireError::BadMagic => "bad_magic",
            WireError::BadVersion(_) => "bad_version",
            WireError::ReservedFlags(_) => "reserved_flags",
            WireError::ReservedHeader => "reserved_header",
            WireError::UnknownType { .. } => "unknown_type",
            WireError::Truncated { .. } => "truncated",
            WireError::TrailingBytes { .. } => "trailing_bytes",
            WireError::OutputTooSmall { .. } => "output_too_small",
            WireError::BadLength { .. } => "bad_length",
        }
    }

    /// Dense index for [`WireCounts`].
    const fn index(&self) -> usize {
        match self {
            WireError::Short { .. } => 0,
            WireError::BadMagic => 1,
            WireError::BadVersion(_) => 2,
            WireError::ReservedFlags(_) => 3,
            WireError::ReservedHeader => 4,
            WireError::UnknownType { .. } => 5,
            WireError::Truncated { .. } => 6,
            WireError::TrailingBytes { .. } => 7,
            WireError::OutputTooSmall { .. } => 8,
            WireError::BadLength { .. } => 9,
        }
    }
    const COUNT: usize = 10;
    const LABELS: [&'static str; WireError::COUNT] = [
        "short",
        "bad_magic",
        "bad_version",
        "reserved_flags",
        "reserved_header",
        "unknown_type",
        "truncated",
        "trailing_bytes",
        "output_too_small",
        "bad_length",
    ];
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Short { len } => {
                write!(f, "frame of {len} bytes is shorter than its header")
            }
            WireError::BadMagic => f.write_str("frame does not start with magic TKWF"),
            WireError::BadVersion(v) => write!(f, "frame version {v}: this build reads version 1"),
            WireError::ReservedFlags(b) => write!(f, "undefined frame flag bits 0x{b:02x} set"),
            WireError::ReservedHeader => f.write_str("frame header reserved word is not zero"),
            WireError::UnknownType { index, code } => {
                write!(f, "message {index} has unknown type {code}")
            }
            WireError::Truncated { index } => write!(f, "message {index} runs past the frame end"),
            WireError::TrailingBytes { extra } => {
                write!(f, "{extra} bytes after the last message")
            }
            WireError::OutputTooSmall { count, capacity } => {
                write!(f, "frame holds {count} messages, output holds {capacity}")
            }
            WireError::BadLength { len, max } => {
                write!(f, "frame length prefix {len} outside {HEADER_LEN}..={max}")
            }
        }
    }
}

impl std::error::Error for WireError {}

/// The decoded header of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// `FRAME_*` bits.
    pub flags: u8,
    /// Number of messages (0: heartbeat).
    pub count: u16,
    /// The sender's stream id.
    pub stream_id: u32,
    /// Sequence number of the first message (of the next one, in a heartbeat).
    pub seq: u64,
    /// Sender's clock at send time, ns (0: unknown).
    pub send_time: i64,
}

#[inline]
fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
#[inline]
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
#[inline]
fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(x)
}
#[inline]
fn f64_at(b: &[u8], o: usize) -> f64 {
    f64::from_bits(u64_at(b, o))
}

/// A structurally valid frame: header checked, messages tile the body exactly.
#[derive(Clone, Copy, Debug)]
pub struct FrameView<'a> {
    /// The header.
    pub header: FrameHeader,
    body: &'a [u8],
}

impl<'a> FrameView<'a> {
    /// Checks the header and the message layout of one whole frame.
    pub fn parse(frame: &'a [u8]) -> Result<FrameView<'a>, WireError> {
        if frame.len() < HEADER_LEN {
            return Err(WireError::Short { len: frame.len() });
        }
        if frame[OFF_MAGIC..OFF_MAGIC + 4] != MAGIC {
            return Err(WireError::BadMagic);
        }
        if frame[OFF_VERSION] != VERSION {
            return Err(WireError::BadVersion(frame[OFF_VERSION]));
        }
        let flags = frame[OFF_FLAGS];
        if flags & !FRAME_KNOWN != 0 {
            return Err(WireError::ReservedFlags(flags & !FRAME_KNOWN));
        }
        if u32_at(frame, OFF_RESERVED) != 0 {
            return Err(WireError::ReservedHeader);
        }
        let header = FrameHeader {
            flags,
            count: u16_at(frame, OFF_COUNT),
            stream_id: u32_at(frame, OFF_STREAM),
            seq: u64_at(frame, OFF_SEQ),
            send_time: u64_at(frame, OFF_SEND_TIME) as i64,
        };
        let body = &frame[HEADER_LEN..];
        let mut off = 0usize;
        for index in 0..header.count {
            let Some(&code) = body.get(off) else {
                return Err(WireError::Truncated { index });
            };
            let Some(len) = message_len(code) else {
                return Err(WireError::UnknownType { index, code });
            };
            off += len;
            if off > body.len() {
                return Err(WireError::Truncated { index });
            }
        }
        if off != body.len() {
            return Err(WireError::TrailingBytes {
                extra: body.len() - off,
            });
        }
        Ok(FrameView { header, body })
    }

    /// The messages, in order (the layout is already checked).
    pub fn messages(&self) -> Messages<'a> {
        Messages {
            rest: self.body,
            left: self.header.count,
        }
    }
}

/// One message of a [`FrameView`], still in wire form.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WireMsg {
    /// Trade or quote.
    pub kind: TickKind,
    /// Aggressor side (trades).
    pub side: Side,
    /// Tick flags as sent.
    pub flags: u16,
    /// Event time, ns.
    pub ts_event: i64,
    /// The raw zero-padded symbol field (not validated yet).
    pub symbol: [u8; MAX_SYMBOL_LEN],
    /// Trade price or bid.
    pub price: f64,
    /// Trade size or bid size.
    pub size: f64,
    /// Ask (quotes; 0 in trades).
    pub ask: f64,
    /// Ask size (quotes; 0 in trades).
    pub ask_size: f64,
    /// Trade id or update id.
    pub id: u64,
    /// Side byte as sent, and the message's reserved word (both must be in range).
    raw_side: u8,
    reserved: u32,
}

impl WireMsg {
    /// A message carrying `t` under the name `symbol` (`t.symbol` is ignored).
    pub fn from_tick(t: &Tick, symbol: SymbolName) -> WireMsg {
        WireMsg {
            kind: t.kind,
            side: if t.is_trade() { t.side } else { Side::Unknown },
            flags: t.flags & MSG_FLAGS_KNOWN,
            ts_event: t.ts_event,
            symbol: symbol.padded(),
            price: t.price,
            size: t.size,
            ask: if t.is_quote() { t.ask } else { 0.0 },
            ask_size: if t.is_quote() { t.ask_size } else { 0.0 },
            id: t.id,
            raw_side: if t.is_trade() { t.side as u8 } else { 0 },
            reserved: 0,
        }
    }

    /// The encoded length of this message.
    pub const fn len(&self) -> usize {
        match self.kind {
            TickKind::Trade => TRADE_LEN,
            TickKind::Quote => QUOTE_LEN,
        }
    }

    /// Never empty; here for clippy's `len_without_is_empty`.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// Writes the message into `out[..self.len()]`; `out` must be at least that long.
    pub fn write(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.len();
        let out = out.get_mut(..len)?;
        out[MSG_OFF_TYPE] = self.kind as u8;
        out[MSG_OFF_SIDE] = if self.kind == TickKind::Trade {
            self.side as u8
        } else {
            0
        };
        out[MSG_OFF_FLAGS..MSG_OFF_FLAGS + 2].copy_from_slice(&self.flags.to_le_bytes());
        out[MSG_OFF_RESERVED..MSG_OFF_RESERVED + 4].copy_from_slice(&0u32.to_le_bytes());
        out[MSG_OFF_TS..MSG_OFF_TS + 8].copy_from_slice(&self.ts_event.to_le_bytes());
        out[MSG_OFF_SYMBOL..MSG_OFF_SYMBOL + MAX_SYMBOL_LEN].copy_from_slice(&self.symbol);
        out[MSG_OFF_PRICE..MSG_OFF_PRICE + 8].copy_from_slice(&self.price.to_le_bytes());
        out[MSG_OFF_SIZE..MSG_OFF_SIZE + 8].copy_from_slice(&self.size.to_le_bytes());
        match self.kind {
            TickKind::Trade => {
                out[TRADE_OFF_ID..TRADE_OFF_ID + 8].copy_from_slice(&self.id.to_le_bytes());
            }
            TickKind::Quote => {
                out[QUOTE_OFF_ASK..QUOTE_OFF_ASK + 8].copy_from_slice(&self.ask.to_le_bytes());
                out[QUOTE_OFF_ASK_SIZE..QUOTE_OFF_ASK_SIZE + 8]
                    .copy_from_slice(&self.ask_size.to_le_bytes());
                out[QUOTE_OFF_ID..QUOTE_OFF_ID + 8].copy_from_slice(&self.id.to_le_bytes());
            }
        }
        Some(len)
    }

    /// Reads one message from the front of `b` (type already known valid).
    #[inline]
    fn read(b: &[u8], kind: TickKind) -> WireMsg {
        let mut symbol = [0u8; MAX_SYMBOL_LEN];
        symbol.copy_from_slice(&b[MSG_OFF_SYMBOL..MSG_OFF_SYMBOL + MAX_SYMBOL_LEN]);
        let raw_side = b[MSG_OFF_SIDE];
        let (ask, ask_size, id) = match kind {
            TickKind::Trade => (0.0, 0.0, u64_at(b, TRADE_OFF_ID)),
            TickKind::Quote => (
                f64_at(b, QUOTE_OFF_ASK),
                f64_at(b, QUOTE_OFF_ASK_SIZE),
                u64_at(b, QUOTE_OFF_ID),
            ),
        };
        WireMsg {
            kind,
            side: Side::from_u8(raw_side),
            flags: u16_at(b, MSG_OFF_FLAGS),
            ts_event: u64_at(b, MSG_OFF_TS) as i64,
            symbol,
            price: f64_at(b, MSG_OFF_PRICE),
            size: f64_at(b, MSG_OFF_SIZE),
            ask,
            ask_size,
            id,
            raw_side,
            reserved: u32_at(b, MSG_OFF_RESERVED),
        }
    }

    /// Whether the side byte, the flags and the reserved word are all in range.
    #[inline]
    pub fn is_well_formed(&self) -> bool {
        let side_ok = match self.kind {
            TickKind::Trade => self.raw_side <= 2,
            TickKind::Quote => self.raw_side == 0,
        };
        side_ok && self.flags & !MSG_FLAGS_KNOWN == 0 && self.reserved == 0
    }
}

/// Iterator over the messages of a [`FrameView`].
pub struct Messages<'a> {
    rest: &'a [u8],
    left: u16,
}

impl Iterator for Messages<'_> {
    type Item = WireMsg;

    #[inline]
    fn next(&mut self) -> Option<WireMsg> {
        if self.left == 0 {
            return None;
        }
        let kind = TickKind::from_u8(*self.rest.first()?)?;
        let len = message_len(kind as u8)?;
        let (m, rest) = self.rest.split_at_checked(len)?;
        self.rest = rest;
        self.left -= 1;
        Some(WireMsg::read(m, kind))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// Plain per-thread counters of a [`WireDecoder`]; a cold thread merges them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireCounts {
    /// Frames that parsed (including heartbeats).
    pub frames: u64,
    /// Heartbeat frames.
    pub heartbeats: u64,
    /// Frames refused for a structural error, by [`WireError::as_str`] label.
    pub bad_frames: [u64; WireError::COUNT],
    /// Messages handed out as ticks.
    pub ticks: u64,
    /// Messages with an out-of-range side byte, flags or reserved word.
    pub malformed_msgs: u64,
    /// Messages refused by validation, by reason.
    pub rejects: RejectCounts,
}

impl WireCounts {
    /// Counts one structural error.
    #[inline]
    pub fn bump_bad(&mut self, e: &WireError) {
        self.bad_frames[e.index()] += 1;
    }

    /// `(label, count)` of structural errors.
    pub fn bad_frames(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        WireError::LABELS.iter().copied().zip(self.bad_frames)
    }

    /// Sum of structural errors.
    pub fn bad_frames_total(&self) -> u64 {
        self.bad_frames.iter().sum()
    }

    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &WireCounts) {
        self.frames += o.frames;
        self.heartbeats += o.heartbeats;
        for (a, b) in self.bad_frames.iter_mut().zip(o.bad_frames) {
            *a += b;
        }
        self.ticks += o.ticks;
        self.malformed_msgs += o.malformed_msgs;
        self.rejects.merge(&o.rejects);
    }
}

/// What [`WireDecoder::decode`] did with one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The frame's header.
    pub header: FrameHeader,
    /// Ticks written to the front of the output slice.
    pub ticks: usize,
    /// Messages skipped (malformed or invalid; counted in [`WireCounts`]).
    pub skipped: usize,
}

/// Per-thread decoder: frame → ticks, with symbol resolution and validation.
///
/// Allocation-free per frame. It does not track sequences: the receiver asks a
/// [`crate::seq::SeqTracker`] first and passes `skip` (leading duplicates) to
/// [`WireDecoder::decode_from`].
pub struct WireDecoder {
    symbols: SymbolFront,
    validator: Validator,
    /// Counters (plain; read and reset by the owner).
    pub counts: WireCounts,
}

impl WireDecoder {
    /// A decoder resolving names through `cache` and checking ticks with `validator`.
    pub fn new(cache: SymbolCache, validator: Validator) -> WireDecoder {
        WireDecoder {
            symbols: SymbolFront::new(cache),
            validator,
            counts: WireCounts::default(),
        }
    }

    /// Decodes every message of `frame` into `out`, stamping `ts_recv = now_ns`.
    #[inline]
    pub fn decode(
        &mut self,
        frame: &[u8],
        now_ns: i64,
        out: &mut [Tick],
    ) -> Result<Decoded, WireError> {
        let view = FrameView::parse(frame).inspect_err(|e| self.counts.bump_bad(e))?;
        self.decode_from(&view, 0, now_ns, out)
    }

    /// Decodes the messages of `view` after the first `skip` into `out`.
    pub fn decode_from(
        &mut self,
        view: &FrameView<'_>,
        skip: usize,
        now_ns: i64,
        out: &mut [Tick],
    ) -> Result<Decoded, WireError> {
        let h = view.header;
        let want = (h.count as usize).saturating_sub(skip);
        if want > out.len() {
            let e = WireError::OutputTooSmall {
                count: h.count,
                capacity: out.len(),
            };
            self.counts.bump_bad(&e);
            return Err(e);
        }
        self.counts.frames += 1;
        if h.count == 0 {
            self.counts.heartbeats += 1;
        }
        let replay = if h.flags & FRAME_REPLAY != 0 {
            Tick::FLAG_REPLAY
        } else {
            0
        };
        let (lo, hi) = self.validator.window(now_ns);
        let mut n = 0usize;
        let mut skipped = 0usize;
        let body = view.body;
        let mut off = 0usize;
        for index in 0..h.count as usize {
            // The layout pass checked every type code and that the messages tile the body.
            let Some(len) = body.get(off).and_then(|&c| message_len(c)) else {
                break;
            };
            let Some(m) = body.get(off..off + len) else {
                break;
            };
            off += len;
            if index < skip {
                continue;
            }
            // Bytes 0..8 in one word: type, side, flags, reserved.
            let w = u64_at(m, 0);
            let quote = len == QUOTE_LEN;
            let side = (w >> 8) as u8;
            let flags = (w >> 16) as u16;
            let well_formed = (w >> 32) == 0
                && flags & !MSG_FLAGS_KNOWN == 0
                && if quote { side == 0 } else { side <= 2 };
            if !well_formed {
                self.counts.malformed_msgs += 1;
                skipped += 1;
                continue;
            }
            let mut key = [0u8; MAX_SYMBOL_LEN];
            key.copy_from_slice(&m[MSG_OFF_SYMBOL..MSG_OFF_SYMBOL + MAX_SYMBOL_LEN]);
            let Ok(symbol) = self.symbols.resolve_padded(&key) else {
                self.counts.rejects.bump(Reject::Symbol);
                skipped += 1;
                continue;
            };
            let (ask, ask_size, id) = if quote {
                (
                    f64_at(m, QUOTE_OFF_ASK),
                    f64_at(m, QUOTE_OFF_ASK_SIZE),
                    u64_at(m, QUOTE_OFF_ID),
                )
            } else {
                (0.0, 0.0, u64_at(m, TRADE_OFF_ID))
            };
            let t = Tick {
                ts_event: u64_at(m, MSG_OFF_TS) as i64,
                ts_recv: now_ns,
                symbol,
                kind: if quote {
                    TickKind::Quote
                } else {
                    TickKind::Trade
                },
                side: Side::from_u8(side),
                flags: flags | replay,
                price: f64_at(m, MSG_OFF_PRICE),
                size: f64_at(m, MSG_OFF_SIZE),
                ask,
                ask_size,
                id,
            };
            // The validator's rules in one branch (NaN fails every comparison);
            // on a miss it names the reason.
            let ok = t.price > 0.0
                && t.price <= f64::MAX
                && t.size >= 0.0
                && t.size <= f64::MAX
                && (!quote
                    || (t.ask > 0.0
                        && t.ask <= f64::MAX
                        && t.ask_size >= 0.0
                        && t.ask_size <= f64::MAX))
                && t.ts_event >= lo
                && t.ts_event <= hi;
            if !ok && let Err(r) = self.validator.check(&t, now_ns) {
                self.counts.rejects.bump(r);
                skipped += 1;
                continue;
            }
            // `n < want <= out.len()`: the layout pass counted the messages.
            if let Some(slot) = out.get_mut(n) {
                *slot = t;
                n += 1;
            }
        }
        self.counts.ticks += n as u64;
        Ok(Decoded {
            header: h,
            ticks: n,
            skipped,
        })
    }
}

/// Builds frames: push messages, then [`FrameEncoder::finish`] to get the bytes.
///
/// Sequence numbers are assigned consecutively from `first_seq`. The encoder
/// owns one buffer of `max_frame` bytes, allocated once.
pub struct FrameEncoder {
    buf: Vec<u8>,
    len: usize,
    count: u16,
    stream_id: u32,
    next_seq: u64,
    flags: u8,
    tcp: bool,
}

/// [`FrameEncoder::push`] refused a message: the frame is full; finish it first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameFull;

impl fmt::Display for FrameFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("frame full")
    }
}

impl std::error::Error for FrameFull {}

impl FrameEncoder {
    /// An encoder for UDP: frames of at most `max_frame` bytes (header included).
    ///
    /// `max_frame` must hold the header and one quote, and be at most [`MAX_DATAGRAM`].
    pub fn new(
        stream_id: u32,
        first_seq: u64,
        max_frame: usize,
    ) -> Result<FrameEncoder, WireError> {
        if !(HEADER_LEN + QUOTE_LEN..=MAX_DATAGRAM).contains(&max_frame) {
            return Err(WireError::BadLength {
                len: max_frame.min(u32::MAX as usize) as u32,
                max: MAX_DATAGRAM,
            });
        }
        Ok(FrameEncoder {
            buf: vec![0; max_frame],
            len: HEADER_LEN,
            count: 0,
            stream_id,
            next_seq: first_seq,
            flags: 0,
            tcp: false,
        })
    }

    /// An encoder for TCP: like [`FrameEncoder::new`], each finished frame
    /// preceded by its `u32` LE length (`max_frame` does not count the prefix).
    pub fn new_tcp(
        stream_id: u32,
        first_seq: u64,
        max_frame: usize,
    ) -> Result<FrameEncoder, WireError> {
        if max_frame < HEADER_LEN + QUOTE_LEN || max_frame > u32::MAX as usize {
            return Err(WireError::BadLength {
                len: max_frame.min(u32::MAX as usize) as u32,
                max: u32::MAX as usize,
            });
        }
        Ok(FrameEncoder {
            buf: vec![0; max_frame + TCP_PREFIX_LEN],
            len: HEADER_LEN + TCP_PREFIX_LEN,
            count: 0,
            stream_id,
            next_seq: first_seq,
            flags: 0,
            tcp: true,
        })
    }

    /// Sets the `FRAME_*` flags of the frames finished from now on.
    pub fn set_flags(&mut self, flags: u8) {
        self.flags = flags & FRAME_KNOWN;
    }

    /// The sequence number the next pushed message gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Messages in the frame being built.
    pub fn pending(&self) -> usize {
        self.count as usize
    }

    /// Appends a message; [`FrameFull`] when it does not fit (finish, then push again).
    #[inline]
    pub fn push(&mut self, m: &WireMsg) -> Result<(), FrameFull> {
        if self.count == u16::MAX {
            return Err(FrameFull);
        }
        let Some(n) = self.buf.get_mut(self.len..).and_then(|b| m.write(b)) else {
            return Err(FrameFull);
        };
        self.len += n;
        self.count += 1;
        Ok(())
    }

    /// Completes the frame being built (possibly a heartbeat, with no
    /// messages), returns its bytes (with the length prefix for TCP) and
    /// starts the next. `send_time` is the sender's clock in ns (0: unknown).
    pub fn finish(&mut self, send_time: i64) -> &[u8] {
        let base = if self.tcp { TCP_PREFIX_LEN } else { 0 };
        let frame_len = self.len - base;
        let seq = self.next_seq;
        let h = &mut self.buf[base..base + HEADER_LEN];
        h[OFF_MAGIC..OFF_MAGIC + 4].copy_from_slice(&MAGIC);
        h[OFF_VERSION] = VERSION;
        h[OFF_FLAGS] = self.flags;
        h[OFF_COUNT..OFF_COUNT + 2].copy_from_slice(&self.count.to_le_bytes());
        h[OFF_STREAM..OFF_STREAM + 4].copy_from_slice(&self.stream_id.to_le_bytes());
        h[OFF_RESERVED..OFF_RESERVED + 4].copy_from_slice(&0u32.to_le_bytes());
        h[OFF_SEQ..OFF_SEQ + 8].copy_from_slice(&seq.to_le_bytes());
        h[OFF_SEND_TIME..OFF_SEND_TIME + 8].copy_from_slice(&send_time.to_le_bytes());
        if self.tcp {
            self.buf[..TCP_PREFIX_LEN].copy_from_slice(&(frame_len as u32).to_le_bytes());
        }
        self.next_seq = seq.wrapping_add(self.count as u64);
        // A reset applies to one frame only.
        self.flags &= !FRAME_SEQ_RESET;
        let end = self.len;
        self.len = base + HEADER_LEN;
        self.count = 0;
        &self.buf[..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SymbolTable;
    use proptest::prelude::*;
    use std::sync::Arc;

    const NOW: i64 = 1_763_700_000_000_000_000;

    fn decoder() -> WireDecoder {
        WireDecoder::new(
            SymbolCache::new(Arc::new(SymbolTable::new(10_000))),
            Validator::history(),
        )
    }

    #[test]
    fn layout_matches_the_doc() {
        // The offsets as docs/wire.md lists them.
        assert_eq!(
            (OFF_MAGIC, OFF_VERSION, OFF_FLAGS, OFF_COUNT, OFF_STREAM),
            (0, 4, 5, 6, 8)
        );
        assert_eq!(
            (OFF_RESERVED, OFF_SEQ, OFF_SEND_TIME, HEADER_LEN),
            (12, 16, 24, 32)
        );
        assert_eq!(
            (
                MSG_OFF_TYPE,
                MSG_OFF_SIDE,
                MSG_OFF_FLAGS,
                MSG_OFF_RESERVED,
                MSG_OFF_TS
            ),
            (0, 1, 2, 4, 8)
        );
        assert_eq!((MSG_OFF_SYMBOL, MSG_OFF_PRICE, MSG_OFF_SIZE), (16, 32, 40));
        assert_eq!((TRADE_OFF_ID, TRADE_LEN), (48, 56));
        assert_eq!(
            (QUOTE_OFF_ASK, QUOTE_OFF_ASK_SIZE, QUOTE_OFF_ID, QUOTE_LEN),
            (48, 56, 64, 72)
        );
        let doc = include_str!("../../docs/wire.md");
        for needle in [
            "| 0 | 4 | magic",
            "| 4 | 1 | version",
            "| 5 | 1 | flags",
            "| 6 | 2 | count",
            "| 8 | 4 | stream id",
            "| 12 | 4 | reserved",
            "| 16 | 8 | sequence",
            "| 24 | 8 | send time",
            "| 48 | 8 | trade id",
            "| 48 | 8 | ask",
            "| 56 | 8 | ask size",
            "| 64 | 8 | update id",
        ] {
            assert!(doc.contains(needle), "docs/wire.md lacks {needle:?}");
        }
    }

    #[test]
    fn a_known_frame_byte_for_byte() {
        let mut e = FrameEncoder::new(0x0102_0304, 0x1122, 1408).unwrap();
        let t = Tick::trade(0, 0x0A0B, 1.5, 2.0, Side::Sell, 9);
        e.push(&WireMsg::from_tick(&t, "AB".parse().unwrap()))
            .unwrap();
        let f = e.finish(77).to_vec();
        assert_eq!(f.len(), HEADER_LEN + TRADE_LEN);
        assert_eq!(&f[0..4], b"TKWF");
        assert_eq!(f[4], 1);
        assert_eq!(f[5], 0);
        assert_eq!(&f[6..8], &[1, 0]);
        assert_eq!(&f[8..12], &[4, 3, 2, 1]);
        assert_eq!(&f[16..24], &0x1122u64.to_le_bytes());
        assert_eq!(&f[24..32], &77i64.to_le_bytes());
        let m = &f[32..];
        assert_eq!((m[0], m[1]), (1, 2));
        assert_eq!(&m[8..16], &0x0A0Bi64.to_le_bytes());
        assert_eq!(&m[16..18], b"AB");
        assert!(m[18..32].iter().all(|&b| b == 0));
        assert_eq!(&m[32..40], &1.5f64.to_le_bytes());
        assert_eq!(&m[48..56], &9u64.to_le_bytes());
        assert_eq!(e.next_seq(), 0x1123);
    }

    #[test]
    fn structural_errors() {
        let mut e = FrameEncoder::new(1, 0, 1408).unwrap();
        let q = Tick::quote(0, NOW, 1.0, 2.0, 3.0, 4.0);
        e.push(&WireMsg::from_tick(&q, "Q".parse().unwrap()))
            .unwrap();
        let good = e.finish(0).to_vec();
        assert!(FrameView::parse(&good).is_ok());
        assert_eq!(
            FrameView::parse(&good[..10]).unwrap_err(),
            WireError::Short { len: 10 }
        );
        let mut b = good.clone();
        b[0] = b'X';
        assert_eq!(FrameView::parse(&b).unwrap_err(), WireError::BadMagic);
        let mut b = good.clone();
        b[4] = 2;
        assert_eq!(FrameView::parse(&b).unwrap_err(), WireError::BadVersion(2));
        let mut b = good.clone();
        b[5] = 0x80;
        assert_eq!(
            FrameView::parse(&b).unwrap_err(),
            WireError::ReservedFlags(0x80)
        );
        let mut b = good.clone();
        b[12] = 1;
        assert_eq!(FrameView::parse(&b).unwrap_err(), WireError::ReservedHeader);
        let mut b = good.clone();
        b[32] = 9;
        assert_eq!(
            FrameView::parse(&b).unwrap_err(),
            WireError::UnknownType { index: 0, code: 9 }
        );
        assert_eq!(
            FrameView::parse(&good[..good.len() - 1]).unwrap_err(),
            WireError::Truncated { index: 0 }
        );
        let mut b = good.clone();
        b.push(0);
        assert_eq!(
            FrameView::parse(&b).unwrap_err(),
            WireError::TrailingBytes { extra: 1 }
        );
        let mut b = good.clone();
        b[6] = 2;
        assert_eq!(
            FrameView::parse(&b).unwrap_err(),
            WireError::Truncated { index: 1 }
        );
        let mut d = decoder();
        let mut out: [Tick; 0] = [];
        assert!(matches!(
            d.decode(&good, NOW, &mut out),
            Err(WireError::OutputTooSmall { .. })
        ));
        assert_eq!(d.counts.bad_frames_total(), 1);
    }

    #[test]
    fn bad_messages_are_skipped_and_counted_neighbours_kept() {
        let mut e = FrameEncoder::new(1, 0, 1408).unwrap();
        let good = Tick::trade(0, NOW, 10.0, 1.0, Side::Buy, 1);
        let nan = Tick::trade(0, NOW, f64::NAN, 1.0, Side::Buy, 2);
        for t in [good, nan, good] {
            e.push(&WireMsg::from_tick(&t, "X".parse().unwrap()))
                .unwrap();
        }
        let mut f = e.finish(0).to_vec();
        // message 2 gets a bad side byte, then a frame with a bad symbol
        f[HEADER_LEN + 2 * TRADE_LEN + MSG_OFF_SIDE] = 7;
        let mut d = decoder();
        let mut out = [Tick::default(); 8];
        let r = d.decode(&f, NOW, &mut out).unwrap();
        assert_eq!((r.ticks, r.skipped), (1, 2));
        assert_eq!(d.counts.rejects.get(Reject::Price), 1);
        assert_eq!(d.counts.malformed_msgs, 1);
        f[HEADER_LEN + 2 * TRADE_LEN + MSG_OFF_SIDE] = 1;
        f[HEADER_LEN + MSG_OFF_SYMBOL] = 0x07;
        let r = d.decode(&f, NOW, &mut out).unwrap();
        assert_eq!((r.ticks, r.skipped), (1, 2));
        assert_eq!(d.counts.rejects.get(Reject::Symbol), 1);
    }

    #[test]
    fn heartbeat_and_tcp_prefix_and_replay_flag() {
        let mut e = FrameEncoder::new_tcp(3, 100, 4096).unwrap();
        let hb = e.finish(5).to_vec();
        assert_eq!(
            u32::from_le_bytes(hb[..4].try_into().unwrap()) as usize,
            HEADER_LEN
        );
        let v = FrameView::parse(&hb[4..]).unwrap();
        assert_eq!(
            (v.header.count, v.header.seq, v.header.stream_id),
            (0, 100, 3)
        );
        e.set_flags(FRAME_REPLAY);
        let t = Tick::trade(0, NOW, 10.0, 1.0, Side::Buy, 1);
        e.push(&WireMsg::from_tick(&t, "X".parse().unwrap()))
            .unwrap();
        let f = e.finish(0).to_vec();
        let mut d = decoder();
        let mut out = [Tick::default(); 1];
        d.decode(&f[4..], NOW, &mut out).unwrap();
        assert_eq!(out[0].flags, Tick::FLAG_REPLAY);
        assert!(d.decode(&hb[4..], NOW, &mut out).is_ok());
        assert_eq!(d.counts.heartbeats, 1);
    }

    #[test]
    fn encoder_fills_to_the_limit() {
        let mut e = FrameEncoder::new(1, 0, 1408).unwrap();
        let t = Tick::trade(0, NOW, 10.0, 1.0, Side::Buy, 1);
        let m = WireMsg::from_tick(&t, "X".parse().unwrap());
        let mut n = 0;
        while e.push(&m).is_ok() {
            n += 1;
        }
        assert_eq!(n, (1408 - HEADER_LEN) / TRADE_LEN);
        assert!(e.finish(0).len() <= 1408);
        assert!(FrameEncoder::new(1, 0, 50).is_err());
        assert!(FrameEncoder::new(1, 0, 70_000).is_err());
    }

    fn arb_tick() -> impl Strategy<Value = (Tick, String)> {
        (
            any::<bool>(),
            NS_RANGE,
            1e-9f64..1e12,
            0f64..1e12,
            1e-9f64..1e12,
            0f64..1e12,
            any::<u64>(),
            0u8..3,
            0u16..8,
            "[ -~]{1,16}",
        )
            .prop_map(|(q, ts, p, s, a, asz, id, side, flags, name)| {
                let mut t = if q {
                    Tick::quote(0, ts, p, s, a, asz)
                } else {
                    Tick::trade(0, ts, p, s, Side::from_u8(side), id)
                };
                t.id = id;
                t.flags = flags & MSG_FLAGS_KNOWN;
                (t, name)
            })
    }
    const NS_RANGE: std::ops::RangeInclusive<i64> = crate::validate::NS_1990..=NOW;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn encode_decode_round_trips(
            ticks in proptest::collection::vec(arb_tick(), 0..200),
            stream in any::<u32>(), seq in any::<u64>(), max in 104usize..4000, tcp in any::<bool>(),
        ) {
            let table = Arc::new(SymbolTable::new(10_000));
            let mut d = WireDecoder::new(SymbolCache::new(table.clone()), Validator::history());
            let mut e = if tcp {
                FrameEncoder::new_tcp(stream, seq, max).unwrap()
            } else {
                FrameEncoder::new(stream, seq, max).unwrap()
            };
            let mut frames = Vec::new();
            for (t, name) in &ticks {
                let m = WireMsg::from_tick(t, name.parse().unwrap());
                if e.push(&m).is_err() {
                    frames.push(e.finish(1).to_vec());
                    e.push(&m).unwrap();
                }
            }
            frames.push(e.finish(2).to_vec());
            let mut out = vec![Tick::default(); 2000];
            let mut got = Vec::new();
            let mut next = seq;
            for f in &frames {
                let body = if tcp {
                    let len = u32::from_le_bytes(f[..4].try_into().unwrap()) as usize;
                    prop_assert_eq!(len, f.len() - 4);
                    &f[4..]
                } else {
                    &f[..]
                };
                let limit = if tcp { max + 4 } else { max };
                prop_assert!(f.len() <= limit);
                let r = d.decode(body, NOW, &mut out).unwrap();
                prop_assert_eq!(r.header.seq, next);
                prop_assert_eq!(r.header.stream_id, stream);
                prop_assert_eq!(r.skipped, 0);
                next = next.wrapping_add(r.header.count as u64);
                got.extend_from_slice(&out[..r.ticks]);
            }
            prop_assert_eq!(got.len(), ticks.len());
            for (g, (t, name)) in got.iter().zip(&ticks) {
                let mut want = *t;
                want.symbol = g.symbol;
                want.ts_recv = NOW;
                prop_assert_eq!(*g, want);
                let stored = table.name(g.symbol).unwrap();
                prop_assert_eq!(stored.as_str(), name.as_str());
            }
        }

        #[test]
        fn fast_checks_agree_with_the_validator(
            p in any::<f64>(), sz in any::<f64>(), a in any::<f64>(), asz in any::<f64>(),
            ts in any::<i64>(), quote in any::<bool>(),
        ) {
            let t = if quote { Tick::quote(0, ts, p, sz, a, asz) } else { Tick::trade(0, ts, p, sz, Side::Buy, 1) };
            let mut e = FrameEncoder::new(1, 0, 1408).unwrap();
            e.push(&WireMsg::from_tick(&t, "X".parse().unwrap())).unwrap();
            let f = e.finish(0).to_vec();
            let mut d = decoder();
            let mut out = [Tick::default(); 1];
            let r = d.decode(&f, NOW, &mut out).unwrap();
            let v = Validator::history();
            let mut t = t;
            t.ts_recv = NOW;
            prop_assert_eq!(r.ticks == 1, v.check(&t, NOW).is_ok());
            if let Err(reason) = v.check(&t, NOW) {
                prop_assert_eq!(d.counts.rejects.get(reason), 1);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut d = decoder();
            let mut out = [Tick::default(); 16];
            let _ = d.decode(&bytes, NOW, &mut out);
            let mut b = bytes.clone();
            if b.len() >= 8 {
                b[..4].copy_from_slice(&MAGIC);
                b[4] = VERSION;
                b[5] = 0;
            }
            let _ = d.decode(&b, NOW, &mut out);
        }
    }
}
