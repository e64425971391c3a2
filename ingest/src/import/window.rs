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
    super::num::digits_with(
        |i| ld(w, i),
        |i| at(w, i).is_ascii_digit(),
        |x| non_digit_bits(x).trailing_zeros(),
        start,
    )
}

/// A plain short decimal from `w[start]` (`start < WIN`), as
/// [`super::num::short_decimal`]: `(value, end)`, the value correctly rounded.
#[inline(always)]
pub(crate) fn short_f64(w: &Window, start: usize) -> Option<(f64, usize)> {
    let x = ld(w, start);
    let (mant, frac, len) = super::num::short_decimal_bits(x, non_digit_bits(x))?;
    Some((super::num::scaled_f64(mant, frac), start + len as usize))
}

/// Bit k set when byte k of `w` (little-endian) is not an ASCII digit, and
/// bits 8 to 15 set: one SSE2 compare on x86_64 (instead of the SWAR mask
/// and its 64-bit constants); [`non_digit_bits_scalar`] elsewhere, and as
/// the reference.
#[inline(always)]
pub(crate) fn non_digit_bits(w: u64) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: the intrinsics need SSE2, which this cfg proves is enabled
        // for the whole build (every x86_64 target has it).
        unsafe { non_digit_bits_sse2(w) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        non_digit_bits_scalar(w)
    }
}

/// The reference of [`non_digit_bits`].
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
pub(crate) fn non_digit_bits_scalar(w: u64) -> u32 {
    let mut m = 0xFF00;
    for (k, b) in w.to_le_bytes().into_iter().enumerate() {
        m |= u32::from(!b.is_ascii_digit()) << k;
    }
    m
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
#[target_feature(enable = "sse2")]
fn non_digit_bits_sse2(w: u64) -> u32 {
    use std::arch::x86_64::*;
    // the upper eight bytes are zero: not digits
    let x = _mm_sub_epi8(_mm_cvtsi64_si128(w as i64), _mm_set1_epi8(b'0' as i8));
    // saturating `x - 9` is zero exactly for the digits
    let digit = _mm_cmpeq_epi8(_mm_subs_epu8(x, _mm_set1_epi8(9)), _mm_setzero_si128());
    !(_mm_movemask_epi8(digit) as u32) & 0xFFFF
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

/// Two runs of exactly 16 ASCII digits, given as their little-endian words
/// (`a = [first 8 bytes, next 8]`, `b` likewise): their values, `None` when
/// any of the 32 bytes is not a digit. SSE2 on x86_64 (both runs in one
/// pass: subtract `'0'`, check, then pairs, quads and halves with three
/// multiply-adds); [`digits16x2_scalar`] elsewhere, and as the reference.
#[inline(always)]
pub(crate) fn digits16x2(a: [u64; 2], b: [u64; 2]) -> Option<(u64, u64)> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: the intrinsics need SSE2, which this cfg proves is enabled
        // for the whole build (every x86_64 target has it).
        unsafe { digits16x2_sse2(a, b) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        digits16x2_scalar(a, b)
    }
}

/// The reference of [`digits16x2`]: eight digits per word in SWAR.
#[inline(always)]
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
pub(crate) fn digits16x2_scalar(a: [u64; 2], b: [u64; 2]) -> Option<(u64, u64)> {
    use super::num::{digits8, non_digits};
    if non_digits(a[0]) | non_digits(a[1]) | non_digits(b[0]) | non_digits(b[1]) != 0 {
        return None;
    }
    Some((
        digits8(a[0]) * 100_000_000 + digits8(a[1]),
        digits8(b[0]) * 100_000_000 + digits8(b[1]),
    ))
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
#[target_feature(enable = "sse2")]
fn digits16x2_sse2(a: [u64; 2], b: [u64; 2]) -> Option<(u64, u64)> {
    use std::arch::x86_64::*;
    let zero = _mm_set1_epi8(b'0' as i8);
    let va = _mm_sub_epi8(_mm_set_epi64x(a[1] as i64, a[0] as i64), zero);
    let vb = _mm_sub_epi8(_mm_set_epi64x(b[1] as i64, b[0] as i64), zero);
    // digits are now 0..=9; every other byte is above 9 (unsigned, wrapped):
    // saturating `x - 9` is zero exactly for the digits
    let nine = _mm_set1_epi8(9);
    let over = _mm_or_si128(_mm_subs_epu8(va, nine), _mm_subs_epu8(vb, nine));
    let z = _mm_setzero_si128();
    if _mm_movemask_epi8(_mm_cmpeq_epi8(over, z)) != 0xFFFF {
        return None;
    }
    // i16 weights per lane pair (first digit, second): [10, 1], [100, 1], [10000, 1]
    let w10 = _mm_set1_epi32(0x0001_000A);
    let w100 = _mm_set1_epi32(0x0001_0064);
    let w1e4 = _mm_set1_epi32(0x0001_2710);
    // 2-digit values (< 100), eight per run, in order
    let pairs = |v: __m128i| {
        _mm_packs_epi32(
            _mm_madd_epi16(_mm_unpacklo_epi8(v, z), w10),
            _mm_madd_epi16(_mm_unpackhi_epi8(v, z), w10),
        )
    };
    // 4-digit values (< 10^4, fit i16): a's four, then b's
    let quads = _mm_packs_epi32(
        _mm_madd_epi16(pairs(va), w100),
        _mm_madd_epi16(pairs(vb), w100),
    );
    // 8-digit values (< 10^8): a high, a low, b high, b low
    let halves = _mm_madd_epi16(quads, w1e4);
    // per 64-bit lane: high × 10^8 (the lane's low u32) + low (its high u32)
    let v = _mm_add_epi64(
        _mm_mul_epu32(halves, _mm_set1_epi64x(100_000_000)),
        _mm_srli_epi64(halves, 32),
    );
    Some((
        _mm_cvtsi128_si64(v) as u64,
        _mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)) as u64,
    ))
}

/// The commas and the `\n`s among the 48 bytes `w[start..start + 48]`
/// (`start <= WIN + 8 - 48`), as bit masks (bit k: byte `start + k`): the
/// structure of a row in one pass, so that every field's start is known
/// before any field is parsed (the parses then run side by side instead of
/// each waiting for the previous field's end). SSE2 on x86_64;
/// [`commas_newlines48_scalar`] elsewhere, and as the reference.
#[inline(always)]
pub(crate) fn commas_newlines48(w: &Window, start: usize) -> (u64, u64) {
    debug_assert!(start + 48 <= WIN + 8);
    // (never short for a start the callers pass: no newline then, the row is refused)
    let Some(chunk) = w[start & (WIN - 1)..].first_chunk::<48>() else {
        return (0, 0);
    };
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: the intrinsics need SSE2, which this cfg proves is enabled
        // for the whole build (every x86_64 target has it).
        unsafe { commas_newlines48_sse2(chunk) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        commas_newlines48_scalar(chunk)
    }
}

/// The reference of [`commas_newlines48`]: byte by byte.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
pub(crate) fn commas_newlines48_scalar(chunk: &[u8; 48]) -> (u64, u64) {
    let (mut cm, mut nl) = (0, 0);
    for (k, &b) in chunk.iter().enumerate() {
        cm |= u64::from(b == b',') << k;
        nl |= u64::from(b == b'\n') << k;
    }
    (cm, nl)
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
#[target_feature(enable = "sse2")]
fn commas_newlines48_sse2(chunk: &[u8; 48]) -> (u64, u64) {
    use std::arch::x86_64::*;
    let comma = _mm_set1_epi8(b',' as i8);
    let newline = _mm_set1_epi8(b'\n' as i8);
    let (mut cm, mut nl) = (0u64, 0u64);
    for k in 0..3 {
        // SAFETY: bytes 16k..16k + 16 of the 48-byte array (k < 3); an
        // unaligned load has no alignment requirement.
        let v = unsafe { _mm_loadu_si128(chunk.as_ptr().add(16 * k).cast::<__m128i>()) };
        cm |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma)) as u16) << (16 * k);
        nl |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, newline)) as u16) << (16 * k);
    }
    (cm, nl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(b: &[u8; 16]) -> [u64; 2] {
        [
            u64::from_le_bytes(b[..8].try_into().unwrap()),
            u64::from_le_bytes(b[8..].try_into().unwrap()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        /// The SIMD kernels equal their scalar references (and `str::parse`) on any bytes.
        #[test]
        fn simd_matches_scalar(
            a in proptest::array::uniform16(prop_oneof![8 => b'0'..=b'9', 1 => any::<u8>()]),
            b in proptest::array::uniform16(prop_oneof![8 => b'0'..=b'9', 1 => any::<u8>()]),
            t in proptest::array::uniform16(prop_oneof![Just(b'\n'), Just(b','), Just(b'\r'), any::<u8>()]),
        ) {
            let got = digits16x2(words(&a), words(&b));
            prop_assert_eq!(got, digits16x2_scalar(words(&a), words(&b)));
            let parse = |x: &[u8; 16]| std::str::from_utf8(x).ok().filter(|s| s.bytes().all(|c| c.is_ascii_digit())).and_then(|s| s.parse::<u64>().ok());
            prop_assert_eq!(got, parse(&a).zip(parse(&b)));
            for x in [words(&a)[0], words(&a)[1], words(&t)[0], words(&t)[1]] {
                prop_assert_eq!(non_digit_bits(x), non_digit_bits_scalar(x));
                prop_assert_eq!(non_digit_bits(x).trailing_zeros(), super::super::num::leading_digits(x));
                prop_assert_eq!(super::super::num::short_decimal_bits(x, non_digit_bits(x)), super::super::num::short_decimal(x));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        /// The bit-mask decimal and digit-run readers equal the SWAR ones on short decimals.
        #[test]
        fn bit_masks_match_swar(x in proptest::array::uniform8(prop_oneof![6 => b'0'..=b'9', 2 => Just(b'.'), 1 => Just(b','), 1 => Just(b'\n'), 1 => any::<u8>()])) {
            let x = u64::from_le_bytes(x);
            prop_assert_eq!(non_digit_bits(x), non_digit_bits_scalar(x));
            prop_assert_eq!(super::super::num::short_decimal_bits(x, non_digit_bits(x)), super::super::num::short_decimal(x));
            let mut b = [b'x'; WIN + 8];
            b[..8].copy_from_slice(&x.to_le_bytes());
            b[8..16].copy_from_slice(&x.to_le_bytes());
            b[16..24].copy_from_slice(&x.to_le_bytes());
            let w = window(&b, 0).unwrap();
            prop_assert_eq!(digits(w, 0), super::super::num::digits(&b, 0));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]
        #[test]
        fn row_masks_match_scalar(b in proptest::collection::vec(prop_oneof![Just(b','), Just(b'\n'), Just(b'1'), any::<u8>()], WIN + 8), start in 0usize..WIN - 48) {
            let w = window(&b, 0).unwrap();
            let chunk: [u8; 48] = b[start..start + 48].try_into().unwrap();
            prop_assert_eq!(commas_newlines48(w, start), commas_newlines48_scalar(&chunk));
        }
    }

    #[test]
    fn sixteen_digit_extremes() {
        for (a, b) in [
            (*b"9999999999999999", *b"0000000000000000"),
            (*b"1582329602111000", *b"1582329602418379"),
            (*b"0000000000000001", *b"1000000000000000"),
        ] {
            let v = |x: &[u8; 16]| std::str::from_utf8(x).unwrap().parse::<u64>().unwrap();
            assert_eq!(digits16x2(words(&a), words(&b)), Some((v(&a), v(&b))));
        }
        assert_eq!(
            digits16x2(words(b"15823296021110/0"), words(b"1582329602418379")),
            None
        );
        assert_eq!(
            digits16x2(words(b"1582329602111000"), words(b"158232960241837:")),
            None
        );
    }

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
