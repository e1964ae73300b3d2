//! The entity index: where every service, route and plugin is in the decK document, and what it
//! refers to.
//!
//! The YAML tree stays the one source of truth; the index is rebuilt from it for each call (and
//! after each change) out of the config loader's own entity list, so positions, YAML paths and
//! references are exactly the gateway's, and the loader's error paths point at index entries.

use super::model::{map, steps, Kind, Parent, RefKind, Step};
use crate::config;
use serde_yaml_ng::Value;

pub(super) struct Entry {
    /// Where it is in the document.
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
}

impl Entry {
    fn new(path: &str, id: &Option<String>, name: Option<String>) -> Entry {
        Entry {
            loc: steps(path),
            path: path.to_string(),
            id: id.clone(),
            name,
            instance_name: None,
            parent_service: None,
            parent_route: None,
        }
    }
}

pub(super) struct Index {
    pub(super) services: Vec<Entry>,
    pub(super) routes: Vec<Entry>,
    pub(super) plugins: Vec<Entry>,
    /// The service each route belongs to.
    pub(super) route_service: Vec<Option<usize>>,
    /// (route, service) each plugin applies to.
    pub(super) plugin_scope: Vec<(Option<usize>, Option<usize>)>,
    /// The consumer each plugin is scoped to (position in `consumers:`).
    pub(super) plugin_consumer: Vec<Option<usize>>,
}

impl Index {
    /// The loader's entities of `doc`. A reference the loader would reject (the document then
    /// never becomes the running one) counts as the entity it is nested in, or as none.
    pub(super) fn build(doc: &Value) -> Index {
        let deck = config::entities(doc);
        let services = (deck.services.iter())
            .map(|s| Entry::new(&s.path, &s.id, s.name.clone()))
            .collect();
        let routes = (deck.routes.iter())
            .map(|r| Entry {
                parent_service: r.service.as_ref().and_then(|s| s.parent()),
                ..Entry::new(&r.path, &r.id, r.name.clone())
            })
            .collect();
        let plugins = (deck.plugins.iter())
            .map(|p| Entry {
                instance_name: p.instance_name.clone(),
                parent_service: p.service.as_ref().and_then(|s| s.parent()),
                parent_route: p.route.as_ref().and_then(|r| r.parent()),
                ..Entry::new(&p.path, &p.id, Some(p.name.clone()))
            })
            .collect();
        let route_service = (deck.routes.iter())
            .map(|r| {
                (deck.service_of(&r.service))
                    .unwrap_or_else(|_| r.service.as_ref().and_then(|s| s.parent()))
            })
            .collect();
        let plugin_scope = (deck.plugins.iter())
            .map(|p| {
                let route = (deck.route_of(&p.route))
                    .unwrap_or_else(|_| p.route.as_ref().and_then(|r| r.parent()));
                let service = (deck.service_of(&p.service))
                    .unwrap_or_else(|_| p.service.as_ref().and_then(|s| s.parent()));
                (route, service)
            })
            .collect();
        let plugin_consumer = (deck.plugins.iter())
            .map(|p| {
                (deck.consumer_of(&p.consumer))
                    .unwrap_or_else(|_| p.consumer.as_ref().and_then(|c| c.parent()))
            })
            .collect();
        Index {
            services,
            routes,
            plugins,
            route_service,
            plugin_scope,
            plugin_consumer,
        }
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
