//! A client's connection to the proxy: the socket and the bytes read from it but not used yet.
//!
//! [`ClientConn`] is the only code that reads or writes the client's socket, as mini-redis's
//! `Connection` is: the layers above ask for a request head, a body, a write, or "run this while
//! watching whether the client hangs up", and never see the stream or the buffer. Bytes after
//! one request (a pipelined next request) stay in the buffer for the next `read_head`.
//!
//! Every wait is bounded by the caller's timeout. A timed-out read is dropped with its future;
//! the connection is then closed, never read again, so bytes io_uring may still have moved into
//! the lost buffer cannot be misread as the next request.

use super::buffer::ReadBuf;
use super::chunked::ChunkedDecoder;
use super::client_io::{ClientIo, Seen};
use super::request::{HeadError, Limits, RequestHead};
use super::Framing;
use monoio::io::{AsyncWriteRentExt, Canceller};
use monoio::net::TcpStream;
use std::future::Future;
use std::time::Duration;

/// Why no request head could be read (each maps to one error response, then close).
#[derive(Debug)]
pub enum HeadReadError {
    /// Longer than the limits allow (431).
    TooLarge(String),
    /// Not a valid HTTP/1.x request head (400).
    Malformed(String),
    /// The head did not arrive within the header timeout (408).
    Timeout,
    /// A request-line, `Host` or framing rule with its own status (405, 414, 417, 501, 505).
    Refused(u16, String),
}

/// Why a request body could not be read.
#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Malformed(String),
    Timeout,
    Closed,
}

pub struct ClientConn {
    stream: ClientIo,
    buf: ReadBuf,
    /// Bytes written to the client so far (the statistics log's `response.size`).
    written: u64,
    peer: Option<std::net::SocketAddr>,
}

impl ClientConn {
    /// A plain TCP client.
    pub fn new(stream: TcpStream) -> ClientConn {
        let _ = stream.set_nodelay(true);
        ClientConn::over(ClientIo::Plain(stream))
    }

    /// A client over plain TCP or TLS.
    pub fn over(stream: ClientIo) -> ClientConn {
        let peer = stream.peer_addr();
        ClientConn {
            stream,
            // Grows for large bodies; idle keep-alive and streaming connections stay small.
            buf: ReadBuf::with_capacity(4 * 1024),
            written: 0,
            peer,
        }
    }

    /// Bytes written to the client on this connection so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// The client's IP address as text (empty when the socket could not tell).
    pub fn peer_ip(&self) -> String {
        self.peer.map(|a| a.ip().to_string()).unwrap_or_default()
    }

    /// Waits for the next request head: up to `idle` for its first byte, then up to `header`
    /// for the rest. `Ok(None)`: the client closed or idled out between requests.
    pub async fn read_head(
        &mut self,
        limits: &Limits,
        idle: Duration,
        header: Duration,
    ) -> Result<Option<RequestHead>, HeadReadError> {
        if self.buf.is_empty() {
            match monoio::time::timeout(idle, self.buf.fill(&mut self.stream)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return Ok(None),
            }
        }
        let deadline = monoio::time::Instant::now() + header;
        loop {
            match RequestHead::parse(self.buf.data(), limits) {
                Ok(Some((head, used))) => {
                    self.buf.consume(used);
                    return Ok(Some(head));
                }
                Ok(None) => {}
                Err(HeadError::TooLarge(m)) => return Err(HeadReadError::TooLarge(m)),
                Err(HeadError::Refused { status, message }) => {
                    return Err(HeadReadError::Refused(status, message))
                }
                Err(e) => return Err(HeadReadError::Malformed(e.to_string())),
            }
            match monoio::time::timeout_at(deadline, self.buf.fill(&mut self.stream)).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => return Ok(None),
                Err(_) => return Err(HeadReadError::Timeout),
            }
        }
    }

    /// Reads the body `framing` announces, whole, refusing more than `limit` bytes; `timeout`
    /// bounds each wait for more bytes.
    ///
    /// The body is read whole before proxying: llmux must see `model` before choosing a target,
    /// and providers expect a `Content-Length` body.
    pub async fn read_body(
        &mut self,
        framing: Framing,
        limit: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, BodyError> {
        match framing {
            Framing::Empty | Framing::UntilClose => Ok(Vec::new()),
            Framing::Length(n) => {
                let n = usize::try_from(n).map_err(|_| BodyError::TooLarge)?;
                if n > limit {
                    return Err(BodyError::TooLarge);
                }
                while self.buf.len() < n {
                    self.fill(timeout).await?;
                }
                Ok(self.buf.take(n))
            }
            Framing::Chunked => {
                let mut decoder = ChunkedDecoder::new();
                let mut body = Vec::new();
                loop {
                    let mut over = false;
                    let progress = decoder
                        .decode(self.buf.data(), |d| {
                            if body.len() + d.len() > limit {
                                over = true;
                            } else {
                                body.extend_from_slice(d);
                            }
                        })
                        .map_err(|e| {
                            BodyError::Malformed(format!("bad chunked request body: {e}"))
                        })?;
                    self.buf.consume(progress.consumed);
                    if over {
                        return Err(BodyError::TooLarge);
                    }
                    if progress.done {
                        return Ok(body);
                    }
                    self.fill(timeout).await?;
                }
            }
        }
    }

    async fn fill(&mut self, timeout: Duration) -> Result<(), BodyError> {
        match monoio::time::timeout(timeout, self.buf.fill(&mut self.stream)).await {
            Ok(Ok(0)) | Ok(Err(_)) => Err(BodyError::Closed),
            Ok(Ok(_)) => Ok(()),
            Err(_) => Err(BodyError::Timeout),
        }
    }

    /// Writes all of `bytes` and hands the buffer back for reuse.
    pub async fn write_all(&mut self, bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
        let (res, buf) = self.stream.write_all(bytes).await;
        let n = res?;
        self.written += n as u64;
        Ok(buf)
    }

    /// Runs `work` while watching the client: `None` if the client closes its connection (or
    /// it fails) first, in which case `work` is dropped unfinished. Bytes the client sends
    /// meanwhile (a pipelined request) are kept for the next `read_head`, and watching stops.
    ///
    /// The watch is a cancelable read: when `work` finishes first the read is cancelled and
    /// still awaited, so the buffer comes back with whatever the kernel had already read.
    pub async fn unless_closed<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        let ClientIo::Plain(stream) = &mut self.stream else {
            return self.unless_closed_tls(work).await;
        };
        let canceller = Canceller::new();
        let watch = self.buf.fill_cancelable(stream, canceller.handle());
        let mut work = std::pin::pin!(work);
        let mut watch = std::pin::pin!(watch);
        monoio::select! {
            out = &mut work => {
                let _canceller = canceller.cancel();
                let _ = watch.await;
                Some(out)
            }
            seen = &mut watch => match seen {
                Ok(n) if n > 0 => Some(work.await),
                _ => None,
            }
        }
    }

    /// `unless_closed` for TLS: the socket is polled for readability and peeked, never read
    /// (see `client_io`), so the TLS stream is untouched whichever side finishes first.
    async fn unless_closed_tls<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        let mut work = std::pin::pin!(work);
        let watch = self.stream.watch_tls();
        let mut watch = std::pin::pin!(watch);
        monoio::select! {
            out = &mut work => Some(out),
            seen = &mut watch => match seen {
                Seen::Data => Some(work.await),
                Seen::Closed => None,
            }
        }
    }
}
