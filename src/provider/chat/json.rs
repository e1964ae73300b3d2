//! A small JSON writer for the translators: objects and arrays that place their own commas,
//! string tokens escaped by [`crate::body::push_quoted`], and raw tokens copied as given.
//!
//! Hand-written rather than serde: the output is mostly raw tokens borrowed from the input, which
//! a serializer would have to decode first to re-encode them.

use crate::body::push_quoted;
use serde_json::value::RawValue;

/// Writes members of one JSON object; `{` is written on creation, `}` by [`Obj::end`].
pub struct Obj<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl<'o> Obj<'o> {
    pub fn new(out: &'o mut Vec<u8>) -> Obj<'o> {
        out.push(b'{');
        Obj { out, empty: true }
    }

    /// Starts member `key` and hands back the output for its value.
    pub fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        push_quoted(key, self.out);
        self.out.push(b':');
        self.out
    }

    /// A member whose value is a string (escaped here).
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        let out = self.key(key);
        push_quoted(value, out);
        self
    }

    /// A member whose value is already JSON text (a raw token, a literal, a number).
    pub fn raw(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key).extend_from_slice(value.as_bytes());
        self
    }

    /// A member copied from the input as it was.
    pub fn token(&mut self, key: &str, value: &RawValue) -> &mut Self {
        self.raw(key, value.get())
    }

    pub fn num(&mut self, key: &str, value: u64) -> &mut Self {
        let out = self.key(key);
        push_u64(out, value);
        self
    }

    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    /// A nested object member.
    pub fn obj(&mut self, key: &str) -> Obj<'_> {
        Obj::new(self.key(key))
    }

    /// A nested array member.
    pub fn arr(&mut self, key: &str) -> Arr<'_> {
        Arr::new(self.key(key))
    }

    /// Closes the object (once; takes `&mut self` so a chain of member calls can end with it).
    pub fn end(&mut self) {
        self.out.push(b'}');
    }
}

/// Writes the elements of one JSON array; `[` on creation, `]` by [`Arr::end`].
pub struct Arr<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl<'o> Arr<'o> {
    pub fn new(out: &'o mut Vec<u8>) -> Arr<'o> {
        out.push(b'[');
        Arr { out, empty: true }
    }

    /// Starts the next element and hands back the output for it.
    pub fn item(&mut self) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out
    }

    pub fn obj(&mut self) -> Obj<'_> {
        Obj::new(self.item())
    }

    pub fn str(&mut self, value: &str) {
        push_quoted(value, self.item());
    }

    pub fn raw(&mut self, value: &str) {
        self.item().extend_from_slice(value.as_bytes());
    }

    /// Closes the array (once).
    pub fn end(&mut self) {
        self.out.push(b']');
    }
}

/// A decimal number, without going through `fmt`.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_and_nesting() {
        let mut out = Vec::new();
        let mut o = Obj::new(&mut out);
        o.str("a", "x\"y").num("n", 10).bool("b", false);
        {
            let mut arr = o.arr("list");
            arr.str("p");
            arr.raw("1");
            let mut inner = arr.obj();
            inner.raw("k", "null");
            inner.end();
            arr.end();
        }
        o.obj("e").end();
        o.end();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x\"y","n":10,"b":false,"list":["p",1,{"k":null}],"e":{}}"#
        );
        let mut n = Vec::new();
        push_u64(&mut n, 0);
        n.push(b' ');
        push_u64(&mut n, u64::MAX);
        assert_eq!(n, b"0 18446744073709551615");
    }
}
