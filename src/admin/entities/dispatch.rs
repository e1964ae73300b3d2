//! Path routing: which Admin API call a method and path are, and the per-call context every
//! handler shares.
//!
//! The whole endpoint table (what llmux serves, what is 405, what is 404) lives here, in one
//! match, so Kong compatibility of the URL space can be read at a glance; the handlers live in
//! `plugins` and `views`.

use super::index::Index;
use super::plugins::Parent;
use super::response::{list, message, not_found, ok};
use super::{EntityStore, Reply};
use serde_yaml_ng::Value;

impl EntityStore {
    /// Handles one Admin API call. `body` is a JSON object (or empty); `env` resolves
    /// `${{ env "NAME" }}` when the changed document is checked; `now` (unix seconds) stamps
    /// `created_at`/`updated_at`. A call that changes state returns the new store, which already
    /// loads with `load_str(&new.to_yaml(), "admin API", env)`; the caller commits it only if the
    /// gateway accepts that text.
    pub fn handle(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        env: &dyn Fn(&str) -> Option<String>,
        now: u64,
    ) -> Reply {
        let segs = split_path(path);
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let ix = Index::build(&self.doc);
        let cx = Call {
            store: self,
            ix: &ix,
            body,
            env,
            now,
        };
        match (method, segs.as_slice()) {
            ("GET", ["plugins"]) => (cx.list_plugins(None), None),
            ("POST", ["plugins"]) => cx.create_plugin(None),
            (_, ["plugins", key]) => cx.one_plugin(method, None, key),
            (_, ["plugins"]) => (message(405, "Method not allowed"), None),
            ("GET", ["services"]) => (list(ix.services.iter().map(|e| cx.service_json(e.n))), None),
            ("GET", ["services", key]) => match ix.find_service(key) {
                Some(s) => (ok(200, &cx.service_json(s)), None),
                None => (not_found(), None),
            },
            ("GET", ["services", key, "routes"]) => match ix.find_service(key) {
                Some(s) => {
                    let routes = (0..ix.routes.len()).filter(|&r| ix.route_service[r] == Some(s));
                    (list(routes.map(|r| cx.route_json(r))), None)
                }
                None => (not_found(), None),
            },
            ("GET" | "POST", ["services", key, "plugins"]) => match ix.find_service(key) {
                Some(s) if method == "GET" => (cx.list_plugins(Some(Parent::Service(s))), None),
                Some(s) => cx.create_plugin(Some(Parent::Service(s))),
                None => (not_found(), None),
            },
            (_, ["services", key, "plugins", plugin]) => match ix.find_service(key) {
                Some(s) => cx.one_plugin(method, Some(Parent::Service(s)), plugin),
                None => (not_found(), None),
            },
            ("GET", ["routes"]) => (list((0..ix.routes.len()).map(|r| cx.route_json(r))), None),
            ("GET", ["routes", key]) => match ix.find_route(key) {
                Some(r) => (ok(200, &cx.route_json(r)), None),
                None => (not_found(), None),
            },
            ("GET", ["routes", key, "service"]) => {
                match ix.find_route(key).and_then(|r| ix.route_service[r]) {
                    Some(s) => (ok(200, &cx.service_json(s)), None),
                    None => (not_found(), None),
                }
            }
            ("GET" | "POST", ["routes", key, "plugins"]) => match ix.find_route(key) {
                Some(r) if method == "GET" => (cx.list_plugins(Some(Parent::Route(r))), None),
                Some(r) => cx.create_plugin(Some(Parent::Route(r))),
                None => (not_found(), None),
            },
            (_, ["routes", key, "plugins", plugin]) => match ix.find_route(key) {
                Some(r) => cx.one_plugin(method, Some(Parent::Route(r)), plugin),
                None => (not_found(), None),
            },
            (_, ["services" | "routes", ..]) if segs.len() <= 3 => (
                message(
                    405,
                    "Method not allowed: llmux's Admin API changes plugins only; \
                     replace the whole config with POST /config to change services or routes",
                ),
                None,
            ),
            _ => (not_found(), None),
        }
    }
}

/// One call's inputs.
pub(super) struct Call<'a> {
    pub(super) store: &'a EntityStore,
    pub(super) ix: &'a Index,
    pub(super) body: &'a [u8],
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) now: u64,
}

impl Call<'_> {
    pub(super) fn doc(&self) -> &Value {
        &self.store.doc
    }
}

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
