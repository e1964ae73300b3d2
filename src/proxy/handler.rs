//! One proxied request: validate the body, choose candidates, try targets in balancer order
//! with failover, relay the first usable answer.

use super::error::ErrorResponse;
use super::forward::{body_inserts, upstream_head};
use super::relay::{
    client_framing, client_head, relay, AddedHeaders, ClientFraming, Observer, RelayEnd,
};
use super::select::candidates;
use crate::body::{push_quoted, BodyFacts, ScanError, SplicedBody};
use crate::config::{AiProxyConfig, FailoverCriterion, ResponseStreaming, RouteType, TargetConfig};
use crate::http1::{RequestHead, ResponseHead};
use crate::server::connection::Client;
use crate::server::ctx::{Table, WorkerCtx};
use crate::stats::{LatencySample, Tally};
use crate::upstream::exchange::connect;
use crate::upstream::{AttemptError, FailKind, PeerKey, RequestBuf, UpstreamConn};
use crate::usage::{CountJob, SseFilter};
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
    client: &mut Client,
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
    let hash_key = head.header(&plugin.balancer.hash_on_header);

    while tried.len() < max_attempts {
        let pick = ctx.with_balancer(table, plugin, |b| b.pick(&cands, &tried, hash_key));
        let Some(t) = pick else { break };
        tried.push(t);
        let target = &plugin.targets[t];
        let (request, hide_usage) = build_request(head, target, &facts, force_stream, &body);
        let sent_at = Instant::now();
        let (conn, up_head) = match attempt(ctx, table, plugin, target, request, client).await {
            Ok(ok) => ok,
            Err(e) if e.kind == FailKind::ClientGone => {
                ctx.with_balancer(table, plugin, |b| b.abandoned(t));
                return Ok(Next::Close);
            }
            Err(e) => {
                ctx.with_balancer(table, plugin, |b| b.failed(t));
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
            ctx.with_balancer(table, plugin, |b| b.failed(t));
            if non_idempotent && more_left {
                last_error = None;
                continue; // the connection is dropped: its body was not read
            }
        }
        let upstream_ms = sent_at.elapsed().as_millis();
        let proxy_ms = sent_at.duration_since(started).as_millis();
        let timing = Timing {
            upstream_ms,
            proxy_ms,
            hide_usage,
        };
        let relayed = respond(
            ctx,
            plugin,
            target,
            head,
            conn,
            &up_head,
            &mut client.stream,
            model,
            timing,
        )
        .await;
        let latency = sent_at.elapsed().as_secs_f64() * 1000.0;
        match relayed {
            Relayed::Done(next, outcome) => {
                if !status_listed {
                    let (tally, sample) = outcome.accounting(target, latency);
                    let key = ctx.with_balancer(table, plugin, |b| {
                        b.succeeded(t, tally, Some(sample));
                        b.stats.keys().get(t).cloned()
                    });
                    if outcome.usage.is_none() && (200..300).contains(&up_head.status) {
                        if let Some(key) = key {
                            count_later(ctx, key, target, model, &body, &outcome);
                        }
                    }
                }
                return Ok(next);
            }
            Relayed::ClientGone => {
                if !status_listed {
                    ctx.with_balancer(table, plugin, |b| b.abandoned(t));
                }
                return Ok(Next::Close);
            }
            Relayed::UpstreamFailed => {
                if !status_listed {
                    ctx.with_balancer(table, plugin, |b| b.failed(t));
                }
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

/// How relaying the chosen response ended, for the connection loop and the balancer.
enum Relayed {
    Done(Next, Outcome),
    ClientGone,
    UpstreamFailed,
}

/// What a completed response taught us about its target.
struct Outcome {
    usage: Option<crate::usage::Usage>,
    /// Kept for the tokenizer fallback when the provider reported no usage.
    observer: Observer,
}

impl Outcome {
    /// The tally and latency sample to record for `target`.
    fn accounting(&self, target: &TargetConfig, e2e_ms: f64) -> (Tally, LatencySample) {
        let mut tally = match &self.usage {
            Some(u) => Tally::from_usage(
                u,
                target.input_cost.unwrap_or(0.0),
                target.output_cost.unwrap_or(0.0),
            ),
            None => Tally::default(),
        };
        tally.requests = 1;
        let completion = tally.completion_tokens;
        let tpot_ms = if completion > 0 {
            e2e_ms / completion as f64
        } else {
            e2e_ms
        };
        (tally, LatencySample { e2e_ms, tpot_ms })
    }
}

/// The provider reported no usage: have the tokenizer thread count it, without waiting.
fn count_later(
    ctx: &WorkerCtx,
    key: crate::stats::TargetKey,
    target: &TargetConfig,
    client_model: Option<&str>,
    body: &[u8],
    outcome: &Outcome,
) {
    let Some(tokenizer) = &ctx.tokenizer else {
        return;
    };
    let mut parser = ctx.usage_parser.borrow_mut();
    let completion_text = match &outcome.observer {
        Observer::Json(resp) => parser.completion_text(resp).unwrap_or_default(),
        Observer::Sse(filter) => filter.completion_text().to_string(),
        Observer::Off => return,
    };
    let prompt = parser.prompt(body);
    let job = CountJob {
        key,
        costs: (
            target.input_cost.unwrap_or(0.0),
            target.output_cost.unwrap_or(0.0),
        ),
        model: target
            .model_name
            .as_deref()
            .or(client_model)
            .unwrap_or("")
            .to_string(),
        prompt_text: prompt.text,
        prompt_overhead: prompt.overhead,
        completion_text,
    };
    // A full queue drops the job: counting must never slow a worker down.
    let _ = tokenizer.submit(job);
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
) -> (RequestBuf, bool) {
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
    // Ask a stream for its usage so it can be counted; the client, who did not ask, will not
    // see the extra event (the relay hides it).
    let streaming = facts.stream || force_stream;
    let hide_usage = streaming
        && !facts.include_usage
        && target.route_type != RouteType::Embeddings
        && spliced.ensure_include_usage(facts);
    let up_head = upstream_head(head, target, spliced.len());
    (RequestBuf::new(up_head, body.clone(), &spliced), hide_usage)
}

/// Timings and flags the response head and relay need.
struct Timing {
    upstream_ms: u128,
    proxy_ms: u128,
    hide_usage: bool,
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
        FailKind::ClientGone => return false,
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
    client: &mut Client,
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
            Ok(()) => {
                conn.read_head_watching(ms(b.read_timeout_ms), &mut client.stream, &mut client.buf)
                    .await
            }
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
    let head = conn
        .read_head_watching(ms(b.read_timeout_ms), &mut client.stream, &mut client.buf)
        .await?;
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
    timing: Timing,
) -> Relayed {
    let content_type = up_head.header("content-type").unwrap_or(b"");
    let is_sse = content_type.starts_with(b"text/event-stream");
    let mut observer = if is_sse {
        Observer::Sse(Box::new(SseFilter::new(timing.hide_usage)))
    } else if (200..300).contains(&up_head.status) && content_type.starts_with(b"application/json")
    {
        Observer::Json(Vec::new())
    } else {
        Observer::Off
    };
    let rewrites = is_sse && timing.hide_usage;
    let framing = client_framing(up_head.framing, head.version == 1, rewrites);
    let keep_alive = head.keep_alive && framing != ClientFraming::UntilClose;
    let model_label = (up_head.status == 200 && plugin.model_name_header).then(|| {
        let name = target.model_name.as_deref().or(client_model).unwrap_or("");
        format!("{}/{}", target.provider.as_str(), name)
    });
    let added = AddedHeaders {
        model: model_label.as_deref(),
        upstream_latency_ms: timing.upstream_ms,
        proxy_latency_ms: timing.proxy_ms,
    };
    let out = client_head(up_head, framing, keep_alive, &added);
    let read_timeout = ms(plugin.balancer.read_timeout_ms);
    match relay(
        &mut conn,
        up_head,
        client,
        out,
        framing,
        read_timeout,
        &mut observer,
    )
    .await
    {
        RelayEnd::Complete { reusable } => {
            if reusable {
                ctx.pool.borrow_mut().put(conn);
            }
            let next = if keep_alive {
                Next::KeepAlive
            } else {
                Next::Close
            };
            let usage = match &observer {
                Observer::Json(body) => ctx.usage_parser.borrow_mut().parse(body),
                Observer::Sse(filter) => filter.usage(),
                Observer::Off => None,
            };
            Relayed::Done(next, Outcome { usage, observer })
        }
        RelayEnd::UpstreamFailed(_) => Relayed::UpstreamFailed,
        RelayEnd::ClientGone => Relayed::ClientGone,
    }
}
