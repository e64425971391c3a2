//! docs/ring.md is the truth about the bytes: its tables are checked here
//! against the constants and against the bytes a writer really produces.

#![cfg(not(loom))]

use mtf::{Bar, Side, Tick, Timeframe};
use ring::layout::*;
use ring::{BarKind, Record, RingConfig, RingWriter};
use std::collections::HashMap;

fn doc() -> String {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ring.md");
    std::fs::read_to_string(p).expect("docs/ring.md")
}

/// Rows `| offset | size | ... |` of the table under `heading`.
fn table(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let start = doc.find(heading).unwrap_or_else(|| panic!("no {heading}"));
    doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and rule
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn header_table_matches_the_constants() {
    let d = doc();
    let want: HashMap<&str, (usize, usize)> = [
        ("magic", (H_MAGIC, 8)),
        ("version", (H_VERSION, 4)),
        ("header_size", (H_HEADER_SIZE, 4)),
        ("record_size", (H_RECORD_SIZE, 4)),
        ("dir_entry_size", (H_DIR_ENTRY_SIZE, 4)),
        ("capacity", (H_CAPACITY, 8)),
        ("timeframe_count", (H_TIMEFRAME_COUNT, 4)),
        ("writer_pid", (H_WRITER_PID, 4)),
        ("created_ns", (H_CREATED_NS, 8)),
        ("data_offset", (H_DATA_OFFSET, 8)),
        ("dir_offset", (H_DIR_OFFSET, 8)),
        ("heartbeat", (H_HEARTBEAT, 8)),
        ("state", (H_STATE, 8)),
        ("dir_generation", (H_DIR_GENERATION, 8)),
        ("cursor", (H_CURSOR, 8)),
        (
            "timeframes",
            (H_TIMEFRAMES, H_TIMEFRAMES_END - H_TIMEFRAMES),
        ),
    ]
    .into_iter()
    .collect();
    let rows = table(&d, "## Header (both files");
    assert_eq!(rows.len(), want.len());
    for r in rows {
        let (off, size) = want[r[2].trim_matches('`')];
        assert_eq!(r[0].parse::<usize>().unwrap(), off, "{r:?}");
        assert_eq!(r[1].parse::<usize>().unwrap(), size, "{r:?}");
    }
    assert!(d.contains(&format!("`{}`", std::str::from_utf8(&RING_MAGIC).unwrap())));
    assert!(d.contains(&format!(
        "`{}`",
        std::str::from_utf8(&SNAPSHOT_MAGIC).unwrap()
    )));
    assert!(d.contains(&format!("(layout version {LAYOUT_VERSION})")));
    let kinds: HashMap<u8, String> = table(&d, "| kind | name |")
        .into_iter()
        .map(|r| (r[0].parse().unwrap(), r[1].clone()))
        .collect();
    for (k, name) in [
        (KIND_BAR_CLOSED, "bar closed"),
        (KIND_BAR_CORRECTED, "bar corrected"),
        (KIND_BAR_UPDATE, "bar update"),
        (KIND_TICK, "tick"),
        (KIND_FEED_GAP, "feed gap"),
        (KIND_HEARTBEAT, "heartbeat"),
        (KIND_SHUTDOWN, "shutdown"),
        (KIND_SYMBOL_ADDED, "symbol added"),
    ] {
        assert_eq!(kinds[&k], name);
    }
    assert_eq!((R_SEQ, R_KIND, R_SYMBOL), (0, 8, 12));
}

/// A value read from `rec` at a table row's offset, by its type, as f64 bits
/// or an integer widened to u64.
fn read(rec: &[u8], off: usize, ty: &str) -> u64 {
    let b = |n: usize| {
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(&rec[off..off + n]);
        u64::from_le_bytes(a)
    };
    match ty {
        "u8" => b(1),
        "u16" => b(2),
        "u32" => b(4),
        "u64" | "i64" | "f64" => b(8),
        other => panic!("type {other}"),
    }
}

/// Checks every typed row of a payload table against `values` (field → the
/// expected raw value) and that untyped rows (reserved) are zero.
fn check_payload(rows: &[Vec<String>], rec: &[u8], values: &HashMap<&str, u64>) {
    let mut covered = 0;
    for r in rows {
        let off: usize = r[0].parse().unwrap();
        let size: usize = r[1].parse().unwrap();
        // the first `backticked` word of the field cell
        let field = r[3].split('`').nth(1).unwrap_or("reserved");
        if r[2] == "—" || field == "reserved" {
            assert!(
                rec[off..off + size].iter().all(|&x| x == 0),
                "{r:?} not zero"
            );
        } else {
            let want = values
                .get(field)
                .unwrap_or_else(|| panic!("no value for {field}"));
            assert_eq!(read(rec, off, &r[2]), *want, "{r:?}");
        }
        covered += size;
    }
    assert_eq!(covered, 120, "the table covers bytes 8..128");
}

#[test]
fn payload_tables_match_the_bytes_a_writer_produces() {
    let d = doc();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let mut w = RingWriter::create(
        &path,
        &RingConfig {
            capacity: 4,
            group: None,
        },
    )
    .unwrap();
    let tf = Timeframe::M5;
    let bar = Bar {
        symbol: 77,
        timeframe: tf,
        start: 1_700_000_100_000_000_000,
        end: tf.bucket_end(1_700_000_100_000_000_000),
        open: 1.5,
        high: 2.5,
        low: 0.5,
        close: 2.0,
        volume: 30.0,
        vwap: 1.75,
        vwap_num: 52.5,
        buy_volume: 20.0,
        sell_volume: 10.0,
        count: 12,
        first_ts: 1_700_000_100_000_000_001,
        last_ts: 1_700_000_399_000_000_000,
        revision: 3,
        flags: Bar::FLAG_QUOTES,
    };
    let mut tick = Tick::quote(78, 1_700_000_000_000_000_123, 99.5, 2.0, 100.5, 3.0)
        .with_recv(1_700_000_000_000_000_456);
    tick.side = Side::Sell;
    tick.flags = 5;
    tick.id = 987;
    w.publish_bar(BarKind::Corrected, &bar).unwrap();
    w.publish_tick(&tick).unwrap();
    w.publish(&Record::FeedGap {
        ts: 42,
        feed: 7,
        symbol: Some(79),
        expected: 100,
        received: 105,
    })
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let rec = |n: usize| &bytes[HEADER_SIZE + n * LINE_SIZE..HEADER_SIZE + (n + 1) * LINE_SIZE];
    for n in 0..3 {
        assert_eq!(
            read(rec(n), 0, "u64"),
            2 * n as u64 + 2,
            "seq of record {n}"
        );
    }

    let f = |x: f64| x.to_bits();
    let bar_values: HashMap<&str, u64> = [
        ("kind", KIND_BAR_CORRECTED as u64),
        ("flags", bar.flags as u64),
        ("symbol", 77),
        ("timeframe_ms", 300_000),
        ("revision", 3),
        ("start", bar.start as u64),
        ("open", f(bar.open)),
        ("high", f(bar.high)),
        ("low", f(bar.low)),
        ("close", f(bar.close)),
        ("volume", f(bar.volume)),
        ("vwap", f(bar.vwap)),
        ("vwap_num", f(bar.vwap_num)),
        ("buy_volume", f(bar.buy_volume)),
        ("sell_volume", f(bar.sell_volume)),
        ("count", 12),
        ("first_ts", bar.first_ts as u64),
        ("last_ts", bar.last_ts as u64),
    ]
    .into_iter()
    .collect();
    check_payload(&table(&d, "### Bar payload"), rec(0), &bar_values);

    let tick_values: HashMap<&str, u64> = [
        ("kind", KIND_TICK as u64),
        ("tick_kind", 2),
        ("side", 2),
        ("symbol", 78),
        ("flags", 5),
        ("ts_event", tick.ts_event as u64),
        ("ts_recv", tick.ts_recv as u64),
        ("price", f(99.5)),
        ("size", f(2.0)),
        ("ask", f(100.5)),
        ("ask_size", f(3.0)),
        ("id", 987),
    ]
    .into_iter()
    .collect();
    check_payload(&table(&d, "### Tick payload"), rec(1), &tick_values);

    let gap_values: HashMap<&str, u64> = [
        ("kind", KIND_FEED_GAP as u64),
        ("symbol", 79),
        ("ts", 42),
        ("feed", 7),
        ("expected", 100),
        ("received", 105),
    ]
    .into_iter()
    .collect();
    check_payload(&table(&d, "### Event payloads"), rec(2), &gap_values);
}

#[test]
fn snapshot_positions_match_the_doc() {
    let d = doc();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let tfs = vec![Timeframe::M1, Timeframe::M5, Timeframe::H1];
    let mut w = ring::SnapshotWriter::create(
        &path,
        &ring::SnapshotConfig {
            max_symbols: 5,
            timeframes: tfs.clone(),
            group: None,
        },
    )
    .unwrap();
    w.set_symbol(3, "ESZ6").unwrap();
    let tf = Timeframe::M5;
    let bar = Bar {
        symbol: 2,
        timeframe: tf,
        start: 0,
        end: tf.bucket_end(0),
        open: 1.0,
        high: 1.0,
        low: 1.0,
        close: 1.0,
        volume: 0.0,
        vwap: 1.0,
        vwap_num: 0.0,
        buy_volume: 0.0,
        sell_volume: 0.0,
        count: 9,
        first_ts: 0,
        last_ts: 0,
        revision: 0,
        flags: 0,
    };
    w.update(BarKind::Update, &bar).unwrap();
    w.update(BarKind::Closed, &bar).unwrap();
    let b = std::fs::read(&path).unwrap();
    let (cap, ntf) = (5usize, 3usize);
    let dir_offset = HEADER_SIZE + cap * ntf * SLOT_SIZE;
    assert_eq!(
        b.len(),
        dir_offset + cap * DIR_ENTRY_SIZE,
        "snapshot size formula"
    );
    assert_eq!(read(&b, H_DIR_OFFSET, "u64") as usize, dir_offset);
    for (i, t) in tfs.iter().enumerate() {
        assert_eq!(read(&b, H_TIMEFRAMES + 4 * i, "u32"), t.millis() as u64);
    }
    // bar slot (s = 2, t = 1): two writes, so seq = 4; kind closed; count 9
    let slot = HEADER_SIZE + (2 * ntf + 1) * SLOT_SIZE;
    assert_eq!(read(&b, slot, "u64"), 4);
    assert_eq!(read(&b, slot + 8, "u8"), KIND_BAR_CLOSED as u64);
    assert_eq!(read(&b, slot + 104, "u64"), 9);
    // directory entry 3
    let rows = table(
        &d,
        "| offset | size | field | meaning |\n|-------:|-----:|-------|---------|\n| 0 | 8 | `seq` | slot",
    );
    assert_eq!(rows.len(), 3);
    let e = dir_offset + 3 * DIR_ENTRY_SIZE;
    assert_eq!(read(&b, e, "u64"), 2);
    assert_eq!(b[e + 8], 4);
    assert_eq!(&b[e + 9..e + 13], b"ESZ6");
    assert!(b[e + 13..e + 64].iter().all(|&x| x == 0));
    assert_eq!(read(&b, H_DIR_GENERATION, "u64"), 1);
}
