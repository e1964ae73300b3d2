//! Reading the store: services and routes with Kong's shapes, plugins listed by scope, the URL
//! space (scopes in the path, methods, slashes), generated ids, and the state file.

use super::*;

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
fn methods_not_served() {
    let base = store(&services_doc());
    for (method, path) in [
        ("PUT", "/services/svc/routes"),
        ("DELETE", "/services"),
        ("PATCH", "/plugins"),
        ("POST", "/upstreams"),
        ("PUT", "/routes/chat/service"),
    ] {
        let (resp, none) = call(&base, method, path, "{}");
        assert_eq!(
            (resp.status, none.is_none()),
            (405, true),
            "{method} {path}"
        );
    }
    assert!(
        handles_path("/plugins/")
            && handles_path("/services/a/plugins?x")
            && handles_path("/routes")
    );
    assert!(!handles_path("/status") && !handles_path("/config") && !handles_path("/"));
    assert!(!handles_path("/schemas/services"));
    // Schemas are answered without the store; other paths are not theirs.
    for path in ["/", "/status", "/plugins", ""] {
        assert!(schema_call("GET", path).is_none(), "{path}");
    }
    assert_eq!(
        schema_call("GET", "/schemas/routes/").map(|r| r.status),
        Some(200)
    );
    assert_eq!(
        schema_call("GET", "/schemas/a/b/c").map(|r| r.status),
        Some(404)
    );
    assert_eq!(
        schema_call("GET", "/schemas/vaults/env").map(|r| r.status),
        Some(404)
    );
    assert_eq!(
        schema_call("POST", "/schemas/plugins/validate").map(|r| r.status),
        Some(405)
    );
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
fn api_created_plugin_ids_are_random_v4() {
    let body = small_body("round-robin", "");
    let (a, _) = call(&store(EMPTY), "POST", "/plugins", &body);
    let (b, _) = call(&store(EMPTY), "POST", "/plugins", &body);
    let (a, b) = (json(&a), json(&b));
    let (a, b) = (str_at(&a, &["id"]), str_at(&b, &["id"]));
    assert!(is_uuid(a) && &a[14..15] == "4", "{a}");
    assert_ne!(a, b, "the same call twice, two ids");
}
