//! Which targets may serve a request, from the body's `model` (`docs/behaviour.md`,
//! "Choosing the target").

use super::error::ErrorResponse;
use crate::config::{AiProxyConfig, CandidateMatch};

/// Kong's answer when neither the request nor the matching targets name a model.
pub(super) const NO_MODEL: &str =
    "model parameter not found in request, nor in gateway configuration";

/// Target indices that may serve `model` (a slice of the config: nothing is built per
/// request), or the 400 the client gets.
///
/// An alias match wins over a real-name match; a model that matches neither goes to the
/// targets that name no model at all (they forward the client's, as Kong's `ai-proxy` does).
/// A body without `model` may go to any target that names one; with none, Kong's 400.
pub(super) fn candidates<'a>(
    plugin: &'a AiProxyConfig,
    model: Option<&str>,
) -> Result<&'a [usize], ErrorResponse> {
    match plugin.candidates.lookup(model) {
        CandidateMatch::Any(c)
        | CandidateMatch::Alias(c)
        | CandidateMatch::Name(c)
        | CandidateMatch::Open(c) => Ok(c),
        CandidateMatch::NoModel => Err(ErrorResponse::new(400, NO_MODEL)),
        CandidateMatch::None if plugin.candidates.has_aliases() => {
            Err(ErrorResponse::new(400, "model not configured"))
        }
        CandidateMatch::None => {
            let mut names: Vec<&str> = Vec::new();
            for t in &plugin.targets {
                if let Some(n) = t.model_name.as_deref() {
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
            Err(ErrorResponse::new(
                400,
                format!("cannot use own model - must be: {}", names.join(", ")),
            ))
        }
    }
}
