//! Parsing a client's request head, with the limits and framing rules a proxy must enforce.
//!
//! Framing ambiguities are rejected rather than resolved (RFC 9112 section 6.3): a request with
//! both `Transfer-Encoding` and `Content-Length`, conflicting `Content-Length`s or a transfer
//! coding other than a final `chunked` could be read differently by llmux and the upstream,
//! which is how request smuggling starts.

use super::headers::{has_token, locate, parse_content_length, positions_into, HeaderPos};
use super::request_line::{self, Version};
use super::Framing;
use std::fmt;

/// Upper bound for `Limits::max_headers` (the parser's stack storage).
pub const MAX_HEADERS: usize = 256;

/// Limits on what a client may send before its body.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_head_bytes: usize,
    pub max_headers: usize,
    /// Keep header fields whose names contain `_` (nginx's `underscores_in_headers on`). Off by
    /// default, as in nginx: such fields are dropped, never seen or forwarded, because proxies
    /// and CGI-style servers map `-` and `_` to the same name (`X_Api_Key` would pose as
    /// `X-Api-Key` behind them).
    pub underscores_in_headers: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 32 * 1024,
            max_headers: 100,
            underscores_in_headers: false,
        }
    }
}

/// Why a head could not be accepted. Each maps to a status in the proxy's error table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    /// Not HTTP/1.x syntax (400, connection closed).
    Malformed(String),
    /// Head larger than `max_head_bytes` or more than `max_headers` headers (431).
    TooLarge(String),
    /// Ambiguous or unsupported body framing (400, connection closed).
    BadFraming(String),
    /// A rule of the request line, `Host`, `Transfer-Encoding` or `Expect` that has its own
    /// status (400, 405, 414, 417, 501, 505; connection closed).
    Refused { status: u16, message: String },
}

impl From<request_line::Refused> for HeadError {
    fn from(r: request_line::Refused) -> Self {
        HeadError::Refused {
            status: r.status,
            message: r.message,
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::Malformed(m)
            | HeadError::TooLarge(m)
            | HeadError::BadFraming(m)
            | HeadError::Refused { message: m, .. } => f.write_str(m),
        }
    }
}

/// A request head copied out of the read buffer; header names and values are ranges into `raw`.
///
/// One head is reused from request to request ([`RequestHead::parse_into`]), so its two
/// vectors stop allocating once they have held a typical head.
#[derive(Debug, Clone)]
pub struct RequestHead {
    pub raw: Vec<u8>,
    method: std::ops::Range<usize>,
    /// The origin-form part of the request-target (for absolute-form, what follows the
    /// authority; empty means `/`).
    target: std::ops::Range<usize>,
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub headers: Vec<HeaderPos>,
    pub framing: Framing,
    pub keep_alive: bool,
    pub expect_continue: bool,
}

impl Default for RequestHead {
    fn default() -> Self {
        RequestHead {
            raw: Vec::new(),
            method: 0..0,
            target: 0..0,
            version: 1,
            headers: Vec::new(),
            framing: Framing::Empty,
            keep_alive: true,
            expect_continue: false,
        }
    }
}

impl RequestHead {
    pub fn method(&self) -> &str {
        std::str::from_utf8(&self.raw[self.method.clone()]).unwrap_or("")
    }

    /// The request target in origin-form (path and query): as sent, or the path and query of
    /// an absolute-form target.
    pub fn target(&self) -> &str {
        match std::str::from_utf8(&self.raw[self.target.clone()]) {
            Ok("") => "/",
            Ok(t) => t,
            Err(_) => "",
        }
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        let t = self.target();
        t.split_once('?').map_or(t, |(p, _)| p)
    }

    pub fn header_name(&self, h: &HeaderPos) -> &[u8] {
        &self.raw[h.name.clone()]
    }

    pub fn header_value(&self, h: &HeaderPos) -> &[u8] {
        &self.raw[h.value.clone()]
    }

    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        super::headers::find(&self.raw, &self.headers, name)
    }

    /// Parses a head from the start of `buf`. `Ok(None)` means more bytes are needed.
    /// On success also returns how many bytes of `buf` the head used.
    pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(RequestHead, usize)>, HeadError> {
        let mut head = RequestHead::default();
        Ok(RequestHead::parse_into(buf, limits, &mut head)?.map(|used| (head, used)))
    }

    /// [`parse`](Self::parse) into `head`, reusing its buffers. On `Ok(Some(used))` `head` holds
    /// the new request; otherwise its contents are unspecified.
    pub fn parse_into(
        buf: &[u8],
        limits: &Limits,
        head: &mut RequestHead,
    ) -> Result<Option<usize>, HeadError> {
        // Uninitialised stack storage: no allocation and no 3 KiB memset per request.
        let mut storage = [std::mem::MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
        let slots = &mut storage[..limits.max_headers.min(MAX_HEADERS)];
        // HTTP/1.2..1.9 is parsed as HTTP/1.1 (RFC 9112 section 2.3); the version token has
        // the same length, so offsets into the copy are offsets into `buf`.
        let newer;
        let buf = match request_line::version(buf)? {
            Some(Version::NewerMinor(at)) => {
                newer = [&buf[..at.start], b"HTTP/1.1", &buf[at.end..]].concat();
                &newer[..]
            }
            _ => buf,
        };
        // As nginx reads request lines: more than one space between method, target and
        // version is accepted (RFC 9112 section 3 allows it). Everything else strict.
        let mut parser = httparse::ParserConfig::default();
        parser.allow_multiple_spaces_in_request_line_delimiters(true);
        let mut req = httparse::Request::new(&mut []);
        let used = match parser.parse_request_with_uninit_headers(&mut req, buf, slots) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if buf.len() > limits.max_head_bytes {
                    return Err(HeadError::TooLarge(format!(
                        "request head exceeds {} bytes",
                        limits.max_head_bytes
                    )));
                }
                return Ok(None);
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HeadError::TooLarge(format!(
                    "request has more than {} headers",
                    limits.max_headers
                )))
            }
            Err(e) => return Err(HeadError::Malformed(format!("malformed request head: {e}"))),
        };
        if used > limits.max_head_bytes {
            return Err(HeadError::TooLarge(format!(
                "request head exceeds {} bytes",
                limits.max_head_bytes
            )));
        }
        let method = locate(buf, req.method.unwrap_or("").as_bytes(), 0);
        request_line::check_method(&buf[method.clone()])?;
        let target = locate(buf, req.path.unwrap_or("").as_bytes(), method.end);
        let (path, _authority) = request_line::target_form(&buf[target.clone()])?;
        let version = req.version.unwrap_or(1);
        positions_into(&mut head.headers, buf, req.headers);
        if !limits.underscores_in_headers {
            head.headers
                .retain(|h| !buf[h.name.clone()].contains(&b'_'));
        }
        // Two Host values are enough to tell none, one and several apart; no list is built.
        let mut hosts: [&[u8]; 2] = [b"", b""];
        let mut host_count = 0;
        for h in &head.headers {
            if buf[h.name.clone()].eq_ignore_ascii_case(b"host") {
                if host_count < hosts.len() {
                    hosts[host_count] = &buf[h.value.clone()];
                }
                host_count += 1;
            }
        }
        request_line::check_host(version, &hosts[..host_count.min(hosts.len())])?;
        head.raw.clear();
        head.raw.extend_from_slice(&buf[..used]);
        head.method = method;
        head.target = target.start + path.start..target.start + path.end;
        head.version = version;
        head.framing = Framing::Empty;
        head.keep_alive = version == 1;
        head.expect_continue = false;
        head.apply_semantics()?;
        Ok(Some(used))
    }

    fn apply_semantics(&mut self) -> Result<(), HeadError> {
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut has_te = false;
        let mut te_unknown = false;
        for h in &self.headers {
            let name = &self.raw[h.name.clone()];
            let value = &self.raw[h.value.clone()];
            if name.eq_ignore_ascii_case(b"content-length") {
                let n = parse_content_length(value)
                    .ok_or_else(|| HeadError::BadFraming("invalid Content-Length header".into()))?;
                // RFC 9112 section 6.3 lets a recipient reject repeated Content-Length even
                // when the values agree; nginx does, and so does llmux.
                if length.is_some() {
                    return Err(HeadError::BadFraming(
                        "more than one Content-Length header".into(),
                    ));
                }
                length = Some(n);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                if has_te {
                    return Err(HeadError::BadFraming(
                        "more than one Transfer-Encoding header".into(),
                    ));
                }
                has_te = true;
                // Only `chunked`, once: any other coding (gzip, identity, chunked twice, an
                // empty list) is one llmux does not implement: 501, as RFC 9112 section 6.1
                // suggests and nginx answers.
                chunked = value.trim_ascii().eq_ignore_ascii_case(b"chunked");
                te_unknown = !chunked;
            } else if name.eq_ignore_ascii_case(b"connection") {
                if has_token(value, b"close") {
                    self.keep_alive = false;
                } else if has_token(value, b"keep-alive") {
                    self.keep_alive = true;
                }
            } else if name.eq_ignore_ascii_case(b"expect") {
                if value.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                    self.expect_continue = self.version == 1;
                } else {
                    // RFC 9110 section 10.1.1: 417 for an expectation the server cannot meet.
                    return Err(HeadError::Refused {
                        status: 417,
                        message: "unsupported Expect header (only 100-continue)".into(),
                    });
                }
            }
        }
        if te_unknown {
            return Err(HeadError::Refused {
                status: 501,
                message: "unsupported transfer coding (only chunked)".into(),
            });
        }
        if has_te && length.is_some() {
            return Err(HeadError::BadFraming(
                "both Transfer-Encoding and Content-Length present".into(),
            ));
        }
        if has_te && self.version == 0 {
            return Err(HeadError::BadFraming(
                "Transfer-Encoding is not allowed in HTTP/1.0".into(),
            ));
        }

        self.framing = match (chunked, length) {
            (true, _) => Framing::Chunked,
            (false, Some(0)) | (false, None) => Framing::Empty,
            (false, Some(n)) => Framing::Length(n),
        };
        if self.framing == Framing::Empty {
            self.expect_continue = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<(RequestHead, usize)>, HeadError> {
        RequestHead::parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn parses_head_and_leaves_pipelined_bytes() {
        let wire = "POST  /v1/chat?x=1  HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}GET";
        let (head, used) = parse(wire).unwrap().unwrap();
        assert_eq!(head.method(), "POST");
        assert_eq!(head.target(), "/v1/chat?x=1");
        assert_eq!(head.path(), "/v1/chat");
        assert_eq!(head.framing, Framing::Length(2));
        assert!(head.keep_alive);
        assert_eq!(&wire.as_bytes()[used..], b"{}GET");
        assert_eq!(head.header("HOST"), Some(&b"a"[..]));
    }

    #[test]
    fn partial_then_too_large() {
        assert!(parse("POST / HTTP/1.1\r\nHost: a\r\n").unwrap().is_none());
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(40 * 1024));
        assert!(matches!(parse(&big), Err(HeadError::TooLarge(_))));
        let many: String = (0..150).map(|i| format!("X-{i}: 1\r\n")).collect();
        let req = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert!(matches!(parse(&req), Err(HeadError::TooLarge(_))));
    }

    #[test]
    fn rejects_smuggling_shapes() {
        for wire in [
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(
                matches!(parse(wire), Err(HeadError::BadFraming(_))),
                "{wire:?}"
            );
        }
        for te in [
            "chunked, gzip",
            "gzip, chunked",
            "chunked, chunked",
            "identity",
            "",
        ] {
            let wire = format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {te}\r\n\r\n");
            assert!(
                matches!(parse(&wire), Err(HeadError::Refused { status: 501, .. })),
                "{te:?}"
            );
        }
        assert!(matches!(
            parse("GARBAGE\r\n\r\n"),
            Err(HeadError::Malformed(_))
        ));
    }

    #[test]
    fn keep_alive_and_expect() {
        let (h, _) = parse("POST / HTTP/1.0\r\nContent-Length: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        let (h, _) = parse("POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        assert!(h.expect_continue);
        assert_eq!(h.framing, Framing::Chunked);
        assert!(matches!(
            parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\nContent-Length: 1\r\n\r\n"),
            Err(HeadError::Refused { status: 417, .. })
        ));
    }

    #[test]
    fn newer_minor_versions_are_read_as_http_1_1_and_absolute_form_as_its_path() {
        let wire = "POST http://a:8/v1/chat?x=1 HTTP/1.2\r\nHost: b\r\n\r\n";
        let (h, used) = parse(wire).unwrap().unwrap();
        assert_eq!((h.version, used), (1, wire.len()));
        assert_eq!(h.target(), "/v1/chat?x=1");
        assert_eq!(h.path(), "/v1/chat");
        let (h, _) = parse("GET http://a HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.target(), "/");
    }

    #[test]
    fn underscored_header_names_are_dropped_unless_allowed() {
        let wire = "POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\nX_Key: k\r\n\r\n";
        let (h, _) = parse(wire).unwrap().unwrap();
        assert_eq!(
            h.framing,
            Framing::Empty,
            "Content_Length is not Content-Length"
        );
        assert_eq!(h.header("x_key"), None);
        assert_eq!(h.headers.len(), 1);
        let allow = Limits {
            underscores_in_headers: true,
            ..Limits::default()
        };
        let (h, _) = RequestHead::parse(wire.as_bytes(), &allow)
            .unwrap()
            .unwrap();
        assert_eq!(h.header("X_Key"), Some(&b"k"[..]));
    }
}
