//! What the machine did during a run: CPU per core (`/proc/stat`), a
//! process's resident memory (`/proc/PID/status`), and the machine's
//! description for the results (`lscpu`, kernel, memory).

use std::fs;
use std::process::Command;

use serde::Serialize;

/// Jiffies of one CPU line of `/proc/stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// user + nice.
    pub user: u64,
    /// system + irq + softirq.
    pub system: u64,
    /// idle + iowait.
    pub idle: u64,
    /// steal (time the hypervisor gave to someone else).
    pub steal: u64,
}

impl CpuTimes {
    fn total(&self) -> u64 {
        self.user + self.system + self.idle + self.steal
    }
}

/// Parses the `cpuN` lines of a `/proc/stat` text (the aggregate `cpu` line is skipped).
pub fn parse_proc_stat(text: &str) -> Vec<CpuTimes> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            continue;
        };
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let v: Vec<u64> = rest
            .split_ascii_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let g = |i: usize| v.get(i).copied().unwrap_or(0);
        out.push(CpuTimes {
            user: g(0) + g(1),
            system: g(2) + g(5) + g(6),
            idle: g(3) + g(4),
            steal: g(7),
        });
    }
    out
}

/// A `/proc/stat` reading (empty where `/proc` is not available).
pub fn cpu_sample() -> Vec<CpuTimes> {
    fs::read_to_string("/proc/stat")
        .map(|t| parse_proc_stat(&t))
        .unwrap_or_default()
}

/// Busy share of one core between two samples, in percent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CoreUse {
    /// Core number.
    pub core: usize,
    /// user + nice, %.
    pub user: f64,
    /// system + irq + softirq, %.
    pub system: f64,
    /// steal, %.
    pub steal: f64,
}

/// Per-core use between two [`cpu_sample`]s.
pub fn cpu_use(before: &[CpuTimes], after: &[CpuTimes]) -> Vec<CoreUse> {
    before
        .iter()
        .zip(after)
        .enumerate()
        .map(|(core, (b, a))| {
            let dt = a.total().saturating_sub(b.total()).max(1) as f64;
            let pct = |x: u64, y: u64| 100.0 * x.saturating_sub(y) as f64 / dt;
            CoreUse {
                core,
                user: pct(a.user, b.user),
                system: pct(a.system, b.system),
                steal: pct(a.steal, b.steal),
            }
        })
        .collect()
}

/// `cpu0 97% (usr 60, sys 37, steal 0) · cpu1 …` for a result block.
pub fn cpu_line(u: &[CoreUse]) -> String {
    u.iter()
        .map(|c| {
            format!(
                "cpu{} {:.0}% (usr {:.0}, sys {:.0}, steal {:.0})",
                c.core,
                c.user + c.system,
                c.user,
                c.system,
                c.steal
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Resident set size of process `pid` in bytes (`VmRSS`), `None` if unknown.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_kib(&s, "VmRSS:").map(|k| k * 1024)
}

/// Peak resident set size of process `pid` in bytes (`VmHWM`).
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_kib(&s, "VmHWM:").map(|k| k * 1024)
}

fn status_kib(s: &str, key: &str) -> Option<u64> {
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_ascii_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The kernel's UDP counters (`/proc/net/snmp`, this network namespace):
/// `(InErrors, RcvbufErrors)`. A datagram dropped because a socket's receive
/// buffer was full counts in both; the delta over a run attributes drops the
/// receiver itself cannot see.
pub fn udp_errors() -> Option<(u64, u64)> {
    parse_snmp_udp(&fs::read_to_string("/proc/net/snmp").ok()?)
}

/// [`udp_errors`] from the text of `/proc/net/snmp`.
pub fn parse_snmp_udp(text: &str) -> Option<(u64, u64)> {
    let mut lines = text.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = lines.next()?.split_ascii_whitespace().collect();
    let vals: Vec<&str> = lines.next()?.split_ascii_whitespace().collect();
    let get = |k: &str| -> Option<u64> {
        let i = names.iter().position(|n| *n == k)?;
        vals.get(i)?.parse().ok()
    };
    Some((get("InErrors")?, get("RcvbufErrors")?))
}

fn run(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The machine, for a result block: CPU model, cores, caches, kernel, memory.
pub fn machine_description() -> String {
    let lscpu = run("lscpu", &[]);
    let keep = [
        "Architecture:",
        "Model name:",
        "CPU(s):",
        "Thread(s) per core:",
        "CPU max MHz:",
        "Hypervisor vendor:",
        "L1d cache:",
        "L2 cache:",
        "L3 cache:",
        "Flags:",
    ];
    let mut lines: Vec<String> = lscpu
        .lines()
        .filter(|l| keep.iter().any(|k| l.trim_start().starts_with(k)))
        .map(|l| {
            let l = l.split_whitespace().collect::<Vec<_>>().join(" ");
            if l.starts_with("Flags:") {
                // Only the flags a tick pipeline's speed depends on.
                let f: Vec<&str> = l
                    .split(' ')
                    .filter(|f| {
                        matches!(
                            *f,
                            "avx2" | "avx512f" | "avx512bw" | "bmi2" | "constant_tsc" | "invtsc"
                        )
                    })
                    .collect();
                format!("Flags (relevant): {}", f.join(" "))
            } else {
                l
            }
        })
        .collect();
    lines.push(format!("Kernel: {}", run("uname", &["-srm"])));
    if let Ok(m) = fs::read_to_string("/proc/meminfo")
        && let Some(k) = status_kib(&m, "MemTotal:")
    {
        lines.push(format!("Memory: {:.1} GiB", k as f64 / 1024.0 / 1024.0));
    }
    lines.push(format!("rustc: {}", run("rustc", &["--version"])));
    lines.join("\n")
}

/// The commit the tree is at (`git describe --always --dirty`), or `unknown`.
pub fn commit() -> String {
    let c = run("git", &["describe", "--always", "--dirty", "--abbrev=12"]);
    if c.is_empty() { "unknown".into() } else { c }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_and_computes_use() {
        let a = "cpu  10 0 10 80 0 0 0 0 0 0\n\
                 cpu0 5 0 5 40 0 0 0 0 0 0\n\
                 cpu1 5 0 5 40 0 0 0 0 0 0\nintr 1 2 3\n";
        let b = "cpu  0 0 0 0 0 0 0 0 0 0\n\
                 cpu0 55 0 25 40 0 0 0 0 0 0\n\
                 cpu1 5 0 5 140 0 0 0 0 0 0\n";
        let (pa, pb) = (parse_proc_stat(a), parse_proc_stat(b));
        assert_eq!(pa.len(), 2);
        let u = cpu_use(&pa, &pb);
        assert_eq!(u[0].user, 50.0 / 70.0 * 100.0);
        assert_eq!(u[1].user, 0.0);
        assert!(cpu_line(&u).starts_with("cpu0 100%"));
    }

    #[test]
    fn parses_snmp_udp() {
        let t = "Ip: Forwarding\nIp: 1\n\
                 Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
                 Udp: 100 0 7 90 5 0\n";
        assert_eq!(parse_snmp_udp(t), Some((7, 5)));
        assert_eq!(parse_snmp_udp("Udp: x\n"), None);
    }

    #[test]
    fn garbage_does_not_panic() {
        assert!(parse_proc_stat("cpuX\ncpu9 a b c\n").len() == 1);
        assert_eq!(status_kib("VmRSS: x kB", "VmRSS:"), None);
        assert!(rss_bytes(std::process::id()).unwrap_or(1) > 0);
    }
}
