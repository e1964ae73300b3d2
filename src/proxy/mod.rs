//! The request path: from a parsed client request to a relayed provider response.
//!
//! Read it in this order:
//! - [`connection`]: the keep-alive loop; routes a request, reads its body.
//! - [`gate`]: the route's access plugins (key-auth, acl, rate limits) before anything goes
//!   upstream.
//! - [`request`]: the per-request state ([`ProxyRequest`](request::ProxyRequest)): body facts,
//!   candidates, targets tried, timings.
//! - [`proxy`] (below): the retry loop, which only asks "another target, or stop?".
//! - [`attempt`]: one try at one target (the provider builds the request; pooled or new
//!   connection; response head) and what its failure means for failover.
//! - [`relay`]: the chosen answer to the client, head and body, as it arrives.
//! - [`finish`]: the bookkeeping, once: balancer, histograms, tokenizer job, statistics log.
//!
//! [`error`] is the catalogue of responses llmux itself produces.

mod attempt;
mod candidates;
mod connection;
mod error;
mod finish;
mod gate;
mod relay;
mod request;

pub(crate) use connection::serve;
pub(crate) use error::ErrorResponse;

use crate::ctx::IoScratch;
use crate::http1::ClientConn;
use attempt::Attempt;
use request::ProxyRequest;

/// What the connection loop should do after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    KeepAlive,
    Close,
}

/// Proxies one request whose body has been read: targets in balancer order until one answers
/// (within `retries` and `failover_criteria`), then that answer to the client. `io` is the
/// request's reusable buffers.
async fn proxy(
    req: &mut ProxyRequest<'_>,
    io: &mut IoScratch,
    client: &mut ClientConn,
) -> Result<Next, ErrorResponse> {
    let mut last_error = None;
    while let Some(t) = req.next_target() {
        match attempt::run(req, t, io, client).await? {
            Attempt::Answered(answer) => {
                let listed = answer.listed;
                let written = client.bytes_written();
                let relayed = relay::respond(req, t, answer, io, client).await;
                let side = finish::ClientSide {
                    conn: client,
                    written_before: written,
                };
                return Ok(finish::finish(req, t, listed, relayed, &io.filter, &side));
            }
            Attempt::Retry(error) => last_error = error,
            Attempt::GiveUp(error) => {
                last_error = Some(error);
                break;
            }
            Attempt::ClientGone => return Ok(Next::Close),
        }
    }
    // No error at all means nothing was tried: every candidate's circuit breaker is open.
    Err(last_error.map_or_else(ErrorResponse::no_healthy, |e| attempt::upstream_error(&e)))
}
