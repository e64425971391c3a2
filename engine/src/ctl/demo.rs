//! `tickctl demo`: start `tickd` with the built-in defaults in a temporary
//! directory (loopback ports chosen by the OS), replay the bundled Binance
//! BTCUSDT capture over TCP, print bars as they close (read live from the
//! shared-memory ring), then the daemon's latency report, and stop it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use ring::{BarKind, ReaderOptions, Received, Record, StartAt, Subscriber};

use super::send::{FileFormat, SendArgs, Via};
use super::table::ts_text;
use super::{CtlError, daemon_state};

/// The bundled sample (MIT, see `engine/samples/ATTRIBUTION.md`).
pub const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/btcusdt_20240809.gz");

/// `tickctl demo`.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// The capture to replay (default: the bundled BTCUSDT sample).
    #[arg(long)]
    pub sample: Option<PathBuf>,
    /// Replay speed factor of the recorded times (the sample spans 5 minutes).
    #[arg(long, default_value_t = 20.0)]
    pub speed: f64,
    /// The tickd binary (default: next to tickctl).
    #[arg(long)]
    pub tickd: Option<PathBuf>,
    /// Also print every 1 s bar (default: 1m and 5m bars only).
    #[arg(long)]
    pub all_bars: bool,
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn tickd_path(a: &DemoArgs) -> Result<PathBuf, CtlError> {
    if let Some(p) = &a.tickd {
        return Ok(p.clone());
    }
    let me = std::env::current_exe().map_err(|e| CtlError::Failed(e.to_string()))?;
    let p = me.with_file_name("tickd");
    if p.is_file() {
        Ok(p)
    } else {
        Err(CtlError::Input(format!(
            "{} not found: build it (cargo build --release) or pass --tickd",
            p.display()
        )))
    }
}

/// Run the demo.
pub fn run(a: &DemoArgs) -> Result<(), CtlError> {
    let sample = a.sample.clone().unwrap_or_else(|| PathBuf::from(SAMPLE));
    if !sample.is_file() {
        return Err(CtlError::Input(format!(
            "{}: no such file",
            sample.display()
        )));
    }
    let tickd = tickd_path(a)?;
    let dir = tempfile::Builder::new()
        .prefix("tickd-demo-")
        .tempdir()
        .map_err(|e| CtlError::Failed(e.to_string()))?;
    let data = dir.path().join("data");
    let shm = Path::new("/dev/shm");
    let shm_dir = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        dir.path().to_path_buf()
    };
    let tag = format!("tickd-demo-{}", std::process::id());
    let ring = shm_dir.join(format!("{tag}.ring"));
    let snap = shm_dir.join(format!("{tag}.snap"));
    println!(
        "tickd demo: {} in {}",
        tickd.display(),
        dir.path().display()
    );
    println!(
        "  built-in defaults, except: ports chosen by the OS, ring in {}, report every 2 s",
        ring.display()
    );
    let log = std::fs::File::create(dir.path().join("tickd.log"))
        .map_err(|e| CtlError::Failed(e.to_string()))?;
    let child = Command::new(&tickd)
        .current_dir(dir.path())
        .args(["--set", &format!("daemon.data_dir={}", data.display())])
        .args(["--set", &format!("ring.path={}", ring.display())])
        .args(["--set", &format!("ring.snapshot_path={}", snap.display())])
        .args(["--set", "ingest.udp_binary=127.0.0.1:0"])
        .args(["--set", "ingest.tcp_binary=127.0.0.1:0"])
        .args(["--set", "ingest.ilp_tcp=127.0.0.1:0"])
        .args(["--set", "metrics.listen=127.0.0.1:0"])
        .args(["--set", "report.interval=2s"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| CtlError::Failed(format!("cannot start {}: {e}", tickd.display())))?;
    let mut daemon = Daemon(child);
    let t0 = Instant::now();
    let st = loop {
        if let Ok(st) = daemon_state(&data) {
            break st;
        }
        if let Ok(Some(status)) = daemon.0.try_wait() {
            let log = std::fs::read_to_string(dir.path().join("tickd.log")).unwrap_or_default();
            return Err(CtlError::Failed(format!("tickd exited ({status}):\n{log}")));
        }
        if t0.elapsed() > Duration::from_secs(20) {
            return Err(CtlError::Failed(
                "tickd did not become ready in 20 s".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    println!(
        "  tickd ready in {} ms: tcp {}, metrics http://{}/metrics",
        t0.elapsed().as_millis(),
        st.endpoints
            .tcp_binary
            .map(|a| a.to_string())
            .unwrap_or_default(),
        st.endpoints
            .metrics
            .map(|a| a.to_string())
            .unwrap_or_default()
    );

    // Watch the ring while the replay runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let rings = st.rings.clone();
        let all = a.all_bars;
        std::thread::spawn(move || watch(&rings, all, &stop))
    };
    println!(
        "\nreplaying {} at {}x over TCP; bars as they close (event time, UTC):\n",
        sample.display(),
        a.speed
    );
    let send = SendArgs {
        files: vec![sample],
        synthetic: false,
        symbols: 1,
        seed: 1,
        start_ns: None,
        skip: 0,
        format: FileFormat::HftBinance,
        symbol: None,
        via: Via::Tcp,
        to: None,
        rate: None,
        speed: Some(a.speed),
        max: None,
        window: 32_768,
        stream_id: None,
        table: "ticks".into(),
        quiet: true,
        json: false,
    };
    let sent = super::send::run(&data, &send);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Release);
    let bars = watcher.join().unwrap_or(0);
    let sent = sent?;
    println!("\n{sent}");
    println!("{bars} bars received from the ring\n");

    let report = super::stats::fetch(&data, None)?;
    println!("latency report (receive time -> stage), from the daemon's histograms:\n");
    print!("{}", super::stats::render(&report));

    // Stop: SIGTERM, drain, exit 0.
    let pid = daemon.0.id() as libc::pid_t;
    // SAFETY: `kill` has no memory-safety preconditions; `pid` is our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let t1 = Instant::now();
    let status = loop {
        if let Ok(Some(s)) = daemon.0.try_wait() {
            break Some(s);
        }
        if t1.elapsed() > Duration::from_secs(10) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    match status {
        Some(s) if s.success() => println!(
            "\ntickd stopped cleanly on SIGTERM in {} ms (exit 0)",
            t1.elapsed().as_millis()
        ),
        Some(s) => println!("\ntickd exited with {s}"),
        None => println!("\ntickd did not stop within 10 s"),
    }
    let log = std::fs::read_to_string(dir.path().join("tickd.log")).unwrap_or_default();
    let reports: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ticks/s processed"))
        .collect();
    if let Some(last) = reports.last() {
        println!(
            "last periodic report in the daemon's log:\n  {}",
            last.trim()
        );
    }
    let _ = std::fs::remove_file(&ring);
    let _ = std::fs::remove_file(&snap);
    Ok(())
}

/// At most 6 decimals, trailing zeros dropped (display only; queries print exact values).
fn short(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn watch(rings: &[(PathBuf, PathBuf)], all: bool, stop: &std::sync::atomic::AtomicBool) -> u64 {
    let opts = ReaderOptions {
        start: StartAt::Oldest,
        ..ReaderOptions::default()
    };
    let mut subs: Vec<Subscriber> = rings
        .iter()
        .filter_map(|(r, s)| Subscriber::open(r, s, &opts).ok())
        .collect();
    let mut n = 0u64;
    let mut names = std::collections::HashMap::new();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    println!(
        "{:<9} {:<4} {:<5} {:<24} {:>12} {:>12} {:>12} {:>12} {:>12} {:>7}",
        "symbol", "tf", "src", "start", "open", "high", "low", "close", "volume", "ticks"
    );
    while !stop.load(std::sync::atomic::Ordering::Acquire) {
        let mut any = false;
        for sub in &mut subs {
            while let Some(r) = sub.next() {
                any = true;
                if let Received::Record {
                    record: Record::Bar { kind, bar },
                    ..
                } = r
                {
                    if kind == BarKind::Update {
                        continue;
                    }
                    n += 1;
                    if !all && bar.timeframe < mtf::Timeframe::M1 {
                        // The latest 1 s trade bar, redrawn in place on a terminal.
                        if tty && bar.flags & mtf::Bar::FLAG_QUOTES == 0 {
                            use std::io::Write;
                            print!(
                                "\r\x1b[K  forming: 1s bar {} close {} volume {} ticks {}",
                                ts_text(bar.start),
                                short(bar.close),
                                short(bar.volume),
                                bar.count
                            );
                            let _ = std::io::stdout().flush();
                        }
                        continue;
                    }
                    if tty {
                        print!("\r\x1b[K");
                    }
                    let name = names
                        .entry(bar.symbol)
                        .or_insert_with(|| {
                            sub.snapshot_reader()
                                .symbol_name(bar.symbol)
                                .ok()
                                .flatten()
                                .unwrap_or_else(|| format!("#{}", bar.symbol))
                        })
                        .clone();
                    let src = if bar.flags & mtf::Bar::FLAG_QUOTES != 0 {
                        "mid"
                    } else {
                        "trade"
                    };
                    println!(
                        "{:<9} {:<4} {:<5} {:<24} {:>12} {:>12} {:>12} {:>12} {:>12} {:>7}",
                        name,
                        bar.timeframe.to_string(),
                        src,
                        ts_text(bar.start),
                        short(bar.open),
                        short(bar.high),
                        short(bar.low),
                        short(bar.close),
                        short(bar.volume),
                        bar.count
                    );
                }
            }
        }
        if !any {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    n
}
