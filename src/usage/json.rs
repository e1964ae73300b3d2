//! Usage and completion text from an upstream's JSON response (chat, completions, embeddings).

use simd_json::prelude::*;
use simd_json::tape::{Array, Value};
use simd_json::{Buffers, Node, Tape, INPUT_PADDING};

use super::{Usage, MAX_COMPLETION_TEXT};

/// Bodies above this size are parsed but their buffers are not kept afterwards, so one huge
/// embeddings response does not pin tens of MiB per core for the life of the process.
const RETAIN_LIMIT: usize = 4 << 20;

/// One per core (and one per stream filter). Owns simd-json's buffers and the copy it parses:
/// simd-json unescapes strings in place and the original bytes are what the client receives,
/// and fresh buffers make large bodies ~3x slower to parse.
pub struct UsageParser {
    buffers: Buffers,
    scratch: Vec<u8>,
    /// The tape's allocation, kept empty between parses (its lifetime is reset each time).
    tape: Vec<Node<'static>>,
}

impl Default for UsageParser {
    fn default() -> Self {
        Self::new()
    }
}

impl UsageParser {
    pub fn new() -> Self {
        Self {
            buffers: Buffers::new(0),
            scratch: Vec::new(),
            tape: Vec::new(),
        }
    }

    /// The top-level `usage` object of a response; `None` when it is absent, `null`, not an
    /// object, has no usable count, or the body is not a JSON object.
    pub fn parse(&mut self, body: &[u8]) -> Option<Usage> {
        self.with_document(body, usage_of).flatten()
    }

    /// The generated text, for counting tokens when the upstream reported no usage.
    /// `None` when the body is not JSON or has no `choices` array (embeddings); capped at
    /// [`MAX_COMPLETION_TEXT`] bytes.
    pub fn completion_text(&mut self, body: &[u8]) -> Option<String> {
        self.with_document(body, |doc| {
            let mut text = String::new();
            append_choices_text(doc, &mut text, MAX_COMPLETION_TEXT).then_some(text)
        })
        .flatten()
    }

    /// The response's top-level `model` string (what the provider says served the request).
    pub fn model(&mut self, body: &[u8]) -> Option<String> {
        self.with_document(body, |doc| {
            member(doc, "model").and_then(|m| m.as_str().map(str::to_owned))
        })
        .flatten()
    }

    /// Parses a copy of `bytes` and hands the document to `f`; `None` when it is not JSON.
    pub(super) fn with_document<R>(
        &mut self,
        bytes: &[u8],
        f: impl for<'t, 'i> FnOnce(Value<'t, 'i>) -> R,
    ) -> Option<R> {
        if bytes.is_empty() {
            return None;
        }
        self.scratch.clear();
        self.scratch.reserve(bytes.len() + INPUT_PADDING);
        self.scratch.extend_from_slice(bytes);
        self.scratch.resize(bytes.len() + INPUT_PADDING, b' ');
        let mut tape = Tape(std::mem::take(&mut self.tape)).reset();
        let parsed = simd_json::fill_tape_padded(
            &mut self.scratch,
            bytes.len(),
            &mut self.buffers,
            &mut tape,
        );
        let result = match parsed {
            Ok(()) => Some(f(tape.as_value())),
            Err(_) => None,
        };
        self.tape = tape.reset().0;
        if bytes.len() > RETAIN_LIMIT {
            *self = Self::new();
        }
        result
    }
}

/// One-off form of [`UsageParser::parse`]; prefer a per-core parser on the request path.
pub fn usage_from_json(body: &[u8]) -> Option<Usage> {
    UsageParser::new().parse(body)
}

/// One-off form of [`UsageParser::completion_text`].
pub fn completion_text_from_json(body: &[u8]) -> Option<String> {
    UsageParser::new().completion_text(body)
}

/// The last member named `key` of an object: duplicate keys resolve as the body scanner
/// resolves them (last wins, as in JavaScript and Python), so both ends of llmux agree.
pub(super) fn member<'t, 'i>(obj: Value<'t, 'i>, key: &str) -> Option<Value<'t, 'i>> {
    let obj = obj.as_object()?;
    let mut found = None;
    for (k, v) in obj.iter() {
        if k == key {
            found = Some(v);
        }
    }
    found
}

/// `usage` of a top-level object, read only there: `usage` keys nested in messages or tool
/// arguments are the model's text, not the provider's accounting.
pub(super) fn usage_of(doc: Value<'_, '_>) -> Option<Usage> {
    usage_from_object(member(doc, "usage")?)
}

/// Reads the three OpenAI counts. A missing or unusable count is 0; an object with no usable
/// count at all is `None`, so the tokenizer fallback still runs for it.
pub(super) fn usage_from_object(usage: Value<'_, '_>) -> Option<Usage> {
    let obj = usage.as_object()?;
    let mut u = Usage::default();
    let mut seen = false;
    for (k, v) in obj.iter() {
        let slot = match k {
            "prompt_tokens" => &mut u.prompt,
            "completion_tokens" => &mut u.completion,
            "total_tokens" => &mut u.total,
            _ => continue,
        };
        if let Some(n) = token_count(v) {
            *slot = n;
            seen = true;
        }
    }
    seen.then_some(u)
}

/// Non-negative integers, also written as floats (`12.0`, which some Python servers emit);
/// negatives, fractions and non-numbers are not counts.
fn token_count(v: Value<'_, '_>) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    if v.as_i64().is_some() {
        return None;
    }
    let f = v.as_f64()?;
    // `as` saturates: 1e300 becomes u64::MAX, which the accumulators then saturate on.
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0).then_some(f as u64)
}

/// The top-level `choices` array.
pub(super) fn choices_of<'t, 'i>(doc: Value<'t, 'i>) -> Option<Array<'t, 'i>> {
    member(doc, "choices")?.as_array()
}

/// Appends `choices[].message.content`, `choices[].delta.content`, `choices[].text` and tool
/// call arguments (all billed as completion tokens) to `out`. Returns whether `choices` was an
/// array, so a body without choices (embeddings) is told apart from one whose choices are empty.
pub(super) fn append_choices_text(doc: Value<'_, '_>, out: &mut String, cap: usize) -> bool {
    let Some(choices) = choices_of(doc) else {
        return false;
    };
    append_text(choices, out, cap);
    true
}

pub(super) fn append_text(choices: Array<'_, '_>, out: &mut String, cap: usize) {
    for choice in choices.iter() {
        if let Some(text) = choice.get("text").and_then(|t| t.into_string()) {
            push_capped(out, text, cap);
        }
        for key in ["message", "delta"] {
            if let Some(msg) = choice.get(key) {
                append_message_text(msg, out, cap);
            }
        }
    }
}

fn append_message_text(msg: Value<'_, '_>, out: &mut String, cap: usize) {
    if let Some(c) = msg.get("content") {
        if let Some(s) = c.as_str() {
            push_capped(out, s, cap);
        } else if let Some(parts) = c.as_array() {
            // Some OpenAI-compatible servers answer with content parts.
            for part in parts.iter() {
                if let Some(t) = part.get("text").and_then(|t| t.into_string()) {
                    push_capped(out, t, cap);
                }
            }
        }
    }
    if let Some(r) = msg.get("refusal").and_then(|r| r.into_string()) {
        push_capped(out, r, cap);
    }
    if let Some(calls) = msg.get("tool_calls").and_then(|c| c.as_array()) {
        for call in calls.iter() {
            let args = call.get("function").and_then(|f| f.get("arguments"));
            if let Some(a) = args.and_then(|a| a.into_string()) {
                push_capped(out, a, cap);
            }
        }
    }
}

/// Appends as much of `s` as fits in `cap` bytes, cut on a character boundary.
pub(super) fn push_capped(out: &mut String, s: &str, cap: usize) {
    let room = cap.saturating_sub(out.len());
    if s.len() <= room {
        out.push_str(s);
        return;
    }
    let mut end = room;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.push_str(&s[..end]);
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
