//! What a relayed request leaves behind: its tally and latency for the balancer, latency
//! histograms, a token-count job when the provider reported no usage, and a statistics log
//! line. Every request that reached a target ends here, once.

use super::relay::Relayed;
use super::request::ProxyRequest;
use super::Next;
use crate::config::TargetConfig;
use crate::provider::ResponseFilter;
use crate::sinks::access_log::{Entry, Tried};
use crate::stats::{micros, LatencySample, Tally};
use crate::usage::{CountJob, Usage};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Books how relaying target `t`'s answer ended. `listed`: the answer's status was in
/// `failover_criteria` and already counted as a failure, so it is not counted again.
pub(super) fn finish(
    req: &ProxyRequest<'_>,
    t: usize,
    listed: bool,
    relayed: Relayed,
    filter: &ResponseFilter,
) -> Next {
    let target = req.target(t);
    match relayed {
        Relayed::Done { next, status } => {
            let e2e = req.timings.sent.elapsed();
            let usage = filter.usage(&mut req.ctx.usage_parser.borrow_mut());
            let tally = tally(target, usage);
            if !listed {
                let mut balancer = req.plugin.balancer();
                balancer.succeeded(t, tally, Some(latency_sample(&tally, e2e)));
                if req.ctx.settings.metrics {
                    let ttft = req.timings.time_to_first_token();
                    balancer.stats.record_timings(t, micros(e2e), micros(ttft));
                }
                drop(balancer);
                if usage.is_none() && (200..300).contains(&status) {
                    count_later(req, target, filter);
                }
            }
            if target.log_statistics {
                log_statistics(req, t, status, &tally, filter, e2e);
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

/// The provider reported no usage: have the tokenizer thread count it, without waiting.
fn count_later(req: &ProxyRequest<'_>, target: &TargetConfig, filter: &ResponseFilter) {
    let Some(tokenizer) = &req.ctx.tokenizer else {
        return;
    };
    let mut parser = req.ctx.usage_parser.borrow_mut();
    let Some(completion_text) = filter.completion_text(&mut parser) else {
        return;
    };
    let prompt = parser.prompt(req.body);
    let job = CountJob {
        key: target.key.clone(),
        costs: (
            target.input_cost.unwrap_or(0.0),
            target.output_cost.unwrap_or(0.0),
        ),
        model: target
            .model_name
            .as_deref()
            .or(req.client_model())
            .unwrap_or("")
            .to_string(),
        prompt_text: prompt.text,
        prompt_overhead: prompt.overhead,
        completion_text,
    };
    // A full queue drops the job: counting must never slow a worker down.
    let _ = tokenizer.submit(job);
}

/// Writes the request's statistics line to this worker's log buffer (never blocks).
fn log_statistics(
    req: &ProxyRequest<'_>,
    t: usize,
    status: u16,
    tally: &Tally,
    filter: &ResponseFilter,
    e2e: Duration,
) {
    let Some(log) = &req.ctx.access_log else {
        return;
    };
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
    let client_model = req.client_model();
    let entry = Entry {
        time_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
        method: req.head.method(),
        path: req.head.path(),
        request_size: req.body.len(),
        status,
        plugin_id: &req.config().id,
        provider: target.provider.as_str(),
        request_model: client_model.unwrap_or(""),
        response_model: target.model_name.as_deref().or(client_model).unwrap_or(""),
        streaming: req.streaming(),
        prompt_tokens: tally.prompt_tokens,
        completion_tokens: tally.completion_tokens,
        total_tokens: tally.total_tokens,
        cost: tally.cost,
        llm_latency_ms: e2e.as_secs_f64() * 1000.0,
        time_to_first_token_ms: req.timings.time_to_first_token().as_secs_f64() * 1000.0,
        proxy_overhead_ms: req.timings.overhead().as_secs_f64() * 1000.0,
        tried,
        payloads: response.map(|r| (req.body.as_slice(), r)),
    };
    log.write(&entry);
}
