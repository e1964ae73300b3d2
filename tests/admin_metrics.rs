//! The admin API after real traffic: /status, /metrics, /histograms, the statistics log and the
//! histogram interval log, checked against what the recording upstream saw.

mod support;
use std::time::{Duration, Instant};
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

fn get(addr: std::net::SocketAddr, path: &str) -> Response {
    let mut conn = ResponseReader::connect(addr);
    conn.send(&build_request(
        "GET",
        addr,
        path,
        b"",
        &[("Connection", "close")],
    ));
    conn.read_response()
}

/// Polls `path` until `ready` accepts the body (histograms ship about once a second).
fn get_until(addr: std::net::SocketAddr, path: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = get(addr, path).body_str();
        if ready(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never became ready: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// a reports 10 prompt + 5 completion tokens, b 7 + 3.
fn upstream() -> RecordingUpstream {
    RecordingUpstream::start(|req| {
        let m = req.body_json_model().unwrap_or_default();
        let (p, c) = if m == "a" { (10, 5) } else { (7, 3) };
        Reply::openai_chat(&m, "ok", p, c)
    })
}

fn config(up: &RecordingUpstream, extra_target: &'static str) -> String {
    let url = up.url("/v1/chat/completions");
    let mut a = T::new("alpha", "a", url.clone());
    a.extra_model_options = extra_target;
    let mut b = T::new("beta", "b", url);
    b.extra_model_options = extra_target;
    plugin_yaml(&[a, b], "")
}

#[test]
fn status_metrics_and_histograms_match_the_traffic() {
    let up = upstream();
    let gw = Gateway::start_with(
        &config(&up, ""),
        GatewayOpts {
            workers: 2,
            ..GatewayOpts::default()
        },
    );
    let admin = gw.admin_addr();
    for i in 0..30 {
        let alias = if i % 3 == 0 { "beta" } else { "alpha" };
        let r = post_json(gw.addr(), "/", &CHAT.replace("fast", alias), &[]);
        assert_eq!(r.status, 200);
    }
    let seen = up.wait_for_requests(30, WAIT);
    let to_a = seen
        .iter()
        .filter(|r| r.body_json_model().as_deref() == Some("a"))
        .count();
    assert_eq!(to_a, 20);

    let status = get_until(admin, "/status", |b| {
        b.contains("\"latency_ms\":{\"count\":20")
    });
    let doc = parse_json(status.as_bytes()).unwrap();
    let text = status.clone();
    assert!(text.contains("\"io_driver\":\""), "{text}");
    assert!(text.contains("\"model\":\"a\""), "{text}");
    // a: 20 requests, 200 prompt + 100 completion tokens; b: 10 requests, 70 + 30.
    assert!(text.contains("\"requests\":20,\"failures\":0,\"prompt_tokens\":200,\"completion_tokens\":100,\"total_tokens\":300"), "{text}");
    assert!(text.contains("\"requests\":10,\"failures\":0,\"prompt_tokens\":70,\"completion_tokens\":30,\"total_tokens\":100"), "{text}");
    assert!(text.contains("\"health\":\"healthy\""), "{text}");
    assert!(json_str_at(&doc, &["version"]).is_some());
    assert!(
        !text.contains("sk-target-secret"),
        "credentials in /status: {text}"
    );
    assert!(
        text.contains("\"proxy_overhead_us\":{\"count\":30"),
        "{text}"
    );

    let metrics = get(admin, "/metrics").body_str();
    let labels = |m: &str| {
        format!("ai_provider=\"openai\",ai_model=\"{m}\",cache_status=\"\",vector_db=\"\",embeddings_provider=\"\",embeddings_model=\"\",workspace=\"default\"")
    };
    assert!(
        metrics.contains(&format!("ai_llm_requests_total{{{}}} 20", labels("a"))),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "ai_llm_tokens_total{{{},token_type=\"prompt_tokens\"}} 70",
            labels("b")
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "ai_llm_provider_latency_ms_count{{{}}} 20",
            labels("a")
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "ai_llm_provider_latency_ms_bucket{{{},le=\"+Inf\"}} 20",
            labels("a")
        )),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE ai_llm_cost_total counter"));
    assert!(
        metrics.contains("llmux_proxy_overhead_us_count{} 30"),
        "{metrics}"
    );
    assert!(
        metrics.contains("llmux_worker_info{worker=\"1\",io_driver="),
        "{metrics}"
    );
    // The writer kept up, so nothing was dropped; the pool holds the provider connections.
    assert!(
        metrics.contains("llmux_statistics_log_dropped_total{worker=\"0\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE llmux_upstream_idle_connections gauge"),
        "{metrics}"
    );
    assert!(text.contains("\"statistics_log_dropped\":0"), "{text}");

    let all = get(admin, "/histograms/all");
    assert_eq!(all.status, 200);
    let hgrm = all.body_str();
    assert!(
        hgrm.contains("Value     Percentile TotalCount 1/(1-Percentile)"),
        "{hgrm}"
    );
    assert!(hgrm.contains("Total count    =           30]"), "{hgrm}");
    assert!(get(admin, "/histograms/beta")
        .body_str()
        .contains("Total count    =           10]"));
    assert!(get(admin, "/histograms/openai/a")
        .body_str()
        .contains("Total count    =           20]"));
    assert_eq!(get(admin, "/histograms/nope").status, 404);
}

#[test]
fn statistics_log_lines_carry_kongs_ai_proxy_fields_and_no_secrets() {
    let up = upstream();
    let log = TempFile::with_contents("stats", "log", "");
    let hlog = TempFile::with_contents("hist", "hlog", "");
    let logging = "        logging: {log_statistics: true, log_payloads: true}\n";
    // `logging` sits on the target in Kong 3.14; the builder puts extra lines under model.options,
    // so write this config by hand.
    let url = up.url("/v1/chat/completions");
    let yaml = format!(
        "_format_version: \"3.0\"\nplugins:\n  - name: ai-proxy-advanced\n    config:\n      targets:\n      - route_type: llm/v1/chat\n{logging}        auth:\n          header_name: Authorization\n          header_value: Bearer sk-target-secret\n        model:\n          provider: openai\n          name: a\n          model_alias: fast\n          options:\n            upstream_url: {url}\n"
    );
    let opts = GatewayOpts {
        args: vec![
            "--access-log".into(),
            log.path_str().into(),
            "--histogram-log".into(),
            hlog.path_str().into(),
        ],
        ..GatewayOpts::default()
    };
    let gw = Gateway::start_with(&yaml, opts);
    for _ in 0..3 {
        assert_eq!(
            post_json(
                gw.addr(),
                "/v1/chat/completions",
                CHAT,
                &[("Authorization", "Bearer client-key")]
            )
            .status,
            200
        );
    }
    let deadline = Instant::now() + WAIT;
    let text = loop {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        if text.lines().count() >= 3 {
            break text;
        }
        assert!(Instant::now() < deadline, "log has: {text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    for line in text.lines() {
        let doc = parse_json(line.as_bytes()).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(
            json_str_at(&doc, &["ai", "proxy", "meta", "provider_name"]).as_deref(),
            Some("openai")
        );
        // Kong's request_model is the model sent upstream (the alias `fast` resolved to `a`).
        assert_eq!(
            json_str_at(&doc, &["ai", "proxy", "meta", "request_model"]).as_deref(),
            Some("a")
        );
        assert_eq!(
            json_str_at(&doc, &["ai", "proxy", "meta", "response_model"]).as_deref(),
            Some("a")
        );
        assert_eq!(
            json_str_at(&doc, &["ai", "proxy", "meta", "request_mode"]).as_deref(),
            Some("oneshot")
        );
        assert!(
            line.contains("\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15"),
            "{line}"
        );
        assert!(
            line.contains("\"time_per_token\":") && line.contains("\"time_to_first_token\":"),
            "{line}"
        );
        assert!(line.contains("\"tried_targets\":[{\"provider\":\"openai\",\"model\":\"a\",\"host\":\"127.0.0.1\""), "{line}");
        assert!(line.contains("\"payload\":{\"request\":"), "{line}");
        assert!(
            !line.contains("sk-target-secret") && !line.contains("client-key"),
            "{line}"
        );
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let h = std::fs::read_to_string(hlog.path()).unwrap_or_default();
        if h.contains("Tag=provider_latency,") {
            assert!(h.contains("#[StartTime: "), "{h}");
            break;
        }
        assert!(Instant::now() < deadline, "histogram log has: {h}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn status_shows_an_open_breaker_as_unhealthy() {
    let up = RecordingUpstream::start(|_| Reply::close());
    let yaml = plugin_yaml(
        &[T::new("fast", "a", up.url("/v1"))],
        "      balancer:\n        max_fails: 1\n        fail_timeout: 60000\n",
    );
    let gw = Gateway::start(&yaml);
    assert_eq!(post_json(gw.addr(), "/", CHAT, &[]).status, 502);
    let status = get_until(gw.admin_addr(), "/status", |b| {
        b.contains("\"health\":\"unhealthy\"")
    });
    assert!(status.contains("\"breaker_open_on_workers\":1"), "{status}");
    assert!(status.contains("\"failures\":1"), "{status}");
}

/// A model name with `|` in it (target identity used to be a `|`-joined string, split back for
/// labels) keeps its exact name in `/metrics` labels and in `/status`.
#[test]
fn a_model_named_with_a_pipe_keeps_its_name_in_metrics_and_status() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("org|model-x", "ok", 10, 5));
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "org|model-x",
            up.url("/v1/chat/completions"),
        )],
        "",
    );
    let gw = Gateway::start(&yaml);
    assert_eq!(post_json(gw.addr(), "/", CHAT, &[]).status, 200);
    let seen = up.wait_for_requests(1, WAIT);
    assert_eq!(seen[0].body_json_model().as_deref(), Some("org|model-x"));

    let metrics = get_until(gw.admin_addr(), "/metrics", |b| {
        b.contains("ai_llm_provider_latency_ms_count{")
    });
    let labels = "ai_provider=\"openai\",ai_model=\"org|model-x\",cache_status=\"\",vector_db=\"\",embeddings_provider=\"\",embeddings_model=\"\",workspace=\"default\"";
    assert!(
        metrics.contains(&format!("ai_llm_requests_total{{{labels}}} 1")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "ai_llm_tokens_total{{{labels},token_type=\"total_tokens\"}} 15"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("ai_llm_provider_latency_ms_count{{{labels}}} 1")),
        "{metrics}"
    );
    assert!(!metrics.contains("ai_model=\"org\""), "{metrics}");

    let status = get_until(gw.admin_addr(), "/status", |b| {
        b.contains("\"requests\":1,")
    });
    assert!(parse_json(status.as_bytes()).is_ok(), "{status}");
    assert!(
        status.contains("\"provider\":\"openai\",\"model\":\"org|model-x\",\"alias\":\"fast\","),
        "{status}"
    );
    assert!(
        status.contains("\"requests\":1,\"failures\":0,\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15"),
        "{status}"
    );
}
