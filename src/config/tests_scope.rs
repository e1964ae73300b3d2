//! Plugin scope (route > service > global) and Kong's route matching order.

use super::tests::{errors, load};
use super::*;

/// An ai-proxy-advanced plugin line-set whose single target's model name tells which one applied.
fn ai(scope: &str, model: &str) -> String {
    format!("- name: ai-proxy-advanced\n  {scope}\n  config:\n    targets:\n    - route_type: llm/v1/chat\n      model: {{provider: openai, name: {model}}}\n")
}

/// Which model (i.e. which plugin) serves `method path`; `404 NAME` for NoPlugin; `none`.
fn served(c: &GatewayConfig, method: &str, path: &str) -> String {
    match c.match_route(method, path) {
        RouteMatch::Plugin { route, plugin } => {
            let model = plugin.targets[0].model_name.clone().unwrap_or_default();
            match route {
                Some(r) => format!("{} {model}", r.name),
                None => format!("* {model}"),
            }
        }
        RouteMatch::NoPlugin { route } => format!("404 {}", route.name),
        RouteMatch::NoRoute => "none".to_string(),
    }
}

#[test]
fn precedence_route_over_service_over_global() {
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n- name: s1\n  url: http://a\n  routes:\n  - name: r1\n    paths: [/r1]\n    plugins:\n{}  - name: r2\n    paths: [/r2]\n  plugins:\n{}- name: s2\n  url: http://b\n  routes:\n  - name: r3\n    paths: [/r3]\nroutes:\n- name: r4\n  paths: [/r4]\n  service: s2\nplugins:\n{}{}",
        ai("enabled: true", "route-model").replace("\n- ", "\n    - ").replace("\n  ", "\n      ").replacen("- name", "    - name", 1),
        ai("tags: [x]", "service-model").replace("\n- ", "\n  - ").replace("\n  ", "\n    ").replacen("- name", "  - name", 1),
        ai("tags: []", "global-model"),
        ai("route: r4\n  service: s2", "combo-model"),
    );
    let l = load(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let c = &l.config;
    assert_eq!(served(c, "POST", "/r1"), "r1 route-model");
    assert_eq!(served(c, "POST", "/r2"), "r2 service-model");
    assert_eq!(served(c, "POST", "/r3"), "r3 global-model");
    assert_eq!(served(c, "POST", "/r4"), "r4 combo-model");
    assert_eq!(served(c, "POST", "/nothing"), "none");
    assert!(c.catch_all.is_none());
    let RouteMatch::Plugin { plugin, .. } = c.match_route("GET", "/r2") else {
        panic!()
    };
    assert_eq!(
        (plugin.id.as_str(), plugin.scope.as_str()),
        ("ai-proxy-advanced@service:s1", "service s1")
    );
}

#[test]
fn no_plugin_in_scope_and_disabled() {
    let yaml = format!(
        "_format_version: \"3.0\"\nroutes:\n- name: a\n  paths: [/a]\n- name: b\n  paths: [/b]\n  service: off\nservices:\n- name: off\n  url: http://x\n  enabled: false\nplugins:\n{}",
        ai("route: a\n  enabled: false", "m")
    );
    let c = load(&yaml).unwrap().config;
    assert_eq!(served(&c, "POST", "/a"), "404 a");
    assert_eq!(served(&c, "POST", "/b"), "none");
}

fn routes(list: &str) -> GatewayConfig {
    let yaml = format!(
        "_format_version: \"3.0\"\nroutes:\n{list}plugins:\n{}",
        ai("tags: []", "m")
    );
    load(&yaml).unwrap_or_else(|e| panic!("{e}")).config
}

#[test]
fn longest_prefix_wins_across_routes() {
    let c = routes("- {name: short, paths: [/v1]}\n- {name: long, paths: [/x, /v1/chat]}\n- {name: root, paths: [/]}\n");
    assert_eq!(served(&c, "POST", "/v1/chat/completions"), "long m");
    assert_eq!(served(&c, "POST", "/v1/embeddings"), "short m");
    assert_eq!(
        served(&c, "POST", "/v1x"),
        "short m",
        "Kong prefixes are plain string prefixes"
    );
    assert_eq!(served(&c, "POST", "/other"), "root m");
    assert_eq!(
        served(&c, "POST", "/v1//chat/./x?q=1"),
        "long m",
        "normalized first"
    );
    assert_eq!(
        served(&c, "POST", "/v1/%63hat"),
        "long m",
        "unreserved decoded"
    );
}

#[test]
fn regex_paths() {
    let c = routes(
        "- {name: prefix, paths: [/version/any/long/prefix]}\n- {name: low, paths: ['~/version/\\d+'], regex_priority: 0}\n- {name: high, paths: ['~/version/\\d+/status$'], regex_priority: 6}\n- {name: anchored, paths: ['~/v']}\n",
    );
    assert_eq!(served(&c, "GET", "/version/2/status"), "high m");
    assert_eq!(served(&c, "GET", "/version/2/status/x"), "low m");
    assert_eq!(
        served(&c, "GET", "/version/any/long/prefix"),
        "anchored m",
        "regex before prefix"
    );
    assert_eq!(
        served(&c, "GET", "/a/version/2"),
        "none",
        "regex anchored at the start"
    );
}

#[test]
fn methods_restrict_and_weigh() {
    let c = routes("- {name: post-root, paths: [/], methods: [POST]}\n- {name: chat, paths: [/v1/chat]}\n- {name: any-get, methods: [GET]}\n");
    assert_eq!(
        served(&c, "POST", "/v1/chat"),
        "post-root m",
        "more fields outrank a longer path, as in Kong"
    );
    assert_eq!(served(&c, "PUT", "/v1/chat"), "chat m");
    assert_eq!(served(&c, "GET", "/anything"), "any-get m");
    assert_eq!(served(&c, "DELETE", "/x"), "none");
}

#[test]
fn catch_all_only_without_routes() {
    let yaml = format!(
        "_format_version: \"3.0\"\nplugins:\n{}",
        ai("tags: []", "m")
    );
    let c = load(&yaml).unwrap().config;
    assert_eq!(served(&c, "POST", "/any/path"), "* m");
    let copy = c.per_core_copy();
    assert_eq!(served(&copy, "POST", "/x"), "* m");
    assert!(!std::sync::Arc::ptr_eq(
        copy.catch_all.as_ref().unwrap(),
        c.catch_all.as_ref().unwrap()
    ));
}

#[test]
fn ai_proxy_and_duplicates() {
    let yaml = "_format_version: \"3.0\"\nroutes:\n- name: r\n  paths: [/]\n  plugins:\n  - name: ai-proxy\n    config: {route_type: llm/v1/chat, model: {provider: cerebras, name: llama3.1-8b}}\n";
    let c = load(yaml).unwrap().config;
    assert_eq!(served(&c, "POST", "/x"), "r llama3.1-8b");
    let dup = format!(
        "_format_version: \"3.0\"\nplugins:\n{}{}",
        ai("tags: []", "a"),
        ai("tags: []", "b").replace("ai-proxy-advanced", "ai-proxy")
    );
    assert_eq!(
        errors(&dup),
        ["plugins[1]: an AI proxy plugin (plugins[0]) already applies to global: only one ai-proxy or ai-proxy-advanced per scope"]
    );
}

#[test]
fn reference_errors() {
    let yaml = format!(
        "_format_version: \"3.0\"\nroutes:\n- name: a\n  paths: [/a]\n  plugins:\n{}- name: a\n  paths: [/b]\nplugins:\n{}",
        ai("route: b", "m").replace("\n", "\n  ").replacen("- name", "  - name", 1).trim_end_matches(' '),
        ai("route: missing", "m")
    );
    assert_eq!(
        errors(&yaml),
        [
            "routes[1].name: duplicate route name `a` (first at routes[0])",
            "routes[0].plugins[0].route: must name the enclosing route, or be left out",
            "plugins[0].route: route `missing` is not defined in this file",
        ]
    );
}
