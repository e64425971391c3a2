//! The Python subscriber (`examples/subscriber.py`: mmap + struct) against a
//! live writer in this process (issue 5), and on every record form of layout
//! version 2 (bars with derived and explicit vwap, ticks in forms 0, 1 and 2,
//! events). Skips, visibly, without python3.

#![cfg(not(loom))]

#[path = "../examples/common/known.rs"]
mod known;

use known::{Known, known};
mod common;

use common::test_bar;
use mtf::{Bar, Side, Tick, Timeframe};
use ring::{BarKind, Publisher, Record, RingConfig, RingWriter, SnapshotConfig};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const RECORDS: u64 = 20_000;

/// The Python interpreter, or `None` (the test skips, visibly).
fn python(test: &str) -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if Command::new(&python).arg("--version").output().is_err() {
        eprintln!("SKIP: {test} ({python} not found)");
        return None;
    }
    Some(python)
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/subscriber.py");

#[test]
fn python_subscriber_reads_a_live_writer() {
    let Some(python) = python("python_subscriber_reads_a_live_writer") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (rp, sp) = (dir.path().join("r"), dir.path().join("s"));
    let mut p = Publisher::create(
        &rp,
        &RingConfig {
            // lines (1 or 2 per known record): smaller than RECORDS, so a
            // slow reader is lapped, live
            capacity: 1 << 13,
            group: None,
        },
        &sp,
        &SnapshotConfig {
            max_symbols: 16,
            timeframes: vec![Timeframe::M1, Timeframe::M5],
            group: None,
        },
    )
    .unwrap();
    for s in 0..10 {
        p.add_symbol(s, &format!("SYM{s}")).unwrap();
    }
    let mut child = Command::new(&python)
        .arg(SCRIPT)
        .args(["--ring".as_ref(), rp.as_os_str()])
        .args(["--snapshot".as_ref(), sp.as_os_str()])
        .args(["--start", "0", "--check", "--expect", &RECORDS.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    // Keep the heartbeat fresh while python starts.
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        tx.send(l).unwrap();
        let mut rest = String::new();
        while out.read_line(&mut rest).unwrap() > 0 {}
        rest
    });
    let line = loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(l) => break l,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                p.heartbeat();
            }
            Err(e) => panic!("subscriber exited early: {e}"),
        }
    };
    assert_eq!(line.trim(), "READY");
    // Publish in bursts the reader can follow (it is checked either way).
    for k in 0..RECORDS {
        match known(k) {
            Known::Tick(t) => {
                p.tick(&t).unwrap();
            }
            Known::Bar(kind, b) => {
                p.bar(kind, &b).unwrap();
            }
        }
        if k % 500 == 499 {
            p.heartbeat();
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let published = p.ring().published() + 1; // and the shutdown record
    p.shutdown();
    let status = child.wait().unwrap();
    let summary = reader.join().unwrap();
    eprintln!("python subscriber: {}", summary.trim());
    assert!(status.success(), "python subscriber failed: {summary}");
    assert!(summary.contains("\"error_count\": 0"), "{summary}");
    assert!(summary.contains("\"shutdown\": true"), "{summary}");
    // Exact lap counts: every record delivered or counted lost, once.
    let delivered: u64 = parse_counts(&summary).values().sum();
    let lost = summary_number(&summary, "lost");
    assert_eq!(delivered + lost, published, "{summary}");
}

/// A top-level number of a summary line.
fn summary_number(summary: &str, key: &str) -> u64 {
    let k = format!("\"{key}\": ");
    let start = summary.find(&k).unwrap() + k.len();
    summary[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A JSON value of the subscriber's flat output lines.
#[derive(Debug)]
enum V {
    I(i128),
    F(f64), // compared by bits
    S(&'static str),
    Null,
}

fn fv(x: f64) -> V {
    V::F(x)
}

/// Parses one flat JSON object line of the subscriber's output (no nesting,
/// no ", " inside strings): key → raw value text.
fn parse_flat(line: &str) -> HashMap<String, String> {
    line.trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split(", ")
        .map(|kv| {
            let (k, v) = kv.split_once(": ").unwrap_or_else(|| panic!("{line}"));
            (k.trim_matches('"').to_string(), v.to_string())
        })
        .collect()
}

fn matches(raw: &str, v: &V) -> bool {
    match v {
        V::I(i) => raw.parse::<i128>().ok() == Some(*i),
        V::F(x) => raw.parse::<f64>().map(f64::to_bits).ok() == Some(x.to_bits()),
        V::S(s) => raw == format!("\"{s}\""),
        V::Null => raw == "null",
    }
}

fn bar_fields(seq: u64, kind: &'static str, b: &Bar) -> Vec<(&'static str, V)> {
    vec![
        ("seq", V::I(seq as i128)),
        ("type", V::S("bar")),
        ("kind", V::S(kind)),
        ("symbol", V::I(b.symbol as i128)),
        ("timeframe_ms", V::I(b.timeframe.millis() as i128)),
        ("start", V::I(b.start as i128)),
        ("end", V::I(b.end as i128)),
        ("open", fv(b.open)),
        ("high", fv(b.high)),
        ("low", fv(b.low)),
        ("close", fv(b.close)),
        ("volume", fv(b.volume)),
        ("vwap", fv(b.vwap)),
        ("vwap_num", fv(b.vwap_num)),
        ("buy_volume", fv(b.buy_volume)),
        ("sell_volume", fv(b.sell_volume)),
        ("count", V::I(b.count as i128)),
        ("first_ts", V::I(b.first_ts as i128)),
        ("last_ts", V::I(b.last_ts as i128)),
        ("revision", V::I(b.revision as i128)),
        ("flags", V::I(b.flags as i128)),
    ]
}

fn tick_fields(seq: u64, t: &Tick) -> Vec<(&'static str, V)> {
    vec![
        ("seq", V::I(seq as i128)),
        ("type", V::S("tick")),
        (
            "tick_kind",
            V::S(match t.kind {
                mtf::TickKind::Trade => "trade",
                mtf::TickKind::Quote => "quote",
            }),
        ),
        ("side", V::I(t.side as i128)),
        ("symbol", V::I(t.symbol as i128)),
        ("flags", V::I(t.flags as i128)),
        ("ts_event", V::I(t.ts_event as i128)),
        ("ts_recv", V::I(t.ts_recv as i128)),
        ("price", fv(t.price)),
        ("size", fv(t.size)),
        ("ask", fv(t.ask)),
        ("ask_size", fv(t.ask_size)),
        ("id", V::I(t.id as i128)),
    ]
}

/// Every record form of layout version 2, in a ring small enough that
/// records wrap around its end, read by the Python subscriber from the
/// oldest record of a stopped writer; each decoded field is compared.
#[test]
fn python_subscriber_decodes_every_record_form() {
    let Some(python) = python("python_subscriber_decodes_every_record_form") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rp = dir.path().join("r");
    let mut w = RingWriter::create(
        &rp,
        &RingConfig {
            capacity: 64,
            group: None,
        },
    )
    .unwrap();
    let mut want: Vec<Vec<(&'static str, V)>> = Vec::new();
    // Fillers first: the ring wraps, and the subscriber starts at the
    // oldest record still whole.
    for i in 0..50 {
        w.publish(&Record::Heartbeat { ts: i }).unwrap();
    }
    let mut seq = 50;
    let derived = test_bar(1.75); // 52.5 / 30: 2 lines
    let explicit = test_bar(1.8); // 3 lines
    let mut empty = test_bar(2.0); // volume 0: vwap = close, 2 lines
    (
        empty.volume,
        empty.vwap_num,
        empty.buy_volume,
        empty.sell_volume,
    ) = (0.0, 0.0, 0.0, 0.0);
    empty.revision = 0;
    empty.flags = Bar::FLAG_FILLED | Bar::FLAG_OPEN;
    let mut trade = Tick::trade(78, 1_700_000_000_000_000_123, 99.5, 2.0, Side::Sell, 987)
        .with_recv(1_700_000_000_000_000_456);
    trade.flags = 5;
    let mut quote = Tick::quote(78, 1_700_000_000_000_000_124, 99.5, 2.0, 100.5, 3.0)
        .with_recv(1_700_000_000_000_000_457);
    quote.flags = 2;
    let mut full = quote;
    full.id = 988;
    full.side = Side::Buy;
    for _round in 0..8 {
        for (kind, name, b) in [
            (BarKind::Corrected, "corrected", &derived),
            (BarKind::Closed, "closed", &explicit),
            (BarKind::Update, "update", &empty),
        ] {
            w.publish_bar(kind, b).unwrap();
            want.push(bar_fields(seq, name, b));
            seq += 1;
        }
        for t in [&trade, &quote, &full] {
            w.publish_tick(t).unwrap();
            want.push(tick_fields(seq, t));
            seq += 1;
        }
        w.publish(&Record::FeedGap {
            ts: 42,
            feed: 7,
            symbol: Some(79),
            expected: 100,
            received: 105,
        })
        .unwrap();
        want.push(vec![
            ("seq", V::I(seq as i128)),
            ("type", V::S("feed_gap")),
            ("ts", V::I(42)),
            ("feed", V::I(7)),
            ("symbol", V::I(79)),
            ("expected", V::I(100)),
            ("received", V::I(105)),
        ]);
        seq += 1;
        w.publish(&Record::FeedGap {
            ts: 43,
            feed: 8,
            symbol: None,
            expected: 1,
            received: 3,
        })
        .unwrap();
        want.push(vec![
            ("seq", V::I(seq as i128)),
            ("type", V::S("feed_gap")),
            ("ts", V::I(43)),
            ("feed", V::I(8)),
            ("symbol", V::Null),
            ("expected", V::I(1)),
            ("received", V::I(3)),
        ]);
        seq += 1;
        w.publish(&Record::SymbolAdded { ts: 44, symbol: 80 })
            .unwrap();
        want.push(vec![
            ("seq", V::I(seq as i128)),
            ("type", V::S("symbol_added")),
            ("ts", V::I(44)),
            ("symbol", V::I(80)),
        ]);
        seq += 1;
        w.publish(&Record::Heartbeat { ts: 45 }).unwrap();
        want.push(vec![
            ("seq", V::I(seq as i128)),
            ("type", V::S("heartbeat")),
            ("ts", V::I(45)),
        ]);
        seq += 1;
    }
    w.shutdown();
    let out = Command::new(&python)
        .arg(SCRIPT)
        .args(["--ring".as_ref(), rp.as_os_str()])
        .args(["--start", "oldest", "--allow-stopped", "--timeout", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "READY");
    let records: Vec<HashMap<String, String>> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| parse_flat(l))
        .collect();
    // The oldest whole record depends on how lines wrapped; from there on,
    // every record of `want` that the ring still holds, in order, then the
    // shutdown record.
    let (last, records) = records.split_last().unwrap();
    assert_eq!(last["type"], "\"shutdown\"", "{stdout}");
    assert!(records.len() >= 10, "{stdout}");
    let first: u64 = records[0]["seq"].parse().unwrap();
    assert!(first >= 50, "{stdout}");
    let tail = &want[(first - 50) as usize..];
    assert_eq!(records.len(), tail.len(), "{stdout}");
    for (got, fields) in records.iter().zip(tail) {
        assert_eq!(got.len(), fields.len(), "{got:?} vs {fields:?}");
        for (k, v) in fields {
            let raw = got.get(*k).unwrap_or_else(|| panic!("no {k} in {got:?}"));
            assert!(matches(raw, v), "{k}: {raw} != {v:?} in {got:?}");
        }
    }
    let summary = lines[lines.len() - 1];
    assert!(summary.contains("\"error_count\": 0"), "{summary}");
    assert!(summary.contains("\"laps\": 0"), "{summary}");

    // Starting at a sequence number: one still in the ring reads from it on;
    // one already overwritten starts at the oldest after a lap of exactly
    // the records lost.
    let from = |start: u64| {
        let out = Command::new(&python)
            .arg(SCRIPT)
            .args(["--ring".as_ref(), rp.as_os_str()])
            .args(["--start", &start.to_string(), "--allow-stopped"])
            .args(["--timeout", "2", "--quiet"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let s = String::from_utf8(out.stdout).unwrap();
        s.lines().last().unwrap().to_string()
    };
    let total = records.len() as u64 + 1; // and the shutdown record
    for (start, laps, lost, delivered) in [
        (first + 3, 0, 0, total - 3),
        (first - 7, 1, 7, total),
        (0, 1, first, total),
    ] {
        let s = from(start);
        assert!(
            s.contains(&format!("\"laps\": {laps}, \"lost\": {lost},")),
            "{start}: {s}"
        );
        assert!(s.contains("\"shutdown\": true"), "{start}: {s}");
        let n: u64 = parse_counts(&s).values().sum();
        assert_eq!(n, delivered, "{start}: {s}");
    }
}

/// The `counts` object of a summary line: record type → count.
fn parse_counts(summary: &str) -> HashMap<String, u64> {
    let start = summary.find("\"counts\": {").unwrap() + "\"counts\": {".len();
    let end = start + summary[start..].find('}').unwrap();
    summary[start..end]
        .split(", ")
        .map(|kv| {
            let (k, v) = kv.split_once(": ").unwrap();
            (k.trim_matches('"').to_string(), v.parse().unwrap())
        })
        .collect()
}
