//! From collected decK entities to the routing table: resolve references, build each AI plugin
//! once, and give every route the plugin in scope (route > service > global, as in Kong; a plugin
//! set on both a route and a service beats one set on the route only).

use super::access::{self, build_access_plugin, ScopedPlugin};
use super::consumers::build_consumers;
use super::deck::{Doc, RawRoute, Ref};
use super::env::AwsEnv;
use super::error::Diag;
use super::plugin::{build_plugin, PluginMeta, AI_PROXY_ADVANCED_NAME, AI_PROXY_NAME};
use super::routes::{GatewayConfig, Route};
use super::types::AiProxyConfig;
use super::value::{index, join};
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) fn is_ai_plugin(name: &str) -> bool {
    name == AI_PROXY_ADVANCED_NAME || name == AI_PROXY_NAME
}

const AUTHENTICATES: &str = "it authenticates clients, and llmux would serve requests it rejects";
const REJECTS: &str = "it rejects requests, and llmux would serve them";
const REROUTES: &str = "it changes where requests go";

/// Plugins that are load errors rather than warnings: ignoring them would change which requests
/// are served or where they go.
const REFUSED: &[(&str, &str)] = &[
    ("basic-auth", AUTHENTICATES),
    ("hmac-auth", AUTHENTICATES),
    ("jwt", AUTHENTICATES),
    ("key-auth-enc", AUTHENTICATES),
    ("ldap-auth", AUTHENTICATES),
    ("ldap-auth-advanced", AUTHENTICATES),
    ("mtls-auth", AUTHENTICATES),
    ("oauth2", AUTHENTICATES),
    ("oauth2-introspection", AUTHENTICATES),
    ("openid-connect", AUTHENTICATES),
    ("saml", AUTHENTICATES),
    ("session", AUTHENTICATES),
    ("vault-auth", AUTHENTICATES),
    ("header-cert-auth", AUTHENTICATES),
    ("konnect-application-auth", AUTHENTICATES),
    ("ip-restriction", REJECTS),
    ("bot-detection", REJECTS),
    ("opa", REJECTS),
    ("request-termination", REJECTS),
    ("request-validator", REJECTS),
    ("oas-validation", REJECTS),
    ("injection-protection", REJECTS),
    ("json-threat-protection", REJECTS),
    ("xml-threat-protection", REJECTS),
    ("ai-prompt-guard", REJECTS),
    ("ai-semantic-prompt-guard", REJECTS),
    ("ai-semantic-response-guard", REJECTS),
    ("ai-aws-guardrails", REJECTS),
    ("ai-azure-content-safety", REJECTS),
    ("ai-gcp-model-armor", REJECTS),
    ("ai-lakera-guard", REJECTS),
    ("route-by-header", REROUTES),
    ("route-transformer-advanced", REROUTES),
    ("canary", REROUTES),
    ("forward-proxy", REROUTES),
    ("redirect", REROUTES),
];

/// Kong AI Gateway 2.x's plugin that picks the AI Model from the request (`deck file ai2kong`
/// puts one on each AI Model's route).
const AI_MODEL_SELECTOR: &str = "ai-model-selector";

/// An `ai-model-selector` that selects by the body's top-level `model` (what `ai2kong` writes) does
/// what llmux does anyway; any other source or path is ignored with the usual warning.
fn model_selector_is_llmuxs(config: Option<&serde_yaml_ng::Value>) -> bool {
    let get = |k| config.and_then(|c| super::value::get_str(c, k));
    get("source").is_none_or(|s| s == "body") && get("body_path").is_none_or(|p| p == "model")
}

/// Where a plugin applies: (route, service) indices; (None, None) is global.
type Scope = (Option<usize>, Option<usize>);

/// The `@scope` suffix of an id built from a scope: `global`, `route:NAME`, `route:R+service:S`,
/// `consumer:C`...
fn scope_texts(parts: &[(&str, String)]) -> (String, String) {
    if parts.is_empty() {
        return ("global".to_string(), "global".to_string());
    }
    let text: Vec<String> = parts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let id: Vec<String> = parts.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    (text.join(" + "), id.join("+"))
}

pub(crate) fn resolve(doc: Doc<'_>, aws: &AwsEnv, d: &mut Diag) -> GatewayConfig {
    check_unique(
        doc.services
            .iter()
            .map(|s| (&s.path, s.name.as_deref(), s.id.as_deref())),
        "service",
        d,
    );
    check_unique(
        doc.routes
            .iter()
            .map(|r| (&r.path, r.name.as_deref(), r.id.as_deref())),
        "route",
        d,
    );

    let route_services: Vec<Option<usize>> = doc
        .routes
        .iter()
        .map(|r| reported(doc.service_of(&r.service), d).unwrap_or(None))
        .collect();
    let label_service = |i: usize| {
        label(
            &doc.services[i].name,
            &doc.services[i].id,
            &doc.services[i].path,
        )
    };
    let label_route = |i: usize| label(&doc.routes[i].name, &doc.routes[i].id, &doc.routes[i].path);

    let label_consumer = |i: usize| {
        let c = &doc.consumers[i];
        label(
            &c.username.clone().or_else(|| c.custom_id.clone()),
            &c.id,
            &c.path,
        )
    };
    let (consumers, credentials) = build_consumers(&doc.consumers, d);
    let find_consumer = |key: &str| {
        (doc.consumers.iter())
            .position(|c| c.id.as_deref() == Some(key) || c.username.as_deref() == Some(key))
            .or_else(|| consumers.iter().position(|c| c.id == key))
            .map(|i| i as u32)
    };

    let mut plugins: HashMap<Scope, (Arc<AiProxyConfig>, String)> = HashMap::new();
    let mut seen: HashMap<Scope, String> = HashMap::new();
    let mut access_plugins: Vec<ScopedPlugin> = Vec::new();
    let mut access_seen: HashMap<(&str, Scope, Option<usize>), &str> = HashMap::new();
    for p in doc.plugins.iter().filter(|p| p.enabled) {
        let (Ok(route), Ok(service), Ok(consumer)) = (
            reported(doc.route_of(&p.route), d),
            reported(doc.service_of(&p.service), d),
            reported(doc.consumer_of(&p.consumer), d),
        ) else {
            continue;
        };
        let parts: Vec<(&str, String)> = (route.map(|r| ("route", label_route(r))).into_iter())
            .chain(service.map(|s| ("service", label_service(s))))
            .chain(consumer.map(|c| ("consumer", label_consumer(c))))
            .collect();
        let (scope_text, scope_id) = scope_texts(&parts);
        if access::NAMES.contains(&p.name.as_str()) {
            if p.shared_config {
                d.unsupported(
                    &join(&p.path, "_config"),
                    "`_config` (decK shared plugin configuration)",
                );
                continue;
            }
            let key = (p.name.as_str(), (route, service), consumer);
            if let Some(other) = access_seen.get(&key) {
                d.err(
                    &p.path,
                    format!(
                        "plugin `{}` ({other}) already applies to {scope_text}: one per scope",
                        p.name
                    ),
                );
                continue;
            }
            access_seen.insert(key, &p.path);
            let cx = access::BuildCx {
                id: p
                    .id
                    .clone()
                    .or_else(|| p.instance_name.clone())
                    .unwrap_or_else(|| format!("{}@{scope_id}", p.name)),
                find_consumer: &find_consumer,
                consumer_scoped: consumer.is_some(),
            };
            let config_path = join(&p.path, "config");
            if let Some(plugin) = build_access_plugin(&p.name, p.config, &config_path, &cx, d) {
                access_plugins.push(ScopedPlugin {
                    route,
                    service,
                    consumer,
                    name: p.name.clone(),
                    plugin,
                });
            }
            continue;
        }
        if p.name == AI_MODEL_SELECTOR && model_selector_is_llmuxs(p.config) {
            // Selecting by the body's `model` is what llmux does for every AI plugin.
            continue;
        }
        if !is_ai_plugin(&p.name) {
            match REFUSED.iter().find(|(n, _)| *n == p.name) {
                Some((_, why)) => d.err(
                    &p.path,
                    format!("plugin `{}` is not supported yet by llmux: {why}", p.name),
                ),
                None if p.name.is_empty() => {}
                None => d.warn(
                    &p.path,
                    format!(
                        "plugin `{}` is not implemented by llmux and is ignored",
                        p.name
                    ),
                ),
            }
            continue;
        }
        if p.shared_config {
            d.unsupported(
                &join(&p.path, "_config"),
                "`_config` (decK shared plugin configuration)",
            );
            continue;
        }
        if consumer.is_some() {
            d.err(
                &join(&p.path, "consumer"),
                "an AI proxy plugin scoped to a consumer is not supported yet by llmux",
            );
            continue;
        }
        let scope = (route, service);
        if let Some(other) = seen.get(&scope) {
            d.err(&p.path, format!("an AI proxy plugin ({other}) already applies to {scope_text}: only one ai-proxy or ai-proxy-advanced per scope"));
            continue;
        }
        seen.insert(scope, p.path.clone());
        let plugin_name = if p.name == AI_PROXY_NAME {
            AI_PROXY_NAME
        } else {
            AI_PROXY_ADVANCED_NAME
        };
        let meta = PluginMeta {
            id: p
                .id
                .clone()
                .or_else(|| p.instance_name.clone())
                .unwrap_or_else(|| format!("{plugin_name}@{scope_id}")),
            plugin_name,
            scope: scope_text,
        };
        if let Some(cfg) = build_plugin(p.config, &join(&p.path, "config"), meta, aws, d) {
            plugins.insert(scope, (Arc::new(cfg), p.path.clone()));
        }
    }

    let mut routes = Vec::new();
    let mut route_scopes = Vec::new();
    for (ri, r) in doc.routes.iter().enumerate() {
        let service = route_services[ri];
        if !r.http || service.is_some_and(|s| !doc.services[s].enabled) {
            continue;
        }
        let candidates = [
            (Some(ri), service),
            (Some(ri), None),
            (None, service),
            (None, None),
        ];
        let plugin = candidates
            .iter()
            .find_map(|scope| plugins.get(scope))
            .map(|(p, _)| Arc::clone(p));
        let providers = plugin.as_deref().map_or(0, provider_mask);
        if let Some(mut route) = compile(r, service.map(label_service), plugin, &label_route(ri), d)
        {
            route.policy = routes.len();
            routes.push(route);
            route_scopes.push(access::RouteScope {
                route: Some(ri),
                service,
                service_key: service.map(|s| {
                    let s = &doc.services[s];
                    s.id.clone().or_else(|| s.name.clone()).unwrap_or_default()
                }),
                providers,
            });
        }
    }
    for ((route, service), (_, path)) in &plugins {
        if let (None, Some(s)) = (route, service) {
            if !route_services.contains(&Some(*s)) {
                d.warn(
                    path,
                    format!(
                        "service {} has no routes: this plugin receives no traffic",
                        label_service(*s)
                    ),
                );
            }
        }
    }
    if plugins.is_empty() && d.errors.is_empty() {
        d.warn(
            "plugins",
            "no ai-proxy-advanced or ai-proxy plugin is enabled: every request will get 404",
        );
    }
    let catch_all = if doc.routes.is_empty() {
        plugins.get(&(None, None)).map(|(p, _)| Arc::clone(p))
    } else {
        None
    };
    route_scopes.push(access::RouteScope {
        route: None,
        service: None,
        service_key: None,
        providers: catch_all.as_deref().map_or(0, provider_mask),
    });
    let access = access::assemble(consumers, credentials, access_plugins, &route_scopes);
    GatewayConfig::new(routes, catch_all, access)
}

/// The providers of a plugin's targets, one bit per `Provider`.
fn provider_mask(p: &AiProxyConfig) -> u32 {
    p.targets
        .iter()
        .fold(0, |mask, t| mask | (1 << (t.provider as u32)))
}

fn compile(
    r: &RawRoute,
    service: Option<String>,
    plugin: Option<Arc<AiProxyConfig>>,
    name: &str,
    d: &mut Diag,
) -> Option<Route> {
    let route = Route::new(
        name.to_string(),
        r.id.clone(),
        service,
        r.paths.clone(),
        r.methods.clone(),
        r.regex_priority,
        plugin,
    );
    route
        .map_err(|errs| {
            for (i, m) in errs {
                d.err(&index(&join(&r.path, "paths"), i), m);
            }
        })
        .ok()
}

/// `name`, else `id`, else the YAML path.
fn label(name: &Option<String>, id: &Option<String>, path: &str) -> String {
    name.clone()
        .or_else(|| id.clone())
        .unwrap_or_else(|| path.to_string())
}

/// A reference that does not resolve: the YAML path of the reference and what is wrong with it.
pub(crate) struct BrokenRef {
    pub path: String,
    pub message: String,
}

impl Doc<'_> {
    /// The service a reference points to (`Ok(None)`: there is none), as the gateway routes:
    /// the first service whose name or id is the key.
    pub(crate) fn service_of(&self, r: &Option<Ref>) -> Result<Option<usize>, BrokenRef> {
        lookup(r, "service", &|key| {
            (self.services.iter())
                .position(|s| s.name.as_deref() == Some(key) || s.id.as_deref() == Some(key))
        })
    }

    /// The consumer a reference points to (by `id` or `username`), like [`Doc::service_of`].
    pub(crate) fn consumer_of(&self, r: &Option<Ref>) -> Result<Option<usize>, BrokenRef> {
        lookup(r, "consumer", &|key| {
            (self.consumers.iter())
                .position(|c| c.id.as_deref() == Some(key) || c.username.as_deref() == Some(key))
        })
    }

    /// The route a reference points to, like [`Doc::service_of`].
    pub(crate) fn route_of(&self, r: &Option<Ref>) -> Result<Option<usize>, BrokenRef> {
        lookup(r, "route", &|key| {
            (self.routes.iter())
                .position(|r| r.name.as_deref() == Some(key) || r.id.as_deref() == Some(key))
        })
    }
}

fn lookup(
    r: &Option<Ref>,
    kind: &str,
    find: &dyn Fn(&str) -> Option<usize>,
) -> Result<Option<usize>, BrokenRef> {
    match r {
        None => Ok(None),
        Some(Ref::Index(i)) => Ok(Some(*i)),
        Some(Ref::Key { key, path }) => match find(key) {
            Some(i) => Ok(Some(i)),
            None => Err(BrokenRef {
                path: path.clone(),
                message: format!("{kind} `{key}` is not defined in this file"),
            }),
        },
        Some(Ref::Nested { parent, key, path }) => {
            if find(key) == Some(*parent) {
                Ok(Some(*parent))
            } else {
                Err(BrokenRef {
                    path: path.clone(),
                    message: format!("must name the enclosing {kind}, or be left out"),
                })
            }
        }
    }
}

/// `Err` (reported) when the reference is broken.
fn reported<T>(r: Result<T, BrokenRef>, d: &mut Diag) -> Result<T, ()> {
    r.map_err(|e| d.err(&e.path, e.message))
}

/// Kong: names and ids are unique per entity type.
fn check_unique<'a>(
    items: impl Iterator<Item = (&'a String, Option<&'a str>, Option<&'a str>)>,
    kind: &str,
    d: &mut Diag,
) {
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut ids: HashMap<&str, &str> = HashMap::new();
    for (path, name, id) in items {
        for (key, value, seen) in [("name", name, &mut names), ("id", id, &mut ids)] {
            let Some(v) = value else { continue };
            if let Some(first) = seen.get(v) {
                d.err(
                    &join(path, key),
                    format!("duplicate {kind} {key} `{v}` (first at {first})"),
                );
            } else {
                seen.insert(v, path);
            }
        }
    }
}
