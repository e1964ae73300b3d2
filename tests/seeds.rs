//! The two Kong pages the project started from, end to end: their YAML loads unchanged, and
//! their curl requests get the documented routing when the targets point at a recording
//! upstream instead of OpenAI.

mod support;
use support::*;

const SEED_ALIAS_REQUEST_POWERFUL: &str = r#"{
       "model": "powerful",
       "messages": [
         {
           "role": "user",
           "content": "What is 1+1?"
         }
       ]
     }"#;

/// The seed's YAML with `options.upstream_url` added to each model so no request leaves the host.
fn alias_seed_with_upstream(url: &str) -> String {
    format!(
        r#"_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      targets:
      - route_type: llm/v1/chat
        auth:
          header_name: Authorization
          header_value: Bearer ${{{{ env "DECK_OPENAI_API_KEY" }}}}
        model:
          provider: openai
          name: gpt-4o
          model_alias: powerful
          options:
            upstream_url: {url}
      - route_type: llm/v1/chat
        auth:
          header_name: Authorization
          header_value: Bearer ${{{{ env "DECK_OPENAI_API_KEY" }}}}
        model:
          provider: openai
          name: gpt-4o-mini
          model_alias: fast
          options:
            upstream_url: {url}
"#
    )
}

fn echo_model_upstream() -> RecordingUpstream {
    RecordingUpstream::start(|req| {
        let model = req.body_json_model().unwrap_or_default();
        Reply::openai_chat(&model, "1+1 equals 2.", 14, 3)
    })
}

fn opts_with_key() -> GatewayOpts {
    GatewayOpts {
        env: vec![("DECK_OPENAI_API_KEY".into(), "sk-seed-test-key".into())],
        ..GatewayOpts::default()
    }
}

#[test]
fn seed_configs_load_unchanged() {
    for file in [
        "config/route-by-model-alias.yaml",
        "config/lowest-usage-balancing.yaml",
    ] {
        let (status, stdout, stderr) = run_cli(
            &["validate", "--config", file],
            &[("DECK_OPENAI_API_KEY", "sk-x")],
        );
        assert!(status.success(), "{file}: {stdout}\n{stderr}");
        assert!(stdout.contains("OK"), "{stdout}");
        assert!(
            !stdout.contains("sk-x"),
            "validate must not print secrets: {stdout}"
        );
    }
}

#[test]
fn alias_seed_routes_powerful_and_fast_to_their_models() {
    let upstream = echo_model_upstream();
    let gw = Gateway::start_with(
        &alias_seed_with_upstream(&upstream.url("/v1/chat/completions")),
        opts_with_key(),
    );
    // The seed's curl: --json sets both headers, -H adds Accept again.
    let headers = [
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
    ];
    let powerful = post_json(
        gw.addr(),
        "/anything",
        SEED_ALIAS_REQUEST_POWERFUL,
        &headers,
    );
    assert_eq!(powerful.status, 200, "{}", powerful.body_str());
    assert_eq!(powerful.header("X-Kong-LLM-Model"), Some("openai/gpt-4o"));
    assert_eq!(
        json_str_at(&powerful.json(), &["model"]).as_deref(),
        Some("gpt-4o")
    );

    let fast_body = SEED_ALIAS_REQUEST_POWERFUL.replace("powerful", "fast");
    let fast = post_json(gw.addr(), "/anything", &fast_body, &headers);
    assert_eq!(fast.status, 200, "{}", fast.body_str());
    assert_eq!(fast.header("X-Kong-LLM-Model"), Some("openai/gpt-4o-mini"));
    assert_eq!(
        json_str_at(&fast.json(), &["model"]).as_deref(),
        Some("gpt-4o-mini")
    );

    let seen = upstream.wait_for_requests(2, WAIT);
    assert_eq!(seen[0].body_json_model().as_deref(), Some("gpt-4o"));
    assert_eq!(seen[1].body_json_model().as_deref(), Some("gpt-4o-mini"));
    for r in &seen {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(r.header("Authorization"), Some("Bearer sk-seed-test-key"));
        assert_eq!(r.header("Host"), Some(upstream.addr().to_string().as_str()));
    }
    // Only the model changed: the rest of the client's body arrives byte for byte.
    assert_eq!(
        seen[0].body_str(),
        SEED_ALIAS_REQUEST_POWERFUL.replace("\"powerful\"", "\"gpt-4o\"")
    );
    for latency in ["X-Kong-Upstream-Latency", "X-Kong-Proxy-Latency"] {
        let v = powerful
            .header(latency)
            .unwrap_or_else(|| panic!("{latency} missing"));
        assert!(v.parse::<u64>().is_ok(), "{latency}: {v}");
    }
}

#[test]
fn lowest_usage_seed_sends_option_defaults_and_real_model_names() {
    let upstream = echo_model_upstream();
    let url = upstream.url("/v1/chat/completions");
    let yaml = format!(
        r#"_format_version: "3.0"
plugins:
- name: ai-proxy-advanced
  config:
    balancer:
      algorithm: lowest-usage
      tokens_count_strategy: prompt-tokens
    targets:
    - model:
        name: gpt-4
        provider: openai
        options:
          max_tokens: 512
          temperature: 1.0
          upstream_url: {url}
      route_type: llm/v1/chat
      auth:
        header_name: Authorization
        header_value: Bearer ${{{{ env "DECK_OPENAI_API_KEY" }}}}
    - model:
        name: gpt-4o-mini
        provider: openai
        options:
          max_tokens: 512
          temperature: 1.0
          upstream_url: {url}
      route_type: llm/v1/chat
      auth:
        header_name: Authorization
        header_value: Bearer ${{{{ env "DECK_OPENAI_API_KEY" }}}}
"#
    );
    let gw = Gateway::start_with(&yaml, opts_with_key());
    let by_name = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
    let r = post_json(gw.addr(), "/v1/chat/completions", by_name, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = upstream.wait_for_requests(1, WAIT);
    assert_eq!(
        seen[0].body_str(),
        r#"{"max_tokens":512,"temperature":1.0,"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#
    );

    // The client's own values win over the configured defaults.
    let own = r#"{"model":"gpt-4","max_tokens":7,"temperature":0.2,"messages":[{"role":"user","content":"hi"}]}"#;
    let r = post_json(gw.addr(), "/v1/chat/completions", own, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = upstream.wait_for_requests(2, WAIT);
    assert_eq!(seen[1].body_str(), own);

    // Without a model and without aliases, any target may serve; the target's name is set.
    let no_model = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
    let r = post_json(gw.addr(), "/v1/chat/completions", no_model, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = upstream.wait_for_requests(3, WAIT);
    let model = seen[2].body_json_model().unwrap_or_default();
    assert!(model == "gpt-4" || model == "gpt-4o-mini", "{model}");
    assert!(seen[2]
        .body_str()
        .ends_with(r#""messages":[{"role":"user","content":"hi"}]}"#));
}

#[test]
fn built_in_demo_answers_the_seed_curl_without_a_key() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(LLMUX_BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--workers", "1"])
        .env_remove("DECK_OPENAI_API_KEY")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn llmux");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("llmux exited before listening")
            .expect("read stderr");
        if let Some(rest) = line.split("proxy listening on ").nth(1) {
            break rest
                .trim()
                .parse::<std::net::SocketAddr>()
                .expect("address");
        }
    };
    let r = post_json(
        addr,
        "/anything",
        SEED_ALIAS_REQUEST_POWERFUL,
        &[("Accept", "application/json")],
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("X-Kong-LLM-Model"), Some("openai/gpt-4o"));
    assert_eq!(
        json_str_at(&r.json(), &["model"]).as_deref(),
        Some("gpt-4o")
    );
    assert!(r.body_str().contains("1+1 equals 2."), "{}", r.body_str());
}
