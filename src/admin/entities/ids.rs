//! Generated ids: every service, route and plugin gets one, stable for the same config text.
//!
//! Kong clients address entities by id, and a decK file may leave ids out; hashing the entity's
//! kind, YAML path and name (never its credentials) gives the same ids on every start without
//! storing anything.

use super::index::Index;
use super::model::{at, at_mut, Kind};
use crate::config::get;
use serde_yaml_ng::{Mapping, Value};
use std::collections::HashSet;

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

/// A UUID-v4-shaped id from `seed`, skipping those `taken` says are in use.
pub(super) fn unique_id(seed: &str, taken: impl Fn(&str) -> bool) -> String {
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

pub(super) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}
