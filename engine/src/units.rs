//! Human units in the config and on the command line: durations (`250us`,
//! `100ms`, `10s`, `5m`, `1h`) and their display.

use std::time::Duration;

/// Parse a duration written as a whole number and a unit: `ns`, `us`, `ms`,
/// `s`, `m`, `h` (e.g. `250us`, `100ms`, `10s`, `5m`). `0` alone means zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!("{s:?} has no number"));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: number too large"))?;
    let nanos_per: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" => return Err(format!("{s:?} has no unit (ns, us, ms, s, m, h)")),
        _ => return Err(format!("{s:?} has an unknown unit (ns, us, ms, s, m, h)")),
    };
    let ns = n
        .checked_mul(nanos_per)
        .ok_or_else(|| format!("{s:?} is too long"))?;
    Ok(Duration::from_nanos(ns))
}

/// Write a duration in the largest unit that keeps it whole: `100ms`, `10s`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    for (unit, per) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if ns.is_multiple_of(per) {
            return format!("{}{unit}", ns / per);
        }
    }
    format!("{ns}ns")
}

/// A latency in ns written for people: `850ns`, `12.3us`, `4.56ms`, `1.20s`.
pub fn human_ns(ns: u64) -> String {
    let f = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}us", f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2}ms", f / 1e6)
    } else {
        format!("{:.2}s", f / 1e9)
    }
}

/// A rate written for people: `950`, `12.3k`, `4.56M`.
pub fn human_rate(per_s: f64) -> String {
    if per_s < 1e3 {
        format!("{per_s:.0}")
    } else if per_s < 1e6 {
        format!("{:.1}k", per_s / 1e3)
    } else {
        format!("{:.2}M", per_s / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for s in ["0s", "250us", "100ms", "10s", "5m", "2h", "7ns"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(format_duration(d), s);
        }
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_duration("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration("").unwrap_err().contains("no number"));
        assert!(parse_duration("ms").unwrap_err().contains("no number"));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("10d").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("-1s").unwrap_err().contains("no number"));
        assert!(parse_duration("99999999999999999999h").is_err());
        assert!(
            parse_duration("9999999999999h")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn human_units() {
        assert_eq!(human_ns(850), "850ns");
        assert_eq!(human_ns(12_345), "12.3us");
        assert_eq!(human_ns(4_560_000), "4.56ms");
        assert_eq!(human_rate(12_300.0), "12.3k");
        assert_eq!(human_rate(4_560_000.0), "4.56M");
    }
}
