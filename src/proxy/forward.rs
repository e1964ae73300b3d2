//! The request head llmux sends upstream and the body edits it asks the splicer for.

use crate::body::BodyFacts;
use crate::config::TargetConfig;
use crate::http1::headers::{has_token, is_hop_by_hop, push};
use crate::http1::RequestHead;

/// Builds the upstream head: the provider's path, its `Host`, the client's end-to-end headers
/// and the target's credentials.
///
/// Dropped from the client's headers: hop-by-hop ones (and any the client's `Connection` lists),
/// `Host`, `Expect` (llmux answered it), `Accept-Encoding` (llmux must read the provider's
/// `usage`, so the provider answers uncompressed) and the auth header the target replaces.
pub fn upstream_head(
    client: &RequestHead,
    target: &TargetConfig,
    content_length: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(client.raw.len() + 256);
    out.extend_from_slice(client.method().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.upstream.path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    push(&mut out, b"Host", target.upstream.host_header.as_bytes());

    let connection_listed = client.header("connection").unwrap_or(b"");
    let auth_name = target.auth.header.as_ref().map(|(n, _)| n.as_bytes());
    let client_has_auth = auth_name.is_some_and(|n| {
        client
            .headers
            .iter()
            .any(|h| client.header_name(h).eq_ignore_ascii_case(n))
    });
    let keep_client_auth = client_has_auth && target.auth.allow_override;

    for h in &client.headers {
        let name = client.header_name(h);
        if is_hop_by_hop(name)
            || name.eq_ignore_ascii_case(b"host")
            || name.eq_ignore_ascii_case(b"expect")
            || name.eq_ignore_ascii_case(b"accept-encoding")
            || has_token(connection_listed, name)
            || (!keep_client_auth && auth_name.is_some_and(|n| n.eq_ignore_ascii_case(name)))
        {
            continue;
        }
        push(&mut out, name, client.header_value(h));
    }
    if let Some((name, value)) = &target.auth.header {
        if !keep_client_auth {
            push(&mut out, name.as_bytes(), value.as_bytes());
        }
    }
    push(
        &mut out,
        b"Content-Length",
        content_length.to_string().as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
    out
}

/// Members inserted at the start of the body: option defaults the client did not set and the
/// body auth parameter.
pub fn body_inserts<'a>(
    target: &'a TargetConfig,
    facts: &BodyFacts,
    quoted_param: &'a Option<(String, String)>,
) -> Vec<(&'a str, &'a str)> {
    let mut inserts: Vec<(&str, &str)> = Vec::new();
    for (key, literal) in &target.defaults {
        let present = match *key {
            "max_tokens" => facts.has_max_tokens,
            "temperature" => facts.has_temperature,
            "top_p" => facts.has_top_p,
            _ => true,
        };
        if !present {
            inserts.push((key, literal.as_str()));
        }
    }
    if let Some((name, value)) = quoted_param {
        inserts.push((name.as_str(), value.as_str()));
    }
    inserts
}
