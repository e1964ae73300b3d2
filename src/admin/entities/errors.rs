//! Kong's error objects (`{"message","name","fields","code"}`), as Kong clients and decK parse
//! them.
//!
//! The config loader's errors become Kong schema violations with a `fields` tree, so a client
//! sees which part of its plugin was wrong; messages name paths, never configured values.

use super::json::Json;
use super::model::{map, steps, ApiResponse, Step};
use super::response::respond;
use crate::config::ConfigErrors;
use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};

/// Kong error codes (`kong/db/errors.lua`).
const SCHEMA_VIOLATION: u16 = 2;
pub(super) const PRIMARY_KEY_VIOLATION: u16 = 3;
pub(super) const FOREIGN_KEY_VIOLATION: u16 = 4;
pub(super) const UNIQUE_VIOLATION: u16 = 5;
pub(super) const FOREIGN_KEYS_UNRESOLVED: u16 = 13;

/// Kong's error object, fields in Kong's order.
#[derive(Serialize)]
struct KongError<'a> {
    message: &'a str,
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Json<'a>>,
    code: u16,
}

/// Kong's error object for error `code`, with `fields` (Kong's per-field messages) if any.
pub(super) fn kong_error(status: u16, code: u16, msg: &str, fields: Option<Value>) -> ApiResponse {
    let name = match code {
        SCHEMA_VIOLATION => "schema violation",
        PRIMARY_KEY_VIOLATION => "primary key violation",
        FOREIGN_KEY_VIOLATION => "foreign key violation",
        UNIQUE_VIOLATION => "unique constraint violation",
        FOREIGN_KEYS_UNRESOLVED => "foreign keys unresolved",
        _ => "error",
    };
    let error = KongError {
        message: msg,
        name,
        fields: fields.as_ref().map(Json),
        code,
    };
    respond(status, &error)
}

/// A one-field schema violation (`field` may be dotted: `service.id`).
pub(super) fn violation(field: &str, why: &str) -> ApiResponse {
    let mut fields = Value::Null;
    put_field(&mut fields, &steps(field), why);
    let msg = format!("schema violation ({field}: {why})");
    kong_error(400, SCHEMA_VIOLATION, &msg, Some(fields))
}

pub(super) fn fk_violation(field: &str, table: &str, key: &str, value: &str) -> ApiResponse {
    let msg = format!(
        "the foreign key '{{{key}=\"{value}\"}}' does not reference an existing '{table}' entity."
    );
    let fields = map([(field, map([(key, Value::String(value.to_string()))]))]);
    kong_error(400, FOREIGN_KEY_VIOLATION, &msg, Some(fields))
}

/// The loader's errors as Kong's schema violation: every `path: message` in `message`; in
/// `fields`, those under `target` (the changed plugin) nested by their path relative to it, the
/// rest under `@entity`.
pub(super) fn config_violation(errors: &ConfigErrors, target: Option<&str>) -> ApiResponse {
    let mut fields = Value::Mapping(Mapping::new());
    let mut entity = Vec::new();
    let mut lines = Vec::new();
    for e in &errors.0 {
        let line = if e.path.is_empty() {
            e.message.clone()
        } else {
            format!("{}: {}", e.path, e.message)
        };
        let relative = target.and_then(|t| {
            e.path
                .strip_prefix(t)
                .and_then(|rest| rest.strip_prefix('.'))
                .filter(|rest| !rest.is_empty())
        });
        let placed = relative.is_some_and(|rel| put_field(&mut fields, &steps(rel), &e.message));
        if !placed {
            if target.is_some_and(|t| e.path == t) {
                entity.push(Value::String(e.message.clone()));
            } else {
                entity.push(Value::String(line.clone()));
            }
        }
        lines.push(line);
    }
    if !entity.is_empty() {
        if let Value::Mapping(m) = &mut fields {
            m.insert("@entity".into(), Value::Sequence(entity));
        }
    }
    let msg = match lines.len() {
        1 => format!("schema violation ({})", lines[0]),
        n => format!("{n} schema violations ({})", lines.join("; ")),
    };
    kong_error(400, SCHEMA_VIOLATION, &msg, Some(fields))
}

/// Puts `msg` at `segs` in a Kong `fields` tree (lists for indices, as Kong's cjson writes
/// them); `false` when the tree has something else there.
fn put_field(node: &mut Value, segs: &[Step], msg: &str) -> bool {
    match segs.split_first() {
        None => match node {
            Value::Null => {
                *node = Value::String(msg.to_string());
                true
            }
            Value::String(s) => {
                s.push_str("; ");
                s.push_str(msg);
                true
            }
            _ => false,
        },
        Some((Step::Key(k), rest)) => {
            if node.is_null() {
                *node = Value::Mapping(Mapping::new());
            }
            let Value::Mapping(m) = node else {
                return false;
            };
            let child = m.entry(Value::String(k.clone())).or_insert(Value::Null);
            put_field(child, rest, msg)
        }
        Some((Step::Idx(i), rest)) => {
            if node.is_null() {
                *node = Value::Sequence(Vec::new());
            }
            match node {
                Value::Sequence(s) if *i < 1024 => {
                    if s.len() <= *i {
                        s.resize(i + 1, Value::Null);
                    }
                    put_field(&mut s[*i], rest, msg)
                }
                _ => false,
            }
        }
    }
}
