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
#[inline]
fn unpack_varints(s: &[u8], out: &mut [u64]) -> Res<usize> {
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
                let w = *body.get(p).ok_or(Corrupt("packed column ends early"))?;
                p += 1;
                let v = &mut buf[..o.len()];
                let s = body.get(p..).unwrap_or(&[]);
                let s = match w {
                    MB_VARINT => {
                        p += unpack_varints(s, v)?;
                        f(o, v);
                        continue;
                    }
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
                p += s.len();
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
        TIME_DELTA => read_int_col(c, rest, |o, v| {
            for (o, &v) in o.iter_mut().zip(v) {
                t = t.wrapping_add(unzigzag(v).wrapping_mul(g));
                *o = t;
            }
        }),
        TIME_DOD => {
            let mut d = 0i64;
            read_int_col(c, rest, |o, v| {
                for (o, &v) in o.iter_mut().zip(v) {
                    d = d.wrapping_add(unzigzag(v));
                    t = t.wrapping_add(d.wrapping_mul(g));
                    *o = t;
                }
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

/// Writes scaled integers `m` as floats of `e` decimals: `m / 10^e`, the
/// division skipped for a repeated `m` and for `e == 0` (`x / 1.0 == x`).
#[inline(always)]
fn scaled(e: usize, p: f64, last: &mut (i64, f64), o: &mut f64, m: i64) {
    if e == 0 {
        *o = m as f64;
    } else {
        if m != last.0 {
            *last = (m, m as f64 / p);
        }
        *o = last.1;
    }
}

/// Reads a float column of `out.len()` values.
pub(crate) fn read_floats(c: &mut Cursor<'_>, out: &mut [f64]) -> Res<()> {
    let mode = c.u8()?;
    if mode == FLOAT_XOR {
        let mut b = 0u64;
        return read_int_col(c, out, |o, v| {
            for (o, &v) in o.iter_mut().zip(v) {
                b ^= v;
                *o = f64::from_bits(b);
            }
        });
    }
    let e = c.u8()? as usize;
    let p = *POW10.get(e).ok_or(Corrupt("bad decimal count"))?;
    let mut last = (0i64, 0.0f64);
    match mode {
        FLOAT_DECIMAL => {
            let mut m = 0i64;
            read_int_col(c, out, |o, v| {
                for (o, &v) in o.iter_mut().zip(v) {
                    m = m.wrapping_add(unzigzag(v));
                    scaled(e, p, &mut last, o, m);
                }
            })
        }
        FLOAT_DECIMAL_RAW => read_int_col(c, out, |o, v| {
            for (o, &v) in o.iter_mut().zip(v) {
                scaled(e, p, &mut last, o, unzigzag(v));
            }
        }),
        FLOAT_DECIMAL_UNSIGNED => read_int_col(c, out, |o, v| {
            for (o, &v) in o.iter_mut().zip(v) {
                scaled(e, p, &mut last, o, v as i64);
            }
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
        for (o, &v) in o.iter_mut().zip(v) {
            id = id.wrapping_add(unzigzag(v) as u64);
            *o = id;
        }
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

/// [`decode_ticks`] with reusable column buffers: columns first, then one
/// pass per run of equal side, kind and flags that writes each 64-byte tick
/// once.
pub fn decode_ticks_with(
    payload: &[u8],
    n: usize,
    symbol: u32,
    out: &mut Vec<Tick>,
    cols: &mut TickColumns,
) -> Res<()> {
    decode_tick_columns(payload, n, cols)?;
    out.clear();
    out.reserve(n);
    let c = &*cols;
    let mut at = 0usize;
    for &(meta, len) in &c.meta {
        let kind = TickKind::from_u8((meta >> 2 & 0x3f) as u8).unwrap_or_default();
        let side = Side::from_u8((meta & 3) as u8);
        let flags = (meta >> 8) as u16;
        // get_run_list checked that the runs cover exactly n ticks
        let r = at..at + len as usize;
        let cols = c.ts_event[r.clone()]
            .iter()
            .zip(&c.ts_recv[r.clone()])
            .zip(&c.price[r.clone()])
            .zip(&c.size[r.clone()])
            .zip(&c.ask[r.clone()])
            .zip(&c.ask_size[r.clone()])
            .zip(&c.id[r]);
        out.extend(
            cols.map(|((((((&te, &tr), &p), &s), &a), &asz), &id)| Tick {
                ts_event: te,
                ts_recv: tr,
                symbol,
                kind,
                side,
                flags,
                price: p,
                size: s,
                ask: a,
                ask_size: asz,
                id,
            }),
        );
        at += len as usize;
    }
    Ok(())
}

// ---------------------------------------------------------------- bar blocks

/// Reusable buffers for [`decode_bars_with`].
#[derive(Default, Debug)]
pub struct BarScratch {
    ts: Vec<i64>,
    fl: Vec<f64>,
}

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

/// [`decode_bars`] with reusable column buffers.
pub fn decode_bars_with(
    payload: &[u8],
    n: usize,
    symbol: u32,
    timeframe: Timeframe,
    out: &mut Vec<Bar>,
    scratch: &mut BarScratch,
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
    let mut ts = std::mem::take(&mut scratch.ts);
    read_times(&mut c, fill(&mut ts, n))?;
    for (b, &t) in out.iter_mut().zip(&ts) {
        b.start = t;
    }
    scratch.ts = ts;
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
            read_floats(&mut c, fill(&mut scratch.fl, n))?;
            for (b, &v) in out.iter_mut().zip(&scratch.fl) {
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

        #[test]
        fn decoding_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400), n in 0usize..300) {
            let mut out = Vec::new();
            let _ = decode_ticks(&bytes, n, 1, &mut out);
            let mut bars = Vec::new();
            let _ = decode_bars(&bytes, n, 1, Timeframe::S1, &mut bars);
        }
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

        #[test]
        fn int_columns_round_trip(vals in prop::collection::vec(prop_oneof![any::<u64>(), 0u64..4, Just(u64::MAX)], 0..700)) {
            let mut buf = Vec::new();
            put_int_slice(&mut buf, &vals);
            prop_assert_eq!(read_all(&buf, vals.len()).unwrap(), vals);
        }
    }
}
