//! The socket receivers of the ingest threads: `ingest::net::Receiver`s (one
//! mio poll loop per thread) whose sink is the thread's [`Dispatcher`].
//!
//! With several ingest threads every receiver binds the same addresses with
//! `SO_REUSEPORT` and the kernel spreads the senders across them; with port 0
//! the first receiver picks the ports and the others bind those.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crossbeam_queue::ArrayQueue;
use std::time::{Duration, Instant};

use ingest::net::{Listener, Receiver, ReceiverConfig, ReceiverStats};
use ingest::seq::GapEvent;
use ingest::sink::{Sink, SinkFull};
use ingest::{RejectCounts, SymbolTable, Validator};
use mtf::Tick;

use crate::config::{Config, IdlePolicy, WorkerMode};
use crate::dispatch::Dispatcher;
use crate::pipeline::{Endpoints, EngineError};
use crate::stats::{Counter, ThreadStats};

/// How often a receiver's counters are copied into the engine's stats.
pub const REPORT_EVERY: Duration = Duration::from_millis(50);

impl Sink for Dispatcher {
    #[inline]
    fn offer(&mut self, tick: &Tick) -> Result<(), SinkFull> {
        // Taken (queued, or refused by validation and counted) or handed back.
        self.try_offer(tick).map(|_| ()).map_err(|_| SinkFull)
    }

    #[inline]
    fn flush(&mut self) {
        self.end_batch();
    }
}

/// Whether any listener is configured.
pub fn any_listener(cfg: &Config) -> bool {
    let i = &cfg.ingest;
    i.udp_binary.is_some() || i.tcp_binary.is_some() || i.ilp_tcp.is_some() || i.ilp_udp.is_some()
}

/// The receiver configuration of the engine config.
pub fn receiver_config(cfg: &Config, validator: Validator) -> ReceiverConfig {
    let i = &cfg.ingest;
    ReceiverConfig {
        udp_binary: i.udp_binary,
        tcp_binary: i.tcp_binary,
        ilp_tcp: i.ilp_tcp,
        ilp_udp: i.ilp_udp,
        reuse_port: i.threads > 1,
        udp_recv_buffer: i.udp_recv_buffer,
        max_datagram: i.max_datagram,
        max_frame: i.max_frame,
        max_connections: i.max_connections,
        validator,
        // Inline mode: the ingest thread also runs the workers' housekeeping
        // (wall-clock close, ring heartbeat, gap events) at the end of every
        // poll round, so an idle poll must not wait longer than it is due.
        poll_timeout: match cfg.workers.mode {
            WorkerMode::Inline => Duration::from_millis(1),
            WorkerMode::Threads => ReceiverConfig::default().poll_timeout,
        },
        // Inline mode: the ingest thread is the worker, so the workers' idle
        // policy is its own: `spin` never blocks in poll, `park` polls
        // without blocking for `park_after` after its last work.
        spin_after_work: match (cfg.workers.mode, cfg.workers.idle) {
            (WorkerMode::Inline, IdlePolicy::Spin) => Duration::MAX,
            (WorkerMode::Inline, IdlePolicy::Park) => cfg.workers.park_after,
            (WorkerMode::Threads, _) => Duration::ZERO,
        },
        ..ReceiverConfig::default()
    }
}

/// Bind one receiver per dispatcher (ingest thread).
pub fn bind(
    cfg: &Config,
    validator: Validator,
    symbols: &Arc<SymbolTable>,
    dispatchers: Vec<Dispatcher>,
) -> Result<(Vec<Receiver<Dispatcher>>, Endpoints), EngineError> {
    let mut rc = receiver_config(cfg, validator);
    let mut out = Vec::with_capacity(dispatchers.len());
    let mut endpoints = Endpoints::default();
    for (i, d) in dispatchers.into_iter().enumerate() {
        let r = Receiver::bind(&rc, symbols.clone(), d).map_err(|source| {
            let (what, addr) = first_listener(&rc);
            EngineError::Listen { what, addr, source }
        })?;
        if i == 0 {
            // Later receivers bind the ports the first one got.
            rc.udp_binary = r.local_addr(Listener::UdpBinary);
            rc.tcp_binary = r.local_addr(Listener::TcpBinary);
            rc.ilp_tcp = r.local_addr(Listener::IlpTcp);
            rc.ilp_udp = r.local_addr(Listener::IlpUdp);
            endpoints = Endpoints {
                udp_binary: rc.udp_binary,
                tcp_binary: rc.tcp_binary,
                ilp_tcp: rc.ilp_tcp,
                ilp_udp: rc.ilp_udp,
                metrics: None,
            };
        }
        out.push(r);
    }
    Ok((out, endpoints))
}

fn first_listener(rc: &ReceiverConfig) -> (&'static str, SocketAddr) {
    let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
    [
        ("udp_binary", rc.udp_binary),
        ("tcp_binary", rc.tcp_binary),
        ("ilp_tcp", rc.ilp_tcp),
        ("ilp_udp", rc.ilp_udp),
    ]
    .into_iter()
    .find_map(|(w, a)| a.map(|a| (w, a)))
    .unwrap_or(("listeners", unspecified))
}

/// Copy a receiver's running totals into its stats slot (on its own thread).
pub fn report_receiver(s: &ReceiverStats, out: &mut ThreadStats) {
    let mut rejects = RejectCounts::default();
    rejects.merge(&s.wire.rejects);
    rejects.merge(&s.ilp.rejects);
    out.set_rejects(&rejects);
    // Ticks refused before reaching the dispatcher: rejected by the decoders,
    // or dropped at a full queue (UDP).
    out.set(
        Counter::Received,
        rejects.total() + s.net.udp_sink_full_drops,
    );
    out.set(Counter::QueueFull, s.net.udp_sink_full_drops);
    out.set(Counter::Gaps, s.seq.missing);
    out.set(Counter::Duplicates, s.seq.duplicates);
    out.set(
        Counter::Malformed,
        s.wire.bad_frames_total() + s.wire.malformed_msgs + s.ilp.malformed_total(),
    );
    out.set(Counter::Datagrams, s.net.udp_datagrams);
    out.set(Counter::Connections, s.net.tcp_accepted);
    out.set(Counter::ConnectionsRefused, s.net.tcp_refused);
    out.set(Counter::KernelDrops, s.net.udp_kernel_drops);
    out.set(Counter::TcpBackpressure, s.net.tcp_backpressure);
    out.publish(Instant::now());
}

/// An ingest thread's loop: run the receiver until `stop`, reporting its
/// counters every [`REPORT_EVERY`] and handing the sequence gaps it saw to
/// `gaps` (for the worker that publishes them to subscribers). Errors end the
/// thread (logged; the daemon notices the dead thread and exits non-zero).
pub fn run_receiver(
    mut r: Receiver<Dispatcher>,
    mut net: ThreadStats,
    stop: &AtomicBool,
    gaps: &ArrayQueue<GapEvent>,
) {
    // Gap events that found the queue full since the last report (a slow or
    // absent publisher): counted and logged here, at most every REPORT_EVERY.
    let mut unsent = 0u64;
    let res = r.run_with(stop, REPORT_EVERY, |r| {
        report_receiver(&r.stats(), &mut net);
        r.take_gaps(|g| {
            if gaps.push(g).is_err() {
                unsent += 1;
            }
        });
        if unsent > 0 {
            tracing::warn!(
                events = unsent,
                "feed gap events not published to the ring (queue full); the gaps counter has them"
            );
            unsent = 0;
        }
    });
    report_receiver(&r.stats(), &mut net);
    net.publish_now();
    if let Err(e) = res {
        tracing::error!(error = %e, "receiver failed");
    }
}
