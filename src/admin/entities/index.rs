//! The entity index: where every service, route and plugin is in the decK document, and what it
//! refers to.
//!
//! The YAML tree stays the one source of truth; the index is rebuilt from it for each call (and
//! after each change), in the config loader's order, so positions and YAML paths match the
//! loader's error paths.

use super::model::{map, Kind, Parent, RefKind, Step};
use super::tree::{as_map, get, ref_key, seq};
use serde_yaml_ng::Value;

pub(super) struct Entry {
    pub(super) loc: Vec<Step>,
    /// The YAML path, as the config loader names it (`services[0].routes[1]`).
    pub(super) path: String,
    pub(super) id: Option<String>,
    /// `name` (a plugin's is its plugin name).
    pub(super) name: Option<String>,
    pub(super) instance_name: Option<String>,
    /// The service/route this entity is nested in.
    pub(super) parent_service: Option<usize>,
    pub(super) parent_route: Option<usize>,
    /// Its own `service:`/`route:` reference (name or id), if any.
    service_ref: Option<String>,
    route_ref: Option<String>,
}

#[derive(Default)]
pub(super) struct Index {
    pub(super) services: Vec<Entry>,
    pub(super) routes: Vec<Entry>,
    pub(super) plugins: Vec<Entry>,
    /// The service each route belongs to.
    pub(super) route_service: Vec<Option<usize>>,
    /// (route, service) each plugin applies to.
    pub(super) plugin_scope: Vec<(Option<usize>, Option<usize>)>,
}

impl Index {
    /// Walks the document in the loader's order.
    pub(super) fn build(doc: &Value) -> Index {
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

    pub(super) fn all(&self) -> impl Iterator<Item = (Kind, &Entry)> {
        let tag = |k: Kind| move |e| (k, e);
        (self.services.iter().map(tag(Kind::Service)))
            .chain(self.routes.iter().map(tag(Kind::Route)))
            .chain(self.plugins.iter().map(tag(Kind::Plugin)))
    }

    /// By id, else (Kong's endpoint key) by name.
    pub(super) fn find_service(&self, key: &str) -> Option<usize> {
        self.find_by(RefKind::Service, key, true)
            .or_else(|| self.find_by(RefKind::Service, key, false))
    }

    pub(super) fn find_route(&self, key: &str) -> Option<usize> {
        self.find_by(RefKind::Route, key, true)
            .or_else(|| self.find_by(RefKind::Route, key, false))
    }

    pub(super) fn find_by(&self, kind: RefKind, key: &str, by_id: bool) -> Option<usize> {
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
    pub(super) fn find_plugin(&self, key: &str) -> Option<usize> {
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
    pub(super) fn in_scope(&self, p: usize, parent: Parent) -> bool {
        let (route, service) = self.plugin_scope[p];
        match parent {
            Parent::Service(s) => service == Some(s),
            Parent::Route(r) => route == Some(r),
        }
    }

    /// How a new top-level plugin refers to entity `i`: its name, else its id.
    pub(super) fn ref_value(&self, kind: RefKind, i: usize) -> Value {
        let e = match kind {
            RefKind::Service => &self.services[i],
            RefKind::Route => &self.routes[i],
        };
        Value::String(e.name.clone().or_else(|| e.id.clone()).unwrap_or_default())
    }

    pub(super) fn id_ref(&self, kind: RefKind, i: Option<usize>) -> Value {
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
