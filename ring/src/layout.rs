//! Byte layout of the two shared files. `docs/ring.md` is the prose version of
//! this module and `tests/layout.rs` checks that the two agree.
//!
//! Everything is little-endian (the crate refuses to build elsewhere). Offsets
//! are chained from sizes so that a field cannot silently overlap the next.

use std::mem::size_of;

/// Magic of a ring file, bytes 0..8.
pub const RING_MAGIC: [u8; 8] = *b"TICKDRNG";
/// Magic of a snapshot file, bytes 0..8.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"TICKDSNP";
/// Layout version this crate writes and reads. Bumped on any byte change.
pub const LAYOUT_VERSION: u32 = 2;

/// Bytes of the header; the data starts right after it (page aligned).
pub const HEADER_SIZE: usize = 4096;
/// Bytes of one ring line: one cache line, a line word and 7 payload words.
pub const LINE_SIZE: usize = 64;
/// 64-bit words in a ring line.
pub const LINE_WORDS: usize = LINE_SIZE / size_of::<u64>();
/// Payload words in a ring line (after its line word).
pub const LINE_PAYLOAD_WORDS: usize = LINE_WORDS - 1;
/// Most lines one ring record takes (a bar with an explicit VWAP).
pub const MAX_LINES: usize = 3;
/// Bytes of one snapshot bar slot: a sequence word and 15 payload words.
pub const SLOT_SIZE: usize = 128;
/// 64-bit words in a snapshot bar slot.
pub const SLOT_WORDS: usize = SLOT_SIZE / size_of::<u64>();
/// Bytes of one symbol-directory entry of the snapshot file.
pub const DIR_ENTRY_SIZE: usize = 64;
/// 64-bit words in a directory entry.
pub const DIR_ENTRY_WORDS: usize = DIR_ENTRY_SIZE / size_of::<u64>();
/// Longest symbol name, in bytes (UTF-8), a directory entry holds.
pub const MAX_NAME_LEN: usize = DIR_ENTRY_SIZE - size_of::<u64>() - size_of::<u8>();
/// Most timeframes one snapshot file holds.
pub const MAX_TIMEFRAMES: usize = 64;

// ---- header, cache line 0: immutable after the file is renamed into place ----
/// `[u8; 8]` magic.
pub const H_MAGIC: usize = 0;
/// `u32` layout version.
pub const H_VERSION: usize = H_MAGIC + 8;
/// `u32` header size (4096).
pub const H_HEADER_SIZE: usize = H_VERSION + size_of::<u32>();
/// `u32` ring: line size (64); snapshot: bar-slot size (128).
pub const H_RECORD_SIZE: usize = H_HEADER_SIZE + size_of::<u32>();
/// `u32` directory entry size: 64 in a snapshot file, 0 in a ring file.
pub const H_DIR_ENTRY_SIZE: usize = H_RECORD_SIZE + size_of::<u32>();
/// `u64` ring: capacity in lines (a power of two); snapshot: symbol capacity.
pub const H_CAPACITY: usize = H_DIR_ENTRY_SIZE + size_of::<u32>();
/// `u32` snapshot: number of timeframes; ring: 0.
pub const H_TIMEFRAME_COUNT: usize = H_CAPACITY + size_of::<u64>();
/// `u32` pid of the writer process.
pub const H_WRITER_PID: usize = H_TIMEFRAME_COUNT + size_of::<u32>();
/// `i64` creation time, ns since the Unix epoch (informational).
pub const H_CREATED_NS: usize = H_WRITER_PID + size_of::<u32>();
/// `u64` byte offset of the records (ring) or bar slots (snapshot): 4096.
pub const H_DATA_OFFSET: usize = H_CREATED_NS + size_of::<i64>();
/// `u64` snapshot: byte offset of the symbol directory; ring: 0.
pub const H_DIR_OFFSET: usize = H_DATA_OFFSET + size_of::<u64>();
/// End of the immutable part of line 0.
pub const H_LINE0_END: usize = H_DIR_OFFSET + size_of::<u64>();

// ---- header, cache line 1: writer liveness (atomics, written by the writer) ----
/// `u64` atomic: writer heartbeat, CLOCK_MONOTONIC ns.
pub const H_HEARTBEAT: usize = 64;
/// `u64` atomic: [`STATE_LIVE`] or [`STATE_SHUT_DOWN`].
pub const H_STATE: usize = H_HEARTBEAT + size_of::<u64>();
/// `u64` atomic: snapshot: bumped after every directory change; ring: 0.
pub const H_DIR_GENERATION: usize = H_STATE + size_of::<u64>();

// ---- header, cache line 2: the write cursors, written by the writer only ----
/// `u64` atomic: ring: lines published so far (the next line's position).
pub const H_CURSOR: usize = 128;
/// `u64` atomic: ring: records published so far (the next record's number).
pub const H_RECORDS: usize = H_CURSOR + size_of::<u64>();

// ---- header, bytes 192..448: the timeframe list of a snapshot file ----
/// `[u32; 64]` snapshot: timeframe widths in ms, `H_TIMEFRAME_COUNT` used.
pub const H_TIMEFRAMES: usize = H_CURSOR + 64;
/// End of the timeframe list; the rest of the header is zero.
pub const H_TIMEFRAMES_END: usize = H_TIMEFRAMES + MAX_TIMEFRAMES * size_of::<u32>();

/// `H_STATE`: the writer is running.
pub const STATE_LIVE: u64 = 1;
/// `H_STATE`: the writer shut down cleanly; no more records will come.
pub const STATE_SHUT_DOWN: u64 = 2;

const _: () = assert!(H_LINE0_END <= H_HEARTBEAT);
const _: () = assert!(H_DIR_GENERATION + 8 <= H_CURSOR);
const _: () = assert!(H_TIMEFRAMES_END <= HEADER_SIZE);
const _: () = assert!(MAX_NAME_LEN == 55);

// ---- record head: byte offsets inside a record's first line ----
/// `u64` line word (see `seqlock::line_word`).
pub const R_SEQ: usize = 0;
/// `u8` record kind, a `KIND_*` value.
pub const R_KIND: usize = R_SEQ + size_of::<u64>();
/// `u8` by kind: bar: VWAP form; tick: kind, side and form bits.
pub const R_AUX: usize = R_KIND + size_of::<u8>();
/// `u16` bar or tick flags.
pub const R_FLAGS: usize = R_AUX + size_of::<u8>();
/// `u32` symbol id (bars, ticks, events about one symbol; `u32::MAX`: none).
pub const R_SYMBOL: usize = R_FLAGS + size_of::<u16>();

/// Record kind: a bar that just closed.
pub const KIND_BAR_CLOSED: u8 = 1;
/// Record kind: a closed bar corrected by a late tick (`revision` > 0).
pub const KIND_BAR_CORRECTED: u8 = 2;
/// Record kind: the current state of a bar that is still open.
pub const KIND_BAR_UPDATE: u8 = 3;
/// Record kind: one tick.
pub const KIND_TICK: u8 = 4;
/// Record kind: the engine saw a gap in a feed's sequence numbers.
pub const KIND_FEED_GAP: u8 = 16;
/// Record kind: writer heartbeat.
pub const KIND_HEARTBEAT: u8 = 17;
/// Record kind: the writer shuts down; nothing follows.
pub const KIND_SHUTDOWN: u8 = 18;
/// Record kind: a symbol was added to the snapshot file's directory.
pub const KIND_SYMBOL_ADDED: u8 = 19;
