//! The Admin API entity store: the seed's `POST /plugins/`, scoped plugins, GET/PATCH/DELETE,
//! validation through the config loader, stable ids, and the state file.

use super::ids::{is_uuid, unique_id};
use super::*;
use crate::config::{load_str, Algorithm, Loaded, RouteMatch, TokensCountStrategy};
use simd_json::prelude::*;
use simd_json::OwnedValue;

const NOW: u64 = 1_700_000_000;
const SECRET: &str = "sk-test-secret-123";

fn no_env(_: &str) -> Option<String> {
    None
}

fn deck_env(name: &str) -> Option<String> {
    (name == "DECK_OPENAI_API_KEY").then(|| SECRET.to_string())
}

/// The seed's `curl -X POST http://localhost:8001/plugins/` body, with a literal key.
fn seed_body() -> String {
    let target = |model: &str| {
        format!(
            r#"{{"model":{{"name":"{model}","provider":"openai","options":{{"max_tokens":512,"temperature":1.0}}}},
               "route_type":"llm/v1/chat",
               "auth":{{"header_name":"Authorization","header_value":"Bearer {SECRET}"}}}}"#
        )
    };
    format!(
        r#"{{"name":"ai-proxy-advanced",
            "config":{{"balancer":{{"algorithm":"lowest-usage","tokens_count_strategy":"prompt-tokens"}},
                       "targets":[{},{}]}},
            "tags":[]}}"#,
        target("gpt-4"),
        target("gpt-4o-mini")
    )
}

/// A plugin body with one target and `extra` top-level JSON members.
fn small_body(algorithm: &str, extra: &str) -> String {
    format!(
        r#"{{"name":"ai-proxy-advanced",{extra}"config":{{"balancer":{{"algorithm":"{algorithm}"}},
            "targets":[{{"route_type":"llm/v1/chat","model":{{"provider":"openai","name":"gpt-4o"}}}}]}}}}"#
    )
}

const EMPTY: &str = "_format_version: \"3.0\"\n";

const ROUTE_ID: &str = "9d2c4a55-0f6b-4c1e-8d3a-5b7e2f1a9c00";

/// A service with a named route and a route known by id only.
fn services_doc() -> String {
    format!(
        "_format_version: \"3.0\"\nservices:\n- name: svc\n  url: https://example.com:8443/base\n  \
         routes:\n  - name: chat\n    paths: [/chat]\n  - id: {ROUTE_ID}\n    paths: [/other]\n"
    )
}

/// A service-nested AI plugin (no ids anywhere).
const NESTED: &str = r#"_format_version: "3.0"
services:
- name: svc
  url: https://example.com
  routes:
  - name: chat
    paths: [/chat]
  plugins:
  - name: ai-proxy-advanced
    config:
      balancer: {algorithm: round-robin}
      targets:
      - route_type: llm/v1/chat
        model: {provider: openai, name: gpt-4o}
        auth: {header_name: Authorization, header_value: 'Bearer ${{ env "DECK_OPENAI_API_KEY" }}'}
"#;

fn store(text: &str) -> EntityStore {
    EntityStore::from_text(text).unwrap()
}

fn call(
    s: &EntityStore,
    method: &str,
    path: &str,
    body: &str,
) -> (ApiResponse, Option<EntityStore>) {
    s.handle(method, path, body.as_bytes(), &deck_env, NOW)
}

fn json(resp: &ApiResponse) -> OwnedValue {
    let mut bytes = resp.body.clone().into_bytes();
    simd_json::to_owned_value(&mut bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", resp.body))
}

fn s<'a>(v: &'a OwnedValue, path: &[&str]) -> &'a OwnedValue {
    path.iter().fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => v.get_idx(i).unwrap_or_else(|| panic!("no [{i}] in {v}")),
        Err(_) => v.get(*k).unwrap_or_else(|| panic!("no {k} in {v}")),
    })
}

fn str_at<'a>(v: &'a OwnedValue, path: &[&str]) -> &'a str {
    s(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string in {v}"))
}

fn load(store: &EntityStore) -> Loaded {
    load_str(&store.to_yaml(), "test", &deck_env).unwrap_or_else(|e| panic!("{e}"))
}

/// The id of the plugin that serves `path`.
fn plugin_for(l: &Loaded, path: &str) -> String {
    match l.config.match_route("POST", path) {
        RouteMatch::Plugin { plugin, .. } => plugin.id.clone(),
        other => panic!("no plugin for {path}: {other:?}"),
    }
}

#[test]
fn seed_post_on_an_empty_document() {
    let empty = store(EMPTY);
    let (resp, new) = call(&empty, "POST", "/plugins/", &seed_body());
    assert_eq!(resp.status, 201, "{}", resp.body);
    let new = new.expect("a new store");
    let v = json(&resp);
    let id = str_at(&v, &["id"]);
    assert!(is_uuid(id), "{id}");
    assert_eq!(str_at(&v, &["name"]), "ai-proxy-advanced");
    assert_eq!(s(&v, &["created_at"]).as_u64(), Some(NOW));
    assert_eq!(s(&v, &["updated_at"]).as_u64(), Some(NOW));
    assert_eq!(s(&v, &["enabled"]).as_bool(), Some(true));
    let protocols: Vec<_> = s(&v, &["protocols"])
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(protocols, ["grpc", "grpcs", "http", "https"]);
    assert!(s(&v, &["service"]).is_null() && s(&v, &["route"]).is_null());
    assert_eq!(s(&v, &["tags"]).as_array().map(|a| a.len()), Some(0));
    assert_eq!(
        str_at(&v, &["config", "balancer", "algorithm"]),
        "lowest-usage"
    );
    assert_eq!(
        s(
            &v,
            &["config", "targets", "0", "model", "options", "temperature"]
        )
        .as_f64(),
        Some(1.0)
    );
    // As stored, the admin API on localhost returns credentials like Kong does.
    assert_eq!(
        str_at(&v, &["config", "targets", "1", "auth", "header_value"]),
        format!("Bearer {SECRET}")
    );

    // The old store is untouched; the new one is a valid gateway config.
    assert!(!empty.to_yaml().contains("ai-proxy-advanced"));
    let l = load(&new);
    let p = l
        .config
        .catch_all
        .as_ref()
        .expect("the global plugin serves every path");
    assert_eq!(p.id, id);
    assert_eq!(p.targets.len(), 2);
    assert_eq!(p.balancer.algorithm, Algorithm::LowestUsage);
    assert_eq!(
        p.balancer.tokens_count_strategy,
        TokensCountStrategy::PromptTokens
    );
    assert_eq!(p.targets[1].model_name.as_deref(), Some("gpt-4o-mini"));
    // `temperature: 1.0` stays a float through the YAML.
    assert!(
        new.to_yaml().contains("temperature: 1.0"),
        "{}",
        new.to_yaml()
    );
}

#[test]
fn post_under_a_service_by_name_and_a_route_by_id() {
    let base = store(&services_doc());
    let (resp, st) = call(
        &base,
        "POST",
        "/services/svc/plugins",
        &small_body("round-robin", ""),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let svc_plugin = json(&resp);
    let st = st.unwrap();
    let (svc, _) = call(&st, "GET", "/services/svc", "");
    let svc_id = str_at(&json(&svc), &["id"]).to_string();
    assert_eq!(str_at(&svc_plugin, &["service", "id"]), svc_id);
    assert!(s(&svc_plugin, &["route"]).is_null());

    let path = format!("/routes/{ROUTE_ID}/plugins/");
    let (resp, st) = call(
        &st,
        "POST",
        &path,
        &small_body("lowest-usage", r#""tags":["r"],"#),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let route_plugin = json(&resp);
    assert_eq!(str_at(&route_plugin, &["route", "id"]), ROUTE_ID);
    assert!(s(&route_plugin, &["service"]).is_null());
    let st = st.unwrap();

    // Top-level plugins with references by name (or id when the entity has no name).
    let yaml = st.to_yaml();
    let doc: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let plugins = doc.get("plugins").and_then(Value::as_sequence).unwrap();
    assert_eq!(
        plugins[0].get("service").and_then(Value::as_str),
        Some("svc")
    );
    assert_eq!(
        plugins[1].get("route").and_then(Value::as_str),
        Some(ROUTE_ID)
    );

    // Route plugin beats service plugin on its route; the service's applies elsewhere.
    let l = load(&st);
    assert_eq!(plugin_for(&l, "/other"), str_at(&route_plugin, &["id"]));
    assert_eq!(plugin_for(&l, "/chat"), str_at(&svc_plugin, &["id"]));
}

#[test]
fn get_lists_and_entities() {
    let base = store(&services_doc());
    let (_, st) = call(
        &base,
        "POST",
        "/services/svc/plugins",
        &small_body("round-robin", ""),
    );
    let st = st.unwrap();
    let (_, st) = call(
        &st,
        "POST",
        "/routes/chat/plugins",
        &small_body("round-robin", ""),
    );
    let st = st.unwrap();

    let (resp, none) = call(&st, "GET", "/plugins", "");
    assert!(none.is_none());
    let v = json(&resp);
    assert_eq!(resp.status, 200);
    assert!(s(&v, &["next"]).is_null());
    let data = s(&v, &["data"]).as_array().unwrap();
    assert_eq!(data.len(), 2);
    let first = str_at(&data[0], &["id"]).to_string();

    let (one, _) = call(&st, "GET", &format!("/plugins/{first}"), "");
    assert_eq!(one.status, 200);
    assert_eq!(str_at(&json(&one), &["id"]), first);

    // Nested lists hold only that entity's plugins.
    let (svc_list, _) = call(&st, "GET", "/services/svc/plugins", "");
    let svc_list = json(&svc_list);
    assert_eq!(s(&svc_list, &["data"]).as_array().unwrap().len(), 1);
    assert_eq!(str_at(&svc_list, &["data", "0", "id"]), first);
    let (route_list, _) = call(&st, "GET", "/routes/chat/plugins", "");
    assert_eq!(
        s(&json(&route_list), &["data"]).as_array().unwrap().len(),
        1
    );
    let (other_list, _) = call(&st, "GET", &format!("/routes/{ROUTE_ID}/plugins"), "");
    assert_eq!(
        s(&json(&other_list), &["data"]).as_array().unwrap().len(),
        0
    );
    assert_eq!(other_list.body, r#"{"data":[],"next":null}"#);
    // A plugin is found under its own entity only.
    let (under, _) = call(&st, "GET", &format!("/services/svc/plugins/{first}"), "");
    assert_eq!(under.status, 200);
    let (wrong, _) = call(&st, "GET", &format!("/routes/chat/plugins/{first}"), "");
    assert_eq!(wrong.status, 404);

    // Services and routes with Kong's shapes and defaults.
    let (svcs, _) = call(&st, "GET", "/services", "");
    let svcs = json(&svcs);
    let svc = s(&svcs, &["data", "0"]);
    assert_eq!(str_at(svc, &["name"]), "svc");
    assert!(is_uuid(str_at(svc, &["id"])));
    assert_eq!(
        (
            str_at(svc, &["protocol"]),
            str_at(svc, &["host"]),
            s(svc, &["port"]).as_u64(),
            str_at(svc, &["path"])
        ),
        ("https", "example.com", Some(8443), "/base")
    );
    assert_eq!(s(svc, &["retries"]).as_u64(), Some(5));
    assert!(svc.get("routes").is_none() && svc.get("url").is_none());
    let (routes, _) = call(&st, "GET", "/routes", "");
    let routes = json(&routes);
    assert_eq!(s(&routes, &["data"]).as_array().unwrap().len(), 2);
    assert_eq!(str_at(&routes, &["data", "1", "id"]), ROUTE_ID);
    assert_eq!(
        str_at(&routes, &["data", "1", "service", "id"]),
        str_at(svc, &["id"])
    );
    assert_eq!(
        s(&routes, &["data", "0", "strip_path"]).as_bool(),
        Some(true)
    );
    let (route, _) = call(&st, "GET", "/routes/chat", "");
    assert_eq!(str_at(&json(&route), &["name"]), "chat");
    let (by_id, _) = call(&st, "GET", &format!("/routes/{ROUTE_ID}/"), "");
    assert_eq!(by_id.status, 200);
    let (route_svc, _) = call(&st, "GET", "/routes/chat/service", "");
    assert_eq!(str_at(&json(&route_svc), &["name"]), "svc");
    let (svc_routes, _) = call(&st, "GET", "/services/svc/routes", "");
    assert_eq!(
        s(&json(&svc_routes), &["data"]).as_array().unwrap().len(),
        2
    );
}

#[test]
fn patch_merges_config() {
    let (resp, st) = call(&store(EMPTY), "POST", "/plugins", &seed_body());
    let id = str_at(&json(&resp), &["id"]).to_string();
    let st = st.unwrap();
    let patch = r#"{"config":{"balancer":{"algorithm":"round-robin"}},"tags":["x"]}"#;
    let (resp, new) = st.handle(
        "PATCH",
        &format!("/plugins/{id}"),
        patch.as_bytes(),
        &deck_env,
        NOW + 5,
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    let v = json(&resp);
    assert_eq!(
        str_at(&v, &["config", "balancer", "algorithm"]),
        "round-robin"
    );
    // Sibling keys of a merged object stay; arrays are replaced as a whole.
    assert_eq!(
        str_at(&v, &["config", "balancer", "tokens_count_strategy"]),
        "prompt-tokens"
    );
    assert_eq!(s(&v, &["config", "targets"]).as_array().unwrap().len(), 2);
    assert_eq!(str_at(&v, &["tags", "0"]), "x");
    assert_eq!(s(&v, &["created_at"]).as_u64(), Some(NOW));
    assert_eq!(s(&v, &["updated_at"]).as_u64(), Some(NOW + 5));
    let new = new.unwrap();
    let l = load(&new);
    let p = l.config.catch_all.as_ref().unwrap();
    assert_eq!(p.balancer.algorithm, Algorithm::RoundRobin);
    assert_eq!(
        p.balancer.tokens_count_strategy,
        TokensCountStrategy::PromptTokens
    );
    assert_eq!(p.targets.len(), 2);

    // Arrays replace: one target left. `null` removes a key (back to Kong's default).
    let patch = r#"{"config":{"targets":[{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"gpt-4o"}}],
                    "balancer":{"tokens_count_strategy":null}}}"#;
    let (resp, new) = call(&new, "PATCH", &format!("/plugins/{id}/"), patch);
    assert_eq!(resp.status, 200, "{}", resp.body);
    let p = load(&new.unwrap()).config.catch_all.unwrap();
    assert_eq!(p.targets.len(), 1);
    assert_eq!(
        p.balancer.tokens_count_strategy,
        TokensCountStrategy::TotalTokens
    );

    let (resp, none) = call(
        &st,
        "PATCH",
        "/plugins/6d4f1c2e-0000-4000-8000-000000000000",
        patch,
    );
    assert_eq!((resp.status, none.is_none()), (404, true));
    let (resp, none) = call(&st, "PATCH", &format!("/plugins/{id}"), r#"{"id":"other"}"#);
    assert_eq!((resp.status, none.is_none()), (400, true), "{}", resp.body);
}

#[test]
fn delete_then_get_is_404() {
    let (resp, st) = call(&store(EMPTY), "POST", "/plugins", &seed_body());
    let id = str_at(&json(&resp), &["id"]).to_string();
    let st = st.unwrap();
    let (resp, new) = call(&st, "DELETE", &format!("/plugins/{id}"), "");
    assert_eq!((resp.status, resp.body.as_str()), (204, ""));
    let new = new.expect("deleting changes state");
    let (resp, _) = call(&new, "GET", &format!("/plugins/{id}"), "");
    assert_eq!(
        (resp.status, resp.body.as_str()),
        (404, r#"{"message":"Not found"}"#)
    );
    // Kong: deleting what is not there is still 204, and changes nothing.
    let (resp, none) = call(&new, "DELETE", &format!("/plugins/{id}"), "");
    assert_eq!((resp.status, none.is_none()), (204, true));
    // ...except under an entity, which must hold it.
    let (resp, _) = call(&new, "DELETE", &format!("/services/nope/plugins/{id}"), "");
    assert_eq!(resp.status, 404);
    load(&new);
}

#[test]
fn invalid_config_is_a_schema_violation_without_a_new_store() {
    let base = store(&services_doc());
    let body = format!(
        r#"{{"name":"ai-proxy-advanced","config":{{"foo":1,"targets":[{{"route_type":"llm/v1/chat",
            "model":{{"provider":"openai","nmae":"x"}},"auth":{{"header_name":"Authorization","header_value":"Bearer {SECRET}"}}}}]}}}}"#
    );
    let (resp, new) = call(&base, "POST", "/plugins/", &body);
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert!(new.is_none());
    let v = json(&resp);
    assert_eq!(str_at(&v, &["name"]), "schema violation");
    assert_eq!(s(&v, &["code"]).as_u64(), Some(2));
    let msg = str_at(&v, &["message"]);
    assert!(msg.starts_with("2 schema violations ("), "{msg}");
    assert!(
        msg.contains("plugins[0].config.foo: unknown field"),
        "{msg}"
    );
    assert!(
        msg.contains("plugins[0].config.targets[0].model.nmae: unknown field"),
        "{msg}"
    );
    assert_eq!(str_at(&v, &["fields", "config", "foo"]), "unknown field");
    assert_eq!(
        str_at(&v, &["fields", "config", "targets", "0", "model", "nmae"]),
        "unknown field"
    );
    assert!(!resp.body.contains(SECRET), "{}", resp.body);

    // One error: Kong's singular form; top-level plugin keys too.
    let (resp, _) = call(
        &base,
        "POST",
        "/plugins",
        &small_body("round-robin", r#""bogus":true,"#),
    );
    let v = json(&resp);
    assert_eq!(
        str_at(&v, &["message"]),
        "schema violation (plugins[0].bogus: unknown field)"
    );
    assert_eq!(str_at(&v, &["fields", "bogus"]), "unknown field");

    // A missing env variable makes the document fail to load: no change.
    let (resp, new) = store(NESTED).handle(
        "POST",
        "/routes/chat/plugins",
        small_body("round-robin", "").as_bytes(),
        &no_env,
        NOW,
    );
    assert_eq!((resp.status, new.is_none()), (400, true), "{}", resp.body);
    assert!(
        str_at(&json(&resp), &["message"]).contains("DECK_OPENAI_API_KEY"),
        "{}",
        resp.body
    );
    assert!(s(&json(&resp), &["fields", "@entity"]).as_array().is_some());

    // Missing name.
    let (resp, _) = call(&base, "POST", "/plugins", r#"{"config":{}}"#);
    assert_eq!(resp.status, 400);
    assert_eq!(
        str_at(&json(&resp), &["message"]),
        "schema violation (name: required field missing)"
    );
}

#[test]
fn bad_bodies() {
    let base = store(EMPTY);
    let secret_body =
        format!(r#"{{"name":"ai-proxy-advanced","config":{{"auth":"{SECRET}" oops}}}}"#);
    let (resp, new) = call(&base, "POST", "/plugins", &secret_body);
    assert_eq!((resp.status, new.is_none()), (400, true));
    let msg = str_at(&json(&resp), &["message"]).to_string();
    assert!(msg.starts_with("Cannot parse JSON body"), "{msg}");
    assert!(msg.contains("JSON bodies only"), "{msg}");
    assert!(!msg.contains(SECRET) && !msg.contains("oops"), "{msg}");
    let (resp, _) = call(
        &base,
        "POST",
        "/plugins",
        "name=ai-proxy-advanced&config.x=1",
    );
    assert_eq!(resp.status, 400);
    assert!(resp.body.contains("Cannot parse JSON body"));
    let (resp, _) = call(&base, "POST", "/plugins", "[1,2]");
    assert_eq!(resp.status, 400);
    assert!(resp.body.contains("JSON object"), "{}", resp.body);
}

#[test]
fn ids_are_stable_and_written_into_the_document() {
    let a = store(&services_doc());
    let b = store(&services_doc());
    assert_eq!(a.to_yaml(), b.to_yaml());
    let (svc, _) = call(&a, "GET", "/services/svc", "");
    let svc_id = str_at(&json(&svc), &["id"]).to_string();
    // Name-based (version 5): the same file gives the same ids.
    assert!(
        is_uuid(&svc_id) && svc_id.as_bytes()[14] == b'5',
        "{svc_id}"
    );
    let (chat, _) = call(&a, "GET", "/routes/chat", "");
    let chat_id = str_at(&json(&chat), &["id"]).to_string();
    assert_ne!(svc_id, chat_id);
    // Written into the document, first key of the entity; an id from the file is kept.
    let yaml = a.to_yaml();
    assert!(
        yaml.contains(&format!("- id: {svc_id}\n  name: svc")),
        "{yaml}"
    );
    assert!(yaml.contains(&format!("id: {chat_id}")));
    assert_eq!(yaml.matches(ROUTE_ID).count(), 1);
    // Reading the written document back changes nothing (the ids are now in it).
    assert_eq!(store(&yaml).to_yaml(), yaml);
    // By id as well as by name.
    let (by_id, _) = call(&a, "GET", &format!("/services/{svc_id}"), "");
    assert_eq!(by_id.status, 200);
    // The document still loads, with the generated ids.
    let l = load(&a);
    assert!(l
        .config
        .routes
        .iter()
        .any(|r| r.id.as_deref() == Some(chat_id.as_str())));
    // JSON decK input is read too.
    let json_doc = r#"{"_format_version":"3.0","services":[{"name":"svc","url":"https://example.com","routes":[{"name":"chat","paths":["/chat"]}]}]}"#;
    let (svc2, _) = call(&store(json_doc), "GET", "/services/svc", "");
    assert_eq!(
        str_at(&json(&svc2), &["id"]),
        svc_id,
        "same path and name, same id"
    );
}

#[test]
fn nested_plugins_are_patched_and_deleted_in_place() {
    let st = store(NESTED);
    let (list, _) = call(&st, "GET", "/plugins", "");
    let list = json(&list);
    let plugin = s(&list, &["data", "0"]);
    let id = str_at(plugin, &["id"]).to_string();
    let (svc, _) = call(&st, "GET", "/services/svc", "");
    assert_eq!(
        str_at(plugin, &["service", "id"]),
        str_at(&json(&svc), &["id"])
    );
    // As stored: the env template, not its value.
    assert_eq!(
        str_at(plugin, &["config", "targets", "0", "auth", "header_value"]),
        r#"Bearer ${{ env "DECK_OPENAI_API_KEY" }}"#
    );

    let patch = r#"{"config":{"balancer":{"algorithm":"least-connections"}}}"#;
    let (resp, new) = call(&st, "PATCH", &format!("/services/svc/plugins/{id}"), patch);
    assert_eq!(resp.status, 200, "{}", resp.body);
    let new = new.unwrap();
    let doc: Value = serde_yaml_ng::from_str(&new.to_yaml()).unwrap();
    assert!(doc.get("plugins").is_none(), "no top-level copy");
    let nested = &doc["services"][0]["plugins"][0];
    assert_eq!(nested["id"].as_str(), Some(id.as_str()));
    assert_eq!(
        nested["config"]["balancer"]["algorithm"].as_str(),
        Some("least-connections")
    );
    assert_eq!(
        nested["config"]["targets"][0]["auth"]["header_value"].as_str(),
        Some(r#"Bearer ${{ env "DECK_OPENAI_API_KEY" }}"#)
    );
    let l = load(&new);
    assert_eq!(plugin_for(&l, "/chat"), id);
    assert_eq!(
        l.config.routes[0]
            .plugin
            .as_ref()
            .unwrap()
            .balancer
            .algorithm,
        Algorithm::LeastConnections
    );

    // A nested plugin cannot move to another scope through the API.
    let (resp, none) = call(
        &st,
        "PATCH",
        &format!("/plugins/{id}"),
        r#"{"service":null}"#,
    );
    assert_eq!((resp.status, none.is_none()), (400, true), "{}", resp.body);
    assert!(resp.body.contains("services[0]"), "{}", resp.body);

    let (resp, new) = call(&new, "DELETE", &format!("/services/svc/plugins/{id}/"), "");
    assert_eq!(resp.status, 204);
    let doc: Value = serde_yaml_ng::from_str(&new.unwrap().to_yaml()).unwrap();
    assert_eq!(
        doc["services"][0]["plugins"].as_sequence().map(Vec::len),
        Some(0)
    );
    assert_eq!(
        doc["services"][0]["routes"][0]["name"].as_str(),
        Some("chat")
    );
}

#[test]
fn trailing_slashes_and_query_strings() {
    let (resp, st) = call(&store(EMPTY), "POST", "/plugins/?x=1", &seed_body());
    assert_eq!(resp.status, 201);
    let st = st.unwrap();
    let id = str_at(&json(&resp), &["id"]).to_string();
    for path in ["/plugins/", "/plugins?size=100", "//plugins//"] {
        let (resp, _) = call(&st, "GET", path, "");
        assert_eq!(resp.status, 200, "{path}");
    }
    let (resp, _) = call(&st, "GET", &format!("/plugins/{id}/?pretty"), "");
    assert_eq!(resp.status, 200);
}

#[test]
fn unknown_scopes_as_kong_answers() {
    let base = store(&services_doc());
    let body = small_body("round-robin", "");
    // In the URL: 404.
    for path in ["/services/nope/plugins", "/routes/nope/plugins/"] {
        let (resp, none) = call(&base, "POST", path, &body);
        assert_eq!(
            (resp.status, resp.body.as_str()),
            (404, r#"{"message":"Not found"}"#)
        );
        assert!(none.is_none());
    }
    for path in [
        "/services/nope",
        "/routes/nope",
        "/plugins/nope",
        "/services/nope/plugins",
        "/nothing",
    ] {
        assert_eq!(call(&base, "GET", path, "").0.status, 404, "{path}");
    }
    // In the body: Kong's foreign key errors (400).
    let missing = "6d4f1c2e-0000-4000-8000-000000000000";
    let (resp, none) = call(
        &base,
        "POST",
        "/plugins",
        &small_body(
            "round-robin",
            &format!(r#""service":{{"id":"{missing}"}},"#),
        ),
    );
    assert_eq!((resp.status, none.is_none()), (400, true));
    let v = json(&resp);
    assert_eq!(s(&v, &["code"]).as_u64(), Some(4));
    assert_eq!(str_at(&v, &["name"]), "foreign key violation");
    assert_eq!(
        str_at(&v, &["message"]),
        format!("the foreign key '{{id=\"{missing}\"}}' does not reference an existing 'services' entity.")
    );
    assert_eq!(str_at(&v, &["fields", "service", "id"]), missing);
    let (resp, _) = call(
        &base,
        "POST",
        "/plugins",
        &small_body("round-robin", r#""route":{"name":"nope"},"#),
    );
    let v = json(&resp);
    assert_eq!((resp.status, s(&v, &["code"]).as_u64()), (400, Some(13)));
    assert!(
        str_at(&v, &["message"]).starts_with("foreign key unresolved (route.name:"),
        "{}",
        resp.body
    );

    // Found by name in the body: stored as a top-level plugin naming the route.
    let (resp, st) = call(
        &base,
        "POST",
        "/plugins",
        &small_body("round-robin", r#""route":{"name":"chat"},"service":null,"#),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let (chat, _) = call(&base, "GET", "/routes/chat", "");
    assert_eq!(
        str_at(&json(&resp), &["route", "id"]),
        str_at(&json(&chat), &["id"])
    );
    assert!(st.unwrap().to_yaml().contains("route: chat"));
}

#[test]
fn kong_uniqueness_and_loader_scope_rules() {
    let (resp, st) = call(&store(EMPTY), "POST", "/plugins", &seed_body());
    assert_eq!(resp.status, 201);
    let st = st.unwrap();
    // Same name, same scope: Kong's 409.
    let (resp, none) = call(&st, "POST", "/plugins", &small_body("round-robin", ""));
    assert_eq!((resp.status, none.is_none()), (409, true), "{}", resp.body);
    let v = json(&resp);
    assert_eq!(
        (s(&v, &["code"]).as_u64(), str_at(&v, &["name"])),
        (Some(5), "unique constraint violation")
    );
    // `ai-proxy` next to `ai-proxy-advanced` on one scope: the loader's error, surfaced.
    let ai_proxy = r#"{"name":"ai-proxy","config":{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"gpt-4o"}}}"#;
    let (resp, none) = call(&st, "POST", "/plugins", ai_proxy);
    assert_eq!((resp.status, none.is_none()), (400, true), "{}", resp.body);
    assert!(
        resp.body.contains("plugins[1]") && resp.body.contains("already applies"),
        "{}",
        resp.body
    );
    // An id given by the client is kept, and must be new.
    let id = "0b5c3f0e-1111-4222-8333-444455556666";
    let (resp, st2) = call(
        &store(EMPTY),
        "POST",
        "/plugins",
        &small_body("round-robin", &format!(r#""id":"{id}","#)),
    );
    assert_eq!(str_at(&json(&resp), &["id"]), id);
    let (resp, _) = call(
        &st2.unwrap(),
        "POST",
        "/plugins",
        &small_body("round-robin", &format!(r#""id":"{id}","#)),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(s(&json(&resp), &["code"]).as_u64(), Some(3));
    let (resp, _) = call(
        &store(EMPTY),
        "POST",
        "/plugins",
        &small_body("round-robin", r#""id":"not-a-uuid","#),
    );
    assert_eq!(resp.status, 400);
}

#[test]
fn instance_name_is_an_endpoint_key() {
    let (resp, st) = call(
        &store(EMPTY),
        "POST",
        "/plugins",
        &small_body("round-robin", r#""instance_name":"main","#),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let st = st.unwrap();
    let (resp, _) = call(&st, "GET", "/plugins/main", "");
    assert_eq!(str_at(&json(&resp), &["instance_name"]), "main");
}

#[test]
fn methods_not_served() {
    let base = store(&services_doc());
    let (resp, none) = call(&base, "POST", "/services", "{}");
    assert_eq!((resp.status, none.is_none()), (405, true));
    assert_eq!(call(&base, "DELETE", "/routes/chat", "").0.status, 405);
    assert_eq!(call(&base, "PUT", "/plugins/x", "{}").0.status, 405);
    assert!(
        handles_path("/plugins/")
            && handles_path("/services/a/plugins?x")
            && handles_path("/routes")
    );
    assert!(!handles_path("/status") && !handles_path("/config") && !handles_path("/"));
}

#[test]
fn from_text_errors() {
    assert!(EntityStore::from_text("a: [").is_err());
    assert!(EntityStore::from_text("- 1").is_err());
}

#[test]
fn state_file_is_replaced_atomically() {
    let dir = std::env::temp_dir().join(format!("llmux-state-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.yaml");
    write_state_atomically(&path, "a: 1\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 1\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    write_state_atomically(&path, "a: 2\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 2\n");
    // Only the state file: no temporary left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("state.yaml")]);
    assert!(write_state_atomically(&dir.join("missing").join("s.yaml"), "x").is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generated_ids_are_uuid_v5() {
    let id = unique_id("x", |_| false);
    assert!(is_uuid(&id), "{id}");
    assert_eq!(&id[14..15], "5");
    assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
    assert_ne!(unique_id("x", |c| c == id), id);
}

#[test]
fn patch_moves_a_top_level_plugin_between_scopes() {
    let (resp, st) = call(
        &store(&services_doc()),
        "POST",
        "/plugins",
        &small_body("round-robin", ""),
    );
    let id = str_at(&json(&resp), &["id"]).to_string();
    let st = st.unwrap();
    let (resp, st) = call(
        &st,
        "PATCH",
        &format!("/plugins/{id}"),
        r#"{"service":{"name":"svc"}}"#,
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    let st = st.unwrap();
    assert!(st.to_yaml().contains("service: svc"));
    let (list, _) = call(&st, "GET", "/services/svc/plugins", "");
    assert_eq!(str_at(&json(&list), &["data", "0", "id"]), id);
    let (resp, st) = call(
        &st,
        "PATCH",
        &format!("/services/svc/plugins/{id}"),
        r#"{"service":null}"#,
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    let st = st.unwrap();
    assert!(s(&json(&resp), &["service"]).is_null());
    assert!(!st.to_yaml().contains("service: svc"));
    let (resp, none) = call(
        &st,
        "PATCH",
        &format!("/plugins/{id}"),
        r#"{"route":{"id":"6d4f1c2e-0000-4000-8000-000000000000"}}"#,
    );
    assert_eq!((resp.status, none.is_none()), (400, true));
    assert_eq!(call(&st, "DELETE", "/plugins", "").0.status, 405);
}

#[test]
fn api_created_plugin_ids_are_random_v4() {
    let body = small_body("round-robin", "");
    let (a, _) = call(&store(EMPTY), "POST", "/plugins", &body);
    let (b, _) = call(&store(EMPTY), "POST", "/plugins", &body);
    let (a, b) = (json(&a), json(&b));
    let (a, b) = (str_at(&a, &["id"]), str_at(&b, &["id"]));
    assert!(is_uuid(a) && &a[14..15] == "4", "{a}");
    assert_ne!(a, b, "the same call twice, two ids");
}
