//! One client request on its way through the gateway: what it asked for, which targets may
//! serve it, which have been tried, and when each step happened.

use super::candidates::candidates;
use super::error::ErrorResponse;
use crate::body::{BodyFacts, ScanError};
use crate::config::access::AccessTable;
use crate::config::{AiProxyConfig, LlmFormat, ResponseStreaming, RouteType, TargetConfig};
use crate::ctx::{AccessScratch, PluginRuntime, WorkerCtx};
use crate::http1::RequestHead;
use crate::provider::{path_model, AccessEdits, Call, PathModel};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What access control decided for a request, and the table its decisions index into.
#[derive(Clone, Copy)]
pub(super) struct Admission<'a> {
    pub decided: &'a AccessScratch,
    pub table: &'a AccessTable,
}

/// The request's own data; its buffers belong to the worker's per-request scratch.
pub(super) struct ProxyRequest<'a> {
    pub ctx: &'a WorkerCtx,
    pub plugin: &'a PluginRuntime,
    pub head: &'a RequestHead,
    /// The client's body as received; shared with each attempt's vectored write.
    pub body: &'a Rc<Vec<u8>>,
    pub facts: &'a BodyFacts,
    /// Native Gemini and Bedrock requests name their model (and whether they stream) in the
    /// path instead of the body.
    pub path_model: Option<PathModel>,
    /// `response_streaming: always` turned streaming on although the client did not ask.
    pub force_stream: bool,
    /// Target indices that may serve the request's `model` (a slice of the config).
    pub candidates: &'a [usize],
    /// Targets picked so far, in order (retries go elsewhere; the statistics log lists them).
    pub tried: Tried,
    pub timings: Timings,
    /// What access control decided (identity, hidden key, limits in force).
    pub access: &'a AccessScratch,
    /// The configuration's consumers and access plugins.
    pub table: &'a AccessTable,
}

/// Targets tried, in order: inline for the first few (more attempts are rare), so the list
/// costs no allocation per request.
pub(super) struct Tried {
    inline: [usize; Tried::INLINE],
    len: usize,
    /// Every entry, once there are more than fit inline.
    spill: Vec<usize>,
}

impl Tried {
    const INLINE: usize = 8;

    fn new() -> Tried {
        Tried {
            inline: [0; Tried::INLINE],
            len: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, t: usize) {
        if self.len < Tried::INLINE {
            self.inline[self.len] = t;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(t);
        }
        self.len += 1;
    }

    pub fn as_slice(&self) -> &[usize] {
        if self.len <= Tried::INLINE {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

/// When things happened; durations are derived where they are reported.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timings {
    /// The request head was parsed.
    pub received: Instant,
    /// The current attempt's request was handed to a provider connection.
    pub sent: Instant,
    /// The response head that will be relayed arrived.
    pub answered: Instant,
}

impl Timings {
    /// llmux's own time before the request went upstream.
    pub fn overhead(&self) -> Duration {
        self.sent.duration_since(self.received)
    }

    /// The provider's time to its response head.
    pub fn upstream(&self) -> Duration {
        self.answered.duration_since(self.sent)
    }

    /// Request received until the response head (the first token of a stream).
    pub fn time_to_first_token(&self) -> Duration {
        self.answered.duration_since(self.received)
    }
}

impl<'a> ProxyRequest<'a> {
    /// Checks the body against the plugin (JSON, `model`, streaming policy, prompts) and finds
    /// the candidates, or says which 4xx the client gets.
    /// `facts` is reused storage; the scan fills it.
    pub fn new(
        ctx: &'a WorkerCtx,
        plugin: &'a PluginRuntime,
        head: &'a RequestHead,
        body: &'a Rc<Vec<u8>>,
        facts: &'a mut BodyFacts,
        received: Instant,
        admission: Admission<'a>,
    ) -> Result<ProxyRequest<'a>, ErrorResponse> {
        ctx.scanner
            .borrow_mut()
            .scan_into(body, facts)
            .map_err(scan_error)?;
        let facts = &*facts;
        let config = &plugin.config;
        let path_model = match config.llm_format {
            format @ (LlmFormat::Gemini | LlmFormat::Bedrock) => {
                Some(path_model(format, head.target()).ok_or_else(|| no_path_model(format))?)
            }
            _ => None,
        };
        let asked_stream = facts.stream || path_model.as_ref().is_some_and(|p| p.stream);
        let force_stream = match config.response_streaming {
            ResponseStreaming::Deny if asked_stream => {
                return Err(ErrorResponse::streaming_denied())
            }
            ResponseStreaming::Always => !asked_stream,
            _ => false,
        };
        let model = match &path_model {
            Some(p) => Some(p.model.as_str()),
            None => facts.model.as_ref().map(|m| m.value.as_str()),
        };
        let candidates = candidates(config, model)?;
        if let Some(first) = candidates.first().and_then(|&t| config.targets.get(t)) {
            check_prompts(first, config.llm_format, facts)?;
        }
        Ok(ProxyRequest {
            ctx,
            plugin,
            head,
            body,
            facts,
            path_model,
            force_stream,
            candidates,
            tried: Tried::new(),
            timings: Timings {
                received,
                sent: received,
                answered: received,
            },
            access: admission.decided,
            table: admission.table,
        })
    }

    /// How access control changes the upstream request: the consumer's key never reaches the
    /// provider, and the provider learns the consumer (Kong's headers). Borrowed from the
    /// configuration; nothing is built per request.
    fn access_edits(&self) -> AccessEdits<'a> {
        let (access, table) = (self.access, self.table);
        let key_auth = access
            .key_auth
            .and_then(|k| table.key_auths.get(k as usize));
        let name = |i: Option<usize>| {
            i.and_then(|i| key_auth.and_then(|k| k.key_names.get(i)))
                .map(String::as_str)
        };
        let identity = access.identity;
        let consumer = identity.consumer.and_then(|c| table.consumer(c));
        let credential = identity.credential.and_then(|c| table.credential(c));
        let groups = access
            .acl
            .and_then(|a| table.acls.get(a as usize))
            .filter(|a| !a.hide_groups_header)
            .and(consumer)
            .map_or(&[][..], |c| c.groups_header.as_slice());
        const ANONYMOUS: &[u8] = b"X-Anonymous-Consumer: true\r\n";
        AccessEdits {
            hide_header: name(access.hidden.header),
            hide_query: name(access.hidden.query),
            identity: key_auth.is_some(),
            groups: access.acl.is_some(),
            lines: [
                consumer.map_or(&[][..], |c| c.upstream_headers.as_slice()),
                credential.map_or(&[][..], |c| c.upstream_header.as_slice()),
                groups,
                if identity.anonymous() { ANONYMOUS } else { &[] },
            ],
            cut: access
                .hidden
                .member
                .as_ref()
                .map(|m| (m.span.clone(), m.only)),
        }
    }

    pub fn config(&self) -> &'a AiProxyConfig {
        &self.plugin.config
    }

    pub fn target(&self, t: usize) -> &'a TargetConfig {
        &self.plugin.config.targets[t]
    }

    /// The `model` the client asked for (in the body, or in the path for Gemini and Bedrock).
    pub fn client_model(&self) -> Option<&str> {
        match &self.path_model {
            Some(p) => Some(p.model.as_str()),
            None => self.facts.model.as_ref().map(|m| m.value.as_str()),
        }
    }

    pub fn streaming(&self) -> bool {
        self.facts.stream || self.force_stream || self.path_model.as_ref().is_some_and(|p| p.stream)
    }

    /// What a provider driver needs to build the request for target `t`.
    pub fn call(&self, t: usize) -> Call<'_> {
        Call {
            head: self.head,
            target: self.target(t),
            body: self.body,
            facts: self.facts,
            force_stream: self.force_stream,
            access: self.access_edits(),
            path_model: self.path_model.as_ref(),
        }
    }

    /// The balancer's next target, counted as tried; `None` once `retries` are used up or no
    /// candidate is left (or every remaining one has an open circuit breaker).
    pub fn next_target(&mut self) -> Option<usize> {
        if self.tried.len() >= self.max_attempts() {
            return None;
        }
        let hash_key = self.head.header(&self.config().balancer.hash_on_header);
        let t = self
            .plugin
            .balancer()
            .pick(self.candidates, self.tried.as_slice(), hash_key)?;
        self.tried.push(t);
        Some(t)
    }

    /// Whether another attempt could follow this one.
    pub fn attempts_left(&self) -> bool {
        self.tried.len() < self.max_attempts() && self.tried.len() < self.candidates.len()
    }

    fn max_attempts(&self) -> usize {
        1 + self.config().balancer.retries as usize
    }
}

fn scan_error(e: ScanError) -> ErrorResponse {
    match e {
        ScanError::ModelNotString => ErrorResponse::new(400, "model must be a string"),
        ScanError::DuplicateModel => {
            ErrorResponse::new(400, "request body has more than one model field")
        }
        _ => ErrorResponse::bad_json(),
    }
}

/// A native Gemini or Bedrock request whose path names no model and operation.
fn no_path_model(format: LlmFormat) -> ErrorResponse {
    let shape = match format {
        LlmFormat::Gemini => ".../models/{model}:generateContent (or :streamGenerateContent, :countTokens)",
        _ => ".../model/{model}/converse (or /converse-stream, /invoke, /invoke-with-response-stream)",
    };
    ErrorResponse::new(
        400,
        format!("llm_format {format} needs the model in the path: {shape}"),
    )
}

/// The prompt a route type needs. Native Gemini (`contents`) and Hugging Face (`inputs`)
/// bodies are the provider's to judge.
fn check_prompts(
    target: &TargetConfig,
    format: LlmFormat,
    facts: &BodyFacts,
) -> Result<(), ErrorResponse> {
    let ok = match target.route_type {
        _ if matches!(format, LlmFormat::Gemini | LlmFormat::Huggingface) => true,
        RouteType::Chat => facts.messages_non_empty,
        RouteType::Completions => facts.has_prompt,
        RouteType::Embeddings | RouteType::Responses => facts.has_input,
    };
    if ok {
        Ok(())
    } else {
        Err(ErrorResponse::no_prompts())
    }
}
