//! Query latency: one day of SPY ticks, one year of stored 1m bars.
//!
//! `cargo bench -p store --bench query`

#[path = "common/mod.rs"]
mod data;

use criterion::{Criterion, criterion_group, criterion_main};
use mtf::{Bar, Timeframe};
use store::import::{ImportOptions, import_ticks};
use store::{FsyncPolicy, StoreConfig, StoreReader, StoreWriter};

const DAY: i64 = 86_400_000_000_000;

fn one_year_of_bars(dir: &std::path::Path, minutes_per_day: i64) -> i64 {
    let tf = Timeframe::M1;
    let cfg = StoreConfig {
        fsync: FsyncPolicy::Never,
        block_bars: 4096,
        ..StoreConfig::default()
    };
    let mut w = StoreWriter::open(dir, 0, cfg).unwrap();
    let start = 19_358 * DAY; // 2023-01-01
    let mut n = 0;
    for d in 0..365 {
        // trading hours (13:30 UTC open) or all day
        let open = if minutes_per_day < 1440 {
            13 * 60 + 30
        } else {
            0
        };
        for m in 0..minutes_per_day {
            let s = start + d * DAY + (open + m) * tf.nanos();
            let p = 100.0 + ((d * 7 + m) % 300) as f64 * 0.01;
            w.append_bar(&Bar {
                symbol: 1,
                timeframe: tf,
                start: s,
                end: s + tf.nanos(),
                open: p,
                high: p + 0.05,
                low: p - 0.03,
                close: p + 0.01,
                volume: 1000.0 + (m % 17) as f64 * 100.0,
                vwap: p + 0.005,
                vwap_num: (p + 0.005) * (1000.0 + (m % 17) as f64 * 100.0),
                buy_volume: 600.0,
                sell_volume: 400.0 + (m % 17) as f64 * 100.0,
                count: 40 + (m % 13) as u64,
                first_ts: s + 150_000_000,
                last_ts: s + 59_000_000_000,
                revision: 0,
                flags: 0,
            })
            .unwrap();
            n += 1;
        }
    }
    w.seal_all().unwrap();
    w.close().unwrap();
    n
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("query");
    g.sample_size(20);

    for (label, per_day) in [
        (
            "1 year of 1m bars, 390 a day x 365 days (142,350 bars)",
            390i64,
        ),
        ("1 year of 1m bars, 24/7 (525,600 bars)", 1440),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let n = one_year_of_bars(dir.path(), per_day);
        let r = StoreReader::open(dir.path()).unwrap();
        assert_eq!(
            r.stored_bars(1, Timeframe::M1, i64::MIN, i64::MAX)
                .unwrap()
                .count() as i64,
            n
        );
        g.bench_function(label, |b| {
            b.iter(|| {
                r.stored_bars(1, Timeframe::M1, i64::MIN, i64::MAX)
                    .unwrap()
                    .count()
            })
        });
    }

    if let Some(root) = data::shared_data() {
        let f = data::spy_files(&root)
            .into_iter()
            .find(|p| p.to_string_lossy().contains("20131008"))
            .unwrap();
        let ticks = data::load_lean_trades(&f, 0);
        let dir = tempfile::tempdir().unwrap();
        import_ticks(
            dir.path(),
            1,
            ticks.iter().map(|t| ("SPY", *t)),
            &ImportOptions::default(),
        )
        .unwrap();
        let r = StoreReader::open(dir.path()).unwrap();
        let spy = r.symbols().unwrap().id("SPY").unwrap();
        let day = ticks[0].ts_event.div_euclid(DAY) * DAY;
        let count = |r: &StoreReader| {
            let mut it = r.ticks(spy, day, day + DAY).unwrap();
            let mut k = 0;
            while let Some(b) = it.next_batch() {
                k += b.unwrap().len();
            }
            k
        };
        assert_eq!(count(&r), ticks.len());
        g.bench_function("one day of SPY ticks (451,545, sealed zstd-15)", |b| {
            b.iter(|| count(&r))
        });
        let count_columns = |r: &StoreReader| {
            let mut it = r.tick_columns(spy, day, day + DAY).unwrap();
            let mut k = 0;
            while let Some(b) = it.next_batch() {
                k += b.unwrap().len();
            }
            k
        };
        assert_eq!(count_columns(&r), ticks.len());
        g.bench_function(
            "one day of SPY ticks as columns (451,545, sealed zstd-15)",
            |b| b.iter(|| count_columns(&r)),
        );
    }
    g.finish();
}

criterion_group!(query, benches);
criterion_main!(query);
