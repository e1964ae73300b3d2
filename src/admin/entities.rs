//! Kong Admin API entity endpoints (`/plugins`, `/services`, `/routes`) over the running decK
//! document.
//!
//! [`EntityStore`] is a pure, synchronous in-memory model of the gateway's declarative state: the
//! decK document as a YAML tree. The admin thread calls [`EntityStore::handle`] for one Admin API
//! call; a call that changes state returns the new store, already checked with
//! [`crate::config::load_str`], and the caller hands its [`EntityStore::to_yaml`] to the gateway
//! and keeps the new store only if the gateway accepts it.
//!
//! Plugins are created at the top level of the document (`plugins:` with a `service:`/`route:`
//! reference by name, or id when the entity has no name), as decK writes them. Plugins nested in a
//! service or route stay where they are: they are listed, patched and deleted in place.
//!
//! Every service, route and plugin has an `id`: those the file leaves out get a UUID-shaped id
//! derived from a hash of the entity kind, its YAML path and its name, written into the document,
//! so that the same file gives the same ids on every start.
//!
//! Responses have Kong 3.x's shapes: entities with Kong's defaults for unset fields,
//! `{"data":[...],"next":null}` lists, `{"message":"Not found"}` and Kong's error objects
//! (`{"message","name","fields","code"}`). Plugin `config` is returned as stored, `${{ env }}`
//! templates included (as Kong returns it: this is the localhost admin API); error messages never
//! contain configured values.

use crate::body::push_quoted;
use crate::config::ConfigErrors;
use serde_yaml_ng::{Mapping, Value};
use std::collections::HashSet;

#[path = "state_file.rs"]
mod state_file;
pub use state_file::write_state_atomically;

#[cfg(test)]
#[path = "entities_tests.rs"]
mod tests;

/// One Admin API answer: the HTTP status and a JSON body (empty for 204).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub body: String,
}

/// The running declarative config as a decK document, every entity with an `id`.
#[derive(Clone)]
pub struct EntityStore {
    doc: Value,
}

/// Never the document itself: it holds credentials.
impl std::fmt::Debug for EntityStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ix = Index::build(&self.doc);
        f.debug_struct("EntityStore")
            .field("services", &ix.services.len())
            .field("routes", &ix.routes.len())
            .field("plugins", &ix.plugins.len())
            .finish()
    }
}

/// Whether `path` (query string allowed) is one of the endpoints [`EntityStore::handle`] serves:
/// `/plugins...`, `/services...`, `/routes...`.
pub fn handles_path(path: &str) -> bool {
    matches!(
        split_path(path).first().map(String::as_str),
        Some("plugins" | "services" | "routes")
    )
}

/// Kong's default plugin `protocols`.
const PLUGIN_PROTOCOLS: [&str; 4] = ["grpc", "grpcs", "http", "https"];

/// Kong error codes (`kong/db/errors.lua`).
const SCHEMA_VIOLATION: u16 = 2;
const PRIMARY_KEY_VIOLATION: u16 = 3;
const FOREIGN_KEY_VIOLATION: u16 = 4;
const UNIQUE_VIOLATION: u16 = 5;
const FOREIGN_KEYS_UNRESOLVED: u16 = 13;

type Reply = (ApiResponse, Option<EntityStore>);

impl EntityStore {
    /// From the running config's text (YAML or JSON decK). YAML merge keys are applied;
    /// `${{ env }}` templates are kept as written. Services, routes and plugins without an `id`
    /// get a generated one, stable for the same text.
    pub fn from_text(text: &str) -> Result<EntityStore, String> {
        let mut doc: Value =
            serde_yaml_ng::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
        doc.apply_merge()
            .map_err(|e| format!("invalid YAML merge key: {e}"))?;
        if as_map(&doc).is_none() {
            return Err("expected a mapping at the top of the config".to_string());
        }
        assign_ids(&mut doc);
        Ok(EntityStore { doc })
    }

    /// The whole decK document, for `--state` files and for `load_str`.
    pub fn to_yaml(&self) -> String {
        // Serializing a tree that was parsed from YAML or JSON cannot fail.
        serde_yaml_ng::to_string(&self.doc).unwrap_or_default()
    }

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

/// The entity a nested endpoint is under (`/services/{x}/plugins`, `/routes/{x}/plugins`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Parent {
    Service(usize),
    Route(usize),
}

/// One call's inputs.
struct Call<'a> {
    store: &'a EntityStore,
    ix: &'a Index,
    body: &'a [u8],
    env: &'a dyn Fn(&str) -> Option<String>,
    now: u64,
}

impl Call<'_> {
    fn doc(&self) -> &Value {
        &self.store.doc
    }

    fn list_plugins(&self, parent: Option<Parent>) -> ApiResponse {
        let ix = self.ix;
        let plugins = (0..ix.plugins.len()).filter(|&p| parent.is_none_or(|o| ix.in_scope(p, o)));
        list(plugins.map(|p| plugin_json(self.doc(), ix, p)))
    }

    /// `GET`, `PATCH`, `DELETE` of `/plugins/{id}`, or of `/{services|routes}/{x}/plugins/{id}`
    /// (404 unless the plugin applies to that entity).
    fn one_plugin(&self, method: &str, parent: Option<Parent>, key: &str) -> Reply {
        let found = self
            .ix
            .find_plugin(key)
            .filter(|&p| parent.is_none_or(|o| self.ix.in_scope(p, o)));
        match (method, found) {
            ("GET", Some(p)) => (ok(200, &plugin_json(self.doc(), self.ix, p)), None),
            ("PATCH", Some(p)) => self.patch_plugin(p),
            ("DELETE", Some(p)) => self.delete_plugin(p),
            // Kong: deleting what does not exist succeeds (but not under a parent it is not in).
            ("DELETE", None) if parent.is_none() => (no_content(), None),
            ("GET" | "PATCH" | "DELETE", None) => (not_found(), None),
            _ => (message(405, "Method not allowed"), None),
        }
    }

    fn create_plugin(&self, parent: Option<Parent>) -> Reply {
        let mut body = match parse_body(self.body) {
            Ok(b) => b,
            Err(resp) => return (resp, None),
        };
        // Kong clients send `null` for unset fields.
        body.retain(|_, v| !v.is_null());
        let name = match body.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return (violation("name", "expected a string"), None),
            None => return (violation("name", "required field missing"), None),
        };
        let id = match body.shift_remove("id") {
            None => None,
            Some(Value::String(s)) if is_uuid(&s) => {
                if self.ix.plugins.iter().any(|e| e.id.as_deref() == Some(&s)) {
                    let msg = format!("primary key violation on key '{{id=\"{s}\"}}'");
                    let fields = map([("id", Value::String(s))]);
                    let resp = kong_error(400, PRIMARY_KEY_VIOLATION, &msg, Some(fields));
                    return (resp, None);
                }
                Some(s)
            }
            Some(_) => return (violation("id", "expected a valid UUID"), None),
        };
        // The URL's entity wins over the body's (Kong's nested POST).
        let mut refs = Vec::new();
        for kind in [RefKind::Service, RefKind::Route] {
            let forced = match (parent, kind) {
                (Some(Parent::Service(s)), RefKind::Service) => Some(s),
                (Some(Parent::Route(r)), RefKind::Route) => Some(r),
                _ => None,
            };
            let target = match (forced, body.shift_remove(kind.field())) {
                (Some(i), _) => Some(i),
                (None, None) => None,
                (None, Some(v)) => match self.resolve_body_ref(kind, &v) {
                    Ok(i) => Some(i),
                    Err(resp) => return (resp, None),
                },
            };
            if let Some(i) = target {
                refs.push((kind.field(), self.ix.ref_value(kind, i)));
            }
        }
        let plugins_len = seq(get(self.doc(), "plugins")).len();
        let id = id.unwrap_or_else(|| {
            // Never the body: the id must not depend on credentials.
            let seed = format!("plugin\nplugins[{plugins_len}]\n{name}\n{}", self.now);
            unique_id(&seed, |c| {
                self.ix.plugins.iter().any(|e| e.id.as_deref() == Some(c))
            })
        });
        let mut plugin = Mapping::new();
        plugin.insert("id".into(), Value::String(id.clone()));
        plugin.insert("name".into(), Value::String(name));
        for (k, v) in refs {
            plugin.insert(k.into(), v);
        }
        for (k, v) in body {
            if k.as_str() != Some("name") {
                plugin.insert(k, v);
            }
        }
        for key in ["created_at", "updated_at"] {
            if !plugin.contains_key(key) {
                plugin.insert(key.into(), Value::Number(self.now.into()));
            }
        }
        let mut doc = self.doc().clone();
        let Some(root) = as_map_mut(&mut doc) else {
            return (message(500, "the running config is not a mapping"), None);
        };
        let plugins = root
            .entry("plugins".into())
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if plugins.is_null() {
            *plugins = Value::Sequence(Vec::new());
        }
        let Value::Sequence(list) = plugins else {
            return (
                message(500, "the running config's `plugins` is not a list"),
                None,
            );
        };
        let path = format!("plugins[{}]", list.len());
        list.push(Value::Mapping(plugin));
        self.finish(doc, &id, &path, 201)
    }

    fn patch_plugin(&self, p: usize) -> Reply {
        let body = match parse_body(self.body) {
            Ok(b) => b,
            Err(resp) => return (resp, None),
        };
        let entry = &self.ix.plugins[p];
        let id = entry.id.clone().unwrap_or_default();
        let mut doc = self.doc().clone();
        let Some(Value::Mapping(plugin)) = at_mut(&mut doc, &entry.loc) else {
            return (
                message(500, "the plugin is not a mapping in the running config"),
                None,
            );
        };
        for (k, v) in body {
            let Some(key) = k.as_str().map(str::to_string) else {
                continue;
            };
            match key.as_str() {
                "id" => {
                    if v.as_str() != Some(id.as_str()) {
                        return (violation("id", "cannot be changed"), None);
                    }
                }
                "service" | "route" => {
                    let kind = if key == "service" {
                        RefKind::Service
                    } else {
                        RefKind::Route
                    };
                    let nested = match kind {
                        RefKind::Service => entry.parent_service,
                        RefKind::Route => entry.parent_route,
                    };
                    let target = if v.is_null() {
                        None
                    } else {
                        match self.resolve_body_ref(kind, &v) {
                            Ok(i) => Some(i),
                            Err(resp) => return (resp, None),
                        }
                    };
                    match (nested, target) {
                        (Some(n), Some(t)) if n == t => {}
                        (Some(_), _) => {
                            let msg = format!(
                                "this plugin is nested in {} in the config file: its {key} \
                                 cannot be changed through the Admin API",
                                parent_path(&entry.path)
                            );
                            return (violation(&key, &msg), None);
                        }
                        (None, Some(t)) => {
                            plugin.insert(k, self.ix.ref_value(kind, t));
                        }
                        (None, None) => {
                            plugin.shift_remove(key.as_str());
                        }
                    }
                }
                _ => merge_field(plugin, k, v),
            }
        }
        plugin.insert("updated_at".into(), Value::Number(self.now.into()));
        self.finish(doc, &id, &entry.path, 200)
    }

    fn delete_plugin(&self, p: usize) -> Reply {
        let entry = &self.ix.plugins[p];
        let mut doc = self.doc().clone();
        let Some((Step::Idx(i), list_loc)) = entry.loc.split_last() else {
            return (message(500, "unexpected plugin location"), None);
        };
        let Some(Value::Sequence(list)) = at_mut(&mut doc, list_loc) else {
            return (message(500, "unexpected plugin location"), None);
        };
        list.remove(*i);
        match self.store.checked(doc, None, self.env) {
            Ok(store) => (no_content(), Some(store)),
            Err(resp) => (resp, None),
        }
    }

    /// Checks the changed document, then answers with the plugin `id` as it now is.
    fn finish(&self, doc: Value, id: &str, path: &str, status: u16) -> Reply {
        // Kong's plugin uniqueness: one plugin of a name per (route, service), one instance_name.
        let ix = Index::build(&doc);
        let Some(p) = ix.plugins.iter().position(|e| e.id.as_deref() == Some(id)) else {
            return (message(500, "the changed plugin went missing"), None);
        };
        if let Some(resp) = unique_violation(&ix, p) {
            return (resp, None);
        }
        match self.store.checked(doc, Some(path), self.env) {
            Ok(store) => {
                let ix = Index::build(&store.doc);
                let json = plugin_json(&store.doc, &ix, p);
                (ok(status, &json), Some(store))
            }
            Err(resp) => (resp, None),
        }
    }

    /// A `service`/`route` foreign key from a request body: `{"id": ..}`, `{"name": ..}`, or (as
    /// in decK) a plain name or id.
    fn resolve_body_ref(&self, kind: RefKind, v: &Value) -> Result<usize, ApiResponse> {
        let field = kind.field();
        let table = kind.table();
        let find = |key: &str| match kind {
            RefKind::Service => self.ix.find_service(key),
            RefKind::Route => self.ix.find_route(key),
        };
        match v {
            Value::String(key) => find(key).ok_or_else(|| fk_violation(field, table, "id", key)),
            Value::Mapping(m) => {
                if let Some(id) = m.get("id").filter(|v| !v.is_null()) {
                    let Some(id) = id.as_str() else {
                        return Err(violation(&format!("{field}.id"), "expected a string"));
                    };
                    let found = self.ix.find_by(kind, id, true);
                    return found.ok_or_else(|| fk_violation(field, table, "id", id));
                }
                match m.get("name").filter(|v| !v.is_null()) {
                    Some(Value::String(name)) => {
                        let found = self.ix.find_by(kind, name, false);
                        found.ok_or_else(|| {
                            let why = format!(
                                "the foreign key cannot be resolved with '{{name=\"{name}\"}}' \
                                 for an existing '{table}' entity"
                            );
                            let msg = format!("foreign key unresolved ({field}.name: {why})");
                            let fields = map([(field, map([("name", Value::String(why))]))]);
                            kong_error(400, FOREIGN_KEYS_UNRESOLVED, &msg, Some(fields))
                        })
                    }
                    Some(_) => Err(violation(&format!("{field}.name"), "expected a string")),
                    None => Err(violation(field, "expected `id` or `name`")),
                }
            }
            _ => Err(violation(field, "expected a record")),
        }
    }

    fn service_json(&self, s: usize) -> Value {
        service_json(self.doc(), self.ix, s)
    }

    fn route_json(&self, r: usize) -> Value {
        route_json(self.doc(), self.ix, r)
    }
}

impl EntityStore {
    /// The store for `doc` if the gateway's loader accepts it; else Kong's schema violation,
    /// with the errors under `target` (the changed plugin's YAML path) as its `fields`.
    fn checked(
        &self,
        doc: Value,
        target: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<EntityStore, ApiResponse> {
        let store = EntityStore { doc };
        match crate::config::load_str(&store.to_yaml(), "admin API", env) {
            Ok(_) => Ok(store),
            Err(errors) => Err(config_violation(&errors, target)),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RefKind {
    Service,
    Route,
}

impl RefKind {
    fn field(self) -> &'static str {
        match self {
            RefKind::Service => "service",
            RefKind::Route => "route",
        }
    }

    fn table(self) -> &'static str {
        match self {
            RefKind::Service => "services",
            RefKind::Route => "routes",
        }
    }
}

/// `services[0]` for `services[0].plugins[1]`.
fn parent_path(path: &str) -> &str {
    path.rfind('.').map_or(path, |i| &path[..i])
}

/// PATCH of one top-level field: mappings merge recursively, anything else replaces, `null`
/// removes (the key then takes Kong's default).
fn merge_field(target: &mut Mapping, k: Value, v: Value) {
    if v.is_null() {
        target.shift_remove(&k);
        return;
    }
    match (target.get_mut(&k), v) {
        (Some(Value::Mapping(old)), Value::Mapping(new)) => {
            for (k, v) in new {
                merge_field(old, k, v);
            }
        }
        (Some(slot), v) => *slot = v,
        (None, v) => {
            target.insert(k, v);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The entity index: where every service, route and plugin is, and what it refers to.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(&'static str),
    Idx(usize),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Service,
    Route,
    Plugin,
}

struct Entry {
    /// Position in its kind's list.
    n: usize,
    loc: Vec<Step>,
    /// The YAML path, as the config loader names it (`services[0].routes[1]`).
    path: String,
    id: Option<String>,
    /// `name` (a plugin's is its plugin name).
    name: Option<String>,
    instance_name: Option<String>,
    /// The service/route this entity is nested in.
    parent_service: Option<usize>,
    parent_route: Option<usize>,
    /// Its own `service:`/`route:` reference (name or id), if any.
    service_ref: Option<String>,
    route_ref: Option<String>,
}

#[derive(Default)]
struct Index {
    services: Vec<Entry>,
    routes: Vec<Entry>,
    plugins: Vec<Entry>,
    /// The service each route belongs to.
    route_service: Vec<Option<usize>>,
    /// (route, service) each plugin applies to.
    plugin_scope: Vec<(Option<usize>, Option<usize>)>,
}

impl Index {
    /// Walks the document in the loader's order.
    fn build(doc: &Value) -> Index {
        let mut ix = Index::default();
        let Some(root) = as_map(doc) else {
            return ix;
        };
        for (k, v) in root {
            match k.as_str() {
                Some("services") => {
                    for (i, s) in seq(Some(v)).iter().enumerate() {
                        let loc = vec![Step::Key("services"), Step::Idx(i)];
                        let path = format!("services[{i}]");
                        let Some(si) =
                            ix.push(Kind::Service, s, loc.clone(), path.clone(), None, None)
                        else {
                            continue;
                        };
                        for (j, r) in seq(get(s, "routes")).iter().enumerate() {
                            let loc = [&loc[..], &[Step::Key("routes"), Step::Idx(j)]].concat();
                            let path = format!("{path}.routes[{j}]");
                            ix.push_route(r, loc, path, Some(si));
                        }
                        for (j, p) in seq(get(s, "plugins")).iter().enumerate() {
                            let loc = [&loc[..], &[Step::Key("plugins"), Step::Idx(j)]].concat();
                            let path = format!("{path}.plugins[{j}]");
                            ix.push(Kind::Plugin, p, loc, path, Some(si), None);
                        }
                    }
                }
                Some("routes") => {
                    for (i, r) in seq(Some(v)).iter().enumerate() {
                        let loc = vec![Step::Key("routes"), Step::Idx(i)];
                        ix.push_route(r, loc, format!("routes[{i}]"), None);
                    }
                }
                Some("plugins") => {
                    for (i, p) in seq(Some(v)).iter().enumerate() {
                        let loc = vec![Step::Key("plugins"), Step::Idx(i)];
                        ix.push(Kind::Plugin, p, loc, format!("plugins[{i}]"), None, None);
                    }
                }
                _ => {}
            }
        }
        ix.route_service = (0..ix.routes.len())
            .map(|r| {
                let e = &ix.routes[r];
                e.parent_service
                    .or_else(|| e.service_ref.as_deref().and_then(|k| ix.find_service(k)))
            })
            .collect();
        ix.plugin_scope = (0..ix.plugins.len())
            .map(|p| {
                let e = &ix.plugins[p];
                let route = e
                    .parent_route
                    .or_else(|| e.route_ref.as_deref().and_then(|k| ix.find_route(k)));
                let service = e
                    .parent_service
                    .or_else(|| e.service_ref.as_deref().and_then(|k| ix.find_service(k)));
                (route, service)
            })
            .collect();
        ix
    }

    fn push_route(&mut self, r: &Value, loc: Vec<Step>, path: String, service: Option<usize>) {
        let Some(ri) = self.push(Kind::Route, r, loc.clone(), path.clone(), service, None) else {
            return;
        };
        for (j, p) in seq(get(r, "plugins")).iter().enumerate() {
            let loc = [&loc[..], &[Step::Key("plugins"), Step::Idx(j)]].concat();
            let path = format!("{path}.plugins[{j}]");
            self.push(Kind::Plugin, p, loc, path, None, Some(ri));
        }
    }

    fn push(
        &mut self,
        kind: Kind,
        v: &Value,
        loc: Vec<Step>,
        path: String,
        parent_service: Option<usize>,
        parent_route: Option<usize>,
    ) -> Option<usize> {
        as_map(v)?;
        let text = |key| get(v, key).and_then(Value::as_str).map(str::to_string);
        let list = match kind {
            Kind::Service => &mut self.services,
            Kind::Route => &mut self.routes,
            Kind::Plugin => &mut self.plugins,
        };
        let n = list.len();
        list.push(Entry {
            n,
            loc,
            path,
            id: text("id"),
            name: text("name"),
            instance_name: text("instance_name"),
            parent_service,
            parent_route,
            service_ref: get(v, "service").and_then(ref_key).map(str::to_string),
            route_ref: get(v, "route").and_then(ref_key).map(str::to_string),
        });
        Some(n)
    }

    fn all(&self) -> impl Iterator<Item = (Kind, &Entry)> {
        let tag = |k: Kind| move |e| (k, e);
        (self.services.iter().map(tag(Kind::Service)))
            .chain(self.routes.iter().map(tag(Kind::Route)))
            .chain(self.plugins.iter().map(tag(Kind::Plugin)))
    }

    /// By id, else (Kong's endpoint key) by name.
    fn find_service(&self, key: &str) -> Option<usize> {
        self.find_by(RefKind::Service, key, true)
            .or_else(|| self.find_by(RefKind::Service, key, false))
    }

    fn find_route(&self, key: &str) -> Option<usize> {
        self.find_by(RefKind::Route, key, true)
            .or_else(|| self.find_by(RefKind::Route, key, false))
    }

    fn find_by(&self, kind: RefKind, key: &str, by_id: bool) -> Option<usize> {
        let list = match kind {
            RefKind::Service => &self.services,
            RefKind::Route => &self.routes,
        };
        list.iter().position(|e| {
            let field = if by_id { &e.id } else { &e.name };
            field.as_deref() == Some(key)
        })
    }

    /// By id, else (Kong's endpoint key for plugins) by `instance_name`.
    fn find_plugin(&self, key: &str) -> Option<usize> {
        (self
            .plugins
            .iter()
            .position(|e| e.id.as_deref() == Some(key)))
        .or_else(|| {
            self.plugins
                .iter()
                .position(|e| e.instance_name.as_deref() == Some(key))
        })
    }

    /// Whether plugin `p` is one of `parent`'s (`GET /services/{x}/plugins` lists the plugins
    /// whose `service` is x, as Kong's foreign key does).
    fn in_scope(&self, p: usize, parent: Parent) -> bool {
        let (route, service) = self.plugin_scope[p];
        match parent {
            Parent::Service(s) => service == Some(s),
            Parent::Route(r) => route == Some(r),
        }
    }

    /// How a new top-level plugin refers to entity `i`: its name, else its id.
    fn ref_value(&self, kind: RefKind, i: usize) -> Value {
        let e = match kind {
            RefKind::Service => &self.services[i],
            RefKind::Route => &self.routes[i],
        };
        Value::String(e.name.clone().or_else(|| e.id.clone()).unwrap_or_default())
    }

    fn id_ref(&self, kind: RefKind, i: Option<usize>) -> Value {
        let list = match kind {
            RefKind::Service => &self.services,
            RefKind::Route => &self.routes,
        };
        match i.and_then(|i| list[i].id.clone()) {
            Some(id) => map([("id", Value::String(id))]),
            None => Value::Null,
        }
    }
}

/// Kong's 409 for a second plugin of the same name on the same (route, service), or a taken
/// `instance_name`.
fn unique_violation(ix: &Index, p: usize) -> Option<ApiResponse> {
    let me = &ix.plugins[p];
    let scope = ix.plugin_scope[p];
    let clash = ix
        .plugins
        .iter()
        .enumerate()
        .any(|(q, e)| q != p && e.name == me.name && ix.plugin_scope[q] == scope);
    if clash {
        let show = |kind, i| match ix.id_ref(kind, i) {
            Value::Mapping(m) => format!(
                "{{id=\"{}\"}}",
                m.get("id").and_then(Value::as_str).unwrap_or_default()
            ),
            _ => "null".to_string(),
        };
        let name = me.name.clone().unwrap_or_default();
        let msg = format!(
            "UNIQUE violation detected on '{{consumer=null,name=\"{name}\",route={},service={}}}'",
            show(RefKind::Route, scope.0),
            show(RefKind::Service, scope.1)
        );
        let fields = map([
            ("consumer", Value::Null),
            ("name", Value::String(name)),
            ("route", ix.id_ref(RefKind::Route, scope.0)),
            ("service", ix.id_ref(RefKind::Service, scope.1)),
        ]);
        return Some(kong_error(409, UNIQUE_VIOLATION, &msg, Some(fields)));
    }
    let instance = me.instance_name.as_deref()?;
    let taken = (ix.plugins.iter().enumerate())
        .any(|(q, e)| q != p && e.instance_name.as_deref() == Some(instance));
    taken.then(|| {
        let msg = format!("UNIQUE violation detected on '{{instance_name=\"{instance}\"}}'");
        let fields = map([("instance_name", Value::String(instance.to_string()))]);
        kong_error(409, UNIQUE_VIOLATION, &msg, Some(fields))
    })
}

// ---------------------------------------------------------------------------------------------
// Generated ids.

/// Gives every service, route and plugin without an `id` a stable one (first key of the entity).
fn assign_ids(doc: &mut Value) {
    let ix = Index::build(doc);
    let mut taken: HashSet<(Kind, String)> = ix
        .all()
        .filter_map(|(k, e)| e.id.clone().map(|id| (k, id)))
        .collect();
    let mut missing = Vec::new();
    for (kind, e) in ix.all() {
        let has_id = at(doc, &e.loc).and_then(|v| get(v, "id")).is_some();
        if !has_id {
            let seed = format!(
                "{kind:?}\n{}\n{}",
                e.path,
                e.name.as_deref().unwrap_or_default()
            );
            let id = unique_id(&seed, |c| taken.contains(&(kind, c.to_string())));
            taken.insert((kind, id.clone()));
            missing.push((e.loc.clone(), id));
        }
    }
    for (loc, id) in missing {
        if let Some(Value::Mapping(m)) = at_mut(doc, &loc) {
            let mut with_id = Mapping::with_capacity(m.len() + 1);
            with_id.insert("id".into(), Value::String(id));
            with_id.extend(std::mem::take(m));
            *m = with_id;
        }
    }
}

/// A UUID-v4-shaped id from `seed`, skipping those `taken` says are in use.
fn unique_id(seed: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut n = 0u32;
    loop {
        let text = if n == 0 {
            seed.to_string()
        } else {
            format!("{seed}\n{n}")
        };
        let id = uuid_from(fnv1a_128(text.as_bytes()));
        if !taken(&id) {
            return id;
        }
        n += 1;
    }
}

/// FNV-1a, 128 bits: stable across Rust versions and platforms (unlike `DefaultHasher`).
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

fn uuid_from(h: u128) -> String {
    // Version 4, RFC 4122 variant.
    let h = (h & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{h:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

// ---------------------------------------------------------------------------------------------
// Entities as Kong's Admin API shows them.

fn plugin_json(doc: &Value, ix: &Index, p: usize) -> Value {
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

fn service_json(doc: &Value, ix: &Index, s: usize) -> Value {
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

fn route_json(doc: &Value, ix: &Index, r: usize) -> Value {
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
    if let Some(m) = as_map(stored) {
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

// ---------------------------------------------------------------------------------------------
// Responses.

fn list(items: impl Iterator<Item = Value>) -> ApiResponse {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"data\":[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json(&item, &mut out);
    }
    out.extend_from_slice(b"],\"next\":null}");
    respond(200, out)
}

fn ok(status: u16, v: &Value) -> ApiResponse {
    let mut out = Vec::new();
    push_json(v, &mut out);
    respond(status, out)
}

fn no_content() -> ApiResponse {
    ApiResponse {
        status: 204,
        body: String::new(),
    }
}

fn not_found() -> ApiResponse {
    message(404, "Not found")
}

fn message(status: u16, text: &str) -> ApiResponse {
    ok(status, &map([("message", Value::String(text.to_string()))]))
}

fn respond(status: u16, body: Vec<u8>) -> ApiResponse {
    ApiResponse {
        status,
        body: String::from_utf8(body).unwrap_or_default(),
    }
}

/// Kong's error object.
fn kong_error(status: u16, code: u16, msg: &str, fields: Option<Value>) -> ApiResponse {
    let name = match code {
        SCHEMA_VIOLATION => "schema violation",
        PRIMARY_KEY_VIOLATION => "primary key violation",
        FOREIGN_KEY_VIOLATION => "foreign key violation",
        UNIQUE_VIOLATION => "unique constraint violation",
        FOREIGN_KEYS_UNRESOLVED => "foreign keys unresolved",
        _ => "error",
    };
    let mut m = Mapping::new();
    m.insert("message".into(), Value::String(msg.to_string()));
    m.insert("name".into(), name.into());
    if let Some(f) = fields {
        m.insert("fields".into(), f);
    }
    m.insert("code".into(), Value::Number(code.into()));
    ok(status, &Value::Mapping(m))
}

/// A one-field schema violation (`field` may be dotted: `service.id`).
fn violation(field: &str, why: &str) -> ApiResponse {
    let mut fields = Value::Null;
    let segs: Vec<Seg> = field.split('.').map(|s| Seg::Key(s.to_string())).collect();
    put_field(&mut fields, &segs, why);
    let msg = format!("schema violation ({field}: {why})");
    kong_error(400, SCHEMA_VIOLATION, &msg, Some(fields))
}

fn fk_violation(field: &str, table: &str, key: &str, value: &str) -> ApiResponse {
    let msg = format!(
        "the foreign key '{{{key}=\"{value}\"}}' does not reference an existing '{table}' entity."
    );
    let fields = map([(field, map([(key, Value::String(value.to_string()))]))]);
    kong_error(400, FOREIGN_KEY_VIOLATION, &msg, Some(fields))
}

/// The loader's errors as Kong's schema violation: every `path: message` in `message`; in
/// `fields`, those under `target` (the changed plugin) nested by their path relative to it, the
/// rest under `@entity`.
fn config_violation(errors: &ConfigErrors, target: Option<&str>) -> ApiResponse {
    let mut fields = Value::Mapping(Mapping::new());
    let mut entity = Vec::new();
    let mut lines = Vec::new();
    for e in &errors.0 {
        let line = if e.path.is_empty() {
            e.message.clone()
        } else {
            format!("{}: {}", e.path, e.message)
        };
        let relative = target.and_then(|t| {
            e.path
                .strip_prefix(t)
                .and_then(|rest| rest.strip_prefix('.'))
                .filter(|rest| !rest.is_empty())
        });
        let placed =
            relative.is_some_and(|rel| put_field(&mut fields, &parse_path(rel), &e.message));
        if !placed {
            if target.is_some_and(|t| e.path == t) {
                entity.push(Value::String(e.message.clone()));
            } else {
                entity.push(Value::String(line.clone()));
            }
        }
        lines.push(line);
    }
    if !entity.is_empty() {
        if let Value::Mapping(m) = &mut fields {
            m.insert("@entity".into(), Value::Sequence(entity));
        }
    }
    let msg = match lines.len() {
        1 => format!("schema violation ({})", lines[0]),
        n => format!("{n} schema violations ({})", lines.join("; ")),
    };
    kong_error(400, SCHEMA_VIOLATION, &msg, Some(fields))
}

enum Seg {
    Key(String),
    Idx(usize),
}

/// `config.targets[0].model.nmae` as segments.
fn parse_path(path: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        segs.push(Seg::Key(key.to_string()));
        while let Some(end) = rest.find(']') {
            match rest[1..end].parse() {
                Ok(i) => segs.push(Seg::Idx(i)),
                Err(_) => segs.push(Seg::Key(rest[1..end].to_string())),
            }
            rest = &rest[end + 1..];
        }
    }
    segs
}

/// Puts `msg` at `segs` in a Kong `fields` tree (lists for indices, as Kong's cjson writes
/// them); `false` when the tree has something else there.
fn put_field(node: &mut Value, segs: &[Seg], msg: &str) -> bool {
    match segs.split_first() {
        None => match node {
            Value::Null => {
                *node = Value::String(msg.to_string());
                true
            }
            Value::String(s) => {
                s.push_str("; ");
                s.push_str(msg);
                true
            }
            _ => false,
        },
        Some((Seg::Key(k), rest)) => {
            if node.is_null() {
                *node = Value::Mapping(Mapping::new());
            }
            let Value::Mapping(m) = node else {
                return false;
            };
            let child = m.entry(Value::String(k.clone())).or_insert(Value::Null);
            put_field(child, rest, msg)
        }
        Some((Seg::Idx(i), rest)) => {
            if node.is_null() {
                *node = Value::Sequence(Vec::new());
            }
            match node {
                Value::Sequence(s) if *i < 1024 => {
                    if s.len() <= *i {
                        s.resize(i + 1, Value::Null);
                    }
                    put_field(&mut s[*i], rest, msg)
                }
                _ => false,
            }
        }
    }
}

fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(k.into(), v);
    }
    Value::Mapping(m)
}

/// JSON text of a YAML tree (non-string keys as text; NaN and infinities as null).
fn push_json(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            let text = if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() => format!("{f:?}"),
                    _ => "null".to_string(),
                }
            };
            out.extend_from_slice(text.as_bytes());
        }
        Value::String(s) => push_quoted(s, out),
        Value::Sequence(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json(item, out);
            }
            out.push(b']');
        }
        Value::Mapping(m) => {
            out.push(b'{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let key = match k {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    Value::Null => "null".to_string(),
                    other => serde_yaml_ng::to_string(other)
                        .unwrap_or_default()
                        .trim_end()
                        .to_string(),
                };
                push_quoted(&key, out);
                out.push(b':');
                push_json(v, out);
            }
            out.push(b'}');
        }
        Value::Tagged(t) => push_json(&t.value, out),
    }
}

// ---------------------------------------------------------------------------------------------
// Requests.

/// A JSON object body (empty means `{}`) as a YAML mapping, keys in order. Errors say where,
/// never what (the body may hold credentials).
fn parse_body(body: &[u8]) -> Result<Mapping, ApiResponse> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Mapping::new());
    }
    let mut copy = body.to_vec();
    let parsed: Result<Value, _> = simd_json::serde::from_slice(&mut copy);
    match parsed {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(_) => Err(message(400, "the request body must be a JSON object")),
        Err(e) => {
            let why = match e.error() {
                simd_json::ErrorType::Serde(s) => s.clone(),
                other => format!("{other:?} at byte {}", e.index()),
            };
            Err(message(
                400,
                &format!(
                    "Cannot parse JSON body: {why} (llmux's Admin API takes JSON bodies only: \
                     send Content-Type: application/json)"
                ),
            ))
        }
    }
}

/// The path's segments, percent-decoded; the query string, empty segments and trailing
/// slashes are ignored.
fn split_path(path: &str) -> Vec<String> {
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

// ---------------------------------------------------------------------------------------------
// YAML tree helpers.

fn as_map(v: &Value) -> Option<&Mapping> {
    match v {
        Value::Mapping(m) => Some(m),
        Value::Tagged(t) => as_map(&t.value),
        _ => None,
    }
}

fn as_map_mut(v: &mut Value) -> Option<&mut Mapping> {
    match v {
        Value::Mapping(m) => Some(m),
        Value::Tagged(t) => as_map_mut(&mut t.value),
        _ => None,
    }
}

/// Field `key`, `None` when missing or null (null counts as absent, as in the loader).
fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    as_map(v).and_then(|m| m.get(key)).filter(|x| !x.is_null())
}

fn seq(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Sequence(s)) => s,
        _ => &[],
    }
}

/// The loader's reading of a reference: a plain string, or a mapping's `name`, else `id`.
fn ref_key(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Mapping(_) => get(v, "name")
            .and_then(Value::as_str)
            .or_else(|| get(v, "id").and_then(Value::as_str))
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

fn at<'a>(v: &'a Value, loc: &[Step]) -> Option<&'a Value> {
    loc.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => as_map(v)?.get(*k),
        Step::Idx(i) => match v {
            Value::Sequence(s) => s.get(*i),
            _ => None,
        },
    })
}

fn at_mut<'a>(v: &'a mut Value, loc: &[Step]) -> Option<&'a mut Value> {
    loc.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => as_map_mut(v)?.get_mut(*k),
        Step::Idx(i) => match v {
            Value::Sequence(s) => s.get_mut(*i),
            _ => None,
        },
    })
}
