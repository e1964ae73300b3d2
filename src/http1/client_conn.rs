//! A client's connection to the proxy: the socket and the bytes read from it but not used yet.
//!
//! [`ClientConn`] is the only code that reads or writes the client's socket, as mini-redis's
//! `Connection` is: the layers above ask for a request head, a body, a write, or "run this while
//! watching whether the client hangs up", and never see the stream or the buffer. Bytes after
//! one request (a pipelined next request) stay in the buffer for the next `read_head`.
//!
//! Every wait is bounded by the caller's timeout, through the worker's deadline table
//! ([`crate::deadline`]) rather than a timer per read: on expiry the socket's read side is shut
//! down, the pending read ends, and the connection is closed after at most an error answer,
//! never read again.

use super::buffer::ReadBuf;
use super::chunked::ChunkedDecoder;
use super::client_io::{ClientIo, Seen};
use super::request::{HeadError, Limits, RequestHead};
use super::Framing;
use crate::deadline::{Deadline, OnExpiry};
use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use std::future::Future;
use std::time::Duration;

/// How long a provider may take before llmux starts watching the client for a hang-up.
pub const WATCH_AFTER: Duration = Duration::from_millis(20);

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
    // Declared before `stream`, so its registration is dropped before the socket closes.
    deadline: Deadline,
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
            deadline: Deadline::register(stream.raw_fd(), OnExpiry::Read),
            stream,
            // Storage comes from the thread's spares at the first read; grows for large bodies.
            buf: ReadBuf::empty(),
            written: 0,
            peer,
        }
    }

    /// Bytes written to the client on this connection so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// The client's IP address as text (empty when the socket could not tell).
    /// The client's address, when the socket reported one.
    pub fn peer_addr(&self) -> Option<std::net::IpAddr> {
        self.peer.map(|a| a.ip())
    }

    pub fn peer_ip(&self) -> String {
        self.peer.map(|a| a.ip().to_string()).unwrap_or_default()
    }

    /// Gives the read buffer's storage back while nothing is left to read from it (a request
    /// whose answer will take a while holds none).
    pub fn release_buffer(&mut self) {
        self.buf.release();
    }

    /// One read into the buffer, bounded by the armed deadline: `Ok(0)` when the client closed
    /// or the deadline expired (tell them apart with `self.deadline.expired()`).
    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.deadline.expired() {
            return Ok(0);
        }
        self.buf.fill(&mut self.stream).await
    }

    /// Waits up to `idle` for the first byte of the next request; `false` when the client
    /// closed or idled out between requests.
    ///
    /// `lean`: hold no read buffer while waiting (a readiness poll first, then the read,
    /// which completes at once): one more operation per request, worth it when thousands of
    /// connections wait at once.
    pub async fn wait_for_request(&mut self, idle: Duration, lean: bool) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        self.deadline.arm(idle);
        let read = match &self.stream {
            ClientIo::Plain(tcp) if lean => {
                self.buf.release();
                super::buffer::read_when_ready(tcp, &mut self.buf, &self.deadline).await
            }
            _ => self.fill().await,
        };
        self.deadline.disarm();
        matches!(read, Ok(n) if n > 0)
    }

    /// Writes as much of `bytes` as the socket takes right now, without waiting (a plain
    /// `send` with `MSG_DONTWAIT`); returns how many. Nothing stays in flight, so the caller's
    /// buffer is free at once. Plain connections only (0 for TLS, where the caller then uses
    /// [`write_all`](Self::write_all)).
    pub fn write_now(&mut self, bytes: &[u8]) -> usize {
        let ClientIo::Plain(tcp) = &self.stream else {
            return 0;
        };
        // SAFETY: `bytes` is a live slice for the duration of the call and send(2) reads at
        // most `len` bytes from it; MSG_DONTWAIT keeps the event loop from blocking and
        // MSG_NOSIGNAL turns a closed peer into an error instead of SIGPIPE.
        let n = unsafe {
            libc::send(
                std::os::fd::AsRawFd::as_raw_fd(tcp),
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        let n = usize::try_from(n).unwrap_or(0);
        self.written += n as u64;
        n
    }

    /// Reads the rest of a request head into `head` (reused storage), within `header` of
    /// now. `Ok(false)`: the client closed before the head was complete.
    pub async fn read_head_into(
        &mut self,
        head: &mut RequestHead,
        limits: &Limits,
        header: Duration,
    ) -> Result<bool, HeadReadError> {
        self.deadline.arm(header);
        let result = self.read_head_armed(head, limits).await;
        self.deadline.disarm();
        result
    }

    async fn read_head_armed(
        &mut self,
        head: &mut RequestHead,
        limits: &Limits,
    ) -> Result<bool, HeadReadError> {
        loop {
            match RequestHead::parse_into(self.buf.data(), limits, head) {
                Ok(Some(used)) => {
                    self.buf.consume(used);
                    return Ok(true);
                }
                Ok(None) => {}
                Err(HeadError::TooLarge(m)) => return Err(HeadReadError::TooLarge(m)),
                Err(HeadError::Refused { status, message }) => {
                    return Err(HeadReadError::Refused(status, message))
                }
                Err(e) => return Err(HeadReadError::Malformed(e.to_string())),
            }
            match self.fill().await {
                Ok(n) if n > 0 => {}
                _ if self.deadline.expired() => return Err(HeadReadError::Timeout),
                _ => return Ok(false),
            }
        }
    }

    /// Reads the body `framing` announces, whole, into `body` (emptied first), refusing more
    /// than `limit` bytes; `timeout` bounds each wait for more bytes.
    ///
    /// The body is read whole before proxying: llmux must see `model` before choosing a target,
    /// and providers expect a `Content-Length` body.
    pub async fn read_body(
        &mut self,
        framing: Framing,
        limit: usize,
        timeout: Duration,
        body: &mut Vec<u8>,
    ) -> Result<(), BodyError> {
        body.clear();
        match framing {
            Framing::Empty | Framing::UntilClose => Ok(()),
            Framing::Length(n) => {
                let n = usize::try_from(n).map_err(|_| BodyError::TooLarge)?;
                if n > limit {
                    return Err(BodyError::TooLarge);
                }
                while self.buf.len() < n {
                    self.fill_body(timeout).await?;
                }
                body.extend_from_slice(&self.buf.data()[..n]);
                self.buf.consume(n);
                Ok(())
            }
            Framing::Chunked => {
                let mut decoder = ChunkedDecoder::new();
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
                        return Ok(());
                    }
                    self.fill_body(timeout).await?;
                }
            }
        }
    }

    /// One read of body bytes, waiting at most `timeout`.
    async fn fill_body(&mut self, timeout: Duration) -> Result<(), BodyError> {
        self.deadline.arm(timeout);
        let read = self.fill().await;
        self.deadline.disarm();
        match read {
            Ok(n) if n > 0 => Ok(()),
            _ if self.deadline.expired() => Err(BodyError::Timeout),
            _ => Err(BodyError::Closed),
        }
    }

    /// Writes all of `bytes` and hands the buffer back for reuse.
    pub async fn write_all(&mut self, bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
        let (res, buf) = self.stream.write_all(bytes).await;
        self.written += res? as u64;
        Ok(buf)
    }

    /// Runs `work` while watching the client: `None` if the client closes its connection (or
    /// it fails) first, in which case `work` is dropped unfinished. Bytes the client sends
    /// meanwhile (a pipelined request) are kept for the next request, and watching stops.
    ///
    /// The watch starts only once `work` has taken [`WATCH_AFTER`]: most answers come sooner
    /// than a client could give up, and not watching them saves a poll op per request. The
    /// watch holds no buffer and reads nothing ([`ClientIo::watch`]).
    pub async fn unless_closed<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        let mut work = std::pin::pin!(work);
        monoio::select! {
            out = &mut work => return Some(out),
            _ = self.deadline.nudge(WATCH_AFTER) => {}
        }
        self.watch_while(work).await
    }

    async fn watch_while<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        let mut work = std::pin::pin!(work);
        let watch = self.stream.watch();
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
