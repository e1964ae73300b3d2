//! Plugin changes: creating (top level and under a service or route), patching and deleting,
//! and what Kong and the config loader refuse, with Kong's error objects.

use super::*;

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
    // Kong 3.14's default for plugins: every HTTP protocol, WebSockets included.
    assert_eq!(protocols, ["grpc", "grpcs", "http", "https", "ws", "wss"]);
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
fn patch_merges_config() {
    let (resp, st) = call(&store(EMPTY), "POST", "/plugins", &seed_body());
    let id = str_at(&json(&resp), &["id"]).to_string();
    let st = st.unwrap();
    let patch = r#"{"config":{"balancer":{"algorithm":"round-robin"}},"tags":["x"]}"#;
    let (resp, new) = st.handle(
        "PATCH",
        &format!("/plugins/{id}"),
        "application/json",
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
        "application/json",
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
    assert!(msg.contains("application/x-www-form-urlencoded"), "{msg}");
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
fn keys_with_brackets_are_a_violation_not_a_panic() {
    // A body's keys reach the loader's error paths (`plugins[0].x[0]]`), which become `fields`.
    let (resp, none) = call(
        &store(EMPTY),
        "POST",
        "/plugins",
        &small_body("round-robin", r#""x[0]]":1,"#),
    );
    assert_eq!((resp.status, none.is_none()), (400, true), "{}", resp.body);
    assert_eq!(str_at(&json(&resp), &["fields", "x[0]]"]), "unknown field");
    let body = small_body("round-robin", "")
        .replace(r#""balancer""#, r#""é[1]":{"z":2},"y[0]]":1,"balancer""#);
    let (resp, none) = call(&store(EMPTY), "POST", "/plugins", &body);
    assert_eq!((resp.status, none.is_none()), (400, true), "{}", resp.body);
    assert!(
        str_at(&json(&resp), &["message"]).starts_with("2 schema violations"),
        "{}",
        resp.body
    );
}
