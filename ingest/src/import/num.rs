//! Number parsing for the importers: exact, allocation-free, ASCII only.
//!
//! [`parse_f64`] is correctly rounded: decimals whose significant digits fit a
//! `u64` mantissa below 2^53 with a power of ten of at most 22 are computed as
//! one IEEE multiplication or division of two exact values (hence correctly
//! rounded); everything else falls back to `f64::from_str`, which is correct
//! for every input. Only plain decimal syntax is accepted (`inf`, `nan`, hex
//! and empty strings are refused), so a parsed value is always finite unless
//! the decimal overflows `f64`.

/// Powers of ten exactly representable as `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Powers of ten as integers, up to 10^19.
const POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// `b[start..]`'s leading digit run as a number: `(value, end)`; `None` when
/// empty or longer than 19 digits.
#[inline]
pub fn leading_u64(b: &[u8], start: usize) -> Option<(u64, usize)> {
    let (v, end) = digits(b, start)?;
    if end == start {
        return None;
    }
    Some((v, end))
}

/// Bytes of `w` (little-endian load) that are not ASCII digits: their top bit set.
#[inline(always)]
pub(crate) fn non_digits(w: u64) -> u64 {
    const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HI: u64 = 0x8080_8080_8080_8080;
    // digits become 0..=9 (and only digits: xor is a bijection); per byte, no
    // carry across bytes: (t & 0x7F) + 0x76 has its top bit set iff t & 0x7F ≥ 10
    let t = w ^ ZEROS;
    ((t & LO7).wrapping_add(0x7676_7676_7676_7676) | t) & HI
}

/// Eight `'0'` bytes.
const ZEROS: u64 = 0x3030_3030_3030_3030;

/// The first `n` (1 to 7) digits of `w` (little-endian load) → their value:
/// they become the last `n` of eight, the bytes before them `'0'`.
#[inline(always)]
fn digits_lead(w: u64, n: u32) -> u64 {
    debug_assert!((1..8).contains(&n));
    let s = (8 - n) * 8;
    digits8((w << s) | (ZEROS >> (64 - s)))
}

/// The digit run starting at `b[start]` and its value in one pass, eight bytes
/// per step (finding the run's end and computing its value from the same
/// word, at most three words): `(value, end)`, `(0, start)` for an empty run;
/// `None` when the run is longer than 19 digits (its value might not fit a
/// `u64`).
#[inline(always)]
pub(crate) fn digits(b: &[u8], start: usize) -> Option<(u64, usize)> {
    digits_with(
        |i| word_at(b, i),
        |i| b.get(i).is_some_and(u8::is_ascii_digit),
        leading_digits,
        start,
    )
}

/// How many of the bytes of `w` (little-endian load), from the first, are
/// ASCII digits: 0 to 8.
#[inline(always)]
pub(crate) fn leading_digits(w: u64) -> u32 {
    non_digits(w).trailing_zeros() / 8
}

/// [`digits`] over any byte source: `word(i)` is the little-endian load of
/// the eight bytes from `i` (zero bytes past the end), `is_digit(i)` whether
/// byte `i` is an ASCII digit, `lead(w)` [`leading_digits`] (or a kernel
/// equal to it). It reads at most the 24 bytes from `start` (the batch paths
/// pass loads from a fixed window that holds them).
#[inline(always)]
pub(crate) fn digits_with(
    word: impl Fn(usize) -> u64,
    is_digit: impl Fn(usize) -> bool,
    lead: impl Fn(u64) -> u32,
    start: usize,
) -> Option<(u64, usize)> {
    let w = word(start);
    let n = lead(w);
    if n < 8 {
        if n == 0 {
            return Some((0, start));
        }
        return Some((digits_lead(w, n), start + n as usize));
    }
    let v = digits8(w);
    // a delimiter right after eight digits (ids) or sixteen (µs times) is
    // found with one byte instead of a word
    if !is_digit(start + 8) {
        return Some((v, start + 8));
    }
    let w = word(start + 8);
    let n = lead(w);
    if n < 8 {
        if n == 0 {
            return Some((v, start + 8));
        }
        return Some((
            v * POW10_U64[n as usize] + digits_lead(w, n),
            start + 8 + n as usize,
        ));
    }
    let v = v * 100_000_000 + digits8(w);
    if !is_digit(start + 16) {
        return Some((v, start + 16));
    }
    let w = word(start + 16);
    let n = lead(w);
    match n {
        0 => Some((v, start + 16)),
        // ≤ 19 digits: below 10^19 < 2^64
        1..=3 => Some((
            v * POW10_U64[n as usize] + digits_lead(w, n),
            start + 16 + n as usize,
        )),
        _ => None,
    }
}

/// The eight bytes of `b` from `b[i]` (little-endian), zero bytes (not
/// digits, not a delimiter) past the end of `b`: a field near the end of a
/// line is read with one load, like any other.
#[inline(always)]
pub(crate) fn word_at(b: &[u8], i: usize) -> u64 {
    if let Some(w) = b.get(i..i + 8) {
        load8(w)
    } else if i < b.len() && b.len() >= 8 {
        // the line's last eight bytes, shifted so that byte `i` comes first
        load8(&b[b.len() - 8..]) >> ((i + 8 - b.len()) * 8)
    } else {
        short_word(b.get(i..).unwrap_or_default())
    }
}

/// The 0 to 7 bytes of `b`, zero-padded, little-endian.
#[cold]
#[inline(never)]
fn short_word(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(a)
}

/// A plain unsigned decimal (`digits[.digits]`, at least one digit) that ends
/// inside the word `w` (little-endian load of the text): `(mantissa, fraction
/// digits, length)`, the mantissa being its digits read as one integer (at
/// most seven: exact). `None` when the number does not end inside the word
/// or is not that simple.
///
/// One pass over the word: its non-digit mask gives the point (if the first
/// non-digit is one) and the end (the next non-digit); the point is removed
/// by shifting the bytes after it down by one; the digits are converted
/// together.
#[inline(always)]
pub(crate) fn short_decimal(w: u64) -> Option<(u64, u32, u32)> {
    let nd = non_digits(w);
    let n1 = nd.trailing_zeros() / 8;
    if n1 == 8 {
        return None;
    }
    if (w >> (n1 * 8)) as u8 != b'.' {
        if n1 == 0 {
            return None;
        }
        return Some((digits_lead(w, n1), 0, n1));
    }
    // the non-digit after the point
    let n2 = (nd & (nd - 1)).trailing_zeros() / 8;
    if n2 == 8 || n2 == 1 {
        // runs on past the word, or "." alone
        return None;
    }
    // bytes before the point stay, bytes after it move down one: the point is gone
    let low = (1u64 << (n1 * 8)) - 1;
    let merged = (w & low) | ((w >> 8) & !low);
    Some((digits_lead(merged, n2 - 1), n2 - n1 - 1, n2))
}

/// [`short_decimal`] given the non-digit bytes of `w` as bits (`nd`: bit k
/// set when byte k is not an ASCII digit, bits 8 and up all set), as an
/// SSE2 byte compare gives them: the same result for every `w`.
#[inline(always)]
pub(crate) fn short_decimal_bits(w: u64, nd: u32) -> Option<(u64, u32, u32)> {
    debug_assert_eq!(
        nd & 0xFF,
        (0..8).fold(0, |m, k| m
            | (u32::from(!((w >> (8 * k)) as u8).is_ascii_digit()) << k))
    );
    debug_assert!(nd >> 8 != 0);
    let n1 = nd.trailing_zeros();
    if n1 >= 8 {
        return None;
    }
    if (w >> (n1 * 8)) as u8 != b'.' {
        if n1 == 0 {
            return None;
        }
        return Some((digits_lead(w, n1), 0, n1));
    }
    // the non-digit after the point
    let n2 = (nd & (nd - 1)).trailing_zeros();
    if n2 >= 8 || n2 == 1 {
        // runs on past the word, or "." alone
        return None;
    }
    // bytes before the point stay, bytes after it move down one: the point is gone
    let low = (1u64 << (n1 * 8)) - 1;
    let merged = (w & low) | ((w >> 8) & !low);
    Some((digits_lead(merged, n2 - 1), n2 - n1 - 1, n2))
}

/// `mantissa / 10^frac` correctly rounded: both exact (`mantissa < 2^53`,
/// `frac <= 22`), so the one IEEE division rounds the exact quotient.
#[inline(always)]
pub(crate) fn scaled_f64(mant: u64, frac: u32) -> f64 {
    debug_assert!(mant < MAX_EXACT && frac <= 22);
    let m = mant as f64;
    // x / 1.0 is x: integers (LEAN's deci-cents, whole prices) skip the division's latency
    if frac == 0 {
        m
    } else {
        m / POW10[frac as usize]
    }
}

/// Eight ASCII digits (little-endian load, first byte most significant) → their value.
#[inline(always)]
pub(crate) fn digits8(chunk: u64) -> u64 {
    debug_assert_eq!(non_digits(chunk), 0);
    // pairs, quads, then the whole, each step one multiply that adds a
    // neighbour times its weight into the upper lane (2561 = 10 << 8 | 1, …)
    let v = (chunk & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561) >> 8;
    let v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    (v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32
}

/// The index after the run of ASCII digits starting at `b[i]` (8 bytes per step).
#[inline(always)]
pub fn digit_run(b: &[u8], mut i: usize) -> usize {
    while i + 8 <= b.len() {
        let non = non_digits(load8(&b[i..]));
        if non != 0 {
            return i + (non.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// Largest mantissa for which the fast path is exact.
const MAX_EXACT: u64 = 1 << 53;

/// Eight ASCII digits (little-endian load) → their value; `None` if any byte is not a digit.
#[inline(always)]
fn parse8(chunk: u64) -> Option<u64> {
    // every byte in 0x30..=0x39: high nibble 3, and adding 6 does not carry out of the nibble
    let hi = chunk & 0xF0F0_F0F0_F0F0_F0F0;
    let carry = chunk.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0;
    if hi != 0x3030_3030_3030_3030 || carry != 0x3030_3030_3030_3030 {
        return None;
    }
    let v = chunk - 0x3030_3030_3030_3030;
    // pairs, quads, then the whole: the first byte is the most significant digit
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((v.wrapping_mul(10_000) + (v >> 32)) & 0xFFFF_FFFF)
}

#[inline(always)]
fn load8(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// An unsigned decimal integer (`0`-`9` only, no sign), `None` on overflow or bad byte.
#[inline]
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    let len = b.len();
    if len == 0 || len > 19 {
        return parse_u64_long(b);
    }
    let mut v: u64 = 0;
    let mut i = 0;
    // at most 19 digits: no overflow
    while len - i >= 8 {
        v = v * 100_000_000 + parse8(load8(&b[i..]))?;
        i += 8;
    }
    while i < len {
        let d = b[i].wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u64;
        i += 1;
    }
    Some(v)
}

#[cold]
fn parse_u64_long(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    // leading zeros do not count toward the 20 digits of u64::MAX
    let zeros = b.iter().take_while(|&&c| c == b'0').count();
    let b = if zeros == b.len() {
        &b[..1]
    } else {
        &b[zeros..]
    };
    if b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// A signed decimal integer with an optional leading `-` or `+`.
#[inline]
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    match b.first()? {
        b'-' => {
            let v = parse_u64(&b[1..])?;
            if v <= i64::MAX as u64 + 1 {
                Some((v as i64).wrapping_neg())
            } else {
                None
            }
        }
        b'+' => i64::try_from(parse_u64(&b[1..])?).ok(),
        _ => i64::try_from(parse_u64(b)?).ok(),
    }
}

/// A decimal number: `[+-]digits[.digits][(e|E)[+-]digits]`, at least one digit
/// before or after the point. Correctly rounded (see the module docs).
#[inline]
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    let len = b.len();
    let mut i = 0;
    let neg = match b.first()? {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let int_start = i;
    i = digit_run(b, i);
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    let mut frac_start = i;
    if i < len && b[i] == b'.' {
        i += 1;
        frac_start = i;
        i = digit_run(b, i);
        frac_digits = i - frac_start;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    let mut exp: i64 = -(frac_digits as i64);
    if i < len {
        if b[i] != b'e' && b[i] != b'E' {
            return None;
        }
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i64 = 0;
        while i < len {
            let d = b[i].wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            // saturate: anything past ±10^6 is 0 or infinity anyway
            e = (e * 10 + d as i64).min(1_000_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if int_digits + frac_digits <= 19 && (-22..=22).contains(&exp) {
        // ≤ 19 digits: the mantissa fits a u64 (both parts are plain digit runs)
        let int = if int_digits == 0 {
            0
        } else {
            parse_u64(&b[int_start..int_start + int_digits])?
        };
        let mant = if frac_digits == 0 {
            int
        } else {
            int * POW10_U64[frac_digits] + parse_u64(&b[frac_start..frac_start + frac_digits])?
        };
        if mant >= MAX_EXACT {
            return slow_f64(b);
        }
        let m = mant as f64;
        let v = if exp < 0 {
            m / POW10[(-exp) as usize]
        } else {
            m * POW10[exp as usize]
        };
        return Some(if neg { -v } else { v });
    }
    slow_f64(b)
}

/// An unsigned plain decimal (`digits[.digits]`, no sign or exponent) starting
/// at `b[start]`, scanning the whole of `b` eight bytes at a time: `(value,
/// end)`, or `None` when the text is not that simple (then use [`parse_f64`]
/// on the field). Same exact result as [`parse_f64`].
#[inline(always)]
pub fn fast_decimal(b: &[u8], start: usize) -> Option<(f64, usize)> {
    if let Some((mant, frac, len)) = short_decimal(word_at(b, start)) {
        return Some((scaled_f64(mant, frac), start + len as usize));
    }
    long_decimal(b, start)
}

/// [`fast_decimal`] for numbers longer than a word.
#[inline(never)]
fn long_decimal(b: &[u8], start: usize) -> Option<(f64, usize)> {
    let (int, int_end) = digits(b, start)?;
    let (frac, frac_start, end) = if b.get(int_end) == Some(&b'.') {
        let (f, end) = digits(b, int_end + 1)?;
        (f, int_end + 1, end)
    } else {
        (0, int_end, int_end)
    };
    let int_digits = int_end - start;
    let frac_digits = end - frac_start;
    if int_digits + frac_digits == 0 || int_digits + frac_digits > 19 {
        return None;
    }
    // ≤ 19 digits in all: no overflow
    let mant = int * POW10_U64[frac_digits] + frac;
    if mant >= MAX_EXACT {
        return None;
    }
    Some((scaled_f64(mant, frac_digits as u32), end))
}

/// The fallback: std's correctly rounded parser, on input already checked to be
/// plain decimal syntax (so `inf`/`nan` never reach it).
#[cold]
#[inline(never)]
fn slow_f64(b: &[u8]) -> Option<f64> {
    std::str::from_utf8(b).ok()?.parse::<f64>().ok()
}

/// A decimal number scaled to an integer count of `10^-scale` units, exactly
/// (`"1.5"` at scale 3 → 1500); `None` when it has more decimals than `scale`,
/// a sign, an exponent, or overflows. Used for time fractions.
#[inline]
pub fn parse_fixed(b: &[u8], scale: u32) -> Option<u64> {
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(p) => (&b[..p], &b[p + 1..]),
        None => (b, &b[..0]),
    };
    if frac.len() > scale as usize || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let i = if int.is_empty() { 0 } else { parse_u64(int)? };
    let f = if frac.is_empty() { 0 } else { parse_u64(frac)? };
    let pad = 10u64.pow(scale - frac.len() as u32);
    i.checked_mul(10u64.pow(scale))?.checked_add(f * pad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn integers() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"99999999999999999999"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1a"), None);
        assert_eq!(parse_u64(b"12345678"), Some(12_345_678));
        assert_eq!(
            parse_u64(b"1234567890123456789"),
            Some(1_234_567_890_123_456_789)
        );
        assert_eq!(parse_u64(b"1234567:"), None);
        assert_eq!(parse_u64(b"12345/78"), None);
        assert_eq!(parse_u64(b"0000000000000000000"), Some(0));
        for bad in [b'/', b':', 0x00, 0xff, 0x3a, 0x40, 0xb0] {
            let mut s = *b"1582329602111000";
            s[5] = bad;
            assert_eq!(parse_u64(&s), None, "{bad:#x}");
        }
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b"+5"), Some(5));
    }

    #[test]
    fn decimals() {
        for s in [
            "0",
            "1",
            "9682",
            "9681.92",
            "0.001",
            "61737.63000000",
            "0.00017000",
            "1.38700",
            "86.655",
            "-3.5",
            "+2",
            ".5",
            "5.",
            "1e10",
            "1.5E-3",
            "123456789012345678901234",
            "0.1000000000000000055511151231257827",
            "1e-400",
            "1e400",
            "4.9e-324",
            "9007199254740993",
            "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert_eq!(
                parse_f64(s.as_bytes()),
                Some(s.parse::<f64>().unwrap()),
                "{s}"
            );
        }
        for s in [
            "", "-", ".", "e5", "1e", "1e+", "inf", "NaN", "1.2.3", "1,5", " 1", "0x10", "1e5x",
        ] {
            assert_eq!(parse_f64(s.as_bytes()), None, "{s:?}");
        }
        // deci-cents: integer / 10000 equals the decimal
        assert_eq!(parse_f64(b"1674200").unwrap() / 10000.0, 167.42);
    }

    #[test]
    fn eight_digits() {
        let some = [
            0u64, 1, 9, 10, 12_345_678, 99_999_999, 10_000_000, 90_000_009,
        ];
        for v in some.into_iter().chain((0..100_000_000).step_by(9_973)) {
            let w = u64::from_le_bytes(format!("{v:08}").as_bytes().try_into().unwrap());
            assert_eq!(digits8(w), v);
        }
    }

    #[test]
    fn non_digit_mask_every_byte() {
        for c in 0..=255u8 {
            for at in 0..8 {
                let mut b = *b"01234567";
                b[at] = c;
                let m = non_digits(u64::from_le_bytes(b));
                let want = if c.is_ascii_digit() {
                    0
                } else {
                    0x80 << (at * 8)
                };
                assert_eq!(m, want, "{c:#x} at {at}");
            }
        }
    }

    #[test]
    fn fixed() {
        assert_eq!(parse_fixed(b"1.5", 3), Some(1500));
        assert_eq!(parse_fixed(b"14400464", 6), Some(14_400_464_000_000));
        assert_eq!(parse_fixed(b"12.000295", 6), Some(12_000_295));
        assert_eq!(parse_fixed(b"1.0000001", 6), None);
        assert_eq!(parse_fixed(b".", 6), None);
        assert_eq!(parse_fixed(b"-1", 6), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_std_on_decimals(int in 0u64..100_000_000_000, frac in "[0-9]{0,12}", e in proptest::option::of(-30i32..30)) {
            let mut s = int.to_string();
            if !frac.is_empty() { s.push('.'); s.push_str(&frac); }
            if let Some(e) = e { s.push('e'); s.push_str(&e.to_string()); }
            prop_assert_eq!(parse_f64(s.as_bytes()), Some(s.parse::<f64>().unwrap()));
        }

        #[test]
        fn round_trips_every_f64(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            if v.is_finite() {
                let s = format!("{v:?}");
                prop_assert_eq!(parse_f64(s.as_bytes()).map(f64::to_bits), Some(v.to_bits()), "{}", s);
            }
        }

        #[test]
        fn u64_matches_std(v in any::<u64>(), lead in 0usize..3) {
            let s = format!("{}{v}", "0".repeat(lead));
            prop_assert_eq!(parse_u64(s.as_bytes()), s.parse::<u64>().ok());
        }

        #[test]
        fn u64_refuses_like_std(b in proptest::collection::vec(prop_oneof![8 => b'0'..=b'9', 1 => any::<u8>()], 0..22)) {
            let want = std::str::from_utf8(&b).ok().filter(|s| !s.starts_with('+')).and_then(|s| s.parse::<u64>().ok());
            prop_assert_eq!(parse_u64(&b), want);
        }

        #[test]
        fn fast_decimal_matches(int in 0u64..10_000_000_000, frac in "[0-9]{0,10}", tail in "[,x e]{0,2}") {
            let mut s = int.to_string();
            if !frac.is_empty() { s.push('.'); s.push_str(&frac); }
            let field_len = s.len();
            s.push_str(&tail);
            if let Some((v, end)) = fast_decimal(s.as_bytes(), 0) {
                prop_assert_eq!(end, field_len);
                prop_assert_eq!(Some(v), parse_f64(&s.as_bytes()[..field_len]));
            }
        }

        /// Arbitrary decimal text (long mantissas, many leading or trailing
        /// zeros, exponents) through every decimal entry point: the same bits
        /// as std's parser, or refused exactly when std refuses.
        #[test]
        fn decimal_text_matches_std_bits(
            sign in "[-+]?",
            int in "[0-9]{0,30}",
            frac in proptest::option::of("[0-9]{0,30}"),
            exp in proptest::option::of("[eE][-+]?[0-9]{1,4}"),
            tail in "(,[0-9a-z.,]{0,9})?",
        ) {
            let mut s = format!("{sign}{int}");
            if let Some(f) = &frac { s.push('.'); s.push_str(f); }
            if let Some(e) = &exp { s.push_str(e); }
            let field = s.len();
            let want = s.parse::<f64>().ok().filter(|_| int.len() + frac.as_ref().map_or(0, String::len) > 0);
            prop_assert_eq!(parse_f64(s.as_bytes()).map(f64::to_bits), want.map(f64::to_bits), "{}", s);
            s.push_str(&tail);
            // the one-pass path: a number, or `None` (the caller then takes the field to parse_f64)
            if let Some((v, end)) = fast_decimal(s.as_bytes(), 0) {
                prop_assert!(end <= field, "{} ends at {}", s, end);
                if end == field {
                    prop_assert_eq!(Some(v.to_bits()), want.map(f64::to_bits), "{}", s);
                }
            }
            let mut c = super::super::fields::Cursor::new(s.as_bytes(), b',');
            prop_assert_eq!(c.f64().flatten().map(f64::to_bits), want.map(f64::to_bits), "{}", s);
        }

        /// Every word of digits, points and delimiters: `short_decimal` agrees with std.
        #[test]
        fn short_decimal_matches_std(b in proptest::collection::vec(prop_oneof![6 => b'0'..=b'9', 2 => Just(b'.'), 1 => Just(b','), 1 => Just(0u8), 1 => any::<u8>()], 8)) {
            let w = u64::from_le_bytes(b.clone().try_into().unwrap());
            if let Some((m, frac, len)) = short_decimal(w) {
                let text = &b[..len as usize];
                let v = scaled_f64(m, frac);
                prop_assert!(len == 8 || !b[len as usize].is_ascii_digit());
                prop_assert_eq!(Some(v.to_bits()), std::str::from_utf8(text).ok().and_then(|t| t.parse::<f64>().ok()).map(f64::to_bits), "{:?}", text);
            }
        }

        #[test]
        fn leading_u64_matches(pre in "[0-9a,]{0,9}", v in any::<u64>(), post in "[,x]{0,2}") {
            let s = format!("{pre},{v}{post}");
            let at = pre.len() + 1;
            let digits = v.to_string();
            let got = leading_u64(s.as_bytes(), at);
            if digits.len() <= 19 {
                prop_assert_eq!(got, Some((v, at + digits.len())));
            } else {
                prop_assert_eq!(got, None);
            }
        }

        #[test]
        fn digits_match_naive(b in proptest::collection::vec(prop_oneof![6 => b'0'..=b'9', 1 => any::<u8>()], 0..48), at in 0usize..48) {
            let at = at.min(b.len());
            let run = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            let want = (run <= 19).then(|| {
                let v = b[at..at + run].iter().fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'));
                (v, at + run)
            });
            prop_assert_eq!(digits(&b, at), want);
        }

        #[test]
        fn digit_run_matches_naive(b in proptest::collection::vec(prop_oneof![4 => b'0'..=b'9', 1 => any::<u8>()], 0..40), at in 0usize..40) {
            let at = at.min(b.len());
            let want = at + b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            prop_assert_eq!(digit_run(&b, at), want);
        }

        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_f64(&b);
            let _ = parse_i64(&b);
            let _ = parse_fixed(&b, 9);
        }
    }
}
