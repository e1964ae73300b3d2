//! The Admin API entity store, driven through `EntityStore::handle` as the admin thread calls
//! it: `plugins` changes plugins (the seed's `POST /plugins/`, PATCH, DELETE, the checks Kong and
//! the config loader make), `store` reads services and routes, scopes and the URL space, ids and
//! the state file. This file holds the documents, bodies and helpers both share.

use super::ids::{is_uuid, unique_id};
use super::*;
use crate::config::{load_str, Algorithm, Loaded, RouteMatch, TokensCountStrategy};
use simd_json::prelude::*;
use simd_json::OwnedValue;

const NOW: u64 = 1_700_000_000;
const SECRET: &str = "sk-test-secret-123";

fn no_env(_: &str) -> Option<String> {
    None
}

fn deck_env(name: &str) -> Option<String> {
    (name == "DECK_OPENAI_API_KEY").then(|| SECRET.to_string())
}

/// The seed's `curl -X POST http://localhost:8001/plugins/` body, with a literal key.
fn seed_body() -> String {
    let target = |model: &str| {
        format!(
            r#"{{"model":{{"name":"{model}","provider":"openai","options":{{"max_tokens":512,"temperature":1.0}}}},
               "route_type":"llm/v1/chat",
               "auth":{{"header_name":"Authorization","header_value":"Bearer {SECRET}"}}}}"#
        )
    };
    format!(
        r#"{{"name":"ai-proxy-advanced",
            "config":{{"balancer":{{"algorithm":"lowest-usage","tokens_count_strategy":"prompt-tokens"}},
                       "targets":[{},{}]}},
            "tags":[]}}"#,
        target("gpt-4"),
        target("gpt-4o-mini")
    )
}

/// A plugin body with one target and `extra` top-level JSON members.
fn small_body(algorithm: &str, extra: &str) -> String {
    format!(
        r#"{{"name":"ai-proxy-advanced",{extra}"config":{{"balancer":{{"algorithm":"{algorithm}"}},
            "targets":[{{"route_type":"llm/v1/chat","model":{{"provider":"openai","name":"gpt-4o"}}}}]}}}}"#
    )
}

const EMPTY: &str = "_format_version: \"3.0\"\n";

const ROUTE_ID: &str = "9d2c4a55-0f6b-4c1e-8d3a-5b7e2f1a9c00";

/// A service with a named route and a route known by id only.
fn services_doc() -> String {
    format!(
        "_format_version: \"3.0\"\nservices:\n- name: svc\n  url: https://example.com:8443/base\n  \
         routes:\n  - name: chat\n    paths: [/chat]\n  - id: {ROUTE_ID}\n    paths: [/other]\n"
    )
}

/// A service-nested AI plugin (no ids anywhere).
const NESTED: &str = r#"_format_version: "3.0"
services:
- name: svc
  url: https://example.com
  routes:
  - name: chat
    paths: [/chat]
  plugins:
  - name: ai-proxy-advanced
    config:
      balancer: {algorithm: round-robin}
      targets:
      - route_type: llm/v1/chat
        model: {provider: openai, name: gpt-4o}
        auth: {header_name: Authorization, header_value: 'Bearer ${{ env "DECK_OPENAI_API_KEY" }}'}
"#;

fn store(text: &str) -> EntityStore {
    EntityStore::from_text(text).unwrap()
}

fn call(
    s: &EntityStore,
    method: &str,
    path: &str,
    body: &str,
) -> (ApiResponse, Option<EntityStore>) {
    s.handle(
        method,
        path,
        "application/json",
        body.as_bytes(),
        &deck_env,
        NOW,
    )
}

fn json(resp: &ApiResponse) -> OwnedValue {
    let mut bytes = resp.body.clone().into_bytes();
    simd_json::to_owned_value(&mut bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", resp.body))
}

fn s<'a>(v: &'a OwnedValue, path: &[&str]) -> &'a OwnedValue {
    path.iter().fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => v.get_idx(i).unwrap_or_else(|| panic!("no [{i}] in {v}")),
        Err(_) => v.get(*k).unwrap_or_else(|| panic!("no {k} in {v}")),
    })
}

fn str_at<'a>(v: &'a OwnedValue, path: &[&str]) -> &'a str {
    s(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string in {v}"))
}

fn load(store: &EntityStore) -> Loaded {
    load_str(&store.to_yaml(), "test", &deck_env).unwrap_or_else(|e| panic!("{e}"))
}

/// The id of the plugin that serves `path`.
fn plugin_for(l: &Loaded, path: &str) -> String {
    match l.config.match_route("POST", path) {
        RouteMatch::Plugin { plugin, .. } => plugin.id.clone(),
        other => panic!("no plugin for {path}: {other:?}"),
    }
}

mod plugins;
mod store;
mod writes;
