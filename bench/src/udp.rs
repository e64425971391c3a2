//! Datagrams sent in batches with `sendmmsg(2)`: one system call for up to
//! `cap` datagrams, which is what lets one sender core offer millions of
//! ticks per second over UDP.

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// Up to `cap` datagrams of at most `max_len` bytes each, copied in, sent together.
pub struct Batch {
    buf: Vec<u8>,
    lens: Vec<usize>,
    cap: usize,
    max_len: usize,
    iov: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in `iov`/`hdrs` are rebuilt from `buf` on every
// flush and never dereferenced outside `flush`; the batch owns `buf`.
unsafe impl Send for Batch {}

impl Batch {
    /// A batch of at most `cap` (≥ 1) datagrams of at most `max_len` bytes.
    pub fn new(cap: usize, max_len: usize) -> Batch {
        let cap = cap.clamp(1, 1024);
        Batch {
            buf: vec![0; cap * max_len],
            lens: Vec::with_capacity(cap),
            cap,
            max_len,
            iov: Vec::with_capacity(cap),
            hdrs: Vec::with_capacity(cap),
        }
    }

    /// Datagrams queued.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    /// No datagram queued.
    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// `cap` datagrams queued: flush before the next push.
    pub fn is_full(&self) -> bool {
        self.lens.len() == self.cap
    }

    /// Queues a copy of `d` (truncated to `max_len`; callers build frames of
    /// at most that size). A full batch drops nothing: callers flush first.
    pub fn push(&mut self, d: &[u8]) {
        debug_assert!(!self.is_full() && d.len() <= self.max_len);
        if self.is_full() {
            return;
        }
        let n = d.len().min(self.max_len);
        let at = self.lens.len() * self.max_len;
        self.buf[at..at + n].copy_from_slice(&d[..n]);
        self.lens.push(n);
    }

    /// Sends every queued datagram on the connected socket `sock`, retrying
    /// on `EINTR`. Datagrams the kernel refuses with `ENOBUFS`/`EAGAIN` are
    /// dropped and their number returned (UDP promises nothing more).
    pub fn flush(&mut self, sock: &UdpSocket) -> io::Result<u64> {
        let mut dropped = 0u64;
        let mut from = 0usize;
        while from < self.lens.len() {
            self.iov.clear();
            self.hdrs.clear();
            for (k, &len) in self.lens.iter().enumerate().skip(from) {
                self.iov.push(libc::iovec {
                    // SAFETY: `k * max_len + len <= buf.len()` since k < cap and
                    // len <= max_len; the pointer stays in bounds of `buf`.
                    iov_base: unsafe { self.buf.as_mut_ptr().add(k * self.max_len) }.cast(),
                    iov_len: len,
                });
            }
            for iov in self.iov.iter_mut() {
                // SAFETY: mmsghdr is a plain C struct for which all-zero is valid
                // (null name, no control data).
                let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                self.hdrs.push(h);
            }
            // SAFETY: `hdrs` holds `hdrs.len()` initialised headers whose iovecs
            // point into `buf`, alive and unmoved for the duration of the call.
            let r = unsafe {
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    self.hdrs.as_mut_ptr(),
                    self.hdrs.len() as libc::c_uint,
                    0,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::ECONNREFUSED) => {
                        // The first datagram was refused: drop it and go on.
                        dropped += 1;
                        from += 1;
                        continue;
                    }
                    _ => {
                        self.lens.clear();
                        return Err(e);
                    }
                }
            }
            from += r as usize;
        }
        self.lens.clear();
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_every_datagram_in_order() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let mut b = Batch::new(4, 16);
        for k in 0..4u8 {
            b.push(&[k; 10][..(k as usize + 1)]);
        }
        assert!(b.is_full());
        assert_eq!(b.flush(&tx).unwrap(), 0);
        assert!(b.is_empty());
        let mut buf = [0u8; 64];
        for k in 0..4u8 {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[k; 10][..(k as usize + 1)]);
        }
    }
}
