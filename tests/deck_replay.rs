//! The Admin API calls decK makes, replayed against the running binary. Recorded from decK's
//! source (`Kong/deck` `cmd/gateway_ping.go`, `cmd/common.go`; `Kong/go-database-reconciler`
//! `pkg/dump/dump.go`, `pkg/utils/defaulter.go`, `pkg/schema/fetchers.go`, `pkg/diff/diff.go`,
//! `pkg/types/{service,route,plugin}.go`; `Kong/go-kong` `kong/*_service.go`, `kong/utils.go`):
//!
//! - `deck gateway ping` reads `GET /`;
//! - `dump` (and the current-state half of `diff` and `sync`) lists every entity table with
//!   `size=1000`, all tables at once, following `next`;
//! - `diff` and `sync` read `/schemas/{services,routes,upstreams,targets,consumer_group_plugins}`
//!   (a 404 means no defaults) and fill those defaults into the file's services and routes, read
//!   `/schemas/plugins/{name}` for each plugin and fill its defaults before comparing;
//! - `sync` then writes with go-kong: `PUT /{services,routes,plugins}/{id}` (create-or-replace,
//!   ids always set), services, routes, then plugins; then `DELETE` in the reverse order.
//!
//! `deck_replay/gokong.rs` ports decK's default filling and comparison, so "no difference" below
//! means what it means to decK.

mod support;

#[path = "deck_replay/gokong.rs"]
mod gokong;

use serde_json::{json, Value};
use support::*;

type Addr = std::net::SocketAddr;

fn admin_get(admin: Addr, path: &str) -> (u16, Value) {
    admin_call(admin, "GET", path, "", "")
}

/// One call as go-kong sends it (a JSON body with its content type, decK's user agent).
fn admin_call(
    admin: Addr,
    method: &str,
    path: &str,
    body: &str,
    content_type: &str,
) -> (u16, Value) {
    let mut reader = ResponseReader::connect(admin);
    let mut headers = vec![("User-Agent", "decK/v1.49.0"), ("Connection", "close")];
    if !content_type.is_empty() {
        headers.push(("Content-Type", content_type));
    }
    reader.send(&build_request(
        method,
        admin,
        path,
        body.as_bytes(),
        &headers,
    ));
    let r = reader.read_response();
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

fn put_json(admin: Addr, path: &str, body: &Value) -> (u16, Value) {
    admin_call(admin, "PUT", path, &body.to_string(), "application/json")
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

fn list_all(admin: Addr, first: &str) -> Vec<Value> {
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

/// decK's dump: every table at once (go-kong's calls run in parallel), each to its last page.
fn dump(admin: Addr) -> std::collections::HashMap<&'static str, Vec<Value>> {
    let threads: Vec<_> = DUMP_TABLES
        .iter()
        .map(|&t| std::thread::spawn(move || (t, list_all(admin, &format!("/{t}?size=1000")))))
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("a dump thread"))
        .collect()
}

#[test]
fn deck_gateway_dump() {
    let (gw, _up) = gateway();
    let admin = gw.admin_addr();
    let (status, _) = admin_get(admin, "/");
    assert_eq!(status, 200);
    for (table, items) in dump(admin) {
        let expected = match table {
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

/// The schema reads of `diff` and `sync`, and the parts of each answer decK parses.
#[test]
fn deck_reads_schemas_for_defaults() {
    let (gw, _up) = gateway();
    let admin = gw.admin_addr();
    for entity in ["services", "routes", "plugins"] {
        let (status, schema) = admin_get(admin, &format!("/schemas/{entity}"));
        assert_eq!(status, 200, "{entity}");
        assert!(schema["entity_checks"].is_array(), "{entity}");
        for f in schema["fields"].as_array().expect("fields") {
            let one = f.as_object().expect("a field");
            assert_eq!(one.len(), 1, "{entity}: one name per field: {f}");
            assert!(one.values().next().unwrap()["type"].is_string(), "{f}");
        }
    }
    // Kong's answer for a table it does not have, which decK reads as "no defaults".
    for entity in ["upstreams", "targets", "consumer_group_plugins"] {
        let (status, body) = admin_get(admin, &format!("/schemas/{entity}"));
        assert_eq!(status, 404, "{entity}");
        assert_eq!(body["message"], format!("No entity named '{entity}'"));
    }
    let (_, services) = admin_get(admin, "/schemas/services");
    let mut service = json!({});
    gokong::fill_entity(&mut service, &services);
    assert_eq!(
        service,
        json!({"retries": 5, "protocol": "http", "port": 80, "connect_timeout": 60000,
               "write_timeout": 60000, "read_timeout": 60000, "enabled": true})
    );
    for plugin in ["ai-proxy-advanced", "ai-proxy"] {
        let (status, schema) = admin_get(admin, &format!("/schemas/plugins/{plugin}"));
        assert_eq!(status, 200, "{plugin}");
        let mut p = json!({"name": plugin, "config": {}});
        gokong::fill_plugin(&mut p, &schema);
        assert_eq!(
            p["protocols"],
            json!(["grpc", "grpcs", "http", "https", "ws", "wss"])
        );
        assert_eq!(p["config"]["response_streaming"], "allow");
    }
    let (status, body) = admin_get(admin, "/schemas/plugins/rate-limiting-advanced");
    assert_eq!(status, 404);
    assert_eq!(body["message"], "No plugin named 'rate-limiting-advanced'");
    // decK releases before 1.x's schema endpoint read the config record from here.
    let (status, old) = admin_get(admin, "/plugins/schema/ai-proxy-advanced");
    assert_eq!(status, 200);
    assert!(old["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f.get("targets").is_some()));
}

#[path = "deck_replay/sync.rs"]
mod sync;
