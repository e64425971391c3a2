//! Fuzz target: the importer for Tardis CSV.
//!
//! The contract checked is in `import_common.rs`.
#![no_main]

#[path = "import_common.rs"]
mod import_common;

use ingest::import::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    import_common::check_import("trades.csv", Format::Tardis, data);
});
