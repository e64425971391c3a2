//! A tickd daemon started for a scenario, and what it reports: its state file
//! (bound ports), `GET /stats.json` (counters, per-stage latency summary) and
//! `GET /metrics` (Prometheus histogram buckets, for the percentile plot).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

/// The tickd binary: `TICKD_BIN`, else `tickd` next to this executable
/// (same target directory and profile), else `target/release/tickd`.
pub fn tickd_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TICKD_BIN") {
        return Some(PathBuf::from(p));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("tickd")));
    let fallback = crate::scenario::repo_root().join("target/release/tickd");
    [beside, Some(fallback)]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
}

/// A running daemon; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    child: Child,
    /// Its data directory (a temporary directory unless given).
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// UDP binary listener.
    pub udp: Option<SocketAddr>,
    /// TCP binary listener.
    pub tcp: Option<SocketAddr>,
    /// ILP over TCP listener.
    pub ilp: Option<SocketAddr>,
    /// Metrics endpoint.
    pub metrics: Option<SocketAddr>,
}

fn addr(v: &Value, key: &str) -> Option<SocketAddr> {
    v.get("endpoints")?.get(key)?.as_str()?.parse().ok()
}

impl Daemon {
    /// Starts `bin` on free loopback ports with its files in a fresh
    /// temporary directory (or `data_dir`), plus `overrides` (`key=value`,
    /// as `tickd --set`). Waits up to 10 s for its state file.
    pub fn start(
        bin: &Path,
        data_dir: Option<&Path>,
        overrides: &[String],
    ) -> anyhow::Result<Daemon> {
        Self::start_within(bin, data_dir, overrides, Duration::from_secs(10))
    }

    /// [`Daemon::start`], waiting up to `timeout` for the state file (which
    /// the daemon writes after its start-up recovery).
    pub fn start_within(
        bin: &Path,
        data_dir: Option<&Path>,
        overrides: &[String],
        timeout: Duration,
    ) -> anyhow::Result<Daemon> {
        let (tmp, dir) = match data_dir {
            Some(d) => (None, d.to_path_buf()),
            None => {
                let t = tempfile::tempdir()?;
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        std::fs::create_dir_all(&dir)?;
        let q = |p: PathBuf| format!("\"{}\"", p.to_string_lossy());
        let mut args: Vec<String> = vec![
            format!("daemon.data_dir={}", q(dir.clone())),
            "ingest.udp_binary=\"127.0.0.1:0\"".into(),
            "ingest.tcp_binary=\"127.0.0.1:0\"".into(),
            "ingest.ilp_tcp=\"127.0.0.1:0\"".into(),
            "metrics.listen=\"127.0.0.1:0\"".into(),
            format!("ring.path={}", q(dir.join("tickd.ring"))),
            format!("ring.snapshot_path={}", q(dir.join("tickd.snap"))),
            "daemon.log_level=\"warn\"".into(),
        ];
        args.extend(overrides.iter().cloned());
        let mut cmd = Command::new(bin);
        for a in &args {
            cmd.arg("--set").arg(a);
        }
        let log = std::fs::File::create(dir.join("tickd.bench.log"))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut d = Daemon {
            child,
            data_dir: dir.clone(),
            _tmp: tmp,
            udp: None,
            tcp: None,
            ilp: None,
            metrics: None,
        };
        let state = dir.join("tickd.state.json");
        let t0 = Instant::now();
        loop {
            if let Some(status) = d.child.try_wait()? {
                let log = std::fs::read_to_string(dir.join("tickd.bench.log")).unwrap_or_default();
                bail!("tickd exited at start ({status}): {}", log.trim());
            }
            if let Ok(text) = std::fs::read_to_string(&state)
                && let Ok(v) = serde_json::from_str::<Value>(&text)
            {
                d.udp = addr(&v, "udp_binary");
                d.tcp = addr(&v, "tcp_binary");
                d.ilp = addr(&v, "ilp_tcp");
                d.metrics = addr(&v, "metrics");
                return Ok(d);
            }
            if t0.elapsed() > timeout {
                bail!("tickd wrote no state file in {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET /stats.json`.
    pub fn stats(&self) -> anyhow::Result<Stats> {
        let m = self.metrics.ok_or_else(|| anyhow!("no metrics endpoint"))?;
        let body = http_get(m, "/stats.json")?;
        Ok(Stats(serde_json::from_str(&body).context("stats.json")?))
    }

    /// `GET /metrics` (Prometheus text).
    pub fn prometheus(&self) -> anyhow::Result<String> {
        let m = self.metrics.ok_or_else(|| anyhow!("no metrics endpoint"))?;
        http_get(m, "/metrics")
    }

    /// Polls the stats until `done` holds (`true`), or the daemon has been
    /// idle — `received`, `processed` and `ticks_stored` unchanged — for
    /// `idle` (`false`: what was not done by then never will be, e.g. lost
    /// datagrams), or `timeout` passes (`false`). Returns the last stats.
    pub fn wait_until(
        &self,
        timeout: Duration,
        idle: Duration,
        done: impl Fn(&Stats) -> bool,
    ) -> anyhow::Result<(Stats, bool)> {
        let t0 = Instant::now();
        let mut last = (u64::MAX, 0, 0);
        let mut since = Instant::now();
        loop {
            let s = self.stats()?;
            if done(&s) {
                return Ok((s, true));
            }
            let now = (
                s.counter("received"),
                s.counter("processed"),
                s.counter("ticks_stored"),
            );
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= idle {
                return Ok((s, false));
            }
            if t0.elapsed() > timeout {
                return Ok((s, false));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, wait up to 10 s, then SIGKILL.
    pub fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SAFETY: kill(2) with a pid this process spawned and still owns (not reaped yet).
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `GET /stats.json` as parsed JSON, with accessors.
#[derive(Clone, Debug)]
pub struct Stats(pub Value);

impl Stats {
    /// A counter by name (`received`, `processed`, `ticks_stored`, …), 0 if absent.
    pub fn counter(&self, name: &str) -> u64 {
        pairs(&self.0, "counters")
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_u64())
            .unwrap_or(0)
    }

    /// Rejections by reason, non-zero only.
    pub fn rejected(&self) -> Vec<(String, u64)> {
        pairs(&self.0, "rejected")
            .filter_map(|(n, v)| Some((n.to_string(), v.as_u64()?)))
            .filter(|(_, v)| *v > 0)
            .collect()
    }

    /// A stage's latency summary field (`p50`, `p99`, `p999`, `max`, `count`), ns.
    pub fn latency(&self, stage: &str, field: &str) -> u64 {
        pairs(&self.0, "latency")
            .find(|(n, _)| *n == stage)
            .and_then(|(_, v)| v.get(field)?.as_u64())
            .unwrap_or(0)
    }
}

fn pairs<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = (&'a str, &'a Value)> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let a = p.as_array()?;
            Some((a.first()?.as_str()?, a.get(1)?))
        })
}

/// The cumulative buckets of `tickd_latency_seconds_bucket{stage="…"}`:
/// `(upper bound in ns, count)`, `+Inf` last as `u64::MAX`.
pub fn prometheus_buckets(text: &str, stage: &str) -> Vec<(u64, u64)> {
    let pre = format!("tickd_latency_seconds_bucket{{stage=\"{stage}\",le=\"");
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&pre)?;
            let (le, rest) = rest.split_once("\"}")?;
            let n: u64 = rest.trim().parse().ok()?;
            let ns = if le == "+Inf" {
                u64::MAX
            } else {
                (le.parse::<f64>().ok()? * 1e9).round() as u64
            };
            Some((ns, n))
        })
        .collect()
}

/// A minimal HTTP/1.0 GET on loopback (the daemon's endpoint speaks it).
pub fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = Vec::new();
    s.take(64 << 20).read_to_end(&mut body)?;
    let text = String::from_utf8_lossy(&body);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("bad HTTP response from {addr}{path}"))?;
    if !head.starts_with("HTTP/1.") || head.split(' ').nth(1).is_none_or(|c| c != "200") {
        bail!("{addr}{path}: {}", head.lines().next().unwrap_or(""));
    }
    Ok(rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_buckets_and_stats() {
        let t = "# HELP x\n\
                 tickd_latency_seconds_bucket{stage=\"end_to_end\",le=\"0.000001\"} 5\n\
                 tickd_latency_seconds_bucket{stage=\"end_to_end\",le=\"+Inf\"} 9\n\
                 tickd_latency_seconds_bucket{stage=\"aggregate\",le=\"0.000001\"} 1\n";
        assert_eq!(
            prometheus_buckets(t, "end_to_end"),
            vec![(1_000, 5), (u64::MAX, 9)]
        );
        let s = Stats(serde_json::json!({
            "counters": [["received", 10], ["processed", 9]],
            "rejected": [["time_range", 0], ["price", 2]],
            "latency": [["end_to_end", {"count": 9, "p50": 700, "p99": 4000, "p999": 9000, "max": 50000}]],
        }));
        assert_eq!((s.counter("received"), s.counter("nope")), (10, 0));
        assert_eq!(s.rejected(), vec![("price".to_string(), 2)]);
        assert_eq!(s.latency("end_to_end", "p99"), 4000);
    }
}
