//! The driver for OpenAI-format clients on every other wire: the client's chat request is parsed
//! and written in the provider's format, sent with the provider's auth (a header, a query or
//! body parameter, or a SigV4 signature for Bedrock), and the answer is translated back by the
//! wire's translator. One driver, one `match` per direction on [`Wire`].

use super::bedrock::{self, sigv4};
use super::chat::{model_name, ChatRequest, RequestCtx};
use super::embeddings::{self, EmbeddingsRequest};
use super::filter::ResponseFilter;
use super::headers::{finish_head, head_with_auth, is_foreign, start_head};
use super::translate::{ErrorBody, ErrorFn, EventStream, ReplyCtx, Translate, WholeBody};
use super::{anthropic, cohere, gemini, llama2, ollama};
use super::{Call, Outbound, Provider, Reading, Refusal, ResponsePlan};
use crate::body::push_quoted;
use crate::config::{RouteType, TargetConfig, Wire};
use crate::http1::headers::push;
use crate::http1::ResponseHead;
use crate::upstream::RequestBuf;
use std::time::SystemTime;

pub(crate) struct Translated;

impl Provider for Translated {
    fn request(&self, call: &Call<'_>, mut request: RequestBuf) -> Result<Outbound, Refusal> {
        let target = call.target;
        if target.route_type == RouteType::Embeddings {
            return embeddings_request(call, request);
        }
        let req = ChatRequest::parse(call.body.as_slice())?;
        let stream = call.facts.stream || call.force_stream;
        let ctx = request_ctx(target, &req, stream);
        let mut body = Vec::with_capacity(call.body.len() + 256);
        match target.wire {
            Wire::Anthropic => anthropic::request(&req, &ctx, &mut body),
            Wire::Gemini => gemini::request(&req, &ctx, &mut body),
            Wire::Bedrock => bedrock::request(&req, &ctx, &mut body),
            Wire::Cohere => cohere::request(&req, &ctx, &mut body),
            Wire::Ollama => ollama::request(&req, &ctx, &mut body),
            Wire::Llama2Raw => llama2::request(&req, &ctx, &mut body),
            Wire::OpenAi => {
                return Err(Refusal {
                    status: 500,
                    message:
                        "internal error: an OpenAI-format target reached the translating driver"
                            .into(),
                })
            }
        }?;
        if let Some((name, value)) = &target.auth.body_param {
            insert_member(&mut body, name, value);
        }
        let path = match (stream, &target.options.stream_path) {
            (false, _) => target.upstream.path_and_query.as_str(),
            (true, Some(p)) => p.as_str(),
            (true, None) if matches!(target.wire, Wire::Gemini | Wire::Bedrock) => {
                return Err(Refusal::bad_request(format!(
                    "streaming needs a {} URL ending in {} (model.options.upstream_url)",
                    target.provider,
                    if target.wire == Wire::Gemini {
                        ":generateContent"
                    } else {
                        "/converse"
                    }
                )))
            }
            (true, None) => target.upstream.path_and_query.as_str(),
        };
        let mut head = Vec::new();
        match target.wire {
            Wire::Bedrock => head = signed_head(call, path, stream, &body)?,
            Wire::Anthropic => {
                let version = target.options.anthropic_version.as_bytes();
                head_with_auth(
                    &mut head,
                    call,
                    path,
                    is_foreign,
                    &[
                        (b"Content-Type", b"application/json"),
                        (b"anthropic-version", version),
                    ],
                    body.len(),
                )
            }
            _ => head_with_auth(
                &mut head,
                call,
                path,
                is_foreign,
                &[(b"Content-Type", b"application/json")],
                body.len(),
            ),
        }
        let reply = ReplyCtx {
            model: model_name(target.model_name.as_deref(), &req).to_string(),
            created: super::chat::out::now_secs(),
            include_usage: call.facts.include_usage,
        };
        request.set_owned(head, body);
        Ok(Outbound {
            request,
            plan: ResponsePlan {
                hide_usage: false,
                reading: Reading::Translated {
                    wire: target.wire,
                    stream,
                    embeddings: false,
                    ctx: reply,
                },
            },
        })
    }

    fn response_filter(
        &self,
        head: &ResponseHead,
        plan: &ResponsePlan,
        filter: &mut ResponseFilter,
    ) {
        let Reading::Translated {
            wire,
            stream,
            embeddings,
            ctx,
        } = &plan.reading
        else {
            return filter.set_openai(head, false);
        };
        let ctx = ctx.clone();
        if !(200..300).contains(&head.status) {
            let hint = head
                .header("x-amzn-errortype")
                .map(|h| String::from_utf8_lossy(h).into_owned());
            let error = ErrorBody::new(error_fn(*wire), head.status, hint);
            return filter.set_translated(Box::new(error), false);
        }
        if *embeddings {
            let translate = match wire {
                Wire::Gemini => embeddings::gemini_response,
                Wire::Cohere => embeddings::cohere_response,
                _ => embeddings::ollama_response,
            };
            return filter.set_translated(Box::new(WholeBody::new(translate, ctx)), false);
        }
        let translator: Box<dyn Translate> = match (wire, stream) {
            (Wire::Anthropic, true) => {
                Box::new(EventStream::sse(anthropic::AnthropicStream::new(ctx)))
            }
            (Wire::Gemini, true) => Box::new(EventStream::sse(gemini::GeminiStream::new(ctx))),
            (Wire::Bedrock, true) => Box::new(bedrock::BedrockStream::new(ctx)),
            (Wire::Cohere, true) => Box::new(EventStream::sse(cohere::CohereStream::new(ctx))),
            (Wire::Ollama, true) => Box::new(EventStream::ndjson(ollama::OllamaStream::new(ctx))),
            (Wire::Anthropic, _) => Box::new(WholeBody::new(anthropic::response, ctx)),
            (Wire::Gemini, _) => Box::new(WholeBody::new(gemini::response, ctx)),
            (Wire::Bedrock, _) => Box::new(WholeBody::new(bedrock::response, ctx)),
            (Wire::Cohere, _) => Box::new(WholeBody::new(cohere::response, ctx)),
            (Wire::Ollama, _) => Box::new(WholeBody::new(ollama::response, ctx)),
            (Wire::Llama2Raw | Wire::OpenAi, _) => Box::new(WholeBody::new(llama2::response, ctx)),
        };
        filter.set_translated(translator, *stream);
    }
}

/// An `llm/v1/embeddings` request for Gemini, Cohere or Ollama (the loader allows no other).
fn embeddings_request(call: &Call<'_>, mut request: RequestBuf) -> Result<Outbound, Refusal> {
    let target = call.target;
    let req = EmbeddingsRequest::parse(call.body.as_slice(), target.provider.as_str())?;
    let model = target
        .model_name
        .as_deref()
        .or(call.facts.model.as_ref().map(|m| m.value.as_str()))
        .unwrap_or("");
    let mut body = Vec::with_capacity(call.body.len() + 128);
    match target.wire {
        Wire::Gemini => embeddings::gemini_request(&req, model, &mut body),
        Wire::Cohere => embeddings::cohere_request(
            &req,
            model,
            target.options.embedding_input_type.as_deref(),
            &mut body,
        ),
        _ => embeddings::ollama_request(&req, model, &mut body),
    }?;
    if let Some((name, value)) = &target.auth.body_param {
        insert_member(&mut body, name, value);
    }
    let mut head = Vec::new();
    head_with_auth(
        &mut head,
        call,
        &target.upstream.path_and_query,
        is_foreign,
        &[(b"Content-Type", b"application/json")],
        body.len(),
    );
    request.set_owned(head, body);
    Ok(Outbound {
        request,
        plan: ResponsePlan {
            hide_usage: false,
            reading: Reading::Translated {
                wire: target.wire,
                stream: false,
                embeddings: true,
                ctx: ReplyCtx {
                    model: model.to_string(),
                    created: 0,
                    include_usage: false,
                },
            },
        },
    })
}

/// The target's defaults as the translators take them.
fn request_ctx<'a>(
    target: &'a TargetConfig,
    req: &'a ChatRequest<'_>,
    stream: bool,
) -> RequestCtx<'a> {
    let default = |key: &str| {
        target
            .defaults
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    };
    RequestCtx {
        model: model_name(target.model_name.as_deref(), req),
        stream,
        max_tokens: default("max_tokens"),
        temperature: default("temperature"),
        top_p: default("top_p"),
        top_k: target.options.top_k,
        latency: target.options.bedrock_latency.as_deref(),
    }
}

fn error_fn(wire: Wire) -> ErrorFn {
    match wire {
        Wire::Anthropic => anthropic::error,
        Wire::Gemini => gemini::error,
        Wire::Bedrock => bedrock::error,
        Wire::Cohere => cohere::error,
        Wire::Llama2Raw => llama2::error,
        Wire::Ollama | Wire::OpenAi => ollama::error,
    }
}

/// `auth.param_location: body`: the parameter as the translated body's first member
/// (`literal` is the value already written as a JSON string).
fn insert_member(body: &mut Vec<u8>, name: &str, literal: &str) {
    let mut member = Vec::with_capacity(name.len() + literal.len() + 8);
    push_quoted(name, &mut member);
    member.push(b':');
    member.extend_from_slice(literal.as_bytes());
    if body.get(1) != Some(&b'}') {
        member.push(b',');
    }
    body.splice(1..1, member);
}

/// A Bedrock head: the client's end-to-end headers without credentials or AWS headers, then
/// `Content-Type`, `Accept` and the SigV4 headers over `Host`, `Content-Type` and the body.
fn signed_head(call: &Call<'_>, path: &str, stream: bool, body: &[u8]) -> Result<Vec<u8>, Refusal> {
    signed_head_with(call, path, stream, body, |_| false)
}

/// [`signed_head`], also dropping the client headers `drop` names.
pub(super) fn signed_head_with(
    call: &Call<'_>,
    path: &str,
    stream: bool,
    body: &[u8],
    drop: impl Fn(&[u8]) -> bool,
) -> Result<Vec<u8>, Refusal> {
    let target = call.target;
    let Some(aws) = &target.options.aws else {
        return Err(Refusal {
            status: 500,
            message: "internal error: a bedrock target without AWS signing settings".into(),
        });
    };
    const JSON: &str = "application/json";
    let host = &target.upstream.host_header;
    let signed = sigv4::sign_request(
        aws,
        call.head.method(),
        host,
        path,
        JSON,
        body,
        SystemTime::now(),
    )
    .map_err(|e| Refusal {
        status: 500,
        message: format!("signing the Bedrock request: {e}"),
    })?;
    let mut out = Vec::new();
    start_head(&mut out, call, path, host, |name| {
        is_foreign(name) || drop(name)
    });
    push(&mut out, b"Content-Type", JSON.as_bytes());
    let accept: &[u8] = if stream {
        b"application/vnd.amazon.eventstream"
    } else {
        b"application/json"
    };
    push(&mut out, b"Accept", accept);
    for (name, value) in &signed {
        push(&mut out, name.as_bytes(), value.as_bytes());
    }
    finish_head(&mut out, body.len());
    Ok(out)
}
