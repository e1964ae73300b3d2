//! Everything that differs between LLM providers, behind one interface: [`Provider`].
//!
//! A provider decides the upstream request (path, auth and any signing, the body: spliced or
//! translated) and how the response comes back (passed through, or translated event by event)
//! and where its token usage is read. The proxy's request flow is the same for all of them.
//!
//! The first implementation, [`openai::OpenAiCompatible`], serves every provider whose wire
//! format is OpenAI's. It keeps the zero-copy path: the client's body goes out as slices of the
//! original bytes around a spliced `model`, and the response passes through byte for byte.
//! Drivers are `&'static` unit structs chosen per target by [`driver`], so the seam costs one
//! indirect call and no allocation.

mod filter;
mod headers;
pub(crate) mod openai;

pub(crate) use filter::ResponseFilter;

use crate::body::BodyFacts;
use crate::config::TargetConfig;
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

/// The driver for a target's provider.
pub(crate) fn driver(provider: crate::config::Provider) -> &'static dyn Provider {
    use crate::config::Provider as P;
    match provider {
        P::OpenAi | P::Azure | P::Mistral | P::Deepseek | P::Xai | P::Cerebras | P::Vllm => {
            &openai::OpenAiCompatible
        }
    }
}
