//! The receivers: one mio poll loop per ingest thread, a thin shell around
//! the pure parsers of [`crate::wire`] and [`crate::ilp`].
//!
//! A [`Receiver`] owns optional listeners for the binary format over UDP and
//! TCP and for ILP over TCP and UDP, and hands every accepted tick to its
//! [`Sink`] (see [`crate::sink`] for the backpressure contract):
//!
//! - UDP is read in batches with `recvmmsg(2)` until the socket is drained;
//!   the receive buffer is set with `SO_RCVBUFFORCE` when allowed (the
//!   default buffer loses datagrams at full rate), else `SO_RCVBUF`; the
//!   kernel's drop counter (`SO_RXQ_OVFL`) is read with every datagram.
//! - TCP connections have a bounded read buffer, a maximum frame or line
//!   length, a maximum count; a connection whose ticks the sink refused is not
//!   read until they are taken, so TCP never drops a tick.
//!
//! Per tick the loop does no allocation, takes no lock and makes no system
//! call; system calls are per batch of datagrams or per read.
//!
//! ```no_run
//! use std::sync::{Arc, atomic::AtomicBool};
//! use ingest::net::{Receiver, ReceiverConfig};
//! use ingest::sink::CountingSink;
//! use ingest::SymbolTable;
//!
//! let cfg = ReceiverConfig {
//!     udp_binary: Some("0.0.0.0:7001".parse().unwrap()),
//!     ilp_tcp: Some("0.0.0.0:9009".parse().unwrap()),
//!     ..ReceiverConfig::default()
//! };
//! let symbols = Arc::new(SymbolTable::new(100_000));
//! let mut rx = Receiver::bind(&cfg, symbols, CountingSink::default()).unwrap();
//! let stop = AtomicBool::new(false);
//! rx.run(&stop).unwrap();
//! ```

mod config;
pub mod send;
pub mod sys;
mod tcp;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, UdpSocket};
use mio::{Events, Interest, Poll, Token};
use mtf::Tick;
use socket2::{Domain, Protocol, Socket, Type};

pub use config::{ConfigError, NetCounts, ReceiverConfig, ReceiverStats};
pub use sys::{RecvBatch, RecvBufOutcome, SendBatch};

use crate::ilp::{IlpParser, IlpStream};
use crate::ratelog::LogLimiter;
use crate::seq::{SeqTracker, source_of};
use crate::sink::Sink;
use crate::symbols::{SymbolCache, SymbolTable};
use crate::wire::{FrameView, TRADE_LEN, WireDecoder, WireError};
use tcp::{Conn, Drive, Proto};

const UDP_BIN: Token = Token(0);
const TCP_BIN: Token = Token(1);
const ILP_TCP: Token = Token(2);
const ILP_UDP: Token = Token(3);
const CONN_BASE: usize = 16;
/// `recvmmsg` calls per UDP socket per loop round before other work gets a turn.
const UDP_BUDGET: usize = 64;

/// The nanoseconds since the Unix epoch now (receive time; read once per batch).
#[inline]
pub fn now_ns() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Which listener, for [`Receiver::local_addr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// Binary over UDP.
    UdpBinary,
    /// Binary over TCP.
    TcpBinary,
    /// ILP over TCP.
    IlpTcp,
    /// ILP over UDP.
    IlpUdp,
}

/// The parsers, the sink and the counters: what connections and datagrams work on.
pub(crate) struct Core<S> {
    pub sink: S,
    pub wire: WireDecoder,
    pub ilp: IlpParser,
    pub seq: SeqTracker,
    pub counts: NetCounts,
    /// Ticks parsed from one burst, before they go to the sink.
    pub scratch: Box<[Tick]>,
    pub max_frame: usize,
    /// Receive time of the current round.
    pub now: i64,
    pub log: LogLimiter,
}

struct Udp {
    sock: UdpSocket,
    batch: RecvBatch,
    readable: bool,
    buffer: RecvBufOutcome,
    /// Last `SO_RXQ_OVFL` value seen (cumulative per socket).
    kernel_drops: u32,
    ilp: bool,
}

/// One ingest thread's receiver.
pub struct Receiver<S: Sink> {
    poll: Poll,
    events: Events,
    core: Core<S>,
    udp_bin: Option<Udp>,
    ilp_udp: Option<Udp>,
    ilp_udp_stream: IlpStream,
    tcp_bin: Option<TcpListener>,
    ilp_tcp: Option<TcpListener>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// Connections to drive this round.
    work: Vec<usize>,
    next_conn_id: u64,
    tcp_buffer: usize,
    ilp_buffer: usize,
    poll_timeout: Duration,
    spin_after_work: Duration,
}

fn udp_socket(addr: SocketAddr, cfg: &ReceiverConfig, ilp: bool) -> io::Result<Udp> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    if cfg.reuse_port {
        s.set_reuse_port(true)?;
    }
    let buffer = sys::set_recv_buffer(&s, cfg.udp_recv_buffer)?;
    if !buffer.forced && buffer.effective < cfg.udp_recv_buffer {
        tracing::warn!(
            requested = cfg.udp_recv_buffer,
            effective = buffer.effective,
            "UDP receive buffer capped (no CAP_NET_ADMIN for SO_RCVBUFFORCE; raise net.core.rmem_max)"
        );
    }
    if let Err(e) = sys::enable_rxq_ovfl(&s) {
        tracing::warn!(error = %e, "SO_RXQ_OVFL unavailable: kernel drops will not be counted");
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(Udp {
        sock: UdpSocket::from_std(s.into()),
        batch: RecvBatch::new(cfg.udp_batch, cfg.max_datagram),
        readable: true,
        buffer,
        kernel_drops: 0,
        ilp,
    })
}

fn tcp_listener(addr: SocketAddr, cfg: &ReceiverConfig) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if cfg.reuse_port {
        s.set_reuse_port(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(TcpListener::from_std(s.into()))
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
}

impl<S: Sink> Receiver<S> {
    /// Binds the configured listeners (none is an error) and allocates every
    /// buffer the loop needs, except TCP connection buffers (on accept).
    pub fn bind(
        cfg: &ReceiverConfig,
        symbols: Arc<SymbolTable>,
        sink: S,
    ) -> io::Result<Receiver<S>> {
        cfg.check().map_err(invalid)?;
        let ilp = IlpParser::new(&cfg.ilp, SymbolCache::new(symbols.clone()), cfg.validator)
            .map_err(invalid)?;
        let poll = Poll::new()?;
        let mut udp_bin = cfg
            .udp_binary
            .map(|a| udp_socket(a, cfg, false))
            .transpose()?;
        let mut ilp_udp = cfg.ilp_udp.map(|a| udp_socket(a, cfg, true)).transpose()?;
        let mut tcp_bin = cfg.tcp_binary.map(|a| tcp_listener(a, cfg)).transpose()?;
        let mut ilp_tcp = cfg.ilp_tcp.map(|a| tcp_listener(a, cfg)).transpose()?;
        if udp_bin.is_none() && ilp_udp.is_none() && tcp_bin.is_none() && ilp_tcp.is_none() {
            return Err(invalid("receiver: no listener configured"));
        }
        if let Some(u) = udp_bin.as_mut() {
            poll.registry()
                .register(&mut u.sock, UDP_BIN, Interest::READABLE)?;
        }
        if let Some(u) = ilp_udp.as_mut() {
            poll.registry()
                .register(&mut u.sock, ILP_UDP, Interest::READABLE)?;
        }
        if let Some(l) = tcp_bin.as_mut() {
            poll.registry().register(l, TCP_BIN, Interest::READABLE)?;
        }
        if let Some(l) = ilp_tcp.as_mut() {
            poll.registry().register(l, ILP_TCP, Interest::READABLE)?;
        }
        // One burst holds a whole datagram, frame or buffer of ticks.
        let max_msgs = cfg.max_datagram.max(cfg.max_frame) / TRADE_LEN + 1;
        let scratch = vec![Tick::default(); max_msgs.max(1024)].into_boxed_slice();
        let ilp_max = cfg.ilp.max_line;
        Ok(Receiver {
            poll,
            events: Events::with_capacity(1024),
            core: Core {
                sink,
                wire: WireDecoder::new(SymbolCache::new(symbols), cfg.validator),
                ilp,
                seq: SeqTracker::new(cfg.max_streams),
                counts: NetCounts::default(),
                scratch,
                max_frame: cfg.max_frame,
                now: now_ns(),
                log: LogLimiter::default(),
            },
            udp_bin,
            ilp_udp,
            ilp_udp_stream: IlpStream::new(0, None),
            tcp_bin,
            ilp_tcp,
            conns: (0..cfg.max_connections).map(|_| None).collect(),
            free: (0..cfg.max_connections).rev().collect(),
            work: Vec::with_capacity(cfg.max_connections),
            next_conn_id: 1,
            tcp_buffer: cfg.tcp_buffer.max(cfg.max_frame + wire_prefix()),
            ilp_buffer: cfg.tcp_buffer.max(ilp_max + 2),
            poll_timeout: cfg.poll_timeout,
            spin_after_work: cfg.spin_after_work,
        })
    }

    /// The bound address of a listener (useful with port 0).
    pub fn local_addr(&self, which: Listener) -> Option<SocketAddr> {
        match which {
            Listener::UdpBinary => self.udp_bin.as_ref()?.sock.local_addr().ok(),
            Listener::IlpUdp => self.ilp_udp.as_ref()?.sock.local_addr().ok(),
            Listener::TcpBinary => self.tcp_bin.as_ref()?.local_addr().ok(),
            Listener::IlpTcp => self.ilp_tcp.as_ref()?.local_addr().ok(),
        }
    }

    /// A copy of every counter.
    pub fn stats(&self) -> ReceiverStats {
        ReceiverStats {
            net: self.core.counts,
            wire: self.core.wire.counts,
            seq: self.core.seq.counts,
            ilp: self.core.ilp.counts,
            open_connections: self.conns.len() - self.free.len(),
            udp_binary_buffer: self.udp_bin.as_ref().map(|u| u.buffer),
            ilp_udp_buffer: self.ilp_udp.as_ref().map(|u| u.buffer),
        }
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.core.sink
    }

    /// The sink, mutably (tests drain a [`crate::sink::VecSink`] through this).
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.core.sink
    }

    /// Whether work is left that does not wait for an event (drained-but-not-empty
    /// sockets, connections held back by a full sink).
    pub fn busy(&self) -> bool {
        !self.work.is_empty()
            || self.udp_bin.as_ref().is_some_and(|u| u.readable)
            || self.ilp_udp.as_ref().is_some_and(|u| u.readable)
    }

    /// Runs until `stop` is set (checked at least every `poll_timeout`), then
    /// drains what the sockets already hold (at most 1,000 more rounds).
    pub fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        self.run_reporting(stop, Duration::MAX, |_| {})
    }

    /// Hands every sequence gap opened since the last call to `f`, oldest first
    /// (bounded: see [`crate::seq::MAX_PENDING_GAPS`]).
    pub fn take_gaps(&mut self, f: impl FnMut(crate::seq::GapEvent)) {
        self.core.seq.take_gaps(f);
    }

    /// Like [`Receiver::run`], and calls `report` with the counters at most every
    /// `every` (on this thread: copy them out, do not block).
    pub fn run_reporting(
        &mut self,
        stop: &AtomicBool,
        every: Duration,
        mut report: impl FnMut(&ReceiverStats),
    ) -> io::Result<()> {
        self.run_with(stop, every, |r| report(&r.stats()))
    }

    /// Like [`Receiver::run_reporting`], but `every` calls `each` with the
    /// receiver itself (for [`Receiver::stats`] and [`Receiver::take_gaps`]).
    pub fn run_with(
        &mut self,
        stop: &AtomicBool,
        every: Duration,
        mut each: impl FnMut(&mut Self),
    ) -> io::Result<()> {
        let mut last = Instant::now();
        let mut last_work = last;
        // Relaxed: a flag with no data attached; seeing it one round late is fine.
        while !stop.load(Ordering::Relaxed) {
            let spinning = self.spin_after_work != Duration::ZERO
                && last_work.elapsed() < self.spin_after_work;
            let timeout = if self.busy() || spinning {
                Some(Duration::ZERO)
            } else {
                Some(self.poll_timeout)
            };
            self.poll_once(timeout)?;
            let worked = !self.events.is_empty() || self.busy();
            if worked && self.spin_after_work != Duration::ZERO {
                last_work = Instant::now();
            } else if !worked && spinning {
                std::hint::spin_loop();
            }
            if every != Duration::MAX && last.elapsed() >= every {
                last = Instant::now();
                each(self);
            }
        }
        // Drain what is already queued (bounded: a sink that stays full must not hang shutdown).
        for _ in 0..1000 {
            if !self.busy() {
                break;
            }
            self.poll_once(Some(Duration::ZERO))?;
        }
        each(self);
        Ok(())
    }

    /// One round: wait up to `timeout` for events, then read, parse and deliver.
    pub fn poll_once(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        self.core.now = now_ns();
        let mut accept_bin = false;
        let mut accept_ilp = false;
        for ev in self.events.iter() {
            match ev.token() {
                UDP_BIN => {
                    if let Some(u) = self.udp_bin.as_mut() {
                        u.readable = true;
                    }
                }
                ILP_UDP => {
                    if let Some(u) = self.ilp_udp.as_mut() {
                        u.readable = true;
                    }
                }
                TCP_BIN => accept_bin = true,
                ILP_TCP => accept_ilp = true,
                Token(t) if t >= CONN_BASE => {
                    let i = t - CONN_BASE;
                    if let Some(Some(c)) = self.conns.get_mut(i)
                        && !c.queued
                    {
                        c.queued = true;
                        self.work.push(i);
                    }
                }
                Token(_) => {}
            }
        }
        if accept_bin {
            self.accept(Proto::Binary)?;
        }
        if accept_ilp {
            self.accept(Proto::Ilp)?;
        }
        if let Some(mut u) = self.udp_bin.take() {
            self.drain_udp(&mut u);
            self.udp_bin = Some(u);
        }
        if let Some(mut u) = self.ilp_udp.take() {
            self.drain_udp(&mut u);
            self.ilp_udp = Some(u);
        }
        self.drive_conns();
        self.core.sink.flush();
        Ok(())
    }

    fn accept(&mut self, proto: Proto) -> io::Result<()> {
        loop {
            let listener = match proto {
                Proto::Binary => self.tcp_bin.as_ref(),
                Proto::Ilp => self.ilp_tcp.as_ref(),
            };
            let Some(listener) = listener else {
                return Ok(());
            };
            let (mut stream, peer) = match listener.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: keep serving.
                    if let Some(suppressed) = self.core.log.allow(self.core.now) {
                        tracing::warn!(error = %e, suppressed, "accept failed");
                    }
                    return Ok(());
                }
            };
            let Some(slot) = self.free.pop() else {
                self.core.counts.tcp_refused += 1;
                if let Some(suppressed) = self.core.log.allow(self.core.now) {
                    tracing::warn!(%peer, max = self.conns.len(), suppressed,
                        "TCP connection refused: max_connections reached");
                }
                drop(stream);
                continue;
            };
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                Token(CONN_BASE + slot),
                Interest::READABLE,
            ) {
                // Keep serving the others; this peer sees its connection closed.
                self.free.push(slot);
                self.core.counts.tcp_refused += 1;
                if let Some(suppressed) = self.core.log.allow(self.core.now) {
                    tracing::warn!(%peer, error = %e, suppressed, "TCP connection not registered; closed");
                }
                continue;
            }
            let id = self.next_conn_id;
            self.next_conn_id += 1;
            let buf = match proto {
                Proto::Binary => self.tcp_buffer,
                Proto::Ilp => self.ilp_buffer,
            };
            let mut c = Conn::new(stream, peer, id, proto, buf);
            // Data may have arrived before registration: drive it once now.
            c.queued = true;
            self.work.push(slot);
            self.conns[slot] = Some(c);
            self.core.counts.tcp_accepted += 1;
            tracing::debug!(%peer, conn = id, ?proto, "TCP connection accepted");
        }
    }

    fn drive_conns(&mut self) {
        let mut i = 0;
        while i < self.work.len() {
            let slot = self.work[i];
            let Some(c) = self.conns[slot].as_mut() else {
                self.work.swap_remove(i);
                continue;
            };
            match c.drive(&mut self.core) {
                Drive::Idle => {
                    c.queued = false;
                    self.work.swap_remove(i);
                }
                Drive::Blocked | Drive::More => i += 1,
                Drive::Close => {
                    if let Some(mut c) = self.conns[slot].take() {
                        let _ = self.poll.registry().deregister(&mut c.stream);
                        tracing::debug!(peer = %c.peer, "TCP connection closed");
                    }
                    self.core.counts.tcp_closed += 1;
                    self.free.push(slot);
                    self.work.swap_remove(i);
                }
            }
        }
    }

    fn drain_udp(&mut self, u: &mut Udp) {
        if !u.readable {
            return;
        }
        for _ in 0..UDP_BUDGET {
            let n = match u.batch.recv(&u.sock) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    u.readable = false;
                    return;
                }
                Err(e) => {
                    if let Some(suppressed) = self.core.log.allow(self.core.now) {
                        tracing::warn!(error = %e, suppressed, "UDP receive failed");
                    }
                    u.readable = false;
                    return;
                }
            };
            self.core.now = now_ns();
            for i in 0..n {
                let Some(d) = u.batch.get(i) else { break };
                let core = &mut self.core;
                core.counts.udp_datagrams += 1;
                core.counts.udp_bytes += d.data.len() as u64;
                if let Some(k) = d.kernel_drops
                    && k != u.kernel_drops
                {
                    core.counts.udp_kernel_drops += k.wrapping_sub(u.kernel_drops) as u64;
                    u.kernel_drops = k;
                }
                if d.truncated {
                    core.counts.udp_truncated += 1;
                    if u.ilp {
                        core.ilp.counts.bump(crate::ilp::IlpError::LineTooLong);
                    } else {
                        core.wire
                            .counts
                            .bump_bad(&WireError::Truncated { index: 0 });
                    }
                    continue;
                }
                if u.ilp {
                    let st = &mut self.ilp_udp_stream;
                    st.peer = d.peer;
                    st.line_no = 0;
                    let mut rest = d.data;
                    while !rest.is_empty() {
                        let r = core
                            .ilp
                            .parse_buf(st, rest, true, core.now, &mut core.scratch);
                        offer_each(core, r.ticks);
                        if r.consumed == 0 {
                            break;
                        }
                        rest = &rest[r.consumed..];
                    }
                    continue;
                }
                let n = match FrameView::parse(d.data) {
                    Err(e) => {
                        core.wire.counts.bump_bad(&e);
                        0
                    }
                    Ok(view) => {
                        let src = d.peer.as_ref().map_or(0, source_of);
                        let skip = core.seq.check(src, &view.header, core.now);
                        // The scratch holds a maximal datagram's messages.
                        match core
                            .wire
                            .decode_from(&view, skip, core.now, &mut core.scratch)
                        {
                            Ok(r) => r.ticks,
                            Err(_) => 0,
                        }
                    }
                };
                offer_each(core, n);
            }
            self.core.sink.flush();
        }
        // Budget used: `readable` stays set, the next round continues.
    }
}

/// UDP: offers each of the first `n` scratch ticks; a refused one is dropped and counted.
#[inline]
fn offer_each<S: Sink>(core: &mut Core<S>, n: usize) {
    for t in &core.scratch[..n] {
        if core.sink.offer(t).is_ok() {
            core.counts.ticks += 1;
        } else {
            core.counts.udp_sink_full_drops += 1;
        }
    }
}

const fn wire_prefix() -> usize {
    crate::wire::TCP_PREFIX_LEN
}
