//! What the layout and Python-subscriber tests share.

use mtf::{Bar, Timeframe};

/// A 5-minute quote bar with every field set; `vwap` as given (52.5 / 30
/// = 1.75 is the derived one).
pub fn test_bar(vwap: f64) -> Bar {
    let tf = Timeframe::M5;
    let start = 1_700_000_100_000_000_000;
    Bar {
        symbol: 77,
        timeframe: tf,
        start,
        end: tf.bucket_end(start),
        open: 1.5,
        high: 2.5,
        low: 0.5,
        close: 2.0,
        volume: 30.0,
        vwap,
        vwap_num: 52.5,
        buy_volume: 20.0,
        sell_volume: 10.0,
        count: 12,
        first_ts: start + 1,
        last_ts: start + 299_000_000_000,
        revision: 3,
        flags: Bar::FLAG_QUOTES,
    }
}
