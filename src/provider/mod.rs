//! Everything that differs between LLM providers, behind one interface: [`Provider`].
//!
//! A provider decides the upstream request (path, auth and any signing, the body: spliced or
//! translated) and how the response comes back (passed through, or translated event by event)
//! and where its token usage is read. The proxy's request flow is the same for all of them.
//!
//! Three drivers, chosen per target and plugin by [`driver`]:
//! - [`openai::OpenAiCompatible`] serves every provider whose wire format is OpenAI's. It keeps
//!   the zero-copy path: the client's body goes out as slices of the original bytes around a
//!   spliced `model`, and the response passes through byte for byte (or through the SSE usage
//!   filter). Nothing on this path allocates for the other providers' sake: the response side
//!   is an enum ([`ResponseFilter`]), not a boxed trait object.
//! - [`wires::Translated`] serves OpenAI-format clients on every other wire (Anthropic, Gemini,
//!   Bedrock, Cohere, Ollama, llama2 raw): it parses the client's request ([`chat`]), writes the
//!   provider's, and translates the answer back body- or event-wise ([`translate`]).
//! - [`native::Native`] serves clients that speak a provider's own API (`llm_format` other than
//!   `openai`): the body passes through with only `model` spliced and the target's credentials,
//!   the answer passes through unchanged, and its usage is still read.
//!
//! Drivers are `&'static` unit structs, so the seam costs one indirect call and no allocation.
//! Provider modules ([`anthropic`], [`gemini`], [`bedrock`], [`cohere`], [`ollama`], [`llama2`])
//! hold the translations as plain functions over bytes; they are public for the benchmarks.

pub mod anthropic;
pub mod bedrock;
pub mod chat;
pub mod cohere;
pub mod embeddings;
mod filter;
pub mod gemini;
mod headers;
pub mod llama2;
pub(crate) mod native;
pub mod ollama;
pub(crate) mod openai;
mod responses;
pub mod translate;
mod wires;

pub(crate) use filter::ResponseFilter;
pub(crate) use native::{path_model, PathModel};
pub use translate::ReplyCtx;

use crate::body::BodyFacts;
use crate::config::{LlmFormat, TargetConfig, Wire};
use crate::http1::{RequestHead, ResponseHead};
use crate::upstream::RequestBuf;
use std::rc::Rc;

/// What a driver needs to build one attempt's request.
pub(crate) struct Call<'a> {
    /// The client's request head.
    pub head: &'a RequestHead,
    pub target: &'a TargetConfig,
    /// The client's body, exactly as received.
    pub body: &'a Rc<Vec<u8>>,
    /// What the body scan found in it.
    pub facts: &'a BodyFacts,
    /// `response_streaming: always` turned streaming on for a request that did not ask.
    pub force_stream: bool,
    /// What access control changes in the upstream request.
    pub access: AccessEdits<'a>,
    /// Native Gemini and Bedrock requests name their model and method in the path.
    pub path_model: Option<&'a PathModel>,
}

/// What authentication and ACLs change in the upstream request: the consumer's key never
/// reaches the provider, and the provider learns who called (Kong's `X-Consumer-*` headers).
#[derive(Debug, Clone, Default)]
pub(crate) struct AccessEdits<'a> {
    /// The client header the consumer's key came in: not forwarded.
    pub hide_header: Option<&'a str>,
    /// The query parameter the consumer's key came in (the client's query never reaches a
    /// provider, but `allow_override` could otherwise forward this one's value).
    pub hide_query: Option<&'a str>,
    /// `key-auth` ran: the client's own `X-Consumer-*`, `X-Credential-Identifier` and
    /// `X-Anonymous-Consumer` headers are dropped (llmux sets them).
    pub identity: bool,
    /// `acl` ran: the client's own `X-Consumer-Groups` is dropped.
    pub groups: bool,
    /// Header lines llmux adds, each CRLF-terminated (empty ones are skipped).
    pub lines: [&'a [u8]; 4],
    /// The body member the key came in (`span`, `only member`): cut out.
    pub cut: Option<(std::ops::Range<usize>, bool)>,
}

impl AccessEdits<'_> {
    /// Whether the client's header `name` must not be forwarded.
    pub fn drops(&self, name: &[u8]) -> bool {
        const IDENTITY: [&[u8]; 5] = [
            b"x-consumer-id",
            b"x-consumer-custom-id",
            b"x-consumer-username",
            b"x-credential-identifier",
            b"x-anonymous-consumer",
        ];
        self.hide_header
            .is_some_and(|h| h.as_bytes().eq_ignore_ascii_case(name))
            || (self.identity && IDENTITY.iter().any(|i| i.eq_ignore_ascii_case(name)))
            || (self.groups && name.eq_ignore_ascii_case(b"x-consumer-groups"))
    }
}

/// One attempt's upstream request, and what the response side must know about it.
pub(crate) struct Outbound {
    pub request: RequestBuf,
    pub plan: ResponsePlan,
}

/// What the request side decided that the response side needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResponsePlan {
    /// llmux asked for a usage event the client did not ask for: the response filter hides it.
    pub hide_usage: bool,
    pub reading: Reading,
}

/// How the answer is read (and, for translated wires, rewritten).
#[derive(Debug, Clone, Default)]
pub(crate) enum Reading {
    /// OpenAI's chat, completions or embeddings: `usage` in the JSON or the usage event.
    #[default]
    OpenAi,
    /// OpenAI's Responses API: usage in the body or in `response.completed`.
    Responses,
    /// Another provider's answer, translated to OpenAI's.
    Translated {
        wire: Wire,
        stream: bool,
        /// An `llm/v1/embeddings` answer rather than a chat one.
        embeddings: bool,
        ctx: ReplyCtx,
    },
    /// A provider's own format, passed through and read for usage.
    Native { wire: Wire, stream: bool },
}

/// A request the driver cannot express for its provider (a client error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub message: String,
}

/// The provider seam.
///
/// Both methods fill storage the worker reuses from request to request (`request`'s
/// [`RequestBuf`], the [`ResponseFilter`]), so a driver that only writes into them allocates
/// nothing per request once their buffers have grown.
pub(crate) trait Provider: Sync {
    /// Builds the upstream request for one attempt at `call.target` in `request` (emptied
    /// storage from an earlier request) and returns it with the response plan.
    fn request(&self, call: &Call<'_>, request: RequestBuf) -> Result<Outbound, Refusal>;

    /// Sets `filter` up for the provider's response, given its head: passed through, filtered
    /// (a hidden usage event) or translated, and read for usage on the way.
    fn response_filter(
        &self,
        head: &ResponseHead,
        plan: &ResponsePlan,
        filter: &mut ResponseFilter,
    );
}

/// The driver for a target, given the API the plugin's clients speak.
pub(crate) fn driver(target: &TargetConfig, format: LlmFormat) -> &'static dyn Provider {
    match (format, target.wire) {
        (LlmFormat::OpenAi, Wire::OpenAi) => &openai::OpenAiCompatible,
        (LlmFormat::OpenAi, _) => &wires::Translated,
        // The loader only lets a native format reach targets of its own provider.
        _ => &native::Native,
    }
}

impl Refusal {
    pub(crate) fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal {
            status: 400,
            message: message.into(),
        }
    }
}

impl From<chat::TranslateError> for Refusal {
    fn from(e: chat::TranslateError) -> Refusal {
        Refusal::bad_request(e.0)
    }
}
