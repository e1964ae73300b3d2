//! Relaying the chosen response to the client, and what it taught us.

use super::attempt::ms;
use super::handler::Next;
use super::relay::{
    client_framing, client_head, relay, AddedHeaders, ClientFraming, Observer, RelayEnd,
};
use crate::config::{AiProxyConfig, TargetConfig};
use crate::http1::{RequestHead, ResponseHead};
use crate::server::ctx::WorkerCtx;
use crate::upstream::UpstreamConn;
use crate::usage::SseFilter;
use monoio::net::TcpStream;

/// Timings and flags the response head and relay need.
pub struct Timing {
    pub upstream_ms: u128,
    pub proxy_ms: u128,
    pub hide_usage: bool,
}

/// How relaying the chosen response ended, for the connection loop and the balancer.
pub enum Relayed {
    Done(Next, Outcome),
    ClientGone,
    UpstreamFailed,
}

/// What a completed response taught us about its target.
pub struct Outcome {
    pub usage: Option<crate::usage::Usage>,
    /// Kept for the tokenizer fallback and the statistics log.
    pub observer: Observer,
}

#[allow(clippy::too_many_arguments)]
pub async fn respond(
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
