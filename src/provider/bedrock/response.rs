//! Bedrock Converse response → OpenAI `chat.completion`, Bedrock errors → OpenAI errors, and the
//! pieces the stream shares (stop reasons, usage).

use crate::provider::chat::out::{self, write_completion, Finish, MessageOut, Meta, ToolCallOut};
use crate::provider::translate::{plain_error_message, Outcome, ReplyCtx};
use crate::usage::Usage;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// `stopReason` → `finish_reason`.
pub fn finish_reason(reason: &str) -> Finish {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "tool_use" => Finish::ToolCalls,
        "guardrail_intervened" | "content_filtered" => Finish::ContentFilter,
        _ => Finish::Stop,
    }
}

/// Converse's `usage`.
#[derive(Deserialize, Default, Clone, Copy, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ConverseUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub total_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_input_tokens: Option<u64>,
}

impl ConverseUsage {
    /// Prompt tokens include the ones read from and written to the prompt cache (Bedrock counts
    /// them apart from `inputTokens`).
    pub fn to_usage(self) -> Usage {
        let prompt = self.input_tokens.unwrap_or(0)
            + self.cache_read_input_tokens.unwrap_or(0)
            + self.cache_write_input_tokens.unwrap_or(0);
        let completion = self.output_tokens.unwrap_or(0);
        Usage {
            prompt,
            completion,
            total: self.total_tokens.unwrap_or(0).max(prompt + completion),
        }
    }

    pub fn seen(&self) -> bool {
        self.input_tokens.is_some() || self.output_tokens.is_some()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseBody<'a> {
    #[serde(borrow)]
    output: Output<'a>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<ConverseUsage>,
}

#[derive(Deserialize)]
struct Output<'a> {
    #[serde(borrow)]
    message: OutMessage<'a>,
}

#[derive(Deserialize)]
struct OutMessage<'a> {
    #[serde(borrow, default)]
    content: Vec<OutBlock<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutBlock<'a> {
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_use: Option<ToolUse<'a>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Reasoning<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUse<'a> {
    #[serde(borrow)]
    tool_use_id: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reasoning<'a> {
    #[serde(borrow, default)]
    reasoning_text: Option<ReasoningText<'a>>,
}

#[derive(Deserialize)]
struct ReasoningText<'a> {
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
}

/// A whole Converse answer as a `chat.completion` (Bedrock gives it no id: one is made).
pub fn response(body: &[u8], ctx: &ReplyCtx, out: &mut Vec<u8>) -> Result<Outcome, String> {
    let b: ConverseBody<'_> =
        serde_json::from_slice(body).map_err(|e| format!("not a Converse response: {e}"))?;
    let mut msg = MessageOut::default();
    for block in &b.output.message.content {
        if let Some(t) = block.text {
            msg.content.push_token(t);
        } else if let Some(u) = &block.tool_use {
            msg.tool_calls.push(ToolCallOut {
                id: u.tool_use_id.clone(),
                name: u.name.clone(),
                arguments: Cow::Borrowed(u.input.map_or("{}", RawValue::get)),
            });
        } else if let Some(t) = block
            .reasoning_content
            .as_ref()
            .and_then(|r| r.reasoning_text.as_ref())
            .and_then(|r| r.text)
        {
            msg.reasoning.push_token(t);
        }
    }
    let finish = b.stop_reason.as_deref().map_or(Finish::Stop, finish_reason);
    let usage = b.usage.filter(ConverseUsage::seen);
    let openai_usage = usage.map(ConverseUsage::to_usage);
    let id = out::new_id("chatcmpl-");
    let meta = Meta {
        id: &id,
        model: &ctx.model,
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
struct ErrorBody<'a> {
    #[serde(borrow, alias = "Message", default)]
    message: Option<Cow<'a, str>>,
}

/// The exception name from `x-amzn-ErrorType` (`ThrottlingException:http://internal...`).
pub fn exception_name(hint: &str) -> &str {
    hint.split(':').next().unwrap_or(hint).trim()
}

/// `{"message":"..."}` with the exception name in `x-amzn-ErrorType` → OpenAI's error object,
/// the exception name as the `code`.
pub fn error(body: &[u8], status: u16, hint: Option<&str>, out: &mut Vec<u8>) {
    let message = serde_json::from_slice::<ErrorBody<'_>>(body)
        .ok()
        .and_then(|e| e.message.map(Cow::into_owned))
        .unwrap_or_else(|| plain_error_message(body, status));
    out::write_error(
        out,
        &message,
        out::error_type_for(status),
        hint.map(exception_name).filter(|n| !n.is_empty()),
    );
}
