//! A live writer of known records, for subscribers to check against (the
//! Python subscriber's CI run, or any other language's).
//!
//! ```sh
//! cargo run -p ring --release --example writer -- \
//!     --ring /dev/shm/tickd-demo.ring --snapshot /dev/shm/tickd-demo.snap \
//!     --records 200000 --rate 100000 --linger-ms 500
//! ```
//!
//! It creates both files, names symbols `SYM0`..`SYM9` (ids 0..9), then
//! publishes record `k` for `k` in `0..records`, at `rate` records/s:
//!
//! - `k % 4 == 0`: a trade tick, `k % 4 == 1`: a quote tick, with symbol
//!   `k % 10`, `ts_event = k`, `ts_recv = k + 7`, `price = k / 4`,
//!   `size = k % 1000`, `id = k ^ 0x5a5a5a5a` (quote: `ask = price + 0.5`,
//!   `ask_size = 3`; trade: side buy);
//! - `k % 4 == 2`: a bar update, `k % 4 == 3`: a closed bar, symbol `k % 10`,
//!   timeframe 1m, `start = k · 60 s`, `open = k`, `high = k + 2`,
//!   `low = k - 1`, `close = k + 0.5`, `volume = 10`, `vwap = k + 0.25`,
//!   `vwap_num = 10 (k + 0.25)`, `buy_volume = 6`, `sell_volume = 4`,
//!   `count = k`, `first_ts = start + 1`, `last_ts = start + 2`, revision 0,
//!   flags `FLAG_OPEN` for updates; also stored in the snapshot.
//!
//! Then it heartbeats for `--linger-ms` and shuts down (a shutdown record).

#[path = "common/known.rs"]
mod known;

use known::{Known, known};
use mtf::Timeframe;
use ring::{Publisher, RingConfig, SnapshotConfig};
use std::time::{Duration, Instant};

struct Args {
    ring: String,
    snapshot: String,
    records: u64,
    rate: f64,
    capacity: u64,
    linger: Duration,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        ring: String::new(),
        snapshot: String::new(),
        records: 100_000,
        rate: 100_000.0,
        capacity: 1 << 18,
        linger: Duration::from_millis(500),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--ring" => a.ring = v()?,
            "--snapshot" => a.snapshot = v()?,
            "--records" => a.records = v()?.parse().map_err(|e| format!("--records: {e}"))?,
            "--rate" => a.rate = v()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--capacity" => a.capacity = v()?.parse().map_err(|e| format!("--capacity: {e}"))?,
            "--linger-ms" => {
                a.linger =
                    Duration::from_millis(v()?.parse().map_err(|e| format!("--linger-ms: {e}"))?)
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.ring.is_empty() || a.snapshot.is_empty() {
        return Err("--ring PATH and --snapshot PATH are required".into());
    }
    if !a.rate.is_finite() || a.rate <= 0.0 {
        return Err("--rate must be positive".into());
    }
    Ok(a)
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("writer: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&a) {
        eprintln!("writer: {e}");
        std::process::exit(1);
    }
}

fn run(a: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut p = Publisher::create(
        &a.ring,
        &RingConfig {
            capacity: a.capacity,
            group: None,
        },
        &a.snapshot,
        &SnapshotConfig {
            max_symbols: 16,
            timeframes: vec![Timeframe::M1, Timeframe::M5],
            group: None,
        },
    )?;
    for s in 0..10 {
        p.add_symbol(s, &format!("SYM{s}"))?;
    }
    let t0 = Instant::now();
    let mut last_beat = t0;
    for k in 0..a.records {
        // pace: record k is due at k / rate seconds
        let due = t0 + Duration::from_secs_f64(k as f64 / a.rate);
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        match known(k) {
            Known::Tick(t) => {
                p.tick(&t)?;
            }
            Known::Bar(kind, b) => {
                p.bar(kind, &b)?;
            }
        }
        if last_beat.elapsed() > Duration::from_millis(100) {
            p.heartbeat();
            last_beat = Instant::now();
        }
    }
    let end = Instant::now() + a.linger;
    while Instant::now() < end {
        p.heartbeat();
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "writer: published {} known records in {:.3} s, shutting down",
        a.records,
        t0.elapsed().as_secs_f64()
    );
    p.shutdown();
    Ok(())
}
