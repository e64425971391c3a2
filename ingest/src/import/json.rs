//! A minimal, allocation-free reader of flat JSON objects, enough for venue
//! messages: iterates an object's members, giving each value as a raw slice.
//! Nested values are skipped by bracket counting (no recursion, so no depth
//! limit is needed); string escapes are not decoded, which is fine for the
//! numeric strings and ASCII names venues send.

/// One JSON value, undecoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A string's bytes between the quotes (escapes kept as written).
    Str(&'a [u8]),
    /// A number as written.
    Num(&'a [u8]),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object, braces included.
    Obj(&'a [u8]),
    /// An array, brackets included.
    Arr(&'a [u8]),
}

impl<'a> Value<'a> {
    /// The string's bytes, or a number's text (venues quote numbers either way).
    #[inline]
    pub fn text(&self) -> Option<&'a [u8]> {
        match *self {
            Value::Str(s) | Value::Num(s) => Some(s),
            _ => None,
        }
    }
}

/// Iterates the members of the object `b` (which must start with `{`).
pub struct Members<'a> {
    b: &'a [u8],
    i: usize,
    first: bool,
    done: bool,
}

impl<'a> Members<'a> {
    /// Members of the object at the start of `b` (leading whitespace allowed);
    /// `None` if `b` does not start with an object.
    pub fn new(b: &'a [u8]) -> Option<Members<'a>> {
        let i = skip_ws(b, 0);
        (b.get(i) == Some(&b'{')).then_some(Members {
            b,
            i: i + 1,
            first: true,
            done: false,
        })
    }

    /// The next `(key, value)`; `Some(Err(()))` on malformed input (then stops).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<(&'a [u8], Value<'a>), ()>> {
        if self.done {
            return None;
        }
        let r = self.step();
        match r {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(()) => {
                self.done = true;
                Some(Err(()))
            }
        }
    }

    fn step(&mut self) -> Result<Option<(&'a [u8], Value<'a>)>, ()> {
        let b = self.b;
        let mut i = skip_ws(b, self.i);
        match b.get(i) {
            Some(b'}') => return Ok(None),
            Some(b',') if !self.first => i = skip_ws(b, i + 1),
            Some(b'"') if self.first => {}
            _ => return Err(()),
        }
        self.first = false;
        if b.get(i) != Some(&b'"') {
            return Err(());
        }
        let (key, j) = string_at(b, i)?;
        i = skip_ws(b, j);
        if b.get(i) != Some(&b':') {
            return Err(());
        }
        i = skip_ws(b, i + 1);
        let (v, j) = value_at(b, i)?;
        self.i = j;
        Ok(Some((key, v)))
    }
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// The string starting at the quote `b[i]`: its content and the index after the closing quote.
#[inline]
fn string_at(b: &[u8], i: usize) -> Result<(&[u8], usize), ()> {
    let mut j = i + 1;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', b.get(j..).ok_or(())?).ok_or(())?;
        if b[k] == b'"' {
            return Ok((&b[i + 1..k], k + 1));
        }
        // a backslash escapes the next byte
        j = k + 2;
    }
}

fn value_at(b: &[u8], i: usize) -> Result<(Value<'_>, usize), ()> {
    match b.get(i).ok_or(())? {
        b'"' => {
            let (s, j) = string_at(b, i)?;
            Ok((Value::Str(s), j))
        }
        b't' if b[i..].starts_with(b"true") => Ok((Value::Bool(true), i + 4)),
        b'f' if b[i..].starts_with(b"false") => Ok((Value::Bool(false), i + 5)),
        b'n' if b[i..].starts_with(b"null") => Ok((Value::Null, i + 4)),
        b'{' | b'[' => {
            let j = skip_nested(b, i)?;
            let v = &b[i..j];
            Ok((
                if b[i] == b'{' {
                    Value::Obj(v)
                } else {
                    Value::Arr(v)
                },
                j,
            ))
        }
        b'-' | b'0'..=b'9' => {
            let mut j = i + 1;
            while j < b.len() && matches!(b[j], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                j += 1;
            }
            Ok((Value::Num(&b[i..j]), j))
        }
        _ => Err(()),
    }
}

/// The index after the object or array starting at `b[i]`.
fn skip_nested(b: &[u8], i: usize) -> Result<usize, ()> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1).ok_or(())?;
                if depth == 0 {
                    return Ok(j + 1);
                }
            }
            b'"' => {
                let (_, k) = string_at(b, j)?;
                j = k;
                continue;
            }
            _ => {}
        }
        j += 1;
    }
    Err(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(b: &[u8]) -> Result<Vec<(Vec<u8>, Value<'_>)>, ()> {
        let mut m = Members::new(b).ok_or(())?;
        let mut out = Vec::new();
        while let Some(kv) = m.next() {
            let (k, v) = kv?;
            out.push((k.to_vec(), v));
        }
        Ok(out)
    }

    #[test]
    fn members() {
        let m = all(br#" {"stream":"x@trade","data":{"e":"trade","p":"1.5","m":true,"a":[["1","2"]],"s":"a\"b"},"n":-1.5e3,"z":null} "#).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[0], (b"stream".to_vec(), Value::Str(b"x@trade")));
        let Value::Obj(d) = m[1].1 else { panic!() };
        let inner = all(d).unwrap();
        assert_eq!(inner[2], (b"m".to_vec(), Value::Bool(true)));
        assert_eq!(inner[3].1, Value::Arr(br#"[["1","2"]]"#));
        assert_eq!(inner[4].1, Value::Str(br#"a\"b"#));
        assert_eq!(m[2].1, Value::Num(b"-1.5e3"));
        assert_eq!(m[3].1, Value::Null);
        assert_eq!(all(b"{}").unwrap().len(), 0);
        for bad in [
            &b"{"[..],
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":[1,2}",
            b"{\"a\":\"x",
            b"[1]",
            b"{\"a\":1 \"b\":2}",
            b"{\"a\":]",
        ] {
            assert!(all(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
