//! Kong's answer shapes for success and plain messages: `{"data":[...],"next":null}` lists,
//! entities, 204s and `{"message":...}`.

use super::json::push_json;
use super::model::{map, ApiResponse};
use serde_yaml_ng::Value;

pub(super) fn list(items: impl Iterator<Item = Value>) -> ApiResponse {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"data\":[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json(&item, &mut out);
    }
    out.extend_from_slice(b"],\"next\":null}");
    respond(200, out)
}

pub(super) fn ok(status: u16, v: &Value) -> ApiResponse {
    let mut out = Vec::new();
    push_json(v, &mut out);
    respond(status, out)
}

pub(super) fn no_content() -> ApiResponse {
    ApiResponse {
        status: 204,
        body: String::new(),
    }
}

pub(super) fn not_found() -> ApiResponse {
    message(404, "Not found")
}

pub(super) fn message(status: u16, text: &str) -> ApiResponse {
    ok(status, &map([("message", Value::String(text.to_string()))]))
}

fn respond(status: u16, body: Vec<u8>) -> ApiResponse {
    ApiResponse {
        status,
        body: String::from_utf8(body).unwrap_or_default(),
    }
}
