//! The snapshot table: the latest bar of every (symbol, timeframe) and the
//! symbol directory (id → name), each slot seqlock-protected.

use crate::error::{Error, WriterStatus};
use crate::header::{self, FileKind, Header};
use crate::layout::{
    DIR_ENTRY_SIZE, DIR_ENTRY_WORDS, H_DIR_GENERATION, H_TIMEFRAMES, HEADER_SIZE, MAX_NAME_LEN,
    MAX_TIMEFRAMES, SLOT_SIZE, SLOT_WORDS,
};
use crate::record::{self, BarKind, EncodeError, NO_SYMBOL, SlotPayload};
use crate::ring::ReaderOptions;
use crate::seqlock::{SLOT_PAYLOAD_WORDS, slot_store, slot_try_load};
use crate::shm::{Group, NewFile, Region};
use crate::sync::{AtomicU64, Ordering, fence};
use mtf::{Bar, SymbolId, Timeframe};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Most symbols one snapshot file holds (2^24).
pub const MAX_SYMBOLS: u32 = 1 << 24;

/// Largest snapshot file the writer creates (16 GiB): it is pre-faulted.
pub const MAX_SNAPSHOT_BYTES: u64 = 16 << 30;

/// Attempts before a read of a slot that keeps changing gives up with
/// [`SnapshotError::Busy`] (a writer rewriting one bar constantly, or one
/// that died in the middle of a write).
const READ_ATTEMPTS: u32 = 10_000;

/// How to create a snapshot file.
#[derive(Clone, Debug)]
pub struct SnapshotConfig {
    /// Symbol ids `0 .. max_symbols` have slots (1 ..= [`MAX_SYMBOLS`]).
    pub max_symbols: u32,
    /// The timeframes the engine builds (1 ..= 64, distinct).
    pub timeframes: Vec<Timeframe>,
    /// Group to give the file (mode 0640); `None` keeps the writer's group.
    pub group: Option<Group>,
}

/// Why a snapshot operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The symbol id has no slot.
    #[error("symbol id {symbol} is outside the snapshot's 0..{max}")]
    SymbolOutOfRange {
        /// The id.
        symbol: SymbolId,
        /// The snapshot's symbol capacity.
        max: u32,
    },
    /// The timeframe is not one of the snapshot's.
    #[error("timeframe {0} is not in the snapshot")]
    UnknownTimeframe(Timeframe),
    /// A symbol name is empty or longer than 55 bytes.
    #[error("symbol name of {0} bytes: must be 1..=55")]
    BadName(usize),
    /// The bar does not encode.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The slot kept changing during every read attempt.
    #[error("the slot kept changing while being read (writer stuck mid-write?)")]
    Busy,
    /// The slot holds a value this library cannot decode.
    #[error("the slot holds an undecodable value")]
    Corrupt,
}

fn snapshot_sizes(max_symbols: u64, n_tf: u64) -> Option<(u64, u64)> {
    let bars = max_symbols
        .checked_mul(n_tf)?
        .checked_mul(SLOT_SIZE as u64)?;
    let dir = max_symbols.checked_mul(DIR_ENTRY_SIZE as u64)?;
    Some((bars, dir))
}

fn snapshot_data_len(h: &Header) -> Option<u64> {
    if h.capacity == 0 || h.capacity > MAX_SYMBOLS as u64 || h.timeframe_count == 0 {
        return None;
    }
    let (bars, dir) = snapshot_sizes(h.capacity, h.timeframe_count as u64)?;
    if h.dir_offset != HEADER_SIZE as u64 + bars {
        return None;
    }
    bars.checked_add(dir)
}

/// Shared slot addressing of both sides.
struct Table {
    region: Region,
    max_symbols: u32,
    timeframes_ms: Vec<u32>,
    dir_offset: usize,
}

impl Table {
    fn tf_index(&self, tf: Timeframe) -> Result<usize, SnapshotError> {
        self.timeframes_ms
            .iter()
            .position(|&m| m == tf.millis())
            .ok_or(SnapshotError::UnknownTimeframe(tf))
    }

    fn check_symbol(&self, symbol: SymbolId) -> Result<usize, SnapshotError> {
        if symbol < self.max_symbols {
            Ok(symbol as usize)
        } else {
            Err(SnapshotError::SymbolOutOfRange {
                symbol,
                max: self.max_symbols,
            })
        }
    }

    fn bar_slot(&self, symbol: SymbolId, tf: Timeframe) -> Result<&[AtomicU64], SnapshotError> {
        let s = self.check_symbol(symbol)?;
        let t = self.tf_index(tf)?;
        let i = HEADER_SIZE / 8 + (s * self.timeframes_ms.len() + t) * SLOT_WORDS;
        Ok(&self.region.words()[i..i + SLOT_WORDS])
    }

    fn dir_slot(&self, symbol: SymbolId) -> Result<&[AtomicU64], SnapshotError> {
        let s = self.check_symbol(symbol)?;
        let i = self.dir_offset / 8 + s * DIR_ENTRY_WORDS;
        Ok(&self.region.words()[i..i + DIR_ENTRY_WORDS])
    }

    fn load<const N: usize>(slot: &[AtomicU64], out: &mut [u64; N]) -> Result<u64, SnapshotError> {
        for _ in 0..READ_ATTEMPTS {
            if let Some(seq) = slot_try_load(slot, out) {
                return Ok(seq);
            }
            std::hint::spin_loop();
        }
        Err(SnapshotError::Busy)
    }

    fn name(&self, symbol: SymbolId) -> Result<Option<String>, SnapshotError> {
        let mut w = [0u64; DIR_ENTRY_WORDS - 1];
        if Self::load(self.dir_slot(symbol)?, &mut w)? == 0 {
            return Ok(None);
        }
        let mut bytes = [0u8; DIR_ENTRY_SIZE - 8];
        for (c, v) in bytes.chunks_exact_mut(8).zip(w) {
            c.copy_from_slice(&v.to_le_bytes());
        }
        let len = bytes[0] as usize;
        if len == 0 || len > MAX_NAME_LEN {
            return Err(SnapshotError::Corrupt);
        }
        std::str::from_utf8(&bytes[1..1 + len])
            .map(|s| Some(s.to_owned()))
            .map_err(|_| SnapshotError::Corrupt)
    }

    fn generation(&self) -> u64 {
        let g = self.region.u64_at(H_DIR_GENERATION);
        fence(Ordering::Acquire);
        g
    }
}

/// The writer of a snapshot file (the daemon; one per file).
pub struct SnapshotWriter {
    table: Table,
    scratch: SlotPayload,
    path: PathBuf,
    shut_down: bool,
}

impl SnapshotWriter {
    /// Creates (or atomically replaces) the snapshot file at `path`, mode
    /// 0640, the configured group.
    pub fn create(path: impl AsRef<Path>, cfg: &SnapshotConfig) -> Result<SnapshotWriter, Error> {
        let path = path.as_ref();
        if cfg.max_symbols == 0 || cfg.max_symbols > MAX_SYMBOLS {
            return Err(Error::Config(format!(
                "snapshot max_symbols {} must be in 1..={MAX_SYMBOLS}",
                cfg.max_symbols
            )));
        }
        let mut tfs: Vec<u32> = cfg.timeframes.iter().map(|t| t.millis()).collect();
        let n = tfs.len();
        tfs.sort_unstable();
        tfs.dedup();
        if n == 0 || n > MAX_TIMEFRAMES || tfs.len() != n {
            return Err(Error::Config(format!(
                "snapshot needs 1..={MAX_TIMEFRAMES} distinct timeframes, got {n}"
            )));
        }
        // Keep the configured order: it is the slot order.
        let tfs: Vec<u32> = cfg.timeframes.iter().map(|t| t.millis()).collect();
        let (bars, dir) = snapshot_sizes(cfg.max_symbols as u64, n as u64)
            .ok_or_else(|| Error::Config("snapshot too large".into()))?;
        let total = HEADER_SIZE as u64 + bars + dir;
        if total > MAX_SNAPSHOT_BYTES {
            return Err(Error::Config(format!(
                "snapshot of {} symbols x {n} timeframes needs {total} bytes, more than {MAX_SNAPSHOT_BYTES}",
                cfg.max_symbols
            )));
        }
        let len = usize::try_from(total).map_err(|_| Error::Config("snapshot too large".into()))?;
        let f = NewFile::create(path, len, cfg.group.as_ref())?;
        let h = Header {
            capacity: cfg.max_symbols as u64,
            timeframe_count: n as u32,
            writer_pid: std::process::id(),
            dir_offset: HEADER_SIZE as u64 + bars,
        };
        header::init(&f.region, FileKind::Snapshot, &h, &tfs);
        let region = f.publish()?;
        Ok(SnapshotWriter {
            table: Table {
                region,
                max_symbols: cfg.max_symbols,
                timeframes_ms: tfs,
                dir_offset: h.dir_offset as usize,
            },
            scratch: [0; SLOT_PAYLOAD_WORDS],
            path: path.to_path_buf(),
            shut_down: false,
        })
    }

    /// Stores the latest state of a bar (its symbol and timeframe pick the slot).
    #[inline]
    pub fn update(&mut self, kind: BarKind, bar: &Bar) -> Result<(), SnapshotError> {
        let slot = self.table.bar_slot(bar.symbol, bar.timeframe)?;
        record::encode_slot_bar(kind, bar, &mut self.scratch)?;
        slot_store(slot, &self.scratch);
        Ok(())
    }

    /// Sets the name of a symbol id in the directory (1..=55 bytes UTF-8).
    /// Ids are expected to be dense and never reused; renaming is allowed.
    pub fn set_symbol(&mut self, symbol: SymbolId, name: &str) -> Result<(), SnapshotError> {
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(SnapshotError::BadName(name.len()));
        }
        if symbol == NO_SYMBOL {
            return Err(EncodeError::ReservedSymbol(symbol).into());
        }
        let slot = self.table.dir_slot(symbol)?;
        let mut bytes = [0u8; DIR_ENTRY_SIZE - 8];
        bytes[0] = name.len() as u8;
        bytes[1..1 + name.len()].copy_from_slice(name.as_bytes());
        let mut w = [0u64; DIR_ENTRY_WORDS - 1];
        for (v, c) in w.iter_mut().zip(bytes.chunks_exact(8)) {
            *v = u64::from_le_bytes(c.try_into().expect("8-byte chunk"));
        }
        slot_store(slot, &w);
        let g = self.table.region.word(H_DIR_GENERATION);
        // Release: a reader that sees the new generation sees the entry.
        g.store(g.load(Ordering::Relaxed) + 1, Ordering::Release);
        Ok(())
    }

    /// Refreshes the header heartbeat.
    pub fn heartbeat(&mut self) {
        header::beat(&self.table.region);
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks the file shut down (it stays readable). Dropping does the same.
    pub fn shutdown(mut self) {
        self.do_shutdown();
    }

    fn do_shutdown(&mut self) {
        if !self.shut_down {
            self.shut_down = true;
            header::mark_shut_down(&self.table.region);
        }
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        self.do_shutdown();
    }
}

/// A read-only view of a snapshot file.
pub struct SnapshotReader {
    table: Table,
    timeframes: Vec<Timeframe>,
    names: HashMap<String, SymbolId>,
    names_generation: Option<u64>,
    pid: u32,
    dead_after: Duration,
    check_pid: bool,
    path: PathBuf,
    file: crate::shm::FileId,
}

impl SnapshotReader {
    /// Opens the snapshot file at `path` read-only (same errors as
    /// [`crate::RingReader::open`]; `opts.start` is ignored).
    pub fn open(path: impl AsRef<Path>, opts: &ReaderOptions) -> Result<SnapshotReader, Error> {
        let path = path.as_ref();
        // Not pre-faulted: a reader touches the few slots it asks for.
        let (region, file) = crate::shm::open_readonly(path, false)?;
        let h = header::validate(&region, FileKind::Snapshot, path, snapshot_data_len)?;
        if opts.require_live {
            header::require_live(&region, path, h.writer_pid, opts.dead_after, opts.check_pid)?;
        }
        let n = h.timeframe_count as usize;
        let tfs_ms: Vec<u32> = (0..n)
            .map(|i| region.u32_at(H_TIMEFRAMES + 4 * i))
            .collect();
        let timeframes = tfs_ms
            .iter()
            .map(|&ms| Timeframe::from_millis(ms))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::Corrupt {
                path: path.to_path_buf(),
                what: "invalid timeframe in the header",
            })?;
        Ok(SnapshotReader {
            table: Table {
                region,
                max_symbols: h.capacity as u32,
                timeframes_ms: tfs_ms,
                dir_offset: h.dir_offset as usize,
            },
            timeframes,
            names: HashMap::new(),
            names_generation: None,
            pid: h.writer_pid,
            dead_after: opts.dead_after,
            check_pid: opts.check_pid,
            path: path.to_path_buf(),
            file,
        })
    }

    /// Whether the path now names another file than the one mapped (see
    /// [`crate::RingReader::replaced`]).
    pub fn replaced(&self) -> bool {
        crate::shm::file_id(&self.path) != Some(self.file)
    }

    /// The latest bar of `(symbol, timeframe)` and whether it was closed,
    /// corrected or an update; `None` when there was none yet.
    pub fn get(
        &self,
        symbol: SymbolId,
        tf: Timeframe,
    ) -> Result<Option<(BarKind, Bar)>, SnapshotError> {
        let slot = self.table.bar_slot(symbol, tf)?;
        let mut p: SlotPayload = [0; SLOT_PAYLOAD_WORDS];
        if Table::load(slot, &mut p)? == 0 {
            return Ok(None);
        }
        record::decode_bar(&p)
            .map(Some)
            .map_err(|_| SnapshotError::Corrupt)
    }

    /// The name of a symbol id, `None` when the directory has no entry.
    pub fn symbol_name(&self, symbol: SymbolId) -> Result<Option<String>, SnapshotError> {
        self.table.name(symbol)
    }

    /// The id of a symbol name. Reads the whole directory again only when it
    /// changed since the last look-up.
    pub fn symbol_id(&mut self, name: &str) -> Result<Option<SymbolId>, SnapshotError> {
        let g = self.table.generation();
        if self.names_generation != Some(g) {
            self.names = self.symbols()?.into_iter().map(|(id, n)| (n, id)).collect();
            self.names_generation = Some(g);
        }
        Ok(self.names.get(name).copied())
    }

    /// Every (id, name) of the directory, by id.
    pub fn symbols(&self) -> Result<Vec<(SymbolId, String)>, SnapshotError> {
        let mut out = Vec::new();
        for id in 0..self.table.max_symbols {
            if let Some(n) = self.table.name(id)? {
                out.push((id, n));
            }
        }
        Ok(out)
    }

    /// The snapshot's timeframes, in slot order.
    pub fn timeframes(&self) -> &[Timeframe] {
        &self.timeframes
    }

    /// Symbol capacity.
    pub fn max_symbols(&self) -> u32 {
        self.table.max_symbols
    }

    /// The writer's state now.
    pub fn writer_status(&self) -> WriterStatus {
        header::status(
            &self.table.region,
            self.pid,
            self.dead_after,
            self.check_pid,
        )
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
