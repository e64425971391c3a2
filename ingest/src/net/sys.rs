//! Batched datagram I/O: `recvmmsg(2)` and `sendmmsg(2)`, and the socket
//! options the receivers set. The crate's `unsafe` lives here, apart from the SSE2 kernels of the importers' batch path (`import/window.rs`).

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

use socket2::Socket;

/// Control-message space per datagram: one `SO_RXQ_OVFL` `u32` (CMSG_SPACE(4)
/// is 24 on 64-bit Linux), with room to spare.
const CTRL_LEN: usize = 64;

/// One datagram of a [`RecvBatch`].
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    /// The bytes received (at most the slot size).
    pub data: &'a [u8],
    /// The sender.
    pub peer: Option<SocketAddr>,
    /// The datagram was longer than the slot and was cut.
    pub truncated: bool,
    /// The socket's cumulative kernel drop counter (`SO_RXQ_OVFL`) when it came;
    /// the kernel only attaches it once it is non-zero (`None`: no drop so far).
    pub kernel_drops: Option<u32>,
}

/// Buffers for one `recvmmsg` call of up to `n` datagrams of up to `slot` bytes.
///
/// Allocated once; [`RecvBatch::recv`] allocates nothing.
pub struct RecvBatch {
    data: Vec<u64>,
    slot_words: usize,
    addrs: Vec<libc::sockaddr_storage>,
    ctrl: Vec<[u64; CTRL_LEN / 8]>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    filled: usize,
}

impl RecvBatch {
    /// Room for `n` datagrams (1..=1024) of `slot` bytes each.
    pub fn new(n: usize, slot: usize) -> RecvBatch {
        let n = n.clamp(1, 1024);
        let slot_words = slot.max(1).div_ceil(8);
        RecvBatch {
            data: vec![0; n * slot_words],
            slot_words,
            // SAFETY: sockaddr_storage, iovec and mmsghdr are plain C structs for which
            // all-zero bytes are a valid value (null pointers, zero lengths).
            addrs: (0..n).map(|_| unsafe { zeroed() }).collect(),
            ctrl: vec![[0; CTRL_LEN / 8]; n],
            // SAFETY: as above.
            iovs: (0..n).map(|_| unsafe { zeroed() }).collect(),
            // SAFETY: as above.
            hdrs: (0..n).map(|_| unsafe { zeroed() }).collect(),
            filled: 0,
        }
    }

    /// Datagrams a call takes at most.
    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// One non-blocking `recvmmsg`: how many datagrams arrived (0 never; an
    /// empty socket is `Err(WouldBlock)`). `Interrupted` is retried.
    pub fn recv(&mut self, fd: &impl AsRawFd) -> io::Result<usize> {
        let slot_bytes = self.slot_words * 8;
        let n = self.hdrs.len();
        for i in 0..n {
            self.iovs[i] = libc::iovec {
                // In bounds: `data` holds `n * slot_words` words.
                iov_base: self.data[i * self.slot_words..].as_mut_ptr().cast(),
                iov_len: slot_bytes,
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&raw mut self.addrs[i]).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &raw mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.ctrl[i].as_mut_ptr().cast();
            h.msg_controllen = CTRL_LEN as _;
            h.msg_flags = 0;
            self.hdrs[i].msg_len = 0;
        }
        self.filled = 0;
        loop {
            // SAFETY: every header points at buffers owned by `self` that stay alive and
            // unmoved for the call: `iovs[i]` at slot `i` of `data` (`slot_bytes` long),
            // `addrs[i]` with its true size, `ctrl[i]` with CTRL_LEN bytes. `n` is the
            // length of `hdrs`. A null timeout is allowed.
            let r = unsafe {
                libc::recvmmsg(
                    fd.as_raw_fd(),
                    self.hdrs.as_mut_ptr(),
                    n as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if r >= 0 {
                self.filled = r as usize;
                return Ok(self.filled);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Datagram `i` of the last [`RecvBatch::recv`] (`i` < its result).
    pub fn get(&self, i: usize) -> Option<Datagram<'_>> {
        if i >= self.filled {
            return None;
        }
        let h = &self.hdrs[i];
        let slot = &self.data[i * self.slot_words..(i + 1) * self.slot_words];
        // SAFETY: `slot` is a valid `[u64]` slice; viewing its bytes as `u8` is always
        // valid (no padding, alignment 1), and the length is its exact byte size.
        let bytes: &[u8] =
            unsafe { std::slice::from_raw_parts(slot.as_ptr().cast::<u8>(), slot.len() * 8) };
        let len = (h.msg_len as usize).min(bytes.len());
        let peer = sockaddr_to_std(&self.addrs[i], h.msg_hdr.msg_namelen);
        Some(Datagram {
            data: &bytes[..len],
            peer,
            truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
            kernel_drops: self.rxq_ovfl(i),
        })
    }

    fn rxq_ovfl(&self, i: usize) -> Option<u32> {
        let h = &self.hdrs[i].msg_hdr;
        #[allow(clippy::unnecessary_cast)] // `size_t` on glibc, `socklen_t` on musl
        let len = (h.msg_controllen as usize).min(CTRL_LEN);
        let buf = &self.ctrl[i];
        // SAFETY: as in `get`: bytes of an owned `[u64]` array.
        let ctrl: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) };
        // Walk the cmsg headers by hand (no pointer arithmetic outside `ctrl`).
        let hdr = size_of::<libc::cmsghdr>();
        let mut off = 0usize;
        while off + hdr <= ctrl.len() {
            let word = |o: usize, n: usize| -> u64 {
                let mut x = [0u8; 8];
                x[..n].copy_from_slice(&ctrl[o..o + n]);
                u64::from_ne_bytes(x)
            };
            let cmsg_len = word(off, size_of::<libc::size_t>()) as usize;
            let level = word(off + size_of::<libc::size_t>(), 4) as u32 as i32;
            let ty = word(off + size_of::<libc::size_t>() + 4, 4) as u32 as i32;
            if cmsg_len < hdr || off + cmsg_len > ctrl.len() {
                return None;
            }
            if level == libc::SOL_SOCKET && ty == libc::SO_RXQ_OVFL && cmsg_len >= hdr + 4 {
                return Some(word(off + hdr, 4) as u32);
            }
            off += cmsg_len.div_ceil(size_of::<libc::size_t>()) * size_of::<libc::size_t>();
        }
        None
    }
}

/// The standard form of a socket address the kernel wrote (`len` bytes).
fn sockaddr_to_std(ss: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match ss.ss_family as libc::c_int {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family is AF_INET and `len` covers a sockaddr_in, so the kernel
            // wrote one at the start of the storage, which is larger and at least as aligned.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above for AF_INET6 and sockaddr_in6.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Buffers for `sendmmsg` on a connected UDP socket (load generators, `tickctl send`).
pub struct SendBatch {
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers inside are only scratch, rewritten before every call
// and never dereferenced outside `send`, which borrows what they point at.
unsafe impl Send for SendBatch {}
// SAFETY: as above: no shared access through `&SendBatch` touches the pointers.
unsafe impl Sync for SendBatch {}
// SAFETY: as above for RecvBatch: every pointer is reset before each call to
// point into buffers the batch owns.
unsafe impl Send for RecvBatch {}

impl SendBatch {
    /// Room for up to `n` datagrams per call (1..=1024).
    pub fn new(n: usize) -> SendBatch {
        let n = n.clamp(1, 1024);
        SendBatch {
            // SAFETY: all-zero iovec / mmsghdr are valid (null pointers, zero lengths).
            iovs: (0..n).map(|_| unsafe { zeroed() }).collect(),
            // SAFETY: as above.
            hdrs: (0..n).map(|_| unsafe { zeroed() }).collect(),
        }
    }

    /// Sends up to `capacity` of `frames`, one datagram each, on a connected
    /// socket; returns how many went (`WouldBlock` when none could).
    pub fn send(&mut self, fd: &impl AsRawFd, frames: &[&[u8]]) -> io::Result<usize> {
        let n = frames.len().min(self.hdrs.len());
        if n == 0 {
            return Ok(0);
        }
        for (i, f) in frames[..n].iter().enumerate() {
            self.iovs[i] = libc::iovec {
                iov_base: f.as_ptr() as *mut libc::c_void,
                iov_len: f.len(),
            };
            // SAFETY: all-zero is a valid mmsghdr (see `new`).
            self.hdrs[i] = unsafe { zeroed() };
            self.hdrs[i].msg_hdr.msg_iov = &raw mut self.iovs[i];
            self.hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        loop {
            // SAFETY: the first `n` headers each point at one iovec owned by `self`,
            // which points at a frame borrowed for this call; the kernel only reads
            // the frames. No address: the socket is connected.
            let r = unsafe {
                libc::sendmmsg(fd.as_raw_fd(), self.hdrs.as_mut_ptr(), n as libc::c_uint, 0)
            };
            if r >= 0 {
                return Ok(r as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// How the receive buffer request went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvBufOutcome {
    /// Bytes asked for.
    pub requested: usize,
    /// What the kernel reports now (Linux doubles the value set, for bookkeeping).
    pub effective: usize,
    /// `SO_RCVBUFFORCE` worked (needs `CAP_NET_ADMIN`); otherwise `SO_RCVBUF`,
    /// capped by `net.core.rmem_max`.
    pub forced: bool,
}

fn setsockopt_int(fd: RawFd, level: i32, name: i32, v: i32) -> io::Result<()> {
    // SAFETY: `v` is a live c_int and the length passed is its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const v).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets the receive buffer: `SO_RCVBUFFORCE` when allowed, else `SO_RCVBUF`.
pub fn set_recv_buffer(s: &Socket, bytes: usize) -> io::Result<RecvBufOutcome> {
    let v = bytes.min(i32::MAX as usize / 2) as i32;
    let forced = setsockopt_int(s.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v).is_ok();
    if !forced {
        s.set_recv_buffer_size(v as usize)?;
    }
    Ok(RecvBufOutcome {
        requested: bytes,
        effective: s.recv_buffer_size()?,
        forced,
    })
}

/// Asks the kernel to report its drop counter with every datagram (`SO_RXQ_OVFL`).
pub fn enable_rxq_ovfl(s: &Socket) -> io::Result<()> {
    setsockopt_int(s.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn batches_round_trip_over_loopback_with_drop_counter_and_truncation() {
        let rx = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        enable_rxq_ovfl(&rx).unwrap();
        let out = set_recv_buffer(&rx, 1 << 20).unwrap();
        assert!(out.effective >= 1 << 16, "{out:?}");
        rx.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        let rx: UdpSocket = rx.into();
        let addr = rx.local_addr().unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(addr).unwrap();
        let frames: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 10 + i as usize * 10]).collect();
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        let mut sb = SendBatch::new(4);
        let mut sent = 0;
        while sent < refs.len() {
            sent += sb.send(&tx, &refs[sent..]).unwrap();
        }
        let mut rb = RecvBatch::new(8, 64);
        let mut got = Vec::new();
        while got.len() < 10 {
            match rb.recv(&rx) {
                Ok(n) => {
                    for i in 0..n {
                        let d = rb.get(i).unwrap();
                        assert_eq!(d.peer, Some(tx.local_addr().unwrap()));
                        assert_eq!(d.kernel_drops.unwrap_or(0), 0);
                        got.push((d.data.to_vec(), d.truncated));
                    }
                    assert!(rb.get(n).is_none());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        for (i, (data, trunc)) in got.iter().enumerate() {
            let want = &frames[i];
            assert_eq!(*trunc, want.len() > 64, "{i}");
            assert_eq!(data[..], want[..want.len().min(64)]);
        }
    }
}
