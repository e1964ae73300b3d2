//! Responses llmux itself produces: Kong's JSON error shape, `{"error":{"message":"..."}}`
//! (which OpenAI clients read too), with Kong's messages (the error table in
//! `docs/behaviour.md`), all built in this one place.
//!
//! Written by hand rather than with serde: these are on the request path, and the shape is
//! one fixed object with one escaped string.

use crate::body::push_quoted;
use crate::http1::headers::push;
use crate::http1::reason;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorResponse {
    pub status: u16,
    pub message: String,
    /// Close the client connection after answering (framing errors, unread bodies).
    pub close: bool,
    /// Kong's gateway-wide shape, `{"message":"..."}` (what `kong.response.error` writes for
    /// authentication, ACL and rate-limit refusals), instead of the AI plugins' `error` object.
    pub kong: bool,
    /// Extra header lines (CRLF-terminated): `WWW-Authenticate`, rate-limit headers.
    pub headers: Vec<u8>,
}

impl ErrorResponse {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ErrorResponse {
            status,
            message: message.into(),
            close: false,
            kong: false,
            headers: Vec::new(),
        }
    }

    /// A refusal in Kong's `{"message":"..."}` shape, with extra header lines.
    pub fn kong(status: u16, message: impl Into<String>, headers: &[u8]) -> Self {
        ErrorResponse {
            kong: true,
            headers: headers.to_vec(),
            ..Self::new(status, message)
        }
    }

    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    pub fn bad_json() -> Self {
        Self::new(
            400,
            "content-type header does not match request body, or bad JSON formatting",
        )
    }

    pub fn no_prompts() -> Self {
        Self::new(400, "request body doesn't contain valid prompts")
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(413, format!("request body too large (limit {limit} bytes)"))
    }

    pub fn streaming_denied() -> Self {
        Self::new(400, "response streaming is not enabled for this LLM")
    }

    pub fn no_route() -> Self {
        Self::new(404, "no route matched")
    }

    pub fn no_healthy() -> Self {
        Self::new(503, "no healthy upstream")
    }

    /// The whole HTTP/1.1 response.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.message.len() + 64);
        if self.kong {
            body.extend_from_slice(b"{\"message\":");
            push_quoted(&self.message, &mut body);
            body.push(b'}');
        } else {
            body.extend_from_slice(b"{\"error\":{\"message\":");
            push_quoted(&self.message, &mut body);
            body.extend_from_slice(b"}}");
        }
        let mut out = Vec::with_capacity(body.len() + 160 + self.headers.len());
        out.extend_from_slice(
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).as_bytes(),
        );
        let content_type: &[u8] = if self.kong {
            b"application/json; charset=utf-8"
        } else {
            b"application/json"
        };
        push(&mut out, b"Content-Type", content_type);
        out.extend_from_slice(&self.headers);
        push(
            &mut out,
            b"Content-Length",
            body.len().to_string().as_bytes(),
        );
        push(&mut out, b"Server", b"llmux");
        if self.close {
            push(&mut out, b"Connection", b"close");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape_and_escaping() {
        let r = ErrorResponse::new(400, "bad \"model\"\n").closing();
        let s = String::from_utf8(r.to_bytes()).unwrap();
        assert!(s.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(s.contains("Connection: close\r\n"));
        let body = s.split("\r\n\r\n").nth(1).unwrap();
        assert_eq!(body, r#"{"error":{"message":"bad \"model\"\n"}}"#);
        assert!(s.contains(&format!("Content-Length: {}\r\n", body.len())));
    }

    #[test]
    fn kong_shape_with_headers() {
        let r = ErrorResponse::kong(
            401,
            "No API key found in request",
            b"WWW-Authenticate: Key\r\n",
        );
        let s = String::from_utf8(r.to_bytes()).unwrap();
        assert!(s.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{s}");
        assert!(s.contains("Content-Type: application/json; charset=utf-8\r\n"));
        assert!(s.contains("WWW-Authenticate: Key\r\n"));
        assert!(
            s.ends_with("\r\n\r\n{\"message\":\"No API key found in request\"}"),
            "{s}"
        );
    }
}
