//! Where a target's requests go: `model.options.upstream_url` verbatim, else the provider's own
//! URL (`provider_url.rs`). Parsing only: no DNS lookups here.

use super::types::{UpstreamUrl, REDACTED};

/// The pieces of an http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path_and_query: String,
}

/// Parse an absolute `http://` or `https://` URL. Messages never repeat the URL (its query may
/// hold a key).
pub(crate) fn parse_url(s: &str) -> Result<ParsedUrl, String> {
    if s.contains('#') {
        return Err("must not contain a fragment (`#...`)".into());
    }
    let uri: http::Uri = s.parse().map_err(|_| "is not a valid URL".to_string())?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        Some(_) => return Err("scheme must be http or https".into()),
        None => return Err("must be an absolute URL (http:// or https://)".into()),
    };
    let Some(authority) = uri.authority() else {
        return Err("must include a host".into());
    };
    if authority.as_str().contains('@') {
        return Err("user info (`user:password@`) in the URL is not supported".into());
    }
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err("must include a host".into());
    }
    if authority.as_str().ends_with(':') {
        return Err("has an empty port".into());
    }
    let port = match authority.port_u16() {
        Some(0) => return Err("port must be between 1 and 65535".into()),
        Some(p) => p,
        None if authority
            .as_str()
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.contains(']')) =>
        {
            return Err("port must be between 1 and 65535".into())
        }
        None if tls => 443,
        None => 80,
    };
    let path_and_query = match uri.path_and_query() {
        Some(pq) if pq.as_str().starts_with('/') => pq.as_str().to_string(),
        Some(pq) => format!("/{}", pq.as_str()),
        None => "/".to_string(),
    };
    Ok(ParsedUrl {
        tls,
        host: host.to_string(),
        port,
        path_and_query,
    })
}

/// The finished upstream, with an optional `auth.param_location: query` parameter appended.
pub(crate) fn build(url: ParsedUrl, query_param: Option<(&str, &str)>) -> UpstreamUrl {
    let host_in_url = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    let default_port = if url.tls { 443 } else { 80 };
    let host_header = if url.port == default_port {
        host_in_url
    } else {
        format!("{host_in_url}:{}", url.port)
    };
    let mut path_and_query = url.path_and_query;
    let mut shown = path_and_query.clone();
    if let Some((name, value)) = query_param {
        let sep = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        let name = encode(name);
        path_and_query = format!("{path_and_query}{sep}{name}={}", encode(value));
        shown = format!("{shown}{sep}{name}={REDACTED}");
    }
    let scheme = if url.tls { "https" } else { "http" };
    UpstreamUrl {
        tls: url.tls,
        host: url.host,
        port: url.port,
        path_and_query,
        display: format!("{scheme}://{host_header}{shown}"),
        host_header,
    }
}

/// Percent-encode everything but RFC 3986's unreserved characters.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(s: &str, q: Option<(&str, &str)>) -> UpstreamUrl {
        build(parse_url(s).unwrap(), q)
    }

    #[test]
    fn verbatim_with_port_and_query() {
        let u = up(
            "http://10.0.0.5:8080/v1/chat/completions?x=1",
            Some(("api-key", "s k&1")),
        );
        assert!(!u.tls);
        assert_eq!((u.host.as_str(), u.port), ("10.0.0.5", 8080));
        assert_eq!(
            u.path_and_query,
            "/v1/chat/completions?x=1&api-key=s%20k%261"
        );
        assert_eq!(u.host_header, "10.0.0.5:8080");
        assert_eq!(
            u.display,
            "http://10.0.0.5:8080/v1/chat/completions?x=1&api-key=<redacted>"
        );
        assert!(!format!("{u:?}").contains("s%20k"));
    }

    #[test]
    fn defaults_and_ipv6() {
        let u = up("https://api.openai.com", None);
        assert_eq!(
            (u.port, u.path_and_query.as_str(), u.host_header.as_str()),
            (443, "/", "api.openai.com")
        );
        let u = up("https://h.example:443/p", Some(("k", "v")));
        assert_eq!(
            (u.host_header.as_str(), u.path_and_query.as_str()),
            ("h.example", "/p?k=v")
        );
        let u = up("http://[::1]:9000/v1", None);
        assert_eq!(
            (u.host.as_str(), u.host_header.as_str()),
            ("::1", "[::1]:9000")
        );
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "ftp://x/",
            "api.openai.com/v1",
            "http://user:pw@h/",
            "http://h:0/",
            "http://h:99999/",
            "http://h/#f",
            "http:///x",
            "not a url",
            "http://h:/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
