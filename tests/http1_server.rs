//! The client-facing HTTP/1.1 server: keep-alive, pipelining, chunked request bodies,
//! `Expect: 100-continue` and head limits.

mod support;
use std::io::{Read, Write};
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

fn setup() -> (RecordingUpstream, Gateway) {
    let upstream = RecordingUpstream::start(|req| {
        Reply::openai_chat(
            &req.body_json_model().unwrap_or_default(),
            &format!("answer {}", req.index),
            1,
            1,
        )
    });
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            upstream.url("/v1/chat/completions"),
        )],
        "",
    );
    (upstream, Gateway::start(&yaml))
}

#[test]
fn two_hundred_requests_on_one_keep_alive_connection() {
    let (upstream, gw) = setup();
    let mut conn = ResponseReader::connect(gw.addr());
    for i in 0..200 {
        conn.send(&build_post(gw.addr(), "/v1/chat/completions", CHAT, &[]));
        let r = conn.read_response();
        assert_eq!(r.status, 200, "request {i}: {}", r.body_str());
        assert_eq!(
            r.header("Connection"),
            None,
            "request {i} must keep the connection"
        );
    }
    assert_eq!(upstream.wait_for_requests(200, WAIT).len(), 200);
    // The gateway reused its upstream connection too.
    assert_eq!(upstream.connections(), 1, "upstream keep-alive pool");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let (_upstream, gw) = setup();
    let mut conn = ResponseReader::connect(gw.addr());
    let mut batch = Vec::new();
    for i in 0..5 {
        let body = CHAT.replace("hi", &format!("pipelined {i}"));
        batch.extend_from_slice(&build_post(gw.addr(), "/v1/chat/completions", &body, &[]));
    }
    conn.send(&batch);
    for i in 0..5 {
        let r = conn.read_response();
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert!(
            r.body_str().contains(&format!("answer {i}")),
            "response {i} out of order: {}",
            r.body_str()
        );
    }
}

#[test]
fn chunked_request_body_is_forwarded_with_a_content_length() {
    let (upstream, gw) = setup();
    let (a, b) = CHAT.split_at(17);
    let body = chunked_body(&[a.as_bytes(), b.as_bytes()]);
    let req = build_request(
        "POST",
        gw.addr(),
        "/v1/chat/completions",
        &body,
        &[
            ("Transfer-Encoding", "chunked"),
            ("Content-Type", "application/json"),
        ],
    );
    let mut conn = ResponseReader::connect(gw.addr());
    conn.send(&req);
    let r = conn.read_response();
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = upstream.wait_for_requests(1, WAIT);
    assert_eq!(
        seen[0].body_str(),
        CHAT.replace("\"fast\"", "\"gpt-4o-mini\"")
    );
    assert_eq!(seen[0].header("Transfer-Encoding"), None);
    assert_eq!(
        seen[0].header("Content-Length"),
        Some(seen[0].body.len().to_string().as_str())
    );
}

#[test]
fn expect_100_continue_gets_an_interim_response_before_the_body() {
    let (upstream, gw) = setup();
    let mut stream = connect(gw.addr());
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        CHAT.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(CHAT.as_bytes()).unwrap();
    let mut conn = ResponseReader::new(stream);
    assert_eq!(conn.read_response().status, 200);
    let seen = upstream.wait_for_requests(1, WAIT);
    assert_eq!(
        seen[0].header("Expect"),
        None,
        "llmux answered the expectation itself"
    );
}

#[test]
fn oversized_heads_get_431_and_a_declared_oversized_body_413_unread() {
    let (upstream, gw) = setup();
    let huge = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    let text = String::from_utf8_lossy(&send_raw(gw.addr(), huge.as_bytes())).into_owned();
    assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let text = String::from_utf8_lossy(&send_raw(
        gw.addr(),
        format!("POST / HTTP/1.1\r\n{many}\r\n").as_bytes(),
    ))
    .into_owned();
    assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
    // 2 MB declared against the default 1 MiB limit: refused before any body byte is sent.
    let text = String::from_utf8_lossy(&send_raw(
        gw.addr(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n",
    ))
    .into_owned();
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    assert!(
        text.contains("request body too large (limit 1048576 bytes)"),
        "{text}"
    );
    assert_eq!(upstream.request_count(), 0);
}

#[test]
fn http10_client_gets_its_answer_and_a_close() {
    let (_upstream, gw) = setup();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{CHAT}",
        CHAT.len()
    );
    let text = String::from_utf8_lossy(&send_raw(gw.addr(), req.as_bytes())).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.contains("Connection: close"), "{text}");
    assert!(text.contains("answer 0"), "{text}");
}
