//! Byte-level JSON helpers on the ORIGINAL body, plus a strict slow validator and a slow
//! top-level walker.
//!
//! The fast path (simd-json's tape) gives us pointers into a mutated copy; these helpers turn
//! them into exact ranges of the original bytes. The slow walker exists for the two cases the
//! tape cannot serve: numbers simd-json refuses although RFC 8259 allows them, and any
//! inconsistency between the tape and the bytes (which would be a simd-json change we did not
//! expect: better slow than wrong). Tests also use it as an independent oracle for the fast path.

use std::ops::Range;

use super::scan::{BodyFacts, ModelValue};
use super::ScanError;

/// Same limit as simd-json's default, so both paths accept the same documents.
const MAX_DEPTH: usize = 1024;

pub(super) fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

pub(super) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

/// Index just after the last non-whitespace byte before `end`.
pub(super) fn trim_back(b: &[u8], mut end: usize) -> usize {
    while end > 0 && is_ws(b[end - 1]) {
        end -= 1;
    }
    end
}

/// `start` is just after an opening quote; returns the index just after the closing quote.
/// Only `\` needs care: every escape is a backslash plus at least one byte, and the byte after
/// a backslash is never the closing quote.
pub(super) fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// `key_start` is just after a key's opening quote: returns where its value starts.
pub(super) fn value_start(b: &[u8], key_start: usize) -> Option<usize> {
    let i = skip_ws(b, string_end(b, key_start)?);
    (b.get(i) == Some(&b':')).then(|| skip_ws(b, i + 1))
}

/// End of a member's value, given the opening quote of the next key (a `,` precedes it).
pub(super) fn end_before_next_key(b: &[u8], next_quote: usize) -> Option<usize> {
    let comma = trim_back(b, next_quote).checked_sub(1)?;
    (b[comma] == b',').then(|| trim_back(b, comma))
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let digits = std::str::from_utf8(b.get(i..i + 4)?).ok()?;
    if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// Decodes a `\u` escape at `i` (pointing at the backslash), pairing surrogates as simd-json
/// does (a lone surrogate is an error there, so it is here). Returns the char and its length.
fn unicode_escape(b: &[u8], i: usize) -> Option<(char, usize)> {
    let hi = hex4(b, i + 2)?;
    match hi {
        0xD800..=0xDBFF => {
            if b.get(i + 6..i + 8)? != b"\\u" {
                return None;
            }
            let lo = hex4(b, i + 8)?;
            if !(0xDC00..=0xDFFF).contains(&lo) {
                return None;
            }
            Some((
                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?,
                12,
            ))
        }
        0xDC00..=0xDFFF => None,
        _ => Some((char::from_u32(hi)?, 6)),
    }
}

/// The content of a JSON string token (without its quotes), unescaped; `None` when an escape
/// is invalid.
pub fn unescape_str(raw: &[u8]) -> Option<String> {
    unescape(raw)
}

/// Unescapes the content of a JSON string (without its quotes).
pub(super) fn unescape(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let short = match *raw.get(i + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let (ch, len) = unicode_escape(raw, i)?;
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                i += len;
                continue;
            }
            _ => return None,
        };
        out.push(short);
        i += 2;
    }
    String::from_utf8(out).ok()
}

/// Strict RFC 8259 validation with simd-json's depth limit. `Err` holds the offset of the
/// first offending byte. Used only when simd-json refuses a number, so speed does not matter.
pub(super) fn validate(b: &[u8]) -> Result<(), usize> {
    std::str::from_utf8(b).map_err(|e| e.valid_up_to())?;
    let mut stack: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut want_value = true;
    loop {
        i = skip_ws(b, i);
        if want_value {
            match b.get(i).copied() {
                Some(open @ (b'{' | b'[')) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(i);
                    }
                    let close = if open == b'{' { b'}' } else { b']' };
                    let j = skip_ws(b, i + 1);
                    if b.get(j) == Some(&close) {
                        i = j + 1;
                        want_value = false;
                    } else if open == b'{' {
                        stack.push(open);
                        i = checked_key(b, j)?;
                    } else {
                        stack.push(open);
                        i = j;
                    }
                    continue;
                }
                Some(b'"') => i = checked_string(b, i + 1)?,
                Some(b't') if b[i..].starts_with(b"true") => i += 4,
                Some(b'f') if b[i..].starts_with(b"false") => i += 5,
                Some(b'n') if b[i..].starts_with(b"null") => i += 4,
                Some(b'-' | b'0'..=b'9') => i = checked_number(b, i)?,
                _ => return Err(i),
            }
            want_value = false;
            continue;
        }
        match (stack.last(), b.get(i)) {
            (None, None) => return Ok(()),
            (Some(b'{'), Some(b',')) => i = checked_key(b, skip_ws(b, i + 1))?,
            (Some(b'['), Some(b',')) => i += 1,
            (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']')) => {
                stack.pop();
                i += 1;
                continue;
            }
            _ => return Err(i),
        }
        want_value = true;
    }
}

/// A key at `i` followed by `:`; returns the index after the colon.
fn checked_key(b: &[u8], i: usize) -> Result<usize, usize> {
    if b.get(i) != Some(&b'"') {
        return Err(i);
    }
    let j = skip_ws(b, checked_string(b, i + 1)?);
    if b.get(j) == Some(&b':') {
        Ok(j + 1)
    } else {
        Err(j)
    }
}

fn checked_string(b: &[u8], mut i: usize) -> Result<usize, usize> {
    loop {
        match b.get(i).copied() {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => i += unicode_escape(b, i).ok_or(i)?.1,
                _ => return Err(i),
            },
            Some(0x00..=0x1f) | None => return Err(i),
            Some(_) => i += 1,
        }
    }
}

fn checked_number(b: &[u8], mut i: usize) -> Result<usize, usize> {
    let digits = |b: &[u8], mut i: usize| -> Result<usize, usize> {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            Err(i)
        } else {
            Ok(i)
        }
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = if b.get(i) == Some(&b'0') {
        i + 1
    } else {
        digits(b, i)?
    };
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Ok(i)
}

/// End of the (valid) value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i + 1),
        b'{' | b'[' => {
            let (mut j, mut depth) = (i, 0usize);
            loop {
                match *b.get(j)? {
                    b'"' => j = string_end(b, j + 1)?,
                    b'{' | b'[' => {
                        depth += 1;
                        j += 1;
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        j += 1;
                        if depth == 0 {
                            return Some(j);
                        }
                    }
                    _ => j += 1,
                }
            }
        }
        _ => {
            let len = b[i..]
                .iter()
                .position(|&c| matches!(c, b',' | b'}' | b']') || is_ws(c));
            Some(len.map_or(b.len(), |n| i + n))
        }
    }
}

/// Members of the (valid) object whose `{` is at `open`: (key content, value) ranges.
fn members(b: &[u8], open: usize) -> Option<Vec<(Range<usize>, Range<usize>)>> {
    let mut out = Vec::new();
    let mut i = skip_ws(b, open + 1);
    if b.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(b, i + 1)?;
        let start = value_start(b, i + 1)?;
        let end = skip_value(b, start)?;
        out.push((i + 1..key_end - 1, start..end));
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Some(out),
            _ => return None,
        }
    }
}

/// A top-level member of a JSON object body, found by [`find_member`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The value, as written (a string keeps its quotes).
    pub value: Range<usize>,
    /// What to cut to remove the member and one separating comma, leaving valid JSON.
    pub span: Range<usize>,
    /// It is the object's only member (removing it leaves `{}`).
    pub only: bool,
}

/// What [`find_member`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberLookup {
    Absent,
    Found(Member),
    /// The name appears more than once at the top level.
    Duplicate,
    /// The body is not a JSON object.
    NotAnObject,
}

/// The top-level member named `key` (compared after unescaping) of the JSON object in `b`,
/// walking the bytes once without allocating (an escaped key is unescaped to compare). The
/// body need not have been validated: anything the walk cannot follow is `NotAnObject`.
pub fn find_member(b: &[u8], key: &str) -> MemberLookup {
    let open = skip_ws(b, 0);
    if b.get(open) != Some(&b'{') {
        return MemberLookup::NotAnObject;
    }
    let mut i = skip_ws(b, open + 1);
    if b.get(i) == Some(&b'}') {
        return MemberLookup::Absent;
    }
    // (key quote, value end) of the previous member, and of the match once found.
    let mut prev_end: Option<usize> = None;
    let mut found: Option<(usize, usize, Option<usize>)> = None;
    let mut next_after_found: Option<usize> = None;
    loop {
        if b.get(i) != Some(&b'"') {
            return MemberLookup::NotAnObject;
        }
        let Some(key_end) = string_end(b, i + 1) else {
            return MemberLookup::NotAnObject;
        };
        let (Some(start), raw_key) = (value_start(b, i + 1), &b[i + 1..key_end - 1]) else {
            return MemberLookup::NotAnObject;
        };
        let Some(end) = skip_value(b, start) else {
            return MemberLookup::NotAnObject;
        };
        if found.is_some() && next_after_found.is_none() {
            next_after_found = Some(i);
        }
        let same = if raw_key.contains(&b'\\') {
            unescape(raw_key).is_some_and(|k| k == key)
        } else {
            raw_key == key.as_bytes()
        };
        if same {
            if found.is_some() {
                return MemberLookup::Duplicate;
            }
            found = Some((i, end, prev_end));
        }
        prev_end = Some(end);
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => break,
            _ => return MemberLookup::NotAnObject,
        }
    }
    let Some((quote, end, before)) = found else {
        return MemberLookup::Absent;
    };
    let (span, only) = match (next_after_found, before) {
        (Some(next), _) => (quote..next, false),
        (None, Some(prev)) => (prev..end, false),
        (None, None) => (quote..end, true),
    };
    let value_start = value_start(b, quote + 1).unwrap_or(end);
    MemberLookup::Found(Member {
        value: value_start..end,
        span,
        only,
    })
}

/// Value ranges of every top-level member named `key` (compared after unescaping) of a body
/// the scanner accepted (`facts` are its facts). A second, byte-level pass: only targets that
/// put a credential in the body need it.
pub fn member_values(b: &[u8], facts: &BodyFacts, key: &str) -> Vec<Range<usize>> {
    let Some(open) = facts.object_open.checked_sub(1) else {
        return Vec::new();
    };
    members(b, open)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| unescape(&b[k.clone()]).is_some_and(|k| k == key))
        .map(|(_, v)| v)
        .collect()
}

/// The same facts as the tape walk, from the bytes alone. `b` must already be valid JSON.
pub(super) fn scan_slow(b: &[u8]) -> Result<BodyFacts, ScanError> {
    let broken = ScanError::NotJson { offset: None };
    let open = skip_ws(b, 0);
    if b.get(open) != Some(&b'{') {
        return Err(if open < b.len() {
            ScanError::NotObject
        } else {
            broken
        });
    }
    let top = members(b, open).ok_or(broken.clone())?;
    let mut f = BodyFacts {
        object_open: open + 1,
        object_empty: top.is_empty(),
        ..BodyFacts::default()
    };
    let (mut seen_stream, mut seen_options) = (false, false);
    for (key, val) in top {
        let bytes = &b[val.clone()];
        match unescape(&b[key]).ok_or(broken.clone())?.as_str() {
            "model" => {
                if f.model.is_some() || f.model_null.is_some() {
                    return Err(ScanError::DuplicateModel);
                }
                if bytes == b"null" {
                    f.model_null = Some(val);
                    continue;
                }
                if bytes[0] != b'"' {
                    return Err(ScanError::ModelNotString);
                }
                let value = unescape(&bytes[1..bytes.len() - 1]).ok_or(broken.clone())?;
                f.model = Some(ModelValue { value, raw: val });
            }
            "stream" if seen_stream => return Err(ScanError::DuplicateKey("stream")),
            "stream" => {
                seen_stream = true;
                f.stream = bytes == b"true";
                f.stream_range = Some(val);
            }
            "stream_options" if seen_options => {
                return Err(ScanError::DuplicateKey("stream_options"))
            }
            "stream_options" => {
                seen_options = true;
                f.has_stream_options = true;
                f.stream_options_range = Some(val.clone());
                if bytes[0] == b'{' {
                    f.stream_options_is_object = true;
                    let inner = members(b, val.start).ok_or(broken.clone())?;
                    f.stream_options_empty = inner.is_empty();
                    for (k, v) in inner {
                        if unescape(&b[k]).ok_or(broken.clone())? == "include_usage" {
                            f.include_usage = &b[v.clone()] == b"true";
                            f.include_usage_range = Some(v);
                        }
                    }
                }
            }
            "messages" => {
                f.messages_non_empty =
                    bytes[0] == b'[' && b.get(skip_ws(b, val.start + 1)) != Some(&b']');
            }
            "max_tokens" => f.has_max_tokens = true,
            "temperature" => f.has_temperature = true,
            "top_p" => f.has_top_p = true,
            "prompt" => f.has_prompt = bytes != b"null",
            "input" => f.has_input = bytes != b"null",
            _ => {}
        }
    }
    Ok(f)
}
