//! The mock provider's answers, shaped like OpenAI's.
//!
//! The JSON is written with `format!` rather than serde: the mock is the far end of every load
//! test, so it should cost as little per request as the shapes allow.

use super::MockArgs;
use crate::body::quoted;
use crate::http1::chunked::{encode_chunk, LAST_CHUNK};
use crate::http1::ClientConn;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Chat,
    Completion,
    Embedding,
}

impl Kind {
    pub fn from_path(path: &str) -> Option<Kind> {
        if path.ends_with("/chat/completions") {
            Some(Kind::Chat)
        } else if path.ends_with("/completions") {
            Some(Kind::Completion)
        } else if path.ends_with("/embeddings") {
            Some(Kind::Embedding)
        } else {
            None
        }
    }
}

fn usage(args: &MockArgs) -> String {
    format!(
        r#"{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{}}}"#,
        args.prompt_tokens,
        args.completion_tokens,
        args.prompt_tokens + args.completion_tokens
    )
}

/// The words of the answer: one per completion token.
fn word(i: u32) -> &'static str {
    const WORDS: [&str; 8] = [
        "1+1 ",
        "equals ",
        "2. ",
        "This ",
        "is ",
        "llmux's ",
        "mock ",
        "provider. ",
    ];
    WORDS[(i as usize) % WORDS.len()]
}

fn answer(args: &MockArgs) -> String {
    (0..args.completion_tokens)
        .map(word)
        .collect::<String>()
        .trim_end()
        .to_string()
}

fn head(status: u16, content_type: &str, len: Option<usize>, close: bool) -> Vec<u8> {
    let reason = crate::http1::reason(status);
    let mut h = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n");
    match len {
        Some(n) => h.push_str(&format!("Content-Length: {n}\r\n")),
        None => h.push_str("Transfer-Encoding: chunked\r\n"),
    }
    if close {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

pub fn error(status: u16, message: &str, close: bool) -> Vec<u8> {
    let body = format!(
        r#"{{"error":{{"message":{},"type":"invalid_request_error"}}}}"#,
        quoted(message)
    );
    let mut out = head(status, "application/json", Some(body.len()), close);
    out.extend_from_slice(body.as_bytes());
    out
}

pub fn json(kind: Kind, model: &str, args: &MockArgs, keep_alive: bool) -> Vec<u8> {
    let model = quoted(model);
    let body = match kind {
        Kind::Chat => format!(
            r#"{{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":{model},"choices":[{{"index":0,"message":{{"role":"assistant","content":{}}},"finish_reason":"stop"}}],"usage":{}}}"#,
            quoted(&answer(args)),
            usage(args)
        ),
        Kind::Completion => format!(
            r#"{{"id":"cmpl-mock","object":"text_completion","created":1700000000,"model":{model},"choices":[{{"index":0,"text":{},"finish_reason":"stop"}}],"usage":{}}}"#,
            quoted(&answer(args)),
            usage(args)
        ),
        Kind::Embedding => format!(
            r#"{{"object":"list","model":{model},"data":[{{"object":"embedding","index":0,"embedding":[0.0023,-0.0093,0.0161,0.0045]}}],"usage":{{"prompt_tokens":{p},"total_tokens":{p}}}}}"#,
            p = args.prompt_tokens
        ),
    };
    let mut out = head(200, "application/json", Some(body.len()), !keep_alive);
    out.extend_from_slice(body.as_bytes());
    out
}

/// Streams SSE events, one chunk and one write per event, `stream_interval_ms` apart.
pub async fn stream(
    stream: &mut ClientConn,
    kind: Kind,
    model: &str,
    include_usage: bool,
    args: &MockArgs,
    keep_alive: bool,
) -> bool {
    if kind == Kind::Embedding {
        return stream
            .write_all(error(400, "embeddings cannot stream", !keep_alive))
            .await
            .is_ok();
    }
    let model = quoted(model);
    let event = |delta: String, finish: &str| {
        match kind {
        Kind::Chat => format!(
            "data: {{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":{model},\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish}}}]}}\n\n"
        ),
        _ => format!(
            "data: {{\"id\":\"cmpl-mock\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":{model},\"choices\":[{{\"index\":0,\"text\":{delta},\"finish_reason\":{finish}}}]}}\n\n"
        ),
    }
    };
    let mut events = Vec::with_capacity(args.completion_tokens as usize + 4);
    if kind == Kind::Chat {
        events.push(event(r#"{"role":"assistant","content":""}"#.into(), "null"));
    }
    for i in 0..args.completion_tokens {
        let delta = match kind {
            Kind::Chat => format!(r#"{{"content":{}}}"#, quoted(word(i))),
            _ => quoted(word(i)),
        };
        events.push(event(delta, "null"));
    }
    events.push(event(
        if kind == Kind::Chat {
            "{}".into()
        } else {
            "\"\"".into()
        },
        "\"stop\"",
    ));
    if include_usage {
        events.push(format!(
            "data: {{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":{model},\"choices\":[],\"usage\":{}}}\n\n",
            usage(args)
        ));
    }
    events.push("data: [DONE]\n\n".into());

    let mut out = head(200, "text/event-stream", None, !keep_alive);
    let last = events.len() - 1;
    for (i, e) in events.iter().enumerate() {
        if i > 0 && args.stream_interval_ms > 0 {
            monoio::time::sleep(Duration::from_millis(args.stream_interval_ms)).await;
        }
        encode_chunk(&mut out, e.as_bytes());
        if i == last {
            out.extend_from_slice(LAST_CHUNK);
        }
        match stream.write_all(out).await {
            Ok(buf) => out = buf,
            Err(_) => return false,
        }
        out.clear();
    }
    true
}
