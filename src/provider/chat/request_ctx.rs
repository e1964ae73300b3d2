//! What a translation takes from the target besides the client's request ([`RequestCtx`]), and
//! the sampling members every translated API has under its own names ([`SamplingKeys`]).

use super::{json, write_stop_array, ChatRequest, TranslateError};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// What a translation needs besides the client's request: the target's model, whether the
/// answer streams, and the `model.options` defaults (as JSON literals) the client's own values
/// override.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestCtx<'a> {
    pub model: &'a str,
    pub stream: bool,
    pub max_tokens: Option<&'a str>,
    pub temperature: Option<&'a str>,
    pub top_p: Option<&'a str>,
    pub top_k: Option<i64>,
    /// Bedrock `performanceConfig.latency`.
    pub latency: Option<&'a str>,
}

impl RequestCtx<'_> {
    /// The client's `max_completion_tokens`/`max_tokens`, else the target's default.
    pub fn max_tokens<'r>(&'r self, req: &'r ChatRequest<'_>) -> Option<&'r str> {
        req.max_tokens().map(RawValue::get).or(self.max_tokens)
    }

    pub fn temperature<'r>(&'r self, req: &'r ChatRequest<'_>) -> Option<&'r str> {
        req.temperature.map(RawValue::get).or(self.temperature)
    }

    pub fn top_p<'r>(&'r self, req: &'r ChatRequest<'_>) -> Option<&'r str> {
        req.top_p.map(RawValue::get).or(self.top_p)
    }

    /// `top_k` from the client, else the target's, as JSON text.
    pub fn top_k(&self, req: &ChatRequest<'_>) -> Option<Cow<'_, str>> {
        match req.top_k {
            Some(raw) if raw.get() != "null" => Some(Cow::Owned(raw.get().to_string())),
            _ => self.top_k.map(|k| Cow::Owned(k.to_string())),
        }
    }
}

/// What an API calls the sampling members of a request (see [`RequestCtx::write_sampling`]);
/// `None` where it has no such member (or, for the length limit, writes it elsewhere).
pub struct SamplingKeys {
    pub max_tokens: Option<&'static str>,
    pub top_p: &'static str,
    pub top_k: Option<&'static str>,
    pub stop: &'static str,
    /// `seed`, `presence_penalty` and `frequency_penalty`.
    pub seed_and_penalties: Option<[&'static str; 3]>,
}

impl RequestCtx<'_> {
    /// The sampling members into `o`, in one order for every API: length limit, temperature,
    /// top-p, top-k, stop sequences (the client's, else the target's), then seed and penalties.
    pub fn write_sampling(
        &self,
        req: &ChatRequest<'_>,
        o: &mut json::Obj<'_>,
        keys: SamplingKeys,
    ) -> Result<(), TranslateError> {
        if let (Some(key), Some(n)) = (keys.max_tokens, self.max_tokens(req)) {
            o.raw(key, n);
        }
        if let Some(t) = self.temperature(req) {
            o.raw("temperature", t);
        }
        if let Some(p) = self.top_p(req) {
            o.raw(keys.top_p, p);
        }
        if let (Some(key), Some(k)) = (keys.top_k, self.top_k(req)) {
            o.raw(key, &k);
        }
        if let Some(stop) = req.stop.filter(|s| s.get() != "null") {
            write_stop_array(stop, o.key(keys.stop))?;
        }
        let Some(names) = keys.seed_and_penalties else {
            return Ok(());
        };
        let values = [req.seed, req.presence_penalty, req.frequency_penalty];
        for (key, value) in names.into_iter().zip(values) {
            if let Some(v) = value.filter(|v| v.get() != "null") {
                o.token(key, v);
            }
        }
        Ok(())
    }
}

/// OpenAI's names for the seed and the penalties, which Cohere and Ollama share.
pub const OPENAI_SEED_AND_PENALTIES: [&str; 3] = ["seed", "presence_penalty", "frequency_penalty"];
