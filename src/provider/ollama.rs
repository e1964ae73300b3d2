//! Ollama's native chat API (`POST /api/chat`), for `provider: ollama` and for llama2 and mistral
//! targets with format `ollama`.
//!
//! - Message content must be one string: text parts are joined; `image_url` parts with a
//!   `data:` URL go to the message's `images` (base64); `tool_calls` keep their arguments as
//!   objects; a `tool` message names the function it answers (`tool_name`).
//! - `stream` is always sent (Ollama streams unless told otherwise); sampling parameters go into
//!   `options` (`num_predict`, `temperature`, `top_p`, `top_k`, `stop`, `seed`, penalties);
//!   `response_format` → `format` (`"json"` or the schema).
//! - Answers: `message.content`, `thinking` → `reasoning_content`, `tool_calls` (ids made);
//!   `done_reason` `length` → `length`; usage = `prompt_eval_count`/`eval_count` of the final
//!   object. The stream is newline-delimited JSON, translated line by line to SSE chunks.

use super::chat::json::Obj;
use super::chat::out::{
    self, write_completion, Chunks, Finish, MessageOut, Meta, RawText, ToolCallOut,
};
use super::chat::{
    arguments_object, bad, ChatRequest, Content, DataUrl, RequestCtx, Role, SamplingKeys,
    ToolChoice, TranslateError, OPENAI_SEED_AND_PENALTIES,
};
use super::translate::{plain_error_message, EventTranslate, Outcome, ReplyCtx};
use crate::usage::{Usage, MAX_COMPLETION_TEXT};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

pub fn request(
    req: &ChatRequest<'_>,
    ctx: &RequestCtx<'_>,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    req.check_single_choice("ollama")?;
    let mut names: Vec<(&str, &str)> = Vec::new();
    for m in &req.messages {
        for c in m.tool_calls.iter().flatten() {
            if let Some(id) = c.id.as_deref() {
                names.push((id, &c.function.name));
            }
        }
    }
    let mut o = Obj::new(out);
    o.str("model", ctx.model);
    {
        let mut msgs = o.arr("messages");
        for m in &req.messages {
            let role = Role::of(m)?;
            let mut w = msgs.obj();
            w.str(
                "role",
                match role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    Role::Tool => "tool",
                },
            );
            let mut text = RawText::default();
            let mut images: Vec<&str> = Vec::new();
            let content = Content::of(m.content)?;
            match &content {
                Content::None => {}
                Content::Text(t) => text.push_token(t),
                Content::Parts(parts) => {
                    for p in parts {
                        match &*p.kind {
                            "text" => {
                                if let Some(t) = p.text {
                                    text.push_token(t);
                                }
                            }
                            "image_url" => {
                                let url = p.image_url.as_ref().map(|i| &*i.url).unwrap_or("");
                                let d = DataUrl::parse(url).ok_or_else(|| {
                                    bad("provider ollama takes images as base64 data: URLs")
                                })?;
                                images.push(d.data);
                            }
                            other => {
                                return Err(bad(format!(
                                "content part type `{other}` is not supported for provider ollama"
                            )))
                            }
                        }
                    }
                }
            }
            text.write(w.key("content"));
            if !images.is_empty() {
                let mut arr = w.arr("images");
                for i in images {
                    arr.str(i);
                }
                arr.end();
            }
            if role == Role::Tool {
                if let Some(name) = m
                    .tool_call_id
                    .as_deref()
                    .and_then(|id| names.iter().find(|(i, _)| *i == id))
                {
                    w.str("tool_name", name.1);
                }
            }
            if let Some(calls) = m.tool_calls.as_ref().filter(|c| !c.is_empty()) {
                let mut arr = w.arr("tool_calls");
                for call in calls {
                    let mut c = arr.obj();
                    let mut f = c.obj("function");
                    f.str("name", &call.function.name)
                        .raw("arguments", arguments_object(call)?);
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
    {
        let mut opts = o.obj("options");
        let keys = SamplingKeys {
            max_tokens: Some("num_predict"),
            top_p: "top_p",
            top_k: Some("top_k"),
            stop: "stop",
            seed_and_penalties: Some(OPENAI_SEED_AND_PENALTIES),
        };
        ctx.write_sampling(req, &mut opts, keys)?;
        opts.end();
    }
    if let Some(f) = &req.response_format {
        match (&*f.kind, f.json_schema.as_ref().and_then(|s| s.schema)) {
            ("json_schema", Some(schema)) => {
                o.token("format", schema);
            }
            ("json_object" | "json_schema", _) => {
                o.str("format", "json");
            }
            _ => {}
        }
    }
    let no_tools = matches!(ToolChoice::of(req.tool_choice)?, Some(ToolChoice::None));
    if let Some(tools) = req.tools.as_ref().filter(|t| !t.is_empty() && !no_tools) {
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
    }
    o.end();
    Ok(())
}

#[derive(Deserialize)]
struct OllamaMessage<'a> {
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    thinking: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Vec<OllamaCall<'a>>,
}

#[derive(Deserialize)]
struct OllamaCall<'a> {
    #[serde(borrow)]
    function: OllamaFunction<'a>,
}

#[derive(Deserialize)]
struct OllamaFunction<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct OllamaChat<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<OllamaMessage<'a>>,
    #[serde(default)]
    done: bool,
    #[serde(borrow, default)]
    done_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    eval_count: Option<u64>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
}

impl OllamaChat<'_> {
    fn usage(&self) -> Option<Usage> {
        (self.prompt_eval_count.is_some() || self.eval_count.is_some()).then(|| {
            let (prompt, completion) = (
                self.prompt_eval_count.unwrap_or(0),
                self.eval_count.unwrap_or(0),
            );
            Usage {
                prompt,
                completion,
                total: prompt + completion,
            }
        })
    }
}

fn finish(reason: Option<&str>, calls: bool) -> Finish {
    match reason {
        Some("length") => Finish::Length,
        _ if calls => Finish::ToolCalls,
        _ => Finish::Stop,
    }
}

fn tool_call<'a>(c: &OllamaCall<'a>) -> ToolCallOut<'a> {
    ToolCallOut {
        id: Cow::Owned(out::new_id("call_")),
        name: c.function.name.clone(),
        arguments: Cow::Borrowed(c.function.arguments.map_or("{}", RawValue::get)),
    }
}

pub fn response(body: &[u8], ctx: &ReplyCtx, out: &mut Vec<u8>) -> Result<Outcome, String> {
    let r: OllamaChat<'_> =
        serde_json::from_slice(body).map_err(|e| format!("not an Ollama chat response: {e}"))?;
    let mut msg = MessageOut::default();
    if let Some(m) = &r.message {
        if let Some(t) = m.content {
            msg.content.push_token(t);
        }
        if let Some(t) = m.thinking {
            msg.reasoning.push_token(t);
        }
        msg.tool_calls = m.tool_calls.iter().map(tool_call).collect();
    }
    let usage = r.usage();
    let id = out::new_id("chatcmpl-");
    let meta = Meta {
        id: &id,
        model: r.model.as_deref().unwrap_or(&ctx.model),
        created: ctx.created,
    };
    let reason = finish(r.done_reason.as_deref(), !msg.tool_calls.is_empty());
    write_completion(out, &meta, &msg, reason, usage.as_ref().map(|u| (u, None)));
    Ok(Outcome::of(usage, || msg.content.decoded()))
}

/// NDJSON lines → chunks.
pub struct OllamaStream {
    ctx: ReplyCtx,
    chunks: Option<Chunks>,
    usage: Option<Usage>,
    calls: u64,
    text: RawText,
    done: bool,
}

impl OllamaStream {
    pub fn new(ctx: ReplyCtx) -> OllamaStream {
        OllamaStream {
            ctx,
            chunks: None,
            usage: None,
            calls: 0,
            text: RawText::default(),
            done: false,
        }
    }
}

impl EventTranslate for OllamaStream {
    fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        let Ok(r) = serde_json::from_slice::<OllamaChat<'_>>(data) else {
            return;
        };
        if let Some(e) = &r.error {
            self.done = true;
            out::stream_error(out, e, "server_error");
            return;
        }
        let ctx = &self.ctx;
        let chunks = self.chunks.get_or_insert_with(|| {
            let id = out::new_id("chatcmpl-");
            let c = Chunks::new(&Meta {
                id: &id,
                model: r.model.as_deref().unwrap_or(&ctx.model),
                created: ctx.created,
            });
            c.role(out);
            c
        });
        if let Some(m) = &r.message {
            if let Some(t) = m.content.filter(|t| t.get() != "\"\"") {
                chunks.content_token(out, t.get());
                if self.text.len() < MAX_COMPLETION_TEXT {
                    self.text.push_token(t);
                }
            }
            if let Some(t) = m.thinking.filter(|t| t.get() != "\"\"") {
                chunks.reasoning_token(out, t.get());
            }
            for c in &m.tool_calls {
                chunks.tool_call_start(out, self.calls, &tool_call(c));
                self.calls += 1;
            }
        }
        if r.done {
            self.done = true;
            self.usage = r.usage();
            chunks.finish(out, finish(r.done_reason.as_deref(), self.calls > 0));
            if let (true, Some(u)) = (self.ctx.include_usage, self.usage) {
                chunks.usage(out, &u, None);
            }
            out::done(out);
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
    #[serde(borrow)]
    error: Cow<'a, str>,
}

/// `{"error":"..."}` → OpenAI's error object.
pub fn error(body: &[u8], status: u16, _hint: Option<&str>, out: &mut Vec<u8>) {
    let message = serde_json::from_slice::<ErrorBody<'_>>(body)
        .map(|e| e.error.into_owned())
        .unwrap_or_else(|_| plain_error_message(body, status));
    out::write_error(out, &message, out::error_type_for(status), None);
}
