//! Anthropic Messages response → OpenAI `chat.completion`, Anthropic errors → OpenAI errors, and
//! the usage arithmetic both the body and the stream share.

use crate::provider::chat::out::{self, write_completion, Finish, MessageOut, Meta, ToolCallOut};
use crate::provider::translate::{plain_error_message, Outcome, ReplyCtx};
use crate::usage::Usage;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// `stop_reason` → `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> Finish {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "tool_use" => Finish::ToolCalls,
        "refusal" => Finish::ContentFilter,
        // end_turn, stop_sequence, pause_turn
        _ => Finish::Stop,
    }
}

/// Anthropic's `usage` object (every field optional: `message_delta` carries only some).
#[derive(Deserialize, Default, Debug, Clone, Copy)]
pub struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Counts from `later` replace these (Anthropic's counts are cumulative, never deltas).
    pub fn update(&mut self, later: &AnthropicUsage) {
        let set = |slot: &mut Option<u64>, v: Option<u64>| {
            if v.is_some() {
                *slot = v;
            }
        };
        set(&mut self.input_tokens, later.input_tokens);
        set(&mut self.output_tokens, later.output_tokens);
        set(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        set(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
    }

    /// OpenAI's view: prompt tokens include the cached and cache-written ones (Anthropic counts
    /// them apart from `input_tokens`), so cost and balancing see every token billed.
    pub fn to_openai(self) -> Usage {
        let prompt = self.input_tokens.unwrap_or(0)
            + self.cache_creation_input_tokens.unwrap_or(0)
            + self.cache_read_input_tokens.unwrap_or(0);
        let completion = self.output_tokens.unwrap_or(0);
        Usage {
            prompt,
            completion,
            total: prompt + completion,
        }
    }

    pub fn seen(&self) -> bool {
        self.input_tokens.is_some() || self.output_tokens.is_some()
    }
}

#[derive(Deserialize)]
pub struct Block<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub thinking: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub input: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct MessageBody<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content: Vec<Block<'a>>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

/// A whole Messages response as a `chat.completion`.
pub fn response(body: &[u8], ctx: &ReplyCtx, out: &mut Vec<u8>) -> Result<Outcome, String> {
    let m: MessageBody<'_> =
        serde_json::from_slice(body).map_err(|e| format!("not an Anthropic message: {e}"))?;
    let mut msg = MessageOut::default();
    for b in &m.content {
        match &*b.kind {
            "text" => {
                if let Some(t) = b.text {
                    msg.content.push_token(t);
                }
            }
            "thinking" => {
                if let Some(t) = b.thinking {
                    msg.reasoning.push_token(t);
                }
            }
            "tool_use" => msg.tool_calls.push(ToolCallOut {
                id: b.id.clone().unwrap_or_default(),
                name: b.name.clone().unwrap_or_default(),
                arguments: Cow::Borrowed(b.input.map_or("{}", RawValue::get)),
            }),
            _ => {}
        }
    }
    let finish = m.stop_reason.as_deref().map_or(Finish::Stop, finish_reason);
    let usage = m.usage.filter(AnthropicUsage::seen);
    let openai_usage = usage.map(AnthropicUsage::to_openai);
    let id = m.id.as_deref().unwrap_or("msg");
    let meta = Meta {
        id,
        model: m.model.as_deref().unwrap_or(&ctx.model),
        created: ctx.created,
    };
    let cached = usage.and_then(|u| u.cache_read_input_tokens);
    write_completion(
        out,
        &meta,
        &msg,
        finish,
        openai_usage.as_ref().map(|u| (u, cached)),
    );
    Ok(Outcome::of(openai_usage, || msg.content.decoded()))
}

#[derive(Deserialize)]
pub struct ErrorDetail<'a> {
    #[serde(borrow, rename = "type", default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ErrorEnvelope<'a> {
    #[serde(borrow)]
    error: ErrorDetail<'a>,
}

/// `{"type":"error","error":{"type":"...","message":"..."}}` → OpenAI's error object; Anthropic's
/// error types (`invalid_request_error`, `rate_limit_error`, `overloaded_error`...) are kept.
pub fn error(body: &[u8], status: u16, _hint: Option<&str>, out: &mut Vec<u8>) {
    match serde_json::from_slice::<ErrorEnvelope<'_>>(body) {
        Ok(e) => out::write_error(
            out,
            e.error.message.as_deref().unwrap_or("error"),
            e.error
                .kind
                .as_deref()
                .unwrap_or(out::error_type_for(status)),
            None,
        ),
        Err(_) => out::write_error(
            out,
            &plain_error_message(body, status),
            out::error_type_for(status),
            None,
        ),
    }
}
