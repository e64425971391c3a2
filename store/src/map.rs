//! The one module that memory-maps files.
//!
//! # The rule that keeps the mapping sound
//!
//! A mapping is only ever made of a file that **this process created and
//! owns** (a hot segment or the stage file of a writer holding that writer's
//! lock file), and such a file is **never truncated or shrunk while mapped**:
//! it is pre-allocated to its final length before mapping and only ever
//! unlinked (which keeps the mapped inode alive). Nothing outside this module
//! dereferences the mapping; readers in other processes use positional reads
//! ([`crate::io::ReadAt`]), never a mapping, so a writer's behaviour cannot make
//! them fault.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};

use memmap2::{Advice, MmapOptions, MmapRaw};

/// How far ahead of the highest byte written the mapping is pre-faulted:
/// a write that comes within half of this of the populated end populates the
/// next step of this size. A new segment costs one 256 KiB populate (~0.2 ms
/// of the writer's thread on ext4, ~2.7 µs a page), each later step the same
/// (a short stall, where 4 MiB steps cost ~3 ms), no write takes a page
/// fault, and a segment sealed early (a short day) has at most 256 KiB
/// populated beyond its data (4 MiB steps populated 8 MiB at creation,
/// 5.4 ms for a day of SPY whose ticks fill 1.1 MB).
pub const PREFAULT_AHEAD: usize = 256 << 10;

/// How far ahead of the highest byte written a [`Prefaulter`] thread keeps a
/// mapping populated ([`MappedFile::prefault_in_background`]): the writer
/// asks for this much more whenever it comes within half of it of what it
/// asked before. At 100 MB/s of writes (10 M ticks/s) 8 MiB is 80 ms of
/// lead; the writing thread populates a step itself only if the helper
/// falls that far behind.
pub const BACKGROUND_AHEAD: usize = 8 << 20;

/// A pre-allocated, writable shared mapping of a whole file, pre-faulted
/// [`PREFAULT_AHEAD`] / 2 to [`PREFAULT_AHEAD`] bytes ahead of its highest
/// write by the writing thread, or [`BACKGROUND_AHEAD`] / 2 to
/// [`BACKGROUND_AHEAD`] ahead by a [`prefaulter`] thread
/// ([`MappedFile::prefault_in_background`]).
///
/// Not `Clone`: this value is the only handle that writes. Other threads get a
/// [`SyncHandle`], which can only msync.
pub struct MappedFile {
    map: Arc<MmapRaw>,
    _file: File,
    /// `0 .. faulted` is populated writable (as far as this value knows:
    /// a [`prefaulter`] may have done more, see [`Helper::populated`]).
    faulted: usize,
    /// A write ending within `PREFAULT_AHEAD / 2` of this takes the cold
    /// path ([`MappedFile::prefault_to`]): `faulted`, or with a helper the
    /// lower of that and where the helper is to be asked for more;
    /// `usize::MAX` once all of the mapping is populated.
    check: usize,
    /// With a [`Prefaulter`]: where it is asked to, and what it populated.
    helper: Option<Helper>,
}

/// The writer's side of a [`Prefaulter`] for one mapping.
struct Helper {
    tx: Sender<Option<PopulateJob>>,
    /// Populated end published by the helper thread (and the writer).
    populated: Arc<AtomicUsize>,
    /// The helper has been asked to populate up to here.
    asked: usize,
}

/// "Populate `map` writable up to `to`", for a [`Prefaulter`] thread.
pub struct PopulateJob {
    map: Arc<MmapRaw>,
    populated: Arc<AtomicUsize>,
    to: usize,
}

impl PopulateJob {
    fn run(&self) {
        // Acquire: pairs with the Release stores below and in `MappedFile`,
        // so a step another thread finished is not populated again.
        let mut at = self.populated.load(Ordering::Acquire);
        let to = self.to.min(self.map.len());
        while at < to {
            let len = PREFAULT_AHEAD.min(self.map.len() - at);
            // `madvise(MADV_POPULATE_WRITE)` faults pages in as a write
            // would, without writing: the bytes stay what the writer made
            // them, so it may run beside the writer's stores (or after the
            // file was handed to the sealer: it changes nothing there).
            if self
                .map
                .advise_range(Advice::PopulateWrite, at, len)
                .is_err()
            {
                // unsupported (before Linux 5.14): pages fault in on write
                self.populated.store(self.map.len(), Ordering::Release);
                return;
            }
            at += len;
            // Release: pairs with the Acquire loads of the writer and of later jobs.
            self.populated.fetch_max(at, Ordering::Release);
        }
    }
}

/// A thread that populates mappings ahead of their writer, so the page
/// cache's fresh pages are zeroed there and not on the writing thread. Send
/// `None` to stop it.
pub fn prefaulter(rx: Receiver<Option<PopulateJob>>) {
    while let Ok(Some(job)) = rx.recv() {
        job.run();
    }
}

/// A handle that msyncs a mapping from another thread (the background syncer).
#[derive(Clone)]
pub struct SyncHandle {
    map: Arc<MmapRaw>,
}

impl SyncHandle {
    /// msync(MS_SYNC) of `offset .. offset + len` (clamped to the mapping).
    pub fn sync_range(&self, offset: usize, len: usize) -> io::Result<()> {
        let end = offset.saturating_add(len).min(self.map.len());
        if offset >= end {
            return Ok(());
        }
        self.map.flush_range(offset, end - offset)
    }
}

impl MappedFile {
    /// Creates `path` (it must not exist), allocates `len` bytes on disk,
    /// maps it shared and pre-faults its first [`PREFAULT_AHEAD`] bytes (the
    /// rest follows the writes, see [`MappedFile::write`]).
    ///
    /// # Safety
    ///
    /// The caller promises the module rule: the file belongs to this process
    /// (it holds the writer lock of the directory entry's owner) and nobody
    /// truncates it while the returned value lives.
    pub unsafe fn create(path: &Path, len: u64) -> io::Result<MappedFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        allocate(&file, len)?;
        // SAFETY: the caller upholds the rule above for the freshly created file.
        unsafe { Self::map(file, len) }
    }

    /// # Safety
    /// `file` is at least `len` bytes and follows the module rule.
    unsafe fn map(file: File, len: u64) -> io::Result<MappedFile> {
        let len = usize::try_from(len).map_err(|_| io::Error::other("mapping too large"))?;
        let map = MmapOptions::new().len(len).map_raw(&file)?;
        let mut m = MappedFile {
            map: Arc::new(map),
            _file: file,
            faulted: 0,
            check: 0,
            helper: None,
        };
        m.prefault_to(PREFAULT_AHEAD);
        Ok(m)
    }

    /// Populates the mapping writable up to `want` (clamped to its length),
    /// in [`PREFAULT_AHEAD`] steps. Where the kernel lacks
    /// `MADV_POPULATE_WRITE` (before Linux 5.14) pages fault in on first
    /// write instead, as in any mapping.
    #[cold]
    fn prefault_to(&mut self, want: usize) {
        let len = self.map.len();
        let want = want.min(len);
        if let Some(h) = &mut self.helper {
            // Acquire: pairs with the helper's Release store (a hint only:
            // populating a populated page again is merely wasted time).
            self.faulted = self.faulted.max(h.populated.load(Ordering::Acquire));
            if h.asked < len && want.saturating_add(BACKGROUND_AHEAD / 2) > h.asked {
                h.asked = want.saturating_add(BACKGROUND_AHEAD).min(len);
                let _ = h.tx.send(Some(PopulateJob {
                    map: Arc::clone(&self.map),
                    populated: Arc::clone(&h.populated),
                    to: h.asked,
                }));
            }
        }
        // Without a helper, or where it is less than half a step ahead of
        // this write: populate here.
        if self.helper.is_none() || self.faulted < want.saturating_sub(PREFAULT_AHEAD / 2) {
            while self.faulted < want {
                let step = PREFAULT_AHEAD.min(len - self.faulted);
                if self
                    .map
                    .advise_range(Advice::PopulateWrite, self.faulted, step)
                    .is_err()
                {
                    // unsupported (before Linux 5.14): pages fault in on write
                    self.faulted = len;
                    break;
                }
                self.faulted += step;
            }
            if let Some(h) = &self.helper {
                // Release: pairs with the helper's Acquire load (it skips this range).
                h.populated.fetch_max(self.faulted, Ordering::Release);
            }
        }
        self.check = match &self.helper {
            _ if self.faulted >= len => usize::MAX,
            Some(h) if h.asked < len => self.faulted.min(
                h.asked
                    .saturating_sub(BACKGROUND_AHEAD / 2 + PREFAULT_AHEAD / 2),
            ),
            _ => self.faulted,
        };
    }

    /// From now on a [`prefaulter`] thread (fed by `tx`) populates this
    /// mapping [`BACKGROUND_AHEAD`] ahead of the writes; a write populates
    /// a step itself only where the helper has fallen behind it.
    pub fn prefault_in_background(&mut self, tx: Sender<Option<PopulateJob>>) {
        self.helper = Some(Helper {
            tx,
            populated: Arc::new(AtomicUsize::new(self.faulted)),
            asked: self.faulted,
        });
        self.prefault_to(self.faulted);
    }

    /// Bytes populated so far.
    #[cfg(test)]
    pub fn faulted(&self) -> usize {
        self.faulted
    }

    /// Mapped length.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Copies `bytes` to `offset`; `false` (and nothing written) if it does not fit.
    #[inline]
    pub fn write(&mut self, offset: usize, bytes: &[u8]) -> bool {
        let Some(end) = offset.checked_add(bytes.len()) else {
            return false;
        };
        if end > self.map.len() {
            return false;
        }
        if end.saturating_add(PREFAULT_AHEAD / 2) > self.check {
            self.prefault_to(end.saturating_add(PREFAULT_AHEAD));
        }
        // SAFETY: `offset..end` lies inside the mapping (checked above), which
        // stays valid for `self`'s life (module rule: never truncated). Writes
        // need `&mut self` of the one non-Clone owner, so no two writes race and
        // no Rust reference into the mapping exists (SyncHandle only msyncs).
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.map.as_mut_ptr().add(offset),
                bytes.len(),
            );
        }
        true
    }

    /// Copies one 64-byte line to `offset` with non-temporal stores (they
    /// bypass the cache: no read of the line before it is overwritten);
    /// `false` (and nothing written) if it does not fit. Falls back to
    /// [`MappedFile::write`] off x86-64 or where `offset` is not 64-aligned.
    ///
    /// Non-temporal stores are not ordered with later stores: call
    /// [`MappedFile::fence`] before a store that must follow them (a count
    /// that makes the line count after a crash) and before reading the line.
    #[inline]
    pub fn write_line(&mut self, offset: usize, line: &[u8; 64]) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
            let Some(end) = offset.checked_add(64) else {
                return false;
            };
            if end > self.map.len() {
                return false;
            }
            if end.saturating_add(PREFAULT_AHEAD / 2) > self.check {
                self.prefault_to(end.saturating_add(PREFAULT_AHEAD));
            }
            let dst = self.map.as_mut_ptr().wrapping_add(offset);
            if dst.addr().is_multiple_of(64) {
                let dst = dst.cast::<__m128i>();
                let src = line.as_ptr().cast::<__m128i>();
                for k in 0..4 {
                    // SAFETY: `offset..offset + 64` lies inside the mapping
                    // (checked above), which stays valid for `self`'s life
                    // (module rule); `dst` is 64-aligned, so each 16-byte
                    // store is aligned; `src + k` is inside `line` (an
                    // unaligned load). Writes need `&mut self` of the one
                    // owner, so nothing races them; SSE2 is part of x86-64.
                    unsafe { _mm_stream_si128(dst.add(k), _mm_loadu_si128(src.add(k))) };
                }
                return true;
            }
        }
        self.write(offset, line)
    }

    /// Orders every earlier [`MappedFile::write_line`] before the stores and
    /// loads that follow (`sfence`; nothing off x86-64).
    #[inline]
    pub fn fence(&self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `sfence` has no preconditions (SSE, part of x86-64).
        unsafe {
            std::arch::x86_64::_mm_sfence()
        };
    }

    /// The bytes at `offset .. offset + len`, if inside the mapping.
    #[inline]
    pub fn bytes(&self, offset: usize, len: usize) -> Option<&[u8]> {
        if offset.checked_add(len)? > self.map.len() {
            return None;
        }
        // SAFETY: in bounds (checked above); the memory lives as long as
        // `&self` (module rule: never truncated while mapped) and is always
        // initialised (file pages). Nothing mutates it while the slice
        // lives: writes need `&mut self` of the one owner, other processes
        // do not write files this process owns (module rule), and the only
        // stores through `&self` are `atomic_u32` words, which callers keep
        // outside the ranges they read here (the stage's slot counts lie in
        // slot headers, its records after them).
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(offset), len) })
    }

    /// The u32 at `offset` (4-aligned, inside the mapping) as an atomic.
    #[inline]
    pub fn atomic_u32(&self, offset: usize) -> Option<&AtomicU32> {
        if !offset.is_multiple_of(4) || offset.checked_add(4)? > self.map.len() {
            return None;
        }
        // SAFETY: in bounds and 4-aligned (the mapping is page-aligned); the
        // memory lives as long as `&self`; every access to this word goes
        // through atomics (the owning writer stores, nobody else in this
        // process touches it).
        Some(unsafe { AtomicU32::from_ptr(self.map.as_mut_ptr().add(offset).cast::<u32>()) })
    }

    /// msync(MS_SYNC) of `offset .. offset + len` (clamped to the mapping).
    pub fn sync_range(&self, offset: usize, len: usize) -> io::Result<()> {
        let end = offset.saturating_add(len).min(self.map.len());
        if offset >= end {
            return Ok(());
        }
        self.map.flush_range(offset, end - offset)
    }

    /// msync(MS_SYNC) of the whole mapping.
    pub fn sync_all(&self) -> io::Result<()> {
        self.map.flush()
    }

    /// A handle for msync from another thread.
    pub fn sync_handle(&self) -> SyncHandle {
        SyncHandle {
            map: Arc::clone(&self.map),
        }
    }
}

/// Reserves `len` bytes for `file` (posix_fallocate, or set_len where unsupported).
fn allocate(file: &File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let l = libc::off_t::try_from(len).map_err(|_| io::Error::other("file too large"))?;
    // SAFETY: plain syscall on an fd we own; no memory is passed.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, l) };
    if rc == 0 {
        return Ok(());
    }
    if rc == libc::EOPNOTSUPP || rc == libc::EINVAL {
        return file.set_len(len);
    }
    Err(io::Error::from_raw_os_error(rc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefaults_ahead_of_the_writes_and_writes_land_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hot");
        let len = 6 * PREFAULT_AHEAD + 123;
        // SAFETY: a fresh file of this test, never truncated.
        let mut m = unsafe { MappedFile::create(&path, len as u64) }.unwrap();
        assert_eq!(m.len(), len);
        assert_eq!(m.faulted(), PREFAULT_AHEAD);
        assert!(m.write(0, b"head"));
        assert_eq!(m.faulted(), PREFAULT_AHEAD, "still half a step ahead");
        assert!(m.write(PREFAULT_AHEAD / 2, &[0; 4]));
        assert_eq!(m.faulted(), 2 * PREFAULT_AHEAD, "one more step");
        let at = 3 * PREFAULT_AHEAD + 7;
        assert!(m.write(at, b"middle"));
        assert!(m.faulted() >= at + 6 + PREFAULT_AHEAD);
        assert!(m.write(len - 4, b"tail"));
        assert_eq!(m.faulted(), len, "clamped to the mapping");
        assert!(!m.write(len - 3, b"tail"), "past the end: refused");
        m.sync_all().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), len);
        assert_eq!(&bytes[..4], b"head");
        assert_eq!(&bytes[at..at + 6], b"middle");
        assert_eq!(&bytes[len - 4..], b"tail");
        assert!(bytes[4..at].iter().all(|&b| b == 0));
    }

    /// Lines written with non-temporal stores are the file's bytes, at an
    /// aligned offset and (through the plain copy) at an unaligned one;
    /// one past the end is refused.
    #[test]
    fn lines_land_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.stage");
        let len = 4 * PREFAULT_AHEAD;
        // SAFETY: a fresh file of this test, never truncated.
        let mut m = unsafe { MappedFile::create(&path, len as u64) }.unwrap();
        let line = |k: u8| std::array::from_fn::<u8, 64, _>(|i| k ^ i as u8);
        let offsets = [0, 64, 3 * PREFAULT_AHEAD + 640, 1000, len - 64];
        for (k, &at) in offsets.iter().enumerate() {
            assert!(m.write_line(at, &line(k as u8 + 1)));
        }
        assert!(!m.write_line(len - 63, &line(9)));
        m.fence();
        assert_eq!(
            m.bytes(64, 64).unwrap(),
            &line(2)[..],
            "read back after the fence"
        );
        m.sync_all().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for (k, &at) in offsets.iter().enumerate() {
            assert_eq!(&bytes[at..at + 64], &line(k as u8 + 1)[..], "at {at}");
        }
    }

    /// With a pre-fault thread, the writer asks it for `BACKGROUND_AHEAD`
    /// more whenever it comes within half of that of its last request, and
    /// the bytes written are the file's whatever the helper did.
    #[test]
    fn a_helper_thread_populates_ahead_of_the_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hot");
        let len = 3 * BACKGROUND_AHEAD + 4096;
        // SAFETY: a fresh file of this test, never truncated.
        let mut m = unsafe { MappedFile::create(&path, len as u64) }.unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let helper = std::thread::spawn(move || prefaulter(rx));
        m.prefault_in_background(tx.clone());
        let asked = |m: &MappedFile| m.helper.as_ref().unwrap().asked;
        assert_eq!(asked(&m), PREFAULT_AHEAD + BACKGROUND_AHEAD);
        let mut at = 0;
        let mut want = Vec::new();
        while at + 64 <= len {
            let rec = [(at / 64) as u8; 64];
            assert!(m.write(at, &rec));
            want.push((at, rec));
            assert!(
                asked(&m) >= (at + 64 + PREFAULT_AHEAD + BACKGROUND_AHEAD / 2).min(len),
                "at {at}: asked {}",
                asked(&m)
            );
            at += 64 * 997;
        }
        assert_eq!(asked(&m), len, "clamped to the mapping");
        tx.send(None).unwrap();
        helper.join().unwrap();
        let populated = m.helper.as_ref().unwrap().populated.load(Ordering::Acquire);
        assert_eq!(populated, len, "every request ran before the stop");
        m.sync_all().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for (at, rec) in want {
            assert_eq!(&bytes[at..at + 64], &rec[..]);
        }
    }
}
