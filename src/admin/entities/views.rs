//! Entities as Kong's Admin API shows them: Kong 3.x's fields, in Kong's order, with Kong's
//! defaults for what the decK document leaves unset, then whatever else the entity stores.
//!
//! Clients written against Kong read fields Kong always returns (`port`, `protocols`, `enabled`),
//! and a decK file usually leaves them out, so the defaults are filled in here rather than
//! written into the document.

use super::index::Index;
use super::model::{at, RefKind};
use crate::config::{as_mapping, get};
use serde_yaml_ng::{Mapping, Value};

/// Kong's default plugin `protocols`.
const PLUGIN_PROTOCOLS: [&str; 4] = ["grpc", "grpcs", "http", "https"];

/// Plugin `p` as Kong shows it.
pub(super) fn plugin(doc: &Value, ix: &Index, p: usize) -> Value {
    let e = &ix.plugins[p];
    let v = at(doc, &e.loc).unwrap_or(&Value::Null);
    let (route, service) = ix.plugin_scope[p];
    let stored = |key| get(v, key).cloned().unwrap_or(Value::Null);
    let protocols = get(v, "protocols")
        .cloned()
        .unwrap_or_else(|| Value::Sequence(PLUGIN_PROTOCOLS.iter().map(|&p| p.into()).collect()));
    let known = [
        ("id", stored("id")),
        ("name", stored("name")),
        ("instance_name", stored("instance_name")),
        ("created_at", stored("created_at")),
        ("updated_at", stored("updated_at")),
        ("route", ix.id_ref(RefKind::Route, route)),
        ("service", ix.id_ref(RefKind::Service, service)),
        ("consumer", stored("consumer")),
        ("consumer_group", stored("consumer_group")),
        (
            "config",
            get(v, "config")
                .cloned()
                .unwrap_or(Value::Mapping(Mapping::new())),
        ),
        ("protocols", protocols),
        (
            "enabled",
            get(v, "enabled").cloned().unwrap_or(Value::Bool(true)),
        ),
        ("tags", stored("tags")),
        ("ordering", stored("ordering")),
    ];
    with_rest(known, v, &[])
}

/// Service `s` as Kong shows it: `url` split into its parts, nested routes and plugins left out.
pub(super) fn service(doc: &Value, ix: &Index, s: usize) -> Value {
    let v = at(doc, &ix.services[s].loc).unwrap_or(&Value::Null);
    let url = get(v, "url").and_then(Value::as_str).map(split_url);
    let part = |key: &str, from_url: Option<Value>, default: Value| {
        get(v, key).cloned().or(from_url).unwrap_or(default)
    };
    let protocol = part(
        "protocol",
        url.as_ref().map(|u| u.0.clone().into()),
        "http".into(),
    );
    let default_port = if protocol.as_str() == Some("https") {
        443
    } else {
        80
    };
    let stored = |key| get(v, key).cloned().unwrap_or(Value::Null);
    let known = [
        ("id", stored("id")),
        ("name", stored("name")),
        ("created_at", stored("created_at")),
        ("updated_at", stored("updated_at")),
        ("protocol", protocol),
        (
            "host",
            part(
                "host",
                url.as_ref().map(|u| u.1.clone().into()),
                Value::Null,
            ),
        ),
        (
            "port",
            part(
                "port",
                url.as_ref().and_then(|u| u.2).map(Value::from),
                default_port.into(),
            ),
        ),
        (
            "path",
            part(
                "path",
                url.as_ref().and_then(|u| u.3.clone()).map(Value::from),
                Value::Null,
            ),
        ),
        ("retries", part("retries", None, 5.into())),
        (
            "connect_timeout",
            part("connect_timeout", None, 60000.into()),
        ),
        ("write_timeout", part("write_timeout", None, 60000.into())),
        ("read_timeout", part("read_timeout", None, 60000.into())),
        ("tags", stored("tags")),
        ("client_certificate", stored("client_certificate")),
        ("tls_verify", stored("tls_verify")),
        ("tls_verify_depth", stored("tls_verify_depth")),
        ("ca_certificates", stored("ca_certificates")),
        ("enabled", part("enabled", None, true.into())),
    ];
    with_rest(known, v, &["url", "routes", "plugins"])
}

/// Route `r` as Kong shows it, with its `service` as `{"id": ...}`.
pub(super) fn route(doc: &Value, ix: &Index, r: usize) -> Value {
    let v = at(doc, &ix.routes[r].loc).unwrap_or(&Value::Null);
    let part = |key: &str, default: Value| get(v, key).cloned().unwrap_or(default);
    let known = [
        ("id", part("id", Value::Null)),
        ("name", part("name", Value::Null)),
        ("created_at", part("created_at", Value::Null)),
        ("updated_at", part("updated_at", Value::Null)),
        (
            "protocols",
            part(
                "protocols",
                Value::Sequence(vec!["http".into(), "https".into()]),
            ),
        ),
        ("methods", part("methods", Value::Null)),
        ("hosts", part("hosts", Value::Null)),
        ("paths", part("paths", Value::Null)),
        ("headers", part("headers", Value::Null)),
        ("snis", part("snis", Value::Null)),
        ("sources", part("sources", Value::Null)),
        ("destinations", part("destinations", Value::Null)),
        (
            "https_redirect_status_code",
            part("https_redirect_status_code", 426.into()),
        ),
        ("regex_priority", part("regex_priority", 0.into())),
        ("strip_path", part("strip_path", true.into())),
        ("path_handling", part("path_handling", "v0".into())),
        ("preserve_host", part("preserve_host", false.into())),
        ("request_buffering", part("request_buffering", true.into())),
        (
            "response_buffering",
            part("response_buffering", true.into()),
        ),
        ("tags", part("tags", Value::Null)),
        ("service", ix.id_ref(RefKind::Service, ix.route_service[r])),
    ];
    with_rest(known, v, &["plugins"])
}

/// The `known` fields, then whatever else the stored entity has (minus `skip`).
fn with_rest<const N: usize>(known: [(&str, Value); N], stored: &Value, skip: &[&str]) -> Value {
    let mut out = Mapping::new();
    for (k, v) in known {
        out.insert(k.into(), v);
    }
    if let Some(m) = as_mapping(stored) {
        for (k, v) in m {
            let name = k.as_str().unwrap_or_default();
            if !out.contains_key(k) && !skip.contains(&name) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Mapping(out)
}

/// `scheme://host[:port][/path]` as (protocol, host, port, path), as Kong splits a service `url`.
fn split_url(url: &str) -> (String, String, Option<u16>, Option<String>) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(rest[i..].to_string())),
        None => (rest, None),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.rsplit_once(':').map(|(h, p)| (h, p.parse())) {
        Some((h, Ok(port))) => (h.to_string(), Some(port)),
        _ => (authority.to_string(), None),
    };
    let port = port.or(match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    });
    (scheme.to_ascii_lowercase(), host, port, path)
}
