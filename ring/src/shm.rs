//! The one module that maps memory: creating and opening the shared files, and
//! the clocks, pid and group look-ups the headers need.
//!
//! A mapping is seen only as a slice of `AtomicU64`: every access to shared
//! memory, header included, is an atomic word access (see `seqlock.rs` for why).

use crate::error::Error;
use crate::sync::AtomicU64;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

/// Mode of every file the writer creates: owner read-write, group read.
pub const FILE_MODE: u32 = 0o640;

/// The group the writer gives its files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Group {
    /// A group by name, looked up with `getgrnam_r`.
    Name(String),
    /// A numeric gid.
    Id(u32),
}

/// A run of 64-bit words shared with other processes: a file mapping, or (in
/// tests, so that Miri can run the code above it) heap memory.
pub(crate) struct Region {
    ptr: NonNull<AtomicU64>,
    words: usize,
    backing: Backing,
}

enum Backing {
    Mmap,
    #[cfg(test)]
    Heap,
}

// SAFETY: a Region is a pointer to memory only accessed through `AtomicU64`,
// which is Sync; the mapping (or box) lives as long as the Region.
unsafe impl Send for Region {}
// SAFETY: as above: shared access goes through atomics only.
unsafe impl Sync for Region {}

impl Region {
    /// The words. All of them are valid `AtomicU64`s for the Region's life.
    #[inline]
    pub(crate) fn words(&self) -> &[AtomicU64] {
        // SAFETY: `ptr` is 8-aligned (page-aligned mapping or a boxed
        // `[AtomicU64]`), valid for `words` words for the life of `self`
        // (unmapped/freed only in Drop), and only ever accessed through
        // atomics by this and every other process. AtomicU64 has the size and
        // alignment of u64, so any bit pattern is a valid value. A read-only
        // mapping is only loaded from, with Relaxed loads (`seqlock.rs`).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.words) }
    }

    /// A zeroed heap region of `words` words (tests and Miri).
    #[cfg(test)]
    pub(crate) fn heap(words: usize) -> Region {
        let b: Box<[AtomicU64]> = (0..words).map(|_| AtomicU64::new(0)).collect();
        let ptr = NonNull::new(Box::into_raw(b) as *mut AtomicU64).expect("Box is non-null");
        Region {
            ptr,
            words,
            backing: Backing::Heap,
        }
    }

    /// Maps `len` bytes of `file` shared, writable or not; `populate`
    /// pre-faults every page (no page fault later on the hot path).
    fn map(
        file: &File,
        len: usize,
        writable: bool,
        populate: bool,
        path: &Path,
    ) -> Result<Region, Error> {
        debug_assert!(len > 0 && len.is_multiple_of(8));
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh mapping chosen by the kernel (addr null) of an open
        // file descriptor; it aliases no Rust object. The file is only ever
        // mapped by tickd's writer (which owns it) and readers; the writer
        // never truncates a file after mapping it, so the mapping stays
        // backed (a truncation by another process would be SIGBUS, not UB
        // that Rust could observe silently).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED | if populate { libc::MAP_POPULATE } else { 0 },
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io_err(path, "mmap", io::Error::last_os_error()));
        }
        let ptr = NonNull::new(p as *mut AtomicU64)
            .ok_or_else(|| io_err(path, "mmap", io::Error::other("mapped at address 0")))?;
        Ok(Region {
            ptr,
            words: len / 8,
            backing: Backing::Mmap,
        })
    }

    /// Loads the `u64` at byte `off` (8-aligned).
    #[inline]
    pub(crate) fn u64_at(&self, off: usize) -> u64 {
        debug_assert!(off.is_multiple_of(8));
        self.words()[off / 8].load(crate::sync::Ordering::Relaxed)
    }

    /// Loads the `u32` at byte `off` (4-aligned), little-endian.
    #[inline]
    pub(crate) fn u32_at(&self, off: usize) -> u32 {
        debug_assert!(off.is_multiple_of(4));
        (self.u64_at(off & !7) >> ((off & 4) * 8)) as u32
    }

    /// The word at byte `off`.
    #[inline]
    pub(crate) fn word(&self, off: usize) -> &AtomicU64 {
        &self.words()[off / 8]
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        match self.backing {
            Backing::Mmap => {
                // SAFETY: `ptr`/`words` are exactly what mmap returned, and no
                // reference into the mapping outlives `self`.
                let _ = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.words * 8) };
            }
            #[cfg(test)]
            Backing::Heap => {
                let raw = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.words);
                // SAFETY: `raw` came from `Box::into_raw` of a boxed slice of
                // this length in `heap`, and is freed once, here.
                drop(unsafe { Box::from_raw(raw) });
            }
        }
    }
}

pub(crate) fn io_err(path: &Path, op: &'static str, source: io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// A file being created: written under a temporary name, renamed into place
/// by [`NewFile::publish`] once its header is complete, so a reader never sees
/// a half-initialised file and a restarted writer replaces the old file
/// atomically (readers of the old one keep their mapping and see it die).
pub(crate) struct NewFile {
    pub(crate) region: Region,
    tmp: PathBuf,
    path: PathBuf,
}

impl NewFile {
    /// Creates `path`'s temporary sibling of `len` zero bytes, mode 0640, the
    /// given group, and maps it writable.
    pub(crate) fn create(path: &Path, len: usize, group: Option<&Group>) -> Result<NewFile, Error> {
        let gid = group.map(resolve_group).transpose()?;
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp.{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        remove_stale_temporaries(path);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)
            .map_err(|e| io_err(&tmp, "create", e))?;
        let cleanup = |e: Error| {
            let _ = std::fs::remove_file(&tmp);
            e
        };
        // The umask may have cleared bits of FILE_MODE; set it exactly.
        // SAFETY: fchmod on an fd we own; no memory is passed.
        if unsafe { libc::fchmod(file.as_raw_fd(), FILE_MODE as libc::mode_t) } != 0 {
            return Err(cleanup(io_err(&tmp, "fchmod", io::Error::last_os_error())));
        }
        if let Some(gid) = gid {
            // SAFETY: fchown on an fd we own; uid -1 leaves the owner unchanged.
            if unsafe { libc::fchown(file.as_raw_fd(), u32::MAX, gid) } != 0 {
                return Err(cleanup(Error::Chown {
                    path: path.to_path_buf(),
                    gid,
                    source: io::Error::last_os_error(),
                }));
            }
        }
        file.set_len(len as u64)
            .map_err(|e| cleanup(io_err(&tmp, "ftruncate", e)))?;
        let region = Region::map(&file, len, true, true, &tmp).map_err(cleanup)?;
        Ok(NewFile {
            region,
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// Renames the file into place; returns its mapping.
    pub(crate) fn publish(self) -> Result<Region, Error> {
        if let Err(e) = std::fs::rename(&self.tmp, &self.path) {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(io_err(&self.path, "rename", e));
        }
        Ok(self.region)
    }
}

/// Which file a path names: (device, inode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId(u64, u64);

/// The file `path` names now, `None` when there is none.
pub(crate) fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| FileId(m.dev(), m.ino()))
}

/// Removes `<path>.tmp.<pid>` files whose writer process is gone (left by a
/// writer that crashed between creating and renaming its file), and our own.
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut prefix = name.to_os_string();
    prefix.push(".tmp.");
    let Some(prefix) = prefix.to_str().map(str::to_owned) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || !pid_alive(pid) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Opens `path` read-only and maps all of it read-only (`populate`: see
/// `Region::map`); also returns which file it was.
pub(crate) fn open_readonly(path: &Path, populate: bool) -> Result<(Region, FileId), Error> {
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::NotFound {
            path: path.to_path_buf(),
        },
        io::ErrorKind::PermissionDenied => Error::PermissionDenied {
            path: path.to_path_buf(),
        },
        _ => io_err(path, "open", e),
    })?;
    let md = file.metadata().map_err(|e| io_err(path, "stat", e))?;
    let id = {
        use std::os::unix::fs::MetadataExt;
        FileId(md.dev(), md.ino())
    };
    let len = md.len();
    if len < crate::layout::HEADER_SIZE as u64 || len % 8 != 0 {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            what: "file shorter than its header or not a multiple of 8 bytes",
        });
    }
    let len = usize::try_from(len).map_err(|_| Error::Corrupt {
        path: path.to_path_buf(),
        what: "file larger than the address space",
    })?;
    Ok((Region::map(&file, len, false, populate, path)?, id))
}

/// Resolves a group to its gid.
pub(crate) fn resolve_group(g: &Group) -> Result<u32, Error> {
    let name = match g {
        Group::Id(id) => return Ok(*id),
        Group::Name(n) => n,
    };
    let c = CString::new(name.as_bytes()).map_err(|_| Error::UnknownGroup(name.clone()))?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: all-zero is a valid `group` (null pointers, zero gid).
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call: `c` NUL-terminated,
        // `grp` and `result` locals, `buf` of `buf.len()` bytes.
        let rc = unsafe {
            libc::getgrnam_r(
                c.as_ptr(),
                &mut grp,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return Err(Error::UnknownGroup(name.clone()));
        }
        return Ok(grp.gr_gid);
    }
}

/// CLOCK_MONOTONIC in ns: the heartbeat clock (the same for every process of
/// one boot; Python's `time.monotonic_ns()` on Linux).
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// Wall clock, ns since the Unix epoch.
#[inline]
pub fn unix_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Whether a process with this pid exists (in our pid namespace).
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore)] // calls into libc's group database
    fn groups_resolve_by_name_and_id() {
        assert_eq!(resolve_group(&Group::Id(1234)).unwrap(), 1234);
        let has_root = std::fs::read_to_string("/etc/group")
            .map(|g| g.lines().any(|l| l.starts_with("root:")))
            .unwrap_or(false);
        if has_root {
            assert_eq!(resolve_group(&Group::Name("root".into())).unwrap(), 0);
        }
        assert!(matches!(
            resolve_group(&Group::Name("no-such-group-tickd".into())),
            Err(Error::UnknownGroup(_))
        ));
        assert!(matches!(
            resolve_group(&Group::Name("nul\0byte".into())),
            Err(Error::UnknownGroup(_))
        ));
    }

    #[test]
    #[cfg_attr(miri, ignore)] // file system and kill(2)
    fn stale_temporaries_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ring");
        let stale = dir.path().join("x.ring.tmp.1073741000"); // no such pid
        let other = dir.path().join("y.ring.tmp.1073741000");
        std::fs::write(&stale, b"").unwrap();
        std::fs::write(&other, b"").unwrap();
        remove_stale_temporaries(&path);
        assert!(!stale.exists());
        assert!(other.exists());
    }
}
