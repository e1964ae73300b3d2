//! One proxied request: validate the body, choose candidates, try targets in balancer order
//! with failover, relay the first usable answer.

use super::error::ErrorResponse;
use super::forward::{body_inserts, upstream_head};
use super::relay::{client_framing, client_head, relay, AddedHeaders, ClientFraming, RelayEnd};
use super::select::candidates;
use crate::balancer::PluginBalancer;
use crate::body::{push_quoted, BodyFacts, ScanError, SplicedBody};
use crate::config::{AiProxyConfig, FailoverCriterion, ResponseStreaming, RouteType, TargetConfig};
use crate::http1::{RequestHead, ResponseHead};
use crate::server::worker::{Table, WorkerCtx};
use crate::upstream::exchange::connect;
use crate::upstream::{AttemptError, FailKind, PeerKey, RequestBuf, UpstreamConn};
use monoio::net::TcpStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What the connection loop should do after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    KeepAlive,
    Close,
}

/// Proxies one request whose body has been read and writes the whole response.
pub async fn handle(
    ctx: &WorkerCtx,
    table: &Table,
    plugin: &AiProxyConfig,
    head: &RequestHead,
    body: Vec<u8>,
    client: &mut TcpStream,
    started: Instant,
) -> Result<Next, ErrorResponse> {
    let facts = ctx.scanner.borrow_mut().scan(&body).map_err(scan_error)?;
    let force_stream = match plugin.response_streaming {
        ResponseStreaming::Deny if facts.stream => return Err(ErrorResponse::streaming_denied()),
        ResponseStreaming::Always => !facts.stream,
        _ => false,
    };
    let model = facts.model.as_ref().map(|m| m.value.as_str());
    let cands = candidates(plugin, model)?;
    check_prompts(&plugin.targets[cands[0]], &facts)?;

    let body = Rc::new(body);
    let criteria = &plugin.balancer.failover_criteria;
    let non_idempotent = criteria.contains(&FailoverCriterion::NonIdempotent);
    let max_attempts = 1 + plugin.balancer.retries as usize;
    let mut tried: Vec<usize> = Vec::with_capacity(cands.len());
    let mut last_error: Option<AttemptError> = None;

    while tried.len() < max_attempts {
        let pick = with_balancer(ctx, plugin, |b| b.pick(plugin, &cands, &tried));
        let Some(t) = pick else { break };
        tried.push(t);
        let target = &plugin.targets[t];
        let request = build_request(head, target, &facts, force_stream, &body);
        let sent_at = Instant::now();
        let (conn, up_head) = match attempt(ctx, table, plugin, target, request).await {
            Ok(ok) => ok,
            Err(e) => {
                with_balancer(ctx, plugin, |b| b.record_failure(t));
                let retry = should_retry(&e, criteria, non_idempotent);
                last_error = Some(e);
                if retry {
                    continue;
                }
                break;
            }
        };
        let status_listed = criteria.contains(&FailoverCriterion::Http(up_head.status));
        let more_left = tried.len() < max_attempts && tried.len() < cands.len();
        if status_listed {
            with_balancer(ctx, plugin, |b| b.record_failure(t));
            if non_idempotent && more_left {
                last_error = None;
                continue; // the connection is dropped: its body was not read
            }
        }
        let upstream_ms = sent_at.elapsed().as_millis();
        let proxy_ms = sent_at.duration_since(started).as_millis();
        let next = respond(
            ctx,
            plugin,
            target,
            head,
            conn,
            &up_head,
            client,
            model,
            upstream_ms,
            proxy_ms,
        )
        .await;
        match next {
            Relayed::Done(n) => {
                if !status_listed {
                    with_balancer(ctx, plugin, |b| b.record_success(t));
                }
                return Ok(n);
            }
            Relayed::UpstreamFailed => {
                with_balancer(ctx, plugin, |b| b.record_failure(t));
                return Ok(Next::Close);
            }
        }
    }
    // Nothing tried at all means every candidate's breaker is open.
    Err(match last_error {
        Some(e) => upstream_error(&e),
        None => ErrorResponse::no_healthy(),
    })
}

/// Runs `f` on this worker's balancer for `plugin`, creating it on first use.
fn with_balancer<R>(
    ctx: &WorkerCtx,
    plugin: &AiProxyConfig,
    f: impl FnOnce(&mut PluginBalancer) -> R,
) -> R {
    let mut map = ctx.balancers.borrow_mut();
    match map.get_mut(&plugin.id) {
        Some(b) => f(b),
        None => {
            let mut b = PluginBalancer::new(plugin);
            let r = f(&mut b);
            map.insert(plugin.id.clone(), b);
            r
        }
    }
}

/// How relaying the chosen response ended, for the connection loop and the breaker.
enum Relayed {
    Done(Next),
    UpstreamFailed,
}

fn scan_error(e: ScanError) -> ErrorResponse {
    match e {
        ScanError::ModelNotString => ErrorResponse::new(400, "model must be a string"),
        ScanError::DuplicateModel => {
            ErrorResponse::new(400, "request body has more than one model field")
        }
        _ => ErrorResponse::bad_json(),
    }
}

fn check_prompts(target: &TargetConfig, facts: &BodyFacts) -> Result<(), ErrorResponse> {
    let ok = match target.route_type {
        RouteType::Chat => facts.messages_non_empty,
        RouteType::Completions => facts.has_prompt,
        RouteType::Embeddings => facts.has_input,
    };
    if ok {
        Ok(())
    } else {
        Err(ErrorResponse::no_prompts())
    }
}

fn build_request(
    head: &RequestHead,
    target: &TargetConfig,
    facts: &BodyFacts,
    force_stream: bool,
    body: &Rc<Vec<u8>>,
) -> RequestBuf {
    let param = target.auth.body_param.as_ref().map(|(name, value)| {
        let mut quoted = Vec::with_capacity(value.len() + 2);
        push_quoted(value, &mut quoted);
        (name.clone(), String::from_utf8_lossy(&quoted).into_owned())
    });
    let inserts = body_inserts(target, facts, &param);
    let mut spliced = SplicedBody::build(body.len(), facts, target.model_name.as_deref(), &inserts);
    if force_stream {
        spliced.force_stream(facts);
    }
    let up_head = upstream_head(head, target, spliced.len());
    RequestBuf::new(up_head, body.clone(), &spliced)
}

/// Whether `failover_criteria` lets llmux try another target after `e`.
fn should_retry(e: &AttemptError, criteria: &[FailoverCriterion], non_idempotent: bool) -> bool {
    if e.sent && !non_idempotent {
        return false;
    }
    let criterion = match e.kind {
        FailKind::Connect | FailKind::Closed => FailoverCriterion::Error,
        FailKind::Timeout => FailoverCriterion::Timeout,
        FailKind::InvalidHeader => FailoverCriterion::InvalidHeader,
    };
    criteria.contains(&criterion)
}

fn upstream_error(e: &AttemptError) -> ErrorResponse {
    match e.kind {
        FailKind::Timeout => ErrorResponse::new(504, format!("upstream timed out: {e}")),
        _ => ErrorResponse::new(502, format!("upstream error: {e}")),
    }
}

/// One try at one target. A pooled connection that fails before any response byte is most
/// likely one the provider closed while idle, so the request is sent once more on a new one.
async fn attempt(
    ctx: &WorkerCtx,
    table: &Table,
    plugin: &AiProxyConfig,
    target: &TargetConfig,
    request: RequestBuf,
) -> Result<(UpstreamConn, ResponseHead), AttemptError> {
    let b = &plugin.balancer;
    let key = PeerKey {
        tls: target.upstream.tls,
        host: target.upstream.host.clone(),
        port: target.upstream.port,
    };
    let pooled = ctx.pool.borrow_mut().take(&key);
    let mut request = request;
    if let Some(mut conn) = pooled {
        let (sent, back) = conn.send(request, ms(b.write_timeout_ms)).await;
        request = back;
        let result = match sent {
            Ok(()) => conn.read_head(ms(b.read_timeout_ms)).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(head) => return Ok((conn, head)),
            Err(e) if e.kind == FailKind::Closed && conn.buf.is_empty() => {}
            Err(e) => return Err(e),
        }
    }
    let addrs = table
        .resolved
        .addrs(&key.host, key.port)
        .map_err(|detail| AttemptError {
            kind: FailKind::Connect,
            sent: false,
            peer: key.to_string(),
            detail,
        })?;
    let mut conn = connect(&key, addrs, &ctx.tls, ms(b.connect_timeout_ms)).await?;
    let (sent, _) = conn.send(request, ms(b.write_timeout_ms)).await;
    sent?;
    let head = conn.read_head(ms(b.read_timeout_ms)).await?;
    Ok((conn, head))
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[allow(clippy::too_many_arguments)]
async fn respond(
    ctx: &WorkerCtx,
    plugin: &AiProxyConfig,
    target: &TargetConfig,
    head: &RequestHead,
    mut conn: UpstreamConn,
    up_head: &ResponseHead,
    client: &mut TcpStream,
    client_model: Option<&str>,
    upstream_ms: u128,
    proxy_ms: u128,
) -> Relayed {
    let framing = client_framing(up_head.framing, head.version == 1);
    let keep_alive = head.keep_alive && framing != ClientFraming::UntilClose;
    let model_label = (up_head.status == 200 && plugin.model_name_header).then(|| {
        let name = target.model_name.as_deref().or(client_model).unwrap_or("");
        format!("{}/{}", target.provider.as_str(), name)
    });
    let added = AddedHeaders {
        model: model_label.as_deref(),
        upstream_latency_ms: upstream_ms,
        proxy_latency_ms: proxy_ms,
    };
    let out = client_head(up_head, framing, keep_alive, &added);
    let read_timeout = ms(plugin.balancer.read_timeout_ms);
    match relay(&mut conn, up_head, client, out, framing, read_timeout).await {
        RelayEnd::Complete { reusable } => {
            if reusable {
                ctx.pool.borrow_mut().put(conn);
            }
            Relayed::Done(if keep_alive {
                Next::KeepAlive
            } else {
                Next::Close
            })
        }
        RelayEnd::UpstreamFailed(_) => Relayed::UpstreamFailed,
        RelayEnd::ClientGone => Relayed::Done(Next::Close),
    }
}
