//! Which targets a `model` may reach, computed once per config load: a request's candidates
//! are then a slice of the config, found by binary search, never a list built per request.

use super::types::TargetConfig;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CandidateIndex {
    /// Targets that name a model (`model.name`), in order: a request without `model` may go
    /// to any of them.
    named: Vec<usize>,
    /// Targets that name neither a model nor an alias: they forward the client's model, so a
    /// model no alias or name matches goes to them (Kong's `ai-proxy` behaviour).
    open: Vec<usize>,
    /// `model.model_alias` to its targets, sorted by alias.
    by_alias: Vec<(String, Vec<usize>)>,
    /// `model.name` to its targets, sorted by name.
    by_name: Vec<(String, Vec<usize>)>,
}

/// How a `model` matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateMatch<'a> {
    /// No `model` in the request: every target that names one.
    Any(&'a [usize]),
    /// Targets whose alias is the model.
    Alias(&'a [usize]),
    /// Targets whose real name is the model (no alias matched).
    Name(&'a [usize]),
    /// Targets that name no model and forward the client's (nothing else matched).
    Open(&'a [usize]),
    /// No `model` in the request, and no target names one.
    NoModel,
    /// Nothing matched.
    None,
}

impl CandidateIndex {
    pub(crate) fn new(targets: &[TargetConfig]) -> CandidateIndex {
        let group = |field: fn(&TargetConfig) -> Option<&str>| {
            let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
            for (i, t) in targets.iter().enumerate() {
                let Some(key) = field(t) else { continue };
                match groups.iter_mut().find(|(k, _)| k == key) {
                    Some((_, list)) => list.push(i),
                    None => groups.push((key.to_string(), vec![i])),
                }
            }
            groups.sort_by(|a, b| a.0.cmp(&b.0));
            groups
        };
        let indices = |keep: fn(&TargetConfig) -> bool| -> Vec<usize> {
            (0..targets.len()).filter(|&i| keep(&targets[i])).collect()
        };
        CandidateIndex {
            named: indices(|t| t.model_name.is_some()),
            open: indices(|t| t.model_name.is_none() && t.model_alias.is_none()),
            by_alias: group(|t| t.model_alias.as_deref()),
            by_name: group(|t| t.model_name.as_deref()),
        }
    }

    /// An alias match wins over a real-name match, which wins over the open targets; no
    /// `model` matches every target that names one.
    pub fn lookup(&self, model: Option<&str>) -> CandidateMatch<'_> {
        let Some(model) = model else {
            return if self.named.is_empty() {
                CandidateMatch::NoModel
            } else {
                CandidateMatch::Any(&self.named)
            };
        };
        let find = |groups: &'_ [(String, Vec<usize>)]| -> Option<usize> {
            groups.binary_search_by(|(k, _)| k.as_str().cmp(model)).ok()
        };
        if let Some(at) = find(&self.by_alias) {
            return CandidateMatch::Alias(&self.by_alias[at].1);
        }
        if let Some(at) = find(&self.by_name) {
            return CandidateMatch::Name(&self.by_name[at].1);
        }
        if !self.open.is_empty() {
            return CandidateMatch::Open(&self.open);
        }
        CandidateMatch::None
    }

    /// Whether any target has an alias.
    pub fn has_aliases(&self) -> bool {
        !self.by_alias.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    #[test]
    fn aliases_win_then_names_then_everything() {
        let yaml = r#"_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      targets:
        - {route_type: llm/v1/chat, model: {provider: openai, name: b, model_alias: fast, options: {upstream_url: "http://127.0.0.1:1/a"}}}
        - {route_type: llm/v1/chat, model: {provider: openai, name: a, options: {upstream_url: "http://127.0.0.1:1/a"}}}
        - {route_type: llm/v1/chat, model: {provider: openai, name: c, model_alias: fast, options: {upstream_url: "http://127.0.0.1:1/a"}}}
        - {route_type: llm/v1/chat, model: {provider: openai, name: fast, options: {upstream_url: "http://127.0.0.1:1/a"}}}
"#;
        let loaded = load_str(yaml, "test", &|_| None).unwrap();
        let ix = &loaded.config.plugins()[0].candidates;
        assert_eq!(ix.lookup(Some("fast")), CandidateMatch::Alias(&[0, 2]));
        assert_eq!(ix.lookup(Some("a")), CandidateMatch::Name(&[1]));
        assert_eq!(ix.lookup(Some("c")), CandidateMatch::Name(&[2]));
        assert_eq!(ix.lookup(None), CandidateMatch::Any(&[0, 1, 2, 3]));
        assert_eq!(ix.lookup(Some("gpt-5")), CandidateMatch::None);
        assert!(ix.has_aliases());
    }

    #[test]
    fn unnamed_targets_take_unmatched_models_and_no_model_needs_a_name() {
        let yaml = r#"_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      targets:
        - {route_type: llm/v1/chat, model: {provider: openai, options: {upstream_url: "http://127.0.0.1:1/a"}}}
        - {route_type: llm/v1/chat, model: {provider: openai, model_alias: fast, options: {upstream_url: "http://127.0.0.1:1/a"}}}
"#;
        let loaded = load_str(yaml, "test", &|_| None).unwrap();
        let ix = &loaded.config.plugins()[0].candidates;
        assert_eq!(ix.lookup(Some("gpt-5")), CandidateMatch::Open(&[0]));
        assert_eq!(ix.lookup(Some("fast")), CandidateMatch::Alias(&[1]));
        assert_eq!(ix.lookup(None), CandidateMatch::NoModel);
    }
}
