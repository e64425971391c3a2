//! [`StoreWriter`]: appends ticks and closed bars; commits blocks into hot
//! segments; a background syncer and sealer do the slow work.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mtf::{Bar, NANOS_PER_DAY, Tick};

use crate::codec::{self, EncodeScratch};
use crate::error::{Result, StoreError};
use crate::format::*;
use crate::layout::{self, hot_name, parse_writer_part};
use crate::map::{self, MappedFile, PopulateJob, SyncHandle};
use crate::segment::{self, BlockMeta, Codecs, Input, SealedWriter};
use crate::stage::{self, BAR_REC, Stage, StreamKey, TICK_REC};
use crate::symbols::{MAX_SYMBOL_ID, SymbolMap};

/// When committed data is forced to disk (msync of the mapped segments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Never: the OS writes back when it likes (a process kill loses nothing;
    /// a power cut loses what was not written back).
    Never,
    /// Every so often, from the background syncer thread.
    Interval(Duration),
    /// Every committed block before `flush`/the append that filled it returns
    /// (the appending thread pays the msync).
    Always,
}

/// Writer settings. `Default` gives the documented defaults.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Ticks per hot block (flushed when full). Default 4096.
    pub block_ticks: u32,
    /// Bars per hot block. Default 1024.
    pub block_bars: u32,
    /// A non-empty block is flushed after this long (by [`StoreWriter::poll`]). Default 100 ms.
    pub flush_interval: Duration,
    /// Durability policy. Default `Interval(1 s)`.
    pub fsync: FsyncPolicy,
    /// Size of a hot segment file, pre-allocated. Default 64 MiB.
    pub segment_bytes: u64,
    /// Open streams (symbol × day, symbol × timeframe × day) held at once. Default 256.
    pub stage_slots: u32,
    /// Values per block in sealed segments. Default 65,536.
    pub sealed_block: u32,
    /// zstd level of sealed segments (sealing runs in the background). Default 15.
    pub zstd_level: i32,
    /// A hot segment of a past day is sealed after this long without writes. Default 30 s.
    pub seal_idle: Duration,
    /// Hot segments mapped at once (the least recently written is sealed first). Default 4.
    pub max_open_hot: usize,
    /// Compression of hot blocks. Default [`HotCompression::Lz4`].
    pub hot_compression: HotCompression,
}

/// How hot blocks (the ones the store thread writes as ticks arrive) are
/// compressed. Sealing recompresses every block with zstd either way, and
/// hot segment files have a fixed size, so this trades the store thread's
/// CPU per tick against how many ticks a hot segment holds (and the bytes
/// written back before sealing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HotCompression {
    /// The column encoding as it is: no compressor on the hot path (about a
    /// quarter less CPU per tick on the store thread; on synthetic ticks
    /// ~9.5 bytes per tick against lz4's ~7, so hot segments fill about a
    /// third faster).
    None,
    /// lz4 (block format).
    #[default]
    Lz4,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            block_ticks: 4096,
            block_bars: 1024,
            flush_interval: Duration::from_millis(100),
            fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
            segment_bytes: 64 << 20,
            stage_slots: 256,
            sealed_block: 65_536,
            zstd_level: 15,
            seal_idle: Duration::from_secs(30),
            max_open_hot: 4,
            hot_compression: HotCompression::Lz4,
        }
    }
}

impl StoreConfig {
    fn validate(&self) -> Result<()> {
        let max = MAX_BLOCK_COUNT;
        if !(1..=max).contains(&self.block_ticks) || !(1..=max).contains(&self.block_bars) {
            return Err(StoreError::Config(
                "block_ticks and block_bars must be 1..=131072",
            ));
        }
        if !(1..=max).contains(&self.sealed_block) {
            return Err(StoreError::Config("sealed_block must be 1..=131072"));
        }
        if self.stage_slots == 0 || self.stage_slots > 65_536 {
            return Err(StoreError::Config("stage_slots must be 1..=65536"));
        }
        if self.max_open_hot == 0 {
            return Err(StoreError::Config("max_open_hot must be at least 1"));
        }
        // the worst block (≈ 100 bytes per tick, 200 per bar, before lz4) must fit twice
        let worst = (self.block_ticks as u64 * 100).max(self.block_bars as u64 * 200) + 4096;
        if self.segment_bytes < 2 * worst + 4096 || self.segment_bytes > (1 << 40) {
            return Err(StoreError::Config(
                "segment_bytes too small for the block size",
            ));
        }
        if !(1..=22).contains(&self.zstd_level) {
            return Err(StoreError::Config("zstd_level must be 1..=22"));
        }
        Ok(())
    }

    fn slot_bytes(&self) -> u32 {
        (self.block_ticks as usize * TICK_REC).max(self.block_bars as usize * BAR_REC) as u32
    }
}

/// Counters of a writer and its background threads.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Ticks appended.
    pub ticks: AtomicU64,
    /// Bars appended.
    pub bars: AtomicU64,
    /// Blocks committed to hot segments.
    pub blocks: AtomicU64,
    /// Bytes committed to hot segments.
    pub bytes: AtomicU64,
    /// Hot segments sealed.
    pub seals: AtomicU64,
    /// Seals that failed (the hot file stays and is retried on the next open).
    pub seal_errors: AtomicU64,
    /// msync calls that failed.
    pub sync_errors: AtomicU64,
    /// Ticks recovered from the stage on open.
    pub recovered_ticks: AtomicU64,
    /// Bars recovered from the stage on open.
    pub recovered_bars: AtomicU64,
    /// Torn or corrupt tails cut from hot segments on open.
    pub torn_tails: AtomicU64,
    /// Stage records that did not decode on recovery (skipped).
    pub bad_stage_records: AtomicU64,
}

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct TickRoute {
    slot: u32,
    day_start: i64,
    day_end: i64,
}

struct Slot {
    key: StreamKey,
    /// Ticks staged in this slot: the open block is the stage's records
    /// themselves (`Stage::tick_records`), not a copy.
    ticks: usize,
    bars: Vec<Bar>,
    tag: u64,
    opened: Instant,
    used: bool,
    /// Ticks were staged in this slot since the writer last published its
    /// count (the slot is then in `StoreWriter::unpublished`).
    unpublished: bool,
}

struct Hot {
    day: i32,
    path: PathBuf,
    map: MappedFile,
    end: usize,
    prev: u32,
    committed: Arc<AtomicU64>,
    last_write: Instant,
    id: u64,
}

enum SyncJob {
    Track(u64, SyncHandle, Arc<AtomicU64>),
    Untrack(u64),
    Stop,
}

/// Hot segments of one writer: create, append, rotate, hand to the sealer.
struct HotSet {
    root: PathBuf,
    writer: u16,
    segment_bytes: u64,
    max_open: usize,
    always: bool,
    /// Codec of hot blocks ([`CODEC_NONE`] or [`CODEC_LZ4`]).
    codec: u8,
    hot: Vec<Hot>,
    next_id: u64,
    codecs: Codecs,
    rec: Vec<u8>,
    sync_tx: Sender<SyncJob>,
    seal_tx: Sender<Option<PathBuf>>,
    /// The pre-fault thread (`map::prefaulter`) of the hot segments.
    fault_tx: Sender<Option<PopulateJob>>,
    stats: Arc<WriterStats>,
}

impl HotSet {
    fn find(&self, day: i32) -> Option<usize> {
        self.hot.iter().position(|h| h.day == day)
    }

    fn create(&mut self, day: i32) -> Result<usize> {
        if self.hot.len() >= self.max_open {
            let lru = (0..self.hot.len())
                .min_by_key(|&i| self.hot[i].last_write)
                .unwrap_or(0);
            self.close(lru);
        }
        let dir = layout::day_dir(&self.root, day);
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let part = next_part(&dir, self.writer).map_err(|e| StoreError::io(&dir, e))?;
        let path = dir.join(hot_name(self.writer, part));
        // SAFETY: this writer holds its lock file; `wNNN-*` files in the data
        // directory belong to it alone, the file is created here (create_new)
        // and is never truncated, only unlinked after sealing (map.rs rule).
        let mut map = unsafe { MappedFile::create(&path, self.segment_bytes) }
            .map_err(|e| StoreError::io(&path, e))?;
        // fresh page-cache pages are zeroed on the pre-fault thread, not here
        map.prefault_in_background(self.fault_tx.clone());
        let fh = FileHeader {
            kind: FILE_HOT,
            writer: self.writer,
            day,
            part,
            created: now_ns(),
        }
        .encode();
        map.write(0, &fh);
        map.sync_range(0, FILE_HEADER_LEN)
            .map_err(|e| StoreError::io(&path, e))?;
        segment::sync_dir(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let committed = Arc::new(AtomicU64::new(FILE_HEADER_LEN as u64));
        let id = self.next_id;
        self.next_id += 1;
        let _ = self.sync_tx.send(SyncJob::Track(
            id,
            map.sync_handle(),
            Arc::clone(&committed),
        ));
        self.hot.push(Hot {
            day,
            path,
            map,
            end: FILE_HEADER_LEN,
            prev: crc32c::crc32c(&fh[..FH_CRC]),
            committed,
            last_write: Instant::now(),
            id,
        });
        Ok(self.hot.len() - 1)
    }

    /// Stops writing to hot `i` and hands it to the sealer.
    fn close(&mut self, i: usize) {
        let h = self.hot.swap_remove(i);
        let _ = self.sync_tx.send(SyncJob::Untrack(h.id));
        let _ = self.seal_tx.send(Some(h.path.clone()));
    }

    /// Commits one block of `raw` (column encoding) to the day's hot segment.
    fn commit(&mut self, day: i32, meta: &BlockMeta, raw: &[u8]) -> Result<()> {
        let mut i = match self.find(day) {
            Some(i) => i,
            None => self.create(day)?,
        };
        let (_, mut crc) = segment::build_record(
            meta,
            self.codec,
            raw,
            &[],
            self.hot[i].prev,
            &mut self.codecs,
            &mut self.rec,
        )
        .map_err(|e| StoreError::io(&self.hot[i].path, e))?;
        if self.hot[i].end + self.rec.len() > self.hot[i].map.len() {
            self.close(i);
            i = self.create(day)?;
            (_, crc) = segment::build_record(
                meta,
                self.codec,
                raw,
                &[],
                self.hot[i].prev,
                &mut self.codecs,
                &mut self.rec,
            )
            .map_err(|e| StoreError::io(&self.hot[i].path, e))?;
        }
        let h = &mut self.hot[i];
        let len = self.rec.len();
        if h.end + len > h.map.len() {
            return Err(StoreError::Config("block larger than a hot segment"));
        }
        // header and payload first, then the commit marker: a reader (or a
        // recovery after a kill) sees the block only once the marker is there.
        h.map.write(h.end, &self.rec[..len - COMMIT_LEN]);
        fence(Ordering::Release);
        h.map
            .write(h.end + len - COMMIT_LEN, &self.rec[len - COMMIT_LEN..]);
        if self.always {
            h.map
                .sync_range(h.end, len)
                .map_err(|e| StoreError::io(&h.path, e))?;
        }
        h.end += len;
        h.prev = crc;
        h.last_write = Instant::now();
        // Release: pairs with the syncer's Acquire load; it msyncs up to here.
        h.committed.store(h.end as u64, Ordering::Release);
        self.stats.blocks.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes.fetch_add(len as u64, Ordering::Relaxed);
        Ok(())
    }

    fn sync_all(&self) -> Result<()> {
        for h in &self.hot {
            h.map
                .sync_range(0, h.end)
                .map_err(|e| StoreError::io(&h.path, e))?;
        }
        Ok(())
    }
}

/// The next part number of `writer` in a day directory: above every part that
/// exists or that a compaction replaced (so a new part never has a name that a
/// compacted segment hides).
fn next_part(dir: &Path, writer: u16) -> std::io::Result<u32> {
    let mut next = 0;
    let mut see = |name: &str| {
        if let Some((w, p)) = parse_writer_part(name)
            && w == writer
        {
            next = next.max(p.saturating_add(1));
        }
    };
    for e in fs::read_dir(dir)? {
        let e = e?;
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        see(&name);
        if name.starts_with("c-")
            && name.ends_with(".seg")
            && let Ok(f) = File::open(e.path())
            && let Ok(Ok(toc)) = segment::read_toc(&f)
        {
            for s in &toc.sources {
                see(s);
            }
        }
    }
    Ok(next)
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Appends ticks and closed bars of the symbols routed to it.
///
/// One writer per thread (it is `Send`, not shared): the engine gives each
/// worker its own writer number. Appends copy the value into the mapped stage
/// (so a killed process loses nothing) and into the open block; a full block is
/// encoded, lz4-compressed, checksummed and committed on the appending thread
/// (amortised: once per [`StoreConfig::block_ticks`] ticks). msync and sealing
/// run on two background threads owned by the writer.
///
/// ```
/// use store::{StoreConfig, StoreReader, StoreWriter};
/// use mtf::{Side, Tick};
/// let dir = tempfile::tempdir().unwrap();
/// let mut w = StoreWriter::open(dir.path(), 0, StoreConfig::default()).unwrap();
/// w.define_symbol(0, "SPY").unwrap();
/// w.append_tick(&Tick::trade(0, 1_381_240_800_000_000_000, 167.42, 100.0, Side::Unknown, 0)).unwrap();
/// w.flush().unwrap();
/// let r = StoreReader::open(dir.path()).unwrap();
/// let id = r.symbols().unwrap().id("SPY").unwrap();
/// let n = r.ticks(id, i64::MIN, i64::MAX).unwrap().count();
/// assert_eq!(n, 1);
/// ```
pub struct StoreWriter {
    root: PathBuf,
    cfg: StoreConfig,
    _lock: File,
    symbols: SymbolMap,
    stage: Stage,
    slots: Vec<Slot>,
    free: Vec<usize>,
    pending: Vec<usize>,
    routes: Vec<TickRoute>,
    streams: HashMap<StreamKey, usize>,
    hots: HotSet,
    epoch: u32,
    next_tag: u32,
    max_day: i32,
    raw: Vec<u8>,
    scratch: EncodeScratch,
    due: Vec<usize>,
    /// Slots with ticks staged but not yet counted in the stage (see
    /// [`StoreWriter::append_ticks`]).
    unpublished: Vec<u32>,
    stats: Arc<WriterStats>,
    threads: Vec<JoinHandle<()>>,
    closed: bool,
}

impl StoreWriter {
    /// Opens (creating if needed) the store at `root` as writer number `writer`.
    ///
    /// Recovery: hot segments of this writer are scanned and their torn tails
    /// cut; staged values not yet committed are committed; then the old hot
    /// segments are handed to the sealer.
    pub fn open(root: &Path, writer: u16, cfg: StoreConfig) -> Result<StoreWriter> {
        cfg.validate()?;
        for d in [
            root.to_owned(),
            root.join("locks"),
            root.join("stage"),
            layout::data_dir(root),
        ] {
            fs::create_dir_all(&d).map_err(|e| StoreError::io(&d, e))?;
        }
        let lock_path = layout::lock_path(root, writer);
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, e))?;
        if !crate::lock::try_lock_exclusive(&lock).map_err(|e| StoreError::io(&lock_path, e))? {
            return Err(StoreError::Locked(lock_path));
        }
        let stats = Arc::new(WriterStats::default());

        // 1. this writer's hot files and unfinished outputs
        let mut old_hot = Vec::new();
        let mut committed_tags = HashSet::new();
        let mut max_epoch = 0u32;
        for day in layout::list_days(root).map_err(|e| StoreError::io(root, e))? {
            let dir = layout::day_dir(root, day);
            let rd = fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))?;
            for e in rd {
                let e = e.map_err(|e| StoreError::io(&dir, e))?;
                let Ok(name) = e.file_name().into_string() else {
                    continue;
                };
                if parse_writer_part(&name).is_none_or(|(w, _)| w != writer) {
                    continue;
                }
                let path = e.path();
                if name.ends_with(".tmp") {
                    let _ = fs::remove_file(&path);
                } else if name.ends_with(".hot") {
                    if path.with_extension("seg").exists() {
                        // sealed, but the hot file was not removed before a crash
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    let f = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
                    match segment::read_toc(&f).map_err(|e| StoreError::io(&path, e))? {
                        Ok(toc) => {
                            if let Some((off, why)) = toc.torn {
                                stats.torn_tails.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(path = %path.display(), offset = off, reason = why.0, "cut a torn tail");
                            }
                            for t in &toc.tags {
                                max_epoch = max_epoch.max((t >> 32) as u32);
                            }
                            committed_tags.extend(toc.tags);
                            old_hot.push(path);
                        }
                        Err(why) => {
                            // a header that never reached the disk: nothing committed
                            tracing::warn!(path = %path.display(), reason = why.0, "removing a hot segment without a valid header");
                            let _ = fs::remove_file(&path);
                        }
                    }
                }
            }
        }

        // 2. the old stage
        let stage_path = layout::stage_path(root, writer);
        let mut recovered = Vec::new();
        if let Ok(f) = File::open(&stage_path)
            && let Some((epoch, slots)) =
                stage::read_stage(&f).map_err(|e| StoreError::io(&stage_path, e))?
        {
            max_epoch = max_epoch.max(epoch);
            recovered = slots
                .into_iter()
                .filter(|r| !committed_tags.contains(&r.tag))
                .collect();
        }
        let epoch = max_epoch.wrapping_add(1);

        // 3. background threads
        let (sync_tx, sync_rx) = mpsc::channel();
        let (seal_tx, seal_rx) = mpsc::channel();
        let (fault_tx, fault_rx) = mpsc::channel();
        let mut threads = Vec::new();
        threads.push(
            std::thread::Builder::new()
                .name(format!("store-fault-w{writer}"))
                .spawn(move || map::prefaulter(fault_rx))
                .map_err(|e| StoreError::io(root, e))?,
        );
        let policy = cfg.fsync;
        let st = Arc::clone(&stats);
        threads.push(
            std::thread::Builder::new()
                .name(format!("store-sync-w{writer}"))
                .spawn(move || syncer(sync_rx, policy, st))
                .map_err(|e| StoreError::io(root, e))?,
        );
        let st = Arc::clone(&stats);
        let (lvl, blk) = (cfg.zstd_level, cfg.sealed_block as usize);
        threads.push(
            std::thread::Builder::new()
                .name(format!("store-seal-w{writer}"))
                .spawn(move || sealer(seal_rx, lvl, blk, st))
                .map_err(|e| StoreError::io(root, e))?,
        );
        let mut hots = HotSet {
            root: root.to_owned(),
            writer,
            segment_bytes: cfg.segment_bytes,
            max_open: cfg.max_open_hot,
            codec: match cfg.hot_compression {
                HotCompression::None => CODEC_NONE,
                HotCompression::Lz4 => CODEC_LZ4,
            },
            always: cfg.fsync == FsyncPolicy::Always,
            hot: Vec::new(),
            next_id: 0,
            codecs: Codecs::new(1).map_err(|e| StoreError::io(root, e))?,
            rec: Vec::new(),
            sync_tx,
            seal_tx,
            fault_tx,
            stats: Arc::clone(&stats),
        };

        // 4. commit what the stage held, durably, before the stage goes
        let mut raw = Vec::new();
        let mut scratch = EncodeScratch::default();
        for r in &recovered {
            stats.bad_stage_records.fetch_add(r.bad, Ordering::Relaxed);
            if r.key.kind == KIND_TICKS && !r.ticks.is_empty() {
                raw.clear();
                codec::encode_ticks(&r.ticks, &mut raw, &mut scratch);
                let (t_min, t_max) = segment::tick_range(&r.ticks);
                let meta = BlockMeta {
                    kind: KIND_TICKS,
                    symbol: r.key.symbol,
                    timeframe_ms: 0,
                    count: r.ticks.len() as u32,
                    t_min,
                    t_max,
                    tag: r.tag,
                };
                hots.commit(r.key.day, &meta, &raw)?;
                stats
                    .recovered_ticks
                    .fetch_add(r.ticks.len() as u64, Ordering::Relaxed);
            } else if r.key.kind == KIND_BARS && !r.bars.is_empty() {
                raw.clear();
                codec::encode_bars(&r.bars, &mut raw, &mut scratch);
                let (t_min, t_max) = segment::bar_range(&r.bars);
                let meta = BlockMeta {
                    kind: KIND_BARS,
                    symbol: r.key.symbol,
                    timeframe_ms: r.key.timeframe_ms,
                    count: r.bars.len() as u32,
                    t_min,
                    t_max,
                    tag: r.tag,
                };
                hots.commit(r.key.day, &meta, &raw)?;
                stats
                    .recovered_bars
                    .fetch_add(r.bars.len() as u64, Ordering::Relaxed);
            }
        }
        hots.sync_all()?;
        match fs::remove_file(&stage_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&stage_path, e)),
        }
        let stage = Stage::create(
            &stage_path,
            writer,
            cfg.stage_slots,
            cfg.slot_bytes(),
            epoch,
        )
        .map_err(|e| StoreError::io(&stage_path, e))?;
        let _ = hots.sync_tx.send(SyncJob::Track(
            u64::MAX,
            stage.sync_handle(),
            Arc::new(AtomicU64::new(u64::MAX)),
        ));
        // the recovered blocks' hot files are sealed together with the old ones
        for i in (0..hots.hot.len()).rev() {
            hots.close(i);
        }
        for p in old_hot {
            let _ = hots.seal_tx.send(Some(p));
        }
        let symbols = SymbolMap::load(root)?;
        let slots = (0..cfg.stage_slots)
            .map(|_| Slot {
                key: StreamKey {
                    kind: 0,
                    symbol: 0,
                    timeframe_ms: 0,
                    day: 0,
                },
                ticks: 0,
                bars: Vec::new(),
                tag: 0,
                opened: Instant::now(),
                used: false,
                unpublished: false,
            })
            .collect();
        Ok(StoreWriter {
            root: root.to_owned(),
            free: (0..cfg.stage_slots as usize).rev().collect(),
            cfg,
            _lock: lock,
            symbols,
            stage,
            slots,
            pending: Vec::new(),
            routes: Vec::new(),
            streams: HashMap::new(),
            hots,
            epoch,
            next_tag: 0,
            max_day: i32::MIN,
            raw,
            scratch,
            due: Vec::new(),
            unpublished: Vec::new(),
            stats,
            threads,
            closed: false,
        })
    }

    /// Records the name of a symbol id in the store's table (`symbols.tbl`).
    /// Idempotent; a different name for a known id is an error.
    pub fn define_symbol(&mut self, id: mtf::SymbolId, name: &str) -> Result<()> {
        self.symbols.define(&self.root, id, name).map(|_| ())
    }

    /// Counters of this writer.
    pub fn stats(&self) -> &Arc<WriterStats> {
        &self.stats
    }

    /// Appends one tick (any symbol id ≤ [`MAX_SYMBOL_ID`], any values).
    /// Once it returns, the tick survives a kill of the process.
    #[inline]
    pub fn append_tick(&mut self, t: &Tick) -> Result<()> {
        let r = self.stage_tick(t);
        self.publish_counts();
        r
    }

    /// Appends ticks. Once it returns, every one of them survives a kill of
    /// the process (as does every tick staged before an error it returns).
    ///
    /// The stage's slot counts are stored once per call, not per tick: a
    /// tick is written into its slot as it comes, and counted when the call
    /// ends (a kill before that loses only ticks of a call that had not
    /// returned, which the caller had not counted as stored).
    pub fn append_ticks(&mut self, ticks: &[Tick]) -> Result<()> {
        let mut r = Ok(());
        for t in ticks {
            r = self.stage_tick(t);
            if r.is_err() {
                break;
            }
        }
        self.publish_counts();
        r
    }

    /// Stores the stage count of every slot that staged ticks since the last call.
    fn publish_counts(&mut self) {
        let slots = &mut self.slots;
        self.stage
            .publish_all(self.unpublished.drain(..).filter_map(|slot| {
                let s = &mut slots[slot as usize];
                s.unpublished = false;
                // a slot emptied by a commit has count 0 already; a slot
                // reused for bars counts its bars itself
                (s.ticks > 0).then_some((slot as usize, s.ticks as u32))
            }));
    }

    /// Writes one tick into its slot (not yet counted: see [`StoreWriter::append_ticks`]);
    /// commits the slot's block when it is full.
    #[inline]
    fn stage_tick(&mut self, t: &Tick) -> Result<()> {
        let slot = match self.routes.get(t.symbol as usize) {
            Some(r) if r.slot != NONE && t.ts_event >= r.day_start && t.ts_event < r.day_end => {
                r.slot as usize
            }
            _ => self.route_tick(t)?,
        };
        let s = &mut self.slots[slot];
        let idx = s.ticks;
        self.stage.write_tick(slot, idx, t);
        s.ticks = idx + 1;
        if !s.unpublished {
            s.unpublished = true;
            self.unpublished.push(slot as u32);
        }
        if idx == 0 {
            s.opened = Instant::now();
        }
        if idx + 1 >= self.cfg.block_ticks as usize {
            self.flush_slot(slot)?;
        }
        Ok(())
    }

    #[cold]
    fn route_tick(&mut self, t: &Tick) -> Result<usize> {
        if t.symbol > MAX_SYMBOL_ID {
            return Err(StoreError::SymbolIdTooLarge(t.symbol));
        }
        let day = day_of(t.ts_event);
        let key = StreamKey {
            kind: KIND_TICKS,
            symbol: t.symbol,
            timeframe_ms: 0,
            day,
        };
        let slot = self.slot_for(key)?;
        let i = t.symbol as usize;
        if self.routes.len() <= i {
            self.routes.resize(
                i + 1,
                TickRoute {
                    slot: NONE,
                    day_start: 0,
                    day_end: 0,
                },
            );
        }
        let start = day as i64 * NANOS_PER_DAY;
        self.routes[i] = TickRoute {
            slot: slot as u32,
            day_start: start,
            day_end: start.saturating_add(NANOS_PER_DAY),
        };
        Ok(slot)
    }

    fn slot_for(&mut self, key: StreamKey) -> Result<usize> {
        if let Some(&s) = self.streams.get(&key) {
            return Ok(s);
        }
        self.max_day = self.max_day.max(key.day);
        if self.free.is_empty() {
            // evict: flush the oldest open block
            let oldest = self
                .pending
                .iter()
                .copied()
                .min_by_key(|&s| self.slots[s].opened)
                .ok_or(StoreError::Config("no stage slot"))?;
            self.flush_slot(oldest)?;
        }
        let slot = self.free.pop().ok_or(StoreError::Config("no stage slot"))?;
        let tag = (self.epoch as u64) << 32 | self.next_tag as u64;
        self.next_tag = self.next_tag.wrapping_add(1);
        self.stage.open_slot(slot, key, tag);
        let s = &mut self.slots[slot];
        s.key = key;
        s.tag = tag;
        s.used = true;
        s.opened = Instant::now();
        self.streams.insert(key, slot);
        self.pending.push(slot);
        Ok(slot)
    }

    /// Appends one closed bar (or a revision of one: the latest revision wins
    /// in queries). Bars are partitioned by the UTC day of their start.
    pub fn append_bar(&mut self, b: &Bar) -> Result<()> {
        if b.symbol > MAX_SYMBOL_ID {
            return Err(StoreError::SymbolIdTooLarge(b.symbol));
        }
        let key = StreamKey {
            kind: KIND_BARS,
            symbol: b.symbol,
            timeframe_ms: b.timeframe.millis(),
            day: day_of(b.start),
        };
        let slot = self.slot_for(key)?;
        let s = &mut self.slots[slot];
        let idx = s.bars.len();
        self.stage.push_bar(slot, idx, b);
        s.bars.push(*b);
        if idx == 0 {
            s.opened = Instant::now();
        }
        if idx + 1 >= self.cfg.block_bars as usize {
            self.flush_slot(slot)?;
        }
        Ok(())
    }

    fn flush_slot(&mut self, slot: usize) -> Result<()> {
        let s = &mut self.slots[slot];
        if !s.used {
            return Ok(());
        }
        let key = s.key;
        let ticks = s.ticks;
        let mut bars = std::mem::take(&mut s.bars);
        let tag = s.tag;
        let res = if ticks > 0 {
            self.raw.clear();
            let recs = self.stage.tick_records(slot, ticks);
            let count = recs.len() / TICK_REC;
            let (t_min, t_max) = codec::encode_tick_records(recs, &mut self.raw, &mut self.scratch);
            let meta = BlockMeta {
                kind: KIND_TICKS,
                symbol: key.symbol,
                timeframe_ms: 0,
                count: count as u32,
                t_min,
                t_max,
                tag,
            };
            self.stats.ticks.fetch_add(count as u64, Ordering::Relaxed);
            self.hots.commit(key.day, &meta, &self.raw)
        } else if !bars.is_empty() {
            self.raw.clear();
            codec::encode_bars(&bars, &mut self.raw, &mut self.scratch);
            let (t_min, t_max) = segment::bar_range(&bars);
            let meta = BlockMeta {
                kind: KIND_BARS,
                symbol: key.symbol,
                timeframe_ms: key.timeframe_ms,
                count: bars.len() as u32,
                t_min,
                t_max,
                tag,
            };
            self.stats
                .bars
                .fetch_add(bars.len() as u64, Ordering::Relaxed);
            self.hots.commit(key.day, &meta, &self.raw)
        } else {
            Ok(())
        };
        if let Err(e) = res {
            // keep the values staged: a later flush (or recovery) commits them
            self.slots[slot].bars = bars;
            return Err(e);
        }
        self.stage.clear_slot(slot);
        bars.clear();
        let s = &mut self.slots[slot];
        s.ticks = 0;
        s.bars = bars;
        s.used = false;
        self.streams.remove(&key);
        if key.kind == KIND_TICKS
            && let Some(r) = self.routes.get_mut(key.symbol as usize)
            && r.slot == slot as u32
        {
            r.slot = NONE;
        }
        if let Some(p) = self.pending.iter().position(|&x| x == slot) {
            self.pending.swap_remove(p);
        }
        self.free.push(slot);
        Ok(())
    }

    /// Periodic work; call it often (every few ms) from the writing thread:
    /// flushes blocks older than the flush interval and hands idle hot
    /// segments of past days to the sealer. Cheap when there is nothing to do.
    pub fn poll(&mut self, now: Instant) -> Result<()> {
        self.due.clear();
        let iv = self.cfg.flush_interval;
        self.due.extend(
            self.pending
                .iter()
                .copied()
                .filter(|&s| now.saturating_duration_since(self.slots[s].opened) >= iv),
        );
        let due = std::mem::take(&mut self.due);
        for &s in &due {
            self.flush_slot(s)?;
        }
        self.due = due;
        let idle = self.cfg.seal_idle;
        let mut i = 0;
        while i < self.hots.hot.len() {
            let h = &self.hots.hot[i];
            let day = h.day;
            if day < self.max_day
                && now.saturating_duration_since(h.last_write) >= idle
                && !self.pending.iter().any(|&s| self.slots[s].key.day == day)
            {
                self.hots.close(i);
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// Commits every open block now (visible to readers; durable per policy).
    pub fn flush(&mut self) -> Result<()> {
        while let Some(&s) = self.pending.last() {
            self.flush_slot(s)?;
        }
        Ok(())
    }

    /// Flushes, then msyncs every hot segment and the stage now.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.hots.sync_all()?;
        self.stage
            .sync_all()
            .map_err(|e| StoreError::io(layout::stage_path(&self.root, self.hots.writer), e))
    }

    /// Seals every hot segment now (for example at the end of an import or a
    /// replay). The sealing itself runs on the background thread.
    pub fn seal_all(&mut self) -> Result<()> {
        self.flush()?;
        while !self.hots.hot.is_empty() {
            self.hots.close(0);
        }
        Ok(())
    }

    /// Flushes, syncs, and stops the background threads (waiting for queued seals).
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let res = if self.cfg.fsync == FsyncPolicy::Never {
            self.flush()
        } else {
            self.sync()
        };
        let _ = self.hots.sync_tx.send(SyncJob::Stop);
        let _ = self.hots.seal_tx.send(None);
        let _ = self.hots.fault_tx.send(None);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        res
    }
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "store writer: final flush failed; staged values are recovered on the next open");
        }
    }
}

fn syncer(rx: Receiver<SyncJob>, policy: FsyncPolicy, stats: Arc<WriterStats>) {
    let interval = match policy {
        FsyncPolicy::Interval(d) => Some(d.max(Duration::from_millis(1))),
        _ => None,
    };
    // (id, handle, committed, synced)
    let mut tracked: Vec<(u64, SyncHandle, Arc<AtomicU64>, u64)> = Vec::new();
    let mut last = Instant::now();
    let sync = |t: &mut (u64, SyncHandle, Arc<AtomicU64>, u64), stats: &WriterStats| {
        // Acquire: pairs with the writer's Release store after a commit.
        let c = t.2.load(Ordering::Acquire);
        if c == u64::MAX {
            // the stage: scattered writes, sync all of it
            if t.1.sync_range(0, usize::MAX).is_err() {
                stats.sync_errors.fetch_add(1, Ordering::Relaxed);
            }
        } else if c > t.3 {
            let from = (t.3 as usize) & !4095;
            if t.1.sync_range(from, c as usize - from).is_err() {
                stats.sync_errors.fetch_add(1, Ordering::Relaxed);
            } else {
                t.3 = c;
            }
        }
    };
    loop {
        let wait = interval.unwrap_or(Duration::from_secs(3600));
        match rx.recv_timeout(wait.saturating_sub(last.elapsed())) {
            Ok(SyncJob::Track(id, h, c)) => tracked.push((id, h, c, 0)),
            Ok(SyncJob::Untrack(id)) => {
                if let Some(p) = tracked.iter().position(|t| t.0 == id) {
                    let mut t = tracked.swap_remove(p);
                    if interval.is_some() {
                        sync(&mut t, &stats);
                    }
                }
            }
            Ok(SyncJob::Stop) | Err(RecvTimeoutError::Disconnected) => {
                if interval.is_some() {
                    for t in &mut tracked {
                        sync(t, &stats);
                    }
                }
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Some(iv) = interval
            && last.elapsed() >= iv
        {
            for t in &mut tracked {
                sync(t, &stats);
            }
            last = Instant::now();
        }
    }
}

fn sealer(rx: Receiver<Option<PathBuf>>, zstd_level: i32, block: usize, stats: Arc<WriterStats>) {
    lower_priority(SEALER_NICE);
    while let Ok(Some(path)) = rx.recv() {
        match seal_file(&path, zstd_level, block) {
            Ok(()) => {
                stats.seals.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                stats.seal_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %path.display(), error = %e, "sealing failed; retried on the next open");
            }
        }
    }
}

/// Rewrites one hot segment as a sealed one (zstd, footer index), then removes it.
pub(crate) fn seal_file(path: &Path, zstd_level: i32, block: usize) -> std::io::Result<()> {
    let f = File::open(path)?;
    let toc = match segment::read_toc(&f)? {
        Ok(t) => t,
        Err(c) => return Err(std::io::Error::other(c.0)),
    };
    if !toc.entries.is_empty() {
        let seg = path.with_extension("seg");
        let header = FileHeader {
            kind: FILE_SEALED,
            created: now_ns(),
            ..toc.header
        };
        let mut out = SealedWriter::create(&seg, header, zstd_level)?;
        let inputs = [Input { src: &f, toc: &toc }];
        match segment::rewrite(&inputs, &mut out, block, false) {
            Ok(_) => {
                out.finish()?;
            }
            Err(e) => {
                out.abandon();
                return Err(e);
            }
        }
    }
    fs::remove_file(path)?;
    segment::sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Nice value of the sealer thread: the lowest. Sealing (zstd over a whole
/// segment) is seconds of CPU that can wait; at the default 0 it took a fair
/// half of a shared core from the receiving and aggregating threads, and
/// UDP, which has no back-pressure, lost datagrams while a segment was
/// sealed (scenario 2 at 6 M ticks/s: 7 % lost at nice 0, 2.2 % at 10,
/// 0.46 % at 19). It still gets all of an idle core; under a load that
/// never lets up, segments wait unsealed (still readable, uncompressed or
/// lz4) until the load eases.
const SEALER_NICE: libc::c_int = 19;

/// Lowers the calling thread's scheduling priority to `nice` (Linux: a nice
/// value is per thread). Best effort: a failure leaves the priority as it
/// was.
fn lower_priority(nice: libc::c_int) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `gettid` has no preconditions; `setpriority` only reads its
        // integer arguments.
        let rc = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
        };
        if rc != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "sealer priority unchanged");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}
