//! The market-data model of tickd and its multi-timeframe bar aggregator.
//!
//! Pure computation: no I/O, no threads, no allocation per tick, never a
//! panic on any input.
//!
//! - [`Tick`]: one market event (trade or quote), exactly 64 bytes, one cache line.
//! - [`Timeframe`]: a bar width, any positive multiple of 1 ms up to 1 day.
//! - [`Bar`]: OHLCV/VWAP over one `[start, start + timeframe)` bucket.
//! - [`Aggregator`]: streaming bars of every (symbol × timeframe), emitted
//!   into a caller's [`BarSink`]; [`Aggregator::update`] takes one tick,
//!   [`Aggregator::update_all`] a batch (the same events and state, faster:
//!   what a consumer of a tick queue calls).
//! - [`batch`]: bars from sorted columns, scalar / AVX2 / AVX-512 kernels.
//! - [`indicators`]: SMA, EMA, Wilder RSI over closed bars.
//!
//! ```
//! use mtf::{AggConfig, Aggregator, BarEventKind, Side, Tick, Timeframe};
//!
//! let mut agg = Aggregator::new(AggConfig {
//!     timeframes: vec!["1s".parse().unwrap(), Timeframe::M1],
//!     ..AggConfig::default()
//! })
//! .unwrap();
//! let mut out = Vec::with_capacity(agg.max_events_per_update());
//! let t0 = 1_700_000_100_000_000_000; // on a minute edge
//! agg.update(&Tick::trade(7, t0 + 5, 101.25, 3.0, Side::Buy, 1), &mut out);
//! agg.update(&Tick::trade(7, t0 + 400_000_000, 101.50, 1.0, Side::Sell, 2), &mut out);
//! assert!(out.is_empty()); // nothing closed yet
//! agg.update(&Tick::trade(7, t0 + 1_000_000_000, 101.0, 2.0, Side::Buy, 3), &mut out);
//! let bar = out[0].bar; // the first 1 s bar closed when the watermark reached its end
//! assert_eq!(out[0].kind, BarEventKind::Closed);
//! assert_eq!((bar.start, bar.open, bar.close, bar.volume, bar.count), (t0, 101.25, 101.5, 4.0, 2));
//! assert_eq!(bar.vwap, (101.25 * 3.0 + 101.5) / 4.0);
//! ```
//!
//! # The streaming contract
//!
//! - **Buckets** are `[origin + k·width, origin + (k+1)·width)`; a bar is
//!   labelled by its start and carries its end.
//! - **Watermark**, per symbol: the highest event time of its valid ticks
//!   (or what [`Aggregator::advance`] moved it to). One instrument's replay
//!   never closes another's bars.
//! - **Close**: a bar is emitted [`BarEventKind::Closed`] (revision 0) when
//!   its symbol's watermark reaches `end + allowed_lateness`
//!   ([`CloseAt::EndPlusLateness`], the default), or `end`
//!   ([`CloseAt::End`]: lowest latency, late ticks then correct it).
//! - **Late ticks** (before the newest bar): applied if their bucket's
//!   `end + allowed_lateness` is after the watermark (the bar is still held);
//!   an already emitted bar is re-emitted [`BarEventKind::Corrected`] with
//!   `revision + 1`. Otherwise counted in [`AggStats::late`] and not applied
//!   (the caller still stores the tick). Open is the price at the smallest
//!   event time (first arrival among equal times), close at the largest (last
//!   arrival among equal times), so a late tick lands where its time puts it.
//! - **Bad ticks** — event time outside [`TS_MIN`] ..= [`TS_MAX`], non-finite
//!   price, non-finite or negative size — are counted in
//!   [`AggStats::invalid`] and change nothing; the batch kernels skip the same
//!   rows, so streaming and batch stay equal on any input. Symbol ids at or
//!   above [`Aggregator::with_max_symbols`] are counted, not stored.
//! - **Empty buckets**: no bar, or (`fill_empty`) a flat bar at the previous
//!   close with [`Bar::FLAG_FILLED`], at most `max_fill_per_gap` per gap.
//! - **Open updates** ([`OpenUpdates`]): the newest bar after every tick, or
//!   at most once per interval of event time per bar, flagged
//!   [`Bar::FLAG_OPEN`].
//! - **Clock** ([`Aggregator::advance`]): closes bars of quiet *live*
//!   symbols; symbols whose ticks carry [`Tick::FLAG_REPLAY`] are never moved
//!   by the wall clock.
//! - **Restart** ([`Aggregator::seed`]): the newest stored bar of each
//!   (symbol, timeframe); its bucket is never reopened and filling continues
//!   from its close.
//!
//! Per (symbol, timeframe) closes come in start order, except with
//! [`CloseAt::End`] when a late tick creates a bar in a bucket that had none,
//! older than bars already closed: that bar is closed at once.
//!
//! # Exactness
//!
//! Open, high, low, close, count, first and last time are exactly equal
//! between the streaming aggregator (either mode), every batch kernel, and a
//! naive loop. Volume, VWAP numerator, buy and sell volume are sums of
//! non-negative terms: bit-equal between the streaming aggregator with
//! `fold: false`, the scalar batch kernel and a row-by-row loop; the fold mode
//! (finest bars merged into coarser ones) and the SIMD kernels (lane sums)
//! add in another order, so they agree within `(n−1)·2⁻⁵³` relative — below
//! 1e-12 in every test, checked at that bound.
//!
//! # Cost
//!
//! Per symbol a dense slot; per (symbol, timeframe) a ring of held bars sized
//! for the lateness when the symbol first appears. Fold mode keeps each
//! symbol's newest finest bar in a dense array of 128-byte hot states: an
//! in-order trade of that bar is a window compare, a price/size check and
//! the bar update (about 45 instructions with the caller's loop); a tick
//! that starts the next finest bar while nothing coarser is due folds the
//! closed one into the coarser bars and emits it without routing or settling
//! (a few hundred instructions); everything else takes the general path.
//! Cost per tick does not grow with history, symbols or bars emitted.

mod accum;
mod aggregator;
mod bar;
mod config;
mod event;
mod held;
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
