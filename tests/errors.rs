//! Every row of the error table in docs/behaviour.md (section 3), over the wire: status,
//! OpenAI-shaped body, Kong's message, and nothing sent upstream where nothing should be.

mod support;
use std::time::Duration;
use support::*;

fn ok_upstream() -> RecordingUpstream {
    RecordingUpstream::start(|_| Reply::openai_chat("m", "ok", 1, 1))
}

fn gateway_for(upstream: &RecordingUpstream, extra: &str) -> Gateway {
    let yaml = plugin_yaml(
        &[
            T::new("fast", "gpt-4o-mini", upstream.url("/v1/chat/completions")),
            T::new("powerful", "gpt-4o", upstream.url("/v1/chat/completions")),
        ],
        extra,
    );
    Gateway::start(&yaml)
}

fn assert_error(r: &Response, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", r.body_str());
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.json_error_message().as_deref(),
        Some(message),
        "{}",
        r.body_str()
    );
    // Kong's shape exactly: `{"error":{"message":...}}`, nothing else.
    assert_eq!(
        r.body_str(),
        format!(r#"{{"error":{{"message":{}}}}}"#, json_string(message))
    );
}

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn client_errors_are_answered_without_touching_the_upstream() {
    let upstream = ok_upstream();
    let gw = gateway_for(&upstream, "      max_request_body_size: 200\n");
    let bad_json = "content-type header does not match request body, or bad JSON formatting";
    for body in [r#"{"model":"fast","#, "[1,2]", "\"text\"", "not json"] {
        assert_error(
            &post_json(gw.addr(), "/v1/chat/completions", body, &[]),
            400,
            bad_json,
        );
    }
    for body in [
        r#"{"model":"fast"}"#,
        r#"{"model":"fast","messages":[]}"#,
        r#"{"model":"fast","messages":"hi"}"#,
    ] {
        let r = post_json(gw.addr(), "/v1/chat/completions", body, &[]);
        assert_error(&r, 400, "request body doesn't contain valid prompts");
    }
    let unknown = r#"{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}"#;
    assert_error(
        &post_json(gw.addr(), "/x", unknown, &[]),
        400,
        "model not configured",
    );

    let big = format!(
        r#"{{"model":"fast","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "a".repeat(300)
    );
    let r = post_json(gw.addr(), "/v1/chat/completions", &big, &[]);
    assert_error(&r, 413, "request body too large (limit 200 bytes)");

    assert_eq!(
        upstream.request_count(),
        0,
        "no client error may reach the provider"
    );
}

#[test]
fn own_model_message_lists_the_allowed_names_when_no_alias_exists() {
    let upstream = ok_upstream();
    let yaml = plugin_yaml(
        &[
            T::named("gpt-4", upstream.url("/v1/chat/completions")),
            T::named("gpt-4o-mini", upstream.url("/v1/chat/completions")),
        ],
        "",
    );
    let gw = Gateway::start(&yaml);
    let body = r#"{"model":"llama","messages":[{"role":"user","content":"hi"}]}"#;
    let r = post_json(gw.addr(), "/", body, &[]);
    assert_error(
        &r,
        400,
        "cannot use own model - must be: gpt-4, gpt-4o-mini",
    );
    assert_eq!(upstream.request_count(), 0);
}

#[test]
fn streaming_denied() {
    let upstream = ok_upstream();
    let gw = gateway_for(&upstream, "      response_streaming: deny\n");
    let body = r#"{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let r = post_json(gw.addr(), "/", body, &[]);
    assert_error(&r, 400, "response streaming is not enabled for this LLM");
    assert_eq!(upstream.request_count(), 0);
}

#[test]
fn no_route_and_route_without_plugin_are_404() {
    let upstream = ok_upstream();
    let url = upstream.url("/v1/chat/completions");
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: llm
    url: http://127.0.0.1:9
    routes:
      - name: chat
        paths: ["/chat"]
        plugins:
          - name: ai-proxy-advanced
            config:
              targets:
                - route_type: llm/v1/chat
                  model: {{provider: openai, name: gpt-4o, model_alias: fast, options: {{upstream_url: "{url}"}}}}
      - name: plain
        paths: ["/plain"]
"#
    );
    let gw = Gateway::start(&yaml);
    assert_error(
        &post_json(gw.addr(), "/elsewhere", CHAT, &[]),
        404,
        "no route matched",
    );
    let r = post_json(gw.addr(), "/plain", CHAT, &[]);
    assert_eq!(r.status, 404, "{}", r.body_str());
    assert!(
        r.json_error_message().unwrap_or_default().contains("plain"),
        "{}",
        r.body_str()
    );
    let ok = post_json(gw.addr(), "/chat/completions", CHAT, &[]);
    assert_eq!(ok.status, 200, "{}", ok.body_str());
}

#[test]
fn connect_failure_after_retries_is_502_naming_the_last_target() {
    // Two ports nobody listens on: bind, read the port, close.
    let dead = |_: ()| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (p1, p2) = (dead(()), dead(()));
    let yaml = plugin_yaml(
        &[
            T::new(
                "fast",
                "a",
                format!("http://127.0.0.1:{p1}/v1/chat/completions"),
            ),
            T::new(
                "fast",
                "b",
                format!("http://127.0.0.1:{p2}/v1/chat/completions"),
            ),
        ],
        "",
    );
    let gw = Gateway::start(&yaml);
    let r = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(r.status, 502, "{}", r.body_str());
    let msg = r.json_error_message().unwrap_or_default();
    assert!(
        msg.contains(&format!("127.0.0.1:{p1}")) || msg.contains(&format!("127.0.0.1:{p2}")),
        "{msg}"
    );
    assert!(!msg.contains("sk-target-secret") && !r.body_str().contains("sk-target-secret"));
}

#[test]
fn upstream_timeout_is_504() {
    let upstream = RecordingUpstream::start(|_| Reply::hang(Duration::from_secs(5)));
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            upstream.url("/v1/chat/completions"),
        )],
        "      balancer:\n        read_timeout: 300\n",
    );
    let gw = Gateway::start(&yaml);
    let r = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(r.status, 504, "{}", r.body_str());
    assert!(r
        .json_error_message()
        .unwrap_or_default()
        .contains(&upstream.addr().to_string()));
    // A POST already sent is not retried without non_idempotent.
    assert_eq!(upstream.request_count(), 1);
}

#[test]
fn open_breakers_give_503_no_healthy_upstream() {
    let upstream = RecordingUpstream::start(|_| Reply::close());
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            upstream.url("/v1/chat/completions"),
        )],
        "      balancer:\n        max_fails: 1\n        fail_timeout: 60000\n",
    );
    let gw = Gateway::start(&yaml);
    let first = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(first.status, 502, "{}", first.body_str());
    let second = post_json(gw.addr(), "/", CHAT, &[]);
    assert_error(&second, 503, "no healthy upstream");
    assert_eq!(
        upstream.request_count(),
        1,
        "the open target got no traffic"
    );
}

#[test]
fn malformed_http_is_400_and_the_connection_is_closed() {
    let upstream = ok_upstream();
    let gw = gateway_for(&upstream, "");
    for raw in [
        &b"THIS IS NOT HTTP\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ] {
        let answer = send_raw(gw.addr(), raw);
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
        assert!(text.contains("Connection: close"), "{text}");
        assert!(text.contains("\"error\":{\"message\":"), "{text}");
    }
    assert_eq!(upstream.request_count(), 0);
}
