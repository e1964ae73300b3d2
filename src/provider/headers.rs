//! The part of an upstream request head every provider shares: request line, `Host`, and the
//! client's end-to-end headers.

use crate::http1::headers::{has_token, is_hop_by_hop, push};
use crate::http1::Decimal;
use crate::http1::RequestHead;

/// Starts the upstream head: `method path HTTP/1.1`, the upstream's `Host`, then the client's
/// headers except those `drop` names.
///
/// Always dropped: hop-by-hop headers (and any the client's `Connection` lists), `Host`,
/// `Expect` (llmux answered it) and `Accept-Encoding` (llmux must read the provider's usage, so
/// the provider answers uncompressed). `Content-Length` is hop-by-hop here too: the caller
/// writes the new one.
pub(super) fn start_head(
    out: &mut Vec<u8>,
    client: &RequestHead,
    path_and_query: &str,
    host: &str,
    drop: impl Fn(&[u8]) -> bool,
) {
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
            || drop(name)
        {
            continue;
        }
        push(out, name, client.header_value(h));
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
