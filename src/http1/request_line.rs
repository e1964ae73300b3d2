//! The request line and `Host` as RFC 9112 sections 2-3 and RFC 9110 sections 7 and 9 have
//! them, checked the way nginx checks them where the RFC lets a server choose.
//! `docs/decisions.md` ("HTTP/1.1 request side, requirement by requirement") is the table of
//! every rule here with nginx's behaviour and the test that pins it.

use std::ops::Range;

/// Longest request-target llmux parses; longer gets 414 (RFC 9112 section 3: a server MUST
/// answer 414 to a target longer than it wishes to parse). nginx's limit is its 8 KiB header
/// buffer.
pub const MAX_TARGET: usize = 8 * 1024;

/// A request the line or `Host` rules refuse: the status and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refused {
    Refused {
        status,
        message: message.into(),
    }
}

/// What the version token asks for, before httparse sees the head.
#[derive(Debug, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0` or `HTTP/1.1`: parse as it is.
    Supported,
    /// `HTTP/1.x` with x > 1: RFC 9112 section 2.3 says to process it as the highest minor
    /// version implemented, so the head is parsed as HTTP/1.1. The range is the version token.
    NewerMinor(Range<usize>),
}

/// Looks at the version token of the request line at the start of `buf` (after the empty
/// lines a server ignores). `Ok(None)`: the line is not complete yet, or not recognisable, in
/// which case httparse decides.
pub fn version(buf: &[u8]) -> Result<Option<Version>, Refused> {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let Some(len) = buf[start..].iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let line = &buf[start..start + len];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(sp) = line.iter().rposition(|&b| b == b' ') else {
        return Ok(None);
    };
    let token = &line[sp + 1..];
    match token {
        b"HTTP/1.0" | b"HTTP/1.1" => Ok(Some(Version::Supported)),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            if *major == b'1' {
                let at = start + sp + 1;
                Ok(Some(Version::NewerMinor(at..at + token.len())))
            } else if *major == b'0' {
                Err(refuse(400, "HTTP/0.x requests are not supported"))
            } else {
                // RFC 9110 section 15.6.6.
                Err(refuse(505, "only HTTP/1.x is supported on this port"))
            }
        }
        _ => Ok(None),
    }
}

/// nginx's method rule: upper-case letters, `_` and `-` (a method is case-sensitive, RFC 9110
/// section 9.1, so `post` is not `POST`; nginx refuses it rather than forward an unknown
/// method). `TRACE` is refused with 405 as nginx does: an LLM gateway never echoes requests.
pub fn check_method(method: &[u8]) -> Result<(), Refused> {
    if method.is_empty()
        || !method
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
    {
        return Err(refuse(400, "invalid method: methods are upper-case tokens"));
    }
    if method == b"TRACE" {
        return Err(refuse(405, "TRACE is not allowed"));
    }
    Ok(())
}

/// Where the path of a request-target starts, by its form (RFC 9112 section 3.2): origin-form
/// (`/path?query`) is the target itself; absolute-form (`http://host/path`) must be accepted
/// by a server and its path is what follows the authority (`/` if none). authority-form is for
/// `CONNECT` and asterisk-form for `OPTIONS`, neither of which llmux serves, so both are
/// refused with 400, as nginx does, and so is anything else.
///
/// Returns the range of the origin-form part within `target` (empty when absolute-form has
/// no path: the caller reads that as `/`) and, for absolute-form, the authority.
pub fn target_form(target: &[u8]) -> Result<(Range<usize>, Option<Range<usize>>), Refused> {
    if target.len() > MAX_TARGET {
        return Err(refuse(
            414,
            format!("request target longer than {MAX_TARGET} bytes"),
        ));
    }
    if target.first() == Some(&b'/') {
        return Ok((0..target.len(), None));
    }
    if target == b"*" {
        return Err(refuse(400, "asterisk-form (OPTIONS *) is not supported"));
    }
    if let Some(colon) = target.windows(3).position(|w| w == b"://") {
        let scheme = &target[..colon];
        let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if scheme_ok {
            let auth_start = colon + 3;
            let auth_end = target[auth_start..]
                .iter()
                .position(|&b| matches!(b, b'/' | b'?' | b'#'))
                .map_or(target.len(), |p| auth_start + p);
            let authority = auth_start..auth_end;
            if authority.is_empty() || !valid_host(&target[authority.clone()]) {
                return Err(refuse(400, "invalid authority in absolute-form target"));
            }
            return Ok((auth_end..target.len(), Some(authority)));
        }
    }
    Err(refuse(
        400,
        "request target must be a path (origin-form) or an absolute URI",
    ))
}

/// RFC 9112 section 3.2: an HTTP/1.1 request MUST carry exactly one `Host`, whose value is
/// `uri-host [ ":" port ]` (empty when the target has no authority: valid, and accepted).
/// `hosts` are the values of every `Host` field.
pub fn check_host(version_minor: u8, hosts: &[&[u8]]) -> Result<(), Refused> {
    match hosts {
        [] if version_minor == 1 => Err(refuse(400, "HTTP/1.1 request without Host")),
        [] => Ok(()),
        [one] if valid_host(one) => Ok(()),
        [_] => Err(refuse(400, "invalid Host header")),
        _ => Err(refuse(400, "more than one Host header")),
    }
}

/// `uri-host [ ":" port ]` (RFC 3986): an IP literal in brackets, or a reg-name / IPv4 of
/// unreserved, pct-encoded and sub-delim characters, and a port of digits. Userinfo
/// (`user@host`) is not part of `Host`, and in an absolute-form target it would only hide the
/// real host, so it is refused in both.
fn valid_host(v: &[u8]) -> bool {
    let (host, port) = if v.first() == Some(&b'[') {
        let Some(close) = v.iter().position(|&b| b == b']') else {
            return false;
        };
        let inside = &v[1..close];
        if inside.is_empty()
            || !inside
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        {
            return false;
        }
        match &v[close + 1..] {
            [] => (&v[..0], None),
            [b':', port @ ..] => (&v[..0], Some(port)),
            _ => return false,
        }
    } else {
        match v.iter().rposition(|&b| b == b':') {
            Some(c) => (&v[..c], Some(&v[c + 1..])),
            None => (v, None),
        }
    };
    let host_ok = host.iter().all(|&b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            )
    });
    host_ok && port.is_none_or(|p| p.iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version(b"GET / HTTP/1.1\r\n"), Ok(Some(Version::Supported)));
        assert_eq!(
            version(b"\r\nGET / HTTP/1.0\r\n"),
            Ok(Some(Version::Supported))
        );
        assert_eq!(
            version(b"GET / HTTP/1.2\r\n"),
            Ok(Some(Version::NewerMinor(6..14)))
        );
        assert_eq!(version(b"GET / HTTP/2.0\r\n").unwrap_err().status, 505);
        assert_eq!(version(b"GET / HTTP/0.9\r\n").unwrap_err().status, 400);
        assert_eq!(
            version(b"GET / HTTP/1.10\r\n"),
            Ok(None),
            "not HTTP-version syntax"
        );
        assert_eq!(version(b"GET / HTTP/1.1"), Ok(None), "incomplete");
    }

    #[test]
    fn methods() {
        for ok in ["POST", "GET", "M-SEARCH", "FOO_BAR"] {
            assert_eq!(check_method(ok.as_bytes()), Ok(()), "{ok}");
        }
        for bad in ["post", "Post", "PO(ST", ""] {
            assert_eq!(
                check_method(bad.as_bytes()).unwrap_err().status,
                400,
                "{bad}"
            );
        }
        assert_eq!(check_method(b"TRACE").unwrap_err().status, 405);
    }

    #[test]
    fn target_forms() {
        assert_eq!(target_form(b"/v1/chat?x=1"), Ok((0..12, None)));
        assert_eq!(target_form(b"http://a:8/v1"), Ok((10..13, Some(7..10))));
        assert_eq!(target_form(b"https://a"), Ok((9..9, Some(8..9))));
        assert_eq!(target_form(b"http://a?q"), Ok((8..10, Some(7..8))));
        for bad in [
            "*",
            "a:443",
            "v1/chat",
            "http:///x",
            "http://a b/x",
            "1http://a/",
        ] {
            assert_eq!(
                target_form(bad.as_bytes()).unwrap_err().status,
                400,
                "{bad}"
            );
        }
        let long = format!("/{}", "a".repeat(MAX_TARGET));
        assert_eq!(target_form(long.as_bytes()).unwrap_err().status, 414);
    }

    #[test]
    fn hosts() {
        assert!(check_host(1, &[b"a.example:8000"]).is_ok());
        assert!(check_host(1, &[b"[::1]:80"]).is_ok());
        assert!(
            check_host(1, &[b""]).is_ok(),
            "empty Host is valid (RFC 9112 3.2)"
        );
        assert!(check_host(0, &[]).is_ok(), "HTTP/1.0 needs no Host");
        assert_eq!(check_host(1, &[]).unwrap_err().status, 400);
        assert_eq!(check_host(1, &[b"a", b"a"]).unwrap_err().status, 400);
        for bad in ["a b", "a/b", "u@a", "a:x", "[::1", "[zz]"] {
            assert!(check_host(1, &[bad.as_bytes()]).is_err(), "{bad}");
        }
    }
}
