//! Living with change and trouble: reloads (SIGHUP and admin POST /config) without dropping a
//! request, graceful shutdown, clients that go away, and clients that are too slow or too many.

mod support;
use std::io::{Read, Write};
use std::time::Duration;
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

fn echo() -> RecordingUpstream {
    RecordingUpstream::start(|req| {
        Reply::openai_chat(&req.body_json_model().unwrap_or_default(), "ok", 1, 1)
    })
}

fn one_target(name: &'static str, up: &RecordingUpstream) -> String {
    plugin_yaml(&[T::new("fast", name, up.url("/v1/chat/completions"))], "")
}

fn served_model(gw: &Gateway, up: &RecordingUpstream) -> String {
    let before = up.request_count();
    let r = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    up.wait_for_requests(before + 1, WAIT)[before]
        .body_json_model()
        .unwrap_or_default()
}

#[test]
fn sighup_applies_a_valid_config_and_keeps_the_old_one_on_errors() {
    let up = echo();
    let gw = Gateway::start(&one_target("first", &up));
    assert_eq!(served_model(&gw, &up), "first");

    gw.rewrite_config(&one_target("second", &up));
    gw.signal(libc::SIGHUP);
    assert!(
        gw.wait_for_stderr("configuration reloaded", WAIT),
        "{}",
        gw.stderr()
    );
    assert_eq!(served_model(&gw, &up), "second");

    gw.rewrite_config("_format_version: \"3.0\"\nplugins:\n  - name: ai-proxy-advanced\n    config: {targets: [{model: {nmae: x}}]}\n");
    gw.signal(libc::SIGHUP);
    assert!(
        gw.wait_for_stderr("reload rejected", WAIT),
        "{}",
        gw.stderr()
    );
    // The config above has several errors (route_type, provider...): `nmae` must be among them.
    assert!(
        gw.wait_for_stderr("nmae: unknown field", WAIT),
        "{}",
        gw.stderr()
    );
    assert_eq!(
        served_model(&gw, &up),
        "second",
        "the old config keeps serving"
    );
}

#[test]
fn a_stream_in_flight_finishes_on_the_config_it_started_with() {
    let slow = RecordingUpstream::start(|_| {
        let pieces = ["1", "2", "3", "4", "5", "6", "7", "8"];
        Reply::openai_sse("old", &pieces, Duration::from_millis(100), None)
    });
    let fresh = echo();
    let gw = Gateway::start(&one_target("old", &slow));
    let mut conn = ResponseReader::connect(gw.addr());
    let stream = r#"{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    conn.send(&build_post(gw.addr(), "/", stream, &[]));
    let head = conn.read_head();
    assert_eq!(head.status, 200);

    gw.rewrite_config(&one_target("new", &fresh));
    gw.signal(libc::SIGHUP);
    assert!(gw.wait_for_stderr("configuration reloaded", WAIT));
    assert_eq!(
        served_model(&gw, &fresh),
        "new",
        "new requests use the new config"
    );

    let mut body = Vec::new();
    while let Some((_, chunk)) = conn.read_chunk() {
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("\"content\":\"8\"") && text.ends_with("data: [DONE]\n\n"),
        "{text}"
    );
}

#[test]
fn admin_post_config_replaces_the_config_or_explains_why_not() {
    let up = echo();
    let gw = Gateway::start(&one_target("first", &up));
    let admin = gw.admin_addr();
    let status = post_json(
        admin,
        "/config",
        &one_target("posted", &up),
        &[("Content-Type", "application/yaml")],
    );
    assert_eq!(status.status, 201, "{}", status.body_str());
    assert_eq!(served_model(&gw, &up), "posted");

    let bad = "_format_version: \"3.0\"\nplugins:\n  - name: ai-proxy-advanced\n    config: {targets: [{route_type: llm/v1/chat, model: {provider: openai, nmae: x}}]}\n";
    let r = post_json(admin, "/config", bad, &[]);
    assert_eq!(r.status, 400, "{}", r.body_str());
    assert!(
        r.body_str()
            .contains("plugins[0].config.targets[0].model.nmae: unknown field"),
        "{}",
        r.body_str()
    );
    assert_eq!(served_model(&gw, &up), "posted");

    // JSON is accepted too (decK files are YAML or JSON).
    let json = format!(
        r#"{{"_format_version":"3.0","plugins":[{{"name":"ai-proxy-advanced","config":{{"targets":[{{"route_type":"llm/v1/chat","model":{{"provider":"openai","name":"json","model_alias":"fast","options":{{"upstream_url":"{}"}}}}}}]}}}}]}}"#,
        up.url("/v1/chat/completions")
    );
    assert_eq!(post_json(admin, "/config", &json, &[]).status, 201);
    assert_eq!(served_model(&gw, &up), "json");
}

#[test]
fn lowest_usage_accounting_survives_a_reload_for_unchanged_targets() {
    let up = RecordingUpstream::start(|req| {
        let m = req.body_json_model().unwrap_or_default();
        Reply::openai_chat(&m, "ok", if m == "a" { 1000 } else { 1 }, 1)
    });
    let url = up.url("/v1/chat/completions");
    let config = |limit: u32| {
        plugin_yaml(
            &[T::new("fast", "a", url.clone()), T::new("fast", "b", url.clone())],
            &format!("      max_request_body_size: {limit}\n      balancer:\n        algorithm: lowest-usage\n        tokens_count_strategy: prompt-tokens\n"),
        )
    };
    let gw = Gateway::start(&config(100_000));
    assert_eq!(served_model(&gw, &up), "a");
    std::thread::sleep(Duration::from_millis(200)); // let the usage reach the merger
    gw.rewrite_config(&config(200_000));
    gw.signal(libc::SIGHUP);
    assert!(gw.wait_for_stderr("configuration reloaded", WAIT));
    for _ in 0..5 {
        assert_eq!(
            served_model(&gw, &up),
            "b",
            "a's 1000 tokens were forgotten by the reload"
        );
    }
}

#[test]
fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    let slow = RecordingUpstream::start(|req| {
        Reply::openai_chat(&req.body_json_model().unwrap_or_default(), "late", 1, 1)
            .delay(Duration::from_millis(600))
    });
    let mut gw = Gateway::start(&one_target("a", &slow));
    let addr = gw.addr();
    let client = std::thread::spawn(move || post_json(addr, "/", CHAT, &[]));
    slow.wait_for_requests(1, WAIT);
    let status = gw.terminate(WAIT);
    assert!(status.success(), "{status:?}\n{}", gw.stderr());
    let r = client.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert!(r.body_str().contains("late"));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer accepting"
    );
}

#[test]
fn a_client_that_goes_away_cancels_its_upstream_request() {
    // Waiting for the response head.
    let hanging = RecordingUpstream::start(|_| Reply::hang(Duration::from_secs(10)));
    let gw = Gateway::start(&one_target("a", &hanging));
    let mut s = connect(gw.addr());
    s.write_all(&build_post(gw.addr(), "/", CHAT, &[])).unwrap();
    hanging.wait_for_requests(1, WAIT);
    drop(s);
    hanging.wait_for_aborted(1, WAIT);

    // In the middle of a stream.
    let streaming = RecordingUpstream::start(|_| {
        let pieces: Vec<&str> = vec!["x"; 50];
        Reply::openai_sse("a", &pieces, Duration::from_millis(100), None)
    });
    let gw = Gateway::start(&one_target("a", &streaming));
    let mut conn = ResponseReader::connect(gw.addr());
    let stream = r#"{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    conn.send(&build_post(gw.addr(), "/", stream, &[]));
    assert_eq!(conn.read_head().status, 200);
    assert!(conn.read_chunk().is_some());
    drop(conn);
    streaming.wait_for_aborted(1, WAIT);
}

#[test]
fn slow_heads_and_bodies_get_408_and_are_closed() {
    let up = echo();
    let opts = GatewayOpts {
        args: [
            "--client-header-timeout-ms",
            "300",
            "--client-body-timeout-ms",
            "300",
        ]
        .map(String::from)
        .to_vec(),
        ..GatewayOpts::default()
    };
    let gw = Gateway::start_with(&one_target("a", &up), opts);
    for partial in [
        "POST / HTTP/1.1\r\nHost: x\r\n".to_string(),
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{{\"model\"",
            CHAT.len()
        ),
    ] {
        let mut s = connect(gw.addr());
        s.write_all(partial.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
        assert!(answer.contains("Connection: close"));
    }
    assert_eq!(up.request_count(), 0);
}

#[test]
fn connections_beyond_the_cap_are_refused_politely() {
    let up = echo();
    let opts = GatewayOpts {
        args: ["--max-connections-per-worker", "2"]
            .map(String::from)
            .to_vec(),
        ..GatewayOpts::default()
    };
    let gw = Gateway::start_with(&one_target("a", &up), opts);
    let mut first = ResponseReader::connect(gw.addr());
    let mut second = ResponseReader::connect(gw.addr());
    first.send(&build_post(gw.addr(), "/", CHAT, &[]));
    assert_eq!(first.read_response().status, 200);
    second.send(&build_post(gw.addr(), "/", CHAT, &[]));
    assert_eq!(second.read_response().status, 200);
    let third =
        String::from_utf8_lossy(&send_raw(gw.addr(), &build_post(gw.addr(), "/", CHAT, &[])))
            .into_owned();
    assert!(third.starts_with("HTTP/1.1 503 "), "{third}");
    assert!(third.contains("too many open connections"));
    drop(first);
    // A slot frees up once a connection closes.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let r = send_raw(
            gw.addr(),
            &build_post(gw.addr(), "/", CHAT, &[("Connection", "close")]),
        );
        if r.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the slot never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `llmux validate | head -1` closes the pipe before llmux has written everything: the rest
/// of the report is dropped quietly and the exit status still says whether the config loads
/// (`println!` would have panicked with exit status 101).
#[test]
fn validate_into_a_closed_pipe_exits_with_the_configs_verdict() {
    let file = TempFile::with_contents(
        "closed-pipe",
        "yaml",
        r#"_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      targets:
      - route_type: llm/v1/chat
        model: {provider: openai, name: gpt-4o, options: {upstream_url: "http://127.0.0.1:9/v1/chat/completions"}}
"#,
    );
    let mut child = std::process::Command::new(LLMUX_BIN)
        .args(["validate", "--config", file.path_str()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("llmux starts");
    // The reader goes away at once, before llmux has loaded the file and written its report.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("llmux exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
