//! Bytes per tick on the real data, sealed (zstd) and hot (lz4), against
//! zstd-3 over 32-byte rows in the same run.
//!
//! `cargo run --release -p store --example ratio`

#[path = "../benches/common/mod.rs"]
mod data;

use std::time::Instant;

use mtf::Tick;
use store::import::{ImportOptions, import_ticks};
use store::{FsyncPolicy, StoreConfig, StoreWriter};

fn dir_bytes(p: &std::path::Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(p).unwrap().flatten() {
        let m = e.metadata().unwrap();
        n += if m.is_dir() {
            dir_bytes(&e.path())
        } else {
            m.len()
        };
    }
    n
}

fn measure(name: &str, sets: &[Vec<Tick>], level: i32) {
    let n: usize = sets.iter().map(Vec::len).sum();
    let all: Vec<Tick> = sets.concat();
    let baseline: f64 = sets
        .iter()
        .map(|s| data::zstd_rows_bytes_per_tick(s) * s.len() as f64)
        .sum::<f64>()
        / n as f64;
    // sealed: the import path writes sealed zstd segments with footer indexes
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    for (i, s) in sets.iter().enumerate() {
        let opts = ImportOptions {
            zstd_level: level,
            ..ImportOptions::default()
        };
        import_ticks(
            dir.path(),
            i as u128 + 1,
            s.iter().map(|t| ("X", *t)),
            &opts,
        )
        .unwrap();
    }
    let el = t.elapsed();
    let sealed = dir_bytes(&dir.path().join("data")) as f64 / n as f64;
    // hot: lz4 blocks of 4096 ticks, as the daemon writes them
    let hdir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        fsync: FsyncPolicy::Never,
        ..StoreConfig::default()
    };
    let mut w = StoreWriter::open(hdir.path(), 0, cfg).unwrap();
    w.append_ticks(&all).unwrap();
    w.flush().unwrap();
    let hot = w.stats().bytes.load(std::sync::atomic::Ordering::Relaxed) as f64 / n as f64;
    drop(w);
    println!(
        "{name}: {n} ticks | sealed (zstd-{level}) {sealed:.3} B/tick | hot (lz4) {hot:.3} B/tick | baseline zstd-3 over 32-byte rows {baseline:.3} B/tick | import {:.1}M ticks/s",
        n as f64 / el.as_secs_f64() / 1e6
    );
}

fn main() {
    let Some(root) = data::shared_data() else {
        return;
    };
    let spy: Vec<Vec<Tick>> = data::spy_files(&root)
        .iter()
        .map(|p| data::load_lean_trades(p, 0))
        .collect();
    let oct8: Vec<Vec<Tick>> = data::spy_files(&root)
        .iter()
        .filter(|p| p.to_string_lossy().contains("20131008"))
        .map(|p| data::load_lean_trades(p, 0))
        .collect();
    let btc = data::load_tardis_trades(&root.join("nautilus_trader/tardis/trades.csv"), 0);
    // the same trades without the capture's receive times (ts_recv = ts_event),
    // i.e. the columns of the baseline: time, price, size, side, id
    let btc_event: Vec<Tick> = btc.iter().map(|t| t.with_recv(t.ts_event)).collect();
    for level in [3, store::import::ImportOptions::default().zstd_level] {
        measure("SPY 2013-10-08", &oct8, level);
        measure("SPY week 2013-10-07..11", &spy, level);
        measure(
            "BTCUSDT perp trades (Tardis), with receive times",
            std::slice::from_ref(&btc),
            level,
        );
        measure(
            "BTCUSDT perp trades (Tardis), event times only",
            std::slice::from_ref(&btc_event),
            level,
        );
    }
}
