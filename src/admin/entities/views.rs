//! Entities as Kong's Admin API shows them: Kong 3.x's fields in Kong's order with Kong's
//! defaults for what the decK document leaves unset (`defaults`, from the loader's schema
//! tables), foreign keys as `{"id": ...}`, then whatever else the entity stores.
//!
//! Clients written against Kong read fields Kong always returns (`port`, `protocols`, `enabled`,
//! every key of a plugin's `config`), and decK compares them with its file after filling in the
//! same defaults; a decK file usually leaves them out, so they are filled in here rather than
//! written into the document.

use super::defaults::record;
use super::index::Index;
use super::model::{at, RefKind};
use crate::config::{get, plugin_config, PLUGIN, ROUTE, SERVICE};
use serde_yaml_ng::{Mapping, Value};

/// Plugin `p` as Kong shows it, its `config` with the plugin's defaults when llmux knows it.
pub(super) fn plugin(doc: &Value, ix: &Index, p: usize) -> Value {
    let e = &ix.plugins[p];
    let v = at(doc, &e.loc).unwrap_or(&Value::Null);
    let (route, service) = ix.plugin_scope[p];
    let mut out = record(Some(v), PLUGIN);
    let config = get(v, "config");
    let config = match e.name.as_deref().and_then(plugin_config) {
        Some(fields) => record(config, fields),
        None => config.cloned().unwrap_or(Value::Mapping(Mapping::new())),
    };
    if let Value::Mapping(m) = &mut out {
        m.insert("route".into(), ix.id_ref(RefKind::Route, route));
        m.insert("service".into(), ix.id_ref(RefKind::Service, service));
        m.insert("config".into(), config);
    }
    out
}

/// Service `s` as Kong shows it: `url` split into its parts, nested routes and plugins left out.
pub(super) fn service(doc: &Value, ix: &Index, s: usize) -> Value {
    let v = at(doc, &ix.services[s].loc).unwrap_or(&Value::Null);
    let mut out = record(Some(v), SERVICE);
    let url = get(v, "url").and_then(Value::as_str).map(split_url);
    if let (Value::Mapping(m), Some((protocol, host, port, path))) = (&mut out, url) {
        // Kong's `url` shorthand sets the four parts; a part also set on its own wins.
        let parts = [
            ("protocol", Value::from(protocol)),
            ("host", Value::from(host)),
            ("port", port.map_or(Value::Null, Value::from)),
            ("path", path.map_or(Value::Null, Value::from)),
        ];
        for (key, part) in parts {
            if get(v, key).is_none() {
                m.insert(key.into(), part);
            }
        }
    }
    out
}

/// Route `r` as Kong shows it, with its `service` as `{"id": ...}`.
pub(super) fn route(doc: &Value, ix: &Index, r: usize) -> Value {
    let v = at(doc, &ix.routes[r].loc).unwrap_or(&Value::Null);
    let mut out = record(Some(v), ROUTE);
    if let Value::Mapping(m) = &mut out {
        let service = ix.id_ref(RefKind::Service, ix.route_service[r]);
        m.insert("service".into(), service);
    }
    out
}

/// `scheme://host[:port][/path]` as (protocol, host, port, path), as Kong and decK split a service
/// `url`: the port defaults to the scheme's (443 for https, else 80).
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
    let scheme = scheme.to_ascii_lowercase();
    let port = port.or(Some(if scheme == "https" { 443 } else { 80 }));
    (scheme, host, port, path)
}
