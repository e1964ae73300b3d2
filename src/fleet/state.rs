//! The fleet's configuration in Redis (`--state redis://...`): what `--state FILE` is for one
//! node, shared by every node.
//!
//! One hash holds the decK document and its version. A change is written with a
//! compare-and-set on the version (`state.lua`), so of two nodes changing plugins at once one
//! wins and the other re-reads, re-applies its change on top and writes again: neither change
//! is lost. Every write publishes the new version; each node's watcher thread listens, and also
//! polls the version every [`POLL`], so a message lost while a connection was down is caught up
//! within one poll.
//!
//! The supervisor owns a [`StateStore`] (its blocking calls run on the main thread, which
//! workers never wait for); the watcher runs on its own thread and reports what it sees.

use super::keys::{CONFIG, CONFIG_CHANNEL};
use super::link::{Health, Link, RedisUrl};
use crate::stats::SharedRegistry;
use crossbeam::channel::{Sender, TrySendError};
use std::time::Duration;

const SCRIPT: &str = include_str!("state.lua");

/// How often the watcher checks the version even without a message.
pub const POLL: Duration = Duration::from_millis(250);
/// Deadline of every configuration-store call.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The fleet's configuration as stored.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub version: u64,
    pub yaml: String,
    /// The node that wrote it.
    pub node: String,
}

/// The result of a versioned write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Stored as this version.
    Done(u64),
    /// Not written: the stored version is this one.
    Stale(u64),
}

pub struct StateStore {
    link: Link,
    node: String,
    script: redis::Script,
    /// Call at once even while backing off (an operator is waiting), rather than wait.
    eager: bool,
}

impl StateStore {
    /// The supervisor's store: every call is tried at once.
    pub fn new(url: RedisUrl, node: String) -> Result<StateStore, String> {
        Ok(StateStore {
            link: Link::new("fleet configuration", url, TIMEOUT)?,
            node,
            script: redis::Script::new(SCRIPT),
            eager: true,
        })
    }

    /// The stored version, 0 when there is none.
    pub fn version(&mut self) -> Result<u64, String> {
        let v: Option<u64> = self.call(|conn| redis::cmd("HGET").arg(CONFIG).arg("version").query(conn))?;
        Ok(v.unwrap_or(0))
    }

    pub fn url(&self) -> &RedisUrl {
        self.link.url()
    }

    /// The stored configuration, `None` when the fleet has none yet.
    pub fn load(&mut self) -> Result<Option<FleetConfig>, String> {
        let (version, yaml, node): (Option<u64>, Option<String>, Option<String>) =
            self.call(|conn| {
                redis::cmd("HMGET")
                    .arg(CONFIG)
                    .arg("version")
                    .arg("yaml")
                    .arg("node")
                    .query(conn)
            })?;
        Ok(match (version, yaml) {
            (Some(version), Some(yaml)) if version > 0 => Some(FleetConfig {
                version,
                yaml,
                node: node.unwrap_or_default(),
            }),
            _ => None,
        })
    }

    /// Writes `yaml` as the next version if the stored one is still `expected`.
    pub fn compare_and_set(&mut self, expected: u64, yaml: &str) -> Result<Written, String> {
        self.write("cas", expected, yaml)
    }

    /// Writes `yaml` as `version` if the fleet has none or an older one (start-up, and after
    /// Redis lost its data).
    pub fn seed(&mut self, version: u64, yaml: &str) -> Result<Written, String> {
        self.write("seed", version, yaml)
    }

    fn write(&mut self, mode: &str, version: u64, yaml: &str) -> Result<Written, String> {
        let script = self.script.clone();
        let node = self.node.clone();
        let (done, v): (u64, u64) = self.call(|conn| {
            script
                .key(CONFIG)
                .arg(mode)
                .arg(version)
                .arg(yaml)
                .arg(&node)
                .arg(CONFIG_CHANNEL)
                .invoke(conn)
        })?;
        Ok(if done == 1 {
            Written::Done(v)
        } else {
            Written::Stale(v)
        })
    }

    /// Runs `f` on the connection now (an operator is waiting: no backoff), recording the
    /// outcome on the link.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, String> {
        if self.eager {
            self.link.retry_now();
        }
        let conn = self.link.get()?;
        match f(conn) {
            Ok(v) => {
                self.link.succeeded();
                Ok(v)
            }
            Err(e) => {
                let msg = format!(
                    "fleet configuration store {}: {}",
                    self.link.url(),
                    self.link.url().scrub(&e.to_string())
                );
                self.link.failed(&msg);
                Err(msg)
            }
        }
    }
}

/// What the watcher saw: the fleet's configuration version, and the document when there is
/// one (`version` 0 and no document: the fleet has none, e.g. Redis restarted empty).
#[derive(Debug, Clone)]
pub struct Observed {
    pub config: Option<FleetConfig>,
}

impl Observed {
    pub fn version(&self) -> u64 {
        self.config.as_ref().map_or(0, |c| c.version)
    }
}

/// Starts the watcher thread: it reports every version it has not reported yet (and the
/// current one after every reconnect) on `tx`, and keeps `/status`'s view of the store's
/// health. It ends when `tx`'s receiver is gone.
pub fn watch(
    url: RedisUrl,
    node: String,
    registry: SharedRegistry,
    tx: Sender<Observed>,
) -> Result<(), String> {
    let client = url.client()?;
    let store = StateStore {
        link: Link::new("fleet configuration watch", url, TIMEOUT)?,
        node,
        script: redis::Script::new(SCRIPT),
        eager: false,
    };
    std::thread::Builder::new()
        .name("llmux-fleet-config".into())
        .spawn(move || Watcher { client, store, registry, tx, last: None }.run())
        .map(|_| ())
        .map_err(|e| format!("starting the fleet configuration watcher: {e}"))
}

struct Watcher {
    client: redis::Client,
    /// Version polls and document reads (a subscribed connection can do neither).
    store: StateStore,
    registry: SharedRegistry,
    tx: Sender<Observed>,
    last: Option<u64>,
}

impl Watcher {
    fn run(mut self) {
        let mut backoff = super::link::Backoff::new();
        loop {
            // Without a subscription the poll alone keeps the node within POLL of the fleet.
            match self.subscribe() {
                Ok(mut conn) => {
                    backoff.reset();
                    self.last = None; // after a gap, report the current version once more
                    if !self.listen(&mut conn) {
                        return;
                    }
                }
                Err(_) => {
                    backoff.failed(std::time::Instant::now());
                    while !backoff.ready(std::time::Instant::now()) {
                        if !self.check() {
                            return;
                        }
                        std::thread::sleep(POLL);
                    }
                }
            }
        }
    }

    fn subscribe(&self) -> redis::RedisResult<redis::Connection> {
        let conn = self.client.get_connection_with_timeout(TIMEOUT)?;
        conn.set_write_timeout(Some(TIMEOUT))?;
        Ok(conn)
    }

    /// Waits for announcements (or POLL) and checks the version after each; returns false
    /// when the supervisor is gone, true when the subscription broke.
    fn listen(&mut self, conn: &mut redis::Connection) -> bool {
        let mut sub = conn.as_pubsub();
        if sub.subscribe(CONFIG_CHANNEL).is_err() || sub.set_read_timeout(Some(POLL)).is_err() {
            return self.check();
        }
        loop {
            let broken = match sub.get_message() {
                Ok(_) => false,
                Err(e) => !e.is_timeout(),
            };
            if !self.check() {
                return false;
            }
            if broken {
                return true;
            }
        }
    }

    /// Reads the version, and the document when it changed; false when nobody listens.
    fn check(&mut self) -> bool {
        match self.store.version() {
            Ok(v) if self.last == Some(v) => {
                self.publish();
                return true;
            }
            Ok(_) => {}
            Err(_) => {
                self.publish();
                return true;
            }
        }
        let seen = match self.store.load() {
            Ok(config) => Observed { config },
            Err(_) => {
                self.publish();
                return true;
            }
        };
        self.publish();
        let version = seen.version();
        match self.tx.try_send(seen) {
            Ok(()) => {
                self.last = Some(version);
                true
            }
            Err(TrySendError::Full(_)) => true, // reported again on the next check
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn publish(&self) {
        if let Ok(mut reg) = self.registry.lock() {
            let r = reg.fleet_state.get_or_insert_with(Default::default);
            r.redis = self.store.url().to_string();
            r.up = self.store.link.health() == Health::Up;
            r.errors = self.store.link.errors;
            r.last_error.clone_from(&self.store.link.last_error);
        }
    }
}
