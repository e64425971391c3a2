//! Splitting a line into fields without allocating.

/// Splits `line` at `delim` into `out`, returning how many fields the line has
/// (counted up to `out.len() + 1`: more fields than slots shows as `len + 1`,
/// the extra ones are not stored).
///
/// Scans eight bytes per step (SWAR): the delimiter positions of a chunk come
/// out as a bit mask, so short fields cost no branch per byte.
#[inline]
pub fn split<'a>(line: &'a [u8], delim: u8, out: &mut [&'a [u8]]) -> usize {
    const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let pattern = u64::from_ne_bytes([delim; 8]);
    let mut n = 0;
    let mut start = 0;
    let mut base = 0;
    while base < line.len() {
        let take = (line.len() - base).min(8);
        let word = if take == 8 {
            load8(&line[base..base + 8])
        } else if line.len() >= 8 {
            // the line's last 8 bytes, shifted so that byte `base` comes first
            load8(&line[line.len() - 8..]) >> ((8 - take) * 8)
        } else {
            tail(&line[base..])
        };
        let x = word ^ pattern;
        // exact zero-byte test (no borrow across bytes): high bit set where x's byte is 0
        let mut mask = !(((x & LO7).wrapping_add(LO7)) | x | LO7);
        if take < 8 {
            // padding bytes are not delimiters
            mask &= (1u64 << (take * 8)) - 1;
        }
        while mask != 0 {
            let pos = base + (mask.trailing_zeros() / 8) as usize;
            mask &= mask - 1;
            if n == out.len() {
                return n + 1;
            }
            out[n] = &line[start..pos];
            n += 1;
            start = pos + 1;
        }
        base += 8;
    }
    if n == out.len() {
        return n + 1;
    }
    out[n] = &line[start..];
    n + 1
}

#[inline(always)]
fn load8(b: &[u8]) -> u64 {
    let mut chunk = [0u8; 8];
    chunk.copy_from_slice(&b[..8]);
    u64::from_le_bytes(chunk)
}

/// The 1 to 7 bytes of a short line, zero-padded, little-endian.
#[cold]
#[inline(never)]
fn tail(b: &[u8]) -> u64 {
    let mut chunk = [0u8; 8];
    chunk[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(chunk)
}

/// Like [`split`], with RFC 4180 quoting: a field that starts with `quote`
/// runs to the matching closing quote (a doubled quote inside stands for one,
/// and is kept doubled in the slice: numeric fields never contain one). The
/// slice stored is the text between the quotes. `None` for an unterminated
/// quote or text after a closing quote.
pub fn split_quoted<'a>(
    line: &'a [u8],
    delim: u8,
    quote: u8,
    out: &mut [&'a [u8]],
) -> Option<usize> {
    let mut n = 0;
    let mut i = 0;
    loop {
        let (field, next) = if line.get(i) == Some(&quote) {
            let mut j = i + 1;
            loop {
                let k = j + memchr::memchr(quote, line.get(j..)?)?;
                if line.get(k + 1) == Some(&quote) {
                    j = k + 2;
                    continue;
                }
                match line.get(k + 1) {
                    None => break (&line[i + 1..k], None),
                    Some(&c) if c == delim => break (&line[i + 1..k], Some(k + 2)),
                    Some(_) => return None,
                }
            }
        } else {
            match memchr::memchr(delim, &line[i.min(line.len())..]) {
                Some(p) => (&line[i..i + p], Some(i + p + 1)),
                None => (&line[i.min(line.len())..], None),
            }
        };
        if n < out.len() {
            out[n] = field;
        }
        n += 1;
        match next {
            Some(_) if n > out.len() => return Some(n),
            Some(j) => i = j,
            None => return Some(n),
        }
    }
}

/// Reads the fields of one line left to right, parsing numbers in the same
/// pass that finds their end (no separate split): the fast path of fixed
/// layouts (LEAN, Tardis). A field that is not a plain number falls back to
/// finding its delimiter and the general parser.
pub struct Cursor<'a> {
    b: &'a [u8],
    /// start of the next field; `b.len() + 1` once the last field was read
    i: usize,
    delim: u8,
}

impl<'a> Cursor<'a> {
    /// A cursor at the first field of `line`.
    #[inline]
    pub fn new(line: &'a [u8], delim: u8) -> Cursor<'a> {
        Cursor {
            b: line,
            i: 0,
            delim,
        }
    }

    /// Whether the next field is empty (or there is none).
    #[inline]
    pub fn next_is_empty(&self) -> bool {
        match self.b.get(self.i) {
            None => true,
            Some(&c) => c == self.delim,
        }
    }

    /// The next field, `None` past the last one.
    #[inline]
    pub fn field(&mut self) -> Option<&'a [u8]> {
        if self.i > self.b.len() {
            return None;
        }
        let rest = &self.b[self.i..];
        let end = find_byte(rest, self.delim).unwrap_or(rest.len());
        self.i += end + 1;
        Some(&rest[..end])
    }

    /// Ends a number's field at `end`: `true` if a delimiter or the line's end follows.
    #[inline(always)]
    fn finish(&mut self, end: usize) -> bool {
        match self.b.get(end) {
            None => {
                self.i = self.b.len() + 1;
                true
            }
            Some(&c) if c == self.delim => {
                self.i = end + 1;
                true
            }
            Some(_) => false,
        }
    }

    /// The next field as an unsigned integer: `Some(None)` when it is not one,
    /// `None` past the last field.
    #[inline(always)]
    pub fn u64(&mut self) -> Option<Option<u64>> {
        if self.i > self.b.len() {
            return None;
        }
        if let Some((v, end)) = super::num::leading_u64(self.b, self.i)
            && self.finish(end)
        {
            return Some(Some(v));
        }
        Some(self.field().and_then(super::num::parse_u64))
    }

    /// The next field as an unsigned integer when it is one (`Ok`), else its
    /// text (`Err`); `None` past the last field.
    #[inline]
    pub fn u64_or_text(&mut self) -> Option<Result<u64, &'a [u8]>> {
        if self.i > self.b.len() {
            return None;
        }
        if let Some((v, end)) = super::num::leading_u64(self.b, self.i)
            && self.finish(end)
        {
            return Some(Ok(v));
        }
        self.field().map(Err)
    }

    /// The next field as a decimal ([`super::num::parse_f64`]): `Some(None)` when
    /// it is not one, `None` past the last field.
    #[inline(always)]
    pub fn f64(&mut self) -> Option<Option<f64>> {
        if self.i > self.b.len() {
            return None;
        }
        if let Some((v, end)) = super::num::fast_decimal(self.b, self.i)
            && self.finish(end)
        {
            return Some(Some(v));
        }
        self.f64_slow()
    }

    /// [`Cursor::f64`] for fields that are not short plain decimals.
    #[cold]
    #[inline(never)]
    fn f64_slow(&mut self) -> Option<Option<f64>> {
        Some(self.field().and_then(super::num::parse_f64))
    }
}

impl Cursor<'_> {
    /// The next field as an optional decimal: empty → `Ok(None)`, malformed →
    /// `Err(())`; `None` past the last field.
    #[inline]
    pub fn opt_f64(&mut self) -> Option<Result<Option<f64>, ()>> {
        if self.i > self.b.len() {
            return None;
        }
        match self.b.get(self.i) {
            Some(&c) if c == self.delim => {
                self.i += 1;
                Some(Ok(None))
            }
            None => {
                self.i += 1;
                Some(Ok(None))
            }
            Some(_) => Some(self.f64()?.map(Some).ok_or(())),
        }
    }
}

/// Reads the fields of the line at the start of `b`, where `b` runs on past
/// the line (the rest of the input), finding the line's end in the same pass
/// as its fields: the fused fast path of fixed layouts, which spares the
/// separate newline search.
///
/// Every method returns `None` when the text is not what the fast path
/// handles (or the line's `\n` is not in `b`): the caller then leaves the line
/// to the line splitter and the general [`Cursor`]. Numbers are plain digit
/// runs (and short decimals) followed by their delimiter, so a number never
/// runs into the next line; text fields stop at a `\n` (`None` unless the
/// method may end the line there).
#[derive(Clone)]
pub struct Row<'a> {
    b: &'a [u8],
    /// start of the next field
    i: usize,
    delim: u8,
}

impl<'a> Row<'a> {
    /// A row cursor at the start of `b`.
    #[inline(always)]
    pub fn new(b: &'a [u8], delim: u8) -> Row<'a> {
        Row { b, i: 0, delim }
    }

    /// The delimiter at `end` ends a number field: move past it.
    #[inline(always)]
    fn delim_at(&mut self, end: usize) -> Option<()> {
        if *self.b.get(end)? != self.delim {
            return None;
        }
        self.i = end + 1;
        Some(())
    }

    /// The line's end at `end` (`\n`, or `\r\n`): the line's length through its `\n`.
    #[inline(always)]
    fn line_end_at(&self, end: usize) -> Option<usize> {
        match *self.b.get(end)? {
            b'\n' => Some(end + 1),
            b'\r' if self.b.get(end + 1) == Some(&b'\n') => Some(end + 2),
            _ => None,
        }
    }

    /// Whether the next field is empty (a delimiter follows at once).
    #[inline(always)]
    pub fn next_is_empty(&self) -> bool {
        self.b.get(self.i) == Some(&self.delim)
    }

    /// Moves past an empty field.
    #[inline(always)]
    pub fn skip_empty(&mut self) -> Option<()> {
        self.delim_at(self.i)
    }

    /// The next field, a run of at most 19 digits, and its delimiter.
    #[inline(always)]
    pub fn u64(&mut self) -> Option<u64> {
        let (v, end) = super::num::leading_u64(self.b, self.i)?;
        self.delim_at(end)?;
        Some(v)
    }

    /// The next field, a plain decimal of at most seven characters, and its delimiter.
    #[inline(always)]
    pub fn f64(&mut self) -> Option<f64> {
        let (v, end) = self.short_f64()?;
        self.delim_at(end)?;
        Some(v)
    }

    /// The next field as [`Row::f64`], and then either its delimiter (`Some((v, None))`)
    /// or the line's end (`Some((v, Some(line length through the \n)))`).
    #[inline(always)]
    pub fn f64_or_end(&mut self) -> Option<(f64, Option<usize>)> {
        let (v, end) = self.short_f64()?;
        if self.delim_at(end).is_some() {
            return Some((v, None));
        }
        Some((v, Some(self.line_end_at(end)?)))
    }

    /// The last field of the line as [`Row::f64`]: `(value, line length through the \n)`.
    #[inline(always)]
    pub fn f64_last(&mut self) -> Option<(f64, usize)> {
        let (v, end) = self.short_f64()?;
        Some((v, self.line_end_at(end)?))
    }

    #[inline(always)]
    fn short_f64(&self) -> Option<(f64, usize)> {
        let (mant, frac, len) = super::num::short_decimal(super::num::word_at(self.b, self.i))?;
        Some((super::num::scaled_f64(mant, frac), self.i + len as usize))
    }

    /// The next eight bytes (little-endian; zero bytes past the end), to match
    /// a short field and its delimiter at once.
    #[inline(always)]
    pub fn word_prefix(&self) -> u64 {
        super::num::word_at(self.b, self.i)
    }

    /// Where the next field starts.
    #[inline(always)]
    pub fn pos(&self) -> usize {
        self.i
    }

    /// Moves `n` bytes on, past a field and its delimiter matched by [`Row::word_prefix`].
    #[inline(always)]
    pub fn skip(&mut self, n: usize) {
        self.i += n;
    }

    /// The next field as text, up to its delimiter; `None` if the line ends first.
    #[inline(always)]
    pub fn text(&mut self) -> Option<&'a [u8]> {
        let p = find_either(self.b, self.i, self.delim, b'\n')?;
        if self.b[p] != self.delim {
            return None;
        }
        let f = &self.b[self.i..p];
        self.i = p + 1;
        Some(f)
    }

    /// The next field as text and, when it is the line's last, the line's
    /// length through its `\n` (the field then without a trailing `\r`, as
    /// the line splitter strips it).
    #[inline(always)]
    pub fn text_or_end(&mut self) -> Option<(&'a [u8], Option<usize>)> {
        let p = find_either(self.b, self.i, self.delim, b'\n')?;
        let f = &self.b[self.i..p];
        self.i = p + 1;
        if self.b[p] == self.delim {
            return Some((f, None));
        }
        Some((f.strip_suffix(b"\r").unwrap_or(f), Some(p + 1)))
    }

    /// The rest of the line from the next field on, in one scan: `(k, last,
    /// length)`: `k` delimiters before the line's `\n`, the text after the
    /// last of them (the line's last field, without a trailing `\r`; the whole
    /// rest when `k` is 0) and the line's length through its `\n`.
    #[inline(always)]
    pub fn rest_of_line(&mut self) -> Option<(u32, &'a [u8], usize)> {
        const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
        let pd = u64::from_ne_bytes([self.delim; 8]);
        let pn = u64::from_ne_bytes([b'\n'; 8]);
        let zero = |x: u64| !(((x & LO7).wrapping_add(LO7)) | x | LO7);
        let mut i = self.i;
        let mut k = 0;
        let mut last = self.i;
        while i < self.b.len() {
            let w = super::num::word_at(self.b, i);
            let nl = zero(w ^ pn);
            // delimiters before the '\n' (all of them if none)
            let d = zero(w ^ pd) & nl.wrapping_sub(1) & !nl;
            if d != 0 {
                k += d.count_ones();
                last = i + (63 - d.leading_zeros() as usize) / 8 + 1;
            }
            if nl != 0 {
                let p = i + (nl.trailing_zeros() / 8) as usize;
                // past the end of `b` the word holds zero bytes, never '\n'
                let f = &self.b[last.min(p)..p];
                self.i = p + 1;
                return Some((k, f.strip_suffix(b"\r").unwrap_or(f), p + 1));
            }
            i += 8;
        }
        None
    }

    /// The line's length through its `\n`, the rest of the line unread.
    #[inline(always)]
    pub fn line_end(&self) -> Option<usize> {
        Some(find_byte(self.b.get(self.i..)?, b'\n')? + self.i + 1)
    }
}

/// The first `a` or `b` in `s` from `s[i]` on (eight bytes per step).
#[inline(always)]
fn find_either(s: &[u8], mut i: usize, a: u8, b: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pa = u64::from_ne_bytes([a; 8]);
    let pb = u64::from_ne_bytes([b; 8]);
    while i < s.len() {
        let w = super::num::word_at(s, i);
        let (x, y) = (w ^ pa, w ^ pb);
        // zero-byte tests: the lowest bit set is exact (a borrow only runs
        // upward from a true zero byte), and only the lowest is used
        let mask = ((x.wrapping_sub(ONES) & !x) | (y.wrapping_sub(ONES) & !y)) & HI;
        if mask != 0 {
            // past the end of `s` the word holds zero bytes: a or b only if one of them is 0
            let p = i + (mask.trailing_zeros() / 8) as usize;
            return (p < s.len()).then_some(p);
        }
        i += 8;
    }
    None
}

/// The first `c` in `b` (eight bytes per step).
#[inline]
pub fn find_byte(b: &[u8], c: u8) -> Option<usize> {
    const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let pattern = u64::from_ne_bytes([c; 8]);
    let mut i = 0;
    while i + 8 <= b.len() {
        let x = load8(&b[i..]) ^ pattern;
        let mask = !(((x & LO7).wrapping_add(LO7)) | x | LO7);
        if mask != 0 {
            return Some(i + (mask.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..].iter().position(|&x| x == c).map(|p| i + p)
}

/// ASCII case-insensitive equality.
#[inline]
pub fn eq_ci(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Trims ASCII spaces and tabs on both sides.
#[inline]
pub fn trim(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swar_split_matches_naive() {
        let lines: [&[u8]; 6] = [
            b"binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.132",
            b",,,,,,,,,,,,,,,,,",
            b"-,-,\x2c\x2d,",
            b"no delimiter at all here",
            b"\x2c\xac\x2d\x01\x00,\xff",
            b"",
        ];
        for line in lines {
            for slots in [1usize, 3, 8, 32] {
                let mut f = vec![&b""[..]; slots];
                let n = split(line, b',', &mut f);
                let want: Vec<&[u8]> = line.split(|&b| b == b',').collect();
                assert_eq!(n, want.len().min(slots + 1));
                assert_eq!(&f[..n.min(slots)], &want[..n.min(slots)]);
            }
        }
    }

    #[test]
    fn cursor_reads_like_split() {
        let line =
            b"binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.132";
        let mut c = Cursor::new(line, b',');
        assert_eq!(c.field(), Some(&b"binance-futures"[..]));
        assert_eq!(c.field(), Some(&b"BTCUSDT"[..]));
        assert_eq!(c.u64(), Some(Some(1582329602111000)));
        assert_eq!(c.u64(), Some(Some(1582329602418379)));
        assert_eq!(c.u64(), Some(Some(42377944)));
        assert_eq!(c.u64(), Some(None), "buy is not a number");
        assert_eq!(c.f64(), Some(Some(9682.0)));
        assert!(!c.next_is_empty());
        assert_eq!(c.f64(), Some(Some(0.132)));
        assert!(c.next_is_empty());
        assert_eq!(c.f64(), None);
        let mut c = Cursor::new(b"-1.5,1e3,,7x,", b',');
        assert_eq!(c.f64(), Some(Some(-1.5)));
        assert_eq!(c.f64(), Some(Some(1000.0)));
        assert_eq!(c.f64(), Some(None));
        assert_eq!(c.u64(), Some(None));
        assert_eq!(c.field(), Some(&b""[..]));
        assert_eq!(c.field(), None);
        let mut c = Cursor::new(b",1.5,x,", b',');
        assert_eq!(c.opt_f64(), Some(Ok(None)));
        assert_eq!(c.opt_f64(), Some(Ok(Some(1.5))));
        assert_eq!(c.opt_f64(), Some(Err(())));
        assert_eq!(c.opt_f64(), Some(Ok(None)));
        assert_eq!(c.opt_f64(), None);
        assert_eq!(find_byte(b"abcdefghijklmnop,", b','), Some(16));
        assert_eq!(find_byte(b"abc", b','), None);
    }

    #[test]
    fn splits() {
        let mut f = [&b""[..]; 4];
        assert_eq!(split(b"a,b,,c", b',', &mut f), 4);
        assert_eq!(f, [&b"a"[..], b"b", b"", b"c"]);
        assert_eq!(split(b"", b',', &mut f), 1);
        assert_eq!(split(b"a,b,c,d,e,f", b',', &mut f), 5);
        let mut g = [&b""[..]; 3];
        assert_eq!(
            split_quoted(br#""x,y",2,"a""b""#, b',', b'"', &mut g),
            Some(3)
        );
        assert_eq!(g, [&b"x,y"[..], b"2", br#"a""b"#]);
        assert_eq!(split_quoted(br#""x"#, b',', b'"', &mut g), None);
        assert_eq!(split_quoted(br#""x"y,2"#, b',', b'"', &mut g), None);
        assert_eq!(split_quoted(b"1,2,3,4,5", b',', b'"', &mut g), Some(4));
        assert_eq!(split_quoted(b"1,", b',', b'"', &mut g), Some(2));
        assert_eq!(g[1], b"");
        assert_eq!(trim(b" \tx y \t"), b"x y");
    }
}
