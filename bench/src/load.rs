//! The load generator: ticks to a tickd listener over UDP binary, TCP binary
//! or ILP over TCP, at a fixed offered rate or as fast as the socket takes them.
//!
//! # Latency without coordinated omission
//!
//! At a fixed rate, tick `i` is *scheduled* at `start + i / rate`, whatever
//! happened before it. Its id on the wire is `i` (see [`crate::synth::Synth`]),
//! so a receiver computes the scheduled time of every tick it gets
//! ([`Schedule::due_ns`]) and measures from it: a stall of the sender, the
//! network or the daemon delays every tick scheduled during the stall, and
//! every one of them is counted late. The sender also records its own lag
//! (send time − scheduled time) per tick; frames carry the scheduled time of
//! their first tick in the header's `send_time` (ns since the Unix epoch).

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use ingest::SymbolName;
use mtf::{Side, Tick};
use serde::Serialize;

use crate::frames::{FrameBuilder, NameCache};
use crate::hist::{self, Summary};

/// The wire a load runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Protocol {
    /// tickd binary frames, one per datagram.
    UdpBinary,
    /// tickd binary frames, length-prefixed, over one TCP connection.
    TcpBinary,
    /// InfluxDB line protocol over one TCP connection.
    IlpTcp,
}

impl std::str::FromStr for Protocol {
    type Err = LoadError;

    fn from_str(s: &str) -> Result<Protocol, LoadError> {
        match s {
            "udp" | "udp-binary" => Ok(Protocol::UdpBinary),
            "tcp" | "tcp-binary" => Ok(Protocol::TcpBinary),
            "ilp" | "ilp-tcp" => Ok(Protocol::IlpTcp),
            _ => Err(LoadError::Config(format!(
                "unknown protocol {s:?}: expected udp, tcp or ilp"
            ))),
        }
    }
}

/// How fast ticks are offered.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Rate {
    /// This many ticks per second, each at its scheduled time.
    Fixed(u64),
    /// As fast as the socket accepts them.
    Max,
}

/// Why a load could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A bad option.
    #[error("bad load configuration: {0}")]
    Config(String),
    /// Connecting or sending failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> LoadError {
    move |source| LoadError::Io {
        what: what.into(),
        source,
    }
}

/// The time each tick is due: tick `i` at `start + i · 1e9 / rate` ns.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// The instant tick 0 is due.
    pub start: Instant,
    /// `start` on the wall clock, ns since the Unix epoch.
    pub start_unix_ns: i64,
    /// Ticks per second (0: no schedule, [`Rate::Max`]).
    pub rate: u64,
}

impl Schedule {
    /// A schedule starting now.
    pub fn starting_now(rate: u64) -> Schedule {
        Schedule {
            start: Instant::now(),
            start_unix_ns: unix_ns(),
            rate,
        }
    }

    /// ns after `start` at which tick `i` is due.
    #[inline]
    pub fn due_ns(&self, i: u64) -> u64 {
        if self.rate == 0 {
            return 0;
        }
        ((i as u128 * 1_000_000_000) / self.rate as u128) as u64
    }

    /// ns since `start`.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// How many ticks are due at `t_ns` after start (ticks `0 .. n`).
    #[inline]
    pub fn due_count(&self, t_ns: u64) -> u64 {
        (t_ns as u128 * self.rate as u128 / 1_000_000_000) as u64 + 1
    }
}

/// Wall clock, ns since the Unix epoch.
pub fn unix_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// One load run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The wire.
    pub protocol: Protocol,
    /// The listener.
    pub target: SocketAddr,
    /// Offered rate.
    pub rate: Rate,
    /// Stop after this long …
    pub duration: Duration,
    /// … or after this many ticks, whichever comes first.
    pub max_ticks: u64,
    /// Largest binary frame (UDP: datagram) in bytes, header included.
    pub frame_bytes: usize,
    /// Stream id in the frame headers.
    pub stream_id: u32,
    /// Bytes buffered before a TCP write at [`Rate::Max`].
    pub tcp_batch_bytes: usize,
}

impl LoadConfig {
    /// Defaults for `protocol` to `target`: 1 M ticks/s for 10 s, 1472-byte
    /// datagrams (no IP fragmentation) or 64 KiB TCP frames.
    pub fn new(protocol: Protocol, target: SocketAddr) -> LoadConfig {
        LoadConfig {
            protocol,
            target,
            rate: Rate::Fixed(1_000_000),
            duration: Duration::from_secs(10),
            max_ticks: u64::MAX,
            frame_bytes: match protocol {
                Protocol::UdpBinary => ingest::wire::DEFAULT_MAX_DATAGRAM,
                _ => 65_536,
            },
            stream_id: 1,
            tcp_batch_bytes: 256 << 10,
        }
    }
}

/// What a load run did.
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// The wire.
    pub protocol: Protocol,
    /// Offered rate, ticks/s (`None`: max).
    pub offered_rate: Option<u64>,
    /// Ticks sent.
    pub ticks: u64,
    /// Frames (datagrams, TCP frames) or ILP lines sent.
    pub frames: u64,
    /// Bytes written to the socket.
    pub bytes: u64,
    /// Datagrams the kernel refused (`ENOBUFS`, `EAGAIN`) and that were dropped.
    pub send_drops: u64,
    /// Seconds from the first to the last send.
    pub elapsed_s: f64,
    /// Ticks per second achieved.
    pub achieved_rate: f64,
    /// Sender lag, send time − scheduled time, per tick (fixed rate only).
    pub lag: Summary,
    /// The schedule used (for receivers).
    #[serde(skip)]
    pub schedule: Option<Schedule>,
    /// The lag histogram (fixed rate only).
    #[serde(skip)]
    pub lag_hist: Option<Histogram<u64>>,
}

/// Where the ticks come from.
pub trait TickSource: Send {
    /// The next tick; its `id` is replaced by the stream position.
    fn next_tick(&mut self) -> Tick;
    /// The wire name of symbol `id`.
    fn name(&self, id: mtf::SymbolId) -> SymbolName;
}

/// Synthetic ticks with names `S0000`, `S0001`, ….
pub struct SynthSource {
    synth: crate::synth::Synth,
    names: Vec<SymbolName>,
}

impl SynthSource {
    /// A source over `cfg`.
    pub fn new(cfg: crate::synth::SynthConfig) -> SynthSource {
        let synth = crate::synth::Synth::new(cfg);
        let names = (0..synth.config().symbols)
            .map(|k| {
                SymbolName::new(crate::synth::symbol_name(k).as_bytes())
                    .unwrap_or_else(|_| unreachable!("S#### is a valid symbol name"))
            })
            .collect();
        SynthSource { synth, names }
    }
}

impl TickSource for SynthSource {
    #[inline]
    fn next_tick(&mut self) -> Tick {
        self.synth.next_tick()
    }

    fn name(&self, id: mtf::SymbolId) -> SymbolName {
        self.names[id as usize % self.names.len()]
    }
}

/// Recorded ticks replayed in a loop, event times shifted by the recording's
/// span on each lap so they keep increasing.
pub struct ReplaySource {
    ticks: Arc<[Tick]>,
    names: Vec<SymbolName>,
    pos: usize,
    shift: i64,
    span: i64,
}

impl ReplaySource {
    /// A source over `ticks` (non-empty) named by `names[symbol]`.
    pub fn new(ticks: Arc<[Tick]>, names: Vec<SymbolName>) -> Result<ReplaySource, LoadError> {
        let (Some(first), Some(last)) = (ticks.first(), ticks.last()) else {
            return Err(LoadError::Config("no ticks to replay".into()));
        };
        if ticks.iter().any(|t| t.symbol as usize >= names.len()) {
            return Err(LoadError::Config("a tick's symbol has no name".into()));
        }
        let span = (last.ts_event - first.ts_event).max(0) + 1;
        Ok(ReplaySource {
            ticks,
            names,
            pos: 0,
            shift: 0,
            span,
        })
    }
}

impl TickSource for ReplaySource {
    #[inline]
    fn next_tick(&mut self) -> Tick {
        if self.pos == self.ticks.len() {
            self.pos = 0;
            self.shift = self.shift.saturating_add(self.span);
        }
        let mut t = self.ticks[self.pos];
        self.pos += 1;
        t.ts_event = t.ts_event.saturating_add(self.shift);
        t
    }

    fn name(&self, id: mtf::SymbolId) -> SymbolName {
        self.names[id as usize]
    }
}

/// Appends `v` as an ILP float that parses back to exactly `v`: values with
/// at most two decimals (prices in cents, whole sizes) as fixed point, which
/// is 5-10× faster than the shortest round-trip form; anything else via ryu.
#[inline]
fn push_f64(out: &mut Vec<u8>, v: f64, f: &mut ryu::Buffer, i: &mut itoa::Buffer) {
    let c = (v * 100.0).round();
    if v.is_finite() && c.abs() < 9.0e15 && c / 100.0 == v {
        let c = c as i64;
        if c < 0 {
            out.push(b'-');
        }
        let a = c.unsigned_abs();
        out.extend_from_slice(i.format(a / 100).as_bytes());
        let r = (a % 100) as u8;
        out.extend_from_slice(&[b'.', b'0' + r / 10, b'0' + r % 10]);
    } else {
        out.extend_from_slice(f.format(v).as_bytes());
    }
}

/// Appends one ILP line for `t` (`trades` or `quotes` table, ns timestamp).
pub fn ilp_line(out: &mut Vec<u8>, t: &Tick, name: &SymbolName) {
    let mut f = ryu::Buffer::new();
    let mut i = itoa::Buffer::new();
    if t.is_trade() {
        out.extend_from_slice(b"trades,symbol=");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(match t.side {
            Side::Buy => b",side=buy price=".as_slice(),
            Side::Sell => b",side=sell price=",
            Side::Unknown => b" price=",
        });
        push_f64(out, t.price, &mut f, &mut i);
        out.extend_from_slice(b",size=");
        push_f64(out, t.size, &mut f, &mut i);
    } else {
        out.extend_from_slice(b"quotes,symbol=");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b" bid=");
        push_f64(out, t.price, &mut f, &mut i);
        out.extend_from_slice(b",ask=");
        push_f64(out, t.ask, &mut f, &mut i);
        out.extend_from_slice(b",bid_size=");
        push_f64(out, t.size, &mut f, &mut i);
        out.extend_from_slice(b",ask_size=");
        push_f64(out, t.ask_size, &mut f, &mut i);
    }
    out.extend_from_slice(b",id=");
    out.extend_from_slice(i.format(t.id).as_bytes());
    out.extend_from_slice(b"i ");
    out.extend_from_slice(i.format(t.ts_event).as_bytes());
    out.push(b'\n');
}

enum Wire {
    Udp {
        sock: UdpSocket,
        batch: crate::udp::Batch,
    },
    Tcp(TcpStream),
}

/// Encodes ticks into frames (or ILP lines) and writes them out in batches;
/// records each tick's lag from its schedule once it has been written.
struct Sender {
    protocol: Protocol,
    wire: Wire,
    enc: FrameBuilder,
    names: NameCache,
    /// TCP bytes (whole frames or ILP lines, then the open frame) not written yet.
    out: Vec<u8>,
    /// UDP: the frame being built.
    dgram: Vec<u8>,
    sched: Schedule,
    /// Ticks encoded so far; ticks `[recorded, encoded)` are not on the wire yet.
    encoded: u64,
    recorded: u64,
    frame_first_due: u64,
    frames: u64,
    bytes: u64,
    drops: u64,
    lag: Option<Histogram<u64>>,
}

impl Sender {
    #[inline]
    fn push(&mut self, t: &Tick, src: &dyn TickSource) -> Result<(), LoadError> {
        if self.protocol == Protocol::IlpTcp {
            ilp_line(&mut self.out, t, &src.name(t.symbol));
            self.frames += 1;
            self.encoded += 1;
            return Ok(());
        }
        let name = self.names.get(t.symbol, |id| src.name(id));
        let buf = match self.wire {
            Wire::Udp { .. } => &mut self.dgram,
            Wire::Tcp(_) => &mut self.out,
        };
        if self.enc.pending() == 0 {
            self.frame_first_due = self.sched.due_ns(self.encoded);
        }
        if !self.enc.push(buf, t, &name) {
            self.finish_frame()?;
            self.frame_first_due = self.sched.due_ns(self.encoded);
            let buf = match self.wire {
                Wire::Udp { .. } => &mut self.dgram,
                Wire::Tcp(_) => &mut self.out,
            };
            if !self.enc.push(buf, t, &name) {
                return Err(LoadError::Config(
                    "a message does not fit in an empty frame".into(),
                ));
            }
        }
        self.encoded += 1;
        Ok(())
    }

    /// Closes the frame being built (if any) and queues it for sending.
    fn finish_frame(&mut self) -> Result<(), LoadError> {
        if self.protocol == Protocol::IlpTcp || self.enc.pending() == 0 {
            return Ok(());
        }
        let send_time = self.sched.start_unix_ns + self.frame_first_due as i64;
        self.frames += 1;
        match &mut self.wire {
            Wire::Udp { sock, batch } => {
                let r = self.enc.finish(&mut self.dgram, send_time);
                self.bytes += r.len() as u64;
                batch.push(&self.dgram[r]);
                self.dgram.clear();
                if batch.is_full() {
                    self.drops += batch.flush(sock).map_err(io_err("send UDP"))?;
                }
            }
            Wire::Tcp(_) => {
                let r = self.enc.finish(&mut self.out, send_time);
                self.bytes += r.len() as u64;
            }
        }
        Ok(())
    }

    /// TCP bytes ready to write (whole frames or ILP lines).
    fn buffered(&self) -> usize {
        self.enc.open_at().unwrap_or(self.out.len())
    }

    /// Writes everything finished, then records the lag of the ticks written.
    fn flush(&mut self) -> Result<(), LoadError> {
        match &mut self.wire {
            Wire::Udp { sock, batch } => {
                self.drops += batch.flush(sock).map_err(io_err("send UDP"))?;
            }
            Wire::Tcp(s) => {
                // Whole frames only: the open frame stays (moved to the front).
                let ready = self.enc.open_at().unwrap_or(self.out.len());
                if ready > 0 {
                    if self.protocol == Protocol::IlpTcp {
                        self.bytes += ready as u64;
                    }
                    s.write_all(&self.out[..ready])
                        .map_err(io_err("send TCP"))?;
                    self.out.drain(..ready);
                    self.enc.consumed(ready);
                }
            }
        }
        // Ticks still in an unfinished frame are not written yet.
        let written = self.encoded - self.enc.pending() as u64;
        if let Some(h) = self.lag.as_mut() {
            let now = self.sched.now_ns();
            for i in self.recorded..written {
                hist::record(h, now.saturating_sub(self.sched.due_ns(i)));
            }
        }
        self.recorded = written;
        Ok(())
    }
}

/// Runs one load to completion (or until `stop` is set).
pub fn run(
    cfg: &LoadConfig,
    src: &mut dyn TickSource,
    stop: &AtomicBool,
) -> Result<LoadReport, LoadError> {
    run_observed(cfg, src, stop, &|_| {})
}

/// [`run`], handing the schedule to `on_start` before the first tick is sent
/// (receivers measure each tick's latency from it).
pub fn run_observed(
    cfg: &LoadConfig,
    src: &mut dyn TickSource,
    stop: &AtomicBool,
    on_start: &dyn Fn(Schedule),
) -> Result<LoadReport, LoadError> {
    if cfg.frame_bytes < ingest::wire::HEADER_LEN + ingest::wire::QUOTE_LEN {
        return Err(LoadError::Config(format!(
            "frame_bytes {} cannot hold one quote",
            cfg.frame_bytes
        )));
    }
    let rate = match cfg.rate {
        Rate::Fixed(r) if r > 0 => r,
        Rate::Fixed(_) => return Err(LoadError::Config("rate must be positive".into())),
        Rate::Max => 0,
    };
    let wire = match cfg.protocol {
        Protocol::UdpBinary => {
            let local = if cfg.target.is_ipv4() {
                SocketAddr::from(([0, 0, 0, 0], 0))
            } else {
                SocketAddr::from(([0u16; 8], 0))
            };
            let sock = UdpSocket::bind(local).map_err(io_err("bind UDP"))?;
            sock.connect(cfg.target)
                .map_err(io_err(format!("connect UDP {}", cfg.target)))?;
            Wire::Udp {
                sock,
                batch: crate::udp::Batch::new(64, cfg.frame_bytes),
            }
        }
        Protocol::TcpBinary | Protocol::IlpTcp => {
            let s = TcpStream::connect_timeout(&cfg.target, Duration::from_secs(5))
                .map_err(io_err(format!("connect TCP {}", cfg.target)))?;
            s.set_nodelay(rate > 0).map_err(io_err("TCP_NODELAY"))?;
            Wire::Tcp(s)
        }
    };
    let enc = FrameBuilder::new(
        cfg.stream_id,
        0,
        cfg.frame_bytes,
        cfg.protocol != Protocol::UdpBinary,
    )
    .map_err(|e| LoadError::Config(e.to_string()))?;
    let sched = Schedule::starting_now(rate);
    on_start(sched);
    let mut s = Sender {
        protocol: cfg.protocol,
        wire,
        enc,
        names: NameCache::default(),
        out: Vec::with_capacity(cfg.tcp_batch_bytes + 2 * (cfg.frame_bytes + 4)),
        dgram: Vec::with_capacity(cfg.frame_bytes),
        sched,
        encoded: 0,
        recorded: 0,
        frame_first_due: 0,
        frames: 0,
        bytes: 0,
        drops: 0,
        lag: (rate > 0).then(hist::new_histogram),
    };
    let deadline = cfg.duration.as_nanos().min(u64::MAX as u128) as u64;
    let total = cfg.max_ticks;
    let mut sent = 0u64;
    while sent < total && !stop.load(Ordering::Relaxed) {
        let now = sched.now_ns();
        if now >= deadline {
            break;
        }
        let due = if rate > 0 {
            sched.due_count(now).min(total)
        } else {
            (sent + 4096).min(total)
        };
        if due <= sent {
            std::hint::spin_loop();
            continue;
        }
        while sent < due {
            let mut t = src.next_tick();
            t.id = sent;
            s.push(&t, src)?;
            sent += 1;
            if rate == 0 && s.buffered() >= cfg.tcp_batch_bytes {
                s.flush()?;
            }
        }
        // At a fixed rate everything due goes out now, in a partial frame if need be.
        if rate > 0 {
            s.finish_frame()?;
            s.flush()?;
        }
    }
    s.finish_frame()?;
    s.flush()?;
    if let Wire::Tcp(t) = &mut s.wire {
        t.flush().map_err(io_err("flush TCP"))?;
    }
    let elapsed_s = sched.start.elapsed().as_secs_f64();
    Ok(LoadReport {
        protocol: cfg.protocol,
        offered_rate: (rate > 0).then_some(rate),
        ticks: sent,
        frames: s.frames,
        bytes: s.bytes,
        send_drops: s.drops,
        elapsed_s,
        achieved_rate: sent as f64 / elapsed_s.max(1e-9),
        lag: s.lag.as_ref().map(Summary::of).unwrap_or_default(),
        schedule: Some(sched),
        lag_hist: s.lag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_floats_parse_back_exactly() {
        let (mut f, mut i) = (ryu::Buffer::new(), itoa::Buffer::new());
        for v in [
            0.0,
            1.0,
            123.45,
            0.07,
            -2.5,
            1e-7,
            5010.99,
            1e300,
            0.1 + 0.2,
            9.0e13,
            -0.01,
        ] {
            let mut out = Vec::new();
            push_f64(&mut out, v, &mut f, &mut i);
            let s = std::str::from_utf8(&out).unwrap();
            assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
        }
    }
}
