//! `tickd`'s life: start the engine, tell systemd, watch signals, stop cleanly.
//!
//! - Start: the engine (store and symbol-table recovery included), then the
//!   state file `<data_dir>/tickd.state.json` (pid, bound addresses, ring
//!   files: how `tickctl` finds the daemon), then `READY=1`.
//! - Run: every 50 ms check the signal flags; `WATCHDOG=1` at half the
//!   watchdog interval; SIGHUP reopens the log file.
//! - SIGTERM/SIGINT: `STOPPING=1`, stop accepting, drain the queues, flush
//!   and close segments, remove the state file, exit 0 — or exit 1 when that
//!   takes longer than `daemon.shutdown_timeout` (4 s by default, inside the
//!   5 s the issue allows).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::lifecycle::{Notifier, Signals};
use crate::logging::LogHandle;
use crate::pipeline::{Endpoints, Engine, EngineError, EngineOptions};

/// What `<data_dir>/tickd.state.json` holds while the daemon runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DaemonState {
    /// Daemon pid.
    pub pid: u32,
    /// Start time, ns since the epoch.
    pub started_ns: i64,
    /// Bound addresses.
    pub endpoints: Endpoints,
    /// Ring and snapshot files, one pair per worker (empty when the ring is off).
    pub rings: Vec<(PathBuf, PathBuf)>,
    /// The data directory (absolute when it could be resolved).
    pub data_dir: PathBuf,
}

impl DaemonState {
    /// The state file of a data directory.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("tickd.state.json")
    }

    /// Read the state file of a data directory.
    pub fn read(data_dir: &Path) -> std::io::Result<DaemonState> {
        let text = std::fs::read_to_string(DaemonState::path_in(data_dir))?;
        serde_json::from_str(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    fn write(&self, data_dir: &Path) -> std::io::Result<()> {
        let path = DaemonState::path_in(data_dir);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, path)
    }
}

/// How the daemon ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// Could not start.
    #[error(transparent)]
    Start(#[from] EngineError),
    /// The state file could not be written.
    #[error("cannot write the state file in {0}: {1}")]
    State(PathBuf, std::io::Error),
    /// A pipeline thread ended unexpectedly.
    #[error("a pipeline thread stopped unexpectedly; exiting")]
    ThreadDied,
}

/// Run the daemon until a stop signal. `Ok(())` means a clean drain (exit 0).
pub fn run(cfg: Config, log: LogHandle) -> Result<(), DaemonError> {
    let signals = Signals::install().map_err(|e| EngineError::Thread {
        name: "signal handlers".into(),
        source: e,
    })?;
    let notifier = Notifier::from_env();
    let timeout = cfg.shutdown_timeout;
    let data_dir = cfg.data_dir.clone();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        data_dir = %data_dir.display(),
        ingest_threads = cfg.ingest.threads,
        workers = cfg.workers.threads,
        mode = ?cfg.workers.mode,
        timeframes = ?cfg.aggregation.timeframes.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "tickd starting"
    );
    // Inline mode has no worker threads: their cores are not used.
    let worker_cores: &[usize] = match cfg.workers.mode {
        crate::config::WorkerMode::Threads => &cfg.workers.cores,
        crate::config::WorkerMode::Inline => &[],
    };
    crate::pin::warn_on_shared_cores(&cfg.ingest.cores, worker_cores);
    let rings = if cfg.ring.enabled {
        (0..cfg.workers.threads)
            .map(|w| crate::publish::paths_of(&cfg, w))
            .collect()
    } else {
        Vec::new()
    };
    let engine = Engine::start(
        cfg,
        EngineOptions {
            listeners: true,
            ..EngineOptions::default()
        },
    )?;
    let state = DaemonState {
        pid: std::process::id(),
        started_ns: crate::clock::now_ns(),
        endpoints: engine.endpoints().clone(),
        rings,
        data_dir: std::fs::canonicalize(&data_dir).unwrap_or_else(|_| data_dir.clone()),
    };
    state
        .write(&data_dir)
        .map_err(|e| DaemonError::State(data_dir.clone(), e))?;
    tracing::info!(endpoints = ?state.endpoints, "tickd ready");
    let _ = notifier.notify("READY=1\nSTATUS=running");

    let watchdog = notifier.watchdog_every();
    let mut last_ping = Instant::now();
    let mut died = false;
    while !signals.stop_requested() {
        std::thread::sleep(Duration::from_millis(50));
        if signals.take_hup() {
            match log.reopen() {
                Ok(()) => tracing::info!("SIGHUP: log output reopened"),
                Err(e) => tracing::error!(error = %e, "SIGHUP: cannot reopen the log file"),
            }
        }
        if let Some(every) = watchdog
            && last_ping.elapsed() >= every
        {
            let _ = notifier.notify("WATCHDOG=1");
            last_ping = Instant::now();
        }
        if engine.thread_died() {
            died = true;
            break;
        }
    }
    let _ = notifier.notify("STOPPING=1\nSTATUS=draining");
    tracing::info!("stopping: draining queues, flushing the store");
    let t0 = Instant::now();
    let result = engine.shutdown(timeout);
    let _ = std::fs::remove_file(DaemonState::path_in(&data_dir));
    match result {
        Ok(s) => {
            tracing::info!(
                processed = s.processed,
                bars = s.bars,
                drain_ms = t0.elapsed().as_millis() as u64,
                uptime_s = s.elapsed.as_secs(),
                "tickd stopped cleanly"
            );
            if died {
                Err(DaemonError::ThreadDied)
            } else {
                Ok(())
            }
        }
        Err(e) => Err(e.into()),
    }
}
