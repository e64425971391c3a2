//! The seqlock protocol over one slot of 64-bit words: word 0 is the sequence,
//! the rest the payload. Pure: no mapping, no files, so `tests/loom.rs` runs it
//! on loom's atomics and Miri runs it on heap memory.
//!
//! Orderings (Boehm, "Can seqlocks get along with programming language memory
//! models?", 2012):
//!
//! - writer: `seq ← odd` (Relaxed); `fence(Release)`; payload words (Relaxed);
//!   `seq ← even` (Release).
//! - reader: `s1 ← seq` (Relaxed); `fence(Acquire)`; payload words (Relaxed);
//!   `fence(Acquire)`; `s2 ← seq` (Relaxed); accept when `s1 == s2` and `s1` is
//!   the even value it wanted.
//!
//! If a reader's payload load sees any word of a later write, the writer's
//! Release fence (before its payload stores) synchronises with the reader's
//! second Acquire fence, so `s2` sees at least the later odd value and the read
//! is discarded: a torn read is impossible. If `s1` is the even value, the first
//! Acquire fence pairs with the writer's Release store of it, so every payload
//! word of that write is visible.
//!
//! Every payload access is an atomic word access, so there is no data race in
//! the Rust memory model (the classic seqlock caveat of reading the payload with
//! plain or volatile loads does not arise); on x86-64 a Relaxed load or store is
//! the same `mov` a plain access compiles to, so this costs nothing except that
//! the compiler may not fuse the loads into vector moves.
//!
//! Readers use only Relaxed loads plus fences, never Acquire loads, because they
//! map the file read-only: the standard library guarantees only Relaxed atomic
//! loads of at most 8 bytes to work on read-only memory on x86-64 and aarch64
//! ("Atomic accesses to read-only memory", `core::sync::atomic`).

use crate::sync::{AtomicU64, Ordering, fence};

/// Payload words after the sequence word in a ring record or snapshot bar slot.
pub const RECORD_PAYLOAD_WORDS: usize = 15;

/// First word of a record's second cache line.
#[cfg(not(loom))]
const SECOND_LINE_WORD: usize = 8;

/// The sequence word a ring slot holds once record `n` is complete.
#[inline]
pub const fn done_seq(n: u64) -> u64 {
    n.wrapping_mul(2).wrapping_add(2)
}

/// Writes ring record number `n` into `slot` (`slot[0]` is the sequence word,
/// `slot[1..]` the payload). Single writer: only one thread of one process
/// ever calls this for a given ring.
#[inline]
pub fn ring_publish(slot: &[AtomicU64], n: u64, payload: &[u64]) {
    debug_assert_eq!(slot.len(), payload.len() + 1);
    // Relaxed: ordered before the payload stores by the Release fence below.
    slot[0].store(done_seq(n).wrapping_sub(1), Ordering::Relaxed);
    // Pairs with the reader's second Acquire fence: a reader that sees any
    // payload word of this write also sees the odd sequence and retries.
    fence(Ordering::Release);
    for (w, &v) in slot[1..].iter().zip(payload) {
        w.store(v, Ordering::Relaxed);
    }
    // Release: pairs with the reader's first Acquire fence, after it loaded
    // this even value: every payload word above is visible to it.
    slot[0].store(done_seq(n), Ordering::Release);
}

/// What a reader found in the slot of the record it wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotRead {
    /// The record was read whole into the output buffer.
    Ready,
    /// Not published yet (the slot holds an older record, or is being written
    /// with the wanted one).
    NotYet,
    /// The slot already holds (or is being written with) a newer record: the
    /// wanted one was overwritten.
    Overwritten,
}

/// Reads ring record number `n` from `slot` into `out` (`out.len() + 1 ==
/// slot.len()`). Never waits.
#[inline]
pub fn ring_read(slot: &[AtomicU64], n: u64, out: &mut [u64]) -> SlotRead {
    debug_assert_eq!(slot.len(), out.len() + 1);
    let want = done_seq(n);
    // Relaxed + the fence below = an Acquire load that works on read-only memory.
    let s1 = slot[0].load(Ordering::Relaxed);
    if s1 != want {
        // Sequence values only grow; compare in the wrapping sense so a ring
        // that has published 2^63 records still orders them.
        return if (s1.wrapping_sub(want) as i64) < 0 {
            // Touch the record's second cache line too while waiting, so
            // that when the writer fills the slot both lines travel to this
            // core at once instead of one after the other. The value is
            // discarded; it only warms the line.
            #[cfg(not(loom))]
            if let Some(w) = slot.get(SECOND_LINE_WORD) {
                core::hint::black_box(w.load(Ordering::Relaxed));
            }
            SlotRead::NotYet
        } else {
            SlotRead::Overwritten
        };
    }
    // Pairs with the writer's final Release store of `want`.
    fence(Ordering::Acquire);
    for (o, w) in out.iter_mut().zip(&slot[1..]) {
        *o = w.load(Ordering::Relaxed);
    }
    // Pairs with the writer's Release fence before its payload stores: if any
    // load above saw a newer write, `s2` sees its odd sequence (or later).
    fence(Ordering::Acquire);
    let s2 = slot[0].load(Ordering::Relaxed);
    if s2 == want {
        SlotRead::Ready
    } else {
        SlotRead::Overwritten
    }
}

/// Writes a new version of a snapshot slot (sequence +2 per version, odd while
/// writing). Single writer per slot.
#[inline]
pub fn slot_store(slot: &[AtomicU64], payload: &[u64]) {
    debug_assert_eq!(slot.len(), payload.len() + 1);
    // Relaxed: only this writer ever stores the sequence, so it reads its own
    // last value.
    let s = slot[0].load(Ordering::Relaxed);
    let s = s.wrapping_add(s & 1); // a crashed earlier writer may have left it odd
    slot[0].store(s.wrapping_add(1), Ordering::Relaxed);
    // Same pairing as in `ring_publish`.
    fence(Ordering::Release);
    for (w, &v) in slot[1..].iter().zip(payload) {
        w.store(v, Ordering::Relaxed);
    }
    slot[0].store(s.wrapping_add(2), Ordering::Release);
}

/// One attempt to read a snapshot slot: `Some(seq)` with `out` filled when the
/// read was consistent (`seq == 0`: never written), `None` when a write was in
/// progress or overlapped (retry).
#[inline]
pub fn slot_try_load(slot: &[AtomicU64], out: &mut [u64]) -> Option<u64> {
    debug_assert_eq!(slot.len(), out.len() + 1);
    let s1 = slot[0].load(Ordering::Relaxed);
    if s1 & 1 == 1 {
        return None;
    }
    // Pairs with the writer's Release store of the even `s1`.
    fence(Ordering::Acquire);
    for (o, w) in out.iter_mut().zip(&slot[1..]) {
        *o = w.load(Ordering::Relaxed);
    }
    // Pairs with the writer's Release fence before its payload stores.
    fence(Ordering::Acquire);
    let s2 = slot[0].load(Ordering::Relaxed);
    (s1 == s2).then_some(s1)
}

/// One step of a ring reader (see [`ring_next`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Record `n` was read into the output buffer; the reader moved past it.
    Record(u64),
    /// The wanted record was overwritten: the reader skipped `lost` records
    /// and now waits at the newest one.
    Lapped { lost: u64 },
    /// Nothing new yet.
    Empty,
}

/// How many records ahead of the one being written the writer prefetches.
const PREFETCH_AHEAD: u64 = 8;

/// A hint (`prefetchw`) that this word is about to be written; no effect on
/// what any thread observes.
#[inline(always)]
fn prefetch_for_write(w: &AtomicU64) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    // SAFETY: a prefetch never faults and has no architectural effect; the
    // pointer comes from a live reference anyway.
    unsafe {
        use core::arch::x86_64::{_MM_HINT_ET0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_ET0>(w.as_ptr() as *const i8);
    }
    #[cfg(not(all(target_arch = "x86_64", not(loom))))]
    let _ = w;
}

/// Publishes record `n` of a ring whose slots are `slots` (`RECORD_WORDS`
/// words each, `mask + 1` slots) and advances the shared cursor to `n + 1`.
#[inline]
pub fn ring_publish_at(
    slots: &[AtomicU64],
    cursor: &AtomicU64,
    mask: u64,
    n: u64,
    payload: &[u64],
) {
    let w = payload.len() + 1;
    let i = (n & mask) as usize * w;
    debug_assert!(i + w <= slots.len());
    // Ask for both lines of the slot PREFETCH_AHEAD records on in exclusive
    // state: a reader that read it one lap ago may still hold them shared,
    // and the ownership requests then overlap this record's stores instead
    // of stalling the stores a few records from now (flat out with one
    // reader: writer 115 -> 147 M records/s; see ring/benches/runs).
    let a = ((n.wrapping_add(PREFETCH_AHEAD)) & mask) as usize * w;
    if let Some(ahead) = slots.get(a) {
        prefetch_for_write(ahead);
    }
    if let Some(ahead) = slots.get(a + 64 / 8) {
        prefetch_for_write(ahead);
    }
    ring_publish(&slots[i..i + w], n, payload);
    // Release: a reader that loads this cursor (and fences) finds records
    // `..= n` complete. Readers do not poll it on the fast path.
    cursor.store(n.wrapping_add(1), Ordering::Release);
}

/// Reads the record `*next` wants, advancing `*next` past it, or past the
/// overwritten ones on a lap (to the newest complete record). Every record
/// number is either returned once or counted in exactly one `lost`.
#[inline]
pub fn ring_next(
    slots: &[AtomicU64],
    cursor: &AtomicU64,
    mask: u64,
    next: &mut u64,
    out: &mut [u64],
) -> Step {
    let n = *next;
    let w = out.len() + 1;
    let i = (n & mask) as usize * w;
    debug_assert!(i + w <= slots.len());
    match ring_read(&slots[i..i + w], n, out) {
        SlotRead::Ready => {
            *next = n.wrapping_add(1);
            Step::Record(n)
        }
        SlotRead::NotYet => Step::Empty,
        SlotRead::Overwritten => {
            // Pairs with the writer's Release store of the cursor; the
            // fence after the load makes it an Acquire load that works on
            // read-only memory.
            let c = cursor.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            // Resume at the newest complete record, `c - 1`; never go back
            // (a stale cursor only costs one more lap step, not exactness).
            let resume = c.wrapping_sub(1);
            let resume = if (resume.wrapping_sub(n) as i64) > 0 {
                resume
            } else {
                n.wrapping_add(1)
            };
            *next = resume;
            Step::Lapped {
                lost: resume.wrapping_sub(n),
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn slot(words: usize) -> Vec<AtomicU64> {
        (0..words).map(|_| AtomicU64::new(0)).collect()
    }

    #[test]
    fn ring_read_classifies_sequences() {
        let s = slot(4);
        let mut out = [0u64; 3];
        assert_eq!(ring_read(&s, 0, &mut out), SlotRead::NotYet);
        ring_publish(&s, 0, &[1, 2, 3]);
        assert_eq!(ring_read(&s, 0, &mut out), SlotRead::Ready);
        assert_eq!(out, [1, 2, 3]);
        // the slot of record 4 in a ring of 4
        assert_eq!(ring_read(&s, 4, &mut out), SlotRead::NotYet);
        ring_publish(&s, 4, &[4, 5, 6]);
        assert_eq!(ring_read(&s, 0, &mut out), SlotRead::Overwritten);
        assert_eq!(ring_read(&s, 4, &mut out), SlotRead::Ready);
        assert_eq!(out, [4, 5, 6]);
        // being written: odd sequence of the wanted record
        s[0].store(done_seq(8).wrapping_sub(1), Ordering::Relaxed);
        assert_eq!(ring_read(&s, 8, &mut out), SlotRead::NotYet);
        assert_eq!(ring_read(&s, 4, &mut out), SlotRead::Overwritten);
    }

    #[test]
    fn wrapping_sequences_still_order() {
        let s = slot(2);
        let mut out = [0u64; 1];
        let n = (1u64 << 62) - 1; // done_seq(n) = 2^63: the sign bit of the difference flips here
        ring_publish(&s, n, &[7]);
        assert_eq!(ring_read(&s, n, &mut out), SlotRead::Ready);
        assert_eq!(ring_read(&s, n + 1, &mut out), SlotRead::NotYet);
        assert_eq!(ring_read(&s, n - 1, &mut out), SlotRead::Overwritten);
    }

    #[test]
    fn snapshot_slot_versions() {
        let s = slot(3);
        let mut out = [0u64; 2];
        assert_eq!(slot_try_load(&s, &mut out), Some(0));
        slot_store(&s, &[1, 2]);
        assert_eq!(slot_try_load(&s, &mut out), Some(2));
        assert_eq!(out, [1, 2]);
        s[0].store(3, Ordering::Relaxed); // a writer died mid-write
        assert_eq!(slot_try_load(&s, &mut out), None);
        slot_store(&s, &[3, 4]);
        assert_eq!(slot_try_load(&s, &mut out), Some(6));
        assert_eq!(out, [3, 4]);
    }
}
