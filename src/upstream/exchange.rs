//! One attempt at one upstream: connect (or reuse), send the request, read the response head.
//! Failures are classified the way `failover_criteria` needs them.
//!
//! Every read and write is bounded through the worker's deadline table ([`crate::deadline`]):
//! on expiry the socket is shut down, the pending operation ends, and the connection is never
//! used again, only dropped. Only the connect (rare once the pool is warm) keeps a timer of
//! its own.

use super::io::UpstreamIo;
use super::peer::{HttpPeer, PeerKey};
use super::request_buf::RequestBuf;
use crate::deadline::{Deadline, OnExpiry};
use crate::http1::{ReadBuf, ResponseHead};
use monoio::io::AsyncWriteRent;
use monoio::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// What went wrong, in `proxy_next_upstream` terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailKind {
    /// Could not connect or complete the TLS handshake, or the name did not resolve.
    Connect,
    /// Connect, write or response-header read took longer than its timeout.
    Timeout,
    /// The upstream closed or reset the connection before a complete response head.
    Closed,
    /// The upstream answered with something that is not an HTTP/1.x response head.
    InvalidHeader,
    /// Not the upstream's fault: the client went away while llmux waited, so the attempt
    /// was abandoned (and the upstream connection closed, cancelling its work).
    ClientGone,
}

#[derive(Debug, Clone)]
pub struct AttemptError {
    pub kind: FailKind,
    /// Part of the request may have reached the upstream (matters for `non_idempotent`).
    pub sent: bool,
    /// `host:port` of the target, never its credentials.
    pub peer: String,
    pub detail: String,
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.peer, self.detail)
    }
}

pub struct UpstreamConn {
    // Declared before `io`, so its registration is dropped before the socket closes.
    deadline: Deadline,
    pub io: UpstreamIo,
    pub buf: ReadBuf,
    pub key: PeerKey,
    /// Came from the pool (so a failure before any response byte may be a stale connection).
    pub reused: bool,
}

fn err(kind: FailKind, sent: bool, key: &PeerKey, detail: String) -> AttemptError {
    AttemptError {
        kind,
        sent,
        peer: key.to_string(),
        detail,
    }
}

impl AttemptError {
    /// The client went away while llmux waited on `peer` (not the upstream's fault).
    pub fn client_gone(peer: &PeerKey) -> AttemptError {
        err(
            FailKind::ClientGone,
            true,
            peer,
            "the client closed its connection".into(),
        )
    }
}

/// Opens a new connection to `peer`, trying each resolved address within one overall timeout.
pub async fn connect(
    peer: &HttpPeer,
    tls: &monoio_rustls::TlsConnector,
    timeout: Duration,
) -> Result<UpstreamConn, AttemptError> {
    let key = &peer.key;
    let addrs = peer
        .addrs
        .as_deref()
        .map_err(|detail| err(FailKind::Connect, false, key, detail.clone()))?;
    let attempt = async {
        let mut last = String::from("no addresses");
        for addr in addrs {
            match TcpStream::connect_addr(*addr).await {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    return Ok(tcp);
                }
                Err(e) => last = format!("connect to {addr}: {e}"),
            }
        }
        Err(last)
    };
    let tcp = match monoio::time::timeout(timeout, attempt).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(err(FailKind::Connect, false, key, e)),
        Err(_) => {
            return Err(err(
                FailKind::Timeout,
                false,
                key,
                format!("connect timed out after {} ms", timeout.as_millis()),
            ))
        }
    };
    let deadline = Deadline::register(tcp.as_raw_fd(), OnExpiry::Both);
    let io = match &peer.server_name {
        None => UpstreamIo::Plain(tcp),
        Some(name) => {
            let name = name
                .clone()
                .map_err(|detail| err(FailKind::Connect, false, key, detail))?;
            // The handshake is bounded by the socket's deadline, and its (large) future is
            // boxed: only TLS connections pay for it, once per connection.
            deadline.arm(timeout);
            let handshake = Box::pin(tls.connect(name, tcp)).await;
            deadline.disarm();
            match handshake {
                Ok(s) => UpstreamIo::Tls(Box::new(s)),
                Err(_) if deadline.expired() => {
                    return Err(err(
                        FailKind::Timeout,
                        false,
                        key,
                        "TLS handshake timed out".to_string(),
                    ))
                }
                Err(e) => {
                    return Err(err(
                        FailKind::Connect,
                        false,
                        key,
                        format!("TLS handshake: {e}"),
                    ))
                }
            }
        }
    };
    Ok(UpstreamConn {
        deadline,
        io,
        // Storage comes from the thread's spares at the first read, and goes back whenever the
        // connection is quiet (pooled, or between a stream's events).
        buf: ReadBuf::empty(),
        key: key.clone(),
        reused: false,
    })
}

impl UpstreamConn {
    /// Writes the whole request and hands the buffer back, so a stale pooled connection can
    /// be replaced and the same bytes sent again (after `RequestBuf::rewind`).
    ///
    /// The loop is monoio's `write_vectored_all` without its per-call copy of the iovec array:
    /// `RequestBuf` advances its own iovecs after a partial write.
    pub async fn send(
        &mut self,
        req: RequestBuf,
        timeout: Duration,
    ) -> (Result<(), AttemptError>, RequestBuf) {
        self.deadline.arm(timeout);
        let (result, req) = self.write_all(req).await;
        self.deadline.disarm();
        match result {
            Ok(()) => (Ok(()), req),
            Err(_) if self.deadline.expired() => (
                Err(err(
                    FailKind::Timeout,
                    true,
                    &self.key,
                    format!("writing request timed out after {} ms", timeout.as_millis()),
                )),
                req,
            ),
            Err(e) => (
                Err(err(
                    FailKind::Closed,
                    true,
                    &self.key,
                    format!("writing request: {e}"),
                )),
                req,
            ),
        }
    }

    async fn write_all(&mut self, mut req: RequestBuf) -> (std::io::Result<()>, RequestBuf) {
        while req.remaining() > 0 {
            if self.deadline.expired() {
                return (Err(std::io::ErrorKind::TimedOut.into()), req);
            }
            let (res, back) = self.io.writev(req).await;
            req = back;
            match res {
                Ok(0) => return (Err(std::io::ErrorKind::WriteZero.into()), req),
                Ok(n) => req.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), req),
            }
        }
        (Ok(()), req)
    }

    /// One read into the buffer, waiting at most `timeout`: an expired wait is an error of
    /// kind `TimedOut` (and the connection must be dropped), `Ok(0)` the provider's close.
    ///
    /// `quiet`: the next bytes may be a while (a stream between events). An empty buffer then
    /// gives its storage back and, on a plain connection, the wait is a readiness poll that
    /// holds no buffer; the read that follows completes at once.
    pub async fn fill(&mut self, timeout: Duration, quiet: bool) -> std::io::Result<usize> {
        if self.deadline.expired() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.deadline.arm(timeout);
        let read = match &self.io {
            UpstreamIo::Plain(tcp) if quiet && self.buf.is_empty() => {
                self.buf.release();
                crate::http1::buffer::read_when_ready(tcp, &mut self.buf, &self.deadline).await
            }
            _ if self.deadline.expired() => Ok(0),
            _ => self.buf.fill(&mut self.io).await,
        };
        self.deadline.disarm();
        if self.deadline.expired() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        read
    }

    /// Gives the read buffer's storage back while nothing is buffered (a pooled connection).
    pub fn release_buffer(&mut self) {
        self.buf.release();
    }

    /// Reads until a final (non-1xx) response head is complete, into `head` (reused from
    /// request to request). `read_timeout` bounds each wait between two reads, as nginx's
    /// `proxy_read_timeout` does.
    ///
    /// `lean`: wait without holding a read buffer (see [`fill`](Self::fill)'s `quiet`).
    pub async fn read_head_into(
        &mut self,
        read_timeout: Duration,
        head: &mut ResponseHead,
        lean: bool,
    ) -> Result<(), AttemptError> {
        loop {
            match ResponseHead::parse_into(self.buf.data(), false, head) {
                Ok(Some(used)) => {
                    self.buf.consume(used);
                    if (100..200).contains(&head.status) && head.status != 101 {
                        continue;
                    }
                    return Ok(());
                }
                Ok(None) => {}
                Err(e) => return Err(err(FailKind::InvalidHeader, true, &self.key, e)),
            }
            match self.fill(read_timeout, lean).await {
                Ok(0) => {
                    return Err(err(
                        FailKind::Closed,
                        true,
                        &self.key,
                        "upstream closed the connection before sending a response".into(),
                    ))
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return Err(err(
                        FailKind::Timeout,
                        true,
                        &self.key,
                        format!("no response within {} ms", read_timeout.as_millis()),
                    ))
                }
                Err(e) => {
                    return Err(err(
                        FailKind::Closed,
                        true,
                        &self.key,
                        format!("reading response: {e}"),
                    ))
                }
            }
        }
    }
}
