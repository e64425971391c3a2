//! Where the publish → read latency of a two-line (128-byte) seqlock record
//! goes, against the one-line floor: bare seqlock rings with one change each
//! (writer store order, reader touches, prefetches, `cldemote`, footprint),
//! and the real ring, alternating in one run. Writer on the first cpu, one
//! reader process on the second, 1M records/s, SCHED_FIFO 10 (the latency
//! rounds of `latency.rs`, with more percentiles).
//!
//! ```sh
//! cargo bench -p ring --bench lines                      # default variants
//! LINES_SPECS='w8;w16,touch,demote;ring' LINES_ROUNDS=5 cargo bench -p ring --bench lines
//! LINES_PAGEPOS=1 ...   # also: median latency by a record's position in its 4 KiB page
//! ```
//!
//! A variant is a comma-separated list of keys:
//! - `w8` | `w16`: words per record, 64 or 128 bytes (default `w16`);
//! - `slotsN`: records in the ring (default 65536);
//! - `stride16`: with `w8`, records 128 bytes apart (only their first line used);
//! - `touch`: the reader loads a word of line 2 on every idle poll (as the ring);
//! - `touchold`: the same, but only while the slot's sequence is even (no write
//!   under way);
//! - `l2first`: the writer stores line 2's payload before line 1's;
//! - `pfnow2`: the writer `prefetchw`s both lines of the slot just before writing;
//! - `pf8`: the writer `prefetchw`s both lines of the slot 8 records ahead (as the ring);
//! - `pfpage`: the writer `prefetchw`s the slot one 4 KiB page ahead;
//! - `ldpage`: when the slot 8 records ahead starts a 4 KiB page, the writer
//!   also loads a word of it (a load's page walk is never dropped, unlike a
//!   prefetch's);
//! - `demote`: the writer `cldemote`s both lines after the final sequence store;
//! - `split` (with `w16`): each line its own seqlock (a sequence word at
//!   words 0 and 8, 7 payload words each; a layout change: 112 payload bytes,
//!   not 120); the writer writes line 2, then line 1; the reader polls both
//!   sequences and takes the record when both show it;
//! - `ring`: `RingWriter` / `RingReader` with `slotsN` records (other keys ignored).

mod common;

use hdrhistogram::Histogram;
use mtf::{Side, Tick};
use ring::{
    ReaderOptions, Received, Record, RingConfig, RingReader, RingWriter, StartAt, monotonic_ns,
};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::{Duration, Instant};

const END: u64 = u64::MAX;
const PAGE: usize = 4096;
const QS: [f64; 6] = [0.5, 0.9, 0.95, 0.99, 0.995, 0.999];

#[derive(Clone, Debug, Default)]
struct Spec {
    words: usize,
    stride: usize,
    slots: u64,
    touch: bool,
    touchold: bool,
    l2first: bool,
    pfnow2: bool,
    pf8: bool,
    pfpage: bool,
    ldpage: bool,
    demote: bool,
    split: bool,
    ring: bool,
}

impl Spec {
    fn parse(s: &str) -> Spec {
        let mut sp = Spec {
            words: 16,
            slots: 1 << 16,
            ..Spec::default()
        };
        for k in s.split(',') {
            match k {
                "w8" => sp.words = 8,
                "w16" => sp.words = 16,
                "stride16" => sp.stride = 16,
                "touch" => sp.touch = true,
                "touchold" => sp.touchold = true,
                "l2first" => sp.l2first = true,
                "pfnow2" => sp.pfnow2 = true,
                "pf8" => sp.pf8 = true,
                "pfpage" => sp.pfpage = true,
                "ldpage" => sp.ldpage = true,
                "demote" => sp.demote = true,
                "split" => sp.split = true,
                "ring" => sp.ring = true,
                k => match k.strip_prefix("slots").map(str::parse) {
                    Some(Ok(n)) => sp.slots = n,
                    _ => panic!("unknown variant key {k}"),
                },
            }
        }
        if sp.stride == 0 {
            sp.stride = sp.words;
        }
        sp
    }

    /// Records per 4 KiB page.
    fn per_page(&self) -> u64 {
        (PAGE / (self.stride * 8)) as u64
    }
}

#[inline(always)]
fn prefetch_for_write(w: &AtomicU64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and has no architectural effect.
    // (`_mm_prefetch::<_MM_HINT_ET0>` would be a plain `prefetcht0` without
    // the `prfchw` target feature.)
    unsafe {
        core::arch::asm!(
            "prefetchw [{p}]",
            p = in(reg) w.as_ptr(),
            options(nostack, preserves_flags, readonly)
        );
    }
}

#[inline(always)]
fn demote(w: &AtomicU64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `cldemote` only moves a line between cache levels (a NOP on
    // CPUs without it); the address comes from a live reference.
    unsafe {
        core::arch::asm!("cldemote [{}]", in(reg) w.as_ptr(), options(nostack, preserves_flags));
    }
}

/// A bare seqlock ring in a shared file, as `latency.rs`'s floor, with the
/// variant's changes.
struct Floor {
    base: *mut AtomicU64,
    sp: Spec,
    len: usize,
}

impl Floor {
    fn map(path: &Path, sp: &Spec, create: bool) -> Floor {
        let len = sp.slots as usize * sp.stride * 8;
        let p = common::map_shared(path, len, create);
        Floor {
            base: p.cast(),
            sp: sp.clone(),
            len,
        }
    }

    #[inline(always)]
    fn slot(&self, n: u64) -> &[AtomicU64] {
        let i = (n % self.sp.slots) as usize * self.sp.stride;
        // SAFETY: `i + words <= len / 8` (`words <= stride`); the mapping is
        // page-aligned and lives as long as `self`; all access is atomic.
        unsafe { std::slice::from_raw_parts(self.base.add(i), self.sp.words) }
    }

    #[inline(always)]
    fn publish(&self, n: u64, stamp: u64) {
        let sp = &self.sp;
        let s = self.slot(n);
        let two = s.len() > 8;
        if sp.pf8 {
            let a = self.slot(n + 8);
            prefetch_for_write(&a[0]);
            if two {
                prefetch_for_write(&a[8]);
            }
        }
        if sp.ldpage && (n + 8).is_multiple_of(sp.per_page()) {
            std::hint::black_box(self.slot(n + 8)[0].load(Ordering::Relaxed));
        }
        if sp.pfpage {
            prefetch_for_write(&self.slot(n + sp.per_page())[0]);
        }
        if sp.pfnow2 && two {
            prefetch_for_write(&s[0]);
            prefetch_for_write(&s[8]);
        }
        if sp.split && two {
            for (line, first) in [(&s[8..16], 9), (&s[0..8], 1)] {
                line[0].store(2 * n + 1, Ordering::Relaxed);
                fence(Ordering::Release);
                for (k, w) in line[1..].iter().enumerate() {
                    w.store(if k + 1 == first { stamp } else { n }, Ordering::Relaxed);
                }
                line[0].store(2 * n + 2, Ordering::Release);
            }
            return;
        }
        s[0].store(2 * n + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        if sp.l2first && two {
            for w in &s[8..] {
                w.store(n, Ordering::Relaxed);
            }
            s[1].store(stamp, Ordering::Relaxed);
            for w in &s[2..8] {
                w.store(n, Ordering::Relaxed);
            }
        } else {
            s[1].store(stamp, Ordering::Relaxed);
            for w in &s[2..] {
                w.store(n, Ordering::Relaxed);
            }
        }
        s[0].store(2 * n + 2, Ordering::Release);
        if sp.demote {
            demote(&s[0]);
            if two {
                demote(&s[8]);
            }
        }
    }

    /// `Ok(stamp)` when record `n` is there and whole, `Err(true)` when it
    /// was overwritten, `Err(false)` when not there yet.
    #[inline(always)]
    fn read(&self, n: u64) -> Result<u64, bool> {
        let s = self.slot(n);
        let want = 2 * n + 2;
        if self.sp.split && s.len() > 8 {
            let (a, b) = (s[0].load(Ordering::Relaxed), s[8].load(Ordering::Relaxed));
            if a != want || b != want {
                return Err(a > want || b > want);
            }
            fence(Ordering::Acquire);
            let mut p = [0u64; 16];
            for (o, w) in p.iter_mut().zip(s) {
                *o = w.load(Ordering::Relaxed);
            }
            std::hint::black_box(&p);
            fence(Ordering::Acquire);
            let ok = s[0].load(Ordering::Relaxed) == want && s[8].load(Ordering::Relaxed) == want;
            return if ok { Ok(p[1]) } else { Err(true) };
        }
        let s1 = s[0].load(Ordering::Relaxed);
        if s1 != want {
            if s.len() > 8 && (self.sp.touch || (self.sp.touchold && s1 & 1 == 0)) {
                std::hint::black_box(s[8].load(Ordering::Relaxed));
            }
            return Err(s1 > want);
        }
        fence(Ordering::Acquire);
        let mut p = [0u64; 15];
        for (o, w) in p.iter_mut().zip(&s[1..]) {
            *o = w.load(Ordering::Relaxed);
        }
        std::hint::black_box(&p);
        fence(Ordering::Acquire);
        if s[0].load(Ordering::Relaxed) == want {
            Ok(p[0])
        } else {
            Err(true)
        }
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in `map`; no slice outlives self.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// Prints the percentiles `QS` of `lat` (record number, ns), and with
/// `LINES_PAGEPOS` the median by position in the page.
fn report(spec: &str, sp: &Spec, lat: &[(u64, u32)]) {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    for &(_, l) in lat {
        h.record(u64::from(l)).unwrap();
    }
    if std::env::var_os("LINES_PAGEPOS").is_some() {
        let per_page = sp.per_page();
        let mut by_pos = vec![vec![]; per_page as usize];
        for &(n, l) in lat {
            by_pos[((n % sp.slots) % per_page) as usize].push(l);
        }
        let med: Vec<u32> = by_pos
            .iter_mut()
            .take(4)
            .map(|v| {
                v.sort_unstable();
                v[v.len() / 2]
            })
            .collect();
        eprintln!("page position 0..4 of {per_page}, median ns, {spec}: {med:?}");
    }
    let v: Vec<String> = QS
        .iter()
        .map(|&q| h.value_at_quantile(q).to_string())
        .collect();
    println!("RESULT {}", v.join(" "));
}

fn child(spec: &str, path: &Path, ready: &Path, core: usize) {
    common::pin(core);
    let sp = Spec::parse(spec);
    let mut lat: Vec<(u64, u32)> = Vec::with_capacity(1 << 20);
    let ns = |stamp: u64| {
        monotonic_ns()
            .saturating_sub(stamp)
            .clamp(1, u32::MAX.into()) as u32
    };
    if sp.ring {
        let mut r = RingReader::open(
            path,
            &ReaderOptions {
                start: StartAt::Seq(0),
                dead_after: Duration::from_secs(60),
                ..ReaderOptions::default()
            },
        )
        .unwrap();
        std::fs::write(ready, b"").unwrap();
        loop {
            match r.next() {
                Some(Received::Record {
                    record: Record::Tick(t),
                    seq,
                }) => {
                    if t.id == END {
                        break;
                    }
                    lat.push((seq, ns(t.ts_recv as u64)));
                }
                Some(Received::Lapped { .. }) => panic!("lapped"),
                Some(_) => {}
                None => std::hint::spin_loop(),
            }
        }
    } else {
        let f = Floor::map(path, &sp, false);
        std::fs::write(ready, b"").unwrap();
        let mut n = 0u64;
        loop {
            match f.read(n) {
                Ok(END) => break,
                Ok(stamp) => {
                    lat.push((n, ns(stamp)));
                    n += 1;
                }
                Err(true) => panic!("lapped"),
                Err(false) => std::hint::spin_loop(),
            }
        }
    }
    report(spec, &sp, &lat);
}

fn pace(t0: Instant, k: u64, per_sec: u64) {
    let due = t0 + Duration::from_nanos(k * 1_000_000_000 / per_sec);
    while Instant::now() < due {
        std::hint::spin_loop();
    }
}

enum Writer {
    Floor(Floor),
    Ring(RingWriter),
}

impl Writer {
    fn publish(&mut self, n: u64, stamp: u64) {
        match self {
            Writer::Floor(f) => f.publish(n, stamp),
            Writer::Ring(w) => {
                let t = Tick::trade(1, n as i64, 100.0, 1.0, Side::Buy, n).with_recv(stamp as i64);
                w.publish_tick(&t).unwrap();
            }
        }
    }
}

/// One latency run of `spec`: the percentiles `QS`, ns.
fn run(dir: &Path, spec: &str, records: u64, rate: u64, rcore: usize) -> Vec<u64> {
    let sp = Spec::parse(spec);
    let (path, ready) = (dir.join("ring"), dir.join("ready"));
    let _ = std::fs::remove_file(&ready);
    let _ = std::fs::remove_file(&path);
    let mut w = if sp.ring {
        let cfg = RingConfig {
            capacity: sp.slots,
            group: None,
        };
        Writer::Ring(RingWriter::create(&path, &cfg).unwrap())
    } else {
        Writer::Floor(Floor::map(&path, &sp, true))
    };
    let c = Command::new(std::env::current_exe().unwrap())
        .args(["__child", spec])
        .arg(&path)
        .arg(&ready)
        .arg(rcore.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    while !ready.exists() {
        if let Writer::Ring(r) = &w {
            r.touch();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(20)); // the reader reaches its loop
    let t0 = Instant::now();
    for n in 0..records {
        pace(t0, n, rate);
        w.publish(n, monotonic_ns());
    }
    match &mut w {
        Writer::Floor(f) => f.publish(records, END),
        Writer::Ring(r) => {
            let t = Tick::trade(1, 0, 100.0, 1.0, Side::Buy, END).with_recv(0);
            r.publish_tick(&t).unwrap();
        }
    }
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    let line = s.lines().find(|l| l.starts_with("RESULT")).unwrap();
    line.split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect()
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("__child") {
        let core = args[4].parse().unwrap();
        child(&args[1], Path::new(&args[2]), Path::new(&args[3]), core);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return; // `cargo test --benches` / `cargo bench -- --list`
    }
    let specs: String = env(
        "LINES_SPECS",
        "w8;w8,slots131072;w16;w16,touch;w16,touch,l2first;w16,touch,demote;ring".into(),
    );
    let specs: Vec<&str> = specs.split(';').collect();
    let rounds: usize = env("LINES_ROUNDS", 3);
    let records: u64 = env("LINES_RECORDS", 500_000);
    let shm = Path::new("/dev/shm");
    let dir = tempfile::Builder::new()
        .prefix("ring-lines")
        .tempdir_in(if shm.is_dir() { shm } else { Path::new("/tmp") })
        .unwrap();
    let cpus: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let (wcore, rcore) = (cpus[0], cpus[cpus.len().min(2) - 1]);
    common::pin(wcore);
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: `param` is a valid sched_param for the call's duration.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
        eprintln!(
            "warning: no SCHED_FIFO: {}",
            std::io::Error::last_os_error()
        );
    }
    println!("writer cpu {wcore}, reader cpu {rcore}; {records} records at 1M/s per run");
    let mut all: Vec<Vec<Vec<u64>>> = vec![vec![]; specs.len()];
    for round in 0..rounds {
        for (i, s) in specs.iter().enumerate() {
            all[i].push(run(dir.path(), s, records, 1_000_000, rcore));
            // Below the kernel's RT budget (950 ms per second).
            std::thread::sleep(Duration::from_millis(600));
            println!("round {round} {s:24} {:?}", all[i][round]);
        }
    }
    println!("median of {rounds} rounds, ns: p50 p90 p95 p99 p99.5 p99.9");
    for (i, s) in specs.iter().enumerate() {
        let med: Vec<u64> = (0..QS.len())
            .map(|q| {
                let mut v: Vec<u64> = all[i].iter().map(|r| r[q]).collect();
                v.sort_unstable();
                v[v.len() / 2]
            })
            .collect();
        println!("{s:24} {med:?}");
    }
}
