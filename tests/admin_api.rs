//! The Kong Admin API calls from the lowest-usage seed configure a running llmux, and
//! `--state` keeps them across a restart.

mod support;
use support::*;

fn seed_plugin_body(url: &str) -> String {
    // The seed's `curl -X POST http://localhost:8001/plugins/` body, with `upstream_url` added
    // so the targets are the recording upstream instead of OpenAI.
    format!(
        r#"{{
"name": "ai-proxy-advanced",
"config": {{
"balancer": {{
"algorithm": "lowest-usage",
"tokens_count_strategy": "prompt-tokens"
}},
"targets": [
{{
"model": {{
"name": "gpt-4",
"provider": "openai",
"options": {{
"max_tokens": 512,
"temperature": 1.0,
"upstream_url": "{url}"
}}
}},
"route_type": "llm/v1/chat",
"auth": {{
"header_name": "Authorization",
"header_value": "Bearer sk-from-admin"
}}
}},
{{
"model": {{
"name": "gpt-4o-mini",
"provider": "openai",
"options": {{
"max_tokens": 512,
"temperature": 1.0,
"upstream_url": "{url}"
}}
}},
"route_type": "llm/v1/chat",
"auth": {{
"header_name": "Authorization",
"header_value": "Bearer sk-from-admin"
}}
}}
]
}},
"tags": []
}}"#
    )
}

fn call(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> Response {
    let mut conn = ResponseReader::connect(addr);
    conn.send(&build_request(
        method,
        addr,
        path,
        body.as_bytes(),
        &[
            ("Connection", "close"),
            ("Content-Type", "application/json"),
        ],
    ));
    conn.read_response()
}

fn usage_upstream() -> RecordingUpstream {
    // gpt-4 costs 100 prompt tokens per request, gpt-4o-mini 10.
    RecordingUpstream::start(|req| {
        let m = req.body_json_model().unwrap_or_default();
        Reply::openai_chat(&m, "ok", if m == "gpt-4" { 100 } else { 10 }, 1)
    })
}

const CHAT: &str = r#"{"messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn the_seeds_admin_call_configures_a_running_gateway() {
    let up = usage_upstream();
    let mut gw = Gateway::start("_format_version: \"3.0\"\n");
    let admin = gw.admin_addr();
    assert_eq!(
        post_json(gw.addr(), "/v1/chat/completions", CHAT, &[]).status,
        404
    );

    let created = call(
        admin,
        "POST",
        "/plugins/",
        &seed_plugin_body(&up.url("/v1/chat/completions")),
    );
    assert_eq!(created.status, 201, "{}", created.body_str());
    assert!(created
        .header("X-Llmux-Warning")
        .is_some_and(|w| w.contains("memory only")));
    let id = json_str_at(&created.json(), &["id"]).expect("plugin id");

    for _ in 0..12 {
        assert_eq!(
            post_json(gw.addr(), "/v1/chat/completions", CHAT, &[]).status,
            200
        );
    }
    let seen = up.wait_for_requests(12, WAIT);
    let models: Vec<String> = seen
        .iter()
        .map(|r| r.body_json_model().unwrap_or_default())
        .collect();
    // lowest-usage by prompt tokens: gpt-4 first (tie), then gpt-4o-mini ten times, then gpt-4.
    assert_eq!(models[0], "gpt-4");
    assert!(
        models[1..11].iter().all(|m| m == "gpt-4o-mini"),
        "{models:?}"
    );
    assert_eq!(models[11], "gpt-4");
    assert_eq!(
        seen[0].header("Authorization"),
        Some("Bearer sk-from-admin")
    );
    assert_eq!(
        seen[0].body_str(),
        r#"{"model":"gpt-4","max_tokens":512,"temperature":1.0,"messages":[{"role":"user","content":"hi"}]}"#
    );

    let list = call(admin, "GET", "/plugins", "");
    assert_eq!(list.status, 200);
    assert!(list.body_str().contains(&id), "{}", list.body_str());

    let patched = call(
        admin,
        "PATCH",
        &format!("/plugins/{id}"),
        r#"{"config":{"balancer":{"algorithm":"round-robin"}}}"#,
    );
    assert_eq!(patched.status, 200, "{}", patched.body_str());
    let before = up.request_count();
    for _ in 0..4 {
        assert_eq!(
            post_json(gw.addr(), "/v1/chat/completions", CHAT, &[]).status,
            200
        );
    }
    let rr: Vec<String> = up.wait_for_requests(before + 4, WAIT)[before..]
        .iter()
        .map(|r| r.body_json_model().unwrap_or_default())
        .collect();
    assert_eq!(
        rr.iter().filter(|m| *m == "gpt-4").count(),
        2,
        "round-robin now: {rr:?}"
    );

    let bad = call(
        admin,
        "PATCH",
        &format!("/plugins/{id}"),
        r#"{"config":{"balancer":{"algoritm":"x"}}}"#,
    );
    assert_eq!(bad.status, 400, "{}", bad.body_str());
    assert!(bad.body_str().contains("algoritm"), "{}", bad.body_str());
    assert!(!bad.body_str().contains("sk-from-admin"));

    assert_eq!(
        call(admin, "DELETE", &format!("/plugins/{id}"), "").status,
        204
    );
    assert_eq!(
        call(admin, "GET", &format!("/plugins/{id}"), "").status,
        404
    );
    assert_eq!(
        post_json(gw.addr(), "/v1/chat/completions", CHAT, &[]).status,
        404
    );
    assert!(gw.terminate(WAIT).success());
}

#[test]
fn service_scoped_plugins_and_state_that_survives_a_restart() {
    let up = usage_upstream();
    let state = TempFile::with_contents("state", "yaml", "");
    std::fs::remove_file(state.path()).unwrap(); // llmux creates it from --config
    let yaml = "_format_version: \"3.0\"\nservices:\n  - name: llm\n    url: http://127.0.0.1:9\n    routes:\n      - name: chat\n        paths: [/chat]\n";
    let opts = GatewayOpts {
        args: vec!["--state".into(), state.path_str().into()],
        ..GatewayOpts::default()
    };
    let mut gw = Gateway::start_with(yaml, opts.clone());
    let admin = gw.admin_addr();
    assert_eq!(call(admin, "GET", "/services/llm", "").status, 200);
    assert_eq!(call(admin, "GET", "/routes/chat", "").status, 200);
    let created = call(
        admin,
        "POST",
        "/services/llm/plugins/",
        &seed_plugin_body(&up.url("/v1/chat/completions")),
    );
    assert_eq!(created.status, 201, "{}", created.body_str());
    assert!(
        created.header("X-Llmux-Warning").is_none(),
        "persisted with --state"
    );
    assert_eq!(
        post_json(gw.addr(), "/chat/completions", CHAT, &[]).status,
        200
    );
    assert_eq!(post_json(gw.addr(), "/other", CHAT, &[]).status, 404);
    assert!(gw.terminate(WAIT).success());

    let saved = std::fs::read_to_string(state.path()).unwrap();
    assert!(
        saved.contains("ai-proxy-advanced") && saved.contains("llm"),
        "{saved}"
    );
    // Restarted with the original config: the state file wins, so the plugin is still there.
    let gw2 = Gateway::start_with(yaml, opts);
    assert_eq!(
        post_json(gw2.addr(), "/chat/completions", CHAT, &[]).status,
        200
    );
    assert!(
        gw2.stderr().contains("starting from the state file"),
        "{}",
        gw2.stderr()
    );
}
