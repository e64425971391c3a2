//! The Python subscriber (`examples/subscriber.py`: mmap + struct) against a
//! live writer in this process (issue 5). Skips, visibly, without python3.

#![cfg(not(loom))]

#[path = "../examples/common/known.rs"]
mod known;

use known::{Known, known};
use mtf::Timeframe;
use ring::{Publisher, RingConfig, SnapshotConfig};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const RECORDS: u64 = 20_000;

#[test]
fn python_subscriber_reads_a_live_writer() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if Command::new(&python).arg("--version").output().is_err() {
        eprintln!("SKIP: python_subscriber_reads_a_live_writer ({python} not found)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (rp, sp) = (dir.path().join("r"), dir.path().join("s"));
    let mut p = Publisher::create(
        &rp,
        &RingConfig {
            capacity: 1 << 12, // smaller than RECORDS: a slow reader is lapped, live
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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/subscriber.py");
    let mut child = Command::new(&python)
        .arg(script)
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
    p.shutdown();
    let status = child.wait().unwrap();
    let summary = reader.join().unwrap();
    eprintln!("python subscriber: {}", summary.trim());
    assert!(status.success(), "python subscriber failed: {summary}");
    assert!(summary.contains("\"error_count\": 0"), "{summary}");
    assert!(summary.contains("\"shutdown\": true"), "{summary}");
}
