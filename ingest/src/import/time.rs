//! Time handling for the importers: civil dates, fixed-layout datetime
//! parsing, time units and time zones, all allocation-free per row.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::num::{parse_fixed, parse_u64};

/// Nanoseconds per second.
pub const NS_PER_S: i64 = 1_000_000_000;
/// Nanoseconds per day.
pub const NS_PER_DAY: i64 = 86_400 * NS_PER_S;

/// The unit of an integer (or decimal) epoch time column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeUnit {
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Millis,
    /// Microseconds.
    Micros,
    /// Nanoseconds.
    Nanos,
}

impl TimeUnit {
    /// Decimal places below one unit that still resolve to whole nanoseconds.
    const fn frac_digits(self) -> u32 {
        match self {
            TimeUnit::Seconds => 9,
            TimeUnit::Millis => 6,
            TimeUnit::Micros => 3,
            TimeUnit::Nanos => 0,
        }
    }

    /// Parses `b` (digits, optionally a `.` and a fraction down to 1 ns) in this
    /// unit to ns; `None` when malformed or out of the `i64` range.
    #[inline]
    pub fn parse_ns(self, b: &[u8]) -> Option<i64> {
        let (neg, digits) = match b.first() {
            Some(b'-') => (true, &b[1..]),
            _ => (false, b),
        };
        let scale = self.frac_digits();
        // value in units of 10^-scale of this unit, which is exactly 1 ns
        let v = match parse_u64(digits) {
            Some(int) => int.checked_mul(10u64.pow(scale))?,
            None => parse_fixed(digits, scale)?,
        };
        let v = i64::try_from(v).ok()?;
        Some(if neg { -v } else { v })
    }
}

impl std::str::FromStr for TimeUnit {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<TimeUnit, &'static str> {
        match s {
            "s" => Ok(TimeUnit::Seconds),
            "ms" => Ok(TimeUnit::Millis),
            "us" | "µs" => Ok(TimeUnit::Micros),
            "ns" => Ok(TimeUnit::Nanos),
            _ => Err("time unit must be one of s, ms, us (µs), ns"),
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
#[inline]
pub const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Whether `d` is a valid day of month `m` in year `y`.
#[inline]
const fn valid_date(y: i64, m: u32, d: u32) -> bool {
    if m < 1 || m > 12 || d < 1 {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= dim
}

#[inline]
fn digits<const N: usize>(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + N)?;
    let mut v = 0u32;
    for &c in s {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u32;
    }
    Some(v)
}

/// A civil (wall-clock) datetime as parsed, with an optional explicit UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    /// Days since 1970-01-01 of the date.
    pub days: i64,
    /// Nanoseconds since midnight (may reach 86,400 s for a leap second `:60`).
    pub nanos: i64,
    /// Offset east of UTC in seconds, when the text carried one (`Z`, `+HH:MM`).
    pub offset_s: Option<i32>,
}

impl Civil {
    /// ns since the epoch of the wall-clock time, as if it were UTC; `None`
    /// outside the `i64` range (years before 1678 or after 2262).
    #[inline]
    pub const fn wall_ns(&self) -> Option<i64> {
        match self.days.checked_mul(NS_PER_DAY) {
            Some(d) => d.checked_add(self.nanos),
            None => None,
        }
    }
}

/// Parses a date `YYYY-MM-DD` or `YYYYMMDD` at the start of `b`; returns days and bytes used.
#[inline]
fn parse_date(b: &[u8]) -> Option<(i64, usize)> {
    let y = digits::<4>(b, 0)?;
    let (m, d, used) = if b.get(4) == Some(&b'-') {
        if b.get(7) != Some(&b'-') {
            return None;
        }
        (digits::<2>(b, 5)?, digits::<2>(b, 8)?, 10)
    } else {
        (digits::<2>(b, 4)?, digits::<2>(b, 6)?, 8)
    };
    if !valid_date(y as i64, m, d) {
        return None;
    }
    Some((days_from_civil(y as i64, m, d), used))
}

/// Parses `YYYY-MM-DD`, `YYYYMMDD`, optionally followed by `T` or a space and
/// `HH:MM[:SS[.fraction]]` (1 to 9 fraction digits), optionally followed by `Z`,
/// `+HH:MM`, `-HH:MM`, `+HHMM` or `+HH`. Covers ISO 8601 / RFC 3339, pandas'
/// `2013-01-01 22:00:00.295000+00:00` and TrueFX's `20130101 22:00:00.295`.
pub fn parse_datetime(b: &[u8]) -> Option<Civil> {
    let (days, mut i) = parse_date(b)?;
    let mut nanos = 0i64;
    if i < b.len() && (b[i] == b'T' || b[i] == b' ') {
        i += 1;
        let h = digits::<2>(b, i)?;
        if b.get(i + 2) != Some(&b':') {
            return None;
        }
        let mi = digits::<2>(b, i + 3)?;
        i += 5;
        let mut s = 0;
        if b.get(i) == Some(&b':') {
            s = digits::<2>(b, i + 1)?;
            i += 3;
            if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
                i += 1;
                let start = i;
                let mut f = 0i64;
                while i < b.len() && b[i].is_ascii_digit() {
                    if i - start < 9 {
                        f = f * 10 + (b[i] - b'0') as i64;
                    }
                    i += 1;
                }
                let n = i - start;
                if n == 0 || n > 9 {
                    return None;
                }
                nanos = f * 10i64.pow(9 - n as u32);
            }
        }
        if h > 23 || mi > 59 || s > 60 {
            return None;
        }
        nanos += (h as i64 * 3600 + mi as i64 * 60 + s as i64) * NS_PER_S;
    }
    let offset_s = match b.get(i) {
        None => None,
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => Some(0),
        Some(&c @ (b'+' | b'-')) => {
            let oh = digits::<2>(b, i + 1)?;
            let om = match b.len() - (i + 3) {
                0 => 0,
                3 if b[i + 3] == b':' => digits::<2>(b, i + 4)?,
                2 => digits::<2>(b, i + 3)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let o = (oh * 3600 + om * 60) as i32;
            Some(if c == b'-' { -o } else { o })
        }
        Some(_) => return None,
    };
    Some(Civil {
        days,
        nanos,
        offset_s,
    })
}

/// The time zone of wall-clock times that carry no offset.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Zone {
    /// UTC.
    Utc,
    /// A fixed offset east of UTC, in seconds (FXCM's LEAN data: −5 h, no DST).
    Fixed(i32),
    /// An IANA zone with its DST rules (`America/New_York`).
    Named(TimeZone),
}

impl Zone {
    /// `UTC`, `+HH:MM`/`-HH:MM`, or an IANA name.
    pub fn parse(s: &str) -> Result<Zone, String> {
        if s.eq_ignore_ascii_case("utc") || s == "Z" {
            return Ok(Zone::Utc);
        }
        if s.starts_with('+') || s.starts_with('-') {
            return match parse_datetime(format!("19700101{s}").as_bytes()) {
                Some(Civil {
                    offset_s: Some(o), ..
                }) => Ok(Zone::Fixed(o)),
                _ => Err(format!("bad UTC offset {s:?}: use +HH:MM or -HH:MM")),
            };
        }
        TimeZone::get(s)
            .map(Zone::Named)
            .map_err(|e| format!("unknown time zone {s:?}: {e}"))
    }
}

/// Converts wall-clock times of one [`Zone`] to UTC, caching the offset of the
/// current local day so that per-row work is an add unless the day has a DST
/// transition (then each row goes through jiff, with its "compatible" rule:
/// a skipped time moves forward, a repeated time takes the earlier instant).
#[derive(Clone, Debug)]
pub struct ZoneConverter {
    zone: Zone,
    /// local day whose offset is cached, as wall-clock ns `[day_lo, day_hi)`
    day_lo: i64,
    day_hi: i64,
    /// offset (ns) valid for the whole cached day, `None` when the day has a transition
    day_offset: Option<i64>,
}

impl ZoneConverter {
    /// A converter for `zone`.
    pub fn new(zone: Zone) -> ZoneConverter {
        ZoneConverter {
            zone,
            day_lo: 0,
            day_hi: 0,
            day_offset: None,
        }
    }

    /// The zone.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// UTC ns of a wall-clock time given as local `days` since 1970-01-01 and
    /// `nanos` since local midnight (may exceed one day: LEAN rows past 24 h).
    #[inline]
    pub fn to_utc(&mut self, days: i64, nanos: i64) -> Option<i64> {
        let wall = days.checked_mul(NS_PER_DAY)?.checked_add(nanos)?;
        match &self.zone {
            Zone::Utc => Some(wall),
            Zone::Fixed(o) => wall.checked_sub(*o as i64 * NS_PER_S),
            Zone::Named(_) => {
                // a range check, not a division, on the hot path
                if !(self.day_lo..self.day_hi).contains(&wall) {
                    self.new_day(wall);
                }
                match self.day_offset {
                    Some(o) => wall.checked_sub(o),
                    None => self.slow(wall),
                }
            }
        }
    }

    #[cold]
    fn new_day(&mut self, wall: i64) {
        let day = wall.div_euclid(NS_PER_DAY);
        self.day_lo = day.saturating_mul(NS_PER_DAY);
        self.day_hi = self.day_lo.saturating_add(NS_PER_DAY);
        self.day_offset = self.constant_offset(day).map(|o| o as i64 * NS_PER_S);
    }

    /// The offset of local day `day` when it is the same from 00:00 to the next 00:00.
    #[cold]
    fn constant_offset(&self, day: i64) -> Option<i32> {
        let start = day.checked_mul(NS_PER_DAY)?;
        let a = self.slow_offset(start)?;
        let b = self.slow_offset(start.checked_add(NS_PER_DAY)?)?;
        // also the offset at noon: two transitions within a day are not a thing, but be sure
        let c = self.slow_offset(start + NS_PER_DAY / 2)?;
        (a == b && b == c).then_some(a)
    }

    fn slow_offset(&self, wall: i64) -> Option<i32> {
        let utc = self.slow(wall)?;
        Some(((wall - utc) / NS_PER_S) as i32)
    }

    #[cold]
    fn slow(&self, wall: i64) -> Option<i64> {
        let Zone::Named(tz) = &self.zone else {
            return None;
        };
        let secs = wall.div_euclid(NS_PER_S);
        let sub = wall.rem_euclid(NS_PER_S);
        let dt: DateTime = jiff::Timestamp::from_second(secs)
            .ok()?
            .to_zoned(TimeZone::UTC)
            .datetime();
        let ts = tz.to_timestamp(dt).ok()?;
        ts.as_second().checked_mul(NS_PER_S)?.checked_add(sub)
    }

    /// UTC ns of a parsed datetime: its own offset when it has one, else this zone's.
    #[inline]
    pub fn civil_to_utc(&mut self, c: &Civil) -> Option<i64> {
        match c.offset_s {
            Some(o) => c.wall_ns()?.checked_sub(o as i64 * NS_PER_S),
            None => self.to_utc(c.days, c.nanos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2013, 10, 8), 15_986);
    }

    #[test]
    fn datetimes() {
        let c = parse_datetime(b"2013-01-01 22:00:00.295000+00:00").unwrap();
        assert_eq!(c.offset_s, Some(0));
        assert_eq!(
            ZoneConverter::new(Zone::Utc).civil_to_utc(&c),
            Some(1_357_077_600_295_000_000)
        );
        let raw = parse_datetime(b"20130101 22:00:00.295").unwrap();
        assert_eq!((raw.wall_ns(), raw.offset_s), (c.wall_ns(), None));
        let z = parse_datetime(b"2024-08-09T00:00:00.001658384Z").unwrap();
        assert_eq!(z.wall_ns(), Some(1_723_161_600_001_658_384));
        let far = parse_datetime(b"9999-12-31T23:59:59+01:00").unwrap();
        assert_eq!(far.wall_ns(), None);
        assert_eq!(ZoneConverter::new(Zone::Utc).civil_to_utc(&far), None);
        let o = parse_datetime(b"2024-01-01T05:30-05:00").unwrap();
        assert_eq!(o.offset_s, Some(-5 * 3600));
        assert_eq!(parse_datetime(b"2024-01-01").unwrap().nanos, 0);
        for bad in [
            &b"2024-13-01"[..],
            b"2024-02-30",
            b"2024-01-01X",
            b"2024-01-01T25:00",
            b"2024-01-01T10:00:00.",
            b"2024-01-01T10:00:00.1234567890",
            b"2024-01-01T10:00+5",
            b"2024-01-01T10:00Zx",
            b"",
        ] {
            assert_eq!(
                parse_datetime(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn zones_and_dst() {
        let ny = Zone::parse("America/New_York").unwrap();
        let mut c = ZoneConverter::new(ny);
        // 2013-10-08 04:00:00.464 EDT = 08:00:00.464 UTC
        let d = days_from_civil(2013, 10, 8);
        assert_eq!(
            c.to_utc(d, 14_400_464 * 1_000_000),
            Some((d * 86_400 + 8 * 3600) * NS_PER_S + 464_000_000)
        );
        // winter: UTC-5
        let w = days_from_civil(2014, 1, 6);
        assert_eq!(c.to_utc(w, 0), Some((w * 86_400 + 5 * 3600) * NS_PER_S));
        // the spring-forward day: 01:59 is EST, 03:00 is EDT, 02:30 does not exist (moves forward)
        let s = days_from_civil(2024, 3, 10);
        let h = 3600 * NS_PER_S;
        assert_eq!(c.to_utc(s, h), Some(s * NS_PER_DAY + 6 * h));
        assert_eq!(c.to_utc(s, 3 * h), Some(s * NS_PER_DAY + 7 * h));
        assert_eq!(
            c.to_utc(s, 2 * h + h / 2),
            Some(s * NS_PER_DAY + 7 * h + h / 2)
        );
        // extreme walls give None or a value, never a panic
        for w in [i64::MIN, i64::MIN / 2, i64::MAX / 2, i64::MAX] {
            let _ = c.to_utc(0, w);
        }
        let fx = Zone::parse("-05:00").unwrap();
        assert_eq!(fx, Zone::Fixed(-18_000));
        assert_eq!(ZoneConverter::new(fx).to_utc(0, 0), Some(5 * h));
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert_eq!(Zone::parse("utc").unwrap(), Zone::Utc);
    }

    #[test]
    fn units() {
        assert_eq!(TimeUnit::Seconds.parse_ns(b"1.5"), Some(1_500_000_000));
        assert_eq!(
            TimeUnit::Millis.parse_ns(b"14400464"),
            Some(14_400_464_000_000)
        );
        assert_eq!(
            TimeUnit::Micros.parse_ns(b"1582329602111000"),
            Some(1_582_329_602_111_000_000)
        );
        assert_eq!(
            TimeUnit::Nanos.parse_ns(b"1723161600001658384"),
            Some(1_723_161_600_001_658_384)
        );
        assert_eq!(TimeUnit::Nanos.parse_ns(b"1.5"), None);
        assert_eq!(TimeUnit::Seconds.parse_ns(b"99999999999999999999"), None);
        assert_eq!(TimeUnit::Millis.parse_ns(b"-1"), Some(-1_000_000));
        assert_eq!("µs".parse::<TimeUnit>(), Ok(TimeUnit::Micros));
    }
}
