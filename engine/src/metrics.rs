//! The Prometheus text endpoint and the JSON stats endpoint: a tiny HTTP/1.0
//! responder on a loopback `std::net::TcpListener`, in one cold thread.
//!
//! - `GET /metrics`: Prometheus text format 0.0.4. Counters end in `_total`;
//!   latencies are histograms in seconds (`tickd_latency_seconds{stage=...}`).
//! - `GET /stats.json`: the same numbers as JSON (what `tickctl stats` reads).
//!
//! One request per connection, read with a timeout and a size bound, so a
//! slow or hostile client cannot hold the thread for long or make it allocate
//! without bound.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ingest::Reject;
use serde::{Deserialize, Serialize};

use crate::stats::{Counter, Snapshot, Stage, Stats};

/// Histogram bucket bounds in seconds.
pub const BUCKETS_S: [f64; 16] = [
    1e-6, 2e-6, 5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 100e-3,
    1.0, 10.0,
];

/// Render a snapshot as Prometheus text.
pub fn render_prometheus(s: &Snapshot, uptime: Duration) -> String {
    let mut out = String::with_capacity(8192);
    for c in Counter::ALL {
        let name = c.as_str();
        let _ = writeln!(out, "# HELP tickd_{name}_total {}", c.help());
        let _ = writeln!(out, "# TYPE tickd_{name}_total counter");
        let _ = writeln!(out, "tickd_{name}_total {}", s.counter(c));
    }
    out.push_str("# HELP tickd_rejected_total Ticks refused by validation, by reason.\n");
    out.push_str("# TYPE tickd_rejected_total counter\n");
    for r in Reject::ALL {
        let _ = writeln!(
            out,
            "tickd_rejected_total{{reason=\"{}\"}} {}",
            r.as_str(),
            s.rejected(r)
        );
    }
    out.push_str(
        "# HELP tickd_latency_seconds Latency per pipeline stage (from the tick's receive time).\n",
    );
    out.push_str("# TYPE tickd_latency_seconds histogram\n");
    for st in Stage::ALL {
        let h = s.latency(st);
        let stage = st.as_str();
        for le in BUCKETS_S {
            let le_ns = (le * 1e9) as u64;
            let n = count_le(h, le_ns);
            let _ = writeln!(
                out,
                "tickd_latency_seconds_bucket{{stage=\"{stage}\",le=\"{le}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "tickd_latency_seconds_bucket{{stage=\"{stage}\",le=\"+Inf\"}} {}",
            h.len()
        );
        let sum_s = h.mean() * h.len() as f64 / 1e9;
        let _ = writeln!(
            out,
            "tickd_latency_seconds_sum{{stage=\"{stage}\"}} {sum_s}"
        );
        let _ = writeln!(
            out,
            "tickd_latency_seconds_count{{stage=\"{stage}\"}} {}",
            h.len()
        );
    }
    out.push_str("# HELP tickd_uptime_seconds Seconds since the daemon started.\n");
    out.push_str("# TYPE tickd_uptime_seconds gauge\n");
    let _ = writeln!(out, "tickd_uptime_seconds {}", uptime.as_secs_f64());
    out
}

fn count_le(h: &Histogram<u64>, le_ns: u64) -> u64 {
    if h.is_empty() {
        return 0;
    }
    h.count_between(0, le_ns)
}

/// Latency summary of one stage, in ns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

impl LatencySummary {
    /// From a histogram in ns.
    pub fn of(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// What `GET /stats.json` returns and `tickctl stats` prints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsReport {
    /// Seconds since start.
    pub uptime_s: f64,
    /// Daemon pid.
    pub pid: u32,
    /// Every counter by name (without `tickd_` and `_total`).
    pub counters: Vec<(String, u64)>,
    /// Rejections by reason.
    pub rejected: Vec<(String, u64)>,
    /// Cumulative latency per stage, ns.
    pub latency: Vec<(String, LatencySummary)>,
}

impl StatsReport {
    /// From a snapshot.
    pub fn of(s: &Snapshot, uptime: Duration) -> StatsReport {
        StatsReport {
            uptime_s: uptime.as_secs_f64(),
            pid: std::process::id(),
            counters: Counter::ALL
                .iter()
                .map(|&c| (c.as_str().to_string(), s.counter(c)))
                .collect(),
            rejected: Reject::ALL
                .iter()
                .map(|&r| (r.as_str().to_string(), s.rejected(r)))
                .collect(),
            latency: Stage::ALL
                .iter()
                .map(|&st| (st.as_str().to_string(), LatencySummary::of(s.latency(st))))
                .collect(),
        }
    }

    /// A counter by name, 0 when absent.
    pub fn counter(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }
}

/// A running metrics endpoint; stops when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Bind `addr` (port 0: any free port) and serve `stats` from a new thread.
    pub fn start(addr: SocketAddr, stats: Stats, started: Instant) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("tickd-metrics".into())
            .spawn(move || serve(listener, stats, started, stop2))?;
        Ok(MetricsServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        // Release: pairs with the Acquire load in `serve`.
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: TcpListener, stats: Stats, started: Instant, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((conn, _)) => {
                let _ = handle(conn, &stats, started);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn handle(mut conn: TcpStream, stats: &Stats, started: Instant) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = [0u8; 4096];
    let mut len = 0;
    while len < buf.len() {
        let n = conn.read(&mut buf[len..])?;
        if n == 0 {
            break;
        }
        len += n;
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") || buf[..len].ends_with(b"\n\n") {
            break;
        }
    }
    let req = std::str::from_utf8(&buf[..len]).unwrap_or("");
    let mut parts = req.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render_prometheus(&stats.snapshot(), started.elapsed()),
        ),
        ("GET", "/stats.json") => (
            "200 OK",
            "application/json",
            serde_json::to_string(&StatsReport::of(&stats.snapshot(), started.elapsed()))
                .unwrap_or_else(|_| "{}".into()),
        ),
        ("GET", "/health") => ("200 OK", "text/plain", "ok\n".to_string()),
        ("GET", _) => ("404 Not Found", "text/plain", "try /metrics\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        ),
    };
    write!(
        conn,
        "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    conn.write_all(body.as_bytes())?;
    conn.flush()
}

/// Fetch a path from a metrics endpoint (used by `tickctl stats` and tests).
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<String> {
    let mut conn = TcpStream::connect_timeout(&addr, timeout)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut resp = Vec::new();
    conn.take(64 << 20).read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response")
    })?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        let status = head.lines().next().unwrap_or("").to_string();
        return Err(std::io::Error::other(format!("HTTP error: {status}")));
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_totals_and_histograms() {
        let stats = Stats::new();
        let mut t = stats.register("w");
        t.bump(Counter::Accepted, 42);
        t.reject(Reject::Size);
        for _ in 0..10 {
            t.record(Stage::EndToEnd, 3_000);
        }
        t.record(Stage::EndToEnd, 300_000);
        t.publish_now();
        let text = render_prometheus(&stats.snapshot(), Duration::from_secs(3));
        assert!(text.contains("tickd_accepted_total 42\n"));
        assert!(text.contains("tickd_rejected_total{reason=\"size\"} 1\n"));
        assert!(
            text.contains(
                "tickd_latency_seconds_bucket{stage=\"end_to_end\",le=\"0.000005\"} 10\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("tickd_latency_seconds_bucket{stage=\"end_to_end\",le=\"+Inf\"} 11\n")
        );
        assert!(text.contains("tickd_latency_seconds_count{stage=\"end_to_end\"} 11\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(name.starts_with("tickd_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn serves_metrics_and_json_on_loopback() {
        let stats = Stats::new();
        let mut t = stats.register("w");
        t.bump(Counter::BarsEmitted, 7);
        t.publish_now();
        let srv = MetricsServer::start(
            "127.0.0.1:0".parse().unwrap(),
            stats.clone(),
            Instant::now(),
        )
        .unwrap();
        let body = http_get(srv.addr(), "/metrics", Duration::from_secs(5)).unwrap();
        assert!(body.contains("tickd_bars_emitted_total 7"));
        let json = http_get(srv.addr(), "/stats.json", Duration::from_secs(5)).unwrap();
        let rep: StatsReport = serde_json::from_str(&json).unwrap();
        assert_eq!(rep.counter("bars_emitted"), 7);
        let err = http_get(srv.addr(), "/nope", Duration::from_secs(5)).unwrap_err();
        assert!(err.to_string().contains("404"));
        // Garbage does not kill the server.
        let mut c = TcpStream::connect(srv.addr()).unwrap();
        c.write_all(&[0xff; 5000]).unwrap();
        drop(c);
        assert!(http_get(srv.addr(), "/health", Duration::from_secs(5)).is_ok());
    }
}
