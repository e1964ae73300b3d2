//! Balancing through the real server: lowest-usage follows the usage providers report (JSON,
//! SSE, or counted by tiktoken when they report none), exactly on one worker and within the
//! merge interval's staleness on several.

mod support;
use std::time::{Duration, Instant};
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

/// Two targets `a` and `b` behind one alias, on one upstream that answers per model.
fn two_targets(upstream: &RecordingUpstream, balancer: &str) -> String {
    let url = upstream.url("/v1/chat/completions");
    plugin_yaml(
        &[T::new("fast", "a", url.clone()), T::new("fast", "b", url)],
        &format!("      balancer:\n{balancer}"),
    )
}

fn model_of(r: &Recorded) -> String {
    r.body_json_model().unwrap_or_default()
}

/// Sends `n` requests one after another on one keep-alive connection; returns the models hit.
fn sequence(gw: &Gateway, upstream: &RecordingUpstream, body: &str, n: usize) -> Vec<String> {
    let before = upstream.request_count();
    let mut conn = ResponseReader::connect(gw.addr());
    for _ in 0..n {
        conn.send(&build_post(gw.addr(), "/", body, &[]));
        let r = conn.read_response();
        assert_eq!(r.status, 200, "{}", r.body_str());
    }
    upstream.wait_for_requests(before + n, WAIT)[before..]
        .iter()
        .map(model_of)
        .collect()
}

#[test]
fn lowest_usage_on_one_worker_follows_reported_prompt_tokens_exactly() {
    // a's requests cost 100 prompt tokens, b's 10.
    let upstream = RecordingUpstream::start(|req| {
        let m = model_of(req);
        Reply::openai_chat(&m, "ok", if m == "a" { 100 } else { 10 }, 1)
    });
    let yaml = two_targets(
        &upstream,
        "        algorithm: lowest-usage\n        tokens_count_strategy: prompt-tokens\n",
    );
    let gw = Gateway::start(&yaml);
    let got = sequence(&gw, &upstream, CHAT, 23);
    // Tie at 0 goes to a; then b until b's usage reaches a's 100 (ten requests); the tie at 100
    // goes to a again; and so on.
    let mut expected = vec!["a"];
    expected.extend(std::iter::repeat_n("b", 10));
    expected.push("a");
    expected.extend(std::iter::repeat_n("b", 10));
    expected.push("a");
    assert_eq!(got, expected);
}

#[test]
fn each_strategy_counts_its_own_tokens() {
    // a: prompt 1 / completion 50 (total 51); b: prompt 40 / completion 1 (total 41).
    let usage = |m: &str| if m == "a" { (1, 50) } else { (40, 1) };
    for (strategy, third) in [
        ("prompt-tokens", "a"),
        ("completion-tokens", "b"),
        ("total-tokens", "b"),
    ] {
        let upstream = RecordingUpstream::start(move |req| {
            let m = model_of(req);
            let (p, c) = usage(&m);
            Reply::openai_chat(&m, "ok", p, c)
        });
        let yaml = two_targets(
            &upstream,
            &format!(
                "        algorithm: lowest-usage\n        tokens_count_strategy: {strategy}\n"
            ),
        );
        let gw = Gateway::start(&yaml);
        let got = sequence(&gw, &upstream, CHAT, 3);
        // a wins the tie at 0, b (still at 0) takes the second; the third goes to whichever
        // has used less of the counted unit.
        assert_eq!(got, vec!["a", "b", third], "{strategy}");
    }
}

#[test]
fn cost_strategy_weighs_prices() {
    // Same tokens everywhere, but a costs 100x more per token than b: after one request to a,
    // b serves until its cost catches up (100 requests), far more than tokens alone would give.
    let upstream =
        RecordingUpstream::start(|req| Reply::openai_chat(&model_of(req), "ok", 1000, 1000));
    let url = upstream.url("/v1/chat/completions");
    let yaml = format!(
        r#"_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      balancer: {{algorithm: lowest-usage, tokens_count_strategy: cost}}
      targets:
        - route_type: llm/v1/chat
          logging: {{log_statistics: true}}
          model: {{provider: openai, name: a, model_alias: fast, options: {{upstream_url: "{url}", input_cost: 100, output_cost: 100}}}}
        - route_type: llm/v1/chat
          logging: {{log_statistics: true}}
          model: {{provider: openai, name: b, model_alias: fast, options: {{upstream_url: "{url}", input_cost: 1, output_cost: 1}}}}
"#
    );
    let gw = Gateway::start(&yaml);
    let got = sequence(&gw, &upstream, CHAT, 30);
    assert_eq!(got[0], "a");
    assert!(got[1..].iter().all(|m| m == "b"), "{got:?}");
}

#[test]
fn usage_from_streams_counts_with_and_without_include_usage() {
    let upstream = RecordingUpstream::start(|req| {
        let m = model_of(req);
        let asked = req.body_str().contains(r#""include_usage":true"#);
        let usage = asked.then_some(if m == "a" { (500, 1) } else { (5, 1) });
        Reply::openai_sse(&m, &["x"], Duration::ZERO, usage)
    });
    let yaml = two_targets(
        &upstream,
        "        algorithm: lowest-usage\n        tokens_count_strategy: prompt-tokens\n",
    );
    let gw = Gateway::start(&yaml);
    let plain = r#"{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let asked = r#"{"model":"fast","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#;
    // a (tie) costs 500; b then serves 100 requests before catching up: mix both kinds.
    let mut got = sequence(&gw, &upstream, plain, 1);
    got.extend(sequence(&gw, &upstream, asked, 5));
    got.extend(sequence(&gw, &upstream, plain, 5));
    assert_eq!(got[0], "a");
    assert!(got[1..].iter().all(|m| m == "b"), "{got:?}");
}

#[test]
fn tiktoken_counts_when_the_provider_reports_nothing() {
    // No usage at all; a answers at length, b tersely. With completion-tokens, nothing but
    // llmux's own count can tell them apart: without it every request would tie and go to a.
    let long_answer = "The quick brown fox jumps over the lazy dog. ".repeat(40);
    let upstream = RecordingUpstream::start(move |req| {
        let m = model_of(req);
        let content = if m == "a" {
            long_answer.clone()
        } else {
            "ok".to_string()
        };
        let body = format!(
            r#"{{"id":"x","object":"chat.completion","model":"{m}","choices":[{{"index":0,"message":{{"role":"assistant","content":{}}},"finish_reason":"stop"}}]}}"#,
            json_string(&content)
        );
        Reply::json(200, &body)
    });
    let yaml = two_targets(
        &upstream,
        "        algorithm: lowest-usage\n        tokens_count_strategy: completion-tokens\n",
    );
    let gw = Gateway::start(&yaml);
    // The tokenizer loads its table on first use, off the request path; until its count is
    // merged, a keeps winning the tie. Then b must take over for good.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = sequence(&gw, &upstream, CHAT, 1);
        if got[0] == "b" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the tokenizer's count never reached the balancer"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = sequence(&gw, &upstream, CHAT, 10);
    assert!(after.iter().all(|m| m == "b"), "{after:?}");
}

#[test]
fn lowest_usage_across_two_workers_sees_the_other_cores_usage() {
    // a costs 10,000 prompt tokens, b 10. Globally, after one request to a, b should serve
    // everything for a thousand requests. Each worker alone would send its own first request
    // to a; with merging, a worker that has not served yet already sees a's usage.
    let upstream = RecordingUpstream::start(|req| {
        let m = model_of(req);
        Reply::openai_chat(&m, "ok", if m == "a" { 10_000 } else { 10 }, 1)
    });
    let yaml = two_targets(
        &upstream,
        "        algorithm: lowest-usage\n        tokens_count_strategy: prompt-tokens\n",
    );
    let opts = GatewayOpts {
        workers: 2,
        ..GatewayOpts::default()
    };
    let gw = Gateway::start_with(&yaml, opts);
    for i in 0..40 {
        // New connection each time (spread over both workers by SO_REUSEPORT), spaced by more
        // than two merge intervals so every count is merged before the next pick.
        let r = post_json(gw.addr(), "/", CHAT, &[]);
        assert_eq!(r.status, 200, "request {i}: {}", r.body_str());
        std::thread::sleep(Duration::from_millis(120));
    }
    let got: Vec<String> = upstream
        .wait_for_requests(40, WAIT)
        .iter()
        .map(model_of)
        .collect();
    let to_a = got.iter().filter(|m| *m == "a").count();
    assert_eq!(to_a, 1, "only the very first request may go to a: {got:?}");
}

#[test]
fn weighted_round_robin_and_priority_through_the_server() {
    let upstream = RecordingUpstream::start(|req| Reply::openai_chat(&model_of(req), "ok", 1, 1));
    let url = upstream.url("/v1/chat/completions");
    let mut a = T::new("fast", "a", url.clone());
    a.weight = Some(300);
    let mut b = T::new("fast", "b", url);
    b.weight = Some(100);
    let gw = Gateway::start(&plugin_yaml(&[a.clone(), b.clone()], ""));
    let got = sequence(&gw, &upstream, CHAT, 8);
    assert_eq!(got, ["a", "a", "b", "a", "a", "a", "b", "a"]);

    // priority: the weight-300 group serves alone while it is healthy.
    let upstream2 = RecordingUpstream::start(|req| Reply::openai_chat(&model_of(req), "ok", 1, 1));
    let url2 = upstream2.url("/v1/chat/completions");
    a.url = url2.clone();
    b.url = url2;
    let gw2 = Gateway::start(&plugin_yaml(
        &[a, b],
        "      balancer:\n        algorithm: priority\n",
    ));
    let got = sequence(&gw2, &upstream2, CHAT, 6);
    assert!(got.iter().all(|m| m == "a"), "{got:?}");
}

#[test]
fn consistent_hashing_keeps_a_key_on_one_target() {
    let upstream = RecordingUpstream::start(|req| Reply::openai_chat(&model_of(req), "ok", 1, 1));
    let url = upstream.url("/v1/chat/completions");
    let targets: Vec<T> = ["a", "b", "c"]
        .iter()
        .map(|n| T::new("fast", n, url.clone()))
        .collect();
    let yaml = plugin_yaml(&targets, "      balancer:\n        algorithm: consistent-hashing\n        hash_on_header: X-Session\n");
    let gw = Gateway::start(&yaml);
    let mut owners = std::collections::HashSet::new();
    for key in ["alice", "bob", "carol", "dave", "erin", "frank"] {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..5 {
            assert_eq!(
                post_json(gw.addr(), "/", CHAT, &[("X-Session", key)]).status,
                200
            );
            let last = upstream.requests().last().map(model_of).unwrap_or_default();
            seen.insert(last);
        }
        assert_eq!(seen.len(), 1, "key {key} moved between targets: {seen:?}");
        owners.extend(seen);
    }
    assert!(
        owners.len() >= 2,
        "six keys all hashed to one target: {owners:?}"
    );
}
