//! Who may spend the keys: consumers with `key-auth` credentials, `acl` groups, over the wire.
//! Every refusal is checked byte by byte against Kong's answer, and every success against what
//! the provider received: the consumer's key never reaches it, the consumer's identity does.

mod support;
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

/// Two consumers (alice in `gold`, bob in `bronze`, carol without groups), `key-auth` with
/// `extra` config lines, and an AI plugin sending to `url` with the target's own key.
fn secured(url: &str, key_auth: &str, more_plugins: &str) -> String {
    format!(
        r#"_format_version: "3.0"
consumers:
  - username: alice
    id: 6f1c2b9e-1111-4222-8333-444455556666
    custom_id: team-a
    keyauth_credentials:
      - key: alice-key
        id: 0a0a0a0a-1111-4222-8333-000000000001
      - key: "alice key+2"
    acls: [{{group: gold}}, {{group: silver}}]
  - username: bob
    keyauth_credentials: [{{key: bob-key}}]
    acls: [{{group: bronze}}]
  - username: carol
    keyauth_credentials: [{{key: carol-key}}]
  - username: guest
plugins:
  - name: key-auth
    config: {{{key_auth}}}
{more_plugins}  - name: ai-proxy-advanced
    config:
      targets:
        - route_type: llm/v1/chat
          auth: {{header_name: Authorization, header_value: "Bearer sk-target-secret"}}
          logging: {{log_statistics: true}}
          model: {{provider: openai, name: gpt-4o-mini, model_alias: fast, options: {{upstream_url: "{url}"}}}}
"#
    )
}

fn provider() -> RecordingUpstream {
    RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 3, 2))
}

/// Kong's 401/403 body, exactly.
fn assert_kong_error(r: &Response, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", r.body_str());
    assert_eq!(r.body_str(), format!(r#"{{"message":"{message}"}}"#));
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
}

#[test]
fn no_key_and_a_wrong_key_get_kongs_401_and_nothing_reaches_the_provider() {
    let up = provider();
    let gw = Gateway::start(&secured(&up.url("/v1/chat/completions"), "", ""));
    let r = post_json(gw.addr(), "/v1/chat/completions", CHAT, &[]);
    assert_kong_error(&r, 401, "No API key found in request");
    assert_eq!(r.header("WWW-Authenticate"), Some("Key"));
    let r = post_json(gw.addr(), "/", CHAT, &[("apikey", "not-a-key")]);
    assert_kong_error(&r, 401, "Unauthorized");
    assert_eq!(r.header("WWW-Authenticate"), Some("Key"));
    let r = post_json(
        gw.addr(),
        "/?apikey=alice-key",
        CHAT,
        &[("apikey", "wrong")],
    );
    assert_kong_error(&r, 401, "Unauthorized");
    let r = post_json(
        gw.addr(),
        "/",
        CHAT,
        &[("apikey", "alice-key"), ("ApiKey", "bob-key")],
    );
    assert_kong_error(&r, 401, "Duplicate API key found");
    assert_eq!(
        up.request_count(),
        0,
        "a refused request reaches no provider"
    );
    // A refusal before the body is read closes the connection (the body is never read).
    assert_eq!(r.header("Connection"), Some("close"));
}

#[test]
fn a_refused_request_without_a_body_keeps_its_connection() {
    let up = provider();
    let gw = Gateway::start(&secured(&up.url("/v1/chat/completions"), "", ""));
    let mut conn = ResponseReader::connect(gw.addr());
    conn.send(&build_request("GET", gw.addr(), "/", b"", &[]));
    let r = conn.read_response();
    assert_kong_error(&r, 401, "No API key found in request");
    assert_eq!(r.header("Connection"), None);
    conn.send(&build_post(
        gw.addr(),
        "/",
        CHAT,
        &[("apikey", "alice-key")],
    ));
    assert_eq!(conn.read_response().status, 200);
}

#[test]
fn a_key_in_a_header_in_the_query_and_in_the_body_is_hidden_from_the_provider() {
    let up = provider();
    let url = up.url("/v1/chat/completions");
    let gw = Gateway::start(&secured(
        &url,
        "key_in_body: true, key_names: [apikey, x-team-key]",
        "",
    ));
    // Header.
    let r = post_json(gw.addr(), "/", CHAT, &[("apikey", "alice-key")]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    // Query, percent-encoded (`alice key+2` is `alice%20key%2B2`).
    let r = post_json(gw.addr(), "/v1/chat?x=1&apikey=alice%20key%2B2", CHAT, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    // Body, under the second key name.
    let body =
        r#"{"model":"fast","x-team-key":"bob-key","messages":[{"role":"user","content":"hi"}]}"#;
    let r = post_json(gw.addr(), "/", body, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = up.wait_for_requests(3, WAIT);
    assert_eq!(seen[0].header("apikey"), None);
    assert_eq!(
        seen[1].path, "/v1/chat/completions",
        "the client's query is not forwarded"
    );
    assert_eq!(
        seen[2].body_str(),
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#,
        "the key member is cut out of the body"
    );
    for s in &seen {
        assert_eq!(
            s.header_all("Authorization"),
            vec!["Bearer sk-target-secret"]
        );
        let raw = format!("{}{}", s.head_str(), s.body_str());
        for key in ["alice-key", "alice key", "alice%20key", "bob-key"] {
            assert!(!raw.contains(key), "{key} reached the provider: {raw}");
        }
    }
    assert_eq!(seen[0].header("X-Consumer-Username"), Some("alice"));
    assert_eq!(seen[2].header("X-Consumer-Username"), Some("bob"));
}

#[test]
fn the_openai_bearer_form_authenticates_and_the_targets_key_replaces_the_consumers() {
    let up = provider();
    let gw = Gateway::start(&secured(
        &up.url("/v1/chat/completions"),
        "key_names: [authorization]",
        "",
    ));
    // What `openai.OpenAI(api_key="alice-key")` sends.
    let r = post_json(
        gw.addr(),
        "/v1/chat/completions",
        CHAT,
        &[
            ("Authorization", "Bearer alice-key"),
            ("User-Agent", "OpenAI/Python 1.40.0"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let r = post_json(gw.addr(), "/", CHAT, &[("Authorization", "Bearer bob")]);
    assert_kong_error(&r, 401, "Unauthorized");
    let seen = up.wait_for_requests(1, WAIT);
    assert_eq!(
        seen[0].header_all("Authorization"),
        vec!["Bearer sk-target-secret"]
    );
    assert!(!seen[0].head_str().contains("alice-key"));
}

#[test]
fn hide_credentials_false_still_never_forwards_a_key_and_says_so() {
    let up = provider();
    let gw = Gateway::start(&secured(
        &up.url("/v1/chat/completions"),
        "hide_credentials: false",
        "",
    ));
    assert!(gw.wait_for_stderr("the key is always hidden", WAIT));
    let r = post_json(gw.addr(), "/", CHAT, &[("apikey", "alice-key")]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = up.wait_for_requests(1, WAIT);
    assert_eq!(seen[0].header("apikey"), None);
}

#[test]
fn the_provider_learns_the_consumer_with_kongs_headers_and_spoofed_ones_are_dropped() {
    let up = provider();
    let gw = Gateway::start(&secured(
        &up.url("/v1/chat/completions"),
        "anonymous: guest",
        "  - name: acl\n    config: {allow: [gold, bronze]}\n",
    ));
    let spoof = [
        ("X-Consumer-ID", "spoofed"),
        ("X-Consumer-Username", "admin"),
        ("X-Consumer-Groups", "root"),
        ("X-Anonymous-Consumer", "false"),
        ("X-Credential-Identifier", "spoofed"),
    ];
    let mut headers = vec![("apikey", "alice-key")];
    headers.extend_from_slice(&spoof);
    assert_eq!(post_json(gw.addr(), "/", CHAT, &headers).status, 200);
    let seen = up.wait_for_requests(1, WAIT);
    let s = &seen[0];
    assert_eq!(
        s.header_all("X-Consumer-ID"),
        vec!["6f1c2b9e-1111-4222-8333-444455556666"]
    );
    assert_eq!(s.header_all("X-Consumer-Username"), vec!["alice"]);
    assert_eq!(s.header_all("X-Consumer-Custom-ID"), vec!["team-a"]);
    assert_eq!(
        s.header_all("X-Credential-Identifier"),
        vec!["0a0a0a0a-1111-4222-8333-000000000001"]
    );
    assert_eq!(s.header_all("X-Consumer-Groups"), vec!["gold, silver"]);
    assert!(s.header_all("X-Anonymous-Consumer").is_empty());
    // A credential without an id gets a stable generated one (never the key).
    let mut headers = vec![("apikey", "bob-key")];
    headers.extend_from_slice(&spoof);
    assert_eq!(post_json(gw.addr(), "/", CHAT, &headers).status, 200);
    let bob = &up.wait_for_requests(2, WAIT)[1];
    let cred = bob.header("X-Credential-Identifier").unwrap_or_default();
    assert_eq!(cred.len(), 36, "a UUID: {cred}");
    assert_eq!(bob.header_all("X-Consumer-Groups"), vec!["bronze"]);
    // Without a key the request runs as the anonymous consumer, whom the ACL does not know.
    let r = post_json(gw.addr(), "/", CHAT, &[]);
    assert_kong_error(&r, 401, "Unauthorized");
    assert_eq!(up.request_count(), 2);
}

#[test]
fn acl_allow_and_deny() {
    let up = provider();
    let url = up.url("/v1/chat/completions");
    let allow = Gateway::start(&secured(
        &url,
        "",
        "  - name: acl\n    config: {allow: [gold]}\n",
    ));
    assert_eq!(
        post_json(allow.addr(), "/", CHAT, &[("apikey", "alice-key")]).status,
        200
    );
    let r = post_json(allow.addr(), "/", CHAT, &[("apikey", "bob-key")]);
    assert_kong_error(&r, 403, "You cannot consume this service");
    let r = post_json(allow.addr(), "/", CHAT, &[("apikey", "carol-key")]);
    assert_kong_error(&r, 403, "You cannot consume this service");
    let deny = Gateway::start(&secured(
        &url,
        "",
        "  - name: acl\n    config: {deny: [gold], hide_groups_header: true}\n",
    ));
    let r = post_json(deny.addr(), "/", CHAT, &[("apikey", "alice-key")]);
    assert_kong_error(&r, 403, "You cannot consume this service");
    assert_eq!(
        post_json(deny.addr(), "/", CHAT, &[("apikey", "bob-key")]).status,
        200
    );
    assert_eq!(
        post_json(deny.addr(), "/", CHAT, &[("apikey", "carol-key")]).status,
        200
    );
    let seen = up.wait_for_requests(3, WAIT);
    assert_eq!(seen[0].header("X-Consumer-Username"), Some("alice"));
    assert_eq!(seen[1].header("X-Consumer-Username"), Some("bob"));
    assert_eq!(
        seen[1].header("X-Consumer-Groups"),
        None,
        "hide_groups_header"
    );
    assert_eq!(up.request_count(), 3);
}

#[test]
fn plugins_scoped_to_a_route_protect_that_route_only() {
    let up = provider();
    let url = up.url("/v1/chat/completions");
    let yaml = format!(
        r#"_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials: [{{key: alice-key}}]
services:
  - name: llm
    url: http://localhost
    routes:
      - name: open
        paths: [/open]
      - name: closed
        paths: [/closed]
        plugins:
          - name: key-auth
            config: {{realm: llmux}}
plugins:
  - name: ai-proxy-advanced
    config:
      targets:
        - route_type: llm/v1/chat
          model: {{provider: openai, name: gpt-4o-mini, model_alias: fast, options: {{upstream_url: "{url}"}}}}
"#
    );
    let gw = Gateway::start(&yaml);
    assert_eq!(post_json(gw.addr(), "/open", CHAT, &[]).status, 200);
    let r = post_json(gw.addr(), "/closed", CHAT, &[]);
    assert_kong_error(&r, 401, "No API key found in request");
    assert_eq!(r.header("WWW-Authenticate"), Some("Key realm=\"llmux\""));
    assert_eq!(
        post_json(gw.addr(), "/closed", CHAT, &[("apikey", "alice-key")]).status,
        200
    );
    let seen = up.wait_for_requests(2, WAIT);
    assert_eq!(seen[0].header("X-Consumer-ID"), None);
    assert_eq!(seen[1].header("X-Consumer-Username"), Some("alice"));
}

#[test]
fn the_statistics_log_status_and_metrics_name_the_consumer_never_the_key() {
    let up = provider();
    let gw = Gateway::start(&secured(&up.url("/v1/chat/completions"), "", ""));
    for _ in 0..2 {
        assert_eq!(
            post_json(gw.addr(), "/", CHAT, &[("apikey", "alice-key")]).status,
            200
        );
    }
    assert_eq!(
        post_json(gw.addr(), "/?apikey=bob-key", CHAT, &[]).status,
        200
    );
    let admin = gw.admin_addr();
    let metrics = poll_admin(admin, "/metrics", |b| {
        b.contains(r#"llmux_consumer_requests_total{consumer="bob""#)
            && b.contains(r#"llmux_consumer_requests_total{consumer="alice",ai_provider="openai",ai_model="gpt-4o-mini"} 2"#)
    });
    assert!(metrics.contains(
        r#"llmux_consumer_tokens_total{consumer="alice",ai_provider="openai",ai_model="gpt-4o-mini",token_type="total_tokens"} 10"#
    ), "{metrics}");
    let status = poll_admin(admin, "/status", |b| b.contains(r#""consumer":"bob""#));
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    let alice = v["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["consumer"] == "alice")
        .cloned()
        .unwrap();
    assert_eq!(
        (alice["requests"].as_u64(), alice["total_tokens"].as_u64()),
        (Some(2), Some(10))
    );
    let log = wait_for(|| {
        let out = gw.stdout();
        (out.lines().count() >= 3).then_some(out)
    });
    let line: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(line["consumer"]["username"], "alice");
    assert_eq!(
        line["consumer"]["id"],
        "6f1c2b9e-1111-4222-8333-444455556666"
    );
    assert_eq!(
        line["authenticated_entity"]["id"],
        "0a0a0a0a-1111-4222-8333-000000000001"
    );
    for text in [&metrics, &status, &log, &gw.stderr()] {
        for key in ["alice-key", "bob-key", "alice key"] {
            assert!(!text.contains(key), "{key} leaked into {text}");
        }
    }
}

/// Polls an admin endpoint until `ready` accepts its body (counts arrive with a merge tick).
fn poll_admin(addr: std::net::SocketAddr, path: &str, ready: impl Fn(&str) -> bool) -> String {
    wait_for(|| {
        let mut conn = ResponseReader::connect(addr);
        conn.send(&build_request(
            "GET",
            addr,
            path,
            b"",
            &[("Connection", "close")],
        ));
        let body = conn.read_response().body_str();
        ready(&body).then_some(body)
    })
}

fn wait_for<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "gave up waiting");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn llmux_validate_reports_access_mistakes_with_their_paths() {
    let yaml = r#"_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials: [{key: same-secret}]
  - username: alice
    keyauth_credentials: [{key: same-secret}]
plugins:
  - name: key-auth
    config: {anonymous: nobody, key_names: ["bad name"]}
  - name: acl
    consumer: alice
    config: {allow: [a], deny: [b]}
  - name: rate-limiting
    config: {limit_by: header}
"#;
    let file = TempFile::with_contents("access", "yaml", yaml);
    let (status, _, stderr) = run_cli(&["validate", "--config", file.path_str()], &[]);
    assert!(!status.success());
    for line in [
        "consumers[1].username: duplicate consumer username `alice` (first at consumers[0])",
        "consumers[1].keyauth_credentials[0].key: the same key is already given to the credential at consumers[0].keyauth_credentials[0]",
        "plugins[0].config.key_names[0]: may only contain letters, digits, `-` and `_`",
        "plugins[0].config.anonymous: consumer `nobody` is not defined in this file",
        "plugins[1].consumer: plugin `acl` cannot be scoped to a consumer (Kong's rule)",
        "plugins[1].config: only one of `allow` or `deny` may be set",
        "plugins[2].config: at least one of `second`, `minute`, `hour`, `day`, `month` or `year` is required",
        "plugins[2].config.header_name: is required when limit_by is header",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in\n{stderr}");
    }
    assert!(!stderr.contains("same-secret"), "{stderr}");
}

#[test]
fn the_secured_example_config_loads_and_guards_the_provider() {
    let env = [
        ("DECK_OPENAI_API_KEY", "sk-provider-secret"),
        ("DECK_ALICE_KEY", "alice-example-key"),
        ("DECK_BOB_KEY", "bob-example-key"),
        ("DECK_CI_KEY", "ci-example-key"),
    ];
    let (status, stdout, stderr) = run_cli(&["validate", "--config", "config/secured.yaml"], &env);
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("OK"), "{stdout}");
    for (_, secret) in env {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{stdout}{stderr}"
        );
    }

    // Served as written, but with the `fast` target sent to a recording provider.
    let up = provider();
    let text = std::fs::read_to_string("config/secured.yaml").expect("config/secured.yaml");
    let yaml = text.replace(
        "model_alias: fast\n",
        &format!(
            "model_alias: fast\n            options: {{upstream_url: \"{}\"}}\n",
            up.url("/v1/chat/completions")
        ),
    );
    assert_ne!(yaml, text, "the example still has a `fast` target");
    let gw = Gateway::start_with(
        &yaml,
        GatewayOpts {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..GatewayOpts::default()
        },
    );
    assert!(
        gw.wait_for_stderr("counts on this node only", WAIT),
        "no --redis: the fleet-wide token budget says it counts per node\n{}",
        gw.stderr()
    );
    const PATH: &str = "/v1/chat/completions";
    let r = post_json(gw.addr(), PATH, CHAT, &[]);
    assert_kong_error(&r, 401, "No API key found in request");
    let r = post_json(
        gw.addr(),
        PATH,
        CHAT,
        &[("Authorization", "Bearer sk-guess")],
    );
    assert_kong_error(&r, 401, "Unauthorized");

    // What `openai.OpenAI(api_key=DECK_ALICE_KEY)` sends.
    let alice = post_json(
        gw.addr(),
        PATH,
        CHAT,
        &[("Authorization", "Bearer alice-example-key")],
    );
    assert_eq!(alice.status, 200, "{}", alice.body_str());
    assert_eq!(alice.header("X-RateLimit-Limit-Minute"), Some("60"));
    assert_eq!(alice.header("X-RateLimit-Remaining-Minute"), Some("59"));
    assert_eq!(
        alice.header("X-AI-RateLimit-Limit-3600-openai"),
        Some("100000")
    );
    assert_eq!(
        alice.header("X-AI-RateLimit-Limit-86400-openai"),
        Some("1000000")
    );
    let ci = post_json(gw.addr(), PATH, CHAT, &[("apikey", "ci-example-key")]);
    assert_eq!(ci.status, 200, "{}", ci.body_str());
    assert_eq!(
        ci.header("X-RateLimit-Limit-Minute"),
        Some("10"),
        "ci's own limit"
    );

    let seen = up.wait_for_requests(2, WAIT);
    assert_eq!(
        seen[0].header_all("Authorization"),
        vec!["Bearer sk-provider-secret"]
    );
    assert_eq!(seen[0].header("X-Consumer-Username"), Some("alice"));
    assert_eq!(
        seen[0].header("X-Consumer-Groups"),
        None,
        "hide_groups_header"
    );
    assert_eq!(seen[1].header("X-Consumer-Username"), Some("ci"));
    assert_eq!(seen[1].header("apikey"), None, "hide_credentials");
    assert!(!seen[0].head_str().contains("alice-example-key"));
}

/// An Anthropic SDK client (its key in `x-api-key`) reaching a native Anthropic target: the
/// consumer's key, in the header or in the body, never reaches Anthropic, whose own key
/// replaces it; Anthropic's usage spends the consumer's `anthropic` token budget.
#[test]
fn native_provider_requests_hide_the_consumers_key_and_spend_its_budget() {
    const MESSAGE: &str = r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"2"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":30}}"#;
    let up = RecordingUpstream::start(|_| Reply::json(200, MESSAGE));
    let target = ProviderTarget::new(
        "anthropic",
        "claude-fast",
        "claude-haiku-4-5",
        up.url("/v1/messages"),
    )
    .header_auth("x-api-key", "sk-ant-target");
    let yaml = providers_yaml(&[target], "      llm_format: anthropic\n").replacen(
        "plugins:\n",
        r#"consumers:
  - username: alice
    keyauth_credentials: [{key: alice-key}]
plugins:
  - name: key-auth
    config: {key_names: [x-api-key], key_in_body: true}
  - name: ai-rate-limiting-advanced
    config:
      window_type: fixed
      llm_providers: [{name: anthropic, limit: [80], window_size: [31536000]}]
"#,
        1,
    );
    let gw = Gateway::start(&yaml);
    let body =
        r#"{"model":"claude-fast","max_tokens":64,"messages":[{"role":"user","content":"1+1?"}]}"#;
    let headers = [("anthropic-version", "2023-06-01")];
    let r = post_json(gw.addr(), "/v1/messages", body, &headers);
    assert_kong_error(&r, 401, "No API key found in request");

    let with_header = [("x-api-key", "alice-key"), headers[0]];
    let r = post_json(gw.addr(), "/v1/messages", body, &with_header);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.body_str(), MESSAGE);
    assert_eq!(
        r.header("X-AI-RateLimit-Remaining-31536000-anthropic"),
        Some("80")
    );
    let in_body = body.replacen('{', r#"{"x-api-key":"alice-key","#, 1);
    let r = post_json(gw.addr(), "/v1/messages", &in_body, &headers);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.header("X-AI-RateLimit-Remaining-31536000-anthropic"),
        Some("38"),
        "42 tokens of the first answer spent"
    );
    // 84 of 80: refused, before reaching Anthropic.
    let r = post_json(gw.addr(), "/v1/messages", body, &with_header);
    assert_eq!(r.status, 429, "{}", r.body_str());
    assert_eq!(
        r.header("X-AI-RateLimit-Remaining-31536000-anthropic"),
        Some("0")
    );

    let seen = up.wait_for_requests(2, WAIT);
    assert_eq!(up.request_count(), 2);
    for req in &seen {
        assert_eq!(req.header_all("x-api-key"), ["sk-ant-target"]);
        assert_eq!(req.header("X-Consumer-Username"), Some("alice"));
        assert!(!req.head_str().contains("alice-key"));
        assert!(!req.body_str().contains("alice-key"), "{}", req.body_str());
    }
    assert_eq!(
        seen[1].body_str(),
        body.replace("\"claude-fast\"", "\"claude-haiku-4-5\""),
        "the body key is cut out, the rest forwarded as sent"
    );
}
