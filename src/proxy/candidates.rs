//! Which targets may serve a request, from the body's `model` (`docs/behaviour.md`,
//! "Choosing the target").

use super::error::ErrorResponse;
use crate::config::{AiProxyConfig, CandidateMatch};

/// Target indices that may serve `model` (a slice of the config: nothing is built per
/// request), or the 400 the client gets.
///
/// An alias match wins over a real-name match; a body without `model` may go to any target.
pub(super) fn candidates<'a>(
    plugin: &'a AiProxyConfig,
    model: Option<&str>,
) -> Result<&'a [usize], ErrorResponse> {
    match plugin.candidates.lookup(model) {
        CandidateMatch::Any(c) | CandidateMatch::Alias(c) | CandidateMatch::Name(c) => Ok(c),
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
