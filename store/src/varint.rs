//! LEB128 varint runs decoded eight bytes at a time (SSSE3 + SSE4.1, chosen
//! at run time), for the varint miniblocks of integer columns, where most
//! values take one or two bytes (SPY times and sizes).
//!
//! The scalar decoder in `codec` is the reference: this one must give the
//! same values, the same bytes used and the same error for every input
//! (property-tested in `codec`).
//!
//! One step: load 8 bytes, take the continuation bits (`movemask`), and look
//! the 8-bit mask up in a 256-entry table that says how many whole varints
//! of one or two bytes start the window, how many bytes they use, and the
//! `pshufb` control that moves their bytes into 16-bit lanes (low byte, high
//! byte or zero). Two masks and a shift join the 7-bit groups; `pmovzxwq`
//! widens the 8 lanes to `u64`. Lanes past the whole varints hold junk that
//! the next step overwrites (the step runs only with 8 values of room left).
//! A varint of three or more bytes at the start of the window takes one
//! scalar step.

use std::arch::x86_64::*;
use std::sync::atomic::{AtomicU8, Ordering};

/// Proof that this CPU runs SSSE3 and SSE4.1. Get one from [`Sse41::detect`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sse41 {
    _private: (),
}

/// Detection cache: 0 not yet, 1 absent, 2 present. Written by whichever
/// thread detects first (all write the same value); `Relaxed` suffices since
/// the value carries no other memory with it.
static HAS_SSE41: AtomicU8 = AtomicU8::new(0);

impl Sse41 {
    /// `Some` when this CPU runs SSSE3 and SSE4.1 (detected once, then cached).
    #[inline]
    pub(crate) fn detect() -> Option<Sse41> {
        let has = match HAS_SSE41.load(Ordering::Relaxed) {
            0 => {
                let has = is_x86_feature_detected!("ssse3") && is_x86_feature_detected!("sse4.1");
                HAS_SSE41.store(if has { 2 } else { 1 }, Ordering::Relaxed);
                has
            }
            v => v == 2,
        };
        has.then_some(Sse41 { _private: () })
    }

    /// Decodes `out.len()` varints from the front of `s` into `out`, like
    /// the scalar decoder; `scalar_one` decodes one varint at `s[p..]`
    /// (value, bytes used) where the table cannot.
    #[inline]
    pub(crate) fn unpack<E>(
        self,
        s: &[u8],
        out: &mut [u64],
        scalar_one: impl Fn(&[u8]) -> Result<(u64, usize), E>,
    ) -> Result<usize, E> {
        // SAFETY: a `Sse41` exists only when `detect` saw SSSE3 and SSE4.1.
        unsafe { unpack_sse41(s, out, scalar_one) }
    }
}

/// The table entry of one continuation mask.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Step {
    /// `pshufb` control: lane `k` (bytes `2k`, `2k + 1`) takes the low and
    /// high byte of the `k`-th varint (0x80: zero).
    shuf: [u8; 16],
}

/// Whole varints of one or two bytes at the start of a window, and their bytes.
const fn counts(m: u32) -> (u8, u8) {
    let (mut j, mut k) = (0u32, 0u8);
    while j < 8 {
        if m >> j & 1 == 0 {
            j += 1;
        } else if j + 1 < 8 && m >> (j + 1) & 1 == 0 {
            j += 2;
        } else {
            break;
        }
        k += 1;
    }
    (k, j as u8)
}

const fn build_steps() -> [Step; 256] {
    let mut t = [Step { shuf: [0x80; 16] }; 256];
    let mut m = 0u32;
    while m < 256 {
        let (n, _) = counts(m);
        let (mut j, mut k) = (0u32, 0usize);
        while k < n as usize {
            t[m as usize].shuf[2 * k] = j as u8;
            if m >> j & 1 == 0 {
                j += 1;
            } else {
                t[m as usize].shuf[2 * k + 1] = (j + 1) as u8;
                j += 2;
            }
            k += 1;
        }
        m += 1;
    }
    t
}

const fn build_counts() -> [(u8, u8); 256] {
    let mut t = [(0u8, 0u8); 256];
    let mut m = 0;
    while m < 256 {
        t[m] = counts(m as u32);
        m += 1;
    }
    t
}

static STEPS: [Step; 256] = build_steps();
/// (varints, bytes) per mask.
static COUNTS: [(u8, u8); 256] = build_counts();

#[target_feature(enable = "ssse3,sse4.1")]
fn unpack_sse41<E>(
    s: &[u8],
    out: &mut [u64],
    scalar_one: impl Fn(&[u8]) -> Result<(u64, usize), E>,
) -> Result<usize, E> {
    let (mut p, mut i) = (0usize, 0usize);
    let low7 = _mm_set1_epi16(0x007f);
    let high7 = _mm_set1_epi16(0x7f00);
    while i < out.len() {
        if i + 8 <= out.len() && p + 8 <= s.len() {
            // SAFETY: p + 8 <= s.len(): the 8 bytes read are inside `s`.
            let x = unsafe { _mm_loadl_epi64(s.as_ptr().add(p).cast()) };
            // only the low 8 lanes hold loaded bytes (the rest are zero)
            let m = _mm_movemask_epi8(x) as usize & 0xff;
            let (n, used) = COUNTS[m];
            if n > 0 {
                // SAFETY: `Step` is 16 bytes, 16-aligned (`repr(align(16))`).
                let ctl = unsafe { _mm_load_si128(STEPS[m].shuf.as_ptr().cast()) };
                let y = _mm_shuffle_epi8(x, ctl);
                let v = _mm_or_si128(
                    _mm_and_si128(y, low7),
                    _mm_srli_epi16::<1>(_mm_and_si128(y, high7)),
                );
                let o: *mut __m128i = out[i..i + 8].as_mut_ptr().cast();
                // SAFETY: `o` points at out[i..i + 8] (bounds-checked just
                // above), 64 bytes: four unaligned 16-byte stores fit exactly.
                unsafe {
                    _mm_storeu_si128(o, _mm_cvtepu16_epi64(v));
                    _mm_storeu_si128(o.add(1), _mm_cvtepu16_epi64(_mm_srli_si128::<4>(v)));
                    _mm_storeu_si128(o.add(2), _mm_cvtepu16_epi64(_mm_srli_si128::<8>(v)));
                    _mm_storeu_si128(o.add(3), _mm_cvtepu16_epi64(_mm_srli_si128::<12>(v)));
                }
                i += n as usize;
                p += used as usize;
                continue;
            }
        }
        let (v, used) = scalar_one(s.get(p..).unwrap_or(&[]))?;
        out[i] = v;
        i += 1;
        p += used;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_counts_whole_short_varints() {
        assert_eq!(counts(0), (8, 8));
        assert_eq!(counts(0b1), (7, 8));
        assert_eq!(counts(0b11), (0, 0));
        assert_eq!(counts(0b1000_0000), (7, 7));
        assert_eq!(counts(0b0101_0101), (4, 8));
        assert_eq!(counts(0b0000_0110), (1, 1));
        assert_eq!(STEPS[0b1].shuf[..4], [0, 1, 2, 0x80]);
    }
}
