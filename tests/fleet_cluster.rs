//! A fleet on a real three-shard Redis Cluster (three `redis-server --cluster-enabled yes` on
//! loopback, joined with `redis-cli --cluster create`): llmux finds the cluster from one seed
//! URL, each plugin's keys share a hash tag so its script runs whole on the shard owning that
//! slot, and plugins spread over the shards. Usage and configuration are shared as on a single
//! server.

mod support;
use support::*;

const ANY: &str = r#"{"messages":[{"role":"user","content":"hi"}]}"#;

/// Six route-scoped plugins (ids p0..p5, so their keys land on different shards), each with
/// targets a and b, lowest-usage on prompt tokens, on routes /r0../r5; /r6 has no plugin.
fn config(url: &str) -> String {
    let mut y = String::from(
        "_format_version: \"3.0\"\nservices:\n  - name: llm\n    url: http://127.0.0.1:9\n    routes:\n",
    );
    for i in 0..6 {
        y.push_str(&format!(
            "      - name: r{i}
        paths: [/r{i}]
        plugins:
          - name: ai-proxy-advanced
            id: p{i}
            config:
              balancer: {{algorithm: lowest-usage, tokens_count_strategy: prompt-tokens}}
              targets:
                - {{route_type: llm/v1/chat, model: {{provider: openai, name: a, options: {{upstream_url: \"{url}\"}}}}}}
                - {{route_type: llm/v1/chat, model: {{provider: openai, name: b, options: {{upstream_url: \"{url}\"}}}}}}
"
        ));
    }
    y.push_str("      - {name: r6, paths: [/r6]}\n");
    y
}

fn models(up: &RecordingUpstream, from: usize, n: usize) -> Vec<String> {
    up.wait_for_requests(from + n, WAIT)[from..]
        .iter()
        .map(|r| r.body_json_model().unwrap_or_default())
        .collect()
}

#[test]
fn a_fleet_on_a_three_shard_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let up = RecordingUpstream::start(|req| {
        let m = req.body_json_model().unwrap_or_default();
        Reply::openai_chat(&m, "ok", 100, 1)
    });
    let yaml = config(&up.url("/v1/chat/completions"));
    let node = |extra: &[&str]| {
        let mut opts = fleet_node(&cluster.url(), extra);
        opts.args.extend(["--state".to_string(), cluster.url()]);
        Gateway::start_with(&yaml, opts)
    };
    let a = node(&[]);
    let b = node(&[]);
    assert!(
        a.wait_for_stderr("connected to Redis Cluster", WAIT),
        "{}",
        a.stderr()
    );

    // On every route, usage A records on target a steers B's picks to b.
    for i in 0..6 {
        let path = format!("/r{i}");
        for _ in 0..3 {
            let body = r#"{"model":"a","messages":[{"role":"user","content":"hi"}]}"#;
            assert_eq!(post_json(a.addr(), &path, body, &[]).status, 200);
        }
    }
    wait_until("B to see A's usage on all six plugins", || {
        let s = status(b.admin_addr());
        let seen = s["targets"]
            .as_array()?
            .iter()
            .filter(|t| t["model"] == "a" && t["fleet_usage"]["prompt_tokens"] == 300.0)
            .count();
        (seen == 6).then_some(())
    });
    // /status shows what the merger hands the workers; a worker takes it at its next merge tick
    // (50 ms), so let a few syncs pass.
    let syncs = |admin| {
        status(admin)["fleet_sync"]["syncs_total"]
            .as_u64()
            .unwrap_or(0)
    };
    let start = syncs(b.admin_addr());
    wait_until("three more syncs on B", || {
        (syncs(b.admin_addr()) >= start + 3).then_some(())
    });
    for i in 0..6 {
        let before = up.request_count();
        for _ in 0..4 {
            assert_eq!(post_json(b.addr(), &format!("/r{i}"), ANY, &[]).status, 200);
        }
        // Alone, B would alternate a, b, a, b. Knowing A's 300 tokens on a it sends b three
        // times, then a on the tie at 300 (b, b, b, a).
        let got = models(&up, before, 4);
        assert!(
            got.iter().filter(|m| *m == "b").count() >= 3,
            "route r{i}: {got:?}"
        );
    }
    // The plugins' keys are spread over the shards, each plugin's on one.
    let keys = cluster.keys_per_node();
    assert!(keys.iter().filter(|n| **n > 0).count() >= 2, "{keys:?}");
    wait_until(
        "fleet: ok on A (usage sync and configuration watch)",
        || (status(a.admin_addr())["fleet"] == "ok").then_some(()),
    );

    // The configuration store works on the cluster too: a change on B serves on A.
    let body = format!(
        r#"{{"name":"ai-proxy-advanced","config":{{"targets":[{{"route_type":"llm/v1/chat","model":{{"provider":"openai","name":"c","options":{{"upstream_url":"{}"}}}}}}]}}}}"#,
        up.url("/v1/chat/completions")
    );
    assert_eq!(post_json(a.addr(), "/r6", ANY, &[]).status, 404);
    let created = admin_call(b.admin_addr(), "POST", "/services/llm/plugins", &body);
    assert_eq!(created.status, 201, "{}", created.body_str());
    wait_until("A to serve B's new service plugin on /r6", || {
        (post_json(a.addr(), "/r6", ANY, &[]).status == 200).then_some(())
    });
}
