//! End to end (issue 6): real `tickd` and `tickctl` binaries, ephemeral
//! loopback ports, temporary directories.
//!
//! The real-data replay over the small files of `../shared/data` runs in
//! `cargo test`; over every file (LEAN's 3.5M ticks too) it is `#[ignore]`d
//! and run by CI with `cargo test --release -p engine --test e2e -- --ignored`.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use mtf::{Side, Tick, Timeframe};

const TFS: [&str; 3] = ["1s", "1m", "5m"];

/// `workers.mode`: the key tests run in both.
const THREADS: &str = "threads";
const INLINE: &str = "inline";

fn mode_set(mode: &str) -> String {
    format!("workers.mode=\"{mode}\"")
}

/// A daemon in `mode` with `extra` settings.
fn start(mode: &str, extra: &[&str]) -> Daemon {
    let m = mode_set(mode);
    let mut sets = vec![m.as_str()];
    sets.extend_from_slice(extra);
    Daemon::start(&sets)
}

/// Replay one file through one transport; compare the bars of `tickctl
/// subscribe` (live, from the ring) and of `tickctl query` (from the store,
/// after a clean stop) with the batch reference.
fn replay_and_compare(file: &Path, via: &str, mode: &str) {
    let (ticks, names) = import_file(file);
    let tfs: Vec<Timeframe> = TFS.iter().map(|s| s.parse().unwrap()).collect();
    let want = batch_reference(&ticks, &names, &tfs);
    assert!(!want.is_empty(), "{}: no closed bar", file.display());

    let d = start(mode, &["aggregation.timeframes=[\"1s\",\"1m\",\"5m\"]"]);
    // Live subscriber first: it exits when the daemon shuts its ring down.
    let sub = Command::new(TICKCTL)
        .arg("--data-dir")
        .arg(&d.data)
        .args(["subscribe", "--idle-exit", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = d.ctl_ok(&[
        "send",
        &file.to_string_lossy(),
        "--via",
        via,
        "--quiet",
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        summary["ticks"].as_u64().unwrap(),
        ticks.len() as u64,
        "{via}: sent"
    );
    assert_eq!(
        summary["unacknowledged"].as_u64().unwrap(),
        0,
        "{via}: UDP loss"
    );
    let n = ticks.len() as u64;
    // `received` is the receiver thread's counter, published on its own
    // cadence: wait for it too before asserting both exactly.
    d.wait_for(120, "every tick accepted", |s| {
        s.counter("accepted") >= n && s.counter("received") >= n
    });
    let s = d.stats();
    assert_eq!(s.counter("accepted"), n, "{via}");
    assert_eq!(s.counter("received"), n, "{via}");
    assert_eq!(s.counter("malformed"), 0, "{via}");
    let (dir, _, took) = d.stop();
    assert!(took < Duration::from_secs(5));
    let live = sub.wait_with_output().unwrap();
    let live = bars_by_key(&String::from_utf8(live.stdout).unwrap());

    // Every closed reference bar came live, equal; nothing else closed.
    let ctx = format!("{} via {via} ({mode})", file.display());
    assert_eq!(live.len(), want.len(), "{ctx}: live bar count");
    for (k, b) in &want {
        let got = live
            .get(k)
            .unwrap_or_else(|| panic!("{ctx}: no live bar {k:?}"));
        assert_bar_eq(got, b, &format!("{ctx} live {k:?}"));
    }

    // The store: the same bars through `tickctl query`.
    let data = dir.path().join("data");
    let mut by_symbol: BTreeMap<(String, bool), ()> = BTreeMap::new();
    for (name, _, _, q) in want.keys() {
        by_symbol.insert((name.clone(), *q), ());
    }
    for ((name, quotes), ()) in by_symbol {
        for tf in TFS {
            let mut args = vec![
                "--data-dir",
                data.to_str().unwrap(),
                "query",
                &name,
                "--timeframe",
                tf,
                "--format",
                "json",
            ];
            if quotes {
                args.push("--quotes");
            }
            let o = Command::new(TICKCTL).args(&args).output().unwrap();
            assert!(
                o.status.success(),
                "query: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let got = bars_by_key(&String::from_utf8(o.stdout).unwrap());
            let tfv: Timeframe = tf.parse().unwrap();
            let mut n = 0;
            for (k, b) in want
                .iter()
                .filter(|(k, _)| k.0 == name && k.1 == tfv && k.3 == quotes)
            {
                let g = got
                    .get(k)
                    .unwrap_or_else(|| panic!("{ctx}: query lacks {k:?}"));
                assert_bar_eq(g, b, &format!("{ctx} query {k:?}"));
                n += 1;
            }
            assert!(n > 0 || got.is_empty());
        }
    }
}

fn small_files(root: &Path) -> Vec<std::path::PathBuf> {
    [
        "nautilus_trader/tardis/trades.csv",
        "nautilus_trader/tardis/quotes.csv",
        "nautilus_trader/truefx/usdjpy-ticks.csv",
        "hftbacktest/spot/btcusdt_20240809.gz",
    ]
    .iter()
    .map(|p| root.join(p))
    .collect()
}

fn all_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut v = small_files(root);
    let mut stack = vec![root.join("lean")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "zip") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

fn real_small_files(mode: &str) {
    let Some(root) = shared_data("real_small_files_over_udp_tcp_and_ilp") else {
        return;
    };
    for f in small_files(&root) {
        for via in ["udp", "tcp", "ilp"] {
            replay_and_compare(&f, via, mode);
        }
    }
}

#[test]
fn real_small_files_over_udp_tcp_and_ilp_give_the_batch_reference_bars() {
    real_small_files(THREADS);
}

#[test]
fn real_small_files_over_udp_tcp_and_ilp_give_the_batch_reference_bars_inline() {
    real_small_files(INLINE);
}

fn every_real_file(mode: &str) {
    let Some(root) = shared_data("every_real_file_over_udp_tcp_and_ilp") else {
        return;
    };
    for f in all_files(&root) {
        for via in ["udp", "tcp", "ilp"] {
            eprintln!("{} via {via} ({mode})", f.display());
            replay_and_compare(&f, via, mode);
        }
    }
}

#[test]
#[ignore = "3.5M ticks x 3 transports: run in release by CI (see the module docs)"]
fn every_real_file_over_udp_tcp_and_ilp_gives_the_batch_reference_bars() {
    every_real_file(THREADS);
}

#[test]
#[ignore = "3.5M ticks x 3 transports: run in release by CI (see the module docs)"]
fn every_real_file_over_udp_tcp_and_ilp_gives_the_batch_reference_bars_inline() {
    every_real_file(INLINE);
}

const START: i64 = 1_700_000_000_000_000_000;

fn synth_ticks(n: usize) -> Vec<Tick> {
    let mut g = engine::synth::Synth::new(engine::synth::SynthOptions {
        symbols: 1,
        seed: 77,
        start_ns: START,
        ..Default::default()
    });
    (0..n).map(|_| g.next_tick().0).collect()
}

fn kill_9_mid_replay_loses_no_accepted_tick_and_bars_continue_in(mode: &str) {
    const N: usize = 200_000;
    let d = start(
        mode,
        &[
            "aggregation.timeframes=[\"1s\",\"1m\"]",
            "store.flush_interval=50ms",
        ],
    );
    let data = d.data.clone();
    let start = START.to_string();
    let n_text = N.to_string();
    // A paced replay, killed in the middle.
    let mut send = Command::new(TICKCTL)
        .arg("--data-dir")
        .arg(&data)
        .args([
            "send",
            "--synthetic",
            "--symbols",
            "1",
            "--seed",
            "77",
            "--start-ns",
            &start,
            "--max",
            &n_text,
            "--via",
            "tcp",
            "--rate",
            "50000",
            "--quiet",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    d.wait_for(60, "a third of the replay accepted", |s| {
        s.counter("accepted") > (N / 3) as u64
    });
    let accepted = d.stats().counter("accepted");
    let (dir, sets) = d.kill9();
    let _ = send.kill();
    let _ = send.wait();

    // Restart on the same directory: recovery, then resume the replay.
    let d = Daemon::spawn(dir, sets, &[]);
    let out = d.ctl_ok(&["query", "SYN0000", "--summary"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let stored = v["ticks"].as_u64().unwrap();
    assert!(
        stored >= accepted,
        "stored {stored} < accepted {accepted} before the kill"
    );
    assert!(stored < N as u64, "the kill came too late to test anything");
    let all = synth_ticks(N);
    let mut digest = engine::ctl::Digest::new();
    for t in &all[..stored as usize] {
        digest.add(t);
    }
    assert_eq!(
        v["digest"].as_str().unwrap(),
        format!("{:016x}", digest.h),
        "stored ticks differ"
    );

    let skip = stored.to_string();
    d.ctl_ok(&[
        "send",
        "--synthetic",
        "--symbols",
        "1",
        "--seed",
        "77",
        "--start-ns",
        &start,
        "--max",
        &(N as u64 - stored).to_string(),
        "--skip",
        &skip,
        "--via",
        "tcp",
        "--quiet",
    ]);
    let rest = N as u64 - stored;
    d.wait_for(60, "the rest accepted", |s| s.counter("accepted") >= rest);
    let (dir, _, _) = d.stop();
    let data = dir.path().join("data");

    // Every tick once, in order; the bars equal the reference over all of them.
    let o = Command::new(TICKCTL)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "query",
            "SYN0000",
            "--summary",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut digest = engine::ctl::Digest::new();
    for t in &all {
        digest.add(t);
    }
    assert_eq!(v["ticks"].as_u64().unwrap(), N as u64);
    assert_eq!(v["digest"].as_str().unwrap(), format!("{:016x}", digest.h));
    let table = ingest::SymbolTable::new(16);
    table.intern("SYN0000".parse().unwrap()).unwrap();
    let tfs = [Timeframe::S1, Timeframe::M1];
    let want = batch_reference(&all, &table, &tfs);
    for tf in ["1s", "1m"] {
        let o = Command::new(TICKCTL)
            .args([
                "--data-dir",
                data.to_str().unwrap(),
                "query",
                "SYN0000",
                "--timeframe",
                tf,
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        let got = bars_by_key(&String::from_utf8(o.stdout).unwrap());
        let tfv: Timeframe = tf.parse().unwrap();
        for (k, b) in want.iter().filter(|(k, _)| k.1 == tfv && !k.3) {
            let g = got
                .get(k)
                .unwrap_or_else(|| panic!("after restart: no bar {k:?}"));
            assert_bar_eq(g, b, &format!("after restart {k:?}"));
        }
    }
}

#[test]
fn kill_9_mid_replay_loses_no_accepted_tick_and_bars_continue() {
    kill_9_mid_replay_loses_no_accepted_tick_and_bars_continue_in(THREADS);
}

#[test]
fn kill_9_mid_replay_loses_no_accepted_tick_and_bars_continue_inline() {
    kill_9_mid_replay_loses_no_accepted_tick_and_bars_continue_in(INLINE);
}

fn malformed_input_of_every_kind_is_counted_exactly_and_valid_input_is_kept_in(mode: &str) {
    let d = start(mode, &[]);
    let st = d.state();
    let e = st.endpoints.clone();
    let now = engine::clock::now_ns();
    let valid = |i: u64| {
        Tick::trade(
            0,
            now - 60_000_000_000 + i as i64,
            100.0 + i as f64 * 0.01,
            1.0,
            Side::Buy,
            i + 1,
        )
    };
    let sym: ingest::SymbolName = "GOOD".parse().unwrap();
    let mut sent_valid = 0u64;
    let mut malformed = 0u64;
    let mut rejected = 0u64;

    // UDP binary: garbage datagrams and bad frames between valid frames.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(e.udp_binary.unwrap()).unwrap();
    let mut enc = ingest::wire::FrameEncoder::new(1, 1, 1472).unwrap();
    for round in 0..500u64 {
        enc.push(&ingest::wire::WireMsg::from_tick(&valid(sent_valid), sym))
            .unwrap();
        udp.send(enc.finish(now)).unwrap();
        sent_valid += 1;
        let junk: Vec<u8> = (0..(round % 200 + 1))
            .map(|k| (k * 31 + round) as u8)
            .collect();
        udp.send(&junk).unwrap();
        malformed += 1;
        // A frame whose message has a NaN price: rejected (price), not malformed.
        let mut bad = valid(0);
        bad.price = f64::NAN;
        enc.push(&ingest::wire::WireMsg::from_tick(&bad, sym))
            .unwrap();
        udp.send(enc.finish(now)).unwrap();
        rejected += 1;
        if round % 50 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    // ILP over TCP: malformed lines of many kinds between valid lines.
    let mut ilp = TcpStream::connect(e.ilp_tcp.unwrap()).unwrap();
    let bad_lines = [
        "ticks,symbol=GOOD price=abc 1\n",
        "ticks,symbol=GOOD\n",
        "ticks price=1.0,size=1.0 1\n",
        "=,=,= = =\n",
        "ticks,symbol=GOOD price=1.0,size=1.0 notatime\n",
        "ticks,symbol=GOOD price=1.0,price=2.0,size=1.0 1\n",
    ];
    let mut buf = Vec::new();
    for i in 0..3000u64 {
        engine::ctl::ilp_line("ticks", &valid(sent_valid), "GOOD", &mut buf);
        sent_valid += 1;
        buf.extend_from_slice(bad_lines[(i % bad_lines.len() as u64) as usize].as_bytes());
        malformed += 1;
    }
    ilp.write_all(&buf).unwrap();
    drop(ilp);

    // TCP binary: valid frames; frames with a malformed message (bad side byte).
    let mut tcp = TcpStream::connect(e.tcp_binary.unwrap()).unwrap();
    let mut tenc = ingest::wire::FrameEncoder::new_tcp(2, 1, 4096).unwrap();
    let mut bytes = Vec::new();
    for _ in 0..1000u64 {
        tenc.push(&ingest::wire::WireMsg::from_tick(&valid(sent_valid), sym))
            .unwrap();
        sent_valid += 1;
        tenc.push(&ingest::wire::WireMsg::from_tick(&valid(0), sym))
            .unwrap();
        let mut f = tenc.finish(now).to_vec();
        // Corrupt the second message's side byte: a malformed message.
        let at = ingest::wire::TCP_PREFIX_LEN
            + ingest::wire::HEADER_LEN
            + ingest::wire::TRADE_LEN
            + ingest::wire::MSG_OFF_SIDE;
        f[at] = 9;
        malformed += 1;
        bytes.extend_from_slice(&f);
    }
    tcp.write_all(&bytes).unwrap();
    drop(tcp);

    let s = d.wait_for(30, "every valid tick", |s| {
        s.counter("accepted") >= sent_valid
    });
    std::thread::sleep(Duration::from_millis(300));
    let s2 = d.stats();
    assert_eq!(s2.counter("accepted"), sent_valid, "valid ticks kept");
    assert_eq!(
        s2.counter("malformed"),
        malformed,
        "malformed counted exactly: {:?}",
        s2.counters
    );
    let price_rejects = s2.rejected.iter().find(|(r, _)| r == "price").unwrap().1;
    assert_eq!(price_rejects, rejected);
    assert_eq!(s2.counter("queue_full_drops"), 0);
    let _ = s;
    // Still up and serving.
    d.ctl_ok(&["stats"]);
    d.stop();
}

#[test]
fn malformed_input_of_every_kind_is_counted_exactly_and_valid_input_is_kept() {
    malformed_input_of_every_kind_is_counted_exactly_and_valid_input_is_kept_in(THREADS);
}

#[test]
fn malformed_input_of_every_kind_is_counted_exactly_and_valid_input_is_kept_inline() {
    malformed_input_of_every_kind_is_counted_exactly_and_valid_input_is_kept_in(INLINE);
}

fn a_feed_gap_is_counted_and_published_to_subscribers_in(mode: &str) {
    let d = start(mode, &[]);
    let st = d.state();
    let (ring_path, snap_path) = st.rings[0].clone();
    let opts = ring::ReaderOptions {
        start: ring::StartAt::Oldest,
        ..ring::ReaderOptions::default()
    };
    let mut sub = ring::Subscriber::open(&ring_path, &snap_path, &opts).unwrap();
    let now = engine::clock::now_ns();
    let sym: ingest::SymbolName = "GAPPY".parse().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(st.endpoints.udp_binary.unwrap()).unwrap();
    // Stream 42: messages 1..=3, then 10..=11 (4..=9 lost upstream).
    let mut sent = 0u64;
    for (first_seq, n) in [(1u64, 3u64), (10, 2)] {
        let mut enc = ingest::wire::FrameEncoder::new(42, first_seq, 1472).unwrap();
        for k in 0..n {
            let t = Tick::trade(0, now - 1_000_000 + k as i64, 10.0, 1.0, Side::Sell, 0);
            enc.push(&ingest::wire::WireMsg::from_tick(&t, sym))
                .unwrap();
        }
        udp.send(enc.finish(now)).unwrap();
        sent += n;
        std::thread::sleep(Duration::from_millis(20));
    }
    // Counters are published by the thread that owns them, each on its own
    // cadence (the receiver's every sources::REPORT_EVERY), so `accepted` can
    // be seen before `gaps`: wait for both, then check the gap count is exact.
    d.wait_for(30, "every tick and the gap", |s| {
        s.counter("accepted") >= sent && s.counter("gaps") >= 6
    });
    std::thread::sleep(Duration::from_millis(200));
    let s = d.stats();
    assert_eq!(s.counter("accepted"), sent, "{:?}", s.counters);
    assert_eq!(s.counter("gaps"), 6, "{:?}", s.counters);
    let t0 = Instant::now();
    let gap = loop {
        match sub.next() {
            Some(ring::Received::Record {
                record:
                    ring::Record::FeedGap {
                        feed,
                        expected,
                        received,
                        ..
                    },
                ..
            }) => break (feed, expected, received),
            Some(_) => {}
            None => {
                assert!(t0.elapsed() < Duration::from_secs(10), "no gap record");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    };
    assert_eq!(gap, (42, 4, 10), "feed, first missing, next received");
    d.stop();
}

#[test]
fn a_feed_gap_is_counted_and_published_to_subscribers() {
    a_feed_gap_is_counted_and_published_to_subscribers_in(THREADS);
}

#[test]
fn a_feed_gap_is_counted_and_published_to_subscribers_inline() {
    a_feed_gap_is_counted_and_published_to_subscribers_in(INLINE);
}

fn a_stalled_subscriber_never_slows_the_engine_and_is_told_it_was_lapped_in(mode: &str) {
    let d = start(mode, &["ring.capacity=1024", "ring.publish_ticks=true"]);
    let (ring_path, snap_path) = d.state().rings[0].clone();
    let opts = ring::ReaderOptions {
        start: ring::StartAt::Oldest,
        ..ring::ReaderOptions::default()
    };
    let mut stalled = ring::Subscriber::open(&ring_path, &snap_path, &opts).unwrap();
    let t0 = Instant::now();
    d.ctl_ok(&[
        "send",
        "--synthetic",
        "--max",
        "100000",
        "--via",
        "tcp",
        "--quiet",
    ]);
    d.wait_for(60, "all processed", |s| s.counter("processed") >= 100_000);
    let took = t0.elapsed();
    d.wait_for(60, "all stored", |s| s.counter("accepted") >= 100_000);
    // The writer never waited for the reader: it published far more than the ring holds.
    let s = d.stats();
    assert!(s.counter("published") > 100_000, "{:?}", s.counters);
    match stalled.next() {
        Some(ring::Received::Lapped { lost }) => assert!(lost > 90_000, "lost {lost}"),
        other => panic!("expected a lap notice, got {other:?}"),
    }
    eprintln!("100k ticks with a stalled subscriber: {took:?}");
    d.stop();
}

#[test]
fn a_stalled_subscriber_never_slows_the_engine_and_is_told_it_was_lapped() {
    a_stalled_subscriber_never_slows_the_engine_and_is_told_it_was_lapped_in(THREADS);
}

#[test]
fn a_stalled_subscriber_never_slows_the_engine_and_is_told_it_was_lapped_inline() {
    a_stalled_subscriber_never_slows_the_engine_and_is_told_it_was_lapped_in(INLINE);
}

fn sigterm_drains_and_exits_0_and_systemd_is_notified_in(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sets = base_sets(dir.path());
    sets.push(mode_set(mode));
    let d = Daemon::spawn(
        dir,
        sets,
        &[
            ("NOTIFY_SOCKET", sock_path.display().to_string()),
            ("WATCHDOG_USEC", "200000".into()),
        ],
    );
    let mut msgs = Vec::new();
    let mut buf = [0u8; 256];
    while !msgs.iter().any(|m: &String| m.contains("WATCHDOG=1")) {
        let n = sock.recv(&mut buf).unwrap();
        msgs.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(msgs[0].starts_with("READY=1"), "{msgs:?}");
    d.ctl_ok(&[
        "send",
        "--synthetic",
        "--max",
        "20000",
        "--via",
        "tcp",
        "--quiet",
    ]);
    // SIGHUP reopens the log file.
    let log = d.dir.path().join("tickd.log");
    let rotated = d.dir.path().join("tickd.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    // SAFETY: `kill` has no memory-safety preconditions; the pid is our child's.
    unsafe { libc::kill(d.child.id() as libc::pid_t, libc::SIGHUP) };
    let t0 = Instant::now();
    while !log.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "log not reopened on SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let (_dir, _, took) = d.stop();
    assert!(took < Duration::from_secs(5), "{took:?}");
    loop {
        let n = sock.recv(&mut buf).unwrap();
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        if m.starts_with("STOPPING=1") {
            break;
        }
    }
}

#[test]
fn sigterm_drains_and_exits_0_and_systemd_is_notified() {
    sigterm_drains_and_exits_0_and_systemd_is_notified_in(THREADS);
}

#[test]
fn sigterm_drains_and_exits_0_and_systemd_is_notified_inline() {
    sigterm_drains_and_exits_0_and_systemd_is_notified_in(INLINE);
}

#[test]
fn tickctl_misuse_gives_clear_errors_and_exit_codes() {
    let d = Daemon::start(&[]);
    d.ctl_ok(&[
        "send",
        "--synthetic",
        "--max",
        "1000",
        "--via",
        "tcp",
        "--quiet",
    ]);
    let o = d.ctl(&["snapshot", "NOPE"]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown symbol \"NOPE\""));
    let o = d.ctl(&["send"]);
    assert_eq!(o.status.code(), Some(2));
    let o = d.ctl(&["send", "/no/such/file.csv"]);
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (dir, _, _) = d.stop();
    let data = dir.path().join("data");
    let ctl = |args: &[&str]| {
        Command::new(TICKCTL)
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .unwrap()
    };
    let o = ctl(&["stats"]);
    assert_eq!(o.status.code(), Some(3), "no daemon");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no daemon"));
    let o = ctl(&["query", "NOPE"]);
    assert_eq!(o.status.code(), Some(4));
    let o = ctl(&[
        "query",
        "SYN0000",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-01",
    ]);
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = ctl(&["query", "SYN0000", "--from", "yesterday"]);
    assert_eq!(o.status.code(), Some(5));
    let o = ctl(&["query", "SYN0000", "--timeframe", "7x"]);
    assert_eq!(o.status.code(), Some(2));
    let o = ctl(&["query", "SYN0000", "--limit", "5", "--format", "csv"]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 6);
}

#[test]
fn configured_cores_the_machine_lacks_give_a_warning_and_a_working_daemon() {
    let d = Daemon::start(&[
        "ingest.cores=[4000]",
        "workers.mode=\"threads\"",
        "workers.threads=2",
        "workers.cores=[4001,4002]",
    ]);
    d.ctl_ok(&[
        "send",
        "--synthetic",
        "--max",
        "5000",
        "--via",
        "tcp",
        "--quiet",
    ]);
    d.wait_for(30, "5000 accepted", |s| s.counter("accepted") >= 5000);
    let log = d.log();
    assert!(log.contains("configured core is not available"), "{log}");
    d.stop();
}

#[test]
fn tickd_config_flags() {
    let o = Command::new(TICKD).arg("--print-config").output().unwrap();
    assert!(o.status.success());
    let printed: toml::Value = toml::from_str(&String::from_utf8(o.stdout).unwrap()).unwrap();
    let file =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/tickd.toml"))
            .unwrap();
    let shipped: toml::Value = toml::from_str(&file).unwrap();
    assert_eq!(printed, shipped);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[workers]\nthreads = 0\n[ingest]\nbogus = 1\n").unwrap();
    let o = Command::new(TICKD)
        .arg("--check-config")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("config key `ingest.bogus`"), "{err}");
    let o = Command::new(TICKD)
        .args(["--set", "workers.threads=0", "--print-config"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("`workers.threads` = 0: allowed: 1 to 64 threads")
    );
}

#[test]
fn the_questdb_python_client_feeds_the_ilp_port() {
    let ok = Command::new("python3")
        .args(["-c", "import questdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "SKIP: the_questdb_python_client_feeds_the_ilp_port (python3 questdb not installed: pip install questdb)"
        );
        return;
    }
    let d = Daemon::start(&[]);
    let addr = d.state().endpoints.ilp_tcp.unwrap();
    let script = format!(
        r#"
try:
    from questdb import Sender, TimestampNanos
except ImportError:
    from questdb.ingress import Sender, TimestampNanos
with Sender.from_conf("tcp::addr={addr};") as s:
    for i in range(5000):
        s.row("ticks", symbols={{"symbol": "QDB", "side": "buy" if i % 2 else "sell"}},
              columns={{"price": 100.0 + i * 0.25, "size": 1.5}},
              at=TimestampNanos({base} + i * 1000000))
    s.flush()
"#,
        base = engine::clock::now_ns() - 3_600_000_000_000
    );
    let st = Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(st.success());
    d.wait_for(30, "5000 rows", |s| s.counter("accepted") >= 5000);
    let s = d.stats();
    assert_eq!(s.counter("accepted"), 5000);
    assert_eq!(s.counter("malformed"), 0);
    let (dir, _, _) = d.stop();
    let o = Command::new(TICKCTL)
        .args([
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
            "query",
            "QDB",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5000);
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["price"].as_f64().unwrap(), 100.0 + i as f64 * 0.25);
        assert_eq!(v["size"].as_f64().unwrap(), 1.5);
        assert_eq!(v["side"], if i % 2 == 1 { "buy" } else { "sell" });
    }
}
