//! OpenAI chat request → Bedrock Converse request (`/model/{id}/converse`, or
//! `/converse-stream`: the body is the same).
//!
//! - System messages → `system: [{text}]`, every one.
//! - Consecutive turns of one role merge (Converse requires alternating roles); `tool` messages
//!   join the user turn as `toolResult` blocks: a JSON-object result as `{json}`, any other text
//!   as `{text}` (Converse accepts both).
//! - Assistant `tool_calls` → `toolUse {toolUseId, name, input}` blocks, every one.
//! - `image_url` with a `data:` URL → `image {format, source.bytes}` (Converse takes no image
//!   URLs); `file` parts with a `data:` URL → `document` blocks.
//! - `inferenceConfig`: `maxTokens`, `temperature`, `topP`, `stopSequences`. Converse has no
//!   `top_k` of its own (it is model-specific), so it is not sent.
//! - `tools` → `toolConfig.tools[].toolSpec {name, description, inputSchema.json}`;
//!   `tool_choice` → `toolChoice` (`auto` → `{auto:{}}`, `required` → `{any:{}}`, a function →
//!   `{tool:{name}}`; Converse has no `none`, so `none` sends no `toolChoice`).
//! - `model.options.bedrock.performance_config_latency` → `performanceConfig.latency`.
//! - A client's `guardrailConfig` object (Bedrock's own member) is sent as it came.

use crate::provider::chat::json::Obj;
use crate::provider::chat::turns::{write_turns, Items, TurnShape};
use crate::provider::chat::{
    arguments_object, bad, Block, ChatRequest, Content, DataUrl, Message, Part, RequestCtx, Role,
    SamplingKeys, ToolChoice, TranslateError,
};
use serde_json::value::RawValue;

pub fn request(
    req: &ChatRequest<'_>,
    ctx: &RequestCtx<'_>,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    req.check_single_choice("bedrock")?;
    let mut o = Obj::new(out);
    write_messages(&req.messages, o.key("messages"))?;
    write_system(req, &mut o)?;
    {
        let mut inf = o.obj("inferenceConfig");
        let keys = SamplingKeys {
            max_tokens: Some("maxTokens"),
            top_p: "topP",
            top_k: None,
            stop: "stopSequences",
            seed_and_penalties: None,
        };
        ctx.write_sampling(req, &mut inf, keys)?;
        inf.end();
    }
    write_tools(req, &mut o)?;
    if let Some(guardrail) = req.guardrail_config.filter(|g| g.get().starts_with('{')) {
        o.token("guardrailConfig", guardrail);
    }
    if let Some(latency) = ctx.latency {
        o.obj("performanceConfig").str("latency", latency).end();
    }
    o.end();
    Ok(())
}

fn write_system(req: &ChatRequest<'_>, o: &mut Obj<'_>) -> Result<(), TranslateError> {
    let mut texts: Vec<&RawValue> = Vec::new();
    for m in &req.messages {
        if Role::of(m)? != Role::System {
            continue;
        }
        match Content::of(m.content)? {
            Content::None => {}
            Content::Text(t) => texts.push(t),
            Content::Parts(ps) => texts.extend(ps.iter().filter_map(|p| p.text)),
        }
    }
    texts.retain(|t| t.get() != "\"\"");
    if texts.is_empty() {
        return Ok(());
    }
    let mut arr = o.arr("system");
    for t in texts {
        arr.obj().token("text", t).end();
    }
    arr.end();
    Ok(())
}

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
        let text = Content::of(m.content)?.joined_text()?;
        let trimmed = text.trim();
        let mut b = blocks.obj();
        let mut r = b.obj("toolResult");
        r.str("toolUseId", id);
        let mut content = r.arr("content");
        if trimmed.starts_with('{') && serde_json::from_str::<&RawValue>(trimmed).is_ok() {
            content.obj().raw("json", trimmed).end();
        } else {
            content.obj().str("text", &text).end();
        }
        content.end();
        r.end();
        b.end();
        return Ok(());
    }
    Content::of(m.content)?.each_block(|b| match b {
        Block::Text(t) => {
            blocks.obj().token("text", t).end();
            Ok(())
        }
        Block::Part(p) => write_part(p, blocks.obj()),
    })?;
    for call in m.tool_calls.iter().flatten() {
        let id = call
            .id
            .as_deref()
            .ok_or_else(|| bad("an assistant tool call needs an id"))?;
        let input = arguments_object(call)?;
        let mut b = blocks.obj();
        let mut u = b.obj("toolUse");
        u.str("toolUseId", id)
            .str("name", &call.function.name)
            .raw("input", input);
        u.end();
        b.end();
    }
    Ok(())
}

/// Converse's `format` for an image media type.
fn image_format(media_type: &str) -> Option<&'static str> {
    Some(match media_type {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => return None,
    })
}

/// Converse's `format` for a document media type.
fn document_format(media_type: &str) -> Option<&'static str> {
    Some(match media_type {
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "text/csv" => "csv",
        "text/html" => "html",
        "text/markdown" => "md",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        _ => return None,
    })
}

fn write_part(p: &Part<'_>, mut b: Obj<'_>) -> Result<(), TranslateError> {
    match &*p.kind {
        "text" => {
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
            let d = DataUrl::parse(url).ok_or_else(|| {
                bad("provider bedrock takes images as base64 data: URLs, not links")
            })?;
            let format = image_format(d.media_type).ok_or_else(|| {
                bad(format!(
                    "image type {} is not supported by provider bedrock (png, jpeg, gif, webp)",
                    d.media_type
                ))
            })?;
            let mut img = b.obj("image");
            img.str("format", format);
            img.obj("source").str("bytes", d.data).end();
            img.end();
        }
        "file" => {
            let d = p
                .file
                .as_ref()
                .and_then(|f| f.file_data.as_deref())
                .and_then(DataUrl::parse)
                .ok_or_else(|| {
                    bad("a file part needs file.file_data as a base64 data: URL for provider bedrock")
                })?;
            let format = document_format(d.media_type).ok_or_else(|| {
                bad(format!(
                    "document type {} is not supported by provider bedrock",
                    d.media_type
                ))
            })?;
            let mut doc = b.obj("document");
            doc.str("format", format).str("name", "document");
            doc.obj("source").str("bytes", d.data).end();
            doc.end();
        }
        other => {
            return Err(bad(format!(
                "content part type `{other}` is not supported for provider bedrock"
            )))
        }
    }
    b.end();
    Ok(())
}

fn write_tools(req: &ChatRequest<'_>, o: &mut Obj<'_>) -> Result<(), TranslateError> {
    let choice = ToolChoice::of(req.tool_choice)?;
    let Some(tools) = req.tools.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(());
    };
    let mut tc = o.obj("toolConfig");
    {
        let mut arr = tc.arr("tools");
        for t in tools {
            if t.kind.as_deref().is_some_and(|k| k != "function") {
                return Err(bad(
                    "only function tools are supported for provider bedrock",
                ));
            }
            let mut holder = arr.obj();
            let mut spec = holder.obj("toolSpec");
            spec.token("name", t.function.name);
            if let Some(desc) = t.function.description.filter(|d| d.get() != "null") {
                spec.token("description", desc);
            }
            let mut schema = spec.obj("inputSchema");
            match t.function.parameters.filter(|p| p.get() != "null") {
                Some(s) => schema.token("json", s),
                None => schema.raw("json", r#"{"type":"object","properties":{}}"#),
            };
            schema.end();
            spec.end();
            holder.end();
        }
        arr.end();
    }
    match choice {
        Some(ToolChoice::Auto) => {
            tc.raw("toolChoice", r#"{"auto":{}}"#);
        }
        Some(ToolChoice::Required) => {
            tc.raw("toolChoice", r#"{"any":{}}"#);
        }
        Some(ToolChoice::Function(name)) => {
            let mut c = tc.obj("toolChoice");
            c.obj("tool").token("name", name).end();
            c.end();
        }
        Some(ToolChoice::None) | None => {}
    }
    tc.end();
    Ok(())
}
