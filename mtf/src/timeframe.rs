//! [`Timeframe`]: the width of a bar, and the bucket arithmetic.

use std::fmt;
use std::str::FromStr;

/// Nanoseconds in one millisecond.
pub const NANOS_PER_MS: i64 = 1_000_000;
/// Nanoseconds in one day.
pub const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;
const MS_PER_DAY: u32 = 86_400_000;

/// A bar width: a positive whole number of milliseconds, at most one day.
///
/// Buckets are half-open, `[start, start + width)`, aligned to the Unix epoch
/// plus an origin offset (see [`Timeframe::bucket_start`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timeframe {
    ms: u32,
}

/// Why a string or a number is not a [`Timeframe`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeframeError {
    /// Empty input.
    Empty,
    /// The number part is missing or not a non-negative integer.
    BadNumber(String),
    /// The unit is not one of `ms`, `s`, `m`, `h`, `d`.
    BadUnit(String),
    /// Zero width.
    Zero,
    /// Wider than one day.
    TooLong(String),
}

impl fmt::Display for TimeframeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HINT: &str = "expected a positive whole number and a unit ms, s, m, h or d \
                            (e.g. 250ms, 1s, 5m, 4h, 1d), at most 1d";
        match self {
            TimeframeError::Empty => write!(f, "empty timeframe: {HINT}"),
            TimeframeError::BadNumber(s) => write!(f, "bad timeframe {s:?}: {HINT}"),
            TimeframeError::BadUnit(s) => write!(f, "bad timeframe unit in {s:?}: {HINT}"),
            TimeframeError::Zero => write!(f, "timeframe must be longer than zero: {HINT}"),
            TimeframeError::TooLong(s) => write!(f, "timeframe {s:?} is longer than one day"),
        }
    }
}

impl std::error::Error for TimeframeError {}

impl Timeframe {
    /// One second.
    pub const S1: Timeframe = Timeframe { ms: 1_000 };
    /// One minute.
    pub const M1: Timeframe = Timeframe { ms: 60_000 };
    /// Five minutes.
    pub const M5: Timeframe = Timeframe { ms: 300_000 };
    /// Fifteen minutes.
    pub const M15: Timeframe = Timeframe { ms: 900_000 };
    /// One hour.
    pub const H1: Timeframe = Timeframe { ms: 3_600_000 };
    /// Four hours.
    pub const H4: Timeframe = Timeframe { ms: 14_400_000 };
    /// One day.
    pub const D1: Timeframe = Timeframe { ms: MS_PER_DAY };

    /// A timeframe of `ms` milliseconds (1 ..= 86,400,000).
    pub fn from_millis(ms: u32) -> Result<Timeframe, TimeframeError> {
        if ms == 0 {
            Err(TimeframeError::Zero)
        } else if ms > MS_PER_DAY {
            Err(TimeframeError::TooLong(format!("{ms}ms")))
        } else {
            Ok(Timeframe { ms })
        }
    }

    /// Width in milliseconds.
    #[inline]
    pub const fn millis(self) -> u32 {
        self.ms
    }

    /// Width in nanoseconds.
    #[inline]
    pub const fn nanos(self) -> i64 {
        self.ms as i64 * NANOS_PER_MS
    }

    /// `origin` reduced into `[0, width)`: origins that differ by a whole
    /// number of widths give the same buckets.
    #[inline]
    pub const fn normalize_origin(self, origin_ns: i64) -> i64 {
        origin_ns.rem_euclid(self.nanos())
    }

    /// Start of the bucket holding `ts_ns`: the largest `origin + k·width <= ts_ns`.
    ///
    /// Total: never panics or overflows; results saturate at the ends of `i64`.
    #[inline]
    pub const fn bucket_start(self, ts_ns: i64, origin_ns: i64) -> i64 {
        let w = self.nanos();
        let o = self.normalize_origin(origin_ns);
        let rel = ts_ns.saturating_sub(o);
        rel.div_euclid(w).saturating_mul(w).saturating_add(o)
    }

    /// End (exclusive) of the bucket that starts at `start_ns`.
    #[inline]
    pub const fn bucket_end(self, start_ns: i64) -> i64 {
        start_ns.saturating_add(self.nanos())
    }
}

impl FromStr for Timeframe {
    type Err = TimeframeError;

    fn from_str(s: &str) -> Result<Timeframe, TimeframeError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(TimeframeError::Empty);
        }
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        if num.is_empty() {
            return Err(TimeframeError::BadNumber(s.to_string()));
        }
        let n: u64 = num
            .parse()
            .map_err(|_| TimeframeError::TooLong(s.to_string()))?;
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => MS_PER_DAY as u64,
            "" => return Err(TimeframeError::BadUnit(s.to_string())),
            _ => return Err(TimeframeError::BadUnit(s.to_string())),
        };
        if n == 0 {
            return Err(TimeframeError::Zero);
        }
        match n.checked_mul(unit_ms) {
            Some(ms) if ms <= MS_PER_DAY as u64 => Ok(Timeframe { ms: ms as u32 }),
            _ => Err(TimeframeError::TooLong(s.to_string())),
        }
    }
}

impl fmt::Display for Timeframe {
    /// The canonical form: the largest unit that divides the width exactly
    /// (`60000ms` prints as `1m`, `90s` as `90s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.ms;
        for (unit, size) in [
            ("d", MS_PER_DAY),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("250ms", 250)]
    #[case("1s", 1_000)]
    #[case("1m", 60_000)]
    #[case("5m", 300_000)]
    #[case("15m", 900_000)]
    #[case("1h", 3_600_000)]
    #[case("4h", 14_400_000)]
    #[case("1d", 86_400_000)]
    #[case("90s", 90_000)]
    #[case("1500ms", 1_500)]
    #[case(" 24h ", 86_400_000)]
    fn parses(#[case] s: &str, #[case] ms: u32) {
        assert_eq!(s.parse::<Timeframe>().unwrap().millis(), ms);
    }

    #[rstest]
    #[case("", TimeframeError::Empty)]
    #[case("0s", TimeframeError::Zero)]
    #[case("m", TimeframeError::BadNumber("m".into()))]
    #[case("5", TimeframeError::BadUnit("5".into()))]
    #[case("5w", TimeframeError::BadUnit("5w".into()))]
    #[case("1.5s", TimeframeError::BadUnit("1.5s".into()))]
    #[case("-1s", TimeframeError::BadNumber("-1s".into()))]
    #[case("25h", TimeframeError::TooLong("25h".into()))]
    #[case("2d", TimeframeError::TooLong("2d".into()))]
    #[case("99999999999999999999999s", TimeframeError::TooLong("99999999999999999999999s".into()))]
    fn rejects(#[case] s: &str, #[case] e: TimeframeError) {
        assert_eq!(s.parse::<Timeframe>(), Err(e));
    }

    #[rstest]
    #[case("250ms")]
    #[case("1s")]
    #[case("90s")]
    #[case("1m")]
    #[case("4h")]
    #[case("1d")]
    #[case("1500ms")]
    fn display_round_trips(#[case] s: &str) {
        let tf: Timeframe = s.parse().unwrap();
        assert_eq!(tf.to_string(), s);
        assert_eq!(tf.to_string().parse::<Timeframe>().unwrap(), tf);
    }

    const MIN: i64 = 60_000_000_000;
    const H: i64 = 60 * MIN;

    /// (timeframe, origin, ts, expected bucket start)
    #[rstest]
    #[case("1m", 0, 0, 0)]
    #[case("1m", 0, MIN - 1, 0)]
    #[case("1m", 0, MIN, MIN)]
    #[case("1m", 0, -1, -MIN)]
    #[case("250ms", 0, 249_999_999, 0)]
    #[case("250ms", 0, 250_000_000, 250_000_000)]
    #[case("4h", 0, 4 * H - 1, 0)]
    #[case("4h", 0, 4 * H, 4 * H)]
    #[case("1d", 0, NANOS_PER_DAY + 5, NANOS_PER_DAY)]
    // origin offsets: a 1d bar starting at 17:00 New York (EST = 22:00 UTC)
    #[case("1d", 22 * H, 21 * H, 22 * H - NANOS_PER_DAY)]
    #[case("1d", 22 * H, 22 * H, 22 * H)]
    // a negative origin is the same grid as origin + width
    #[case("1h", -15 * MIN, 44 * MIN, -15 * MIN)]
    #[case("1h", -15 * MIN, 45 * MIN, 45 * MIN)]
    #[case("1h", 45 * MIN, 45 * MIN, 45 * MIN)]
    fn bucket_edges(#[case] tf: &str, #[case] origin: i64, #[case] ts: i64, #[case] start: i64) {
        let tf: Timeframe = tf.parse().unwrap();
        assert_eq!(tf.bucket_start(ts, origin), start);
        assert!(start <= ts && ts < tf.bucket_end(start));
    }

    #[test]
    fn extremes_do_not_panic() {
        for tf in [Timeframe::from_millis(1).unwrap(), Timeframe::D1] {
            for ts in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
                for origin in [i64::MIN, -1, 0, 1, i64::MAX] {
                    let s = tf.bucket_start(ts, origin);
                    let _ = tf.bucket_end(s);
                }
            }
        }
    }
}
