//! What a finished request leaves behind: its tally and latency for the balancer, a token count
//! job when the provider reported no usage, and a statistics log line.

use super::relay::Observer;
use super::respond::Outcome;
use crate::config::{AiProxyConfig, TargetConfig};
use crate::http1::RequestHead;
use crate::metrics::access_log::{Entry, Tried};
use crate::server::ctx::WorkerCtx;
use crate::stats::{LatencySample, Tally};
use crate::usage::CountJob;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

impl Outcome {
    /// The tally and latency sample to record for `target`.
    pub fn accounting(&self, target: &TargetConfig, e2e_ms: f64) -> (Tally, LatencySample) {
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
pub fn count_later(
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

/// A relayed request, as the statistics log describes it.
pub struct Finished<'a> {
    pub head: &'a RequestHead,
    pub body: &'a [u8],
    pub plugin: &'a AiProxyConfig,
    pub target: &'a TargetConfig,
    pub tried: &'a [usize],
    pub status: u16,
    pub client_model: Option<&'a str>,
    pub streaming: bool,
    pub overhead: Duration,
    pub ttft: Duration,
    pub llm_latency_ms: f64,
}

/// Writes the request's statistics line to this worker's log buffer (never blocks).
pub fn log_statistics(ctx: &WorkerCtx, f: &Finished<'_>, tally: &Tally, outcome: &Outcome) {
    let Some(log) = &ctx.access_log else {
        return;
    };
    let tried = f
        .tried
        .iter()
        .filter_map(|i| f.plugin.targets.get(*i))
        .map(|t| Tried {
            provider: t.provider.as_str(),
            model: t.model_name.as_deref().unwrap_or(""),
            host: &t.upstream.host,
            port: t.upstream.port,
            scheme: if t.upstream.tls { "https" } else { "http" },
            route_type: t.route_type.as_str(),
        })
        .collect();
    let response_text;
    let payloads = if f.target.log_payloads {
        let response: &[u8] = match &outcome.observer {
            Observer::Json(b) => b,
            Observer::Sse(filter) => {
                response_text = filter.completion_text().to_string();
                response_text.as_bytes()
            }
            Observer::Off => b"",
        };
        Some((f.body, response))
    } else {
        None
    };
    let entry = Entry {
        time_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
        method: f.head.method(),
        path: f.head.path(),
        request_size: f.body.len(),
        status: f.status,
        plugin_id: &f.plugin.id,
        provider: f.target.provider.as_str(),
        request_model: f.client_model.unwrap_or(""),
        response_model: f
            .target
            .model_name
            .as_deref()
            .or(f.client_model)
            .unwrap_or(""),
        streaming: f.streaming,
        prompt_tokens: tally.prompt_tokens,
        completion_tokens: tally.completion_tokens,
        total_tokens: tally.total_tokens,
        cost: tally.cost,
        llm_latency_ms: f.llm_latency_ms,
        time_to_first_token_ms: f.ttft.as_secs_f64() * 1000.0,
        proxy_overhead_ms: f.overhead.as_secs_f64() * 1000.0,
        tried,
        payloads,
    };
    log.write(&entry);
}
