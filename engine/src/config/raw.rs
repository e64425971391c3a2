//! The configuration as written in TOML: every key, its built-in default, no
//! validation beyond types. [`super::Config::from_raw`] is the one conversion
//! into the validated form the engine trusts.
//!
//! `config/tickd.toml` documents every key and equals [`RawConfig::default`]
//! (a test checks it).

use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// `[daemon]`
    pub daemon: RawDaemon,
    /// `[ingest]`
    pub ingest: RawIngest,
    /// `[workers]`
    pub workers: RawWorkers,
    /// `[aggregation]`
    pub aggregation: RawAggregation,
    /// `[store]`
    pub store: RawStore,
    /// `[ring]`
    pub ring: RawRing,
    /// `[metrics]`
    pub metrics: RawMetrics,
    /// `[report]`
    pub report: RawReport,
}

/// `[daemon]`: process-wide settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDaemon {
    /// Directory of segments, symbol table and state; relative to the working directory.
    pub data_dir: String,
    /// Log filter (tracing `EnvFilter` syntax); `RUST_LOG` overrides it.
    pub log_level: String,
    /// Log file; empty: standard error. SIGHUP reopens it (for logrotate).
    pub log_file: String,
    /// Time allowed to drain and flush on SIGTERM/SIGINT before exiting anyway.
    pub shutdown_timeout: String,
}

impl Default for RawDaemon {
    fn default() -> Self {
        RawDaemon {
            data_dir: "tickd-data".into(),
            log_level: "info".into(),
            log_file: String::new(),
            shutdown_timeout: "4s".into(),
        }
    }
}

/// `[ingest]`: receiver threads and listeners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIngest {
    /// Number of ingest threads.
    pub threads: u32,
    /// CPU core of each ingest thread (one per thread), or empty: not pinned.
    pub cores: Vec<u32>,
    /// UDP listener for the tickd binary wire format; empty: off.
    pub udp_binary: String,
    /// TCP listener for the tickd binary wire format; empty: off.
    pub tcp_binary: String,
    /// TCP listener for the InfluxDB line protocol (QuestDB clients); empty: off.
    pub ilp_tcp: String,
    /// UDP listener for the InfluxDB line protocol; empty: off.
    pub ilp_udp: String,
    /// UDP socket receive buffer, bytes (`SO_RCVBUFFORCE` when allowed).
    pub udp_recv_buffer: u32,
    /// Largest UDP datagram accepted, bytes.
    pub max_datagram: u32,
    /// Largest binary frame or ILP line over TCP, bytes.
    pub max_frame: u32,
    /// Most TCP connections open at once, all listeners together.
    pub max_connections: u32,
    /// Earliest accepted event time, RFC 3339 date or date-time (UTC).
    pub min_event_time: String,
    /// Latest accepted event time, as the distance ahead of the wall clock.
    pub max_future: String,
}

impl Default for RawIngest {
    fn default() -> Self {
        RawIngest {
            threads: 1,
            cores: vec![0],
            udp_binary: "127.0.0.1:7400".into(),
            tcp_binary: "127.0.0.1:7401".into(),
            ilp_tcp: "127.0.0.1:9009".into(),
            ilp_udp: String::new(),
            udp_recv_buffer: 64 << 20,
            max_datagram: 1500,
            max_frame: 65_536,
            max_connections: 256,
            min_event_time: "1990-01-01".into(),
            max_future: "24h".into(),
        }
    }
}

/// `[workers]`: aggregation threads and the queues feeding them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWorkers {
    /// Where ticks are aggregated and published: `threads` (worker threads
    /// fed by queues from the ingest threads) or `inline` (on the one ingest
    /// thread that received them, no queue and no wake-up).
    pub mode: String,
    /// Number of worker threads; a symbol always goes to the same worker.
    pub threads: u32,
    /// CPU core of each worker thread (one per thread), or empty: not pinned.
    pub cores: Vec<u32>,
    /// Ticks per ingest→worker queue (a power of two; one queue per pair).
    pub queue_capacity: u32,
    /// What a worker does when it has no work: `spin` (lowest latency, burns
    /// its core) or `park` (spins `park_after` after its last work, then
    /// naps `nap` at a time).
    pub idle: String,
    /// `park`: spin this long after the last work before napping (up to 1s).
    pub park_after: String,
    /// `park`: one nap (1ns to 10ms).
    pub nap: String,
}

impl Default for RawWorkers {
    fn default() -> Self {
        RawWorkers {
            mode: "inline".into(),
            threads: 1,
            cores: vec![1],
            queue_capacity: 65_536,
            idle: "park".into(),
            park_after: "100us".into(),
            nap: "20us".into(),
        }
    }
}

/// `[aggregation]`: the bars built by `mtf`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAggregation {
    /// Bar widths.
    pub timeframes: Vec<String>,
    /// Bucket origin offset from the Unix epoch.
    pub origin: String,
    /// How long a bar stays open for late ticks after the watermark passes its end.
    pub allowed_lateness: String,
    /// Price of quote bars: `mid`, `bid` or `ask`.
    pub quote_price: String,
    /// Open-bar updates: `none`, `every_tick`, or an interval such as `100ms`.
    pub updates: String,
    /// Emit a flat bar (previous close, volume 0) for an empty bucket.
    pub fill_empty: bool,
    /// Close bars of quiet symbols on the wall clock (live feeds only; never for replays).
    pub wall_clock_close: bool,
}

impl Default for RawAggregation {
    fn default() -> Self {
        RawAggregation {
            timeframes: ["1s", "1m", "5m", "15m", "1h", "1d"]
                .map(String::from)
                .to_vec(),
            origin: "0s".into(),
            allowed_lateness: "0s".into(),
            quote_price: "mid".into(),
            updates: "none".into(),
            fill_empty: false,
            wall_clock_close: false,
        }
    }
}

/// `[store]`: tick and bar segments on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStore {
    /// Keep ticks and bars on disk.
    pub enabled: bool,
    /// Durability: `never`, `always`, or an interval such as `1s` (background msync).
    pub fsync: String,
    /// A block is made visible to queries at least this often.
    pub flush_interval: String,
    /// Size of a segment file, bytes (pre-allocated).
    pub segment_bytes: u64,
    /// Delete days older than this many days; 0: keep everything.
    pub retention_days: u32,
    /// Records buffered between each worker and the store thread (ticks and bars).
    pub queue_capacity: u32,
    /// Compression of hot blocks: `none` or `lz4` (sealing uses zstd either way).
    pub hot_compression: String,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            enabled: true,
            fsync: "1s".into(),
            flush_interval: "100ms".into(),
            segment_bytes: 256 << 20,
            retention_days: 0,
            queue_capacity: 1 << 20,
            hot_compression: "none".into(),
        }
    }
}

/// `[ring]`: shared memory for subscribers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRing {
    /// Publish to a shared-memory ring and snapshot table.
    pub enabled: bool,
    /// Ring file (a path under /dev/shm so it lives in memory).
    pub path: String,
    /// Snapshot table file.
    pub snapshot_path: String,
    /// 64-byte lines in the ring (a power of two): a tick or an event takes
    /// one, a bar two.
    pub capacity: u32,
    /// Publish every tick too, not only bars.
    pub publish_ticks: bool,
    /// Symbol ids with a slot in the snapshot table.
    pub max_symbols: u32,
    /// Group that may read the files (mode 0640); empty: the daemon's own group.
    pub group: String,
}

impl Default for RawRing {
    fn default() -> Self {
        RawRing {
            enabled: true,
            path: "/dev/shm/tickd.ring".into(),
            snapshot_path: "/dev/shm/tickd.snap".into(),
            capacity: 1 << 21,
            publish_ticks: false,
            max_symbols: 16_384,
            group: String::new(),
        }
    }
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMetrics {
    /// Loopback address of the HTTP endpoint (`GET /metrics`); empty: off.
    pub listen: String,
}

impl Default for RawMetrics {
    fn default() -> Self {
        RawMetrics {
            listen: "127.0.0.1:9187".into(),
        }
    }
}

/// `[report]`: the periodic latency and throughput report in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawReport {
    /// How often; `0s`: never.
    pub interval: String,
    /// Flag the report when p99 receive → published exceeds this.
    pub p99_alert: String,
    /// Flag the report when fewer ticks/s than this are processed while more are offered.
    pub min_rate: u64,
}

impl Default for RawReport {
    fn default() -> Self {
        RawReport {
            interval: "10s".into(),
            p99_alert: "100us".into(),
            min_rate: 1_000_000,
        }
    }
}
