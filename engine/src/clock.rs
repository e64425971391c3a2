//! The wall clock in ns since the Unix epoch (the time base of `Tick::ts_recv`).
//!
//! `clock_gettime(CLOCK_REALTIME)` through the vDSO: about 20 ns, no syscall.
//! Hot threads read it once per batch, not per tick.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, ns since the Unix epoch (0 if the clock is before 1970).
#[inline]
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `later - earlier` in ns, 0 when negative (clock steps, foreign receive times).
#[inline]
pub fn elapsed_ns(earlier: i64, later: i64) -> u64 {
    later.saturating_sub(earlier).max(0) as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn sane() {
        let a = super::now_ns();
        assert!(a > 1_600_000_000_000_000_000);
        assert_eq!(super::elapsed_ns(10, 5), 0);
        assert_eq!(super::elapsed_ns(5, 10), 5);
    }
}
