//! The vocabulary every part of the entity store speaks: the answer type, one call's inputs, the
//! entity kinds and the way an entity's place in the document is written down.
//!
//! It lives in one file that imports nothing else from this folder, so the other files depend on
//! it instead of on each other and the folder's modules stay layered (the order is in `mod.rs`).

use crate::config::{as_mapping, as_mapping_mut};
use serde_yaml_ng::{Mapping, Value};

/// One Admin API answer: the HTTP status and a JSON body (empty for 204).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub body: String,
}

/// An answer, and the changed decK document when the call changed state (the config loader has
/// already accepted it).
pub(super) type Reply = (ApiResponse, Option<Value>);

/// One call's inputs: the document as it is before the call, the request body and its
/// `Content-Type` (a JSON object, a form, or empty), the lookup for `${{ env "NAME" }}` when a
/// changed document is checked, and the clock (unix seconds) for `created_at`/`updated_at`.
pub(super) struct Call<'a> {
    pub(super) doc: &'a Value,
    pub(super) content_type: &'a str,
    pub(super) body: &'a [u8],
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) now: u64,
}

/// The entity tables the Admin API serves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) enum Kind {
    Service,
    Route,
    Plugin,
}

/// The tables a plugin's foreign keys point into.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum RefKind {
    Service,
    Route,
}

impl RefKind {
    /// The foreign key's field in a plugin (`service`, `route`).
    pub(super) fn field(self) -> &'static str {
        match self {
            RefKind::Service => "service",
            RefKind::Route => "route",
        }
    }

    /// Kong's table name, as its error messages write it.
    pub(super) fn table(self) -> &'static str {
        match self {
            RefKind::Service => "services",
            RefKind::Route => "routes",
        }
    }
}

/// The entity a nested endpoint is under (`/services/{x}/plugins`, `/routes/{x}/plugins`), by
/// position in the index.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Parent {
    Service(usize),
    Route(usize),
}

/// One step of a location in the YAML tree: a mapping key or a list index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    Idx(usize),
}

/// The steps of a YAML path as the config loader writes it (`services[0].plugins[1]`,
/// `config.targets[0].model.name`). A `[n]` counts as an index only at the end of a dotted part,
/// so a key that itself contains brackets stays one key; any text gives some steps.
pub(super) fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut key = part;
        let mut indices = Vec::new();
        while let Some(inner) = key.strip_suffix(']') {
            let index = (inner.rsplit_once('['))
                .filter(|(_, digits)| digits.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|(before, digits)| Some((before, digits.parse::<usize>().ok()?)));
            let Some((before, i)) = index else {
                break;
            };
            indices.push(i);
            key = before;
        }
        out.push(Step::Key(key.to_string()));
        out.extend(indices.into_iter().rev().map(Step::Idx));
    }
    out
}

/// The value at `loc` in `v`.
pub(super) fn at<'a>(v: &'a Value, loc: &[Step]) -> Option<&'a Value> {
    loc.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => as_mapping(v)?.get(k.as_str()),
        Step::Idx(i) => match v {
            Value::Sequence(s) => s.get(*i),
            _ => None,
        },
    })
}

/// The value at `loc` in `v`, for editing.
pub(super) fn at_mut<'a>(v: &'a mut Value, loc: &[Step]) -> Option<&'a mut Value> {
    loc.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => as_mapping_mut(v)?.get_mut(k.as_str()),
        Step::Idx(i) => match v {
            Value::Sequence(s) => s.get_mut(*i),
            _ => None,
        },
    })
}

/// A mapping of `pairs`, in order.
pub(super) fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(k.into(), v);
    }
    Value::Mapping(m)
}

/// The document as YAML text: what `--state` files hold and what the config loader checks.
pub(super) fn yaml_text(doc: &Value) -> String {
    // A tree that was parsed from YAML or JSON always serializes; were it not to, the empty text
    // fails the loader's check, so nothing unchecked is ever committed.
    serde_yaml_ng::to_string(doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_and_indices(path: &str) -> Vec<String> {
        (steps(path).into_iter())
            .map(|s| match s {
                Step::Key(k) => k,
                Step::Idx(i) => format!("#{i}"),
            })
            .collect()
    }

    #[test]
    fn loader_paths_as_steps() {
        assert_eq!(
            keys_and_indices("services[0].routes[12]"),
            ["services", "#0", "routes", "#12"]
        );
        assert_eq!(
            keys_and_indices("config.targets[0].model.nmae"),
            ["config", "targets", "#0", "model", "nmae"]
        );
        assert_eq!(keys_and_indices("c[2][1]"), ["c", "#2", "#1"]);
        // Keys from a client's body may hold anything: never a panic, brackets stay in the key.
        assert_eq!(keys_and_indices("x[0]]"), ["x[0]]"]);
        assert_eq!(keys_and_indices("a[b]"), ["a[b]"]);
        assert_eq!(keys_and_indices("é]"), ["é]"]);
        assert_eq!(keys_and_indices("[+1]"), ["[+1]"]);
        assert_eq!(
            keys_and_indices("[99999999999999999999999]"),
            ["[99999999999999999999999]"]
        );
        assert_eq!(keys_and_indices(""), [""]);
    }

    #[test]
    fn following_a_location() {
        let mut doc: Value =
            serde_yaml_ng::from_str("services:\n- name: a\n  plugins: [{name: p}]\n").unwrap();
        let loc = steps("services[0].plugins[0]");
        let name = at(&doc, &loc).and_then(|p| p.get("name"));
        assert_eq!(name.and_then(Value::as_str), Some("p"));
        assert!(at(&doc, &steps("services[1]")).is_none());
        assert!(at(&doc, &steps("services.name")).is_none());
        if let Some(Value::Mapping(p)) = at_mut(&mut doc, &loc) {
            p.insert("id".into(), "x".into());
        }
        assert_eq!(doc["services"][0]["plugins"][0]["id"].as_str(), Some("x"));
    }
}
