//! [`ReceiverConfig`] and the receivers' counters.

use std::net::SocketAddr;
use std::time::Duration;

use crate::ilp::{IlpConfig, IlpCounts};
use crate::seq::SeqCounts;
use crate::validate::Validator;
use crate::wire::{HEADER_LEN, MAX_DATAGRAM, QUOTE_LEN, WireCounts};

use super::sys::RecvBufOutcome;

/// What one receiver (one ingest thread) listens on, and its limits.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiverConfig {
    /// Binary wire format over UDP.
    pub udp_binary: Option<SocketAddr>,
    /// Binary wire format over TCP.
    pub tcp_binary: Option<SocketAddr>,
    /// ILP over TCP (QuestDB's default port is 9009).
    pub ilp_tcp: Option<SocketAddr>,
    /// ILP over UDP.
    pub ilp_udp: Option<SocketAddr>,
    /// `SO_REUSEPORT` on every listener, so several ingest threads can each
    /// bind the same addresses and the kernel spreads senders across them.
    pub reuse_port: bool,
    /// UDP receive buffer in bytes (`SO_RCVBUFFORCE`, falling back to `SO_RCVBUF`).
    pub udp_recv_buffer: usize,
    /// Datagrams per `recvmmsg` call (1..=1024).
    pub udp_batch: usize,
    /// Largest datagram taken whole, bytes (longer ones are cut and refused).
    pub max_datagram: usize,
    /// Largest TCP binary frame, bytes (length prefix excluded).
    pub max_frame: usize,
    /// Read buffer per TCP connection, bytes (raised to hold one maximal frame or line).
    pub tcp_buffer: usize,
    /// Most open TCP connections (over all TCP listeners); more are accepted and closed.
    pub max_connections: usize,
    /// Most (source, stream) pairs tracked for sequence numbers.
    pub max_streams: usize,
    /// Checks on every tick.
    pub validator: Validator,
    /// ILP mapping and line limit.
    pub ilp: IlpConfig,
    /// Longest wait in `poll` when idle (bounds how late a stop request is seen).
    pub poll_timeout: Duration,
    /// After a round that found work, keep polling without blocking for this
    /// long before blocking in `poll` again (`Duration::MAX`: never block).
    /// A steady feed then never pays the wake-up from a blocked `epoll_wait`
    /// and finds its caches warm; the thread burns its core while it spins.
    pub spin_after_work: Duration,
}

impl Default for ReceiverConfig {
    fn default() -> ReceiverConfig {
        ReceiverConfig {
            udp_binary: None,
            tcp_binary: None,
            ilp_tcp: None,
            ilp_udp: None,
            reuse_port: false,
            udp_recv_buffer: 64 << 20,
            udp_batch: 64,
            max_datagram: MAX_DATAGRAM,
            max_frame: 64 << 10,
            tcp_buffer: 128 << 10,
            max_connections: 1024,
            max_streams: 4096,
            validator: Validator::history(),
            ilp: IlpConfig::default(),
            poll_timeout: Duration::from_millis(10),
            spin_after_work: Duration::ZERO,
        }
    }
}

/// Why a [`ReceiverConfig`] was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A limit outside its range.
    #[error("receiver config: {what} = {value} outside {range}")]
    Range {
        /// The setting.
        what: &'static str,
        /// Its value.
        value: usize,
        /// The allowed range, as text.
        range: &'static str,
    },
    /// The ILP mapping does not compile.
    #[error(transparent)]
    Ilp(#[from] crate::ilp::IlpConfigError),
}

impl ReceiverConfig {
    /// Checks the limits.
    pub fn check(&self) -> Result<(), ConfigError> {
        let range = |what, value: usize, lo: usize, hi: usize, text| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err(ConfigError::Range {
                    what,
                    value,
                    range: text,
                })
            }
        };
        range("udp_batch", self.udp_batch, 1, 1024, "1..=1024")?;
        range(
            "max_datagram",
            self.max_datagram,
            HEADER_LEN + QUOTE_LEN,
            MAX_DATAGRAM,
            "104..=65507",
        )?;
        range(
            "max_frame",
            self.max_frame,
            HEADER_LEN + QUOTE_LEN,
            64 << 20,
            "104..=64 MiB",
        )?;
        range(
            "tcp_buffer",
            self.tcp_buffer,
            4096,
            256 << 20,
            "4 KiB..=256 MiB",
        )?;
        range(
            "max_connections",
            self.max_connections,
            1,
            65_536,
            "1..=65536",
        )?;
        range("max_streams", self.max_streams, 1, 1 << 24, "1..=16777216")?;
        range(
            "udp_recv_buffer",
            self.udp_recv_buffer,
            4096,
            1 << 30,
            "4 KiB..=1 GiB",
        )?;
        Ok(())
    }
}

/// Socket-level counters of one receiver (plain; see [`ReceiverStats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetCounts {
    /// Datagrams received (both UDP listeners).
    pub udp_datagrams: u64,
    /// Bytes of those datagrams.
    pub udp_bytes: u64,
    /// Datagrams longer than `max_datagram`, cut by the kernel and refused.
    pub udp_truncated: u64,
    /// UDP ticks dropped because the sink was full (counted apart from kernel drops).
    pub udp_sink_full_drops: u64,
    /// Datagrams the kernel dropped for a full receive buffer (`SO_RXQ_OVFL`), both sockets.
    pub udp_kernel_drops: u64,
    /// TCP connections accepted and kept.
    pub tcp_accepted: u64,
    /// TCP connections refused (over `max_connections`): accepted and closed at once.
    pub tcp_refused: u64,
    /// TCP connections closed (by the peer, on error, or for a bad frame length).
    pub tcp_closed: u64,
    /// Of those, closed for a read error.
    pub tcp_errors: u64,
    /// Of those, closed for a frame length prefix outside `32..=max_frame`.
    pub tcp_bad_length: u64,
    /// Bytes read from TCP connections.
    pub tcp_bytes: u64,
    /// Times a TCP connection stopped being read because the sink was full.
    pub tcp_backpressure: u64,
    /// Ticks the sink took (all transports).
    pub ticks: u64,
}

impl NetCounts {
    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &NetCounts) {
        self.udp_datagrams += o.udp_datagrams;
        self.udp_bytes += o.udp_bytes;
        self.udp_truncated += o.udp_truncated;
        self.udp_sink_full_drops += o.udp_sink_full_drops;
        self.udp_kernel_drops += o.udp_kernel_drops;
        self.tcp_accepted += o.tcp_accepted;
        self.tcp_refused += o.tcp_refused;
        self.tcp_closed += o.tcp_closed;
        self.tcp_errors += o.tcp_errors;
        self.tcp_bad_length += o.tcp_bad_length;
        self.tcp_bytes += o.tcp_bytes;
        self.tcp_backpressure += o.tcp_backpressure;
        self.ticks += o.ticks;
    }
}

/// Everything one receiver counted: a copy, taken on its thread.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReceiverStats {
    /// Sockets.
    pub net: NetCounts,
    /// Binary frames and messages.
    pub wire: WireCounts,
    /// Sequence numbers.
    pub seq: SeqCounts,
    /// ILP lines.
    pub ilp: IlpCounts,
    /// Open TCP connections now.
    pub open_connections: usize,
    /// The UDP binary socket's receive buffer.
    pub udp_binary_buffer: Option<RecvBufOutcome>,
    /// The ILP UDP socket's receive buffer.
    pub ilp_udp_buffer: Option<RecvBufOutcome>,
}

impl ReceiverStats {
    /// Adds the counters of `o` into `self` (several ingest threads).
    pub fn merge(&mut self, o: &ReceiverStats) {
        self.net.merge(&o.net);
        self.wire.merge(&o.wire);
        self.seq.merge(&o.seq);
        self.ilp.merge(&o.ilp);
        self.open_connections += o.open_connections;
    }
}
