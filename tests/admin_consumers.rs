//! Consumers, keys and ACL groups through the Admin API (Kong's endpoints and shapes), and the
//! Admin API token (`Kong-Admin-Token`), against the real binary.

mod support;
use std::net::SocketAddr;
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

fn config(url: &str) -> String {
    format!(
        r#"_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials: [{{key: alice-key}}]
plugins:
  - name: key-auth
  - name: acl
    config: {{allow: [gold]}}
  - name: ai-proxy-advanced
    config:
      targets:
        - route_type: llm/v1/chat
          auth: {{header_name: Authorization, header_value: "Bearer sk-target-secret"}}
          model: {{provider: openai, name: gpt-4o-mini, model_alias: fast, options: {{upstream_url: "{url}"}}}}
"#
    )
}

fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut all = vec![
        ("Connection", "close"),
        ("Content-Type", "application/json"),
    ];
    all.extend_from_slice(headers);
    let mut conn = ResponseReader::connect(addr);
    conn.send(&build_request(method, addr, path, body.as_bytes(), &all));
    conn.read_response()
}

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body_str()))
}

#[test]
fn consumers_keys_and_groups_through_the_admin_api_take_effect_at_once() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 3, 2));
    let gw = Gateway::start(&config(&up.url("/v1/chat/completions")));
    let admin = gw.admin_addr();

    // The file's consumer has a stable id, the one the provider is told.
    let list = json(&call(admin, "GET", "/consumers", "", &[]));
    let alice = &list["data"][0];
    assert_eq!(alice["username"], "alice");
    let alice_id = alice["id"].as_str().unwrap().to_string();
    assert_eq!(alice_id.len(), 36);
    let keys = json(&call(admin, "GET", "/consumers/alice/key-auth", "", &[]));
    assert_eq!(keys["data"][0]["key"], "alice-key");
    assert_eq!(keys["data"][0]["consumer"]["id"], alice_id.as_str());
    // alice is in no group yet: the ACL refuses her.
    assert_eq!(
        post_json(gw.addr(), "/", CHAT, &[("apikey", "alice-key")]).status,
        403
    );
    let r = call(
        admin,
        "POST",
        &format!("/consumers/{alice_id}/acls"),
        r#"{"group":"gold"}"#,
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.body_str());
    assert_eq!(json(&r)["group"], "gold");
    assert_eq!(
        post_json(gw.addr(), "/", CHAT, &[("apikey", "alice-key")]).status,
        200
    );
    let seen = up.wait_for_requests(1, WAIT);
    assert_eq!(seen[0].header("X-Consumer-ID"), Some(alice_id.as_str()));
    assert_eq!(seen[0].header("X-Consumer-Groups"), Some("gold"));

    // A new consumer with a generated key, then a group.
    let r = call(
        admin,
        "POST",
        "/consumers",
        r#"{"username":"carol","custom_id":"c-7"}"#,
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.body_str());
    let carol = json(&r);
    assert_eq!(
        (carol["username"].as_str(), carol["custom_id"].as_str()),
        (Some("carol"), Some("c-7"))
    );
    let r = call(admin, "POST", "/consumers/carol/key-auth", "{}", &[]);
    assert_eq!(r.status, 201, "{}", r.body_str());
    let generated = json(&r)["key"].as_str().unwrap().to_string();
    let cred_id = json(&r)["id"].as_str().unwrap().to_string();
    assert_eq!(
        call(
            admin,
            "POST",
            "/consumers/carol/acls",
            r#"{"group":"gold"}"#,
            &[]
        )
        .status,
        201
    );
    assert_eq!(
        post_json(gw.addr(), "/", CHAT, &[("apikey", &generated)]).status,
        200
    );
    // Kong's refusals: a taken username, a taken key, a consumer with neither name.
    let r = call(admin, "POST", "/consumers", r#"{"username":"carol"}"#, &[]);
    assert_eq!(r.status, 409, "{}", r.body_str());
    let r = call(
        admin,
        "POST",
        "/consumers/carol/key-auth",
        r#"{"key":"alice-key"}"#,
        &[],
    );
    assert_eq!(r.status, 409);
    assert!(!r.body_str().contains("alice-key"), "{}", r.body_str());
    let r = call(admin, "POST", "/consumers", r#"{"tags":["x"]}"#, &[]);
    assert_eq!(r.status, 400, "{}", r.body_str());
    // The flat lists decK dumps.
    let all_keys = json(&call(admin, "GET", "/key-auths", "", &[]));
    assert_eq!(all_keys["data"].as_array().unwrap().len(), 2);
    let groups = json(&call(admin, "GET", "/acls", "", &[]));
    assert_eq!(groups["data"].as_array().unwrap().len(), 2);
    // Deleting the key revokes it at once.
    let r = call(
        admin,
        "DELETE",
        &format!("/consumers/carol/key-auth/{cred_id}"),
        "",
        &[],
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        post_json(gw.addr(), "/", CHAT, &[("apikey", &generated)]).status,
        401
    );
    // Deleting a consumer takes its plugins with it (Kong's cascade).
    let r = call(
        admin,
        "POST",
        "/plugins",
        r#"{"name":"rate-limiting","consumer":{"id":"CONSUMER"},"config":{"year":1}}"#
            .replace("CONSUMER", &alice_id)
            .as_str(),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.body_str());
    let scoped = json(&call(admin, "GET", "/consumers/alice/plugins", "", &[]));
    assert_eq!(scoped["data"][0]["name"], "rate-limiting");
    assert_eq!(
        call(admin, "DELETE", "/consumers/alice", "", &[]).status,
        204
    );
    let plugins = json(&call(admin, "GET", "/plugins", "", &[]));
    assert!(
        !plugins["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "rate-limiting"),
        "{plugins}"
    );
    assert_eq!(
        post_json(gw.addr(), "/", CHAT, &[("apikey", "alice-key")]).status,
        401
    );
}

#[test]
fn a_non_loopback_admin_address_needs_a_token() {
    let file = TempFile::with_contents("cfg", "yaml", "_format_version: \"3.0\"\n");
    let (status, _, stderr) = run_cli(
        &[
            "serve",
            "--config",
            file.path_str(),
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "0.0.0.0:0",
        ],
        &[],
    );
    assert!(!status.success());
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("--admin-token"),
        "{stderr}"
    );
}

#[test]
fn with_a_token_every_admin_call_must_carry_it() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 3, 2));
    let gw = Gateway::start_with(
        &config(&up.url("/v1/chat/completions")),
        GatewayOpts {
            admin_listen: "0.0.0.0:0",
            env: vec![("LLMUX_ADMIN_TOKEN".into(), "adm-s3cret".into())],
            ..GatewayOpts::default()
        },
    );
    let admin = SocketAddr::from(([127, 0, 0, 1], gw.admin_addr().port()));
    for path in ["/consumers", "/status", "/metrics", "/"] {
        let r = call(admin, "GET", path, "", &[]);
        assert_eq!(r.status, 401, "{path}: {}", r.body_str());
        assert_eq!(
            r.body_str(),
            r#"{"message":"Invalid credentials. Token or User credentials required"}"#
        );
        let r = call(admin, "GET", path, "", &[("Kong-Admin-Token", "wrong")]);
        assert_eq!(r.status, 401, "{path}");
        let r = call(
            admin,
            "GET",
            path,
            "",
            &[("Kong-Admin-Token", "adm-s3cret")],
        );
        assert_eq!(r.status, 200, "{path}: {}", r.body_str());
    }
    let r = call(
        admin,
        "GET",
        "/metrics",
        "",
        &[("Authorization", "Bearer adm-s3cret")],
    );
    assert_eq!(r.status, 200);
    // A change without the token changes nothing.
    let r = call(
        admin,
        "POST",
        "/consumers",
        r#"{"username":"mallory"}"#,
        &[],
    );
    assert_eq!(r.status, 401);
    let r = call(
        admin,
        "GET",
        "/consumers/mallory",
        "",
        &[("Kong-Admin-Token", "adm-s3cret")],
    );
    assert_eq!(r.status, 404);
    assert!(!gw.stderr().contains("adm-s3cret"));
}
