//! A fleet of llmux nodes sharing one Redis (or Valkey, or Redis Cluster): usage totals so
//! `lowest-usage` balances on what the whole fleet served, and (with `--state redis://`) the
//! configuration the Admin API edits.
//!
//! Nothing here runs on a worker. The usage sync has its own thread ([`sync::Syncer`]) that
//! reads this node's merged totals from the stats registry, sends them to Redis in one
//! pipelined round trip per `--fleet-sync-ms`, and hands the other nodes' usage to the merger,
//! which passes it to every worker with the totals it already sends. Workers never learn that
//! Redis exists; when it is down, slow or empty they keep balancing on what they have.
//!
//! - [`keys`]: every key and channel name, and the hash tags that keep a script on one slot.
//! - [`link`]: one blocking connection with timeouts, backoff and once-per-change logging.
//! - [`sync`]: the sync thread and the [`sync::Family`] seam for kinds of shared counters.
//! - [`usage`]: the usage family (`usage.lua`).
//! - [`limits`]: the rate-limit family (`limits.lua`): `policy: redis` / `strategy: redis`
//!   counters, fleet-wide.
//! - [`state`]: the configuration store and its watcher thread (`state.lua`).
//!
//! docs/fleet.md describes keys, TTLs and failure behaviour for operators.

pub mod keys;
pub mod limits;
pub mod link;
pub mod state;
pub mod sync;
pub mod usage;

use crate::config::GatewayConfig;
use crate::stats::{FleetReport, RemoteTotals, SharedRegistry};
use crossbeam::channel::{bounded, Sender};
pub use link::RedisUrl;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use usage::Known;

/// `--fleet-sync-ms`'s default.
pub const DEFAULT_SYNC_MS: u64 = 200;

/// This node's name in Redis: `HOST-PID-RANDOM`, new at every start, so a restarted node never
/// mistakes its predecessor's totals for its own (the predecessor's leave when its lease ends,
/// or at once on a graceful stop).
pub fn node_id() -> String {
    let host = hostname().unwrap_or_else(|| "llmux".into());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}

/// The kernel's host name (read at start, on the main thread).
fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// A node stays in the fleet totals this long after its last sync: `max(30 s, 10 intervals)`.
/// Long enough that a Redis hiccup does not drop anyone; short enough that a crashed node's
/// counts leave before they mislead for long.
pub fn lease(interval: Duration) -> Duration {
    (interval * 10).max(Duration::from_secs(30))
}

/// Deadline of each sync's connect, write and read: five intervals, within [0.5 s, 5 s].
pub fn sync_timeout(interval: Duration) -> Duration {
    (interval * 5).clamp(Duration::from_millis(500), Duration::from_secs(5))
}

/// The running usage sync.
pub struct Fleet {
    known: Arc<Mutex<Arc<Known>>>,
    known_limits: Arc<Mutex<Arc<limits::KnownLimits>>>,
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Fleet {
    /// Starts the sync thread for `config`'s plugins.
    pub fn start(
        redis: RedisUrl,
        interval: Duration,
        node: String,
        config: &GatewayConfig,
        registry: SharedRegistry,
        merger: Sender<Arc<RemoteTotals>>,
        limits_merger: Sender<Vec<crate::stats::limits::RemoteWindow>>,
    ) -> Result<Fleet, String> {
        let known = Arc::new(Mutex::new(Arc::new(Known::of(config))));
        let known_limits = Arc::new(Mutex::new(Arc::new(limits::KnownLimits::of(config))));
        let limits_family = limits::LimitsFamily::new(
            node.clone(),
            registry.clone(),
            known_limits.clone(),
            limits_merger,
        );
        let lease_ms = lease(interval).as_millis() as u64;
        let family = usage::UsageFamily::new(
            node.clone(),
            lease_ms,
            registry.clone(),
            known.clone(),
            merger,
        );
        let report = FleetReport {
            node: node.clone(),
            redis: redis.to_string(),
            sync_interval_ms: interval.as_millis() as u64,
            ..FleetReport::default()
        };
        if let Ok(mut reg) = registry.lock() {
            reg.fleet = Some(report.clone());
        }
        let syncer = sync::Syncer {
            link: link::Link::new("fleet usage sync", redis.clone(), sync_timeout(interval))?,
            families: vec![Box::new(family), Box::new(limits_family)],
            interval,
            registry,
            report,
        };
        let (stop, stop_rx) = bounded(1);
        let thread = std::thread::Builder::new()
            .name("llmux-fleet".into())
            .spawn(move || syncer.run(stop_rx))
            .map_err(|e| format!("starting the fleet sync thread: {e}"))?;
        crate::info!(
            "fleet: node {node} syncs usage with Redis {redis} every {} ms",
            interval.as_millis()
        );
        Ok(Fleet {
            known,
            known_limits,
            stop,
            thread: Some(thread),
        })
    }

    /// After a reload: sync the new config's plugins and targets from the next round on.
    pub fn set_config(&self, config: &GatewayConfig) {
        let known = Arc::new(Known::of(config));
        match self.known.lock() {
            Ok(mut k) => *k = known,
            Err(e) => *e.into_inner() = known,
        }
        let limits = Arc::new(limits::KnownLimits::of(config));
        match self.known_limits.lock() {
            Ok(mut k) => *k = limits,
            Err(e) => *e.into_inner() = limits,
        }
    }

    /// Leaves the fleet (this node's usage leaves the totals at once) and ends the thread;
    /// bounded by the sync timeout.
    pub fn stop(mut self) {
        let _ = self.stop.try_send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_differ_per_start_and_name_the_host() {
        let (a, b) = (node_id(), node_id());
        assert_ne!(a, b);
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
    }

    #[test]
    fn lease_and_timeout_scale_with_the_interval() {
        assert_eq!(lease(Duration::from_millis(200)), Duration::from_secs(30));
        assert_eq!(lease(Duration::from_secs(10)), Duration::from_secs(100));
        assert_eq!(
            sync_timeout(Duration::from_millis(200)),
            Duration::from_secs(1)
        );
        assert_eq!(
            sync_timeout(Duration::from_millis(10)),
            Duration::from_millis(500)
        );
        assert_eq!(
            sync_timeout(Duration::from_secs(60)),
            Duration::from_secs(5)
        );
    }
}
