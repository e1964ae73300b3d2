//! The Admin API calls decK makes, replayed against the running binary. Recorded from decK's
//! source (`Kong/deck` `cmd/gateway_ping.go`, `cmd/common.go`; `Kong/go-database-reconciler`
//! `pkg/dump/dump.go`): `deck gateway ping` reads `GET /`; `deck gateway dump` (and the
//! current-state half of `diff` and `sync`) lists every entity table with `size=1000`,
//! following `next`; `sync` then changes plugins one by one.

mod support;

use support::*;

fn admin_get(admin: std::net::SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let mut reader = ResponseReader::connect(admin);
    reader.send(&build_request(
        "GET",
        admin,
        path,
        b"",
        &[("User-Agent", "decK/v1.49.0"), ("Connection", "close")],
    ));
    let r = reader.read_response();
    let v = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status, v)
}

fn admin_call(
    admin: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    content_type: &str,
) -> (u16, serde_json::Value) {
    let mut reader = ResponseReader::connect(admin);
    reader.send(&build_request(
        method,
        admin,
        path,
        body.as_bytes(),
        &[("Content-Type", content_type), ("Connection", "close")],
    ));
    let r = reader.read_response();
    let v = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status, v)
}

fn gateway() -> (Gateway, RecordingUpstream) {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 1, 1));
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n- name: llm\n  url: http://localhost:1\n  routes:\n  - name: chat\n    paths: [/v1/chat]\n    tags: [team-a]\nplugins:\n- name: ai-proxy-advanced\n  route: chat\n  tags: [team-a]\n  config:\n    targets:\n    - route_type: llm/v1/chat\n      model: {{provider: openai, name: gpt-4o-mini, model_alias: fast, options: {{upstream_url: \"{}\"}}}}\n",
        up.url("/v1/chat/completions")
    );
    (Gateway::start(&yaml), up)
}

/// `deck gateway ping`: `GET /` must carry a version decK parses.
#[test]
fn deck_gateway_ping() {
    let (gw, _up) = gateway();
    let (status, root) = admin_get(gw.admin_addr(), "/");
    assert_eq!(status, 200);
    let version = root["version"].as_str().unwrap();
    let parts: Vec<&str> = version.split('.').collect();
    assert!(
        parts.len() >= 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "{version}"
    );
    assert_eq!(root["configuration"]["database"], "off");
    assert!(root["plugins"]["available_on_server"]["ai-proxy-advanced"].is_object());
}

/// Every table `dump.Get` lists, in its order, each walked with `next` as go-kong does.
const DUMP_TABLES: &[&str] = &[
    "services",
    "routes",
    "plugins",
    "filter_chains",
    "certificates",
    "ca_certificates",
    "snis",
    "upstreams",
    "vaults",
    "partials",
    "keys",
    "key-sets",
    "consumer_groups",
    "consumers",
    "key-auths",
    "hmac-auths",
    "jwts",
    "basic-auths",
    "oauth2",
    "acls",
    "mtls-auths",
];

fn list_all(admin: std::net::SocketAddr, first: &str) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    let mut path = first.to_string();
    loop {
        let (status, page) = admin_get(admin, &path);
        assert_eq!(status, 200, "{path}: {page}");
        all.extend(page["data"].as_array().expect("data").iter().cloned());
        match page["next"].as_str() {
            Some(next) => path = next.to_string(),
            None => {
                assert!(page["next"].is_null(), "{path}: {page}");
                return all;
            }
        }
    }
}

#[test]
fn deck_gateway_dump() {
    let (gw, _up) = gateway();
    let admin = gw.admin_addr();
    let (status, _) = admin_get(admin, "/");
    assert_eq!(status, 200);
    for table in DUMP_TABLES {
        let items = list_all(admin, &format!("/{table}?size=1000"));
        let expected = match *table {
            "services" | "routes" | "plugins" => 1,
            _ => 0,
        };
        assert_eq!(items.len(), expected, "{table}");
        for e in &items {
            for key in ["id", "created_at", "updated_at"] {
                assert!(!e[key].is_null(), "{table}: {key} in {e}");
            }
        }
    }
    // decK's --select-tag: `tags=` with MatchAllTags.
    assert_eq!(list_all(admin, "/plugins?size=1000&tags=team-a").len(), 1);
    assert_eq!(list_all(admin, "/plugins?size=1000&tags=team-b").len(), 0);
    // go-kong follows `next` page by page.
    assert_eq!(list_all(admin, "/services?size=1").len(), 1);
}

#[test]
fn deck_paging_is_validated_as_kong_validates_it() {
    let (gw, _up) = gateway();
    let admin = gw.admin_addr();
    let (status, body) = admin_get(admin, "/plugins?size=0");
    assert_eq!(status, 400);
    assert_eq!(body["name"], "invalid size");
    assert_eq!(
        body["message"],
        "size must be an integer between 1 and 1000"
    );
    let (status, body) = admin_get(admin, "/consumers?offset=!!");
    assert_eq!(status, 400);
    assert_eq!(body["name"], "invalid offset");
}

#[test]
fn deck_gateway_sync_changes_plugins_and_reads_them_back() {
    let (gw, up) = gateway();
    let admin = gw.admin_addr();
    let plugins = list_all(admin, "/plugins?size=1000");
    let id = plugins[0]["id"].as_str().unwrap().to_string();
    // decK's update: PATCH with the whole entity.
    let (status, body) = admin_call(
        admin,
        "PATCH",
        &format!("/plugins/{id}"),
        r#"{"enabled": true, "tags": ["team-a", "synced"]}"#,
        "application/json",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(list_all(admin, "/plugins?size=1000&tags=synced").len(), 1);
    // The change serves traffic.
    let r = post_json(
        gw.addr(),
        "/v1/chat",
        r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#,
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(up.request_count(), 1);
    // Other tables refuse changes with 405, never silently.
    let (status, _) = admin_call(
        admin,
        "POST",
        "/consumers",
        r#"{"username":"a"}"#,
        "application/json",
    );
    assert_eq!(status, 405);
    // GET /plugins/enabled lists what llmux serves.
    let (status, enabled) = admin_get(admin, "/plugins/enabled");
    assert_eq!(status, 200);
    assert!(enabled["enabled_plugins"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("ai-proxy-advanced")));
}
