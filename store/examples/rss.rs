//! Resident memory of a reader, against the amount of history stored.
//!
//! ```text
//! cargo run --release -p store --example rss -- gen DIR DAYS SYMBOLS TICKS_PER_DAY
//! cargo run --release -p store --example rss -- read DIR
//! ```
//! `gen` writes a synthetic random walk (sealed segments, zstd-1 to keep it
//! quick); `read` runs in a fresh process and streams every tick of every
//! symbol, then one day of one symbol, then a year of 1m bars rebuilt from
//! ticks, printing VmRSS / VmHWM from /proc/self/status after each.

use std::path::Path;
use std::time::Instant;

use mtf::{Side, Tick, Timeframe};
use store::StoreReader;
use store::import::{ImportOptions, import_ticks};

const DAY: i64 = 86_400_000_000_000;
const START: i64 = 1_672_531_200_000_000_000; // 2023-01-01 UTC

fn status(what: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(what))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn report(label: &str, n: u64, t: Instant) {
    println!(
        "{label}: {n} values in {:.2?}; VmRSS {} KiB, VmHWM {} KiB",
        t.elapsed(),
        status("VmRSS:"),
        status("VmHWM:")
    );
}

fn generate(dir: &Path, days: i64, symbols: u32, per_day: i64) {
    let opts = ImportOptions {
        zstd_level: 1,
        ..ImportOptions::default()
    };
    let names: Vec<String> = (0..symbols).map(|s| format!("SYM{s}")).collect();
    let t = Instant::now();
    let mut total = 0u64;
    for d in 0..days {
        let mut seed = (d as u64 + 1) * 0x9E37_79B9_7F4A_7C15;
        let mut price = vec![100.0f64; symbols as usize];
        let step = DAY / per_day;
        let ticks = (0..per_day * symbols as i64).map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let s = (i % symbols as i64) as usize;
            let p = &mut price[s];
            *p = ((*p * 100.0).round() + (seed % 5) as f64 - 2.0).max(1.0) / 100.0;
            let ts = START + d * DAY + (i / symbols as i64) * step + (seed >> 40) as i64 % step;
            let side = Side::from_u8((seed >> 20) as u8 % 3);
            (
                names[s].as_str(),
                Tick::trade(0, ts, *p, ((seed >> 24) % 500 + 1) as f64, side, i as u64),
            )
        });
        let r = import_ticks(dir, d as u128 + 1, ticks, &opts).unwrap();
        total += r.ticks;
    }
    println!(
        "generated {total} ticks ({days} days x {symbols} symbols) in {:.1?}",
        t.elapsed()
    );
}

fn read(dir: &Path) {
    let t = Instant::now();
    let r = StoreReader::open(dir).unwrap();
    let syms = r.symbols().unwrap();
    report("open", 0, t);
    let days = r.days().unwrap();
    let (first, last) = (
        days[0] as i64 * DAY,
        (*days.last().unwrap() as i64 + 1) * DAY,
    );
    let t = Instant::now();
    let mut n = 0u64;
    let mut it = r
        .ticks(syms.id("SYM0").unwrap(), first, first + DAY)
        .unwrap();
    while let Some(b) = it.next_batch() {
        n += b.unwrap().len() as u64;
    }
    report("one day of one symbol", n, t);
    let t = Instant::now();
    let mut n = 0u64;
    for (id, _) in syms.iter() {
        let mut it = r.ticks(id, first, last).unwrap();
        while let Some(b) = it.next_batch() {
            n += b.unwrap().len() as u64;
        }
    }
    report("all history, every symbol", n, t);
    let t = Instant::now();
    let n = r
        .bars(syms.id("SYM0").unwrap(), Timeframe::M1, first, last)
        .unwrap()
        .count() as u64;
    report("1m bars rebuilt from ticks, all history, one symbol", n, t);
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    match a.get(1).map(String::as_str) {
        Some("gen") => generate(
            Path::new(&a[2]),
            a[3].parse().unwrap(),
            a[4].parse().unwrap(),
            a[5].parse().unwrap(),
        ),
        Some("read") => read(Path::new(&a[2])),
        _ => eprintln!("usage: rss gen DIR DAYS SYMBOLS TICKS_PER_DAY | rss read DIR"),
    }
}
