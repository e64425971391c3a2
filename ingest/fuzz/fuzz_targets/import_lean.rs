//! Fuzz target: the importer for LEAN tick zips (equity quotes: one-sided state).
//!
//! Any bytes (plain, or gzip/zip when the fuzzer finds the magic) go through
//! the whole import path; it must not panic, every row must be accounted for,
//! and every tick handed out must pass the validator.
#![no_main]

use std::sync::Arc;

use ingest::import::*;
use ingest::{SymbolCache, SymbolTable, Validator};
use libfuzzer_sys::fuzz_target;
use mtf::Tick;

fuzz_target!(|data: &[u8]| {
    let input = Input::Bytes {
        name: "equity/usa/tick/spy/20131008_quote.zip".into(),
        data: Arc::from(data),
    };
    let mut opts = ImportOptions::new(Format::Lean(LeanOptions::default()));
    opts.log_errors = false;
    opts.max_line = 512;
    let now = 1_900_000_000_000_000_000;
    opts.now_ns = Some(now);
    let Ok(mut imp) = Importer::open(input, opts) else {
        return;
    };
    let mut cache = SymbolCache::new(Arc::new(SymbolTable::new(8)));
    let mut buf = [Tick::default(); 5];
    let v = Validator::history();
    while let Ok(n @ 1..) = imp.next_batch(&mut cache, &mut buf) {
        for t in &buf[..n] {
            assert!(v.check(t, now).is_ok(), "{t:?}");
            assert!(t.flags & Tick::FLAG_REPLAY != 0);
        }
    }
    assert!(imp.counts().balanced(), "{}", imp.counts());
});
