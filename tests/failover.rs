//! Failover as nginx's `proxy_next_upstream`: which failures move on to another target,
//! counted at the recording upstreams, and what the client gets when nothing is left.

mod support;
use std::time::Duration;
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

fn ok() -> RecordingUpstream {
    RecordingUpstream::start(|req| {
        Reply::openai_chat(&req.body_json_model().unwrap_or_default(), "from b", 1, 1)
    })
}

/// Target `a` on `bad`, then target `b` on `good`, with `balancer` lines.
fn pair(bad: String, good: &RecordingUpstream, balancer: &str) -> Gateway {
    let yaml = plugin_yaml(
        &[
            T::new("fast", "a", bad),
            T::new("fast", "b", good.url("/v1/chat/completions")),
        ],
        &format!("      balancer:\n{balancer}"),
    );
    Gateway::start(&yaml)
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn a_refused_connection_moves_on_to_the_next_target() {
    let good = ok();
    let gw = pair(
        format!("http://127.0.0.1:{}/v1", closed_port()),
        &good,
        "        retries: 5\n",
    );
    let r = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert!(r.body_str().contains("from b"));
    assert_eq!(good.request_count(), 1);
}

#[test]
fn a_reset_after_the_request_was_sent_is_retried_only_with_non_idempotent() {
    let bad = RecordingUpstream::start(|_| Reply::close());
    let good = ok();
    let gw = pair(bad.url("/v1"), &good, "        retries: 5\n");
    let r = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(r.status, 502, "{}", r.body_str());
    assert_eq!((bad.request_count(), good.request_count()), (1, 0));

    let bad = RecordingUpstream::start(|_| Reply::close());
    let good = ok();
    let gw = pair(
        bad.url("/v1"),
        &good,
        "        failover_criteria: [error, timeout, non_idempotent]\n",
    );
    let r = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!((bad.request_count(), good.request_count()), (1, 1));
}

#[test]
fn listed_statuses_fail_over_and_unlisted_ones_pass_through_unchanged() {
    for status in [429u16, 500, 503] {
        let body = format!(r#"{{"error":{{"message":"provider says {status}"}}}}"#);
        let b2 = body.clone();
        let bad =
            RecordingUpstream::start(move |_| Reply::json(status, &b2).header("Retry-After", "3"));
        let good = ok();
        let listed =
            format!("        failover_criteria: [error, timeout, http_{status}, non_idempotent]\n");
        let gw = pair(bad.url("/v1"), &good, &listed);
        let r = post_json(gw.addr(), "/", CHAT, &[]);
        assert_eq!(r.status, 200, "http_{status}: {}", r.body_str());
        assert_eq!(
            (bad.request_count(), good.request_count()),
            (1, 1),
            "http_{status}"
        );

        let bad = RecordingUpstream::start(move |_| {
            Reply::json(status, &body).header("Retry-After", "3")
        });
        let good = ok();
        let gw = pair(bad.url("/v1"), &good, "        retries: 5\n");
        let r = post_json(gw.addr(), "/", CHAT, &[]);
        assert_eq!(r.status, status);
        assert_eq!(
            r.body_str(),
            format!(r#"{{"error":{{"message":"provider says {status}"}}}}"#)
        );
        assert_eq!(r.header("Retry-After"), Some("3"));
        assert_eq!(
            r.header("X-Kong-LLM-Model"),
            None,
            "only a 200 names the model"
        );
        assert_eq!((bad.request_count(), good.request_count()), (1, 0));
    }
}

#[test]
fn a_read_timeout_fails_over_when_timeout_and_non_idempotent_are_listed() {
    let slow = RecordingUpstream::start(|_| Reply::hang(Duration::from_secs(3)));
    let good = ok();
    let gw = pair(
        slow.url("/v1"),
        &good,
        "        read_timeout: 200\n        failover_criteria: [timeout, non_idempotent]\n",
    );
    let r = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!((slow.request_count(), good.request_count()), (1, 1));
}

#[test]
fn a_connect_timeout_is_504_naming_the_target() {
    // A listener with a full backlog that never accepts: further connects hang in SYN_SENT.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let _filler = std::net::TcpStream::connect(addr).unwrap();
    let yaml = plugin_yaml(
        &[T::new("fast", "a", format!("http://{addr}/v1"))],
        "      balancer:\n        connect_timeout: 300\n",
    );
    let gw = Gateway::start(&yaml);
    let r = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(r.status, 504, "{}", r.body_str());
    let msg = r.json_error_message().unwrap_or_default();
    assert!(
        msg.contains(&addr.to_string()) && msg.contains("connect"),
        "{msg}"
    );
}

#[test]
fn retries_bound_the_attempts() {
    let targets: Vec<RecordingUpstream> = (0..3)
        .map(|_| RecordingUpstream::start(|_| Reply::json(503, "{}")))
        .collect();
    let names = ["a", "b", "c"];
    let list: Vec<T> = targets
        .iter()
        .zip(names)
        .map(|(u, n)| T::new("fast", n, u.url("/v1")))
        .collect();
    let yaml = plugin_yaml(&list, "      balancer:\n        retries: 1\n        failover_criteria: [http_503, non_idempotent]\n");
    let gw = Gateway::start(&yaml);
    let r = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(r.status, 503);
    let total: usize = targets.iter().map(|u| u.request_count()).sum();
    assert_eq!(total, 2, "one try plus one retry");
}

#[test]
fn a_body_cut_after_the_head_is_not_retried_and_the_client_sees_the_cut() {
    let bad = RecordingUpstream::start(|_| {
        Reply::raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"partial\":".to_vec())
    });
    let good = ok();
    let gw = pair(
        bad.url("/v1"),
        &good,
        "        failover_criteria: [error, timeout, non_idempotent]\n",
    );
    let mut conn = ResponseReader::connect(gw.addr());
    conn.send(&build_post(gw.addr(), "/", CHAT, &[]));
    let (r, _) = conn.read_response_allow_truncated();
    assert_eq!(r.status, 200);
    assert!(r.truncated, "{}", r.body_str());
    assert_eq!(
        good.request_count(),
        0,
        "no retry once the client has bytes"
    );
}

#[test]
fn the_circuit_breaker_opens_then_one_probe_heals_it() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let healthy = Arc::new(AtomicBool::new(false));
    let h = healthy.clone();
    let up = RecordingUpstream::start(move |_| {
        if h.load(Ordering::SeqCst) {
            Reply::openai_chat("a", "back", 1, 1)
        } else {
            Reply::close()
        }
    });
    let yaml = plugin_yaml(
        &[T::new("fast", "a", up.url("/v1"))],
        "      balancer:\n        max_fails: 2\n        fail_timeout: 700\n",
    );
    let gw = Gateway::start(&yaml);
    assert_eq!(post_json(gw.addr(), "/", CHAT, &[]).status, 502);
    assert_eq!(post_json(gw.addr(), "/", CHAT, &[]).status, 502);
    let open = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(
        open.json_error_message().as_deref(),
        Some("no healthy upstream")
    );
    assert_eq!(up.request_count(), 2, "no traffic while open");
    healthy.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(800));
    let probe = post_json(gw.addr(), "/", CHAT, &[]);
    assert_eq!(probe.status, 200, "{}", probe.body_str());
    assert_eq!(
        post_json(gw.addr(), "/", CHAT, &[]).status,
        200,
        "closed again after the probe"
    );
}
