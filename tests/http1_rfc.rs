//! RFC 9112 / RFC 9110 request-side requirements, one raw-bytes test each, with nginx's
//! answer to the same bytes for comparison (measured against nginx 1.22 on loopback, default
//! settings). `docs/decisions.md` ("HTTP/1.1 request side, requirement by requirement") is
//! the table: requirement, nginx, llmux, test.

mod support;

use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

fn gateway(extra_args: &[&str]) -> (Gateway, RecordingUpstream) {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 1, 1));
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            up.url("/v1/chat/completions"),
        )],
        "",
    );
    let gw = Gateway::start_with(
        &yaml,
        GatewayOpts {
            args: extra_args.iter().map(|s| s.to_string()).collect(),
            ..GatewayOpts::default()
        },
    );
    (gw, up)
}

/// A request line plus fields (each `name: value`), then `Content-Length` and the chat body
/// unless the fields frame the body themselves.
fn wire(line: &str, fields: &[&str], body: Option<&[u8]>) -> Vec<u8> {
    let mut out = format!("{line}\r\n");
    for f in fields {
        out.push_str(f);
        out.push_str("\r\n");
    }
    let mut bytes = match body {
        Some(b) => {
            out.push_str("\r\n");
            let mut v = out.into_bytes();
            v.extend_from_slice(b);
            v
        }
        None => {
            out.push_str(&format!("Content-Length: {}\r\n\r\n{CHAT}", CHAT.len()));
            out.into_bytes()
        }
    };
    bytes.shrink_to_fit();
    bytes
}

fn status_of(raw: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(raw);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

/// Sends `bytes` on a new connection; asserts the status, and that the provider was reached
/// exactly when the request was accepted.
fn expect(bytes: &[u8], status: u16) -> (Vec<u8>, RecordingUpstream) {
    let (gw, up) = gateway(&[]);
    let raw = send_raw(gw.addr(), bytes);
    assert_eq!(status_of(&raw), status, "{}", String::from_utf8_lossy(&raw));
    let reached = if status == 200 || status == 100 { 1 } else { 0 };
    assert_eq!(up.request_count(), reached);
    if status != 200 && status != 100 {
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert!(text.contains("{\"error\":{\"message\":"), "{text}");
    }
    (raw, up)
}

const H: &str = "Host: a";
const CLOSE: &str = "Connection: close";

// RFC 9112 section 2: message format and line endings.

#[test]
fn rfc9112_2_2_bare_lf_line_ends_are_accepted() {
    let bytes = wire("POST /v1/chat/completions HTTP/1.1", &[H, CLOSE], None);
    let lf = String::from_utf8(bytes).unwrap().replace("\r\n", "\n");
    expect(lf.as_bytes(), 200);
}

#[test]
fn rfc9112_2_2_empty_lines_before_the_request_line_are_ignored() {
    let mut bytes = b"\r\n\r\n".to_vec();
    bytes.extend(wire(
        "POST /v1/chat/completions HTTP/1.1",
        &[H, CLOSE],
        None,
    ));
    expect(&bytes, 200);
}

#[test]
fn rfc9112_2_2_whitespace_before_the_first_field_is_400() {
    let bytes = wire(
        "POST /v1/chat/completions HTTP/1.1",
        &[" X-A: 1", H, CLOSE],
        None,
    );
    expect(&bytes, 400);
}

#[test]
fn rfc9112_2_3_http_1_2_is_served_as_http_1_1() {
    let (_, up) = expect(
        &wire("POST /v1/chat/completions HTTP/1.2", &[H, CLOSE], None),
        200,
    );
    assert!(up.requests()[0]
        .raw_head
        .starts_with(b"POST /v1/chat/completions HTTP/1.1\r\n"));
}

#[test]
fn rfc9112_2_3_two_digit_minor_version_is_400() {
    expect(
        &wire("POST /v1/chat/completions HTTP/1.10", &[H, CLOSE], None),
        400,
    );
}

#[test]
fn rfc9110_2_5_major_version_2_is_505() {
    expect(
        &wire("POST /v1/chat/completions HTTP/2.0", &[H, CLOSE], None),
        505,
    );
}

#[test]
fn rfc9112_2_3_lower_case_http_name_is_400() {
    expect(
        &wire("POST /v1/chat/completions http/1.1", &[H, CLOSE], None),
        400,
    );
}

#[test]
fn rfc9112_2_3_http_0_9_request_line_is_400() {
    let raw = send_raw(gateway(&[]).0.addr(), b"GET /\r\n\r\n");
    assert_eq!(status_of(&raw), 400);
}

// RFC 9112 section 3: request line.

#[test]
fn rfc9112_3_several_spaces_between_request_line_parts_are_accepted() {
    expect(
        &wire("POST  /v1/chat/completions  HTTP/1.1", &[H, CLOSE], None),
        200,
    );
}

#[test]
fn rfc9112_3_tab_as_request_line_separator_is_400() {
    expect(
        &wire("POST\t/v1/chat/completions HTTP/1.1", &[H, CLOSE], None),
        400,
    );
}

#[test]
fn rfc9110_9_1_methods_are_case_sensitive_lower_case_is_400() {
    expect(
        &wire("post /v1/chat/completions HTTP/1.1", &[H, CLOSE], None),
        400,
    );
    expect(
        &wire("Post /v1/chat/completions HTTP/1.1", &[H, CLOSE], None),
        400,
    );
}

#[test]
fn rfc9110_9_1_unknown_upper_case_methods_are_forwarded() {
    let (_, up) = expect(
        &wire(
            "M-SEARCH_X /v1/chat/completions HTTP/1.1",
            &[H, CLOSE],
            None,
        ),
        200,
    );
    assert!(up.requests()[0].raw_head.starts_with(b"M-SEARCH_X "));
}

#[test]
fn rfc9110_5_6_2_method_with_a_non_token_character_is_400() {
    expect(
        &wire("PO(ST /v1/chat/completions HTTP/1.1", &[H, CLOSE], None),
        400,
    );
}

#[test]
fn rfc9110_9_3_8_trace_is_405() {
    expect(&wire("TRACE / HTTP/1.1", &[H, CLOSE], Some(b"")), 405);
}

#[test]
fn rfc9112_3_request_target_longer_than_8k_is_414() {
    let line = format!("POST /{} HTTP/1.1", "a".repeat(9000));
    expect(&wire(&line, &[H, CLOSE], None), 414);
}

#[test]
fn rfc9112_3_2_1_origin_form_keeps_its_query() {
    let (gw, up) = gateway(&[]);
    let r = send_raw(
        gw.addr(),
        &wire("POST /v1/chat/completions?a=b HTTP/1.1", &[H, CLOSE], None),
    );
    assert_eq!(status_of(&r), 200);
    assert_eq!(up.request_count(), 1);
}

#[test]
fn rfc9112_3_2_target_that_is_not_a_path_nor_a_uri_is_400() {
    expect(
        &wire("POST v1/chat/completions HTTP/1.1", &[H, CLOSE], None),
        400,
    );
}

#[test]
fn rfc9112_3_2_2_absolute_form_is_routed_by_its_path() {
    // A route that only the path matches: the absolute-form target must be read as its path.
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 1, 1));
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://localhost:1\n  routes:\n  - name: r\n    paths: [/v1/chat]\n    plugins:\n    - name: ai-proxy\n      config:\n        route_type: llm/v1/chat\n        model: {{provider: openai, name: gpt-4o-mini, model_alias: fast, options: {{upstream_url: \"{}\"}}}}\n",
        up.url("/v1/chat/completions")
    );
    let gw = Gateway::start(&yaml);
    let raw = send_raw(
        gw.addr(),
        &wire(
            "POST http://b.example/v1/chat/completions HTTP/1.1",
            &[H, CLOSE],
            None,
        ),
    );
    assert_eq!(status_of(&raw), 200, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(up.request_count(), 1);
    let raw = send_raw(
        gw.addr(),
        &wire("POST http://b.example/other HTTP/1.1", &[H, CLOSE], None),
    );
    assert_eq!(status_of(&raw), 404);
}

#[test]
fn rfc9112_3_2_2_absolute_form_ignores_a_different_host_header() {
    expect(
        &wire(
            "POST http://b/v1/chat/completions HTTP/1.1",
            &["Host: a", CLOSE],
            None,
        ),
        200,
    );
}

#[test]
fn rfc9112_3_2_2_absolute_form_without_host_is_400_in_http_1_1() {
    expect(
        &wire("POST http://b/v1/chat/completions HTTP/1.1", &[CLOSE], None),
        400,
    );
}

#[test]
fn rfc9112_3_2_3_authority_form_is_only_for_connect_and_connect_is_400() {
    expect(&wire("POST a:443 HTTP/1.1", &[H, CLOSE], None), 400);
    expect(
        &wire("CONNECT a:443 HTTP/1.1", &["Host: a:443", CLOSE], Some(b"")),
        400,
    );
}

#[test]
fn rfc9112_3_2_4_asterisk_form_is_400() {
    expect(&wire("OPTIONS * HTTP/1.1", &[H, CLOSE], Some(b"")), 400);
    expect(&wire("POST * HTTP/1.1", &[H, CLOSE], None), 400);
}

// RFC 9112 section 3.2 and RFC 9110 section 7.2: Host.

#[test]
fn rfc9112_3_2_http_1_1_without_host_is_400() {
    expect(
        &wire("POST /v1/chat/completions HTTP/1.1", &[CLOSE], None),
        400,
    );
}

#[test]
fn rfc9112_3_2_http_1_0_without_host_is_served() {
    expect(&wire("POST /v1/chat/completions HTTP/1.0", &[], None), 200);
}

#[test]
fn rfc9112_3_2_two_host_fields_are_400_even_when_equal() {
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &["Host: a", "Host: b", CLOSE],
            None,
        ),
        400,
    );
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &["Host: a", "Host: a", CLOSE],
            None,
        ),
        400,
    );
}

#[test]
fn rfc9112_3_2_invalid_host_values_are_400() {
    for host in [
        "Host: a b",
        "Host: a/b",
        "Host: u@a",
        "Host: a:x",
        "Host: [::1",
    ] {
        expect(
            &wire("POST /v1/chat/completions HTTP/1.1", &[host, CLOSE], None),
            400,
        );
    }
}

#[test]
fn rfc9112_3_2_empty_host_is_valid() {
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &["Host:", CLOSE],
            None,
        ),
        200,
    );
}

#[test]
fn rfc9112_3_2_ip_literal_host_with_port_is_valid() {
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &["Host: [::1]:8000", CLOSE],
            None,
        ),
        200,
    );
}

// RFC 9112 section 5: field syntax.

#[test]
fn rfc9112_5_1_whitespace_between_field_name_and_colon_is_400() {
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "X-A : 1", CLOSE],
            None,
        ),
        400,
    );
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &["Host : a", CLOSE],
            None,
        ),
        400,
    );
}

#[test]
fn rfc9112_5_2_obs_fold_is_400() {
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "X-A: 1", " 2", CLOSE],
            None,
        ),
        400,
    );
}

#[test]
fn rfc9110_5_5_nul_or_cr_in_a_field_value_is_400() {
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "X-A: a\0b", CLOSE],
            None,
        ),
        400,
    );
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "X-A: a\rb", CLOSE],
            None,
        ),
        400,
    );
}

#[test]
fn rfc9110_5_1_field_name_that_is_not_a_token_is_400() {
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "X(A: 1", CLOSE],
            None,
        ),
        400,
    );
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "NoColonHere", CLOSE],
            None,
        ),
        400,
    );
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, ": x", CLOSE],
            None,
        ),
        400,
    );
}

#[test]
fn nginx_underscored_field_names_are_dropped_by_default() {
    let (_, up) = expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "X_Api_Key: k", "X-Ok: 1", CLOSE],
            None,
        ),
        200,
    );
    let sent = &up.requests()[0];
    assert_eq!(sent.header("X_Api_Key"), None);
    assert_eq!(sent.header("X-Ok"), Some("1"));
}

#[test]
fn nginx_underscored_content_length_does_not_frame_the_body() {
    // Dropped before framing is decided: the body is not read as 60 bytes.
    let bytes = wire(
        "POST /v1/chat/completions HTTP/1.1",
        &[H, "Content_Length: 60", CLOSE],
        Some(b""),
    );
    let (gw, up) = gateway(&[]);
    let raw = send_raw(gw.addr(), &bytes);
    assert_eq!(status_of(&raw), 400, "an empty body is not JSON");
    assert_eq!(up.request_count(), 0);
}

#[test]
fn nginx_underscores_in_headers_flag_keeps_them() {
    let (gw, up) = gateway(&["--underscores-in-headers"]);
    let raw = send_raw(
        gw.addr(),
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "X_Api_Key: k", CLOSE],
            None,
        ),
    );
    assert_eq!(status_of(&raw), 200);
    assert_eq!(up.requests()[0].header("X_Api_Key"), Some("k"));
}

// RFC 9112 section 6: message body length.

#[test]
fn rfc9112_6_1_chunked_in_any_case_is_read() {
    let body = chunked_body(&[CHAT.as_bytes()]);
    for te in ["Transfer-Encoding: chunked", "Transfer-Encoding: Chunked"] {
        expect(
            &wire(
                "POST /v1/chat/completions HTTP/1.1",
                &[H, te, CLOSE],
                Some(&body),
            ),
            200,
        );
    }
}

#[test]
fn rfc9112_6_1_codings_other_than_a_single_chunked_are_501() {
    for te in [
        "gzip, chunked",
        "chunked, gzip",
        "chunked, chunked",
        "identity",
        "foo",
        "",
    ] {
        let field = format!("Transfer-Encoding: {te}");
        expect(
            &wire(
                "POST /v1/chat/completions HTTP/1.1",
                &[H, &field, CLOSE],
                Some(b"0\r\n\r\n"),
            ),
            501,
        );
    }
}

#[test]
fn rfc9112_6_1_transfer_encoding_twice_is_400() {
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[
                H,
                "Transfer-Encoding: gzip",
                "Transfer-Encoding: chunked",
                CLOSE,
            ],
            Some(b"0\r\n\r\n"),
        ),
        400,
    );
}

#[test]
fn rfc9112_6_1_transfer_encoding_in_http_1_0_is_400() {
    let body = chunked_body(&[CHAT.as_bytes()]);
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.0",
            &[H, "Transfer-Encoding: chunked"],
            Some(&body),
        ),
        400,
    );
}

#[test]
fn rfc9112_6_3_transfer_encoding_with_content_length_is_400() {
    let body = chunked_body(&[CHAT.as_bytes()]);
    let cl = format!("Content-Length: {}", body.len());
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "Transfer-Encoding: chunked", &cl, CLOSE],
            Some(&body),
        ),
        400,
    );
}

#[test]
fn rfc9112_6_3_invalid_or_repeated_content_length_is_400() {
    let n = CHAT.len();
    for fields in [
        vec![format!("Content-Length: +{n}")],
        vec![format!("Content-Length: {n}, {n}")],
        vec![
            format!("Content-Length: {n}"),
            format!("Content-Length: {n}"),
        ],
        vec![
            format!("Content-Length: {n}"),
            "Content-Length: 3".to_string(),
        ],
        vec!["Content-Length: 0x3a".to_string()],
    ] {
        let mut all: Vec<&str> = vec![H, CLOSE];
        all.extend(fields.iter().map(String::as_str));
        expect(
            &wire(
                "POST /v1/chat/completions HTTP/1.1",
                &all,
                Some(CHAT.as_bytes()),
            ),
            400,
        );
    }
}

#[test]
fn rfc9112_7_1_chunk_extensions_and_trailers_are_accepted() {
    let body = format!("{:x};a=b\r\n{CHAT}\r\n0\r\nX-T: 1\r\n\r\n", CHAT.len());
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "Transfer-Encoding: chunked", CLOSE],
            Some(body.as_bytes()),
        ),
        200,
    );
}

#[test]
fn rfc9112_7_1_chunk_lines_need_crlf() {
    let body = format!("{:x}\n{CHAT}\n0\n\n", CHAT.len());
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "Transfer-Encoding: chunked", CLOSE],
            Some(body.as_bytes()),
        ),
        400,
    );
}

// RFC 9110 section 10.1.1: Expect.

#[test]
fn rfc9110_10_1_1_expect_100_continue_gets_100_first() {
    let (raw, _) = expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "Expect: 100-continue", CLOSE],
            None,
        ),
        100,
    );
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("\r\n\r\nHTTP/1.1 200 OK\r\n"), "{text}");
}

#[test]
fn rfc9110_10_1_1_unknown_expectation_is_417() {
    expect(
        &wire(
            "POST /v1/chat/completions HTTP/1.1",
            &[H, "Expect: foo", CLOSE],
            None,
        ),
        417,
    );
}

// RFC 9112 section 9.3: persistence.

fn two_requests(first: &[u8], second: &[u8]) -> (Response, bool) {
    let (gw, _up) = gateway(&[]);
    let mut reader = ResponseReader::connect(gw.addr());
    reader.send(first);
    let r = reader.read_response();
    reader.send(second);
    (r, reader.is_closed())
}

#[test]
fn rfc9112_9_3_http_1_1_persists_unless_connection_close() {
    let keep = wire("POST /v1/chat/completions HTTP/1.1", &[H], None);
    let (r, closed) = two_requests(&keep, &keep);
    assert_eq!((r.status, closed), (200, false));
    let close = wire("POST /v1/chat/completions HTTP/1.1", &[H, CLOSE], None);
    let (r, closed) = two_requests(&close, &keep);
    assert_eq!((r.status, closed), (200, true));
}

#[test]
fn rfc9112_9_3_http_1_0_closes_unless_keep_alive() {
    let plain = wire("POST /v1/chat/completions HTTP/1.0", &[], None);
    let (r, closed) = two_requests(&plain, &plain);
    assert_eq!((r.status, closed), (200, true));
    let keep = wire(
        "POST /v1/chat/completions HTTP/1.0",
        &["Connection: keep-alive"],
        None,
    );
    let (r, closed) = two_requests(&keep, &keep);
    assert_eq!((r.status, closed), (200, false));
    assert_eq!(r.header("Connection"), Some("keep-alive"));
}
