//! A target's identity: what makes two targets "the same" across cores, config reloads and the
//! admin views, so usage counted for a target survives a reload that did not change it.
//!
//! It is a struct, hashed and compared as a whole, so no model or plugin name (one containing
//! `|`, say) can be confused with another field when it is printed as a label.

use super::types::{AiProxyConfig, Provider};
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetId {
    /// The plugin's id (`AiProxyConfig::id`).
    pub plugin: String,
    pub provider: Provider,
    /// `model.name`, empty when the target forwards the client's model.
    pub model: String,
    /// `model.model_alias`, empty when unset.
    pub alias: String,
    /// The upstream URL as displayed (an auth query parameter's value is redacted).
    pub upstream: String,
    /// 1 for the first target of its plugin with these fields, 2 for an identical second one,
    /// and so on, so that duplicated targets keep separate counts.
    pub occurrence: u32,
}

/// Shared handle to a [`TargetId`]: cheap to clone into reports, compared by value.
pub type TargetKey = Arc<TargetId>;

impl fmt::Display for TargetId {
    /// `provider/model` (or `provider/alias` without a model name), for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.model.is_empty() {
            &self.alias
        } else {
            &self.model
        };
        write!(f, "{}/{}", self.provider, name)
    }
}

impl TargetId {
    /// Equal in every field but `occurrence`.
    fn same_target(&self, other: &TargetId) -> bool {
        (
            &self.plugin,
            self.provider,
            &self.model,
            &self.alias,
            &self.upstream,
        ) == (
            &other.plugin,
            other.provider,
            &other.model,
            &other.alias,
            &other.upstream,
        )
    }
}

/// Numbers targets that are otherwise identical (`occurrence` 1, 2, ...), in target order.
pub(crate) fn number_duplicates(plugin: &mut AiProxyConfig) {
    for i in 1..plugin.targets.len() {
        let (before, rest) = plugin.targets.split_at_mut(i);
        let this = &mut rest[0];
        let earlier = before
            .iter()
            .filter(|t| t.key.same_target(&this.key))
            .count();
        if earlier > 0 {
            let mut id = TargetId::clone(&this.key);
            id.occurrence = 1 + u32::try_from(earlier).unwrap_or(u32::MAX - 1);
            this.key = Arc::new(id);
        }
    }
}

/// A key for unit tests: an openai target of plugin `p` with model `model`.
#[cfg(test)]
pub(crate) fn test_key(model: &str) -> TargetKey {
    Arc::new(TargetId {
        plugin: "p".into(),
        provider: Provider::OpenAi,
        model: model.into(),
        alias: String::new(),
        upstream: "u".into(),
        occurrence: 1,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    #[test]
    fn identical_targets_get_distinct_keys_and_pipes_stay_in_their_field() {
        let yaml = r#"_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      targets:
        - {route_type: llm/v1/chat, model: {provider: openai, name: "org|model-x", options: {upstream_url: "http://127.0.0.1:1/a"}}}
        - {route_type: llm/v1/chat, model: {provider: openai, name: "org|model-x", options: {upstream_url: "http://127.0.0.1:1/a"}}}
"#;
        let loaded = load_str(yaml, "test", &|_| None).unwrap();
        let p = &loaded.config.plugins()[0];
        let (a, b) = (&p.targets[0].key, &p.targets[1].key);
        assert_eq!(a.model, "org|model-x");
        assert_eq!((a.occurrence, b.occurrence), (1, 2));
        assert_ne!(a, b);
        assert_eq!(a.to_string(), "openai/org|model-x");
    }
}
