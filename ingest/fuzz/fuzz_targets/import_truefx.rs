//! Fuzz target: the importer for TrueFX CSV (raw and NautilusTrader layouts).
//!
//! The contract checked is in `import_common.rs`.
#![no_main]

#[path = "import_common.rs"]
mod import_common;

use ingest::import::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    import_common::check_import("usdjpy-ticks.csv", Format::TrueFx, data);
});
