//! `--state redis://...`: the Admin API configures the whole fleet. A change on one node serves
//! on every node; a node that joins later loads the fleet's configuration; two nodes changing
//! plugins at the same moment both get their change; Redis losing its data gets the
//! configuration back from the nodes; with Redis away, changes are refused and traffic flows.

mod support;
use std::sync::{Arc, Barrier};
use std::time::Instant;
use support::*;

const CHAT: &str = r#"{"messages":[{"role":"user","content":"hi"}]}"#;

/// A service `llm` with routes `r0`..`r9` on `/r0`..`/r9`, and no plugin yet.
const ROUTES: &str = "_format_version: \"3.0\"
services:
  - name: llm
    url: http://127.0.0.1:9
    routes:
      - {name: r0, paths: [/r0]}
      - {name: r1, paths: [/r1]}
      - {name: r2, paths: [/r2]}
      - {name: r3, paths: [/r3]}
      - {name: r4, paths: [/r4]}
      - {name: r5, paths: [/r5]}
      - {name: r6, paths: [/r6]}
      - {name: r7, paths: [/r7]}
      - {name: r8, paths: [/r8]}
      - {name: r9, paths: [/r9]}
";

fn plugin_body(url: &str, model: &str) -> String {
    format!(
        r#"{{"name":"ai-proxy-advanced","config":{{"targets":[{{"route_type":"llm/v1/chat",
"auth":{{"header_name":"Authorization","header_value":"Bearer sk-fleet"}},
"model":{{"provider":"openai","name":"{model}","options":{{"upstream_url":"{url}"}}}}}}]}}}}"#
    )
}

fn upstream() -> RecordingUpstream {
    RecordingUpstream::start(|req| {
        let m = req.body_json_model().unwrap_or_default();
        Reply::openai_chat(&m, "ok", 10, 1)
    })
}

fn state_node(redis: &RedisServer) -> GatewayOpts {
    GatewayOpts {
        args: vec!["--state".into(), redis.url()],
        ..GatewayOpts::default()
    }
}

fn chat_status(gw: &Gateway, path: &str) -> u16 {
    post_json(gw.addr(), path, CHAT, &[]).status
}

fn fleet_version(gw: &Gateway) -> u64 {
    status(gw.admin_addr())["fleet_state"]["version"]
        .as_u64()
        .expect("fleet_state.version")
}

#[test]
fn an_admin_change_on_node_a_serves_on_node_b() {
    let redis = RedisServer::start();
    let up = upstream();
    let a = Gateway::start_with(ROUTES, state_node(&redis));
    let b = Gateway::start_with(ROUTES, state_node(&redis));
    assert_eq!(chat_status(&b, "/r0"), 404, "no plugin yet");
    let version = fleet_version(&a);
    assert!(version >= 1);

    let created = admin_call(
        a.admin_addr(),
        "POST",
        "/routes/r0/plugins",
        &plugin_body(&up.url("/v1/chat/completions"), "m0"),
    );
    assert_eq!(created.status, 201, "{}", created.body_str());
    assert!(
        created.header("X-Llmux-Warning").is_none(),
        "stored in Redis"
    );
    let written = Instant::now();
    assert_eq!(chat_status(&a, "/r0"), 200, "the writer serves it at once");
    wait_until("node B to serve the new plugin", || {
        (chat_status(&b, "/r0") == 200).then_some(())
    });
    eprintln!(
        "node B served the change {:?} after node A's answer",
        written.elapsed()
    );
    let seen = up.wait_for_requests(2, WAIT);
    assert_eq!(seen[1].header("Authorization"), Some("Bearer sk-fleet"));

    // Both nodes run the same version; B adopted it from the fleet.
    assert_eq!(fleet_version(&a), version + 1);
    assert_eq!(fleet_version(&b), version + 1);
    let s = status(b.admin_addr());
    assert_eq!(s["fleet_state"]["adopted_total"], 1, "{s}");
    assert_eq!(s["fleet"], "ok", "{s}");

    // And the other way round: B deletes it, A stops serving it.
    let id = json_str_at(&created.json(), &["id"]).expect("plugin id");
    let deleted = admin_call(b.admin_addr(), "DELETE", &format!("/plugins/{id}"), "");
    assert_eq!(deleted.status, 204, "{}", deleted.body_str());
    wait_until("node A to drop the plugin", || {
        (chat_status(&a, "/r0") == 404).then_some(())
    });
}

#[test]
fn a_node_started_later_loads_the_fleets_state() {
    let redis = RedisServer::start();
    let up = upstream();
    let a = Gateway::start_with(ROUTES, state_node(&redis));
    let created = admin_call(
        a.admin_addr(),
        "POST",
        "/routes/r3/plugins",
        &plugin_body(&up.url("/v1/chat/completions"), "m3"),
    );
    assert_eq!(created.status, 201, "{}", created.body_str());

    // The newcomer's own --config has nothing; it serves the fleet's configuration.
    let c = Gateway::start_with("_format_version: \"3.0\"\n", state_node(&redis));
    assert!(
        c.stderr()
            .contains("starting from the fleet configuration version"),
        "{}",
        c.stderr()
    );
    assert_eq!(chat_status(&c, "/r3"), 200);
    assert_eq!(fleet_version(&c), fleet_version(&a));
    let listed = admin_call(c.admin_addr(), "GET", "/plugins", "");
    let id = json_str_at(&created.json(), &["id"]).unwrap();
    assert!(listed.body_str().contains(&id), "{}", listed.body_str());
}

#[test]
fn two_nodes_changing_plugins_at_once_lose_neither_change() {
    let redis = RedisServer::start();
    let up = upstream();
    let url = up.url("/v1/chat/completions");
    let a = Gateway::start_with(ROUTES, state_node(&redis));
    let b = Gateway::start_with(ROUTES, state_node(&redis));
    let start = Arc::new(Barrier::new(2));
    // Node A adds plugins on r0..r4 while node B adds plugins on r5..r9, as fast as they can.
    let posters: Vec<_> = [(a.admin_addr(), 0..5), (b.admin_addr(), 5..10)]
        .into_iter()
        .map(|(admin, routes)| {
            let (start, url) = (start.clone(), url.clone());
            std::thread::spawn(move || {
                start.wait();
                routes
                    .map(|r| {
                        let body = plugin_body(&url, &format!("m{r}"));
                        let resp =
                            admin_call(admin, "POST", &format!("/routes/r{r}/plugins"), &body);
                        (resp.status, resp.body_str())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for p in posters {
        for (status, body) in p.join().unwrap() {
            assert_eq!(status, 201, "{body}");
        }
    }
    // Every change is on every node.
    for gw in [&a, &b] {
        for r in 0..10 {
            let path = format!("/r{r}");
            wait_until(&format!("{path} on {}", gw.addr()), || {
                (chat_status(gw, &path) == 200).then_some(())
            });
        }
        let listed = admin_call(gw.admin_addr(), "GET", "/plugins", "");
        let v: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
        assert_eq!(v["data"].as_array().map(Vec::len), Some(10), "{v}");
    }
    assert_eq!(fleet_version(&a), fleet_version(&b));
    let stored = redis.cli(&["HGET", "{llmux:config}:state", "version"]);
    assert_eq!(stored.trim().parse::<u64>().ok(), Some(fleet_version(&a)));
}

#[test]
fn redis_restarted_empty_gets_the_configuration_back_from_the_nodes() {
    let mut redis = RedisServer::start();
    let up = upstream();
    let url = up.url("/v1/chat/completions");
    let a = Gateway::start_with(ROUTES, state_node(&redis));
    let b = Gateway::start_with(ROUTES, state_node(&redis));
    let created = admin_call(
        a.admin_addr(),
        "POST",
        "/routes/r1/plugins",
        &plugin_body(&url, "m1"),
    );
    assert_eq!(created.status, 201, "{}", created.body_str());
    wait_until("B at A's version", || {
        (fleet_version(&b) == fleet_version(&a)).then_some(())
    });
    let version = fleet_version(&a);

    redis.restart(); // no persistence: Redis comes back empty
    wait_until("the configuration back in Redis", || {
        let v = redis.cli(&["HGET", "{llmux:config}:state", "version"]);
        (v.trim() == version.to_string()).then_some(())
    });
    let yaml = redis.cli(&["HGET", "{llmux:config}:state", "yaml"]);
    assert!(yaml.contains("/v1/chat/completions"), "{yaml}");

    // The fleet carries on from there: a change on B reaches A.
    let created = admin_call(
        b.admin_addr(),
        "POST",
        "/routes/r2/plugins",
        &plugin_body(&url, "m2"),
    );
    assert_eq!(created.status, 201, "{}", created.body_str());
    wait_until("A to serve B's change", || {
        (chat_status(&a, "/r2") == 200).then_some(())
    });
    assert_eq!(chat_status(&a, "/r1"), 200);
    assert_eq!(fleet_version(&a), version + 1);
}

#[test]
fn with_redis_away_changes_are_refused_and_requests_keep_flowing() {
    let mut redis = RedisServer::start();
    let up = upstream();
    let url = up.url("/v1/chat/completions");
    let a = Gateway::start_with(ROUTES, state_node(&redis));
    let created = admin_call(
        a.admin_addr(),
        "POST",
        "/routes/r1/plugins",
        &plugin_body(&url, "m1"),
    );
    assert_eq!(created.status, 201, "{}", created.body_str());
    redis.kill();
    let refused = admin_call(
        a.admin_addr(),
        "POST",
        "/routes/r2/plugins",
        &plugin_body(&url, "m2"),
    );
    assert_eq!(refused.status, 503, "{}", refused.body_str());
    assert!(
        refused.body_str().contains("not made"),
        "{}",
        refused.body_str()
    );
    assert_eq!(chat_status(&a, "/r2"), 404, "nothing changed");
    assert_eq!(chat_status(&a, "/r1"), 200, "traffic flows");
    wait_until("fleet: degraded", || {
        (status(a.admin_addr())["fleet"] == "degraded").then_some(())
    });
}
