//! The same traffic on io_uring and on epoll, and across several workers.

mod support;
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;
const STREAM: &str =
    r#"{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

fn exercise(opts: GatewayOpts, expect_driver: &str) {
    let upstream = RecordingUpstream::start(|req| {
        if req.body_str().contains("\"stream\":true") {
            Reply::openai_sse(
                "gpt-4o-mini",
                &["a", "b"],
                std::time::Duration::from_millis(5),
                None,
            )
        } else {
            Reply::openai_chat("gpt-4o-mini", "ok", 1, 1)
        }
    });
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            upstream.url("/v1/chat/completions"),
        )],
        "",
    );
    let gw = Gateway::start_with(&yaml, opts);
    assert!(
        gw.wait_for_stderr(&format!("io drivers: {expect_driver}"), WAIT),
        "driver line missing: {}",
        gw.stderr()
    );
    let mut conn = ResponseReader::connect(gw.addr());
    for _ in 0..20 {
        conn.send(&build_post(gw.addr(), "/", CHAT, &[]));
        assert_eq!(conn.read_response().status, 200);
        conn.send(&build_post(gw.addr(), "/", STREAM, &[]));
        let r = conn.read_response();
        assert_eq!(r.status, 200);
        assert!(
            r.body_str().ends_with("data: [DONE]\n\n"),
            "{}",
            r.body_str()
        );
    }
    assert_eq!(upstream.wait_for_requests(40, WAIT).len(), 40);
}

#[test]
fn epoll_by_flag() {
    let opts = GatewayOpts {
        args: vec!["--io-driver".into(), "epoll".into()],
        ..GatewayOpts::default()
    };
    exercise(opts, "epoll");
}

#[test]
fn epoll_by_monoio_environment_variable() {
    let opts = GatewayOpts {
        env: vec![("MONOIO_FORCE_LEGACY_DRIVER".into(), "1".into())],
        ..GatewayOpts::default()
    };
    exercise(opts, "epoll");
}

#[test]
fn io_uring_when_the_kernel_has_it() {
    // Where io_uring is unavailable (seccomp, old kernel) `auto` falls back and says so; this
    // test then checks the fallback instead.
    let expect = if std::path::Path::new("/proc/sys/kernel/io_uring_disabled").exists()
        && std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .map(|s| s.trim() != "0")
            .unwrap_or(false)
    {
        "epoll"
    } else {
        "io_uring"
    };
    exercise(GatewayOpts::default(), expect);
}

#[test]
fn two_workers_share_one_port() {
    let opts = GatewayOpts {
        workers: 2,
        ..GatewayOpts::default()
    };
    let expect = "";
    let upstream = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 1, 1));
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            upstream.url("/v1/chat/completions"),
        )],
        "",
    );
    let gw = Gateway::start_with(&yaml, opts);
    assert!(
        gw.wait_for_stderr("2 workers started", WAIT),
        "{}{expect}",
        gw.stderr()
    );
    for _ in 0..40 {
        assert_eq!(post_json(gw.addr(), "/", CHAT, &[]).status, 200);
    }
    assert_eq!(upstream.wait_for_requests(40, WAIT).len(), 40);
}
