//! [`Bar`]: OHLCV and VWAP over one time bucket of one symbol.

use crate::{SymbolId, Timeframe};

/// One bar: the ticks of one symbol in `[start, end)`.
///
/// Trade bars are built on the trade price; quote bars on the mid price by
/// default (or the bid or the ask, by option of the aggregator), with
/// `volume == 0` and `count` = the number of quotes.
///
/// `vwap_num` is Σ price·size, kept so that bars can be merged
/// (`vwap = Σ vwap_num / Σ volume`). When `volume == 0`, `vwap` equals `close`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    /// Symbol id.
    pub symbol: SymbolId,
    /// Bar width.
    pub timeframe: Timeframe,
    /// Bucket start (inclusive), ns since the Unix epoch: the bar's label.
    pub start: i64,
    /// Bucket end (exclusive), ns: `start + timeframe`.
    pub end: i64,
    /// First price in the bucket.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
    /// Σ size (0 for quote bars).
    pub volume: f64,
    /// Volume-weighted average price, `vwap_num / volume`; `close` when `volume == 0`.
    pub vwap: f64,
    /// Σ price·size.
    pub vwap_num: f64,
    /// Σ size of trades whose aggressor bought.
    pub buy_volume: f64,
    /// Σ size of trades whose aggressor sold.
    pub sell_volume: f64,
    /// Number of ticks.
    pub count: u64,
    /// Event time of the first tick, ns.
    pub first_ts: i64,
    /// Event time of the last tick, ns.
    pub last_ts: i64,
    /// 0 when first closed; +1 for each correction by a late tick.
    pub revision: u32,
    /// `Bar::FLAG_*` bits.
    pub flags: u32,
}

const _: () = assert!(std::mem::size_of::<Bar>() == 128);

impl Bar {
    /// A flat bar for an empty bucket: carries the previous close, volume 0, count 0.
    pub const FLAG_FILLED: u32 = 1 << 0;
    /// Built from quotes (mid, bid or ask), not trades.
    pub const FLAG_QUOTES: u32 = 1 << 1;
    /// An update of a bar that is still open (not closed yet).
    pub const FLAG_OPEN: u32 = 1 << 2;

    /// VWAP from the numerator and volume, `fallback` when the volume is 0.
    #[inline]
    pub fn vwap_of(vwap_num: f64, volume: f64, fallback: f64) -> f64 {
        if volume > 0.0 {
            vwap_num / volume
        } else {
            fallback
        }
    }
}
