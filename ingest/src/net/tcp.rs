//! One TCP connection: bounded read buffer, framing (binary or ILP), pending
//! ticks while the sink is full.

use std::io::{self, Read};
use std::net::SocketAddr;

use mio::net::TcpStream;
use mtf::Tick;

use crate::ilp::IlpStream;
use crate::seq::{SourceId, source_of};
use crate::sink::Sink;
use crate::wire::{FrameView, HEADER_LEN, TCP_PREFIX_LEN, WireError};

use super::Core;

/// Which parser a connection feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    Binary,
    Ilp,
}

/// What [`Conn::drive`] left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Drive {
    /// Read to `WouldBlock`, everything delivered: wait for the next event.
    Idle,
    /// The sink is full: retry soon, do not read meanwhile.
    Blocked,
    /// Still readable (read budget used up): drive again next round.
    More,
    /// Close it.
    Close,
}

pub(crate) struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    source: SourceId,
    proto: Proto,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Ticks parsed but not yet taken by the sink (allocated on first backpressure).
    pending: Vec<Tick>,
    pend_pos: usize,
    ilp: IlpStream,
    /// The last read hit end of file.
    eof: bool,
    /// A fatal framing error: close once everything before it is delivered.
    doomed: bool,
    /// Whether the connection is in the receiver's work list.
    pub queued: bool,
}

/// Reads per drive before yielding to other connections.
const READ_BUDGET: usize = 8;

impl Conn {
    pub fn new(stream: TcpStream, peer: SocketAddr, id: u64, proto: Proto, buf_len: usize) -> Conn {
        Conn {
            stream,
            peer,
            source: source_of(&peer),
            proto,
            buf: vec![0u8; buf_len].into_boxed_slice(),
            start: 0,
            end: 0,
            pending: Vec::new(),
            pend_pos: 0,
            ilp: IlpStream::new(id, Some(peer)),
            eof: false,
            doomed: false,
            queued: false,
        }
    }

    /// Delivers, parses and reads until the socket is drained, the sink is
    /// full, the read budget is used or the connection must close.
    pub fn drive<S: Sink>(&mut self, core: &mut Core<S>) -> Drive {
        let mut reads = 0;
        loop {
            // 1. what the sink refused before
            if self.pend_pos < self.pending.len() {
                let k = core.sink.offer_batch(&self.pending[self.pend_pos..]);
                core.counts.ticks += k as u64;
                self.pend_pos += k;
                if self.pend_pos < self.pending.len() {
                    return Drive::Blocked;
                }
                self.pending.clear();
                self.pend_pos = 0;
            }
            // 2. what is buffered
            let (n, progressed) = match self.proto {
                Proto::Binary => self.parse_binary(core),
                Proto::Ilp => self.parse_ilp(core),
            };
            if n > 0 {
                let k = core.sink.offer_batch(&core.scratch[..n]);
                core.counts.ticks += k as u64;
                if k < n {
                    core.counts.tcp_backpressure += 1;
                    if self.pending.capacity() == 0 {
                        self.pending.reserve_exact(core.scratch.len());
                    }
                    self.pending.extend_from_slice(&core.scratch[k..n]);
                    return Drive::Blocked;
                }
            }
            if progressed {
                continue;
            }
            if self.doomed {
                core.counts.tcp_bad_length += 1;
                return Drive::Close;
            }
            if self.eof {
                return Drive::Close;
            }
            // 3. read more
            if reads == READ_BUDGET {
                return Drive::More;
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                // Cannot happen: the buffer holds a maximal frame (and its prefix) or a maximal line (and `\r\n`),
                // and the parsers consume anything longer. Close rather than spin.
                core.counts.tcp_errors += 1;
                return Drive::Close;
            }
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => {
                    reads += 1;
                    self.end += k;
                    core.counts.tcp_bytes += k as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drive::Idle,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    core.counts.tcp_errors += 1;
                    tracing::debug!(peer = %self.peer, error = %e, "TCP read error; closing");
                    return Drive::Close;
                }
            }
        }
    }

    /// Frames in `buf[start..end]` into `core.scratch`: (ticks, made progress).
    fn parse_binary<S: Sink>(&mut self, core: &mut Core<S>) -> (usize, bool) {
        let mut n = 0usize;
        let mut progressed = false;
        let max_frame = core.max_frame;
        while !self.doomed && self.end - self.start >= TCP_PREFIX_LEN {
            let b = &self.buf[self.start..self.end];
            let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if (len as usize) < HEADER_LEN || len as usize > max_frame {
                let e = WireError::BadLength {
                    len,
                    max: max_frame,
                };
                core.wire.counts.bump_bad(&e);
                if let Some(suppressed) = core.log.allow(core.now) {
                    tracing::warn!(peer = %self.peer, len, max_frame, suppressed,
                        "TCP frame length out of range; closing the connection");
                }
                self.doomed = true;
                progressed = true;
                break;
            }
            let total = TCP_PREFIX_LEN + len as usize;
            if b.len() < total {
                break;
            }
            let frame = &b[TCP_PREFIX_LEN..total];
            match FrameView::parse(frame) {
                Err(e) => {
                    core.wire.counts.bump_bad(&e);
                    if let Some(suppressed) = core.log.allow(core.now) {
                        tracing::warn!(peer = %self.peer, error = %e, suppressed, "bad TCP frame skipped");
                    }
                }
                Ok(view) => {
                    if view.header.count as usize > core.scratch.len() - n {
                        break; // deliver what we have first
                    }
                    let skip = core.seq.check(self.source, &view.header, core.now);
                    // Room was checked above, so this cannot fail.
                    if let Ok(d) =
                        core.wire
                            .decode_from(&view, skip, core.now, &mut core.scratch[n..])
                    {
                        n += d.ticks;
                    }
                }
            }
            self.start += total;
            progressed = true;
        }
        (n, progressed)
    }

    fn parse_ilp<S: Sink>(&mut self, core: &mut Core<S>) -> (usize, bool) {
        let before = (self.start, self.ilp.line_no);
        let r = core.ilp.parse_buf(
            &mut self.ilp,
            &self.buf[self.start..self.end],
            self.eof,
            core.now,
            &mut core.scratch,
        );
        self.start += r.consumed;
        if self.eof && self.start == self.end {
            // Everything buffered is parsed; `drive` closes after delivering.
            return (r.ticks, r.ticks > 0);
        }
        (r.ticks, (self.start, self.ilp.line_no) != before)
    }
}
