//! HTTP/1.1 framing shared by the fake upstream (requests) and the client helpers (responses):
//! a buffered reader that remembers when bytes arrived, head parsing, chunked decoding.

use super::find_bytes;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Instant;

/// Largest head accepted (request or response).
pub const MAX_HEAD: usize = 64 * 1024;

/// A buffered reader over a stream that records the arrival time of the last bytes read and can
/// capture the exact bytes consumed (for `Recorded::raw_body`).
pub struct WireReader<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    last_read_at: Instant,
    capture: Option<Vec<u8>>,
}

impl<R: Read> WireReader<R> {
    pub fn new(inner: R) -> Self {
        WireReader {
            inner,
            buf: Vec::new(),
            pos: 0,
            last_read_at: Instant::now(),
            capture: None,
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// When the bytes most recently read from the stream arrived.
    pub fn last_read_at(&self) -> Instant {
        self.last_read_at
    }

    /// Bytes received but not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Reads more from the stream into the buffer; returns the count, 0 at EOF. A reset or a TLS
    /// peer that closed without close_notify count as EOF.
    pub fn fill(&mut self) -> io::Result<usize> {
        if self.pos == self.buf.len() || self.pos > MAX_HEAD {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = loop {
            match self.inner.read(&mut chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
                    ) =>
                {
                    break 0
                }
                Err(e) => return Err(e),
            }
        };
        if n > 0 {
            self.last_read_at = Instant::now();
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok(n)
    }

    fn consume(&mut self, n: usize) -> Vec<u8> {
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        if let Some(capture) = &mut self.capture {
            capture.extend_from_slice(&out);
        }
        out
    }

    /// Starts recording every consumed byte; [`Self::take_capture`] returns them.
    pub fn start_capture(&mut self) {
        self.capture = Some(Vec::new());
    }

    pub fn take_capture(&mut self) -> Vec<u8> {
        self.capture.take().unwrap_or_default()
    }

    /// The bytes up to and including the first CRLFCRLF. `Ok(None)` on EOF before any byte.
    pub fn read_head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(p) = find_bytes(self.buffered(), b"\r\n\r\n") {
                return Ok(Some(self.consume(p + 4)));
            }
            if self.buffered().len() > MAX_HEAD {
                return Err(invalid(format!("head longer than {MAX_HEAD} bytes")));
            }
            if self.fill()? == 0 {
                return if self.buffered().is_empty() {
                    Ok(None)
                } else {
                    Err(eof("inside a head"))
                };
            }
        }
    }

    /// One line without its CRLF.
    pub fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(p) = find_bytes(self.buffered(), b"\r\n") {
                let mut line = self.consume(p + 2);
                line.truncate(p);
                return Ok(line);
            }
            if self.buffered().len() > MAX_HEAD {
                return Err(invalid("line too long".into()));
            }
            if self.fill()? == 0 {
                return Err(eof("inside a line"));
            }
        }
    }

    /// Exactly `n` bytes.
    pub fn read_n(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buffered().len() < n {
            if self.fill()? == 0 {
                return Err(eof(&format!(
                    "after {} of {n} body bytes",
                    self.buffered().len()
                )));
            }
        }
        Ok(self.consume(n))
    }

    /// Everything until the peer closes.
    pub fn read_to_eof(&mut self) -> io::Result<Vec<u8>> {
        while self.fill()? > 0 {}
        let n = self.buffered().len();
        Ok(self.consume(n))
    }

    /// The next chunk of a chunked body; `Ok(None)` after the last-chunk and trailers.
    pub fn read_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let line = self.read_line()?;
        let line = String::from_utf8_lossy(&line);
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size line {line:?}")))?;
        if size == 0 {
            // Trailer fields until an empty line.
            while !self.read_line()?.is_empty() {}
            return Ok(None);
        }
        let data = self.read_n(size)?;
        if !self.read_line()?.is_empty() {
            return Err(invalid(format!(
                "chunk of {size} bytes not followed by CRLF"
            )));
        }
        Ok(Some(data))
    }
}

/// A parsed head: the start line's three parts and the header fields as received.
pub struct Head {
    pub parts: [String; 3],
    pub headers: Vec<(String, String)>,
}

/// Parses `raw` (a head including its final CRLFCRLF). Header names keep their case, values are
/// trimmed of surrounding whitespace.
pub fn parse_head(raw: &[u8]) -> io::Result<Head> {
    let text = String::from_utf8_lossy(raw);
    let text = text.strip_suffix("\r\n\r\n").unwrap_or(&text);
    let mut lines = text.split("\r\n");
    let start = lines.next().unwrap_or("");
    let mut it = start.splitn(3, ' ');
    let mut part = || it.next().unwrap_or("").to_owned();
    let parts = [part(), part(), part()];
    if parts.iter().take(2).any(|p| p.is_empty()) {
        return Err(invalid(format!("bad start line {start:?}")));
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        if name.is_empty() || name.ends_with([' ', '\t']) {
            return Err(invalid(format!("bad header name in {line:?}")));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(Head { parts, headers })
}

pub fn invalid(msg: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, msg)
}

fn eof(context: &str) -> io::Error {
    io::Error::new(
        ErrorKind::UnexpectedEof,
        format!("connection closed {context}"),
    )
}

/// Whether an error is a read timeout.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// A server-side connection, plain or TLS.
pub trait Conn: Read + Write {
    fn tcp(&self) -> &TcpStream;
    /// A graceful close: TLS close_notify, then FIN.
    fn finish(&mut self);
}

impl Conn for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
    fn finish(&mut self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

impl Conn for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}
