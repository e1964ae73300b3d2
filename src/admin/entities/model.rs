//! The vocabulary every part of the entity store speaks: the answer type, one call's inputs, the
//! entity kinds and the way an entity's place in the document is written down.
//!
//! It lives in one file that imports nothing else from this folder, so the other files depend on
//! it instead of on each other, and the module graph stays a chain: `model` <- `index`, `ids` <-
//! `views`, `plugins` <- `dispatch` <- the store.

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

/// One call's inputs: the document as it is before the call, the request body (a JSON object, or
/// empty), the lookup for `${{ env "NAME" }}` when a changed document is checked, and the clock
/// (unix seconds) for `created_at`/`updated_at`.
pub(super) struct Call<'a> {
    pub(super) doc: &'a Value,
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
    Key(&'static str),
    Idx(usize),
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
