//! The storage layer of tickd: every accepted tick and every closed bar, kept
//! compactly in day-partitioned segment files and read back by streaming
//! queries, with or without a running daemon.
//!
//! # Contract
//!
//! - **Nothing appended is lost to a process kill.** [`StoreWriter::append_tick`]
//!   and [`StoreWriter::append_bar`] copy the value into a memory-mapped stage
//!   file before returning; open blocks are committed into hot segments when
//!   full or after [`StoreConfig::flush_interval`] (via [`StoreWriter::poll`]).
//!   Power-loss durability follows [`FsyncPolicy`].
//! - **Nothing corrupt is returned as data.** Every block carries a crc32c and
//!   becomes visible only after its commit marker; a torn or corrupt tail is cut
//!   on open, a corrupt block elsewhere is a [`StoreError::Corrupt`].
//! - **Queries stream in bounded memory**: one block (ticks) or one day of one
//!   symbol and timeframe (bars) at a time, whatever the history stored.
//! - **Bit-exact**: every field of every tick and bar reads back with the same
//!   bits it was appended with (NaN payloads, −0.0 and subnormals included).
//!
//! The on-disk format, write and sync order and what a crash at each step
//! leaves behind are in `docs/storage.md`; the constants in [`format`] are
//! tested against it.
//!
//! ```
//! use mtf::{Side, Tick, Timeframe};
//! use store::{StoreConfig, StoreReader, StoreWriter};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut w = StoreWriter::open(dir.path(), 0, StoreConfig::default()).unwrap();
//! w.define_symbol(0, "SPY").unwrap();
//! let t0 = 1_381_240_800_000_000_000; // 2013-10-08 14:00 UTC
//! for i in 0..1000 {
//!     let t = Tick::trade(0, t0 + i * 1_000_000_000, 167.0 + (i % 7) as f64 * 0.01, 100.0, Side::Unknown, 0);
//!     w.append_tick(&t).unwrap();
//! }
//! w.close().unwrap();
//!
//! let r = StoreReader::open(dir.path()).unwrap();
//! let spy = r.symbols().unwrap().id("SPY").unwrap();
//! assert_eq!(r.ticks(spy, t0, t0 + 60_000_000_000).unwrap().count(), 60);
//! let bars: Vec<_> = r.bars(spy, Timeframe::M1, t0, i64::MAX).unwrap().collect::<Result<_, _>>().unwrap();
//! assert_eq!(bars.len(), 17);
//! ```
//!
//! # How the engine uses it
//!
//! One [`StoreWriter`] per worker thread (writer numbers 0, 1, …), owned by
//! that thread: `append_tick` for every accepted tick, `append_bar` for every
//! closed bar and revision, `poll(now)` every few milliseconds from the loop,
//! `close()` on shutdown. The writer's own background threads msync and seal.
//! Restart recovery and `tickctl` use [`StoreReader`] (`last_tick_time`,
//! `last_bar`, `ticks`, `bars`, `info`), and [`import`] and [`maintenance`] work
//! without a daemon.

#![deny(clippy::host_endian_bytes)]

mod codec;
mod error;
pub mod format;
pub mod import;
pub mod io;
mod layout;
mod lock;
pub mod maintenance;
mod map;
mod reader;
mod segment;
mod stage;
mod symbols;
#[cfg(target_arch = "x86_64")]
mod varint;
mod writer;

#[cfg(feature = "reference-encoder")]
#[doc(hidden)]
pub use codec::reference as encode_reference;
pub use codec::{
    BarScratch, Corrupt, EncodeScratch, MAX_DECIMALS, TickColumns, decode_bars, decode_bars_with,
    decode_tick_columns, decode_ticks, decode_ticks_with, encode_bars, encode_ticks,
};
pub use error::{Result, StoreError};
pub use reader::{BarIter, StoreReader, SymbolInfo, TickColumnIter, TickIter};
pub use symbols::{MAX_SYMBOL_ID, SYMBOLS_FILE, SymbolMap, valid_name};
pub use writer::{FsyncPolicy, HotCompression, StoreConfig, StoreWriter, WriterStats};

/// Reads a whole segment image through the reader's checks: every block must
/// pass its checksums and decode, or the first reason it did not is returned.
/// Decoded blocks are handed to `on_ticks` / `on_bars` as they pass. For the
/// fuzz target and tests; never panics on any input.
pub fn scan_segment(
    src: &(impl io::ReadAt + ?Sized),
    mut on_ticks: impl FnMut(&[mtf::Tick]),
    mut on_bars: impl FnMut(&[mtf::Bar]),
) -> std::result::Result<(), Corrupt> {
    let toc = match segment::read_toc(src) {
        Ok(Ok(t)) => t,
        Ok(Err(c)) => return Err(c),
        Err(_) => return Err(Corrupt("read failed")),
    };
    let mut codecs = segment::Codecs::new(1).map_err(|_| Corrupt("zstd context"))?;
    let (mut rec, mut raw) = (Vec::new(), Vec::new());
    let (mut ticks, mut bars) = (Vec::new(), Vec::new());
    for e in &toc.entries {
        let h = match segment::read_record(src, e.offset, toc.data_end, &mut rec) {
            Ok(Ok((h, _))) => h,
            Ok(Err(c)) => return Err(c),
            Err(_) => return Err(Corrupt("read failed")),
        };
        if h.kind != e.kind || h.symbol != e.symbol || h.count != e.count {
            return Err(Corrupt("block does not match its index entry"));
        }
        let payload =
            &rec[format::BLOCK_HEADER_LEN..format::BLOCK_HEADER_LEN + h.payload_len as usize];
        codecs.decompress(&h, payload, &mut raw)?;
        if h.kind == format::KIND_TICKS {
            decode_ticks(&raw, h.count as usize, h.symbol, &mut ticks)?;
            on_ticks(&ticks);
        } else {
            let tf = mtf::Timeframe::from_millis(h.timeframe_ms)
                .map_err(|_| Corrupt("bad timeframe"))?;
            decode_bars(&raw, h.count as usize, h.symbol, tf, &mut bars)?;
            on_bars(&bars);
        }
    }
    Ok(())
}

/// The reason a segment image's scan stopped early (a torn or corrupt tail
/// that recovery cuts), with its byte offset; `None` for a clean image.
pub fn segment_tail(src: &(impl io::ReadAt + ?Sized)) -> Option<(u64, Corrupt)> {
    match segment::read_toc(src) {
        Ok(Ok(t)) => t.torn,
        Ok(Err(c)) => Some((0, c)),
        Err(_) => Some((0, Corrupt("read failed"))),
    }
}
