//! `tickctl stats`: the daemon's counters and latencies from `/stats.json`.

use std::path::Path;
use std::time::Duration;

use super::{CtlError, StatsArgs};
use crate::metrics::{StatsReport, http_get};
use crate::units::human_ns;

/// Fetch the daemon's stats.
pub fn fetch(
    data_dir: &Path,
    metrics: Option<std::net::SocketAddr>,
) -> Result<StatsReport, CtlError> {
    let addr = match metrics {
        Some(a) => a,
        None => super::daemon_state(data_dir)?
            .endpoints
            .metrics
            .ok_or_else(|| {
                CtlError::NoDaemon("the daemon has no metrics endpoint (metrics.listen)".into())
            })?,
    };
    let body = http_get(addr, "/stats.json", Duration::from_secs(3)).map_err(|e| {
        CtlError::NoDaemon(format!("cannot reach the metrics endpoint {addr}: {e}"))
    })?;
    serde_json::from_str(&body)
        .map_err(|e| CtlError::Failed(format!("bad answer from {addr}: {e}")))
}

/// Print them.
pub fn run(data_dir: &Path, a: &StatsArgs) -> Result<(), CtlError> {
    let r = fetch(data_dir, a.metrics)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| CtlError::Failed(e.to_string()))?
        );
        return Ok(());
    }
    print!("{}", render(&r));
    Ok(())
}

/// The human table.
pub fn render(r: &StatsReport) -> String {
    let mut s = format!("tickd pid {}, up {:.1} s\n\n", r.pid, r.uptime_s);
    let mut rows: Vec<Vec<String>> = r
        .counters
        .iter()
        .map(|(n, v)| vec![n.clone(), v.to_string()])
        .collect();
    for (reason, v) in &r.rejected {
        rows.push(vec![format!("rejected ({reason})"), v.to_string()]);
    }
    s.push_str(&table(&["counter", "total"], &rows));
    s.push('\n');
    let lat: Vec<Vec<String>> = r
        .latency
        .iter()
        .map(|(stage, l)| {
            vec![
                stage.clone(),
                l.count.to_string(),
                human_ns(l.p50),
                human_ns(l.p99),
                human_ns(l.p999),
                human_ns(l.max),
            ]
        })
        .collect();
    s.push_str(&table(
        &["stage", "samples", "p50", "p99", "p99.9", "max"],
        &lat,
    ));
    s
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<width$}", width = w[i])
                } else {
                    format!("{c:>width$}", width = w[i])
                }
            })
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}
