//! Finding the API key a request presents, where `key-auth` says to look: for each key name in
//! order, a header, then a query parameter, then a top-level member of a JSON body (Kong's
//! order). The first one present wins; a name given twice in one place is Kong's 401
//! `Duplicate API key found`.
//!
//! A key is returned as a slice of the request when it was sent as is; percent-encoded query
//! values and escaped JSON strings are decoded into the caller's buffer instead, so finding a
//! key never allocates once that buffer has grown.

use crate::body::{find_member, unescape_str, Member, MemberLookup};
use crate::config::access::KeyAuth;
use crate::http1::RequestHead;
use std::ops::Range;

/// Where a key was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The header of this name (every header of that name is hidden from the provider).
    Header,
    Query,
    /// This member of the body (cut out before the body goes upstream).
    Body(Member),
}

/// A key and where it came from.
#[derive(Debug, PartialEq, Eq)]
pub struct Presented<'a> {
    /// The key name (as configured) it was found under.
    pub name: &'a str,
    pub place: Place,
    pub key: KeyBytes,
}

/// The key's bytes: in the request's head or body, or in the decoding buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyBytes {
    Head(Range<usize>),
    Body(Range<usize>),
    Decoded,
}

/// What looking for a key gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Search<'a> {
    Found(Presented<'a>),
    /// The same key name more than once in one place (Kong: 401).
    Duplicate,
    /// Nowhere in the places searched.
    Missing,
}

/// Looks in the head only (`body: None`) or in the head and then the body. `decoded` receives a
/// key that had to be decoded.
pub fn search<'a>(
    conf: &'a KeyAuth,
    head: &RequestHead,
    body: Option<&[u8]>,
    decoded: &mut Vec<u8>,
) -> Search<'a> {
    for name in &conf.key_names {
        if conf.in_header {
            match in_header(head, name) {
                Search::Missing => {}
                Search::Found(p) => return Search::Found(p),
                Search::Duplicate => return Search::Duplicate,
            }
        }
        if conf.in_query {
            match in_query(head, name, decoded) {
                Search::Missing => {}
                other => return other,
            }
        }
        if conf.in_body {
            if let Some(body) = body {
                match in_body(body, name, decoded) {
                    Search::Missing => {}
                    other => return other,
                }
            }
        }
    }
    Search::Missing
}

/// A header named `name`. Under `authorization`, `Bearer <key>` presents `<key>` (what every
/// OpenAI SDK sends); any other value is the key as it is.
fn in_header<'a>(head: &RequestHead, name: &'a str) -> Search<'a> {
    let mut found = None;
    for h in &head.headers {
        if !head.header_name(h).eq_ignore_ascii_case(name.as_bytes()) {
            continue;
        }
        if found.is_some() {
            return Search::Duplicate;
        }
        found = Some(h.value.clone());
    }
    let Some(mut value) = found else {
        return Search::Missing;
    };
    if name.eq_ignore_ascii_case("authorization") {
        let v = &head.raw[value.clone()];
        if v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") {
            let skip = 7 + v[7..].iter().take_while(|b| **b == b' ').count();
            value.start += skip;
        }
    }
    if value.is_empty() {
        return Search::Missing;
    }
    Search::Found(Presented {
        name,
        place: Place::Header,
        key: KeyBytes::Head(value),
    })
}

/// A query parameter named `name` with a value (`?apikey` alone is not a key, as in Kong).
fn in_query<'a>(head: &RequestHead, name: &'a str, decoded: &mut Vec<u8>) -> Search<'a> {
    let target = head.target();
    let Some(q) = target.find('?') else {
        return Search::Missing;
    };
    let query = &target[q + 1..];
    let base = crate::http1::headers::locate(&head.raw, query.as_bytes(), 0).start;
    if base == 0 {
        return Search::Missing;
    }
    let query = query.split('#').next().unwrap_or(query);
    let mut found: Option<Range<usize>> = None;
    let mut at = base;
    for part in query.split('&') {
        let start = at;
        at += part.len() + 1;
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        if !percent_eq(k.as_bytes(), name.as_bytes()) {
            continue;
        }
        if found.is_some() {
            return Search::Duplicate;
        }
        let value_start = start + k.len() + 1;
        found = Some(value_start..value_start + v.len());
    }
    let Some(range) = found else {
        return Search::Missing;
    };
    let raw = &head.raw[range.clone()];
    let key = if raw.iter().any(|b| *b == b'%' || *b == b'+') {
        decoded.clear();
        percent_decode(raw, decoded);
        KeyBytes::Decoded
    } else {
        KeyBytes::Head(range)
    };
    Search::Found(Presented {
        name,
        place: Place::Query,
        key,
    })
}

/// A top-level string member named `name` of a JSON object body.
fn in_body<'a>(body: &[u8], name: &'a str, decoded: &mut Vec<u8>) -> Search<'a> {
    match find_member(body, name) {
        MemberLookup::Found(m) => {
            let v = &body[m.value.clone()];
            if v.len() < 2 || v[0] != b'"' {
                return Search::Missing;
            }
            let inner = m.value.start + 1..m.value.end - 1;
            let key = if body[inner.clone()].contains(&b'\\') {
                match unescape_str(&body[inner]) {
                    Some(s) => {
                        decoded.clear();
                        decoded.extend_from_slice(s.as_bytes());
                        KeyBytes::Decoded
                    }
                    None => return Search::Missing,
                }
            } else {
                KeyBytes::Body(inner)
            };
            Search::Found(Presented {
                name,
                place: Place::Body(m),
                key,
            })
        }
        MemberLookup::Duplicate => Search::Duplicate,
        MemberLookup::Absent | MemberLookup::NotAnObject => Search::Missing,
    }
}

/// `raw` (a query name) equals `name` once percent-decoded (`+` is a space).
fn percent_eq(raw: &[u8], name: &[u8]) -> bool {
    if !raw.iter().any(|b| *b == b'%' || *b == b'+') {
        return raw == name;
    }
    let mut decoded = Vec::with_capacity(raw.len());
    percent_decode(raw, &mut decoded);
    decoded == name
}

/// Appends `raw` percent-decoded to `out` (`+` as a space, as in a form-encoded query; a `%`
/// not followed by two hex digits is kept as it is).
fn percent_decode(raw: &[u8], out: &mut Vec<u8>) {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
}

impl Presented<'_> {
    /// The key's bytes, given the request's head, body and the decoding buffer.
    pub fn bytes<'b>(&self, head: &'b RequestHead, body: &'b [u8], decoded: &'b [u8]) -> &'b [u8] {
        match &self.key {
            KeyBytes::Head(r) => head.raw.get(r.clone()).unwrap_or_default(),
            KeyBytes::Body(r) => body.get(r.clone()).unwrap_or_default(),
            KeyBytes::Decoded => decoded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::{Limits, RequestHead};

    fn head(text: &str) -> RequestHead {
        let mut h = RequestHead::default();
        let raw = text.replace('\n', "\r\n") + "\r\n";
        let parsed = RequestHead::parse_into(raw.as_bytes(), &Limits::default(), &mut h);
        assert!(matches!(parsed, Ok(Some(_))), "{parsed:?}");
        h
    }

    fn conf(names: &[&str], body: bool) -> KeyAuth {
        KeyAuth {
            id: "k".into(),
            key_names: names.iter().map(|s| s.to_string()).collect(),
            in_header: true,
            in_query: true,
            in_body: body,
            run_on_preflight: true,
            anonymous: None,
            www_authenticate: "Key".into(),
        }
    }

    fn key(conf: &KeyAuth, h: &RequestHead, body: &[u8]) -> Option<String> {
        let mut buf = Vec::new();
        match search(conf, h, Some(body), &mut buf) {
            Search::Found(p) => Some(String::from_utf8_lossy(p.bytes(h, body, &buf)).into_owned()),
            Search::Duplicate => Some("DUP".into()),
            Search::Missing => None,
        }
    }

    #[test]
    fn header_query_body_in_kongs_order() {
        let c = conf(&["apikey", "authorization"], true);
        let h = head("POST /v1?x=1&apikey=q%2Bk HTTP/1.1\nHost: a\nApiKey: h-key\n");
        assert_eq!(key(&c, &h, b"{}").as_deref(), Some("h-key"));
        let h = head("POST /v1?x=1&apikey=q%2Bk+x HTTP/1.1\nHost: a\n");
        assert_eq!(key(&c, &h, b"{}").as_deref(), Some("q+k x"));
        let h = head("POST /v1 HTTP/1.1\nHost: a\n");
        assert_eq!(
            key(&c, &h, br#"{"a":1,"apikey":"b-key"}"#).as_deref(),
            Some("b-key")
        );
        assert_eq!(
            key(&c, &h, br#"{"apikey":"b\u002dkey"}"#).as_deref(),
            Some("b-key")
        );
        assert_eq!(key(&c, &h, br#"{"apikey":5}"#), None);
        let h = head("POST /v1 HTTP/1.1\nHost: a\nAuthorization: Bearer  sk-1\n");
        assert_eq!(key(&c, &h, b"{}").as_deref(), Some("sk-1"));
        let h = head("POST /v1 HTTP/1.1\nHost: a\nAuthorization: sk-2\n");
        assert_eq!(key(&c, &h, b"{}").as_deref(), Some("sk-2"));
    }

    #[test]
    fn duplicates_and_absence() {
        let c = conf(&["apikey"], true);
        let h = head("POST / HTTP/1.1\nHost: a\napikey: a\nAPIKEY: b\n");
        assert_eq!(key(&c, &h, b"{}").as_deref(), Some("DUP"));
        let h = head("POST /?apikey=a&apikey=b HTTP/1.1\nHost: a\n");
        assert_eq!(key(&c, &h, b"{}").as_deref(), Some("DUP"));
        let h = head("POST /?apikey HTTP/1.1\nHost: a\n");
        assert_eq!(key(&c, &h, b"{}"), None);
        let h = head("POST / HTTP/1.1\nHost: a\n");
        assert_eq!(
            key(&c, &h, br#"{"apikey":"a","apikey":"b"}"#).as_deref(),
            Some("DUP")
        );
        let c = conf(&["apikey"], false);
        assert_eq!(key(&c, &h, br#"{"apikey":"a"}"#), None);
    }
}
