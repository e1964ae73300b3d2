//! The upstream body as ranges of the client's bytes plus small owned pieces, so forwarding is
//! one vectored write and every byte we do not mean to change reaches the upstream as sent.
//!
//! A [`SplicedBody`] is reusable: [`SplicedBody::reset`] describes the next request's body in
//! the same vectors, so a worker that keeps one per in-flight request allocates nothing per
//! request once the vectors have grown to a typical size.

use std::ops::Range;

use super::BodyFacts;

/// One piece of the upstream body, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// These bytes of the client's body, unchanged.
    Original(Range<usize>),
    /// These bytes of [`SplicedBody::owned`]: what the gateway wrote (a model string token,
    /// inserted members).
    Owned(Range<usize>),
}

/// What replaces a range of the client's body.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Replacement {
    /// The new model's string token (`model_token`).
    Model,
    Fixed(&'static [u8]),
    /// These bytes of `literals`.
    Literal(Range<usize>),
}

/// The rewritten body. Built from [`BodyFacts`] of the same body; holds no body bytes itself,
/// so the body buffer can be moved into the write op alongside it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplicedBody {
    body_len: usize,
    object_open: usize,
    object_empty: bool,
    /// Members inserted after the top-level `{`, comma-separated, without the trailing comma
    /// (added at rebuild time unless the object is empty).
    head: Vec<u8>,
    /// The JSON string token of the new model, for [`Replacement::Model`].
    model_token: Vec<u8>,
    /// Values given to [`SplicedBody::replace`], back to back.
    literals: Vec<u8>,
    /// Replaced ranges of the original (an insert is an empty range), sorted by start.
    edits: Vec<(Range<usize>, Replacement)>,
    usage_requested: bool,
    stream_forced: bool,
    /// Every byte the gateway writes, in body order; `Segment::Owned` ranges point here.
    owned: Vec<u8>,
    segments: Vec<Segment>,
    len: usize,
}

impl SplicedBody {
    /// `replace_model`: the model string token (or a `null` model) is replaced by the
    /// JSON-escaped name, or, when the body has no model, `"model":"name"` is inserted after `{`. A name equal to the
    /// client's (unescaped) model leaves the original token in place: same value, and the
    /// common case stays a single zero-copy segment.
    /// `inserts`: `(key, json_literal)` members inserted after `{`; the literal is written
    /// verbatim, so it must be valid JSON, and the key must not already be in the body (check
    /// the `has_*` facts first).
    pub fn build(
        body_len: usize,
        facts: &BodyFacts,
        replace_model: Option<&str>,
        inserts: &[(&str, &str)],
    ) -> SplicedBody {
        let mut out = SplicedBody::default();
        out.reset(body_len, facts, replace_model, inserts);
        out
    }

    /// [`build`](Self::build) in place, reusing this value's vectors.
    pub fn reset(
        &mut self,
        body_len: usize,
        facts: &BodyFacts,
        replace_model: Option<&str>,
        inserts: &[(&str, &str)],
    ) {
        self.body_len = body_len;
        self.object_open = facts.object_open;
        self.object_empty = facts.object_empty;
        self.head.clear();
        self.model_token.clear();
        self.literals.clear();
        self.edits.clear();
        self.usage_requested = false;
        self.stream_forced = false;
        match (replace_model, &facts.model) {
            (Some(name), Some(model)) if name != model.value => {
                push_quoted(name, &mut self.model_token);
                self.edits.push((model.raw.clone(), Replacement::Model));
            }
            (Some(name), None) => {
                push_quoted(name, &mut self.model_token);
                match &facts.model_null {
                    // `"model": null` counts as no model; its value is replaced in place.
                    Some(null) => self.edits.push((null.clone(), Replacement::Model)),
                    None => {
                        self.push_member_key("model");
                        self.head.extend_from_slice(&self.model_token);
                    }
                }
            }
            _ => {}
        }
        for (key, literal) in inserts {
            self.push_member(key, literal.as_bytes());
        }
        self.rebuild();
    }

    /// Describes a body forwarded as it is, `body_len` bytes, nothing changed.
    pub fn whole(&mut self, body_len: usize) {
        self.body_len = body_len;
        self.object_open = 0;
        self.object_empty = false;
        self.head.clear();
        self.model_token.clear();
        self.literals.clear();
        self.edits.clear();
        self.usage_requested = false;
        self.stream_forced = false;
        self.rebuild();
    }

    /// Exact `Content-Length` of the upstream body.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The bytes `Segment::Owned` ranges point into.
    pub fn owned(&self) -> &[u8] {
        &self.owned
    }

    /// The segments as byte slices, in order (for building iovecs).
    pub fn slices<'a>(&'a self, body: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.segments.iter().map(move |s| match s {
            Segment::Original(r) => &body[r.clone()],
            Segment::Owned(r) => &self.owned[r.clone()],
        })
    }

    /// Appends the whole upstream body to `out` (tests, small bodies).
    pub fn write_to(&self, body: &[u8], out: &mut Vec<u8>) {
        out.reserve(self.len);
        for slice in self.slices(body) {
            out.extend_from_slice(slice);
        }
    }

    /// Nothing changed: the client's body can be forwarded as it is.
    pub fn is_unchanged(&self) -> bool {
        self.head.is_empty() && self.edits.is_empty()
    }

    /// Makes the upstream send its usage in the stream (`stream_options.include_usage: true`)
    /// with the smallest edit: insert `stream_options`, replace a non-object one (`null`),
    /// replace a non-true `include_usage` value, or insert `include_usage` into the object.
    /// Other members of `stream_options` are kept. Returns whether the body changed. Only
    /// meaningful for `"stream": true` requests (OpenAI rejects `stream_options` otherwise).
    pub fn ensure_include_usage(&mut self, facts: &BodyFacts) -> bool {
        if facts.include_usage || self.usage_requested {
            return false;
        }
        self.usage_requested = true;
        const OBJECT: &[u8] = br#"{"include_usage":true}"#;
        match (&facts.stream_options_range, &facts.include_usage_range) {
            (None, _) => self.push_member("stream_options", OBJECT),
            (Some(options), _) if !facts.stream_options_is_object => {
                self.edits
                    .push((options.clone(), Replacement::Fixed(OBJECT)));
            }
            (Some(_), Some(value)) => self
                .edits
                .push((value.clone(), Replacement::Fixed(b"true"))),
            (Some(options), None) => {
                let member: &'static [u8] = if facts.stream_options_empty {
                    br#""include_usage":true"#
                } else {
                    br#""include_usage":true,"#
                };
                let at = options.start + 1;
                self.edits.push((at..at, Replacement::Fixed(member)));
            }
        }
        self.edits.sort_by_key(|(range, _)| range.start);
        self.rebuild();
        true
    }

    /// Replaces the bytes at `range` (a member's value, from the scan) with `literal`, which
    /// must be valid JSON. An edit overlapping one already made is refused (`false`).
    pub fn replace(&mut self, range: Range<usize>, literal: &[u8]) -> bool {
        let overlaps = self
            .edits
            .iter()
            .any(|(r, _)| r.start < range.end && range.start < r.end);
        if overlaps || range.end > self.body_len || range.is_empty() {
            return false;
        }
        let start = self.literals.len();
        self.literals.extend_from_slice(literal);
        self.edits
            .push((range, Replacement::Literal(start..self.literals.len())));
        self.edits.sort_by_key(|(range, _)| range.start);
        self.rebuild();
        true
    }

    /// Cuts `span` (a whole member and one separating comma, from `find_member`) out of the
    /// body; `only`: it was the object's only member, so inserted members get no trailing comma.
    /// An edit overlapping one already made is refused (`false`).
    pub fn remove(&mut self, span: Range<usize>, only: bool) -> bool {
        let overlaps = self
            .edits
            .iter()
            .any(|(r, _)| r.start < span.end && span.start < r.end);
        if overlaps || span.end > self.body_len || span.is_empty() {
            return false;
        }
        if only {
            self.object_empty = true;
        }
        self.edits.push((span, Replacement::Fixed(b"")));
        self.edits.sort_by_key(|(range, _)| range.start);
        self.rebuild();
        true
    }

    /// Turns streaming on (`response_streaming: always`): overwrites the client's `stream`
    /// value when there is one, else inserts `"stream":true`. Returns whether the body changed.
    pub fn force_stream(&mut self, facts: &BodyFacts) -> bool {
        if facts.stream || self.stream_forced {
            return false;
        }
        self.stream_forced = true;
        match &facts.stream_range {
            Some(value) => self
                .edits
                .push((value.clone(), Replacement::Fixed(b"true"))),
            None => self.push_member("stream", b"true"),
        }
        self.edits.sort_by_key(|(range, _)| range.start);
        self.rebuild();
        true
    }

    fn push_member_key(&mut self, key: &str) {
        if !self.head.is_empty() {
            self.head.push(b',');
        }
        push_quoted(key, &mut self.head);
        self.head.push(b':');
    }

    fn push_member(&mut self, key: &str, value: &[u8]) {
        self.push_member_key(key);
        self.head.extend_from_slice(value);
    }

    /// Lays the owned bytes out in body order and recomputes the segments.
    fn rebuild(&mut self) {
        self.segments.clear();
        self.owned.clear();
        let mut cursor = 0;
        if !self.head.is_empty() {
            let at = self.object_open;
            if at > cursor {
                self.segments.push(Segment::Original(cursor..at));
            }
            let start = self.owned.len();
            self.owned.extend_from_slice(&self.head);
            if !self.object_empty {
                self.owned.push(b',');
            }
            self.segments.push(Segment::Owned(start..self.owned.len()));
            cursor = at;
        }
        for (range, replacement) in &self.edits {
            debug_assert!(
                cursor <= range.start && range.end <= self.body_len,
                "edits overlap"
            );
            if range.start > cursor {
                self.segments.push(Segment::Original(cursor..range.start));
            }
            let start = self.owned.len();
            match replacement {
                Replacement::Model => self.owned.extend_from_slice(&self.model_token),
                Replacement::Fixed(bytes) => self.owned.extend_from_slice(bytes),
                Replacement::Literal(r) => self.owned.extend_from_slice(&self.literals[r.clone()]),
            }
            // A removal writes nothing: no empty segment.
            if self.owned.len() > start {
                self.segments.push(Segment::Owned(start..self.owned.len()));
            }
            cursor = range.end;
        }
        if cursor < self.body_len {
            self.segments.push(Segment::Original(cursor..self.body_len));
        }
        self.len = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Original(r) | Segment::Owned(r) => r.len(),
            })
            .sum();
    }
}

/// `s` as a complete JSON string token, as a `String` (messages and small documents).
pub fn quoted(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_quoted(s, &mut out);
    // push_quoted writes valid UTF-8 (the input is a str; escapes are ASCII).
    String::from_utf8_lossy(&out).into_owned()
}

/// `s` as a complete JSON string token, quotes included.
pub fn push_quoted(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    json_escape_into(s, out);
    out.push(b'"');
}

/// RFC 8259 string escaping (without the quotes): `"`, `\` and control characters; everything
/// else, including non-ASCII, is valid as is in a UTF-8 JSON text.
pub fn json_escape_into(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let long;
        let escaped: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                long = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(c >> 4)],
                    HEX[usize::from(c & 15)],
                ];
                &long
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}
