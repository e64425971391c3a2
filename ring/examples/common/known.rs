//! The known record sequence of `writer.rs` (module docs there), shared with
//! `tests/python.rs`.

use mtf::{Bar, Side, Tick, Timeframe};
use ring::BarKind;

/// Record `k` of the known sequence (see the module docs).
pub enum Known {
    Tick(Tick),
    Bar(BarKind, Bar),
}

pub fn known(k: u64) -> Known {
    let x = k as f64;
    let symbol = (k % 10) as u32;
    match k % 4 {
        0 | 1 => {
            let price = x * 0.25;
            let mut t = if k.is_multiple_of(4) {
                Tick::trade(symbol, k as i64, price, (k % 1000) as f64, Side::Buy, 0)
            } else {
                Tick::quote(symbol, k as i64, price, (k % 1000) as f64, price + 0.5, 3.0)
            };
            t.ts_recv = k as i64 + 7;
            t.id = k ^ 0x5a5a_5a5a;
            Known::Tick(t)
        }
        r => {
            let tf = Timeframe::M1;
            let start = k as i64 * 60_000_000_000;
            let update = r == 2;
            Known::Bar(
                if update {
                    BarKind::Update
                } else {
                    BarKind::Closed
                },
                Bar {
                    symbol,
                    timeframe: tf,
                    start,
                    end: tf.bucket_end(start),
                    open: x,
                    high: x + 2.0,
                    low: x - 1.0,
                    close: x + 0.5,
                    volume: 10.0,
                    vwap: x + 0.25,
                    vwap_num: 10.0 * (x + 0.25),
                    buy_volume: 6.0,
                    sell_volume: 4.0,
                    count: k,
                    first_ts: start + 1,
                    last_ts: start + 2,
                    revision: 0,
                    flags: if update { Bar::FLAG_OPEN } else { 0 },
                },
            )
        }
    }
}
