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

/// Why a store call failed: before anything was sent (nothing changed for certain), or after
/// (the call may or may not have run).
#[derive(Debug, Clone)]
pub enum StoreError {
    Unreachable(String),
    NoAnswer(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unreachable(e) | StoreError::NoAnswer(e) => f.write_str(e),
        }
    }
}

impl From<StoreError> for String {
    fn from(e: StoreError) -> String {
        e.to_string()
    }
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
    /// The supervisor's store: connect afresh for every call, at once (an operator is
    /// waiting, and a connection kept across a Redis restart would fail its first call after
    /// having possibly sent it). The watcher's keeps its connection and backs off.
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
    pub fn version(&mut self) -> Result<u64, StoreError> {
        let v: Option<u64> =
            self.call(|conn| redis::cmd("HGET").arg(CONFIG).arg("version").query(conn))?;
        Ok(v.unwrap_or(0))
    }

    pub fn url(&self) -> &RedisUrl {
        self.link.url()
    }

    /// The stored configuration, `None` when the fleet has none yet.
    pub fn load(&mut self) -> Result<Option<FleetConfig>, StoreError> {
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
    pub fn compare_and_set(&mut self, expected: u64, yaml: &str) -> Result<Written, StoreError> {
        self.write("cas", expected, yaml)
    }

    /// Writes `yaml` as `version` if the fleet has none or an older one (start-up, and after
    /// Redis lost its data).
    pub fn seed(&mut self, version: u64, yaml: &str) -> Result<Written, StoreError> {
        self.write("seed", version, yaml)
    }

    fn write(&mut self, mode: &str, version: u64, yaml: &str) -> Result<Written, StoreError> {
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

    /// Runs `f` on the connection, recording the outcome on the link.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut dyn redis::ConnectionLike) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        if self.eager {
            self.link.retry_now();
        }
        let what = format!("fleet configuration store {}", self.link.url());
        let conn = self
            .link
            .get()
            .map_err(|e| StoreError::Unreachable(format!("{what} is unreachable: {e}")))?;
        let result = f(conn.like());
        let out = match result {
            Ok(v) => {
                self.link.succeeded();
                Ok(v)
            }
            Err(e) => {
                let msg = format!(
                    "{what} did not answer: {}",
                    self.link.url().scrub(&e.to_string())
                );
                self.link.failed(&msg);
                Err(StoreError::NoAnswer(msg))
            }
        };
        if self.eager {
            self.link.close();
        }
        out
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
        .spawn(move || {
            Watcher {
                client,
                store,
                registry,
                tx,
                seen: None,
            }
            .run()
        })
        .map(|_| ())
        .map_err(|e| format!("starting the fleet configuration watcher: {e}"))
}

struct Watcher {
    client: redis::Client,
    /// Version polls and document reads (a subscribed connection can do neither).
    store: StateStore,
    registry: SharedRegistry,
    tx: Sender<Observed>,
    /// The last observation, so the document is read again only when the version changed.
    seen: Option<Observed>,
}

impl Watcher {
    fn run(mut self) {
        let mut backoff = super::link::Backoff::new();
        loop {
            // Without a subscription the poll alone keeps the node within POLL of the fleet.
            match self.subscribe() {
                Ok(mut conn) => {
                    backoff.reset();
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

    /// Reads the version (and the document when the version changed) and reports it; the
    /// supervisor compares it with its own every time, so a report it could not act on (Redis
    /// went away again) is acted on at the next one. False when nobody listens any more.
    fn check(&mut self) -> bool {
        let fresh = match self.store.version() {
            Ok(v) if self.seen.as_ref().map(Observed::version) == Some(v) => true,
            Ok(_) => match self.store.load() {
                Ok(config) => {
                    self.seen = Some(Observed { config });
                    true
                }
                Err(_) => false,
            },
            Err(_) => false,
        };
        self.publish();
        let Some(seen) = self.seen.clone().filter(|_| fresh) else {
            return true;
        };
        !matches!(self.tx.try_send(seen), Err(TrySendError::Disconnected(_)))
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
