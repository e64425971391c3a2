//! [`StoreReader`]: streaming queries over a store directory, with or without
//! a running writer (another process may be appending: readers only use
//! positional reads and see committed blocks).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mtf::batch::{BatchSpec, SortedColumns};
use mtf::{Bar, SymbolId, Tick, Timeframe};

use crate::codec::{self, Corrupt};
use crate::error::{Result, StoreError};
use crate::format::*;
use crate::io::ReadAt;
use crate::layout::{self, DayFile};
use crate::segment::{self, Codecs, Toc};
use crate::symbols::SymbolMap;

/// Read access to a store directory.
///
/// Clones share one cache of opened sealed segments (file handle and parsed
/// footer index), so that repeated queries skip the per-day open, `fstat`
/// and index read; see [`StoreReader::with_cache`] for its rules and bounds.
#[derive(Clone, Debug)]
pub struct StoreReader {
    root: PathBuf,
    cache: Arc<SegCache>,
}

/// Days whose segments are all sealed, kept open across queries.
///
/// A day is reused while its directory's modification time is unchanged
/// (any seal, import, compaction or retention adds, renames or unlinks a
/// file there, which updates it). Sealed files never change once renamed
/// into place, so a cached handle always reads what the listing named. A
/// day is only cached once its directory is [`SegCache::SETTLE`] old, so a
/// change within the file system's timestamp granularity cannot hide
/// behind an equal mtime; days with hot segments are never cached. Days
/// enter the cache only through a stored-bars query that decoded bars from
/// them (tick queries and rebuilt bars reuse cached days but add none: their
/// long-lived small allocations between large transient ones would make a
/// reader's resident memory grow with the history it streams).
/// Bounded by open segments (file descriptors): the least recently used
/// days are dropped first.
///
/// A cached day also keeps the stored bars that queries decoded from it
/// (per symbol and timeframe, latest revisions resolved), bounded by
/// `max_bar_bytes` in total. Eviction is least recently used, but never of a
/// day the running query has already touched: a scan larger than the budget
/// keeps what fits instead of evicting its own head.
#[derive(Debug)]
struct SegCache {
    max_segs: usize,
    max_bar_bytes: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    days: HashMap<i32, CachedDay>,
    segs: usize,
    bar_bytes: usize,
    clock: u64,
    generation: u64,
}

#[derive(Debug)]
struct CachedDay {
    mtime: SystemTime,
    segs: Vec<Arc<OpenSeg>>,
    /// Decoded stored bars by (symbol, timeframe ms).
    bars: HashMap<(SymbolId, u32), Arc<[Bar]>>,
    used: u64,
    generation: u64,
}

impl CachedDay {
    fn bar_bytes(&self) -> usize {
        self.bars.values().map(|b| size_of_val(&**b)).sum()
    }
}

/// The segments of one day, and the cache entry they came from.
struct DaySegs {
    segs: Vec<Arc<OpenSeg>>,
    /// Generation of the cache entry, if the day is cached.
    cached: Option<u64>,
    /// The directory's mtime if the day was read uncached and is settled.
    settled: Option<SystemTime>,
}

impl SegCache {
    /// How old a day directory must be before its listing is cached.
    const SETTLE: Duration = Duration::from_secs(2);

    fn new(max_segs: usize, max_bar_bytes: usize) -> SegCache {
        SegCache {
            max_segs,
            max_bar_bytes,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    /// The segments of `day`, from the cache when still valid.
    fn day(&self, root: &Path, day: i32) -> Result<DaySegs> {
        let dir = layout::day_dir(root, day);
        if self.max_segs == 0 {
            let segs = open_day(root, day)?.into_iter().map(Arc::new).collect();
            return Ok(DaySegs {
                segs,
                cached: None,
                settled: None,
            });
        }
        let mtime = std::fs::metadata(&dir).and_then(|m| m.modified()).ok();
        if let Some(mt) = mtime {
            let mut c = self.lock();
            c.clock += 1;
            let now = c.clock;
            if let Some(d) = c.days.get_mut(&day) {
                if d.mtime == mt {
                    d.used = now;
                    return Ok(DaySegs {
                        segs: d.segs.clone(),
                        cached: Some(d.generation),
                        settled: None,
                    });
                }
                c.remove(day);
            }
        }
        let segs: Vec<Arc<OpenSeg>> = open_day(root, day)?.into_iter().map(Arc::new).collect();
        let settled = mtime.filter(|&mt| {
            SystemTime::now()
                .duration_since(mt)
                .is_ok_and(|age| age >= Self::SETTLE)
        });
        Ok(DaySegs {
            segs,
            cached: None,
            settled,
        })
    }

    /// Caches a day read uncached (its directory `settled` at `mtime`), if
    /// all its segments are sealed; the new entry's generation.
    fn insert_day(&self, day: i32, mtime: SystemTime, segs: &[Arc<OpenSeg>]) -> Option<u64> {
        if segs.len() > self.max_segs || !segs.iter().all(|s| s.name.ends_with(".seg")) {
            return None;
        }
        let mut c = self.lock();
        c.remove(day);
        while c.segs + segs.len() > self.max_segs {
            let Some((&old, _)) = c.days.iter().min_by_key(|(_, d)| d.used) else {
                break;
            };
            c.remove(old);
        }
        c.segs += segs.len();
        c.generation += 1;
        let (used, generation) = (c.clock, c.generation);
        c.days.insert(
            day,
            CachedDay {
                mtime,
                segs: segs.to_vec(),
                bars: HashMap::new(),
                used,
                generation,
            },
        );
        Some(generation)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The access clock now: days used after it belong to the running query.
    fn now(&self) -> u64 {
        self.lock().clock
    }

    /// Cached stored bars of a day entry of generation `generation`.
    fn bars(&self, day: i32, generation: u64, key: (SymbolId, u32)) -> Option<Arc<[Bar]>> {
        let c = self.lock();
        let d = c.days.get(&day).filter(|d| d.generation == generation)?;
        d.bars.get(&key).cloned()
    }

    /// Keeps `bars` with the day entry of generation `generation`, if the
    /// budget allows without evicting days used since `since`.
    fn keep_bars(&self, day: i32, generation: u64, key: (SymbolId, u32), bars: &[Bar], since: u64) {
        let bytes = size_of_val(bars);
        if bytes > self.max_bar_bytes {
            return;
        }
        let mut c = self.lock();
        while c.bar_bytes + bytes > self.max_bar_bytes {
            let victim = c
                .days
                .iter()
                .filter(|(_, d)| !d.bars.is_empty())
                .min_by_key(|(_, d)| d.used)
                .map(|(&k, d)| (k, d.used));
            match victim {
                Some((k, used)) if used < since && k != day => {
                    if let Some(d) = c.days.get_mut(&k) {
                        let freed = d.bar_bytes();
                        d.bars.clear();
                        c.bar_bytes -= freed;
                    }
                }
                _ => return,
            }
        }
        let Some(d) = c.days.get_mut(&day).filter(|d| d.generation == generation) else {
            return;
        };
        if let Some(old) = d.bars.insert(key, Arc::from(bars)) {
            c.bar_bytes -= size_of_val(&*old);
        }
        c.bar_bytes += bytes;
    }
}

impl CacheInner {
    fn remove(&mut self, day: i32) {
        if let Some(d) = self.days.remove(&day) {
            self.segs -= d.segs.len();
            self.bar_bytes -= d.bar_bytes();
        }
    }
}

/// One segment opened for reading.
#[derive(Debug)]
pub(crate) struct OpenSeg {
    pub file: File,
    pub toc: Toc,
    pub path: PathBuf,
    pub name: String,
    pub modified: Option<SystemTime>,
}

/// Opens the segments of a day in reading order, minus files replaced by a
/// compaction. Files that vanish meanwhile (sealed or dropped) are retried as
/// their sealed sibling, else skipped.
pub(crate) fn open_day(root: &Path, day: i32) -> Result<Vec<OpenSeg>> {
    let dir = layout::day_dir(root, day);
    let files = layout::list_day_files(&dir).map_err(|e| StoreError::io(&dir, e))?;
    let mut segs = Vec::with_capacity(files.len());
    for f in files {
        if let Some(s) = open_seg(&f)? {
            segs.push(s);
        }
    }
    let replaced: HashSet<String> = segs
        .iter()
        .flat_map(|s| s.toc.sources.iter().cloned())
        .collect();
    if !replaced.is_empty() {
        segs.retain(|s| !replaced.contains(&s.name));
    }
    Ok(segs)
}

fn open_seg(f: &DayFile) -> Result<Option<OpenSeg>> {
    let mut path = f.path.clone();
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound && f.hot => {
            path = path.with_extension("seg");
            match File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(StoreError::io(&path, e)),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    let modified = file.metadata().and_then(|m| m.modified()).ok();
    match segment::read_toc(&file).map_err(|e| StoreError::io(&path, e))? {
        Ok(toc) => {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            Ok(Some(OpenSeg {
                file,
                toc,
                path,
                name,
                modified,
            }))
        }
        // A hot file whose header is not on disk yet holds nothing committed.
        Err(_) if f.hot => Ok(None),
        Err(why) => Err(StoreError::Corrupt {
            path,
            offset: 0,
            what: why.0,
        }),
    }
}

/// Per-symbol facts from [`StoreReader::info`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SymbolInfo {
    /// Symbol id.
    pub symbol: SymbolId,
    /// Name from `symbols.tbl`, if recorded.
    pub name: Option<String>,
    /// Ticks stored.
    pub ticks: u64,
    /// Bars stored (every timeframe, revisions included).
    pub bars: u64,
    /// Bytes of the symbol's tick blocks on disk (headers included).
    pub tick_bytes: u64,
    /// Bytes of its bar blocks on disk.
    pub bar_bytes: u64,
    /// In-memory size of its ticks (64 bytes each) / `tick_bytes`.
    pub compression_ratio: f64,
    /// Earliest tick event time, ns.
    pub first: Option<i64>,
    /// Latest tick event time, ns.
    pub last: Option<i64>,
    /// Modification time of the newest segment holding the symbol's data.
    pub last_write: Option<SystemTime>,
}

/// Block data decoded from a verified record.
struct BlockReader {
    codecs: Codecs,
    rec: Vec<u8>,
    raw: Vec<u8>,
    cols: codec::TickColumns,
}

impl BlockReader {
    fn new() -> io::Result<BlockReader> {
        Ok(BlockReader {
            codecs: Codecs::new(1)?,
            rec: Vec::new(),
            raw: Vec::new(),
            cols: codec::TickColumns::default(),
        })
    }

    /// Reads, verifies and decompresses the block of `e`; `raw` holds the columns.
    fn load(
        &mut self,
        src: &(impl ReadAt + ?Sized),
        e: &IndexEntry,
        limit: u64,
    ) -> io::Result<Result<BlockHeader, Corrupt>> {
        let h = match segment::read_record(src, e.offset, limit, &mut self.rec)? {
            Ok((h, _)) => h,
            Err(c) => return Ok(Err(c)),
        };
        if h.kind != e.kind
            || h.symbol != e.symbol
            || h.count != e.count
            || h.timeframe_ms != e.timeframe_ms
        {
            return Ok(Err(Corrupt("block does not match its index entry")));
        }
        let payload = &self.rec[BLOCK_HEADER_LEN..BLOCK_HEADER_LEN + h.payload_len as usize];
        Ok(self
            .codecs
            .decompress(&h, payload, &mut self.raw)
            .map(|()| h))
    }
}

/// The tick blocks of one symbol overlapping `[from, to)`, in reading order:
/// the walk that [`TickIter`] and [`TickColumnIter`] share.
struct TickBlocks {
    reader: StoreReader,
    symbol: SymbolId,
    from: i64,
    to: i64,
    days: std::vec::IntoIter<i32>,
    segs: std::vec::IntoIter<Arc<OpenSeg>>,
    seg: Option<(Arc<OpenSeg>, usize)>,
    blocks: BlockReader,
}

/// A block loaded by [`TickBlocks::next_block`]: its raw columns are in
/// `TickBlocks::blocks.raw`.
struct Loaded {
    count: usize,
    /// Some ticks may lie outside `[from, to)`.
    partial: bool,
    offset: u64,
}

impl TickBlocks {
    fn new(reader: &StoreReader, symbol: SymbolId, from: i64, to: i64) -> Result<TickBlocks> {
        Ok(TickBlocks {
            reader: reader.clone(),
            symbol,
            from,
            to,
            days: reader.days_in(from, to)?.into_iter(),
            segs: Vec::new().into_iter(),
            seg: None,
            blocks: BlockReader::new().map_err(|e| StoreError::io(&reader.root, e))?,
        })
    }

    /// Reads, verifies and decompresses the next block of the symbol that
    /// overlaps the range; `None` at the end.
    fn next_block(&mut self) -> Option<Result<Loaded>> {
        loop {
            if let Some((seg, i)) = &mut self.seg {
                while *i < seg.toc.entries.len() {
                    let e = seg.toc.entries[*i];
                    *i += 1;
                    if e.kind != KIND_TICKS
                        || e.symbol != self.symbol
                        || e.t_max < self.from
                        || e.t_min >= self.to
                    {
                        continue;
                    }
                    let limit = seg.toc.data_end;
                    return Some(match self.blocks.load(&seg.file, &e, limit) {
                        Err(err) => Err(StoreError::io(&seg.path, err)),
                        Ok(Err(c)) => Err(corrupt(&seg.path, e.offset, c)),
                        Ok(Ok(h)) => Ok(Loaded {
                            count: h.count as usize,
                            partial: e.t_min < self.from || e.t_max >= self.to,
                            offset: e.offset,
                        }),
                    });
                }
                self.seg = None;
            }
            if let Some(s) = self.segs.next() {
                self.seg = Some((s, 0));
                continue;
            }
            let day = self.days.next()?;
            match self.reader.day_segs(day) {
                Ok(v) => self.segs = v.into_iter(),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The error for a block of the current segment that did not decode.
    fn corrupt(&self, offset: u64, c: Corrupt) -> StoreError {
        let path = self.seg.as_ref().map(|(s, _)| s.path.as_path());
        corrupt(path.unwrap_or(&self.reader.root), offset, c)
    }
}

/// Ticks of one symbol in `[from, to)`, streamed block by block in constant memory.
///
/// Order: day by day; within a day, file by file (name order) and block by
/// block as stored, i.e. append order. Late ticks appear where they were
/// appended, not re-sorted.
pub struct TickIter {
    walk: TickBlocks,
    batch: Vec<Tick>,
    pos: usize,
}

impl TickIter {
    /// The next decoded block's ticks in range (never empty), or `None` at the end.
    pub fn next_batch(&mut self) -> Option<Result<&[Tick]>> {
        loop {
            let b = match self.walk.next_block()? {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            let w = &mut self.walk;
            if let Err(c) = codec::decode_ticks_with(
                &w.blocks.raw,
                b.count,
                w.symbol,
                &mut self.batch,
                &mut w.blocks.cols,
            ) {
                return Some(Err(w.corrupt(b.offset, c)));
            }
            if b.partial {
                let (f, t) = (w.from, w.to);
                self.batch.retain(|x| x.ts_event >= f && x.ts_event < t);
            }
            if !self.batch.is_empty() {
                self.pos = 0;
                return Some(Ok(&self.batch));
            }
        }
    }
}

impl Iterator for TickIter {
    type Item = Result<Tick>;

    fn next(&mut self) -> Option<Result<Tick>> {
        if self.pos < self.batch.len() {
            self.pos += 1;
            return Some(Ok(self.batch[self.pos - 1]));
        }
        match self.next_batch()? {
            Ok(_) => {
                self.pos = 1;
                Some(Ok(self.batch[0]))
            }
            Err(e) => {
                self.batch.clear();
                Some(Err(e))
            }
        }
    }
}

/// Ticks of one symbol in `[from, to)` as columns, a block at a time, in
/// the order of [`TickIter`] and in constant memory. Skips building 64-byte
/// [`Tick`]s: for column consumers (the `mtf` batch kernels, data frames).
pub struct TickColumnIter {
    walk: TickBlocks,
}

impl TickColumnIter {
    /// The symbol's next block in range as columns (never empty; `meta`
    /// runs cover exactly the ticks), or `None` at the end. The columns are
    /// lent until the next call.
    pub fn next_batch(&mut self) -> Option<Result<&codec::TickColumns>> {
        loop {
            let b = match self.walk.next_block()? {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            let w = &mut self.walk;
            if let Err(c) = codec::decode_tick_columns(&w.blocks.raw, b.count, &mut w.blocks.cols) {
                return Some(Err(w.corrupt(b.offset, c)));
            }
            if b.partial {
                w.blocks.cols.retain_time(w.from, w.to);
            }
            if !w.blocks.cols.ts_event.is_empty() {
                return Some(Ok(&self.walk.blocks.cols));
            }
        }
    }
}

fn corrupt(path: &Path, offset: u64, c: Corrupt) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        offset,
        what: c.0,
    }
}

/// Bars of one symbol and timeframe in `[from, to)` (by bar start), day by day.
///
/// Stored bars when the day holds bars of that timeframe (latest revision of
/// each start wins); otherwise rebuilt from the day's ticks with the `mtf`
/// batch kernel (trades; a day with quotes only gives mid-price quote bars).
pub struct BarIter {
    reader: StoreReader,
    symbol: SymbolId,
    tf: Timeframe,
    from: i64,
    to: i64,
    rebuild: bool,
    days: std::vec::IntoIter<i32>,
    day_bars: Vec<Bar>,
    pos: usize,
    carry: Option<Bar>,
    blocks: BlockReader,
    tmp: Vec<Bar>,
    bar_scratch: codec::BarScratch,
    cols: DayColumns,
    done: bool,
    /// The day's bars straight from the cache (`pos..end` left to yield).
    shared: Option<(Arc<[Bar]>, usize)>,
    /// Cache clock at the query's start.
    since: u64,
}

#[derive(Default)]
struct DayColumns {
    ts: Vec<i64>,
    price: Vec<f64>,
    size: Vec<f64>,
    side: Vec<mtf::Side>,
    qts: Vec<i64>,
    mid: Vec<f64>,
    zero: Vec<f64>,
}

impl BarIter {
    fn load_day(&mut self, day: i32) -> Result<()> {
        self.day_bars.clear();
        self.pos = 0;
        self.shared = None;
        let DaySegs {
            segs,
            cached,
            settled,
        } = self.reader.cache.day(&self.reader.root, day)?;
        let tf_ms = self.tf.millis();
        let key = (self.symbol, tf_ms);
        if let Some(g) = cached
            && self.carry.is_none()
            && let Some(bars) = self.reader.cache.bars(day, g, key)
        {
            let (f, t) = (self.from, self.to);
            // sorted by start (latest_revisions)
            let lo = bars.partition_point(|b| b.start < f);
            let hi = bars.partition_point(|b| b.start < t);
            self.pos = lo;
            self.shared = Some((bars, hi));
            return Ok(());
        }
        for seg in &segs {
            for e in &seg.toc.entries {
                if e.kind != KIND_BARS || e.symbol != self.symbol || e.timeframe_ms != tf_ms {
                    continue;
                }
                let h = match self.blocks.load(&seg.file, e, seg.toc.data_end) {
                    Err(err) => return Err(StoreError::io(&seg.path, err)),
                    Ok(Err(c)) => return Err(corrupt(&seg.path, e.offset, c)),
                    Ok(Ok(h)) => h,
                };
                codec::decode_bars_with(
                    &self.blocks.raw,
                    h.count as usize,
                    h.symbol,
                    self.tf,
                    &mut self.tmp,
                    &mut self.bar_scratch,
                )
                .map_err(|c| corrupt(&seg.path, e.offset, c))?;
                self.day_bars.extend_from_slice(&self.tmp);
            }
        }
        if !self.day_bars.is_empty() {
            segment::latest_revisions(&mut self.day_bars);
            // days enter the cache through the stored bars decoded from them
            let cached = cached
                .or_else(|| settled.and_then(|mt| self.reader.cache.insert_day(day, mt, &segs)));
            if let Some(g) = cached {
                let since = self.since;
                self.reader
                    .cache
                    .keep_bars(day, g, key, &self.day_bars, since);
            }
            if let Some(c) = self.carry.take() {
                self.day_bars.insert(0, c);
            }
        } else if self.rebuild {
            self.rebuild_day(&segs)?;
        }
        let (f, t) = (self.from, self.to);
        self.day_bars.retain(|b| b.start >= f && b.start < t);
        Ok(())
    }

    /// Bars of the day from its ticks; a bucket that crosses midnight is
    /// carried into the next day and merged there.
    fn rebuild_day(&mut self, segs: &[Arc<OpenSeg>]) -> Result<()> {
        let c = &mut self.cols;
        c.ts.clear();
        c.price.clear();
        c.size.clear();
        c.side.clear();
        c.qts.clear();
        c.mid.clear();
        let mut batch = Vec::new();
        for seg in segs {
            for e in &seg.toc.entries {
                if e.kind != KIND_TICKS || e.symbol != self.symbol {
                    continue;
                }
                let h = match self.blocks.load(&seg.file, e, seg.toc.data_end) {
                    Err(err) => return Err(StoreError::io(&seg.path, err)),
                    Ok(Err(cr)) => return Err(corrupt(&seg.path, e.offset, cr)),
                    Ok(Ok(h)) => h,
                };
                codec::decode_ticks_with(
                    &self.blocks.raw,
                    h.count as usize,
                    h.symbol,
                    &mut batch,
                    &mut self.blocks.cols,
                )
                .map_err(|cr| corrupt(&seg.path, e.offset, cr))?;
                for t in &batch {
                    if t.is_trade() {
                        c.ts.push(t.ts_event);
                        c.price.push(t.price);
                        c.size.push(t.size);
                        c.side.push(t.side);
                    } else {
                        c.qts.push(t.ts_event);
                        c.mid.push(t.mid());
                    }
                }
            }
        }
        let quotes = c.ts.is_empty();
        let mut out = std::mem::take(&mut self.day_bars);
        let spec = BatchSpec {
            symbol: self.symbol,
            timeframe: self.tf,
            origin_ns: 0,
            flags: if quotes { Bar::FLAG_QUOTES } else { 0 },
        };
        if quotes {
            sort_by_time(&mut c.qts, &mut [&mut c.mid]);
            c.zero.clear();
            c.zero.resize(c.qts.len(), 0.0);
            if let Ok(cols) = SortedColumns::new(&c.qts, &c.mid, &c.zero, None) {
                mtf::batch::aggregate(&cols, &spec, &mut out);
            }
        } else {
            if !c.ts.is_sorted() {
                let mut idx: Vec<u32> = (0..c.ts.len() as u32).collect();
                idx.sort_by_key(|&i| c.ts[i as usize]);
                c.ts = idx.iter().map(|&i| c.ts[i as usize]).collect();
                c.price = idx.iter().map(|&i| c.price[i as usize]).collect();
                c.size = idx.iter().map(|&i| c.size[i as usize]).collect();
                c.side = idx.iter().map(|&i| c.side[i as usize]).collect();
            }
            if let Ok(cols) = SortedColumns::new(&c.ts, &c.price, &c.size, Some(&c.side)) {
                mtf::batch::aggregate(&cols, &spec, &mut out);
            }
        }
        // merge a bucket that straddles midnight with its first half
        if let Some(prev) = self.carry.take() {
            match out.first_mut() {
                Some(b) if b.start == prev.start => *b = merge(&prev, b),
                _ => out.insert(0, prev),
            }
        }
        if let Some(last) = out.last()
            && last.end > (last.start.div_euclid(mtf::NANOS_PER_DAY) + 1) * mtf::NANOS_PER_DAY
        {
            self.carry = out.pop();
        }
        self.day_bars = out;
        Ok(())
    }
}

fn sort_by_time(ts: &mut Vec<i64>, cols: &mut [&mut Vec<f64>]) {
    if ts.is_sorted() {
        return;
    }
    let mut idx: Vec<u32> = (0..ts.len() as u32).collect();
    idx.sort_by_key(|&i| ts[i as usize]);
    *ts = idx.iter().map(|&i| ts[i as usize]).collect();
    for c in cols {
        **c = idx.iter().map(|&i| c[i as usize]).collect();
    }
}

/// `a` then `b`: the same bucket built from two consecutive runs of ticks.
fn merge(a: &Bar, b: &Bar) -> Bar {
    let volume = a.volume + b.volume;
    let vwap_num = a.vwap_num + b.vwap_num;
    Bar {
        high: a.high.max(b.high),
        low: a.low.min(b.low),
        close: b.close,
        volume,
        vwap_num,
        vwap: Bar::vwap_of(vwap_num, volume, b.close),
        buy_volume: a.buy_volume + b.buy_volume,
        sell_volume: a.sell_volume + b.sell_volume,
        count: a.count + b.count,
        last_ts: b.last_ts,
        ..*a
    }
}

impl BarIter {
    /// The next run of bars in range (the rest of a day; never empty), or
    /// `None` at the end. A day served from the reader's cache is lent
    /// straight from it, without a copy.
    pub fn next_batch(&mut self) -> Option<Result<&[Bar]>> {
        loop {
            if let Some((_, end)) = &self.shared {
                let end = *end;
                if self.pos < end {
                    let p = self.pos;
                    self.pos = end;
                    let (bars, _) = self.shared.as_ref()?;
                    return Some(Ok(&bars[p..end]));
                }
                self.shared = None;
                self.pos = 0;
            }
            if self.pos < self.day_bars.len() {
                let p = self.pos;
                self.pos = self.day_bars.len();
                return Some(Ok(&self.day_bars[p..]));
            }
            if let Err(e) = self.refill()? {
                return Some(Err(e));
            }
        }
    }

    /// Loads the next day (into `shared` or `day_bars`), or after the last
    /// day the bar carried over midnight when it is in range; `None` when
    /// nothing is left.
    fn refill(&mut self) -> Option<Result<()>> {
        if self.done {
            return None;
        }
        if let Some(day) = self.days.next() {
            return Some(self.load_day(day));
        }
        self.done = true;
        let c = self.carry.take()?;
        if c.start >= self.from && c.start < self.to {
            self.day_bars.clear();
            self.day_bars.push(c);
            self.pos = 0;
            return Some(Ok(()));
        }
        None
    }
}

impl Iterator for BarIter {
    type Item = Result<Bar>;

    fn next(&mut self) -> Option<Result<Bar>> {
        loop {
            if let Some((bars, end)) = &self.shared {
                if self.pos < *end {
                    self.pos += 1;
                    return Some(Ok(bars[self.pos - 1]));
                }
                self.shared = None;
                self.pos = 0;
            }
            if self.pos < self.day_bars.len() {
                self.pos += 1;
                return Some(Ok(self.day_bars[self.pos - 1]));
            }
            if let Err(e) = self.refill()? {
                return Some(Err(e));
            }
        }
    }
}

impl StoreReader {
    /// A reader of the store at `root` (which must exist). Needs no lock and
    /// no daemon.
    pub fn open(root: &Path) -> Result<StoreReader> {
        Self::with_cache(
            root,
            Self::DEFAULT_CACHED_SEGMENTS,
            Self::DEFAULT_CACHED_BAR_BYTES,
        )
    }

    /// Open segments a reader from [`StoreReader::open`] keeps cached.
    pub const DEFAULT_CACHED_SEGMENTS: usize = 512;
    /// Bytes of decoded stored bars it keeps (32 MiB: a year of 390 one-minute
    /// bars a day for one symbol is 18 MiB; 1,440 a day is 67 MiB).
    pub const DEFAULT_CACHED_BAR_BYTES: usize = 32 << 20;

    /// A reader that keeps up to `max_segments` sealed segments open across
    /// queries (one file descriptor each, plus its parsed index; 0 turns the
    /// cache off), and up to `max_bar_bytes` of the stored bars queries
    /// decoded from them. Only days whose segments are all sealed and whose
    /// directory has not changed for 2 s are cached; a cached day is checked
    /// against its directory's mtime at each use (one `stat`). Clones share
    /// the cache.
    pub fn with_cache(
        root: &Path,
        max_segments: usize,
        max_bar_bytes: usize,
    ) -> Result<StoreReader> {
        std::fs::metadata(root).map_err(|e| StoreError::io(root, e))?;
        Ok(StoreReader {
            root: root.to_owned(),
            cache: Arc::new(SegCache::new(max_segments, max_bar_bytes)),
        })
    }

    fn day_segs(&self, day: i32) -> Result<Vec<Arc<OpenSeg>>> {
        Ok(self.cache.day(&self.root, day)?.segs)
    }

    /// The store directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The symbol table as stored now.
    pub fn symbols(&self) -> Result<SymbolMap> {
        SymbolMap::load(&self.root)
    }

    /// UTC days that hold data, ascending.
    pub fn days(&self) -> Result<Vec<i32>> {
        layout::list_days(&self.root).map_err(|e| StoreError::io(&self.root, e))
    }

    fn days_in(&self, from: i64, to: i64) -> Result<Vec<i32>> {
        if to <= from {
            return Ok(Vec::new());
        }
        let (d0, d1) = (day_of(from), day_of(to - 1));
        let mut days = self.days()?;
        days.retain(|&d| d >= d0 && d <= d1);
        Ok(days)
    }

    /// Ticks of `symbol` with `from <= ts_event < to`.
    pub fn ticks(&self, symbol: SymbolId, from: i64, to: i64) -> Result<TickIter> {
        Ok(TickIter {
            walk: TickBlocks::new(self, symbol, from, to)?,
            batch: Vec::new(),
            pos: 0,
        })
    }

    /// Ticks of `symbol` with `from <= ts_event < to`, as columns a block at
    /// a time ([`TickColumnIter::next_batch`]); the same ticks in the same
    /// order as [`StoreReader::ticks`].
    pub fn tick_columns(&self, symbol: SymbolId, from: i64, to: i64) -> Result<TickColumnIter> {
        Ok(TickColumnIter {
            walk: TickBlocks::new(self, symbol, from, to)?,
        })
    }

    /// Bars of `symbol` and `tf` with `from <= start < to`: stored ones (latest
    /// revision), or rebuilt from ticks for days without stored bars of `tf`.
    pub fn bars(&self, symbol: SymbolId, tf: Timeframe, from: i64, to: i64) -> Result<BarIter> {
        self.bar_iter(symbol, tf, from, to, true)
    }

    /// Only stored bars (no rebuild).
    pub fn stored_bars(
        &self,
        symbol: SymbolId,
        tf: Timeframe,
        from: i64,
        to: i64,
    ) -> Result<BarIter> {
        self.bar_iter(symbol, tf, from, to, false)
    }

    fn bar_iter(
        &self,
        symbol: SymbolId,
        tf: Timeframe,
        from: i64,
        to: i64,
        rebuild: bool,
    ) -> Result<BarIter> {
        Ok(BarIter {
            reader: self.clone(),
            symbol,
            tf,
            from,
            to,
            rebuild,
            days: self.days_in(from, to)?.into_iter(),
            day_bars: Vec::new(),
            pos: 0,
            carry: None,
            blocks: BlockReader::new().map_err(|e| StoreError::io(&self.root, e))?,
            tmp: Vec::new(),
            bar_scratch: codec::BarScratch::default(),
            cols: DayColumns::default(),
            done: false,
            shared: None,
            since: self.cache.now(),
        })
    }

    /// Per symbol: counts, bytes, compression ratio, time range, last write.
    /// Reads only the segments' indexes (hot segments are scanned).
    pub fn info(&self) -> Result<Vec<SymbolInfo>> {
        let names = self.symbols()?;
        let mut m: BTreeMap<SymbolId, SymbolInfo> = BTreeMap::new();
        for day in self.days()? {
            for seg in self.day_segs(day)? {
                for e in &seg.toc.entries {
                    let i = m.entry(e.symbol).or_insert_with(|| SymbolInfo {
                        symbol: e.symbol,
                        ..SymbolInfo::default()
                    });
                    if e.kind == KIND_TICKS {
                        i.ticks += e.count as u64;
                        i.tick_bytes += e.record_len as u64;
                        i.first = Some(i.first.map_or(e.t_min, |f| f.min(e.t_min)));
                        i.last = Some(i.last.map_or(e.t_max, |l| l.max(e.t_max)));
                    } else {
                        i.bars += e.count as u64;
                        i.bar_bytes += e.record_len as u64;
                    }
                    if seg.modified > i.last_write {
                        i.last_write = seg.modified;
                    }
                }
            }
        }
        Ok(m.into_values()
            .map(|mut i| {
                i.name = names.name(i.symbol).map(str::to_owned);
                i.compression_ratio = if i.tick_bytes > 0 {
                    (i.ticks * 64) as f64 / i.tick_bytes as f64
                } else {
                    0.0
                };
                i
            })
            .collect())
    }

    /// Event time of the last stored tick of `symbol` (restart recovery).
    /// Reads the newest day that holds the symbol's ticks.
    pub fn last_tick_time(&self, symbol: SymbolId) -> Result<Option<i64>> {
        for day in self.days()?.into_iter().rev() {
            let mut best: Option<i64> = None;
            for seg in self.day_segs(day)? {
                for e in &seg.toc.entries {
                    if e.kind == KIND_TICKS && e.symbol == symbol {
                        best = Some(best.map_or(e.t_max, |b| b.max(e.t_max)));
                    }
                }
            }
            if best.is_some() {
                return Ok(best);
            }
        }
        Ok(None)
    }

    /// The latest stored bar (highest start, latest revision) of `symbol` and
    /// `tf`, for seeding the aggregator on restart.
    pub fn last_bar(&self, symbol: SymbolId, tf: Timeframe) -> Result<Option<Bar>> {
        for day in self.days()?.into_iter().rev() {
            let start = day as i64 * mtf::NANOS_PER_DAY;
            let end = start + mtf::NANOS_PER_DAY;
            let mut last = None;
            for b in self.stored_bars(symbol, tf, start, end)? {
                last = Some(b?);
            }
            if last.is_some() {
                return Ok(last);
            }
        }
        Ok(None)
    }
}
