//! Entity ids: every service, route and plugin has one, as in Kong.
//!
//! Kong clients address entities by id, and a decK file may leave ids out. Those get a name-based
//! UUID (version 5) of the entity's kind, YAML path and name (never its credentials), so the same
//! file gives the same ids on every start without storing anything. A plugin created through the
//! Admin API without an id gets a random one (version 4), as Kong gives it.

use super::index::Index;
use super::model::{at, at_mut, Kind};
use crate::config::get;
use serde_yaml_ng::{Mapping, Value};
use std::collections::HashSet;
use uuid::Uuid;

/// The namespace of llmux's name-based ids, the config loader's (so an id the loader gives a
/// consumer or credential is the one the Admin API shows).
const NAMESPACE: Uuid = crate::config::ENTITY_ID_NAMESPACE;

/// Gives every service, route and plugin without an `id` a stable one (first key of the entity).
pub(super) fn assign_ids(doc: &mut Value) {
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

/// The name-based id of `seed`; while `taken` says an id is in use, the next of `seed` followed by
/// `\n1`, `\n2`, ...
pub(super) fn unique_id(seed: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut n = 0u64;
    loop {
        let text = if n == 0 {
            seed.to_string()
        } else {
            format!("{seed}\n{n}")
        };
        let id = Uuid::new_v5(&NAMESPACE, text.as_bytes()).to_string();
        if !taken(&id) {
            return id;
        }
        n += 1;
    }
}

/// A random id that `taken` does not hold.
pub(super) fn random_id(taken: impl Fn(&str) -> bool) -> String {
    loop {
        let id = Uuid::new_v4().to_string();
        if !taken(&id) {
            return id;
        }
    }
}

/// Whether Kong takes `s` as an id: a hyphenated UUID in either case (Kong's `is_valid_uuid`
/// checks the length, 36, and the 8-4-4-4-12 hex digits; braced, URN and 32-digit forms are
/// not ids).
pub(super) fn is_uuid(s: &str) -> bool {
    s.len() == 36 && Uuid::try_parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_kong_accepts() {
        assert!(is_uuid("0b5c3f0e-1111-4222-8333-444455556666"));
        assert!(is_uuid("0B5C3F0E-1111-4222-8333-444455556666"));
        // Any version and variant, as Kong's pattern.
        assert!(is_uuid("00000000-0000-0000-0000-000000000000"));
        for not_an_id in [
            "0b5c3f0e111142228333444455556666",
            "{0b5c3f0e-1111-4222-8333-444455556666}",
            "urn:uuid:0b5c3f0e-1111-4222-8333-444455556666",
            "0b5c3f0e-1111-4222-8333-44445555666g",
            "0b5c3f0e-1111-4222-8333_444455556666",
            "not-a-uuid",
            "",
        ] {
            assert!(!is_uuid(not_an_id), "{not_an_id}");
        }
    }

    #[test]
    fn random_ids_are_v4_and_avoid_taken_ones() {
        let id = random_id(|_| false);
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "4", "{id}");
        assert_ne!(random_id(|c| c == id), id);
    }
}
