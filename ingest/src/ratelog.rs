//! [`LogLimiter`]: at most `burst` log lines per window, and a count of what was held back.
//!
//! The hot path asks [`LogLimiter::allow`] (two compares and an add); only
//! when it answers `Some` does the caller format and emit a line, passing on
//! the number of lines suppressed since the last one that went out.

/// A per-thread rate limit for one kind of log line.
#[derive(Clone, Debug)]
pub struct LogLimiter {
    window_ns: i64,
    burst: u32,
    window_start: i64,
    used: u32,
    suppressed: u64,
}

impl LogLimiter {
    /// At most `burst` lines per `window_ns`.
    pub const fn new(burst: u32, window_ns: i64) -> LogLimiter {
        LogLimiter {
            window_ns,
            burst,
            window_start: i64::MIN,
            used: 0,
            suppressed: 0,
        }
    }

    /// Ten lines per second: the default for malformed-input warnings.
    pub const fn per_second(burst: u32) -> LogLimiter {
        LogLimiter::new(burst, 1_000_000_000)
    }

    /// `Some(suppressed)` when a line may be logged now; `suppressed` is how
    /// many were held back since the last line that went out. `None`: hold it back.
    #[inline]
    pub fn allow(&mut self, now_ns: i64) -> Option<u64> {
        if now_ns.saturating_sub(self.window_start) >= self.window_ns || now_ns < self.window_start
        {
            self.window_start = now_ns;
            self.used = 0;
        }
        if self.used < self.burst {
            self.used += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }

    /// Lines held back and not yet reported.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

impl Default for LogLimiter {
    fn default() -> LogLimiter {
        LogLimiter::per_second(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_holds_back_then_reports() {
        let mut l = LogLimiter::new(2, 100);
        assert_eq!(l.allow(0), Some(0));
        assert_eq!(l.allow(1), Some(0));
        assert_eq!(l.allow(2), None);
        assert_eq!(l.allow(99), None);
        assert_eq!(l.suppressed(), 2);
        assert_eq!(l.allow(100), Some(2));
        assert_eq!(l.allow(101), Some(0));
        assert_eq!(l.allow(102), None);
        // a clock that steps back opens a new window instead of stalling
        assert_eq!(l.allow(-5), Some(1));
        let _ = LogLimiter::default().allow(i64::MIN);
        let _ = LogLimiter::default().allow(i64::MAX);
    }
}
