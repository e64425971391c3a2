//! The 4096-byte header both files share: written once by the writer before
//! the file is renamed into place, validated by every reader.

use crate::error::{DeadReason, Error, WriterStatus};
use crate::layout::*;
use crate::shm::{Region, monotonic_ns, pid_alive, unix_ns};
use crate::sync::{Ordering, fence};
use std::path::Path;
use std::time::Duration;

/// The immutable header fields.
#[derive(Clone, Debug)]
pub(crate) struct Header {
    pub(crate) capacity: u64,
    pub(crate) timeframe_count: u32,
    pub(crate) writer_pid: u32,
    pub(crate) dir_offset: u64,
}

/// Which file a header belongs to.
#[derive(Clone, Copy)]
pub(crate) enum FileKind {
    Ring,
    Snapshot,
}

impl FileKind {
    fn magic(self) -> [u8; 8] {
        match self {
            FileKind::Ring => RING_MAGIC,
            FileKind::Snapshot => SNAPSHOT_MAGIC,
        }
    }

    /// Bytes of one ring line or snapshot bar slot.
    fn record_size(self) -> usize {
        match self {
            FileKind::Ring => LINE_SIZE,
            FileKind::Snapshot => SLOT_SIZE,
        }
    }

    fn name(self) -> &'static str {
        match self {
            FileKind::Ring => "ring",
            FileKind::Snapshot => "snapshot",
        }
    }
}

fn store_u32(r: &Region, off: usize, v: u32) {
    let w = r.word(off & !7);
    let shift = (off & 4) * 8;
    let old = w.load(Ordering::Relaxed);
    w.store(
        (old & !(0xffff_ffffu64 << shift)) | (v as u64) << shift,
        Ordering::Relaxed,
    );
}

/// Writes a fresh header into a zeroed, not yet published file.
pub(crate) fn init(r: &Region, kind: FileKind, h: &Header, timeframes_ms: &[u32]) {
    debug_assert!(timeframes_ms.len() <= MAX_TIMEFRAMES);
    r.word(H_MAGIC)
        .store(u64::from_le_bytes(kind.magic()), Ordering::Relaxed);
    store_u32(r, H_VERSION, LAYOUT_VERSION);
    store_u32(r, H_HEADER_SIZE, HEADER_SIZE as u32);
    store_u32(r, H_RECORD_SIZE, kind.record_size() as u32);
    let dir_entry = match kind {
        FileKind::Ring => 0,
        FileKind::Snapshot => DIR_ENTRY_SIZE as u32,
    };
    store_u32(r, H_DIR_ENTRY_SIZE, dir_entry);
    r.word(H_CAPACITY).store(h.capacity, Ordering::Relaxed);
    store_u32(r, H_TIMEFRAME_COUNT, h.timeframe_count);
    store_u32(r, H_WRITER_PID, h.writer_pid);
    r.word(H_CREATED_NS)
        .store(unix_ns() as u64, Ordering::Relaxed);
    r.word(H_DATA_OFFSET)
        .store(HEADER_SIZE as u64, Ordering::Relaxed);
    r.word(H_DIR_OFFSET).store(h.dir_offset, Ordering::Relaxed);
    for (i, &ms) in timeframes_ms.iter().enumerate() {
        store_u32(r, H_TIMEFRAMES + 4 * i, ms);
    }
    r.word(H_HEARTBEAT).store(monotonic_ns(), Ordering::Relaxed);
    // Release: a reader of the published file sees the whole header (the
    // rename that publishes the file is a syscall, a full barrier anyway).
    r.word(H_STATE).store(STATE_LIVE, Ordering::Release);
}

/// Validates the fixed part of a header against `kind` and the file length,
/// returning its fields. `data_len(&header)` gives the bytes expected after
/// the header, or `None` on overflow.
pub(crate) fn validate(
    r: &Region,
    kind: FileKind,
    path: &Path,
    data_len: impl Fn(&Header) -> Option<u64>,
) -> Result<Header, Error> {
    let corrupt = |what| Error::Corrupt {
        path: path.to_path_buf(),
        what,
    };
    let magic = r.u64_at(H_MAGIC).to_le_bytes();
    if magic != kind.magic() {
        return Err(Error::BadMagic {
            path: path.to_path_buf(),
            expected: kind.name(),
            found: magic,
        });
    }
    let version = r.u32_at(H_VERSION);
    if version != LAYOUT_VERSION {
        return Err(Error::Version {
            path: path.to_path_buf(),
            found: version,
            expected: LAYOUT_VERSION,
        });
    }
    if r.u32_at(H_HEADER_SIZE) as usize != HEADER_SIZE
        || r.u64_at(H_DATA_OFFSET) != HEADER_SIZE as u64
    {
        return Err(corrupt("header size is not 4096"));
    }
    if r.u32_at(H_RECORD_SIZE) as usize != kind.record_size() {
        return Err(corrupt(match kind {
            FileKind::Ring => "line size is not 64",
            FileKind::Snapshot => "bar slot size is not 128",
        }));
    }
    let want_dir = match kind {
        FileKind::Ring => 0,
        FileKind::Snapshot => DIR_ENTRY_SIZE as u32,
    };
    if r.u32_at(H_DIR_ENTRY_SIZE) != want_dir {
        return Err(corrupt("directory entry size does not match the file kind"));
    }
    let h = Header {
        capacity: r.u64_at(H_CAPACITY),
        timeframe_count: r.u32_at(H_TIMEFRAME_COUNT),
        writer_pid: r.u32_at(H_WRITER_PID),
        dir_offset: r.u64_at(H_DIR_OFFSET),
    };
    if h.timeframe_count as usize > MAX_TIMEFRAMES {
        return Err(corrupt("more than 64 timeframes"));
    }
    let expect = data_len(&h)
        .and_then(|d| d.checked_add(HEADER_SIZE as u64))
        .ok_or_else(|| corrupt("capacity overflows"))?;
    if expect != (r.words().len() as u64) * 8 {
        return Err(corrupt(
            "file size does not match the capacity in the header",
        ));
    }
    Ok(h)
}

/// The writer's state by the header: shut-down flag, pid, heartbeat age.
pub(crate) fn status(r: &Region, pid: u32, dead_after: Duration, check_pid: bool) -> WriterStatus {
    let state = r.u64_at(H_STATE);
    // Pairs with the writer's Release store of the state.
    fence(Ordering::Acquire);
    if state == STATE_SHUT_DOWN {
        return WriterStatus::ShutDown;
    }
    if check_pid && !pid_alive(pid) {
        return WriterStatus::Dead(DeadReason::ProcessGone);
    }
    let beat = r.u64_at(H_HEARTBEAT);
    let age = Duration::from_nanos(monotonic_ns().saturating_sub(beat));
    if age > dead_after {
        return WriterStatus::Dead(DeadReason::HeartbeatStale { age });
    }
    WriterStatus::Live
}

/// Fails with the matching error unless the writer is live.
pub(crate) fn require_live(
    r: &Region,
    path: &Path,
    pid: u32,
    dead_after: Duration,
    check_pid: bool,
) -> Result<(), Error> {
    match status(r, pid, dead_after, check_pid) {
        WriterStatus::Live => Ok(()),
        WriterStatus::ShutDown => Err(Error::WriterShutDown {
            path: path.to_path_buf(),
            pid,
        }),
        WriterStatus::Dead(reason) => Err(Error::WriterDead {
            path: path.to_path_buf(),
            pid,
            reason,
        }),
    }
}

/// Writer: a fresh heartbeat.
#[inline]
pub(crate) fn beat(r: &Region) {
    // Relaxed: a timestamp, read on its own.
    r.word(H_HEARTBEAT).store(monotonic_ns(), Ordering::Relaxed);
}

/// Writer: marks the file shut down.
pub(crate) fn mark_shut_down(r: &Region) {
    // Release: pairs with the reader's fence in `status`, after the final
    // records are published.
    r.word(H_STATE).store(STATE_SHUT_DOWN, Ordering::Release);
}
