//! The seqlock protocols. A ring record is one to three lines, each line a
//! seqlock of its own: word 0 the line word, the rest payload. A snapshot slot
//! is one seqlock over 16 words. Pure: no mapping, no files, so `tests/loom.rs`
//! runs it on loom's atomics and Miri runs it on heap memory.
//!
//! Orderings, for one seqlock (Boehm, "Can seqlocks get along with programming language memory
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

/// Payload words after the sequence word in a snapshot bar slot.
pub const SLOT_PAYLOAD_WORDS: usize = 15;

/// Most lines one ring record takes.
pub const MAX_LINES: usize = 3;

/// The line word of line `i` of ring record `n`, a record of `lines` lines,
/// once complete: the record number plus one in bits 5.., the line index in
/// bits 3..5, `lines - 1` in bits 1..3; always even.
#[inline]
pub const fn line_word(n: u64, i: usize, lines: usize) -> u64 {
    (n.wrapping_add(1) << 5) | (i as u64) << 3 | ((lines as u64).wrapping_sub(1) << 1)
}

/// The line word every line of record `n` holds while the writer writes it:
/// odd, and its record field reads `n`, one less than a complete line of
/// record `n` says, so that a reader waiting for record `n` keeps waiting.
#[inline]
pub const fn writing_word(n: u64) -> u64 {
    (n.wrapping_add(1) << 5).wrapping_sub(1)
}

/// The record number in a line word, minus `n`: negative when the line holds
/// an older record (or record `n` being written), zero for record `n`
/// complete, positive for a newer one. Record fields are 59 bits; records
/// further apart than 2^58 never meet.
#[inline]
pub const fn record_delta(w: u64, n: u64) -> i64 {
    (((w >> 5).wrapping_sub(n.wrapping_add(1))) << 5) as i64 >> 5
}

/// The line index (0 for a record's first line) in a line word.
#[inline]
pub const fn line_index(w: u64) -> u64 {
    (w >> 3) & 3
}

/// The number of lines of the record a line word belongs to.
#[inline]
pub const fn line_count(w: u64) -> usize {
    (((w >> 1) & 3) + 1) as usize
}

/// Whether a line word is that of a complete line (even, not zero).
#[inline]
pub const fn is_complete(w: u64) -> bool {
    w & 1 == 0 && w != 0
}

/// Where a ring reader or writer stands: a record number and the position of
/// that record's first line (both count from 0 and never wrap in practice).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// Record (sequence) number.
    pub record: u64,
    /// Line position: lines written before this record.
    pub line: u64,
}

/// How many lines ahead of the one being written the writer prefetches.
const PREFETCH_AHEAD: u64 = 16;

/// A hint (`prefetchw`) that this word is about to be written; no effect on
/// what any thread observes.
#[inline(always)]
fn prefetch_for_write(w: &AtomicU64) {
    #[cfg(all(target_arch = "x86_64", not(loom), not(miri)))]
    // SAFETY: a prefetch never faults and has no architectural effect; the
    // pointer comes from a live reference anyway.
    // `_mm_prefetch::<_MM_HINT_ET0>` compiles to a plain `prefetcht0`
    // unless the build enables `prfchw`; the instruction itself is a no-op
    // hint on CPUs without it (its opcode space is a NOP there).
    unsafe {
        core::arch::asm!(
            "prefetchw [{p}]",
            p = in(reg) w.as_ptr(),
            options(nostack, preserves_flags, readonly)
        );
    }
    #[cfg(not(all(target_arch = "x86_64", not(loom), not(miri))))]
    let _ = w;
}

/// Index of line position `q`'s line word in `lines` (`LW` words a line).
#[inline(always)]
fn at<const LW: usize>(mask: u64, q: u64) -> usize {
    (q & mask) as usize * LW
}

/// Publishes the record at `pos` (its payload is `payload`, `LW - 1` words a
/// line, one to [`MAX_LINES`] lines), advances the shared cursors (`cursor`:
/// lines, `records`: records) and returns the position of the next record.
/// `lines` is the ring's data area, `mask + 1` lines of `LW` words. Single
/// writer: only one thread of one process ever calls this for a given ring.
///
/// Orderings (Boehm, "Can seqlocks get along with programming language memory
/// models?", 2012), each line being its own seqlock:
///
/// - every line word ← the odd [`writing_word`] (Relaxed); `fence(Release)`;
///   payload words (Relaxed); lines `L-1 ..= 1` ← complete (Relaxed); line 0
///   ← complete (Release); `records` (Relaxed); `cursor` (Release).
#[inline]
pub fn ring_publish_at<const LW: usize>(
    lines: &[AtomicU64],
    cursor: &AtomicU64,
    records: &AtomicU64,
    mask: u64,
    pos: Pos,
    payload: &[u64],
) -> Pos {
    let pw = LW - 1;
    let l = payload.len() / pw;
    debug_assert!(payload.len() == l * pw && (1..=MAX_LINES).contains(&l));
    let Pos { record: n, line: p } = pos;
    // Ask for the line PREFETCH_AHEAD on in exclusive state: a reader that
    // read it one lap ago may still hold it shared, and the ownership request
    // then overlaps this record's stores instead of stalling a later one.
    for i in 0..l as u64 {
        if let Some(ahead) = lines.get(at::<LW>(mask, p.wrapping_add(PREFETCH_AHEAD + i))) {
            prefetch_for_write(ahead);
        }
    }
    let marker = writing_word(n);
    if l == 1 {
        // The common case (ticks, events), straight-line: one line, one
        // bounds check.
        let line = &lines[at::<LW>(mask, p)..][..LW];
        line[0].store(marker, Ordering::Relaxed);
        fence(Ordering::Release);
        for (w, &v) in line[1..].iter().zip(payload) {
            w.store(v, Ordering::Relaxed);
        }
        line[0].store(line_word(n, 0, 1), Ordering::Release);
    } else {
        publish_lines::<LW>(lines, mask, n, p, payload, marker);
    }
    let next = Pos {
        record: n.wrapping_add(1),
        line: p.wrapping_add(l as u64),
    };
    // Relaxed, then Release: a reader that loads `cursor` (and fences) finds
    // lines `..cursor` complete and `records` at least this new value.
    records.store(next.record, Ordering::Relaxed);
    cursor.store(next.line, Ordering::Release);
    next
}

/// The stores of a record of two or more lines (see [`ring_publish_at`]).
#[inline]
fn publish_lines<const LW: usize>(
    lines: &[AtomicU64],
    mask: u64,
    n: u64,
    p: u64,
    payload: &[u64],
    marker: u64,
) {
    let pw = LW - 1;
    let l = payload.len() / pw;
    for i in 0..l as u64 {
        // Relaxed: ordered before the payload stores by the fence below.
        lines[at::<LW>(mask, p.wrapping_add(i))].store(marker, Ordering::Relaxed);
    }
    // Pairs with the reader's second Acquire fence: a reader that sees any
    // payload word of this write also sees the odd line word and discards.
    fence(Ordering::Release);
    for (i, chunk) in payload.chunks_exact(pw).enumerate() {
        let b = at::<LW>(mask, p.wrapping_add(i as u64));
        for (w, &v) in lines[b + 1..b + LW].iter().zip(chunk) {
            w.store(v, Ordering::Relaxed);
        }
    }
    for i in (1..l).rev() {
        // Relaxed: published by line 0's Release store below, which a reader
        // loads (and fences) before it looks at these.
        lines[at::<LW>(mask, p.wrapping_add(i as u64))]
            .store(line_word(n, i, l), Ordering::Relaxed);
    }
    // Release: pairs with the reader's first Acquire fence after it loaded
    // this value: every payload word and line word above is visible to it.
    lines[at::<LW>(mask, p)].store(line_word(n, 0, l), Ordering::Release);
}

/// What a reader found at the line where the record it wants starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineRead {
    /// The record was read whole into the output buffer: this many lines.
    Ready(usize),
    /// Not published yet (the line holds an older record, or is being
    /// written with the wanted one).
    NotYet,
    /// The line already holds (or is being written with) a newer record:
    /// the wanted one was overwritten.
    Overwritten,
}

/// Reads record `n`, whose first line is at position `p`, into `out`
/// (`(LW - 1) * MAX_LINES` words or more; `(LW - 1) * lines` are written).
/// Never waits.
#[inline]
pub fn ring_read<const LW: usize>(
    lines: &[AtomicU64],
    mask: u64,
    n: u64,
    p: u64,
    out: &mut [u64],
) -> LineRead {
    let pw = LW - 1;
    let i0 = at::<LW>(mask, p);
    // Relaxed + the fence below = an Acquire load that works on read-only memory.
    let w0 = lines[i0].load(Ordering::Relaxed);
    let d = record_delta(w0, n);
    if d < 0 {
        return LineRead::NotYet;
    }
    if d > 0 || w0 & 1 == 1 || line_index(w0) != 0 {
        return LineRead::Overwritten;
    }
    let l = line_count(w0);
    if l > MAX_LINES || out.len() < l * pw {
        // A line word no writer produces; only a corrupt file gets here.
        return LineRead::Overwritten;
    }
    // Pairs with the writer's Release store of `w0`.
    fence(Ordering::Acquire);
    if l == 1 {
        // The common case, straight-line (same protocol as below).
        let line = &lines[i0..][..LW];
        for (o, w) in out[..pw].iter_mut().zip(&line[1..]) {
            *o = w.load(Ordering::Relaxed);
        }
        fence(Ordering::Acquire);
        return if line[0].load(Ordering::Relaxed) == w0 {
            LineRead::Ready(1)
        } else {
            LineRead::Overwritten
        };
    }
    let mut words = [w0; MAX_LINES];
    for (i, w) in words.iter_mut().enumerate().take(l).skip(1) {
        let v = lines[at::<LW>(mask, p.wrapping_add(i as u64))].load(Ordering::Relaxed);
        if v != line_word(n, i, l) {
            return LineRead::Overwritten;
        }
        *w = v;
    }
    for (i, o) in out[..l * pw].chunks_exact_mut(pw).enumerate() {
        let b = if i == 0 {
            i0
        } else {
            at::<LW>(mask, p.wrapping_add(i as u64))
        };
        for (o, w) in o.iter_mut().zip(&lines[b + 1..b + LW]) {
            *o = w.load(Ordering::Relaxed);
        }
    }
    // Pairs with the writer's Release fence before its payload stores: if any
    // load above saw a newer write to a line, that line's word (reloaded
    // below) is that write's odd marker or later.
    fence(Ordering::Acquire);
    for (i, &w) in words.iter().enumerate().take(l) {
        let b = if i == 0 {
            i0
        } else {
            at::<LW>(mask, p.wrapping_add(i as u64))
        };
        if lines[b].load(Ordering::Relaxed) != w {
            return LineRead::Overwritten;
        }
    }
    LineRead::Ready(l)
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
    /// Record `n`, of `lines` lines, was read into the output buffer; the
    /// reader moved past it.
    Record {
        /// Its record (sequence) number.
        n: u64,
        /// Its lines.
        lines: usize,
    },
    /// The wanted record was overwritten: the reader skipped `lost` records
    /// and now waits at the newest one.
    Lapped {
        /// Records skipped.
        lost: u64,
    },
    /// Nothing new yet.
    Empty,
}

/// Times a lapped reader re-reads the cursor when the writer laps it again
/// while it resynchronises; then it reports `Empty` and retries next call.
const RESYNC_TRIES: u32 = 16;

/// The newest complete record: `(its number, its first line, its lines)`,
/// from the cursor and the line before it, or `None` while nothing is
/// published or the writer is rewriting that line (it lapped meanwhile).
#[inline]
pub fn newest<const LW: usize>(
    lines: &[AtomicU64],
    cursor: &AtomicU64,
    mask: u64,
    near: u64,
) -> Option<(u64, u64, usize)> {
    // Pairs with the writer's Release store of the cursor; the fence makes
    // this an Acquire load that works on read-only memory.
    let c = cursor.load(Ordering::Relaxed);
    fence(Ordering::Acquire);
    let last = c.checked_sub(1)?;
    let w = lines[at::<LW>(mask, last)].load(Ordering::Relaxed);
    if !is_complete(w) || line_index(w) >= line_count(w) as u64 || line_index(w) > last {
        return None;
    }
    let m = near.wrapping_add(record_delta(w, near) as u64);
    Some((m, last - line_index(w), line_count(w)))
}

/// Reads the record `pos` wants, advancing `pos` past it, or past the
/// overwritten ones on a lap (to the newest complete record). Every record
/// number is either returned once or counted in exactly one `lost`.
#[inline]
pub fn ring_next<const LW: usize>(
    lines: &[AtomicU64],
    cursor: &AtomicU64,
    mask: u64,
    pos: &mut Pos,
    out: &mut [u64],
) -> Step {
    let n = pos.record;
    match ring_read::<LW>(lines, mask, n, pos.line, out) {
        LineRead::Ready(l) => {
            *pos = Pos {
                record: n.wrapping_add(1),
                line: pos.line.wrapping_add(l as u64),
            };
            Step::Record { n, lines: l }
        }
        LineRead::NotYet => Step::Empty,
        LineRead::Overwritten => {
            for _ in 0..RESYNC_TRIES {
                // Resume at the newest complete record; never go back (a
                // stale cursor only costs another try, not exactness).
                if let Some((m, line, _)) = newest::<LW>(lines, cursor, mask, n)
                    && (m.wrapping_sub(n) as i64) > 0
                {
                    *pos = Pos { record: m, line };
                    return Step::Lapped {
                        lost: m.wrapping_sub(n),
                    };
                }
                core::hint::spin_loop();
            }
            Step::Empty
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn slot(words: usize) -> Vec<AtomicU64> {
        (0..words).map(|_| AtomicU64::new(0)).collect()
    }

    const LW: usize = 3; // two payload words a line

    struct Ring {
        lines: Vec<AtomicU64>,
        cursor: AtomicU64,
        records: AtomicU64,
        mask: u64,
    }

    fn ring(cap: u64) -> Ring {
        Ring {
            lines: slot(cap as usize * LW),
            cursor: AtomicU64::new(0),
            records: AtomicU64::new(0),
            mask: cap - 1,
        }
    }

    impl Ring {
        fn publish(&self, pos: Pos, payload: &[u64]) -> Pos {
            ring_publish_at::<LW>(
                &self.lines,
                &self.cursor,
                &self.records,
                self.mask,
                pos,
                payload,
            )
        }
        fn read(&self, n: u64, p: u64, out: &mut [u64]) -> LineRead {
            ring_read::<LW>(&self.lines, self.mask, n, p, out)
        }
    }

    #[test]
    fn line_words_encode_record_index_and_length() {
        for (n, i, l) in [(0, 0, 1), (5, 1, 2), (u64::MAX >> 6, 2, 3)] {
            let w = line_word(n, i, l);
            assert!(is_complete(w));
            assert_eq!(record_delta(w, n), 0);
            assert_eq!(line_index(w), i as u64);
            assert_eq!(line_count(w), l);
            assert_eq!(record_delta(writing_word(n), n), -1, "writing sorts older");
            assert_eq!(record_delta(w, n.wrapping_sub(3)), 3);
        }
        assert!(!is_complete(0) && !is_complete(writing_word(7)));
    }

    #[test]
    fn ring_read_classifies_line_words() {
        let r = ring(4);
        let mut out = [0u64; 6];
        assert_eq!(r.read(0, 0, &mut out), LineRead::NotYet);
        let p = r.publish(Pos::default(), &[1, 2]);
        assert_eq!(p, Pos { record: 1, line: 1 });
        assert_eq!(r.read(0, 0, &mut out), LineRead::Ready(1));
        assert_eq!(out[..2], [1, 2]);
        // a two-line record wraps around the end of a ring of 4 lines
        let p = r.publish(p, &[3, 4, 5, 6]);
        let p = r.publish(p, &[7, 8, 9, 10]);
        assert_eq!(p, Pos { record: 3, line: 5 });
        assert_eq!(
            (
                r.cursor.load(Ordering::Relaxed),
                r.records.load(Ordering::Relaxed)
            ),
            (5, 3)
        );
        assert_eq!(r.read(2, 3, &mut out), LineRead::Ready(2));
        assert_eq!(out[..4], [7, 8, 9, 10]);
        // record 0's line now holds record 2's second line
        assert_eq!(r.read(0, 0, &mut out), LineRead::Overwritten);
        assert_eq!(r.read(1, 1, &mut out), LineRead::Ready(2));
        assert_eq!(r.read(3, 5, &mut out), LineRead::NotYet);
        // being written: the odd marker of the wanted record
        r.lines[LW].store(writing_word(3), Ordering::Relaxed);
        assert_eq!(r.read(3, 5, &mut out), LineRead::NotYet);
        assert_eq!(r.read(1, 1, &mut out), LineRead::Overwritten);
        // a second line that changed under the reader fails the record
        let r = ring(4);
        r.publish(Pos::default(), &[1, 2, 3, 4]);
        r.lines[LW].store(writing_word(9), Ordering::Relaxed);
        assert_eq!(r.read(0, 0, &mut out), LineRead::Overwritten);
    }

    #[test]
    fn laps_resume_at_the_newest_record_with_exact_counts() {
        let r = ring(4);
        let mut pos = Pos::default();
        let mut rd = Pos::default();
        let mut out = [0u64; 6];
        // 1, 2, 3 lines per record in turn
        for n in 0..10u64 {
            let l = (n % 3 + 1) as usize;
            pos = r.publish(pos, &vec![n; 2 * l]);
        }
        let step = ring_next::<LW>(&r.lines, &r.cursor, r.mask, &mut rd, &mut out);
        assert_eq!(step, Step::Lapped { lost: 9 });
        let step = ring_next::<LW>(&r.lines, &r.cursor, r.mask, &mut rd, &mut out);
        assert_eq!(step, Step::Record { n: 9, lines: 1 });
        assert_eq!(out[..2], [9, 9]);
        assert_eq!(rd, pos);
        let step = ring_next::<LW>(&r.lines, &r.cursor, r.mask, &mut rd, &mut out);
        assert_eq!(step, Step::Empty);
    }

    #[test]
    fn wrapping_record_numbers_still_order() {
        let r = ring(2);
        let mut out = [0u64; 6];
        let n = (1u64 << 58) - 1; // the record field's sign bit flips here
        r.publish(Pos { record: n, line: 0 }, &[7, 7]);
        assert_eq!(r.read(n, 0, &mut out), LineRead::Ready(1));
        assert_eq!(r.read(n + 1, 0, &mut out), LineRead::NotYet);
        assert_eq!(r.read(n - 1, 0, &mut out), LineRead::Overwritten);
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
