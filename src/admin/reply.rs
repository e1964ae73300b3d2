//! Building the admin API's responses.

use http::StatusCode;
use monoio_http::common::response::Response;
use monoio_http::h1::payload::{FixedPayload, Payload};
use serde::Serialize;

#[derive(Serialize)]
struct Message<'a> {
    message: &'a str,
}

/// Kong's `{"message": ...}` answer.
pub(super) fn message(status: StatusCode, text: &str) -> Response {
    json(status, &Message { message: text })
}

/// `value` as a JSON response.
pub(super) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    // Plain structs of strings and numbers always serialise.
    raw_json(status, serde_json::to_string(value).unwrap_or_default())
}

/// A body that already is JSON.
pub(super) fn raw_json(status: StatusCode, body: String) -> Response {
    text(status, "application/json", body)
}

pub(super) fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut resp = Response::new(Payload::Fixed(FixedPayload::new(bytes::Bytes::from(body))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    resp
}
