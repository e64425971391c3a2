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
use ring::loom_api::{Step, ring_next, ring_publish_at, slot_store, slot_try_load};

/// Payload words in the model: small, so that loom's search stays tractable;
/// the protocol does not depend on the length.
const P: usize = 2;
const W: usize = P + 1;

fn payload(n: u64) -> [u64; P] {
    [n, !n]
}

struct Ring {
    slots: Vec<AtomicU64>,
    cursor: AtomicU64,
    mask: u64,
}

fn ring(cap: u64) -> Arc<Ring> {
    Arc::new(Ring {
        slots: (0..cap as usize * W).map(|_| AtomicU64::new(0)).collect(),
        cursor: AtomicU64::new(0),
        mask: cap - 1,
    })
}

/// Reads `steps` times; checks every record whole and every sequence number
/// either delivered once or counted lost once.
fn read_steps(r: &Ring, steps: usize) -> (Vec<u64>, u64, u64) {
    let mut next = 0u64;
    let mut out = [0u64; P];
    let (mut got, mut lost) = (Vec::new(), 0u64);
    for _ in 0..steps {
        let before = next;
        match ring_next(&r.slots, &r.cursor, r.mask, &mut next, &mut out) {
            Step::Record(n) => {
                assert_eq!(n, before, "records come in order");
                assert_eq!(out, payload(n), "torn read of record {n}");
                assert_eq!(next, n + 1);
                got.push(n);
            }
            Step::Lapped { lost: l } => {
                assert!(l >= 1);
                assert_eq!(next, before + l, "lost count matches the skip");
                lost += l;
            }
            Step::Empty => {
                assert_eq!(next, before);
                thread::yield_now();
            }
        }
    }
    (got, lost, next)
}

#[test]
fn no_torn_reads_and_exact_laps() {
    loom::model(|| {
        let r = ring(2);
        let w = r.clone();
        let writer = thread::spawn(move || {
            for n in 0..4 {
                ring_publish_at(&w.slots, &w.cursor, w.mask, n, &payload(n));
            }
        });
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
        let r = ring(2);
        let w = r.clone();
        let writer = thread::spawn(move || {
            for n in 0..5 {
                ring_publish_at(&w.slots, &w.cursor, w.mask, n, &payload(n));
            }
        });
        writer.join().unwrap();
        // all 5 published into 2 slots: record 0 is gone
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
