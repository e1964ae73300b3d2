//! Helpers for the fleet tests: several gateways on one Redis, and their admin views.

use super::{build_request, GatewayOpts, Response, ResponseReader, WAIT};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Gateway options for one fleet node: one worker, `--redis URL`, a short sync interval so
/// tests run quickly, then `extra`.
pub fn fleet_node(redis_url: &str, extra: &[&str]) -> GatewayOpts {
    let mut args = vec![
        "--redis".to_string(),
        redis_url.to_string(),
        "--fleet-sync-ms".to_string(),
        "50".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    GatewayOpts {
        args,
        ..GatewayOpts::default()
    }
}

/// One admin API call with `Connection: close`.
pub fn admin_call(addr: SocketAddr, method: &str, path: &str, body: &str) -> Response {
    let mut conn = ResponseReader::connect(addr);
    conn.send(&build_request(
        method,
        addr,
        path,
        body.as_bytes(),
        &[
            ("Connection", "close"),
            ("Content-Type", "application/json"),
        ],
    ));
    conn.read_response()
}

/// `GET /status` as JSON.
pub fn status(admin: SocketAddr) -> serde_json::Value {
    let r = admin_call(admin, "GET", "/status", "");
    assert_eq!(r.status, 200, "{}", r.body_str());
    serde_json::from_slice(&r.body).expect("/status is JSON")
}

/// The `fleet_usage` (or, with `field` "requests" etc. at the top, this node's) number of the
/// target whose model is `model`.
pub fn target_number(status: &serde_json::Value, model: &str, path: &[&str]) -> f64 {
    let target = status["targets"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["model"] == model))
        .unwrap_or_else(|| panic!("no target {model} in {status}"));
    let mut v = target;
    for p in path {
        v = &v[*p];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{path:?} of {model} in {status}"))
}

/// Polls `check` every 10 ms until it returns `Some`, or panics after [`WAIT`] with `what`.
pub fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
