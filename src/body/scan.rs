//! What the gateway learns from the client's JSON body, with byte offsets into the original.

use std::ops::Range;

use simd_json::{Buffers, ErrorType, Node, StaticNode, Tape, INPUT_PADDING};

use super::{raw, ScanError};

/// One per core. Owns simd-json's buffers and the scratch copy so that steady-state scans do
/// not allocate: fresh buffers made 1 MB bodies about 3x slower.
pub struct BodyScanner {
    buffers: Buffers,
    /// simd-json unescapes strings in place, so it parses this copy and the original stays
    /// intact for forwarding. Padded so simd-json can skip its own internal copy.
    scratch: Vec<u8>,
    /// The tape's allocation, kept empty between scans (its lifetime is reset each time).
    tape: Vec<Node<'static>>,
}

/// Facts about the top-level object. Offsets are into the original body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BodyFacts {
    /// Top-level `model` (always a string: other types are a [`ScanError`]).
    pub model: Option<ModelValue>,
    /// Raw bytes of a top-level `"model": null`, which counts as no model (Kong reads JSON
    /// `null` as absent); a target's name replaces it rather than being added beside it.
    pub model_null: Option<Range<usize>>,
    /// Top-level `"stream": true` (the string `"true"` is not true).
    pub stream: bool,
    /// Raw bytes of the `stream` value, so `response_streaming: always` can overwrite a client's
    /// `false` instead of adding a second `stream` key (which last-wins parsers would ignore).
    pub stream_range: Option<Range<usize>>,
    pub has_max_tokens: bool,
    pub has_temperature: bool,
    pub has_top_p: bool,
    /// Top-level `stream_options` is present, whatever its type (even `null`), so callers never
    /// insert a second one: they rewrite it through [`Self::stream_options_range`] instead.
    pub has_stream_options: bool,
    /// `stream_options` is an object whose (last) `include_usage` is `true`.
    pub include_usage: bool,
    /// Top-level `messages` is an array with at least one element.
    pub messages_non_empty: bool,
    /// Top-level `prompt` is present and not `null` (a `null` prompt is no prompt).
    pub has_prompt: bool,
    /// Top-level `input` is present and not `null`.
    pub has_input: bool,
    /// Offset just after the top-level `{`: where inserted members go.
    pub object_open: usize,
    /// The top-level object has no members, so an inserted member takes no trailing comma.
    pub object_empty: bool,
    /// Raw bytes of the `stream_options` value (no surrounding whitespace).
    pub stream_options_range: Option<Range<usize>>,
    /// `stream_options` is an object (as opposed to `null` or another type).
    pub stream_options_is_object: bool,
    /// `stream_options` is `{}` (inserting into it takes no trailing comma).
    pub stream_options_empty: bool,
    /// Raw bytes of the (last) `include_usage` value inside a `stream_options` object.
    pub include_usage_range: Option<Range<usize>>,
}

/// The client's model string.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelValue {
    /// Unescaped: what routing compares against `model_alias` / `model.name`.
    pub value: String,
    /// The whole string token including both quotes, in the original body.
    pub raw: Range<usize>,
}

/// Why the fast path did not produce facts.
enum Fail {
    Scan(ScanError),
    /// simd-json refused a number; RFC 8259 may still allow it.
    Number,
    /// The tape and the bytes disagree: something we assumed about simd-json no longer holds.
    /// Never a client error: the slow walker redoes the scan.
    Broken,
}

impl From<ScanError> for Fail {
    fn from(e: ScanError) -> Self {
        Fail::Scan(e)
    }
}

impl Default for BodyScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl BodyScanner {
    pub fn new() -> Self {
        Self {
            buffers: Buffers::default(),
            scratch: Vec::new(),
            tape: Vec::new(),
        }
    }

    /// Validates `body` (JSON, object at top) and extracts the facts routing needs.
    pub fn scan(&mut self, body: &[u8]) -> Result<BodyFacts, ScanError> {
        self.scan_with(body, None)
    }

    /// [`scan`](Self::scan) into `facts`, reusing the previous model string's allocation.
    pub fn scan_into(&mut self, body: &[u8], facts: &mut BodyFacts) -> Result<(), ScanError> {
        let spare = facts.model.take().map(|m| m.value);
        *facts = self.scan_with(body, spare)?;
        Ok(())
    }

    /// `spare`: a string to hold the model value, so a reused scan allocates nothing for it.
    fn scan_with(&mut self, body: &[u8], spare: Option<String>) -> Result<BodyFacts, ScanError> {
        if body.is_empty() {
            return Err(ScanError::NotJson { offset: None });
        }
        self.scratch.clear();
        self.scratch.reserve(body.len() + INPUT_PADDING);
        self.scratch.extend_from_slice(body);
        self.scratch.resize(body.len() + INPUT_PADDING, b' ');
        let base = self.scratch.as_ptr() as usize;
        let mut tape = Tape(std::mem::take(&mut self.tape)).reset();
        let parsed = simd_json::fill_tape_padded(
            &mut self.scratch,
            body.len(),
            &mut self.buffers,
            &mut tape,
        );
        let result = match parsed {
            Ok(()) => walk(&tape.0, body, base, spare),
            Err(e) => Err(parse_error(&e)),
        };
        self.tape = tape.reset().0;
        match result {
            Ok(facts) => Ok(facts),
            Err(Fail::Scan(e)) => Err(e),
            Err(Fail::Broken) => {
                // A disagreement must fail the tests and the fuzzer rather than hide in the
                // fallback, which would then be the only path they exercise.
                if cfg!(any(test, fuzzing)) {
                    panic!("simd-json tape disagrees with the body bytes");
                }
                raw::scan_slow(body)
            }
            Err(Fail::Number) => match raw::validate(body) {
                Ok(()) => raw::scan_slow(body),
                Err(at) => Err(ScanError::NotJson { offset: Some(at) }),
            },
        }
    }
}

fn parse_error(e: &simd_json::Error) -> Fail {
    match e.error() {
        // simd-json refuses numbers beyond u64/i64/f64 (`1e400`, 30-digit integers) although
        // RFC 8259 allows them and Python upstreams accept them.
        ErrorType::InvalidNumber | ErrorType::InvalidExponent => Fail::Number,
        // Errors found inside a string carry an index relative to the string: no offset.
        ErrorType::InvalidEscape
        | ErrorType::InvalidUnicodeCodepoint
        | ErrorType::InvalidUnicodeEscape
        | ErrorType::InvalidUtf8 => Fail::Scan(ScanError::NotJson { offset: None }),
        _ => Fail::Scan(ScanError::NotJson {
            offset: e.character().map(|_| e.index()),
        }),
    }
}

fn walk(
    nodes: &[Node<'_>],
    body: &[u8],
    base: usize,
    mut spare: Option<String>,
) -> Result<BodyFacts, Fail> {
    let len = match nodes.first() {
        Some(&Node::Object { len, .. }) => len,
        Some(_) => return Err(ScanError::NotObject.into()),
        None => return Err(Fail::Broken),
    };
    let open = raw::skip_ws(body, 0);
    let close = raw::trim_back(body, body.len()).saturating_sub(1);
    if body.get(open) != Some(&b'{') || body[close] != b'}' || close <= open {
        return Err(Fail::Broken);
    }
    let mut f = BodyFacts {
        object_open: open + 1,
        object_empty: len == 0,
        ..BodyFacts::default()
    };
    let (mut seen_model, mut seen_stream, mut seen_options) = (false, false, false);
    let mut top = Members {
        nodes,
        i: 1,
        left: len,
    };
    while let Some(m) = top.next_member()? {
        match m.key {
            "model" => {
                if seen_model {
                    return Err(ScanError::DuplicateModel.into());
                }
                seen_model = true;
                if matches!(*m.value, Node::Static(StaticNode::Null)) {
                    f.model_null = Some(value_range(body, base, &m, close)?);
                    continue;
                }
                let Node::String(value) = *m.value else {
                    return Err(ScanError::ModelNotString.into());
                };
                let off = offset(body, base, value)?;
                let end = raw::string_end(body, off).ok_or(Fail::Broken)?;
                let value = match spare.take() {
                    Some(mut s) => {
                        s.clear();
                        s.push_str(value);
                        s
                    }
                    None => value.to_owned(),
                };
                f.model = Some(ModelValue {
                    value,
                    raw: off - 1..end,
                });
            }
            "stream" if seen_stream => return Err(ScanError::DuplicateKey("stream").into()),
            "stream" => {
                seen_stream = true;
                f.stream = is_true(m.value);
                f.stream_range = Some(value_range(body, base, &m, close)?);
            }
            "stream_options" if seen_options => {
                return Err(ScanError::DuplicateKey("stream_options").into())
            }
            "stream_options" => {
                seen_options = true;
                f.has_stream_options = true;
                let range = value_range(body, base, &m, close)?;
                if let Node::Object { len, .. } = *m.value {
                    f.stream_options_is_object = true;
                    f.stream_options_empty = len == 0;
                    let inner_close = range.end - 1;
                    let mut inner = Members {
                        nodes,
                        i: m.value_idx + 1,
                        left: len,
                    };
                    while let Some(im) = inner.next_member()? {
                        if im.key == "include_usage" {
                            f.include_usage = is_true(im.value);
                            f.include_usage_range =
                                Some(value_range(body, base, &im, inner_close)?);
                        }
                    }
                }
                f.stream_options_range = Some(range);
            }
            "messages" => {
                f.messages_non_empty = matches!(*m.value, Node::Array { len, .. } if len > 0);
            }
            "max_tokens" => f.has_max_tokens = true,
            "temperature" => f.has_temperature = true,
            "top_p" => f.has_top_p = true,
            "prompt" => f.has_prompt = !is_null(m.value),
            "input" => f.has_input = !is_null(m.value),
            _ => {}
        }
    }
    Ok(f)
}

fn is_null(node: &Node<'_>) -> bool {
    matches!(node, Node::Static(StaticNode::Null))
}

fn is_true(node: &Node<'_>) -> bool {
    matches!(node, Node::Static(StaticNode::Bool(true)))
}

/// Where a tape string's content starts in the original: simd-json hands out `&str`s that
/// point into the parsed copy right after the opening quote (unescaped in place, so the start
/// matches even when the length does not). Checked, not trusted.
fn offset(body: &[u8], base: usize, s: &str) -> Result<usize, Fail> {
    let off = (s.as_ptr() as usize).wrapping_sub(base);
    if off == 0 || off >= body.len() || s.len() >= body.len() - off || body[off - 1] != b'"' {
        return Err(Fail::Broken);
    }
    Ok(off)
}

/// Raw range of a member's value: from after the colon to before the `,` that precedes the
/// next key, or before the closing brace. The tape has no offsets for non-string values, but
/// the neighbouring keys do.
fn value_range(
    body: &[u8],
    base: usize,
    m: &Member<'_, '_>,
    close: usize,
) -> Result<Range<usize>, Fail> {
    let start = raw::value_start(body, offset(body, base, m.key)?).ok_or(Fail::Broken)?;
    let end = match m.next_key {
        Some(k) => {
            raw::end_before_next_key(body, offset(body, base, k)? - 1).ok_or(Fail::Broken)?
        }
        None => raw::trim_back(body, close),
    };
    if start < end {
        Ok(start..end)
    } else {
        Err(Fail::Broken)
    }
}

struct Member<'t, 'i> {
    key: &'i str,
    value: &'t Node<'i>,
    value_idx: usize,
    next_key: Option<&'i str>,
}

/// Walks an object's members on the tape, skipping nested values by their node count.
struct Members<'t, 'i> {
    nodes: &'t [Node<'i>],
    i: usize,
    left: usize,
}

impl<'t, 'i> Members<'t, 'i> {
    fn next_member(&mut self) -> Result<Option<Member<'t, 'i>>, Fail> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let Some(&Node::String(key)) = self.nodes.get(self.i) else {
            return Err(Fail::Broken);
        };
        let value_idx = self.i + 1;
        let value = self.nodes.get(value_idx).ok_or(Fail::Broken)?;
        self.i = value_idx
            + match *value {
                Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
                _ => 1,
            };
        let next_key = match (self.left, self.nodes.get(self.i)) {
            (0, _) => None,
            (_, Some(&Node::String(k))) => Some(k),
            _ => return Err(Fail::Broken),
        };
        Ok(Some(Member {
            key,
            value,
            value_idx,
            next_key,
        }))
    }
}
