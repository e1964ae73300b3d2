//! Several llmux nodes on one real Redis balance as one: usage counted on one node steers the
//! others' lowest-usage picks; Redis going away loses no request; Redis coming back (empty, or
//! from an older snapshot) resyncs to the exact totals, counting nothing twice; the cost is one
//! round trip per node per sync interval whatever the traffic.

mod support;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use support::*;

/// Every answer reports 100 prompt tokens and 1 completion token.
const PROMPT: f64 = 100.0;
/// No `model`: every target is a candidate.
const ANY: &str = r#"{"messages":[{"role":"user","content":"hi"}]}"#;

fn upstream() -> RecordingUpstream {
    RecordingUpstream::start(|req| {
        let m = req.body_json_model().unwrap_or_default();
        Reply::openai_chat(&m, "ok", 100, 1)
    })
}

/// Targets `a` and `b`, lowest-usage on prompt tokens.
fn config(up: &RecordingUpstream) -> String {
    let url = up.url("/v1/chat/completions");
    plugin_yaml(
        &[T::named("a", url.clone()), T::named("b", url)],
        "      balancer:\n        algorithm: lowest-usage\n        tokens_count_strategy: prompt-tokens\n",
    )
}

fn send(gw: &Gateway, body: &str, n: usize) {
    let mut conn = ResponseReader::connect(gw.addr());
    for _ in 0..n {
        conn.send(&build_post(gw.addr(), "/", body, &[]));
        let r = conn.read_response();
        assert_eq!(r.status, 200, "{}", r.body_str());
    }
}

fn models(up: &RecordingUpstream, from: usize, n: usize) -> Vec<String> {
    up.wait_for_requests(from + n, WAIT)[from..]
        .iter()
        .map(|r| r.body_json_model().unwrap_or_default())
        .collect()
}

/// Waits until `admin`'s fleet view of `model` has exactly `prompt` prompt tokens.
fn wait_fleet_prompt(admin: SocketAddr, model: &str, prompt: f64) {
    wait_until(
        &format!("{admin} to see {prompt} fleet prompt tokens on {model}"),
        || {
            let s = status(admin);
            (target_number(&s, model, &["fleet_usage", "prompt_tokens"]) == prompt).then_some(())
        },
    );
}

fn syncs(admin: SocketAddr) -> u64 {
    status(admin)["fleet_sync"]["syncs_total"]
        .as_u64()
        .expect("syncs_total")
}

/// Waits until `admin` has made `n` more successful syncs.
fn wait_syncs(admin: SocketAddr, n: u64) {
    let start = syncs(admin);
    wait_until(&format!("{n} more syncs on {admin}"), || {
        (syncs(admin) >= start + n).then_some(())
    });
}

#[test]
fn usage_recorded_on_node_a_steers_node_b_lowest_usage_picks() {
    let redis = RedisServer::start();
    let up = upstream();
    let yaml = config(&up);
    let a = Gateway::start_with(&yaml, fleet_node(&redis.url(), &[]));
    let b = Gateway::start_with(&yaml, fleet_node(&redis.url(), &[]));

    // Five requests naming target a, on node A only.
    send(
        &a,
        r#"{"model":"a","messages":[{"role":"user","content":"hi"}]}"#,
        5,
    );
    wait_fleet_prompt(b.admin_addr(), "a", 5.0 * PROMPT);
    let own = status(b.admin_addr());
    assert_eq!(
        target_number(&own, "a", &["prompt_tokens"]),
        0.0,
        "B served none itself"
    );

    // On node B every target is a candidate. Alone, B would start with a (tie at zero goes to
    // the first target) and alternate: a, b, a, b, a. Knowing A's 500 tokens on a, it sends the
    // next five requests to b until b catches up. /status shows what the merger hands the
    // workers; a worker takes it at its next merge tick, so let two syncs pass first.
    wait_syncs(b.admin_addr(), 2);
    let before = up.request_count();
    send(&b, ANY, 5);
    assert_eq!(models(&up, before, 5), vec!["b"; 5]);

    // Both nodes converge on the exact fleet totals, each count once.
    for admin in [a.admin_addr(), b.admin_addr()] {
        wait_fleet_prompt(admin, "a", 5.0 * PROMPT);
        wait_fleet_prompt(admin, "b", 5.0 * PROMPT);
    }
    let s = status(a.admin_addr());
    assert_eq!(s["fleet"], "ok");
    assert_eq!(target_number(&s, "b", &["fleet_usage", "requests"]), 5.0);
    assert_eq!(target_number(&s, "b", &["requests"]), 0.0);
}

/// Two clients, one per node, sending requests back to back until `stop`; returns every status.
fn traffic(nodes: &[SocketAddr], stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<Vec<u16>>> {
    nodes
        .iter()
        .map(|&addr| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                let mut conn = ResponseReader::connect(addr);
                while !stop.load(Ordering::Relaxed) {
                    conn.send(&build_post(addr, "/", ANY, &[]));
                    statuses.push(conn.read_response().status);
                }
                statuses
            })
        })
        .collect()
}

fn count(needle: &str, text: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn redis_killed_under_traffic_loses_no_request_and_restarted_empty_resyncs_exactly() {
    let mut redis = RedisServer::start();
    let up = upstream();
    let yaml = config(&up);
    let a = Gateway::start_with(&yaml, fleet_node(&redis.url(), &[]));
    let b = Gateway::start_with(&yaml, fleet_node(&redis.url(), &[]));
    let admins = [a.admin_addr(), b.admin_addr()];
    for admin in admins {
        wait_syncs(admin, 1);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let clients = traffic(&[a.addr(), b.addr()], &stop);
    wait_until("traffic before the outage", || {
        (up.request_count() > 200).then_some(())
    });
    redis.kill();
    for admin in admins {
        wait_until("fleet: degraded", || {
            (status(admin)["fleet"] == "degraded").then_some(())
        });
    }
    // Requests keep flowing on local counts while Redis is gone.
    let during = up.request_count();
    wait_until("traffic during the outage", || {
        (up.request_count() > during + 200).then_some(())
    });
    let s = status(a.admin_addr());
    assert!(
        s["fleet_sync"]["last_success_unix_ms"].as_u64().is_some(),
        "{s}"
    );
    assert!(s["fleet_sync"]["errors_total"].as_u64() > Some(0), "{s}");
    let metrics = admin_call(a.admin_addr(), "GET", "/metrics", "").body_str();
    assert!(metrics.contains("llmux_fleet_up{node="), "{metrics}");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("llmux_fleet_up{") && l.ends_with(" 0")),
        "{metrics}"
    );

    // Redis comes back with nothing in it, traffic still running.
    redis.restart();
    for admin in admins {
        wait_until("fleet: ok", || {
            (status(admin)["fleet"] == "ok").then_some(())
        });
    }
    stop.store(true, Ordering::Relaxed);
    let statuses: Vec<u16> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client thread"))
        .collect();
    assert!(statuses.len() > 400);
    assert!(statuses.iter().all(|s| *s == 200), "a request failed");

    // Every request, before, during and after the outage, counted once across the fleet.
    let truth = statuses.len() as f64;
    let fleet_requests = |admin| {
        let s = status(admin);
        target_number(&s, "a", &["fleet_usage", "requests"])
            + target_number(&s, "b", &["fleet_usage", "requests"])
    };
    for admin in admins {
        wait_until("fleet totals equal to the requests sent", || {
            (fleet_requests(admin) == truth).then_some(())
        });
    }
    // And they stay there: later syncs rewrite the same absolute values.
    for admin in admins {
        wait_syncs(admin, 5);
        assert_eq!(fleet_requests(admin), truth);
        let s = status(admin);
        let prompt = target_number(&s, "a", &["fleet_usage", "prompt_tokens"])
            + target_number(&s, "b", &["fleet_usage", "prompt_tokens"]);
        assert_eq!(prompt, truth * PROMPT);
    }
    // One log line per change of state, not one per failed attempt.
    for gw in [&a, &b] {
        let log = gw.stderr();
        assert_eq!(count("fleet usage sync: Redis", &log), 2, "{log}");
        assert_eq!(count("is unreachable", &log), 1, "{log}");
        assert_eq!(count("is back after", &log), 1, "{log}");
    }
}

#[test]
fn redis_restored_from_an_older_snapshot_resyncs_without_double_counting() {
    let mut redis = RedisServer::start();
    let up = upstream();
    let yaml = config(&up);
    let a = Gateway::start_with(&yaml, fleet_node(&redis.url(), &[]));
    let b = Gateway::start_with(&yaml, fleet_node(&redis.url(), &[]));
    let admins = [a.admin_addr(), b.admin_addr()];

    send(&a, ANY, 10);
    send(&b, ANY, 6);
    for admin in admins {
        wait_until("16 requests in the fleet totals", || {
            let s = status(admin);
            let n = target_number(&s, "a", &["fleet_usage", "requests"])
                + target_number(&s, "b", &["fleet_usage", "requests"]);
            (n == 16.0).then_some(())
        });
    }
    // A snapshot of the fleet at 16 requests, then 14 more that only the live Redis sees.
    redis.cli(&["SAVE"]);
    send(&a, ANY, 4);
    send(&b, ANY, 10);
    for admin in admins {
        wait_syncs(admin, 2);
    }
    // Redis dies and comes back from the old snapshot: its per-node values are stale. Had nodes
    // sent increments, the 14 would be lost (or, resent, counted twice); they send totals.
    redis.restart();
    for admin in admins {
        wait_until("30 requests in the fleet totals", || {
            let s = status(admin);
            let n = target_number(&s, "a", &["fleet_usage", "requests"])
                + target_number(&s, "b", &["fleet_usage", "requests"]);
            (n == 30.0).then_some(())
        });
        wait_syncs(admin, 5);
        let s = status(admin);
        let tokens = target_number(&s, "a", &["fleet_usage", "prompt_tokens"])
            + target_number(&s, "b", &["fleet_usage", "prompt_tokens"]);
        assert_eq!(tokens, 30.0 * PROMPT);
    }
}

#[test]
fn one_round_trip_per_sync_whatever_the_traffic() {
    let redis = RedisServer::start();
    let up = upstream();
    let gw = Gateway::start_with(&config(&up), fleet_node(&redis.url(), &[]));
    let admin = gw.admin_addr();
    wait_syncs(admin, 2);

    // (EVALSHA calls seen by Redis, syncs, round trips) over a stretch of `n` syncs.
    let measure = |n: u64| {
        let (calls0, s0) = (redis.calls("evalsha"), status(admin));
        wait_syncs(admin, n);
        let (calls1, s1) = (redis.calls("evalsha"), status(admin));
        let d =
            |k: &str| s1["fleet_sync"][k].as_u64().unwrap() - s0["fleet_sync"][k].as_u64().unwrap();
        (calls1 - calls0, d("syncs_total"), d("round_trips_total"))
    };
    let idle = measure(20);
    let stop = Arc::new(AtomicBool::new(false));
    let clients = traffic(&[gw.addr(), gw.addr(), gw.addr(), gw.addr()], &stop);
    wait_until("traffic", || (up.request_count() > 100).then_some(()));
    let before = up.request_count();
    let busy = measure(20);
    let served = up.request_count() - before;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        assert!(c.join().unwrap().iter().all(|s| *s == 200));
    }
    eprintln!(
        "idle: {idle:?}; under load ({served} requests): {busy:?} (evalsha, syncs, round trips)"
    );
    assert!(served > 200, "{served}");
    for (calls, syncs, trips) in [idle, busy] {
        // One plugin: one script call per sync, in one round trip. The two status reads are
        // not atomic with Redis's counter, so a sync may fall on either side of one of them.
        assert_eq!(trips, syncs, "{idle:?} {busy:?}");
        assert!(calls.abs_diff(syncs) <= 1, "{idle:?} {busy:?}");
    }
}

#[test]
fn a_node_that_stops_leaves_the_fleet_totals() {
    let redis = RedisServer::start();
    let up = upstream();
    let yaml = config(&up);
    let mut a = Gateway::start_with(&yaml, fleet_node(&redis.url(), &[]));
    let b = Gateway::start_with(&yaml, fleet_node(&redis.url(), &[]));
    send(&a, ANY, 4);
    send(&b, ANY, 2);
    let total = |admin| {
        let s = status(admin);
        target_number(&s, "a", &["fleet_usage", "requests"])
            + target_number(&s, "b", &["fleet_usage", "requests"])
    };
    wait_until("6 requests", || {
        (total(b.admin_addr()) == 6.0).then_some(())
    });
    assert!(a.terminate(WAIT).success());
    // A graceful stop takes A's usage out at once, as a restarted single node starts over.
    wait_until("only B's 2 requests", || {
        (total(b.admin_addr()) == 2.0).then_some(())
    });
    let nodes = redis.cli(&["HLEN", "{llmux:ai-proxy-advanced@global}:usage:nodes"]);
    assert_eq!(nodes.trim(), "1", "only B is left in Redis");
}

#[test]
fn a_slow_redis_degrades_the_fleet_but_never_a_request() {
    let redis = RedisServer::start();
    let up = upstream();
    let gw = Gateway::start_with(&config(&up), fleet_node(&redis.url(), &[]));
    let admin = gw.admin_addr();
    wait_syncs(admin, 2);
    // Redis stops answering anyone for 3 s (it holds every reply): slower than the sync's
    // deadline (5 intervals, at least 0.5 s).
    redis.cli(&["CLIENT", "PAUSE", "3000", "ALL"]);
    let stop = Arc::new(AtomicBool::new(false));
    let clients = traffic(&[gw.addr()], &stop);
    wait_until("fleet: degraded", || {
        (status(admin)["fleet"] == "degraded").then_some(())
    });
    let s = status(admin);
    let error = s["fleet_sync"]["last_error"].as_str().unwrap_or_default();
    assert!(!error.is_empty(), "{s}");
    // Requests are served while the fleet thread waits on Redis...
    let during = up.request_count();
    wait_until("requests during the pause", || {
        (up.request_count() > during + 100).then_some(())
    });
    // ...and when Redis answers again the node resyncs on its own.
    wait_until("fleet: ok again", || {
        (status(admin)["fleet"] == "ok").then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    let statuses: Vec<u16> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "a request failed");
    let total = statuses.len() as f64;
    wait_until("every request in the fleet totals", || {
        let s = status(admin);
        let n = target_number(&s, "a", &["fleet_usage", "requests"])
            + target_number(&s, "b", &["fleet_usage", "requests"]);
        (n == total).then_some(())
    });
}
