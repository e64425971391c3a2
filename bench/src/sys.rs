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

/// A process's memory from `/proc/PID/status`, in bytes: total resident
/// (`VmRSS`) and its three parts — anonymous pages (`RssAnon`: heap, stacks,
/// private mappings; only swap can take them), file pages (`RssFile`: mapped
/// files and the binary; clean ones the kernel can drop and read back) and
/// shared memory (`RssShmem`: tmpfs such as `/dev/shm` and shared anonymous
/// mappings) — plus the peak (`VmHWM`) and the address space (`VmSize`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemStatus {
    /// `VmRSS` = `anon + file + shmem`.
    pub rss: u64,
    /// `RssAnon`.
    pub anon: u64,
    /// `RssFile`.
    pub file: u64,
    /// `RssShmem`.
    pub shmem: u64,
    /// `VmHWM`: the highest `VmRSS` so far.
    pub peak: u64,
    /// `VmSize`: mapped address space.
    pub vm_size: u64,
}

/// [`MemStatus`] of process `pid`, `None` if `/proc` has no such process.
pub fn mem_status(pid: u32) -> Option<MemStatus> {
    parse_mem_status(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// [`MemStatus`] from the text of `/proc/PID/status` (`None` without `VmRSS`).
pub fn parse_mem_status(s: &str) -> Option<MemStatus> {
    let b = |k: &str| status_kib(s, k).map(|v| v.saturating_mul(1024));
    Some(MemStatus {
        rss: b("VmRSS:")?,
        anon: b("RssAnon:").unwrap_or(0),
        file: b("RssFile:").unwrap_or(0),
        shmem: b("RssShmem:").unwrap_or(0),
        peak: b("VmHWM:").unwrap_or(0),
        vm_size: b("VmSize:").unwrap_or(0),
    })
}

/// One mapping of `/proc/PID/smaps`: its path (`""` for anonymous memory,
/// `[heap]`, `[stack]`, …), size and resident bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// The path column (may end in ` (deleted)`), empty when anonymous.
    pub path: String,
    /// `Size`, bytes.
    pub size: u64,
    /// `Rss`, bytes.
    pub rss: u64,
    /// `Anonymous`, bytes (private pages, including copy-on-write ones of files).
    pub anon: u64,
}

/// The mappings of process `pid` (empty when `/proc/PID/smaps` is unreadable).
pub fn smaps(pid: u32) -> Vec<Mapping> {
    fs::read_to_string(format!("/proc/{pid}/smaps"))
        .map(|t| parse_smaps(&t))
        .unwrap_or_default()
}

/// The mappings in the text of `/proc/PID/smaps`, in file order.
pub fn parse_smaps(text: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        let mut f = line.split_ascii_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some((a, b)) = first.split_once('-')
            && let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16))
        {
            // `start-end perms offset dev inode [path]`: the path is what is
            // left after the five fixed columns (it may hold spaces).
            let path = line
                .splitn(6, |c: char| c.is_ascii_whitespace())
                .nth(5)
                .unwrap_or("")
                .trim()
                .to_string();
            out.push(Mapping {
                path,
                size: b.saturating_sub(a),
                ..Mapping::default()
            });
            continue;
        }
        let Some(m) = out.last_mut() else { continue };
        let kib = f.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) * 1024;
        match first {
            "Rss:" => m.rss = kib,
            "Anonymous:" => m.anon = kib,
            _ => {}
        }
    }
    out
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
    fn parses_status_and_smaps() {
        let st = "Name:\ttickd\nVmSize:\t  2000 kB\nVmHWM:\t 1500 kB\nVmRSS:\t  1000 kB\n\
                  RssAnon:\t  600 kB\nRssFile:\t  300 kB\nRssShmem:\t 100 kB\n";
        let m = parse_mem_status(st).unwrap();
        assert_eq!(
            (m.rss, m.anon, m.file, m.shmem),
            (1_024_000, 614_400, 307_200, 102_400)
        );
        assert_eq!((m.peak, m.vm_size), (1_536_000, 2_048_000));
        assert_eq!(parse_mem_status("RssAnon: 1 kB\n"), None);
        let sm = "7f00000000-7f00100000 rw-s 00000000 00:1a 42 /dev/shm/a b.ring\n\
                  Size:               1024 kB\nRss:                 512 kB\nAnonymous:             0 kB\n\
                  7f00100000-7f00101000 rw-p 00000000 00:00 0 \n\
                  Rss:                   4 kB\nAnonymous:             4 kB\n\
                  VmFlags: rd wr mr mw me ac\n";
        let v = parse_smaps(sm);
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].path.as_str(), v[0].size, v[0].rss),
            ("/dev/shm/a b.ring", 1 << 20, 512 << 10)
        );
        assert_eq!((v[1].path.as_str(), v[1].size, v[1].anon), ("", 4096, 4096));
        assert!(parse_smaps("Rss: 5 kB\nzz-yy\n").is_empty());
    }

    #[test]
    fn garbage_does_not_panic() {
        assert!(parse_proc_stat("cpuX\ncpu9 a b c\n").len() == 1);
        assert_eq!(status_kib("VmRSS: x kB", "VmRSS:"), None);
        assert!(rss_bytes(std::process::id()).unwrap_or(1) > 0);
    }
}
