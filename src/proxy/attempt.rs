//! One try at one target, and what its failure means for failover.

use super::error::ErrorResponse;
use crate::config::{AiProxyConfig, FailoverCriterion, TargetConfig};
use crate::http1::ResponseHead;
use crate::server::connection::Client;
use crate::server::ctx::{Table, WorkerCtx};
use crate::upstream::exchange::connect;
use crate::upstream::{AttemptError, FailKind, PeerKey, RequestBuf, UpstreamConn};
use std::time::Duration;

/// Whether `failover_criteria` lets llmux try another target after `e`.
pub fn should_retry(
    e: &AttemptError,
    criteria: &[FailoverCriterion],
    non_idempotent: bool,
) -> bool {
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

pub fn upstream_error(e: &AttemptError) -> ErrorResponse {
    match e.kind {
        FailKind::Timeout => ErrorResponse::new(504, format!("upstream timed out: {e}")),
        _ => ErrorResponse::new(502, format!("upstream error: {e}")),
    }
}

/// One try at one target. A pooled connection that fails before any response byte is most
/// likely one the provider closed while idle, so the request is sent once more on a new one.
pub async fn attempt(
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

pub fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}
