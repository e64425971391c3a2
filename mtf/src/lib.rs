//! The market-data model of tickd and its multi-timeframe bar aggregator.
//!
//! Pure computation: no I/O, no threads, no allocation per tick.
//!
//! - [`Tick`]: one market event (trade or quote), exactly 64 bytes, one cache line.
//! - [`Timeframe`]: a bar width, any positive multiple of 1 ms up to 1 day.
//! - [`Bar`]: OHLCV/VWAP over one `[start, start + timeframe)` bucket.
//!
//! ```
//! use mtf::{Side, Tick, Timeframe};
//! let tf: Timeframe = "5m".parse().unwrap();
//! let t = Tick::trade(7, 1_700_000_123_000_000_000, 101.25, 3.0, Side::Buy, 42);
//! assert_eq!(tf.bucket_start(t.ts_event, 0), 1_700_000_100_000_000_000);
//! ```

mod accum;
mod aggregator;
mod bar;
mod config;
mod event;
mod tick;
mod timeframe;

pub mod batch;
pub mod indicators;

pub use accum::{TS_MAX, TS_MIN, tick_is_valid};
pub use aggregator::{AggStats, Aggregator, DEFAULT_MAX_SYMBOLS, SeedError};
pub use bar::Bar;
pub use config::{
    AggConfig, BarSource, CloseAt, ConfigError, MAX_HELD_BARS, MAX_LATENESS_NS, MAX_TIMEFRAMES,
    OpenUpdates, QuotePrice,
};
pub use event::{BarEvent, BarEventKind, BarSink, CountingSink};
pub use tick::{Side, SymbolId, Tick, TickKind};
pub use timeframe::{NANOS_PER_DAY, NANOS_PER_MS, Timeframe, TimeframeError};
