//! What the fake upstream answers: [`Reply`] and the code that writes it.

use super::find_header;
use std::io::{self, Write};
use std::time::Duration;

/// An answer from [`super::RecordingUpstream`]'s handler.
#[derive(Clone, Debug)]
pub struct Reply {
    pub(crate) kind: ReplyKind,
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) delay: Duration,
}

#[derive(Clone, Debug)]
pub(crate) enum ReplyKind {
    Body(Vec<u8>),
    Sse {
        events: Vec<(Duration, String)>,
        cut: bool,
    },
    /// A chunked body of binary pieces, each flushed after its delay (AWS event streams).
    Chunks(Vec<(Duration, Vec<u8>)>),
    Raw(Vec<u8>),
    Close,
    Hang(Duration),
}

/// How a connection goes on after a reply.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum After {
    KeepAlive,
    Close,
    /// Closed without a graceful TLS close_notify (cut stream, `close()`, `hang`).
    Abort,
    /// The peer went away while we were answering (write failed, or EOF during a hang).
    PeerGone,
}

impl Reply {
    fn of(kind: ReplyKind, status: u16, headers: &[(&str, &str)]) -> Reply {
        Reply {
            kind,
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            delay: Duration::ZERO,
        }
    }

    /// `status` with a JSON body, `Content-Type: application/json` and a `Content-Length`.
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::body(status, "application/json", body)
    }

    /// `status` with any body and content type, sent with a `Content-Length`.
    pub fn body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::of(
            ReplyKind::Body(body.into()),
            status,
            &[("Content-Type", content_type)],
        )
    }

    /// A 200 `text/event-stream`, `Transfer-Encoding: chunked`, one chunk per event, each written
    /// and flushed after its delay; the head is flushed at once. Events are exact bytes, e.g.
    /// `"data: {...}\n\n"`. Ends with the last-chunk unless [`Reply::cut`].
    pub fn sse(events: Vec<(Duration, String)>) -> Reply {
        let kind = ReplyKind::Sse { events, cut: false };
        Reply::of(
            kind,
            200,
            &[
                ("Content-Type", "text/event-stream"),
                ("Cache-Control", "no-cache"),
            ],
        )
    }

    /// A 200 with `content_type` and a chunked body, one chunk per piece, each written and
    /// flushed after its delay (binary streams such as Bedrock's event stream).
    pub fn chunks(content_type: &str, pieces: Vec<(Duration, Vec<u8>)>) -> Reply {
        Reply::of(
            ReplyKind::Chunks(pieces),
            200,
            &[("Content-Type", content_type)],
        )
    }

    /// These exact bytes, then the connection is closed.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::of(ReplyKind::Raw(bytes.into()), 0, &[])
    }

    /// Close the connection without answering.
    pub fn close() -> Reply {
        Reply::of(ReplyKind::Close, 0, &[])
    }

    /// Send nothing for `d` (or until the peer closes), then close the connection.
    pub fn hang(d: Duration) -> Reply {
        Reply::of(ReplyKind::Hang(d), 0, &[])
    }

    /// A 200 OpenAI `chat.completion` with one assistant message and a `usage` object.
    pub fn openai_chat(
        model: &str,
        content: &str,
        prompt_tokens: u32,
        completion_tokens: u32,
    ) -> Reply {
        let body = format!(
            r#"{{"id":"chatcmpl-test","object":"chat.completion","created":1700000000,"model":{},"choices":[{{"index":0,"message":{{"role":"assistant","content":{}}},"logprobs":null,"finish_reason":"stop"}}],"usage":{{"prompt_tokens":{prompt_tokens},"completion_tokens":{completion_tokens},"total_tokens":{}}}}}"#,
            json_string(model),
            json_string(content),
            prompt_tokens + completion_tokens
        );
        Reply::json(200, &body)
    }

    /// A streamed OpenAI chat completion: a role chunk, one `chat.completion.chunk` per piece
    /// (each after `delay`), a `finish_reason: "stop"` chunk, then with `usage = Some((prompt,
    /// completion))` the usage-only chunk (`"choices":[]`) that `stream_options.include_usage`
    /// asks for, and `data: [DONE]`.
    pub fn openai_sse(
        model: &str,
        pieces: &[&str],
        delay: Duration,
        usage: Option<(u32, u32)>,
    ) -> Reply {
        let usage_null = if usage.is_some() {
            r#","usage":null"#
        } else {
            ""
        };
        let chunk = |choices: String, tail: &str| {
            format!(
                "data: {{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":{},\"system_fingerprint\":null,\"choices\":[{choices}]{tail}}}\n\n",
                json_string(model)
            )
        };
        let choice = |delta: String, finish: &str| {
            format!(r#"{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}"#)
        };
        let mut events = vec![(
            Duration::ZERO,
            chunk(
                choice(r#"{"role":"assistant","content":""}"#.into(), "null"),
                usage_null,
            ),
        )];
        for piece in pieces {
            let delta = format!(r#"{{"content":{}}}"#, json_string(piece));
            events.push((delay, chunk(choice(delta, "null"), usage_null)));
        }
        events.push((
            Duration::ZERO,
            chunk(choice("{}".into(), r#""stop""#), usage_null),
        ));
        if let Some((p, c)) = usage {
            let tail = format!(
                r#","usage":{{"prompt_tokens":{p},"completion_tokens":{c},"total_tokens":{}}}"#,
                p + c
            );
            events.push((Duration::ZERO, chunk(String::new(), &tail)));
        }
        events.push((Duration::ZERO, "data: [DONE]\n\n".into()));
        Reply::sse(events)
    }

    /// Sets a response header, replacing any of the same name (case-insensitive).
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.add_header(name, value)
    }

    /// Adds a response header even if one of that name exists (e.g. `Set-Cookie`).
    pub fn add_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes a default header (e.g. `Content-Type`).
    pub fn without_header(mut self, name: &str) -> Reply {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    /// Changes the status of a body or SSE reply.
    pub fn status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    /// Waits `d` before sending anything (slow upstream, for latency and timeout tests).
    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    /// SSE only: after the last event, close the connection without the chunked terminator,
    /// as an upstream that dies mid-stream.
    pub fn cut(mut self) -> Reply {
        if let ReplyKind::Sse { cut, .. } = &mut self.kind {
            *cut = true;
        }
        self
    }
}

/// A JSON string literal for `s`.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

fn head(reply: &Reply, extra: &[(&str, String)], close: bool) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        reply.status,
        reason_phrase(reply.status)
    );
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    for (k, v) in extra {
        if find_header(&reply.headers, k).is_none() {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if close && find_header(&reply.headers, "Connection").is_none() {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Writes `reply`; `close` when the request asked for the connection to be closed. `sleep`
/// waits a delay and returns false if the upstream is shutting down; `hang` waits for the peer
/// to close or the time to pass (returning true if the peer closed).
pub(crate) fn write_reply<W: Write>(
    w: &mut W,
    reply: &Reply,
    close: bool,
    sleep: &dyn Fn(Duration) -> bool,
    hang: &mut dyn FnMut(&mut W, Duration) -> bool,
) -> io::Result<After> {
    if !reply.delay.is_zero() && !sleep(reply.delay) {
        return Ok(After::Abort);
    }
    let after = if close {
        After::Close
    } else {
        After::KeepAlive
    };
    match &reply.kind {
        ReplyKind::Body(body) => {
            let mut bytes = head(reply, &[("Content-Length", body.len().to_string())], close);
            bytes.extend_from_slice(body);
            w.write_all(&bytes)?;
            w.flush()?;
            Ok(after)
        }
        ReplyKind::Sse { events, cut } => {
            let te = [("Transfer-Encoding", "chunked".to_owned())];
            w.write_all(&head(reply, &te, close))?;
            w.flush()?;
            for (delay, event) in events {
                if !delay.is_zero() && !sleep(*delay) {
                    return Ok(After::Abort);
                }
                if event.is_empty() {
                    continue; // an empty chunk would end the body
                }
                let mut chunk = format!("{:x}\r\n", event.len()).into_bytes();
                chunk.extend_from_slice(event.as_bytes());
                chunk.extend_from_slice(b"\r\n");
                w.write_all(&chunk)?;
                w.flush()?;
            }
            if *cut {
                return Ok(After::Abort);
            }
            w.write_all(b"0\r\n\r\n")?;
            w.flush()?;
            Ok(after)
        }
        ReplyKind::Chunks(pieces) => {
            let te = [("Transfer-Encoding", "chunked".to_owned())];
            w.write_all(&head(reply, &te, close))?;
            w.flush()?;
            for (delay, piece) in pieces.iter().filter(|(_, p)| !p.is_empty()) {
                if !delay.is_zero() && !sleep(*delay) {
                    return Ok(After::Abort);
                }
                let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
                chunk.extend_from_slice(piece);
                chunk.extend_from_slice(b"\r\n");
                w.write_all(&chunk)?;
                w.flush()?;
            }
            w.write_all(b"0\r\n\r\n")?;
            w.flush()?;
            Ok(after)
        }
        ReplyKind::Raw(bytes) => {
            w.write_all(bytes)?;
            w.flush()?;
            Ok(After::Close)
        }
        ReplyKind::Close => Ok(After::Abort),
        ReplyKind::Hang(d) => Ok(if hang(w, *d) {
            After::PeerGone
        } else {
            After::Abort
        }),
    }
}
