//! One attempt at one upstream: connect (or reuse), send the request, read the response head.
//! Failures are classified the way `failover_criteria` needs them.
//!
//! Every I/O wait is wrapped in a phase timeout. When a timeout fires, the in-flight read or
//! write is dropped and with it, possibly, bytes io_uring already moved; so a timed-out
//! connection is never used again, only dropped.

use super::io::UpstreamIo;
use super::peer::{HttpPeer, PeerKey};
use super::request_buf::RequestBuf;
use crate::http1::{ReadBuf, ResponseHead};
use monoio::io::AsyncWriteRent;
use monoio::net::TcpStream;
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
    let io = if let Some(name) = &peer.server_name {
        let name = name
            .clone()
            .map_err(|detail| err(FailKind::Connect, false, key, detail))?;
        match monoio::time::timeout(timeout, tls.connect(name, tcp)).await {
            Ok(Ok(s)) => UpstreamIo::Tls(Box::new(s)),
            Ok(Err(e)) => {
                return Err(err(
                    FailKind::Connect,
                    false,
                    key,
                    format!("TLS handshake: {e}"),
                ))
            }
            Err(_) => {
                return Err(err(
                    FailKind::Timeout,
                    false,
                    key,
                    "TLS handshake timed out".to_string(),
                ))
            }
        }
    } else {
        UpstreamIo::Plain(tcp)
    };
    Ok(UpstreamConn {
        io,
        // Small to start: most responses are a few hundred bytes or small SSE events, and a
        // held stream keeps this buffer for its whole life (10k streams = 10k buffers).
        buf: ReadBuf::with_capacity(4 * 1024),
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
        let io = &mut self.io;
        let write_all = async move {
            let mut req = req;
            while req.remaining() > 0 {
                let (res, back) = io.writev(req).await;
                req = back;
                match res {
                    Ok(0) => return (Err(std::io::ErrorKind::WriteZero.into()), req),
                    Ok(n) => req.advance(n),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return (Err(e), req),
                }
            }
            (Ok(()), req)
        };
        match monoio::time::timeout(timeout, write_all).await {
            Ok((Ok(()), req)) => (Ok(()), req),
            Ok((Err(e), req)) => (
                Err(err(
                    FailKind::Closed,
                    true,
                    &self.key,
                    format!("writing request: {e}"),
                )),
                req,
            ),
            Err(_) => {
                // The timed-out write owned the buffer; the caller gives up on this target,
                // so the empty stand-in is never sent.
                (
                    Err(err(
                        FailKind::Timeout,
                        true,
                        &self.key,
                        format!("writing request timed out after {} ms", timeout.as_millis()),
                    )),
                    RequestBuf::default(),
                )
            }
        }
    }

    /// Reads until a final (non-1xx) response head is complete, into `head` (reused from
    /// request to request). `read_timeout` bounds each wait between two reads, as nginx's
    /// `proxy_read_timeout` does.
    pub async fn read_head_into(
        &mut self,
        read_timeout: Duration,
        head: &mut ResponseHead,
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
            match monoio::time::timeout(read_timeout, self.buf.fill(&mut self.io)).await {
                Ok(Ok(0)) => {
                    return Err(err(
                        FailKind::Closed,
                        true,
                        &self.key,
                        "upstream closed the connection before sending a response".into(),
                    ))
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    return Err(err(
                        FailKind::Closed,
                        true,
                        &self.key,
                        format!("reading response: {e}"),
                    ))
                }
                Err(_) => {
                    return Err(err(
                        FailKind::Timeout,
                        true,
                        &self.key,
                        format!("no response within {} ms", read_timeout.as_millis()),
                    ))
                }
            }
        }
    }
}
