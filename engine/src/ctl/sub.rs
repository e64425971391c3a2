//! `tickctl subscribe` and `tickctl snapshot`: the shared-memory ring and
//! snapshot table, read with the `ring` crate's subscriber API.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mtf::Timeframe;
use ring::{BarKind, ReaderOptions, Received, Record, StartAt, Subscriber};

use super::table::{BAR_COLUMNS, bar_cells, bar_json, csv_field, print_table, tick_json};
use super::{CtlError, OutFormat, SnapshotArgs, SubscribeArgs};

fn ring_files(
    data_dir: &Path,
    ring: &Option<PathBuf>,
    snap: &Option<PathBuf>,
) -> Result<Vec<(PathBuf, PathBuf)>, CtlError> {
    if let (Some(r), Some(s)) = (ring, snap) {
        return Ok(vec![(r.clone(), s.clone())]);
    }
    let st = super::daemon_state(data_dir)?;
    if st.rings.is_empty() {
        return Err(CtlError::NoDaemon(
            "the daemon publishes no ring (ring.enabled = false)".into(),
        ));
    }
    Ok(st.rings)
}

fn kind_text(k: BarKind) -> &'static str {
    match k {
        BarKind::Closed => "closed",
        BarKind::Corrected => "corrected",
        BarKind::Update => "update",
    }
}

fn parse_tfs(v: &[String]) -> Result<Option<Vec<Timeframe>>, CtlError> {
    if v.is_empty() {
        return Ok(None);
    }
    v.iter()
        .map(|s| {
            s.parse::<Timeframe>()
                .map_err(|e| CtlError::Usage(format!("--timeframes: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Print live records as JSON lines.
pub fn subscribe(data_dir: &Path, a: &SubscribeArgs) -> Result<(), CtlError> {
    let files = ring_files(data_dir, &a.ring, &a.snapshot_file)?;
    let tfs = parse_tfs(&a.timeframes)?;
    let opts = ReaderOptions {
        start: if a.from_oldest {
            StartAt::Oldest
        } else {
            StartAt::Newest
        },
        require_live: !a.allow_dead,
        ..ReaderOptions::default()
    };
    let mut subs = Vec::new();
    for (r, s) in &files {
        let mut sub = Subscriber::open(r, s, &opts)
            .map_err(|e| CtlError::NoDaemon(format!("cannot open ring {}: {e}", r.display())))?;
        if !a.symbols.is_empty() || tfs.is_some() {
            let names: Vec<&str> = a.symbols.iter().map(String::as_str).collect();
            if names.is_empty() {
                // Timeframes only: every symbol.
                let mut f = ring::Filter::all();
                if let Some(t) = &tfs {
                    f = f.timeframes(t.iter().copied());
                }
                sub.ring().set_filter(f);
            } else {
                sub.subscribe(&names, tfs.as_deref())
                    .map_err(|e| CtlError::Failed(e.to_string()))?;
            }
        }
        subs.push(sub);
    }
    if !a.symbols.is_empty() {
        // A symbol must be known to at least one ring (its worker's).
        for name in &a.symbols {
            let mut known = false;
            for sub in &mut subs {
                if sub
                    .snapshot_reader()
                    .symbol_id(name)
                    .map_err(|e| CtlError::Failed(e.to_string()))?
                    .is_some()
                {
                    known = true;
                }
            }
            if !known {
                return Err(CtlError::UnknownSymbol(name.clone()));
            }
        }
    }
    let mut names: HashMap<(usize, u32), String> = HashMap::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    let mut last = Instant::now();
    let idle = a.idle_exit.map(Duration::from_secs_f64);
    let mut shut = vec![false; subs.len()];
    loop {
        let mut any = false;
        for (i, sub) in subs.iter_mut().enumerate() {
            while let Some(r) = sub.next() {
                any = true;
                let line = match r {
                    Received::Lapped { lost } => {
                        eprintln!("tickctl: lapped by the writer: {lost} records lost");
                        Some(serde_json::json!({"type": "lapped", "lost": lost}))
                    }
                    Received::Record { record, .. } => match record {
                        Record::Bar { kind, bar } => {
                            if kind == BarKind::Update && !a.updates {
                                None
                            } else {
                                let name = name_of(&mut names, i, sub, bar.symbol);
                                Some(bar_json(kind_text(kind), &name, &bar))
                            }
                        }
                        Record::Tick(t) if a.ticks => {
                            let name = name_of(&mut names, i, sub, t.symbol);
                            Some(tick_json(&name, &t))
                        }
                        Record::FeedGap {
                            feed,
                            expected,
                            received,
                            ..
                        } => Some(serde_json::json!({
                            "type": "gap", "feed": feed, "expected": expected, "received": received
                        })),
                        Record::Shutdown { ts } => {
                            shut[i] = true;
                            Some(serde_json::json!({"type": "shutdown", "ts": ts}))
                        }
                        _ => None,
                    },
                };
                if let Some(v) = line {
                    if writeln!(out, "{v}").is_err() {
                        return Ok(()); // stdout closed (e.g. `| head`)
                    }
                    printed += 1;
                    if a.count.is_some_and(|c| printed >= c) {
                        let _ = out.flush();
                        return Ok(());
                    }
                }
            }
        }
        if shut.iter().all(|&s| s) {
            // Every writer stopped: nothing more can come.
            let _ = out.flush();
            return Ok(());
        }
        if any {
            last = Instant::now();
        } else {
            let _ = out.flush();
            if idle.is_some_and(|d| last.elapsed() >= d) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

fn name_of(
    cache: &mut HashMap<(usize, u32), String>,
    ring: usize,
    sub: &mut Subscriber,
    id: u32,
) -> String {
    if let Some(n) = cache.get(&(ring, id)) {
        return n.clone();
    }
    let n = sub
        .snapshot_reader()
        .symbol_name(id)
        .ok()
        .flatten()
        .unwrap_or_else(|| format!("#{id}"));
    cache.insert((ring, id), n.clone());
    n
}

/// Print the latest bars of one symbol.
pub fn snapshot(data_dir: &Path, a: &SnapshotArgs) -> Result<(), CtlError> {
    let files = ring_files(data_dir, &None, &None)?;
    let want: Option<Timeframe> = match &a.timeframe {
        Some(t) => Some(
            t.parse()
                .map_err(|e| CtlError::Usage(format!("--timeframe: {e}")))?,
        ),
        None => None,
    };
    let opts = ReaderOptions {
        start: StartAt::Newest,
        require_live: false,
        ..ReaderOptions::default()
    };
    let mut rows = Vec::new();
    let mut known = false;
    for (r, s) in &files {
        let mut sub = Subscriber::open(r, s, &opts)
            .map_err(|e| CtlError::NoDaemon(format!("cannot open {}: {e}", s.display())))?;
        let tfs: Vec<Timeframe> = sub.snapshot_reader().timeframes().to_vec();
        if let Some(t) = want
            && !tfs.contains(&t)
        {
            return Err(CtlError::Usage(format!(
                "timeframe {t} is not built by the daemon (it builds {})",
                tfs.iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        for tf in tfs {
            if want.is_some_and(|w| w != tf) {
                continue;
            }
            match sub.snapshot(&a.symbol, tf) {
                Ok(Some((kind, bar))) => {
                    known = true;
                    rows.push((kind, bar));
                }
                Ok(None) => {}
                Err(e) => return Err(CtlError::Failed(e.to_string())),
            }
        }
        if sub
            .snapshot_reader()
            .symbol_id(&a.symbol)
            .map_err(|e| CtlError::Failed(e.to_string()))?
            .is_some()
        {
            known = true;
        }
    }
    if !known {
        return Err(CtlError::UnknownSymbol(a.symbol.clone()));
    }
    match a.format {
        OutFormat::Json => {
            for (k, b) in &rows {
                println!("{}", bar_json(kind_text(*k), &a.symbol, b));
            }
        }
        OutFormat::Csv => {
            println!("{}", BAR_COLUMNS.join(","));
            for (k, b) in &rows {
                let cells: Vec<String> = bar_cells(kind_text(*k), &a.symbol, b)
                    .iter()
                    .map(|c| csv_field(c))
                    .collect();
                println!("{}", cells.join(","));
            }
        }
        OutFormat::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|(k, b)| bar_cells(kind_text(*k), &a.symbol, b))
                .collect();
            print_table(&BAR_COLUMNS, &cells);
        }
    }
    Ok(())
}
