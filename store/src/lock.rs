//! Advisory `flock` locks: writer ownership and the symbol table.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// An `flock` held until dropped.
pub(crate) struct Flock<'a> {
    file: &'a File,
}

impl<'a> Flock<'a> {
    /// Blocks until the exclusive lock is held.
    pub(crate) fn exclusive(file: &'a File) -> io::Result<Flock<'a>> {
        flock(file, libc::LOCK_EX)?;
        Ok(Flock { file })
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        let _ = flock(self.file, libc::LOCK_UN);
    }
}

/// Takes an exclusive lock without waiting; `Ok(false)` when another holder has it.
/// The lock lives as long as the file stays open.
pub(crate) fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    match flock(file, libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(false),
        Err(e) => Err(e),
    }
}

fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: plain syscall on an open fd; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
