//! Loom model of the publish/read protocol (issue 5): torn reads impossible,
//! laps counted exactly, snapshot slots consistent.
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p ring --test loom --release
//! ```
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::AtomicU64;
use loom::thread;
use ring::loom_api::{Pos, Step, ring_next, ring_publish_at, slot_store, slot_try_load};

/// Payload words a line in the model: small, so that loom's search stays
/// tractable; the protocol does not depend on the line length.
const P: usize = 2;
/// Words a line: its line word and the payload.
const W: usize = P + 1;

/// Record `n`: one line when `n` is even, two when odd, every word derived
/// from `n` so that a torn read shows.
fn payload(n: u64) -> Vec<u64> {
    let lines = 1 + (n % 2) as usize;
    (0..lines * P).map(|k| n * 16 + k as u64).collect()
}

struct Ring {
    lines: Vec<AtomicU64>,
    cursor: AtomicU64,
    records: AtomicU64,
    mask: u64,
}

fn ring(cap: u64) -> Arc<Ring> {
    Arc::new(Ring {
        lines: (0..cap as usize * W).map(|_| AtomicU64::new(0)).collect(),
        cursor: AtomicU64::new(0),
        records: AtomicU64::new(0),
        mask: cap - 1,
    })
}

fn publish(r: &Ring, records: u64) {
    let mut pos = Pos::default();
    for n in 0..records {
        pos = ring_publish_at::<W>(&r.lines, &r.cursor, &r.records, r.mask, pos, &payload(n));
    }
}

/// Reads `steps` times; checks every record whole and every sequence number
/// either delivered once or counted lost once.
fn read_steps(r: &Ring, steps: usize) -> (Vec<u64>, u64, u64) {
    let mut pos = Pos::default();
    let mut out = [0u64; 3 * P];
    let (mut got, mut lost) = (Vec::new(), 0u64);
    for _ in 0..steps {
        let before = pos;
        match ring_next::<W>(&r.lines, &r.cursor, r.mask, &mut pos, &mut out) {
            Step::Record { n, lines } => {
                assert_eq!(n, before.record, "records come in order");
                let want = payload(n);
                assert_eq!(lines * P, want.len(), "line count of record {n}");
                assert_eq!(out[..want.len()], want[..], "torn read of record {n}");
                assert_eq!(pos.record, n + 1);
                assert_eq!(pos.line, before.line + lines as u64);
                got.push(n);
            }
            Step::Lapped { lost: l } => {
                assert!(l >= 1);
                assert_eq!(pos.record, before.record + l, "lost count matches the skip");
                lost += l;
            }
            Step::Empty => {
                assert_eq!(pos, before);
                thread::yield_now();
            }
        }
    }
    (got, lost, pos.record)
}

#[test]
fn no_torn_reads_and_exact_laps() {
    loom::model(|| {
        // records of 1, 2, 1, 2 lines through a ring of 4 lines: the last
        // one wraps and overwrites the first two
        let r = ring(4);
        let w = r.clone();
        let writer = thread::spawn(move || publish(&w, 4));
        let (got, lost, next) = read_steps(&r, 3);
        writer.join().unwrap();
        assert_eq!(
            got.len() as u64 + lost,
            next,
            "every record delivered or lost, once"
        );
        assert!(next <= 4);
    });
}

#[test]
fn a_reader_that_starts_late_is_lapped_then_reads_the_newest() {
    loom::model(|| {
        let r = ring(4);
        let w = r.clone();
        let writer = thread::spawn(move || publish(&w, 5));
        writer.join().unwrap();
        // 1+2+1+2+1 = 7 lines into 4: records 0..=2 are gone, the newest is 4
        let (got, lost, next) = read_steps(&r, 3);
        assert_eq!(lost, 4);
        assert_eq!(got, vec![4]);
        assert_eq!(next, 5);
    });
}

#[test]
fn snapshot_slot_reads_are_consistent() {
    loom::model(|| {
        let slot: Arc<Vec<AtomicU64>> = Arc::new((0..W).map(|_| AtomicU64::new(0)).collect());
        let s = slot.clone();
        let writer = thread::spawn(move || {
            slot_store(&s, &[1, 1]);
            slot_store(&s, &[2, 2]);
        });
        let mut out = [0u64; P];
        for _ in 0..2 {
            if let Some(seq) = slot_try_load(&slot, &mut out) {
                assert_eq!(seq % 2, 0);
                let v = seq / 2;
                assert_eq!(out, [v, v], "torn snapshot read");
            }
        }
        writer.join().unwrap();
        assert_eq!(slot_try_load(&slot, &mut out), Some(4));
        assert_eq!(out, [2, 2]);
    });
}
