//! Blocking HTTP/1.1 client helpers over std `TcpStream` (or any `Read + Write`, e.g. TLS).
//! Every read has a timeout (10 s by default), so a broken server fails a test, never hangs it.

use super::wire::{is_timeout, parse_head, WireReader};
use super::{find_header, header_has_token, json_str_at, parse_json};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Default read timeout of the client helpers.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A response as received.
#[derive(Clone, Debug)]
pub struct Response {
    /// `HTTP/1.1`.
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// As received: original case and order.
    pub headers: Vec<(String, String)>,
    /// Decoded body (chunk framing removed).
    pub body: Vec<u8>,
    /// The body ended early: the connection closed before the Content-Length was reached or
    /// before the chunked last-chunk. Only `*_allow_truncated` readers return such responses.
    pub truncated: bool,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Every value of header `name`, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON (panics with the body if it is not JSON).
    pub fn json(&self) -> simd_json::OwnedValue {
        parse_json(&self.body).unwrap_or_else(|e| panic!("response {} body: {e}", self.status))
    }

    /// `error.message` of an OpenAI-shaped error body `{"error":{"message":...}}`.
    pub fn json_error_message(&self) -> Option<String> {
        json_str_at(&parse_json(&self.body).ok()?, &["error", "message"])
    }

    /// The payloads of the body's SSE `data:` lines, in order (`[DONE]` included).
    pub fn sse_data(&self) -> Vec<String> {
        sse_data(&self.body_str())
    }
}

/// The payloads of the `data:` lines of an SSE text, in order.
pub fn sse_data(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d).to_owned())
        .collect()
}

/// Splits timed chunks into SSE events (text up to and including each blank line), each with
/// the arrival time of the chunk that completed it; works whatever the chunking.
pub fn sse_events(chunks: &[(Instant, Vec<u8>)]) -> Vec<(Instant, String)> {
    let mut events = Vec::new();
    let mut pending = String::new();
    for (at, bytes) in chunks {
        pending.push_str(&String::from_utf8_lossy(bytes));
        while let Some(end) = pending.find("\n\n") {
            let rest = pending.split_off(end + 2);
            events.push((*at, std::mem::replace(&mut pending, rest)));
        }
    }
    events
}

/// Connects to `addr` (5 s bound) with `READ_TIMEOUT` reads and Nagle off.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Writes `bytes` and returns everything received until the server closes, resets, or stays
/// silent for 10 s. Write errors are ignored (the server may answer and close early).
pub fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    let _ = stream.write_all(bytes);
    let _ = stream.flush();
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return out,
        }
    }
}

/// A `POST path HTTP/1.1` with a JSON body: `Host`, `Content-Type: application/json` and
/// `Content-Length` unless `extra_headers` sets them, then `extra_headers` in order.
pub fn build_post(
    addr: SocketAddr,
    path: &str,
    body: &str,
    extra_headers: &[(&str, &str)],
) -> Vec<u8> {
    build_request("POST", addr, path, body.as_bytes(), extra_headers)
}

/// Any request: `Host` and (for a non-empty body) `Content-Type: application/json` and
/// `Content-Length` unless `extra_headers` sets them (set `Transfer-Encoding` and pass an
/// already chunked body to send chunks).
pub fn build_request(
    method: &str,
    addr: SocketAddr,
    path: &str,
    body: &[u8],
    extra_headers: &[(&str, &str)],
) -> Vec<u8> {
    let has = |name: &str| {
        extra_headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !has("Host") {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    if !body.is_empty() && !has("Content-Type") {
        head.push_str("Content-Type: application/json\r\n");
    }
    if !has("Content-Length") && !has("Transfer-Encoding") && (!body.is_empty() || method == "POST")
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in extra_headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Encodes `pieces` as a chunked body (one chunk each, then the last-chunk).
pub fn chunked_body(pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces.iter().filter(|p| !p.is_empty()) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// POSTs a JSON body on a new connection (with `Connection: close` unless `extra_headers` has a
/// `Connection`) and reads the complete response.
pub fn post_json(
    addr: SocketAddr,
    path: &str,
    body: &str,
    extra_headers: &[(&str, &str)],
) -> Response {
    let mut headers = extra_headers.to_vec();
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("Connection"))
    {
        headers.push(("Connection", "close"));
    }
    let mut reader = ResponseReader::connect(addr);
    reader.send(&build_post(addr, path, body, &headers));
    reader.read_response()
}

/// Reads successive responses from one (keep-alive or pipelined) connection.
pub struct ResponseReader<S = TcpStream> {
    wire: WireReader<S>,
}

impl ResponseReader<TcpStream> {
    /// Wraps a connected stream; sets a 10 s read timeout if it has none.
    pub fn new(stream: TcpStream) -> Self {
        if stream.read_timeout().ok().flatten().is_none() {
            stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        }
        ResponseReader::from_stream(stream)
    }

    /// A new connection to `addr` (see [`connect`]).
    pub fn connect(addr: SocketAddr) -> Self {
        ResponseReader::new(connect(addr))
    }

    /// Changes the read timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.wire.get_ref().set_read_timeout(Some(timeout)).unwrap();
    }
}

impl<S: Read + Write> ResponseReader<S> {
    /// Any stream, e.g. a [`super::TlsClientStream`]; its reads must time out on their own.
    pub fn from_stream(stream: S) -> Self {
        ResponseReader {
            wire: WireReader::new(stream),
        }
    }

    /// Writes request bytes on the connection (panics on error).
    pub fn send(&mut self, bytes: &[u8]) {
        let s = self.wire.get_mut();
        s.write_all(bytes)
            .and_then(|_| s.flush())
            .expect("writing request");
    }

    pub fn get_ref(&self) -> &S {
        self.wire.get_ref()
    }

    pub fn get_mut(&mut self) -> &mut S {
        self.wire.get_mut()
    }

    pub fn into_inner(self) -> S {
        self.wire.into_inner()
    }

    /// The next complete response; panics on timeout, malformed HTTP or a truncated body.
    pub fn read_response(&mut self) -> Response {
        self.read_inner(false).0
    }

    /// Like [`Self::read_response`], plus each body chunk with the time its last byte arrived.
    /// A Content-Length or close-delimited body comes as one entry.
    pub fn read_response_timed(&mut self) -> (Response, Vec<(Instant, Vec<u8>)>) {
        self.read_inner(false)
    }

    /// Like [`Self::read_response_timed`], but a connection closed mid-body gives the part
    /// received with `truncated: true` instead of a panic (to see a cut stream).
    pub fn read_response_allow_truncated(&mut self) -> (Response, Vec<(Instant, Vec<u8>)>) {
        self.read_inner(true)
    }

    /// Only the status line and headers (`body` empty); follow with [`Self::read_chunk`].
    pub fn read_head(&mut self) -> Response {
        let raw = match self.wire.read_head() {
            Ok(Some(raw)) => raw,
            Ok(None) => panic!("connection closed before a response"),
            Err(e) => panic!("reading response head: {e} (timeout: {})", is_timeout(&e)),
        };
        let head = parse_head(&raw).unwrap_or_else(|e| panic!("bad response head: {e}"));
        let [version, status, reason] = head.parts;
        Response {
            status: status
                .parse()
                .unwrap_or_else(|_| panic!("bad status {status:?}")),
            version,
            reason,
            headers: head.headers,
            body: Vec::new(),
            truncated: false,
        }
    }

    /// The next chunk of a chunked body with its arrival time; None after the last-chunk.
    /// Panics on timeout or if the connection closes first.
    pub fn read_chunk(&mut self) -> Option<(Instant, Vec<u8>)> {
        match self.wire.read_chunk() {
            Ok(chunk) => chunk.map(|c| (self.wire.last_read_at(), c)),
            Err(e) => panic!("reading chunk: {e} (timeout: {})", is_timeout(&e)),
        }
    }

    /// Whether the server closed the connection (EOF or reset) rather than send more bytes or
    /// stay silent past the read timeout.
    pub fn is_closed(&mut self) -> bool {
        if !self.wire.buffered().is_empty() {
            return false;
        }
        matches!(self.wire.fill(), Ok(0))
    }

    fn read_inner(&mut self, allow_truncated: bool) -> (Response, Vec<(Instant, Vec<u8>)>) {
        let mut resp = self.read_head();
        let mut chunks = Vec::new();
        let no_body = resp.status < 200 || resp.status == 204 || resp.status == 304;
        let length = resp.header("Content-Length").map(|v| {
            v.parse::<usize>()
                .unwrap_or_else(|_| panic!("bad Content-Length {v:?}"))
        });
        let result = if no_body {
            Ok(())
        } else if header_has_token(&resp.headers, "Transfer-Encoding", "chunked") {
            loop {
                match self.wire.read_chunk() {
                    Ok(Some(c)) => chunks.push((self.wire.last_read_at(), c)),
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
        } else {
            let body = match length {
                Some(n) => self.wire.read_n(n),
                None => self.wire.read_to_eof(),
            };
            // On a cut, the bytes that did arrive are the (truncated) body.
            let (bytes, result) = match body {
                Ok(b) => (b, Ok(())),
                Err(e) => (self.wire.buffered().to_vec(), Err(e)),
            };
            if !bytes.is_empty() {
                chunks.push((self.wire.last_read_at(), bytes));
            }
            result
        };
        resp.body = chunks.iter().flat_map(|(_, c)| c.iter().copied()).collect();
        if let Err(e) = result {
            let cut = e.kind() == ErrorKind::UnexpectedEof;
            if !(cut && allow_truncated) {
                panic!(
                    "reading the body of a {} response: {e} (timeout: {}); headers {:?}, \
                     body so far: {}",
                    resp.status,
                    is_timeout(&e),
                    resp.headers,
                    resp.body_str()
                );
            }
            resp.truncated = true;
        }
        (resp, chunks)
    }
}
