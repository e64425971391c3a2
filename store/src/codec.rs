//! Column codecs: the bytes of one block's payload before compression.
//!
//! Every column is byte-aligned so that lz4 and zstd can model it afterwards.
//! The building block is an *integer column*: the first value as a varint,
//! then either `MODE_CONST` and one varint (every later value equal), or
//! `MODE_PACKED`: miniblocks of 128 values, each either fixed-width
//! little-endian bytes (1-8 per value, a branch-free copy loop) or LEB128
//! varints, whichever is not longer. Version-1 files hold `MODE_VARINT`
//! columns (one varint run), still decoded. Columns decode through a
//! 128-value stack buffer straight into the caller's slices.
//!
//! - times: first value raw, a common divisor (GCD of the deltas, e.g. 10^6 for
//!   millisecond data), then zigzag deltas or zigzag delta-of-deltas, whichever
//!   is smaller for the block;
//! - floats: scaled integers `m / 10^e` (e ≤ [`MAX_DECIMALS`]) when every value
//!   of the block round-trips bit-exactly that way, zigzag-delta coded;
//!   otherwise the XOR of each value's bits with the previous one's (Gorilla
//!   style, always bit-exact: NaN payloads, −0.0, subnormals, infinities);
//! - side (bits 0-1), kind (bits 2-7), flags (bits 8-23): run-length coded;
//! - ids: zigzag deltas.
//!
//! Decoding is total: any byte string gives either the values or
//! [`Corrupt`], never a panic and never an allocation beyond `count` values
//! (the caller bounds `count`).

use mtf::{Bar, Side, Tick, TickKind, Timeframe};

mod encode;
#[cfg(any(test, feature = "reference-encoder"))]
#[doc(hidden)]
pub mod reference;

pub(crate) use encode::encode_tick_records;
pub use encode::{EncodeScratch, encode_bars, encode_ticks};
#[cfg(test)]
use encode::{put_floats, put_int_slice, put_times};

/// A payload did not decode; the `&str` names the part that was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

type Res<T> = Result<T, Corrupt>;

const MODE_VARINT: u8 = 0;
const MODE_CONST: u8 = 1;
const MODE_PACKED: u8 = 2;
const TIME_DELTA: u8 = 0;
const TIME_DOD: u8 = 1;
/// Deltas / g without zigzag: written (by version 3) when every delta is
/// non-negative, i.e. the usual sorted column, where zigzag costs a bit.
const TIME_DELTA_UNSIGNED: u8 = 2;
const FLOAT_DECIMAL: u8 = 0;
const FLOAT_XOR: u8 = 1;
const FLOAT_DECIMAL_RAW: u8 = 2;
const FLOAT_DECIMAL_UNSIGNED: u8 = 3;
const RECV_DIFF: u8 = 0;
const RECV_TIMES: u8 = 1;

/// The most decimal places a float column is scaled by.
pub const MAX_DECIMALS: u8 = 12;
const POW10: [f64; MAX_DECIMALS as usize + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
];
/// |m| must stay below 2^53 so that `m as f64` is exact.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A bounded cursor over a payload.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn u8(&mut self) -> Res<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(Corrupt("payload ends early"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(Corrupt("payload ends early"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Res<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn u64(&mut self) -> Res<u64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }

    fn varint(&mut self) -> Res<u64> {
        let (v, used) = read_varint(&self.buf[self.pos.min(self.buf.len())..])?;
        self.pos += used;
        Ok(v)
    }
}

/// One LEB128 varint from the front of `s`: (value, bytes used).
#[inline(always)]
fn read_varint(s: &[u8]) -> Res<(u64, usize)> {
    if let Some(&b) = s.first()
        && b < 0x80
    {
        return Ok((b as u64, 1));
    }
    let mut v = 0u64;
    for (i, &b) in s.iter().enumerate().take(10) {
        let part = (b & 0x7f) as u64;
        if i == 9 && part > 1 {
            return Err(Corrupt("varint overflows 64 bits"));
        }
        v |= part << (7 * i);
        if b < 0x80 {
            return Ok((v, i + 1));
        }
    }
    Err(Corrupt("varint truncated or too long"))
}

// ---------------------------------------------------------------- integer columns

/// Values per miniblock of a packed integer column.
const MB: usize = 128;
/// Miniblock header: LEB128 varints follow (any other value `w`, 1..=8:
/// every value as `w` little-endian bytes).
const MB_VARINT: u8 = 0;

/// Unpacks `out.len()` values of `W` little-endian bytes from `src`
/// (exactly `W · out.len()` bytes, checked by the caller).
#[inline(always)]
fn unpack_fixed<const W: usize>(src: &[u8], out: &mut [u64]) {
    for (o, s) in out.iter_mut().zip(src.chunks_exact(W)) {
        let mut a = [0u8; 8];
        a[..W].copy_from_slice(s);
        *o = u64::from_le_bytes(a);
    }
}

/// Reads `out.len()` LEB128 varints from the front of `s`; the bytes used.
/// Eight bytes a step with SSSE3 and SSE4.1 (see `varint`), else
/// [`unpack_varints_scalar`], the reference.
#[inline]
fn unpack_varints(s: &[u8], out: &mut [u64]) -> Res<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = crate::varint::Sse41::detect() {
        return simd.unpack(s, out, read_varint);
    }
    unpack_varints_scalar(s, out)
}

/// The reference varint run decoder: one value a step, a branch for the
/// common one-byte value.
#[inline]
fn unpack_varints_scalar(s: &[u8], out: &mut [u64]) -> Res<usize> {
    let mut p = 0usize;
    for o in out.iter_mut() {
        match s.get(p) {
            Some(&b) if b < 0x80 => {
                *o = b as u64;
                p += 1;
            }
            _ => {
                let (v, used) = read_varint(s.get(p..).unwrap_or(&[]))?;
                *o = v;
                p += used;
            }
        }
    }
    Ok(p)
}

/// Reads one packed miniblock of `v.len()` values (its width byte, then
/// fixed-width values or varints) from the front of `s`; the bytes used.
#[inline(always)]
fn unpack_miniblock(s: &[u8], v: &mut [u64]) -> Res<usize> {
    let (&w, s) = s.split_first().ok_or(Corrupt("packed column ends early"))?;
    let s = match w {
        MB_VARINT => return Ok(1 + unpack_varints(s, v)?),
        1..=8 => s
            .get(..w as usize * v.len())
            .ok_or(Corrupt("packed column ends early"))?,
        _ => return Err(Corrupt("packed value wider than 8 bytes")),
    };
    match w {
        1 => unpack_fixed::<1>(s, v),
        2 => unpack_fixed::<2>(s, v),
        3 => unpack_fixed::<3>(s, v),
        4 => unpack_fixed::<4>(s, v),
        5 => unpack_fixed::<5>(s, v),
        6 => unpack_fixed::<6>(s, v),
        7 => unpack_fixed::<7>(s, v),
        _ => unpack_fixed::<8>(s, v),
    }
    Ok(1 + s.len())
}

/// Reads an integer column of `out.len()` values, handing them to `f` in
/// order, at most one miniblock at a time, with the part of `out` they
/// belong to (`f(o, v)` always gets `o.len() == v.len()`). The values go
/// through a stack buffer, never through a block-sized one.
#[inline(always)]
fn read_int_col<T>(
    c: &mut Cursor<'_>,
    out: &mut [T],
    mut f: impl FnMut(&mut [T], &[u64]),
) -> Res<()> {
    let mode = c.u8()?;
    let first = c.varint()?;
    let Some((o0, rest)) = out.split_first_mut() else {
        return match mode {
            MODE_CONST => c.varint().map(drop),
            MODE_VARINT | MODE_PACKED => Err(Corrupt("values in an empty column")),
            _ => Err(Corrupt("unknown integer column mode")),
        };
    };
    let mut buf = [0u64; MB];
    match mode {
        MODE_CONST => {
            let v = c.varint()?;
            f(std::slice::from_mut(o0), &[first]);
            buf.fill(v);
            for o in rest.chunks_mut(MB) {
                f(o, &buf[..o.len()]);
            }
        }
        MODE_VARINT => {
            let len = c.u32()? as usize;
            let s = c.take(len)?;
            f(std::slice::from_mut(o0), &[first]);
            let mut p = 0usize;
            for o in rest.chunks_mut(MB) {
                let v = &mut buf[..o.len()];
                p += unpack_varints(s.get(p..).unwrap_or(&[]), v)?;
                f(o, v);
            }
            if p != s.len() {
                return Err(Corrupt("integer column length mismatch"));
            }
        }
        MODE_PACKED => {
            if c.varint()? != rest.len() as u64 {
                return Err(Corrupt("packed column count mismatch"));
            }
            let len = c.u32()? as usize;
            let body = c.take(len)?;
            f(std::slice::from_mut(o0), &[first]);
            let mut p = 0usize;
            for o in rest.chunks_mut(MB) {
                let v = &mut buf[..o.len()];
                p += unpack_miniblock(body.get(p..).unwrap_or(&[]), v)?;
                f(o, v);
            }
            if p != body.len() {
                return Err(Corrupt("integer column length mismatch"));
            }
        }
        _ => return Err(Corrupt("unknown integer column mode")),
    }
    Ok(())
}

// ---------------------------------------------------------------- time columns

/// Reads a time column of `out.len()` values.
pub(crate) fn read_times(c: &mut Cursor<'_>, out: &mut [i64]) -> Res<()> {
    let first = c.u64()? as i64;
    let g = c.varint()?;
    if g == 0 || g > i64::MAX as u64 {
        return Err(Corrupt("bad time divisor"));
    }
    let g = g as i64;
    let mode = c.u8()?;
    let rest = match out.split_first_mut() {
        Some((o0, rest)) => {
            *o0 = first;
            rest
        }
        None => &mut [],
    };
    let mut t = first;
    match mode {
        // the running values live in locals within a miniblock: a captured
        // `&mut` goes through memory at every value (store-forwarding latency
        // on the prefix chain)
        TIME_DELTA => read_int_col(c, rest, |o, v| {
            let mut tl = t;
            for (o, &v) in o.iter_mut().zip(v) {
                tl = tl.wrapping_add(unzigzag(v).wrapping_mul(g));
                *o = tl;
            }
            t = tl;
        }),
        TIME_DELTA_UNSIGNED => read_int_col(c, rest, |o, v| {
            let mut tl = t;
            for (o, &v) in o.iter_mut().zip(v) {
                tl = tl.wrapping_add((v as i64).wrapping_mul(g));
                *o = tl;
            }
            t = tl;
        }),
        TIME_DOD => {
            let mut d = 0i64;
            read_int_col(c, rest, |o, v| {
                let (mut tl, mut dl) = (t, d);
                for (o, &v) in o.iter_mut().zip(v) {
                    dl = dl.wrapping_add(unzigzag(v));
                    tl = tl.wrapping_add(dl.wrapping_mul(g));
                    *o = tl;
                }
                (t, d) = (tl, dl);
            })
        }
        _ => Err(Corrupt("unknown time mode")),
    }
}

// ---------------------------------------------------------------- float columns

/// `x` rounded half away from zero, if `|x| < 2^53` (so that the integer
/// converts back exactly). Without SSE4.1, `f64::round` is a libm call; the
/// truncating conversion and one exact subtraction are not.
#[inline(always)]
fn round_i64(x: f64) -> Option<i64> {
    if x.is_nan() || x.abs() >= MAX_EXACT {
        return None;
    }
    let t = x as i64;
    // exact: |x| < 2^53, so x - t is representable
    let f = x - t as f64;
    Some(if f >= 0.5 {
        t + 1
    } else if f <= -0.5 {
        t - 1
    } else {
        t
    })
}

/// Reads a float column of `out.len()` values.
pub(crate) fn read_floats(c: &mut Cursor<'_>, out: &mut [f64]) -> Res<()> {
    let mode = c.u8()?;
    if mode == FLOAT_XOR {
        let mut b = 0u64;
        return read_int_col(c, out, |o, v| {
            let mut bl = b;
            for (o, &v) in o.iter_mut().zip(v) {
                bl ^= v;
                *o = f64::from_bits(bl);
            }
            b = bl;
        });
    }
    let e = c.u8()? as usize;
    let p = *POW10.get(e).ok_or(Corrupt("bad decimal count"))?;
    // Branch-free per miniblock: the scaled integers first, then one
    // division each (`m / 10^e`, exactly what the encoder checked; `x / 1.0
    // == x`, so `e == 0` is a plain conversion). Dividing every value costs
    // less than skipping repeats behind a branch that prices mispredict.
    let mut ms = [0i64; MB];
    let scale = |o: &mut [f64], ms: &[i64]| {
        if e == 0 {
            for (o, &m) in o.iter_mut().zip(ms) {
                *o = m as f64;
            }
        } else {
            for (o, &m) in o.iter_mut().zip(ms) {
                *o = m as f64 / p;
            }
        }
    };
    match mode {
        FLOAT_DECIMAL => {
            let mut m = 0i64;
            read_int_col(c, out, |o, v| {
                let ms = &mut ms[..v.len()];
                let mut ml = m;
                for (x, &v) in ms.iter_mut().zip(v) {
                    ml = ml.wrapping_add(unzigzag(v));
                    *x = ml;
                }
                m = ml;
                scale(o, ms);
            })
        }
        FLOAT_DECIMAL_RAW => read_int_col(c, out, |o, v| {
            let ms = &mut ms[..v.len()];
            for (x, &v) in ms.iter_mut().zip(v) {
                *x = unzigzag(v);
            }
            scale(o, ms);
        }),
        FLOAT_DECIMAL_UNSIGNED => read_int_col(c, out, |o, v| {
            let ms = &mut ms[..v.len()];
            for (x, &v) in ms.iter_mut().zip(v) {
                *x = v as i64;
            }
            scale(o, ms);
        }),
        _ => Err(Corrupt("unknown float mode")),
    }
}
// ---------------------------------------------------------------- run-length column

/// Reads the tick meta runs into `out`, checking every value and the total.
fn get_run_list(c: &mut Cursor<'_>, n: usize, out: &mut Vec<(u64, u32)>) -> Res<()> {
    let runs = c.u32()?;
    let mut total = 0usize;
    for _ in 0..runs {
        let v = c.varint()?;
        let len = c.varint()?;
        // bits 0-1 side, 2-7 kind, 8-23 flags
        if TickKind::from_u8((v >> 2 & 0x3f) as u8).is_none() || v & 3 == 3 || v >> 24 != 0 {
            return Err(Corrupt("bad kind, side or flags"));
        }
        total = usize::try_from(len)
            .ok()
            .and_then(|l| total.checked_add(l))
            .filter(|&t| t <= n)
            .ok_or(Corrupt("run longer than the block"))?;
        if len > 0 {
            out.push((v, len as u32));
        }
    }
    if total != n {
        return Err(Corrupt("runs do not cover the block"));
    }
    Ok(())
}

// ---------------------------------------------------------------- receive times

fn read_recv(c: &mut Cursor<'_>, ev: &[i64], o: &mut [i64]) -> Res<()> {
    match c.u8()? {
        RECV_DIFF => {
            let g = c.varint()?;
            if g == 0 || g > i64::MAX as u64 {
                return Err(Corrupt("bad receive time divisor"));
            }
            let g = g as i64;
            let mut ev = ev.iter();
            read_int_col(c, o, |o, v| {
                for ((o, &e), &v) in o.iter_mut().zip(ev.by_ref()).zip(v) {
                    *o = e.wrapping_add(unzigzag(v).wrapping_mul(g));
                }
            })
        }
        RECV_TIMES => read_times(c, o),
        _ => Err(Corrupt("unknown receive time mode")),
    }
}

// ---------------------------------------------------------------- tick blocks

/// Decoded columns of one tick block (reusable buffers).
#[derive(Default, Debug)]
pub struct TickColumns {
    /// Event times.
    pub ts_event: Vec<i64>,
    /// Receive times.
    pub ts_recv: Vec<i64>,
    /// Runs of (side | kind << 2 | flags << 8, length).
    pub meta: Vec<(u64, u32)>,
    /// Prices (bids of quotes).
    pub price: Vec<f64>,
    /// Sizes (bid sizes).
    pub size: Vec<f64>,
    /// Asks.
    pub ask: Vec<f64>,
    /// Ask sizes.
    pub ask_size: Vec<f64>,
    /// Ids.
    pub id: Vec<u64>,
}

impl TickColumns {
    /// Ticks held.
    pub fn len(&self) -> usize {
        self.ts_event.len()
    }

    /// No ticks held.
    pub fn is_empty(&self) -> bool {
        self.ts_event.is_empty()
    }

    /// Keeps the ticks with `from <= ts_event < to` (in order), and the
    /// runs that still cover them.
    pub fn retain_time(&mut self, from: i64, to: i64) {
        // equal lengths after a decode; the shortest bounds any other use
        let n = [
            self.ts_recv.len(),
            self.price.len(),
            self.size.len(),
            self.ask.len(),
            self.ask_size.len(),
            self.id.len(),
        ]
        .into_iter()
        .fold(self.ts_event.len(), usize::min);
        let mut w = 0usize;
        let mut at = 0usize;
        let mut runs = 0usize;
        for r in 0..self.meta.len() {
            let (meta, len) = self.meta[r];
            let end = (at + len as usize).min(n);
            let start_w = w;
            for i in at..end {
                let t = self.ts_event[i];
                if t >= from && t < to {
                    self.ts_event[w] = t;
                    self.ts_recv[w] = self.ts_recv[i];
                    self.price[w] = self.price[i];
                    self.size[w] = self.size[i];
                    self.ask[w] = self.ask[i];
                    self.ask_size[w] = self.ask_size[i];
                    self.id[w] = self.id[i];
                    w += 1;
                }
            }
            at = end;
            let kept = (w - start_w) as u32;
            if kept > 0 {
                // a run whose neighbour before it vanished joins it if equal
                match runs.checked_sub(1).map(|k| self.meta[k]) {
                    Some((m, l)) if m == meta => self.meta[runs - 1] = (m, l + kept),
                    _ => {
                        self.meta[runs] = (meta, kept);
                        runs += 1;
                    }
                }
            }
        }
        self.meta.truncate(runs);
        self.ts_event.truncate(w);
        self.ts_recv.truncate(w);
        self.price.truncate(w);
        self.size.truncate(w);
        self.ask.truncate(w);
        self.ask_size.truncate(w);
        self.id.truncate(w);
    }
}

/// `v` at length `n`; only new elements are written (every decoder
/// overwrites all `n`), so a reused buffer costs no memset.
fn fill<T: Copy + Default>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    v.truncate(n);
    v.resize(n, T::default());
    &mut v[..]
}

/// Decodes the columns of `n` ticks from `payload`.
pub fn decode_tick_columns(payload: &[u8], n: usize, cols: &mut TickColumns) -> Res<()> {
    let mut c = Cursor::new(payload);
    read_times(&mut c, fill(&mut cols.ts_event, n))?;
    read_recv(&mut c, &cols.ts_event, fill(&mut cols.ts_recv, n))?;
    cols.meta.clear();
    get_run_list(&mut c, n, &mut cols.meta)?;
    read_floats(&mut c, fill(&mut cols.price, n))?;
    read_floats(&mut c, fill(&mut cols.size, n))?;
    read_floats(&mut c, fill(&mut cols.ask, n))?;
    read_floats(&mut c, fill(&mut cols.ask_size, n))?;
    let mut id = 0u64;
    read_int_col(&mut c, fill(&mut cols.id, n), |o, v| {
        let mut idl = id;
        for (o, &v) in o.iter_mut().zip(v) {
            idl = idl.wrapping_add(unzigzag(v) as u64);
            *o = idl;
        }
        id = idl;
    })?;
    if !c.is_empty() {
        return Err(Corrupt("trailing bytes after the last column"));
    }
    Ok(())
}

/// Decodes `n` ticks of `symbol` from `payload` into `out` (cleared first).
pub fn decode_ticks(payload: &[u8], n: usize, symbol: u32, out: &mut Vec<Tick>) -> Res<()> {
    decode_ticks_with(payload, n, symbol, out, &mut TickColumns::default())
}

/// [`decode_ticks`] with reusable buffers (`cols` keeps only the runs):
/// fused, a miniblock of 128 ticks at a time. Every column's header is
/// parsed first (bodies are length-prefixed, so this checks the payload's
/// layout before any value), then each column decodes 128 values into a
/// stack buffer and the ticks are written from them: the columns stay in
/// L1 instead of a block of each going through memory before assembly.
/// Accepts exactly what [`decode_tick_columns`] accepts (property-tested);
/// on an error `out` is left empty.
pub fn decode_ticks_with(
    payload: &[u8],
    n: usize,
    symbol: u32,
    out: &mut Vec<Tick>,
    cols: &mut TickColumns,
) -> Res<()> {
    out.clear();
    let r = decode_ticks_fused(payload, n, symbol, out, &mut cols.meta);
    if r.is_err() {
        out.clear();
    }
    r
}

// The layout `decode_ticks_fused` writes ticks in, checked at compile time:
// eight little-endian words, the third holding symbol, kind, side and flags.
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<Tick>() == 64 && std::mem::align_of::<Tick>() == 64);
    assert!(offset_of!(Tick, ts_event) == 0 && offset_of!(Tick, ts_recv) == 8);
    assert!(offset_of!(Tick, symbol) == 16 && size_of::<mtf::SymbolId>() == 4);
    assert!(offset_of!(Tick, kind) == 20 && size_of::<TickKind>() == 1);
    assert!(offset_of!(Tick, side) == 21 && size_of::<Side>() == 1);
    assert!(offset_of!(Tick, flags) == 22);
    assert!(offset_of!(Tick, price) == 24 && offset_of!(Tick, size) == 32);
    assert!(offset_of!(Tick, ask) == 40 && offset_of!(Tick, ask_size) == 48);
    assert!(offset_of!(Tick, id) == 56);
    assert!(cfg!(target_endian = "little"));
};

fn decode_ticks_fused(
    payload: &[u8],
    n: usize,
    symbol: u32,
    out: &mut Vec<Tick>,
    meta: &mut Vec<(u64, u32)>,
) -> Res<()> {
    let mut c = Cursor::new(payload);
    let mut te = TimeStream::open(&mut c, n)?;
    let mut tr = RecvStream::open(&mut c, n)?;
    meta.clear();
    get_run_list(&mut c, n, meta)?;
    let mut price = FloatStream::open(&mut c, n)?;
    let mut size = FloatStream::open(&mut c, n)?;
    let mut ask = FloatStream::open(&mut c, n)?;
    let mut ask_size = FloatStream::open(&mut c, n)?;
    let mut ids = IntStream::open(&mut c, n)?;
    if !c.is_empty() {
        return Err(Corrupt("trailing bytes after the last column"));
    }
    out.reserve(n);
    let mut b_te = [0i64; MB];
    let mut b_tr = [0i64; MB];
    let mut b_p = [0f64; MB];
    let mut b_s = [0f64; MB];
    let mut b_a = [0f64; MB];
    let mut b_as = [0f64; MB];
    let mut b_id = [0u64; MB];
    let mut runs = meta.iter();
    let (mut run_left, mut kind, mut side, mut flags) = (0usize, TickKind::Trade, Side::Unknown, 0);
    let mut id = 0u64;
    let mut start = 0usize;
    while start < n {
        let k = (n - start).min(MB);
        te.fill(&mut b_te[..k])?;
        tr.fill(&b_te[..k], &mut b_tr[..k])?;
        price.fill(&mut b_p[..k])?;
        size.fill(&mut b_s[..k])?;
        ask.fill(&mut b_a[..k])?;
        ask_size.fill(&mut b_as[..k])?;
        let mut o = b_id[..k].iter_mut();
        ids.pull(k, |v| {
            let mut idl = id;
            for (&v, o) in v.iter().zip(o.by_ref()) {
                idl = idl.wrapping_add(unzigzag(v) as u64);
                *o = idl;
            }
            id = idl;
        })?;
        let mut i = 0usize;
        while i < k {
            if run_left == 0 {
                // get_run_list checked that the runs cover exactly n ticks
                let &(m, len) = runs.next().ok_or(Corrupt("runs do not cover the block"))?;
                kind = TickKind::from_u8((m >> 2 & 0x3f) as u8).unwrap_or_default();
                side = Side::from_u8((m & 3) as u8);
                flags = (m >> 8) as u16;
                run_left = len as usize;
            }
            let m = run_left.min(k - i);
            let r = i..i + m;
            let cols = b_te[r.clone()]
                .iter()
                .zip(&b_tr[r.clone()])
                .zip(&b_p[r.clone()])
                .zip(&b_s[r.clone()])
                .zip(&b_a[r.clone()])
                .zip(&b_as[r.clone()])
                .zip(&b_id[r]);
            // symbol, kind, side and flags as the one word they occupy
            let hdr = symbol as u64
                | (kind as u8 as u64) << 32
                | (side as u8 as u64) << 40
                | (flags as u64) << 48;
            let dst = &mut out.spare_capacity_mut()[..m];
            for (d, ((((((&te, &tr), &p), &s), &a), &asz), &id)) in dst.iter_mut().zip(cols) {
                let words = [
                    te as u64,
                    tr as u64,
                    hdr,
                    p.to_bits(),
                    s.to_bits(),
                    a.to_bits(),
                    asz.to_bits(),
                    id,
                ];
                // SAFETY: `d` is one tick's spare slot, 64 bytes and 64-aligned
                // (`Tick` is `repr(C, align(64))`); the words are its fields in
                // order, little-endian (layout asserted at compile time above):
                // every byte pattern is valid for the i64/f64/u64/u32/u16
                // fields, and the kind and side bytes come from real
                // `TickKind`/`Side` values (`repr(u8)`).
                unsafe { d.as_mut_ptr().cast::<[u64; 8]>().write(words) };
            }
            // SAFETY: the `m` slots after `len` were written just above
            // (`dst` has exactly `m` of them: `reserve(n)` made room for all
            // n ticks and fewer than n are in `out`).
            unsafe { out.set_len(out.len() + m) };
            i += m;
            run_left -= m;
        }
        start += k;
    }
    te.finish()?;
    tr.finish()?;
    price.finish()?;
    size.finish()?;
    ask.finish()?;
    ask_size.finish()?;
    ids.finish()
}

// ---------------------------------------------------------------- column streams

/// An integer column read a miniblock at a time: the state of
/// [`read_int_col`] between miniblocks, for the fused tick decoder.
struct IntStream<'a> {
    mode: u8,
    /// Varints (`MODE_VARINT`) or miniblocks (`MODE_PACKED`).
    body: &'a [u8],
    p: usize,
    first: Option<u64>,
    /// `MODE_CONST`: every value after the first.
    value: u64,
    /// Values after the first not yet buffered.
    left: usize,
    buf: [u64; MB],
    at: usize,
    len: usize,
}

impl<'a> IntStream<'a> {
    /// Parses the header of a column of `n` values and takes its body.
    fn open(c: &mut Cursor<'a>, n: usize) -> Res<Self> {
        let mode = c.u8()?;
        let first = c.varint()?;
        let mut s = IntStream {
            mode,
            body: &[],
            p: 0,
            first: None,
            value: 0,
            left: n.saturating_sub(1),
            buf: [0; MB],
            at: 0,
            len: 0,
        };
        if n == 0 {
            return match mode {
                MODE_CONST => c.varint().map(|_| s),
                MODE_VARINT | MODE_PACKED => Err(Corrupt("values in an empty column")),
                _ => Err(Corrupt("unknown integer column mode")),
            };
        }
        s.first = Some(first);
        match mode {
            MODE_CONST => s.value = c.varint()?,
            MODE_VARINT => {
                let len = c.u32()? as usize;
                s.body = c.take(len)?;
            }
            MODE_PACKED => {
                if c.varint()? != s.left as u64 {
                    return Err(Corrupt("packed column count mismatch"));
                }
                let len = c.u32()? as usize;
                s.body = c.take(len)?;
            }
            _ => return Err(Corrupt("unknown integer column mode")),
        }
        Ok(s)
    }

    /// Buffers the first value, or the next miniblock.
    fn refill(&mut self) -> Res<()> {
        if let Some(f) = self.first.take() {
            self.buf[0] = f;
            (self.at, self.len) = (0, 1);
            return Ok(());
        }
        let k = self.left.min(MB);
        if k == 0 {
            // callers pull exactly the column's count
            return Err(Corrupt("column ends early"));
        }
        let v = &mut self.buf[..k];
        let s = self.body.get(self.p..).unwrap_or(&[]);
        match self.mode {
            MODE_CONST => v.fill(self.value),
            MODE_VARINT => self.p += unpack_varints(s, v)?,
            _ => self.p += unpack_miniblock(s, v)?,
        }
        self.left -= k;
        (self.at, self.len) = (0, k);
        Ok(())
    }

    /// Hands the next `k` values to `f`, in pieces that never cross a miniblock.
    #[inline(always)]
    fn pull(&mut self, mut k: usize, mut f: impl FnMut(&[u64])) -> Res<()> {
        while k > 0 {
            if self.at == self.len {
                self.refill()?;
            }
            let m = (self.len - self.at).min(k);
            f(&self.buf[self.at..self.at + m]);
            self.at += m;
            k -= m;
        }
        Ok(())
    }

    /// Every value read: the body must be used up exactly.
    fn finish(&self) -> Res<()> {
        if self.p != self.body.len() || self.left != 0 || self.first.is_some() {
            return Err(Corrupt("integer column length mismatch"));
        }
        Ok(())
    }
}

/// A time column read in pieces (the state of [`read_times`]).
struct TimeStream<'a> {
    first: Option<i64>,
    g: i64,
    /// `TIME_DELTA`, `TIME_DOD` or `TIME_DELTA_UNSIGNED`.
    mode: u8,
    t: i64,
    d: i64,
    ints: IntStream<'a>,
}

impl<'a> TimeStream<'a> {
    fn open(c: &mut Cursor<'a>, n: usize) -> Res<Self> {
        let first = c.u64()? as i64;
        let g = c.varint()?;
        if g == 0 || g > i64::MAX as u64 {
            return Err(Corrupt("bad time divisor"));
        }
        let mode = c.u8()?;
        if !matches!(mode, TIME_DELTA | TIME_DOD | TIME_DELTA_UNSIGNED) {
            return Err(Corrupt("unknown time mode"));
        }
        Ok(TimeStream {
            first: (n > 0).then_some(first),
            g: g as i64,
            mode,
            t: first,
            d: 0,
            ints: IntStream::open(c, n.saturating_sub(1))?,
        })
    }

    #[inline(always)]
    fn fill(&mut self, out: &mut [i64]) -> Res<()> {
        let mut o = out.iter_mut();
        if let Some(f) = self.first {
            let Some(o0) = o.next() else { return Ok(()) };
            *o0 = f;
            self.first = None;
        }
        let k = o.len();
        let (mut t, mut d, g) = (self.t, self.d, self.g);
        if self.mode == TIME_DOD {
            self.ints.pull(k, |v| {
                let (mut tl, mut dl) = (t, d);
                for (&v, o) in v.iter().zip(o.by_ref()) {
                    dl = dl.wrapping_add(unzigzag(v));
                    tl = tl.wrapping_add(dl.wrapping_mul(g));
                    *o = tl;
                }
                (t, d) = (tl, dl);
            })?;
        } else if self.mode == TIME_DELTA_UNSIGNED {
            self.ints.pull(k, |v| {
                let mut tl = t;
                for (&v, o) in v.iter().zip(o.by_ref()) {
                    tl = tl.wrapping_add((v as i64).wrapping_mul(g));
                    *o = tl;
                }
                t = tl;
            })?;
        } else {
            self.ints.pull(k, |v| {
                let mut tl = t;
                for (&v, o) in v.iter().zip(o.by_ref()) {
                    tl = tl.wrapping_add(unzigzag(v).wrapping_mul(g));
                    *o = tl;
                }
                t = tl;
            })?;
        }
        (self.t, self.d) = (t, d);
        Ok(())
    }

    fn finish(&self) -> Res<()> {
        if self.first.is_some() {
            return Err(Corrupt("integer column length mismatch"));
        }
        self.ints.finish()
    }
}

/// Receive times read in pieces (the state of `read_recv`).
enum RecvStream<'a> {
    Diff(i64, IntStream<'a>),
    Times(TimeStream<'a>),
}

impl<'a> RecvStream<'a> {
    fn open(c: &mut Cursor<'a>, n: usize) -> Res<Self> {
        match c.u8()? {
            RECV_DIFF => {
                let g = c.varint()?;
                if g == 0 || g > i64::MAX as u64 {
                    return Err(Corrupt("bad receive time divisor"));
                }
                Ok(RecvStream::Diff(g as i64, IntStream::open(c, n)?))
            }
            RECV_TIMES => Ok(RecvStream::Times(TimeStream::open(c, n)?)),
            _ => Err(Corrupt("unknown receive time mode")),
        }
    }

    /// The receive times of the ticks whose event times are `ev`.
    #[inline(always)]
    fn fill(&mut self, ev: &[i64], out: &mut [i64]) -> Res<()> {
        match self {
            RecvStream::Diff(g, ints) => {
                let g = *g;
                let mut o = out.iter_mut().zip(ev);
                ints.pull(o.len(), |v| {
                    for (&v, (o, &e)) in v.iter().zip(o.by_ref()) {
                        *o = e.wrapping_add(unzigzag(v).wrapping_mul(g));
                    }
                })
            }
            RecvStream::Times(t) => t.fill(out),
        }
    }

    fn finish(&self) -> Res<()> {
        match self {
            RecvStream::Diff(_, ints) => ints.finish(),
            RecvStream::Times(t) => t.finish(),
        }
    }
}

/// A float column read in pieces (the state of [`read_floats`]).
struct FloatStream<'a> {
    mode: u8,
    e: usize,
    p: f64,
    /// The running scaled integer (`FLOAT_DECIMAL`) or bits (`FLOAT_XOR`).
    acc: u64,
    ints: IntStream<'a>,
}

impl<'a> FloatStream<'a> {
    fn open(c: &mut Cursor<'a>, n: usize) -> Res<Self> {
        let mode = c.u8()?;
        let (e, p) = match mode {
            FLOAT_XOR => (0, 1.0),
            FLOAT_DECIMAL | FLOAT_DECIMAL_RAW | FLOAT_DECIMAL_UNSIGNED => {
                let e = c.u8()? as usize;
                (e, *POW10.get(e).ok_or(Corrupt("bad decimal count"))?)
            }
            _ => {
                // read_floats reads the decimal count before it rejects the mode
                let e = c.u8()? as usize;
                POW10.get(e).ok_or(Corrupt("bad decimal count"))?;
                return Err(Corrupt("unknown float mode"));
            }
        };
        Ok(FloatStream {
            mode,
            e,
            p,
            acc: 0,
            ints: IntStream::open(c, n)?,
        })
    }

    #[inline(always)]
    fn fill(&mut self, out: &mut [f64]) -> Res<()> {
        let (e, p) = (self.e, self.p);
        let mut acc = self.acc;
        let mut o = out.iter_mut();
        let mut ms = [0i64; MB];
        // as read_floats: the integers of a piece, then one division each
        let scale = |o: &mut std::slice::IterMut<'_, f64>, ms: &[i64]| {
            if e == 0 {
                for (&m, o) in ms.iter().zip(o.by_ref()) {
                    *o = m as f64;
                }
            } else {
                for (&m, o) in ms.iter().zip(o.by_ref()) {
                    *o = m as f64 / p;
                }
            }
        };
        let k = o.len();
        let r = match self.mode {
            FLOAT_XOR => self.ints.pull(k, |v| {
                let mut a = acc;
                for (&v, o) in v.iter().zip(o.by_ref()) {
                    a ^= v;
                    *o = f64::from_bits(a);
                }
                acc = a;
            }),
            FLOAT_DECIMAL => self.ints.pull(k, |v| {
                let ms = &mut ms[..v.len()];
                let mut a = acc;
                for (x, &v) in ms.iter_mut().zip(v) {
                    a = a.wrapping_add(unzigzag(v) as u64);
                    *x = a as i64;
                }
                acc = a;
                scale(&mut o, ms);
            }),
            FLOAT_DECIMAL_RAW => self.ints.pull(k, |v| {
                let ms = &mut ms[..v.len()];
                for (x, &v) in ms.iter_mut().zip(v) {
                    *x = unzigzag(v);
                }
                scale(&mut o, ms);
            }),
            _ => self.ints.pull(k, |v| {
                let ms = &mut ms[..v.len()];
                for (x, &v) in ms.iter_mut().zip(v) {
                    *x = v as i64;
                }
                scale(&mut o, ms);
            }),
        };
        self.acc = acc;
        r
    }

    fn finish(&self) -> Res<()> {
        self.ints.finish()
    }
}

// ---------------------------------------------------------------- bar blocks

/// Reusable buffers for [`decode_bars_with`] (none are needed since bars
/// decode fused, 128 at a time; kept for the API).
#[derive(Default, Debug)]
pub struct BarScratch {}

/// Decodes `n` bars of `symbol` / `timeframe` from `payload` into `out` (cleared first).
pub fn decode_bars(
    payload: &[u8],
    n: usize,
    symbol: u32,
    timeframe: Timeframe,
    out: &mut Vec<Bar>,
) -> Res<()> {
    decode_bars_with(
        payload,
        n,
        symbol,
        timeframe,
        out,
        &mut BarScratch::default(),
    )
}

/// [`decode_bars`]: every column's header parsed first, then 128 bars at a
/// time from stack buffers (as [`decode_ticks_with`]); on an error `out` is
/// left empty.
pub fn decode_bars_with(
    payload: &[u8],
    n: usize,
    symbol: u32,
    timeframe: Timeframe,
    out: &mut Vec<Bar>,
    _scratch: &mut BarScratch,
) -> Res<()> {
    out.clear();
    let r = decode_bars_fused(payload, n, symbol, timeframe, out);
    if r.is_err() {
        out.clear();
    }
    r
}

fn decode_bars_fused(
    payload: &[u8],
    n: usize,
    symbol: u32,
    timeframe: Timeframe,
    out: &mut Vec<Bar>,
) -> Res<()> {
    let mut c = Cursor::new(payload);
    let mut start = TimeStream::open(&mut c, n)?;
    let mut rel = [
        IntStream::open(&mut c, n)?,
        IntStream::open(&mut c, n)?,
        IntStream::open(&mut c, n)?,
    ];
    let mut fl = [
        FloatStream::open(&mut c, n)?,
        FloatStream::open(&mut c, n)?,
        FloatStream::open(&mut c, n)?,
        FloatStream::open(&mut c, n)?,
        FloatStream::open(&mut c, n)?,
        FloatStream::open(&mut c, n)?,
        FloatStream::open(&mut c, n)?,
        FloatStream::open(&mut c, n)?,
        FloatStream::open(&mut c, n)?,
    ];
    let mut count = IntStream::open(&mut c, n)?;
    let mut rev = IntStream::open(&mut c, n)?;
    if !c.is_empty() {
        return Err(Corrupt("trailing bytes after the last column"));
    }
    out.reserve(n);
    let mut b_start = [0i64; MB];
    let mut b_rel = [[0i64; MB]; 3];
    let mut b_fl = [[0f64; MB]; 9];
    let mut b_count = [0u64; MB];
    let mut b_rev = [0u64; MB];
    let mut at = 0usize;
    while at < n {
        let k = (n - at).min(MB);
        start.fill(&mut b_start[..k])?;
        for (s, b) in rel.iter_mut().zip(&mut b_rel) {
            let mut o = b[..k].iter_mut().zip(&b_start[..k]);
            s.pull(k, |v| {
                for (&v, (o, &st)) in v.iter().zip(o.by_ref()) {
                    *o = st.wrapping_add(unzigzag(v));
                }
            })?;
        }
        for (s, b) in fl.iter_mut().zip(&mut b_fl) {
            s.fill(&mut b[..k])?;
        }
        for (s, b) in [(&mut count, &mut b_count), (&mut rev, &mut b_rev)] {
            let mut o = b[..k].iter_mut();
            s.pull(k, |v| {
                for (&v, o) in v.iter().zip(o.by_ref()) {
                    *o = v;
                }
            })?;
        }
        out.extend((0..k).map(|i| Bar {
            symbol,
            timeframe,
            start: b_start[i],
            end: b_rel[0][i],
            open: b_fl[0][i],
            high: b_fl[1][i],
            low: b_fl[2][i],
            close: b_fl[3][i],
            volume: b_fl[4][i],
            vwap: b_fl[5][i],
            vwap_num: b_fl[6][i],
            buy_volume: b_fl[7][i],
            sell_volume: b_fl[8][i],
            count: b_count[i],
            first_ts: b_rel[1][i],
            last_ts: b_rel[2][i],
            revision: b_rev[i] as u32,
            flags: (b_rev[i] >> 32) as u32,
        }));
        at += k;
    }
    start.finish()?;
    for s in &rel {
        s.finish()?;
    }
    for s in &fl {
        s.finish()?;
    }
    count.finish()?;
    rev.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            Just(-0.0),
            Just(0.0),
            Just(f64::MIN_POSITIVE / 3.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            (0i64..10_000_000).prop_map(|c| c as f64 / 100.0),
            (0i64..1_000_000).prop_map(|c| c as f64 / 1000.0),
            Just(0.1 + 0.2),
            Just(1e300),
        ]
    }

    fn any_time() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            (1_300_000_000_000i64..1_400_000_000_000).prop_map(|ms| ms * 1_000_000),
            Just(i64::MIN),
            Just(i64::MAX),
        ]
    }

    fn any_tick() -> impl Strategy<Value = Tick> {
        (
            any_time(),
            any_time(),
            prop_oneof![Just(TickKind::Trade), Just(TickKind::Quote)],
            0u8..3,
            any::<u16>(),
            (any_f64(), any_f64(), any_f64(), any_f64()),
            any::<u64>(),
        )
            .prop_map(|(te, tr, kind, side, flags, (p, s, a, asz), id)| Tick {
                ts_event: te,
                ts_recv: tr,
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

    fn same_tick(a: &Tick, b: &Tick) -> bool {
        a.ts_event == b.ts_event
            && a.ts_recv == b.ts_recv
            && a.symbol == b.symbol
            && a.kind == b.kind
            && a.side == b.side
            && a.flags == b.flags
            && a.price.to_bits() == b.price.to_bits()
            && a.size.to_bits() == b.size.to_bits()
            && a.ask.to_bits() == b.ask.to_bits()
            && a.ask_size.to_bits() == b.ask_size.to_bits()
            && a.id == b.id
    }

    /// Runs of a base tick with small walks, as real feeds look, mixed with arbitrary ones.
    fn tick_block() -> impl Strategy<Value = Vec<Tick>> {
        prop_oneof![
            prop::collection::vec(any_tick(), 0..200),
            (
                any_tick(),
                prop::collection::vec((0i64..3, -2i64..3), 1..300)
            )
                .prop_map(|(base, steps)| {
                    let mut t = base;
                    steps
                        .into_iter()
                        .map(|(dt, dp)| {
                            t.ts_event = t.ts_event.wrapping_add(dt * 1_000_000);
                            t.price += dp as f64 * 0.01;
                            t.id = t.id.wrapping_add(1);
                            t
                        })
                        .collect()
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn ticks_round_trip_bit_exact(ticks in tick_block()) {
            let mut buf = Vec::new();
            encode_ticks(&ticks, &mut buf, &mut EncodeScratch::default());
            let mut out = Vec::new();
            decode_ticks(&buf, ticks.len(), 7, &mut out).unwrap();
            prop_assert_eq!(out.len(), ticks.len());
            for (a, b) in ticks.iter().zip(&out) {
                prop_assert!(same_tick(a, b), "{a:?} != {b:?}");
            }
        }

        #[test]
        fn float_columns_bit_exact(vals in prop::collection::vec(any_f64(), 0..300)) {
            let mut buf = Vec::new();
            put_floats(&mut buf, vals.iter().copied(), &mut Vec::new(), &mut Vec::new());
            let mut got = vec![0f64; vals.len()];
            read_floats(&mut Cursor::new(&buf), &mut got).unwrap();
            let got: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
            let want: Vec<u64> = vals.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn time_columns_exact(ts in prop::collection::vec(any_time(), 0..300)) {
            let mut buf = Vec::new();
            put_times(&mut buf, &ts, &mut Vec::new(), &mut Vec::new());
            let mut got = vec![0i64; ts.len()];
            read_times(&mut Cursor::new(&buf), &mut got).unwrap();
            prop_assert_eq!(got, ts);
        }

        #[test]
        fn sorted_time_columns_exact(first in any_time(), steps in prop::collection::vec(prop_oneof![0i64..3, 0i64..1_000_000, 0..i64::MAX / 4], 0..300), unit in prop_oneof![Just(1i64), Just(1_000), Just(1_000_000)]) {
            let mut t = first;
            let ts: Vec<i64> = steps.iter().map(|&d| { t = t.wrapping_add(d.wrapping_mul(unit)); t }).collect();
            let mut buf = Vec::new();
            put_times(&mut buf, &ts, &mut Vec::new(), &mut Vec::new());
            let mut got = vec![0i64; ts.len()];
            read_times(&mut Cursor::new(&buf), &mut got).unwrap();
            prop_assert_eq!(got, ts);
        }

        #[test]
        fn bars_round_trip_bit_exact(raw in prop::collection::vec((any_time(), any_f64(), any_f64(), any::<u64>(), any::<u32>(), any::<u32>()), 0..100)) {
            let tf = Timeframe::M1;
            let bars: Vec<Bar> = raw.iter().map(|&(t, p, v, c, r, f)| Bar {
                symbol: 3, timeframe: tf, start: t, end: t.wrapping_add(tf.nanos()),
                open: p, high: v, low: -p, close: p * 2.0, volume: v, vwap: p / 3.0,
                vwap_num: p * v, buy_volume: v, sell_volume: -0.0, count: c,
                first_ts: t ^ 5, last_ts: t.wrapping_add(c as i64), revision: r, flags: f,
            }).collect();
            let mut buf = Vec::new();
            encode_bars(&bars, &mut buf, &mut EncodeScratch::default());
            let mut out = Vec::new();
            decode_bars(&buf, bars.len(), 3, tf, &mut out).unwrap();
            prop_assert_eq!(out.len(), bars.len());
            for (a, b) in bars.iter().zip(&out) {
                let bits = |x: &Bar| [x.open, x.high, x.low, x.close, x.volume, x.vwap, x.vwap_num, x.buy_volume, x.sell_volume].map(f64::to_bits);
                prop_assert_eq!(bits(a), bits(b));
                prop_assert_eq!((a.start, a.end, a.first_ts, a.last_ts, a.count, a.revision, a.flags),
                                (b.start, b.end, b.first_ts, b.last_ts, b.count, b.revision, b.flags));
            }
        }

        /// The fused tick decoder against the column decoder: the same ticks,
        /// and errors on the same inputs (whole, cut, or with a byte changed).
        #[test]
        fn fused_ticks_equal_columns(ticks in tick_block(), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
            let mut buf = Vec::new();
            encode_ticks(&ticks, &mut buf, &mut EncodeScratch::default());
            let mut flipped = buf.clone();
            if !flipped.is_empty() {
                let i = at.index(flipped.len());
                flipped[i] = byte;
            }
            let cut = &buf[..cut.index(buf.len() + 1)];
            for (bytes, n) in [(&buf[..], ticks.len()), (&flipped[..], ticks.len()), (cut, ticks.len()), (&buf[..], ticks.len() + 1)] {
                let mut fused = Vec::new();
                let a = decode_ticks(bytes, n, 7, &mut fused);
                let b = ticks_via_columns(bytes, n, 7);
                prop_assert_eq!(a.is_ok(), b.is_ok(), "{:?} {:?}", a, b.as_ref().err());
                if let Ok(want) = b {
                    prop_assert_eq!(fused.len(), want.len());
                    for (x, y) in fused.iter().zip(&want) {
                        prop_assert!(same_tick(x, y), "{x:?} != {y:?}");
                    }
                } else {
                    prop_assert!(fused.is_empty());
                }
            }
        }

        /// The fused bar decoder against the column-by-column one: the same
        /// bars, and errors on the same inputs.
        #[test]
        fn fused_bars_equal_columns(raw in prop::collection::vec((any_time(), any_f64(), any_f64(), any::<u64>(), any::<u32>(), any::<u32>()), 0..300), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
            let tf = Timeframe::M1;
            let bars: Vec<Bar> = raw.iter().enumerate().map(|(i, &(t, p, v, c, r, f))| Bar {
                symbol: 3, timeframe: tf, start: if i % 3 == 0 { t } else { 1_381_000_000_000_000_000 + i as i64 * tf.nanos() }, end: t.wrapping_add(tf.nanos()),
                open: p, high: v, low: -p, close: p * 2.0, volume: v, vwap: p / 3.0,
                vwap_num: p * v, buy_volume: v, sell_volume: -0.0, count: c % 100,
                first_ts: t ^ 5, last_ts: t.wrapping_add(c as i64), revision: r % 3, flags: f,
            }).collect();
            let mut buf = Vec::new();
            encode_bars(&bars, &mut buf, &mut EncodeScratch::default());
            let mut flipped = buf.clone();
            let i = at.index(flipped.len());
            flipped[i] = byte;
            let cut = &buf[..cut.index(buf.len() + 1)];
            let bits = |x: &Bar| ([x.open, x.high, x.low, x.close, x.volume, x.vwap, x.vwap_num, x.buy_volume, x.sell_volume].map(f64::to_bits), x.start, x.end, x.first_ts, x.last_ts, x.count, x.revision, x.flags, x.symbol, x.timeframe);
            for (bytes, n) in [(&buf[..], bars.len()), (&flipped[..], bars.len()), (cut, bars.len()), (&buf[..], bars.len() + 1)] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                let ra = decode_bars(bytes, n, 3, tf, &mut a);
                let rb = decode_bars_by_column(bytes, n, 3, tf, &mut b);
                prop_assert_eq!(ra.is_ok(), rb.is_ok(), "{:?} {:?}", ra, rb);
                if ra.is_ok() {
                    prop_assert_eq!(a.iter().map(bits).collect::<Vec<_>>(), b.iter().map(bits).collect::<Vec<_>>());
                } else {
                    prop_assert!(a.is_empty());
                }
            }
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400), n in 0usize..300) {
            let mut out = Vec::new();
            let _ = decode_ticks(&bytes, n, 1, &mut out);
            let mut bars = Vec::new();
            let _ = decode_bars(&bytes, n, 1, Timeframe::S1, &mut bars);
            let _ = decode_tick_columns(&bytes, n, &mut TickColumns::default());
        }
    }

    /// Column by column into the bars: the reference for the fused decoder.
    fn decode_bars_by_column(
        payload: &[u8],
        n: usize,
        symbol: u32,
        timeframe: Timeframe,
        out: &mut Vec<Bar>,
    ) -> Res<()> {
        out.clear();
        let blank = Bar {
            symbol,
            timeframe,
            start: 0,
            end: 0,
            open: 0.0,
            high: 0.0,
            low: 0.0,
            close: 0.0,
            volume: 0.0,
            vwap: 0.0,
            vwap_num: 0.0,
            buy_volume: 0.0,
            sell_volume: 0.0,
            count: 0,
            first_ts: 0,
            last_ts: 0,
            revision: 0,
            flags: 0,
        };
        out.resize(n, blank);
        let mut c = Cursor::new(payload);
        // every column straight into its field (no per-value indirect call)
        let mut ts = Vec::new();
        let mut fl = Vec::new();
        read_times(&mut c, fill(&mut ts, n))?;
        for (b, &t) in out.iter_mut().zip(&ts) {
            b.start = t;
        }
        macro_rules! rel {
            ($field:ident) => {
                read_int_col(&mut c, out, |o, v| {
                    for (b, &v) in o.iter_mut().zip(v) {
                        b.$field = b.start.wrapping_add(unzigzag(v));
                    }
                })?;
            };
        }
        rel!(end);
        rel!(first_ts);
        rel!(last_ts);
        macro_rules! float {
            ($field:ident) => {
                read_floats(&mut c, fill(&mut fl, n))?;
                for (b, &v) in out.iter_mut().zip(&fl) {
                    b.$field = v;
                }
            };
        }
        float!(open);
        float!(high);
        float!(low);
        float!(close);
        float!(volume);
        float!(vwap);
        float!(vwap_num);
        float!(buy_volume);
        float!(sell_volume);
        read_int_col(&mut c, out, |o, v| {
            for (b, &v) in o.iter_mut().zip(v) {
                b.count = v;
            }
        })?;
        read_int_col(&mut c, out, |o, v| {
            for (b, &v) in o.iter_mut().zip(v) {
                b.revision = v as u32;
                b.flags = (v >> 32) as u32;
            }
        })?;
        if !c.is_empty() {
            return Err(Corrupt("trailing bytes after the last column"));
        }
        Ok(())
    }

    /// Ticks from [`decode_tick_columns`], the reference for the fused decoder.
    fn ticks_via_columns(payload: &[u8], n: usize, symbol: u32) -> Res<Vec<Tick>> {
        let mut c = TickColumns::default();
        decode_tick_columns(payload, n, &mut c)?;
        let mut out = Vec::new();
        let mut i = 0usize;
        for &(meta, len) in &c.meta {
            for _ in 0..len {
                out.push(Tick {
                    ts_event: c.ts_event[i],
                    ts_recv: c.ts_recv[i],
                    symbol,
                    kind: TickKind::from_u8((meta >> 2 & 0x3f) as u8).unwrap(),
                    side: Side::from_u8((meta & 3) as u8),
                    flags: (meta >> 8) as u16,
                    price: c.price[i],
                    size: c.size[i],
                    ask: c.ask[i],
                    ask_size: c.ask_size[i],
                    id: c.id[i],
                });
                i += 1;
            }
        }
        Ok(out)
    }

    #[test]
    fn retain_time_trims_and_joins_runs() {
        // runs: A×3 B×2 A×3 at times 0..8
        let ticks: Vec<Tick> = (0..8)
            .map(|i| {
                let side = if (3..5).contains(&i) {
                    Side::Sell
                } else {
                    Side::Buy
                };
                Tick::trade(7, i as i64, 1.0 + i as f64, 1.0, side, i)
            })
            .collect();
        let mut buf = Vec::new();
        encode_ticks(&ticks, &mut buf, &mut EncodeScratch::default());
        let mut c = TickColumns::default();
        decode_tick_columns(&buf, 8, &mut c).unwrap();
        assert_eq!(c.meta.len(), 3);
        let a = c.meta[0].0;
        let mut t = TickColumns::default();
        decode_tick_columns(&buf, 8, &mut t).unwrap();
        t.retain_time(1, 7);
        assert_eq!(t.ts_event, [1, 2, 3, 4, 5, 6]);
        assert_eq!(t.id, [1, 2, 3, 4, 5, 6]);
        assert_eq!(t.meta, [(a, 2), (c.meta[1].0, 2), (a, 2)]);
        // the middle run gone: its neighbours join
        c.ts_event[3] = -5;
        c.ts_event[4] = -5;
        c.retain_time(0, 100);
        assert_eq!(c.meta, [(a, 6)]);
        assert_eq!(c.price, [1.0, 2.0, 3.0, 6.0, 7.0, 8.0]);
        c.retain_time(100, 200);
        assert!(c.is_empty() && c.meta.is_empty());
    }

    #[test]
    fn round_i64_is_round() {
        for x in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.49999999999999994,
            -0.49999999999999994,
            16742.000000000004,
            16741.999999999996,
            4503599627370495.5,
            -4503599627370495.5,
            9007199254740991.0,
            123.456e6,
        ] {
            assert_eq!(round_i64(x), Some(x.round() as i64), "{x}");
        }
        for x in [
            9007199254740992.0,
            -9007199254740992.0,
            f64::NAN,
            f64::INFINITY,
            1e300,
        ] {
            assert_eq!(round_i64(x), None, "{x}");
        }
    }

    #[test]
    fn decimal_prices_are_scaled() {
        let mut buf = Vec::new();
        put_floats(
            &mut buf,
            [167.42, 167.43, 167.41].into_iter(),
            &mut Vec::new(),
            &mut Vec::new(),
        );
        assert_eq!(buf[0], FLOAT_DECIMAL);
        assert_eq!(buf[1], 2);
        let mut buf = Vec::new();
        put_floats(
            &mut buf,
            [1.0, -0.0].into_iter(),
            &mut Vec::new(),
            &mut Vec::new(),
        );
        assert_eq!(buf[0], FLOAT_XOR, "-0.0 has no decimal form");
    }

    #[test]
    fn sorted_bursty_times_take_unsigned_deltas() {
        // Trades in bursts: many equal times, then gaps up to 127 ms. Zigzag
        // would need two bytes from 64 ms on; unsigned deltas need one.
        let mut t = 1_582_329_602_111_000_000i64;
        let ts: Vec<i64> = (0..1000)
            .map(|i: i64| {
                t += (i * 37 % 5).min(2) * (i * 53 % 120) * 1_000_000;
                t
            })
            .collect();
        let mut buf = Vec::new();
        put_times(&mut buf, &ts, &mut Vec::new(), &mut Vec::new());
        let mut c = Cursor::new(&buf);
        c.u64().unwrap();
        assert_eq!(c.varint().unwrap(), 1_000_000);
        assert_eq!(c.u8().unwrap(), TIME_DELTA_UNSIGNED);
        let mut got = vec![0i64; ts.len()];
        read_times(&mut Cursor::new(&buf), &mut got).unwrap();
        assert_eq!(got, ts);
        // Out of order: never the unsigned mode.
        let mut back = ts.clone();
        back.swap(10, 11);
        back[11] -= 1_000_000;
        let mut buf = Vec::new();
        put_times(&mut buf, &back, &mut Vec::new(), &mut Vec::new());
        let mut c = Cursor::new(&buf);
        c.u64().unwrap();
        c.varint().unwrap();
        assert_ne!(c.u8().unwrap(), TIME_DELTA_UNSIGNED);
        let mut got = vec![0i64; back.len()];
        read_times(&mut Cursor::new(&buf), &mut got).unwrap();
        assert_eq!(got, back);
    }

    #[test]
    fn millisecond_times_use_the_divisor() {
        let ts: Vec<i64> = (0..100)
            .map(|i| 1_381_000_000_000_000_000 + i * 3_000_000)
            .collect();
        let mut buf = Vec::new();
        put_times(&mut buf, &ts, &mut Vec::new(), &mut Vec::new());
        // first (8) + divisor varint (3) + mode (1) + const column (3)
        assert!(buf.len() <= 16, "{}", buf.len());
    }

    /// The version-1 integer column (varints), as old files hold it.
    fn put_int_col_v1(out: &mut Vec<u8>, vals: &[u64]) {
        out.push(MODE_VARINT);
        put_varint(out, vals[0]);
        let mut body = Vec::new();
        for &v in &vals[1..] {
            put_varint(&mut body, v);
        }
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
    }

    fn read_all(buf: &[u8], n: usize) -> Res<Vec<u64>> {
        let mut got = vec![0u64; n];
        read_int_col(&mut Cursor::new(buf), &mut got, |o, v| o.copy_from_slice(v))?;
        Ok(got)
    }

    #[test]
    fn every_width_round_trips() {
        for w in 0..=64u32 {
            for n in [1usize, 2, 3, 64, 127, 128, 129, 130, 255, 256, 257, 1000] {
                let top = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
                // a base, then values spanning the whole width (top and 0 offsets included)
                let vals: Vec<u64> = (0..n as u64)
                    .map(|i| match i % 5 {
                        0 => 7,
                        1 => 7u64.wrapping_add(top),
                        _ => 7u64.wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) & top),
                    })
                    .collect();
                let mut buf = Vec::new();
                put_int_slice(&mut buf, &vals);
                assert_eq!(read_all(&buf, n).unwrap(), vals, "width {w}, {n} values");
            }
        }
    }

    #[test]
    fn version_1_varint_columns_still_decode() {
        let vals: Vec<u64> = (0..1000u64).map(|i| i * i * 31 % 100_003).collect();
        let mut buf = Vec::new();
        put_int_col_v1(&mut buf, &vals);
        assert_eq!(read_all(&buf, vals.len()).unwrap(), vals);
        // a whole v1 price column: decimal mode, e = 2
        let prices = [167.42, 167.43, 167.41, 167.41, 168.0];
        let m: Vec<u64> = [16742i64, 1, -2, 0, 59].map(zigzag).to_vec();
        let mut buf = vec![FLOAT_DECIMAL, 2];
        put_int_col_v1(&mut buf, &m);
        let mut got = [0.0; 5];
        read_floats(&mut Cursor::new(&buf), &mut got).unwrap();
        assert_eq!(got.map(f64::to_bits), prices.map(f64::to_bits));
    }

    #[test]
    fn packed_columns_reject_bad_widths_and_lengths() {
        let vals: Vec<u64> = (0..300).collect();
        let mut buf = Vec::new();
        put_int_slice(&mut buf, &vals);
        // mode, first varint (1 byte), count varint (2), u32 length, then the first miniblock's width
        assert_eq!(buf[0], MODE_PACKED);
        let mut bad = buf.clone();
        bad[8] = 9;
        assert!(read_all(&bad, 300).is_err());
        bad[8] = 0xff;
        assert!(read_all(&bad, 300).is_err());
        for cut in 0..buf.len() {
            assert!(read_all(&buf[..cut], 300).is_err());
        }
        assert!(read_all(&buf, 299).is_err());
        assert!(read_all(&buf, 301).is_err());
        assert!(read_all(&buf, 0).is_err());
    }

    proptest! {
        #[test]
        fn varint_columns_round_trip(vals in prop::collection::vec((any::<u64>(), 0u32..64).prop_map(|(v, s)| v >> s), 1..400)) {
            let mut buf = Vec::new();
            put_int_col_v1(&mut buf, &vals);
            prop_assert_eq!(read_all(&buf, vals.len()).unwrap(), vals);
        }

        /// The SIMD varint decoder against the scalar reference: same
        /// values, bytes used and error, on varint runs of mixed lengths and
        /// on arbitrary bytes.
        #[test]
        fn simd_varints_equal_scalar(
            vals in prop::collection::vec(prop_oneof![0u64..128, 128u64..16_384, any::<u64>().prop_map(|v| v >> 20), any::<u64>()], 0..300),
            junk in prop::collection::vec(any::<u8>(), 0..300),
            cut in 0usize..64,
        ) {
            #[cfg(target_arch = "x86_64")]
            if let Some(simd) = crate::varint::Sse41::detect() {
                let mut enc = Vec::new();
                for &v in &vals {
                    put_varint(&mut enc, v);
                }
                let short = &enc[..enc.len().saturating_sub(cut)];
                for (bytes, n) in [(&enc[..], vals.len()), (short, vals.len()), (&junk[..], junk.len() / 2), (&junk[..], junk.len())] {
                    let mut a = vec![0u64; n];
                    let mut b = vec![0u64; n];
                    let ra = unpack_varints_scalar(bytes, &mut a);
                    let rb = simd.unpack(bytes, &mut b, read_varint);
                    prop_assert_eq!(ra, rb);
                    if ra.is_ok() {
                        prop_assert_eq!(&a, &b);
                    }
                }
                let mut got = vec![0u64; vals.len()];
                prop_assert_eq!(simd.unpack(&enc, &mut got, read_varint), Ok(enc.len()));
                prop_assert_eq!(got, vals);
            }
        }

        #[test]
        fn int_columns_round_trip(vals in prop::collection::vec(prop_oneof![any::<u64>(), 0u64..4, Just(u64::MAX)], 0..700)) {
            let mut buf = Vec::new();
            put_int_slice(&mut buf, &vals);
            prop_assert_eq!(read_all(&buf, vals.len()).unwrap(), vals);
        }
    }
}
