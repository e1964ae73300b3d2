//! OpenAI chat request → Anthropic Messages request (`POST /v1/messages`).
//!
//! - Every system (and `developer`) message goes into the top-level `system` array, in order.
//! - `tool` messages become `tool_result` blocks of a user turn; assistant `tool_calls` become
//!   `tool_use` blocks (every one of them); consecutive turns of one role are merged, as the API
//!   requires alternating roles.
//! - `image_url` parts become `image` blocks (base64 for `data:` URLs, else `url`); `file` parts
//!   with a `data:` URL become `document` blocks.
//! - `max_tokens` is always sent (Anthropic requires it): the client's, else the target's
//!   `max_tokens` option, else [`DEFAULT_MAX_TOKENS`].
//! - `stop` → `stop_sequences`; `top_p`, `top_k`, `temperature` copied; `tool_choice` mapped
//!   (`required` → `any`); `parallel_tool_calls: false` → `disable_parallel_tool_use`;
//!   `user` → `metadata.user_id`. OpenAI-only parameters (penalties, `seed`, `logprobs`,
//!   `response_format`) have no Anthropic equivalent and are not sent.

use crate::provider::chat::json::Obj;
use crate::provider::chat::turns::{write_turns, Items, TurnShape};
use crate::provider::chat::{
    arguments_object, bad, Block, ChatRequest, Content, DataUrl, Message, Part, RequestCtx, Role,
    SamplingKeys, ToolChoice, TranslateError,
};

/// `max_tokens` when neither the client nor the target set one.
pub const DEFAULT_MAX_TOKENS: &str = "4096";

pub fn request(
    req: &ChatRequest<'_>,
    ctx: &RequestCtx<'_>,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    req.check_single_choice("anthropic")?;
    let mut o = Obj::new(out);
    o.str("model", ctx.model);
    o.raw(
        "max_tokens",
        ctx.max_tokens(req).unwrap_or(DEFAULT_MAX_TOKENS),
    );
    write_system(req, &mut o)?;
    write_messages(&req.messages, o.key("messages"))?;
    if ctx.stream {
        o.bool("stream", true);
    }
    let keys = SamplingKeys {
        max_tokens: None,
        top_p: "top_p",
        top_k: Some("top_k"),
        stop: "stop_sequences",
        seed_and_penalties: None,
    };
    ctx.write_sampling(req, &mut o, keys)?;
    write_tools(req, &mut o)?;
    if let Some(user) = req.user.filter(|u| u.get().starts_with('"')) {
        o.obj("metadata").token("user_id", user).end();
    }
    o.end();
    Ok(())
}

fn write_system(req: &ChatRequest<'_>, o: &mut Obj<'_>) -> Result<(), TranslateError> {
    let mut texts = Vec::new();
    for m in &req.messages {
        if Role::of(m)? != Role::System {
            continue;
        }
        match Content::of(m.content)? {
            Content::None => {}
            Content::Text(t) => texts.push(t),
            Content::Parts(parts) => texts.extend(
                parts
                    .iter()
                    .filter(|p| p.kind == "text")
                    .filter_map(|p| p.text),
            ),
        }
    }
    texts.retain(|t| t.get() != "\"\"");
    if texts.is_empty() {
        return Ok(());
    }
    let mut arr = o.arr("system");
    for t in texts {
        arr.obj().raw("type", "\"text\"").token("text", t).end();
    }
    arr.end();
    Ok(())
}

/// The conversation, merging consecutive turns of one role.
fn write_messages(messages: &[Message<'_>], out: &mut Vec<u8>) -> Result<(), TranslateError> {
    let shape = TurnShape {
        items_key: "content",
        assistant: "assistant",
    };
    write_turns(messages, shape, out, write_blocks)
}

fn write_blocks(m: &Message<'_>, blocks: &mut Items) -> Result<(), TranslateError> {
    let role = Role::of(m)?;
    if role == Role::Tool {
        let id = m
            .tool_call_id
            .as_deref()
            .ok_or_else(|| bad("a tool message needs tool_call_id"))?;
        let mut b = blocks.obj();
        b.raw("type", "\"tool_result\"").str("tool_use_id", id);
        match Content::of(m.content)? {
            Content::None => {}
            Content::Text(t) => {
                b.token("content", t);
            }
            Content::Parts(parts) => {
                let mut arr = b.arr("content");
                for p in &parts {
                    write_part(p, arr.item())?;
                }
                arr.end();
            }
        }
        b.end();
        return Ok(());
    }
    Content::of(m.content)?.each_block(|b| match b {
        Block::Text(t) => {
            blocks.obj().raw("type", "\"text\"").token("text", t).end();
            Ok(())
        }
        Block::Part(p) => write_part(p, blocks.item()),
    })?;
    if role == Role::Assistant {
        for call in m.tool_calls.iter().flatten() {
            let id = call
                .id
                .as_deref()
                .ok_or_else(|| bad("an assistant tool call needs an id"))?;
            let input = arguments_object(call)?;
            blocks
                .obj()
                .raw("type", "\"tool_use\"")
                .str("id", id)
                .str("name", &call.function.name)
                .raw("input", input)
                .end();
        }
    }
    Ok(())
}

/// One OpenAI content part as an Anthropic content block.
fn write_part(p: &Part<'_>, out: &mut Vec<u8>) -> Result<(), TranslateError> {
    let mut b = Obj::new(out);
    match &*p.kind {
        "text" => {
            b.raw("type", "\"text\"");
            match p.text {
                Some(t) => b.token("text", t),
                None => b.str("text", ""),
            };
        }
        "image_url" => {
            let url = &p
                .image_url
                .as_ref()
                .ok_or_else(|| bad("an image_url part needs image_url.url"))?
                .url;
            b.raw("type", "\"image\"");
            let mut src = b.obj("source");
            match DataUrl::parse(url) {
                Some(d) => {
                    src.raw("type", "\"base64\"")
                        .str("media_type", d.media_type)
                        .str("data", d.data);
                }
                None => {
                    src.raw("type", "\"url\"").str("url", url);
                }
            }
            src.end();
        }
        "file" => return write_file_part(p, b),
        other => {
            return Err(bad(format!(
                "content part type `{other}` is not supported for provider anthropic"
            )))
        }
    }
    b.end();
    Ok(())
}

/// `{"type":"file","file":{"file_data":"data:application/pdf;base64,..."}}` → a document block.
/// OpenAI file ids mean nothing to Anthropic, so only inline data is accepted.
fn write_file_part(p: &Part<'_>, mut b: Obj<'_>) -> Result<(), TranslateError> {
    let data = p
        .file
        .as_ref()
        .and_then(|f| f.file_data.as_deref())
        .and_then(DataUrl::parse)
        .ok_or_else(|| {
            bad("a file part needs file.file_data as a base64 data: URL for provider anthropic")
        })?;
    b.raw("type", "\"document\"");
    let mut src = b.obj("source");
    src.raw("type", "\"base64\"")
        .str("media_type", data.media_type)
        .str("data", data.data);
    src.end();
    b.end();
    Ok(())
}

fn write_tools(req: &ChatRequest<'_>, o: &mut Obj<'_>) -> Result<(), TranslateError> {
    let choice = ToolChoice::of(req.tool_choice)?;
    let Some(tools) = req.tools.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(());
    };
    let mut arr = o.arr("tools");
    for t in tools {
        if t.kind.as_deref().is_some_and(|k| k != "function") {
            return Err(bad(
                "only function tools are supported for provider anthropic",
            ));
        }
        let mut d = arr.obj();
        d.token("name", t.function.name);
        if let Some(desc) = t.function.description.filter(|d| d.get() != "null") {
            d.token("description", desc);
        }
        match t.function.parameters.filter(|p| p.get() != "null") {
            Some(schema) => d.token("input_schema", schema),
            None => d.raw("input_schema", r#"{"type":"object","properties":{}}"#),
        };
        d.end();
    }
    arr.end();
    let no_parallel = req.parallel_tool_calls == Some(false);
    let kind = match choice {
        Some(ToolChoice::None) => {
            o.raw("tool_choice", r#"{"type":"none"}"#);
            return Ok(());
        }
        Some(ToolChoice::Required) => "any",
        Some(ToolChoice::Function(_)) => "tool",
        Some(ToolChoice::Auto) => "auto",
        None if no_parallel => "auto",
        None => return Ok(()),
    };
    let mut c = o.obj("tool_choice");
    c.str("type", kind);
    if let Some(ToolChoice::Function(name)) = choice {
        c.token("name", name);
    }
    if no_parallel {
        c.bool("disable_parallel_tool_use", true);
    }
    c.end();
    Ok(())
}
