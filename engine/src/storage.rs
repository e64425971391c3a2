//! The adapter from the engine's [`Persist`] to the segment store.

use std::sync::Arc;

use ingest::SymbolTable;

use crate::config::Config;
use crate::pipeline::{EngineError, Persist};

/// Open the segment store under `cfg.data_dir`.
pub fn open_store(
    cfg: &Config,
    symbols: Arc<SymbolTable>,
) -> Result<Box<dyn Persist>, EngineError> {
    let _ = (cfg, symbols);
    Err(EngineError::Store(
        "the segment store is not part of this build yet; set store.enabled = false".into(),
    ))
}
