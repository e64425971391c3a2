//! Loading the real market data for the benchmarks (a few lines of zip + CSV,
//! independent of `ingest`), and the zstd-over-rows baseline.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

use mtf::{Side, Tick};

/// `<repo>/../shared/data` or `TICKD_SHARED_DATA`, if present.
pub fn shared_data() -> Option<PathBuf> {
    let p = std::env::var_os("TICKD_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIP: benchmarks on real data (../shared/data not found)");
        None
    }
}

/// The SPY trade files (5 days), sorted.
pub fn spy_files(root: &Path) -> Vec<PathBuf> {
    let dir = root.join("lean/equity/usa/tick/spy");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with("_trade.zip"));
    v.sort();
    v
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// One LEAN trade zip: ms since New York midnight (EDT, UTC−4), price in 1/10000 USD.
pub fn load_lean_trades(path: &Path, symbol: u32) -> Vec<Tick> {
    let name = path.file_name().unwrap().to_string_lossy();
    let (y, m, d) = (
        name[0..4].parse::<i64>().unwrap(),
        name[4..6].parse::<i64>().unwrap(),
        name[6..8].parse::<i64>().unwrap(),
    );
    let midnight_utc = days_from_civil(y, m, d) * 86_400_000_000_000 + 4 * 3_600_000_000_000;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut text = String::new();
    zip.by_index(0).unwrap().read_to_string(&mut text).unwrap();
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.split(',');
            let ms: i64 = f.next().unwrap().parse().unwrap();
            let px: i64 = f.next().unwrap().parse().unwrap();
            let size: f64 = f.next().unwrap().parse().unwrap();
            let _exchange = f.next();
            let _cond = f.next();
            let suspicious = f.next().map(str::trim) == Some("1");
            let mut t = Tick::trade(
                symbol,
                midnight_utc + ms * 1_000_000,
                px as f64 / 10_000.0,
                size,
                Side::Unknown,
                0,
            );
            if suspicious {
                t.flags |= Tick::FLAG_SUSPICIOUS;
            }
            t
        })
        .collect()
}

/// Tardis `trades.csv` (Binance BTCUSDT perpetual): µs times, aggressor side, trade id.
pub fn load_tardis_trades(path: &Path, symbol: u32) -> Vec<Tick> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let ts: i64 = f[2].parse().unwrap();
            let recv: i64 = f[3].parse().unwrap();
            let id: u64 = f[4].parse().unwrap();
            let side = if f[5] == "buy" { Side::Buy } else { Side::Sell };
            Tick::trade(
                symbol,
                ts * 1000,
                f[6].parse().unwrap(),
                f[7].parse().unwrap(),
                side,
                id,
            )
            .with_recv(recv * 1000)
        })
        .collect()
}

/// Baseline: zstd-3 over 32-byte rows (time, price, size, side|flags|id), bytes per tick.
pub fn zstd_rows_bytes_per_tick(ticks: &[Tick]) -> f64 {
    let mut rows = Vec::with_capacity(ticks.len() * 32);
    for t in ticks {
        rows.extend_from_slice(&t.ts_event.to_le_bytes());
        rows.extend_from_slice(&t.price.to_le_bytes());
        rows.extend_from_slice(&t.size.to_le_bytes());
        rows.extend_from_slice(
            &((t.side as u64) | (t.flags as u64) << 8 | t.id << 24).to_le_bytes(),
        );
    }
    zstd::bulk::compress(&rows, 3).unwrap().len() as f64 / ticks.len() as f64
}
