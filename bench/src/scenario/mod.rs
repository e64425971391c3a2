//! The scenarios of issue 7, one command each:
//! `cargo run --release -p bench --bin scenario -- N [--smoke]`.
//!
//! Each writes `bench/results/scenarioN.md` (the result block: commit,
//! machine, parameters, medians, how to rerun), `scenarioN.json` (the same
//! numbers for tools), and `scenarioN.png` (a percentile-distribution plot,
//! or a throughput chart for the comparison scenario) drawn by
//! `bench/py/plot.py` with matplotlib.

pub mod s1;
pub mod s2;
pub mod s3;
pub mod s4;
pub mod s5;
pub mod s5rss;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Options shared by every scenario.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Seconds-long run for CI: same code paths, small counts.
    pub smoke: bool,
    /// Repetitions whose median is reported.
    pub runs: usize,
    /// Where results go (default `bench/results`).
    pub out_dir: PathBuf,
    /// Override of the run length (scenarios with a duration).
    pub duration: Option<Duration>,
    /// One part of a scenario with several (5: `fanout` or `rss`); all when `None`.
    pub part: Option<String>,
}

/// The load average (1, 5, 15 min) as `/proc/loadavg` shows it, or `unknown`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// The repository root (`bench/..`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `TICKD_SHARED_DATA`, else `<repo root>/../shared/data`, if it exists.
pub fn shared_data() -> Option<PathBuf> {
    let p = std::env::var_os("TICKD_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("..").join("shared").join("data"));
    p.is_dir().then_some(p)
}

/// The Python interpreter (`TICKD_PYTHON`, default `python3`).
pub fn python() -> String {
    std::env::var("TICKD_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs `bench/py/<script>` with `args`; its standard output, or why not.
pub fn run_python(script: &str, args: &[&str]) -> Result<String, String> {
    let path = repo_root().join("bench").join("py").join(script);
    let out = Command::new(python())
        .arg(&path)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python()))?;
    if !out.status.success() {
        return Err(format!(
            "{script} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Converts cumulative Prometheus buckets into percentile-distribution rows.
pub fn bucket_rows(name: &str, b: &[(u64, u64)]) -> String {
    let total = b.last().map_or(0, |x| x.1);
    let mut s = String::new();
    if total == 0 {
        return s;
    }
    for &(le, n) in b {
        if le == u64::MAX {
            continue;
        }
        let _ = writeln!(s, "{name},{:.6},{le}", 100.0 * n as f64 / total as f64);
        if n == total {
            break;
        }
    }
    s
}

/// Writes `csv` beside the results as `scenarioN.csv`, draws
/// `scenarioN.png` from it ([`plot`]: `kind`, `title`) and returns the
/// Markdown line that shows the plot.
pub fn write_plot(
    opts: &Opts,
    n: u32,
    kind: &str,
    csv: &str,
    title: &str,
) -> std::io::Result<String> {
    let csv_path = out_path(opts, n, "csv");
    std::fs::create_dir_all(&opts.out_dir)?;
    std::fs::write(&csv_path, csv)?;
    let png = out_path(opts, n, "png");
    plot(kind, &csv_path, &png, title);
    Ok(format!(
        "![scenario {n}]({})",
        png.file_name().unwrap_or_default().to_string_lossy()
    ))
}

/// Draws `png` from `csv` with `bench/py/plot.py` (`kind`: `percentiles` or `bars`).
/// A missing matplotlib is reported, not fatal: the numbers are already written.
pub fn plot(kind: &str, csv: &Path, png: &Path, title: &str) {
    let (c, p) = (csv.to_string_lossy(), png.to_string_lossy());
    match run_python("plot.py", &[kind, &c, &p, title]) {
        Ok(_) => eprintln!("plot: {}", png.display()),
        Err(e) => eprintln!("SKIP plot {}: {e}", png.display()),
    }
}

/// The header of every result block: what ran, where, on which commit.
pub fn block_header(n: u32, title: &str, opts: &Opts, command: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Scenario {n}: {title}\n");
    let _ = writeln!(
        s,
        "- Commit: `{}`{}",
        crate::sys::commit(),
        if opts.smoke {
            " — **smoke run** (CI size, not a measurement)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "- Date (UTC): {}",
        jiff_like_now().unwrap_or_else(|| "unknown".into())
    );
    let _ = writeln!(s, "- Rerun: `{command}`");
    // What else ran shows in the load average; a quiet machine reads ~1
    // here (this process).
    let load = load_average();
    let _ = writeln!(
        s,
        "- Load average (1, 5, 15 min) at the start: {load}; a 2-core VM, the load \
         generator and any rival on the same cores; medians of {} run(s).",
        opts.runs
    );
    let _ = writeln!(s, "\n<details><summary>Machine</summary>\n\n```");
    let _ = writeln!(s, "{}", crate::sys::machine_description());
    let _ = writeln!(s, "```\n</details>\n");
    s
}

fn jiff_like_now() -> Option<String> {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M"])
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Writes `scenarioN.md` and `scenarioN.json` into the output directory.
pub fn write_results(
    opts: &Opts,
    n: u32,
    md: &str,
    json: &serde_json::Value,
) -> std::io::Result<()> {
    std::fs::create_dir_all(&opts.out_dir)?;
    let suffix = if opts.smoke { "-smoke" } else { "" };
    let md_path = opts.out_dir.join(format!("scenario{n}{suffix}.md"));
    std::fs::write(&md_path, md)?;
    let js = serde_json::to_string_pretty(json).unwrap_or_else(|_| "{}".into());
    std::fs::write(
        opts.out_dir.join(format!("scenario{n}{suffix}.json")),
        js + "\n",
    )?;
    eprintln!("results: {}", md_path.display());
    Ok(())
}

/// `scenarioN[-smoke].<ext>` in the output directory.
pub fn out_path(opts: &Opts, n: u32, ext: &str) -> PathBuf {
    let suffix = if opts.smoke { "-smoke" } else { "" };
    opts.out_dir.join(format!("scenario{n}{suffix}.{ext}"))
}

/// The median of `v` (0.0 when empty).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}
