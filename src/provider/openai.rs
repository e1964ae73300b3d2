//! Providers whose wire format is OpenAI's (openai, azure, mistral, deepseek, xai, cerebras,
//! vllm and any OpenAI-compatible server): the body is forwarded as the client sent it, with
//! only `model` spliced and a few members inserted, and the response passes through.

use super::filter::ResponseFilter;
use super::headers::head_with_auth;
use super::{Call, Outbound, Provider, Reading, Refusal, ResponsePlan};
use crate::body::{quoted, BodyFacts, SplicedBody};
use crate::config::{RouteType, TargetConfig};
use crate::http1::ResponseHead;
use crate::upstream::RequestBuf;

pub(crate) struct OpenAiCompatible;

impl Provider for OpenAiCompatible {
    fn request(&self, call: &Call<'_>) -> Result<Outbound, Refusal> {
        let target = call.target;
        let facts = call.facts;
        let param = target
            .auth
            .body_param
            .as_ref()
            .map(|(name, value)| (name.as_str(), quoted(value)));
        let inserts = body_inserts(target, facts, param.as_ref().map(|(n, v)| (*n, v.as_str())));
        let mut spliced = SplicedBody::build(
            call.body.len(),
            facts,
            target.model_name.as_deref(),
            &inserts,
        );
        if call.force_stream {
            spliced.force_stream(facts);
        }
        // Ask a stream for its usage so it can be counted; the client, who did not ask, will
        // not see the extra event (the response filter hides it). The Responses API has no
        // `stream_options`: its final event always carries the usage.
        let streaming = facts.stream || call.force_stream;
        let hide_usage = streaming
            && !facts.include_usage
            && matches!(target.route_type, RouteType::Chat | RouteType::Completions)
            && spliced.ensure_include_usage(facts);
        let head = upstream_head(call, spliced.len());
        let reading = match target.route_type {
            RouteType::Responses => Reading::Responses,
            _ => Reading::OpenAi,
        };
        Ok(Outbound {
            request: RequestBuf::new(head, call.body.clone(), &spliced),
            plan: ResponsePlan {
                hide_usage,
                reading,
            },
        })
    }

    fn response_filter(&self, head: &ResponseHead, plan: &ResponsePlan) -> ResponseFilter {
        match plan.reading {
            Reading::Responses => super::responses::filter(head),
            _ => ResponseFilter::for_openai(head, plan.hide_usage),
        }
    }
}

/// The provider's path, its `Host`, the client's end-to-end headers and the target's
/// credentials (plus Hugging Face's cache and model-loading switches, when configured).
fn upstream_head(call: &Call<'_>, content_length: usize) -> Vec<u8> {
    let options = &call.target.options;
    let flag = |on: bool| -> &'static [u8] {
        if on {
            b"true"
        } else {
            b"false"
        }
    };
    let mut extra: [(&[u8], &[u8]); 2] = [(b"", b""); 2];
    let mut n = 0;
    if let Some(v) = options.hf_use_cache {
        extra[n] = (b"x-use-cache", flag(v));
        n += 1;
    }
    if let Some(v) = options.hf_wait_for_model {
        extra[n] = (b"x-wait-for-model", flag(v));
        n += 1;
    }
    head_with_auth(
        call,
        &call.target.upstream.path_and_query,
        |_| false,
        &extra[..n],
        content_length,
    )
}

/// Members inserted at the start of the body: option defaults the client did not set and the
/// body auth parameter (`name`, JSON-quoted value).
fn body_inserts<'a>(
    target: &'a TargetConfig,
    facts: &BodyFacts,
    quoted_param: Option<(&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    let mut inserts: Vec<(&str, &str)> = Vec::new();
    let responses = target.route_type == RouteType::Responses;
    for (key, literal) in &target.defaults {
        let (key, present) = match *key {
            // The Responses API names it `max_output_tokens`. Its presence in the client's body
            // is not scanned; inserted first, a client value later in the object wins with the
            // last-wins parsers providers use (as for the body auth parameter).
            "max_tokens" if responses => ("max_output_tokens", false),
            "max_tokens" => (*key, facts.has_max_tokens),
            "temperature" => (*key, facts.has_temperature),
            "top_p" => (*key, facts.has_top_p),
            _ => (*key, true),
        };
        if !present {
            inserts.push((key, literal.as_str()));
        }
    }
    if let Some(param) = quoted_param {
        inserts.push(param);
    }
    inserts
}
