//! The stage: a writer's open (not yet committed) blocks, kept in a mapped
//! file so that a killed process loses nothing it had appended.
//!
//! One slot per open stream (kind, symbol, timeframe, day). Appending writes
//! the record into the slot (ticks with non-temporal stores), then stores the
//! slot's count (a fence, then release): per tick for `append_tick`, once per
//! slot at the end of an `append_ticks` call. A slot is
//! emptied after its block is committed to a segment; the block carries the
//! slot's *tag*, so recovery can tell whether a non-empty slot was already
//! committed (see `docs/storage.md`, "Crash recovery").

use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

use mtf::{Bar, Side, Tick, TickKind, Timeframe};

use crate::format::{rd_u32, rd_u64};
use crate::io::ReadAt;
use crate::map::{MappedFile, SyncHandle};

/// `TICKDSTG`.
pub const STAGE_MAGIC: [u8; 8] = *b"TICKDSTG";
pub const SH_MAGIC: usize = 0;
pub const SH_VERSION: usize = SH_MAGIC + 8;
pub const SH_WRITER: usize = SH_VERSION + 2;
pub const SH_SLOTS: usize = SH_WRITER + 2;
pub const SH_SLOT_BYTES: usize = SH_SLOTS + 4;
pub const SH_EPOCH: usize = SH_SLOT_BYTES + 4;
pub const SH_CRC: usize = 60;
pub const STAGE_HEADER_LEN: usize = 64;

pub const SL_KIND: usize = 0;
pub const SL_SYMBOL: usize = 4;
pub const SL_TIMEFRAME: usize = SL_SYMBOL + 4;
pub const SL_DAY: usize = SL_TIMEFRAME + 4;
pub const SL_TAG: usize = SL_DAY + 4;
pub const SL_COUNT: usize = SL_TAG + 8;
pub const SLOT_HEADER_LEN: usize = 64;

/// Bytes of one staged tick.
pub const TICK_REC: usize = 64;
/// Bytes of one staged bar.
pub const BAR_REC: usize = 128;

/// What a slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct StreamKey {
    pub kind: u8,
    pub symbol: u32,
    pub timeframe_ms: u32,
    pub day: i32,
}

pub(crate) struct Stage {
    map: MappedFile,
    slot_bytes: usize,
}

impl Stage {
    /// Creates a new stage file (the old one must have been removed).
    pub(crate) fn create(
        path: &Path,
        writer: u16,
        slots: u32,
        slot_bytes: u32,
        epoch: u32,
    ) -> io::Result<Stage> {
        let len =
            STAGE_HEADER_LEN as u64 + slots as u64 * (SLOT_HEADER_LEN as u64 + slot_bytes as u64);
        // SAFETY: the caller holds this writer's lock; the stage file belongs to
        // that writer alone, is created here and never truncated (map.rs rule).
        let mut map = unsafe { MappedFile::create(path, len)? };
        let mut h = [0u8; STAGE_HEADER_LEN];
        h[SH_MAGIC..SH_MAGIC + 8].copy_from_slice(&STAGE_MAGIC);
        h[SH_VERSION..SH_VERSION + 2].copy_from_slice(&1u16.to_le_bytes());
        h[SH_WRITER..SH_WRITER + 2].copy_from_slice(&writer.to_le_bytes());
        h[SH_SLOTS..SH_SLOTS + 4].copy_from_slice(&slots.to_le_bytes());
        h[SH_SLOT_BYTES..SH_SLOT_BYTES + 4].copy_from_slice(&slot_bytes.to_le_bytes());
        h[SH_EPOCH..SH_EPOCH + 4].copy_from_slice(&epoch.to_le_bytes());
        let crc = crc32c::crc32c(&h[..SH_CRC]);
        h[SH_CRC..].copy_from_slice(&crc.to_le_bytes());
        map.write(0, &h);
        Ok(Stage {
            map,
            slot_bytes: slot_bytes as usize,
        })
    }

    fn slot_at(&self, slot: usize) -> usize {
        STAGE_HEADER_LEN + slot * (SLOT_HEADER_LEN + self.slot_bytes)
    }

    /// Keys an empty slot (count is 0) for a stream and tags it.
    pub(crate) fn open_slot(&mut self, slot: usize, key: StreamKey, tag: u64) {
        let at = self.slot_at(slot);
        let mut h = [0u8; SL_COUNT];
        h[SL_KIND] = key.kind;
        h[SL_SYMBOL..SL_SYMBOL + 4].copy_from_slice(&key.symbol.to_le_bytes());
        h[SL_TIMEFRAME..SL_TIMEFRAME + 4].copy_from_slice(&key.timeframe_ms.to_le_bytes());
        h[SL_DAY..SL_DAY + 4].copy_from_slice(&key.day.to_le_bytes());
        h[SL_TAG..SL_TAG + 8].copy_from_slice(&tag.to_le_bytes());
        self.map.write(at, &h);
    }

    /// Stores `count` as the number of valid records of `slot`: records
    /// written before this call count after a crash, later ones do not.
    #[inline]
    pub(crate) fn publish(&self, slot: usize, count: u32) {
        self.publish_all([(slot, count)]);
    }

    /// [`Stage::publish`] for several slots, behind one fence.
    #[inline]
    pub(crate) fn publish_all(&self, counts: impl IntoIterator<Item = (usize, u32)>) {
        // the records are written with non-temporal stores: make them
        // visible before the counts that make them count
        self.map.fence();
        for (slot, count) in counts {
            self.store_count(slot, count);
        }
    }

    #[inline]
    fn store_count(&self, slot: usize, count: u32) {
        if let Some(c) = self.map.atomic_u32(self.slot_at(slot) + SL_COUNT) {
            // Release: pairs with nothing in-process; it orders the record bytes
            // before the count for a reader of the page cache after a crash.
            c.store(count, Ordering::Release);
        }
    }

    /// Writes tick number `idx` of `slot`, without publishing it: it counts
    /// after a crash only once [`Stage::publish`] stores a count above `idx`
    /// (the writer does at the end of each `append_ticks`).
    #[inline]
    pub(crate) fn write_tick(&mut self, slot: usize, idx: usize, t: &Tick) {
        let at = self.slot_at(slot) + SLOT_HEADER_LEN + idx * TICK_REC;
        debug_assert!((idx + 1) * TICK_REC <= self.slot_bytes);
        // Non-temporal: the record is read again only when its block is
        // full, long after the cache would have dropped it, so it skips the
        // cache and the read of the old line a plain store would take.
        self.map.write_line(at, &tick_bytes(t));
    }

    /// The first `n` staged tick records of `slot` (64 bytes each, the
    /// layout of `tick_bytes`): the open block itself, encoded from here at
    /// commit (the writer keeps no second copy).
    #[inline]
    pub(crate) fn tick_records(&self, slot: usize, n: usize) -> &[u8] {
        debug_assert!(n * TICK_REC <= self.slot_bytes);
        // the records' non-temporal stores (`write_tick`) before these loads
        self.map.fence();
        let at = self.slot_at(slot) + SLOT_HEADER_LEN;
        self.map
            .bytes(at, n.min(self.slot_bytes / TICK_REC) * TICK_REC)
            .unwrap_or(&[])
    }

    /// Writes bar number `idx` of `slot` and publishes `idx + 1`.
    pub(crate) fn push_bar(&mut self, slot: usize, idx: usize, b: &Bar) {
        let at = self.slot_at(slot) + SLOT_HEADER_LEN + idx * BAR_REC;
        debug_assert!((idx + 1) * BAR_REC <= self.slot_bytes);
        self.map.write(at, &bar_bytes(b));
        self.publish(slot, idx as u32 + 1);
    }

    /// Empties a slot after its block was committed.
    pub(crate) fn clear_slot(&mut self, slot: usize) {
        self.publish(slot, 0);
    }

    pub(crate) fn sync_handle(&self) -> SyncHandle {
        self.map.sync_handle()
    }

    pub(crate) fn sync_all(&self) -> io::Result<()> {
        self.map.sync_all()
    }
}

/// A non-empty slot found in an old stage file.
pub(crate) struct Recovered {
    pub key: StreamKey,
    pub tag: u64,
    pub ticks: Vec<Tick>,
    pub bars: Vec<Bar>,
    /// Records that did not decode (skipped and counted).
    pub bad: u64,
}

/// Reads every non-empty slot of a stage file; `None` if it is not one.
pub(crate) fn read_stage<R: ReadAt + ?Sized>(src: &R) -> io::Result<Option<(u32, Vec<Recovered>)>> {
    let mut h = [0u8; STAGE_HEADER_LEN];
    if !src.read_exact_at(&mut h, 0)?
        || h[..8] != STAGE_MAGIC
        || crc32c::crc32c(&h[..SH_CRC]) != rd_u32(&h, SH_CRC)
    {
        return Ok(None);
    }
    let slots = rd_u32(&h, SH_SLOTS) as usize;
    let slot_bytes = rd_u32(&h, SH_SLOT_BYTES) as usize;
    let epoch = rd_u32(&h, SH_EPOCH);
    let size = src.size()?;
    let mut out = Vec::new();
    let mut data = Vec::new();
    for s in 0..slots {
        let at = (STAGE_HEADER_LEN + s * (SLOT_HEADER_LEN + slot_bytes)) as u64;
        let mut sh = [0u8; SLOT_HEADER_LEN];
        if at + SLOT_HEADER_LEN as u64 > size || !src.read_exact_at(&mut sh, at)? {
            break;
        }
        let count = rd_u32(&sh, SL_COUNT) as usize;
        if count == 0 {
            continue;
        }
        let key = StreamKey {
            kind: sh[SL_KIND],
            symbol: rd_u32(&sh, SL_SYMBOL),
            timeframe_ms: rd_u32(&sh, SL_TIMEFRAME),
            day: rd_u32(&sh, SL_DAY) as i32,
        };
        let rec = if key.kind == crate::format::KIND_TICKS {
            TICK_REC
        } else {
            BAR_REC
        };
        let count = count.min(slot_bytes / rec);
        data.clear();
        data.resize(count * rec, 0);
        if !src.read_exact_at(&mut data, at + SLOT_HEADER_LEN as u64)? {
            continue;
        }
        let mut r = Recovered {
            key,
            tag: rd_u64(&sh, SL_TAG),
            ticks: Vec::new(),
            bars: Vec::new(),
            bad: 0,
        };
        let tf = Timeframe::from_millis(key.timeframe_ms).ok();
        for chunk in data.chunks_exact(rec) {
            match (key.kind, tf) {
                (crate::format::KIND_TICKS, _) => match tick_from(chunk) {
                    Some(t) => r.ticks.push(t),
                    None => r.bad += 1,
                },
                (crate::format::KIND_BARS, Some(tf)) => r.bars.push(bar_from(chunk, tf)),
                _ => r.bad += 1,
            }
        }
        out.push(r);
    }
    Ok(Some((epoch, out)))
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

#[inline]
pub(crate) fn tick_bytes(t: &Tick) -> [u8; TICK_REC] {
    let mut b = [0u8; TICK_REC];
    put(&mut b, 0, &t.ts_event.to_le_bytes());
    put(&mut b, 8, &t.ts_recv.to_le_bytes());
    put(&mut b, 16, &t.symbol.to_le_bytes());
    b[20] = t.kind as u8;
    b[21] = t.side as u8;
    put(&mut b, 22, &t.flags.to_le_bytes());
    put(&mut b, 24, &t.price.to_bits().to_le_bytes());
    put(&mut b, 32, &t.size.to_bits().to_le_bytes());
    put(&mut b, 40, &t.ask.to_bits().to_le_bytes());
    put(&mut b, 48, &t.ask_size.to_bits().to_le_bytes());
    put(&mut b, 56, &t.id.to_le_bytes());
    b
}

fn tick_from(b: &[u8]) -> Option<Tick> {
    let f = |at| f64::from_bits(rd_u64(b, at));
    Some(Tick {
        ts_event: rd_u64(b, 0) as i64,
        ts_recv: rd_u64(b, 8) as i64,
        symbol: rd_u32(b, 16),
        kind: TickKind::from_u8(b[20])?,
        side: Side::from_u8(b[21]),
        flags: u16::from_le_bytes([b[22], b[23]]),
        price: f(24),
        size: f(32),
        ask: f(40),
        ask_size: f(48),
        id: rd_u64(b, 56),
    })
}

fn bar_bytes(x: &Bar) -> [u8; BAR_REC] {
    let mut b = [0u8; BAR_REC];
    put(&mut b, 0, &x.symbol.to_le_bytes());
    put(&mut b, 4, &x.timeframe.millis().to_le_bytes());
    put(&mut b, 8, &x.start.to_le_bytes());
    put(&mut b, 16, &x.end.to_le_bytes());
    let fs = [
        x.open,
        x.high,
        x.low,
        x.close,
        x.volume,
        x.vwap,
        x.vwap_num,
        x.buy_volume,
        x.sell_volume,
    ];
    for (i, v) in fs.iter().enumerate() {
        put(&mut b, 24 + 8 * i, &v.to_bits().to_le_bytes());
    }
    put(&mut b, 96, &x.count.to_le_bytes());
    put(&mut b, 104, &x.first_ts.to_le_bytes());
    put(&mut b, 112, &x.last_ts.to_le_bytes());
    put(&mut b, 120, &x.revision.to_le_bytes());
    put(&mut b, 124, &x.flags.to_le_bytes());
    b
}

fn bar_from(b: &[u8], tf: Timeframe) -> Bar {
    let f = |i: usize| f64::from_bits(rd_u64(b, 24 + 8 * i));
    Bar {
        symbol: rd_u32(b, 0),
        timeframe: tf,
        start: rd_u64(b, 8) as i64,
        end: rd_u64(b, 16) as i64,
        open: f(0),
        high: f(1),
        low: f(2),
        close: f(3),
        volume: f(4),
        vwap: f(5),
        vwap_num: f(6),
        buy_volume: f(7),
        sell_volume: f(8),
        count: rd_u64(b, 96),
        first_ts: rd_u64(b, 104) as i64,
        last_ts: rd_u64(b, 112) as i64,
        revision: rd_u32(b, 120),
        flags: rd_u32(b, 124),
    }
}
