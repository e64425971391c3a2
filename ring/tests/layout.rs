//! docs/ring.md is the truth about the bytes: its tables are checked here
//! against the constants and against the bytes a writer really produces
//! (layout version 2: 64-byte lines, records of 1 to 3 lines).

#![cfg(not(loom))]

mod common;

use common::test_bar;
use mtf::{Bar, Side, Tick, Timeframe};
use ring::layout::*;
use ring::{BarKind, Record, RingConfig, RingWriter};
use std::collections::{HashMap, HashSet};

fn doc() -> String {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ring.md");
    std::fs::read_to_string(p).expect("docs/ring.md")
}

/// The first table at or after `heading`: its column names and its rows.
struct Table {
    cols: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn cells(l: &str) -> Vec<String> {
    l.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

fn table(doc: &str, heading: &str) -> Table {
    table_after(doc, heading, "|")
}

/// The first table at or after `heading` whose header row starts with `head`.
fn table_after(doc: &str, heading: &str, head: &str) -> Table {
    let start = doc.find(heading).unwrap_or_else(|| panic!("no {heading}"));
    // from the line break before the heading's line, so that a heading that
    // is itself a table's first row finds that table
    let start = doc[..start].rfind('\n').unwrap_or(0);
    let start = start
        + doc[start..]
            .find(&format!("\n{head}"))
            .unwrap_or_else(|| panic!("no table {head} after {heading}"))
        + 1;
    let mut lines = doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'));
    let cols = cells(lines.next().unwrap());
    let rows: Vec<Vec<String>> = lines.skip(1).map(cells).collect();
    for r in &rows {
        assert_eq!(r.len(), cols.len(), "{heading}: {r:?}");
    }
    Table { cols, rows }
}

/// A payload table (`| word | line | byte | offset | size | type | field | when |`).
fn payload_table(doc: &str, heading: &str) -> Table {
    table_after(doc, heading, "| word |")
}

impl Table {
    fn col(&self, name: &str) -> usize {
        self.cols
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.cols))
    }
    fn get<'a>(&self, row: &'a [String], name: &str) -> &'a str {
        &row[self.col(name)]
    }
    fn num(&self, row: &[String], name: &str) -> u64 {
        self.get(row, name)
            .parse()
            .unwrap_or_else(|_| panic!("{name} of {row:?}"))
    }
}

/// The first `backticked` word of a cell.
fn field(cell: &str) -> Option<&str> {
    cell.split('`').nth(1)
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
        ("records", (H_RECORDS, 8)),
        (
            "timeframes",
            (H_TIMEFRAMES, H_TIMEFRAMES_END - H_TIMEFRAMES),
        ),
    ]
    .into_iter()
    .collect();
    let t = table(&d, "## Header (both files");
    assert_eq!(t.rows.len(), want.len());
    let mut seen = HashSet::new();
    for r in &t.rows {
        let name = field(t.get(r, "field")).unwrap();
        let (off, size) = want[name];
        assert_eq!(t.num(r, "offset") as usize, off, "{r:?}");
        assert_eq!(t.num(r, "size") as usize, size, "{r:?}");
        seen.insert(name);
    }
    assert_eq!(seen.len(), want.len());
    assert!(d.contains(&format!("`{}`", std::str::from_utf8(&RING_MAGIC).unwrap())));
    assert!(d.contains(&format!(
        "`{}`",
        std::str::from_utf8(&SNAPSHOT_MAGIC).unwrap()
    )));
    assert!(d.contains(&format!("(layout version {LAYOUT_VERSION})")));
    assert_eq!(LAYOUT_VERSION, 2);
    assert!(d.contains(&format!("layout version, `{LAYOUT_VERSION}`")));
    assert!(d.contains(&format!("ring: `{LINE_SIZE}`, one line")));
    assert!(d.contains(&format!("snapshot: `{SLOT_SIZE}`, one bar slot")));
    assert!(d.contains(&format!("`4096 + capacity × {LINE_SIZE}`")));
    assert_eq!(HEADER_SIZE, 4096);
    assert_eq!((LINE_SIZE, LINE_WORDS, LINE_PAYLOAD_WORDS), (64, 8, 7));
    assert_eq!((MAX_LINES, SLOT_SIZE), (3, 128));

    let kinds = table(&d, "| kind | name |");
    let names: HashMap<u8, String> = kinds
        .rows
        .iter()
        .map(|r| (kinds.num(r, "kind") as u8, kinds.get(r, "name").to_string()))
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
        assert_eq!(names[&k], name);
    }
    assert_eq!(names.len(), 8);

    // The record head constants are the `byte` column of the head rows
    // (payload word 0, in the record's first line).
    assert_eq!(R_SEQ, 0);
    for heading in ["### Bar payload", "### Tick payload", "### Event payloads"] {
        let t = payload_table(&d, heading);
        for (name, at) in [
            ("kind", R_KIND),
            ("aux", R_AUX),
            ("flags", R_FLAGS),
            ("symbol", R_SYMBOL),
        ] {
            let row = t
                .rows
                .iter()
                .find(|r| t.get(r, "type") != "—" && field(t.get(r, "field")) == Some(name));
            if let Some(r) = row {
                assert_eq!(t.num(r, "byte") as usize, at, "{heading}: {r:?}");
                assert_eq!(t.num(r, "line"), 0, "{heading}: {r:?}");
            } else {
                assert_eq!(heading, "### Event payloads", "{name} missing");
            }
        }
    }
}

/// Lines a record of each kind may take, from the kind table.
fn kind_lines(d: &str) -> HashMap<u8, HashSet<u64>> {
    let t = table(d, "| kind | name |");
    t.rows
        .iter()
        .map(|r| {
            let ls = t
                .get(r, "lines")
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            (t.num(r, "kind") as u8, ls)
        })
        .collect()
}

/// A word built from a `| bit | width | field |` table and field values.
fn pack_bits(t: &Table, values: &HashMap<&str, u64>) -> u64 {
    let mut w = 0u64;
    let mut used = 0u64;
    for r in &t.rows {
        let (bit, width) = (t.num(r, "bit"), t.num(r, "width"));
        let name = field(t.get(r, "field")).unwrap();
        let v = values[name];
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1 << width) - 1
        };
        assert_eq!(used & (mask << bit), 0, "{r:?} overlaps");
        used |= mask << bit;
        w |= (v & mask) << bit;
    }
    w
}

/// The line word of line `i` of complete record `n` of `l` lines, by the
/// doc's table.
fn complete_word(d: &str, n: u64, i: u64, l: u64) -> u64 {
    let t = table(d, "### Line words");
    let values = [("writing", 0), ("len", l - 1), ("line", i), ("rec", n + 1)]
        .into_iter()
        .collect();
    let w = pack_bits(&t, &values);
    // the formula of the prose
    assert_eq!(w, ((n + 1) << 5) | (i << 3) | ((l - 1) << 1));
    assert!(d.contains("((n + 1) << 5) | (i << 3) | ((L - 1) << 1)"));
    w
}

/// A value read from `b` at `off` by its type, as f64 bits or an integer
/// widened to u64.
fn read(b: &[u8], off: usize, ty: &str) -> u64 {
    let n = match ty {
        "u8" => 1,
        "u16" => 2,
        "u32" => 4,
        "u64" | "i64" | "f64" => 8,
        other => panic!("type {other}"),
    };
    let mut a = [0u8; 8];
    a[..n].copy_from_slice(&b[off..off + n]);
    u64::from_le_bytes(a)
}

/// Whether a payload row exists for a record with these selectors (`aux`,
/// `form`): its `when` cell is empty or `name = v1, v2`.
fn row_applies(t: &Table, r: &[String], sel: &HashMap<&str, u64>) -> bool {
    let when = t.get(r, "when");
    if when.is_empty() {
        return true;
    }
    let (name, vals) = when.split_once('=').unwrap();
    let v = sel
        .get(name.trim())
        .unwrap_or_else(|| panic!("no selector {name} for {r:?}"));
    vals.split(',')
        .any(|x| x.trim().parse::<u64>().unwrap() == *v)
}

/// Checks every applicable typed row of a payload table against `values`
/// (field → the expected raw value), that untyped rows (reserved) are zero
/// and that the rows cover `payload` exactly. `payload` is the record's
/// payload area: payload offset `b` is `payload[b]`.
fn check_payload(t: &Table, payload: &[u8], sel: &HashMap<&str, u64>, values: &HashMap<&str, u64>) {
    let mut covered = vec![false; payload.len()];
    for r in &t.rows {
        if !row_applies(t, r, sel) {
            continue;
        }
        let off = t.num(r, "offset") as usize;
        let size = t.num(r, "size") as usize;
        if off >= payload.len() {
            // rows of a longer form, for the snapshot slot (15 words)
            continue;
        }
        let (ty, f) = (t.get(r, "type"), t.get(r, "field"));
        if ty == "—" || f.starts_with("reserved") {
            assert!(
                payload[off..off + size].iter().all(|&x| x == 0),
                "{r:?} not zero"
            );
        } else {
            let name = field(f).unwrap_or_else(|| panic!("no field in {r:?}"));
            let want = values
                .get(name)
                .unwrap_or_else(|| panic!("no value for {name}"));
            assert_eq!(read(payload, off, ty), *want, "{r:?}");
        }
        for c in &mut covered[off..off + size] {
            assert!(!*c, "{r:?} overlaps another row");
            *c = true;
        }
    }
    assert!(covered.iter().all(|&c| c), "the rows cover the payload");
}

/// The word/line/byte columns agree with the payload offset (payload byte
/// `b` is byte `8 + b mod 56` of line `b / 56`), and no field straddles lines.
fn check_columns(t: &Table) {
    let lp = (LINE_PAYLOAD_WORDS * 8) as u64;
    for r in &t.rows {
        let off = t.num(r, "offset");
        assert_eq!(t.num(r, "word"), off / 8, "{r:?}");
        assert_eq!(t.num(r, "line"), off / lp, "{r:?}");
        assert_eq!(t.num(r, "byte"), 8 + off % lp, "{r:?}");
        assert!(off % lp + t.num(r, "size") <= lp, "{r:?} straddles lines");
        assert!(off / lp < MAX_LINES as u64);
    }
}

/// One record found in the file: its number, lines and payload bytes.
struct Found {
    n: u64,
    lines: u64,
    payload: Vec<u8>,
}

/// Walks the records of a ring file from line position `p0` (record `n0`)
/// to the cursor, checking every line word against the doc.
fn walk(d: &str, bytes: &[u8], p0: u64, n0: u64) -> Vec<Found> {
    let cap = read(bytes, H_CAPACITY, "u64");
    assert_eq!(
        bytes.len() as u64,
        HEADER_SIZE as u64 + cap * LINE_SIZE as u64
    );
    let cursor = read(bytes, H_CURSOR, "u64");
    let line = |p: u64| {
        let at = HEADER_SIZE + ((p % cap) as usize) * LINE_SIZE;
        &bytes[at..at + LINE_SIZE]
    };
    let (mut p, mut n, mut out) = (p0, n0, Vec::new());
    while p < cursor {
        let w0 = read(line(p), 0, "u64");
        let l = ((w0 >> 1) & 3) + 1;
        assert!((1..=MAX_LINES as u64).contains(&l), "line {p}: {w0:#x}");
        let mut payload = Vec::new();
        for i in 0..l {
            assert_eq!(
                read(line(p + i), 0, "u64"),
                complete_word(d, n, i, l),
                "line word {i} of record {n}"
            );
            payload.extend_from_slice(&line(p + i)[8..]);
        }
        out.push(Found {
            n,
            lines: l,
            payload,
        });
        p += l;
        n += 1;
    }
    assert_eq!(p, cursor, "records end at the cursor");
    assert_eq!(read(bytes, H_RECORDS, "u64"), n, "records");
    out
}

fn f(x: f64) -> u64 {
    x.to_bits()
}

fn bar_values(kind: u8, aux: u64, bar: &Bar) -> HashMap<&'static str, u64> {
    [
        ("kind", kind as u64),
        ("aux", aux),
        ("flags", bar.flags as u64),
        ("symbol", bar.symbol as u64),
        ("timeframe_ms", bar.timeframe.millis() as u64),
        ("revision", bar.revision as u64),
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
        ("count", bar.count),
        ("first_ts", bar.first_ts as u64),
        ("last_ts", bar.last_ts as u64),
    ]
    .into_iter()
    .collect()
}

fn tick_values(d: &str, t: &Tick, form: u64) -> HashMap<&'static str, u64> {
    let aux_bits = table(d, "`aux` packs three small fields");
    let aux = pack_bits(
        &aux_bits,
        &[
            ("tick_kind", t.kind as u64),
            ("side", t.side as u64),
            ("form", form),
        ]
        .into_iter()
        .collect(),
    );
    [
        ("kind", KIND_TICK as u64),
        ("aux", aux),
        ("flags", t.flags as u64),
        ("symbol", t.symbol as u64),
        ("ts_event", t.ts_event as u64),
        ("ts_recv", t.ts_recv as u64),
        ("price", f(t.price)),
        ("size", f(t.size)),
        ("ask", f(t.ask)),
        ("ask_size", f(t.ask_size)),
        ("id", t.id),
    ]
    .into_iter()
    .collect()
}

fn event_values(
    kind: u8,
    symbol: u32,
    ts: i64,
    feed: u64,
    expected: u64,
    received: u64,
) -> HashMap<&'static str, u64> {
    [
        ("kind", kind as u64),
        ("symbol", symbol as u64),
        ("ts", ts as u64),
        ("feed", feed),
        ("expected", expected),
        ("received", received),
    ]
    .into_iter()
    .collect()
}

/// The doc's rule for a derived vwap (`aux = 0`).
fn derived_vwap(b: &Bar) -> f64 {
    if b.volume > 0.0 {
        b.vwap_num / b.volume
    } else {
        b.close
    }
}

#[test]
fn payload_tables_match_the_bytes_a_writer_produces() {
    let d = doc();
    let bars = payload_table(&d, "### Bar payload");
    let ticks = payload_table(&d, "### Tick payload");
    let events = payload_table(&d, "### Event payloads");
    for t in [&bars, &ticks, &events] {
        check_columns(t);
    }
    let kl = kind_lines(&d);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let mut w = RingWriter::create(
        &path,
        &RingConfig {
            capacity: 64,
            group: None,
        },
    )
    .unwrap();
    // 0: derived vwap (52.5 / 30 = 1.75): 2 lines
    let derived = test_bar(1.75);
    assert_eq!(f(derived_vwap(&derived)), f(derived.vwap));
    w.publish_bar(BarKind::Corrected, &derived).unwrap();
    // 1: explicit vwap: 3 lines
    let explicit = test_bar(1.8);
    assert_ne!(f(derived_vwap(&explicit)), f(explicit.vwap));
    w.publish_bar(BarKind::Closed, &explicit).unwrap();
    // 2: no volume: vwap = close, derived
    let mut empty = test_bar(2.0);
    (
        empty.volume,
        empty.vwap_num,
        empty.buy_volume,
        empty.sell_volume,
    ) = (0.0, 0.0, 0.0, 0.0);
    empty.flags = Bar::FLAG_FILLED | Bar::FLAG_OPEN;
    empty.revision = 0;
    assert_eq!(f(derived_vwap(&empty)), f(empty.vwap));
    w.publish_bar(BarKind::Update, &empty).unwrap();
    // 3: tick form 0 (a trade: ask = ask_size = +0.0)
    let mut trade = Tick::trade(78, 1_700_000_000_000_000_123, 99.5, 2.0, Side::Sell, 987)
        .with_recv(1_700_000_000_000_000_456);
    trade.flags = 5;
    w.publish_tick(&trade).unwrap();
    // 4: tick form 1 (id 0)
    let mut quote = Tick::quote(78, 1_700_000_000_000_000_124, 99.5, 2.0, 100.5, 3.0)
        .with_recv(1_700_000_000_000_000_457);
    quote.flags = 2;
    w.publish_tick(&quote).unwrap();
    // 5: tick form 2 (everything)
    let mut full = quote;
    full.id = 988;
    full.side = Side::Buy;
    w.publish_tick(&full).unwrap();
    // 6..9: events
    w.publish(&Record::FeedGap {
        ts: 42,
        feed: 7,
        symbol: Some(79),
        expected: 100,
        received: 105,
    })
    .unwrap();
    w.publish(&Record::FeedGap {
        ts: 43,
        feed: u32::MAX,
        symbol: None,
        expected: u64::MAX,
        received: 1,
    })
    .unwrap();
    w.publish(&Record::Heartbeat { ts: 44 }).unwrap();
    w.publish(&Record::SymbolAdded { ts: 45, symbol: 80 })
        .unwrap();
    w.shutdown(); // a shutdown record
    let bytes = std::fs::read(&path).unwrap();
    let recs = walk(&d, &bytes, 0, 0);
    assert_eq!(recs.len(), 11);
    assert_eq!(read(&bytes, H_STATE, "u64"), STATE_SHUT_DOWN);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.n, i as u64);
        let kind = r.payload[0];
        assert!(
            kl[&kind].contains(&r.lines),
            "record {i}: {} lines",
            r.lines
        );
    }
    let lines: Vec<u64> = recs.iter().map(|r| r.lines).collect();
    assert_eq!(lines, [2, 3, 2, 1, 1, 2, 1, 1, 1, 1, 1]);

    let sel = |name: &'static str, v: u64| -> HashMap<&str, u64> { [(name, v)].into() };
    check_payload(
        &bars,
        &recs[0].payload,
        &sel("aux", 0),
        &bar_values(KIND_BAR_CORRECTED, 0, &derived),
    );
    check_payload(
        &bars,
        &recs[1].payload,
        &sel("aux", 1),
        &bar_values(KIND_BAR_CLOSED, 1, &explicit),
    );
    check_payload(
        &bars,
        &recs[2].payload,
        &sel("aux", 0),
        &bar_values(KIND_BAR_UPDATE, 0, &empty),
    );
    check_payload(
        &ticks,
        &recs[3].payload,
        &sel("form", 0),
        &tick_values(&d, &trade, 0),
    );
    check_payload(
        &ticks,
        &recs[4].payload,
        &sel("form", 1),
        &tick_values(&d, &quote, 1),
    );
    check_payload(
        &ticks,
        &recs[5].payload,
        &sel("form", 2),
        &tick_values(&d, &full, 2),
    );
    let none = HashMap::new();
    check_payload(
        &events,
        &recs[6].payload,
        &none,
        &event_values(KIND_FEED_GAP, 79, 42, 7, 100, 105),
    );
    check_payload(
        &events,
        &recs[7].payload,
        &none,
        &event_values(KIND_FEED_GAP, u32::MAX, 43, u32::MAX as u64, u64::MAX, 1),
    );
    check_payload(
        &events,
        &recs[8].payload,
        &none,
        &event_values(KIND_HEARTBEAT, u32::MAX, 44, 0, 0, 0),
    );
    check_payload(
        &events,
        &recs[9].payload,
        &none,
        &event_values(KIND_SYMBOL_ADDED, 80, 45, 0, 0, 0),
    );
    let shutdown_ts = read(&recs[10].payload, 8, "i64");
    check_payload(
        &events,
        &recs[10].payload,
        &none,
        &event_values(KIND_SHUTDOWN, u32::MAX, shutdown_ts as i64, 0, 0, 0),
    );
}

#[test]
fn records_wrap_around_the_end_of_the_data_area() {
    let d = doc();
    let bars = payload_table(&d, "### Bar payload");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let cap = 4u64;
    let mut w = RingWriter::create(
        &path,
        &RingConfig {
            capacity: cap,
            group: None,
        },
    )
    .unwrap();
    // 3 one-line records, then a 3-line bar at positions 3, 4, 5 = lines 3, 0, 1
    for i in 0..3 {
        w.publish(&Record::Heartbeat { ts: i }).unwrap();
    }
    let explicit = test_bar(1.8);
    w.publish_bar(BarKind::Closed, &explicit).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(read(&bytes, H_CURSOR, "u64"), 6);
    // line 2 still holds record 2; lines 3, 0, 1 record 3
    let recs = walk(&d, &bytes, 3, 3);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].lines, 3);
    check_payload(
        &bars,
        &recs[0].payload,
        &[("aux", 1)].into(),
        &bar_values(KIND_BAR_CLOSED, 1, &explicit),
    );
    let line2 = HEADER_SIZE + 2 * LINE_SIZE;
    assert_eq!(read(&bytes, line2, "u64"), complete_word(&d, 2, 0, 1));
    // the doc's file-byte formula for payload byte b of a record at line p
    let p = 3u64;
    for b in [0usize, 55, 56, 111, 112, 167] {
        let at = HEADER_SIZE + (((p + b as u64 / 56) % cap) as usize) * LINE_SIZE + 8 + b % 56;
        assert_eq!(bytes[at], recs[0].payload[b], "payload byte {b}");
    }
    drop(w);
}

#[test]
fn snapshot_positions_match_the_doc() {
    let d = doc();
    let bars = payload_table(&d, "### Bar payload");
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
    let mut bar = test_bar(1.75); // derivable: the slot still stores it (aux = 1)
    bar.symbol = 2;
    bar.timeframe = tf;
    w.update(BarKind::Update, &bar).unwrap();
    w.update(BarKind::Closed, &bar).unwrap();
    let b = std::fs::read(&path).unwrap();
    let (cap, ntf) = (5usize, 3usize);
    assert_eq!(read(&b, H_RECORD_SIZE, "u32") as usize, SLOT_SIZE);
    assert_eq!(read(&b, H_CURSOR, "u64"), 0, "no cursor in a snapshot file");
    assert_eq!(
        read(&b, H_RECORDS, "u64"),
        0,
        "no records in a snapshot file"
    );
    assert_eq!(read(&b, H_VERSION, "u32"), LAYOUT_VERSION as u64);
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
    // bar slot (s = 2, t = 1): two writes, so seq = 4; then the bar's payload
    // words 0..14 (aux = 1): payload offset b is slot byte 8 + b
    let slot = HEADER_SIZE + (2 * ntf + 1) * SLOT_SIZE;
    assert_eq!(read(&b, slot, "u64"), 4);
    check_payload(
        &bars,
        &b[slot + 8..slot + SLOT_SIZE],
        &[("aux", 1)].into(),
        &bar_values(KIND_BAR_CLOSED, 1, &bar),
    );
    assert_eq!(read(&b, slot + 96, "u64"), 12, "count at slot byte 96");
    assert_eq!(
        read(&b, slot + 120, "f64"),
        f(1.75),
        "vwap at slot byte 120"
    );
    // the other slots are empty
    for s in 0..cap * ntf {
        if s != 2 * ntf + 1 {
            let o = HEADER_SIZE + s * SLOT_SIZE;
            assert!(b[o..o + SLOT_SIZE].iter().all(|&x| x == 0), "slot {s}");
        }
    }
    // directory entry 3
    let t = table(
        &d,
        "| offset | size | field | meaning |\n|-------:|-----:|-------|---------|\n| 0 | 8 | `seq` | slot",
    );
    assert_eq!(t.rows.len(), 3);
    let e = dir_offset + 3 * DIR_ENTRY_SIZE;
    assert_eq!(read(&b, e, "u64"), 2);
    assert_eq!(b[e + 8], 4);
    assert_eq!(&b[e + 9..e + 13], b"ESZ6");
    assert!(b[e + 13..e + 64].iter().all(|&x| x == 0));
    assert_eq!(read(&b, H_DIR_GENERATION, "u64"), 1);
}
