//! [`AggConfig`]: what the streaming aggregator builds, validated once.

use crate::Timeframe;

/// At most this many timeframes per aggregator.
pub const MAX_TIMEFRAMES: usize = 16;
/// At most one week of allowed lateness.
pub const MAX_LATENESS_NS: i64 = 7 * crate::NANOS_PER_DAY;
/// At most this many bars held per (symbol, timeframe) for late ticks: the
/// lateness, in bars of the finest timeframe, must stay below it.
pub const MAX_HELD_BARS: usize = 1 << 14;

/// Which price of a quote builds quote bars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum QuotePrice {
    /// `(bid + ask) / 2`.
    #[default]
    Mid,
    /// The bid.
    Bid,
    /// The ask.
    Ask,
}

/// Which ticks build the bars of an aggregator; the other kind is ignored
/// (counted in [`crate::AggStats::ignored`], no effect on any state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BarSource {
    /// Trades: price, size, aggressor side.
    #[default]
    Trades,
    /// Quotes, on the given price; volume 0, count = number of quotes.
    Quotes(QuotePrice),
}

/// When the update of an open bar is emitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OpenUpdates {
    /// Never: closed (and corrected) bars only.
    #[default]
    None,
    /// After every tick, for every timeframe.
    EveryTick,
    /// At most once per this many ns of event time per bar (the first tick
    /// of a bar always emits).
    Every(i64),
}

/// When a bar is emitted as closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CloseAt {
    /// When the symbol's watermark reaches `end + allowed_lateness`: late
    /// ticks within the lateness land before the close, and no bar is ever
    /// corrected. Latency of a close: the lateness.
    #[default]
    EndPlusLateness,
    /// When the watermark reaches `end`: lowest latency; a late tick within
    /// the lateness re-emits the bar as [`crate::BarEventKind::Corrected`]
    /// with `revision + 1`.
    End,
}

/// Configuration of an [`crate::Aggregator`]; checked by [`crate::Aggregator::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggConfig {
    /// The timeframes to build (1 ..= [`MAX_TIMEFRAMES`], distinct, any order).
    pub timeframes: Vec<Timeframe>,
    /// Buckets start at `origin_ns + k·width` (any value, negative too).
    pub origin_ns: i64,
    /// How far (ns of event time) behind its symbol's watermark a tick may
    /// be and still be applied (0 ..= [`MAX_LATENESS_NS`]).
    pub allowed_lateness_ns: i64,
    /// When bars are emitted as closed.
    pub close_at: CloseAt,
    /// Trades or quotes.
    pub source: BarSource,
    /// Open-bar updates.
    pub open_updates: OpenUpdates,
    /// Emit a flat bar (previous close, volume 0, [`crate::Bar::FLAG_FILLED`])
    /// for an empty bucket between two bars, or before the watermark.
    pub fill_empty: bool,
    /// At most this many flat bars for one gap; older empty buckets of a
    /// longer gap are skipped and counted in [`crate::AggStats::fill_skipped`].
    pub max_fill_per_gap: u32,
    /// [`crate::Aggregator::advance`] moves a live symbol's watermark to
    /// `now_ns - clock_grace_ns`, so ticks delayed on the wire by less than
    /// the grace are not late.
    pub clock_grace_ns: i64,
    /// When every timeframe is a multiple of the finest, update only the
    /// finest bar per tick and fold it into the coarser ones (fastest). Off:
    /// every timeframe is updated per tick, and volume / VWAP sums are then
    /// bit-equal to the scalar batch kernel (folded sums agree to ~1e-12).
    pub fold: bool,
}

impl Default for AggConfig {
    /// 1s 1m 5m 15m 1h 1d, origin 0, no lateness, trades, closed bars only, no fill.
    fn default() -> AggConfig {
        AggConfig {
            timeframes: vec![
                Timeframe::S1,
                Timeframe::M1,
                Timeframe::M5,
                Timeframe::M15,
                Timeframe::H1,
                Timeframe::D1,
            ],
            origin_ns: 0,
            allowed_lateness_ns: 0,
            close_at: CloseAt::EndPlusLateness,
            source: BarSource::Trades,
            open_updates: OpenUpdates::None,
            fill_empty: false,
            max_fill_per_gap: 10_000,
            clock_grace_ns: 0,
            fold: true,
        }
    }
}

/// Why an [`AggConfig`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No timeframe, or more than [`MAX_TIMEFRAMES`].
    #[error("between 1 and {MAX_TIMEFRAMES} timeframes are needed, got {0}")]
    TimeframeCount(usize),
    /// The same timeframe twice.
    #[error("timeframe {0} is configured twice")]
    DuplicateTimeframe(Timeframe),
    /// Negative or longer than [`MAX_LATENESS_NS`].
    #[error("allowed lateness {0} ns is outside 0 ..= {MAX_LATENESS_NS} ns")]
    Lateness(i64),
    /// The lateness spans too many bars of a timeframe to hold them.
    #[error(
        "allowed lateness {lateness_ns} ns spans more than {MAX_HELD_BARS} bars of {timeframe}"
    )]
    LatenessTooLongFor {
        /// The timeframe.
        timeframe: Timeframe,
        /// The lateness.
        lateness_ns: i64,
    },
    /// `OpenUpdates::Every(ns)` with `ns <= 0`.
    #[error("open-bar update interval must be positive, got {0} ns")]
    OpenInterval(i64),
    /// Negative clock grace, or more than [`MAX_LATENESS_NS`].
    #[error("clock grace {0} ns is outside 0 ..= {MAX_LATENESS_NS} ns")]
    ClockGrace(i64),
}

impl AggConfig {
    /// Checks the config; returns the timeframes sorted from finest to coarsest.
    pub(crate) fn validate(&self) -> Result<Vec<Timeframe>, ConfigError> {
        let n = self.timeframes.len();
        if n == 0 || n > MAX_TIMEFRAMES {
            return Err(ConfigError::TimeframeCount(n));
        }
        let mut tfs = self.timeframes.clone();
        tfs.sort_unstable();
        if let Some(w) = tfs.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError::DuplicateTimeframe(w[0]));
        }
        let l = self.allowed_lateness_ns;
        if !(0..=MAX_LATENESS_NS).contains(&l) {
            return Err(ConfigError::Lateness(l));
        }
        for &tf in &tfs {
            if held_capacity(tf, l) > MAX_HELD_BARS {
                return Err(ConfigError::LatenessTooLongFor {
                    timeframe: tf,
                    lateness_ns: l,
                });
            }
        }
        if let OpenUpdates::Every(ns) = self.open_updates
            && ns <= 0
        {
            return Err(ConfigError::OpenInterval(ns));
        }
        if !(0..=MAX_LATENESS_NS).contains(&self.clock_grace_ns) {
            return Err(ConfigError::ClockGrace(self.clock_grace_ns));
        }
        Ok(tfs)
    }
}

/// Ring capacity for the bars of `tf` held under `lateness_ns`: bars within
/// the lateness of the previous watermark, plus those within the lateness of
/// the new one (a tick can jump ahead), plus slack; a power of two.
pub(crate) fn held_capacity(tf: Timeframe, lateness_ns: i64) -> usize {
    let per = (lateness_ns / tf.nanos()) as usize + 1;
    (2 * per + 4).next_power_of_two()
}
