//! Configuration: the TOML file ([`RawConfig`], every key with its default)
//! and the one conversion into the validated [`Config`] the engine trusts.
//!
//! Unknown keys and bad values are errors that name the key's path and what
//! is allowed:
//!
//! ```
//! use engine::config::Config;
//! let err = Config::from_toml_str("[workers]\nthreads = 0\n").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "config key `workers.threads` = 0: allowed: 1 to 64 threads"
//! );
//! let err = Config::from_toml_str("[workers]\nthread = 2\n").unwrap_err();
//! assert!(err.to_string().starts_with("config key `workers.thread`: unknown field"));
//! let ok = Config::from_toml_str("").unwrap();
//! assert_eq!(ok.workers.threads, 1);
//! ```

mod raw;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mtf::Timeframe;

pub use raw::{
    RawAggregation, RawConfig, RawDaemon, RawIngest, RawMetrics, RawReport, RawRing, RawStore,
    RawWorkers,
};

use crate::units::{format_duration, parse_duration};

/// Most ingest or worker threads.
pub const MAX_THREADS: u32 = 64;
/// Most configured timeframes.
pub const MAX_TIMEFRAMES: usize = 16;

/// Why a configuration was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a value of the wrong type.
    Parse {
        /// Dotted key path (`workers.threads`), empty at the top level.
        key: String,
        /// The parser's message.
        message: String,
    },
    /// A value of the right type that is not allowed.
    Invalid {
        /// Dotted key path.
        key: String,
        /// The value as written.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// A `--set key=value` override that is not of that form.
    Override(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "cannot read config file {}: {source}", path.display())
            }
            ConfigError::Parse { key, message } if key.is_empty() || key == "." => {
                write!(f, "config: {message}")
            }
            ConfigError::Parse { key, message } => write!(f, "config key `{key}`: {message}"),
            ConfigError::Invalid {
                key,
                value,
                allowed,
            } => write!(f, "config key `{key}` = {value}: allowed: {allowed}"),
            ConfigError::Override(s) => write!(
                f,
                "bad override {s:?}: expected KEY=VALUE with a dotted key, e.g. workers.threads=2"
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Directory of segments, the symbol table and the daemon's state file.
    pub data_dir: PathBuf,
    /// Log filter directive.
    pub log_level: String,
    /// Log file; `None`: standard error.
    pub log_file: Option<PathBuf>,
    /// Drain and flush budget on shutdown.
    pub shutdown_timeout: Duration,
    /// Receivers.
    pub ingest: IngestConfig,
    /// Workers.
    pub workers: WorkerConfig,
    /// Bars.
    pub aggregation: AggregationConfig,
    /// Disk.
    pub store: StoreConfig,
    /// Shared memory.
    pub ring: RingConfig,
    /// Prometheus endpoint; `None`: off.
    pub metrics_listen: Option<SocketAddr>,
    /// Periodic report.
    pub report: ReportConfig,
    raw: RawConfig,
}

/// `[ingest]`, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct IngestConfig {
    /// Ingest threads (1..=64).
    pub threads: usize,
    /// Core per thread; empty: unpinned.
    pub cores: Vec<usize>,
    /// UDP binary listener.
    pub udp_binary: Option<SocketAddr>,
    /// TCP binary listener.
    pub tcp_binary: Option<SocketAddr>,
    /// ILP over TCP listener.
    pub ilp_tcp: Option<SocketAddr>,
    /// ILP over UDP listener.
    pub ilp_udp: Option<SocketAddr>,
    /// UDP receive buffer, bytes.
    pub udp_recv_buffer: usize,
    /// Largest datagram, bytes.
    pub max_datagram: usize,
    /// Largest TCP frame or line, bytes.
    pub max_frame: usize,
    /// Most TCP connections.
    pub max_connections: usize,
    /// Earliest accepted event time, ns since the epoch.
    pub min_event_ns: i64,
    /// Latest accepted event time, ahead of the wall clock.
    pub max_future: Duration,
}

/// What an idle worker does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdlePolicy {
    /// Busy-spin (`spin_loop`), never sleeps.
    Spin,
    /// Spin a little, then sleep briefly.
    Park,
}

/// Where ticks are aggregated and published (`workers.mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerMode {
    /// Worker threads, fed by one SPSC queue per (ingest thread, worker).
    Threads,
    /// Run to completion on the (single) ingest thread: it validates,
    /// aggregates and publishes each batch it receives and hands only ticks
    /// and bars to the store thread.
    Inline,
}

/// `[workers]`, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerConfig {
    /// Threads or inline.
    pub mode: WorkerMode,
    /// Worker threads (1..=64).
    pub threads: usize,
    /// Core per thread; empty: unpinned.
    pub cores: Vec<usize>,
    /// Ticks per SPSC queue (power of two).
    pub queue_capacity: usize,
    /// Idle behaviour.
    pub idle: IdlePolicy,
    /// `park`: how long an idle worker spins after its last work before napping.
    pub park_after: Duration,
    /// `park`: one nap (the thread's timer slack is set to 1 µs).
    pub nap: Duration,
}

/// Which price a quote bar is built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotePrice {
    /// `(bid + ask) / 2`.
    Mid,
    /// The bid.
    Bid,
    /// The ask.
    Ask,
}

/// When open-bar updates are emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdatePolicy {
    /// Closed bars only.
    None,
    /// After every tick.
    EveryTick,
    /// At most once per interval per bar.
    Interval(Duration),
}

/// `[aggregation]`, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregationConfig {
    /// Distinct timeframes, ascending.
    pub timeframes: Vec<Timeframe>,
    /// Origin offset, ns.
    pub origin_ns: i64,
    /// Allowed lateness.
    pub allowed_lateness: Duration,
    /// Quote bar price.
    pub quote_price: QuotePrice,
    /// Open-bar updates.
    pub updates: UpdatePolicy,
    /// Flat bars for empty buckets.
    pub fill_empty: bool,
    /// Wall-clock closing for live feeds.
    pub wall_clock_close: bool,
}

/// Store durability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Never sync (the OS writes back).
    Never,
    /// Sync after every flush.
    Always,
    /// Sync from a background thread at this interval.
    Interval(Duration),
}

/// `[store]`, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    /// Store on.
    pub enabled: bool,
    /// Durability.
    pub fsync: Fsync,
    /// Flush interval.
    pub flush_interval: Duration,
    /// Segment size.
    pub segment_bytes: u64,
    /// Retention; `None`: keep all.
    pub retention_days: Option<u32>,
    /// Worker → store queue length.
    pub queue_capacity: usize,
    /// Hot blocks compressed with lz4 (else stored as encoded).
    pub hot_lz4: bool,
}

/// `[ring]`, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct RingConfig {
    /// Ring on.
    pub enabled: bool,
    /// Ring file.
    pub path: PathBuf,
    /// Snapshot file.
    pub snapshot_path: PathBuf,
    /// 64-byte lines (power of two).
    pub capacity: usize,
    /// Publish ticks too.
    pub publish_ticks: bool,
    /// Symbol slots in the snapshot table.
    pub max_symbols: u32,
    /// Reader group.
    pub group: Option<String>,
}

/// `[report]`, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportConfig {
    /// Interval; `None`: no report.
    pub interval: Option<Duration>,
    /// p99 end-to-end alert threshold.
    pub p99_alert: Duration,
    /// Throughput alert threshold, ticks/s.
    pub min_rate: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_raw(RawConfig::default()).expect("built-in defaults are valid")
    }
}

impl Config {
    /// Read and validate a config file, applying `overrides` (`key=value`) on top.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_path_buf(),
                source,
            })?,
            None => String::new(),
        };
        if overrides.is_empty() {
            return Config::from_toml_str(&text);
        }
        let mut value: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            key: String::new(),
            message: one_line(&e.to_string()),
        })?;
        for o in overrides {
            apply_override(&mut value, o)?;
        }
        Config::from_raw(raw_from_table(value)?)
    }

    /// Parse and validate TOML text.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let de = toml::Deserializer::new(text);
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.span().map(|s| {
                text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            });
            let message = match line {
                Some(n) => format!("{} (line {n})", one_line(inner.message())),
                None => one_line(inner.message()),
            };
            ConfigError::Parse { key, message }
        })?;
        Config::from_raw(raw)
    }

    /// The effective configuration as TOML (what `tickd --print-config` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.raw).expect("a RawConfig always serialises")
    }

    /// The raw form this was built from.
    pub fn raw(&self) -> &RawConfig {
        &self.raw
    }

    /// Validate.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        let d = &raw.daemon;
        let data_dir = non_empty_path("daemon.data_dir", &d.data_dir)?;
        if d.log_level.trim().is_empty() {
            return Err(invalid(
                "daemon.log_level",
                "\"\"",
                "a tracing filter such as info, debug or engine=debug,info",
            ));
        }
        let log_file = (!d.log_file.is_empty()).then(|| PathBuf::from(&d.log_file));
        let shutdown_timeout = duration("daemon.shutdown_timeout", &d.shutdown_timeout)?;
        if shutdown_timeout.is_zero() || shutdown_timeout > Duration::from_secs(60) {
            return Err(invalid(
                "daemon.shutdown_timeout",
                &d.shutdown_timeout,
                "more than 0s, at most 60s (systemd's stop timeout must exceed it)",
            ));
        }

        let i = &raw.ingest;
        let ingest = IngestConfig {
            threads: threads("ingest.threads", i.threads)?,
            cores: cores("ingest.cores", &i.cores, i.threads)?,
            udp_binary: listen("ingest.udp_binary", &i.udp_binary, false)?,
            tcp_binary: listen("ingest.tcp_binary", &i.tcp_binary, false)?,
            ilp_tcp: listen("ingest.ilp_tcp", &i.ilp_tcp, false)?,
            ilp_udp: listen("ingest.ilp_udp", &i.ilp_udp, false)?,
            udp_recv_buffer: ranged(
                "ingest.udp_recv_buffer",
                i.udp_recv_buffer,
                4096,
                1 << 30,
                "4096 to 1073741824 bytes",
            )?,
            max_datagram: ranged(
                "ingest.max_datagram",
                i.max_datagram,
                64,
                65_507,
                "64 to 65507 bytes (the largest UDP payload)",
            )?,
            max_frame: ranged(
                "ingest.max_frame",
                i.max_frame,
                64,
                16 << 20,
                "64 to 16777216 bytes",
            )?,
            max_connections: ranged(
                "ingest.max_connections",
                i.max_connections,
                1,
                65_536,
                "1 to 65536",
            )?,
            min_event_ns: event_time("ingest.min_event_time", &i.min_event_time)?,
            max_future: duration("ingest.max_future", &i.max_future)?,
        };
        let any_listener = ingest.udp_binary.is_some()
            || ingest.tcp_binary.is_some()
            || ingest.ilp_tcp.is_some()
            || ingest.ilp_udp.is_some();
        if !any_listener {
            return Err(invalid(
                "ingest",
                "(every listener empty)",
                "at least one of udp_binary, tcp_binary, ilp_tcp, ilp_udp set to an address",
            ));
        }

        let w = &raw.workers;
        let mode = match w.mode.as_str() {
            "threads" => WorkerMode::Threads,
            "inline" => WorkerMode::Inline,
            other => {
                return Err(invalid(
                    "workers.mode",
                    &quoted(other),
                    "\"threads\" or \"inline\"",
                ));
            }
        };
        let workers = WorkerConfig {
            mode,
            threads: threads("workers.threads", w.threads)?,
            cores: cores("workers.cores", &w.cores, w.threads)?,
            queue_capacity: power_of_two("workers.queue_capacity", w.queue_capacity, 64, 1 << 24)?,
            idle: match w.idle.as_str() {
                "spin" => IdlePolicy::Spin,
                "park" => IdlePolicy::Park,
                other => {
                    return Err(invalid(
                        "workers.idle",
                        &quoted(other),
                        "\"spin\" or \"park\"",
                    ));
                }
            },
            park_after: duration_at_most(
                "workers.park_after",
                &w.park_after,
                Duration::from_secs(1),
            )?,
            nap: duration_at_most("workers.nap", &w.nap, Duration::from_millis(10))?,
        };
        if workers.nap.is_zero() {
            return Err(invalid("workers.nap", &quoted(&w.nap), "1ns to 10ms"));
        }
        if mode == WorkerMode::Inline && (i.threads != 1 || w.threads != 1) {
            // One thread must see every tick of a symbol to aggregate it inline.
            let (key, n) = if i.threads != 1 {
                ("ingest.threads", i.threads)
            } else {
                ("workers.threads", w.threads)
            };
            return Err(invalid(
                key,
                &n.to_string(),
                "1 with workers.mode = \"inline\" (the one ingest thread aggregates \
                 every tick; set workers.mode = \"threads\" for more threads)",
            ));
        }

        let a = &raw.aggregation;
        let mut timeframes = Vec::with_capacity(a.timeframes.len());
        for (n, s) in a.timeframes.iter().enumerate() {
            let tf: Timeframe = s.parse().map_err(|e: mtf::TimeframeError| {
                invalid(
                    &format!("aggregation.timeframes[{n}]"),
                    &quoted(s),
                    &e.to_string(),
                )
            })?;
            if timeframes.contains(&tf) {
                return Err(invalid(
                    &format!("aggregation.timeframes[{n}]"),
                    &quoted(s),
                    "each timeframe once",
                ));
            }
            timeframes.push(tf);
        }
        if timeframes.is_empty() || timeframes.len() > MAX_TIMEFRAMES {
            return Err(invalid(
                "aggregation.timeframes",
                &format!("{:?}", a.timeframes),
                &format!("1 to {MAX_TIMEFRAMES} timeframes"),
            ));
        }
        timeframes.sort();
        let origin = duration("aggregation.origin", &a.origin)?;
        let aggregation = AggregationConfig {
            timeframes,
            origin_ns: i64::try_from(origin.as_nanos()).unwrap_or(i64::MAX),
            allowed_lateness: duration("aggregation.allowed_lateness", &a.allowed_lateness)?,
            quote_price: match a.quote_price.as_str() {
                "mid" => QuotePrice::Mid,
                "bid" => QuotePrice::Bid,
                "ask" => QuotePrice::Ask,
                other => {
                    return Err(invalid(
                        "aggregation.quote_price",
                        &quoted(other),
                        "\"mid\", \"bid\" or \"ask\"",
                    ));
                }
            },
            updates: match a.updates.as_str() {
                "none" => UpdatePolicy::None,
                "every_tick" => UpdatePolicy::EveryTick,
                other => match parse_duration(other) {
                    Ok(d) if !d.is_zero() => UpdatePolicy::Interval(d),
                    _ => {
                        return Err(invalid(
                            "aggregation.updates",
                            &quoted(other),
                            "\"none\", \"every_tick\" or an interval such as \"100ms\"",
                        ));
                    }
                },
            },
            fill_empty: a.fill_empty,
            wall_clock_close: a.wall_clock_close,
        };
        if aggregation.allowed_lateness > Duration::from_secs(86_400) {
            return Err(invalid(
                "aggregation.allowed_lateness",
                &quoted(&a.allowed_lateness),
                "0s to 24h",
            ));
        }

        let s = &raw.store;
        let store = StoreConfig {
            enabled: s.enabled,
            fsync: match s.fsync.as_str() {
                "never" => Fsync::Never,
                "always" => Fsync::Always,
                other => match parse_duration(other) {
                    Ok(d) if !d.is_zero() => Fsync::Interval(d),
                    _ => {
                        return Err(invalid(
                            "store.fsync",
                            &quoted(other),
                            "\"never\", \"always\" or an interval such as \"1s\"",
                        ));
                    }
                },
            },
            flush_interval: duration("store.flush_interval", &s.flush_interval)?,
            segment_bytes: if (1 << 20..=1 << 40).contains(&s.segment_bytes) {
                s.segment_bytes
            } else {
                return Err(invalid(
                    "store.segment_bytes",
                    &s.segment_bytes.to_string(),
                    "1048576 (1 MiB) to 1099511627776 (1 TiB) bytes",
                ));
            },
            retention_days: (s.retention_days > 0).then_some(s.retention_days),
            queue_capacity: power_of_two("store.queue_capacity", s.queue_capacity, 1024, 1 << 24)?,
            hot_lz4: match s.hot_compression.as_str() {
                "none" => false,
                "lz4" => true,
                other => {
                    return Err(invalid(
                        "store.hot_compression",
                        &quoted(other),
                        "\"none\" or \"lz4\"",
                    ));
                }
            },
        };
        if store.flush_interval.is_zero() || store.flush_interval > Duration::from_secs(60) {
            return Err(invalid(
                "store.flush_interval",
                &quoted(&s.flush_interval),
                "more than 0s, at most 60s",
            ));
        }

        let r = &raw.ring;
        let ring = RingConfig {
            enabled: r.enabled,
            path: non_empty_path("ring.path", &r.path)?,
            snapshot_path: non_empty_path("ring.snapshot_path", &r.snapshot_path)?,
            capacity: power_of_two("ring.capacity", r.capacity, 1024, 1 << 27)?,
            publish_ticks: r.publish_ticks,
            max_symbols: ranged(
                "ring.max_symbols",
                r.max_symbols,
                1,
                1 << 24,
                "1 to 16777216 symbols",
            )? as u32,
            group: (!r.group.is_empty()).then(|| r.group.clone()),
        };
        if r.enabled && ring.path == ring.snapshot_path {
            return Err(invalid(
                "ring.snapshot_path",
                &quoted(&r.snapshot_path),
                "a file other than ring.path",
            ));
        }

        let metrics_listen = listen("metrics.listen", &raw.metrics.listen, true)?;

        let rp = &raw.report;
        let interval = duration("report.interval", &rp.interval)?;
        let report = ReportConfig {
            interval: (!interval.is_zero()).then_some(interval),
            p99_alert: duration("report.p99_alert", &rp.p99_alert)?,
            min_rate: rp.min_rate,
        };
        if report
            .interval
            .is_some_and(|d| d < Duration::from_millis(100))
        {
            return Err(invalid(
                "report.interval",
                &quoted(&rp.interval),
                "0s (off) or at least 100ms",
            ));
        }

        Ok(Config {
            data_dir,
            log_level: d.log_level.clone(),
            log_file,
            shutdown_timeout,
            ingest,
            workers,
            aggregation,
            store,
            ring,
            metrics_listen,
            report,
            raw,
        })
    }
}

fn raw_from_table(table: toml::Table) -> Result<RawConfig, ConfigError> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::Parse {
            key,
            message: one_line(&e.into_inner().to_string()),
        }
    })
}

/// Apply `a.b.c=value` to a TOML table. The value is read as TOML (`2`,
/// `true`, `["1s","1m"]`, `"x"`), and as a bare string when it is not valid TOML.
pub fn apply_override(table: &mut toml::Table, spec: &str) -> Result<(), ConfigError> {
    let (key, value) = spec
        .split_once('=')
        .ok_or_else(|| ConfigError::Override(spec.to_string()))?;
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').collect();
    if key.is_empty() || parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::Override(spec.to_string()));
    }
    let value = value.trim();
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let (last, parents) = parts.split_last().expect("parts is not empty");
    let mut cur = table;
    for p in parents {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(ConfigError::Override(spec.to_string())),
        };
    }
    cur.insert(last.to_string(), parsed);
    Ok(())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn invalid(key: &str, value: &str, allowed: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        allowed: allowed.to_string(),
    }
}

/// A duration no longer than `max`.
fn duration_at_most(key: &str, s: &str, max: Duration) -> Result<Duration, ConfigError> {
    let d = duration(key, s)?;
    if d > max {
        return Err(invalid(
            key,
            &quoted(s),
            &format!("at most {}", format_duration(max)),
        ));
    }
    Ok(d)
}

fn duration(key: &str, s: &str) -> Result<Duration, ConfigError> {
    parse_duration(s).map_err(|why| {
        invalid(
            key,
            &quoted(s),
            &format!("a duration such as \"250us\", \"100ms\", \"10s\" ({why})"),
        )
    })
}

fn threads(key: &str, n: u32) -> Result<usize, ConfigError> {
    if (1..=MAX_THREADS).contains(&n) {
        Ok(n as usize)
    } else {
        Err(invalid(
            key,
            &n.to_string(),
            &format!("1 to {MAX_THREADS} threads"),
        ))
    }
}

fn cores(key: &str, list: &[u32], threads: u32) -> Result<Vec<usize>, ConfigError> {
    if !list.is_empty() && list.len() != threads as usize {
        return Err(invalid(
            key,
            &format!("{list:?}"),
            &format!("an empty list (not pinned) or exactly {threads} core ids, one per thread"),
        ));
    }
    if list.iter().any(|&c| c > 4095) {
        return Err(invalid(key, &format!("{list:?}"), "core ids 0 to 4095"));
    }
    Ok(list.iter().map(|&c| c as usize).collect())
}

fn ranged(key: &str, v: u32, lo: u32, hi: u32, allowed: &str) -> Result<usize, ConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(v as usize)
    } else {
        Err(invalid(key, &v.to_string(), allowed))
    }
}

fn power_of_two(key: &str, v: u32, lo: u32, hi: u32) -> Result<usize, ConfigError> {
    if v.is_power_of_two() && (lo..=hi).contains(&v) {
        Ok(v as usize)
    } else {
        Err(invalid(
            key,
            &v.to_string(),
            &format!("a power of two from {lo} to {hi}"),
        ))
    }
}

fn non_empty_path(key: &str, s: &str) -> Result<PathBuf, ConfigError> {
    if s.trim().is_empty() {
        Err(invalid(key, "\"\"", "a file or directory path"))
    } else {
        Ok(PathBuf::from(s))
    }
}

fn listen(key: &str, s: &str, loopback_only: bool) -> Result<Option<SocketAddr>, ConfigError> {
    if s.is_empty() {
        return Ok(None);
    }
    let addr: SocketAddr = s.parse().map_err(|_| {
        invalid(
            key,
            &quoted(s),
            "an IP address and port such as \"127.0.0.1:7400\" (port 0: any free port), or \"\" for off",
        )
    })?;
    if loopback_only && !addr.ip().is_loopback() {
        return Err(invalid(
            key,
            &quoted(s),
            "a loopback address such as \"127.0.0.1:9187\" (put a proxy in front to expose it)",
        ));
    }
    Ok(Some(addr))
}

fn event_time(key: &str, s: &str) -> Result<i64, ConfigError> {
    let bad = || {
        invalid(
            key,
            &quoted(s),
            "a UTC date \"1990-01-01\" or date-time \"1990-01-01T00:00:00Z\"",
        )
    };
    let ts: jiff::Timestamp = if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        ts
    } else {
        let date: jiff::civil::Date = s.parse().map_err(|_| bad())?;
        date.to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| bad())?
            .timestamp()
    };
    i64::try_from(ts.as_nanosecond()).map_err(|_| bad())
}

impl fmt::Display for Fsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fsync::Never => f.write_str("never"),
            Fsync::Always => f.write_str("always"),
            Fsync::Interval(d) => f.write_str(&format_duration(*d)),
        }
    }
}

#[cfg(test)]
mod tests;
