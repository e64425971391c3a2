//! The same ticks imported twice give the same segment files: the same
//! names and sizes, and the same ticks read back from each. (Their bytes
//! differ only where the file header's creation time reaches: its crc, which
//! the block headers chain, `docs/storage.md`.)

use std::collections::BTreeMap;
use std::path::Path;

use mtf::{Side, Tick};
use store::StoreReader;
use store::import::{ImportOptions, import_ticks};

/// Every file under `root` (relative path → size), the import manifest
/// (which records when) left out.
fn files(root: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if !rel.contains("import") {
                out.insert(rel, std::fs::metadata(&p).unwrap().len());
            }
        }
    }
    out
}

#[test]
fn importing_the_same_ticks_twice_stores_the_same_bytes() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut ts = 1_700_000_000_000_000_000i64;
    let ticks: Vec<(String, Tick)> = (0..300_000u64)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ts += (x % 2_000_000_000) as i64;
            let mut t = Tick::trade(
                0,
                ts,
                100.0 + (x >> 40) as f64 * 1e-4,
                ((x >> 20) % 500) as f64,
                Side::from_u8((x >> 50) as u8 % 3),
                i,
            );
            t.ts_recv = ts + (x % 3_000_000) as i64;
            (format!("S{}", x % 7), t)
        })
        .collect();
    let opts = ImportOptions {
        block: 4096,
        max_buffered: 50_000,
        max_open_days: 3,
        ..ImportOptions::default()
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for d in [&a, &b] {
        let rep = import_ticks(d.path(), 7, ticks.iter().cloned(), &opts).unwrap();
        assert_eq!(rep.ticks, ticks.len() as u64);
    }
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert!(fa.keys().any(|k| k.ends_with(".seg")), "{:?}", fa.keys());
    assert_eq!(fa, fb);
    // Each file's ticks, in the order a reader meets them.
    let (ra, rb) = (
        StoreReader::open(a.path()).unwrap(),
        StoreReader::open(b.path()).unwrap(),
    );
    let names = ra.symbols().unwrap();
    let names_b = rb.symbols().unwrap();
    let mut n = 0;
    for s in 0..7 {
        let id = names.id(&format!("S{s}")).unwrap();
        assert_eq!(names_b.id(&format!("S{s}")), Some(id));
        let read = |r: &StoreReader| {
            let mut it = r.ticks(id, i64::MIN, i64::MAX).unwrap();
            let mut v = Vec::new();
            while let Some(b) = it.next_batch() {
                v.extend_from_slice(b.unwrap());
            }
            v
        };
        let (x, y) = (read(&ra), read(&rb));
        assert_eq!(x, y);
        n += x.len();
    }
    assert_eq!(n, ticks.len());
}
