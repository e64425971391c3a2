//! The check shared by every `import_*` fuzz target (included with `#[path]`,
//! not a target itself).
//!
//! Any bytes (plain, or gzip/zip when the fuzzer finds the magic) go through
//! the whole import path of one format; it must not panic, every row must be
//! accounted for, and every tick handed out must pass the validator.

use std::sync::Arc;

use ingest::import::{Format, ImportOptions, Importer, Input};
use ingest::{SymbolCache, SymbolTable, Validator};
use mtf::Tick;

/// Imports `data` as a file called `name` in `format` and checks the contract.
pub fn check_import(name: &str, format: Format, data: &[u8]) {
    let input = Input::Bytes {
        name: name.into(),
        data: Arc::from(data),
    };
    let mut opts = ImportOptions::new(format);
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
}
