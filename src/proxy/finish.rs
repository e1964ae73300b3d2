//! What a relayed request leaves behind: its tally and latency for the balancer, latency
//! histograms, a token-count job when the provider reported no usage, and a statistics log
//! line. Every request that reached a target ends here, once.

use super::relay::Relayed;
use super::request::ProxyRequest;
use super::Next;
use crate::config::TargetConfig;
use crate::http1::ClientConn;
use crate::limits::{self, Applied, Now};
use crate::provider::ResponseFilter;
use crate::sinks::access_log::{Counts, Entry, LoggedConsumer, PendingLine, Tried};
use crate::stats::limits::LimitExtra;
use crate::stats::{micros, LatencySample, Tally};
use crate::usage::{CountJob, Usage};
use crossbeam::channel::Sender;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Books how relaying target `t`'s answer ended. `listed`: the answer's status was in
/// `failover_criteria` and already counted as a failure, so it is not counted again.
pub(super) fn finish(
    req: &ProxyRequest<'_>,
    t: usize,
    listed: bool,
    relayed: Relayed,
    filter: &ResponseFilter,
    client: &ClientSide<'_>,
) -> Next {
    let target = req.target(t);
    match relayed {
        Relayed::Done { next, status } => {
            let e2e = req.timings.sent.elapsed();
            let usage = filter.usage(&mut req.ctx.usage_parser.borrow_mut());
            let tally = tally(target, usage);
            let line = target
                .log_statistics
                .then(|| statistics_line(req, t, status, filter, e2e, client));
            let mut line = line.flatten();
            book_access(req, target, &tally);
            if !listed {
                let mut balancer = req.plugin.balancer();
                balancer.succeeded(t, tally, Some(latency_sample(&tally, e2e)));
                if req.ctx.settings.metrics {
                    let ttft = req.timings.time_to_first_token();
                    balancer.stats.record_timings(t, micros(e2e), micros(ttft));
                }
                drop(balancer);
                if usage.is_none() && (200..300).contains(&status) {
                    line = count_later(req, target, filter, line);
                }
            }
            if let (Some(line), Some(log)) = (line, &req.ctx.access_log) {
                log.write(&line.complete(&counts(&tally)));
            }
            next
        }
        Relayed::ClientGone => {
            if !listed {
                req.plugin.balancer().abandoned(t);
            }
            Next::Close
        }
        Relayed::UpstreamFailed => {
            if !listed {
                req.plugin.balancer().failed(t);
            }
            Next::Close
        }
    }
}

/// What access control keeps of a relayed request: the consumer's spend (for `/metrics`), and
/// the tokens a token budget was checked for.
fn book_access(req: &ProxyRequest<'_>, target: &TargetConfig, tally: &Tally) {
    let (access, table) = (req.access, req.table);
    let consumer = access.identity.consumer;
    if let Some(c) = consumer.and_then(|c| Some((c, table.consumer(c)?))) {
        let (index, consumer) = c;
        req.ctx
            .consumer_usage
            .borrow_mut()
            .record(&target.key, index, &consumer.label, tally);
    }
    let Some(conf) = access
        .token_limit
        .and_then(|t| table.token_limits.get(t as usize))
    else {
        return;
    };
    let applied = Applied {
        conf,
        at: access.token_state,
        identity: &access.token_identity,
        now: Now::read(),
    };
    let mut key = req.ctx.limit_key.borrow_mut();
    let mut state = req.ctx.limits.borrow_mut();
    limits::spend_tokens(&mut state, &applied, target.provider, tally, &mut key);
}

/// When the tokenizer thread counts a request's tokens later, the token budget it was checked
/// for gets them too: the windows are fixed now, the amount sent to the merger once known.
fn deferred_limits(
    req: &ProxyRequest<'_>,
    target: &TargetConfig,
    (input_cost, output_cost): (f64, f64),
) -> Option<Box<dyn FnOnce(Option<Usage>) + Send>> {
    let access = req.access;
    let conf = access
        .token_limit
        .and_then(|t| req.table.token_limits.get(t as usize))?;
    let tx = req.ctx.merge.limit_extra.clone()?;
    let counters =
        limits::token_counters(conf, target.provider, &access.token_identity, Now::read());
    if counters.is_empty() {
        return None;
    }
    let limiter: Arc<str> = Arc::from(conf.id.as_str());
    let count = conf.count;
    Some(Box::new(move |usage| {
        let Some(u) = usage else { return };
        let amount = limits::tokens(count, &Tally::from_usage(&u, input_cost, output_cost));
        let extra = counters
            .into_iter()
            .map(|(identity, window)| LimitExtra {
                limiter: limiter.clone(),
                identity,
                window,
                amount,
            })
            .collect();
        let _ = tx.try_send(extra);
    }))
}

/// The request's tokens and cost (zero tokens when the provider reported none: the tokenizer
/// thread adds them later).
fn tally(target: &TargetConfig, usage: Option<Usage>) -> Tally {
    let mut tally = match usage {
        Some(u) => Tally::from_usage(
            &u,
            target.input_cost.unwrap_or(0.0),
            target.output_cost.unwrap_or(0.0),
        ),
        None => Tally::default(),
    };
    tally.requests = 1;
    tally
}

/// Kong's two latency units: end to end, and per completion token (`tpot`; end to end when
/// the provider reported no tokens).
fn latency_sample(tally: &Tally, e2e: Duration) -> LatencySample {
    let e2e_ms = e2e.as_secs_f64() * 1000.0;
    let tpot_ms = match tally.completion_tokens {
        0 => e2e_ms,
        n => e2e_ms / n as f64,
    };
    LatencySample { e2e_ms, tpot_ms }
}

/// The provider reported no usage: have the tokenizer thread count it, without waiting. A
/// statistics line goes with the job and is completed and written on the tokenizer thread
/// with the count; it comes back when there is no job to carry it (its counts are then 0).
fn count_later(
    req: &ProxyRequest<'_>,
    target: &TargetConfig,
    filter: &ResponseFilter,
    line: Option<PendingLine>,
) -> Option<PendingLine> {
    let Some(tokenizer) = &req.ctx.tokenizer else {
        return line;
    };
    let mut parser = req.ctx.usage_parser.borrow_mut();
    let Some(completion_text) = filter.completion_text(&mut parser) else {
        return line;
    };
    let prompt = parser.prompt(req.body);
    let costs = (
        target.input_cost.unwrap_or(0.0),
        target.output_cost.unwrap_or(0.0),
    );
    let log = match (line, &req.ctx.access_log) {
        (Some(line), Some(log)) => Some(deferred_write(line, log.sender(), costs)),
        _ => None,
    };
    let then: Option<Box<dyn FnOnce(Option<Usage>) + Send>> =
        match (log, deferred_limits(req, target, costs)) {
            (Some(a), Some(b)) => Some(Box::new(move |u: Option<Usage>| {
                b(u);
                a(u);
            })),
            (a, b) => a.or(b),
        };
    let job = CountJob {
        key: target.key.clone(),
        costs,
        model: target
            .model_name
            .as_deref()
            .or(req.client_model())
            .unwrap_or("")
            .to_string(),
        prompt_text: prompt.text,
        prompt_overhead: prompt.overhead,
        completion_text,
        consumer: req
            .access
            .identity
            .consumer
            .and_then(|c| req.table.consumer(c))
            .map(|c| Arc::from(c.label.as_str())),
        then,
    };
    // A full queue hands the job back: counting must never slow a worker down, so the line
    // is written at once without counts.
    match tokenizer.submit(job) {
        Ok(()) => None,
        Err(job) => {
            if let Some(then) = job.then {
                then(None);
            }
            None
        }
    }
}

/// Completes `line` with the tokenizer's count and hands it to the log writer (never blocks:
/// a full writer queue drops the line, as a worker's full buffer would be).
fn deferred_write(
    line: PendingLine,
    log: Sender<Vec<u8>>,
    (input_cost, output_cost): (f64, f64),
) -> Box<dyn FnOnce(Option<Usage>) + Send> {
    Box::new(move |usage| {
        let tally = usage.map_or_else(Tally::default, |u| {
            Tally::from_usage(&u, input_cost, output_cost)
        });
        let _ = log.try_send(line.complete(&counts(&tally)));
    })
}

fn counts(tally: &Tally) -> Counts {
    Counts {
        prompt_tokens: tally.prompt_tokens,
        completion_tokens: tally.completion_tokens,
        total_tokens: tally.total_tokens,
        cost: tally.cost,
    }
}

/// The client's side of a relayed request, for the statistics log.
pub(super) struct ClientSide<'a> {
    pub conn: &'a ClientConn,
    /// The connection's byte count before this response.
    pub written_before: u64,
}

/// Who called, for the statistics log.
fn logged_consumer<'a>(req: &ProxyRequest<'a>) -> Option<LoggedConsumer<'a>> {
    let identity = req.access.identity;
    let c = req.table.consumer(identity.consumer?)?;
    Some(LoggedConsumer {
        id: &c.id,
        username: c.username.as_deref(),
        custom_id: c.custom_id.as_deref(),
        credential: identity
            .credential
            .and_then(|k| req.table.credential(k))
            .map(|k| k.id.as_str()),
    })
}

/// The request's statistics line, rendered up to its counts (`None` without a log).
fn statistics_line(
    req: &ProxyRequest<'_>,
    t: usize,
    status: u16,
    filter: &ResponseFilter,
    e2e: Duration,
    client: &ClientSide<'_>,
) -> Option<PendingLine> {
    req.ctx.access_log.as_ref()?;
    let target = req.target(t);
    let tried = req
        .tried
        .as_slice()
        .iter()
        .filter_map(|&i| req.config().targets.get(i))
        .map(|t| Tried {
            provider: t.provider.as_str(),
            model: t.model_name.as_deref().unwrap_or(""),
            host: &t.upstream.host,
            port: t.upstream.port,
            scheme: if t.upstream.tls { "https" } else { "http" },
            route_type: t.route_type.as_str(),
        })
        .collect();
    let response = target.log_payloads.then(|| filter.logged_payload());
    // Kong's request_model is the model sent upstream; its response_model the one the
    // response names, else the request's.
    let request_model = target
        .model_name
        .as_deref()
        .or(req.client_model())
        .unwrap_or("UNSPECIFIED");
    let response_model = filter.response_model(&mut req.ctx.usage_parser.borrow_mut());
    let client_ip = client.conn.peer_ip();
    let entry = Entry {
        time_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
        client_ip: &client_ip,
        method: req.head.method(),
        path: req.head.path(),
        request_size: req.body.len(),
        status,
        response_size: client.conn.bytes_written() - client.written_before,
        plugin_id: &req.config().id,
        provider: target.provider.as_str(),
        request_model,
        response_model: response_model.as_deref().unwrap_or(request_model),
        streaming: req.streaming(),
        llm_latency: e2e,
        time_to_first_token_ms: req.timings.time_to_first_token().as_secs_f64() * 1000.0,
        proxy_overhead_ms: req.timings.overhead().as_secs_f64() * 1000.0,
        tried,
        payloads: response.as_ref().map(|r| (req.body.as_slice(), r.as_ref())),
        consumer: logged_consumer(req),
    };
    Some(entry.render())
}
