//! Which targets may serve a request, from the body's `model` (`docs/behaviour.md`,
//! "Choosing the target").

use super::error::ErrorResponse;
use crate::config::{AiProxyConfig, TargetConfig};

/// Target indices that may serve `model`, or the 400 the client gets.
///
/// An alias match wins over a real-name match; a body without `model` may go to any target.
pub(super) fn candidates(
    plugin: &AiProxyConfig,
    model: Option<&str>,
) -> Result<Vec<usize>, ErrorResponse> {
    let Some(model) = model else {
        return Ok((0..plugin.targets.len()).collect());
    };
    let matching = |field: fn(&TargetConfig) -> Option<&str>| -> Vec<usize> {
        (0..plugin.targets.len())
            .filter(|&i| field(&plugin.targets[i]) == Some(model))
            .collect()
    };
    let by_alias = matching(|t| t.model_alias.as_deref());
    if !by_alias.is_empty() {
        return Ok(by_alias);
    }
    let by_name = matching(|t| t.model_name.as_deref());
    if !by_name.is_empty() {
        return Ok(by_name);
    }
    if plugin.targets.iter().any(|t| t.model_alias.is_some()) {
        return Err(ErrorResponse::new(400, "model not configured"));
    }
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
