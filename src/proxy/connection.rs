//! One client connection: read requests one after another (keep-alive and pipelining), route
//! each, read its body and hand it to the proxy flow.
//!
//! Waits are bounded: the idle keep-alive wait, the head (a slow-header client cannot hold a
//! connection), and each read of the body. Bytes after a request's body stay in the
//! connection's buffer, so pipelined requests are served in order.

use super::error::ErrorResponse;
use super::gate;
use super::request::{Admission, ProxyRequest};
use super::Next;
use crate::config::RouteMatch;
use crate::ctx::{RequestScratch, WorkerCtx, NO_ACCESS};
use crate::http1::{BodyError, ClientConn, Framing, HeadReadError};
use std::rc::Rc;
use std::time::Instant;

/// Body limit for requests that match no AI plugin (read only to keep the connection usable).
const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Counts an open client connection for as long as it lives.
struct Open<'a>(&'a WorkerCtx);

impl<'a> Open<'a> {
    fn new(ctx: &'a WorkerCtx) -> Self {
        ctx.open_connections.set(ctx.open_connections.get() + 1);
        Open(ctx)
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0
            .open_connections
            .set(self.0.open_connections.get().saturating_sub(1));
    }
}

/// Serves one accepted connection (plain, or TLS after its handshake) until the client or
/// llmux closes it.
pub(crate) async fn serve(ctx: Rc<WorkerCtx>, mut client: ClientConn) {
    if ctx.open_connections.get() >= ctx.settings.max_connections {
        // Refuse politely rather than run out of memory or descriptors.
        let resp = ErrorResponse::new(503, "too many open connections, retry later").closing();
        let _ = client.write_all(resp.to_bytes()).await;
        return;
    }
    let _open = Open::new(&ctx);
    let s = &ctx.settings;
    loop {
        if !client
            .wait_for_request(s.keepalive_timeout, ctx.lean())
            .await
        {
            return;
        }
        // Buffers are taken only once a request is arriving: idle connections hold none.
        let mut scratch = ctx.scratch.take();
        let next = match client
            .read_head_into(&mut scratch.head, &s.limits, s.header_timeout)
            .await
        {
            Ok(true) => {
                let received = Instant::now();
                ctx.in_flight.set(ctx.in_flight.get() + 1);
                let next = serve_one(&ctx, &mut client, &mut scratch, received).await;
                ctx.in_flight.set(ctx.in_flight.get() - 1);
                next
            }
            Ok(false) => Next::Close,
            Err(e) => {
                let _ = client.write_all(head_error(e).to_bytes()).await;
                Next::Close
            }
        };
        ctx.scratch.give(scratch);
        if next == Next::Close || ctx.shutting_down.get() {
            return;
        }
    }
}

fn head_error(e: HeadReadError) -> ErrorResponse {
    match e {
        HeadReadError::TooLarge(m) => ErrorResponse::new(431, m),
        HeadReadError::Malformed(m) => ErrorResponse::new(400, m),
        HeadReadError::Timeout => ErrorResponse::new(408, "timed out reading the request head"),
        HeadReadError::Refused(status, m) => ErrorResponse::new(status, m),
    }
    .closing()
}

/// Routes one request, reads its body and proxies it (or answers with llmux's own error).
async fn serve_one(
    ctx: &WorkerCtx,
    client: &mut ClientConn,
    scratch: &mut RequestScratch,
    received: Instant,
) -> Next {
    let RequestScratch {
        head,
        body,
        facts,
        io,
        access,
    } = scratch;
    // The generation this request started with; a reload swaps the worker's, not this one.
    let generation = ctx.generation.borrow().clone();
    let config = &generation.config;
    let (plugin, limit, miss, policy) = match config.match_route(head.method(), head.path()) {
        RouteMatch::Plugin { plugin, route } => (
            generation.plugin(plugin),
            plugin.max_request_body_size,
            None,
            Some(config.policy(route)),
        ),
        RouteMatch::NoPlugin { route } => (
            None,
            DEFAULT_BODY_LIMIT,
            Some(ErrorResponse::new(
                404,
                format!(
                    "no ai-proxy-advanced plugin is configured for route '{}'",
                    route.name
                ),
            )),
            Some(config.policy(Some(route))),
        ),
        RouteMatch::NoRoute => (
            None,
            DEFAULT_BODY_LIMIT,
            Some(ErrorResponse::no_route()),
            None,
        ),
    };
    if let Framing::Length(n) = head.framing {
        if n > limit as u64 {
            // Refuse before reading (or inviting, with 100 Continue) a body we would not take.
            return reply(client, ErrorResponse::too_large(limit).closing(), false).await;
        }
    }
    // Who may call: decided on the head, before a body is invited or read.
    let policy = policy.filter(|p| !p.is_empty());
    let pending = match policy.map(|p| {
        let access = access.get_or_insert_with(Box::default);
        gate::before_body(&config.access, p, head, access)
    }) {
        Some(Ok(pending)) => Some(pending),
        Some(Err(resp)) => return reply(client, resp, head.keep_alive && head.version == 1).await,
        None => None,
    };
    if head.expect_continue
        && client
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec())
            .await
            .is_err()
    {
        return Next::Close;
    }
    let body_buf = RequestScratch::writable_body(body);
    match client
        .read_body(head.framing, limit, ctx.settings.body_timeout, body_buf)
        .await
    {
        Ok(()) => {}
        Err(BodyError::TooLarge) => {
            return reply(client, ErrorResponse::too_large(limit).closing(), false).await
        }
        Err(BodyError::Malformed(m)) => {
            return reply(client, ErrorResponse::new(400, m).closing(), false).await
        }
        Err(BodyError::Timeout) => {
            let resp = ErrorResponse::new(408, "timed out reading the request body").closing();
            return reply(client, resp, false).await;
        }
        Err(BodyError::Closed) => return Next::Close,
    };
    if let (Some(policy), Some(pending)) = (policy, pending) {
        let arrived = gate::Arrived {
            head,
            body,
            client_ip: client.peer_addr(),
        };
        let access = access.get_or_insert_with(Box::default);
        let admitted = gate::after_body(ctx, &generation, policy, &arrived, pending, access);
        if let Err(resp) = admitted {
            return reply(client, resp, head.keep_alive && head.version == 1).await;
        }
    }
    if let Some(resp) = miss {
        return reply(client, resp, head.keep_alive && head.version == 1).await;
    }
    // The request is read: until its answer comes, the connection needs no read buffer.
    client.release_buffer();
    let Some(plugin) = plugin else {
        // A matched plugin always has a runtime in its own generation; never reached.
        let resp = ErrorResponse::new(500, "internal error: the matched plugin is not loaded");
        return reply(client, resp, false).await;
    };
    let admission = Admission {
        decided: access.as_deref().unwrap_or(&NO_ACCESS),
        table: &config.access,
    };
    let outcome = match ProxyRequest::new(ctx, plugin, head, body, facts, received, admission) {
        Ok(mut req) => super::proxy(&mut req, io, client).await,
        Err(resp) => Err(resp),
    };
    match outcome {
        Ok(next) => next,
        // An HTTP/1.0 client keeps its connection only when a response says so; llmux's own
        // errors do not, so they close it.
        Err(resp) => reply(client, resp, head.keep_alive && head.version == 1).await,
    }
}

/// Writes an llmux error; the connection stays open only if both sides allow it.
async fn reply(client: &mut ClientConn, mut resp: ErrorResponse, keep_alive: bool) -> Next {
    if !keep_alive {
        resp.close = true;
    }
    let close = resp.close;
    if client.write_all(resp.to_bytes()).await.is_err() || close {
        Next::Close
    } else {
        Next::KeepAlive
    }
}
