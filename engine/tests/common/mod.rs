//! Helpers of the end-to-end tests: real `tickd` and `tickctl` binaries,
//! ephemeral loopback ports, temporary directories.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::daemon::DaemonState;
use engine::metrics::StatsReport;
use ingest::import::{Format, ImportOptions, Importer, Input};
use ingest::{SymbolCache, SymbolTable};
use mtf::batch::{BatchSpec, Kernel, SortedColumns};
use mtf::{Bar, Side, Tick, Timeframe};

pub const TICKD: &str = env!("CARGO_BIN_EXE_tickd");
pub const TICKCTL: &str = env!("CARGO_BIN_EXE_tickctl");

/// `<repo>/../shared/data`, or `$TICKD_SHARED_DATA`; `None` with a SKIP line.
pub fn shared_data(test: &str) -> Option<PathBuf> {
    let p = match std::env::var_os("TICKD_SHARED_DATA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIP: {test} (../shared/data not found)");
        None
    }
}

/// A running daemon in its own temporary directory.
pub struct Daemon {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub sets: Vec<String>,
}

pub fn base_sets(dir: &Path) -> Vec<String> {
    vec![
        format!("daemon.data_dir={}", dir.join("data").display()),
        format!("daemon.log_file={}", dir.join("tickd.log").display()),
        format!("ring.path={}", dir.join("tickd.ring").display()),
        format!("ring.snapshot_path={}", dir.join("tickd.snap").display()),
        "ingest.udp_binary=127.0.0.1:0".into(),
        "ingest.tcp_binary=127.0.0.1:0".into(),
        "ingest.ilp_tcp=127.0.0.1:0".into(),
        "ingest.ilp_udp=127.0.0.1:0".into(),
        "ingest.cores=[]".into(),
        "workers.cores=[]".into(),
        "metrics.listen=127.0.0.1:0".into(),
        "report.interval=1s".into(),
        "ring.capacity=1048576".into(),
    ]
}

impl Daemon {
    pub fn start(extra: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let mut sets = base_sets(dir.path());
        sets.extend(extra.iter().map(|s| s.to_string()));
        Daemon::spawn(dir, sets, &[])
    }

    pub fn spawn(dir: tempfile::TempDir, sets: Vec<String>, env: &[(&str, String)]) -> Daemon {
        let data = dir.path().join("data");
        let _ = std::fs::remove_file(DaemonState::path_in(&data));
        let mut cmd = Command::new(TICKD);
        for s in &sets {
            cmd.args(["--set", s]);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut d = Daemon {
            child,
            dir,
            data,
            sets,
        };
        d.wait_ready();
        d
    }

    fn wait_ready(&mut self) {
        let t0 = Instant::now();
        loop {
            if let Ok(st) = DaemonState::read(&self.data)
                && st.pid == self.child.id()
            {
                return;
            }
            if let Ok(Some(s)) = self.child.try_wait() {
                panic!("tickd exited at start: {s}\n{}", self.log());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "tickd not ready in 30 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn state(&self) -> DaemonState {
        DaemonState::read(&self.data).unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tickd.log")).unwrap_or_default()
    }

    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(TICKCTL)
            .arg("--data-dir")
            .arg(&self.data)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn ctl_ok(&self, args: &[&str]) -> String {
        let o = self.ctl(args);
        assert!(
            o.status.success(),
            "tickctl {args:?}: {}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    pub fn stats(&self) -> StatsReport {
        let addr = self.state().endpoints.metrics.unwrap();
        let body = engine::metrics::http_get(addr, "/stats.json", Duration::from_secs(5)).unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// Wait until `f(stats)` holds (or panic after `secs`).
    pub fn wait_for(&self, secs: u64, what: &str, f: impl Fn(&StatsReport) -> bool) -> StatsReport {
        let t0 = Instant::now();
        loop {
            let s = self.stats();
            if f(&s) {
                return s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}: {:?}",
                s.counters
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM; the daemon must exit 0 within 5 s.
    pub fn stop(mut self) -> (tempfile::TempDir, Vec<String>, Duration) {
        let t0 = Instant::now();
        // SAFETY: `kill` has no memory-safety preconditions; the pid is our child's.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "tickd did not exit within 5 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(status.success(), "tickd exit: {status}\n{}", self.log());
        let el = t0.elapsed();
        (self.dir, self.sets, el)
    }

    /// SIGKILL, no cleanup.
    pub fn kill9(mut self) -> (tempfile::TempDir, Vec<String>) {
        self.child.kill().unwrap();
        let _: ExitStatus = self.child.wait().unwrap();
        (self.dir, self.sets)
    }
}

/// Import a file the way tickctl does (format guessed by name and first line).
pub fn import_file(path: &Path) -> (Vec<Tick>, Arc<SymbolTable>) {
    let format = engine_guess(path);
    let table = Arc::new(SymbolTable::new(1 << 16));
    let mut cache = SymbolCache::new(table.clone());
    let mut imp =
        Importer::open(Input::Path(path.to_path_buf()), ImportOptions::new(format)).unwrap();
    let mut buf = vec![Tick::default(); 4096];
    let mut out = Vec::new();
    loop {
        let n = imp.next_batch(&mut cache, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    (out, table)
}

fn engine_guess(path: &Path) -> Format {
    use std::io::{BufRead, BufReader, Read};
    let mut magic = [0u8; 2];
    let n = std::fs::File::open(path).unwrap().read(&mut magic).unwrap();
    let f = std::fs::File::open(path).unwrap();
    let mut r: Box<dyn BufRead> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f)))
    } else {
        Box::new(BufReader::new(f))
    };
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap();
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Format::guess(&path.to_string_lossy(), &line).expect("a known format")
}

/// Key of a bar: (symbol name, timeframe, start, quote bar).
pub type Key = (String, Timeframe, i64, bool);

/// Closed bars of the `mtf` batch kernel (scalar reference) over `ticks`:
/// per symbol and kind, every bucket whose end the symbol's watermark reached.
pub fn batch_reference(
    ticks: &[Tick],
    names: &SymbolTable,
    tfs: &[Timeframe],
) -> BTreeMap<Key, Bar> {
    let mut by: BTreeMap<(u32, bool), Vec<&Tick>> = BTreeMap::new();
    for t in ticks {
        by.entry((t.symbol, t.is_quote())).or_default().push(t);
    }
    let mut out = BTreeMap::new();
    for ((sym, quotes), ts) in by {
        let name = names.name(sym).unwrap().as_str().to_string();
        let time: Vec<i64> = ts.iter().map(|t| t.ts_event).collect();
        let price: Vec<f64> = ts
            .iter()
            .map(|t| if quotes { t.mid() } else { t.price })
            .collect();
        let size: Vec<f64> = ts
            .iter()
            .map(|t| if quotes { 0.0 } else { t.size })
            .collect();
        let side: Vec<Side> = ts
            .iter()
            .map(|t| if quotes { Side::Unknown } else { t.side })
            .collect();
        let cols = SortedColumns::new(&time, &price, &size, Some(&side)).unwrap_or_else(|e| {
            panic!(
                "{name} ({}) not sorted by event time: {e}",
                if quotes { "quotes" } else { "trades" }
            )
        });
        let wm = *time.iter().max().unwrap();
        for &tf in tfs {
            let mut bars = Vec::new();
            let spec = BatchSpec {
                symbol: sym,
                timeframe: tf,
                origin_ns: 0,
                flags: if quotes { Bar::FLAG_QUOTES } else { 0 },
            };
            Kernel::Scalar.aggregate(&cols, &spec, &mut bars);
            for b in bars {
                if b.end <= wm {
                    out.insert((name.clone(), tf, b.start, quotes), b);
                }
            }
        }
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// Compare a bar from JSON (tickctl output) with a reference bar: open,
/// high, low, close, count, first/last time exactly; sums within 1e-12.
pub fn assert_bar_eq(got: &serde_json::Value, want: &Bar, ctx: &str) {
    let f = |k: &str| {
        got[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{ctx}: no {k} in {got}"))
    };
    let i = |k: &str| {
        got[k]
            .as_i64()
            .unwrap_or_else(|| panic!("{ctx}: no {k} in {got}"))
    };
    assert_eq!(f("open"), want.open, "{ctx} open");
    assert_eq!(f("high"), want.high, "{ctx} high");
    assert_eq!(f("low"), want.low, "{ctx} low");
    assert_eq!(f("close"), want.close, "{ctx} close");
    assert_eq!(i("count") as u64, want.count, "{ctx} count");
    assert_eq!(i("first_ts"), want.first_ts, "{ctx} first_ts");
    assert_eq!(i("last_ts"), want.last_ts, "{ctx} last_ts");
    assert_eq!(i("end"), want.end, "{ctx} end");
    for (k, w) in [
        ("volume", want.volume),
        ("vwap", want.vwap),
        ("buy_volume", want.buy_volume),
        ("sell_volume", want.sell_volume),
    ] {
        assert!(close(f(k), w), "{ctx} {k}: got {} want {w}", f(k));
    }
}

/// Parse JSON lines of bars into a map by key (the companion `~q` symbol
/// names quote bars).
pub fn bars_by_key(jsonl: &str) -> BTreeMap<Key, serde_json::Value> {
    let mut m = BTreeMap::new();
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] != "bar" {
            continue;
        }
        let mut name = v["symbol"].as_str().unwrap().to_string();
        let quotes = v["quotes"].as_bool().unwrap();
        if quotes {
            name = name.trim_end_matches("~q").to_string();
        }
        let tf: Timeframe = v["timeframe"].as_str().unwrap().parse().unwrap();
        let start = v["start"].as_i64().unwrap();
        m.insert((name, tf, start, quotes), v);
    }
    m
}
