//! Token usage of completed requests, which feeds the `lowest-usage` balancer.
//!
//! Usage comes from the upstream's own `usage` object whenever it sends one: from the JSON
//! response ([`json`]) or from a stream's usage event ([`sse`]). Only when the upstream reports
//! none does llmux count tokens itself, on a background thread ([`tokenizer`]), because loading
//! a BPE table costs 0.1-0.5 s and ~45 MiB and encoding is ~100x slower than parsing the JSON.
//! [`cost`] holds the token and cost arithmetic of one [`Usage`].

pub mod cost;
pub mod json;
pub mod sse;
pub mod tokenizer;

pub use json::{completion_text_from_json, usage_from_json, UsageParser};
pub use sse::SseFilter;
pub use tokenizer::{count, prompt_from_request, CountJob, Counted, Prompt, TokenizerHandle};

/// Bound on the completion text kept per response for the tokenizer fallback: about 250k
/// tokens, beyond any model's output limit, so only a hostile upstream is cut short.
pub const MAX_COMPLETION_TEXT: usize = 1 << 20;

/// Token counts of one request, as the upstream reported them (or as llmux counted them).
///
/// `total` is kept as reported (0 when absent) rather than recomputed: some OpenAI-compatible
/// providers bill tokens that are in neither prompt nor completion into the total, and the
/// `total-tokens` strategy takes the larger of the two (see [`Usage::total_tokens`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt: u64,
    pub completion: u64,
    pub total: u64,
}
