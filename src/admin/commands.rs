//! Admin calls that change the gateway: handed to the main thread (the supervisor), which owns
//! the running config and the entity document, and answered over a one-shot channel.
//!
//! The admin thread polls for the answer with `try_recv` between short sleeps, so its event
//! loop keeps serving `/status` and `/metrics` while a reload is built.

use super::entities::ApiResponse;
use super::reply::{json, message};
use crossbeam::channel::{Sender, TryRecvError};
use http::StatusCode;
use monoio_http::common::response::Response;
use serde::Serialize;
use std::time::Duration;

/// A request from the admin thread to the supervisor, answered on `reply`.
pub enum AdminCommand {
    /// Kong DB-less `POST /config`: a whole declarative config (YAML or JSON) replaces the
    /// running one. The answer is the new config's summary, or every error.
    ReplaceConfig {
        text: String,
        reply: Sender<Result<String, Vec<String>>>,
    },
    /// A Kong Admin API entity call (`/plugins`, `/services`, `/routes`); the body is read by
    /// its `Content-Type` (JSON, or Kong's form keys).
    Entities {
        method: String,
        path: String,
        content_type: String,
        body: Vec<u8>,
        reply: Sender<EntityReply>,
    },
}

/// The answer to an entity call, plus a warning when a change is not persisted.
pub struct EntityReply {
    pub response: ApiResponse,
    pub warning: Option<String>,
}

#[derive(Serialize)]
struct Applied<'a> {
    message: &'static str,
    summary: &'a str,
}

#[derive(Serialize)]
struct Invalid<'a> {
    message: &'static str,
    errors: &'a [String],
}

/// `POST /config`: the body, or (as Kong takes it) the `config` field of a form.
pub(super) async fn replace_config(
    commands: &Sender<AdminCommand>,
    content_type: &str,
    body: bytes::Bytes,
) -> Response {
    let text = match super::entities::declarative_text(content_type, &body) {
        Ok(t) => t,
        Err(why) => return message(StatusCode::BAD_REQUEST, &why),
    };
    let (reply, answer) = crossbeam::channel::bounded(1);
    if commands
        .try_send(AdminCommand::ReplaceConfig { text, reply })
        .is_err()
    {
        return busy();
    }
    match poll(&answer, Duration::from_millis(5)).await {
        Some(Ok(summary)) => json(
            StatusCode::CREATED,
            &Applied {
                message: "configuration applied",
                summary: &summary,
            },
        ),
        Some(Err(errors)) => json(
            StatusCode::BAD_REQUEST,
            &Invalid {
                message: "declarative config is invalid",
                errors: &errors,
            },
        ),
        None => shutting_down(),
    }
}

/// A Kong Admin API entity call.
pub(super) async fn entity_call(
    commands: &Sender<AdminCommand>,
    method: String,
    path: String,
    content_type: String,
    body: Vec<u8>,
) -> Response {
    let (reply, answer) = crossbeam::channel::bounded(1);
    let cmd = AdminCommand::Entities {
        method,
        path,
        content_type,
        body,
        reply,
    };
    if commands.try_send(cmd).is_err() {
        return busy();
    }
    let Some(r) = poll(&answer, Duration::from_millis(2)).await else {
        return shutting_down();
    };
    let status =
        StatusCode::from_u16(r.response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = super::reply::raw_json(status, r.response.body);
    if let Some(w) = r.warning.and_then(|w| http::HeaderValue::from_str(&w).ok()) {
        resp.headers_mut().insert("x-llmux-warning", w);
    }
    resp
}

/// Waits for the supervisor's answer without blocking the event loop; `None` when the
/// supervisor is gone (shutting down).
async fn poll<T>(answer: &crossbeam::channel::Receiver<T>, every: Duration) -> Option<T> {
    loop {
        match answer.try_recv() {
            Ok(r) => return Some(r),
            Err(TryRecvError::Empty) => monoio::time::sleep(every).await,
            Err(TryRecvError::Disconnected) => return None,
        }
    }
}

fn busy() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many Admin API calls are waiting for the gateway; retry",
    )
}

fn shutting_down() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "the gateway is shutting down",
    )
}
