//! An in-process receiver for the load generator: decodes what it gets with
//! tickd's own parsers ([`ingest::wire`], [`ingest::ilp`]) and measures each
//! tick's latency from its scheduled send time.
//!
//! Two uses: the load generator's self-test (every tick sent is parsed and
//! accounted, nothing malformed), and the *network floor* of a scenario —
//! what loopback plus decoding costs with no daemon at all.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use hdrhistogram::Histogram;
use ingest::ilp::{IlpConfig, IlpParser};
use ingest::wire::{TCP_PREFIX_LEN, WireDecoder};
use ingest::{SymbolCache, SymbolTable, Validator};
use mtf::Tick;

use crate::hist;
use crate::load::{Protocol, Schedule};

/// What a sink received.
#[derive(Debug)]
pub struct SinkReport {
    /// Ticks decoded.
    pub ticks: u64,
    /// Frames that failed to parse, messages skipped, or ILP lines refused.
    pub malformed: u64,
    /// Highest tick id seen + 1 (ids are stream positions).
    pub id_end: u64,
    /// Ids seen out of order (lower than the previous id).
    pub reordered: u64,
    /// Latency from the scheduled send time to decode, per tick (fixed rate only).
    pub latency: Histogram<u64>,
}

/// A running sink; [`Sink::finish`] stops it and returns its report.
pub struct Sink {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    join: JoinHandle<io::Result<SinkReport>>,
}

struct Acc {
    ticks: u64,
    malformed: u64,
    id_end: u64,
    reordered: u64,
    last_id: Option<u64>,
    latency: Histogram<u64>,
}

impl Acc {
    #[inline]
    fn tick(&mut self, t: &Tick, sched: Option<&Schedule>, now: u64) {
        self.ticks += 1;
        if self.last_id.is_some_and(|l| t.id < l) {
            self.reordered += 1;
        }
        self.last_id = Some(t.id);
        self.id_end = self.id_end.max(t.id + 1);
        if let Some(s) = sched {
            hist::record(&mut self.latency, now.saturating_sub(s.due_ns(t.id)));
        }
    }

    fn report(self) -> SinkReport {
        SinkReport {
            ticks: self.ticks,
            malformed: self.malformed,
            id_end: self.id_end,
            reordered: self.reordered,
            latency: self.latency,
        }
    }
}

/// The schedule is only known once the sender starts: it is handed over here.
pub type ScheduleSlot = Arc<parking_lot::Mutex<Option<Schedule>>>;

impl Sink {
    /// Starts a sink for `protocol` on a free loopback port. `schedule` is
    /// read once the first tick arrives (set it before sending).
    pub fn start(protocol: Protocol, schedule: ScheduleSlot) -> io::Result<Sink> {
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let table = Arc::new(SymbolTable::new(1 << 16));
        let mut acc = Acc {
            ticks: 0,
            malformed: 0,
            id_end: 0,
            reordered: 0,
            last_id: None,
            latency: hist::new_histogram(),
        };
        let (addr, join) = match protocol {
            Protocol::UdpBinary => {
                let sock = UdpSocket::bind("127.0.0.1:0")?;
                set_recv_buffer(&sock, 32 << 20);
                sock.set_read_timeout(Some(Duration::from_millis(20)))?;
                let addr = sock.local_addr()?;
                let join = std::thread::spawn(move || {
                    let mut dec = WireDecoder::new(SymbolCache::new(table), Validator::history());
                    let mut buf = vec![0u8; ingest::wire::MAX_DATAGRAM];
                    let mut out = vec![Tick::default(); 2048];
                    let mut sched = None;
                    while !st.load(Ordering::Acquire) {
                        let n = match sock.recv(&mut buf) {
                            Ok(n) => n,
                            Err(e) if is_timeout(&e) => continue,
                            Err(e) => return Err(e),
                        };
                        if sched.is_none() {
                            sched = *schedule.lock();
                        }
                        let now = sched.as_ref().map_or(0, Schedule::now_ns);
                        match dec.decode(&buf[..n], load_now(), &mut out) {
                            Ok(d) => {
                                acc.malformed += d.skipped as u64;
                                for t in &out[..d.ticks] {
                                    acc.tick(t, sched.as_ref(), now);
                                }
                            }
                            Err(_) => acc.malformed += 1,
                        }
                    }
                    Ok(acc.report())
                });
                (addr, join)
            }
            Protocol::TcpBinary | Protocol::IlpTcp => {
                let l = TcpListener::bind("127.0.0.1:0")?;
                let addr = l.local_addr()?;
                let ilp = protocol == Protocol::IlpTcp;
                let join = std::thread::spawn(move || {
                    // Non-blocking accept, so a sink nobody connects to still stops.
                    l.set_nonblocking(true)?;
                    let mut s = loop {
                        match l.accept() {
                            Ok((s, _)) => break s,
                            Err(e) if is_timeout(&e) => {
                                if st.load(Ordering::Acquire) {
                                    return Ok(acc.report());
                                }
                                std::thread::sleep(Duration::from_millis(2));
                            }
                            Err(e) => return Err(e),
                        }
                    };
                    s.set_nonblocking(false)?;
                    s.set_read_timeout(Some(Duration::from_millis(20)))?;
                    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
                    let mut chunk = vec![0u8; 256 << 10];
                    let mut out = vec![Tick::default(); ingest::wire::MAX_MESSAGES];
                    let mut dec =
                        WireDecoder::new(SymbolCache::new(table.clone()), Validator::history());
                    let mut ilp_p = IlpParser::new(
                        &IlpConfig::default(),
                        SymbolCache::new(table),
                        Validator::history(),
                    )
                    .map_err(|e| io::Error::other(e.to_string()))?;
                    let mut sched = None;
                    loop {
                        let n = match s.read(&mut chunk) {
                            Ok(0) => break,
                            Ok(n) => n,
                            Err(e) if is_timeout(&e) => {
                                if st.load(Ordering::Acquire) {
                                    break;
                                }
                                continue;
                            }
                            Err(e) => return Err(e),
                        };
                        if sched.is_none() {
                            sched = *schedule.lock();
                        }
                        let now = sched.as_ref().map_or(0, Schedule::now_ns);
                        buf.extend_from_slice(&chunk[..n]);
                        let mut at = 0usize;
                        if ilp {
                            while let Some(nl) = memchr_nl(&buf[at..]) {
                                match ilp_p.parse_line(&buf[at..at + nl], load_now()) {
                                    Ok(t) => acc.tick(&t, sched.as_ref(), now),
                                    Err(_) => acc.malformed += 1,
                                }
                                at += nl + 1;
                            }
                        } else {
                            while buf.len() - at >= TCP_PREFIX_LEN {
                                let mut p = [0u8; 4];
                                p.copy_from_slice(&buf[at..at + 4]);
                                let len = u32::from_le_bytes(p) as usize;
                                if len > 16 << 20 {
                                    return Err(io::Error::other("frame length over 16 MiB"));
                                }
                                if buf.len() - at < TCP_PREFIX_LEN + len {
                                    break;
                                }
                                let f = &buf[at + 4..at + 4 + len];
                                match dec.decode(f, load_now(), &mut out) {
                                    Ok(d) => {
                                        acc.malformed += d.skipped as u64;
                                        for t in &out[..d.ticks] {
                                            acc.tick(t, sched.as_ref(), now);
                                        }
                                    }
                                    Err(_) => acc.malformed += 1,
                                }
                                at += TCP_PREFIX_LEN + len;
                            }
                        }
                        buf.drain(..at);
                    }
                    Ok(acc.report())
                });
                (addr, join)
            }
        };
        Ok(Sink { addr, stop, join })
    }

    /// Where to send.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the sink (after `linger`, for datagrams still in flight) and
    /// returns what it received.
    pub fn finish(self, linger: Duration) -> io::Result<SinkReport> {
        std::thread::sleep(linger);
        self.stop.store(true, Ordering::Release);
        self.join
            .join()
            .map_err(|_| io::Error::other("sink thread panicked"))?
    }
}

/// Asks for a receive buffer of `bytes` (`SO_RCVBUFFORCE` as root, else
/// `SO_RCVBUF`, which the kernel caps at `net.core.rmem_max`): a sink that
/// loses the CPU for a few ms must not lose datagrams.
pub fn set_recv_buffer(sock: &UdpSocket, bytes: usize) {
    use std::os::fd::AsRawFd;
    let v = bytes.min(i32::MAX as usize) as libc::c_int;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `v` is a live c_int and the length passed is its size; the
        // fd is owned by `sock`, open for the duration of the call.
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            return;
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

fn load_now() -> i64 {
    crate::load::unix_ns()
}
