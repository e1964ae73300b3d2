//! What every change shares: reading a body's foreign keys and id, editing the decK document
//! (merging fields, stamping times, adding to a top-level list, removing entities, following a
//! rename) and the final check by the gateway's own config loader.
//!
//! Changes edit a copy of the document; a rejected one leaves the running store untouched.

use super::errors::{
    config_violation, fk_violation, kong_error, violation, FOREIGN_KEYS_UNRESOLVED,
    PRIMARY_KEY_VIOLATION,
};
use super::ids::is_uuid;
use super::index::Index;
use super::model::{at_mut, map, steps, yaml_text, ApiResponse, RefKind, Step};
use crate::config::{as_mapping_mut, entities, load_str, F};
use serde_yaml_ng::{Mapping, Value};
use std::cmp::Ordering;

/// `doc` if the gateway's loader accepts it; else Kong's schema violation, with the errors under
/// `target` (the changed entity's YAML path) as its `fields`.
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

/// A `service`/`route` foreign key from a request body: `{"id": ..}`, `{"name": ..}`, or (as
/// in decK) a plain name or id.
pub(super) fn resolve_body_ref(ix: &Index, kind: RefKind, v: &Value) -> Result<usize, ApiResponse> {
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

/// The `id` a body gives a new entity: `None` when it gives none; Kong's errors for one that is
/// not a UUID or is `taken`.
pub(super) fn body_id(
    body: &mut Mapping,
    taken: impl Fn(&str) -> bool,
) -> Result<Option<String>, ApiResponse> {
    match body.shift_remove("id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if is_uuid(&s) => {
            if taken(&s) {
                let msg = format!("primary key violation on key '{{id=\"{s}\"}}'");
                let fields = map([("id", Value::String(s))]);
                return Err(kong_error(400, PRIMARY_KEY_VIOLATION, &msg, Some(fields)));
            }
            Ok(Some(s))
        }
        Some(_) => Err(violation("id", "expected a valid UUID")),
    }
}

/// Kong refuses keys that are not fields of its entity: the decK file's own keys (nested entity
/// lists, `_config`...) are not accepted in an Admin API body, except those in `allowed`
/// (`url`, Kong's shorthand for a service's address).
pub(super) fn entity_keys_only(
    body: &Mapping,
    fields: &[F],
    allowed: &[&str],
) -> Result<(), ApiResponse> {
    for k in body.keys().filter_map(Value::as_str) {
        let deck_only = fields.iter().any(|f| f.name == k && f.deck_only);
        if deck_only && !allowed.contains(&k) {
            return Err(violation(k, "unknown field"));
        }
    }
    Ok(())
}

/// Kong's timestamps on a written entity: `created_at` as given, else now; `updated_at` now.
pub(super) fn stamp(m: &mut Mapping, created_at: Option<Value>, now: u64) {
    let created = created_at
        .filter(|v| !v.is_null())
        .unwrap_or(Value::Number(now.into()));
    m.insert("created_at".into(), created);
    m.insert("updated_at".into(), Value::Number(now.into()));
}

/// PATCH of one top-level field: mappings merge recursively, anything else replaces, `null`
/// removes (the key then takes Kong's default).
pub(super) fn merge_field(target: &mut Mapping, k: Value, v: Value) {
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

/// `services[0]` for `services[0].plugins[1]`.
pub(super) fn parent_path(path: &str) -> &str {
    path.rfind('.').map_or(path, |i| &path[..i])
}

/// Appends `entity` to the top-level list `key` (created when missing); its YAML path.
pub(super) fn push_top_level(
    doc: &mut Value,
    key: &str,
    entity: Mapping,
) -> Result<String, ApiResponse> {
    let Some(root) = as_mapping_mut(doc) else {
        return Err(super::response::message(
            500,
            "the running config is not a mapping",
        ));
    };
    let list = root
        .entry(key.into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if list.is_null() {
        *list = Value::Sequence(Vec::new());
    }
    let Value::Sequence(list) = list else {
        let why = format!("the running config's `{key}` is not a list");
        return Err(super::response::message(500, &why));
    };
    list.push(Value::Mapping(entity));
    Ok(format!("{key}[{}]", list.len() - 1))
}

/// Removes the entities at `locs` from their lists; one inside another removed one goes with it.
pub(super) fn remove_all(doc: &mut Value, locs: &[Vec<Step>]) {
    let mut locs: Vec<&Vec<Step>> = locs
        .iter()
        .filter(|l| !locs.iter().any(|o| o.len() < l.len() && l.starts_with(o)))
        .collect();
    // Later positions first, so earlier ones keep their index.
    locs.sort_by(|a, b| cmp_loc(b, a));
    locs.dedup();
    for loc in locs {
        if let Some((Step::Idx(i), list)) = loc.split_last() {
            if let Some(Value::Sequence(items)) = at_mut(doc, list) {
                if *i < items.len() {
                    items.remove(*i);
                }
            }
        }
    }
}

fn cmp_loc(a: &[Step], b: &[Step]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Step::Key(x), Step::Key(y)) => x.cmp(y),
            (Step::Idx(x), Step::Idx(y)) => x.cmp(y),
            (Step::Key(_), Step::Idx(_)) => Ordering::Less,
            (Step::Idx(_), Step::Key(_)) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// After entity `id` of `kind` was renamed from `old_name`: the references in `doc` that `old`
/// wrote by that name now name it by `new_name`, or by its id when it has no name any more.
pub(super) fn follow_rename(
    old: &Value,
    doc: &mut Value,
    kind: RefKind,
    old_name: &str,
    id: &str,
    new_name: Option<&str>,
) {
    if old_name == id || new_name == Some(old_name) {
        return;
    }
    let deck = entities(old);
    let refs: Vec<_> = match kind {
        RefKind::Service => (deck.routes.iter().map(|r| &r.service))
            .chain(deck.plugins.iter().map(|p| &p.service))
            .collect(),
        RefKind::Route => deck.plugins.iter().map(|p| &p.route).collect(),
    };
    let paths: Vec<String> = refs
        .into_iter()
        .flatten()
        .filter_map(|r| r.written())
        .filter(|(key, _)| *key == old_name)
        .map(|(_, path)| path.to_string())
        .collect();
    for path in paths {
        let Some(slot) = at_mut(doc, &steps(&path)) else {
            continue;
        };
        match slot {
            Value::Mapping(m) => {
                m.shift_remove("name");
                match new_name {
                    Some(n) => m.insert("name".into(), n.into()),
                    None => m.insert("id".into(), id.into()),
                };
            }
            other => *other = Value::String(new_name.unwrap_or(id).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(yaml: &str) -> Value {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn removing_nested_and_sibling_entities() {
        let mut d = doc("services:\n- {name: a, plugins: [{name: p0}, {name: p1}, {name: p2}]}\n- {name: b}\nplugins: [{name: q}]");
        remove_all(
            &mut d,
            &[
                steps("services[0].plugins[0]"),
                steps("services[0].plugins[2]"),
                steps("services[1]"),
                steps("services[1]"),
                steps("plugins[0]"),
            ],
        );
        assert_eq!(
            serde_yaml_ng::to_string(&d).unwrap(),
            "services:\n- name: a\n  plugins:\n  - name: p1\nplugins: []\n"
        );
        let mut d = doc("services:\n- {name: a, plugins: [{name: p0}]}");
        remove_all(
            &mut d,
            &[steps("services[0].plugins[0]"), steps("services[0]")],
        );
        assert_eq!(serde_yaml_ng::to_string(&d).unwrap(), "services: []\n");
    }

    #[test]
    fn references_follow_a_rename() {
        let old = doc(
            "services:\n- {name: a, url: 'http://x', routes: [{name: r, paths: [/], service: a}]}\n\
             routes: [{name: t, paths: [/t], service: {name: a}}]\n\
             plugins: [{name: p, service: a}, {name: q, service: other}]",
        );
        let mut new = old.clone();
        follow_rename(&old, &mut new, RefKind::Service, "a", "id-1", Some("b"));
        assert_eq!(new["plugins"][0]["service"].as_str(), Some("b"));
        assert_eq!(new["plugins"][1]["service"].as_str(), Some("other"));
        assert_eq!(new["routes"][0]["service"]["name"].as_str(), Some("b"));
        assert_eq!(
            new["services"][0]["routes"][0]["service"].as_str(),
            Some("b")
        );
        let mut unnamed = old.clone();
        follow_rename(&old, &mut unnamed, RefKind::Service, "a", "id-1", None);
        assert_eq!(unnamed["plugins"][0]["service"].as_str(), Some("id-1"));
        assert_eq!(unnamed["routes"][0]["service"]["id"].as_str(), Some("id-1"));
        assert!(unnamed["routes"][0]["service"].get("name").is_none());
    }
}
