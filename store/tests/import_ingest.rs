//! Bulk import of the real files through `ingest`'s importers, straight into
//! sealed segments; importing the same file twice keeps one copy (issue 4).

mod common;

use std::path::Path;
use std::sync::Arc;

use ingest::import::{ImportOptions as IngestOptions, Importer, Input, sniff};
use ingest::{SymbolCache, SymbolTable};
use mtf::Tick;
use store::import::{ImportOptions, fingerprint_file, try_import_ticks};
use store::{StoreError, StoreReader};

/// Every tick of `path` as `ingest` reads it.
fn ingest_all(path: &Path) -> (Vec<Tick>, Arc<SymbolTable>) {
    let input = Input::Path(path.to_owned());
    let fmt = sniff(&input).unwrap().expect("a known format");
    let table = Arc::new(SymbolTable::new(1024));
    let mut cache = SymbolCache::new(table.clone());
    let mut out = Vec::new();
    Importer::open(input, IngestOptions::new(fmt))
        .unwrap()
        .run(&mut cache, |b| out.extend_from_slice(b))
        .unwrap();
    (out, table)
}

/// `ingest`'s importer → `store::import::try_import_ticks`, streaming.
fn import(root: &Path, path: &Path) -> Result<store::import::ImportReport, StoreError> {
    let input = Input::Path(path.to_owned());
    let fmt = sniff(&input).unwrap().expect("a known format");
    let table = Arc::new(SymbolTable::new(1024));
    let mut cache = SymbolCache::new(table.clone());
    let mut imp = Importer::open(input, IngestOptions::new(fmt)).unwrap();
    let mut buf = vec![Tick::default(); 4096];
    let mut names: Vec<String> = Vec::new();
    let (mut n, mut i) = (0usize, 0usize);
    let ticks = std::iter::from_fn(move || {
        if i == n {
            n = match imp.next_batch(&mut cache, &mut buf) {
                Ok(0) => return None,
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            i = 0;
        }
        i += 1;
        let t = buf[i - 1];
        let id = t.symbol as usize;
        while names.len() <= id {
            let next = names.len() as u32;
            names.push(
                table
                    .name(next)
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            );
        }
        Some(Ok((names[id].clone(), t)))
    });
    try_import_ticks(
        root,
        fingerprint_file(path)?,
        ticks,
        &ImportOptions::default(),
    )
}

#[test]
fn real_files_import_once_and_read_back_bit_exact() {
    let Some(data) = common::shared_data("lean/equity/usa/tick/spy/20131008_trade.zip") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (rel, rows) in [
        ("lean/equity/usa/tick/spy/20131008_trade.zip", 451_545u64),
        ("nautilus_trader/tardis/trades.csv", 9_999),
    ] {
        let path = data.join(rel);
        let first = import(dir.path(), &path).unwrap();
        assert!(!first.already_imported);
        assert_eq!(first.ticks, rows, "{rel}: the README's row count");
        let again = import(dir.path(), &path).unwrap();
        assert!(again.already_imported, "{rel} imported twice");

        let (want, table) = ingest_all(&path);
        let name = table.name(want[0].symbol).unwrap();
        let r = StoreReader::open(dir.path()).unwrap();
        let id = r.symbols().unwrap().id(name.as_str()).unwrap();
        let got: Vec<Tick> = r
            .ticks(id, i64::MIN, i64::MAX)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got.len() as u64, rows, "{rel}: one copy");
        for (a, b) in got.iter().zip(&want) {
            assert!(
                common::same_tick(a, &Tick { symbol: id, ..*b }),
                "{rel}: {a:?} != {b:?}"
            );
        }
        eprintln!(
            "{rel}: {rows} ticks, {} bytes sealed ({:.3} B/tick)",
            first.bytes,
            first.bytes as f64 / rows as f64
        );
    }
}
