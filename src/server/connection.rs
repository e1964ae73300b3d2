//! One client connection: read requests one after another (keep-alive and pipelining), route
//! each, read its body and hand it to the proxy.
//!
//! Bytes after a request's body stay in the read buffer, so pipelined requests are served in
//! order. Waits are bounded: the idle keep-alive wait, the head (a slow-header client cannot
//! hold a connection), and each read of the body.

use super::body_reader::{read_body, BodyError};
use super::ctx::WorkerCtx;
use crate::config::RouteMatch;
use crate::http1::{Framing, HeadError, ReadBuf, RequestHead};
use crate::proxy::handler::{handle, Next};
use crate::proxy::ErrorResponse;
use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use std::rc::Rc;
use std::time::Instant;

/// Body limit for requests that match no AI plugin (read only to keep the connection usable).
const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A client connection and the bytes read from it but not yet used (a pipelined request).
pub struct Client {
    pub stream: TcpStream,
    pub buf: ReadBuf,
}

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

pub async fn serve(ctx: Rc<WorkerCtx>, mut stream: TcpStream) {
    if ctx.open_connections.get() >= ctx.settings.max_connections {
        // Refuse politely rather than run out of memory or descriptors.
        let resp = ErrorResponse::new(503, "too many open connections, retry later").closing();
        let _ = stream.write_all(resp.to_bytes()).await;
        return;
    }
    let _open = Open::new(&ctx);
    let _ = stream.set_nodelay(true);
    let mut client = Client {
        stream,
        // Grows for large bodies; idle keep-alive and streaming connections stay small.
        buf: ReadBuf::with_capacity(4 * 1024),
    };
    loop {
        let head = match read_head(&ctx, &mut client.stream, &mut client.buf).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(resp) => {
                let _ = client.stream.write_all(resp.to_bytes()).await;
                return;
            }
        };
        let started = Instant::now();
        ctx.in_flight.set(ctx.in_flight.get() + 1);
        let next = serve_one(&ctx, &mut client, head, started).await;
        ctx.in_flight.set(ctx.in_flight.get() - 1);
        if next == Next::Close || ctx.shutting_down.get() {
            return;
        }
    }
}

/// Waits for the next request head. `Ok(None)`: the client closed or idled out between requests.
async fn read_head(
    ctx: &WorkerCtx,
    stream: &mut TcpStream,
    buf: &mut ReadBuf,
) -> Result<Option<RequestHead>, ErrorResponse> {
    let s = &ctx.settings;
    if buf.is_empty() {
        match monoio::time::timeout(s.keepalive_timeout, buf.fill(stream)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Ok(None),
        }
    }
    let deadline = monoio::time::Instant::now() + s.header_timeout;
    loop {
        match RequestHead::parse(buf.data(), &s.limits) {
            Ok(Some((head, used))) => {
                buf.consume(used);
                return Ok(Some(head));
            }
            Ok(None) => {}
            Err(HeadError::TooLarge(m)) => return Err(ErrorResponse::new(431, m).closing()),
            Err(e) => return Err(ErrorResponse::new(400, e.to_string()).closing()),
        }
        match monoio::time::timeout_at(deadline, buf.fill(stream)).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => return Ok(None),
            Err(_) => {
                return Err(ErrorResponse::new(408, "timed out reading the request head").closing())
            }
        }
    }
}

async fn serve_one(
    ctx: &WorkerCtx,
    client: &mut Client,
    head: RequestHead,
    started: Instant,
) -> Next {
    let (stream, buf) = (&mut client.stream, &mut client.buf);
    // The table this request started with; a reload swaps the worker's table, not this one.
    let table = ctx.table.borrow().clone();
    let matched = table.config.match_route(head.method(), head.path());
    let (plugin, limit, miss) = match matched {
        RouteMatch::Plugin { plugin, .. } => (Some(plugin), plugin.max_request_body_size, None),
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
        ),
        RouteMatch::NoRoute => (None, DEFAULT_BODY_LIMIT, Some(ErrorResponse::no_route())),
    };
    if let Framing::Length(n) = head.framing {
        if n > limit as u64 {
            // Refuse before reading (or inviting, with 100 Continue) a body we would not take.
            return reply(stream, ErrorResponse::too_large(limit).closing(), false).await;
        }
    }
    if head.expect_continue {
        let (res, _) = stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec())
            .await;
        if res.is_err() {
            return Next::Close;
        }
    }
    let body = match read_body(stream, buf, head.framing, limit, ctx.settings.body_timeout).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return reply(stream, ErrorResponse::too_large(limit).closing(), false).await
        }
        Err(BodyError::Malformed(m)) => {
            return reply(stream, ErrorResponse::new(400, m).closing(), false).await
        }
        Err(BodyError::Timeout) => {
            let resp = ErrorResponse::new(408, "timed out reading the request body").closing();
            return reply(stream, resp, false).await;
        }
        Err(BodyError::Closed) => return Next::Close,
    };
    if let Some(resp) = miss {
        return reply(stream, resp, head.keep_alive).await;
    }
    let Some(plugin) = plugin else {
        return Next::Close;
    };
    match handle(ctx, &table, plugin, &head, body, client, started).await {
        Ok(next) => next,
        Err(resp) => reply(&mut client.stream, resp, head.keep_alive).await,
    }
}

/// Writes an llmux error; the connection stays open only if both sides allow it.
async fn reply(stream: &mut TcpStream, mut resp: ErrorResponse, keep_alive: bool) -> Next {
    if !keep_alive {
        resp.close = true;
    }
    let close = resp.close;
    let (res, _) = stream.write_all(resp.to_bytes()).await;
    if res.is_err() || close {
        Next::Close
    } else {
        Next::KeepAlive
    }
}
