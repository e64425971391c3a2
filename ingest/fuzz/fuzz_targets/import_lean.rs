//! Fuzz target: the importer for LEAN tick zips (equity quotes: one-sided state).
//!
//! The contract checked is in `import_common.rs`.
#![no_main]

#[path = "import_common.rs"]
mod import_common;

use ingest::import::{Format, LeanOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    import_common::check_import(
        "equity/usa/tick/spy/20131008_quote.zip",
        Format::Lean(LeanOptions::default()),
        data,
    );
});
