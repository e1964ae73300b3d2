//! `policy: redis` (rate-limiting) and `strategy: redis` (ai-rate-limiting-advanced) over the
//! wire, on two llmux nodes sharing one real Redis: what a consumer spends on node A counts on
//! node B once the fleet sync has carried it, and B refuses with Kong's 429 and headers without
//! any request reaching the provider. A node without `--redis` says at start that it counts
//! alone, and does.

mod support;
use std::net::SocketAddr;
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

/// Every answer: 100 prompt tokens and 1 completion token (101 in all).
fn upstream() -> RecordingUpstream {
    RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 100, 1))
}

/// A fleet node whose workers take the merger's totals every 10 ms.
fn node(redis: &RedisServer, yaml: &str) -> Gateway {
    Gateway::start_with(
        yaml,
        fleet_node(&redis.url(), &["--merge-interval-ms", "10"]),
    )
}

fn as_consumer(key: &'static str) -> [(&'static str, &'static str); 1] {
    [("apikey", key)]
}

fn syncs(admin: SocketAddr) -> u64 {
    status(admin)["fleet_sync"]["syncs_total"]
        .as_u64()
        .expect("syncs_total")
}

/// Waits until node `b` knows of the `requests` node `a` served: `a`'s merger had counted them
/// (its limit counters travel in the same core reports as its usage), `a`'s sync wrote them
/// and `b`'s read them back. Then lets three more of `b`'s syncs pass, so its merger has the
/// rate-limit counts of the same rounds and its worker (merge tick 10 ms) has taken them.
fn wait_for_fleet(a: &Gateway, b: &Gateway, requests: f64) {
    wait_until(
        &format!("{requests} requests of A in B's fleet view"),
        || {
            let s = status(b.admin_addr());
            (target_number(&s, "gpt-4o-mini", &["fleet_usage", "requests"]) == requests)
                .then_some(())
        },
    );
    let start = syncs(b.admin_addr());
    wait_until("three more syncs on B", || {
        (syncs(b.admin_addr()) >= start + 3).then_some(())
    });
    assert_eq!(status(a.admin_addr())["fleet"], "ok");
}

#[test]
fn a_token_budget_spent_on_node_a_is_refused_on_node_b() {
    let redis = RedisServer::start();
    let up = upstream();
    // A year-long fixed window: no window boundary falls inside the test.
    let yaml = limited_config(
        &up.url("/v1/chat/completions"),
        "  - name: ai-rate-limiting-advanced\n    config:\n      strategy: redis\n      window_type: fixed\n      llm_providers: [{name: openai, limit: [250], window_size: [31536000]}]\n",
    );
    let a = node(&redis, &yaml);
    let b = node(&redis, &yaml);

    // On A: 101, 202, then 303 tokens; the third request crosses the budget and is served.
    for remaining in ["250", "149", "48"] {
        let r = post_json(a.addr(), "/", CHAT, &as_consumer("alice-key"));
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert_eq!(
            r.header("X-AI-RateLimit-Limit-31536000-openai"),
            Some("250")
        );
        assert_eq!(
            r.header("X-AI-RateLimit-Remaining-31536000-openai"),
            Some(remaining),
            "before this request: {} tokens spent",
            250 - remaining.parse::<i64>().unwrap()
        );
    }
    wait_for_fleet(&a, &b, 3.0);

    // On B, which served alice nothing: refused on the fleet's count.
    let refused = post_json(b.addr(), "/", CHAT, &as_consumer("alice-key"));
    assert_eq!(refused.status, 429, "{}", refused.body_str());
    assert_eq!(
        refused.body_str(),
        r#"{"message":"AI token rate limit exceeded for provider(s): openai"}"#
    );
    assert_eq!(
        refused.header("X-AI-RateLimit-Limit-31536000-openai"),
        Some("250")
    );
    assert_eq!(
        refused.header("X-AI-RateLimit-Remaining-31536000-openai"),
        Some("0")
    );
    let retry: u64 = refused
        .header("Retry-After")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=31_536_000).contains(&retry), "{retry}");
    assert_eq!(
        refused.header("X-AI-RateLimit-Retry-After"),
        Some(retry.to_string().as_str())
    );
    assert!(refused
        .header("X-AI-RateLimit-Reset-31536000-openai")
        .is_some());
    // A refuses too, and bob's budget on B is his own.
    let on_a = post_json(a.addr(), "/", CHAT, &as_consumer("alice-key"));
    assert_eq!(on_a.status, 429, "{}", on_a.body_str());
    let bob = post_json(b.addr(), "/", CHAT, &as_consumer("bob-key"));
    assert_eq!(bob.status, 200, "{}", bob.body_str());
    assert_eq!(
        bob.header("X-AI-RateLimit-Remaining-31536000-openai"),
        Some("250")
    );
    assert_eq!(
        up.request_count(),
        4,
        "no refused request reached the provider"
    );

    // Redis holds both nodes' views of alice's budget, under the plugin's hash tag.
    let keys = redis.cli(&["--scan", "--pattern", "{llmux:*}:limit:*"]);
    assert!(
        keys.lines().any(|k| k.contains(":limit:31536000:")
            && k.starts_with("{llmux:ai-rate-limiting-advanced@")
            && k.ends_with(":sum")),
        "{keys}"
    );
}

#[test]
fn a_request_limit_spent_on_node_a_is_refused_on_node_b_with_kongs_headers() {
    let redis = RedisServer::start();
    let up = upstream();
    let yaml = limited_config(
        &up.url("/v1/chat/completions"),
        "  - name: rate-limiting\n    config: {year: 3, policy: redis}\n",
    );
    let a = node(&redis, &yaml);
    let b = node(&redis, &yaml);

    // Two on A, one on B: three of alice's three.
    for (gw, remaining) in [(&a, "2"), (&a, "1")] {
        let r = post_json(gw.addr(), "/", CHAT, &as_consumer("alice-key"));
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert_eq!(r.header("RateLimit-Remaining"), Some(remaining));
    }
    wait_for_fleet(&a, &b, 2.0);
    let third = post_json(b.addr(), "/", CHAT, &as_consumer("alice-key"));
    assert_eq!(third.status, 200, "{}", third.body_str());
    assert_eq!(
        third.header("X-RateLimit-Remaining-Year"),
        Some("0"),
        "B counts A's two"
    );
    wait_for_fleet(&b, &a, 3.0);

    for gw in [&a, &b] {
        let refused = post_json(gw.addr(), "/", CHAT, &as_consumer("alice-key"));
        assert_eq!(refused.status, 429, "{}", refused.body_str());
        assert_eq!(
            refused.body_str(),
            r#"{"message":"API rate limit exceeded"}"#
        );
        assert_eq!(refused.header("X-RateLimit-Limit-Year"), Some("3"));
        assert_eq!(refused.header("X-RateLimit-Remaining-Year"), Some("0"));
        assert_eq!(refused.header("RateLimit-Limit"), Some("3"));
        assert_eq!(refused.header("RateLimit-Remaining"), Some("0"));
        let reset = refused.header("RateLimit-Reset").expect("RateLimit-Reset");
        assert_eq!(refused.header("Retry-After"), Some(reset));
    }
    let bob = post_json(a.addr(), "/", CHAT, &as_consumer("bob-key"));
    assert_eq!(bob.status, 200, "{}", bob.body_str());
    assert_eq!(up.request_count(), 4);
}

#[test]
fn policy_redis_without_redis_warns_and_counts_on_the_node() {
    let up = upstream();
    let yaml = limited_config(
        &up.url("/v1/chat/completions"),
        "  - name: rate-limiting\n    config: {year: 1, policy: redis}\n",
    );
    let gw = Gateway::start(&yaml);
    assert!(
        gw.wait_for_stderr("counts on this node only", WAIT),
        "{}",
        gw.stderr()
    );
    assert!(gw.stderr().contains("rate-limiting@"), "{}", gw.stderr());
    let first = post_json(gw.addr(), "/", CHAT, &as_consumer("alice-key"));
    assert_eq!(first.status, 200, "{}", first.body_str());
    let second = post_json(gw.addr(), "/", CHAT, &as_consumer("alice-key"));
    assert_eq!(second.status, 429, "{}", second.body_str());
    assert_eq!(up.request_count(), 1);
}
