//! Header positions inside an owned head buffer, so a parsed head can outlive the read buffer
//! without one allocation per header.

use std::ops::Range;

/// Where one header's name and value sit in the head's raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderPos {
    pub name: Range<usize>,
    pub value: Range<usize>,
}

/// Records the offsets of `httparse` header slices relative to `base`, the start of the head.
pub fn positions(base: &[u8], headers: &[httparse::Header<'_>]) -> Vec<HeaderPos> {
    let origin = base.as_ptr() as usize;
    headers
        .iter()
        .map(|h| {
            let name_start = h.name.as_ptr() as usize - origin;
            let value_start = h.value.as_ptr() as usize - origin;
            HeaderPos {
                name: name_start..name_start + h.name.len(),
                value: value_start..value_start + h.value.len(),
            }
        })
        .collect()
}

/// Hop-by-hop headers (RFC 9110 section 7.6.1) plus the framing headers a proxy recomputes.
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    const HOP: [&[u8]; 10] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
    ];
    HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// True when a comma-separated header value lists `token` (case-insensitive).
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|part| part.trim_ascii().eq_ignore_ascii_case(token))
}

/// Parses a `Content-Length` value strictly: ASCII digits only, no sign, no spaces inside.
pub fn parse_content_length(value: &[u8]) -> Option<u64> {
    let v = value.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Appends `Name: value\r\n`.
pub fn push(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_strict() {
        assert_eq!(parse_content_length(b"42"), Some(42));
        assert_eq!(parse_content_length(b" 7 "), Some(7));
        assert_eq!(parse_content_length(b"+1"), None);
        assert_eq!(parse_content_length(b"1 2"), None);
        assert_eq!(parse_content_length(b""), None);
        assert_eq!(parse_content_length(b"99999999999999999999"), None);
    }

    #[test]
    fn tokens_and_hop_by_hop() {
        assert!(has_token(b"keep-alive, Upgrade", b"upgrade"));
        assert!(!has_token(b"keep-alive", b"close"));
        assert!(is_hop_by_hop(b"Transfer-Encoding"));
        assert!(!is_hop_by_hop(b"Authorization"));
    }
}
