//! Consumers and their credentials over the Admin API, with Kong's shapes: `/consumers`,
//! `/consumers/{username or id}`, its `/key-auth` and `/acls` (and `/plugins`), and the flat
//! `/key-auths` and `/acls` lists decK dumps.
//!
//! Consumers live in the decK document's top-level `consumers:` list, each with its
//! `keyauth_credentials` and `acls` nested, as decK writes them. A change edits a copy of the
//! document and is committed only if the gateway's config loader accepts it, as for plugins.
//! Keys are returned (Kong's Admin API returns them: it is the place keys are managed, behind
//! the admin token), but error messages never quote one.

use super::credentials::{
    all_creds, create_cred, cred_view, creds_kind, creds_of, matches, one_cred, Creds,
};
use super::errors::{config_violation, kong_error, violation, UNIQUE_VIOLATION};
use super::ids::{is_uuid, random_id};
use super::index::Index;
use super::json::parse_body;
use super::model::{at, at_mut, map, yaml_text, ApiResponse, Call, Reply, Step};
use super::paging::page;
use super::response::{message, no_content, not_found, ok};
use super::views;
use crate::config::{as_mapping_mut, generated_id, get, load_str};
use serde_yaml_ng::{Mapping, Value};

/// A consumer's place in the document and its keys.
pub(super) struct Entry {
    /// Position in `consumers:`.
    pub(super) at: usize,
    pub(super) id: String,
    pub(super) username: Option<String>,
    pub(super) custom_id: Option<String>,
}

pub(super) fn consumers(doc: &Value) -> Vec<Entry> {
    let Some(Value::Sequence(list)) = get(doc, "consumers") else {
        return Vec::new();
    };
    let s = |v: &Value, k| get(v, k).and_then(Value::as_str).map(str::to_string);
    (list.iter().enumerate())
        .map(|(at, c)| Entry {
            at,
            id: s(c, "id").unwrap_or_default(),
            username: s(c, "username"),
            custom_id: s(c, "custom_id"),
        })
        .collect()
}

/// Kong's endpoint key for consumers: the id, else the username.
fn find(list: &[Entry], key: &str) -> Option<usize> {
    (list.iter().position(|c| c.id == key))
        .or_else(|| list.iter().position(|c| c.username.as_deref() == Some(key)))
}

pub(super) fn consumer_loc(at: usize) -> Vec<Step> {
    vec![Step::Key("consumers".into()), Step::Idx(at)]
}

/// Gives every consumer, key and ACL group without an `id` the one the config loader gives it
/// (so `X-Consumer-ID` and the Admin API agree), and `created_at` where missing.
pub(super) fn assign_ids(doc: &mut Value, now: u64) {
    let Some(Value::Sequence(list)) = as_mapping_mut(doc).and_then(|m| m.get_mut("consumers"))
    else {
        return;
    };
    for (i, c) in list.iter_mut().enumerate() {
        let Value::Mapping(m) = c else { continue };
        let path = format!("consumers[{i}]");
        if !m.contains_key("id") {
            let name = (m.get("username").or_else(|| m.get("custom_id")))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let id = generated_id("Consumer", &path, name);
            prepend(m, "id", Value::String(id));
        }
        stamp(m, now, true);
        for creds in [Creds::KeyAuth, Creds::Acl] {
            let Some(Value::Sequence(items)) = m.get_mut(creds.list()) else {
                continue;
            };
            for (j, item) in items.iter_mut().enumerate() {
                let Value::Mapping(cm) = item else { continue };
                if !cm.contains_key("id") {
                    let name = match creds {
                        Creds::KeyAuth => String::new(),
                        Creds::Acl => (cm.get("group").and_then(Value::as_str))
                            .unwrap_or_default()
                            .to_string(),
                    };
                    let p = format!("{path}.{}[{j}]", creds.list());
                    prepend(
                        cm,
                        "id",
                        Value::String(generated_id(creds.kind(), &p, &name)),
                    );
                }
                stamp(cm, now, false);
            }
        }
    }
}

fn prepend(m: &mut Mapping, key: &str, v: Value) {
    let mut with = Mapping::with_capacity(m.len() + 1);
    with.insert(key.into(), v);
    with.extend(std::mem::take(m));
    *m = with;
}

pub(super) fn stamp(m: &mut Mapping, now: u64, updated: bool) {
    let keys: &[&str] = if updated {
        &["created_at", "updated_at"]
    } else {
        &["created_at"]
    };
    for key in keys {
        if !m.contains_key(*key) {
            m.insert((*key).into(), Value::Number(now.into()));
        }
    }
}

/// Consumer `c` as Kong shows it.
fn view(doc: &Value, c: &Entry) -> Value {
    let v = at(doc, &consumer_loc(c.at)).unwrap_or(&Value::Null);
    let field = |k| get(v, k).cloned().unwrap_or(Value::Null);
    map([
        ("id", field("id")),
        ("username", field("username")),
        ("custom_id", field("custom_id")),
        ("tags", field("tags")),
        ("created_at", field("created_at")),
        ("updated_at", field("updated_at")),
    ])
}

/// Answers an Admin API call under `/consumers`, `/key-auths` or `/acls`.
pub(super) fn handle(cx: &Call, method: &str, segs: &[&str], path: &str) -> Reply {
    let list = consumers(cx.doc);
    let collection = path.split(['?', '#']).next().unwrap_or_default();
    let paged = |items: Vec<Value>| (page(path, collection, items), None);
    match (method, segs) {
        ("GET", ["consumers"]) => paged(list.iter().map(|c| view(cx.doc, c)).collect()),
        ("POST", ["consumers"]) => create(cx, &list),
        (_, ["consumers", key]) => match (method, find(&list, key)) {
            ("GET", Some(c)) => (ok(200, &view(cx.doc, &list[c])), None),
            ("PATCH", Some(c)) => patch(cx, &list, c),
            ("DELETE", Some(c)) => delete(cx, &list, c),
            ("DELETE", None) => (no_content(), None),
            ("GET" | "PATCH", None) => (not_found(), None),
            _ => (message(405, "Method not allowed"), None),
        },
        (_, ["consumers", key, rest @ ..]) => {
            let Some(c) = find(&list, key) else {
                return (not_found(), None);
            };
            let consumer = &list[c];
            match (method, rest) {
                ("GET", ["plugins"]) => paged(plugins_of_consumer(cx, consumer.at)),
                ("GET", [kind]) => match creds_kind(kind) {
                    Some(k) => paged(
                        (creds_of(cx.doc, consumer, k).iter())
                            .map(|v| cred_view(v, consumer, k))
                            .collect(),
                    ),
                    None => (not_found(), None),
                },
                ("POST", [kind]) => match creds_kind(kind) {
                    Some(k) => create_cred(cx, &list, consumer, k),
                    None => (not_found(), None),
                },
                (_, [kind, item]) => match creds_kind(kind) {
                    Some(k) => one_cred(cx, &list, consumer, k, method, item),
                    None => (not_found(), None),
                },
                _ => (not_found(), None),
            }
        }
        ("GET", [table]) => match creds_kind(table) {
            Some(k) => paged(
                all_creds(cx.doc, &list, k)
                    .map(|(v, c)| cred_view(v, c, k))
                    .collect(),
            ),
            None => (not_found(), None),
        },
        ("GET", [table, item]) => match creds_kind(table) {
            Some(k) => match all_creds(cx.doc, &list, k).find(|(v, _)| matches(v, k, item)) {
                Some((v, c)) => (ok(200, &cred_view(v, c, k)), None),
                None => (not_found(), None),
            },
            None => (not_found(), None),
        },
        _ => (
            message(
                405,
                "Method not allowed: credentials are changed under /consumers/{consumer}",
            ),
            None,
        ),
    }
}

fn create(cx: &Call, list: &[Entry]) -> Reply {
    let mut body = match parse_body(cx.body) {
        Ok(b) => b,
        Err(why) => return (message(400, &why), None),
    };
    body.retain(|_, v| !v.is_null());
    for key in ["username", "custom_id"] {
        if body.get(key).is_some_and(|v| !v.is_string()) {
            return (violation(key, "expected a string"), None);
        }
    }
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let (username, custom_id) = (text("username"), text("custom_id"));
    if username.is_none() && custom_id.is_none() {
        let resp = violation(
            "@entity",
            "at least one of these fields must be non-empty: 'custom_id', 'username'",
        );
        return (resp, None);
    }
    let id = match body.shift_remove("id") {
        None => random_id(|c| list.iter().any(|e| e.id == c)),
        Some(Value::String(s)) if is_uuid(&s) => s,
        Some(_) => return (violation("id", "expected a valid UUID"), None),
    };
    let clash = |field: &str, value: &Option<String>, of: fn(&Entry) -> Option<&str>| {
        let v = value.as_deref()?;
        list.iter()
            .any(|e| of(e) == Some(v))
            .then(|| unique(field, v))
    };
    if let Some(resp) = clash("id", &Some(id.clone()), |e| Some(e.id.as_str()))
        .or_else(|| clash("username", &username, |e| e.username.as_deref()))
        .or_else(|| clash("custom_id", &custom_id, |e| e.custom_id.as_deref()))
    {
        return (resp, None);
    }
    let mut consumer = Mapping::new();
    consumer.insert("id".into(), Value::String(id.clone()));
    for (k, v) in body {
        consumer.insert(k, v);
    }
    stamp(&mut consumer, cx.now, true);
    let mut doc = cx.doc.clone();
    let Some(root) = as_mapping_mut(&mut doc) else {
        return (message(500, "the running config is not a mapping"), None);
    };
    let slot = root
        .entry("consumers".into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if slot.is_null() {
        *slot = Value::Sequence(Vec::new());
    }
    let Value::Sequence(items) = slot else {
        return (
            message(500, "the running config's `consumers` is not a list"),
            None,
        );
    };
    let at = items.len();
    items.push(Value::Mapping(consumer));
    commit(cx, doc, &format!("consumers[{at}]"), 201, |doc| {
        consumers(doc)
            .into_iter()
            .find(|e| e.id == id)
            .map(|c| view(doc, &c))
    })
}

fn patch(cx: &Call, list: &[Entry], c: usize) -> Reply {
    let body = match parse_body(cx.body) {
        Ok(b) => b,
        Err(why) => return (message(400, &why), None),
    };
    let me = &list[c];
    for (field, of) in [
        (
            "username",
            (|e: &Entry| e.username.clone()) as fn(&Entry) -> Option<String>,
        ),
        ("custom_id", |e: &Entry| e.custom_id.clone()),
    ] {
        if let Some(Value::String(v)) = body.get(field) {
            if list
                .iter()
                .any(|e| e.at != me.at && of(e).as_deref() == Some(v))
            {
                return (unique(field, v), None);
            }
        }
    }
    let mut doc = cx.doc.clone();
    let Some(Value::Mapping(m)) = at_mut(&mut doc, &consumer_loc(me.at)) else {
        return (
            message(500, "the consumer is not a mapping in the running config"),
            None,
        );
    };
    for (k, v) in body {
        match k.as_str() {
            Some("id") if v.as_str() != Some(me.id.as_str()) => {
                return (violation("id", "cannot be changed"), None)
            }
            Some("id") => {}
            Some("keyauth_credentials" | "acls" | "plugins") => {
                return (
                    violation(
                        k.as_str().unwrap_or_default(),
                        "is changed through its own endpoint",
                    ),
                    None,
                )
            }
            _ if v.is_null() => {
                m.shift_remove(&k);
            }
            _ => {
                m.insert(k, v);
            }
        }
    }
    m.insert("updated_at".into(), Value::Number(cx.now.into()));
    let id = me.id.clone();
    commit(cx, doc, &format!("consumers[{}]", me.at), 200, |doc| {
        consumers(doc)
            .into_iter()
            .find(|e| e.id == id)
            .map(|c| view(doc, &c))
    })
}

/// Deletes consumer `c`, and (Kong's cascade) the plugins scoped to it.
fn delete(cx: &Call, list: &[Entry], c: usize) -> Reply {
    let me = &list[c];
    let mut doc = cx.doc.clone();
    let scoped: Vec<Vec<Step>> = plugin_locations_of_consumer(cx.doc, me.at);
    // Remove from the end so earlier locations stay valid.
    for loc in scoped.iter().rev() {
        if let Some((Step::Idx(i), list_loc)) = loc.split_last() {
            if let Some(Value::Sequence(items)) = at_mut(&mut doc, list_loc) {
                if *i < items.len() {
                    items.remove(*i);
                }
            }
        }
    }
    if let Some(Value::Sequence(items)) = at_mut(&mut doc, &[Step::Key("consumers".into())]) {
        items.remove(me.at);
    }
    match check(doc, None, cx.env) {
        Ok(doc) => (no_content(), Some(doc)),
        Err(resp) => (resp, None),
    }
}

/// Kong's 409 for a taken unique field (never used for keys, which are secrets).
pub(super) fn unique(field: &str, value: &str) -> ApiResponse {
    let msg = format!("UNIQUE violation detected on '{{{field}=\"{value}\"}}'");
    let fields = map([(field, Value::String(value.to_string()))]);
    kong_error(409, UNIQUE_VIOLATION, &msg, Some(fields))
}

/// Checks the changed document and answers with the changed entity as `view` shows it.
pub(super) fn commit(
    cx: &Call,
    doc: Value,
    path: &str,
    status: u16,
    view: impl Fn(&Value) -> Option<Value>,
) -> Reply {
    match check(doc, Some(path), cx.env) {
        Ok(doc) => match view(&doc) {
            Some(v) => (ok(status, &v), Some(doc)),
            None => (message(500, "the changed entity went missing"), None),
        },
        Err(resp) => (resp, None),
    }
}

/// `doc` if the gateway's loader accepts it, else Kong's schema violation.
pub(super) fn check(
    doc: Value,
    target: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, ApiResponse> {
    match load_str(&yaml_text(&doc), "admin API", env) {
        Ok(_) => Ok(doc),
        Err(errors) => Err(config_violation(&errors, target)),
    }
}

/// The plugins scoped to the consumer at `consumer` (its position in `consumers:`), by their
/// position in the index.
fn scoped_plugins(doc: &Value, consumer: usize) -> Vec<usize> {
    let deck = crate::config::entities(doc);
    (0..deck.plugins.len())
        .filter(|&p| deck.consumer_of(&deck.plugins[p].consumer).ok().flatten() == Some(consumer))
        .collect()
}

fn plugins_of_consumer(cx: &Call, consumer: usize) -> Vec<Value> {
    let ix = Index::build(cx.doc);
    (scoped_plugins(cx.doc, consumer).into_iter())
        .map(|p| views::plugin(cx.doc, &ix, p))
        .collect()
}

/// Where the plugins scoped to the consumer are, in document order.
fn plugin_locations_of_consumer(doc: &Value, consumer: usize) -> Vec<Vec<Step>> {
    let ix = Index::build(doc);
    (scoped_plugins(doc, consumer).into_iter())
        .map(|p| ix.plugins[p].loc.clone())
        .collect()
}
