//! One try at one target: build its request, send it (on a pooled or new connection), read
//! the response head while watching the client, and say what that means for failover.
//!
//! Bookkeeping for a failed attempt (the balancer's failure count, the circuit breaker) is done
//! here, where the failure is known; a successful one is finished in `finish`.

use super::error::ErrorResponse;
use super::request::ProxyRequest;
use crate::config::FailoverCriterion;
use crate::ctx::{IoScratch, WorkerCtx};
use crate::http1::{ClientConn, ResponseHead};
use crate::provider::{self, Provider, ResponsePlan};
use crate::stats::micros;
use crate::upstream::exchange::connect;
use crate::upstream::{AttemptError, FailKind, HttpPeer, PeerOptions, RequestBuf, UpstreamConn};
use std::time::Instant;

/// How one attempt ended.
// Returned once per attempt and taken apart at once; boxing the answer would cost a heap
// allocation per request to save a move of a few hundred bytes.
#[allow(clippy::large_enum_variant)]
pub(super) enum Attempt {
    /// The target answered; this is the answer the client gets.
    Answered(Answer),
    /// Try another target. `None`: the target answered with a status listed in
    /// `failover_criteria`, so there is no connection error to report if none is left.
    Retry(Option<AttemptError>),
    /// The attempt failed and `failover_criteria` do not allow another.
    GiveUp(AttemptError),
    /// The client went away while llmux waited.
    ClientGone,
}

/// A response head (in the scratch's `response_head`) ready to relay, with the connection its
/// body will come from.
pub(super) struct Answer {
    pub conn: UpstreamConn,
    pub driver: &'static dyn Provider,
    pub plan: ResponsePlan,
    /// The status is listed in `failover_criteria` (already counted as a failure) but no
    /// retry was left, so it is relayed as it is.
    pub listed: bool,
}

/// Tries target `t`: the driver builds the request in the scratch's storage, the response
/// head lands in the scratch's `response_head`.
pub(super) async fn run(
    req: &mut ProxyRequest<'_>,
    t: usize,
    io: &mut IoScratch,
    client: &mut ClientConn,
) -> Result<Attempt, ErrorResponse> {
    let driver = provider::driver(req.target(t).provider);
    let storage = io.upstream.take().unwrap_or_default();
    let outbound = match driver.request(&req.call(t), storage) {
        Ok(o) => o,
        Err(refusal) => {
            req.plugin.balancer().abandoned(t);
            return Err(ErrorResponse::new(refusal.status, refusal.message));
        }
    };
    req.timings.sent = Instant::now();
    let peer = &req.plugin.peers[t];
    let options = req.plugin.options;
    let head = &mut io.response_head;
    let (exchanged, request) =
        exchange(req.ctx, peer, options, outbound.request, head, client).await;
    // The request's storage serves the next attempt or request.
    io.upstream = Some(request);
    let criteria = &req.config().balancer.failover_criteria;
    let non_idempotent = criteria.contains(&FailoverCriterion::NonIdempotent);
    let conn = match exchanged {
        Ok(conn) => conn,
        Err(e) if e.kind == FailKind::ClientGone => {
            req.plugin.balancer().abandoned(t);
            return Ok(Attempt::ClientGone);
        }
        Err(e) => {
            req.plugin.balancer().failed(t);
            return Ok(if should_retry(&e, criteria, non_idempotent) {
                Attempt::Retry(Some(e))
            } else {
                Attempt::GiveUp(e)
            });
        }
    };
    let listed = criteria.contains(&FailoverCriterion::Http(io.response_head.status));
    if listed {
        req.plugin.balancer().failed(t);
        if non_idempotent && req.attempts_left() {
            // The connection is dropped: its body was not read.
            return Ok(Attempt::Retry(None));
        }
    }
    req.timings.answered = Instant::now();
    if req.ctx.settings.metrics {
        let mut hists = req.ctx.core_hists.borrow_mut();
        let timings = req.timings;
        hists
            .overhead
            .saturating_record(micros(timings.overhead()).max(1));
        hists
            .ttft
            .saturating_record(micros(timings.time_to_first_token()).max(1));
    }
    Ok(Attempt::Answered(Answer {
        conn,
        driver,
        plan: outbound.plan,
        listed,
    }))
}

/// Whether `failover_criteria` let llmux try another target after `e` (nginx's
/// `proxy_next_upstream`: a request that may have reached the upstream is retried only with
/// `non_idempotent`).
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

/// The client's answer when every attempt failed: 504 after a timeout, else 502, naming the
/// last target tried (`host:port`, never its credentials).
pub(super) fn upstream_error(e: &AttemptError) -> ErrorResponse {
    match e.kind {
        FailKind::Timeout => ErrorResponse::new(504, format!("upstream timed out: {e}")),
        _ => ErrorResponse::new(502, format!("upstream error: {e}")),
    }
}

/// Sends `request` to `peer` and reads the response head into `head`. A pooled connection
/// that fails before any response byte is most likely one the provider closed while idle, so
/// the request is sent once more on a new connection (as nginx and pingora do about that
/// race). The request's storage comes back in every case.
async fn exchange(
    ctx: &WorkerCtx,
    peer: &HttpPeer,
    options: PeerOptions,
    request: RequestBuf,
    head: &mut ResponseHead,
    client: &mut ClientConn,
) -> (Result<UpstreamConn, AttemptError>, RequestBuf) {
    let mut request = request;
    let pooled = ctx.pool.borrow_mut().take(&peer.key);
    if let Some(mut conn) = pooled {
        let (sent, back) = conn.send(request, options.write_timeout).await;
        request = back;
        let result = match sent {
            Ok(()) => read_head(&mut conn, options, head, client, ctx.lean()).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => return (Ok(conn), request),
            Err(e) if e.kind == FailKind::Closed && conn.buf.is_empty() => request.rewind(),
            Err(e) => return (Err(e), request),
        }
    }
    let mut conn = match connect(peer, &ctx.tls, options.connect_timeout).await {
        Ok(conn) => conn,
        Err(e) => return (Err(e), request),
    };
    let (sent, request) = conn.send(request, options.write_timeout).await;
    if let Err(e) = sent {
        return (Err(e), request);
    }
    match read_head(&mut conn, options, head, client, ctx.lean()).await {
        Ok(()) => (Ok(conn), request),
        Err(e) => (Err(e), request),
    }
}

/// The response head, unless the client hangs up first: then the wait is abandoned, and
/// dropping the upstream connection cancels the provider's work.
async fn read_head(
    conn: &mut UpstreamConn,
    options: PeerOptions,
    head: &mut ResponseHead,
    client: &mut ClientConn,
    lean: bool,
) -> Result<(), AttemptError> {
    match client
        .unless_closed(conn.read_head_into(options.read_timeout, head, lean))
        .await
    {
        Some(result) => result,
        None => Err(AttemptError::client_gone(&conn.key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(kind: FailKind, sent: bool) -> AttemptError {
        AttemptError {
            kind,
            sent,
            peer: "h:1".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn retries_follow_proxy_next_upstream() {
        use FailoverCriterion as C;
        let default = [C::Error, C::Timeout];
        assert!(should_retry(
            &error(FailKind::Connect, false),
            &default,
            false
        ));
        assert!(!should_retry(
            &error(FailKind::Closed, true),
            &default,
            false
        ));
        assert!(should_retry(&error(FailKind::Closed, true), &default, true));
        assert!(!should_retry(
            &error(FailKind::InvalidHeader, true),
            &default,
            true
        ));
        assert!(!should_retry(
            &error(FailKind::ClientGone, true),
            &default,
            true
        ));
        assert_eq!(upstream_error(&error(FailKind::Timeout, true)).status, 504);
        assert_eq!(upstream_error(&error(FailKind::Closed, true)).status, 502);
    }
}
