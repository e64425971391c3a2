#![allow(dead_code)]

use mtf::{Bar, Side, Tick, Timeframe};

pub const T0: i64 = 1_381_240_800_000_000_000; // 2013-10-08 14:00 UTC
pub const DAY: i64 = 86_400_000_000_000;

/// A deterministic random walk: `n` ticks of `symbols` symbols, ms times.
pub fn walk(n: usize, symbols: u32, seed: u64) -> Vec<Tick> {
    let mut s = seed | 1;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut price = vec![100.0f64; symbols as usize];
    let mut t = T0;
    (0..n)
        .map(|i| {
            let r = rnd();
            t += (r % 3) as i64 * 1_000_000;
            let sym = (r >> 8) as u32 % symbols;
            let p = &mut price[sym as usize];
            *p = ((*p * 100.0).round() + ((r >> 20) % 5) as f64 - 2.0) / 100.0;
            let side = Side::from_u8(((r >> 30) % 3) as u8);
            if (r >> 40) % 5 == 0 {
                Tick::quote(sym, t, *p, ((r >> 44) % 9) as f64, *p + 0.01, 3.0)
            } else {
                Tick::trade(sym, t, *p, ((r >> 44) % 900 + 1) as f64, side, i as u64)
            }
        })
        .collect()
}

pub fn same_tick(a: &Tick, b: &Tick) -> bool {
    a.ts_event == b.ts_event
        && a.ts_recv == b.ts_recv
        && a.symbol == b.symbol
        && a.kind == b.kind
        && a.side == b.side
        && a.flags == b.flags
        && a.price.to_bits() == b.price.to_bits()
        && a.size.to_bits() == b.size.to_bits()
        && a.ask.to_bits() == b.ask.to_bits()
        && a.ask_size.to_bits() == b.ask_size.to_bits()
        && a.id == b.id
}

pub fn bar(symbol: u32, tf: Timeframe, start: i64, close: f64, revision: u32) -> Bar {
    Bar {
        symbol,
        timeframe: tf,
        start,
        end: start + tf.nanos(),
        open: close - 0.5,
        high: close + 1.0,
        low: close - 1.0,
        close,
        volume: 10.0,
        vwap: close,
        vwap_num: close * 10.0,
        buy_volume: 4.0,
        sell_volume: 6.0,
        count: 3,
        first_ts: start + 1,
        last_ts: start + 2,
        revision,
        flags: 0,
    }
}

/// `<repo>/../shared/data`, or `TICKD_SHARED_DATA`; `None` (and a SKIP line) when absent.
pub fn shared_data(what: &str) -> Option<std::path::PathBuf> {
    let p = std::env::var_os("TICKD_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
        });
    if p.join(what).exists() {
        Some(p)
    } else {
        eprintln!("SKIP: {what} (../shared/data not found)");
        None
    }
}
