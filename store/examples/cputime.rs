//! The benchmark figures measured in thread CPU time (`CLOCK_THREAD_CPUTIME_ID`), which a
//! loaded machine distorts less than wall time. Criterion's wall-clock
//! numbers (`cargo bench -p store`) are the reference on a quiet machine.
//!
//! `cargo run --release -p store --example cputime`

#[path = "../benches/common/mod.rs"]
mod data;

use mtf::{Bar, Tick, Timeframe};
use store::import::{ImportOptions, import_ticks};
use store::{EncodeScratch, FsyncPolicy, StoreConfig, StoreReader, StoreWriter, TickColumns};

fn cpu() -> f64 {
    // CLOCK_THREAD_CPUTIME_ID: the scheduler's exact per-thread runtime
    // (getrusage(RUSAGE_THREAD) can be tick-sampled, too coarse below ~4 ms).
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass; no other memory.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Median CPU seconds of `reps` runs of `f`.
fn median(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = cpu();
            f();
            cpu() - t
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[reps / 2]
}

const DAY: i64 = 86_400_000_000_000;

fn main() {
    let Some(root) = data::shared_data() else {
        return;
    };
    let f = data::spy_files(&root)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("20131008"))
        .unwrap();
    let ticks = data::load_lean_trades(&f, 0);
    let n = ticks.len() as f64;
    let mut s = EncodeScratch::default();
    let mut blocks = Vec::new();
    for c in ticks.chunks(65_536) {
        let mut raw = Vec::new();
        store::encode_ticks(c, &mut raw, &mut s);
        blocks.push((zstd::bulk::compress(&raw, 15).unwrap(), raw, c.len()));
    }
    let t = median(7, || {
        let mut out = Vec::new();
        for c in ticks.chunks(65_536) {
            out.clear();
            store::encode_ticks(c, &mut out, &mut s);
        }
    });
    println!("encode columns: {:.1}M ticks/s", n / t / 1e6);
    let mut cols = TickColumns::default();
    let t = median(7, || {
        for (_, raw, len) in &blocks {
            store::decode_tick_columns(raw, *len, &mut cols).unwrap();
        }
    });
    println!("decode to columns: {:.1}M ticks/s", n / t / 1e6);
    let mut out = Vec::new();
    let t = median(7, || {
        for (_, raw, len) in &blocks {
            store::decode_ticks_with(raw, *len, 0, &mut out, &mut cols).unwrap();
        }
    });
    println!("decode to 64-byte ticks: {:.1}M ticks/s", n / t / 1e6);
    let mut dz = zstd::bulk::Decompressor::new().unwrap();
    let mut raw = Vec::new();
    let t = median(7, || {
        for (z, r, len) in &blocks {
            raw.clear();
            raw.reserve(r.len());
            dz.decompress_to_buffer(z, &mut raw).unwrap();
            store::decode_ticks_with(&raw, *len, 0, &mut out, &mut cols).unwrap();
        }
    });
    println!("zstd-15 + decode to ticks: {:.1}M ticks/s", n / t / 1e6);
    let t = median(5, || {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StoreConfig {
            fsync: FsyncPolicy::Never,
            ..StoreConfig::default()
        };
        let mut w = StoreWriter::open(dir.path(), 0, cfg).unwrap();
        let t0 = cpu();
        for x in &ticks {
            w.append_tick(x).unwrap();
        }
        w.flush().unwrap();
        let el = cpu() - t0;
        drop(w);
        // only the appending counts
        let adj = cpu();
        let _ = (el, adj);
        APPEND.with(|a| a.set(el));
    });
    let _ = t;
    let el = APPEND.with(|a| a.get());
    println!("append (last run): {:.1}M ticks/s", n / el / 1e6);
    // the same, as the median of 9 runs (appending and the final flush only)
    let mut runs: Vec<f64> = (0..9)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let cfg = StoreConfig {
                fsync: FsyncPolicy::Never,
                ..StoreConfig::default()
            };
            let mut w = StoreWriter::open(dir.path(), 0, cfg).unwrap();
            let t0 = cpu();
            for x in &ticks {
                w.append_tick(x).unwrap();
            }
            w.flush().unwrap();
            cpu() - t0
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    println!("append (median of 9): {:.1}M ticks/s", n / runs[4] / 1e6);

    let dir = tempfile::tempdir().unwrap();
    import_ticks(
        dir.path(),
        1,
        ticks.iter().map(|t| ("SPY", *t)),
        &ImportOptions::default(),
    )
    .unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    let day = ticks[0].ts_event.div_euclid(DAY) * DAY;
    let t = median(7, || {
        let mut it = r.ticks(0, day, day + DAY).unwrap();
        let mut k = 0;
        while let Some(b) = it.next_batch() {
            k += b.unwrap().len();
        }
        assert_eq!(k, ticks.len());
    });
    println!("query one day of SPY ticks: {:.2} ms CPU", t * 1e3);
    let t = median(7, || {
        let mut it = r.tick_columns(0, day, day + DAY).unwrap();
        let mut k = 0;
        while let Some(b) = it.next_batch() {
            k += b.unwrap().len();
        }
        assert_eq!(k, ticks.len());
    });
    println!(
        "query one day of SPY ticks as columns: {:.2} ms CPU",
        t * 1e3
    );

    for per_day in [390i64, 1440] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StoreConfig {
            fsync: FsyncPolicy::Never,
            block_bars: 4096,
            ..StoreConfig::default()
        };
        let mut w = StoreWriter::open(dir.path(), 0, cfg).unwrap();
        let tf = Timeframe::M1;
        for d in 0..365i64 {
            for m in 0..per_day {
                let st = 19_358 * DAY
                    + d * DAY
                    + (if per_day < 1440 { 810 } else { 0 } + m) * tf.nanos();
                let p = 100.0 + ((d * 7 + m) % 300) as f64 * 0.01;
                w.append_bar(&Bar {
                    symbol: 1,
                    timeframe: tf,
                    start: st,
                    end: st + tf.nanos(),
                    open: p,
                    high: p + 0.05,
                    low: p - 0.03,
                    close: p + 0.01,
                    volume: 1000.0,
                    vwap: p,
                    vwap_num: p * 1000.0,
                    buy_volume: 600.0,
                    sell_volume: 400.0,
                    count: 40,
                    first_ts: st + 1,
                    last_ts: st + 2,
                    revision: 0,
                    flags: 0,
                })
                .unwrap();
            }
        }
        w.seal_all().unwrap();
        w.close().unwrap();
        // the reader caches a day's open segments only once its directory
        // is 2 s old (see StoreReader::with_cache)
        std::thread::sleep(std::time::Duration::from_millis(2100));
        // batches (a day at a time), as the ticks query above
        let query = |r: &StoreReader| {
            let mut it = r.stored_bars(1, tf, i64::MIN, i64::MAX).unwrap();
            let mut k = 0;
            while let Some(b) = it.next_batch() {
                k += b.unwrap().len() as i64;
            }
            assert_eq!(k, 365 * per_day);
        };
        let uncached = StoreReader::with_cache(dir.path(), 0, 0).unwrap();
        let t_off = median(5, || query(&uncached));
        let r = StoreReader::open(dir.path()).unwrap();
        let t0 = cpu();
        query(&r);
        let cold = cpu() - t0;
        let warm = median(5, || query(&r));
        println!(
            "query 1 year of 1m bars ({} bars): {:.2} ms CPU warm (cached segments), {:.2} ms cold (first query after open), {:.2} ms without the cache",
            365 * per_day,
            warm * 1e3,
            cold * 1e3,
            t_off * 1e3
        );
        if per_day == 1440 {
            // 67 MiB of bars: over the default 32 MiB budget
            let big = StoreReader::with_cache(dir.path(), 512, 96 << 20).unwrap();
            query(&big);
            let warm = median(5, || query(&big));
            println!(
                "  the same warm with a 96 MiB bar cache: {:.2} ms CPU",
                warm * 1e3
            );
        }
    }
    let _: Option<Tick> = None;
}

thread_local! {
    static APPEND: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}
