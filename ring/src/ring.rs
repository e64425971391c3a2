//! The broadcast ring: [`RingWriter`] (one per ring, in the daemon) and
//! [`RingReader`] (any number, in any process).

use crate::error::{DeadReason, Error, WriterStatus};
use crate::header::{self, FileKind, Header};
use crate::layout::{H_CURSOR, H_RECORDS, HEADER_SIZE, LINE_PAYLOAD_WORDS, LINE_SIZE, LINE_WORDS};
use crate::record::{self, EncodeError, Payload, Record};
use crate::seqlock::{
    Pos, Step, is_complete, line_count, line_index, newest, record_delta, ring_next,
    ring_publish_at,
};
use crate::shm::{Group, NewFile, Region, unix_ns};
use crate::sync::{AtomicU64, Ordering, fence};
use mtf::{Bar, SymbolId, Tick};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Records [`RingReader::next`] may skip (filtered or undecodable) in one call.
const MAX_SKIPS_PER_CALL: u32 = 4096;

/// Tries to find a start position while the writer rewrites the line looked
/// at (only a writer lapping a small ring during `open` makes this happen).
const SETTLE_TRIES: u32 = 1 << 16;

/// Smallest ring capacity, in 64-byte lines (a record takes one to three).
pub const MIN_CAPACITY: u64 = 4;
/// Largest ring capacity, in lines (2^27 lines = 8 GiB).
pub const MAX_CAPACITY: u64 = 1 << 27;

/// How to create a ring.
#[derive(Clone, Debug)]
pub struct RingConfig {
    /// 64-byte lines the ring holds: a power of two in
    /// [`MIN_CAPACITY`]..=[`MAX_CAPACITY`]. A tick or an event takes one
    /// line, a bar two. A reader that falls this far behind is lapped.
    pub capacity: u64,
    /// Group to give the file (mode 0640); `None` keeps the writer's group.
    pub group: Option<Group>,
}

impl Default for RingConfig {
    /// 2^17 lines (8 MiB), the writer's group.
    fn default() -> Self {
        RingConfig {
            capacity: 1 << 17,
            group: None,
        }
    }
}

fn ring_data_len(h: &Header) -> Option<u64> {
    if !h.capacity.is_power_of_two() || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&h.capacity) {
        return None;
    }
    h.capacity.checked_mul(LINE_SIZE as u64)
}

/// The writer of one ring. Single writer: it is `Send` but its methods take
/// `&mut self`, and only one process may create a given path at a time.
///
/// Publishing never waits for readers and never fails for lack of room: the
/// oldest record is overwritten.
pub struct RingWriter {
    region: Region,
    mask: u64,
    next: Pos,
    scratch: Payload,
    path: PathBuf,
    shut_down: bool,
}

impl RingWriter {
    /// Creates (or atomically replaces) the ring file at `path`, mode 0640,
    /// with the configured group, and maps it.
    pub fn create(path: impl AsRef<Path>, cfg: &RingConfig) -> Result<RingWriter, Error> {
        let path = path.as_ref();
        let cap = cfg.capacity;
        if !cap.is_power_of_two() || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&cap) {
            return Err(Error::Config(format!(
                "ring capacity {cap} must be a power of two in {MIN_CAPACITY}..={MAX_CAPACITY}"
            )));
        }
        let len = HEADER_SIZE + cap as usize * LINE_SIZE;
        let f = NewFile::create(path, len, cfg.group.as_ref())?;
        let h = Header {
            capacity: cap,
            timeframe_count: 0,
            writer_pid: std::process::id(),
            dir_offset: 0,
        };
        header::init(&f.region, FileKind::Ring, &h, &[]);
        let region = f.publish()?;
        Ok(RingWriter {
            region,
            mask: cap - 1,
            next: Pos::default(),
            scratch: [0; record::PAYLOAD_WORDS],
            path: path.to_path_buf(),
            shut_down: false,
        })
    }

    /// Publishes the first `lines` lines of the scratch payload.
    #[inline]
    fn publish_scratch(&mut self, lines: usize) -> u64 {
        put(
            &self.region,
            self.mask,
            &mut self.next,
            &self.scratch[..lines * LINE_PAYLOAD_WORDS],
        )
    }

    /// Publishes any record; returns its sequence number.
    #[inline]
    pub fn publish(&mut self, r: &Record) -> Result<u64, EncodeError> {
        let lines = record::encode(r, &mut self.scratch)?;
        Ok(self.publish_scratch(lines))
    }

    /// Publishes a bar (closed, corrected or update; two lines, three when
    /// its VWAP is not `vwap_num / volume`); returns its sequence number.
    #[inline]
    pub fn publish_bar(&mut self, kind: record::BarKind, bar: &Bar) -> Result<u64, EncodeError> {
        let lines = record::encode_bar(kind, bar, &mut self.scratch)?;
        Ok(self.publish_scratch(lines))
    }

    /// Publishes a tick (one line; two for a quote that has both an ask and
    /// an id, or a trade with an ask); returns its sequence number.
    #[inline]
    pub fn publish_tick(&mut self, t: &Tick) -> Result<u64, EncodeError> {
        let (first, full) = record::tick_words(t)?;
        if full {
            let lines = record::encode_tick(t, &mut self.scratch)?;
            return Ok(self.publish_scratch(lines));
        }
        // One line, straight from registers (no scratch round trip).
        Ok(put(&self.region, self.mask, &mut self.next, &first))
    }

    /// Announces a new symbol (whose name the snapshot directory holds).
    pub fn publish_symbol_added(&mut self, symbol: SymbolId) -> Result<u64, EncodeError> {
        self.publish(&Record::SymbolAdded {
            ts: unix_ns(),
            symbol,
        })
    }

    /// Refreshes the header heartbeat and publishes a heartbeat record. Call
    /// it several times per reader `dead_after` (every 100 ms to 1 s).
    pub fn heartbeat(&mut self) -> u64 {
        header::beat(&self.region);
        let lines = record::encode(&Record::Heartbeat { ts: unix_ns() }, &mut self.scratch)
            .expect("a heartbeat always encodes");
        self.publish_scratch(lines)
    }

    /// Refreshes the header heartbeat only (no record).
    #[inline]
    pub fn touch(&self) {
        header::beat(&self.region);
    }

    /// Records published so far (the next record's sequence number).
    #[inline]
    pub fn published(&self) -> u64 {
        self.next.record
    }

    /// Lines written so far.
    #[inline]
    pub fn lines_published(&self) -> u64 {
        self.next.line
    }

    /// Capacity in lines.
    #[inline]
    pub fn capacity(&self) -> u64 {
        self.mask + 1
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn do_shutdown(&mut self) {
        if !self.shut_down {
            self.shut_down = true;
            let _ = self.publish(&Record::Shutdown { ts: unix_ns() });
            header::mark_shut_down(&self.region);
        }
    }

    /// Publishes a shutdown record and marks the file shut down. The file
    /// stays (late readers see the last records); the next `create` at the
    /// same path replaces it. Dropping the writer does the same.
    pub fn shutdown(mut self) {
        self.do_shutdown();
    }
}

/// Publishes `payload` (whole lines) at `*next` in the ring mapped by
/// `region`, advances `*next` and returns the record's sequence number.
#[inline]
fn put(region: &Region, mask: u64, next: &mut Pos, payload: &[u64]) -> u64 {
    let pos = *next;
    let w = region.words();
    *next = ring_publish_at::<LINE_WORDS>(
        &w[HEADER_SIZE / 8..],
        &w[H_CURSOR / 8],
        &w[H_RECORDS / 8],
        mask,
        pos,
        payload,
    );
    pos.record
}

impl Drop for RingWriter {
    fn drop(&mut self) {
        self.do_shutdown();
    }
}

/// Where a new reader starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartAt {
    /// At the next record to be published (only new data).
    #[default]
    Newest,
    /// At the oldest record still in the ring (replays up to `capacity`
    /// lines).
    Oldest,
    /// At this sequence number (a reader resuming where it stopped). A
    /// record already overwritten gives a lap notice first, with the exact
    /// count; a number beyond the writer's is an error.
    Seq(u64),
}

/// How to open a reader.
#[derive(Clone, Debug)]
pub struct ReaderOptions {
    /// Where the ring reader starts.
    pub start: StartAt,
    /// A writer whose heartbeat is older than this is dead.
    pub dead_after: Duration,
    /// Fail to open when the writer is dead or shut down (default `true`;
    /// `false` reads what a stopped writer left).
    pub require_live: bool,
    /// Also call the writer dead when its pid does not exist (default
    /// `true`; turn off when the writer runs in another pid namespace).
    pub check_pid: bool,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            start: StartAt::Newest,
            dead_after: Duration::from_secs(3),
            require_live: true,
            check_pid: true,
        }
    }
}

/// Which records a reader delivers. Symbol and timeframe filters apply to
/// bars (symbol also to ticks); events are delivered unless turned off.
#[derive(Clone, Debug)]
pub struct Filter {
    symbols: Option<Vec<SymbolId>>,
    timeframes_ms: Option<Vec<u32>>,
    bars: bool,
    ticks: bool,
    events: bool,
}

impl Default for Filter {
    fn default() -> Self {
        Filter::all()
    }
}

impl Filter {
    /// Everything.
    pub fn all() -> Filter {
        Filter {
            symbols: None,
            timeframes_ms: None,
            bars: true,
            ticks: true,
            events: true,
        }
    }

    /// Only these symbols (bars and ticks).
    pub fn symbols(mut self, ids: impl IntoIterator<Item = SymbolId>) -> Filter {
        let mut v: Vec<SymbolId> = ids.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        self.symbols = Some(v);
        self
    }

    /// Only bars of these timeframes.
    pub fn timeframes(mut self, tfs: impl IntoIterator<Item = mtf::Timeframe>) -> Filter {
        let mut v: Vec<u32> = tfs.into_iter().map(|t| t.millis()).collect();
        v.sort_unstable();
        v.dedup();
        self.timeframes_ms = Some(v);
        self
    }

    /// Whether bar records pass.
    pub fn bars(mut self, on: bool) -> Filter {
        self.bars = on;
        self
    }

    /// Whether tick records pass.
    pub fn ticks(mut self, on: bool) -> Filter {
        self.ticks = on;
        self
    }

    /// Whether engine events (gap, heartbeat, shutdown, symbol added) pass.
    pub fn events(mut self, on: bool) -> Filter {
        self.events = on;
        self
    }

    #[inline]
    fn accepts(&self, p: &Payload) -> bool {
        use crate::layout::*;
        let sym_ok = || {
            self.symbols
                .as_ref()
                .is_none_or(|s| s.binary_search(&record::symbol_of(p)).is_ok())
        };
        match record::kind_of(p) {
            KIND_BAR_CLOSED | KIND_BAR_CORRECTED | KIND_BAR_UPDATE => {
                self.bars
                    && sym_ok()
                    && self
                        .timeframes_ms
                        .as_ref()
                        .is_none_or(|t| t.binary_search(&record::timeframe_ms_of(p)).is_ok())
            }
            KIND_TICK => self.ticks && sym_ok(),
            _ => self.events,
        }
    }
}

/// What [`RingReader::next`] delivers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Received {
    /// A record and its sequence number.
    Record {
        /// Sequence number (0 for the first record the writer published).
        seq: u64,
        /// The record.
        record: Record,
    },
    /// The reader fell more than the capacity behind: `lost` records were
    /// overwritten before it read them, and it now continues at the newest.
    Lapped {
        /// Records skipped (filtered-out ones included).
        lost: u64,
    },
}

/// Counters of one reader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// Records delivered.
    pub delivered: u64,
    /// Records read and dropped by the filter.
    pub filtered: u64,
    /// Times the reader was lapped.
    pub laps: u64,
    /// Records lost to laps, in total.
    pub lost: u64,
    /// Records of an unknown kind or with an invalid field, skipped.
    pub undecodable: u64,
}

/// How [`RingReader::next_wait`] waits: spin, then yield, then sleep with
/// doubling naps up to `max_park`. (Readers cannot write to the ring, so the
/// writer cannot wake them: parking is a timed sleep.)
#[derive(Clone, Copy, Debug)]
pub struct Wait {
    /// Polls with `spin_loop` before yielding.
    pub spins: u32,
    /// `yield_now` polls before sleeping.
    pub yields: u32,
    /// Longest nap; also how often a parked reader checks the writer's health.
    pub max_park: Duration,
    /// Give up after this long (`None`: wait until a record, a lap, or the
    /// writer's death or shutdown).
    pub timeout: Option<Duration>,
}

impl Default for Wait {
    /// 20,000 spins (up to about 1 ms where `pause` is slow, as on Skylake
    /// and later), 100 yields, naps up to 1 ms, no timeout.
    fn default() -> Self {
        Wait {
            spins: 20_000,
            yields: 100,
            max_park: Duration::from_millis(1),
            timeout: None,
        }
    }
}

/// Why [`RingReader::next_wait`] returned without a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The timeout passed.
    #[error("no record within the timeout")]
    Timeout,
    /// The writer shut down and everything it published was read.
    #[error("the writer shut down")]
    ShutDown,
    /// The writer died (no shutdown record will come).
    #[error("the writer is dead: {0}")]
    WriterDead(DeadReason),
}

/// A reader of one ring: a read-only mapping and a position.
pub struct RingReader {
    region: Region,
    mask: u64,
    next: Pos,
    /// Records lost before the start position (a `StartAt::Seq` already
    /// overwritten), reported by the first `next`.
    pending_lost: u64,
    filter: Filter,
    buf: Payload,
    stats: ReaderStats,
    pid: u32,
    dead_after: Duration,
    check_pid: bool,
    path: PathBuf,
    file: crate::shm::FileId,
}

impl RingReader {
    /// Opens the ring at `path` read-only. Errors: absent file, permission,
    /// another file kind or layout version, a corrupt header, and (unless
    /// `opts.require_live` is off) a dead or shut-down writer.
    pub fn open(path: impl AsRef<Path>, opts: &ReaderOptions) -> Result<RingReader, Error> {
        let path = path.as_ref();
        let (region, file) = crate::shm::open_readonly(path, true)?;
        let h = header::validate(&region, FileKind::Ring, path, ring_data_len)?;
        if opts.require_live {
            header::require_live(&region, path, h.writer_pid, opts.dead_after, opts.check_pid)?;
        }
        let mut r = RingReader {
            region,
            mask: h.capacity - 1,
            next: Pos::default(),
            pending_lost: 0,
            filter: Filter::all(),
            buf: [0; record::PAYLOAD_WORDS],
            stats: ReaderStats::default(),
            pid: h.writer_pid,
            dead_after: opts.dead_after,
            check_pid: opts.check_pid,
            path: path.to_path_buf(),
            file,
        };
        (r.next, r.pending_lost) = match opts.start {
            StartAt::Newest => (r.newest_pos(), 0),
            StartAt::Oldest => (r.oldest_pos(), 0),
            StartAt::Seq(n) => r.seq_pos(n)?,
        };
        Ok(r)
    }

    /// The data area and the line cursor.
    #[inline]
    fn parts(&self) -> (&[AtomicU64], &AtomicU64) {
        let w = self.region.words();
        (&w[HEADER_SIZE / 8..], &w[H_CURSOR / 8])
    }

    /// A line word (Relaxed, then an Acquire fence).
    fn line_word(&self, q: u64) -> u64 {
        let w = self.parts().0[(q & self.mask) as usize * LINE_WORDS].load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        w
    }

    /// The record number a complete line word names.
    fn record_of(&self, w: u64) -> u64 {
        let near = self.cursor();
        near.wrapping_add(record_delta(w, near) as u64)
    }

    /// Runs `f` until it finds a position: the writer can be rewriting the
    /// line looked at (it lapped the search), never for long.
    fn settle<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
        for i in 0..SETTLE_TRIES {
            if let Some(v) = f() {
                return Some(v);
            }
            if i % 64 == 63 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        None
    }

    /// Just after the newest complete record.
    fn newest_pos(&self) -> Pos {
        let (lines, cursor) = self.parts();
        Self::settle(|| {
            if cursor.load(Ordering::Relaxed) == 0 {
                return Some(Pos::default());
            }
            let (m, line, l) = newest::<LINE_WORDS>(lines, cursor, self.mask, self.cursor())?;
            Some(Pos {
                record: m.wrapping_add(1),
                line: line + l as u64,
            })
        })
        // Only a writer that laps a whole ring in every try gets here.
        .unwrap_or_else(|| Pos {
            record: self.cursor(),
            line: self.parts().1.load(Ordering::Relaxed),
        })
    }

    /// At the oldest record whose first line is still in the ring.
    fn oldest_pos(&self) -> Pos {
        let (_, cursor) = self.parts();
        Self::settle(|| {
            let c = cursor.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if c == 0 {
                return Some(Pos::default());
            }
            let q = c.saturating_sub(self.mask + 1);
            let w = self.line_word(q);
            if !is_complete(w) || line_index(w) > q {
                return None;
            }
            let (n, i) = (self.record_of(w), line_index(w));
            Some(if i == 0 {
                Pos { record: n, line: q }
            } else {
                // `q` is inside a record whose first line is gone: start
                // at the next one.
                Pos {
                    record: n.wrapping_add(1),
                    line: q - i + line_count(w) as u64,
                }
            })
        })
        .unwrap_or_else(|| self.newest_pos())
    }

    /// At record `n`: binary search of the line words between the oldest
    /// and the newest record. Returns the position and the records lost
    /// before it (when `n` was overwritten already).
    fn seq_pos(&self, n: u64) -> Result<(Pos, u64), Error> {
        let newest = self.newest_pos();
        if n == newest.record {
            return Ok((newest, 0));
        }
        if (n.wrapping_sub(newest.record) as i64) > 0 {
            return Err(Error::Config(format!(
                "start sequence number {n} is beyond the {} records the writer published",
                newest.record
            )));
        }
        let found = Self::settle(|| {
            let oldest = self.oldest_pos();
            if (n.wrapping_sub(oldest.record) as i64) < 0 {
                return Some((oldest, oldest.record.wrapping_sub(n)));
            }
            let (mut lo, mut hi) = (oldest.line, newest.line);
            // The first line whose record is `n` or newer.
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let w = self.line_word(mid);
                if !is_complete(w) {
                    return None;
                }
                if (self.record_of(w).wrapping_sub(n) as i64) < 0 {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            let w = self.line_word(lo);
            (is_complete(w) && self.record_of(w) == n && line_index(w) == 0).then_some((
                Pos {
                    record: n,
                    line: lo,
                },
                0,
            ))
        });
        // A writer lapping the search in every try: start at the newest and
        // count everything before it lost.
        Ok(found.unwrap_or((newest, newest.record.wrapping_sub(n))))
    }

    /// Builder-style [`RingReader::set_filter`].
    pub fn with_filter(mut self, f: Filter) -> RingReader {
        self.filter = f;
        self
    }

    /// Sets the filter; records from the current position on obey it.
    pub fn set_filter(&mut self, f: Filter) {
        self.filter = f;
    }

    /// The writer's count of records published so far.
    pub fn cursor(&self) -> u64 {
        let c = self.region.u64_at(H_RECORDS);
        fence(Ordering::Acquire);
        c
    }

    /// Sequence number of the next record this reader will look at.
    pub fn position(&self) -> u64 {
        self.next.record
    }

    /// Capacity in lines.
    pub fn capacity(&self) -> u64 {
        self.mask + 1
    }

    /// Counters.
    pub fn stats(&self) -> ReaderStats {
        self.stats
    }

    /// The writer's pid from the header.
    pub fn writer_pid(&self) -> u32 {
        self.pid
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer's state now (shut-down flag, pid, heartbeat age).
    pub fn writer_status(&self) -> WriterStatus {
        header::status(&self.region, self.pid, self.dead_after, self.check_pid)
    }

    /// Whether the path now names another file than the one this reader
    /// mapped (a restarted writer replaced it, or it was removed): reopen to
    /// follow the new writer. A `stat` call: for cold paths, such as after
    /// [`WaitError::ShutDown`] or [`WaitError::WriterDead`].
    pub fn replaced(&self) -> bool {
        crate::shm::file_id(&self.path) != Some(self.file)
    }

    /// The next record that passes the filter, a lap notice, or `None` when
    /// nothing new is there. Never blocks.
    #[inline]
    // Not an Iterator: `None` means "nothing yet", not "finished".
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Received> {
        // Bounded: a writer faster than the filter cannot keep one call
        // here forever; after this many skipped records it returns `None`
        // and the caller polls again.
        if self.pending_lost > 0 {
            let lost = std::mem::take(&mut self.pending_lost);
            self.stats.laps += 1;
            self.stats.lost += lost;
            return Some(Received::Lapped { lost });
        }
        for _ in 0..MAX_SKIPS_PER_CALL {
            let w = self.region.words();
            let (lines, cursor) = (&w[HEADER_SIZE / 8..], &w[H_CURSOR / 8]);
            match ring_next::<LINE_WORDS>(lines, cursor, self.mask, &mut self.next, &mut self.buf) {
                Step::Empty => return None,
                Step::Lapped { lost } => {
                    self.stats.laps += 1;
                    self.stats.lost += lost;
                    return Some(Received::Lapped { lost });
                }
                Step::Record { n: seq, lines } => {
                    if !self.filter.accepts(&self.buf) {
                        self.stats.filtered += 1;
                        continue;
                    }
                    match record::decode(&self.buf, lines) {
                        Ok(record) => {
                            self.stats.delivered += 1;
                            return Some(Received::Record { seq, record });
                        }
                        Err(_) => self.stats.undecodable += 1,
                    }
                }
            }
        }
        None
    }

    /// Like [`RingReader::next`], but waits (spin, yield, then timed naps)
    /// until a record or lap notice, the timeout, or the writer's end.
    pub fn next_wait(&mut self, wait: &Wait) -> Result<Received, WaitError> {
        for _ in 0..wait.spins {
            if let Some(r) = self.next() {
                return Ok(r);
            }
            std::hint::spin_loop();
        }
        let start = Instant::now();
        for _ in 0..wait.yields {
            if let Some(r) = self.next() {
                return Ok(r);
            }
            std::thread::yield_now();
        }
        let mut nap = Duration::from_micros(10).min(wait.max_park);
        loop {
            if let Some(r) = self.next() {
                return Ok(r);
            }
            match self.writer_status() {
                WriterStatus::Live => {}
                status => {
                    // The writer stops only after its last record: one
                    // more look, then report.
                    if let Some(r) = self.next() {
                        return Ok(r);
                    }
                    return Err(match status {
                        WriterStatus::Dead(why) => WaitError::WriterDead(why),
                        _ => WaitError::ShutDown,
                    });
                }
            }
            if wait.timeout.is_some_and(|t| start.elapsed() >= t) {
                return Err(WaitError::Timeout);
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(wait.max_park);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtf::Side;

    /// A heap ring through `Region` (runs under Miri).
    struct Heap {
        region: Region,
        mask: u64,
    }

    impl Heap {
        fn new(cap: u64) -> Heap {
            Heap {
                region: Region::heap(HEADER_SIZE / 8 + cap as usize * LINE_WORDS),
                mask: cap - 1,
            }
        }
        fn publish(&self, pos: Pos, r: &Record) -> Pos {
            let mut p: Payload = [0; record::PAYLOAD_WORDS];
            let lines = record::encode(r, &mut p).unwrap();
            let w = self.region.words();
            ring_publish_at::<LINE_WORDS>(
                &w[HEADER_SIZE / 8..],
                &w[H_CURSOR / 8],
                &w[H_RECORDS / 8],
                self.mask,
                pos,
                &p[..lines * LINE_PAYLOAD_WORDS],
            )
        }
        fn next(&self, pos: &mut Pos, out: &mut Payload) -> Step {
            let w = self.region.words();
            ring_next::<LINE_WORDS>(&w[HEADER_SIZE / 8..], &w[H_CURSOR / 8], self.mask, pos, out)
        }
    }

    fn bar(n: u64) -> Record {
        let mut b = mtf::Bar {
            symbol: 1,
            timeframe: mtf::Timeframe::S1,
            start: n as i64 * 1_000_000_000,
            end: (n as i64 + 1) * 1_000_000_000,
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 3.0,
            vwap: 0.0,
            vwap_num: 4.5,
            buy_volume: 1.0,
            sell_volume: 2.0,
            count: n,
            first_ts: 0,
            last_ts: 0,
            revision: 0,
            flags: 0,
        };
        b.vwap = mtf::Bar::vwap_of(b.vwap_num, b.volume, b.close);
        Record::Bar {
            kind: record::BarKind::Closed,
            bar: b,
        }
    }

    /// Publish, read, lap with an exact count, resume at the newest record,
    /// with one- and two-line records mixed and wrapping the ring's end.
    #[test]
    fn heap_ring_laps_exactly() {
        let ring = Heap::new(4);
        let mut out: Payload = [0; record::PAYLOAD_WORDS];
        let (mut wpos, mut rpos) = (Pos::default(), Pos::default());
        assert_eq!(ring.next(&mut rpos, &mut out), Step::Empty);
        let tick = |n: u64| Record::Tick(Tick::trade(1, n as i64, 1.0, 1.0, Side::Buy, n));
        wpos = ring.publish(wpos, &tick(0));
        wpos = ring.publish(wpos, &bar(1));
        for n in 0..2 {
            let Step::Record { n: got, lines } = ring.next(&mut rpos, &mut out) else {
                panic!("record {n}");
            };
            assert_eq!((got, lines), (n, n as usize + 1));
        }
        assert_eq!(rpos, wpos);
        // 3 lines used; a bar now wraps the end of the 4-line ring
        wpos = ring.publish(wpos, &bar(2));
        assert_eq!(
            ring.next(&mut rpos, &mut out),
            Step::Record { n: 2, lines: 2 }
        );
        assert_eq!(record::decode(&out, 2).unwrap(), bar(2));
        for n in 3..13 {
            wpos = ring.publish(wpos, &if n % 2 == 0 { bar(n) } else { tick(n) });
        }
        // wants 3, the ring holds only 11 and 12: resumes at 12, lost 3..=11
        assert_eq!(ring.next(&mut rpos, &mut out), Step::Lapped { lost: 9 });
        assert_eq!(
            ring.next(&mut rpos, &mut out),
            Step::Record { n: 12, lines: 2 }
        );
        assert_eq!(record::decode(&out, 2).unwrap(), bar(12));
        assert_eq!(ring.next(&mut rpos, &mut out), Step::Empty);
    }

    /// Writer and reader threads on one heap ring, records of one and two
    /// lines: under Miri, its data-race detector checks that every shared
    /// access is atomic.
    #[test]
    fn threads_on_a_heap_ring() {
        let ring = Heap::new(8);
        let total: u64 = if cfg!(miri) { 300 } else { 200_000 };
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut pos = Pos::default();
                for n in 0..total {
                    let r = if n % 3 == 0 {
                        bar(n)
                    } else {
                        Record::Tick(Tick::trade(1, n as i64, n as f64, 1.0, Side::Buy, !n))
                    };
                    pos = ring.publish(pos, &r);
                }
            });
            let mut out: Payload = [0; record::PAYLOAD_WORDS];
            let (mut pos, mut delivered, mut lost) = (Pos::default(), 0u64, 0u64);
            while pos.record < total {
                match ring.next(&mut pos, &mut out) {
                    Step::Record { n, lines } => {
                        match record::decode(&out, lines) {
                            Ok(Record::Tick(t)) => {
                                assert_eq!((t.ts_event, t.id), (n as i64, !n), "torn read")
                            }
                            Ok(b @ Record::Bar { .. }) => assert_eq!(b, bar(n), "torn read"),
                            other => panic!("record {n}: {other:?}"),
                        }
                        delivered += 1;
                    }
                    Step::Lapped { lost: l } => lost += l,
                    Step::Empty => std::thread::yield_now(),
                }
            }
            assert_eq!(delivered + lost, total);
        });
    }

    #[test]
    fn filter_selects_by_kind_symbol_and_timeframe() {
        let mut p: Payload = [0; record::PAYLOAD_WORDS];
        let t = Tick::trade(5, 0, 1.0, 1.0, Side::Buy, 0);
        record::encode_tick(&t, &mut p).unwrap();
        assert!(Filter::all().accepts(&p));
        assert!(Filter::all().symbols([5]).accepts(&p));
        assert!(!Filter::all().symbols([4, 6]).accepts(&p));
        assert!(!Filter::all().ticks(false).accepts(&p));
        // timeframe filters do not apply to ticks
        assert!(Filter::all().timeframes([mtf::Timeframe::M1]).accepts(&p));
        record::encode(&Record::Heartbeat { ts: 0 }, &mut p).unwrap();
        assert!(Filter::all().symbols([5]).accepts(&p));
        assert!(!Filter::all().events(false).accepts(&p));
        record::encode(&bar(1), &mut p).unwrap();
        assert!(Filter::all().timeframes([mtf::Timeframe::S1]).accepts(&p));
        assert!(!Filter::all().timeframes([mtf::Timeframe::M1]).accepts(&p));
    }
}
