//! [`StoreError`].

use std::io;
use std::path::PathBuf;

/// Everything the store's API can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A system call failed on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Bytes on disk failed a check (checksum, magic, bounds) inside a segment,
    /// not at its tail: never returned as data.
    #[error("{path}: corrupt data at byte {offset}: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the record that failed.
        offset: u64,
        /// Which check failed.
        what: &'static str,
    },
    /// Another writer (this or another process) holds this writer number.
    #[error("{0}: writer lock is held by another process or handle")]
    Locked(PathBuf),
    /// A symbol id is already stored under a different name.
    #[error("symbol id {id} is {existing:?} in this store, not {name:?}")]
    SymbolConflict {
        /// The id.
        id: u32,
        /// The name stored for it.
        existing: String,
        /// The name asked for.
        name: String,
    },
    /// A symbol name is not 1-16 printable ASCII bytes.
    #[error("bad symbol name {0:?}: expected 1-16 printable ASCII bytes")]
    BadSymbol(String),
    /// A symbol id above [`crate::MAX_SYMBOL_ID`].
    #[error("symbol id {0} above the store's limit")]
    SymbolIdTooLarge(u32),
    /// The source of an import failed (its error, as text); nothing was recorded.
    #[error("import source failed: {0}")]
    Source(String),
    /// A configuration value is out of range.
    #[error("bad store configuration: {0}")]
    Config(&'static str),
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> StoreError {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
