//! The periodic report: throughput and latency per stage over the last
//! interval, flagged when p99 end to end exceeds the alert threshold or when
//! fewer ticks/s than the minimum are processed while more are offered.
//!
//! Built from two [`Snapshot`]s by a cold thread and logged through tracing
//! (`INFO`, or `WARN` with the flags).

use std::fmt;
use std::time::Duration;

use crate::config::ReportConfig;
use crate::metrics::LatencySummary;
use crate::stats::{Counter, Snapshot, Stage};
use crate::units::{human_ns, human_rate};

/// Why a report is flagged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Flag {
    /// p99 receive → published above the threshold (both in ns).
    SlowP99 {
        /// Measured p99, ns.
        p99_ns: u64,
        /// Threshold, ns.
        limit_ns: u64,
    },
    /// Processed below the minimum rate while more was offered (ticks/s).
    Behind {
        /// Processed ticks/s.
        processed: f64,
        /// Offered (received) ticks/s.
        offered: f64,
        /// The minimum.
        min_rate: u64,
    },
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Flag::SlowP99 { p99_ns, limit_ns } => write!(
                f,
                "p99 end-to-end {} exceeds {}",
                human_ns(p99_ns),
                human_ns(limit_ns)
            ),
            Flag::Behind {
                processed,
                offered,
                min_rate,
            } => write!(
                f,
                "processing {}/s while {}/s are offered (below the {}/s minimum)",
                human_rate(processed),
                human_rate(offered),
                human_rate(min_rate as f64)
            ),
        }
    }
}

/// One interval's numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Interval length.
    pub interval: Duration,
    /// Ticks offered to the engine (received, valid or not), per second.
    pub offered_per_s: f64,
    /// Ticks aggregated per second.
    pub processed_per_s: f64,
    /// Rejected by validation in the interval.
    pub rejected: u64,
    /// Dropped at a full queue in the interval.
    pub dropped: u64,
    /// Bars emitted in the interval.
    pub bars: u64,
    /// Latency per stage over the interval.
    pub stages: Vec<(Stage, LatencySummary)>,
    /// What is wrong, if anything.
    pub flags: Vec<Flag>,
}

impl Report {
    /// The report for the interval between two snapshots.
    pub fn between(
        prev: &Snapshot,
        cur: &Snapshot,
        interval: Duration,
        cfg: &ReportConfig,
    ) -> Report {
        let secs = interval.as_secs_f64().max(1e-9);
        let d = |c: Counter| cur.counter(c).saturating_sub(prev.counter(c));
        let offered = d(Counter::Received) as f64 / secs;
        let processed = d(Counter::Processed) as f64 / secs;
        let stages: Vec<(Stage, LatencySummary)> = Stage::ALL
            .iter()
            .map(|&s| (s, LatencySummary::of(&cur.latency_since(prev, s))))
            .collect();
        let mut flags = Vec::new();
        let e2e = &stages[Stage::EndToEnd as usize].1;
        let limit_ns = u64::try_from(cfg.p99_alert.as_nanos()).unwrap_or(u64::MAX);
        if e2e.count > 0 && e2e.p99 > limit_ns {
            flags.push(Flag::SlowP99 {
                p99_ns: e2e.p99,
                limit_ns,
            });
        }
        if processed < cfg.min_rate as f64 && offered > processed * 1.01 + 1.0 {
            flags.push(Flag::Behind {
                processed,
                offered,
                min_rate: cfg.min_rate,
            });
        }
        Report {
            interval,
            offered_per_s: offered,
            processed_per_s: processed,
            rejected: cur.rejected_total().saturating_sub(prev.rejected_total()),
            dropped: d(Counter::QueueFull),
            bars: d(Counter::BarsEmitted),
            stages,
            flags,
        }
    }

    /// Log it: `INFO`, or `WARN` when flagged.
    pub fn log(&self) {
        if self.flags.is_empty() {
            tracing::info!(target: "tickd::report", "{self}");
        } else {
            tracing::warn!(target: "tickd::report", "{self}");
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ticks/s processed, {} offered, {} rejected, {} dropped, {} bars",
            human_rate(self.processed_per_s),
            human_rate(self.offered_per_s),
            self.rejected,
            self.dropped,
            self.bars
        )?;
        for (stage, l) in &self.stages {
            if l.count == 0 {
                continue;
            }
            write!(
                f,
                "; {} p50 {} p99 {} p99.9 {} max {}",
                stage.as_str(),
                human_ns(l.p50),
                human_ns(l.p99),
                human_ns(l.p999),
                human_ns(l.max)
            )?;
        }
        for flag in &self.flags {
            write!(f, "; FLAG: {flag}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Stats;

    fn cfg() -> ReportConfig {
        ReportConfig {
            interval: Some(Duration::from_secs(10)),
            p99_alert: Duration::from_micros(100),
            min_rate: 1_000_000,
        }
    }

    #[test]
    fn quiet_interval_is_not_flagged() {
        let stats = Stats::new();
        let mut t = stats.register("w");
        let a = stats.snapshot();
        t.bump(Counter::Received, 1000);
        t.bump(Counter::Processed, 1000);
        for _ in 0..1000 {
            t.record(Stage::EndToEnd, 5_000);
        }
        t.publish_now();
        let b = stats.snapshot();
        let r = Report::between(&a, &b, Duration::from_secs(1), &cfg());
        assert!(r.flags.is_empty(), "{r}");
        assert_eq!(r.processed_per_s, 1000.0);
        let text = r.to_string();
        assert!(
            text.starts_with("1.0k ticks/s processed, 1.0k offered"),
            "{text}"
        );
        assert!(text.contains("end_to_end p50 5.0us"), "{text}");
    }

    #[test]
    fn slow_and_behind_are_flagged() {
        let stats = Stats::new();
        let mut t = stats.register("w");
        let a = stats.snapshot();
        t.bump(Counter::Received, 2_000_000);
        t.bump(Counter::Processed, 500_000);
        for _ in 0..100 {
            t.record(Stage::EndToEnd, 500_000);
        }
        t.publish_now();
        let b = stats.snapshot();
        let r = Report::between(&a, &b, Duration::from_secs(1), &cfg());
        assert_eq!(r.flags.len(), 2, "{r}");
        let text = r.to_string();
        assert!(text.contains("FLAG: p99 end-to-end 500."), "{text}");
        assert!(
            text.contains("FLAG: processing 500.0k/s while 2.00M/s are offered"),
            "{text}"
        );
    }
}
