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

use crate::provider::chat::json::{Arr, Obj};
use crate::provider::chat::{
    arguments_object, bad, media_type_of_url, unquote, write_stop_array, ChatRequest, Content,
    DataUrl, Message, Part, RequestCtx, Role, ToolChoice, TranslateError,
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
    let mut turns = Arr::new(out);
    let mut role = "";
    let mut parts: Vec<u8> = Vec::new();
    let mut count = 0usize;
    for m in messages {
        let this = match Role::of(m)? {
            Role::System => continue,
            Role::User | Role::Tool => "user",
            Role::Assistant => "model",
        };
        if this != role {
            flush(&mut turns, role, &mut parts, &mut count);
            role = this;
        }
        write_parts(m, &names, &mut parts, &mut count)?;
    }
    flush(&mut turns, role, &mut parts, &mut count);
    turns.end();
    Ok(())
}

fn flush(turns: &mut Arr<'_>, role: &str, parts: &mut Vec<u8>, count: &mut usize) {
    if *count == 0 {
        return;
    }
    let mut t = turns.obj();
    t.str("role", role);
    let p = t.key("parts");
    p.push(b'[');
    p.extend_from_slice(parts);
    p.push(b']');
    t.end();
    parts.clear();
    *count = 0;
}

fn next<'o>(parts: &'o mut Vec<u8>, count: &mut usize) -> Obj<'o> {
    if *count > 0 {
        parts.push(b',');
    }
    *count += 1;
    Obj::new(parts)
}

fn write_parts(
    m: &Message<'_>,
    names: &[(&str, &str)],
    parts: &mut Vec<u8>,
    count: &mut usize,
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
        let mut p = next(parts, count);
        let mut fr = p.obj("functionResponse");
        fr.str("name", name);
        write_function_response(&Content::of(m.content)?, fr.key("response"))?;
        fr.end();
        p.end();
        return Ok(());
    }
    match Content::of(m.content)? {
        Content::None => {}
        Content::Text(t) => {
            if t.get() != "\"\"" {
                next(parts, count).token("text", t).end();
            }
        }
        Content::Parts(ps) => {
            for p in &ps {
                if p.kind == "text" && p.text.is_none_or(|t| t.get() == "\"\"") {
                    continue;
                }
                write_part(p, next(parts, count))?;
            }
        }
    }
    for call in m.tool_calls.iter().flatten() {
        let args = arguments_object(call)?;
        let mut p = next(parts, count);
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
    if let Some(n) = ctx.max_tokens(req) {
        g.raw("maxOutputTokens", n);
    }
    if let Some(t) = ctx.temperature(req) {
        g.raw("temperature", t);
    }
    if let Some(p) = ctx.top_p(req) {
        g.raw("topP", p);
    }
    if let Some(k) = ctx.top_k(req) {
        g.raw("topK", &k);
    }
    if let Some(stop) = req.stop.filter(|s| s.get() != "null") {
        write_stop_array(stop, g.key("stopSequences"))?;
    }
    for (key, value) in [
        ("seed", req.seed),
        ("presencePenalty", req.presence_penalty),
        ("frequencyPenalty", req.frequency_penalty),
    ] {
        if let Some(v) = value.filter(|v| v.get() != "null") {
            g.token(key, v);
        }
    }
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
