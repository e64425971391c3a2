//! Scenario 5 (resident-memory part): the daemon's memory with one simulated
//! year × 10 symbols stored, against the same daemon with one day stored.
//!
//! Two stores are built in-process, the way the daemon leaves them: ticks
//! through the store's bulk import ([`store::import::import_ticks`], sealed
//! segments per day) and the bars of the daemon's six default timeframes
//! (1s 1m 5m 15m 1h 1d) built by [`mtf::Aggregator`] and appended as writer 0,
//! the daemon's own writer number, then sealed. Open bars are not stored, as
//! at a restart. The *day* store is the year store's last day exactly (same
//! ticks, same bars), so the only difference between the two is the 364 days
//! before it: what the claim "memory flat in the amount of history" is about.
//!
//! For each store, `tickd` (built-in defaults, ring and snapshot on
//! `/dev/shm`) is started on it and its memory is sampled from
//! `/proc/PID/status` (`VmRSS` = `RssAnon` + `RssFile` + `RssShmem`) and
//! `/proc/PID/smaps` (by mapping) at three points: after start-up recovery
//! (the state file is written after it), after a burst of live ticks over
//! TCP into a new day, and after queries over the whole history of every
//! symbol. The daemon has no query path: `tickctl query` reads the segments
//! itself (positional reads, no mapping), so its own peak RSS is reported
//! too; without a `tickctl` binary the queries run in this process instead.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use mtf::{AggConfig, Aggregator, BarEvent, BarEventKind, NANOS_PER_DAY, Timeframe};
use serde::Serialize;
use serde_json::json;
use store::import::{ImportOptions, import_ticks};
use store::{StoreConfig, StoreReader, StoreWriter};

use super::Opts;
use crate::daemon::Daemon;
use crate::load::{self, LoadConfig, Protocol, Rate, SynthSource};
use crate::synth::{Synth, SynthConfig, symbol_name};
use crate::sys::{self, MemStatus};

/// 2023-01-01 00:00 UTC: the first stored day.
const YEAR_START_NS: i64 = 1_672_531_200_000_000_000;
const MIB: f64 = 1024.0 * 1024.0;

/// Sizes of one run.
#[derive(Clone, Copy, Debug, Serialize)]
struct Plan {
    days: i64,
    symbols: u32,
    ticks_per_symbol_day: u64,
    burst_ticks: u64,
    /// Seconds after the burst for a last sample (0: none). The store seals a
    /// past day's hot segment after 30 s without writes.
    seal_wait_s: u64,
}

impl Plan {
    fn of(opts: &Opts) -> Plan {
        let ticks = std::env::var("S5_TICKS_PER_SYMBOL_DAY")
            .ok()
            .and_then(|v| v.parse().ok());
        if opts.smoke {
            Plan {
                days: 30,
                symbols: 10,
                ticks_per_symbol_day: ticks.unwrap_or(20),
                burst_ticks: 100_000,
                seal_wait_s: 0,
            }
        } else {
            Plan {
                days: 365,
                symbols: 10,
                ticks_per_symbol_day: ticks.unwrap_or(1_000),
                burst_ticks: 2_000_000,
                seal_wait_s: 40,
            }
        }
    }

    fn synth(&self) -> SynthConfig {
        SynthConfig {
            symbols: self.symbols,
            seed: 5,
            start_ns: YEAR_START_NS,
            mean_gap_ns: (NANOS_PER_DAY / (self.symbols as u64 * self.ticks_per_symbol_day) as i64)
                .max(1),
            ..SynthConfig::default()
        }
    }

    fn end_ns(&self) -> i64 {
        YEAR_START_NS + self.days * NANOS_PER_DAY
    }

    fn last_day_ns(&self) -> i64 {
        self.end_ns() - NANOS_PER_DAY
    }
}

/// What a built store holds.
#[derive(Clone, Debug, Default, Serialize)]
struct Built {
    days: usize,
    ticks: u64,
    bars: u64,
    segment_files: u64,
    bytes: u64,
}

fn walk(p: &Path, files: &mut u64, bytes: &mut u64) {
    let Ok(rd) = std::fs::read_dir(p) else { return };
    for e in rd.filter_map(|e| e.ok()) {
        match e.metadata() {
            Ok(m) if m.is_dir() => walk(&e.path(), files, bytes),
            Ok(m) => {
                if e.path()
                    .extension()
                    .is_some_and(|x| x == "seg" || x == "hot")
                {
                    *files += 1;
                    *bytes += m.len();
                }
            }
            Err(_) => {}
        }
    }
}

/// Builds the year store under `year/store` and its last day under
/// `day/store` (data directories of the daemon).
fn build(plan: &Plan, year: &Path, day: &Path) -> anyhow::Result<(Built, Built)> {
    let names: Vec<String> = (0..plan.symbols).map(symbol_name).collect();
    let (end, last) = (plan.end_ns(), plan.last_day_ns());
    let ticks = || Synth::new(plan.synth()).take_while(move |t| t.ts_event < end);
    let roots = [year.join("store"), day.join("store")];
    let mut built = [Built::default(), Built::default()];
    for (k, root) in roots.iter().enumerate() {
        let only_last = k == 1;
        let rep = import_ticks(
            root,
            0x5_7ea5 + k as u128,
            ticks()
                .filter(|t| !only_last || t.ts_event >= last)
                .map(|t| (names[t.symbol as usize].as_str(), t)),
            &ImportOptions::default(),
        )?;
        built[k].ticks = rep.ticks;
    }
    // One aggregation pass; the year store gets every bar, the day store the
    // bars of its day. Ids are the store's (assigned by name on import).
    let mut ids = Vec::new();
    for root in &roots {
        let map = StoreReader::open(root)?.symbols()?;
        let v: Vec<u32> = names
            .iter()
            .map(|n| map.id(n).context("imported symbol missing"))
            .collect::<anyhow::Result<_>>()?;
        ids.push(v);
    }
    let cfg = StoreConfig {
        segment_bytes: 4 << 20,
        fsync: store::FsyncPolicy::Never,
        ..StoreConfig::default()
    };
    let mut writers = Vec::new();
    for root in &roots {
        writers.push(StoreWriter::open(root, 0, cfg.clone())?);
    }
    let mut agg = Aggregator::new(AggConfig::default())?;
    let mut out: Vec<BarEvent> = Vec::with_capacity(agg.max_events_per_update());
    for t in ticks() {
        agg.update(&t, &mut out);
        for e in out.drain(..) {
            if e.kind == BarEventKind::Open {
                continue;
            }
            for (k, w) in writers.iter_mut().enumerate() {
                if k == 1 && e.bar.start < last {
                    continue;
                }
                let mut b = e.bar;
                b.symbol = ids[k][b.symbol as usize];
                w.append_bar(&b)?;
                built[k].bars += 1;
            }
        }
    }
    for mut w in writers {
        w.seal_all()?;
        w.close()?;
    }
    for (k, root) in roots.iter().enumerate() {
        built[k].days = StoreReader::open(root)?.days()?.len();
        walk(root, &mut built[k].segment_files, &mut built[k].bytes);
    }
    let [y, d] = built;
    Ok((y, d))
}

/// Where a mapping's pages belong, for the breakdown.
fn class_of(path: &str, bin: &Path) -> &'static str {
    let p = path.trim_end_matches(" (deleted)");
    if p.ends_with(".ring") {
        "ring (ring.capacity × 64 B, /dev/shm)"
    } else if p.ends_with(".snap") {
        "snapshot table (ring.max_symbols, /dev/shm)"
    } else if p.ends_with(".hot") {
        "hot segment (store.segment_bytes, pre-faulted)"
    } else if p.ends_with(".stage") {
        "store stage file (256 streams × one open block)"
    } else if p == "[heap]" {
        "heap (brk)"
    } else if p.is_empty() {
        "anonymous mappings (allocator, queues, thread stacks)"
    } else if p.starts_with('[') {
        "kernel ([stack], [vdso], …)"
    } else if Path::new(p) == bin || p.ends_with("/tickd") {
        "tickd binary"
    } else if p.contains(".so") {
        "shared libraries"
    } else {
        "other files"
    }
}

/// Resident bytes by class, largest first: (class, mappings, size, rss, anon).
fn breakdown(maps: &[sys::Mapping], bin: &Path) -> Vec<(String, u64, u64, u64, u64)> {
    let mut m: std::collections::BTreeMap<&str, (u64, u64, u64, u64)> = Default::default();
    for x in maps {
        let e = m.entry(class_of(&x.path, bin)).or_default();
        e.0 += 1;
        e.1 += x.size;
        e.2 += x.rss;
        e.3 += x.anon;
    }
    let mut v: Vec<_> = m
        .into_iter()
        .map(|(k, (n, s, r, a))| (k.to_string(), n, s, r, a))
        .collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.3));
    v
}

#[derive(Clone, Debug, Serialize)]
struct Sample {
    point: &'static str,
    mem: MemStatus,
    /// (class, mappings, size, rss, anon), bytes.
    by_mapping: Vec<(String, u64, u64, u64, u64)>,
    /// The largest anonymous mappings: (size, rss).
    largest_anon: Vec<(u64, u64)>,
}

fn sample(point: &'static str, pid: u32, bin: &Path) -> anyhow::Result<Sample> {
    let mem = sys::mem_status(pid).context("no /proc/PID/status for tickd")?;
    let maps = sys::smaps(pid);
    let mut anon: Vec<(u64, u64)> = maps
        .iter()
        .filter(|m| m.path.is_empty())
        .map(|m| (m.size, m.rss))
        .collect();
    anon.sort_by_key(|x| std::cmp::Reverse(x.1));
    anon.truncate(8);
    Ok(Sample {
        point,
        mem,
        by_mapping: breakdown(&maps, bin),
        largest_anon: anon,
    })
}

/// `tickctl` beside `tickd`, if built.
fn tickctl_bin(tickd: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TICKCTL_BIN") {
        return Some(PathBuf::from(p));
    }
    let p = tickd.with_file_name("tickctl");
    p.is_file().then_some(p)
}

/// Runs `cmd` to completion; its peak RSS (bytes). With GNU time
/// (`/usr/bin/time`) the kernel's `ru_maxrss` of the command itself; else
/// its `VmHWM` polled every millisecond (a lower bound). `wait4` on our own
/// child would not do: a child spawned with `CLONE_VM` starts its
/// `ru_maxrss` at this process's peak.
fn run_peak(cmd: &mut Command) -> anyhow::Result<u64> {
    let gnu_time = Path::new("/usr/bin/time");
    let out = tempfile::NamedTempFile::new()?;
    let mut c = if gnu_time.is_file() {
        let mut c = Command::new(gnu_time);
        c.arg("-f").arg("%M").arg("-o").arg(out.path());
        c.arg(cmd.get_program()).args(cmd.get_args());
        c
    } else {
        let mut c = Command::new(cmd.get_program());
        c.args(cmd.get_args());
        c
    };
    let err = tempfile::tempfile()?;
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err.try_clone()?)
        .spawn()?;
    let mut polled = 0u64;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if let Some(m) = sys::mem_status(child.id()) {
            polled = polled.max(m.peak);
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if !status.success() {
        use std::io::{Read, Seek};
        let (mut err, mut text) = (err, String::new());
        let _ = err.rewind();
        let _ = (&mut err).take(4096).read_to_string(&mut text);
        bail!("{cmd:?} failed ({status}): {}", text.trim());
    }
    if gnu_time.is_file() {
        let text = std::fs::read_to_string(out.path())?;
        let kib: u64 = text
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .context("GNU time printed no %M")?;
        return Ok(kib * 1024);
    }
    Ok(polled)
}

#[derive(Clone, Debug, Default, Serialize)]
struct Queries {
    /// `tickctl` processes run (0: in-process).
    processes: usize,
    ticks_read_s: f64,
    bars_read_s: f64,
    /// Highest peak RSS of one `tickctl query` process, bytes.
    tickctl_peak: u64,
}

/// Every symbol's whole history: ticks, then stored 1m bars.
fn queries(plan: &Plan, data_dir: &Path, tickd: &Path) -> anyhow::Result<Queries> {
    let mut q = Queries::default();
    let names: Vec<String> = (0..plan.symbols).map(symbol_name).collect();
    if let Some(ctl) = tickctl_bin(tickd) {
        for bars in [false, true] {
            let t0 = Instant::now();
            for n in &names {
                let mut c = Command::new(&ctl);
                c.arg("--data-dir")
                    .arg(data_dir)
                    .args(["query", n, "--summary"]);
                if bars {
                    c.args(["--timeframe", "1m"]);
                }
                q.tickctl_peak = q.tickctl_peak.max(run_peak(&mut c)?);
                q.processes += 1;
            }
            *(if bars {
                &mut q.bars_read_s
            } else {
                &mut q.ticks_read_s
            }) = t0.elapsed().as_secs_f64();
        }
        return Ok(q);
    }
    eprintln!("SKIP: tickctl not found beside tickd: queries run in this process");
    let r = StoreReader::open(&data_dir.join("store"))?;
    let map = r.symbols()?;
    let t0 = Instant::now();
    for n in &names {
        let id = map.id(n).context("symbol missing")?;
        for t in r.ticks(id, i64::MIN, i64::MAX)? {
            std::hint::black_box(t?);
        }
    }
    q.ticks_read_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    for n in &names {
        let id = map.id(n).context("symbol missing")?;
        for b in r.stored_bars(id, Timeframe::M1, i64::MIN, i64::MAX)? {
            std::hint::black_box(b?);
        }
    }
    q.bars_read_s = t0.elapsed().as_secs_f64();
    Ok(q)
}

#[derive(Clone, Debug, Serialize)]
struct Measured {
    dataset: &'static str,
    built: Built,
    start_s: f64,
    recovery_log: String,
    burst_sent: u64,
    burst_s: f64,
    queries: Queries,
    samples: Vec<Sample>,
}

fn measure(
    plan: &Plan,
    dataset: &'static str,
    built: Built,
    data_dir: &Path,
    bin: &Path,
    set: &[String],
) -> anyhow::Result<Measured> {
    let shm = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let tag = format!("tickd-s5rss-{}-{dataset}", std::process::id());
    let (ring, snap) = (
        shm.join(format!("{tag}.ring")),
        shm.join(format!("{tag}.snap")),
    );
    let mut over = vec![
        format!("ring.path=\"{}\"", ring.display()),
        format!("ring.snapshot_path=\"{}\"", snap.display()),
        "daemon.log_level=\"info\"".to_string(),
    ];
    over.extend(set.iter().cloned());
    let t0 = Instant::now();
    let res: anyhow::Result<Measured> = (|| {
        let d = Daemon::start_within(bin, Some(data_dir), &over, Duration::from_secs(300))?;
        let start_s = t0.elapsed().as_secs_f64();
        // Let the background threads (syncer, sealer, metrics) settle.
        std::thread::sleep(Duration::from_secs(1));
        let mut samples = vec![sample("after start-up recovery", d.pid(), bin)?];
        let recovery_log = std::fs::read_to_string(data_dir.join("tickd.bench.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("restored from the store"))
            .map(|l| {
                l.split_once("restored from the store")
                    .map_or(l, |x| x.1)
                    .trim()
            })
            .collect::<Vec<_>>()
            .join("; ");

        // A burst of live ticks into the next day (a new hot segment).
        let tcp = d.tcp.context("tickd has no TCP listener")?;
        let mut cfg = LoadConfig::new(Protocol::TcpBinary, tcp);
        cfg.rate = Rate::Max;
        cfg.duration = Duration::from_secs(600);
        cfg.max_ticks = plan.burst_ticks;
        let mut src = SynthSource::new(SynthConfig {
            symbols: plan.symbols,
            seed: 55,
            start_ns: plan.end_ns(),
            mean_gap_ns: 1_000_000,
            ..SynthConfig::default()
        });
        let stored0 = d.stats()?.counter("ticks_stored");
        let t1 = Instant::now();
        let rep = load::run(&cfg, &mut src, &AtomicBool::new(false))?;
        let (st, done) = d.wait_until(Duration::from_secs(300), Duration::from_secs(5), |s| {
            s.counter("ticks_stored") >= stored0 + rep.ticks
        })?;
        if !done {
            bail!(
                "{dataset}: {} of {} burst ticks stored",
                st.counter("ticks_stored") - stored0,
                rep.ticks
            );
        }
        let burst_s = t1.elapsed().as_secs_f64();
        let burst_end = Instant::now();
        std::thread::sleep(Duration::from_secs(1));
        samples.push(sample("after a burst of live ticks", d.pid(), bin)?);

        let queries = queries(plan, data_dir, bin)?;
        std::thread::sleep(Duration::from_millis(500));
        samples.push(sample(
            "after queries over the whole history",
            d.pid(),
            bin,
        )?);
        if plan.seal_wait_s > 0 {
            let due = burst_end + Duration::from_secs(plan.seal_wait_s);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            samples.push(sample(
                "40 s after the burst (past days' hot segments sealed)",
                d.pid(),
                bin,
            )?);
        }
        Ok(Measured {
            dataset,
            built,
            start_s,
            recovery_log,
            burst_sent: rep.ticks,
            burst_s,
            queries,
            samples,
        })
    })();
    let _ = std::fs::remove_file(&ring);
    let _ = std::fs::remove_file(&snap);
    res
}

fn mib(b: u64) -> String {
    format!("{:.1}", b as f64 / MIB)
}

/// Runs the resident-memory part of scenario 5.
pub fn run(opts: &Opts, set: &[String]) -> anyhow::Result<()> {
    let Some(bin) = crate::daemon::tickd_bin() else {
        bail!("no tickd binary: cargo build --release -p engine (or set TICKD_BIN)");
    };
    let plan = Plan::of(opts);
    let command = format!(
        "cargo build --release -p engine && cargo run --release -p bench --bin scenario -- 5 --part rss{}",
        if opts.smoke { " --smoke" } else { "" }
    );
    let base = match std::env::var_os("S5_STORE_DIR") {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir_in(super::repo_root().join("target"))
            .or_else(|_| tempfile::tempdir())?,
    };
    let (year_dir, day_dir) = (base.path().join("year"), base.path().join("day"));
    eprintln!(
        "building {} days × {} symbols × {} ticks/day …",
        plan.days, plan.symbols, plan.ticks_per_symbol_day
    );
    let t0 = Instant::now();
    let (year, day) = build(&plan, &year_dir, &day_dir)?;
    let build_s = t0.elapsed().as_secs_f64();
    eprintln!("built in {build_s:.1} s: year {year:?}, day {day:?}");
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let runs = [
        measure(&plan, "day", day, &day_dir, &bin, set)?,
        measure(&plan, "year", year, &year_dir, &bin, set)?,
    ];
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    // One run per store: memory is not a timing, there is nothing to take a median of.
    let one = Opts {
        runs: 1,
        ..opts.clone()
    };
    let mut md = super::block_header(
        5,
        "daemon resident memory, a year stored vs a day",
        &one,
        &command,
    );
    let _ = writeln!(
        md,
        "Stores (built in-process in {build_s:.0} s, the way the daemon leaves them: ticks by the \
         bulk import into sealed per-day segments, bars of the six default timeframes appended \
         as writer 0 and sealed; the *day* store is the year's last day, the same files): \
         {} symbols, {} ticks per symbol and day (synthetic walk), from 2023-01-01.\n",
        plan.symbols, plan.ticks_per_symbol_day
    );
    let _ = writeln!(
        md,
        "| store | days | ticks | bars | segment files | segment bytes |\n|---|---:|---:|---:|---:|---:|"
    );
    for r in &runs {
        let b = &r.built;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            r.dataset, b.days, b.ticks, b.bars, b.segment_files, b.bytes
        );
    }
    let _ = writeln!(
        md,
        "\n`tickd` with its built-in defaults (plus free loopback ports, ring and snapshot on \
         `/dev/shm`{}). Load average (1, 5, 15 min) before: {}; after: {}.\n",
        if set.is_empty() {
            String::new()
        } else {
            format!(", `--set {}`", set.join(" "))
        },
        load_before
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        load_after
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    let _ = writeln!(
        md,
        "| store | point | VmRSS MiB | RssAnon MiB | RssFile MiB | RssShmem MiB | VmHWM MiB |\n\
         |---|---|---:|---:|---:|---:|---:|"
    );
    for r in &runs {
        for s in &r.samples {
            let m = &s.mem;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.dataset,
                s.point,
                mib(m.rss),
                mib(m.anon),
                mib(m.file),
                mib(m.shmem),
                mib(m.peak)
            );
        }
    }
    let (d0, y0) = (&runs[0].samples, &runs[1].samples);
    let _ = writeln!(md, "\nYear minus day, MiB:\n");
    for (a, b) in d0.iter().zip(y0) {
        let dlt = |x: u64, y: u64| (y as f64 - x as f64) / MIB;
        let _ = writeln!(
            md,
            "- {}: VmRSS {:+.1}, RssAnon {:+.1}, RssFile {:+.1}, RssShmem {:+.1}",
            a.point,
            dlt(a.mem.rss, b.mem.rss),
            dlt(a.mem.anon, b.mem.anon),
            dlt(a.mem.file, b.mem.file),
            dlt(a.mem.shmem, b.mem.shmem)
        );
    }
    let _ = writeln!(
        md,
        "\n| store | start → state file s | recovery (daemon log) | burst: ticks over TCP, s to stored | \
         queries | ticks read s | 1m bars read s | peak RSS of one query process MiB |\n\
         |---|---:|---|---:|---|---:|---:|---:|"
    );
    for r in &runs {
        let q = &r.queries;
        let _ = writeln!(
            md,
            "| {} | {:.2} | {} | {} in {:.2} | {} | {:.2} | {:.2} | {} |",
            r.dataset,
            r.start_s,
            if r.recovery_log.is_empty() {
                "—"
            } else {
                &r.recovery_log
            },
            r.burst_sent,
            r.burst_s,
            if q.processes > 0 {
                format!("{} × `tickctl query --summary`", q.processes)
            } else {
                "in-process `StoreReader`".into()
            },
            q.ticks_read_s,
            q.bars_read_s,
            if q.processes > 0 {
                mib(q.tickctl_peak)
            } else {
                "—".into()
            }
        );
    }
    for r in &runs {
        for s in &r.samples {
            if r.dataset != "year" || s.point.starts_with("after q") {
                continue;
            }
            let _ = writeln!(
                md,
                "\nBy mapping, {} store, {} (`/proc/PID/smaps`):\n\n\
                 | mappings of | count | mapped MiB | resident MiB | of which anonymous MiB |\n\
                 |---|---:|---:|---:|---:|",
                r.dataset, s.point
            );
            for (k, n, size, rss, anon) in &s.by_mapping {
                let _ = writeln!(
                    md,
                    "| {k} | {n} | {} | {} | {} |",
                    mib(*size),
                    mib(*rss),
                    mib(*anon)
                );
            }
            let _ = writeln!(
                md,
                "\nLargest anonymous mappings (mapped / resident MiB): {}",
                s.largest_anon
                    .iter()
                    .map(|(a, b)| format!("{} / {}", mib(*a), mib(*b)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let js = json!({
        "scenario": 5, "part": "rss", "smoke": opts.smoke, "plan": plan, "build_s": build_s,
        "loadavg_before": load_before.trim(), "loadavg_after": load_after.trim(),
        "runs": runs,
    });
    std::fs::create_dir_all(&opts.out_dir)?;
    let suffix = if opts.smoke { "-smoke" } else { "" };
    let md_path = opts.out_dir.join(format!("scenario5-rss{suffix}.md"));
    std::fs::write(&md_path, &md)?;
    std::fs::write(
        opts.out_dir.join(format!("scenario5-rss{suffix}.json")),
        serde_json::to_string_pretty(&js).unwrap_or_else(|_| "{}".into()) + "\n",
    )?;
    eprintln!("results: {}", md_path.display());
    print!("{md}");
    Ok(())
}
