//! Anthropic's stream events → OpenAI `chat.completion.chunk` events.
//!
//! | Anthropic event | OpenAI chunk |
//! |---|---|
//! | `message_start` | the role chunk; usage (input and cache counts) noted |
//! | `content_block_start` `tool_use` | a `tool_calls` chunk with id, name and `""` arguments |
//! | `content_block_delta` `text_delta` | `content` |
//! | `content_block_delta` `input_json_delta` | `tool_calls[].function.arguments` (streamed) |
//! | `content_block_delta` `thinking_delta` | `reasoning_content` |
//! | `message_delta` | the `finish_reason` chunk; usage updated (output is cumulative: set) |
//! | `message_stop` | the usage chunk (if the client asked) and `data: [DONE]` |
//! | `error` | an OpenAI error event; the stream ends |
//! | `ping`, `content_block_stop`, `signature_delta`, unknown | nothing |

use super::response::{finish_reason, AnthropicUsage, Block, ErrorDetail};
use crate::provider::chat::out::{self, Chunks, Meta, RawText, ToolCallOut};
use crate::provider::translate::{EventTranslate, ReplyCtx};
use crate::usage::{Usage, MAX_COMPLETION_TEXT};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    message: Option<StartMessage<'a>>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(borrow, default)]
    content_block: Option<Block<'a>>,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(borrow, default)]
    error: Option<ErrorDetail<'a>>,
}

#[derive(Deserialize)]
struct StartMessage<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    partial_json: Option<&'a RawValue>,
    #[serde(borrow, default)]
    thinking: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
}

pub struct AnthropicStream {
    ctx: ReplyCtx,
    chunks: Option<Chunks>,
    usage: AnthropicUsage,
    /// Content block index → OpenAI tool call index, for the tool_use blocks seen so far.
    tool_blocks: Vec<(u64, u64)>,
    text: RawText,
    done: bool,
}

impl AnthropicStream {
    pub fn new(ctx: ReplyCtx) -> AnthropicStream {
        AnthropicStream {
            ctx,
            chunks: None,
            usage: AnthropicUsage::default(),
            tool_blocks: Vec::new(),
            text: RawText::default(),
            done: false,
        }
    }

    /// The chunk writer; a stream that skipped `message_start` still gets well-formed chunks.
    fn chunks(&mut self, id: Option<&str>, model: Option<&str>) -> &Chunks {
        let ctx = &self.ctx;
        self.chunks.get_or_insert_with(|| {
            let id = out::id_or_new(id);
            Chunks::new(&Meta {
                id: &id,
                model: model.unwrap_or(&ctx.model),
                created: ctx.created,
            })
        })
    }

    /// Text is kept for the tokenizer only while the provider has reported no usage.
    fn keep_text(&mut self, token: &RawValue) {
        if !self.usage.seen() && self.text.len() < MAX_COMPLETION_TEXT {
            self.text.push_token(token);
        }
    }
}

impl EventTranslate for AnthropicStream {
    fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        let Ok(e) = serde_json::from_slice::<Event<'_>>(data) else {
            return;
        };
        match &*e.kind {
            "message_start" => {
                let (id, model) = match &e.message {
                    Some(m) => {
                        if let Some(u) = &m.usage {
                            self.usage.update(u);
                        }
                        (m.id.as_deref(), m.model.as_deref())
                    }
                    None => (None, None),
                };
                self.chunks(id, model).role(out);
            }
            "content_block_start" => {
                let Some(block) = e.content_block.filter(|b| b.kind == "tool_use") else {
                    return;
                };
                let tool_index = self.tool_blocks.len() as u64;
                self.tool_blocks.push((e.index.unwrap_or(0), tool_index));
                let call = ToolCallOut {
                    id: block.id.unwrap_or_default(),
                    name: block.name.unwrap_or_default(),
                    arguments: Cow::Borrowed(""),
                };
                self.chunks(None, None)
                    .tool_call_start(out, tool_index, &call);
            }
            "content_block_delta" => {
                let Some(d) = e.delta else { return };
                match d.kind.as_deref() {
                    Some("text_delta") => {
                        if let Some(t) = d.text {
                            self.chunks(None, None).content_token(out, t.get());
                            self.keep_text(t);
                        }
                    }
                    Some("input_json_delta") => {
                        let block = e.index.unwrap_or(0);
                        let tool = self.tool_blocks.iter().find(|(b, _)| *b == block);
                        if let (Some(&(_, i)), Some(p)) = (tool, d.partial_json) {
                            self.chunks(None, None).tool_call_arguments(out, i, p.get());
                            self.keep_text(p);
                        }
                    }
                    Some("thinking_delta") => {
                        if let Some(t) = d.thinking {
                            self.chunks(None, None).reasoning_token(out, t.get());
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(u) = &e.usage {
                    self.usage.update(u);
                }
                if let Some(reason) = e.delta.as_ref().and_then(|d| d.stop_reason.as_deref()) {
                    self.chunks(None, None).finish(out, finish_reason(reason));
                }
            }
            "message_stop" => {
                self.done = true;
                if self.ctx.include_usage && self.usage.seen() {
                    let cached = self.usage.cache_read_input_tokens;
                    let usage = self.usage.to_openai();
                    self.chunks(None, None).usage(out, &usage, cached);
                }
                out::done(out);
            }
            "error" => {
                self.done = true;
                let (message, kind) = match &e.error {
                    Some(err) => (
                        err.message.as_deref().unwrap_or("error"),
                        err.kind.as_deref().unwrap_or("api_error"),
                    ),
                    None => ("error", "api_error"),
                };
                out::stream_error(out, message, kind);
            }
            _ => {}
        }
    }

    fn end(&mut self, _out: &mut Vec<u8>) {}

    fn usage(&self) -> Option<Usage> {
        self.usage.seen().then(|| self.usage.to_openai())
    }

    fn text(&self) -> String {
        self.text.decoded()
    }
}
