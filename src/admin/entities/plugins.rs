//! Plugin changes: the only entities llmux's Admin API creates, patches and deletes.
//!
//! Each change edits a copy of the decK document, then runs the checks Kong makes before it
//! accepts a plugin (foreign keys, uniqueness, the schema: here the gateway's own config loader),
//! so a rejected call leaves the running store untouched.

use super::errors::{
    config_violation, fk_violation, kong_error, violation, FOREIGN_KEYS_UNRESOLVED,
    PRIMARY_KEY_VIOLATION, UNIQUE_VIOLATION,
};
use super::ids::{is_uuid, random_id};
use super::index::Index;
use super::json::parse_body;
use super::model::{at_mut, map, yaml_text, ApiResponse, Call, Parent, RefKind, Reply, Step};
use super::response::{message, no_content, not_found, ok};
use super::views;
use crate::config::{as_mapping_mut, load_str};
use serde_yaml_ng::{Mapping, Value};

/// `GET` of the plugins list, or of the plugins of `parent`.
pub(super) fn list(cx: &Call, ix: &Index, parent: Option<Parent>) -> Vec<Value> {
    let plugins = (0..ix.plugins.len()).filter(|&p| parent.is_none_or(|o| ix.in_scope(p, o)));
    plugins.map(|p| views::plugin(cx.doc, ix, p)).collect()
}

/// `GET`, `PATCH`, `DELETE` of `/plugins/{id}`, or of `/{services|routes}/{x}/plugins/{id}`
/// (404 unless the plugin applies to that entity).
pub(super) fn one(cx: &Call, ix: &Index, method: &str, parent: Option<Parent>, key: &str) -> Reply {
    let found = ix
        .find_plugin(key)
        .filter(|&p| parent.is_none_or(|o| ix.in_scope(p, o)));
    match (method, found) {
        ("GET", Some(p)) => (ok(200, &views::plugin(cx.doc, ix, p)), None),
        ("PATCH", Some(p)) => patch(cx, ix, p),
        ("DELETE", Some(p)) => delete(cx, ix, p),
        // Kong: deleting what does not exist succeeds (but not under a parent it is not in).
        ("DELETE", None) if parent.is_none() => (no_content(), None),
        ("GET" | "PATCH" | "DELETE", None) => (not_found(), None),
        _ => (message(405, "Method not allowed"), None),
    }
}

/// `POST` of a plugin: at the top level of the document, under `parent` when the URL names one.
pub(super) fn create(cx: &Call, ix: &Index, parent: Option<Parent>) -> Reply {
    let mut body = match parse_body(cx.body) {
        Ok(b) => b,
        Err(why) => return (message(400, &why), None),
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
            if ix.plugins.iter().any(|e| e.id.as_deref() == Some(&s)) {
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
            (None, Some(v)) => match resolve_body_ref(ix, kind, &v) {
                Ok(i) => Some(i),
                Err(resp) => return (resp, None),
            },
        };
        if let Some(i) = target {
            refs.push((kind.field(), ix.ref_value(kind, i)));
        }
    }
    // Kong's id for a new entity without one: random.
    let id =
        id.unwrap_or_else(|| random_id(|c| ix.plugins.iter().any(|e| e.id.as_deref() == Some(c))));
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
            plugin.insert(key.into(), Value::Number(cx.now.into()));
        }
    }
    let mut doc = cx.doc.clone();
    let Some(root) = as_mapping_mut(&mut doc) else {
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
    finish(cx, doc, &id, &path, 201)
}

fn patch(cx: &Call, ix: &Index, p: usize) -> Reply {
    let body = match parse_body(cx.body) {
        Ok(b) => b,
        Err(why) => return (message(400, &why), None),
    };
    let entry = &ix.plugins[p];
    let id = entry.id.clone().unwrap_or_default();
    let mut doc = cx.doc.clone();
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
                    match resolve_body_ref(ix, kind, &v) {
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
                        plugin.insert(k, ix.ref_value(kind, t));
                    }
                    (None, None) => {
                        plugin.shift_remove(key.as_str());
                    }
                }
            }
            _ => merge_field(plugin, k, v),
        }
    }
    plugin.insert("updated_at".into(), Value::Number(cx.now.into()));
    finish(cx, doc, &id, &entry.path, 200)
}

fn delete(cx: &Call, ix: &Index, p: usize) -> Reply {
    let entry = &ix.plugins[p];
    let mut doc = cx.doc.clone();
    let Some((Step::Idx(i), list_loc)) = entry.loc.split_last() else {
        return (message(500, "unexpected plugin location"), None);
    };
    let Some(Value::Sequence(list)) = at_mut(&mut doc, list_loc) else {
        return (message(500, "unexpected plugin location"), None);
    };
    list.remove(*i);
    match check(doc, None, cx.env) {
        Ok(doc) => (no_content(), Some(doc)),
        Err(resp) => (resp, None),
    }
}

/// Checks the changed document, then answers with the plugin `id` as it now is.
fn finish(cx: &Call, doc: Value, id: &str, path: &str, status: u16) -> Reply {
    // Kong's plugin uniqueness: one plugin of a name per (route, service), one instance_name.
    let ix = Index::build(&doc);
    let Some(p) = ix.plugins.iter().position(|e| e.id.as_deref() == Some(id)) else {
        return (message(500, "the changed plugin went missing"), None);
    };
    if let Some(resp) = unique_violation(&ix, p) {
        return (resp, None);
    }
    match check(doc, Some(path), cx.env) {
        Ok(doc) => {
            let ix = Index::build(&doc);
            let json = views::plugin(&doc, &ix, p);
            (ok(status, &json), Some(doc))
        }
        Err(resp) => (resp, None),
    }
}

/// `doc` if the gateway's loader accepts it; else Kong's schema violation, with the errors under
/// `target` (the changed plugin's YAML path) as its `fields`.
fn check(
    doc: Value,
    target: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, ApiResponse> {
    match load_str(&yaml_text(&doc), "admin API", env) {
        Ok(_) => Ok(doc),
        Err(errors) => Err(config_violation(&errors, target)),
    }
}

/// A `service`/`route` foreign key from a request body: `{"id": ..}`, `{"name": ..}`, or (as
/// in decK) a plain name or id.
fn resolve_body_ref(ix: &Index, kind: RefKind, v: &Value) -> Result<usize, ApiResponse> {
    let field = kind.field();
    let table = kind.table();
    let find = |key: &str| match kind {
        RefKind::Service => ix.find_service(key),
        RefKind::Route => ix.find_route(key),
    };
    match v {
        Value::String(key) => find(key).ok_or_else(|| fk_violation(field, table, "id", key)),
        Value::Mapping(m) => {
            if let Some(id) = m.get("id").filter(|v| !v.is_null()) {
                let Some(id) = id.as_str() else {
                    return Err(violation(&format!("{field}.id"), "expected a string"));
                };
                let found = ix.find_by(kind, id, true);
                return found.ok_or_else(|| fk_violation(field, table, "id", id));
            }
            match m.get("name").filter(|v| !v.is_null()) {
                Some(Value::String(name)) => {
                    let found = ix.find_by(kind, name, false);
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
