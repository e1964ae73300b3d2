//! Providers whose wire format is OpenAI's (openai, azure, mistral, deepseek, xai, cerebras,
//! vllm and any OpenAI-compatible server): the body is forwarded as the client sent it, with
//! only `model` spliced and a few members inserted, and the response passes through.

use super::filter::ResponseFilter;
use super::headers::head_with_auth;
use super::{Call, Outbound, Provider, Reading, Refusal, ResponsePlan};
use crate::body::{member_values, BodyFacts};
use crate::config::{RouteType, TargetConfig};
use crate::http1::ResponseHead;
use crate::upstream::RequestBuf;
use std::ops::Range;

pub(crate) struct OpenAiCompatible;

impl Provider for OpenAiCompatible {
    fn request(&self, call: &Call<'_>, mut request: RequestBuf) -> Result<Outbound, Refusal> {
        let target = call.target;
        let facts = call.facts;
        let param = BodyParam::decide(call);
        let inserts = Inserts::of(target, facts, param.insert());
        let spliced = request.spliced_mut();
        spliced.reset(
            call.body.len(),
            facts,
            target.model_name.as_deref(),
            inserts.as_slice(),
        );
        if let BodyParam::Replace(ranges, literal) = param {
            for range in ranges {
                spliced.replace(range, literal.as_bytes());
            }
        }
        if let Some((span, only)) = &call.access.cut {
            spliced.remove(span.clone(), *only);
        }
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
        let body_len = spliced.len();
        upstream_head(call, body_len, request.head_mut());
        request.seal(call.body.clone());
        let reading = match target.route_type {
            RouteType::Responses => Reading::Responses,
            _ => Reading::OpenAi,
        };
        Ok(Outbound {
            request,
            plan: ResponsePlan {
                hide_usage,
                reading,
            },
        })
    }

    fn response_filter(
        &self,
        head: &ResponseHead,
        plan: &ResponsePlan,
        filter: &mut ResponseFilter,
    ) {
        match plan.reading {
            Reading::Responses => super::responses::set_filter(head, filter),
            _ => filter.set_openai(head, plan.hide_usage),
        }
    }
}

/// What happens to the `param_location: body` credential (Kong's rule: the configured value
/// unless `allow_override` is set and the client sent one).
enum BodyParam<'a> {
    /// No body credential configured, or the client's stands (`allow_override`).
    Keep,
    /// The client sent none: insert `(name, JSON literal)` as the first member.
    Insert(&'a str, &'a str),
    /// The client sent the key and may not override it: every occurrence's value becomes the
    /// configured one (replaced in place, so no parser, first- or last-key-wins, reads the
    /// client's).
    Replace(Vec<Range<usize>>, &'a str),
}

impl<'a> BodyParam<'a> {
    fn decide(call: &Call<'a>) -> BodyParam<'a> {
        let Some((name, literal)) = &call.target.auth.body_param else {
            return BodyParam::Keep;
        };
        let mut found = member_values(call.body, call.facts, name);
        // A member cut out for access control (the consumer's key) is not the client's value.
        if let Some((cut, _)) = &call.access.cut {
            found.retain(|r| r.start >= cut.end || r.end <= cut.start);
        }
        if found.is_empty() {
            BodyParam::Insert(name, literal)
        } else if call.target.auth.allow_override {
            BodyParam::Keep
        } else {
            BodyParam::Replace(found, literal)
        }
    }

    fn insert(&self) -> Option<(&'a str, &'a str)> {
        match self {
            BodyParam::Insert(name, literal) => Some((name, literal)),
            _ => None,
        }
    }
}

/// The provider's path (with the client's query credential when `allow_override` lets it
/// stand), its `Host`, the client's end-to-end headers and the target's credentials, plus
/// Hugging Face's cache and model-loading switches when configured.
fn upstream_head(call: &Call<'_>, content_length: usize, out: &mut Vec<u8>) {
    let target = call.target;
    let overridden = query_override(call);
    let path = overridden
        .as_deref()
        .unwrap_or(&target.upstream.path_and_query);
    let flag = |on: bool| -> &'static [u8] {
        if on {
            b"true"
        } else {
            b"false"
        }
    };
    let mut extra: [(&[u8], &[u8]); 2] = [(b"", b""); 2];
    let mut n = 0;
    if let Some(v) = target.options.hf_use_cache {
        extra[n] = (b"x-use-cache", flag(v));
        n += 1;
    }
    if let Some(v) = target.options.hf_wait_for_model {
        extra[n] = (b"x-wait-for-model", flag(v));
        n += 1;
    }
    head_with_auth(out, call, path, |_| false, &extra[..n], content_length);
}

/// With `allow_override` and a client that sent the query credential itself, the upstream URL
/// carries the client's value (as sent, already URL-encoded) instead of the configured one.
fn query_override(call: &Call<'_>) -> Option<String> {
    let target = call.target;
    let name = target.auth.query_param_name.as_deref()?;
    // A parameter that carried the consumer's key to llmux is not the client's provider key.
    if !target.auth.allow_override || call.access.hide_query == Some(name) {
        return None;
    }
    let pair = |q: &str| -> Option<(usize, usize)> {
        let mut at = 0;
        for part in q.split('&') {
            if part.split('=').next() == Some(name) {
                return Some((at, at + part.len()));
            }
            at += part.len() + 1;
        }
        None
    };
    let (_, client_query) = call.head.target().split_once('?')?;
    let (cs, ce) = pair(client_query)?;
    let url = &target.upstream.path_and_query;
    let q_start = url.rfind('?')? + 1;
    let (us, ue) = pair(&url[q_start..])?;
    Some(format!(
        "{}{}{}",
        &url[..q_start + us],
        &client_query[cs..ce],
        &url[q_start + ue..]
    ))
}

/// Members inserted at the start of the body: option defaults the client did not set and the
/// body auth parameter (`name`, JSON literal). At most four, kept on the stack.
struct Inserts<'a> {
    members: [(&'a str, &'a str); 4],
    len: usize,
}

impl<'a> Inserts<'a> {
    fn of(
        target: &'a TargetConfig,
        facts: &BodyFacts,
        param: Option<(&'a str, &'a str)>,
    ) -> Inserts<'a> {
        let mut inserts = Inserts {
            members: [("", ""); 4],
            len: 0,
        };
        let responses = target.route_type == RouteType::Responses;
        for (key, literal) in &target.defaults {
            let (key, present) = match *key {
                // The Responses API names it `max_output_tokens`. Its presence in the client's
                // body is not scanned: inserted first, a client value later in the object wins
                // with the last-wins parsers providers use (as for the body auth parameter).
                "max_tokens" if responses => ("max_output_tokens", false),
                "max_tokens" => (*key, facts.has_max_tokens),
                "temperature" => (*key, facts.has_temperature),
                "top_p" => (*key, facts.has_top_p),
                _ => (*key, true),
            };
            if !present {
                inserts.push(key, literal);
            }
        }
        if let Some((name, literal)) = param {
            inserts.push(name, literal);
        }
        inserts
    }

    fn push(&mut self, key: &'a str, literal: &'a str) {
        if let Some(slot) = self.members.get_mut(self.len) {
            *slot = (key, literal);
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[(&'a str, &'a str)] {
        &self.members[..self.len]
    }
}
