//! Plugin changes: `POST` (at the top level of the document, or under the service or route the
//! URL names), `PUT` (Kong's create-or-replace, which decK sends for every plugin it creates or
//! updates), `PATCH` and `DELETE`.
//!
//! Each change edits a copy of the decK document, then runs the checks Kong makes before it
//! accepts a plugin (foreign keys, uniqueness, the schema: here the gateway's own config loader),
//! so a rejected call leaves the running store untouched.

use super::body::{read, Schema};
use super::change::{
    body_id, check, entity_keys_only, merge_field, parent_path, push_top_level, remove_all,
    resolve_body_ref, stamp,
};
use super::errors::{kong_error, violation, UNIQUE_VIOLATION};
use super::ids::{is_uuid, random_id};
use super::index::Index;
use super::model::{at_mut, map, ApiResponse, Call, Parent, RefKind, Reply};
use super::response::{message, no_content, not_found, ok};
use super::views;
use crate::config::PLUGIN;
use serde_yaml_ng::{Mapping, Value};

/// `GET` of the plugins list, or of the plugins of `parent`.
pub(super) fn list(cx: &Call, ix: &Index, parent: Option<Parent>) -> Vec<Value> {
    let plugins = (0..ix.plugins.len()).filter(|&p| parent.is_none_or(|o| ix.in_scope(p, o)));
    plugins.map(|p| views::plugin(cx.doc, ix, p)).collect()
}

/// `GET`, `PUT`, `PATCH`, `DELETE` of `/plugins/{id}`, or of `/{services|routes}/{x}/plugins/{id}`
/// (404 unless the plugin applies to that entity; `PUT` creates it there).
pub(super) fn one(cx: &Call, ix: &Index, method: &str, parent: Option<Parent>, key: &str) -> Reply {
    let found = ix
        .find_plugin(key)
        .filter(|&p| parent.is_none_or(|o| ix.in_scope(p, o)));
    match (method, found) {
        ("GET", Some(p)) => (ok(200, &views::plugin(cx.doc, ix, p)), None),
        // An existing plugin is replaced wherever it is: PUT may move it to the URL's scope.
        ("PUT", _) => put(cx, ix, parent, key, ix.find_plugin(key)),
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
    let taken = |c: &str| ix.plugins.iter().any(|e| e.id.as_deref() == Some(c));
    let built = read(cx, Schema::Plugin(None)).and_then(|mut body| {
        let id = body_id(&mut body, taken)?;
        // Kong's id for a new entity without one: random.
        let id = id.unwrap_or_else(|| random_id(taken));
        Ok((new_plugin(ix, parent, id.clone(), body, cx.now)?, id))
    });
    let (plugin, id) = match built {
        Ok(b) => b,
        Err(resp) => return (resp, None),
    };
    let mut doc = cx.doc.clone();
    match push_top_level(&mut doc, "plugins", plugin) {
        Ok(path) => finish(cx, doc, &id, &path, 201),
        Err(resp) => (resp, None),
    }
}

/// Kong's create-or-replace of plugin `key` (an id, or an `instance_name`): a plugin that exists
/// is replaced whole, where it is in the document while its scope stays; one that moves to
/// another service or route, or a new one, is written at the top level.
fn put(cx: &Call, ix: &Index, parent: Option<Parent>, key: &str, found: Option<usize>) -> Reply {
    let stored_name = found.and_then(|p| ix.plugins[p].name.as_deref());
    let mut body = match read(cx, Schema::Plugin(stored_name)) {
        Ok(b) => b,
        Err(resp) => return (resp, None),
    };
    // The URL names the plugin: its id, or its instance_name.
    body.shift_remove("id");
    let id = if is_uuid(key) {
        key.to_string()
    } else {
        body.insert("instance_name".into(), key.into());
        let existing = found.and_then(|p| ix.plugins[p].id.clone());
        existing
            .unwrap_or_else(|| random_id(|c| ix.plugins.iter().any(|e| e.id.as_deref() == Some(c))))
    };
    let plugin = match new_plugin(ix, parent, id.clone(), body, cx.now) {
        Ok(p) => p,
        Err(resp) => return (resp, None),
    };
    let mut doc = cx.doc.clone();
    let placed = match found {
        Some(p) => replace(&mut doc, ix, p, plugin),
        None => push_top_level(&mut doc, "plugins", plugin),
    };
    match placed {
        Ok(path) => finish(cx, doc, &id, &path, 200),
        Err(resp) => (resp, None),
    }
}

/// A plugin entity from a body: `id`, `name`, its `service`/`route` (the URL's entity wins over
/// the body's, as in Kong's nested endpoints), the other fields, Kong's timestamps.
fn new_plugin(
    ix: &Index,
    parent: Option<Parent>,
    id: String,
    mut body: Mapping,
    now: u64,
) -> Result<Mapping, ApiResponse> {
    // Kong clients send `null` for unset fields.
    body.retain(|_, v| !v.is_null());
    entity_keys_only(&body, PLUGIN, &[])?;
    let name = match body.shift_remove("name") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(_) => return Err(violation("name", "expected a string")),
        None => return Err(violation("name", "required field missing")),
    };
    let mut plugin = Mapping::new();
    plugin.insert("id".into(), Value::String(id));
    plugin.insert("name".into(), Value::String(name));
    for kind in [RefKind::Service, RefKind::Route] {
        let forced = match (parent, kind) {
            (Some(Parent::Service(s)), RefKind::Service) => Some(s),
            (Some(Parent::Route(r)), RefKind::Route) => Some(r),
            _ => None,
        };
        let target = match (forced, body.shift_remove(kind.field())) {
            (Some(i), _) => Some(i),
            (None, None) => None,
            (None, Some(v)) => Some(resolve_body_ref(ix, kind, &v)?),
        };
        if let Some(i) = target {
            plugin.insert(kind.field().into(), ix.ref_value(kind, i));
        }
    }
    let created_at = body.shift_remove("created_at");
    body.shift_remove("updated_at");
    plugin.extend(body);
    stamp(&mut plugin, created_at, now);
    Ok(plugin)
}

/// Puts `plugin` in the place of plugin `p`: in place while it keeps the scope its nesting gives
/// it (the nesting then says it), else at the top level. Its YAML path.
fn replace(
    doc: &mut Value,
    ix: &Index,
    p: usize,
    mut plugin: Mapping,
) -> Result<String, ApiResponse> {
    let entry = &ix.plugins[p];
    let nesting = [
        (RefKind::Service, entry.parent_service),
        (RefKind::Route, entry.parent_route),
    ];
    let same_scope = nesting.iter().all(|&(kind, parent)| match parent {
        None => true,
        Some(i) => plugin.get(kind.field()) == Some(&ix.ref_value(kind, i)),
    });
    if same_scope {
        for (kind, parent) in nesting {
            if parent.is_some() {
                plugin.shift_remove(kind.field());
            }
        }
        if let Some(slot) = at_mut(doc, &entry.loc) {
            *slot = Value::Mapping(plugin);
            return Ok(entry.path.clone());
        }
    }
    remove_all(doc, std::slice::from_ref(&entry.loc));
    push_top_level(doc, "plugins", plugin)
}

fn patch(cx: &Call, ix: &Index, p: usize) -> Reply {
    let entry = &ix.plugins[p];
    let body = match read(cx, Schema::Plugin(entry.name.as_deref())) {
        Ok(b) => b,
        Err(resp) => return (resp, None),
    };
    if let Err(resp) = entity_keys_only(&body, PLUGIN, &[]) {
        return (resp, None);
    }
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
    let mut doc = cx.doc.clone();
    remove_all(&mut doc, std::slice::from_ref(&ix.plugins[p].loc));
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

/// Kong's 409 for a second plugin of the same name on the same (route, service), or a taken
/// `instance_name`.
fn unique_violation(ix: &Index, p: usize) -> Option<ApiResponse> {
    let me = &ix.plugins[p];
    let scope = ix.plugin_scope[p];
    let consumer = ix.plugin_consumer[p];
    let clash = ix.plugins.iter().enumerate().any(|(q, e)| {
        q != p
            && e.name == me.name
            && ix.plugin_scope[q] == scope
            && ix.plugin_consumer[q] == consumer
    });
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
