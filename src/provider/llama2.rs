//! `provider: llama2` with `llama2_format: raw`: a text-generation endpoint (Hugging Face TGI or
//! Inference API style) that takes one prompt, `{"inputs": ..., "parameters": {...}}`.
//!
//! The conversation is written in Llama 2's chat template (the system prompt inside the first
//! `[INST]` in `<<SYS>>` tags, each user turn in `[INST] ... [/INST]`, each assistant turn after
//! it closed with `</s>`). Kong's template writes the first message as the system prompt
//! whatever its role; this one uses roles. Tool calls and streaming have no meaning for a raw
//! prompt and are refused. Answers (`[{"generated_text"}]`, `{"generated_text"}` or Kong's
//! `{"data":[{"generated_text"}]}`) become a `chat.completion` with the text after the last
//! `[/INST]` (servers that echo the prompt); usage is read when the server sends an OpenAI-style
//! `usage`, else the tokenizer counts it.

use super::chat::json::Obj;
use super::chat::out::{self, write_completion, Finish, MessageOut, Meta};
use super::chat::{bad, write_stop_array, ChatRequest, Content, RequestCtx, Role, TranslateError};
use super::translate::{Outcome, ReplyCtx};
use crate::usage::Usage;
use serde::Deserialize;
use std::borrow::Cow;

pub fn request(
    req: &ChatRequest<'_>,
    ctx: &RequestCtx<'_>,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    req.check_single_choice("llama2")?;
    if ctx.stream {
        return Err(bad("streaming is not supported for llama2_format raw"));
    }
    if req.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(bad("tools are not supported for llama2_format raw"));
    }
    let prompt = prompt(req)?;
    let mut o = Obj::new(out);
    o.str("inputs", &prompt);
    let mut p = o.obj("parameters");
    if let Some(n) = ctx.max_tokens(req) {
        p.raw("max_new_tokens", n);
    }
    if let Some(t) = ctx.temperature(req) {
        p.raw("temperature", t);
    }
    if let Some(t) = ctx.top_p(req) {
        p.raw("top_p", t);
    }
    if let Some(k) = ctx.top_k(req) {
        p.raw("top_k", &k);
    }
    if let Some(stop) = req.stop.filter(|s| s.get() != "null") {
        write_stop_array(stop, p.key("stop"))?;
    }
    p.bool("return_full_text", false);
    p.end();
    o.end();
    Ok(())
}

/// The conversation in Llama 2's chat template.
pub fn prompt(req: &ChatRequest<'_>) -> Result<String, TranslateError> {
    let mut system = String::new();
    let mut turns: Vec<(Role, String)> = Vec::new();
    for m in &req.messages {
        let text = Content::of(m.content)?.joined_text()?;
        match Role::of(m)? {
            Role::System => {
                if !system.is_empty() {
                    system.push('\n');
                }
                system.push_str(&text);
            }
            Role::Tool => return Err(bad("tool messages are not supported for llama2_format raw")),
            role => turns.push((role, text)),
        }
    }
    let mut out = String::new();
    let mut first_user = true;
    for (role, text) in turns {
        match role {
            Role::User => {
                out.push_str("<s>[INST] ");
                if first_user && !system.is_empty() {
                    out.push_str("<<SYS>>\n");
                    out.push_str(&system);
                    out.push_str("\n<</SYS>>\n\n");
                }
                first_user = false;
                out.push_str(text.trim());
                out.push_str(" [/INST]");
            }
            _ => {
                out.push(' ');
                out.push_str(text.trim());
                out.push_str(" </s>");
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct Generated<'a> {
    #[serde(borrow)]
    generated_text: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAnswer<'a> {
    #[serde(borrow)]
    List(Vec<Generated<'a>>),
    Kong {
        #[serde(borrow)]
        data: Vec<Generated<'a>>,
        #[serde(default)]
        usage: Option<OpenAiUsage>,
    },
    #[serde(borrow)]
    One(Generated<'a>),
}

#[derive(Deserialize, Clone, Copy)]
struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

pub fn response(body: &[u8], ctx: &ReplyCtx, out: &mut Vec<u8>) -> Result<Outcome, String> {
    let answer: RawAnswer<'_> = serde_json::from_slice(body)
        .map_err(|_| "not a text-generation response (no generated_text)".to_string())?;
    let (text, usage) = match &answer {
        RawAnswer::List(l) => (l.first().map(|g| &*g.generated_text), None),
        RawAnswer::Kong { data, usage } => (data.first().map(|g| &*g.generated_text), *usage),
        RawAnswer::One(g) => (Some(&*g.generated_text), None),
    };
    let text = text.ok_or("the response has no generated text")?;
    let reply = text.rsplit("[/INST]").next().unwrap_or(text).trim();
    let mut msg = MessageOut::default();
    msg.content.push_str(reply);
    let usage = usage.map(|u| Usage {
        prompt: u.prompt_tokens,
        completion: u.completion_tokens,
        total: u.prompt_tokens + u.completion_tokens,
    });
    let id = out::new_id("chatcmpl-");
    let meta = Meta {
        id: &id,
        model: &ctx.model,
        created: ctx.created,
    };
    write_completion(
        out,
        &meta,
        &msg,
        Finish::Stop,
        usage.as_ref().map(|u| (u, None)),
    );
    Ok(Outcome::of(usage, || reply.to_string()))
}

/// Errors from text-generation servers are `{"error": "..."}`, as Ollama's.
pub use super::ollama::error;
