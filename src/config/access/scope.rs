//! Which access plugin instance applies to a request, computed per route at load.
//!
//! Kong runs at most one instance of each plugin per request, the most specific one:
//! consumer + route + service > consumer + route > consumer + service > route + service >
//! consumer > route > service > global. Authentication and ACL plugins cannot be scoped to a
//! consumer (they run before the consumer is known), so for them the order is route + service >
//! route > service > global. Rate limiters can: a route's [`ByConsumer`] keeps the instance for
//! requests without a consumer and, per consumer that has a more specific one, that one.

use super::forms::{AccessPlugin, ACL, KEY_AUTH, RATE_LIMITING};
use super::table::{Consumer, Credential, KeyIndex};
use super::{AccessTable, ByConsumer, Policy};
use std::collections::HashMap;

/// An access plugin with where it applies: (route, service, consumer) indices into the
/// document's lists; all `None` is global.
pub(crate) struct ScopedPlugin {
    pub route: Option<usize>,
    pub service: Option<usize>,
    pub consumer: Option<usize>,
    pub name: String,
    pub plugin: AccessPlugin,
}

/// A compiled route: its document indices and the providers of its AI plugin's targets.
pub(crate) struct RouteScope {
    pub route: Option<usize>,
    pub service: Option<usize>,
    /// `id`, else `name`, of the service, for `limit_by: service`.
    pub service_key: Option<String>,
    pub providers: u32,
}

/// Builds the table: instances by kind, ACL verdicts per consumer, and one [`Policy`] per
/// route in `routes` (in order; the caller appends the catch-all as a route without indices).
pub(crate) fn assemble(
    consumers: Vec<Consumer>,
    credentials: Vec<Credential>,
    plugins: Vec<ScopedPlugin>,
    routes: &[RouteScope],
) -> AccessTable {
    let mut table = AccessTable {
        keys: KeyIndex::build(&credentials),
        credentials,
        ..AccessTable::default()
    };
    let groups: Vec<Vec<String>> = consumers.iter().map(|c| c.groups.clone()).collect();
    table.consumers = consumers;
    // Instance index within its kind, by (name, route, service, consumer).
    let mut at: HashMap<ScopeKey<'_>, u32> = HashMap::new();
    for p in &plugins {
        let kind = p.name.as_str();
        let slot = match &p.plugin {
            AccessPlugin::KeyAuth(k) => push(&mut table.key_auths, k.clone()),
            AccessPlugin::Acl {
                acl,
                deny,
                groups: g,
            } => {
                let mut acl = acl.clone();
                acl.decide(*deny, g, &groups);
                push(&mut table.acls, acl)
            }
            AccessPlugin::RequestLimit(r) => push(&mut table.request_limits, r.clone()),
            AccessPlugin::TokenLimit(t) => push(&mut table.token_limits, t.clone()),
        };
        at.insert((kind, p.route, p.service, p.consumer), slot);
    }
    let consumer_count = table.consumers.len();
    table.policies = routes
        .iter()
        .map(|r| {
            let find = |name: &str, route: Option<usize>, service: Option<usize>, c| {
                at.get(&(name, route, service, c)).copied()
            };
            // Without a consumer: route + service > route > service > global.
            let plain = |name: &str| {
                let (rt, sv) = (r.route, r.service);
                (rt.is_some() && sv.is_some())
                    .then(|| find(name, rt, sv, None))
                    .flatten()
                    .or_else(|| rt.and_then(|_| find(name, rt, None, None)))
                    .or_else(|| sv.and_then(|_| find(name, None, sv, None)))
                    .or_else(|| find(name, None, None, None))
            };
            let by_consumer = |name: &str| {
                let base = plain(name);
                let both = r.route.is_some() && r.service.is_some();
                let route_and_service =
                    both.then(|| find(name, r.route, r.service, None)).flatten();
                let overrides = (0..consumer_count)
                    .filter_map(|index| {
                        let c = Some(index);
                        let specific = both
                            .then(|| find(name, r.route, r.service, c))
                            .flatten()
                            .or_else(|| r.route.and_then(|_| find(name, r.route, None, c)))
                            .or_else(|| r.service.and_then(|_| find(name, None, r.service, c)))
                            .or(route_and_service)
                            .or_else(|| find(name, None, None, c));
                        let chosen = specific.or(base);
                        (chosen != base).then_some((index as u32, chosen))
                    })
                    .collect();
                ByConsumer { base, overrides }
            };
            Policy {
                key_auth: plain(KEY_AUTH),
                acl: plain(ACL),
                request_limit: by_consumer(RATE_LIMITING),
                token_limit: by_consumer(super::forms::AI_RATE_LIMITING_ADVANCED),
                providers: r.providers,
                service: r.service_key.clone(),
            }
        })
        .collect();
    table
}

/// (plugin name, route, service, consumer).
type ScopeKey<'a> = (&'a str, Option<usize>, Option<usize>, Option<usize>);

fn push<T>(list: &mut Vec<T>, item: T) -> u32 {
    list.push(item);
    (list.len() - 1) as u32
}
