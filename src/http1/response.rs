//! Parsing an upstream's response head and deciding how its body is delimited.

use super::headers::{has_token, locate, parse_content_length, positions_into, HeaderPos};
use super::Framing;

/// Largest upstream response head accepted; providers send a few hundred bytes.
pub const MAX_RESPONSE_HEAD: usize = 64 * 1024;
const MAX_RESPONSE_HEADERS: usize = 128;

#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub raw: Vec<u8>,
    pub status: u16,
    reason: std::ops::Range<usize>,
    pub version: u8,
    pub headers: Vec<HeaderPos>,
    pub framing: Framing,
    /// The upstream allows the connection to be reused after this response.
    pub keep_alive: bool,
}

impl Default for ResponseHead {
    fn default() -> Self {
        ResponseHead {
            raw: Vec::new(),
            status: 0,
            reason: 0..0,
            version: 1,
            headers: Vec::new(),
            framing: Framing::UntilClose,
            keep_alive: false,
        }
    }
}

impl ResponseHead {
    pub fn reason(&self) -> &[u8] {
        &self.raw[self.reason.clone()]
    }

    pub fn header_name(&self, h: &HeaderPos) -> &[u8] {
        &self.raw[h.name.clone()]
    }

    pub fn header_value(&self, h: &HeaderPos) -> &[u8] {
        &self.raw[h.value.clone()]
    }

    pub fn header(&self, name: &str) -> Option<&[u8]> {
        super::headers::find(&self.raw, &self.headers, name)
    }

    /// Parses a response head. `Ok(None)`: need more bytes. `Err`: the upstream sent something
    /// that is not HTTP/1.x (the `invalid_header` failover criterion).
    /// `request_was_head` suppresses the body as RFC 9112 section 6.3 requires.
    pub fn parse(
        buf: &[u8],
        request_was_head: bool,
    ) -> Result<Option<(ResponseHead, usize)>, String> {
        let mut head = ResponseHead::default();
        Ok(ResponseHead::parse_into(buf, request_was_head, &mut head)?.map(|used| (head, used)))
    }

    /// [`parse`](Self::parse) into `head`, reusing its buffers.
    pub fn parse_into(
        buf: &[u8],
        request_was_head: bool,
        head: &mut ResponseHead,
    ) -> Result<Option<usize>, String> {
        let mut storage = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
        let mut resp = httparse::Response::new(&mut storage);
        let used = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_RESPONSE_HEAD {
                    return Err(format!("response head exceeds {MAX_RESPONSE_HEAD} bytes"));
                }
                return Ok(None);
            }
            Err(e) => return Err(format!("invalid response head: {e}")),
        };
        head.status = resp.code.unwrap_or(0);
        head.version = resp.version.unwrap_or(1);
        head.reason = locate(buf, resp.reason.unwrap_or("").as_bytes(), 0);
        positions_into(&mut head.headers, buf, resp.headers);
        head.raw.clear();
        head.raw.extend_from_slice(&buf[..used]);
        head.framing = Framing::UntilClose;
        head.keep_alive = head.version == 1;
        head.framing = head.compute_framing(request_was_head)?;
        if head.framing == Framing::UntilClose {
            head.keep_alive = false;
        }
        Ok(Some(used))
    }

    fn compute_framing(&mut self, request_was_head: bool) -> Result<Framing, String> {
        let mut length = None;
        let mut chunked = false;
        for h in &self.headers {
            let name = &self.raw[h.name.clone()];
            let value = &self.raw[h.value.clone()];
            if name.eq_ignore_ascii_case(b"connection") {
                if has_token(value, b"close") {
                    self.keep_alive = false;
                } else if has_token(value, b"keep-alive") {
                    self.keep_alive = true;
                }
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                chunked = value
                    .rsplit(|b| *b == b',')
                    .next()
                    .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case(b"content-length") {
                let n = parse_content_length(value)
                    .ok_or_else(|| "invalid Content-Length in response".to_string())?;
                if length.is_some_and(|l| l != n) {
                    return Err("conflicting Content-Length in response".into());
                }
                length = Some(n);
            }
        }
        if request_was_head || self.status == 204 || self.status == 304 || self.status < 200 {
            return Ok(Framing::Empty);
        }
        Ok(match (chunked, length) {
            (true, _) => Framing::Chunked,
            (false, Some(0)) => Framing::Empty,
            (false, Some(n)) => Framing::Length(n),
            (false, None) => Framing::UntilClose,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_rules() {
        let p = |s: &str| ResponseHead::parse(s.as_bytes(), false).unwrap().unwrap().0;
        assert_eq!(
            p("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").framing,
            Framing::Length(5)
        );
        let h = p("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        assert!(h.keep_alive);
        let h = p("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(h.framing, Framing::UntilClose);
        assert!(!h.keep_alive);
        assert_eq!(p("HTTP/1.1 204 No Content\r\n\r\n").framing, Framing::Empty);
        assert!(!p("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n").keep_alive);
        assert_eq!(
            p("HTTP/1.1 429 Too Many\r\nContent-Length: 0\r\n\r\n").reason(),
            b"Too Many"
        );
        assert!(ResponseHead::parse(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        assert!(ResponseHead::parse(b"HTTP/1.1 200 OK\r\nContent-", false)
            .unwrap()
            .is_none());
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    /// Inputs the `http1_response_head` fuzz target found (fuzz/regressions/).
    #[test]
    fn non_utf8_reason_phrases_parse_without_panicking() {
        let wire = b"HTTP/1.1 429 Doo M\x9eny Request\xff\xff\r\nContent-Length: 0\r\n\r\n";
        let (head, used) = ResponseHead::parse(wire, false).unwrap().unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(head.status, 429);
        assert_eq!(head.header("content-length"), Some(&b"0"[..]));
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions");
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with("http1_response_head")
            {
                let data = std::fs::read(e.path()).unwrap_or_default();
                let _ = ResponseHead::parse(&data, false);
            }
        }
    }
}
