//! `tickctl send` / `tickctl replay`: history files or a synthetic random
//! walk, sent to a daemon over UDP binary, TCP binary, ILP over TCP or UDP.
//!
//! Pacing: `--rate N` ticks/s, `--speed F` × the recorded times, or (neither)
//! as fast as the daemon accepts: TCP by its backpressure, UDP by a window of
//! unacknowledged ticks checked against the daemon's `received` counter.

use std::fmt;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ingest::import::{Format, ImportCounts, ImportOptions, Importer, Input, Pacer, SymbolRule};
use ingest::wire::{FRAME_REPLAY, FrameEncoder, WireMsg};
use ingest::{SymbolCache, SymbolName, SymbolTable};
use mtf::{Side, Tick, TickKind};

use super::CtlError;
use crate::clock::now_ns;
use crate::metrics::{StatsReport, http_get};
use crate::synth::{Synth, SynthOptions};

/// How ticks travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// tickd binary frames, one per datagram.
    Udp,
    /// tickd binary frames, length-prefixed, over TCP.
    Tcp,
    /// InfluxDB line protocol over TCP (as QuestDB clients send).
    Ilp,
    /// InfluxDB line protocol over UDP.
    IlpUdp,
}

/// The importer format of the input files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    /// Guess from the file name and first line.
    Auto,
    /// Tardis.dev CSV (trades or quotes).
    Tardis,
    /// QuantConnect LEAN tick zips.
    Lean,
    /// hftbacktest Binance captures (`<ns> <json>` lines).
    HftBinance,
    /// TrueFX CSV.
    Truefx,
}

/// `tickctl send`.
#[derive(Args, Debug, Clone)]
pub struct SendArgs {
    /// History files (plain, gzip or zip).
    pub files: Vec<PathBuf>,
    /// Send a synthetic random walk instead of files.
    #[arg(long, conflicts_with = "files")]
    pub synthetic: bool,
    /// Symbols of the synthetic walk.
    #[arg(long, default_value_t = 4)]
    pub symbols: u32,
    /// Seed of the synthetic walk.
    #[arg(long, default_value_t = 0x5eed)]
    pub seed: u64,
    /// First event time of the synthetic walk, ns since the epoch (default:
    /// one hour ago).
    #[arg(long)]
    pub start_ns: Option<i64>,
    /// Skip the first N ticks of the input (resume a replay).
    #[arg(long, default_value_t = 0)]
    pub skip: u64,
    /// Input format.
    #[arg(long, value_enum, default_value_t = FileFormat::Auto)]
    pub format: FileFormat,
    /// Give every tick this symbol (else from the data or the file name).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Transport.
    #[arg(long, value_enum, default_value_t = Via::Tcp)]
    pub via: Via,
    /// Daemon address (default: from the state file for the transport).
    #[arg(long)]
    pub to: Option<SocketAddr>,
    /// Ticks per second.
    #[arg(long, conflicts_with = "speed")]
    pub rate: Option<f64>,
    /// Replay at this factor of the recorded times (1 = real time).
    #[arg(long)]
    pub speed: Option<f64>,
    /// Stop after this many ticks (synthetic: default 1,000,000).
    #[arg(long)]
    pub max: Option<u64>,
    /// UDP without --rate/--speed: most ticks sent and not yet processed by
    /// the daemon (keep it below its `workers.queue_capacity`).
    #[arg(long, default_value_t = 32_768)]
    pub window: u64,
    /// Stream id of the binary frames (default: from the pid and clock).
    #[arg(long)]
    pub stream_id: Option<u32>,
    /// ILP table name.
    #[arg(long, default_value = "ticks")]
    pub table: String,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What a send did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SendSummary {
    /// Ticks sent.
    pub ticks: u64,
    /// Trades among them.
    pub trades: u64,
    /// Quotes among them.
    pub quotes: u64,
    /// Frames, datagrams or write batches.
    pub messages: u64,
    /// Bytes on the wire.
    pub bytes: u64,
    /// Seconds.
    pub elapsed_s: f64,
    /// Rows read from files.
    pub rows: u64,
    /// Rows that gave no tick (skipped, malformed or invalid).
    pub rows_without_tick: u64,
    /// UDP ticks the daemon had not counted when the send ended.
    pub unacknowledged: u64,
    /// Transport.
    pub via: String,
    /// Where to.
    pub to: String,
}

impl fmt::Display for SendSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = self.ticks as f64 / self.elapsed_s.max(1e-9);
        write!(
            f,
            "sent {} ticks ({} trades, {} quotes) in {:.2} s = {}/s over {} to {}: {} messages, {} bytes",
            self.ticks,
            self.trades,
            self.quotes,
            self.elapsed_s,
            crate::units::human_rate(rate),
            self.via,
            self.to,
            self.messages,
            self.bytes
        )?;
        if self.rows > 0 {
            write!(
                f,
                "; {} rows read, {} without a tick",
                self.rows, self.rows_without_tick
            )?;
        }
        if self.unacknowledged > 0 {
            write!(
                f,
                "; {} UDP ticks not counted by the daemon (lost?)",
                self.unacknowledged
            )?;
        }
        Ok(())
    }
}

/// One transport.
trait Wire {
    fn push(&mut self, t: &Tick, name: &SymbolName) -> std::io::Result<()>;
    fn flush(&mut self) -> std::io::Result<()>;
    fn messages(&self) -> u64;
    fn bytes(&self) -> u64;
}

struct BinUdp {
    sock: UdpSocket,
    enc: FrameEncoder,
    msgs: u64,
    bytes: u64,
}

impl Wire for BinUdp {
    fn push(&mut self, t: &Tick, name: &SymbolName) -> std::io::Result<()> {
        let m = WireMsg::from_tick(t, *name);
        if self.enc.push(&m).is_err() {
            self.flush()?;
            self.enc
                .push(&m)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.enc.pending() == 0 {
            return Ok(());
        }
        let frame = self.enc.finish(now_ns());
        loop {
            match self.sock.send(frame) {
                Ok(n) => {
                    self.msgs += 1;
                    self.bytes += n as u64;
                    return Ok(());
                }
                // The local send buffer is full: wait for it, never drop here.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_micros(50))
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // Nothing listening yet (ICMP port unreachable from an earlier datagram).
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Err(e),
                Err(e) => return Err(e),
            }
        }
    }
    fn messages(&self) -> u64 {
        self.msgs
    }
    fn bytes(&self) -> u64 {
        self.bytes
    }
}

struct BinTcp {
    sock: std::io::BufWriter<TcpStream>,
    enc: FrameEncoder,
    msgs: u64,
    bytes: u64,
}

impl Wire for BinTcp {
    fn push(&mut self, t: &Tick, name: &SymbolName) -> std::io::Result<()> {
        let m = WireMsg::from_tick(t, *name);
        if self.enc.push(&m).is_err() {
            self.write_frame()?;
            self.enc
                .push(&m)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.write_frame()?;
        self.sock.flush()
    }
    fn messages(&self) -> u64 {
        self.msgs
    }
    fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl BinTcp {
    fn write_frame(&mut self) -> std::io::Result<()> {
        if self.enc.pending() == 0 {
            return Ok(());
        }
        let frame = self.enc.finish(now_ns());
        self.sock.write_all(frame)?;
        self.msgs += 1;
        self.bytes += frame.len() as u64;
        Ok(())
    }
}

/// ILP lines, over TCP (a stream) or UDP (lines packed into datagrams).
struct Ilp {
    table: String,
    buf: Vec<u8>,
    tcp: Option<std::io::BufWriter<TcpStream>>,
    udp: Option<UdpSocket>,
    max_datagram: usize,
    msgs: u64,
    bytes: u64,
}

fn escape_tag(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        if matches!(b, b',' | b' ' | b'=' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

fn push_f64(out: &mut Vec<u8>, v: f64) {
    let mut b = ryu::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

/// One ILP line for a tick (trade: price/size/id; quote: bid/ask/sizes).
pub fn ilp_line(table: &str, t: &Tick, name: &str, out: &mut Vec<u8>) {
    escape_tag(table, out);
    out.extend_from_slice(b",symbol=");
    escape_tag(name, out);
    match t.kind {
        TickKind::Trade => {
            match t.side {
                Side::Buy => out.extend_from_slice(b",side=buy"),
                Side::Sell => out.extend_from_slice(b",side=sell"),
                Side::Unknown => {}
            }
            out.extend_from_slice(b" price=");
            push_f64(out, t.price);
            out.extend_from_slice(b",size=");
            push_f64(out, t.size);
        }
        TickKind::Quote => {
            out.extend_from_slice(b" bid=");
            push_f64(out, t.price);
            out.extend_from_slice(b",ask=");
            push_f64(out, t.ask);
            out.extend_from_slice(b",bid_size=");
            push_f64(out, t.size);
            out.extend_from_slice(b",ask_size=");
            push_f64(out, t.ask_size);
        }
    }
    if t.id != 0 {
        out.extend_from_slice(b",id=");
        out.extend_from_slice(itoa::Buffer::new().format(t.id).as_bytes());
        out.push(b'i');
    }
    out.push(b' ');
    out.extend_from_slice(itoa::Buffer::new().format(t.ts_event).as_bytes());
    out.push(b'\n');
}

impl Wire for Ilp {
    fn push(&mut self, t: &Tick, name: &SymbolName) -> std::io::Result<()> {
        let before = self.buf.len();
        ilp_line(&self.table, t, name.as_str(), &mut self.buf);
        if self.udp.is_some() && self.buf.len() > self.max_datagram && before > 0 {
            // Send what fitted; keep this line for the next datagram.
            let line = self.buf.split_off(before);
            self.flush()?;
            self.buf = line;
        } else if self.buf.len() >= 64 << 10 {
            self.flush()?;
        }
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Some(s) = &mut self.tcp {
            s.write_all(&self.buf)?;
            s.flush()?;
        } else if let Some(u) = &self.udp {
            loop {
                match u.send(&self.buf) {
                    Ok(_) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_micros(50))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.msgs += 1;
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
    fn messages(&self) -> u64 {
        self.msgs
    }
    fn bytes(&self) -> u64 {
        self.bytes
    }
}

fn connect(
    via: Via,
    to: SocketAddr,
    stream_id: u32,
    replay: bool,
    table: &str,
) -> Result<Box<dyn Wire>, CtlError> {
    let no_daemon = |e: std::io::Error| CtlError::NoDaemon(format!("cannot reach {to}: {e}"));
    let udp = || -> Result<UdpSocket, CtlError> {
        let bind: SocketAddr = if to.is_ipv6() {
            "[::]:0".parse().expect("literal")
        } else {
            "0.0.0.0:0".parse().expect("literal")
        };
        let s = UdpSocket::bind(bind).map_err(|e| CtlError::Failed(e.to_string()))?;
        s.connect(to).map_err(no_daemon)?;
        Ok(s)
    };
    let tcp = || -> Result<TcpStream, CtlError> {
        let s = TcpStream::connect_timeout(&to, Duration::from_secs(3)).map_err(no_daemon)?;
        let _ = s.set_nodelay(true);
        Ok(s)
    };
    let flags = if replay { FRAME_REPLAY } else { 0 };
    Ok(match via {
        Via::Udp => {
            let mut enc = FrameEncoder::new(stream_id, 1, ingest::wire::DEFAULT_MAX_DATAGRAM)
                .map_err(|e| CtlError::Failed(e.to_string()))?;
            enc.set_flags(flags);
            Box::new(BinUdp {
                sock: udp()?,
                enc,
                msgs: 0,
                bytes: 0,
            })
        }
        Via::Tcp => {
            let mut enc = FrameEncoder::new_tcp(stream_id, 1, 16 << 10)
                .map_err(|e| CtlError::Failed(e.to_string()))?;
            enc.set_flags(flags);
            Box::new(BinTcp {
                sock: std::io::BufWriter::with_capacity(256 << 10, tcp()?),
                enc,
                msgs: 0,
                bytes: 0,
            })
        }
        Via::Ilp => Box::new(Ilp {
            table: table.to_string(),
            buf: Vec::with_capacity(128 << 10),
            tcp: Some(std::io::BufWriter::with_capacity(256 << 10, tcp()?)),
            udp: None,
            max_datagram: 0,
            msgs: 0,
            bytes: 0,
        }),
        Via::IlpUdp => Box::new(Ilp {
            table: table.to_string(),
            buf: Vec::with_capacity(4096),
            tcp: None,
            udp: Some(udp()?),
            max_datagram: 1400,
            msgs: 0,
            bytes: 0,
        }),
    })
}

/// Where ticks come from (one per process: the size difference is irrelevant).
#[allow(clippy::large_enum_variant)]
enum Feed {
    Files {
        files: Vec<PathBuf>,
        next: usize,
        cur: Option<Box<Importer>>,
        opts: ImportOptions,
        auto: bool,
        cache: SymbolCache,
        buf: Vec<Tick>,
        pos: usize,
        len: usize,
        counts: Box<ImportCounts>,
    },
    Synthetic {
        walk: Synth,
        names: Vec<SymbolName>,
    },
}

impl Feed {
    /// The next tick and its symbol name; `None` at the end.
    fn next(&mut self) -> Result<Option<(Tick, SymbolName)>, CtlError> {
        match self {
            Feed::Synthetic { walk, names } => {
                let (t, _) = walk.next_tick();
                let name = names[t.symbol as usize];
                Ok(Some((t, name)))
            }
            Feed::Files {
                files,
                next,
                cur,
                opts,
                auto,
                cache,
                buf,
                pos,
                len,
                counts,
            } => loop {
                if *pos < *len {
                    let t = buf[*pos];
                    *pos += 1;
                    let name = cache.table().name(t.symbol).ok_or_else(|| {
                        CtlError::Failed(format!("symbol id {} has no name", t.symbol))
                    })?;
                    return Ok(Some((t, name)));
                }
                if let Some(imp) = cur {
                    let n = imp
                        .next_batch(cache, buf)
                        .map_err(|e| CtlError::Input(e.to_string()))?;
                    if n > 0 {
                        (*pos, *len) = (0, n);
                        continue;
                    }
                    counts.merge(imp.counts());
                    *cur = None;
                }
                let Some(path) = files.get(*next) else {
                    return Ok(None);
                };
                *next += 1;
                let mut o = opts.clone();
                if *auto {
                    o.format = guess(path)?;
                }
                *cur = Some(Box::new(
                    Importer::open(Input::Path(path.clone()), o)
                        .map_err(|e| CtlError::Input(e.to_string()))?,
                ));
            },
        }
    }

    fn counts(&self) -> Option<ImportCounts> {
        match self {
            Feed::Files { counts, cur, .. } => {
                let mut c = **counts;
                if let Some(i) = cur {
                    c.merge(i.counts());
                }
                Some(c)
            }
            Feed::Synthetic { .. } => None,
        }
    }
}

/// Guess a file's format from its name and first line (decompressed: plain,
/// gzip or the first member of a zip), through `ingest::import::sniff`.
pub fn guess(path: &Path) -> Result<Format, CtlError> {
    ingest::import::sniff(&Input::Path(path.to_path_buf()))
        .map_err(|e| CtlError::Input(format!("{}: {e}", path.display())))?
        .ok_or_else(|| {
            CtlError::Input(format!(
                "{}: cannot tell the format; pass --format tardis|lean|hft-binance|truefx",
                path.display()
            ))
        })
}

fn endpoint_for(data_dir: &Path, via: Via) -> Result<SocketAddr, CtlError> {
    let st = super::daemon_state(data_dir)?;
    let e = &st.endpoints;
    let (addr, key) = match via {
        Via::Udp => (e.udp_binary, "ingest.udp_binary"),
        Via::Tcp => (e.tcp_binary, "ingest.tcp_binary"),
        Via::Ilp => (e.ilp_tcp, "ingest.ilp_tcp"),
        Via::IlpUdp => (e.ilp_udp, "ingest.ilp_udp"),
    };
    addr.ok_or_else(|| {
        CtlError::NoDaemon(format!(
            "the daemon has no {key} listener (set it in its config, or pass --to)"
        ))
    })
}

/// Ticks the daemon is done with: aggregated, refused, dropped or
/// unparsable. A UDP sender that keeps `sent - done` under its window never
/// overfills the daemon's queues.
fn done_by_daemon(metrics: Option<SocketAddr>) -> Option<u64> {
    let body = http_get(metrics?, "/stats.json", Duration::from_secs(2)).ok()?;
    let r: StatsReport = serde_json::from_str(&body).ok()?;
    let rejected: u64 = r.rejected.iter().map(|(_, n)| n).sum();
    Some(r.counter("processed") + rejected + r.counter("queue_full_drops") + r.counter("malformed"))
}

/// Run a send.
pub fn run(data_dir: &Path, a: &SendArgs) -> Result<SendSummary, CtlError> {
    if !a.synthetic && a.files.is_empty() {
        return Err(CtlError::Usage(
            "give history files to send, or --synthetic".into(),
        ));
    }
    if let Some(r) = a.rate
        && !(r.is_finite() && r > 0.0)
    {
        return Err(CtlError::Usage(format!("--rate {r}: must be > 0")));
    }
    if let Some(s) = a.speed
        && !(s.is_finite() && s > 0.0)
    {
        return Err(CtlError::Usage(format!("--speed {s}: must be > 0")));
    }
    let to = match a.to {
        Some(t) => t,
        None => endpoint_for(data_dir, a.via)?,
    };
    let metrics = super::daemon_state(data_dir)
        .ok()
        .and_then(|s| s.endpoints.metrics);
    let stream_id = a
        .stream_id
        .unwrap_or_else(|| std::process::id() ^ (now_ns() as u32).rotate_left(16));
    let mut feed = if a.synthetic {
        let walk = Synth::new(SynthOptions {
            symbols: a.symbols.max(1),
            seed: a.seed,
            start_ns: a.start_ns.unwrap_or_else(|| now_ns() - 3_600_000_000_000),
            ..SynthOptions::default()
        });
        let names = walk
            .names()
            .iter()
            .map(|n| n.parse::<SymbolName>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CtlError::Failed(e.to_string()))?;
        Feed::Synthetic { walk, names }
    } else {
        let format = match a.format {
            FileFormat::Auto => Format::Tardis,
            FileFormat::Tardis => Format::Tardis,
            FileFormat::Lean => Format::Lean(Default::default()),
            FileFormat::HftBinance => Format::HftBinance,
            FileFormat::Truefx => Format::TrueFx,
        };
        let mut opts = ImportOptions::new(format);
        if let Some(s) = &a.symbol {
            let name: SymbolName = s
                .parse()
                .map_err(|e| CtlError::Usage(format!("--symbol {s:?}: {e}")))?;
            opts = opts.symbol(SymbolRule::Force(name));
        }
        for f in &a.files {
            if !f.is_file() {
                return Err(CtlError::Input(format!("{}: no such file", f.display())));
            }
        }
        Feed::Files {
            files: a.files.clone(),
            next: 0,
            cur: None,
            opts,
            auto: a.format == FileFormat::Auto,
            cache: SymbolCache::new(Arc::new(SymbolTable::new(1 << 20))),
            buf: vec![Tick::default(); 4096],
            pos: 0,
            len: 0,
            counts: Box::default(),
        }
    };
    let max = a.max.or(a.synthetic.then_some(1_000_000));
    let mut wire = connect(a.via, to, stream_id, !a.synthetic, &a.table)?;

    let pb = if a.quiet {
        ProgressBar::hidden()
    } else {
        match max {
            Some(m) => ProgressBar::new(m),
            None => ProgressBar::new_spinner(),
        }
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {human_pos}/{human_len} ticks {per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let t0 = Instant::now();
    let wall0 = now_ns();
    let mut pacer = a.speed.map(|s| Pacer::new(s, wall0));
    let udp_window =
        matches!(a.via, Via::Udp | Via::IlpUdp) && a.rate.is_none() && a.speed.is_none();
    let base = if udp_window {
        done_by_daemon(metrics)
    } else {
        None
    };
    let mut s = SendSummary {
        via: format!("{:?}", a.via).to_lowercase(),
        to: to.to_string(),
        ..SendSummary::default()
    };
    let mut acked = 0u64;
    let io = |e: std::io::Error| CtlError::Failed(format!("send to {to}: {e}"));
    for _ in 0..a.skip {
        if feed.next()?.is_none() {
            break;
        }
    }
    while max.is_none_or(|m| s.ticks < m) {
        let Some((t, name)) = feed.next()? else { break };
        // Pacing.
        let due = if let Some(r) = a.rate {
            Some(wall0 + (s.ticks as f64 / r * 1e9) as i64)
        } else {
            pacer.as_mut().map(|p| p.due_ns(t.ts_recv))
        };
        if let Some(due) = due {
            let now = now_ns();
            if due > now {
                wire.flush().map_err(io)?;
                std::thread::sleep(Duration::from_nanos((due - now) as u64));
            }
        }
        wire.push(&t, &name).map_err(io)?;
        s.ticks += 1;
        match t.kind {
            TickKind::Trade => s.trades += 1,
            TickKind::Quote => s.quotes += 1,
        }
        if s.ticks.is_multiple_of(4096) {
            pb.set_position(s.ticks);
        }
        if let Some(b) = base
            && s.ticks - acked >= a.window
        {
            wire.flush().map_err(io)?;
            acked = wait_for_daemon(metrics, b, s.ticks, a.window / 2);
        }
    }
    wire.flush().map_err(io)?;
    if let Some(b) = base {
        acked = wait_for_daemon(metrics, b, s.ticks, 0);
        s.unacknowledged = s.ticks.saturating_sub(acked);
    }
    pb.set_position(s.ticks);
    pb.finish_and_clear();
    s.elapsed_s = t0.elapsed().as_secs_f64();
    s.messages = wire.messages();
    s.bytes = wire.bytes();
    if let Some(c) = feed.counts() {
        s.rows = c.rows;
        s.rows_without_tick = c.rows.saturating_sub(c.ticks);
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string(&s).map_err(|e| CtlError::Failed(e.to_string()))?
        );
    }
    Ok(s)
}

/// Wait until the daemon counted at least `sent - slack` ticks since `base`;
/// gives up after 2 s without progress. Returns the count seen.
fn wait_for_daemon(metrics: Option<SocketAddr>, base: u64, sent: u64, slack: u64) -> u64 {
    let mut last = 0u64;
    let mut since = Instant::now();
    loop {
        let Some(now) = done_by_daemon(metrics) else {
            return sent;
        };
        let got = now.saturating_sub(base);
        if got + slack >= sent {
            return got;
        }
        if got > last {
            last = got;
            since = Instant::now();
        } else if since.elapsed() > Duration::from_secs(2) {
            return got;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ilp_lines_escape_and_round_trip_floats() {
        let mut out = Vec::new();
        let t = Tick::trade(
            0,
            1_700_000_000_123_456_789,
            61737.63,
            0.00123,
            Side::Sell,
            42,
        );
        ilp_line("ticks", &t, "BTC USDT", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ticks,symbol=BTC\\ USDT,side=sell price=61737.63,size=0.00123,id=42i 1700000000123456789\n"
        );
        let mut out = Vec::new();
        let q = Tick::quote(0, 5, 1.1, 2.0, 1.2, 3.0);
        ilp_line("q", &q, "EURUSD", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "q,symbol=EURUSD bid=1.1,ask=1.2,bid_size=2.0,ask_size=3.0 5\n"
        );
    }
}
