//! The part of an upstream request head every provider shares: request line, `Host`, and the
//! client's end-to-end headers.

use super::Call;
use crate::http1::headers::{has_token, is_hop_by_hop, push};
use crate::http1::Decimal;

/// Starts the upstream head: `method path HTTP/1.1`, the upstream's `Host`, then the client's
/// headers except those `drop` names, then the headers access control adds.
///
/// Always dropped: hop-by-hop headers (and any the client's `Connection` lists), `Host`,
/// `Expect` (llmux answered it), `Accept-Encoding` (llmux must read the provider's usage, so
/// the provider answers uncompressed), and what access control says (the header that carried
/// the consumer's key, client-sent `X-Consumer-*`). `Content-Length` is hop-by-hop here too:
/// the caller writes the new one. Every provider's head starts here, so none can forward a
/// consumer's key.
pub(super) fn start_head(
    out: &mut Vec<u8>,
    call: &Call<'_>,
    path_and_query: &str,
    host: &str,
    drop: impl Fn(&[u8]) -> bool,
) {
    let client = call.head;
    out.clear();
    out.extend_from_slice(client.method().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    push(out, b"Host", host.as_bytes());
    let connection_listed = client.header("connection").unwrap_or(b"");
    for h in &client.headers {
        let name = client.header_name(h);
        if is_hop_by_hop(name)
            || name.eq_ignore_ascii_case(b"host")
            || name.eq_ignore_ascii_case(b"expect")
            || name.eq_ignore_ascii_case(b"accept-encoding")
            || has_token(connection_listed, name)
            || call.access.drops(name)
            || drop(name)
        {
            continue;
        }
        push(out, name, client.header_value(h));
    }
    for line in call.access.lines {
        out.extend_from_slice(line);
    }
}

/// Ends the head with `Content-Length` and the blank line.
pub(super) fn finish_head(out: &mut Vec<u8>, content_length: usize) {
    push(
        out,
        b"Content-Length",
        Decimal::of(content_length as u64).as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
}

/// The upstream head for `call`: request line for `path_and_query`, `Host`, the client's
/// end-to-end headers (minus those `drop` names), the target's credentials, `extra` headers and
/// `Content-Length`. The configured auth header replaces the client's unless `allow_override`
/// is set and the client sent one.
pub(super) fn head_with_auth(
    out: &mut Vec<u8>,
    call: &Call<'_>,
    path_and_query: &str,
    drop: impl Fn(&[u8]) -> bool,
    extra: &[(&[u8], &[u8])],
    content_length: usize,
) {
    let (client, target) = (call.head, call.target);
    let auth_name = target.auth.header.as_ref().map(|(n, _)| n.as_bytes());
    // A header that carried the consumer's key to llmux is not the client's provider key.
    let client_has_auth = auth_name.is_some_and(|n| {
        !call.access.drops(n)
            && client
                .headers
                .iter()
                .any(|h| client.header_name(h).eq_ignore_ascii_case(n))
    });
    let keep_client_auth = client_has_auth && target.auth.allow_override;
    start_head(
        out,
        call,
        path_and_query,
        &target.upstream.host_header,
        |name| drops_client_header(name, auth_name, keep_client_auth, &drop),
    );
    if let Some((name, value)) = &target.auth.header {
        if !keep_client_auth {
            push(out, name.as_bytes(), value.as_bytes());
        }
    }
    for (name, value) in extra {
        push(out, name, value);
    }
    finish_head(out, content_length);
}

/// Whether the client's header `name` stays out of the upstream head. The target's own auth
/// header is `allow_override`'s alone to decide: kept when the client's credential stands (even
/// where `drop` would remove credentials, as translated requests do), replaced otherwise. Every
/// other header is `drop`'s.
fn drops_client_header(
    name: &[u8],
    auth_name: Option<&[u8]>,
    keep_client_auth: bool,
    drop: impl Fn(&[u8]) -> bool,
) -> bool {
    if auth_name.is_some_and(|n| n.eq_ignore_ascii_case(name)) {
        !keep_client_auth
    } else {
        drop(name)
    }
}

/// Client headers a translated request must not carry to another provider: credentials meant
/// for the gateway or for OpenAI, the client's content negotiation (llmux sets its own), and
/// AWS signing headers (Bedrock requests are signed by llmux).
pub(super) fn is_foreign(name: &[u8]) -> bool {
    const DROP: [&[u8]; 11] = [
        b"authorization",
        b"x-api-key",
        b"api-key",
        b"x-goog-api-key",
        b"content-type",
        b"accept",
        b"anthropic-version",
        b"openai-organization",
        b"openai-project",
        b"openai-beta",
        b"x-amz-security-token",
    ];
    DROP.iter().any(|d| d.eq_ignore_ascii_case(name)) || is_aws_signing(name)
}

/// `x-amz-*` and `amz-sdk-*` headers: whoever signs the request owns them.
pub(super) fn is_aws_signing(name: &[u8]) -> bool {
    let starts = |p: &[u8]| name.len() >= p.len() && name[..p.len()].eq_ignore_ascii_case(p);
    starts(b"x-amz-") || starts(b"amz-sdk-") || name.eq_ignore_ascii_case(b"authorization")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_override_keeps_the_clients_credential_that_translation_would_drop() {
        let auth = Some(&b"x-api-key"[..]);
        assert!(!drops_client_header(b"X-Api-Key", auth, true, is_foreign));
        assert!(drops_client_header(b"x-api-key", auth, false, is_foreign));
    }

    #[test]
    fn other_credentials_are_still_dropped_on_translated_requests() {
        let auth = Some(&b"x-api-key"[..]);
        assert!(drops_client_header(
            b"authorization",
            auth,
            true,
            is_foreign
        ));
        assert!(drops_client_header(b"api-key", None, false, is_foreign));
        assert!(!drops_client_header(
            b"anthropic-beta",
            auth,
            true,
            is_foreign
        ));
    }

    #[test]
    fn without_a_translation_only_the_replaced_credential_is_dropped() {
        let auth = Some(&b"authorization"[..]);
        assert!(drops_client_header(b"Authorization", auth, false, |_| {
            false
        }));
        assert!(!drops_client_header(b"Authorization", auth, true, |_| {
            false
        }));
        assert!(!drops_client_header(b"x-api-key", auth, false, |_| false));
    }
}
