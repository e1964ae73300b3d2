//! Service and route changes as Kong answers them: `POST`, Kong's create-or-replace `PUT` (what
//! decK sends for every service and route it creates or updates), `PATCH` and `DELETE`.
//!
//! An entity keeps its place in the document: a route nested in a service stays there while it
//! keeps that service (its nested plugins with it); a new entity, or a route moved to another
//! service, is written at the top level, a route with a `service:` reference. References that
//! named a renamed entity follow the new name. Deleting a service that routes still use is
//! Kong's 400; a deleted service's or route's plugins go with it, as Kong cascades.

use super::body::{read, Schema};
use super::change::{
    body_id, check, entity_keys_only, follow_rename, merge_field, parent_path, push_top_level,
    remove_all, resolve_body_ref, stamp,
};
use super::errors::{kong_error, violation, FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION};
use super::ids::{is_uuid, random_id};
use super::index::{Entry, Index};
use super::model::{at, at_mut, map, ApiResponse, Call, RefKind, Reply, Step};
use super::response::{message, no_content, not_found, ok};
use super::views;
use crate::config::{F, ROUTE, SERVICE};
use serde_yaml_ng::{Mapping, Value};

/// The two tables this file changes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Services,
    Routes,
}

impl Table {
    fn kind(self) -> RefKind {
        match self {
            Table::Services => RefKind::Service,
            Table::Routes => RefKind::Route,
        }
    }

    fn fields(self) -> &'static [F] {
        match self {
            Table::Services => SERVICE,
            Table::Routes => ROUTE,
        }
    }

    fn entries(self, ix: &Index) -> &[Entry] {
        match self {
            Table::Services => &ix.services,
            Table::Routes => &ix.routes,
        }
    }

    fn view(self, doc: &Value, ix: &Index, i: usize) -> Value {
        match self {
            Table::Services => views::service(doc, ix, i),
            Table::Routes => views::route(doc, ix, i),
        }
    }

    /// By id, else by name (Kong's endpoint key).
    fn find(self, ix: &Index, key: &str) -> Option<usize> {
        match self {
            Table::Services => ix.find_service(key),
            Table::Routes => ix.find_route(key),
        }
    }
}

/// `POST /services`, `POST /routes`, `POST /services/{x}/routes` (`service` is x).
pub(super) fn create(cx: &Call, ix: &Index, table: Table, service: Option<usize>) -> Reply {
    let built = body(cx, table).and_then(|mut body| {
        let taken = |c: &str| table.entries(ix).iter().any(|e| e.id.as_deref() == Some(c));
        let id = body_id(&mut body, taken)?.unwrap_or_else(|| random_id(taken));
        let (entity, _) = entity(ix, table, id.clone(), body, service, cx.now)?;
        unique_name(ix, table, name_of(&entity), None)?;
        Ok((entity, id))
    });
    let (entity, id) = match built {
        Ok(b) => b,
        Err(resp) => return (resp, None),
    };
    let mut doc = cx.doc.clone();
    match push_top_level(&mut doc, table_key(table), entity) {
        Ok(path) => finish(cx, doc, table, &id, &path, 201),
        Err(resp) => (resp, None),
    }
}

/// `PUT`, `PATCH`, `DELETE` of `/services/{key}` or `/routes/{key}` (`GET` is `dispatch`'s).
pub(super) fn one(cx: &Call, ix: &Index, table: Table, method: &str, key: &str) -> Reply {
    let found = table.find(ix, key);
    match (method, found) {
        ("PUT", _) => put(cx, ix, table, key, found),
        ("PATCH", Some(i)) => patch(cx, ix, table, i),
        ("DELETE", Some(i)) => delete(cx, ix, table, i),
        // Kong: deleting what does not exist succeeds.
        ("DELETE", None) => (no_content(), None),
        ("PATCH", None) => (not_found(), None),
        _ => (message(405, "Method not allowed"), None),
    }
}

/// The body, without Kong clients' `null`s for unset fields, Kong's fields only.
fn body(cx: &Call, table: Table) -> Result<Mapping, ApiResponse> {
    let mut body = read(cx, Schema::Entity(table.fields()))?;
    body.retain(|_, v| !v.is_null());
    entity_keys_only(&body, table.fields(), &["url"])?;
    Ok(body)
}

fn table_key(table: Table) -> &'static str {
    match table {
        Table::Services => "services",
        Table::Routes => "routes",
    }
}

/// An entity from a body: `id` first, a route's `service` (the URL's wins) as a reference, the
/// other fields, Kong's timestamps. Also the service the route belongs to.
fn entity(
    ix: &Index,
    table: Table,
    id: String,
    mut body: Mapping,
    service: Option<usize>,
    now: u64,
) -> Result<(Mapping, Option<usize>), ApiResponse> {
    let mut entity = Mapping::new();
    entity.insert("id".into(), Value::String(id));
    let mut owner = None;
    if table == Table::Routes {
        owner = match (service, body.shift_remove("service")) {
            (Some(s), _) => Some(s),
            (None, None) => None,
            (None, Some(v)) => Some(resolve_body_ref(ix, RefKind::Service, &v)?),
        };
        if let Some(s) = owner {
            entity.insert("service".into(), ix.ref_value(RefKind::Service, s));
        }
    }
    let created_at = body.shift_remove("created_at");
    body.shift_remove("updated_at");
    entity.extend(body);
    stamp(&mut entity, created_at, now);
    Ok((entity, owner))
}

fn name_of(m: &Mapping) -> Option<&str> {
    m.get("name").and_then(Value::as_str)
}

/// Kong's 409 when another entity of the table (than `me`) has the name `name`.
fn unique_name(
    ix: &Index,
    table: Table,
    name: Option<&str>,
    me: Option<usize>,
) -> Result<(), ApiResponse> {
    let Some(name) = name else {
        return Ok(());
    };
    let taken = (table.entries(ix).iter().enumerate())
        .any(|(i, e)| Some(i) != me && e.name.as_deref() == Some(name));
    if !taken {
        return Ok(());
    }
    let msg = format!("UNIQUE violation detected on '{{name=\"{name}\"}}'");
    let fields = map([("name", Value::String(name.to_string()))]);
    Err(kong_error(409, UNIQUE_VIOLATION, &msg, Some(fields)))
}

/// Kong's create-or-replace of `key` (an id, or a name).
fn put(cx: &Call, ix: &Index, table: Table, key: &str, found: Option<usize>) -> Reply {
    let built = body(cx, table).and_then(|mut body| {
        body.shift_remove("id");
        let id = if is_uuid(key) {
            key.to_string()
        } else {
            body.insert("name".into(), key.into());
            let existing = found.and_then(|i| table.entries(ix)[i].id.clone());
            let taken = |c: &str| table.entries(ix).iter().any(|e| e.id.as_deref() == Some(c));
            existing.unwrap_or_else(|| random_id(taken))
        };
        let (entity, owner) = entity(ix, table, id.clone(), body, None, cx.now)?;
        unique_name(ix, table, name_of(&entity), found)?;
        Ok((entity, owner, id))
    });
    let (mut entity, owner, id) = match built {
        Ok(b) => b,
        Err(resp) => return (resp, None),
    };
    let Some(i) = found else {
        let mut doc = cx.doc.clone();
        return match push_top_level(&mut doc, table_key(table), entity) {
            Ok(path) => finish(cx, doc, table, &id, &path, 200),
            Err(resp) => (resp, None),
        };
    };
    let e = &table.entries(ix)[i];
    // What the decK file nests in the entity is not one of its fields: it stays.
    if let Some(Value::Mapping(old)) = at(cx.doc, &e.loc) {
        let nested = table
            .fields()
            .iter()
            .filter(|f| f.deck_only && f.name != "url");
        for f in nested {
            if let Some(v) = old.get(f.name) {
                entity.insert(f.name.into(), v.clone());
            }
        }
    }
    let stays = table == Table::Services || e.parent_service.is_none_or(|p| owner == Some(p));
    if stays && e.parent_service.is_some() {
        entity.shift_remove("service");
    }
    let mut doc = cx.doc.clone();
    if let Some(slot) = at_mut(&mut doc, &e.loc) {
        *slot = Value::Mapping(entity);
    }
    renamed(cx.doc, &mut doc, table, e, &id);
    let path = if stays {
        e.path.clone()
    } else {
        // Moved to another service: out of the one it was nested in.
        let moved = at(&doc, &e.loc).cloned();
        remove_all(&mut doc, std::slice::from_ref(&e.loc));
        let Some(Value::Mapping(m)) = moved else {
            return (message(500, "the route went missing"), None);
        };
        match push_top_level(&mut doc, "routes", m) {
            Ok(path) => path,
            Err(resp) => return (resp, None),
        }
    };
    finish(cx, doc, table, &id, &path, 200)
}

/// References that named entity `e` follow its new name (or its id, when it has none now).
fn renamed(old: &Value, doc: &mut Value, table: Table, e: &Entry, id: &str) {
    let Some(old_name) = e.name.as_deref() else {
        return;
    };
    let new_name = at(doc, &e.loc)
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    follow_rename(old, doc, table.kind(), old_name, id, new_name.as_deref());
}

fn patch(cx: &Call, ix: &Index, table: Table, i: usize) -> Reply {
    let body = match body(cx, table) {
        Ok(b) => b,
        Err(resp) => return (resp, None),
    };
    let e = &table.entries(ix)[i];
    let id = e.id.clone().unwrap_or_default();
    if let Err(resp) = unique_name(ix, table, name_of(&body), Some(i)) {
        return (resp, None);
    }
    let mut doc = cx.doc.clone();
    let Some(Value::Mapping(m)) = at_mut(&mut doc, &e.loc) else {
        return (
            message(500, "the entity is not a mapping in the running config"),
            None,
        );
    };
    for (k, v) in body {
        match k.as_str().unwrap_or_default() {
            "id" if v.as_str() != Some(id.as_str()) => {
                return (violation("id", "cannot be changed"), None);
            }
            "id" | "updated_at" => {}
            "service" if table == Table::Routes => {
                let target = match resolve_body_ref(ix, RefKind::Service, &v) {
                    Ok(t) => t,
                    Err(resp) => return (resp, None),
                };
                match e.parent_service {
                    Some(p) if p == target => {}
                    Some(_) => {
                        let msg = format!(
                            "this route is nested in {} in the config file: its service can \
                             be changed with PUT, which moves it",
                            parent_path(&e.path)
                        );
                        return (violation("service", &msg), None);
                    }
                    None => {
                        m.insert(k, ix.ref_value(RefKind::Service, target));
                    }
                }
            }
            "url" if table == Table::Services => {
                // Kong's shorthand sets all four parts.
                for part in ["protocol", "host", "port", "path"] {
                    m.shift_remove(part);
                }
                m.insert(k, v);
            }
            _ => merge_field(m, k, v),
        }
    }
    m.insert("updated_at".into(), Value::Number(cx.now.into()));
    renamed(cx.doc, &mut doc, table, e, &id);
    finish(cx, doc, table, &id, &e.path, 200)
}

fn delete(cx: &Call, ix: &Index, table: Table, i: usize) -> Reply {
    if table == Table::Services && ix.route_service.contains(&Some(i)) {
        let msg = "an existing 'routes' entity references this 'services' entity";
        let fields = map([("@referenced_by", Value::String("routes".into()))]);
        return (
            kong_error(400, FOREIGN_KEY_VIOLATION, msg, Some(fields)),
            None,
        );
    }
    // Kong deletes the entity's plugins with it.
    let mut locs: Vec<Vec<Step>> = vec![table.entries(ix)[i].loc.clone()];
    for (p, &(route, service)) in ix.plugin_scope.iter().enumerate() {
        let scope = match table {
            Table::Services => service,
            Table::Routes => route,
        };
        if scope == Some(i) {
            locs.push(ix.plugins[p].loc.clone());
        }
    }
    let mut doc = cx.doc.clone();
    remove_all(&mut doc, &locs);
    match check(doc, None, cx.env) {
        Ok(doc) => (no_content(), Some(doc)),
        Err(resp) => (resp, None),
    }
}

/// Checks the changed document, then answers with entity `id` as it now is.
fn finish(cx: &Call, doc: Value, table: Table, id: &str, path: &str, status: u16) -> Reply {
    match check(doc, Some(path), cx.env) {
        Ok(doc) => {
            let ix = Index::build(&doc);
            let entries = table.entries(&ix);
            match entries.iter().position(|e| e.id.as_deref() == Some(id)) {
                Some(i) => (ok(status, &table.view(&doc, &ix, i)), Some(doc)),
                None => (message(500, "the changed entity went missing"), None),
            }
        }
        Err(resp) => (resp, None),
    }
}
