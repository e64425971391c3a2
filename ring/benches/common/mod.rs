//! Shared by the ring benches: the file mapping of their bare seqlock
//! floors, and pinning.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::AtomicU64;

/// Maps `len` bytes of the file at `path` shared, read-write and populated;
/// `create`: creates (or truncates) it to that length first. Panics on any
/// failure (a bench). The caller unmaps it (`libc::munmap(base, len)`).
pub fn map_shared(path: &Path, len: usize, create: bool) -> *mut AtomicU64 {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(create)
        .open(path)
        .unwrap();
    if create {
        f.set_len(len as u64).unwrap();
    }
    // SAFETY: a fresh shared mapping of a file of `len` bytes that only
    // this bench maps, accessed only through atomics; the caller unmaps it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    p.cast()
}

/// Pins the calling thread to core `id` (an OS cpu number); warns if it
/// cannot.
pub fn pin(id: usize) {
    if !core_affinity::set_for_current(core_affinity::CoreId { id }) {
        eprintln!("warning: could not pin to core {id}");
    }
}
