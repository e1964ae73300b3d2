//! Which targets may serve a request, from the body's `model` (spec section 2).

use super::error::ErrorResponse;
use crate::config::AiProxyConfig;

/// Target indices that may serve `model`, or the 400 the client gets.
///
/// An alias match wins over a real-name match; a body without `model` may go to any target.
pub fn candidates(
    plugin: &AiProxyConfig,
    model: Option<&str>,
) -> Result<Vec<usize>, ErrorResponse> {
    let Some(model) = model else {
        return Ok((0..plugin.targets.len()).collect());
    };
    let by_alias: Vec<usize> = plugin
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.model_alias.as_deref() == Some(model))
        .map(|(i, _)| i)
        .collect();
    if !by_alias.is_empty() {
        return Ok(by_alias);
    }
    let by_name: Vec<usize> = plugin
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.model_name.as_deref() == Some(model))
        .map(|(i, _)| i)
        .collect();
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
