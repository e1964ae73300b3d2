//! decK's writes (`PUT` create-or-replace of plugins, services and routes, `DELETE` with Kong's
//! cascades), `POST`/`PATCH` of services and routes, form-encoded and multipart bodies, and the
//! defaults-filled view against the document that keeps what was written.

use super::*;

const PLUGIN_ID: &str = "3f1e2d4c-5b6a-4789-8abc-def012345678";
const SVC_ID: &str = "11111111-2222-4333-8444-555555555555";
const ROUTE2_ID: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

fn form(
    s: &EntityStore,
    method: &str,
    path: &str,
    body: &str,
) -> (ApiResponse, Option<EntityStore>) {
    s.handle(
        method,
        path,
        "application/x-www-form-urlencoded",
        body.as_bytes(),
        &deck_env,
        NOW,
    )
}

#[test]
fn put_plugin_creates_then_replaces_whole() {
    let body = small_body("priority", r#""created_at":1600000000,"tags":["a"],"#);
    let (resp, st) = call(
        &store(EMPTY),
        "PUT",
        &format!("/plugins/{PLUGIN_ID}"),
        &body,
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    let v = json(&resp);
    assert_eq!(str_at(&v, &["id"]), PLUGIN_ID);
    assert_eq!(s(&v, &["created_at"]).as_u64(), Some(1_600_000_000));
    assert_eq!(s(&v, &["updated_at"]).as_u64(), Some(NOW));
    // The answer shows Kong's defaults, the document keeps what was written.
    assert_eq!(
        s(&v, &["config", "balancer", "slots"]).as_u64(),
        Some(10_000)
    );
    assert_eq!(
        s(&v, &["config", "targets", "0", "weight"]).as_u64(),
        Some(100)
    );
    assert!(s(&v, &["config", "targets", "0", "auth"]).is_null());
    let st = st.unwrap();
    let yaml = st.to_yaml();
    assert!(
        !yaml.contains("slots") && !yaml.contains("weight"),
        "{yaml}"
    );

    // A second PUT replaces: what it leaves out is gone (Kong's defaults again).
    let (resp, st) = call(
        &st,
        "PUT",
        &format!("/plugins/{PLUGIN_ID}"),
        &small_body("round-robin", ""),
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    let v = json(&resp);
    assert_eq!(
        str_at(&v, &["config", "balancer", "algorithm"]),
        "round-robin"
    );
    assert!(s(&v, &["tags"]).is_null());
    let st = st.unwrap();
    assert_eq!(load(&st).config.catch_all.unwrap().id, PLUGIN_ID);
    let (list, _) = call(&st, "GET", "/plugins", "");
    assert_eq!(s(&json(&list), &["data"]).as_array().unwrap().len(), 1);

    // An instance_name in the URL names the plugin.
    let named = small_body("round-robin", r#""instance_name":"primary","#);
    let (resp, st) = call(&st, "PUT", &format!("/plugins/{PLUGIN_ID}"), &named);
    assert_eq!(resp.status, 200, "{}", resp.body);
    let st = st.unwrap();
    let (resp, new) = call(&st, "PUT", "/plugins/primary", &small_body("priority", ""));
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(str_at(&json(&resp), &["id"]), PLUGIN_ID);
    assert_eq!(str_at(&json(&resp), &["instance_name"]), "primary");
    assert!(new.is_some());
    // A new instance of the same plugin in the same scope: Kong's 409.
    let (resp, none) = call(&st, "PUT", "/plugins/second", &small_body("priority", ""));
    assert_eq!((resp.status, none.is_none()), (409, true));
    let (resp, _) = call(&st, "PUT", "/plugins/primary", r#"{"config":{}}"#);
    assert_eq!(resp.status, 400);
    assert_eq!(
        str_at(&json(&resp), &["message"]),
        "schema violation (name: required field missing)"
    );
}

#[test]
fn put_keeps_a_nested_plugin_in_place_or_moves_it() {
    let st = store(NESTED);
    let (list, _) = call(&st, "GET", "/plugins", "");
    let list = json(&list);
    let id = str_at(&list, &["data", "0", "id"]).to_string();
    let svc = str_at(&list, &["data", "0", "service", "id"]).to_string();
    // What decK sends back for an unchanged plugin: its scope by id, config as written.
    let body = small_body(
        "round-robin",
        &format!(r#""id":"{id}","service":{{"id":"{svc}"}},"#),
    );
    let (resp, new) = call(&st, "PUT", &format!("/plugins/{id}"), &body);
    assert_eq!(resp.status, 200, "{}", resp.body);
    let new = new.unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&new.to_yaml()).unwrap();
    assert_eq!(
        doc["services"][0]["plugins"][0]["id"].as_str(),
        Some(id.as_str())
    );
    assert!(doc["services"][0]["plugins"][0].get("service").is_none());
    assert!(doc.get("plugins").is_none());

    // Another scope: out of the service, to the top level.
    let body = small_body("round-robin", r#""route":{"name":"chat"},"#);
    let (resp, new) = call(&new, "PUT", &format!("/plugins/{id}"), &body);
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(s(&json(&resp), &["service"]).is_null());
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&new.unwrap().to_yaml()).unwrap();
    assert_eq!(
        doc["services"][0]["plugins"].as_sequence().map(Vec::len),
        Some(0)
    );
    assert_eq!(doc["plugins"][0]["route"].as_str(), Some("chat"));
}

#[test]
fn services_and_routes_put_post_patch() {
    let base = store(&services_doc());
    // decK creates a service with PUT and its id, every field filled from /schemas/services.
    let svc = format!(
        r#"{{"id":"{SVC_ID}","name":"other","host":"example.org","port":443,"protocol":"https",
            "retries":5,"connect_timeout":60000,"read_timeout":60000,"write_timeout":60000,"enabled":true}}"#
    );
    let (resp, st) = call(&base, "PUT", &format!("/services/{SVC_ID}"), &svc);
    assert_eq!(resp.status, 200, "{}", resp.body);
    let v = json(&resp);
    assert_eq!(
        (str_at(&v, &["host"]), s(&v, &["port"]).as_u64()),
        ("example.org", Some(443))
    );
    assert!(s(&v, &["path"]).is_null() && s(&v, &["tls_verify"]).is_null());
    let st = st.unwrap();
    let route = format!(
        r#"{{"id":"{ROUTE2_ID}","name":"r2","paths":["/r2"],"service":{{"id":"{SVC_ID}"}},
            "protocols":["http","https"],"strip_path":true,"preserve_host":false,"regex_priority":0,
            "https_redirect_status_code":426,"path_handling":"v0","request_buffering":true,"response_buffering":true}}"#
    );
    let (resp, st) = call(&st, "PUT", &format!("/routes/{ROUTE2_ID}"), &route);
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(str_at(&json(&resp), &["service", "id"]), SVC_ID);
    let st = st.unwrap();
    // A plugin on the new route, then a rename the references follow.
    let (resp, st) = call(
        &st,
        "POST",
        "/routes/r2/plugins",
        &small_body("round-robin", ""),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let renamed = route.replace(r#""name":"r2""#, r#""name":"r3""#);
    let (resp, st) = call(
        &st.unwrap(),
        "PUT",
        &format!("/routes/{ROUTE2_ID}"),
        &renamed,
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    let st = st.unwrap();
    assert!(st.to_yaml().contains("route: r3"), "{}", st.to_yaml());
    let l = load(&st);
    assert!(!plugin_for(&l, "/r2").is_empty());

    // POST creates with a random id; names are unique (Kong's 409).
    let (resp, st) = call(
        &st,
        "POST",
        "/services",
        r#"{"name":"third","url":"http://x:8080/p"}"#,
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let v = json(&resp);
    assert!(is_uuid(str_at(&v, &["id"])));
    assert_eq!(
        (s(&v, &["port"]).as_u64(), str_at(&v, &["path"])),
        (Some(8080), "/p")
    );
    let st = st.unwrap();
    let (resp, none) = call(&st, "POST", "/services", r#"{"name":"third","host":"y"}"#);
    assert_eq!((resp.status, none.is_none()), (409, true));
    assert_eq!(
        str_at(&json(&resp), &["message"]),
        "UNIQUE violation detected on '{name=\"third\"}'"
    );
    // PATCH: `url` sets all four parts; a rename is followed.
    let (resp, st) = call(
        &st,
        "PATCH",
        "/services/third",
        r#"{"url":"https://z","name":"fourth"}"#,
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    let v = json(&resp);
    assert_eq!(
        (str_at(&v, &["host"]), s(&v, &["port"]).as_u64()),
        ("z", Some(443))
    );
    assert!(s(&v, &["path"]).is_null());
    let st = st.unwrap();
    let (resp, _) = call(&st, "PATCH", "/services/fourth", r#"{"routes":[]}"#);
    assert_eq!(resp.status, 400);
    assert_eq!(
        str_at(&json(&resp), &["message"]),
        "schema violation (routes: unknown field)"
    );
    // Keys of the other table are the loader's unknown fields.
    let (resp, _) = call(&st, "PATCH", "/services/fourth", r#"{"service":"fourth"}"#);
    assert_eq!(resp.status, 400);
    assert!(
        resp.body.contains("service: unknown field"),
        "{}",
        resp.body
    );
    let (resp, _) = call(&st, "PATCH", "/routes/r3", r#"{"url":"http://x"}"#);
    assert_eq!(resp.status, 400);
    assert!(resp.body.contains("url: unknown field"), "{}", resp.body);
    let (resp, _) = call(&st, "PATCH", "/routes/nope", "{}");
    assert_eq!(resp.status, 404);
    // Nested route endpoint: the URL's service.
    let (resp, st) = call(
        &st,
        "POST",
        "/services/fourth/routes",
        r#"{"name":"r5","paths":["/r5"]}"#,
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let (svc4, _) = call(&st.unwrap(), "GET", "/services/fourth", "");
    assert_eq!(
        str_at(&json(&resp), &["service", "id"]),
        str_at(&json(&svc4), &["id"])
    );
}

#[test]
fn put_moves_a_route_to_another_service_with_its_plugins() {
    let (_, st) = call(
        &store(NESTED),
        "PUT",
        &format!("/services/{SVC_ID}"),
        r#"{"name":"b","host":"h"}"#,
    );
    let st = st.unwrap();
    let (resp, st) = call(
        &st,
        "POST",
        "/routes/chat/plugins",
        &small_body("round-robin", ""),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let st = st.unwrap();
    let (route, _) = call(&st, "GET", "/routes/chat", "");
    let route_id = str_at(&json(&route), &["id"]).to_string();
    let body = format!(r#"{{"name":"chat","paths":["/chat"],"service":{{"id":"{SVC_ID}"}}}}"#);
    let (resp, st) = call(&st, "PUT", &format!("/routes/{route_id}"), &body);
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(str_at(&json(&resp), &["service", "id"]), SVC_ID);
    let st = st.unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&st.to_yaml()).unwrap();
    assert_eq!(
        doc["services"][0]["routes"].as_sequence().map(Vec::len),
        Some(0)
    );
    assert_eq!(doc["routes"][0]["service"].as_str(), Some("b"));
    let (plugins, _) = call(&st, "GET", &format!("/routes/{route_id}/plugins"), "");
    assert_eq!(s(&json(&plugins), &["data"]).as_array().unwrap().len(), 1);
}

#[test]
fn deletes_as_kong_restricts_and_cascades() {
    let st = store(NESTED);
    let (resp, none) = call(&st, "DELETE", "/services/svc", "");
    assert_eq!((resp.status, none.is_none()), (400, true));
    let v = json(&resp);
    assert_eq!(s(&v, &["code"]).as_u64(), Some(4));
    assert_eq!(
        str_at(&v, &["message"]),
        "an existing 'routes' entity references this 'services' entity"
    );
    assert_eq!(str_at(&v, &["fields", "@referenced_by"]), "routes");
    // decK deletes routes first; a route's plugins go with it.
    let (resp, st) = call(
        &st,
        "POST",
        "/routes/chat/plugins",
        &small_body("round-robin", ""),
    );
    assert_eq!(resp.status, 201);
    let (resp, st) = call(&st.unwrap(), "DELETE", "/routes/chat", "");
    assert_eq!(resp.status, 204, "{}", resp.body);
    let st = st.unwrap();
    let (plugins, _) = call(&st, "GET", "/plugins", "");
    assert_eq!(s(&json(&plugins), &["data"]).as_array().unwrap().len(), 1);
    let (resp, st) = call(&st, "DELETE", "/services/svc", "");
    assert_eq!(resp.status, 204, "{}", resp.body);
    let st = st.unwrap();
    let (plugins, _) = call(&st, "GET", "/plugins", "");
    assert_eq!(plugins.body, r#"{"data":[],"next":null}"#);
    let (resp, none) = call(&st, "DELETE", "/services/svc", "");
    assert_eq!((resp.status, none.is_none()), (204, true));
}

#[test]
fn form_bodies_as_kong_reads_them() {
    // The seed's call as a form, the way Kong's docs write Admin API calls.
    let body = "name=ai-proxy-advanced&config.balancer.algorithm=lowest-usage\
        &config.balancer.retries=2&config.targets[1].route_type=llm/v1/chat\
        &config.targets[1].model.provider=openai&config.targets[1].model.name=gpt-4o\
        &config.targets[1].model.options.temperature=0.5&config.targets[1].weight=10\
        &config.targets[1].auth.header_name=Authorization\
        &config.targets[1].auth.header_value=Bearer+sk-x&protocols[]=http&protocols[]=https\
        &enabled=true";
    let (resp, st) = form(&store(EMPTY), "POST", "/plugins", body);
    assert_eq!(resp.status, 201, "{}", resp.body);
    let v = json(&resp);
    assert_eq!(s(&v, &["config", "balancer", "retries"]).as_u64(), Some(2));
    assert_eq!(
        s(&v, &["config", "targets", "0", "weight"]).as_u64(),
        Some(10)
    );
    assert_eq!(
        s(
            &v,
            &["config", "targets", "0", "model", "options", "temperature"]
        )
        .as_f64(),
        Some(0.5)
    );
    assert_eq!(
        str_at(&v, &["config", "targets", "0", "auth", "header_value"]),
        "Bearer sk-x"
    );
    assert_eq!(s(&v, &["protocols"]).as_array().unwrap().len(), 2);
    let id = str_at(&v, &["id"]).to_string();
    let st = st.unwrap();
    let p = load(&st).config.catch_all.unwrap();
    assert_eq!(p.balancer.retries, 2);
    // PATCH types by the stored plugin's schema; an empty value is null (back to the default).
    let (resp, st) = form(
        &st,
        "PATCH",
        &format!("/plugins/{id}"),
        "config.balancer.retries=&config.balancer.slots=100",
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    let v = json(&resp);
    assert_eq!(s(&v, &["config", "balancer", "retries"]).as_u64(), Some(5));
    assert_eq!(s(&v, &["config", "balancer", "slots"]).as_u64(), Some(100));
    // A value that does not fit its type is the schema's violation, with its path.
    let (resp, _) = form(
        &st.unwrap(),
        "PATCH",
        &format!("/plugins/{id}"),
        "config.balancer.slots=many",
    );
    assert_eq!(resp.status, 400);
    assert!(resp.body.contains("config.balancer.slots"), "{}", resp.body);
    // Kong's tutorial: a route under a service, `paths[]`.
    let (resp, _) = form(
        &store(&services_doc()),
        "POST",
        "/services/svc/routes",
        "name=mock&paths[]=/mock&strip_path=false",
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(str_at(&json(&resp), &["paths", "0"]), "/mock");
    assert_eq!(s(&json(&resp), &["strip_path"]).as_bool(), Some(false));
    // Multipart, and a JSON object sent as curl's default form type.
    let multipart =
        "--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nai-proxy\r\n--b\r\n\
        Content-Disposition: form-data; name=\"config.route_type\"\r\n\r\nllm/v1/chat\r\n--b\r\n\
        Content-Disposition: form-data; name=\"config.model.provider\"\r\n\r\nopenai\r\n--b--\r\n";
    let (resp, _) = store(EMPTY).handle(
        "POST",
        "/plugins",
        "multipart/form-data; boundary=b",
        multipart.as_bytes(),
        &deck_env,
        NOW,
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(
        s(&json(&resp), &["config", "logging", "log_statistics"]).as_bool(),
        Some(false)
    );
    let (resp, _) = form(
        &store(EMPTY),
        "POST",
        "/plugins",
        &small_body("round-robin", ""),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let (resp, _) = form(&store(EMPTY), "POST", "/plugins", "a[0]=1");
    assert_eq!(resp.status, 400);
}
