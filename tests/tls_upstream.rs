//! HTTPS upstreams: verified against a CA made in the test, SNI and Host set from the URL.

mod support;
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn https_upstream_with_a_private_ca() {
    let (upstream, ca) = RecordingUpstream::start_tls(|req| {
        Reply::openai_chat(&req.body_json_model().unwrap_or_default(), "over tls", 2, 2)
    });
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            upstream.url("/v1/chat/completions"),
        )],
        "",
    );
    let (k, v) = ca.env();
    let gw = Gateway::start_with(
        &yaml,
        GatewayOpts {
            env: vec![(k, v)],
            ..GatewayOpts::default()
        },
    );
    for _ in 0..3 {
        let r = post_json(gw.addr(), "/", CHAT, &[]);
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert!(r.body_str().contains("over tls"));
    }
    let seen = upstream.wait_for_requests(3, WAIT);
    assert_eq!(
        seen[0].header("Host"),
        Some(format!("localhost:{}", upstream.addr().port()).as_str())
    );
    assert_eq!(
        seen[0].header("Authorization"),
        Some("Bearer sk-target-secret")
    );
    assert_eq!(upstream.connections(), 1, "TLS connections are pooled too");
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let (upstream, _ca) = RecordingUpstream::start_tls(|_| Reply::openai_chat("m", "no", 1, 1));
    let other = TestCa::new();
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            upstream.url("/v1/chat/completions"),
        )],
        "",
    );
    let (k, v) = other.env();
    let gw = Gateway::start_with(
        &yaml,
        GatewayOpts {
            env: vec![(k, v)],
            ..GatewayOpts::default()
        },
    );
    let r = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(r.status, 502, "{}", r.body_str());
    assert!(
        r.json_error_message().unwrap_or_default().contains("TLS"),
        "{}",
        r.body_str()
    );
    assert_eq!(upstream.request_count(), 0);
}
