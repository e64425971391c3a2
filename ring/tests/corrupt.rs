//! Corrupt files give typed errors or undecodable-record counts, never a
//! panic or an unbounded allocation (issue 5: bad input).

#![cfg(not(loom))]

use mtf::{Bar, Side, Tick, Timeframe};
use proptest::prelude::*;
use ring::*;
use std::path::Path;
use std::sync::OnceLock;

fn lenient() -> ReaderOptions {
    ReaderOptions {
        start: StartAt::Oldest,
        require_live: false,
        check_pid: false,
        ..ReaderOptions::default()
    }
}

/// A valid ring file and a valid snapshot file, as bytes.
fn originals() -> &'static (Vec<u8>, Vec<u8>) {
    static O: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    O.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (rp, sp) = (dir.path().join("r"), dir.path().join("s"));
        let mut p = Publisher::create(
            &rp,
            &RingConfig {
                capacity: 8,
                group: None,
            },
            &sp,
            &SnapshotConfig {
                max_symbols: 4,
                timeframes: vec![Timeframe::M1, Timeframe::H1],
                group: None,
            },
        )
        .unwrap();
        p.add_symbol(1, "AAPL").unwrap();
        for i in 0..6 {
            let tf = Timeframe::M1;
            let bar = Bar {
                symbol: 1,
                timeframe: tf,
                start: i * 60_000_000_000,
                end: tf.bucket_end(i * 60_000_000_000),
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                volume: 3.0,
                vwap: 1.2,
                vwap_num: 3.6,
                buy_volume: 2.0,
                sell_volume: 1.0,
                count: 4,
                first_ts: 1,
                last_ts: 2,
                revision: 0,
                flags: 0,
            };
            p.bar(BarKind::Closed, &bar).unwrap();
            p.tick(&Tick::trade(1, i, 1.0, 1.0, Side::Buy, 9)).unwrap();
        }
        let out = (std::fs::read(&rp).unwrap(), std::fs::read(&sp).unwrap());
        p.shutdown();
        out
    })
}

fn mutate(mut b: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let n = b.len();
    for &(pos, v) in edits {
        // Half the edits land in the header, where they matter most.
        let pos = if pos % 2 == 0 { pos % 4096 } else { pos % n };
        b[pos] = v;
    }
    if let Some(c) = cut {
        b.truncate(c % (n + 1));
    }
    b
}

fn read_ring(path: &Path) {
    if let Ok(mut r) = RingReader::open(path, &lenient()) {
        for _ in 0..64 {
            let _ = r.next();
        }
        let _ = (r.writer_status(), r.stats(), r.cursor(), r.replaced());
    }
}

fn read_snapshot(path: &Path) {
    if let Ok(mut s) = SnapshotReader::open(path, &lenient()) {
        for id in 0..s.max_symbols().min(64) {
            for tf in s.timeframes().to_vec() {
                let _ = s.get(id, tf);
            }
            let _ = s.symbol_name(id);
        }
        let _ = s.symbol_id("AAPL");
        let _ = s.symbols();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn corrupt_ring_files_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..24),
        cut in proptest::option::weighted(0.1, any::<usize>()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        std::fs::write(&path, mutate(originals().0.clone(), &edits, cut)).unwrap();
        read_ring(&path);
    }

    #[test]
    fn corrupt_snapshot_files_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..24),
        cut in proptest::option::weighted(0.1, any::<usize>()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, mutate(originals().1.clone(), &edits, cut)).unwrap();
        read_snapshot(&path);
    }
}

#[test]
fn the_unmutated_files_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (rp, sp) = (dir.path().join("r"), dir.path().join("s"));
    std::fs::write(&rp, &originals().0).unwrap();
    std::fs::write(&sp, &originals().1).unwrap();
    let mut r = RingReader::open(&rp, &lenient()).unwrap();
    // 8 lines: the last 8 of 19 (symbol added, 6 × (bar of two lines, tick)
    // copied before the shutdown): lines 11..19 hold the second line of a
    // bar, then tick, bar, tick, bar, tick
    let n = std::iter::from_fn(|| r.next()).count();
    assert_eq!(n, 5);
    let mut s = SnapshotReader::open(&sp, &lenient()).unwrap();
    assert_eq!(s.symbol_id("AAPL").unwrap(), Some(1));
    assert!(s.get(1, Timeframe::M1).unwrap().is_some());
}
