//! Native formats (`llm_format: anthropic | gemini | bedrock | cohere | huggingface`): the client
//! speaks the provider's own API to a target of that provider. The body goes out as the client
//! sent it, with only `model` spliced (alias → real name) and the `stream` switch of
//! `response_streaming: always`; the target's credentials replace the client's (Bedrock requests
//! are re-signed); every other header, `anthropic-beta` and `anthropic-version` included, passes.
//! The answer passes through byte for byte (thinking blocks, signatures, cache fields intact) while
//! the provider's own translator reads it for usage and throws its output away.
//!
//! Gemini and Bedrock name the model in the path (`/v1beta/models/{model}:{method}`,
//! `/model/{model}/{operation}`): [`path_model`] reads it so the request is routed by it, and the
//! upstream path names the target's real model with the client's method.

use super::filter::ResponseFilter;
use super::headers::{head_with_auth, is_aws_signing};
use super::translate::{EventStream, Observe, ObserveJson, Passthrough, ReplyCtx, Translate};
use super::wires::signed_head_with;
use super::{anthropic, bedrock, cohere, gemini};
use super::{Call, Outbound, Provider, Reading, Refusal, ResponsePlan};
use crate::config::upstream_path_escape;
use crate::config::{LlmFormat, Wire};
use crate::http1::ResponseHead;
use crate::upstream::RequestBuf;

/// The model and operation a native Gemini or Bedrock path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathModel {
    /// Percent-decoded: what routing compares with aliases and names.
    pub model: String,
    /// What follows the model: `:generateContent`, `/converse-stream`...
    pub operation: &'static str,
    /// The client's query string (without `?`), minus any `key` parameter (credentials are the
    /// target's).
    pub query: String,
    pub stream: bool,
}

const GEMINI_METHODS: [(&str, bool); 3] = [
    (":generateContent", false),
    (":streamGenerateContent", true),
    (":countTokens", false),
];
const BEDROCK_OPERATIONS: [(&str, bool); 4] = [
    ("/converse", false),
    ("/converse-stream", true),
    ("/invoke", false),
    ("/invoke-with-response-stream", true),
];

/// The model a native Gemini or Bedrock request names in its path (`path` as received, query
/// included); `None` for other formats or a path that names no known operation.
pub(crate) fn path_model(format: LlmFormat, path: &str) -> Option<PathModel> {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let (rest, ops): (&str, &[(&'static str, bool)]) = match format {
        LlmFormat::Gemini => (path.rsplit_once("/models/")?.1, &GEMINI_METHODS),
        LlmFormat::Bedrock => (path.rsplit_once("/model/")?.1, &BEDROCK_OPERATIONS),
        _ => return None,
    };
    let &(operation, stream) = ops
        .iter()
        .filter(|(op, _)| rest.ends_with(op))
        .max_by_key(|(op, _)| op.len())?;
    let raw_model = &rest[..rest.len() - operation.len()];
    let model = percent_decode(raw_model)?;
    if model.is_empty() || (format == LlmFormat::Gemini && model.contains(['/', '?', '#'])) {
        return None;
    }
    let query = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("key="))
        .collect::<Vec<_>>()
        .join("&");
    Some(PathModel {
        model,
        operation,
        query,
        stream,
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) struct Native;

/// Client headers that carry credentials for the gateway, replaced by the target's.
fn is_credential(name: &[u8]) -> bool {
    [
        &b"authorization"[..],
        b"x-api-key",
        b"api-key",
        b"x-goog-api-key",
    ]
    .iter()
    .any(|c| c.eq_ignore_ascii_case(name))
}

impl Provider for Native {
    fn request(&self, call: &Call<'_>, mut request: RequestBuf) -> Result<Outbound, Refusal> {
        let target = call.target;
        let facts = call.facts;
        let in_path = matches!(target.wire, Wire::Gemini | Wire::Bedrock);
        // Gemini and Bedrock bodies carry no model; Hugging Face's text-generation bodies need
        // none. Only a body that names one gets the real name.
        let splice_model = if in_path || facts.model.is_none() {
            None
        } else {
            target.model_name.as_deref()
        };
        let spliced = request.spliced_mut();
        spliced.reset(call.body.len(), facts, splice_model, &[]);
        if let Some((span, only)) = &call.access.cut {
            spliced.remove(span.clone(), *only);
        }
        if call.force_stream && !in_path {
            spliced.force_stream(facts);
        }
        let (path, stream) = match call.path_model.filter(|_| in_path) {
            Some(pm) => (native_path(call, pm), pm.stream),
            None => (
                anthropic_suffix(call).unwrap_or_else(|| target.upstream.path_and_query.clone()),
                facts.stream || call.force_stream,
            ),
        };
        if target.wire == Wire::Bedrock {
            let mut body = Vec::with_capacity(spliced.len());
            spliced.write_to(call.body.as_slice(), &mut body);
            let head = signed_head_with(call, &path, stream, &body, is_aws_signing)?;
            request.set_owned(head, body);
            return Ok(Outbound {
                request,
                plan: plan(target.wire, stream),
            });
        }
        let body_len = spliced.len();
        let keep_client_auth = target.auth.allow_override;
        let has_own_auth = target.auth.header.is_some() || target.auth.query_param_name.is_some();
        let drop_credential =
            |name: &[u8]| !keep_client_auth && has_own_auth && is_credential(name);
        let version = target.options.anthropic_version.as_bytes();
        let extra: &[(&[u8], &[u8])] =
            if target.wire == Wire::Anthropic && call.head.header("anthropic-version").is_none() {
                &[(b"anthropic-version", version)]
            } else {
                &[]
            };
        head_with_auth(
            request.head_mut(),
            call,
            &path,
            drop_credential,
            extra,
            body_len,
        );
        request.seal(call.body.clone());
        Ok(Outbound {
            request,
            plan: plan(target.wire, stream),
        })
    }

    fn response_filter(
        &self,
        head: &ResponseHead,
        plan: &ResponsePlan,
        filter: &mut ResponseFilter,
    ) {
        let Reading::Native { wire, stream } = plan.reading else {
            return filter.set_off();
        };
        if !(200..300).contains(&head.status) {
            return filter.set_off();
        }
        let sse = head
            .header("content-type")
            .is_some_and(|c| c.starts_with(b"text/event-stream"));
        let ctx = ReplyCtx::default();
        let observer: Box<dyn Translate> = match (wire, stream) {
            (Wire::Anthropic, true) => Box::new(Observe::new(EventStream::sse(
                anthropic::AnthropicStream::new(ctx),
            ))),
            (Wire::Anthropic, false) => Box::new(ObserveJson::new(anthropic::response, ctx)),
            (Wire::Gemini, true) if sse => Box::new(Observe::new(EventStream::sse(
                gemini::GeminiStream::new(ctx),
            ))),
            // Without `alt=sse` Gemini streams one JSON array, read whole at its end.
            (Wire::Gemini, _) => Box::new(ObserveJson::new(gemini::response, ctx)),
            (Wire::Bedrock, true) => Box::new(Observe::new(bedrock::BedrockStream::new(ctx))),
            (Wire::Bedrock, false) => match bedrock_header_usage(head) {
                Some(u) => Box::new(Passthrough::with_usage(u)),
                None => Box::new(ObserveJson::new(bedrock::response, ctx)),
            },
            (Wire::Cohere, true) => Box::new(Observe::new(EventStream::sse(
                cohere::CohereStream::new(ctx),
            ))),
            (Wire::Cohere, false) => Box::new(ObserveJson::new(cohere::response, ctx)),
            // Hugging Face's chat API is OpenAI's: the usual filter reads its usage.
            _ => return filter.set_openai(head, false),
        };
        filter.set_translated(observer, stream);
    }
}

fn plan(wire: Wire, stream: bool) -> ResponsePlan {
    ResponsePlan {
        hide_usage: false,
        reading: Reading::Native { wire, stream },
    }
}

/// The upstream path of a Gemini or Bedrock native request: the target's path up to the model,
/// the real model (escaped), the client's method, the client's query and the target's own
/// query parameters (an auth `key`).
fn native_path(call: &Call<'_>, pm: &PathModel) -> String {
    let target = call.target;
    let model = target.model_name.as_deref().unwrap_or(&pm.model);
    let Some(prefix) = &target.options.model_path_prefix else {
        // A custom URL that names no model segment: used as configured.
        return target.upstream.path_and_query.clone();
    };
    let mut path = format!("{prefix}{}{}", upstream_path_escape(model), pm.operation);
    let target_query = target
        .upstream
        .path_and_query
        .split_once('?')
        .map_or("", |(_, q)| q);
    let queries: Vec<&str> = [pm.query.as_str(), target_query]
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
        .collect();
    if !queries.is_empty() {
        path.push('?');
        path.push_str(&queries.join("&"));
    }
    path
}

/// Claude Code counts tokens with `/v1/messages/count_tokens`: the same suffix on the target's
/// messages URL.
fn anthropic_suffix(call: &Call<'_>) -> Option<String> {
    if call.target.wire != Wire::Anthropic {
        return None;
    }
    let client_path = call.head.path().split('?').next().unwrap_or("");
    let suffix = "/count_tokens";
    if !client_path.ends_with(suffix) {
        return None;
    }
    let configured = &call.target.upstream.path_and_query;
    let (path, query) = configured.split_once('?').unwrap_or((configured, ""));
    Some(if query.is_empty() {
        format!("{path}{suffix}")
    } else {
        format!("{path}{suffix}?{query}")
    })
}

/// Bedrock's `InvokeModel` reports its token counts in response headers.
fn bedrock_header_usage(head: &ResponseHead) -> Option<crate::usage::Usage> {
    let count = |name: &str| {
        head.header(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let prompt = count("x-amzn-bedrock-input-token-count")?;
    let completion = count("x-amzn-bedrock-output-token-count")?;
    Some(crate::usage::Usage {
        prompt,
        completion,
        total: prompt + completion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_and_bedrock_paths_name_models() {
        let pm = path_model(
            LlmFormat::Gemini,
            "/v1beta/models/flash:streamGenerateContent?alt=sse&key=client",
        )
        .unwrap();
        assert_eq!(pm.model, "flash");
        assert_eq!(pm.operation, ":streamGenerateContent");
        assert_eq!(pm.query, "alt=sse");
        assert!(pm.stream);
        let pm = path_model(LlmFormat::Bedrock, "/model/claude%3A0/converse-stream").unwrap();
        assert_eq!(
            (pm.model.as_str(), pm.operation, pm.stream),
            ("claude:0", "/converse-stream", true)
        );
        let pm = path_model(LlmFormat::Bedrock, "/model/m/invoke").unwrap();
        assert_eq!((pm.operation, pm.stream), ("/invoke", false));
        assert_eq!(
            path_model(LlmFormat::Gemini, "/v1beta/models/m:embed"),
            None
        );
        assert_eq!(path_model(LlmFormat::Anthropic, "/v1/messages"), None);
        assert_eq!(
            path_model(LlmFormat::Gemini, "/v1beta/models/%zz:generateContent"),
            None
        );
    }
}
