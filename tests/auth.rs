//! Credentials: the target's key replaces the client's, and secrets never leak.

mod support;
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn target_key_replaces_the_clients_and_other_headers_pass() {
    let upstream = RecordingUpstream::start(|_| Reply::openai_chat("m", "ok", 1, 1));
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            upstream.url("/v1/chat/completions"),
        )],
        "",
    );
    let gw = Gateway::start(&yaml);
    let r = post_json(
        gw.addr(),
        "/",
        CHAT,
        &[
            ("Authorization", "Bearer client-own-key"),
            ("X-Request-Tag", "abc"),
            ("Connection", "close, X-Hop"),
            ("X-Hop", "drop-me"),
            ("Accept-Encoding", "gzip"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = upstream.wait_for_requests(1, WAIT);
    let head = seen[0].head_str();
    assert_eq!(
        seen[0].header_all("Authorization"),
        vec!["Bearer sk-target-secret"]
    );
    assert!(!head.contains("client-own-key"), "{head}");
    assert_eq!(seen[0].header("X-Request-Tag"), Some("abc"));
    assert_eq!(
        seen[0].header("X-Hop"),
        None,
        "headers named in Connection are hop-by-hop"
    );
    assert_eq!(seen[0].header("Accept-Encoding"), None);
    assert!(!gw.stderr().contains("sk-target-secret"));
}

#[test]
fn allow_override_keeps_a_client_key_and_query_and_body_params_are_added() {
    let upstream = RecordingUpstream::start(|_| Reply::openai_chat("m", "ok", 1, 1));
    let url = upstream.url("/v1/chat/completions");
    let yaml = format!(
        r#"_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      targets:
        - route_type: llm/v1/chat
          auth: {{header_name: api-key, header_value: target-key, allow_override: true}}
          model: {{provider: openai, name: a, model_alias: fast, options: {{upstream_url: "{url}"}}}}
        - route_type: llm/v1/chat
          auth: {{param_name: key, param_value: "q s", param_location: query}}
          model: {{provider: openai, name: b, model_alias: query, options: {{upstream_url: "{url}"}}}}
        - route_type: llm/v1/chat
          auth: {{param_name: api_key, param_value: body-secret, param_location: body}}
          model: {{provider: openai, name: c, model_alias: body, options: {{upstream_url: "{url}"}}}}
"#
    );
    let gw = Gateway::start(&yaml);
    assert_eq!(
        post_json(gw.addr(), "/", CHAT, &[("Api-Key", "client-key")]).status,
        200
    );
    assert_eq!(post_json(gw.addr(), "/", CHAT, &[]).status, 200);
    assert_eq!(
        post_json(gw.addr(), "/", &CHAT.replace("fast", "query"), &[]).status,
        200
    );
    assert_eq!(
        post_json(gw.addr(), "/", &CHAT.replace("fast", "body"), &[]).status,
        200
    );
    let seen = upstream.wait_for_requests(4, WAIT);
    assert_eq!(seen[0].header_all("api-key"), vec!["client-key"]);
    assert_eq!(seen[1].header_all("api-key"), vec!["target-key"]);
    assert_eq!(seen[2].path, "/v1/chat/completions?key=q%20s");
    assert_eq!(
        seen[3].body_str(),
        r#"{"api_key":"body-secret","model":"c","messages":[{"role":"user","content":"hi"}]}"#
    );
}
