//! The client's socket, plain or TLS, as one stream type for [`super::ClientConn`], as
//! `upstream::io::UpstreamIo` is for providers.
//!
//! Watching for a client that hangs up ([`ClientIo::watch`]) never reads: the socket is polled
//! for readability and a non-blocking `MSG_PEEK` tells end-of-stream from data. A TLS stream
//! cannot be read and cancelled (monoio-rustls reads into its own buffer, and a cancelled read
//! leaves it with a stored error), so a TLS connection keeps a duplicate of its socket's
//! descriptor for the poll; a plain one is polled directly. Either way no read buffer is held
//! while a slow provider is awaited, and nothing the client sends is consumed.
//!
//! The TLS branches box their futures (monoio-rustls's are several hundred bytes), so a plain
//! connection's task is not sized for TLS.

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio::BufResult;
use std::os::fd::{AsRawFd, FromRawFd};

/// A TLS server connection over TCP.
pub type ServerTlsStream = monoio_rustls::ServerTlsStream<TcpStream>;

pub enum ClientIo {
    Plain(TcpStream),
    Tls {
        stream: Box<ServerTlsStream>,
        /// A duplicate of the socket's descriptor, polled for readability only.
        watch: TcpStream,
    },
}

/// What the socket shows while a response is being prepared.
pub enum Seen {
    /// The client closed (or reset) its side.
    Closed,
    /// Bytes arrived (a pipelined request, or a TLS alert): stop watching, keep going.
    Data,
}

impl ClientIo {
    /// Wraps an accepted TLS stream; `raw` is its socket's descriptor (from before the
    /// handshake), duplicated for watching.
    pub fn tls(stream: ServerTlsStream, raw: std::os::fd::RawFd) -> std::io::Result<ClientIo> {
        // SAFETY: dup(2) on a descriptor this connection owns (the TLS stream holds it open);
        // the result is checked before use and owned by the std stream made from it.
        let dup = unsafe { libc::dup(raw) };
        if dup < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `dup` is a fresh descriptor nothing else owns.
        let std = unsafe { std::net::TcpStream::from_raw_fd(dup) };
        let watch = TcpStream::from_std(std)?;
        Ok(ClientIo::Tls {
            stream: Box::new(stream),
            watch,
        })
    }

    /// The socket's descriptor (for TLS, the duplicate: shutting it down shuts the socket).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            ClientIo::Plain(s) => s.as_raw_fd(),
            ClientIo::Tls { watch, .. } => watch.as_raw_fd(),
        }
    }

    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        match self {
            ClientIo::Plain(s) => s.peer_addr().ok(),
            ClientIo::Tls { watch, .. } => watch.peer_addr().ok(),
        }
    }

    /// Waits until the socket has something to say, without reading it: a readiness poll
    /// (no buffer held while waiting), then a non-blocking `MSG_PEEK` of one byte to tell
    /// end-of-stream from data. Nothing is consumed, so a TLS stream stays intact and a plain
    /// one keeps its bytes for the next request.
    pub async fn watch(&self) -> Seen {
        let watch = match self {
            ClientIo::Plain(tcp) => tcp,
            ClientIo::Tls { watch, .. } => watch,
        };
        loop {
            if watch.readable(false).await.is_err() {
                return Seen::Closed;
            }
            let mut byte = [0u8; 1];
            // SAFETY: a one-byte buffer on the stack, valid for the call; MSG_DONTWAIT makes
            // the peek return at once, so the event loop never blocks.
            let n = unsafe {
                libc::recv(
                    watch.as_raw_fd(),
                    byte.as_mut_ptr().cast(),
                    1,
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            match n {
                0 => return Seen::Closed,
                n if n > 0 => return Seen::Data,
                _ => match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
                    _ => return Seen::Closed,
                },
            }
        }
    }
}

impl AsyncReadRent for ClientIo {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            ClientIo::Plain(s) => s.read(buf).await,
            ClientIo::Tls { stream, .. } => Box::pin(stream.read(buf)).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            ClientIo::Plain(s) => s.readv(buf).await,
            ClientIo::Tls { stream, .. } => Box::pin(stream.readv(buf)).await,
        }
    }
}

impl AsyncWriteRent for ClientIo {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            ClientIo::Plain(s) => s.write(buf).await,
            ClientIo::Tls { stream, .. } => Box::pin(stream.write(buf)).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            ClientIo::Plain(s) => s.writev(buf).await,
            ClientIo::Tls { stream, .. } => Box::pin(stream.writev(buf)).await,
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ClientIo::Plain(s) => s.flush().await,
            ClientIo::Tls { stream, .. } => Box::pin(stream.flush()).await,
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            ClientIo::Plain(s) => s.shutdown().await,
            ClientIo::Tls { stream, .. } => Box::pin(stream.shutdown()).await,
        }
    }
}
