//! Crash and torn-write tests: kill -9 of a writing process, truncated and
//! bit-flipped segment tails (through the `ReadAt` trait and through recovery).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use mtf::Tick;
use store::{
    FsyncPolicy, HotCompression, StoreConfig, StoreReader, StoreWriter, scan_segment, segment_tail,
};

const CHILD_ENV: &str = "STORE_CRASH_CHILD";
/// Ticks per `append_ticks` call in the child (1: `append_tick`).
const BATCH_ENV: &str = "STORE_CRASH_BATCH";

fn cfg() -> StoreConfig {
    StoreConfig {
        block_ticks: 1000,
        segment_bytes: 2 << 20,
        stage_slots: 8,
        fsync: FsyncPolicy::Never,
        ..StoreConfig::default()
    }
}

fn read_all(dir: &Path, symbols: u32) -> Vec<Vec<Tick>> {
    let r = StoreReader::open(dir).unwrap();
    (0..symbols)
        .map(|s| {
            r.ticks(s, i64::MIN, i64::MAX)
                .unwrap()
                .map(Result::unwrap)
                .collect()
        })
        .collect()
}

/// The child: appends a known stream, `batch` ticks per call (1: one
/// `append_tick` each), printing how many ticks the returned calls held.
fn child(dir: PathBuf, batch: usize) {
    let mut w = StoreWriter::open(&dir, 0, cfg()).unwrap();
    let ticks = walk(400_000, 3, 99);
    if batch > 1 {
        let mut done = 0;
        for chunk in ticks.chunks(batch) {
            w.append_ticks(chunk).unwrap();
            done += chunk.len();
            println!("{done}");
            w.poll(std::time::Instant::now()).unwrap();
        }
    } else {
        for (i, t) in ticks.iter().enumerate() {
            w.append_tick(t).unwrap();
            if i % 97 == 0 {
                println!("{}", i + 1);
                w.poll(std::time::Instant::now()).unwrap();
            }
        }
    }
    println!("done");
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn kill_9_loses_nothing_appended() {
    kill_9(1, "kill_9_loses_nothing_appended");
}

/// `append_ticks` counts its ticks in the stage once per call: a kill after
/// a call returned loses none of them.
#[test]
fn kill_9_loses_nothing_appended_in_batches() {
    kill_9(777, "kill_9_loses_nothing_appended_in_batches");
}

fn kill_9(batch: usize, test: &str) {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let batch = std::env::var(BATCH_ENV)
            .ok()
            .and_then(|b| b.parse().ok())
            .unwrap_or(1);
        child(PathBuf::from(dir), batch);
        return;
    }
    let expected = walk(400_000, 3, 99);
    for (round, target) in [3_000usize, 41_234, 150_001].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env(BATCH_ENV, batch.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut acked = 0usize;
        for line in BufReader::new(c.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Ok(n) = line.trim().parse::<usize>() {
                acked = n;
                if n >= target {
                    break;
                }
            }
        }
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
        assert!(acked >= target, "child died early (round {round})");
        // recovery: reopen the writer, which commits the stage and seals
        let w = StoreWriter::open(dir.path(), 0, cfg()).unwrap();
        let rec = w
            .stats()
            .recovered_ticks
            .load(std::sync::atomic::Ordering::Relaxed);
        w.close().unwrap();
        let got = read_all(dir.path(), 3);
        let total: usize = got.iter().map(Vec::len).sum();
        assert!(
            total >= acked,
            "round {round}: {total} stored < {acked} acknowledged"
        );
        // exactly a prefix of the stream, per symbol, no duplicates
        let prefix = &expected[..total];
        for s in 0..3u32 {
            let want: Vec<Tick> = prefix.iter().filter(|t| t.symbol == s).copied().collect();
            assert_eq!(
                got[s as usize].len(),
                want.len(),
                "round {round} symbol {s}"
            );
            for (a, b) in got[s as usize].iter().zip(&want) {
                assert!(same_tick(a, b));
            }
        }
        eprintln!(
            "round {round}: acknowledged {acked}, stored {total}, recovered from stage {rec}"
        );
    }
}

/// A store whose single hot segment holds `blocks` committed blocks of 100
/// ticks, compressed or not by `hot`.
fn hot_store(blocks: usize, hot: HotCompression) -> (tempfile::TempDir, PathBuf, Vec<Tick>) {
    let dir = tempfile::tempdir().unwrap();
    let c = StoreConfig {
        block_ticks: 100,
        hot_compression: hot,
        ..cfg()
    };
    let mut w = StoreWriter::open(dir.path(), 0, c).unwrap();
    let ticks: Vec<Tick> = walk(blocks * 100, 1, 5);
    w.append_ticks(&ticks).unwrap();
    w.close().unwrap();
    let day = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let hot = std::fs::read_dir(&day)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "hot"))
        .unwrap();
    (dir, hot, ticks)
}

fn decoded(img: &[u8]) -> Result<Vec<Tick>, store::Corrupt> {
    let mut out = Vec::new();
    scan_segment(img, |t| out.extend_from_slice(t), |_| {})?;
    Ok(out)
}

/// (start, end) of the last record: the shortest clean prefixes holding
/// `before` and `after` ticks.
fn last_record(img: &[u8], before: usize, after: usize) -> (usize, usize) {
    let clean = |l: usize, n: usize| {
        decoded(&img[..l]).map(|v| v.len()) == Ok(n) && segment_tail(&img[..l]).is_none()
    };
    let end = (0..img.len()).find(|&l| clean(l, after)).unwrap();
    let start = (0..end).rev().find(|&l| clean(l, before)).unwrap();
    (start, end)
}

#[test]
fn torn_tail_by_truncation_is_cut() {
    torn_tail(HotCompression::Lz4);
    torn_tail(HotCompression::None);
}

fn torn_tail(codec: HotCompression) {
    let (_dir, hot, ticks) = hot_store(5, codec);
    let img = std::fs::read(&hot).unwrap();
    let full = decoded(&img).unwrap();
    assert_eq!(full.len(), 500);
    let (last_start, end) = last_record(&img, 400, 500);
    for len in last_start..end {
        let got = decoded(&img[..len]).unwrap();
        assert_eq!(got.len(), 400, "truncated at {len}");
        for (a, b) in got.iter().zip(&ticks) {
            assert!(same_tick(a, b));
        }
        if len > last_start {
            assert!(
                segment_tail(&img[..len]).is_some(),
                "torn tail at {len} not reported"
            );
        }
    }
    assert_eq!(decoded(&img[..end]).unwrap().len(), 500);
}

#[test]
fn flipped_bytes_in_last_block_are_cut_never_returned() {
    flipped_bytes(HotCompression::Lz4);
    flipped_bytes(HotCompression::None);
}

fn flipped_bytes(codec: HotCompression) {
    let (dir, hot, ticks) = hot_store(5, codec);
    let img = std::fs::read(&hot).unwrap();
    let (last_start, end) = last_record(&img, 400, 500);
    for off in last_start..end + 8 {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = img.clone();
            bad[off] ^= mask;
            let got = decoded(&bad).unwrap();
            let want = if off < end { 400 } else { 500 }; // after the end: garbage, cut
            assert_eq!(
                got.len(),
                want,
                "flip {mask:#x} at {off} (last block {last_start}..{end})"
            );
            assert!(segment_tail(&bad).is_some(), "flip at {off} not detected");
            for (a, b) in got.iter().zip(&ticks) {
                assert!(same_tick(a, b));
            }
        }
    }
    // and through real recovery: the corrupted file on disk, a writer reopens it
    let mut bad = img.clone();
    bad[last_start + 100] ^= 0x10;
    std::fs::write(&hot, &bad).unwrap();
    let w = StoreWriter::open(dir.path(), 0, cfg()).unwrap();
    assert_eq!(
        w.stats()
            .torn_tails
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    w.close().unwrap();
    let got = read_all(dir.path(), 1);
    assert_eq!(got[0].len(), 400);
}

#[test]
fn corrupt_sealed_segment_never_returns_bad_data() {
    let (dir, hot, ticks) = hot_store(3, HotCompression::None);
    drop(hot);
    // reopening seals the hot segment
    StoreWriter::open(dir.path(), 0, cfg())
        .unwrap()
        .close()
        .unwrap();
    let day = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let seg = std::fs::read_dir(&day)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let img = std::fs::read(&seg).unwrap();
    assert_eq!(decoded(&img).unwrap().len(), 300);
    for off in 0..img.len() {
        let mut bad = img.clone();
        bad[off] ^= 0x04;
        if let Ok(got) = decoded(&bad) {
            // a flip the format does not need (e.g. the trailer, rebuilt by a
            // scan) may leave the data readable, but then it is the true data
            for (a, b) in got.iter().zip(&ticks) {
                assert!(same_tick(a, b), "flip at {off} returned altered data");
            }
        }
    }
    // the reader reports a corrupt block inside a sealed file as an error
    let mut bad = img.clone();
    let mid = img.len() / 2;
    bad[mid] ^= 0x04;
    std::fs::write(&seg, &bad).unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    let res: Result<Vec<Tick>, _> = r.ticks(0, i64::MIN, i64::MAX).unwrap().collect();
    assert!(
        res.is_err()
            || res
                .unwrap()
                .iter()
                .zip(&ticks)
                .all(|(a, b)| same_tick(a, b))
    );
}

#[test]
fn stale_stage_after_commit_is_not_duplicated() {
    // a crash between committing a block and clearing its stage slot: the
    // block's tag says it is committed, recovery must not append it again
    let dir = tempfile::tempdir().unwrap();
    let c = StoreConfig {
        block_ticks: 100,
        ..cfg()
    };
    let mut w = StoreWriter::open(dir.path(), 0, c.clone()).unwrap();
    let ticks = walk(250, 1, 1);
    w.append_ticks(&ticks[..150]).unwrap();
    let stage = dir.path().join("stage/w000.stage");
    let snapshot = std::fs::read(&stage).unwrap(); // slot holds 50 staged ticks
    w.append_ticks(&ticks[150..199]).unwrap();
    w.flush().unwrap(); // commits ticks 100..199 and clears the slot
    drop(w);
    // put the pre-commit stage back, as if the clear never reached the page cache
    std::fs::remove_file(&stage).unwrap();
    std::fs::write(&stage, &snapshot).unwrap();
    let w = StoreWriter::open(dir.path(), 0, c).unwrap();
    assert_eq!(
        w.stats()
            .recovered_ticks
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    w.close().unwrap();
    let got = read_all(dir.path(), 1);
    assert_eq!(got[0].len(), 199);
}

/// Copies every file under `from` to `to` (same relative paths).
fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// What a kill leaves is the page cache: a copy of the store taken while
/// the writer lives. Every tick of a returned `append_ticks` is in it,
/// whether committed or only staged (the stage counts are stored as the
/// call ends), exactly once.
#[test]
fn a_returned_append_ticks_is_in_the_stage() {
    let dir = tempfile::tempdir().unwrap();
    let c = StoreConfig {
        block_ticks: 100,
        ..cfg()
    };
    let mut w = StoreWriter::open(dir.path(), 0, c.clone()).unwrap();
    let ticks = walk(1_000, 3, 5);
    let mut done = 0;
    for (k, n) in [1usize, 37, 250, 3, 409, 300].into_iter().enumerate() {
        w.append_ticks(&ticks[done..done + n]).unwrap();
        done += n;
        let copy = tempfile::tempdir().unwrap();
        copy_tree(dir.path(), copy.path());
        let r = StoreWriter::open(copy.path(), 0, c.clone()).unwrap();
        r.close().unwrap();
        let got = read_all(copy.path(), 3);
        for s in 0..3u32 {
            let want: Vec<Tick> = ticks[..done]
                .iter()
                .filter(|t| t.symbol == s)
                .copied()
                .collect();
            assert_eq!(got[s as usize].len(), want.len(), "call {k}, symbol {s}");
            assert!(
                got[s as usize]
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| same_tick(a, b))
            );
        }
    }
    w.close().unwrap();
}
