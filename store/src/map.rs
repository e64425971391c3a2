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
use std::sync::atomic::AtomicU32;

use memmap2::{MmapOptions, MmapRaw};

/// A pre-allocated, pre-faulted, writable shared mapping of a whole file.
///
/// Not `Clone`: this value is the only handle that writes. Other threads get a
/// [`SyncHandle`], which can only msync.
pub struct MappedFile {
    map: Arc<MmapRaw>,
    _file: File,
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
    /// maps it shared and pre-faults every page.
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
        let map = MmapOptions::new().len(len).populate().map_raw(&file)?;
        Ok(MappedFile {
            map: Arc::new(map),
            _file: file,
        })
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
