//! JSON in and out of the YAML tree, with serde_json: request bodies become YAML mappings (keys
//! in order), YAML values are written as JSON.
//!
//! The store keeps the decK document as YAML because that is the text the gateway loads and the
//! `--state` file holds; the Admin API speaks JSON. A YAML tree can hold what JSON cannot say
//! (tags, keys that are not strings), so [`Json`] decides how those are written instead of
//! letting serialization fail on a client's config. Body errors say where, never what: a body
//! may hold credentials.

use serde::{Serialize, Serializer};
use serde_yaml_ng::{Mapping, Value};
use std::borrow::Cow;

/// A YAML value as JSON: tags are dropped (the tagged value stays), keys that are not strings are
/// written as their YAML text, and NaN and infinities become `null` (serde_json's rule).
pub(super) struct Json<'a>(pub(super) &'a Value);

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(text) => s.serialize_str(text),
            Value::Sequence(items) => s.collect_seq(items.iter().map(Json)),
            Value::Mapping(m) => s.collect_map(m.iter().map(|(k, v)| (key_text(k), Json(v)))),
            Value::Tagged(t) => Json(&t.value).serialize(s),
        }
    }
}

/// A mapping key as JSON object keys must be: text.
fn key_text(k: &Value) -> Cow<'_, str> {
    match k {
        Value::String(s) => Cow::Borrowed(s),
        Value::Bool(b) => Cow::Owned(b.to_string()),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Null => Cow::Borrowed("null"),
        other => Cow::Owned(
            serde_yaml_ng::to_string(other)
                .unwrap_or_default()
                .trim_end()
                .to_string(),
        ),
    }
}

/// A JSON object body (empty means `{}`) as a YAML mapping, keys in order; `Err` is the message
/// for the client's 400, with the line and column of the problem.
pub(super) fn parse_body(body: &[u8]) -> Result<Mapping, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Mapping::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(_) => Err("the request body must be a JSON object".to_string()),
        Err(e) => Err(format!(
            "Cannot parse JSON body: {e} (send a JSON object with Content-Type: \
             application/json, or Kong's form keys with Content-Type: \
             application/x-www-form-urlencoded)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(yaml: &str) -> String {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        serde_json::to_string(&Json(&v)).unwrap()
    }

    #[test]
    fn yaml_values_as_json() {
        assert_eq!(
            json(r#"{b: 1, a: [x, 2.5, -3, null, true], c: {d: 'q"\'}}"#),
            r#"{"b":1,"a":["x",2.5,-3,null,true],"c":{"d":"q\"\\"}}"#
        );
        // Floats stay floats; what JSON has no number for is null.
        assert_eq!(
            json("[1.0, 0.7, .nan, .inf, -.inf]"),
            "[1.0,0.7,null,null,null]"
        );
        // serde_json's float text (1e+16 is also how Kong's cjson writes it).
        assert_eq!(json("[1e16, 0.00001, 1.5e-7]"), "[1e+16,0.00001,1.5e-7]");
        assert_eq!(json("\"\\u0001ü\\n\""), r#""\u0001ü\n""#);
        // Keys that are not strings, and tags, as Kong clients can read them.
        assert_eq!(
            json("{1: a, true: b, null: c, 2.5: d, [x]: e}"),
            r#"{"1":"a","true":"b","null":"c","2.5":"d","- x":"e"}"#
        );
        assert_eq!(json("!thing {a: !other 1}"), r#"{"a":1}"#);
    }

    #[test]
    fn bodies() {
        let m = parse_body(br#"{"z": 1, "a": {"y": 1.0, "b": null}}"#).unwrap();
        let keys: Vec<_> = m.keys().filter_map(Value::as_str).collect();
        assert_eq!(keys, ["z", "a"], "in order");
        assert_eq!(m["a"]["y"].as_f64(), Some(1.0));
        assert!(m["a"]["y"].is_f64(), "1.0 stays a float");
        assert!(parse_body(b" \n").unwrap().is_empty());
        assert_eq!(
            parse_body(b"[1]").unwrap_err(),
            "the request body must be a JSON object"
        );
        let err = parse_body(br#"{"key": "sk-secret" x}"#).unwrap_err();
        assert!(err.starts_with("Cannot parse JSON body: "), "{err}");
        assert!(err.contains("line 1 column"), "{err}");
        assert!(!err.contains("sk-secret"), "{err}");
        let deep = "[".repeat(100_000);
        assert!(
            parse_body(deep.as_bytes()).is_err(),
            "a nesting limit, not a stack overflow"
        );
    }
}
