//! Cohere v2 chat answers, stream events and errors → OpenAI's.
//!
//! - `message.content[].text` joined is the content; `tool_plan` is `reasoning_content`;
//!   `tool_calls` keep their ids and (string) arguments.
//! - `finish_reason`: `COMPLETE`/`STOP_SEQUENCE` → `stop`, `MAX_TOKENS`/`ERROR_LIMIT` →
//!   `length`, `TOOL_CALL` → `tool_calls`, `ERROR_TOXIC` → `content_filter`.
//! - Usage: `usage.billed_units` (what Cohere bills), else `usage.tokens`.
//! - Stream: `message-start` → role; `content-delta` → content; `tool-plan-delta` → reasoning;
//!   `tool-call-start`/`tool-call-delta` → tool calls and streamed arguments; `message-end` →
//!   finish reason, usage, `[DONE]`.

use crate::provider::chat::out::{
    self, write_completion, Chunks, Finish, MessageOut, Meta, RawText, ToolCallOut,
};
use crate::provider::translate::{plain_error_message, EventTranslate, Outcome, ReplyCtx};
use crate::usage::{Usage, MAX_COMPLETION_TEXT};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

fn finish_reason(reason: &str) -> Finish {
    match reason {
        "MAX_TOKENS" | "ERROR_LIMIT" => Finish::Length,
        "TOOL_CALL" => Finish::ToolCalls,
        "ERROR_TOXIC" => Finish::ContentFilter,
        _ => Finish::Stop,
    }
}

#[derive(Deserialize, Default, Clone, Copy)]
struct Counts {
    #[serde(default)]
    input_tokens: Option<f64>,
    #[serde(default)]
    output_tokens: Option<f64>,
}

#[derive(Deserialize, Default, Clone, Copy)]
pub struct CohereUsage {
    #[serde(default)]
    billed_units: Option<Counts>,
    #[serde(default)]
    tokens: Option<Counts>,
}

impl CohereUsage {
    fn to_usage(self) -> Option<Usage> {
        let counts = self
            .billed_units
            .filter(|c| c.input_tokens.is_some() || c.output_tokens.is_some())
            .or(self.tokens)?;
        // Cohere writes counts as numbers that may carry a fraction part (`12.0`).
        let n = |v: Option<f64>| v.filter(|x| x.is_finite() && *x >= 0.0).unwrap_or(0.0) as u64;
        let (prompt, completion) = (n(counts.input_tokens), n(counts.output_tokens));
        Some(Usage {
            prompt,
            completion,
            total: prompt + completion,
        })
    }
}

#[derive(Deserialize)]
struct TextItem<'a> {
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Call<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    function: Option<CallFunction<'a>>,
}

#[derive(Deserialize)]
struct CallFunction<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ChatMessage<'a> {
    #[serde(borrow, default)]
    content: Vec<TextItem<'a>>,
    #[serde(borrow, default)]
    tool_plan: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Vec<Call<'a>>,
}

#[derive(Deserialize)]
struct ChatBody<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: ChatMessage<'a>,
    #[serde(default)]
    usage: Option<CohereUsage>,
}

fn tool_call<'a>(c: &Call<'a>) -> ToolCallOut<'a> {
    let f = c.function.as_ref();
    ToolCallOut {
        id: c.id.clone().unwrap_or_default(),
        name: f.and_then(|f| f.name.clone()).unwrap_or_default(),
        arguments: f
            .and_then(|f| f.arguments.clone())
            .unwrap_or(Cow::Borrowed("{}")),
    }
}

pub fn response(body: &[u8], ctx: &ReplyCtx, out: &mut Vec<u8>) -> Result<Outcome, String> {
    let b: ChatBody<'_> =
        serde_json::from_slice(body).map_err(|e| format!("not a Cohere chat response: {e}"))?;
    let mut msg = MessageOut::default();
    for item in &b.message.content {
        if let Some(t) = item.text {
            msg.content.push_token(t);
        }
    }
    if let Some(plan) = b.message.tool_plan {
        msg.reasoning.push_token(plan);
    }
    msg.tool_calls = b.message.tool_calls.iter().map(tool_call).collect();
    let finish = b
        .finish_reason
        .as_deref()
        .map_or(Finish::Stop, finish_reason);
    let usage = b.usage.and_then(CohereUsage::to_usage);
    let id = out::id_or_new(b.id.as_deref());
    let meta = Meta {
        id: &id,
        model: &ctx.model,
        created: ctx.created,
    };
    write_completion(out, &meta, &msg, finish, usage.as_ref().map(|u| (u, None)));
    Ok(Outcome::of(usage, || msg.content.decoded()))
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(borrow, default)]
    delta: Option<EventDelta<'a>>,
}

#[derive(Deserialize)]
struct EventDelta<'a> {
    #[serde(borrow, default)]
    message: Option<DeltaMessage<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<CohereUsage>,
}

#[derive(Deserialize)]
struct DeltaMessage<'a> {
    #[serde(borrow, default)]
    content: Option<TextItem<'a>>,
    #[serde(borrow, default)]
    tool_plan: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Option<DeltaCall<'a>>,
}

#[derive(Deserialize)]
struct DeltaCall<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    function: Option<DeltaFunction<'a>>,
}

#[derive(Deserialize)]
struct DeltaFunction<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

pub struct CohereStream {
    ctx: ReplyCtx,
    chunks: Option<Chunks>,
    usage: Option<Usage>,
    /// Cohere's tool call index → OpenAI's.
    tools: Vec<(u64, u64)>,
    text: RawText,
    done: bool,
}

impl CohereStream {
    pub fn new(ctx: ReplyCtx) -> CohereStream {
        CohereStream {
            ctx,
            chunks: None,
            usage: None,
            tools: Vec::new(),
            text: RawText::default(),
            done: false,
        }
    }

    fn chunks(&mut self, id: Option<&str>) -> &Chunks {
        let ctx = &self.ctx;
        self.chunks.get_or_insert_with(|| {
            let id = out::id_or_new(id);
            Chunks::new(&Meta {
                id: &id,
                model: &ctx.model,
                created: ctx.created,
            })
        })
    }
}

impl EventTranslate for CohereStream {
    fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        let Ok(e) = serde_json::from_slice::<Event<'_>>(data) else {
            return;
        };
        let message = e.delta.as_ref().and_then(|d| d.message.as_ref());
        match &*e.kind {
            "message-start" => self.chunks(e.id.as_deref()).role(out),
            "content-delta" => {
                if let Some(t) = message
                    .and_then(|m| m.content.as_ref())
                    .and_then(|c| c.text)
                {
                    self.chunks(None).content_token(out, t.get());
                    if self.text.len() < MAX_COMPLETION_TEXT {
                        self.text.push_token(t);
                    }
                }
            }
            "tool-plan-delta" => {
                if let Some(t) = message.and_then(|m| m.tool_plan) {
                    self.chunks(None).reasoning_token(out, t.get());
                }
            }
            "tool-call-start" => {
                let Some(call) = message.and_then(|m| m.tool_calls.as_ref()) else {
                    return;
                };
                let index = self.tools.len() as u64;
                self.tools.push((e.index.unwrap_or(index), index));
                let f = call.function.as_ref();
                let start = ToolCallOut {
                    id: call.id.clone().unwrap_or_default(),
                    name: f.and_then(|f| f.name.clone()).unwrap_or_default(),
                    arguments: Cow::Borrowed(""),
                };
                self.chunks(None).tool_call_start(out, index, &start);
                if let Some(args) = f.and_then(|f| f.arguments).filter(|a| a.get() != "\"\"") {
                    self.chunks(None)
                        .tool_call_arguments(out, index, args.get());
                }
            }
            "tool-call-delta" => {
                let args = message
                    .and_then(|m| m.tool_calls.as_ref())
                    .and_then(|c| c.function.as_ref())
                    .and_then(|f| f.arguments);
                let cohere_index = e.index.unwrap_or(0);
                let tool = self.tools.iter().find(|(c, _)| *c == cohere_index).copied();
                if let (Some((_, i)), Some(a)) = (tool, args) {
                    self.chunks(None).tool_call_arguments(out, i, a.get());
                }
            }
            "message-end" => {
                self.done = true;
                let delta = e.delta.as_ref();
                self.usage = delta.and_then(|d| d.usage).and_then(CohereUsage::to_usage);
                let finish = delta
                    .and_then(|d| d.finish_reason.as_deref())
                    .map_or(Finish::Stop, finish_reason);
                self.chunks(None).finish(out, finish);
                if let (true, Some(u)) = (self.ctx.include_usage, self.usage) {
                    self.chunks(None).usage(out, &u, None);
                }
                out::done(out);
            }
            _ => {}
        }
    }

    fn end(&mut self, _out: &mut Vec<u8>) {}

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn text(&self) -> String {
        self.text.decoded()
    }
}

#[derive(Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

/// `{"message":"..."}` → OpenAI's error object.
pub fn error(body: &[u8], status: u16, _hint: Option<&str>, out: &mut Vec<u8>) {
    let message = serde_json::from_slice::<ErrorBody<'_>>(body)
        .ok()
        .and_then(|e| e.message.map(Cow::into_owned))
        .unwrap_or_else(|| plain_error_message(body, status));
    out::write_error(out, &message, out::error_type_for(status), None);
}
