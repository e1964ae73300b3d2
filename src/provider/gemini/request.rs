//! OpenAI chat request → Gemini `generateContent` request (Google AI Studio and Vertex AI take
//! the same body; streaming is the URL's business, `:streamGenerateContent?alt=sse`).
//!
//! - System messages → `systemInstruction.parts` (every one, in order).
//! - `user` → role `user`, `assistant` → role `model`; consecutive turns of one role merge.
//! - Text → `{text}`; `image_url` → `inlineData` for `data:` URLs, else `fileData` (the media type
//!   from the URL's extension); `file` parts with a `data:` URL → `inlineData`.
//! - Assistant `tool_calls` → `functionCall {name, args}` parts (every call, with its arguments).
//! - `tool` messages → `functionResponse {name, response}` parts of a user turn, the name found
//!   from the assistant call the `tool_call_id` answers; a JSON-object result is the response,
//!   any other text becomes `{"content": text}`.
//! - `generationConfig`: `maxOutputTokens`, `temperature`, `topP`, `topK`, `stopSequences`,
//!   `seed`, `presencePenalty`, `frequencyPenalty`, and `responseMimeType`/`responseJsonSchema`
//!   from `response_format`.
//! - `tools` → one `functionDeclarations` list with each schema as `parametersJsonSchema` (full
//!   JSON Schema, so OpenAI-style schemas with `additionalProperties` are accepted);
//!   `tool_choice` → `toolConfig.functionCallingConfig` (`required` → `ANY`, a named function
//!   → `ANY` with `allowedFunctionNames`).

use crate::provider::chat::json::Obj;
use crate::provider::chat::turns::{write_turns, Items, TurnShape};
use crate::provider::chat::{
    arguments_object, bad, media_type_of_url, unquote, Block, ChatRequest, Content, DataUrl,
    Message, Part, RequestCtx, Role, SamplingKeys, ToolChoice, TranslateError,
};
use serde_json::value::RawValue;

pub fn request(
    req: &ChatRequest<'_>,
    ctx: &RequestCtx<'_>,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    req.check_single_choice("gemini")?;
    let mut o = Obj::new(out);
    write_contents(&req.messages, o.key("contents"))?;
    write_system(req, &mut o)?;
    write_generation_config(req, ctx, &mut o)?;
    write_tools(req, &mut o)?;
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
            Content::Parts(ps) => {
                for p in ps {
                    if let Some(t) = p.text {
                        texts.push(t);
                    }
                }
            }
        }
    }
    if texts.is_empty() {
        return Ok(());
    }
    let mut si = o.obj("systemInstruction");
    let mut arr = si.arr("parts");
    for t in texts {
        arr.obj().token("text", t).end();
    }
    arr.end();
    si.end();
    Ok(())
}

fn write_contents(messages: &[Message<'_>], out: &mut Vec<u8>) -> Result<(), TranslateError> {
    // tool_call_id → function name, from the assistant turns that made the calls.
    let mut names: Vec<(&str, &str)> = Vec::new();
    for m in messages {
        for c in m.tool_calls.iter().flatten() {
            if let Some(id) = c.id.as_deref() {
                names.push((id, &c.function.name));
            }
        }
    }
    let shape = TurnShape {
        items_key: "parts",
        assistant: "model",
    };
    write_turns(messages, shape, out, |m, parts| {
        write_parts(m, &names, parts)
    })
}

fn write_parts(
    m: &Message<'_>,
    names: &[(&str, &str)],
    parts: &mut Items,
) -> Result<(), TranslateError> {
    let role = Role::of(m)?;
    if role == Role::Tool {
        let id = m
            .tool_call_id
            .as_deref()
            .ok_or_else(|| bad("a tool message needs tool_call_id"))?;
        let name = names
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| *n)
            .ok_or_else(|| {
                bad(format!(
                    "tool message {id} answers no tool call of an earlier assistant message"
                ))
            })?;
        let mut p = parts.obj();
        let mut fr = p.obj("functionResponse");
        fr.str("name", name);
        write_function_response(&Content::of(m.content)?, fr.key("response"))?;
        fr.end();
        p.end();
        return Ok(());
    }
    Content::of(m.content)?.each_block(|b| match b {
        Block::Text(t) => {
            parts.obj().token("text", t).end();
            Ok(())
        }
        Block::Part(p) => write_part(p, parts.obj()),
    })?;
    for call in m.tool_calls.iter().flatten() {
        let args = arguments_object(call)?;
        let mut p = parts.obj();
        let mut fc = p.obj("functionCall");
        fc.str("name", &call.function.name).raw("args", args);
        fc.end();
        p.end();
    }
    Ok(())
}

/// A tool's result as `functionResponse.response` (which must be an object).
fn write_function_response(content: &Content<'_>, out: &mut Vec<u8>) -> Result<(), TranslateError> {
    let text = content.joined_text()?;
    let trimmed = text.trim();
    if trimmed.starts_with('{') && serde_json::from_str::<&RawValue>(trimmed).is_ok() {
        out.extend_from_slice(trimmed.as_bytes());
    } else {
        Obj::new(out).str("content", &text).end();
    }
    Ok(())
}

fn write_part(p: &Part<'_>, mut o: Obj<'_>) -> Result<(), TranslateError> {
    match &*p.kind {
        "text" => {
            match p.text {
                Some(t) => o.token("text", t),
                None => o.str("text", ""),
            };
        }
        "image_url" => {
            let url = &p
                .image_url
                .as_ref()
                .ok_or_else(|| bad("an image_url part needs image_url.url"))?
                .url;
            match DataUrl::parse(url) {
                Some(d) => {
                    let mut i = o.obj("inlineData");
                    i.str("mimeType", d.media_type).str("data", d.data);
                    i.end();
                }
                None => {
                    let mut f = o.obj("fileData");
                    f.str("mimeType", media_type_of_url(url))
                        .str("fileUri", url);
                    f.end();
                }
            }
        }
        "file" => {
            let d = p
                .file
                .as_ref()
                .and_then(|f| f.file_data.as_deref())
                .and_then(DataUrl::parse)
                .ok_or_else(|| {
                    bad("a file part needs file.file_data as a base64 data: URL for provider gemini")
                })?;
            let mut i = o.obj("inlineData");
            i.str("mimeType", d.media_type).str("data", d.data);
            i.end();
        }
        other => {
            return Err(bad(format!(
                "content part type `{other}` is not supported for provider gemini"
            )))
        }
    }
    o.end();
    Ok(())
}

fn write_generation_config(
    req: &ChatRequest<'_>,
    ctx: &RequestCtx<'_>,
    o: &mut Obj<'_>,
) -> Result<(), TranslateError> {
    let mut g = o.obj("generationConfig");
    let keys = SamplingKeys {
        max_tokens: Some("maxOutputTokens"),
        top_p: "topP",
        top_k: Some("topK"),
        stop: "stopSequences",
        seed_and_penalties: Some(["seed", "presencePenalty", "frequencyPenalty"]),
    };
    ctx.write_sampling(req, &mut g, keys)?;
    if let Some(f) = &req.response_format {
        match &*f.kind {
            "json_object" => {
                g.str("responseMimeType", "application/json");
            }
            "json_schema" => {
                g.str("responseMimeType", "application/json");
                if let Some(schema) = f.json_schema.as_ref().and_then(|s| s.schema) {
                    g.token("responseJsonSchema", schema);
                }
            }
            _ => {}
        }
    }
    g.end();
    Ok(())
}

fn write_tools(req: &ChatRequest<'_>, o: &mut Obj<'_>) -> Result<(), TranslateError> {
    let choice = ToolChoice::of(req.tool_choice)?;
    let Some(tools) = req.tools.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(());
    };
    {
        let mut arr = o.arr("tools");
        let mut holder = arr.obj();
        let mut decls = holder.arr("functionDeclarations");
        for t in tools {
            if t.kind.as_deref().is_some_and(|k| k != "function") {
                return Err(bad("only function tools are supported for provider gemini"));
            }
            let mut d = decls.obj();
            d.token("name", t.function.name);
            if let Some(desc) = t.function.description.filter(|d| d.get() != "null") {
                d.token("description", desc);
            }
            if let Some(schema) = t.function.parameters.filter(|p| p.get() != "null") {
                d.token("parametersJsonSchema", schema);
            }
            d.end();
        }
        decls.end();
        holder.end();
        arr.end();
    }
    let (mode, only) = match choice {
        None => return Ok(()),
        Some(ToolChoice::Auto) => ("AUTO", None),
        Some(ToolChoice::None) => ("NONE", None),
        Some(ToolChoice::Required) => ("ANY", None),
        Some(ToolChoice::Function(name)) => ("ANY", Some(name)),
    };
    let mut tc = o.obj("toolConfig");
    let mut fc = tc.obj("functionCallingConfig");
    fc.str("mode", mode);
    if let Some(name) = only {
        // Validated as a string token when it was parsed.
        let _ = unquote(name)?;
        let mut names = fc.arr("allowedFunctionNames");
        names.raw(name.get());
        names.end();
    }
    fc.end();
    tc.end();
    Ok(())
}
