//! ConverseStream's `application/vnd.amazon.eventstream` body → OpenAI chunks (SSE).
//!
//! The body is binary frames (AWS event stream: length-prefixed, CRC-checked, typed headers);
//! AWS's decoder (`aws-smithy-eventstream`) cuts them out as bytes arrive, and each message's
//! `:event-type` says what its JSON payload is:
//!
//! | event | chunk |
//! |---|---|
//! | `messageStart` | the role chunk |
//! | `contentBlockStart` with `toolUse` | a `tool_calls` chunk: id, name, `""` arguments |
//! | `contentBlockDelta` `text` / `toolUse.input` / `reasoningContent.text` | `content` / streamed `arguments` / `reasoning_content` |
//! | `messageStop` | the `finish_reason` chunk |
//! | `metadata` | usage noted; the usage chunk (if asked) and `data: [DONE]` |
//!
//! `:message-type: exception` (throttling, validation, model errors) becomes an OpenAI error
//! event that ends the stream.

use super::response::{finish_reason, ConverseUsage};
use crate::provider::chat::out::{self, Chunks, Meta, RawText, ToolCallOut};
use crate::provider::translate::{ReplyCtx, Translate};
use crate::usage::{Usage, MAX_COMPLETION_TEXT};
use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use bytes::BytesMut;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A frame larger than this is refused (Bedrock's are a few hundred bytes).
const MAX_FRAME: usize = 16 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(default)]
    content_block_index: Option<u64>,
    #[serde(borrow, default)]
    start: Option<Start<'a>>,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<ConverseUsage>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Start<'a> {
    #[serde(borrow, default)]
    tool_use: Option<ToolStart<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolStart<'a> {
    #[serde(borrow)]
    tool_use_id: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delta<'a> {
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_use: Option<ToolDelta<'a>>,
    #[serde(borrow, default)]
    reasoning_content: Option<ReasoningDelta<'a>>,
}

#[derive(Deserialize)]
struct ToolDelta<'a> {
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ReasoningDelta<'a> {
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
}

pub struct BedrockStream {
    decoder: MessageFrameDecoder,
    buf: BytesMut,
    ctx: ReplyCtx,
    chunks: Chunks,
    usage: ConverseUsage,
    /// Content block index → tool call index.
    tools: Vec<(u64, u64)>,
    text: RawText,
    started: bool,
    done: bool,
}

impl BedrockStream {
    pub fn new(ctx: ReplyCtx) -> BedrockStream {
        let id = out::new_id("chatcmpl-");
        let chunks = Chunks::new(&Meta {
            id: &id,
            model: &ctx.model,
            created: ctx.created,
        });
        BedrockStream {
            decoder: MessageFrameDecoder::new(),
            buf: BytesMut::new(),
            ctx,
            chunks,
            usage: ConverseUsage::default(),
            tools: Vec::new(),
            text: RawText::default(),
            started: false,
            done: false,
        }
    }

    /// One decoded message.
    fn message(&mut self, message_type: &str, event: &str, payload: &[u8], out: &mut Vec<u8>) {
        match message_type {
            "event" => self.event(event, payload, out),
            "exception" | "error" => {
                self.done = true;
                let text = serde_json::from_slice::<Payload<'_>>(payload)
                    .ok()
                    .and_then(|p| p.message.map(Cow::into_owned))
                    .unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned());
                let kind = if event.is_empty() {
                    "server_error"
                } else {
                    event
                };
                out::stream_error(out, &text, kind);
            }
            _ => {}
        }
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            self.chunks.role(out);
        }
    }

    fn event(&mut self, event: &str, payload: &[u8], out: &mut Vec<u8>) {
        let Ok(p) = serde_json::from_slice::<Payload<'_>>(payload) else {
            return;
        };
        match event {
            "messageStart" => self.ensure_started(out),
            "contentBlockStart" => {
                self.ensure_started(out);
                if let Some(t) = p.start.and_then(|s| s.tool_use) {
                    let index = self.tools.len() as u64;
                    self.tools.push((p.content_block_index.unwrap_or(0), index));
                    let call = ToolCallOut {
                        id: t.tool_use_id,
                        name: t.name,
                        arguments: Cow::Borrowed(""),
                    };
                    self.chunks.tool_call_start(out, index, &call);
                }
            }
            "contentBlockDelta" => {
                self.ensure_started(out);
                let Some(d) = p.delta else { return };
                if let Some(t) = d.text {
                    self.chunks.content_token(out, t.get());
                    if !self.usage.seen() && self.text.len() < MAX_COMPLETION_TEXT {
                        self.text.push_token(t);
                    }
                } else if let Some(input) = d.tool_use.and_then(|t| t.input) {
                    let block = p.content_block_index.unwrap_or(0);
                    if let Some(&(_, i)) = self.tools.iter().find(|(b, _)| *b == block) {
                        self.chunks.tool_call_arguments(out, i, input.get());
                    }
                } else if let Some(t) = d.reasoning_content.and_then(|r| r.text) {
                    self.chunks.reasoning_token(out, t.get());
                }
            }
            "messageStop" => {
                self.ensure_started(out);
                let finish = p
                    .stop_reason
                    .as_deref()
                    .map_or(out::Finish::Stop, finish_reason);
                self.chunks.finish(out, finish);
            }
            "metadata" => {
                if let Some(u) = p.usage {
                    self.usage = u;
                }
                self.close(out);
            }
            _ => {}
        }
    }

    /// The usage chunk (if asked) and `[DONE]`, once.
    fn close(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        if self.ctx.include_usage && self.usage.seen() {
            let usage = self.usage.to_usage();
            self.chunks
                .usage(out, &usage, self.usage.cache_read_input_tokens);
        }
        out::done(out);
    }
}

/// A string header's value, `""` when absent.
fn header<'m>(m: &'m Message, name: &str) -> &'m str {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map_or("", |s| s.as_str())
}

impl Translate for BedrockStream {
    fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.buf.extend_from_slice(data);
        loop {
            match self.decoder.decode_frame(&mut self.buf) {
                Ok(DecodedFrame::Complete(m)) => {
                    let message_type = header(&m, ":message-type");
                    let event = match message_type {
                        "exception" => header(&m, ":exception-type"),
                        "error" => header(&m, ":error-code"),
                        _ => header(&m, ":event-type"),
                    };
                    self.message(message_type, event, m.payload(), out);
                    if self.done {
                        return;
                    }
                }
                Ok(DecodedFrame::Incomplete) => break,
                Err(e) => {
                    self.done = true;
                    out::stream_error(
                        out,
                        &format!("the provider's event stream is malformed: {e}"),
                        "upstream_error",
                    );
                    return;
                }
            }
        }
        if self.buf.len() > MAX_FRAME {
            self.done = true;
            out::stream_error(
                out,
                "the provider sent a frame too large to relay",
                "upstream_error",
            );
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        // A stream that ended without its metadata event still ends cleanly for the client.
        self.close(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.seen().then(|| self.usage.to_usage())
    }

    fn completion_text(&self) -> Option<String> {
        Some(self.text.decoded())
    }

    fn logged_payload(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.text.decoded().into_bytes())
    }

    fn content_type(&self) -> Option<&'static str> {
        Some("text/event-stream")
    }
}
