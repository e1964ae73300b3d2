//! `deck gateway diff` and `deck gateway sync`, replayed: decK's current state is the dump, its
//! target the file with ids from the current state, defaults filled from the gateway's schemas
//! (`gokong`), and the writes go-kong sends for the differences.

use super::gokong;
use super::*;

/// The decK file's content as decK parses it (`url` split into its parts): one service with
/// two routes, an ai-proxy-advanced plugin on `chat` and an ai-proxy plugin on `old`.
fn first_file(upstream: &str) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let services = vec![json!({"name": "llm", "protocol": "http", "host": "localhost", "port": 1})];
    let routes = vec![
        json!({"name": "chat", "paths": ["/v1/chat"], "tags": ["team-a"], "service": "llm"}),
        json!({"name": "old", "paths": ["/v1/old"], "service": "llm"}),
    ];
    let plugins = vec![
        json!({"name": "ai-proxy-advanced", "route": "chat", "tags": ["team-a"], "config": {
            "balancer": {"algorithm": "round-robin", "retries": 2},
            "targets": [{"route_type": "llm/v1/chat", "weight": 100,
                "model": {"provider": "openai", "name": "gpt-4o-mini", "model_alias": "fast",
                          "options": {"upstream_url": upstream, "temperature": 0.5}},
                "auth": {"header_name": "Authorization", "header_value": "Bearer sk-test"}}]}}),
        json!({"name": "ai-proxy", "route": "old", "config": {
            "route_type": "llm/v1/chat",
            "model": {"provider": "openai", "name": "gpt-4o", "options": {"upstream_url": upstream}}}}),
    ];
    (services, routes, plugins)
}

/// The same file as llmux's YAML config.
fn first_config(upstream: &str) -> String {
    format!(
        r#"_format_version: "3.0"
services:
- name: llm
  url: http://localhost:1
  routes:
  - name: chat
    paths: [/v1/chat]
    tags: [team-a]
  - name: old
    paths: [/v1/old]
plugins:
- name: ai-proxy-advanced
  route: chat
  tags: [team-a]
  config:
    balancer: {{algorithm: round-robin, retries: 2}}
    targets:
    - route_type: llm/v1/chat
      weight: 100
      model: {{provider: openai, name: gpt-4o-mini, model_alias: fast, options: {{upstream_url: "{upstream}", temperature: 0.5}}}}
      auth: {{header_name: Authorization, header_value: Bearer sk-test}}
- name: ai-proxy
  route: old
  config:
    route_type: llm/v1/chat
    model: {{provider: openai, name: gpt-4o, options: {{upstream_url: "{upstream}"}}}}
"#
    )
}

/// What decK would do to make the gateway match a file.
#[derive(Default, Debug)]
struct Plan {
    /// (path, body) of each `PUT`, in decK's order.
    puts: Vec<(String, Value)>,
    /// Paths of each `DELETE`, in decK's order.
    deletes: Vec<String>,
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// decK's `Syncer`: read the current state, build the target from the file, compare.
fn plan(admin: Addr, file: &(Vec<Value>, Vec<Value>, Vec<Value>)) -> Plan {
    let (status, _) = admin_get(admin, "/");
    assert_eq!(status, 200);
    // The Defaulter's reads; a 404 is "no defaults".
    let (_, service_schema) = admin_get(admin, "/schemas/services");
    let (_, route_schema) = admin_get(admin, "/schemas/routes");
    for entity in ["upstreams", "targets", "consumer_group_plugins"] {
        let (status, _) = admin_get(admin, &format!("/schemas/{entity}"));
        assert!(status == 200 || status == 404, "{entity}: {status}");
    }
    let current = dump(admin);
    let by_name =
        |table: &str, name: &str| current[table].iter().find(|e| e["name"] == name).cloned();
    let mut plan = Plan::default();
    let mut ids = std::collections::HashMap::new();
    for (table, items) in [("services", &file.0), ("routes", &file.1)] {
        let schema = if table == "services" {
            &service_schema
        } else {
            &route_schema
        };
        for item in items {
            let mut target = item.clone();
            let name = target["name"].as_str().unwrap().to_string();
            let existing = by_name(table, &name);
            let id = existing
                .as_ref()
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), id_of);
            target["id"] = json!(id);
            if let Some(service) = target.get("service").and_then(Value::as_str) {
                target["service"] = json!({"id": ids[service]});
            }
            ids.insert(name, id.clone());
            gokong::fill_entity(&mut target, schema);
            let same = existing.as_ref().is_some_and(|e| gokong::equal(e, &target));
            if !same {
                plan.puts.push((format!("/{table}/{id}"), target));
            }
        }
    }
    let mut kept = Vec::new();
    for plugin in &file.2 {
        let mut target = plugin.clone();
        let route_id = ids[target["route"].as_str().unwrap()].clone();
        target["route"] = json!({"id": route_id});
        let existing = current["plugins"]
            .iter()
            .find(|p| p["name"] == target["name"] && p["route"]["id"] == json!(route_id));
        let id = existing.map_or_else(|| uuid::Uuid::new_v4().to_string(), id_of);
        target["id"] = json!(id);
        kept.push(id.clone());
        let name = target["name"].as_str().unwrap();
        let (status, schema) = admin_get(admin, &format!("/schemas/plugins/{name}"));
        assert_eq!(status, 200, "{name}");
        let mut filled = target.clone();
        gokong::fill_plugin(&mut filled, &schema);
        if !existing.is_some_and(|e| gokong::equal(e, &filled)) {
            // decK sends the file's plugin, not the one with defaults filled in.
            plan.puts.push((format!("/plugins/{id}"), target));
        }
    }
    // Deletes: plugins, then routes, then services.
    for p in &current["plugins"] {
        if !kept.contains(&id_of(p)) {
            plan.deletes.push(format!("/plugins/{}", id_of(p)));
        }
    }
    for (table, items) in [("routes", &file.1), ("services", &file.0)] {
        for e in &current[table] {
            if !items.iter().any(|i| i["name"] == e["name"]) {
                plan.deletes.push(format!("/{table}/{}", id_of(e)));
            }
        }
    }
    plan
}

fn apply(admin: Addr, plan: &Plan) {
    for (path, body) in &plan.puts {
        let (status, answer) = put_json(admin, path, body);
        assert_eq!(status, 200, "PUT {path}: {answer}");
        assert_eq!(answer["id"], body["id"], "{answer}");
    }
    for path in &plan.deletes {
        let (status, answer) = admin_call(admin, "DELETE", path, "", "");
        assert_eq!(status, 204, "DELETE {path}: {answer}");
    }
}

/// An unchanged file: decK sees no difference, because the gateway shows every field with
/// Kong's defaults exactly as decK fills them from the gateway's schemas.
#[test]
fn deck_diff_of_an_unchanged_file_is_empty() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 1, 1));
    let url = up.url("/v1/chat/completions");
    let gw = Gateway::start(&first_config(&url));
    let plan = plan(gw.admin_addr(), &first_file(&url));
    assert!(plan.puts.is_empty() && plan.deletes.is_empty(), "{plan:#?}");
}

/// `deck gateway sync` of a changed file: a plugin's config changes, a route and its plugin
/// are added, another route and its plugin removed. Afterwards decK sees no difference, and the
/// gateway serves the new state.
#[test]
fn deck_gateway_sync_replay() {
    let up = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 1, 1));
    let url = up.url("/v1/chat/completions");
    let gw = Gateway::start(&first_config(&url));
    let admin = gw.admin_addr();
    let (services, mut routes, mut plugins) = first_file(&url);
    routes[1] = json!({"name": "new", "paths": ["/v1/new"], "service": "llm"});
    plugins[0]["config"]["balancer"] = json!({"algorithm": "least-connections"});
    plugins[1]["route"] = json!("new");
    let file = (services, routes, plugins);

    let changes = plan(admin, &file);
    let puts: Vec<&str> = changes
        .puts
        .iter()
        .map(|(p, _)| p.split('/').nth(1).unwrap())
        .collect();
    assert_eq!(puts, ["routes", "plugins", "plugins"], "{changes:#?}");
    assert_eq!(changes.deletes.len(), 2, "{changes:#?}");
    let deletes = &changes.deletes;
    assert!(deletes[0].starts_with("/plugins/") && deletes[1].starts_with("/routes/"));
    apply(admin, &changes);

    let again = plan(admin, &file);
    assert!(
        again.puts.is_empty() && again.deletes.is_empty(),
        "{again:#?}"
    );
    // The gateway serves the file.
    let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(post_json(gw.addr(), "/v1/new", body, &[]).status, 200);
    assert_eq!(post_json(gw.addr(), "/v1/old", body, &[]).status, 404);
    let fast = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(post_json(gw.addr(), "/v1/chat", fast, &[]).status, 200);
    assert_eq!(up.request_count(), 2);
    let (_, p) = admin_get(
        admin,
        &format!("/plugins/{}", changes.puts[1].1["id"].as_str().unwrap()),
    );
    assert_eq!(p["config"]["balancer"]["algorithm"], "least-connections");
    // What the file leaves out is Kong's default again, not the old value.
    assert_eq!(p["config"]["balancer"]["retries"], 5);
}

/// Other Kong tables refuse writes with 405, never silently; `/plugins/enabled` lists what
/// llmux serves.
#[test]
fn deck_writes_to_tables_llmux_has_no_use_for_are_refused() {
    let (gw, _up) = gateway();
    let admin = gw.admin_addr();
    let upstream = json!({"id": "6d4f1c2e-0000-4000-8000-000000000000", "name": "a"});
    let (status, _) = put_json(
        admin,
        "/upstreams/6d4f1c2e-0000-4000-8000-000000000000",
        &upstream,
    );
    assert_eq!(status, 405);
    let (status, enabled) = admin_get(admin, "/plugins/enabled");
    assert_eq!(status, 200);
    assert_eq!(
        enabled["enabled_plugins"],
        json!([
            "acl",
            "ai-proxy",
            "ai-proxy-advanced",
            "ai-rate-limiting-advanced",
            "key-auth",
            "rate-limiting"
        ])
    );
}

/// Kong's docs write Admin API calls as forms (`curl -d`): the same keys work here.
#[test]
fn kong_docs_form_calls() {
    let (gw, up) = gateway();
    let admin = gw.admin_addr();
    let form = "application/x-www-form-urlencoded";
    let (status, route) = admin_call(
        admin,
        "POST",
        "/services/llm/routes",
        "name=docs&paths[]=/docs",
        form,
    );
    assert_eq!(status, 201, "{route}");
    let body = format!(
        "name=ai-proxy&config.route_type=llm/v1/chat&config.model.provider=openai\
         &config.model.name=gpt-4o&config.model.options.upstream_url={}\
         &config.logging.log_statistics=true",
        up.url("/v1/chat/completions")
    );
    let (status, plugin) = admin_call(admin, "POST", "/routes/docs/plugins", &body, form);
    assert_eq!(status, 201, "{plugin}");
    assert_eq!(plugin["config"]["logging"]["log_statistics"], true);
    assert_eq!(plugin["config"]["model_name_header"], true);
    let msg = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(post_json(gw.addr(), "/docs", msg, &[]).status, 200);
    // Multipart, as `curl -F` sends it.
    let id = plugin["id"].as_str().unwrap();
    let multipart = "--x\r\nContent-Disposition: form-data; name=\"config.model_name_header\"\r\n\r\nfalse\r\n--x--\r\n";
    let (status, patched) = admin_call(
        admin,
        "PATCH",
        &format!("/plugins/{id}"),
        multipart,
        "multipart/form-data; boundary=x",
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["config"]["model_name_header"], false);
    // `POST /config` takes a form's `config` field, as Kong's does.
    let (status, applied) = admin_call(
        admin,
        "POST",
        "/config",
        "config=_format_version%3A+%223.0%22%0A",
        form,
    );
    assert_eq!(status, 201, "{applied}");
    let (_, routes) = admin_get(admin, "/routes");
    assert_eq!(routes["data"], json!([]));
}
