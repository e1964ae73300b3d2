//! Cohere's v2 chat API (`POST /v2/chat`). Its messages are close to OpenAI's (system, user,
//! assistant with `tool_calls`, tool with `tool_call_id`; text and `image_url` parts), so the
//! request keeps each message's content as sent and renames the parameters: `top_p` → `p`,
//! `top_k` → `k`, `stop` → `stop_sequences`, `tool_choice` `required`/`none` → `REQUIRED`/`NONE`,
//! `response_format` `json_schema` → `{type: json_object, json_schema}`. Answers and stream
//! events are translated back ([`response`]).

pub mod response;

pub use response::{error, response, CohereStream};

use crate::provider::chat::json::Obj;
use crate::provider::chat::{
    bad, ChatRequest, RequestCtx, Role, SamplingKeys, ToolChoice, TranslateError,
    OPENAI_SEED_AND_PENALTIES,
};

pub fn request(
    req: &ChatRequest<'_>,
    ctx: &RequestCtx<'_>,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    req.check_single_choice("cohere")?;
    let mut o = Obj::new(out);
    o.str("model", ctx.model);
    {
        let mut msgs = o.arr("messages");
        for m in &req.messages {
            let role = match Role::of(m)? {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
                Role::Tool => "tool",
            };
            let mut w = msgs.obj();
            w.str("role", role);
            match m.content.filter(|c| c.get() != "null") {
                Some(c) => {
                    w.token("content", c);
                }
                None if role == "assistant" => {}
                None => {
                    w.str("content", "");
                }
            }
            if role == "tool" {
                let id = m
                    .tool_call_id
                    .as_deref()
                    .ok_or_else(|| bad("a tool message needs tool_call_id"))?;
                w.str("tool_call_id", id);
            }
            if let Some(calls) = m.tool_calls.as_ref().filter(|c| !c.is_empty()) {
                let mut arr = w.arr("tool_calls");
                for call in calls {
                    let mut c = arr.obj();
                    c.str("id", call.id.as_deref().unwrap_or(""))
                        .str("type", "function");
                    let mut f = c.obj("function");
                    f.str("name", &call.function.name).str(
                        "arguments",
                        call.function.arguments.as_deref().unwrap_or("{}"),
                    );
                    f.end();
                    c.end();
                }
                arr.end();
            }
            w.end();
        }
        msgs.end();
    }
    o.bool("stream", ctx.stream);
    let keys = SamplingKeys {
        max_tokens: Some("max_tokens"),
        top_p: "p",
        top_k: Some("k"),
        stop: "stop_sequences",
        seed_and_penalties: Some(OPENAI_SEED_AND_PENALTIES),
    };
    ctx.write_sampling(req, &mut o, keys)?;
    if let Some(f) = &req.response_format {
        match &*f.kind {
            "json_object" => {
                o.raw("response_format", r#"{"type":"json_object"}"#);
            }
            "json_schema" => {
                let mut rf = o.obj("response_format");
                rf.str("type", "json_object");
                if let Some(schema) = f.json_schema.as_ref().and_then(|s| s.schema) {
                    rf.token("json_schema", schema);
                }
                rf.end();
            }
            _ => {}
        }
    }
    if let Some(tools) = req.tools.as_ref().filter(|t| !t.is_empty()) {
        let mut arr = o.arr("tools");
        for t in tools {
            let mut w = arr.obj();
            w.str("type", "function");
            let mut f = w.obj("function");
            f.token("name", t.function.name);
            if let Some(d) = t.function.description.filter(|d| d.get() != "null") {
                f.token("description", d);
            }
            if let Some(p) = t.function.parameters.filter(|p| p.get() != "null") {
                f.token("parameters", p);
            }
            f.end();
            w.end();
        }
        arr.end();
        match ToolChoice::of(req.tool_choice)? {
            Some(ToolChoice::Required) => {
                o.str("tool_choice", "REQUIRED");
            }
            Some(ToolChoice::None) => {
                o.str("tool_choice", "NONE");
            }
            Some(ToolChoice::Function(_)) => {
                return Err(bad(
                    "provider cohere cannot be made to call one named tool (use required)",
                ))
            }
            Some(ToolChoice::Auto) | None => {}
        }
    }
    o.end();
    Ok(())
}
