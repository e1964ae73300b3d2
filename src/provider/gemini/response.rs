//! Gemini `GenerateContentResponse` → OpenAI, whole or streamed (`alt=sse`: every event is a
//! whole `GenerateContentResponse` holding the next piece), and Gemini errors → OpenAI errors.
//!
//! - Text parts are the content; `thought` parts are `reasoning_content`; `functionCall` parts
//!   are tool calls with their real name, their arguments, and Gemini's call id when it sends
//!   one (else a fresh `call_…` id).
//! - `finishReason`: `STOP` → `stop` (`tool_calls` when the answer calls functions: Gemini says
//!   `STOP` for those too), `MAX_TOKENS` → `length`, the safety family → `content_filter`.
//! - Usage is the LAST `usageMetadata` (Gemini's counts are cumulative, never deltas): prompt =
//!   `promptTokenCount` + `toolUsePromptTokenCount`, completion = `candidatesTokenCount` +
//!   `thoughtsTokenCount` (both billed as output).

use crate::provider::chat::out::{
    self, write_completion, Chunks, Finish, MessageOut, Meta, RawText, ToolCallOut,
};
use crate::provider::translate::{plain_error_message, EventTranslate, Outcome, ReplyCtx};
use crate::usage::{Usage, MAX_COMPLETION_TEXT};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenResponse<'a> {
    #[serde(borrow, default)]
    candidates: Vec<Candidate<'a>>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(borrow, default)]
    model_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    response_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    prompt_feedback: Option<PromptFeedback<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback<'a> {
    #[serde(borrow, default)]
    block_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    #[serde(borrow, default)]
    content: Option<CandidateContent<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct CandidateContent<'a> {
    #[serde(borrow, default)]
    parts: Vec<GPart<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GPart<'a> {
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(default)]
    thought: Option<bool>,
    #[serde(borrow, default)]
    function_call: Option<FunctionCall<'a>>,
}

#[derive(Deserialize)]
struct FunctionCall<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    args: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default, Clone, Copy, Debug)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: Option<u64>,
    #[serde(default)]
    candidates_token_count: Option<u64>,
    #[serde(default)]
    total_token_count: Option<u64>,
    #[serde(default)]
    thoughts_token_count: Option<u64>,
    #[serde(default)]
    tool_use_prompt_token_count: Option<u64>,
    #[serde(default)]
    cached_content_token_count: Option<u64>,
}

impl UsageMetadata {
    fn to_usage(self) -> Usage {
        let prompt =
            self.prompt_token_count.unwrap_or(0) + self.tool_use_prompt_token_count.unwrap_or(0);
        let completion =
            self.candidates_token_count.unwrap_or(0) + self.thoughts_token_count.unwrap_or(0);
        Usage {
            prompt,
            completion,
            total: self.total_token_count.unwrap_or(prompt + completion),
        }
    }
}

/// `finishReason` → `finish_reason`; `calls` is whether the answer called functions.
fn finish_reason(reason: &str, calls: bool) -> Finish {
    match reason {
        "MAX_TOKENS" => Finish::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => Finish::ContentFilter,
        _ if calls => Finish::ToolCalls,
        _ => Finish::Stop,
    }
}

fn tool_call<'a>(f: &FunctionCall<'a>) -> ToolCallOut<'a> {
    ToolCallOut {
        id: f
            .id
            .clone()
            .unwrap_or_else(|| Cow::Owned(out::new_id("call_"))),
        name: f.name.clone(),
        arguments: Cow::Borrowed(f.args.map_or("{}", RawValue::get)),
    }
}

/// A whole answer as a `chat.completion`. A JSON array of responses (what
/// `streamGenerateContent` sends without `alt=sse`) is read too, for native-format usage.
pub fn response(body: &[u8], ctx: &ReplyCtx, out: &mut Vec<u8>) -> Result<Outcome, String> {
    let first = body.iter().find(|c| !c.is_ascii_whitespace());
    let responses: Vec<GenResponse<'_>> = if first == Some(&b'[') {
        serde_json::from_slice(body)
    } else {
        serde_json::from_slice(body).map(|r| vec![r])
    }
    .map_err(|e| format!("not a Gemini response: {e}"))?;
    let mut msg = MessageOut::default();
    let mut reason: Option<Cow<'_, str>> = None;
    let mut usage = None;
    let mut blocked = false;
    for r in &responses {
        if let Some(u) = r.usage_metadata {
            usage = Some(u);
        }
        blocked |= r
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some());
        let Some(c) = r.candidates.first() else {
            continue;
        };
        for p in c.content.iter().flat_map(|c| &c.parts) {
            if let Some(f) = &p.function_call {
                msg.tool_calls.push(tool_call(f));
            } else if let Some(t) = p.text {
                if p.thought == Some(true) {
                    msg.reasoning.push_token(t);
                } else {
                    msg.content.push_token(t);
                }
            }
        }
        if c.finish_reason.is_some() {
            reason = c.finish_reason.clone();
        }
    }
    let finish = match (&reason, blocked) {
        (Some(r), _) => finish_reason(r, !msg.tool_calls.is_empty()),
        (None, true) => Finish::ContentFilter,
        (None, false) if !msg.tool_calls.is_empty() => Finish::ToolCalls,
        (None, false) => Finish::Stop,
    };
    let last = responses.last();
    let id = out::id_or_new(last.and_then(|r| r.response_id.as_deref()));
    let meta = Meta {
        id: &id,
        model: last
            .and_then(|r| r.model_version.as_deref())
            .unwrap_or(&ctx.model),
        created: ctx.created,
    };
    let openai_usage = usage.map(UsageMetadata::to_usage);
    let cached = usage.and_then(|u| u.cached_content_token_count);
    write_completion(
        out,
        &meta,
        &msg,
        finish,
        openai_usage.as_ref().map(|u| (u, cached)),
    );
    Ok(Outcome::of(openai_usage, || msg.content.decoded()))
}

/// Stream events (`alt=sse`) → chunks.
pub struct GeminiStream {
    ctx: ReplyCtx,
    chunks: Option<Chunks>,
    usage: Option<UsageMetadata>,
    calls: u64,
    finished: bool,
    text: RawText,
}

impl GeminiStream {
    pub fn new(ctx: ReplyCtx) -> GeminiStream {
        GeminiStream {
            ctx,
            chunks: None,
            usage: None,
            calls: 0,
            finished: false,
            text: RawText::default(),
        }
    }
}

impl EventTranslate for GeminiStream {
    fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let Ok(r) = serde_json::from_slice::<GenResponse<'_>>(data) else {
            return;
        };
        if self.chunks.is_none() {
            let id = out::id_or_new(r.response_id.as_deref());
            let chunks = Chunks::new(&Meta {
                id: &id,
                model: r.model_version.as_deref().unwrap_or(&self.ctx.model),
                created: self.ctx.created,
            });
            chunks.role(out);
            self.chunks = Some(chunks);
        }
        let Some(chunks) = &self.chunks else { return };
        if let Some(u) = r.usage_metadata {
            self.usage = Some(u);
        }
        if let Some(c) = r.candidates.first() {
            for p in c.content.iter().flat_map(|c| &c.parts) {
                if let Some(f) = &p.function_call {
                    chunks.tool_call_start(out, self.calls, &tool_call(f));
                    self.calls += 1;
                } else if let Some(t) = p.text {
                    if p.thought == Some(true) {
                        chunks.reasoning_token(out, t.get());
                    } else {
                        chunks.content_token(out, t.get());
                        if self.usage.is_none() && self.text.len() < MAX_COMPLETION_TEXT {
                            self.text.push_token(t);
                        }
                    }
                }
            }
            if let Some(reason) = c.finish_reason.as_deref() {
                if !self.finished {
                    self.finished = true;
                    chunks.finish(out, finish_reason(reason, self.calls > 0));
                }
            }
        } else if r
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some())
            && !self.finished
        {
            self.finished = true;
            chunks.finish(out, Finish::ContentFilter);
        }
    }

    /// Gemini's stream has no end marker: its end is the body's.
    fn end(&mut self, out: &mut Vec<u8>) {
        let Some(chunks) = &self.chunks else {
            out::stream_error(out, "the provider's stream was empty", "upstream_error");
            return;
        };
        if !self.finished {
            chunks.finish(
                out,
                if self.calls > 0 {
                    Finish::ToolCalls
                } else {
                    Finish::Stop
                },
            );
        }
        if let (true, Some(u)) = (self.ctx.include_usage, self.usage) {
            chunks.usage(out, &u.to_usage(), u.cached_content_token_count);
        }
        out::done(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.map(UsageMetadata::to_usage)
    }

    fn text(&self) -> String {
        self.text.decoded()
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope<'a> {
    #[serde(borrow)]
    error: ErrorDetail<'a>,
}

#[derive(Deserialize)]
struct ErrorDetail<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
}

/// `{"error":{"code":400,"message":"...","status":"INVALID_ARGUMENT"}}` (or that object inside a
/// one-element array) → OpenAI's error object, Google's status as the `code`.
pub fn error(body: &[u8], status: u16, _hint: Option<&str>, out: &mut Vec<u8>) {
    // serde reads a struct from an array too (positionally), so the shape is chosen first.
    let is_array = body.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'[');
    let parsed = if is_array {
        serde_json::from_slice::<Vec<ErrorEnvelope<'_>>>(body)
            .map_err(|_| ())
            .and_then(|mut v| v.pop().ok_or(()))
    } else {
        serde_json::from_slice::<ErrorEnvelope<'_>>(body).map_err(|_| ())
    };
    match parsed {
        Ok(e) => out::write_error(
            out,
            e.error.message.as_deref().unwrap_or("error"),
            out::error_type_for(status),
            e.error.status.as_deref(),
        ),
        Err(_) => out::write_error(
            out,
            &plain_error_message(body, status),
            out::error_type_for(status),
            None,
        ),
    }
}
