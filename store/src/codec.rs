//! Column codecs: the bytes of one block's payload before compression.
//!
//! Every column is byte-aligned so that lz4 and zstd can model it afterwards.
//! The building block is an *integer column*: the first value as a varint,
//! then either `MODE_CONST` and one varint (every later value equal), or
//! `MODE_VARINT`, a u32 byte length and one LEB128 varint per value.
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

/// A payload did not decode; the `&str` names the part that was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

type Res<T> = Result<T, Corrupt>;

const MODE_VARINT: u8 = 0;
const MODE_CONST: u8 = 1;
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

#[inline]
fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 takes one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
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

/// Writes `vals` (already mapped to u64) as an integer column.
fn put_int_col(out: &mut Vec<u8>, vals: impl Iterator<Item = u64> + Clone) {
    let mut it = vals.clone();
    let Some(first) = it.next() else {
        out.push(MODE_CONST);
        put_varint(out, 0);
        put_varint(out, 0);
        return;
    };
    let second = it.next();
    let constant = match second {
        None => true,
        Some(s) => it.all(|v| v == s),
    };
    if constant {
        out.push(MODE_CONST);
        put_varint(out, first);
        put_varint(out, second.unwrap_or(0));
        return;
    }
    out.push(MODE_VARINT);
    put_varint(out, first);
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let start = out.len();
    for v in vals.skip(1) {
        put_varint(out, v);
    }
    let len = (out.len() - start) as u32;
    out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
}

/// Reads an integer column of `n` values into `out` (resized to `n`).
fn read_int_col(c: &mut Cursor<'_>, n: usize, out: &mut Vec<u64>) -> Res<()> {
    let mode = c.u8()?;
    let first = c.varint()?;
    out.clear();
    match mode {
        MODE_CONST => {
            let rest = c.varint()?;
            if n > 0 {
                out.resize(n, rest);
                out[0] = first;
            }
            Ok(())
        }
        MODE_VARINT => {
            let len = c.u32()? as usize;
            let s = c.take(len)?;
            if n == 0 {
                return Err(Corrupt("values in an empty column"));
            }
            out.resize(n, 0);
            out[0] = first;
            let mut p = 0usize;
            for slot in &mut out[1..] {
                // Fast path: one-byte varints, the common case after delta coding.
                match s.get(p) {
                    Some(&b) if b < 0x80 => {
                        *slot = b as u64;
                        p += 1;
                    }
                    _ => {
                        let (v, used) = read_varint(s.get(p..).unwrap_or(&[]))?;
                        *slot = v;
                        p += used;
                    }
                }
            }
            if p != s.len() {
                return Err(Corrupt("integer column length mismatch"));
            }
            Ok(())
        }
        _ => Err(Corrupt("unknown integer column mode")),
    }
}

// ---------------------------------------------------------------- time columns

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Writes a time column (any i64 values; bit-exact round trip).
pub(crate) fn put_times(out: &mut Vec<u8>, ts: &[i64], scratch: &mut Vec<i64>) {
    out.extend_from_slice(&ts.first().copied().unwrap_or(0).to_le_bytes());
    let mut g = 0u64;
    for w in ts.windows(2) {
        g = gcd(g, w[1].wrapping_sub(w[0]).unsigned_abs());
        if g == 1 {
            break;
        }
    }
    if g == 0 || g > i64::MAX as u64 {
        g = 1;
    }
    put_varint(out, g);
    let gi = g as i64;
    scratch.clear();
    scratch.extend(ts.windows(2).map(|w| w[1].wrapping_sub(w[0]) / gi));
    let delta_cost: usize = scratch.iter().map(|&d| varint_len(zigzag(d))).sum();
    let dod_cost: usize = scratch
        .iter()
        .scan(0i64, |prev, &d| {
            let dd = d.wrapping_sub(*prev);
            *prev = d;
            Some(varint_len(zigzag(dd)))
        })
        .sum();
    if dod_cost < delta_cost {
        out.push(TIME_DOD);
        let it = scratch.iter().scan(0i64, |prev, &d| {
            let dd = d.wrapping_sub(*prev);
            *prev = d;
            Some(zigzag(dd))
        });
        put_int_col(out, it);
    } else {
        out.push(TIME_DELTA);
        put_int_col(out, scratch.iter().map(|&d| zigzag(d)));
    }
}

/// Reads a time column of `out.len()` values.
pub(crate) fn read_times(c: &mut Cursor<'_>, out: &mut [i64], tmp: &mut Vec<u64>) -> Res<()> {
    let n = out.len();
    let first = c.u64()? as i64;
    let g = c.varint()?;
    if g == 0 || g > i64::MAX as u64 {
        return Err(Corrupt("bad time divisor"));
    }
    let g = g as i64;
    let mode = c.u8()?;
    read_int_col(c, n.saturating_sub(1), tmp)?;
    let Some((o0, rest)) = out.split_first_mut() else {
        return Ok(());
    };
    *o0 = first;
    let mut t = first;
    match mode {
        TIME_DELTA => {
            for (o, &v) in rest.iter_mut().zip(tmp.iter()) {
                t = t.wrapping_add(unzigzag(v).wrapping_mul(g));
                *o = t;
            }
        }
        TIME_DOD => {
            let mut d = 0i64;
            for (o, &v) in rest.iter_mut().zip(tmp.iter()) {
                d = d.wrapping_add(unzigzag(v));
                t = t.wrapping_add(d.wrapping_mul(g));
                *o = t;
            }
        }
        _ => return Err(Corrupt("unknown time mode")),
    }
    Ok(())
}

// ---------------------------------------------------------------- float columns

/// The smallest number of decimals that represents every value exactly, if any.
fn decimals_of(vals: impl Iterator<Item = f64>) -> Option<u8> {
    let mut e = 0u8;
    let mut last = None;
    for v in vals {
        // repeated values (prices, round lots, zero asks of trades) were checked already
        if last == Some(v.to_bits()) {
            continue;
        }
        last = Some(v.to_bits());
        loop {
            let p = POW10[e as usize];
            let m = (v * p).round();
            // through the integer, as the decoder does: -0.0 has no integer form
            if m.abs() < MAX_EXACT && ((m as i64) as f64 / p).to_bits() == v.to_bits() {
                break;
            }
            e += 1;
            if e > MAX_DECIMALS {
                return None;
            }
        }
    }
    Some(e)
}

/// Writes a float column; bit-exact for every f64. `m` is scratch.
pub(crate) fn put_floats(
    out: &mut Vec<u8>,
    vals: impl Iterator<Item = f64> + Clone,
    m: &mut Vec<i64>,
) {
    if let Some(e) = decimals_of(vals.clone()) {
        let p = POW10[e as usize];
        m.clear();
        let mut last = (f64::NAN.to_bits(), 0i64);
        m.extend(vals.map(|v| {
            if v.to_bits() != last.0 {
                last = (v.to_bits(), (v * p).round() as i64);
            }
            last.1
        }));
        // scaled integers, delta-coded (prices) or as they are (sizes): the cheaper
        let mut prev = 0i64;
        let (mut cost_delta, mut cost_raw, mut neg) = (0usize, 0usize, false);
        for &x in m.iter() {
            cost_delta += varint_len(zigzag(x.wrapping_sub(prev)));
            cost_raw += varint_len(x as u64);
            neg |= x < 0;
            prev = x;
        }
        if !neg && cost_raw <= cost_delta + cost_delta / 4 {
            // sizes: repeated raw values model better under lz4/zstd than deltas
            out.push(FLOAT_DECIMAL_UNSIGNED);
            out.push(e);
            put_int_col(out, m.iter().map(|&x| x as u64));
        } else if cost_raw < cost_delta {
            out.push(FLOAT_DECIMAL_RAW);
            out.push(e);
            put_int_col(out, m.iter().map(|&x| zigzag(x)));
        } else {
            out.push(FLOAT_DECIMAL);
            out.push(e);
            let it = m.iter().scan(0i64, |prev, &x| {
                let d = x.wrapping_sub(*prev);
                *prev = x;
                Some(zigzag(d))
            });
            put_int_col(out, it);
        }
    } else {
        out.push(FLOAT_XOR);
        let it = vals.scan(0u64, |prev, v| {
            let b = v.to_bits();
            let x = b ^ *prev;
            *prev = b;
            Some(x)
        });
        put_int_col(out, it);
    }
}

/// Reads a float column of `out.len()` values.
pub(crate) fn read_floats(c: &mut Cursor<'_>, out: &mut [f64], tmp: &mut Vec<u64>) -> Res<()> {
    let n = out.len();
    let mode = c.u8()?;
    if mode == FLOAT_XOR {
        read_int_col(c, n, tmp)?;
        let mut b = 0u64;
        for (o, &v) in out.iter_mut().zip(tmp.iter()) {
            b ^= v;
            *o = f64::from_bits(b);
        }
        return Ok(());
    }
    let e = c.u8()?;
    let p = *POW10.get(e as usize).ok_or(Corrupt("bad decimal count"))?;
    read_int_col(c, n, tmp)?;
    // repeated values skip the division
    let (mut last_m, mut last_f) = (0i64, 0.0f64);
    let mut put = |o: &mut f64, m: i64| {
        if m != last_m {
            (last_m, last_f) = (m, m as f64 / p);
        }
        *o = last_f;
    };
    match mode {
        FLOAT_DECIMAL => {
            let mut m = 0i64;
            for (o, &v) in out.iter_mut().zip(tmp.iter()) {
                m = m.wrapping_add(unzigzag(v));
                put(o, m);
            }
        }
        FLOAT_DECIMAL_RAW => {
            for (o, &v) in out.iter_mut().zip(tmp.iter()) {
                put(o, unzigzag(v));
            }
        }
        FLOAT_DECIMAL_UNSIGNED => {
            for (o, &v) in out.iter_mut().zip(tmp.iter()) {
                put(o, v as i64);
            }
        }
        _ => return Err(Corrupt("unknown float mode")),
    }
    Ok(())
}

// ---------------------------------------------------------------- run-length column

fn put_runs(out: &mut Vec<u8>, vals: impl Iterator<Item = u64>) {
    let mut runs: u64 = 0;
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut cur: Option<(u64, u64)> = None;
    for v in vals {
        match &mut cur {
            Some((cv, len)) if *cv == v => *len += 1,
            _ => {
                if let Some((cv, len)) = cur {
                    put_varint(out, cv);
                    put_varint(out, len);
                    runs += 1;
                }
                cur = Some((v, 1));
            }
        }
    }
    if let Some((cv, len)) = cur {
        put_varint(out, cv);
        put_varint(out, len);
        runs += 1;
    }
    out[at..at + 4].copy_from_slice(&(runs as u32).to_le_bytes());
}

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

/// Receive times: as the difference from the event time (scaled by its GCD),
/// or as a time column of their own, whichever is shorter for the block.
fn put_recv(out: &mut Vec<u8>, ticks: &[Tick], s: &mut EncodeScratch) {
    s.col.clear();
    s.col
        .extend(ticks.iter().map(|t| t.ts_recv.wrapping_sub(t.ts_event)));
    let mut g = 0u64;
    for &d in &s.col {
        g = gcd(g, d.unsigned_abs());
        if g == 1 {
            break;
        }
    }
    if g == 0 || g > i64::MAX as u64 {
        g = 1;
    }
    let at = out.len();
    out.push(RECV_DIFF);
    put_varint(out, g);
    put_int_col(out, s.col.iter().map(|&d| zigzag(d / g as i64)));
    if g == 1 || out.len() - at > 16 {
        s.alt.clear();
        s.alt.push(RECV_TIMES);
        s.col.clear();
        s.col.extend(ticks.iter().map(|t| t.ts_recv));
        put_times(&mut s.alt, &s.col, &mut s.times);
        if s.alt.len() < out.len() - at {
            out.truncate(at);
            out.extend_from_slice(&s.alt);
        }
    }
}

fn read_recv(c: &mut Cursor<'_>, ev: &[i64], o: &mut [i64], tmp: &mut Vec<u64>) -> Res<()> {
    match c.u8()? {
        RECV_DIFF => {
            let g = c.varint()?;
            if g == 0 || g > i64::MAX as u64 {
                return Err(Corrupt("bad receive time divisor"));
            }
            read_int_col(c, o.len(), tmp)?;
            for ((o, &e), &v) in o.iter_mut().zip(ev).zip(tmp.iter()) {
                *o = e.wrapping_add(unzigzag(v).wrapping_mul(g as i64));
            }
            Ok(())
        }
        RECV_TIMES => read_times(c, o, tmp),
        _ => Err(Corrupt("unknown receive time mode")),
    }
}

// ---------------------------------------------------------------- tick blocks

/// Reusable buffers for encoding.
#[derive(Default)]
pub struct EncodeScratch {
    times: Vec<i64>,
    col: Vec<i64>,
    m: Vec<i64>,
    alt: Vec<u8>,
}

/// Appends the column encoding of `ticks` (one symbol) to `out`.
pub fn encode_ticks(ticks: &[Tick], out: &mut Vec<u8>, s: &mut EncodeScratch) {
    s.col.clear();
    s.col.extend(ticks.iter().map(|t| t.ts_event));
    put_times(out, &s.col, &mut s.times);
    put_recv(out, ticks, s);
    put_runs(
        out,
        ticks
            .iter()
            .map(|t| t.side as u64 | (t.kind as u64) << 2 | (t.flags as u64) << 8),
    );
    put_floats(out, ticks.iter().map(|t| t.price), &mut s.m);
    put_floats(out, ticks.iter().map(|t| t.size), &mut s.m);
    put_floats(out, ticks.iter().map(|t| t.ask), &mut s.m);
    put_floats(out, ticks.iter().map(|t| t.ask_size), &mut s.m);
    let ids = ticks.iter().scan(0u64, |prev, t| {
        let d = t.id.wrapping_sub(*prev) as i64;
        *prev = t.id;
        Some(zigzag(d))
    });
    put_int_col(out, ids);
}

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
    tmp: Vec<u64>,
}

fn fill<T: Copy + Default>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    v.clear();
    v.resize(n, T::default());
    &mut v[..]
}

/// Decodes the columns of `n` ticks from `payload`.
pub fn decode_tick_columns(payload: &[u8], n: usize, cols: &mut TickColumns) -> Res<()> {
    let mut c = Cursor::new(payload);
    let tmp = &mut cols.tmp;
    read_times(&mut c, fill(&mut cols.ts_event, n), tmp)?;
    read_recv(&mut c, &cols.ts_event, fill(&mut cols.ts_recv, n), tmp)?;
    cols.meta.clear();
    get_run_list(&mut c, n, &mut cols.meta)?;
    read_floats(&mut c, fill(&mut cols.price, n), tmp)?;
    read_floats(&mut c, fill(&mut cols.size, n), tmp)?;
    read_floats(&mut c, fill(&mut cols.ask, n), tmp)?;
    read_floats(&mut c, fill(&mut cols.ask_size, n), tmp)?;
    read_int_col(&mut c, n, tmp)?;
    let mut id = 0u64;
    cols.id.clear();
    cols.id.extend(tmp.iter().map(|&v| {
        id = id.wrapping_add(unzigzag(v) as u64);
        id
    }));
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
/// pass that writes each 64-byte tick once.
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
    let mut run = cols.meta.iter();
    let (mut meta, mut left) = (0u64, 0u32);
    for i in 0..n {
        if left == 0 {
            let &(v, l) = run.next().ok_or(Corrupt("runs do not cover the block"))?;
            (meta, left) = (v, l);
        }
        left -= 1;
        out.push(Tick {
            ts_event: cols.ts_event[i],
            ts_recv: cols.ts_recv[i],
            symbol,
            kind: TickKind::from_u8((meta >> 2 & 0x3f) as u8).unwrap_or_default(),
            side: Side::from_u8((meta & 3) as u8),
            flags: (meta >> 8) as u16,
            price: cols.price[i],
            size: cols.size[i],
            ask: cols.ask[i],
            ask_size: cols.ask_size[i],
            id: cols.id[i],
        });
    }
    Ok(())
}

// ---------------------------------------------------------------- bar blocks

/// Appends the column encoding of `bars` (one symbol, one timeframe) to `out`.
pub fn encode_bars(bars: &[Bar], out: &mut Vec<u8>, s: &mut EncodeScratch) {
    s.col.clear();
    s.col.extend(bars.iter().map(|b| b.start));
    put_times(out, &s.col, &mut s.times);
    let rel = |f: fn(&Bar) -> i64| bars.iter().map(move |b| zigzag(f(b).wrapping_sub(b.start)));
    put_int_col(out, rel(|b| b.end));
    put_int_col(out, rel(|b| b.first_ts));
    put_int_col(out, rel(|b| b.last_ts));
    put_floats(out, bars.iter().map(|b| b.open), &mut s.m);
    put_floats(out, bars.iter().map(|b| b.high), &mut s.m);
    put_floats(out, bars.iter().map(|b| b.low), &mut s.m);
    put_floats(out, bars.iter().map(|b| b.close), &mut s.m);
    put_floats(out, bars.iter().map(|b| b.volume), &mut s.m);
    put_floats(out, bars.iter().map(|b| b.vwap), &mut s.m);
    put_floats(out, bars.iter().map(|b| b.vwap_num), &mut s.m);
    put_floats(out, bars.iter().map(|b| b.buy_volume), &mut s.m);
    put_floats(out, bars.iter().map(|b| b.sell_volume), &mut s.m);
    put_int_col(out, bars.iter().map(|b| b.count));
    put_int_col(
        out,
        bars.iter()
            .map(|b| b.revision as u64 | (b.flags as u64) << 32),
    );
}

/// Decodes `n` bars of `symbol` / `timeframe` from `payload` into `out` (cleared first).
pub fn decode_bars(
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
    let (mut tmp, mut ts, mut fl) = (Vec::new(), vec![0i64; n], vec![0f64; n]);
    read_times(&mut c, &mut ts, &mut tmp)?;
    for (b, &t) in out.iter_mut().zip(&ts) {
        b.start = t;
    }
    let rel: [fn(&mut Bar, i64); 3] = [
        |b, v| b.end = v,
        |b, v| b.first_ts = v,
        |b, v| b.last_ts = v,
    ];
    for set in rel {
        read_int_col(&mut c, n, &mut tmp)?;
        for (b, &v) in out.iter_mut().zip(&tmp) {
            let t = b.start.wrapping_add(unzigzag(v));
            set(b, t);
        }
    }
    let floats: [fn(&mut Bar, f64); 9] = [
        |b, v| b.open = v,
        |b, v| b.high = v,
        |b, v| b.low = v,
        |b, v| b.close = v,
        |b, v| b.volume = v,
        |b, v| b.vwap = v,
        |b, v| b.vwap_num = v,
        |b, v| b.buy_volume = v,
        |b, v| b.sell_volume = v,
    ];
    for set in floats {
        read_floats(&mut c, &mut fl, &mut tmp)?;
        for (b, &v) in out.iter_mut().zip(&fl) {
            set(b, v);
        }
    }
    read_int_col(&mut c, n, &mut tmp)?;
    for (b, &v) in out.iter_mut().zip(&tmp) {
        b.count = v;
    }
    read_int_col(&mut c, n, &mut tmp)?;
    for (b, &v) in out.iter_mut().zip(&tmp) {
        b.revision = v as u32;
        b.flags = (v >> 32) as u32;
    }
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
            put_floats(&mut buf, vals.iter().copied(), &mut Vec::new());
            let mut got = vec![0f64; vals.len()];
            read_floats(&mut Cursor::new(&buf), &mut got, &mut Vec::new()).unwrap();
            let got: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
            let want: Vec<u64> = vals.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn time_columns_exact(ts in prop::collection::vec(any_time(), 0..300)) {
            let mut buf = Vec::new();
            put_times(&mut buf, &ts, &mut Vec::new());
            let mut got = vec![0i64; ts.len()];
            read_times(&mut Cursor::new(&buf), &mut got, &mut Vec::new()).unwrap();
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
    fn decimal_prices_are_scaled() {
        let mut buf = Vec::new();
        put_floats(
            &mut buf,
            [167.42, 167.43, 167.41].into_iter(),
            &mut Vec::new(),
        );
        assert_eq!(buf[0], FLOAT_DECIMAL);
        assert_eq!(buf[1], 2);
        let mut buf = Vec::new();
        put_floats(&mut buf, [1.0, -0.0].into_iter(), &mut Vec::new());
        assert_eq!(buf[0], FLOAT_XOR, "-0.0 has no decimal form");
    }

    #[test]
    fn millisecond_times_use_the_divisor() {
        let ts: Vec<i64> = (0..100)
            .map(|i| 1_381_000_000_000_000_000 + i * 3_000_000)
            .collect();
        let mut buf = Vec::new();
        put_times(&mut buf, &ts, &mut Vec::new());
        // first (8) + divisor varint (3) + mode (1) + const column (3)
        assert!(buf.len() <= 16, "{}", buf.len());
    }
}
