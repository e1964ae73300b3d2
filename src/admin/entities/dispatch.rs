//! Path routing: which Admin API call a method and path are.
//!
//! The whole endpoint table (what llmux serves, what is 405, what is 404) lives here, in one
//! match, so Kong compatibility of the URL space can be read at a glance; the handlers live in
//! `plugins`, `writes`, `schemas` and `views`.

use super::consumers;
use super::index::Index;
use super::model::{Call, Parent, Reply};
use super::paging::page;
use super::plugins;
use super::response::{message, not_found, ok};
use super::schemas;
use super::views;
use super::writes::{self, Table};
use crate::config::PLUGINS;
use serde_yaml_ng::Value;

/// Answers one Admin API call on `doc` (the arguments are those of `EntityStore::handle`).
pub(super) fn handle(
    doc: &Value,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    env: &dyn Fn(&str) -> Option<String>,
    now: u64,
) -> Reply {
    let segs = split_path(path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let ix = Index::build(doc);
    let ix = &ix;
    let cx = &Call {
        doc,
        content_type,
        body,
        env,
        now,
    };
    let service = |s| views::service(doc, ix, s);
    let route = |r| views::route(doc, ix, r);
    let collection = path.split(['?', '#']).next().unwrap_or_default();
    let list = |items: Vec<Value>| page(path, collection, items);
    match (method, segs.as_slice()) {
        ("GET", ["plugins", "enabled"]) => {
            let names = PLUGINS.iter().map(|p| Value::from(p.name)).collect();
            let enabled = super::model::map([("enabled_plugins", Value::Sequence(names))]);
            (ok(200, &enabled), None)
        }
        // Kong's schema endpoint before 1.2, still served (and read by older decK releases).
        ("GET", ["plugins", "schema", name]) => (schemas::plugin_config_schema(name), None),
        ("GET", ["plugins"]) => (list(plugins::list(cx, ix, None)), None),
        ("POST", ["plugins"]) => plugins::create(cx, ix, None),
        (_, ["plugins", key]) => plugins::one(cx, ix, method, None, key),
        (_, ["plugins"]) => (message(405, "Method not allowed"), None),
        ("GET", ["services"]) => (list((0..ix.services.len()).map(service).collect()), None),
        ("POST", ["services"]) => writes::create(cx, ix, Table::Services, None),
        ("GET", ["services", key]) => match ix.find_service(key) {
            Some(s) => (ok(200, &service(s)), None),
            None => (not_found(), None),
        },
        (_, ["services", key]) => writes::one(cx, ix, Table::Services, method, key),
        ("GET", ["services", key, "routes"]) => match ix.find_service(key) {
            Some(s) => {
                let routes = (0..ix.routes.len()).filter(|&r| ix.route_service[r] == Some(s));
                (list(routes.map(route).collect()), None)
            }
            None => (not_found(), None),
        },
        ("POST", ["services", key, "routes"]) => match ix.find_service(key) {
            Some(s) => writes::create(cx, ix, Table::Routes, Some(s)),
            None => (not_found(), None),
        },
        ("GET" | "POST", ["services", key, "plugins"]) => match ix.find_service(key) {
            Some(s) if method == "GET" => {
                (list(plugins::list(cx, ix, Some(Parent::Service(s)))), None)
            }
            Some(s) => plugins::create(cx, ix, Some(Parent::Service(s))),
            None => (not_found(), None),
        },
        (_, ["services", key, "plugins", plugin]) => match ix.find_service(key) {
            Some(s) => plugins::one(cx, ix, method, Some(Parent::Service(s)), plugin),
            None => (not_found(), None),
        },
        ("GET", ["routes"]) => (list((0..ix.routes.len()).map(route).collect()), None),
        ("POST", ["routes"]) => writes::create(cx, ix, Table::Routes, None),
        ("GET", ["routes", key]) => match ix.find_route(key) {
            Some(r) => (ok(200, &route(r)), None),
            None => (not_found(), None),
        },
        (_, ["routes", key]) => writes::one(cx, ix, Table::Routes, method, key),
        ("GET", ["routes", key, "service"]) => {
            match ix.find_route(key).and_then(|r| ix.route_service[r]) {
                Some(s) => (ok(200, &service(s)), None),
                None => (not_found(), None),
            }
        }
        ("GET" | "POST", ["routes", key, "plugins"]) => match ix.find_route(key) {
            Some(r) if method == "GET" => {
                (list(plugins::list(cx, ix, Some(Parent::Route(r)))), None)
            }
            Some(r) => plugins::create(cx, ix, Some(Parent::Route(r))),
            None => (not_found(), None),
        },
        (_, ["routes", key, "plugins", plugin]) => match ix.find_route(key) {
            Some(r) => plugins::one(cx, ix, method, Some(Parent::Route(r)), plugin),
            None => (not_found(), None),
        },
        (_, ["services" | "routes", ..]) if segs.len() <= 3 => {
            (message(405, "Method not allowed"), None)
        }
        (_, ["consumers" | "key-auths" | "acls", ..]) => consumers::handle(cx, method, &segs, path),
        ("GET", [table]) if EMPTY_TABLES.contains(table) => (list(Vec::new()), None),
        ("GET", [table, ..]) if EMPTY_TABLES.contains(table) => (not_found(), None),
        (_, [table, ..]) if EMPTY_TABLES.contains(table) => (
            message(
                405,
                "Method not allowed: llmux has no use for this entity; \
                 its list is always empty",
            ),
            None,
        ),
        _ => (not_found(), None),
    }
}

/// Kong's other entity tables, which decK dumps and llmux has no use for: always empty lists
/// (with Kong's envelope, paging and validation), 404 for one entity, 405 for changes.
pub(super) const EMPTY_TABLES: &[&str] = &[
    "consumer_groups",
    "certificates",
    "ca_certificates",
    "snis",
    "upstreams",
    "targets",
    "vaults",
    "keys",
    "key-sets",
    "partials",
    "filter_chains",
    "hmac-auths",
    "jwts",
    "basic-auths",
    "oauth2",
    "mtls-auths",
];

/// The path's segments, percent-decoded; the query string, empty segments and trailing
/// slashes are ignored.
pub(super) fn split_path(path: &str) -> Vec<String> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
