//! Everything that turns bytes from the outside world into [`mtf::Tick`]s.
//!
//! Parsers are pure (bytes in; ticks, or a typed error, out) so they can be
//! fuzzed and replayed; the socket receivers are a thin mio shell around them.
//!
//! - [`symbols`]: the symbol table, name → dense [`mtf::SymbolId`], stable and persistable.
//! - [`validate`]: the checks every path applies before a tick is accepted.

pub mod import;
pub mod ilp;
pub mod net;
pub mod ratelog;
pub mod seq;
pub mod sink;
pub mod symbols;
mod symfront;
pub mod validate;
pub mod wire;

pub use symbols::{SymbolCache, SymbolError, SymbolName, SymbolTable};
pub use symfront::SymbolFront;
pub use validate::{Reject, RejectCounts, Validator};
