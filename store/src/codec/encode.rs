//! The column encoder (format 2): the bytes of `docs/storage.md`, "Block
//! payload", produced with as few passes over the values as the format
//! allows.
//!
//! A tick block is first split into contiguous columns in one pass over the
//! 64-byte ticks (the side/kind/flags runs are found in that same pass), so
//! that every later pass reads 8 bytes per value instead of a cache line.
//! Then, per column:
//!
//! - times: one pass finds the common divisor of the deltas (a divisibility
//!   test by multiplication instead of a division per delta), one pass
//!   divides exactly (shift and multiply by the inverse of the odd part) and
//!   costs both the delta and the delta-of-delta forms, one pass writes;
//! - floats: one pass finds the decimal count and the scaled integers
//!   together (repeated values reuse the previous integer), one pass costs
//!   the three integer forms, one pass writes;
//! - integer columns: an early-exit test for a constant column, then each
//!   miniblock's values are produced once into a stack buffer while their OR
//!   and varint length are summed, and written fixed-width or as varints from
//!   there (8-byte stores, no per-byte `Vec::push`).
//!
//! The output is byte for byte that of the previous encoder
//! (`reference.rs`), which the tests check on real data and proptest input,
//! except where the previous encoder lost a value (see `scale`).

use mtf::{Bar, Tick};

use super::{
    FLOAT_DECIMAL, FLOAT_DECIMAL_RAW, FLOAT_DECIMAL_UNSIGNED, FLOAT_XOR, MAX_DECIMALS, MB,
    MB_VARINT, MODE_CONST, MODE_PACKED, POW10, RECV_DIFF, RECV_TIMES, TIME_DELTA,
    TIME_DELTA_UNSIGNED, TIME_DOD, put_varint, round_i64, zigzag,
};

/// Bytes of `v` as a LEB128 varint: one per started group of 7 bits (0 takes
/// one byte). `b / 7` as `b · 37 >> 8`, exact for `b < 64`.
#[inline(always)]
fn vlen(v: u64) -> usize {
    (((v | 1).ilog2() * 37) >> 8) as usize + 1
}

/// Reusable buffers for encoding.
#[derive(Default)]
pub struct EncodeScratch {
    /// Event times of the block.
    ev: Vec<i64>,
    /// Receive minus event times.
    rd: Vec<i64>,
    /// Price, size, ask, ask size as bits.
    fl: [Vec<u64>; 4],
    /// Ids.
    id: Vec<u64>,
    /// The side/kind/flags runs as written (varint pairs).
    runs: Vec<u8>,
    /// Where each run starts (row), and its value.
    run_at: Vec<usize>,
    run_val: Vec<u64>,
    /// Time deltas divided by their divisor.
    q: Vec<i64>,
    /// Scaled integers of a float column.
    m: Vec<i64>,
    /// A second time column (receive times) and its bytes.
    col: Vec<i64>,
    alt: Vec<u8>,
    /// A float column of bars, as bits.
    bits: Vec<u64>,
    /// Values already scaled: see [`Memo`].
    memo: Memo,
    /// Where each column but the last of the newest tick block ends, from
    /// the block's start (the sealer ends a zstd block there; see
    /// `Codecs::compress`).
    pub(crate) splits: Vec<usize>,
}

/// Values of a float column already scaled at the current decimal count,
/// direct-mapped by a hash of their bits: real prices and sizes take a few
/// hundred distinct values a block, so most values skip the division that
/// checks them. An entry counts only with the current generation (a new
/// column or decimal count starts one), so nothing is ever cleared.
struct Memo {
    /// (bits, scaled integer, generation << 4 | varint length of the integer)
    slots: Box<[(u64, i64, u64); MEMO_SLOTS]>,
    generation: u64,
}

const MEMO_SLOTS: usize = 512;

impl Default for Memo {
    fn default() -> Self {
        Memo {
            slots: Box::new([(0, 0, 0); MEMO_SLOTS]),
            generation: 0,
        }
    }
}

impl Memo {
    /// [`scaled_to`] at `e` (which must be the same for a generation), and
    /// the varint length of the integer as u64.
    #[inline(always)]
    fn scaled(&mut self, b: u64, e: u8) -> Option<(i64, usize)> {
        // Fibonacci hashing: the top 9 bits of the product
        let i = (b.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 55) as usize & (MEMO_SLOTS - 1);
        let slot = &mut self.slots[i];
        if slot.2 >> 4 == self.generation && slot.0 == b {
            return Some((slot.1, (slot.2 & 15) as usize));
        }
        let x = scaled_to(b, e)?;
        let len = vlen(x as u64);
        *slot = (b, x, self.generation << 4 | len as u64);
        Some((x, len))
    }
}

// ---------------------------------------------------------------- integer columns

/// `v` as LEB128 into `buf[p..]`; the bytes used. `buf` must have 8 bytes
/// (10 for values of 2^56 and more) from `p`: the first 8 are always written.
#[inline(always)]
fn put_varint_at(buf: &mut [u8], p: usize, v: u64) -> usize {
    if v < 1 << 56 {
        // the 7-bit groups spread to bytes, continuation bits on all but the last
        let x = (v & 0x7f)
            | (v << 1 & 0x7f00)
            | (v << 2 & 0x7f_0000)
            | (v << 3 & 0x7f00_0000)
            | (v << 4 & 0x7f_0000_0000)
            | (v << 5 & 0x7f00_0000_0000)
            | (v << 6 & 0x7f_0000_0000_0000)
            | (v << 7 & 0x7f00_0000_0000_0000);
        let len = vlen(v);
        let cont = 0x8080_8080_8080_8080u64 & ((1u64 << (8 * (len - 1))) - 1);
        buf[p..p + 8].copy_from_slice(&(x | cont).to_le_bytes());
        len
    } else {
        let mut v = v;
        let mut n = p;
        while v >= 0x80 {
            buf[n] = v as u8 | 0x80;
            v >>= 7;
            n += 1;
        }
        buf[n] = v as u8;
        n + 1 - p
    }
}

/// Writes an integer column of `n` values: `first`, then `rest(j)` for
/// `j` in `0..n - 1`. Constant (every later value equal) or packed
/// miniblocks, fixed width where not longer than the varints.
#[inline(always)]
fn put_int(out: &mut Vec<u8>, n: usize, first: u64, rest: impl Fn(usize) -> u64) {
    put_int_hint(out, n, first, rest, false)
}

/// [`put_int`]; `constant`: the caller knows every `rest(j)` is equal.
#[inline(always)]
fn put_int_hint(
    out: &mut Vec<u8>,
    n: usize,
    first: u64,
    rest: impl Fn(usize) -> u64,
    constant: bool,
) {
    let first = if n == 0 { 0 } else { first };
    let r = n.saturating_sub(1);
    let second = if r > 0 { rest(0) } else { 0 };
    if constant || (1..r).all(|j| rest(j) == second) {
        out.push(MODE_CONST);
        put_varint(out, first);
        put_varint(out, second);
        return;
    }
    out.push(MODE_PACKED);
    put_varint(out, first);
    put_varint(out, r as u64);
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let start = out.len();
    let mut vals = [0u64; MB];
    let mut low = [0u8; MB];
    // header byte, then at most 10 bytes per value; 8-byte stores overrun by up to 7
    let mut buf = [0u8; 1 + MB * 10 + 8];
    let mut j = 0;
    while j < r {
        let k = (r - j).min(MB);
        let vals = &mut vals[..k];
        let low = &mut low[..k];
        let mut hi = 0u64;
        for (i, (o, l)) in vals.iter_mut().zip(low.iter_mut()).enumerate() {
            let v = rest(j + i);
            *o = v;
            *l = v as u8;
            hi |= v;
        }
        j += k;
        if hi < 0x100 {
            // width 1 (the common case): the low bytes are the miniblock
            out.push(1);
            out.extend_from_slice(low);
            continue;
        }
        let w = (64 - hi.leading_zeros() as usize).div_ceil(8).max(1);
        // fixed width only where it is no longer than the varints (see the
        // format doc: the bytes model as well under lz4 and zstd); every
        // varint takes a byte at least, so width 1 always is
        let mut p = 1;
        if w * k <= vals.iter().map(|&v| vlen(v)).sum::<usize>() {
            buf[0] = w as u8;
            for &v in vals.iter() {
                buf[p..p + 8].copy_from_slice(&v.to_le_bytes());
                p += w;
            }
        } else {
            buf[0] = MB_VARINT;
            for &v in vals.iter() {
                p += put_varint_at(&mut buf, p, v);
            }
        }
        out.extend_from_slice(&buf[..p]);
    }
    let len = (out.len() - start) as u32;
    out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
}

/// Writes `vals` as an integer column.
#[cfg(test)]
pub(crate) fn put_int_slice(out: &mut Vec<u8>, vals: &[u64]) {
    let first = vals.first().copied().unwrap_or(0);
    put_int(out, vals.len(), first, |j| vals[j + 1]);
}

// ---------------------------------------------------------------- exact division

/// Divisibility by, and exact division by, a fixed `g = o · 2^k` (`o` odd):
/// `d` is a multiple of `g` iff its low `k` bits are zero and `(d >> k) · o⁻¹`
/// (mod 2^64) is at most `u64::MAX / o` (Granlund and Montgomery); then that
/// product is the quotient. A multiply instead of a division per value.
#[derive(Clone, Copy)]
struct Divisor {
    k: u32,
    inv: u64,
    lim: u64,
}

impl Divisor {
    fn new(g: u64) -> Divisor {
        debug_assert!(g != 0);
        let k = g.trailing_zeros();
        let o = g >> k;
        // Newton's iteration doubles the correct low bits: 3, 6, 12, 24, 48, 96
        let mut inv = o;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(o.wrapping_mul(inv)));
        }
        debug_assert_eq!(o.wrapping_mul(inv), 1);
        Divisor {
            k,
            inv,
            lim: u64::MAX / o,
        }
    }

    #[inline(always)]
    fn divides(&self, d: u64) -> bool {
        d.trailing_zeros() >= self.k && (d >> self.k).wrapping_mul(self.inv) <= self.lim
    }

    /// `d / g` for a `d` that is a multiple of `g` (any sign; wrapping as `/`).
    #[inline(always)]
    fn exact(&self, d: i64) -> i64 {
        (d >> self.k).wrapping_mul(self.inv as i64)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The GCD of `|d(i)|` for `i` in `0..n` (zeros ignored), stopping at 1;
/// 1 where it is 0 or above `i64::MAX` (every value zero, or only `i64::MIN`s).
#[inline(always)]
fn divisor_of(n: usize, d: impl Fn(usize) -> i64) -> u64 {
    let mut g = 0u64;
    let mut div = Divisor::new(1);
    for i in 0..n {
        let a = d(i).unsigned_abs();
        // zero and multiples of the running divisor leave it as it is
        if a != 0 && (g == 0 || !div.divides(a)) {
            g = gcd(g, a);
            if g == 1 {
                break;
            }
            div = Divisor::new(g);
        }
    }
    if g == 0 || g > i64::MAX as u64 { 1 } else { g }
}

// ---------------------------------------------------------------- time columns

/// Writes a time column (any i64 values; bit-exact round trip). `q` is scratch.
pub(crate) fn put_times_in(out: &mut Vec<u8>, ts: &[i64], q: &mut Vec<i64>) {
    out.extend_from_slice(&ts.first().copied().unwrap_or(0).to_le_bytes());
    let nd = ts.len().saturating_sub(1);
    let g = divisor_of(nd, |i| ts[i + 1].wrapping_sub(ts[i]));
    put_varint(out, g);
    let div = Divisor::new(g);
    q.clear();
    q.reserve(nd);
    let (mut dod_cost, mut unsigned_cost) = (0usize, 0usize);
    let mut sorted = true;
    let mut prev = 0i64;
    for w in ts.windows(2) {
        let d = div.exact(w[1].wrapping_sub(w[0]));
        q.push(d);
        dod_cost += vlen(zigzag(d.wrapping_sub(prev)));
        unsigned_cost += vlen(d as u64);
        sorted &= d >= 0;
        prev = d;
    }
    let d0 = q.first().copied().unwrap_or(0);
    let first = zigzag(d0);
    // The zigzag deltas cost is needed only for an unsorted column: in a
    // sorted one each zigzag delta is twice the delta, never shorter, so
    // it is at least `unsigned_cost`, which wins against it (on a tie too).
    let delta_cost = if sorted {
        usize::MAX
    } else {
        q.iter().map(|&d| vlen(zigzag(d))).sum()
    };
    if sorted && unsigned_cost <= dod_cost {
        // format 3: a sorted column's deltas have no sign to spend a bit on
        out.push(TIME_DELTA_UNSIGNED);
        put_int(out, nd, d0 as u64, |j| q[j + 1] as u64);
    } else if dod_cost < delta_cost {
        out.push(TIME_DOD);
        put_int(out, nd, first, |j| zigzag(q[j + 1].wrapping_sub(q[j])));
    } else {
        out.push(TIME_DELTA);
        put_int(out, nd, first, |j| zigzag(q[j + 1]));
    }
}

/// [`put_times_in`] with the previous encoder's signature (`u` unused).
#[cfg(test)]
pub(crate) fn put_times(out: &mut Vec<u8>, ts: &[i64], scratch: &mut Vec<i64>, _u: &mut Vec<u64>) {
    put_times_in(out, ts, scratch);
}

/// Receive times: as the difference `rd` from the event time `ev` (scaled
/// by its GCD), or as a time column of their own, whichever is shorter.
fn put_recv(out: &mut Vec<u8>, ev: &[i64], rd: &[i64], any: bool, s: &mut Scratch<'_>) {
    if !any {
        // receive time = event time throughout (trades from files): divisor 1,
        // a constant column of zeros (5 bytes: the time column cannot be shorter)
        out.extend_from_slice(&[RECV_DIFF, 1, MODE_CONST, 0, 0]);
        return;
    }
    let g = divisor_of(rd.len(), |i| rd[i]);
    let div = Divisor::new(g);
    let first = zigzag(div.exact(rd.first().copied().unwrap_or(0)));
    // Receive times far from the event times (a replay stamped now) take
    // 8 bytes a difference, where the time column of their own takes about
    // one: that column is written first, and when it is shorter than the
    // least the difference column can take, the latter is not written.
    let floor = diff_floor(rd, g, first);
    let mut alt_done = false;
    if floor > 16 {
        recv_times(ev, rd, s);
        if s.alt.len() < floor {
            out.extend_from_slice(s.alt);
            return;
        }
        alt_done = true;
    }
    let at = out.len();
    out.push(RECV_DIFF);
    put_varint(out, g);
    put_int(out, rd.len(), first, |j| zigzag(div.exact(rd[j + 1])));
    // A time column takes at least 14 bytes (mode, 8-byte first value,
    // divisor, mode, and a 3-byte constant column): it cannot be shorter
    // than a difference column of 14 bytes or less (all-equal differences).
    let diff_len = out.len() - at;
    if (g == 1 || diff_len > 16) && diff_len > 14 {
        if !alt_done {
            recv_times(ev, rd, s);
        }
        if s.alt.len() < diff_len {
            out.truncate(at);
            out.extend_from_slice(s.alt);
        }
    }
}

/// The receive times (`ev + rd`) as a time column, mode byte first, into `s.alt`.
fn recv_times(ev: &[i64], rd: &[i64], s: &mut Scratch<'_>) {
    s.alt.clear();
    s.alt.push(RECV_TIMES);
    s.col.clear();
    s.col
        .extend(ev.iter().zip(rd).map(|(&e, &d)| e.wrapping_add(d)));
    put_times_in(s.alt, s.col, s.q);
}

/// A lower bound of the bytes `put_recv` writes for the difference column
/// of `rd` (divisor `g`, first value `first` as written); 0 when the later
/// differences are all equal (a constant column: a few bytes).
///
/// A packed column is its mode, the first value, the count, a 4-byte
/// length, and per miniblock a header byte and its values, each at least
/// as many bytes as the smallest value needs: a fixed width holds the
/// miniblock's largest value, a varint is no shorter than that value's
/// bytes. The smallest value written, `zigzag(d / g)` for some difference
/// `d`, is at least `min |d| / g`.
fn diff_floor(rd: &[i64], g: u64, first: u64) -> usize {
    let r = rd.len().saturating_sub(1);
    if r < 2 || rd[2..].iter().all(|&d| d == rd[1]) {
        return 0;
    }
    let least = rd.iter().map(|d| d.unsigned_abs()).min().unwrap_or(0) / g;
    let bytes = (64 - least.leading_zeros() as usize).div_ceil(8).max(1);
    1 + vlen(g) + 1 + vlen(first) + vlen(r as u64) + 4 + r.div_ceil(MB) + r * bytes
}

/// The scratch buffers `put_recv` borrows (the columns stay borrowed apart).
struct Scratch<'a> {
    q: &'a mut Vec<i64>,
    col: &'a mut Vec<i64>,
    alt: &'a mut Vec<u8>,
}

// ---------------------------------------------------------------- float columns

/// A float column scaled to integers by [`scale`].
struct Scaled {
    /// Decimal count.
    e: u8,
    /// Varint bytes of the zigzag deltas of the integers.
    cost_delta: usize,
    /// Varint bytes of the integers as they are (as u64).
    cost_raw: usize,
    /// Some integer is negative.
    neg: bool,
    /// Every value is the first one.
    constant: bool,
}

/// The decimal count `e` and the scaled integers `m` (into `m`) of a float
/// column given as bits, if every value satisfies `(m as f64) / 10^e == v`
/// bit for bit; `None` otherwise (the column is then XOR coded). The costs
/// of the integer forms come from the same pass.
///
/// `e` is found as the previous encoder found it: the values in order, each
/// checked from the current count upwards (a repeated value is not checked
/// again). Values before the last increase of `e` were checked at a smaller
/// count: they are scaled again and checked at the final one. The previous
/// encoder did not check them again, and wrote 0 for a value whose scaled
/// integer no longer fits 2^53 (`[1e15, 0.5]` read back as `[0.0, 0.5]`);
/// such a column is XOR coded here, bit-exact.
#[inline(always)]
fn scale(
    n: usize,
    bits: impl Fn(usize) -> u64,
    m: &mut Vec<i64>,
    memo: &mut Memo,
) -> Option<Scaled> {
    let b0 = if n == 0 { 0 } else { bits(0) };
    if (1..n).all(|i| bits(i) == b0) {
        // one value (zero asks of trades, round lots): scaled once
        let mut e = 0u8;
        let mut x = 0i64;
        if n > 0 {
            x = loop {
                if let Some(x) = scaled_to(b0, e) {
                    break x;
                }
                e += 1;
                if e > MAX_DECIMALS {
                    return None;
                }
            };
        }
        m.clear();
        m.resize(n, x);
        let n1 = n.saturating_sub(1);
        return Some(Scaled {
            e,
            cost_delta: if n == 0 { 0 } else { vlen(zigzag(x)) + n1 },
            cost_raw: n * vlen(x as u64),
            neg: n > 0 && x < 0,
            constant: true,
        });
    }
    let ms = &mut at_len(m, n)[..n];
    let mut e = 0u8;
    let mut start = 0usize;
    let (mut cost_delta, mut cost_raw, mut neg) = (0usize, 0usize, false);
    let mut prev = 0i64;
    // Every value is checked, repeated ones too (the same answer as for the
    // first of them): a branch on "repeated" mispredicts on real prices and
    // sizes, where about every other value repeats.
    memo.generation += 1;
    for (i, slot) in ms.iter_mut().enumerate() {
        let b = bits(i);
        let (x, raw_len) = match memo.scaled(b, e) {
            Some(x) => x,
            None => {
                // more decimals from here on (cold: a few times per column at most)
                loop {
                    e += 1;
                    if e > MAX_DECIMALS {
                        return None;
                    }
                    if let Some(x) = scaled_to(b, e) {
                        start = i;
                        memo.generation += 1;
                        break (x, vlen(x as u64));
                    }
                }
            }
        };
        cost_delta += vlen(zigzag(x.wrapping_sub(prev)));
        cost_raw += raw_len;
        neg |= x < 0;
        prev = x;
        *slot = x;
    }
    if start > 0 {
        for (i, x) in m[..start].iter_mut().enumerate() {
            *x = scaled_to(bits(i), e)?;
        }
        let mut prev = 0i64;
        (cost_delta, cost_raw, neg) = (0, 0, false);
        for &x in m.iter() {
            cost_delta += vlen(zigzag(x.wrapping_sub(prev)));
            cost_raw += vlen(x as u64);
            neg |= x < 0;
            prev = x;
        }
    }
    Some(Scaled {
        e,
        cost_delta,
        cost_raw,
        neg,
        constant: false,
    })
}

/// The integer `m` with `(m as f64) / 10^e == v` bit for bit (`v` given as
/// bits), if `round(v · 10^e)` is one: through the integer, as the decoder
/// does (−0.0 has no integer form).
#[inline(always)]
fn scaled_to(b: u64, e: u8) -> Option<i64> {
    let p = POW10[e as usize];
    round_i64(f64::from_bits(b) * p).filter(|&x| (x as f64 / p).to_bits() == b)
}

/// Writes a float column of `n` values given as bits; bit-exact for every
/// f64. `m` is scratch.
#[inline(always)]
fn put_float_bits(
    out: &mut Vec<u8>,
    n: usize,
    bits: impl Fn(usize) -> u64,
    m: &mut Vec<i64>,
    memo: &mut Memo,
) {
    let Some(sc) = scale(n, &bits, m, memo) else {
        out.push(FLOAT_XOR);
        let first = if n == 0 { 0 } else { bits(0) };
        put_int(out, n, first, |j| bits(j + 1) ^ bits(j));
        return;
    };
    let Scaled {
        e,
        cost_delta,
        cost_raw,
        neg,
        constant,
    } = sc;
    let m = &m[..];
    let first = m.first().copied().unwrap_or(0);
    // scaled integers, delta-coded (prices) or as they are (sizes): the cheaper
    if !neg && cost_raw <= cost_delta + cost_delta / 4 {
        // sizes: repeated raw values model better under lz4/zstd than deltas
        out.push(FLOAT_DECIMAL_UNSIGNED);
        out.push(e);
        put_int_hint(out, n, first as u64, |j| m[j + 1] as u64, constant);
    } else if cost_raw < cost_delta {
        out.push(FLOAT_DECIMAL_RAW);
        out.push(e);
        put_int_hint(out, n, zigzag(first), |j| zigzag(m[j + 1]), constant);
    } else {
        out.push(FLOAT_DECIMAL);
        out.push(e);
        let d = |j: usize| zigzag(m[j + 1].wrapping_sub(m[j]));
        put_int_hint(out, n, zigzag(first), d, constant);
    }
}

/// Writes a float column; bit-exact for every f64. `m` is scratch (`_u` unused).
#[cfg(test)]
pub(crate) fn put_floats(
    out: &mut Vec<u8>,
    vals: impl Iterator<Item = f64> + Clone,
    m: &mut Vec<i64>,
    _u: &mut Vec<u64>,
) {
    let bits: Vec<u64> = vals.map(f64::to_bits).collect();
    put_float_bits(out, bits.len(), |i| bits[i], m, &mut Memo::default());
}

// ---------------------------------------------------------------- tick blocks

/// `v` at length `n` without writing the elements it keeps (every caller
/// overwrites all `n`), so a reused buffer costs no memset.
fn at_len<T: Copy + Default>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    v.truncate(n);
    v.resize(n, T::default());
    &mut v[..]
}

/// One tick's fields as the columns take them.
struct Row {
    ev: i64,
    recv: i64,
    /// side | kind << 2 | flags << 8
    meta: u64,
    fl: [u64; 4],
    id: u64,
}

/// Appends the column encoding of `ticks` (one symbol) to `out`.
pub fn encode_ticks(ticks: &[Tick], out: &mut Vec<u8>, s: &mut EncodeScratch) {
    let row = |i: usize| {
        let t = &ticks[i];
        Row {
            ev: t.ts_event,
            recv: t.ts_recv,
            meta: t.side as u64 | (t.kind as u64) << 2 | (t.flags as u64) << 8,
            fl: [
                t.price.to_bits(),
                t.size.to_bits(),
                t.ask.to_bits(),
                t.ask_size.to_bits(),
            ],
            id: t.id,
        }
    };
    encode_rows(row, ticks.len(), out, s);
}

/// [`encode_ticks`] of staged tick records (64 bytes each: the `Tick`
/// fields in declaration order, little-endian, floats as bits; see
/// `docs/storage.md`, "The stage"), straight from the stage. Returns the
/// smallest and largest event time (`i64::MAX, i64::MIN` for none).
pub(crate) fn encode_tick_records(
    recs: &[u8],
    out: &mut Vec<u8>,
    s: &mut EncodeScratch,
) -> (i64, i64) {
    let (recs, _) = recs.as_chunks::<64>();
    let u64_at = |r: &[u8; 64], at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&r[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let row = |i: usize| {
        let r = &recs[i];
        Row {
            ev: u64_at(r, 0) as i64,
            recv: u64_at(r, 8) as i64,
            // side (byte 21) | kind (byte 20) << 2 | flags (bytes 22-23) << 8
            meta: r[21] as u64
                | (r[20] as u64) << 2
                | (u16::from_le_bytes([r[22], r[23]]) as u64) << 8,
            fl: [u64_at(r, 24), u64_at(r, 32), u64_at(r, 40), u64_at(r, 48)],
            id: u64_at(r, 56),
        }
    };
    encode_rows(row, recs.len(), out, s)
}

/// The column encoding of the `n` rows `row(i)`: one pass splits them into
/// columns and finds the meta runs and the event time range, then each
/// column is written. Returns the smallest and largest event time.
#[inline(always)]
fn encode_rows(
    row: impl Fn(usize) -> Row,
    n: usize,
    out: &mut Vec<u8>,
    s: &mut EncodeScratch,
) -> (i64, i64) {
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    s.runs.clear();
    let mut any_rd = 0i64;
    // Runs of the side/kind/flags value, found without a branch per row
    // (a random side, as in trades, mispredicts half of them): each row
    // writes its index and value into the next free run entry, kept only
    // where the value differs from the previous row's.
    let mut runs = 0usize;
    {
        let run_at = &mut at_len(&mut s.run_at, n + 1)[..n + 1];
        let run_val = &mut at_len(&mut s.run_val, n + 1)[..n + 1];
        // no value is u64::MAX (side | kind << 2 | flags << 8 < 2^24)
        let mut prev = u64::MAX;
        let ev = &mut at_len(&mut s.ev, n)[..n];
        let rd = &mut at_len(&mut s.rd, n)[..n];
        let [f0, f1, f2, f3] = &mut s.fl;
        let (f0, f1) = (&mut at_len(f0, n)[..n], &mut at_len(f1, n)[..n]);
        let (f2, f3) = (&mut at_len(f2, n)[..n], &mut at_len(f3, n)[..n]);
        let id = &mut at_len(&mut s.id, n)[..n];
        for i in 0..n {
            let t = row(i);
            ev[i] = t.ev;
            lo = lo.min(t.ev);
            hi = hi.max(t.ev);
            rd[i] = t.recv.wrapping_sub(t.ev);
            any_rd |= rd[i];
            f0[i] = t.fl[0];
            f1[i] = t.fl[1];
            f2[i] = t.fl[2];
            f3[i] = t.fl[3];
            id[i] = t.id;
            let v = t.meta;
            run_at[runs] = i;
            run_val[runs] = v;
            runs += (v != prev) as usize;
            prev = v;
        }
        run_at[runs] = n;
        for k in 0..runs {
            put_varint(&mut s.runs, run_val[k]);
            put_varint(&mut s.runs, (run_at[k + 1] - run_at[k]) as u64);
        }
    }
    let runs = runs as u32;
    let base = out.len();
    s.splits.clear();
    put_times_in(out, &s.ev, &mut s.q);
    s.splits.push(out.len() - base);
    put_recv(
        out,
        &s.ev,
        &s.rd,
        any_rd != 0,
        &mut Scratch {
            q: &mut s.q,
            col: &mut s.col,
            alt: &mut s.alt,
        },
    );
    s.splits.push(out.len() - base);
    out.extend_from_slice(&runs.to_le_bytes());
    out.extend_from_slice(&s.runs);
    s.splits.push(out.len() - base);
    for f in &s.fl {
        put_float_bits(out, n, |i| f[i], &mut s.m, &mut s.memo);
        s.splits.push(out.len() - base);
    }
    let id = &s.id[..];
    let first = zigzag(id.first().copied().unwrap_or(0) as i64);
    put_int(out, n, first, |j| {
        zigzag(id[j + 1].wrapping_sub(id[j]) as i64)
    });
    (lo, hi)
}

// ---------------------------------------------------------------- bar blocks

/// Appends the column encoding of `bars` (one symbol, one timeframe) to `out`.
pub fn encode_bars(bars: &[Bar], out: &mut Vec<u8>, s: &mut EncodeScratch) {
    let n = bars.len();
    s.col.clear();
    s.col.extend(bars.iter().map(|b| b.start));
    put_times_in(out, &s.col, &mut s.q);
    let rel = |f: fn(&Bar) -> i64| move |i: usize| zigzag(f(&bars[i]).wrapping_sub(bars[i].start));
    for f in [
        (|b| b.end) as fn(&Bar) -> i64,
        |b| b.first_ts,
        |b| b.last_ts,
    ] {
        let r = rel(f);
        put_int(out, n, if n == 0 { 0 } else { r(0) }, |j| r(j + 1));
    }
    let fl: [fn(&Bar) -> f64; 9] = [
        |b| b.open,
        |b| b.high,
        |b| b.low,
        |b| b.close,
        |b| b.volume,
        |b| b.vwap,
        |b| b.vwap_num,
        |b| b.buy_volume,
        |b| b.sell_volume,
    ];
    for f in fl {
        s.bits.clear();
        s.bits.extend(bars.iter().map(|b| f(b).to_bits()));
        let bits = &s.bits[..];
        put_float_bits(out, n, |i| bits[i], &mut s.m, &mut s.memo);
    }
    let count = |i: usize| bars[i].count;
    put_int(out, n, if n == 0 { 0 } else { count(0) }, |j| count(j + 1));
    let rf = |i: usize| bars[i].revision as u64 | (bars[i].flags as u64) << 32;
    put_int(out, n, if n == 0 { 0 } else { rf(0) }, |j| rf(j + 1));
}

#[cfg(test)]
mod tests {
    use super::super::{Cursor, decode_bars, decode_ticks, read_floats, read_times, reference};
    use super::*;
    use mtf::{Side, TickKind, Timeframe};
    use proptest::prelude::*;

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            Just(-0.0),
            Just(0.0),
            Just(f64::MIN_POSITIVE / 3.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            (0i64..10_000_000).prop_map(|c| c as f64 / 100.0),
            (0i64..1_000_000).prop_map(|c| c as f64 / 1000.0),
            (-1_000_000i64..1_000_000).prop_map(|c| c as f64 / 10_000.0),
            (0i64..1 << 53).prop_map(|c| c as f64),
            (0u32..13, any::<i64>()).prop_map(|(e, c)| (c >> 11) as f64 / POW10[e as usize]),
            Just(0.1 + 0.2),
            Just(1e15),
            Just(0.5),
            Just(1e300),
        ]
    }

    fn any_time() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            (1_300_000_000_000i64..1_400_000_000_000).prop_map(|ms| ms * 1_000_000),
            (0i64..1000).prop_map(|k| k << 40),
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0),
        ]
    }

    fn any_tick() -> impl Strategy<Value = Tick> {
        (
            any_time(),
            prop_oneof![any_time(), Just(0i64)],
            prop_oneof![Just(TickKind::Trade), Just(TickKind::Quote)],
            0u8..3,
            any::<u16>(),
            (any_f64(), any_f64(), any_f64(), any_f64()),
            any::<u64>(),
        )
            .prop_map(|(te, tr, kind, side, flags, (p, s, a, asz), id)| Tick {
                ts_event: te,
                ts_recv: if tr == 0 { te } else { tr },
                symbol: 7,
                kind,
                side: Side::from_u8(side),
                flags,
                price: p,
                size: s,
                ask: a,
                ask_size: asz,
                id,
            })
    }

    /// Arbitrary ticks, and runs of a base tick with small walks (as feeds look).
    fn tick_block() -> impl Strategy<Value = Vec<Tick>> {
        prop_oneof![
            prop::collection::vec(any_tick(), 0..300),
            (
                any_tick(),
                prop::collection::vec((0i64..3, -2i64..3, 0u8..4, 0i64..5), 1..600)
            )
                .prop_map(|(base, steps)| {
                    let mut t = base;
                    steps
                        .into_iter()
                        .map(|(dt, dp, k, dr)| {
                            t.ts_event = t.ts_event.wrapping_add(dt * 1_000_000);
                            t.ts_recv = t.ts_event.wrapping_add(dr * 1000);
                            t.price += dp as f64 * 0.01;
                            t.size = [100.0, 1.5, 0.001, 3e6][k as usize];
                            t.id = t.id.wrapping_add(1);
                            t
                        })
                        .collect()
                }),
            // receive times stamped per batch on arrival, near or far from
            // the event times (a replay of old data), as the daemon stamps
            (
                any_tick(),
                prop_oneof![Just(0i64), -5_000i64..5_000, any_time()],
                1usize..80,
                prop_oneof![Just(0i64), Just(25_600i64), 1i64..2_000_000],
                prop::collection::vec(0i64..4_000, 1..700),
            )
                .prop_map(|(base, lag, batch, step, gaps)| {
                    let mut t = base;
                    let recv0 = base.ts_event.wrapping_add(lag);
                    gaps.into_iter()
                        .enumerate()
                        .map(|(i, gap)| {
                            t.ts_event = t.ts_event.wrapping_add(gap);
                            t.ts_recv = recv0.wrapping_add((i / batch) as i64 * step);
                            t.id = t.id.wrapping_add(gap as u64 & 3);
                            t
                        })
                        .collect()
                }),
        ]
    }

    fn same_tick(a: &Tick, b: &Tick) -> bool {
        a.ts_event == b.ts_event
            && a.ts_recv == b.ts_recv
            && a.kind == b.kind
            && a.side == b.side
            && a.flags == b.flags
            && a.price.to_bits() == b.price.to_bits()
            && a.size.to_bits() == b.size.to_bits()
            && a.ask.to_bits() == b.ask.to_bits()
            && a.ask_size.to_bits() == b.ask_size.to_bits()
            && a.id == b.id
    }

    /// The bytes of both encoders, and whether the reference's round-trip.
    fn both(ticks: &[Tick]) -> (Vec<u8>, Vec<u8>, bool) {
        let mut new = Vec::new();
        encode_ticks(ticks, &mut new, &mut EncodeScratch::default());
        let mut old = Vec::new();
        reference::encode_ticks(ticks, &mut old, &mut reference::EncodeScratch::default());
        let mut back = Vec::new();
        let ok = decode_ticks(&old, ticks.len(), 7, &mut back).is_ok()
            && back.len() == ticks.len()
            && ticks.iter().zip(&back).all(|(a, b)| same_tick(a, b));
        (new, old, ok)
    }

    fn check_ticks(ticks: &[Tick]) -> Result<(), TestCaseError> {
        let (new, old, old_ok) = both(ticks);
        if old_ok {
            prop_assert!(new == old, "bytes differ from the reference encoder");
        }
        let mut back = Vec::new();
        decode_ticks(&new, ticks.len(), 7, &mut back).unwrap();
        prop_assert_eq!(back.len(), ticks.len());
        for (a, b) in ticks.iter().zip(&back) {
            prop_assert!(same_tick(a, b), "{a:?} != {b:?}");
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn ticks_encode_as_the_reference_did(ticks in tick_block()) {
            check_ticks(&ticks)?;
        }

        #[test]
        fn staged_records_encode_as_their_ticks(ticks in tick_block()) {
            let recs: Vec<u8> = ticks.iter().flat_map(crate::stage::tick_bytes).collect();
            let mut a = Vec::new();
            let (lo, hi) = encode_tick_records(&recs, &mut a, &mut EncodeScratch::default());
            let mut b = Vec::new();
            encode_ticks(&ticks, &mut b, &mut EncodeScratch::default());
            prop_assert!(a == b);
            // a scratch that encoded other values (at other decimal counts) first
            let mut s = EncodeScratch::default();
            let other: Vec<Tick> = ticks.iter().map(|t| Tick { price: t.size, size: t.price / 10.0, ask: t.price, ..*t }).collect();
            encode_ticks(&other, &mut Vec::new(), &mut s);
            let mut c = Vec::new();
            encode_tick_records(&recs, &mut c, &mut s);
            prop_assert!(c == b);
            prop_assert_eq!((lo, hi), crate::segment::tick_range(&ticks));
        }

        #[test]
        fn float_columns_encode_as_the_reference_did(vals in prop::collection::vec(any_f64(), 0..400)) {
            let mut new = Vec::new();
            put_floats(&mut new, vals.iter().copied(), &mut Vec::new(), &mut Vec::new());
            let mut old = Vec::new();
            reference::put_floats(&mut old, vals.iter().copied(), &mut Vec::new(), &mut Vec::new());
            let mut got = vec![0f64; vals.len()];
            read_floats(&mut Cursor::new(&old), &mut got).unwrap();
            if got.iter().zip(&vals).all(|(a, b)| a.to_bits() == b.to_bits()) {
                prop_assert!(new == old);
            }
            read_floats(&mut Cursor::new(&new), &mut got).unwrap();
            let got: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
            let want: Vec<u64> = vals.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn time_columns_encode_as_the_reference_did(ts in prop::collection::vec(any_time(), 0..400), step in prop_oneof![Just(0i64), 1i64..1_000_000_000]) {
            // arbitrary values, and a regular walk with the same jumps
            let walk: Vec<i64> = ts.iter().scan(0i64, |t, &x| { *t = t.wrapping_add(step * (x & 7)); Some(*t) }).collect();
            for ts in [ts, walk] {
                let mut new = Vec::new();
                put_times(&mut new, &ts, &mut Vec::new(), &mut Vec::new());
                let mut old = Vec::new();
                reference::put_times(&mut old, &ts, &mut Vec::new(), &mut Vec::new());
                prop_assert_eq!(&new, &old);
                let mut got = vec![0i64; ts.len()];
                read_times(&mut Cursor::new(&new), &mut got).unwrap();
                prop_assert_eq!(got, ts);
            }
        }

        #[test]
        fn int_columns_encode_as_the_reference_did(vals in prop::collection::vec(prop_oneof![any::<u64>(), 0u64..4, 0u64..300, Just(u64::MAX), (0u32..64).prop_map(|s| 1u64 << s)], 0..700)) {
            let mut new = Vec::new();
            put_int_slice(&mut new, &vals);
            let mut old = Vec::new();
            reference::put_int_slice(&mut old, &vals);
            prop_assert_eq!(new, old);
        }

        #[test]
        fn bars_encode_as_the_reference_did(raw in prop::collection::vec((any_time(), any_f64(), any_f64(), any::<u64>(), any::<u32>(), any::<u32>()), 0..100)) {
            let tf = Timeframe::M1;
            let bars: Vec<Bar> = raw.iter().map(|&(t, p, v, c, r, f)| Bar {
                symbol: 3, timeframe: tf, start: t, end: t.wrapping_add(tf.nanos()),
                open: p, high: v, low: -p, close: p * 2.0, volume: v, vwap: p / 3.0,
                vwap_num: p * v, buy_volume: v, sell_volume: -0.0, count: c,
                first_ts: t ^ 5, last_ts: t.wrapping_add(c as i64), revision: r, flags: f,
            }).collect();
            let mut new = Vec::new();
            encode_bars(&bars, &mut new, &mut EncodeScratch::default());
            let mut old = Vec::new();
            reference::encode_bars(&bars, &mut old, &mut reference::EncodeScratch::default());
            let mut back = Vec::new();
            decode_bars(&old, bars.len(), 3, tf, &mut back).unwrap();
            let bits = |x: &Bar| [x.open, x.high, x.low, x.close, x.volume, x.vwap, x.vwap_num, x.buy_volume, x.sell_volume].map(f64::to_bits);
            if back.iter().zip(&bars).all(|(a, b)| bits(a) == bits(b)) {
                prop_assert!(new == old);
            }
            decode_bars(&new, bars.len(), 3, tf, &mut back).unwrap();
            for (a, b) in bars.iter().zip(&back) {
                prop_assert_eq!(bits(a), bits(b));
                prop_assert_eq!((a.start, a.end, a.first_ts, a.last_ts, a.count, a.revision, a.flags),
                                (b.start, b.end, b.first_ts, b.last_ts, b.count, b.revision, b.flags));
            }
        }
    }

    /// The previous encoder checked a value only at the decimal count current
    /// when it was read: `[1e15, 0.5]` needs 1 decimal for 0.5, where 1e15
    /// scales to 1e16, past 2^53, and was written as 0.
    #[test]
    fn a_value_before_a_decimal_increase_is_checked_again() {
        for vals in [
            vec![1e15, 0.5],
            vec![1e15, 1e15, 2.0, 0.25],
            vec![3.0, 9_100_000_000_000.0, 0.001],
        ] {
            let mut old = Vec::new();
            reference::put_floats(
                &mut old,
                vals.iter().copied(),
                &mut Vec::new(),
                &mut Vec::new(),
            );
            let mut got = vec![0f64; vals.len()];
            read_floats(&mut Cursor::new(&old), &mut got).unwrap();
            assert_ne!(got, vals, "the reference's defect");
            let mut new = Vec::new();
            put_floats(
                &mut new,
                vals.iter().copied(),
                &mut Vec::new(),
                &mut Vec::new(),
            );
            read_floats(&mut Cursor::new(&new), &mut got).unwrap();
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                vals.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
        // still scaled when every earlier value fits at the final count
        let vals = [167.0, 167.5, 167.25];
        let mut new = Vec::new();
        put_floats(
            &mut new,
            vals.iter().copied(),
            &mut Vec::new(),
            &mut Vec::new(),
        );
        assert_eq!((new[0], new[1]), (FLOAT_DECIMAL, 2));
    }

    #[test]
    fn exact_division_and_divisibility() {
        for g in [
            1u64,
            2,
            3,
            10,
            1_000_000,
            1 << 40,
            3 << 20,
            999_999_937,
            i64::MAX as u64,
        ] {
            let div = Divisor::new(g);
            for q in [
                0i64,
                1,
                -1,
                7,
                -123_456,
                i64::MAX / g as i64,
                i64::MIN / g as i64,
            ] {
                let Some(d) = q.checked_mul(g as i64) else {
                    continue;
                };
                assert_eq!(div.exact(d), q, "{d} / {g}");
                assert!(div.divides(d.unsigned_abs()));
                let next = d.unsigned_abs() + 1;
                assert_eq!(div.divides(next), next % g == 0, "{next} % {g}");
            }
        }
        for (g, d) in [(10u64, 15u64), (6, 9), (1 << 20, 3 << 19), (7, u64::MAX)] {
            assert_eq!(Divisor::new(g).divides(d), d % g == 0, "{d} % {g}");
        }
    }

    #[test]
    fn varint_lengths() {
        for s in 0..64 {
            for v in [
                1u64 << s,
                (1u64 << s) - 1,
                (1u64 << s) + 1,
                u64::MAX >> s,
                0,
            ] {
                let mut b = Vec::new();
                put_varint(&mut b, v);
                assert_eq!(vlen(v), b.len(), "{v}");
            }
        }
    }

    #[test]
    fn varints_at_every_length() {
        for s in 0..64 {
            for v in [1u64 << s, (1u64 << s) - 1, (1u64 << s) + 1, u64::MAX >> s] {
                let mut want = Vec::new();
                put_varint(&mut want, v);
                let mut buf = [0u8; 18];
                let n = put_varint_at(&mut buf, 3, v);
                assert_eq!(&buf[3..3 + n], &want[..], "{v}");
            }
        }
    }

    /// Every file of the shared data set, in 4,096- and 65,536-tick blocks
    /// per symbol: the same bytes as the reference encoder (issue 4: the
    /// on-disk format did not change with the faster encoder).
    #[test]
    fn real_data_encodes_as_the_reference_did() {
        use ingest::import::{ImportOptions, Importer, Input, sniff};
        use ingest::{SymbolCache, SymbolTable};
        let root = std::env::var_os("TICKD_SHARED_DATA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
            });
        let files = [
            "lean/equity/usa/tick/spy/20131008_trade.zip",
            "lean/equity/usa/tick/bac/20131008_quote.zip",
            "lean/forex/fxcm/tick/eurusd/20140505_quote.zip",
            "nautilus_trader/tardis/trades.csv",
            "nautilus_trader/tardis/quotes.csv",
            "nautilus_trader/truefx/usdjpy-ticks.csv",
        ];
        let mut seen = 0;
        for f in files {
            let path = root.join(f);
            if !path.exists() {
                eprintln!("SKIP: {f} (../shared/data not found)");
                continue;
            }
            let input = Input::Path(path);
            let fmt = sniff(&input).unwrap().expect("a known format");
            let table = std::sync::Arc::new(SymbolTable::new(1024));
            let mut cache = SymbolCache::new(table);
            let mut all = Vec::new();
            Importer::open(input, ImportOptions::new(fmt))
                .unwrap()
                .run(&mut cache, |b| all.extend_from_slice(b))
                .unwrap();
            let mut by_symbol: std::collections::BTreeMap<u32, Vec<Tick>> = Default::default();
            for t in all {
                by_symbol.entry(t.symbol).or_default().push(t);
            }
            let (mut s, mut rs) = (
                EncodeScratch::default(),
                reference::EncodeScratch::default(),
            );
            let (mut new, mut old) = (Vec::new(), Vec::new());
            for ticks in by_symbol.values() {
                for size in [4096, 65_536] {
                    for c in ticks.chunks(size) {
                        new.clear();
                        old.clear();
                        encode_ticks(c, &mut new, &mut s);
                        reference::encode_ticks(c, &mut old, &mut rs);
                        assert!(new == old, "{f}: a {}-tick block differs", c.len());
                        seen += c.len();
                    }
                }
            }
            eprintln!("{f}: {} ticks, in both block sizes", seen / 2);
            seen = 0;
        }
    }
}
