//! HTTP/1.1 on `httparse`, for both the client-facing server and the upstream client.
//!
//! Why not monoio-http here: its encoder holds chunks under 8 KiB until the stream ends (SSE
//! events would reach clients in batches), its pooled clients read whole chunked responses
//! before returning, it has no `Expect: 100-continue`, rejects chunk extensions and allocates a
//! `HeaderMap` per request (measured and read in monoio-http 0.3.12; docs/decisions.md,
//! "HTTP/1.1"). A proxy needs byte-exact control of framing on both sides, as pingora's
//! `protocols/http/v1` does, so the framing lives here as small explicit state machines over
//! caller-owned buffers, and [`ClientConn`] owns the client side of a connection.

pub mod buffer;
pub mod chunked;
pub mod client_conn;
pub mod client_io;
pub mod decimal;
pub mod headers;
pub mod request;
pub mod request_line;
pub mod response;
pub mod spare;

pub use buffer::ReadBuf;
pub use chunked::{ChunkError, ChunkedDecoder};
pub use client_conn::{BodyError, ClientConn, HeadReadError};
pub use client_io::ClientIo;
pub use decimal::Decimal;
pub use headers::HeaderPos;
pub use request::{HeadError, Limits, RequestHead};
pub use response::ResponseHead;

/// The standard reason phrase for `status` ("Unknown" for codes without one).
pub fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}

/// How a message body is delimited on the wire (RFC 9112 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all (e.g. a request without `Content-Length`, a 204 response).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Responses only: the body runs until the peer closes the connection.
    UntilClose,
}
