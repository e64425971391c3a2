//! Splitting a line into fields without allocating.

/// Splits `line` at `delim` into `out`, returning how many fields the line has
/// (counted up to `out.len() + 1`: more fields than slots shows as `len + 1`,
/// the extra ones are not stored).
#[inline]
pub fn split<'a>(line: &'a [u8], delim: u8, out: &mut [&'a [u8]]) -> usize {
    let mut n = 0;
    let mut start = 0;
    for pos in memchr::memchr_iter(delim, line) {
        if n == out.len() {
            return n + 1;
        }
        out[n] = &line[start..pos];
        n += 1;
        start = pos + 1;
    }
    if n == out.len() {
        return n + 1;
    }
    out[n] = &line[start..];
    n + 1
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
