//! The public API on real files: round trips, filters, errors at open,
//! file mode and group, read-only mappings, liveness, shutdown (issue 5).

#![cfg(not(loom))]

use mtf::{Bar, Side, Tick, Timeframe};
use ring::layout::{H_VERSION, H_WRITER_PID};
use ring::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

fn bar(symbol: u32, tf: Timeframe, start: i64, close: f64) -> Bar {
    Bar {
        symbol,
        timeframe: tf,
        start,
        end: tf.bucket_end(start),
        open: 1.0,
        high: 2.0,
        low: 0.5,
        close,
        volume: 10.0,
        vwap: 1.25,
        vwap_num: 12.5,
        buy_volume: 6.0,
        sell_volume: 4.0,
        count: 7,
        first_ts: start + 1,
        last_ts: start + 2,
        revision: 0,
        flags: Bar::FLAG_OPEN,
    }
}

fn oldest() -> ReaderOptions {
    ReaderOptions {
        start: StartAt::Oldest,
        ..ReaderOptions::default()
    }
}

fn cfg(capacity: u64) -> RingConfig {
    RingConfig {
        capacity,
        group: None,
    }
}

#[test]
fn records_round_trip_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let mut w = RingWriter::create(&path, &cfg(64)).unwrap();
    let mut r = RingReader::open(&path, &ReaderOptions::default()).unwrap();
    assert_eq!(r.next(), None);
    let b = bar(3, Timeframe::M5, 300_000_000_000, 1.5);
    let t = Tick::quote(4, 9, 99.0, 1.0, 101.0, 2.0).with_recv(11);
    let gap = Record::FeedGap {
        ts: 5,
        feed: 2,
        symbol: None,
        expected: 10,
        received: 20,
    };
    assert_eq!(w.publish_bar(BarKind::Update, &b).unwrap(), 0);
    assert_eq!(w.publish_tick(&t).unwrap(), 1);
    assert_eq!(w.publish(&gap).unwrap(), 2);
    let got: Vec<_> = std::iter::from_fn(|| r.next()).collect();
    assert_eq!(
        got,
        vec![
            Received::Record {
                seq: 0,
                record: Record::Bar {
                    kind: BarKind::Update,
                    bar: b
                }
            },
            Received::Record {
                seq: 1,
                record: Record::Tick(t)
            },
            Received::Record {
                seq: 2,
                record: gap
            },
        ]
    );
    assert_eq!(r.stats().delivered, 3);
    assert_eq!(w.published(), 3);
    assert_eq!(r.cursor(), 3);
}

#[test]
fn filters_by_symbol_timeframe_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let mut w = RingWriter::create(&path, &cfg(64)).unwrap();
    let mut r = RingReader::open(&path, &ReaderOptions::default())
        .unwrap()
        .with_filter(
            Filter::all()
                .symbols([1, 2])
                .timeframes([Timeframe::M1])
                .events(false),
        );
    w.publish_bar(BarKind::Closed, &bar(1, Timeframe::M1, 0, 1.0))
        .unwrap(); // 0 yes
    w.publish_bar(BarKind::Closed, &bar(1, Timeframe::M5, 0, 1.0))
        .unwrap(); // 1 tf
    w.publish_bar(BarKind::Closed, &bar(3, Timeframe::M1, 0, 1.0))
        .unwrap(); // 2 symbol
    w.publish_tick(&Tick::trade(2, 0, 1.0, 1.0, Side::Buy, 1))
        .unwrap(); // 3 yes
    w.heartbeat(); // 4 event
    w.publish_tick(&Tick::trade(5, 0, 1.0, 1.0, Side::Buy, 1))
        .unwrap(); // 5 symbol
    let seqs: Vec<u64> = std::iter::from_fn(|| r.next())
        .map(|x| match x {
            Received::Record { seq, .. } => seq,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(seqs, vec![0, 3]);
    assert_eq!(r.stats().filtered, 4);
}

#[test]
fn a_lapped_reader_learns_how_many_it_lost_and_resumes_at_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let mut w = RingWriter::create(&path, &cfg(8)).unwrap();
    let mut r = RingReader::open(&path, &ReaderOptions::default()).unwrap();
    for i in 0..3 {
        w.publish_tick(&Tick::trade(1, i, 1.0, 1.0, Side::Buy, i as u64))
            .unwrap();
    }
    assert!(matches!(r.next(), Some(Received::Record { seq: 0, .. })));
    for i in 3..100 {
        w.publish_tick(&Tick::trade(1, i, 1.0, 1.0, Side::Buy, i as u64))
            .unwrap();
    }
    // wanted 1; newest is 99
    assert_eq!(r.next(), Some(Received::Lapped { lost: 98 }));
    match r.next() {
        Some(Received::Record {
            seq: 99,
            record: Record::Tick(t),
        }) => assert_eq!(t.id, 99),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.next(), None);
    let s = r.stats();
    assert_eq!((s.laps, s.lost, s.delivered), (1, 98, 2));
}

#[test]
fn start_positions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let mut w = RingWriter::create(&path, &cfg(4)).unwrap();
    for i in 0..10 {
        w.publish_tick(&Tick::trade(1, i, 1.0, 1.0, Side::Buy, i as u64))
            .unwrap();
    }
    let pos = |start| {
        RingReader::open(
            &path,
            &ReaderOptions {
                start,
                ..ReaderOptions::default()
            },
        )
        .unwrap()
        .position()
    };
    assert_eq!(pos(StartAt::Newest), 10);
    assert_eq!(pos(StartAt::Oldest), 6);
    assert_eq!(pos(StartAt::Seq(8)), 8);
}

/// Start positions in a ring of one-, two- and three-line records: a record
/// whose first line is gone is skipped by `Oldest`; `Seq` finds any record
/// still in the ring, reports an overwritten one as a lap with the exact
/// count, and refuses one the writer has not published.
#[test]
fn start_positions_with_records_of_several_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let mut w = RingWriter::create(&path, &cfg(16)).unwrap();
    let mut lines = Vec::new(); // first line of each record
    for i in 0..41u64 {
        lines.push(w.lines_published());
        match i % 3 {
            0 => w.publish_tick(&Tick::trade(1, i as i64, 1.0, 1.0, Side::Buy, i)),
            1 => w.publish_bar(BarKind::Closed, &bar(1, Timeframe::M1, i as i64, 1.0)),
            _ => {
                let mut b = bar(2, Timeframe::M1, i as i64, 1.0);
                b.vwap = 7.0; // not vwap_num / volume: three lines
                w.publish_bar(BarKind::Update, &b)
            }
        }
        .unwrap();
    }
    assert_eq!(w.lines_published(), 14 + 14 * 2 + 13 * 3);
    let open = |start| {
        RingReader::open(
            &path,
            &ReaderOptions {
                start,
                ..ReaderOptions::default()
            },
        )
    };
    let first_seq = |start| match open(start).unwrap().next() {
        Some(Received::Record { seq, .. }) => seq,
        other => panic!("{other:?}"),
    };
    // lines 65..81 are in the ring; line 65 is the last line of record 32
    // (a three-line bar at 63), so the oldest whole record is 33 at 66
    assert_eq!((lines[32], lines[33]), (63, 66));
    assert_eq!(open(StartAt::Oldest).unwrap().position(), 33);
    assert_eq!(first_seq(StartAt::Oldest), 33);
    assert_eq!(open(StartAt::Newest).unwrap().position(), 41);
    for n in 33..41 {
        assert_eq!(first_seq(StartAt::Seq(n)), n, "Seq({n})");
    }
    // overwritten: a lap notice with the exact count, then the oldest record
    let mut r = open(StartAt::Seq(30)).unwrap();
    assert_eq!(r.next(), Some(Received::Lapped { lost: 3 }));
    assert!(matches!(r.next(), Some(Received::Record { seq: 33, .. })));
    assert_eq!((r.stats().laps, r.stats().lost), (1, 3));
    // the next record is fine, one beyond is refused
    assert_eq!(open(StartAt::Seq(41)).unwrap().next(), None);
    let e = open(StartAt::Seq(42)).err().unwrap();
    assert!(matches!(e, Error::Config(_)), "{e}");
}

#[test]
fn open_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let e = RingReader::open(&path, &ReaderOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("no such file"));

    std::fs::write(&path, vec![7u8; 8192]).unwrap();
    let e = RingReader::open(&path, &ReaderOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, Error::BadMagic { .. }), "{e}");

    std::fs::write(&path, vec![7u8; 100]).unwrap();
    let e = RingReader::open(&path, &ReaderOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");

    // a snapshot file is not a ring
    let snap = dir.path().join("s");
    let _sw = SnapshotWriter::create(
        &snap,
        &SnapshotConfig {
            max_symbols: 4,
            timeframes: vec![Timeframe::M1],
            group: None,
        },
    )
    .unwrap();
    let e = RingReader::open(&snap, &ReaderOptions::default())
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            Error::BadMagic {
                expected: "ring",
                ..
            }
        ),
        "{e}"
    );

    // another layout version; a truncated file
    let _w = RingWriter::create(&path, &cfg(4)).unwrap();
    let other = dir.path().join("v1");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[H_VERSION..H_VERSION + 4].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&other, &bytes).unwrap();
    let e = RingReader::open(&other, &ReaderOptions::default())
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            Error::Version {
                found: 1,
                expected: 2,
                ..
            }
        ),
        "{e}"
    );
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&other, &bytes[..bytes.len() - 128]).unwrap();
    let e = RingReader::open(&other, &ReaderOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");

    assert!(matches!(
        RingWriter::create(&path, &cfg(3)),
        Err(Error::Config(_))
    ));
}

#[test]
fn dead_and_shut_down_writers_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let w = RingWriter::create(&path, &cfg(4)).unwrap();
    // heartbeat older than the threshold (generous, for a busy machine:
    // the touch below must be seen fresh within it)
    std::thread::sleep(Duration::from_millis(700));
    let stale = ReaderOptions {
        dead_after: Duration::from_millis(500),
        ..ReaderOptions::default()
    };
    let e = RingReader::open(&path, &stale).err().unwrap();
    assert!(
        matches!(
            e,
            Error::WriterDead {
                reason: DeadReason::HeartbeatStale { .. },
                ..
            }
        ),
        "{e}"
    );
    w.touch();
    RingReader::open(&path, &stale).unwrap();

    // a pid that does not exist
    let other = dir.path().join("gone");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[H_WRITER_PID..H_WRITER_PID + 4].copy_from_slice(&0x3fff_fff0u32.to_le_bytes());
    std::fs::write(&other, &bytes).unwrap();
    let e = RingReader::open(&other, &ReaderOptions::default())
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            Error::WriterDead {
                reason: DeadReason::ProcessGone,
                ..
            }
        ),
        "{e}"
    );
    // but its data can still be read on request
    let lenient = ReaderOptions {
        require_live: false,
        ..ReaderOptions::default()
    };
    let r = RingReader::open(&other, &lenient).unwrap();
    assert_eq!(
        r.writer_status(),
        WriterStatus::Dead(DeadReason::ProcessGone)
    );

    // clean shutdown: the reader gets the shutdown record, then ShutDown
    let mut r = RingReader::open(&path, &ReaderOptions::default()).unwrap();
    w.shutdown();
    let wait = Wait {
        timeout: Some(Duration::from_secs(5)),
        ..Wait::default()
    };
    assert!(matches!(
        r.next_wait(&wait),
        Ok(Received::Record {
            record: Record::Shutdown { .. },
            ..
        })
    ));
    assert_eq!(r.next_wait(&wait), Err(WaitError::ShutDown));
    let e = RingReader::open(&path, &ReaderOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, Error::WriterShutDown { .. }), "{e}");
}

#[test]
fn next_wait_times_out_and_wakes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let mut w = RingWriter::create(&path, &cfg(16)).unwrap();
    let mut r = RingReader::open(&path, &ReaderOptions::default()).unwrap();
    let wait = Wait {
        spins: 100,
        yields: 10,
        max_park: Duration::from_micros(200),
        timeout: Some(Duration::from_millis(20)),
    };
    assert_eq!(r.next_wait(&wait), Err(WaitError::Timeout));
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        w.publish_tick(&Tick::trade(1, 1, 1.0, 1.0, Side::Buy, 77))
            .unwrap();
        w
    });
    let wait = Wait {
        timeout: Some(Duration::from_secs(10)),
        ..wait
    };
    match r.next_wait(&wait) {
        Ok(Received::Record {
            record: Record::Tick(t),
            ..
        }) => assert_eq!(t.id, 77),
        other => panic!("{other:?}"),
    }
    drop(h.join().unwrap());
}

#[test]
fn files_are_0640_with_the_configured_group_and_mapped_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    // SAFETY: getegid has no preconditions.
    let gid = unsafe { libc::getegid() };
    let _w = RingWriter::create(
        &path,
        &RingConfig {
            capacity: 4,
            group: Some(Group::Id(gid)),
        },
    )
    .unwrap();
    let md = std::fs::metadata(&path).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o640);
    assert_eq!(md.gid(), gid);
    // no temporary file left behind
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let e = RingWriter::create(
        dir.path().join("x"),
        &RingConfig {
            capacity: 4,
            group: Some(Group::Name("no-such-group-tickd-test".into())),
        },
    )
    .err()
    .unwrap();
    assert!(matches!(e, Error::UnknownGroup(_)), "{e}");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // an unprivileged writer cannot give its file a group it is not in
        let e = RingWriter::create(
            dir.path().join("y"),
            &RingConfig {
                capacity: 4,
                group: Some(Group::Id(0)),
            },
        )
        .err()
        .unwrap();
        assert!(matches!(e, Error::Chown { .. }), "{e}");
    }
    // the reader's mapping of the file is read-only and shared: "r--s"
    let r = RingReader::open(&path, &ReaderOptions::default()).unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let canon = std::fs::canonicalize(&path).unwrap();
    let perms: Vec<&str> = maps
        .lines()
        .filter(|l| l.ends_with(canon.to_str().unwrap()))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert!(perms.contains(&"r--s"), "{perms:?}");
    drop(r);
}

#[test]
fn several_rings_coexist_and_a_restart_replaces_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
    let mut a = RingWriter::create(&pa, &cfg(4)).unwrap();
    let mut b = RingWriter::create(&pb, &cfg(8)).unwrap();
    let mut ra = RingReader::open(&pa, &oldest()).unwrap();
    let mut rb = RingReader::open(&pb, &oldest()).unwrap();
    a.publish_tick(&Tick::trade(1, 0, 1.0, 1.0, Side::Buy, 1))
        .unwrap();
    b.publish_tick(&Tick::trade(2, 0, 1.0, 1.0, Side::Buy, 2))
        .unwrap();
    b.publish_tick(&Tick::trade(2, 0, 1.0, 1.0, Side::Buy, 3))
        .unwrap();
    assert_eq!(std::iter::from_fn(|| ra.next()).count(), 1);
    assert_eq!(std::iter::from_fn(|| rb.next()).count(), 2);
    // a restarted writer replaces the file; the old reader sees the old
    // writer shut down, a new reader sees the new file
    drop(a);
    assert!(!ra.replaced());
    let _a2 = RingWriter::create(&pa, &cfg(16)).unwrap();
    assert!(ra.replaced());
    assert!(!rb.replaced());
    assert!(matches!(
        ra.next(),
        Some(Received::Record {
            record: Record::Shutdown { .. },
            ..
        })
    ));
    assert_eq!(ra.writer_status(), WriterStatus::ShutDown);
    assert_eq!(RingReader::open(&pa, &oldest()).unwrap().capacity(), 16);
}

#[test]
fn snapshot_holds_the_latest_bar_and_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let tfs = vec![Timeframe::M1, Timeframe::M5];
    let mut p = Publisher::create(
        dir.path().join("r"),
        &cfg(64),
        dir.path().join("s"),
        &SnapshotConfig {
            max_symbols: 10,
            timeframes: tfs.clone(),
            group: None,
        },
    )
    .unwrap();
    let mut sub = Subscriber::open(dir.path().join("r"), dir.path().join("s"), &oldest()).unwrap();
    assert_eq!(sub.snapshot("ES", Timeframe::M1).unwrap(), None);
    p.add_symbol(3, "ES").unwrap();
    p.add_symbol(4, "NQ").unwrap();
    let b1 = bar(3, Timeframe::M1, 0, 1.0);
    let mut b2 = bar(3, Timeframe::M1, 0, 1.5);
    p.bar(BarKind::Update, &b1).unwrap();
    p.bar(BarKind::Closed, &b2).unwrap();
    assert_eq!(
        sub.snapshot("ES", Timeframe::M1).unwrap(),
        Some((BarKind::Closed, b2))
    );
    b2.revision = 1;
    p.bar(BarKind::Corrected, &b2).unwrap();
    assert_eq!(
        sub.snapshot("ES", Timeframe::M1).unwrap(),
        Some((BarKind::Corrected, b2))
    );
    assert_eq!(sub.snapshot("ES", Timeframe::M5).unwrap(), None);
    assert_eq!(sub.snapshot("NQ", Timeframe::M1).unwrap(), None);
    let sr = sub.snapshot_reader();
    assert_eq!(sr.timeframes(), &tfs[..]);
    assert_eq!(sr.symbol_name(4).unwrap().as_deref(), Some("NQ"));
    assert_eq!(sr.symbol_name(5).unwrap(), None);
    assert_eq!(
        sr.symbols().unwrap(),
        vec![(3, "ES".to_string()), (4, "NQ".to_string())]
    );
    assert_eq!(
        sr.get(10, Timeframe::M1),
        Err(SnapshotError::SymbolOutOfRange {
            symbol: 10,
            max: 10
        })
    );
    assert_eq!(
        sr.get(1, Timeframe::H1),
        Err(SnapshotError::UnknownTimeframe(Timeframe::H1))
    );
    // a symbol without a snapshot slot still goes to the ring, counted
    p.bar(BarKind::Closed, &bar(10, Timeframe::M1, 0, 1.0))
        .unwrap();
    p.bar(BarKind::Closed, &bar(1, Timeframe::H1, 0, 1.0))
        .unwrap();
    assert_eq!(p.snapshot_skipped(), 2);
    assert_eq!(
        p.snapshot()
            .update(BarKind::Closed, &bar(10, Timeframe::M1, 0, 1.0)),
        Err(SnapshotError::SymbolOutOfRange {
            symbol: 10,
            max: 10
        })
    );
    assert_eq!(p.add_symbol(1, ""), Err(SnapshotError::BadName(0)));
    assert_eq!(
        p.add_symbol(1, &"x".repeat(56)),
        Err(SnapshotError::BadName(56))
    );
    p.add_symbol(1, &"é".repeat(27)).unwrap(); // 54 bytes of UTF-8
    // subscribe by name: ring delivers only ES bars of 1m
    let unknown = sub
        .subscribe(&["ES", "ZZ"], Some(&[Timeframe::M1]))
        .unwrap();
    assert_eq!(unknown, vec!["ZZ".to_string()]);
    let bars = std::iter::from_fn(|| sub.next())
        .filter(|r| {
            matches!(
                r,
                Received::Record {
                    record: Record::Bar { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(bars, 3);
    p.shutdown();
}
