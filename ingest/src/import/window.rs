//! Fixed-size windows over the input for the batch fast paths
//! ([`super::Decode::decode_run`]).
//!
//! A row of a fixed layout (LEAN trades, Tardis trades) that the batch path
//! accepts spans at most [`WIN`] bytes, loads included, because every field it
//! reads has a bounded length (a longer field stops the batch, and the row
//! goes the fused or line path). So each row is read from one window of
//! `WIN + 8` bytes taken with a single bounds check, and every load inside it
//! is an index masked to `WIN - 1`: one `and` instead of a compare and a
//! branch per load. The mask never changes an index the parsers compute (each
//! stays below `WIN`, `debug_assert`ed); it only lets the compiler see that
//! the load is in bounds.

/// Bytes a batch-path row may reach from its first byte (a power of two).
pub(crate) const WIN: usize = 128;

/// `WIN` bytes from a row's start plus the 8 the last load may reach past it.
pub(crate) type Window = [u8; WIN + 8];

/// The window at `rest[pos..]`; `None` when fewer than `WIN + 8` bytes remain
/// (the last rows of an input or of a read buffer go the per-row paths).
#[inline(always)]
pub(crate) fn window(rest: &[u8], pos: usize) -> Option<&Window> {
    rest.get(pos..pos.checked_add(WIN + 8)?)?.try_into().ok()
}

/// The eight bytes from `w[i]`, little-endian (`i < WIN`).
#[inline(always)]
pub(crate) fn ld(w: &Window, i: usize) -> u64 {
    debug_assert!(i < WIN, "window load at {i}");
    let i = i & (WIN - 1);
    let mut a = [0u8; 8];
    a.copy_from_slice(&w[i..i + 8]);
    u64::from_le_bytes(a)
}

/// The byte `w[i]` (`i < WIN`).
#[inline(always)]
pub(crate) fn at(w: &Window, i: usize) -> u8 {
    debug_assert!(i < WIN, "window byte at {i}");
    w[i & (WIN - 1)]
}

/// [`super::num::digits`] on the window: the digit run from `w[start]`
/// (`start + 24 <= WIN`), `(value, end)`; `None` past 19 digits.
#[inline(always)]
pub(crate) fn digits(w: &Window, start: usize) -> Option<(u64, usize)> {
    super::num::digits_with(|i| ld(w, i), |i| at(w, i).is_ascii_digit(), start)
}

/// A plain short decimal from `w[start]` (`start < WIN`), as
/// [`super::num::short_decimal`]: `(value, end)`, the value correctly rounded.
#[inline(always)]
pub(crate) fn short_f64(w: &Window, start: usize) -> Option<(f64, usize)> {
    let (mant, frac, len) = super::num::short_decimal(ld(w, start))?;
    Some((super::num::scaled_f64(mant, frac), start + len as usize))
}

/// The line's end at `w[i]`: `\n`, or `\r\n`; the line's length through its `\n`.
#[inline(always)]
pub(crate) fn line_end(w: &Window, i: usize) -> Option<usize> {
    match at(w, i) {
        b'\n' => Some(i + 1),
        b'\r' if at(w, i + 1) == b'\n' => Some(i + 2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_loads() {
        let mut b = vec![b'x'; WIN + 8];
        b[..20].copy_from_slice(b"12345678901234567,9\n");
        assert!(window(&b[1..], 0).is_none());
        assert!(window(&b, 1).is_none());
        let w = window(&b, 0).unwrap();
        assert_eq!(digits(w, 0), Some((12_345_678_901_234_567, 17)));
        assert_eq!(short_f64(w, 18), Some((9.0, 19)));
        assert_eq!(line_end(w, 19), Some(20));
        assert_eq!(line_end(w, 18), None);
        assert_eq!(ld(w, WIN - 1), u64::from_le_bytes([b'x'; 8]));
    }
}
