//! Small helpers over `serde_yaml_ng::Value`: YAML paths and null-tolerant getters.
//!
//! A key whose value is `null` (or empty, `key:`) counts as absent, as in Kong.

use serde_yaml_ng::{Mapping, Value};

/// `parent.key`, or `key` at the root.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// The field `key` of a mapping, `None` when missing, null, or `v` is not a mapping.
pub(crate) fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Mapping(m) => m.get(key).filter(|x| !x.is_null()),
        Value::Tagged(t) => get(&t.value, key),
        _ => None,
    }
}

pub(crate) fn get_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    get(v, key).and_then(Value::as_str)
}

pub(crate) fn get_bool(v: &Value, key: &str) -> Option<bool> {
    get(v, key).and_then(Value::as_bool)
}

/// Integers, also written as a float without fraction (`512.0`).
pub(crate) fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

pub(crate) fn get_int(v: &Value, key: &str) -> Option<i64> {
    get(v, key).and_then(as_int)
}

pub(crate) fn as_num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        _ => None,
    }
}

pub(crate) fn get_num(v: &Value, key: &str) -> Option<f64> {
    get(v, key).and_then(as_num)
}

pub(crate) fn get_seq<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    match get(v, key) {
        Some(Value::Sequence(s)) => s,
        _ => &[],
    }
}

/// A list of strings (non-strings skipped; the schema walk has already reported them).
pub(crate) fn get_str_list(v: &Value, key: &str) -> Vec<String> {
    get_seq(v, key)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The mapping inside `v`, looking through YAML tags.
pub(crate) fn as_mapping(v: &Value) -> Option<&Mapping> {
    match v {
        Value::Mapping(m) => Some(m),
        Value::Tagged(t) => as_mapping(&t.value),
        _ => None,
    }
}

/// The mapping inside `v`, looking through YAML tags, for editing.
pub(crate) fn as_mapping_mut(v: &mut Value) -> Option<&mut Mapping> {
    match v {
        Value::Mapping(m) => Some(m),
        Value::Tagged(t) => as_mapping_mut(&mut t.value),
        _ => None,
    }
}

/// What kind of value this is, for error messages (never the value itself: it may be a secret).
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A mapping key as text (`None` for non-string keys).
pub(crate) fn key_str(k: &Value) -> Option<&str> {
    k.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_getters() {
        assert_eq!(join("", "plugins"), "plugins");
        assert_eq!(join(&index("plugins", 0), "config"), "plugins[0].config");
        let v: Value = serde_yaml_ng::from_str("a: 1\nb: null\nc: 2.0\nd: x\ne: [x, 1]").unwrap();
        assert_eq!(get_int(&v, "a"), Some(1));
        assert!(get(&v, "b").is_none());
        assert_eq!(get_int(&v, "c"), Some(2));
        assert_eq!(get_num(&v, "a"), Some(1.0));
        assert_eq!(get_str(&v, "d"), Some("x"));
        assert_eq!(get_str_list(&v, "e"), vec!["x".to_string()]);
        assert_eq!(kind(get(&v, "e").unwrap()), "a list");
    }
}
