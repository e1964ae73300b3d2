//! `rate-limiting` (requests) and `ai-rate-limiting-advanced` (tokens) over the wire: limits
//! hit and reset, budgets crossed and refused, Kong's headers, counts merged across cores and
//! counted from streams and the tokenizer fallback.

mod support;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;
const STREAM: &str =
    r#"{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Sleeps until just after the next whole second, so a run of requests falls in one second.
fn start_of_a_second() {
    std::thread::sleep(Duration::from_millis(1000 - now_ms() % 1000 + 5));
}

fn as_alice() -> [(&'static str, &'static str); 1] {
    [("apikey", "alice-key")]
}

#[test]
fn a_request_limit_is_hit_then_reset_with_kongs_headers() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 3, 2));
    let gw = Gateway::start(&limited_config(
        &up.url("/v1/chat/completions"),
        "  - name: rate-limiting\n    config: {second: 2, year: 100}\n",
    ));
    // Three requests within one second (retried when the clock crossed a second midway).
    let (first, third) = loop {
        start_of_a_second();
        let second = now_ms() / 1000;
        let mut conn = ResponseReader::connect(gw.addr());
        let mut got = Vec::new();
        for _ in 0..3 {
            conn.send(&build_post(gw.addr(), "/", CHAT, &as_alice()));
            got.push(conn.read_response());
        }
        if now_ms() / 1000 == second {
            break (got.remove(0), got.remove(1));
        }
    };
    assert_eq!(first.status, 200, "{}", first.body_str());
    assert_eq!(first.header("X-RateLimit-Limit-Second"), Some("2"));
    assert_eq!(first.header("X-RateLimit-Remaining-Second"), Some("1"));
    assert_eq!(first.header("X-RateLimit-Limit-Year"), Some("100"));
    assert_eq!(first.header("RateLimit-Limit"), Some("2"));
    assert_eq!(first.header("RateLimit-Remaining"), Some("1"));
    assert_eq!(first.header("RateLimit-Reset"), Some("1"));
    assert_eq!(third.status, 429);
    assert_eq!(third.body_str(), r#"{"message":"API rate limit exceeded"}"#);
    assert_eq!(third.header("X-RateLimit-Remaining-Second"), Some("0"));
    assert_eq!(third.header("RateLimit-Remaining"), Some("0"));
    assert_eq!(third.header("Retry-After"), Some("1"));
    assert_eq!(
        third.header("Connection"),
        None,
        "a 429 keeps the connection"
    );
    // bob has his own counter; alice's comes back with the next second.
    assert_eq!(
        post_json(gw.addr(), "/", CHAT, &[("apikey", "bob-key")]).status,
        200
    );
    start_of_a_second();
    let again = post_json(gw.addr(), "/", CHAT, &as_alice());
    assert_eq!(again.status, 200, "{}", again.body_str());
    assert_eq!(again.header("X-RateLimit-Remaining-Year"), Some("97"));
    assert_eq!(
        up.request_count(),
        4,
        "the refused request reached no provider"
    );
}

#[test]
fn a_request_limit_holds_across_cores() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 3, 2));
    let gw = Gateway::start_with(
        &limited_config(
            &up.url("/v1/chat/completions"),
            "  - name: rate-limiting\n    config: {year: 4, error_code: 503, error_message: slow down}\n",
        ),
        GatewayOpts {
            workers: 2,
            ..GatewayOpts::default()
        },
    );
    // One connection each (the kernel spreads them over both workers), each after the
    // previous request's count had time to reach every core (merges run every 50 ms).
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = post_json(gw.addr(), "/", CHAT, &as_alice());
        if r.status != 200 {
            assert_eq!(r.body_str(), r#"{"message":"slow down"}"#);
        }
        statuses.push(r.status);
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 503, 503]);
    assert_eq!(up.request_count(), 4);
}

#[test]
fn limits_scoped_to_a_consumer_beat_the_global_one() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 3, 2));
    let yaml = limited_config(
        &up.url("/v1/chat/completions"),
        "  - name: rate-limiting\n    config: {year: 1}\n  - name: rate-limiting\n    consumer: bob\n    config: {year: 3, limit_by: consumer}\n",
    );
    let gw = Gateway::start(&yaml);
    let statuses = |key| {
        (0..4)
            .map(|_| post_json(gw.addr(), "/", CHAT, &[("apikey", key)]).status)
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses("alice-key"), vec![200, 429, 429, 429]);
    assert_eq!(statuses("bob-key"), vec![200, 200, 200, 429]);
}

#[test]
fn limit_by_header_counts_each_value_and_falls_back_to_the_ip() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 3, 2));
    let gw = Gateway::start(&limited_config(
        &up.url("/v1/chat/completions"),
        "  - name: rate-limiting\n    config: {year: 1, limit_by: header, header_name: X-Team}\n",
    ));
    let post = |team: Option<&'static str>| {
        let mut h = vec![("apikey", "alice-key")];
        h.extend(team.map(|t| ("X-Team", t)));
        post_json(gw.addr(), "/", CHAT, &h).status
    };
    assert_eq!(
        [
            post(Some("red")),
            post(Some("red")),
            post(Some("blue")),
            post(None),
            post(None)
        ],
        [200, 429, 200, 200, 429]
    );
}

/// The provider reports 20 tokens per answer; the budget is 30 tokens a minute.
fn token_gateway(up: &RecordingUpstream, extra: &str, workers: usize) -> Gateway {
    Gateway::start_with(
        &limited_config(
            &up.url("/v1/chat/completions"),
            &format!(
                "  - name: ai-rate-limiting-advanced\n    config:\n      llm_providers: [{{name: openai, limit: [30], window_size: [60]}}]\n{extra}"
            ),
        ),
        GatewayOpts {
            workers,
            ..GatewayOpts::default()
        },
    )
}

#[test]
fn the_request_that_crosses_a_token_budget_is_served_and_the_next_refused() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 12, 8));
    // Sliding (Kong's default): a window boundary between the requests changes nothing.
    let gw = token_gateway(&up, "", 1);
    let first = post_json(gw.addr(), "/", CHAT, &as_alice());
    assert_eq!(first.status, 200);
    assert_eq!(first.header("X-AI-RateLimit-Limit-60-openai"), Some("30"));
    assert_eq!(
        first.header("X-AI-RateLimit-Remaining-60-openai"),
        Some("30")
    );
    let crossing = post_json(gw.addr(), "/", CHAT, &as_alice());
    assert_eq!(
        crossing.status, 200,
        "10 tokens were left: this one is served"
    );
    assert_eq!(
        crossing.header("X-AI-RateLimit-Remaining-60-openai"),
        Some("10")
    );
    let refused = post_json(gw.addr(), "/", CHAT, &as_alice());
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.body_str(),
        r#"{"message":"AI token rate limit exceeded for provider(s): openai"}"#
    );
    assert_eq!(
        refused.header("X-AI-RateLimit-Remaining-60-openai"),
        Some("0")
    );
    let wait: u64 = refused.header("Retry-After").unwrap().parse().unwrap();
    // The current window's end, then until its weight lets the 40 tokens drop under 30.
    assert!((1..=75).contains(&wait), "Retry-After {wait}");
    assert_eq!(
        refused.header("X-AI-RateLimit-Retry-After"),
        Some(wait.to_string().as_str())
    );
    assert_eq!(
        refused.header("X-AI-RateLimit-Reset-60-openai"),
        Some(wait.to_string().as_str())
    );
    // Budgets are per consumer.
    assert_eq!(
        post_json(gw.addr(), "/", CHAT, &[("apikey", "bob-key")]).status,
        200
    );
    assert_eq!(
        up.request_count(),
        3,
        "the refused request reached no provider"
    );
}

#[test]
fn tokens_from_streams_count_against_the_budget() {
    let up = RecordingUpstream::start(|_| {
        Reply::openai_sse(
            "gpt-4o-mini",
            &["a", "b"],
            Duration::from_millis(1),
            Some((12, 8)),
        )
    });
    let gw = token_gateway(&up, "", 1);
    for expected in [200, 200, 429] {
        let r = post_json(gw.addr(), "/", STREAM, &as_alice());
        assert_eq!(r.status, expected, "{}", r.body_str());
        if expected == 200 {
            assert_eq!(r.sse_data().last().map(String::as_str), Some("[DONE]"));
        }
    }
}

#[test]
fn tokens_the_tokenizer_counts_reach_the_budget_too() {
    // No usage in the answer: the tokenizer thread counts ~200 completion tokens.
    let long = "word ".repeat(200);
    let up = RecordingUpstream::start(move |_| {
        Reply::json(
            200,
            &format!(
                r#"{{"id":"x","object":"chat.completion","model":"gpt-4o-mini","choices":[{{"index":0,"message":{{"role":"assistant","content":"{long}"}},"finish_reason":"stop"}}]}}"#
            ),
        )
    });
    let gw = token_gateway(&up, "", 1);
    assert_eq!(post_json(gw.addr(), "/", CHAT, &as_alice()).status, 200);
    // The count arrives through the merger; the budget refuses once it has.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let r = post_json(gw.addr(), "/", CHAT, &as_alice());
        if r.status == 429 {
            break;
        }
        assert_eq!(r.status, 200);
        assert!(
            std::time::Instant::now() < deadline,
            "the tokenizer's count never reached the budget"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_token_budget_holds_across_cores() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 12, 8));
    let gw = token_gateway(&up, "", 2);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(post_json(gw.addr(), "/", CHAT, &as_alice()).status);
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(statuses, vec![200, 200, 429, 429]);
}

#[test]
fn hidden_client_headers_and_hidden_providers() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 12, 28));
    let gw = token_gateway(
        &up,
        "      hide_client_headers: true\n      error_hide_providers: true\n      error_message: budget spent\n",
        1,
    );
    let r = post_json(gw.addr(), "/", CHAT, &as_alice());
    assert_eq!(r.status, 200);
    assert!(
        !r.headers
            .iter()
            .any(|(k, _)| k.to_ascii_lowercase().contains("ratelimit")),
        "{:?}",
        r.headers
    );
    let r = post_json(gw.addr(), "/", CHAT, &as_alice());
    assert_eq!(
        (r.status, r.body_str().as_str()),
        (429, r#"{"message":"budget spent"}"#)
    );
    assert!(r.header("Retry-After").is_some());
}
