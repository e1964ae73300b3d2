//! Configuration: Kong Gateway declarative (decK, `_format_version: "3.0"`) files with the
//! `ai-proxy-advanced` (or `ai-proxy`) plugin, read into a routing table.
//!
//! Loading goes: YAML text -> YAML tree (merge keys applied) -> `${{ env "NAME" }}` substitution
//! (`env.rs`) -> decK entities checked against Kong 3.14's schemas (`deck.rs`, `kong_schema.rs`,
//! `schema.rs`) -> AI plugins built with Kong's defaults and entity checks (`plugin.rs`,
//! `target.rs`, `upstream_url.rs`) -> references resolved and plugin scope applied
//! (`resolve.rs`) -> compiled route table with Kong's matching order (`routes.rs`).
//!
//! Every problem is collected, so one load reports all errors with their YAML paths. Valid Kong
//! keys llmux does not act on load with one warning each. `docs/config-reference.md` lists every
//! key and what llmux does with it.

pub mod access;
mod candidate_index;
mod consumers;
mod deck;
mod env;
mod error;
mod kong_schema;
mod plugin;
mod provider_url;
mod resolve;
mod routes;
mod schema;
mod summary;
mod target;
mod target_id;
mod target_provider;
mod types;
mod upstream_url;
mod value;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_defaults;
#[cfg(test)]
mod tests_providers;
#[cfg(test)]
mod tests_scope;

pub use candidate_index::{CandidateIndex, CandidateMatch};
pub use error::{ConfigError, ConfigErrors};
pub use routes::{GatewayConfig, Route, RouteMatch};
#[cfg(test)]
pub(crate) use target_id::test_key;
pub use target_id::{TargetId, TargetKey};
pub use types::{
    AiProxyConfig, Algorithm, Auth, AwsSigning, BalancerConfig, FailoverCriterion, LatencyStrategy,
    LlmFormat, Provider, ProviderOptions, ResponseStreaming, RouteType, TargetConfig,
    TokensCountStrategy, UpstreamUrl, Wire,
};

// What the Admin API's entity store (`crate::admin::entities`) shares with the loader, so it
// finds entities, reads fields and follows references exactly as the gateway does: the decK
// entity list (document order, YAML paths, resolved references) and the null-tolerant getters.
pub(crate) use consumers::{generated_id, ENTITY_ID_NAMESPACE};
pub(crate) use deck::entities;
/// Percent-encoding for names put into upstream paths (a model chosen by a native request).
pub(crate) use upstream_url::encode as upstream_path_escape;
pub(crate) use value::{as_mapping, as_mapping_mut, get};
// Kong's schemas as tables: the Admin API renders them as Kong's `/schemas`, fills in their
// defaults and types form-encoded bodies with them.
pub(crate) use deck::{PLUGIN, ROUTE, SERVICE};
pub(crate) use kong_schema::{plugin_config, PLUGINS};
pub(crate) use schema::{Auto, Dflt, Ty, F};

use error::{with_source, Diag};
use std::path::Path;

/// A loaded configuration and the warnings for what it contains that llmux ignores.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: GatewayConfig,
    /// One `source: path: message` per ignored-but-valid Kong key (or plugin).
    pub warnings: Vec<String>,
}

/// Read and load a file, with the process environment for `${{ env "NAME" }}`. Blocking file I/O:
/// call it on the main thread only (start-up and reload), never on a worker.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigErrors> {
    let source = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(&text, &source, &|name| std::env::var(name).ok()),
        Err(e) => Err(ConfigErrors(vec![ConfigError {
            path: String::new(),
            message: format!("cannot read the file: {e}"),
            source,
        }])),
    }
}

/// Load configuration text. `source` labels messages (usually the file name); `env` looks up the
/// variables of `${{ env "NAME" }}`.
pub fn load_str(
    text: &str,
    source: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigErrors> {
    let mut d = Diag::default();
    let parsed = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text)
        .map_err(|e| format!("invalid YAML: {e}"))
        .and_then(|mut v| {
            // `<<: *anchor` merge keys, which decK files use to share blocks.
            v.apply_merge()
                .map_err(|e| format!("invalid YAML merge key: {e}"))?;
            Ok(v)
        });
    let mut root = match parsed {
        Ok(v) => v,
        Err(message) => {
            d.err("", message);
            return Err(ConfigErrors(with_source(source, d.errors)));
        }
    };
    env::substitute(&mut root, "", env, &mut d);
    let doc = deck::read_doc(&root, &mut d);
    let aws = env::AwsEnv::read(env);
    let config = resolve::resolve(doc, &aws, &mut d);
    if !d.errors.is_empty() {
        return Err(ConfigErrors(with_source(source, d.errors)));
    }
    let warnings = with_source(source, d.warnings)
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Loaded { config, warnings })
}
