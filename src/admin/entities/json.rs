//! JSON in and out of the YAML tree: request bodies parsed into YAML mappings (keys in order),
//! and YAML values written as JSON text.
//!
//! The entity store keeps the decK document as YAML; the Admin API speaks JSON. Body errors say
//! where, never what: a body may hold credentials.

use crate::body::push_quoted;
use serde_yaml_ng::{Mapping, Value};

/// JSON text of a YAML tree (non-string keys as text; NaN and infinities as null).
pub(super) fn push_json(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            let text = if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() => format!("{f:?}"),
                    _ => "null".to_string(),
                }
            };
            out.extend_from_slice(text.as_bytes());
        }
        Value::String(s) => push_quoted(s, out),
        Value::Sequence(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json(item, out);
            }
            out.push(b']');
        }
        Value::Mapping(m) => {
            out.push(b'{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let key = match k {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    Value::Null => "null".to_string(),
                    other => serde_yaml_ng::to_string(other)
                        .unwrap_or_default()
                        .trim_end()
                        .to_string(),
                };
                push_quoted(&key, out);
                out.push(b':');
                push_json(v, out);
            }
            out.push(b'}');
        }
        Value::Tagged(t) => push_json(&t.value, out),
    }
}

/// A JSON object body (empty means `{}`) as a YAML mapping, keys in order; `Err` is the message
/// for the client's 400. Errors say where, never what (the body may hold credentials).
pub(super) fn parse_body(body: &[u8]) -> Result<Mapping, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Mapping::new());
    }
    let mut copy = body.to_vec();
    let parsed: Result<Value, _> = simd_json::serde::from_slice(&mut copy);
    match parsed {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(_) => Err("the request body must be a JSON object".to_string()),
        Err(e) => {
            let why = match e.error() {
                simd_json::ErrorType::Serde(s) => s.clone(),
                other => format!("{other:?} at byte {}", e.index()),
            };
            Err(format!(
                "Cannot parse JSON body: {why} (llmux's Admin API takes JSON bodies only: \
                 send Content-Type: application/json)"
            ))
        }
    }
}
