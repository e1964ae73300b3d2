//! Providers whose wire format is OpenAI's (openai, azure, mistral, deepseek, xai, cerebras,
//! vllm and any OpenAI-compatible server): the body is forwarded as the client sent it, with
//! only `model` spliced and a few members inserted, and the response passes through.

use super::filter::ResponseFilter;
use super::headers::{finish_head, start_head};
use super::{Call, Outbound, Provider, Refusal, ResponsePlan};
use crate::body::BodyFacts;
use crate::config::{RouteType, TargetConfig};
use crate::http1::headers::push;
use crate::http1::ResponseHead;
use crate::upstream::RequestBuf;

pub(crate) struct OpenAiCompatible;

impl Provider for OpenAiCompatible {
    fn request(&self, call: &Call<'_>, mut request: RequestBuf) -> Result<Outbound, Refusal> {
        let target = call.target;
        let facts = call.facts;
        let inserts = Inserts::of(target, facts);
        let spliced = request.spliced_mut();
        spliced.reset(
            call.body.len(),
            facts,
            target.model_name.as_deref(),
            inserts.as_slice(),
        );
        if call.force_stream {
            spliced.force_stream(facts);
        }
        // Ask a stream for its usage so it can be counted; the client, who did not ask, will
        // not see the extra event (the response filter hides it).
        let streaming = facts.stream || call.force_stream;
        let hide_usage = streaming
            && !facts.include_usage
            && target.route_type != RouteType::Embeddings
            && spliced.ensure_include_usage(facts);
        let body_len = spliced.len();
        upstream_head(call, body_len, request.head_mut());
        request.seal(call.body.clone());
        Ok(Outbound {
            request,
            plan: ResponsePlan { hide_usage },
        })
    }

    fn response_filter(
        &self,
        head: &ResponseHead,
        plan: &ResponsePlan,
        filter: &mut ResponseFilter,
    ) {
        filter.set_openai(head, plan.hide_usage);
    }
}

/// The provider's path, its `Host`, the client's end-to-end headers and the target's
/// credentials: the configured auth header replaces the client's unless `allow_override` is set
/// and the client sent one.
fn upstream_head(call: &Call<'_>, content_length: usize, out: &mut Vec<u8>) {
    let (client, target) = (call.head, call.target);
    let auth_name = target.auth.header.as_ref().map(|(n, _)| n.as_bytes());
    let client_has_auth = auth_name.is_some_and(|n| {
        client
            .headers
            .iter()
            .any(|h| client.header_name(h).eq_ignore_ascii_case(n))
    });
    let keep_client_auth = client_has_auth && target.auth.allow_override;
    start_head(
        out,
        client,
        &target.upstream.path_and_query,
        &target.upstream.host_header,
        |name| !keep_client_auth && auth_name.is_some_and(|n| n.eq_ignore_ascii_case(name)),
    );
    if let Some((name, value)) = &target.auth.header {
        if !keep_client_auth {
            push(out, name.as_bytes(), value.as_bytes());
        }
    }
    finish_head(out, content_length);
}

/// Members inserted at the start of the body: option defaults the client did not set and the
/// body auth parameter (`name`, JSON literal). At most four, kept on the stack.
struct Inserts<'a> {
    members: [(&'a str, &'a str); 4],
    len: usize,
}

impl<'a> Inserts<'a> {
    fn of(target: &'a TargetConfig, facts: &BodyFacts) -> Inserts<'a> {
        let mut inserts = Inserts {
            members: [("", ""); 4],
            len: 0,
        };
        for (key, literal) in &target.defaults {
            let present = match *key {
                "max_tokens" => facts.has_max_tokens,
                "temperature" => facts.has_temperature,
                "top_p" => facts.has_top_p,
                _ => true,
            };
            if !present {
                inserts.push(key, literal);
            }
        }
        if let Some((name, literal)) = &target.auth.body_param {
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
