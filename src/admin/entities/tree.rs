//! YAML tree helpers: reading fields the way the config loader does (null is absent, tags are
//! transparent) and following an entity's location in the document.

use super::model::Step;
use serde_yaml_ng::{Mapping, Value};

pub(super) fn as_map(v: &Value) -> Option<&Mapping> {
    match v {
        Value::Mapping(m) => Some(m),
        Value::Tagged(t) => as_map(&t.value),
        _ => None,
    }
}

pub(super) fn as_map_mut(v: &mut Value) -> Option<&mut Mapping> {
    match v {
        Value::Mapping(m) => Some(m),
        Value::Tagged(t) => as_map_mut(&mut t.value),
        _ => None,
    }
}

/// Field `key`, `None` when missing or null (null counts as absent, as in the loader).
pub(super) fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    as_map(v).and_then(|m| m.get(key)).filter(|x| !x.is_null())
}

pub(super) fn seq(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Sequence(s)) => s,
        _ => &[],
    }
}

/// The loader's reading of a reference: a plain string, or a mapping's `name`, else `id`.
pub(super) fn ref_key(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Mapping(_) => get(v, "name")
            .and_then(Value::as_str)
            .or_else(|| get(v, "id").and_then(Value::as_str))
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

pub(super) fn at<'a>(v: &'a Value, loc: &[Step]) -> Option<&'a Value> {
    loc.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => as_map(v)?.get(*k),
        Step::Idx(i) => match v {
            Value::Sequence(s) => s.get(*i),
            _ => None,
        },
    })
}

pub(super) fn at_mut<'a>(v: &'a mut Value, loc: &[Step]) -> Option<&'a mut Value> {
    loc.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => as_map_mut(v)?.get_mut(*k),
        Step::Idx(i) => match v {
            Value::Sequence(s) => s.get_mut(*i),
            _ => None,
        },
    })
}
