//! One proxied request: validate the body, choose candidates, try targets in balancer order
//! with failover, relay the first usable answer.

use super::accounting::{count_later, log_statistics, Finished};
use super::attempt::{attempt, should_retry, upstream_error};
use super::error::ErrorResponse;
use super::forward::{body_inserts, upstream_head};
use super::respond::{respond, Relayed, Timing};
use super::select::candidates;
use crate::body::{quoted, BodyFacts, ScanError, SplicedBody};
use crate::config::{AiProxyConfig, FailoverCriterion, ResponseStreaming, RouteType, TargetConfig};
use crate::http1::RequestHead;
use crate::metrics::micros;
use crate::server::connection::Client;
use crate::server::ctx::{Table, WorkerCtx};
use crate::upstream::{AttemptError, FailKind, RequestBuf};
use std::rc::Rc;
use std::time::Instant;

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
        let overhead = sent_at.duration_since(started);
        let proxy_ms = overhead.as_millis();
        let ttft = started.elapsed();
        if ctx.settings.metrics {
            let mut hists = ctx.core_hists.borrow_mut();
            hists.overhead.saturating_record(micros(overhead).max(1));
            hists.ttft.saturating_record(micros(ttft).max(1));
        }
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
                let (tally, sample) = outcome.accounting(target, latency);
                if !status_listed {
                    let key = ctx.with_balancer(table, plugin, |b| {
                        b.succeeded(t, tally, Some(sample));
                        if ctx.settings.metrics {
                            b.stats
                                .record_timings(t, micros(sent_at.elapsed()), micros(ttft));
                        }
                        b.stats.keys().get(t).cloned()
                    });
                    if outcome.usage.is_none() && (200..300).contains(&up_head.status) {
                        if let Some(key) = key {
                            count_later(ctx, key, target, model, &body, &outcome);
                        }
                    }
                }
                if target.log_statistics {
                    let finished = Finished {
                        head,
                        body: &body,
                        plugin,
                        target,
                        tried: &tried,
                        status: up_head.status,
                        client_model: model,
                        streaming: facts.stream || force_stream,
                        overhead,
                        ttft,
                        llm_latency_ms: latency,
                    };
                    log_statistics(ctx, &finished, &tally, &outcome);
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
    let param = target
        .auth
        .body_param
        .as_ref()
        .map(|(name, value)| (name.clone(), quoted(value)));
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
