//! `tickctl`: the command-line tool, as a library (`src/bin/tickctl.rs` only
//! parses and maps the result to an exit code).
//!
//! Exit codes ([`CtlError::exit_code`]): 0 success, 1 failure while running,
//! 2 bad usage (clap's too), 3 no daemon reachable, 4 unknown symbol, 5 bad
//! time range, 6 unreadable input or data.

mod data;
mod demo;
mod send;
mod stats;
mod sub;
mod table;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::daemon::DaemonState;

pub use data::{Digest, ImportArgs, QueryArgs, parse_time};
pub use send::{SendArgs, SendSummary, Via, ilp_line};

/// Why a tickctl command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CtlError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// No daemon: no state file, or nothing listening.
    #[error("no daemon: {0}")]
    NoDaemon(String),
    /// A symbol the daemon or store does not know.
    #[error("unknown symbol {0:?}")]
    UnknownSymbol(String),
    /// A time range that is empty, reversed or unparsable.
    #[error("bad time range: {0}")]
    TimeRange(String),
    /// An input file or data that cannot be read.
    #[error("{0}")]
    Input(String),
    /// Anything else that went wrong while running.
    #[error("{0}")]
    Failed(String),
}

impl CtlError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Failed(_) => 1,
            CtlError::Usage(_) => 2,
            CtlError::NoDaemon(_) => 3,
            CtlError::UnknownSymbol(_) => 4,
            CtlError::TimeRange(_) => 5,
            CtlError::Input(_) => 6,
        }
    }
}

/// tickctl: drive and inspect a tickd daemon and its data.
#[derive(Parser, Debug)]
#[command(name = "tickctl", version, about)]
pub struct Cli {
    /// The daemon's data directory (where tickd.state.json tells its ports).
    #[arg(long, global = true, default_value = "tickd-data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// The command.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Send ticks to a daemon: history files (any importer format) or a
    /// synthetic random walk, over UDP binary, TCP binary or ILP.
    #[command(alias = "replay")]
    Send(SendArgs),
    /// Live records from the shared-memory ring as JSON lines.
    Subscribe(SubscribeArgs),
    /// The latest bar of a symbol for each timeframe, from the snapshot table.
    Snapshot(SnapshotArgs),
    /// The daemon's counters and latencies (a table, or --json).
    Stats(StatsArgs),
    /// Import history files straight into the store (no daemon).
    Import(ImportArgs),
    /// Ticks, or bars of a timeframe, of a symbol and time range from the store.
    Query(QueryArgs),
    /// Per symbol: ticks, bars, bytes on disk, compression, time range.
    Info(InfoArgs),
    /// Start tickd with defaults in a temporary directory, replay a sample,
    /// show bars forming live, and end with the latency report.
    Demo(demo::DemoArgs),
}

/// `tickctl subscribe`.
#[derive(Args, Debug, Clone)]
pub struct SubscribeArgs {
    /// Only these symbols (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Only these timeframes (comma-separated, e.g. 1s,1m).
    #[arg(long, value_delimiter = ',')]
    pub timeframes: Vec<String>,
    /// Also print ticks (when the daemon publishes them).
    #[arg(long)]
    pub ticks: bool,
    /// Also print open-bar updates.
    #[arg(long)]
    pub updates: bool,
    /// Start with the oldest record still in the ring instead of new ones.
    #[arg(long)]
    pub from_oldest: bool,
    /// Exit after this many records.
    #[arg(long)]
    pub count: Option<u64>,
    /// Exit after this many seconds without a record.
    #[arg(long, value_name = "SECONDS")]
    pub idle_exit: Option<f64>,
    /// Read a stopped writer's ring too (default: refuse a dead writer).
    #[arg(long)]
    pub allow_dead: bool,
    /// Ring file (default: those in the state file).
    #[arg(long, requires = "snapshot_file")]
    pub ring: Option<PathBuf>,
    /// Snapshot file that goes with --ring.
    #[arg(long)]
    pub snapshot_file: Option<PathBuf>,
}

/// `tickctl snapshot`.
#[derive(Args, Debug, Clone)]
pub struct SnapshotArgs {
    /// Symbol name.
    pub symbol: String,
    /// Only this timeframe.
    #[arg(long)]
    pub timeframe: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Table)]
    pub format: OutFormat,
}

/// `tickctl info`.
#[derive(Args, Debug, Clone)]
pub struct InfoArgs {
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = OutFormat::Table)]
    pub format: OutFormat,
}

/// `tickctl stats`.
#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Metrics address (default: from the state file).
    #[arg(long)]
    pub metrics: Option<SocketAddr>,
}

/// Table, CSV or JSON lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// Aligned columns for people.
    Table,
    /// Comma-separated with a header.
    Csv,
    /// One JSON object per line.
    Json,
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<(), CtlError> {
    match cli.cmd {
        Cmd::Send(a) => {
            let s = send::run(&cli.data_dir, &a)?;
            eprintln!("{s}");
            Ok(())
        }
        Cmd::Subscribe(a) => sub::subscribe(&cli.data_dir, &a),
        Cmd::Snapshot(a) => sub::snapshot(&cli.data_dir, &a),
        Cmd::Stats(a) => stats::run(&cli.data_dir, &a),
        Cmd::Import(a) => data::import(&cli.data_dir, &a),
        Cmd::Query(a) => data::query(&cli.data_dir, &a),
        Cmd::Info(a) => data::info(&cli.data_dir, a.format),
        Cmd::Demo(a) => demo::run(&a),
    }
}

/// The running daemon's state, or a clear error.
pub fn daemon_state(data_dir: &Path) -> Result<DaemonState, CtlError> {
    let st = DaemonState::read(data_dir).map_err(|e| {
        CtlError::NoDaemon(format!(
            "cannot read {} ({e}); is tickd running with --set daemon.data_dir={}?",
            DaemonState::path_in(data_dir).display(),
            data_dir.display()
        ))
    })?;
    if !pid_alive(st.pid) {
        return Err(CtlError::NoDaemon(format!(
            "the state file names pid {}, which is not running (stale file from a crash?)",
            st.pid
        )));
    }
    Ok(st)
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
