//! What a translated answer looks like to an OpenAI client: `chat.completion` bodies,
//! `chat.completion.chunk` events ending with `data: [DONE]`, and `{"error":{...}}` objects.

use super::json::{push_u64, Obj};
use crate::body::push_quoted;
use crate::usage::{Usage, MAX_COMPLETION_TEXT};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// OpenAI's `finish_reason` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl Finish {
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::ToolCalls => "tool_calls",
            Finish::ContentFilter => "content_filter",
        }
    }
}

/// Seconds since the epoch, for `created`.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh `chatcmpl-…` id for providers whose answers carry none (24 hex digits from a
/// per-thread xorshift seeded with the clock; ids need to be distinct, not secret).
/// The provider's answer id, else a fresh `chatcmpl-…` (OpenAI clients expect one).
pub fn id_or_new(id: Option<&str>) -> Cow<'_, str> {
    match id {
        Some(id) => Cow::Borrowed(id),
        None => Cow::Owned(new_id("chatcmpl-")),
    }
}

pub fn new_id(prefix: &str) -> String {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0x9e37_79b9, |d| d.as_nanos() as u64) | 1
        );
    }
    let n = STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    });
    format!("{prefix}{n:016x}{:08x}", (n >> 17) as u32)
}

/// Usage as OpenAI writes it. `cached` (prompt tokens read from a cache) is reported in
/// `prompt_tokens_details` when the provider said so.
pub fn push_usage(out: &mut Vec<u8>, usage: &Usage, cached: Option<u64>) {
    let mut o = Obj::new(out);
    o.num("prompt_tokens", usage.prompt)
        .num("completion_tokens", usage.completion)
        .num(
            "total_tokens",
            usage.total.max(usage.prompt + usage.completion),
        );
    if let Some(c) = cached {
        o.obj("prompt_tokens_details").num("cached_tokens", c).end();
    }
    o.end();
}

/// The text of a message assembled from JSON string tokens without decoding them: the inner
/// bytes of each token are appended, so `"ab"` then `"c\n"` is `"abc\n"`.
#[derive(Default)]
pub struct RawText {
    inner: Vec<u8>,
}

impl RawText {
    /// Appends a string token (quotes included); anything else is ignored.
    pub fn push_token(&mut self, token: &RawValue) {
        let s = token.get().as_bytes();
        if s.len() >= 2 && s[0] == b'"' {
            self.inner.extend_from_slice(&s[1..s.len() - 1]);
        }
    }

    pub fn push_str(&mut self, s: &str) {
        crate::body::json_escape_into(s, &mut self.inner);
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Bytes kept (escaped form).
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// As one JSON string token.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        out.extend_from_slice(&self.inner);
        out.push(b'"');
    }

    /// Decoded, for the tokenizer fallback (capped).
    pub fn decoded(&self) -> String {
        let mut token = Vec::with_capacity(self.inner.len() + 2);
        self.write(&mut token);
        let mut s: String = serde_json::from_slice(&token).unwrap_or_default();
        if s.len() > MAX_COMPLETION_TEXT {
            let mut end = MAX_COMPLETION_TEXT;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
        }
        s
    }
}

/// One tool call of a finished message.
pub struct ToolCallOut<'a> {
    pub id: Cow<'a, str>,
    pub name: Cow<'a, str>,
    /// The arguments as JSON text (an object), written as OpenAI's JSON string.
    pub arguments: Cow<'a, str>,
}

/// A finished assistant message.
#[derive(Default)]
pub struct MessageOut<'a> {
    pub content: RawText,
    pub reasoning: RawText,
    pub tool_calls: Vec<ToolCallOut<'a>>,
}

/// Who answered and when, for `id`, `model` and `created`.
pub struct Meta<'a> {
    pub id: &'a str,
    pub model: &'a str,
    pub created: u64,
}

/// A whole `chat.completion` body.
pub fn write_completion(
    out: &mut Vec<u8>,
    meta: &Meta<'_>,
    message: &MessageOut<'_>,
    finish: Finish,
    usage: Option<(&Usage, Option<u64>)>,
) {
    let mut o = Obj::new(out);
    o.str("id", meta.id)
        .str("object", "chat.completion")
        .num("created", meta.created)
        .str("model", meta.model);
    {
        let mut choices = o.arr("choices");
        let mut choice = choices.obj();
        choice.num("index", 0);
        {
            let mut m = choice.obj("message");
            m.str("role", "assistant");
            if message.content.is_empty() && !message.tool_calls.is_empty() {
                m.raw("content", "null");
            } else {
                message.content.write(m.key("content"));
            }
            if !message.reasoning.is_empty() {
                message.reasoning.write(m.key("reasoning_content"));
            }
            if !message.tool_calls.is_empty() {
                let mut calls = m.arr("tool_calls");
                for call in &message.tool_calls {
                    write_tool_call(calls.item(), None, call);
                }
                calls.end();
            }
            m.end();
        }
        choice.raw("logprobs", "null");
        choice.str("finish_reason", finish.as_str());
        choice.end();
        choices.end();
    }
    if let Some((usage, cached)) = usage {
        push_usage(o.key("usage"), usage, cached);
    }
    o.end();
}

fn write_tool_call(out: &mut Vec<u8>, index: Option<u64>, call: &ToolCallOut<'_>) {
    let mut c = Obj::new(out);
    if let Some(i) = index {
        c.num("index", i);
    }
    c.str("id", &call.id).str("type", "function");
    let mut f = c.obj("function");
    f.str("name", &call.name).str("arguments", &call.arguments);
    f.end();
    c.end();
}

/// Writes `chat.completion.chunk` events. The part before the delta is the same for every
/// event of a stream, so it is built once and copied.
pub struct Chunks {
    prefix: Vec<u8>,
    /// The same envelope with `"choices":[`, for the usage chunk.
    envelope: Vec<u8>,
}

impl Chunks {
    pub fn new(meta: &Meta<'_>) -> Chunks {
        let mut envelope = Vec::with_capacity(128 + meta.id.len() + meta.model.len());
        envelope.extend_from_slice(b"data: {\"id\":");
        push_quoted(meta.id, &mut envelope);
        envelope.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        push_u64(&mut envelope, meta.created);
        envelope.extend_from_slice(b",\"model\":");
        push_quoted(meta.model, &mut envelope);
        envelope.extend_from_slice(b",\"choices\":[");
        let mut prefix = envelope.clone();
        prefix.extend_from_slice(b"{\"index\":0,\"delta\":");
        Chunks { prefix, envelope }
    }

    /// One chunk whose delta `write_delta` writes (a whole JSON object).
    pub fn delta(&self, out: &mut Vec<u8>, write_delta: impl FnOnce(&mut Vec<u8>)) {
        out.extend_from_slice(&self.prefix);
        write_delta(out);
        out.extend_from_slice(b",\"finish_reason\":null}]}\n\n");
    }

    /// The assistant role, first.
    pub fn role(&self, out: &mut Vec<u8>) {
        self.delta(out, |o| {
            o.extend_from_slice(br#"{"role":"assistant","content":""}"#)
        });
    }

    /// Text, given as a JSON string token.
    pub fn content_token(&self, out: &mut Vec<u8>, token: &str) {
        self.delta(out, |o| {
            o.extend_from_slice(b"{\"content\":");
            o.extend_from_slice(token.as_bytes());
            o.push(b'}');
        });
    }

    /// Reasoning text (thinking), given as a JSON string token.
    pub fn reasoning_token(&self, out: &mut Vec<u8>, token: &str) {
        self.delta(out, |o| {
            o.extend_from_slice(b"{\"reasoning_content\":");
            o.extend_from_slice(token.as_bytes());
            o.push(b'}');
        });
    }

    /// A tool call starting (id, name and, when known at once, all of its arguments).
    pub fn tool_call_start(&self, out: &mut Vec<u8>, index: u64, call: &ToolCallOut<'_>) {
        self.delta(out, |o| {
            o.extend_from_slice(b"{\"tool_calls\":[");
            write_tool_call(o, Some(index), call);
            o.extend_from_slice(b"]}");
        });
    }

    /// More of a tool call's arguments, given as a JSON string token.
    pub fn tool_call_arguments(&self, out: &mut Vec<u8>, index: u64, token: &str) {
        self.delta(out, |o| {
            o.extend_from_slice(b"{\"tool_calls\":[{\"index\":");
            push_u64(o, index);
            o.extend_from_slice(b",\"function\":{\"arguments\":");
            o.extend_from_slice(token.as_bytes());
            o.extend_from_slice(b"}}]}");
        });
    }

    /// The empty delta that carries the finish reason.
    pub fn finish(&self, out: &mut Vec<u8>, finish: Finish) {
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(b"{},\"finish_reason\":\"");
        out.extend_from_slice(finish.as_str().as_bytes());
        out.extend_from_slice(b"\"}]}\n\n");
    }

    /// The usage-only chunk `stream_options.include_usage` asks for (`"choices":[]`).
    pub fn usage(&self, out: &mut Vec<u8>, usage: &Usage, cached: Option<u64>) {
        out.extend_from_slice(&self.envelope);
        out.extend_from_slice(b"],\"usage\":");
        push_usage(out, usage, cached);
        out.extend_from_slice(b"}\n\n");
    }
}

/// The stream's end marker.
pub fn done(out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: [DONE]\n\n");
}

/// An error as OpenAI reports one: `{"error":{"message":...,"type":...,"code":...}}`.
pub fn write_error(out: &mut Vec<u8>, message: &str, kind: &str, code: Option<&str>) {
    let mut o = Obj::new(out);
    {
        let mut e = o.obj("error");
        e.str("message", message).str("type", kind);
        match code {
            Some(c) => e.str("code", c),
            None => e.raw("code", "null"),
        };
        e.raw("param", "null");
        e.end();
    }
    o.end();
}

/// An error event inside a stream that has already started.
pub fn stream_error(out: &mut Vec<u8>, message: &str, kind: &str) {
    out.extend_from_slice(b"data: ");
    write_error(out, message, kind, None);
    out.extend_from_slice(b"\n\n");
}

/// OpenAI's `error.type` for an HTTP status, when the provider's own type does not say.
pub fn error_type_for(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta<'static> {
        Meta {
            id: "msg_1",
            model: "m",
            created: 7,
        }
    }

    #[test]
    fn completion_with_tools_has_null_content() {
        let mut msg = MessageOut::default();
        msg.tool_calls.push(ToolCallOut {
            id: "t1".into(),
            name: "f".into(),
            arguments: r#"{"a":1}"#.into(),
        });
        let mut out = Vec::new();
        let u = Usage {
            prompt: 3,
            completion: 4,
            total: 7,
        };
        write_completion(&mut out, &meta(), &msg, Finish::ToolCalls, Some((&u, None)));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["choices"][0]["message"]["content"],
            serde_json::Value::Null
        );
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            r#"{"a":1}"#
        );
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(v["usage"]["total_tokens"], 7);
    }

    #[test]
    fn raw_text_concatenates_tokens() {
        let mut t = RawText::default();
        let a: &RawValue = serde_json::from_str(r#""a\"b""#).unwrap();
        let b: &RawValue = serde_json::from_str(r#""\nc""#).unwrap();
        t.push_token(a);
        t.push_token(b);
        t.push_str("é");
        let mut out = Vec::new();
        t.write(&mut out);
        assert_eq!(out, "\"a\\\"b\\ncé\"".as_bytes());
        assert_eq!(t.decoded(), "a\"b\ncé");
    }

    #[test]
    fn chunks_are_valid_sse_json() {
        let c = Chunks::new(&meta());
        let mut out = Vec::new();
        c.role(&mut out);
        c.content_token(&mut out, r#""hi""#);
        c.tool_call_arguments(&mut out, 1, r#""{\"x\"""#);
        c.finish(&mut out, Finish::Stop);
        c.usage(
            &mut out,
            &Usage {
                prompt: 1,
                completion: 2,
                total: 3,
            },
            Some(1),
        );
        done(&mut out);
        let text = String::from_utf8(out).unwrap();
        let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 6);
        for e in &events[..5] {
            let data = e.strip_prefix("data: ").unwrap();
            let _: serde_json::Value =
                serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"));
        }
        assert!(events[4].contains(r#""choices":[],"usage":{"prompt_tokens":1"#));
        assert!(events[4].contains(r#""cached_tokens":1"#));
        assert_eq!(events[5], "data: [DONE]");
    }
}
