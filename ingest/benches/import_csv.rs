//! Question: how many rows per second do the LEAN and Tardis CSV importers
//! parse from memory (uncompressed) on one core, and how does that compare
//! with polars' `read_csv` on the same file in the same run?
//!
//! Run: `cargo bench -p ingest --bench import_csv` (needs `../shared/data`;
//! the polars half needs `python3` with `pip install polars`, else it is
//! skipped with a note). Environment: `IMPORT_BENCH_REPEATS` (default 7),
//! `PYTHON` (default `python3`).
//!
//! Profiling: `IMPORT_BENCH_PROFILE=lean_spy_trades` (or `tardis_trades`) runs
//! only that in-memory import (`lean_spy_trades_file`, `tardis_trades_file`:
//! the import from the file), `IMPORT_BENCH_REPEATS` times (default 1), and
//! exits — for instruction counts that do not depend on the machine's load:
//! `valgrind --tool=callgrind --toggle-collect='*Importer*next_batch*' <bench binary> --bench`
//! then `callgrind_annotate` (the bench binary is the `import_csv-*` file in
//! `target/release/deps`), or `perf record -g` on the same command.
//!
//! The target, printed last as `TARGET` lines: one core parses at
//! least 10M rows/s, and polars' `read_csv` *as users run it* (default
//! threads: all cores) takes at least 3x our wall time, both reading the same
//! file from the page cache. The other ratios (polars on one thread, CPU time, our
//! in-memory import) are context. Wall-clock figures need a quiet machine
//! (the load average is printed at the start and the end); on a loaded one,
//! compare instruction counts (below) or the CPU-time columns.
//!
//! Also timed, without a rival: the LEAN zip and the hftbacktest gzip capture
//! end to end (decompression included).
//!
//! Inputs, written once to a temporary directory and read by both sides:
//! - LEAN: `spy/20131008_trade.zip` unzipped (451,545 rows, header-less);
//! - Tardis: `trades.csv` with its 9,999 rows repeated to 999,900 rows.
//!
//! Each timing is the whole importer path from bytes in memory: line
//! splitting, field parsing, time-zone conversion, symbol lookup, validation,
//! writing ticks into a 4,096-tick buffer. The median of the repeats is reported.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use ingest::import::{Format, ImportOptions, Importer, Input, LeanOptions};
use ingest::{SymbolCache, SymbolTable};
use mtf::Tick;

fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("TICKD_SHARED_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    dir.is_dir().then_some(dir)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU time of the calling thread, s (`CLOCK_THREAD_CPUTIME_ID`: the
/// scheduler's exact runtime, so a loaded machine's waiting time is not
/// counted; `/proc/thread-self/schedstat`, read before, moves in scheduler
/// ticks of 4 ms here, too coarse for 8 ms imports).
fn thread_cpu() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable timespec; the clock id is a valid constant.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (r == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// (wall s, CPU s) per full import of `data` (named `name`), `repeats` times; checks the row count.
fn time_import(
    name: &str,
    data: &Arc<[u8]>,
    format: &Format,
    rows: u64,
    repeats: usize,
) -> (Vec<f64>, Vec<f64>) {
    let input = Input::Bytes {
        name: name.to_owned(),
        data: data.clone(),
    };
    time_input(&input, format, rows, repeats)
}

/// Like [`time_import`], for any input (a file: read through the line buffer).
fn time_input(input: &Input, format: &Format, rows: u64, repeats: usize) -> (Vec<f64>, Vec<f64>) {
    let table = Arc::new(SymbolTable::new(16));
    let mut cache = SymbolCache::new(table);
    let mut buf = vec![Tick::default(); 4096];
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..repeats + 1 {
        let input = input.clone();
        let c0 = thread_cpu();
        let t0 = Instant::now();
        let mut imp = Importer::open(input, ImportOptions::new(format.clone())).unwrap();
        let mut sum = 0.0;
        loop {
            let n = imp.next_batch(&mut cache, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            sum += buf[n - 1].price;
        }
        let dt = t0.elapsed().as_secs_f64();
        let dc = match (c0, thread_cpu()) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        };
        std::hint::black_box(sum);
        assert_eq!(imp.counts().ticks, rows, "{}", imp.counts());
        times.push(dt);
        cpu.push(dc);
    }
    // the first run warms caches up
    times.remove(0);
    cpu.remove(0);
    (times, cpu)
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run once, quickly
    let quick = !std::env::args().any(|a| a == "--bench");
    let Some(dir) = data_dir() else {
        eprintln!("SKIP: import_csv bench (../shared/data not found)");
        return;
    };
    let repeats: usize = if quick {
        1
    } else {
        std::env::var("IMPORT_BENCH_REPEATS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(7)
    };
    let tmp = tempfile::tempdir().unwrap();

    // LEAN: the SPY day unzipped, under a LEAN-shaped path (asset, symbol and date come from it)
    let mut lean = Vec::new();
    let f = std::fs::File::open(dir.join("lean/equity/usa/tick/spy/20131008_trade.zip")).unwrap();
    zip::ZipArchive::new(f)
        .unwrap()
        .by_index(0)
        .unwrap()
        .read_to_end(&mut lean)
        .unwrap();
    let lean_name = "equity/usa/tick/spy/20131008_trade.csv";
    let lean_path = tmp.path().join(lean_name);
    write(&lean_path, &lean);

    // Tardis: the trades sample repeated 100×, one header
    let tardis_src = std::fs::read(dir.join("nautilus_trader/tardis/trades.csv")).unwrap();
    let nl = tardis_src.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut tardis = tardis_src[..nl].to_vec();
    for _ in 0..100 {
        tardis.extend_from_slice(&tardis_src[nl..]);
    }
    let tardis_path = tmp.path().join("tardis_trades.csv");
    write(&tardis_path, &tardis);

    let cases = [
        (
            "lean_spy_trades",
            lean_name,
            Arc::<[u8]>::from(lean),
            Format::Lean(LeanOptions::default()),
            451_545u64,
        ),
        (
            "tardis_trades",
            "tardis_trades.csv",
            Arc::<[u8]>::from(tardis),
            Format::Tardis,
            999_900,
        ),
    ];
    if let Ok(only) = std::env::var("IMPORT_BENCH_PROFILE") {
        let repeats = std::env::var("IMPORT_BENCH_REPEATS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        // `<case>_file`: the same import from the file (the streaming line buffer)
        let (case, file) = match only.strip_suffix("_file") {
            Some(c) => (c, true),
            None => (only.as_str(), false),
        };
        let Some((label, name, data, format, rows)) = cases.iter().find(|c| c.0 == case) else {
            eprintln!(
                "IMPORT_BENCH_PROFILE: no case {only:?} (lean_spy_trades, tardis_trades, and each with _file)"
            );
            std::process::exit(2);
        };
        let (_, cpu) = if file {
            let path = if *label == "lean_spy_trades" {
                &lean_path
            } else {
                &tardis_path
            };
            time_input(&Input::Path(path.clone()), format, *rows, repeats)
        } else {
            time_import(name, data, format, *rows, repeats)
        };
        println!(
            "{only}: {repeats} imports of {rows} rows after one warm-up, median cpu {:.2} ms",
            median(cpu) * 1e3
        );
        return;
    }
    println!(
        "load average at the start: {} ({} CPUs)",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut ours = Vec::new();
    for (label, name, data, format, rows) in &cases {
        let (times, cpu) = time_import(name, data, format, *rows, repeats);
        let (t, c) = (median(times), median(cpu));
        let mb = data.len() as f64 / 1e6;
        println!(
            "{label:<16} tickd {rows:>9} rows {mb:>6.1} MB: median wall {:>7.2} ms ({:>5.1} M rows/s), cpu {:>7.2} ms ({:>5.1} M rows/s, {:>4.0} MB/s)",
            t * 1e3,
            *rows as f64 / t / 1e6,
            c * 1e3,
            *rows as f64 / c / 1e6,
            mb / c,
        );
        ours.push((t, c));
    }
    // the same files read from disk (page cache) through the 256 KiB line buffer, as polars reads them
    let mut ours_file = Vec::new();
    for ((label, _, _, format, rows), path) in cases.iter().zip([&lean_path, &tardis_path]) {
        let (times, cpu) = time_input(&Input::Path(path.to_path_buf()), format, *rows, repeats);
        let (t, c) = (median(times), median(cpu));
        ours_file.push((t, c));
        println!(
            "{label:<16} tickd from the file: median wall {:>7.2} ms, cpu {:>7.2} ms ({:>5.1} M rows/s)",
            t * 1e3,
            c * 1e3,
            *rows as f64 / c / 1e6,
        );
    }

    // end to end from the compressed files as published (inflate / gunzip included)
    let compressed = [
        (
            "lean_spy_zip",
            "equity/usa/tick/spy/20131008_trade.zip",
            "lean/equity/usa/tick/spy/20131008_trade.zip",
            Format::Lean(LeanOptions::default()),
            451_545u64,
        ),
        (
            "hftbacktest_gz",
            "btcusdt_20240809.gz",
            "hftbacktest/spot/btcusdt_20240809.gz",
            Format::HftBinance,
            55_281,
        ),
    ];
    for (label, name, rel, format, ticks) in compressed {
        let data: Arc<[u8]> = Arc::from(std::fs::read(dir.join(rel)).unwrap());
        let (times, cpu) = time_import(name, &data, &format, ticks, repeats);
        let (t, c) = (median(times), median(cpu));
        println!(
            "{label:<16} tickd {ticks:>9} ticks {:>5.1} MB compressed: median wall {:>7.2} ms, cpu {:>7.2} ms ({:>5.1} M ticks/s)",
            data.len() as f64 / 1e6,
            t * 1e3,
            c * 1e3,
            ticks as f64 / c / 1e6,
        );
    }
    if quick {
        return;
    }

    println!(
        "fairness: polars reads the same files (every column, types inferred) in the same run; \
         'threads 1' is POLARS_MAX_THREADS=1 against our one thread; polars cpu is its process \
         CPU time (all threads), ours the importing thread's; x cpu (mem) compares our in-memory \
         import, x cpu (file) our import from the same file"
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut targets = Vec::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/import_polars.py");
    for threads in ["1", "default"] {
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .arg(repeats.to_string())
            .arg(format!("lean_spy_trades={}:noheader", lean_path.display()))
            .arg(format!("tardis_trades={}", tardis_path.display()));
        if threads == "1" {
            cmd.env("POLARS_MAX_THREADS", "1");
        }
        let out = match cmd.output() {
            Ok(o) if o.status.success() => o,
            Ok(o) => {
                eprintln!(
                    "SKIP: polars comparison ({})",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                return;
            }
            Err(e) => {
                eprintln!("SKIP: polars comparison ({python}: {e})");
                return;
            }
        };
        let json = String::from_utf8_lossy(&out.stdout).to_string();
        for (((label, _, _, _, rows), ours), file) in cases.iter().zip(&ours).zip(&ours_file) {
            let Some(times) = field_list(&json, label) else {
                eprintln!("SKIP: no polars timing for {label}: {json}");
                continue;
            };
            let t = median(times);
            let c = field_list(&json, &format!("{label}_cpu"))
                .map(median)
                .unwrap_or(f64::NAN);
            println!(
                "{label:<16} polars read_csv (threads {threads:>7}): median wall {:>7.2} ms, cpu {:>7.2} ms ({:>5.1} M rows/s) | tickd faster: {:.1}x wall (file), {:.1}x wall (mem), {:.1}x cpu (mem), {:.1}x cpu (file)",
                t * 1e3,
                c * 1e3,
                *rows as f64 / c / 1e6,
                t / file.0,
                t / ours.0,
                c / ours.1,
                c / file.1,
            );
            if threads == "default" {
                targets.push(format!(
                    "{label:<16} TARGET (issue 3): tickd one core from the file {:>5.1} M rows/s wall, {:>5.1} M rows/s cpu (need >= 10); \
                     polars read_csv as users run it (default threads, {}) / tickd, wall, file vs file: {:.2}x (need >= 3)",
                    *rows as f64 / file.0 / 1e6,
                    *rows as f64 / file.1 / 1e6,
                    field_num(&json, "threads")
                        .map_or("? threads".to_string(), |n| format!("{n} threads")),
                    t / file.0,
                ));
            }
        }
    }
    for line in &targets {
        println!("{line}");
    }
    println!("load average at the end: {}", load_average());
}

/// `/proc/loadavg`'s three averages (wall-clock figures mean little above ~1 per core).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// The number under `"key": n` in the script's one-line JSON.
fn field_num(json: &str, key: &str) -> Option<f64> {
    let at = json.find(&format!("\"{key}\": "))? + key.len() + 4;
    let rest = &json[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

/// The list of numbers under `"key": [...]` in the script's one-line JSON.
fn field_list(json: &str, key: &str) -> Option<Vec<f64>> {
    let at = json.find(&format!("\"{key}\": ["))? + key.len() + 5;
    let end = at + json[at..].find(']')?;
    json[at..end]
        .split(',')
        .map(|s| s.trim().parse().ok())
        .collect()
}
