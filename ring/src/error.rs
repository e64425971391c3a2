//! Errors of creating and opening the shared files.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a ring or snapshot file could not be created or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file does not exist: the writer has not started, or the path is wrong.
    #[error("{}: no such file (is the writer running, and is this its path?)", path.display())]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// No permission to open the file (readers need the file's group).
    #[error("{}: permission denied (subscribers need read access: the writer's group, mode 0640)", path.display())]
    PermissionDenied {
        /// The path.
        path: PathBuf,
    },
    /// An I/O call failed.
    #[error("{}: {op} failed: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The call (`open`, `mmap`, ...).
        op: &'static str,
        /// What the OS said.
        source: io::Error,
    },
    /// The file is not a file of this kind (ring vs snapshot), or not ours at all.
    #[error("{}: not a tickd {expected} file (magic {found:02x?})", path.display())]
    BadMagic {
        /// The path.
        path: PathBuf,
        /// `ring` or `snapshot`.
        expected: &'static str,
        /// The first eight bytes found.
        found: [u8; 8],
    },
    /// The file has another layout version than this library reads.
    #[error("{}: layout version {found}, this library reads version {expected}: use a matching ring library", path.display())]
    Version {
        /// The path.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version of this library.
        expected: u32,
    },
    /// The header contradicts itself or the file size.
    #[error("{}: corrupt header: {what}", path.display())]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// Which check failed.
        what: &'static str,
    },
    /// The writer is dead (process gone or heartbeat too old) and the reader
    /// asked for a live one.
    #[error("{}: writer pid {pid} is dead: {reason}", path.display())]
    WriterDead {
        /// The path.
        path: PathBuf,
        /// Writer pid from the header.
        pid: u32,
        /// How it was found dead.
        reason: DeadReason,
    },
    /// The writer shut down cleanly and the reader asked for a live one.
    #[error("{}: writer pid {pid} has shut down", path.display())]
    WriterShutDown {
        /// The path.
        path: PathBuf,
        /// Writer pid from the header.
        pid: u32,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The configured group does not exist.
    #[error("group {0:?} does not exist")]
    UnknownGroup(String),
    /// The file could not be given the configured group.
    #[error("{}: cannot give the file group {gid}: {source} (the writer must run as root or be a member of that group)", path.display())]
    Chown {
        /// The path.
        path: PathBuf,
        /// The group id.
        gid: u32,
        /// What the OS said.
        source: io::Error,
    },
}

/// How a writer was found dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadReason {
    /// No process has the writer's pid.
    ProcessGone,
    /// The heartbeat is older than the reader's threshold.
    HeartbeatStale {
        /// Age of the last heartbeat.
        age: Duration,
    },
}

impl std::fmt::Display for DeadReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeadReason::ProcessGone => f.write_str("no such process"),
            DeadReason::HeartbeatStale { age } => {
                write!(f, "last heartbeat {:.3} s ago", age.as_secs_f64())
            }
        }
    }
}

/// The writer's state as a reader sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriterStatus {
    /// Running, heartbeat fresh.
    Live,
    /// Shut down cleanly.
    ShutDown,
    /// Dead without shutting down.
    Dead(DeadReason),
}
