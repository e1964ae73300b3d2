//! `rediss://` with credentials in the URL: the fleet syncs over TLS (the server verified
//! against a CA made in the test, trusted through `SSL_CERT_FILE`), the URL may come from
//! `LLMUX_REDIS`, and the password appears in no log line, `/status` or `/metrics`.

mod support;
use support::*;

const ANY: &str = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
const PASSWORD: &str = "s3cret-fleet-pw";

#[test]
fn fleet_syncs_over_tls_and_the_password_never_shows() {
    let ca = TestCa::new();
    let redis = RedisServer::start_tls(&ca, PASSWORD);
    let up = RecordingUpstream::start(|req| {
        let m = req.body_json_model().unwrap_or_default();
        Reply::openai_chat(&m, "ok", 7, 1)
    });
    let yaml = plugin_yaml(&[T::named("a", up.url("/v1/chat/completions"))], "");
    let url = format!("rediss://:{PASSWORD}@127.0.0.1:{}", redis.port());
    let mut a_opts = fleet_node(&url, &[]);
    a_opts.env.push(ca.env());
    let a = Gateway::start_with(&yaml, a_opts);
    // Node B takes the URL from the environment.
    let b = Gateway::start_with(
        &yaml,
        GatewayOpts {
            args: vec!["--fleet-sync-ms".into(), "50".into()],
            env: vec![ca.env(), ("LLMUX_REDIS".into(), url.clone())],
            ..GatewayOpts::default()
        },
    );
    for _ in 0..3 {
        assert_eq!(post_json(a.addr(), "/", ANY, &[]).status, 200);
    }
    wait_until("B to see A's 21 prompt tokens over TLS", || {
        let s = status(b.admin_addr());
        (target_number(&s, "a", &["fleet_usage", "prompt_tokens"]) == 21.0).then_some(())
    });
    let s = status(b.admin_addr());
    assert_eq!(s["fleet"], "ok", "{s}");
    let shown = format!("rediss://:***@127.0.0.1:{}", redis.port());
    assert_eq!(s["fleet_sync"]["redis"], shown.as_str(), "{s}");

    // A node with the wrong password keeps serving, degraded, and says why without the secret.
    let wrong = format!("rediss://:not-the-{PASSWORD}@127.0.0.1:{}", redis.port());
    let mut c_opts = fleet_node(&wrong, &[]);
    c_opts.env.push(ca.env());
    let c = Gateway::start_with(&yaml, c_opts);
    let degraded = wait_until("C degraded", || {
        let s = status(c.admin_addr());
        (s["fleet"] == "degraded").then_some(s)
    });
    let error = degraded["fleet_sync"]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        error.contains("auth") || error.contains("pass"),
        "{degraded}"
    );
    assert_eq!(post_json(c.addr(), "/", ANY, &[]).status, 200);

    for gw in [&a, &b, &c] {
        let admin = gw.admin_addr();
        let texts = [
            gw.stderr(),
            admin_call(admin, "GET", "/status", "").body_str(),
            admin_call(admin, "GET", "/metrics", "").body_str(),
        ];
        for t in texts {
            assert!(!t.contains(PASSWORD), "the password leaked: {t}");
        }
    }
}
