//! Writer → reader round trips, bars, info, import, retention, compaction.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mtf::batch::{BatchSpec, SortedColumns};
use mtf::{Bar, Tick, Timeframe};
use store::import::{ImportOptions, import_ticks};
use store::maintenance::{compact_day, drop_days_before};
use store::{FsyncPolicy, HotCompression, StoreConfig, StoreError, StoreReader, StoreWriter};

fn small() -> StoreConfig {
    StoreConfig {
        block_ticks: 1000,
        block_bars: 64,
        segment_bytes: 4 << 20,
        stage_slots: 16,
        sealed_block: 5000,
        fsync: FsyncPolicy::Interval(Duration::from_millis(20)),
        ..StoreConfig::default()
    }
}

fn read_all(r: &StoreReader, sym: u32) -> Vec<Tick> {
    r.ticks(sym, i64::MIN, i64::MAX)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn assert_same(got: &[Tick], want: &[Tick]) {
    assert_eq!(got.len(), want.len());
    for (a, b) in got.iter().zip(want) {
        assert!(same_tick(a, b), "{a:?} != {b:?}");
    }
}

#[test]
fn ticks_round_trip_hot_then_sealed() {
    for hot_compression in [HotCompression::Lz4, HotCompression::None] {
        ticks_round_trip(StoreConfig {
            hot_compression,
            ..small()
        });
    }
}

fn ticks_round_trip(cfg: StoreConfig) {
    let dir = tempfile::tempdir().unwrap();
    let ticks = walk(60_000, 5, 7);
    let mut w = StoreWriter::open(dir.path(), 0, cfg).unwrap();
    for (i, name) in ["A", "B", "C", "D", "E"].iter().enumerate() {
        w.define_symbol(i as u32, name).unwrap();
    }
    w.append_ticks(&ticks).unwrap();
    w.flush().unwrap();
    // visible while the writer is open (hot segment, read by another handle)
    let r = StoreReader::open(dir.path()).unwrap();
    for s in 0..5 {
        let want: Vec<Tick> = ticks.iter().filter(|t| t.symbol == s).copied().collect();
        assert_same(&read_all(&r, s), &want);
    }
    w.seal_all().unwrap();
    w.close().unwrap();
    let files: Vec<_> = walkdir(dir.path());
    assert!(files.iter().all(|f| !f.ends_with(".hot")), "{files:?}");
    for s in 0..5 {
        let want: Vec<Tick> = ticks.iter().filter(|t| t.symbol == s).copied().collect();
        assert_same(&read_all(&r, s), &want);
        // a sub-range
        let (a, b) = (want[100].ts_event, want[2000].ts_event);
        let sub: Vec<Tick> = r.ticks(s, a, b).unwrap().map(Result::unwrap).collect();
        let wsub: Vec<Tick> = want
            .iter()
            .filter(|t| t.ts_event >= a && t.ts_event < b)
            .copied()
            .collect();
        assert_same(&sub, &wsub);
    }
    let info = r.info().unwrap();
    assert_eq!(info.len(), 5);
    assert_eq!(info.iter().map(|i| i.ticks).sum::<u64>(), 60_000);
    assert_eq!(info[1].name.as_deref(), Some("B"));
    assert!(info[0].compression_ratio > 4.0, "{:?}", info[0]);
}

fn walkdir(p: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walkdir(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

#[test]
fn days_partition_and_late_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = StoreWriter::open(dir.path(), 3, small()).unwrap();
    let mut all = Vec::new();
    for d in 0..3 {
        for i in 0..2500 {
            all.push(Tick::trade(
                1,
                T0 + d * DAY + i * 1_000_000_000,
                10.0 + i as f64 * 0.01,
                1.0,
                mtf::Side::Buy,
                i as u64,
            ));
        }
    }
    // a late tick for day 0 after day 2 started
    all.push(Tick::trade(1, T0 + 5, 9.99, 2.0, mtf::Side::Sell, 99));
    w.append_ticks(&all).unwrap();
    w.close().unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    assert_eq!(r.days().unwrap().len(), 3);
    let got = read_all(&r, 1);
    assert_eq!(got.len(), all.len());
    let day0: Vec<Tick> = r
        .ticks(1, T0 - T0 % DAY, T0 - T0 % DAY + DAY)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(day0.len(), 2501);
    assert_eq!(
        r.last_tick_time(1).unwrap(),
        Some(T0 + 2 * DAY + 2499 * 1_000_000_000)
    );
}

#[test]
fn bars_latest_revision_wins_and_rebuild_matches_mtf() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = StoreWriter::open(dir.path(), 0, small()).unwrap();
    let tf = Timeframe::M1;
    let start = T0 - T0 % tf.nanos();
    for i in 0..200 {
        w.append_bar(&bar(2, tf, start + i * tf.nanos(), 100.0 + i as f64, 0))
            .unwrap();
    }
    // revisions of bar 10 (twice) and 150
    w.append_bar(&bar(2, tf, start + 10 * tf.nanos(), 555.0, 1))
        .unwrap();
    w.append_bar(&bar(2, tf, start + 150 * tf.nanos(), 777.0, 1))
        .unwrap();
    w.append_bar(&bar(2, tf, start + 10 * tf.nanos(), 666.0, 2))
        .unwrap();
    let ticks = walk(20_000, 1, 3);
    let ticks: Vec<Tick> = ticks.into_iter().map(|t| Tick { symbol: 2, ..t }).collect();
    w.append_ticks(&ticks).unwrap();
    w.flush().unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    let bars: Vec<Bar> = r
        .bars(2, tf, i64::MIN, i64::MAX)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(bars.len(), 200);
    assert_eq!(bars[10].close, 666.0);
    assert_eq!(bars[10].revision, 2);
    assert_eq!(bars[150].close, 777.0);
    assert!(bars.windows(2).all(|w| w[0].start < w[1].start));
    assert_eq!(
        r.last_bar(2, tf).unwrap().unwrap().start,
        start + 199 * tf.nanos()
    );

    // 5s bars are not stored: rebuilt from the ticks with the mtf batch kernel
    let tf5: Timeframe = "5s".parse().unwrap();
    let rebuilt: Vec<Bar> = r
        .bars(2, tf5, i64::MIN, i64::MAX)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let trades: Vec<&Tick> = ticks.iter().filter(|t| t.is_trade()).collect();
    let ts: Vec<i64> = trades.iter().map(|t| t.ts_event).collect();
    let px: Vec<f64> = trades.iter().map(|t| t.price).collect();
    let sz: Vec<f64> = trades.iter().map(|t| t.size).collect();
    let sd: Vec<mtf::Side> = trades.iter().map(|t| t.side).collect();
    let mut want = Vec::new();
    let spec = BatchSpec {
        symbol: 2,
        timeframe: tf5,
        origin_ns: 0,
        flags: 0,
    };
    mtf::batch::aggregate(
        &SortedColumns::new(&ts, &px, &sz, Some(&sd)).unwrap(),
        &spec,
        &mut want,
    );
    assert_eq!(rebuilt, want);
    w.close().unwrap();
}

#[test]
fn import_twice_keeps_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let ticks = walk(30_000, 3, 11);
    let names = ["SPY", "BAC", "QQQ"];
    let input = || ticks.iter().map(|t| (names[t.symbol as usize], *t));
    let opts = ImportOptions {
        block: 4096,
        ..ImportOptions::default()
    };
    let a = import_ticks(dir.path(), 42, input(), &opts).unwrap();
    assert!(!a.already_imported);
    assert_eq!(a.ticks, 30_000);
    let b = import_ticks(dir.path(), 42, input(), &opts).unwrap();
    assert!(b.already_imported);
    let r = StoreReader::open(dir.path()).unwrap();
    let syms = r.symbols().unwrap();
    assert_eq!(syms.len(), 3);
    let mut total = 0;
    for (i, n) in names.iter().enumerate() {
        let id = syms.id(n).unwrap();
        let want: Vec<Tick> = ticks
            .iter()
            .filter(|t| t.symbol == i as u32)
            .map(|t| Tick { symbol: id, ..*t })
            .collect();
        let got = read_all(&r, id);
        assert_same(&got, &want);
        total += got.len();
    }
    assert_eq!(total, 30_000);
}

#[test]
fn compaction_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let ticks = walk(20_000, 2, 5);
    // three sealed parts for the same day: two writer sessions and an import
    for (k, part) in ticks.chunks(8000).take(2).enumerate() {
        let mut w = StoreWriter::open(dir.path(), 0, small()).unwrap();
        w.append_ticks(part).unwrap();
        w.append_bar(&bar(
            0,
            Timeframe::M1,
            T0 - T0 % 60_000_000_000,
            1.0 + k as f64,
            k as u32,
        ))
        .unwrap();
        w.seal_all().unwrap();
        w.close().unwrap();
    }
    let rest = &ticks[16_000..];
    let names = ["S0", "S1"];
    import_ticks(
        dir.path(),
        7,
        rest.iter().map(|t| (names[t.symbol as usize], *t)),
        &ImportOptions::default(),
    )
    .unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    let s0 = r.symbols().unwrap().id("S0").unwrap();
    let before = read_all(&r, s0);
    let day = r.days().unwrap()[0];
    let rep = compact_day(dir.path(), day, 3, 65_536).unwrap();
    assert_eq!(rep.inputs, 3, "{rep:?}");
    assert_eq!(rep.ticks, 20_000);
    assert_eq!(rep.bars, 1, "superseded revision dropped");
    let after = read_all(&r, s0);
    assert_same(&after, &before);
    let b: Vec<Bar> = r
        .stored_bars(0, Timeframe::M1, i64::MIN, i64::MAX)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!((b.len(), b[0].revision), (1, 1));
    // a new writer session after compaction gets a fresh part name
    let mut w = StoreWriter::open(dir.path(), 0, small()).unwrap();
    w.append_tick(&Tick {
        symbol: s0,
        ..ticks[0]
    })
    .unwrap();
    w.close().unwrap();
    assert_eq!(read_all(&r, s0).len(), before.len() + 1);
    // retention: the day has a hot file now, so it is kept; seal then drop
    let rep = drop_days_before(dir.path(), day + 1).unwrap();
    assert_eq!(rep.kept_hot, vec![day]);
    let w = StoreWriter::open(dir.path(), 0, small()).unwrap(); // seals the old hot part
    w.close().unwrap();
    let rep = drop_days_before(dir.path(), day + 1).unwrap();
    assert_eq!(rep.dropped, vec![day]);
    assert!(read_all(&r, s0).is_empty());
}

#[test]
fn symbol_conflicts_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = StoreWriter::open(dir.path(), 0, small()).unwrap();
    w.define_symbol(1, "SPY").unwrap();
    w.define_symbol(1, "SPY").unwrap();
    assert!(matches!(
        w.define_symbol(1, "QQQ"),
        Err(StoreError::SymbolConflict { .. })
    ));
    assert!(matches!(
        w.define_symbol(2, "SPY"),
        Err(StoreError::SymbolConflict { .. })
    ));
    assert!(matches!(
        w.define_symbol(3, ""),
        Err(StoreError::BadSymbol(_))
    ));
    // a second writer with the same number is refused
    assert!(matches!(
        StoreWriter::open(dir.path(), 0, small()),
        Err(StoreError::Locked(_))
    ));
    let mut w1 = StoreWriter::open(dir.path(), 1, small()).unwrap();
    assert!(matches!(
        w1.define_symbol(1, "QQQ"),
        Err(StoreError::SymbolConflict { .. })
    ));
    assert!(matches!(
        w1.append_tick(&Tick::trade(u32::MAX, 0, 1.0, 1.0, mtf::Side::Buy, 0)),
        Err(StoreError::SymbolIdTooLarge(_))
    ));
}

#[test]
fn interval_flush_makes_ticks_visible() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        flush_interval: Duration::from_millis(10),
        ..small()
    };
    let mut w = StoreWriter::open(dir.path(), 0, cfg).unwrap();
    w.append_ticks(&walk(10, 1, 1)).unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    assert_eq!(read_all(&r, 0).len(), 0, "open block not visible yet");
    std::thread::sleep(Duration::from_millis(15));
    w.poll(Instant::now()).unwrap();
    assert_eq!(read_all(&r, 0).len(), 10);
}

#[test]
fn many_streams_evict_oldest_slot() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        stage_slots: 4,
        ..small()
    };
    let mut w = StoreWriter::open(dir.path(), 0, cfg).unwrap();
    let ticks = walk(5000, 40, 9);
    w.append_ticks(&ticks).unwrap();
    w.close().unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    for s in 0..40 {
        let want: Vec<Tick> = ticks.iter().filter(|t| t.symbol == s).copied().collect();
        assert_same(&read_all(&r, s), &want);
    }
}

/// Sets every day directory's mtime into the past, as if settled.
fn settle_days(root: &std::path::Path) {
    let past = std::time::SystemTime::now() - Duration::from_secs(10);
    for e in std::fs::read_dir(root.join("data")).unwrap() {
        let d = std::fs::File::open(e.unwrap().path()).unwrap();
        d.set_modified(past).unwrap();
    }
}

#[test]
fn reader_cache_follows_new_segments() {
    let dir = tempfile::tempdir().unwrap();
    let tf = Timeframe::M1;
    let start = T0 - T0 % 60_000_000_000;
    let write = |close: f64, rev: u32| {
        let mut w = StoreWriter::open(dir.path(), 0, small()).unwrap();
        for i in 0..100 {
            w.append_bar(&bar(1, tf, start + i * tf.nanos(), close, rev))
                .unwrap();
        }
        w.seal_all().unwrap();
        w.close().unwrap();
    };
    let closes = |r: &StoreReader| -> Vec<f64> {
        let mut it = r.stored_bars(1, tf, i64::MIN, i64::MAX).unwrap();
        let mut v = Vec::new();
        while let Some(b) = it.next_batch() {
            v.extend(b.unwrap().iter().map(|b| b.close));
        }
        // the per-bar iterator agrees with the batches
        let one: Vec<f64> = r
            .stored_bars(1, tf, i64::MIN, i64::MAX)
            .unwrap()
            .map(|b| b.unwrap().close)
            .collect();
        assert_eq!(one, v);
        v
    };
    write(1.0, 0);
    settle_days(dir.path());
    let r = StoreReader::open(dir.path()).unwrap();
    let uncached = StoreReader::with_cache(dir.path(), 0, 0).unwrap();
    assert_eq!(closes(&r), vec![1.0; 100]);
    assert_eq!(closes(&r), vec![1.0; 100], "served from the cache");
    // a part range: partition of the cached day
    let mid: Vec<Bar> = r
        .stored_bars(1, tf, start + 10 * tf.nanos(), start + 20 * tf.nanos())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(mid.len(), 10);
    assert_eq!(mid[0].start, start + 10 * tf.nanos());
    // a new revision lands in a new sealed segment: the directory changes
    write(2.0, 1);
    assert_eq!(closes(&r), vec![2.0; 100], "a changed day is reread");
    settle_days(dir.path());
    assert_eq!(closes(&r), vec![2.0; 100]);
    assert_eq!(closes(&r), vec![2.0; 100]);
    assert_eq!(closes(&uncached), vec![2.0; 100]);
}

/// Ticks rebuilt from the columns of [`StoreReader::tick_columns`].
fn from_columns(r: &StoreReader, sym: u32, from: i64, to: i64) -> Vec<Tick> {
    let mut it = r.tick_columns(sym, from, to).unwrap();
    let mut out = Vec::new();
    while let Some(c) = it.next_batch() {
        let c = c.unwrap();
        assert!(!c.is_empty());
        let mut i = 0usize;
        for &(meta, len) in &c.meta {
            for _ in 0..len {
                out.push(Tick {
                    ts_event: c.ts_event[i],
                    ts_recv: c.ts_recv[i],
                    symbol: sym,
                    kind: mtf::TickKind::from_u8((meta >> 2 & 0x3f) as u8).unwrap(),
                    side: mtf::Side::from_u8((meta & 3) as u8),
                    flags: (meta >> 8) as u16,
                    price: c.price[i],
                    size: c.size[i],
                    ask: c.ask[i],
                    ask_size: c.ask_size[i],
                    id: c.id[i],
                });
                i += 1;
            }
        }
        assert_eq!(i, c.len(), "runs cover the batch exactly");
    }
    out
}

#[test]
fn tick_columns_give_the_ticks_of_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let ticks = walk(20_000, 3, 11);
    let mut w = StoreWriter::open(dir.path(), 0, small()).unwrap();
    w.append_ticks(&ticks).unwrap();
    w.flush().unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    for s in 0..3 {
        let all: Vec<Tick> = r
            .ticks(s, i64::MIN, i64::MAX)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_same(&from_columns(&r, s, i64::MIN, i64::MAX), &all);
        // sub-ranges cutting blocks (runs trimmed and joined)
        for (a, b) in [(50, 5000), (999, 1001), (3, 4), (0, all.len() - 1)] {
            let (a, b) = (all[a].ts_event, all[b].ts_event);
            let want: Vec<Tick> = r.ticks(s, a, b).unwrap().map(Result::unwrap).collect();
            assert_same(&from_columns(&r, s, a, b), &want);
        }
        let t = all[10].ts_event;
        assert!(from_columns(&r, s, t, t).is_empty());
    }
}
