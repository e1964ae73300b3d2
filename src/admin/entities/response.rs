//! Kong's answer shapes for success and plain messages: entities, 204s and `{"message":...}`
//! (lists and their pages are `paging`'s).
//!
//! decK and other Kong clients parse exactly these shapes, so they are structs serde_json writes,
//! not text put together by hand: the answer is valid JSON whatever a stored config holds.

use super::json::Json;
use super::model::ApiResponse;
use serde::Serialize;
use serde_yaml_ng::Value;

/// Kong's plain answer (`{"message":"Not found"}`).
#[derive(Serialize)]
struct Message<'a> {
    message: &'a str,
}

pub(super) fn ok(status: u16, v: &Value) -> ApiResponse {
    respond(status, &Json(v))
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
    respond(status, &Message { message: text })
}

/// `body` as the JSON answer with `status`.
pub(super) fn respond(status: u16, body: &impl Serialize) -> ApiResponse {
    match serde_json::to_string(body) {
        Ok(body) => ApiResponse { status, body },
        // Only a Serialize impl can fail, and the answer shapes here never do; should one, the
        // client still gets a JSON answer saying so.
        Err(e) => ApiResponse {
            status: 500,
            body: serde_json::json!({ "message": format!("cannot write the answer as JSON: {e}") })
                .to_string(),
        },
    }
}
