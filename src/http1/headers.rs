//! Header positions inside an owned head buffer, so a parsed head can outlive the read buffer
//! without one allocation per header.

use std::ops::Range;

/// Where one header's name and value sit in the head's raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderPos {
    pub name: Range<usize>,
    pub value: Range<usize>,
}

/// Where `part` lies inside `base`, when it is a slice of it.
///
/// httparse usually returns slices of the buffer, but not always: a reason phrase with
/// non-UTF-8 bytes comes back as a static `""` (found by fuzzing), so pointer arithmetic must
/// check the range instead of assuming it. A part that is not inside `base` is empty and maps to
/// an empty range at `fallback`.
pub fn locate(base: &[u8], part: &[u8], fallback: usize) -> Range<usize> {
    let origin = base.as_ptr() as usize;
    let start = part.as_ptr() as usize;
    match start.checked_sub(origin) {
        Some(off) if off + part.len() <= base.len() => off..off + part.len(),
        _ => fallback..fallback,
    }
}

/// Records the offsets of `httparse` header slices relative to `base`, the start of the head,
/// into `out` (cleared first; its capacity is reused from request to request).
pub fn positions_into(out: &mut Vec<HeaderPos>, base: &[u8], headers: &[httparse::Header<'_>]) {
    out.clear();
    out.extend(headers.iter().map(|h| {
        let name = locate(base, h.name.as_bytes(), 0);
        let value = locate(base, h.value, name.end);
        HeaderPos { name, value }
    }));
}

/// The value of the first header named `name` (case-insensitive) in a head kept as raw bytes
/// plus positions; shared by request and response heads.
pub fn find<'a>(raw: &'a [u8], headers: &[HeaderPos], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| raw[h.name.clone()].eq_ignore_ascii_case(name.as_bytes()))
        .map(|h| &raw[h.value.clone()])
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
    fn locate_never_leaves_the_buffer() {
        let buf = b"HTTP/1.1 200 OK\r\n";
        assert_eq!(locate(buf, &buf[9..12], 0), 9..12);
        assert_eq!(
            locate(buf, b"", 4),
            4..4,
            "a static empty str is not in the buffer"
        );
        assert_eq!(locate(&buf[..5], &buf[3..9], 1), 1..1, "runs past the end");
    }

    #[test]
    fn tokens_and_hop_by_hop() {
        assert!(has_token(b"keep-alive, Upgrade", b"upgrade"));
        assert!(!has_token(b"keep-alive", b"close"));
        assert!(is_hop_by_hop(b"Transfer-Encoding"));
        assert!(!is_hop_by_hop(b"Authorization"));
    }
}
