//! Which targets may serve a request, from the body's `model` (`docs/behaviour.md`,
//! "Choosing the target").

use super::error::ErrorResponse;
use crate::config::{AiProxyConfig, TargetConfig};

/// Kong's answer when neither the request nor the matching targets name a model.
pub(super) const NO_MODEL: &str =
    "model parameter not found in request, nor in gateway configuration";

/// Target indices that may serve `model`, or the 400 the client gets.
///
/// An alias match wins over a real-name match; a model that matches neither goes to the
/// targets that name no model at all (they forward the client's, as Kong's `ai-proxy` does).
/// A body without `model` may go to any target that names one; with none, Kong's 400.
pub(super) fn candidates(
    plugin: &AiProxyConfig,
    model: Option<&str>,
) -> Result<Vec<usize>, ErrorResponse> {
    let targets = &plugin.targets;
    let matching = |keep: &dyn Fn(&TargetConfig) -> bool| -> Vec<usize> {
        (0..targets.len()).filter(|&i| keep(&targets[i])).collect()
    };
    let Some(model) = model else {
        let named = matching(&|t| t.model_name.is_some());
        return if named.is_empty() {
            Err(ErrorResponse::new(400, NO_MODEL))
        } else {
            Ok(named)
        };
    };
    let by_alias = matching(&|t| t.model_alias.as_deref() == Some(model));
    if !by_alias.is_empty() {
        return Ok(by_alias);
    }
    let by_name = matching(&|t| t.model_name.as_deref() == Some(model));
    if !by_name.is_empty() {
        return Ok(by_name);
    }
    let open = matching(&|t| t.model_name.is_none() && t.model_alias.is_none());
    if !open.is_empty() {
        return Ok(open);
    }
    if targets.iter().any(|t| t.model_alias.is_some()) {
        return Err(ErrorResponse::new(400, "model not configured"));
    }
    let mut names: Vec<&str> = Vec::new();
    for t in targets {
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
