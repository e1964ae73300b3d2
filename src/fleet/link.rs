//! One blocking connection to Redis, owned by one fleet thread (or the supervisor): connects
//! lazily with a timeout, reconnects with capped exponential backoff, and logs once per change
//! of state rather than once per failure.
//!
//! Every read and write has a deadline, so a slow or silent Redis costs the owning thread one
//! timeout per attempt and never reaches a worker.
//!
//! A server that reports `cluster_enabled:1` is used through redis-rs's cluster client, which
//! routes each command to the shard owning its key's slot (following `MOVED`/`ASK`); every
//! script llmux runs touches keys of one hash tag only, so it runs whole on one shard.

use std::fmt;
use std::time::{Duration, Instant};

/// `redis://` or `rediss://` URL with its password hidden, for logs and `/status`.
#[derive(Clone)]
pub struct RedisUrl {
    url: String,
    shown: String,
    /// The password in the URL, if any, so error texts that quote it can hide it.
    secret: Option<String>,
}

impl RedisUrl {
    /// Checks `url` the way the client will read it (scheme, host, port, `/DB`, credentials).
    pub fn parse(url: &str, flag: &str) -> Result<RedisUrl, String> {
        let shown = redact(url);
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(format!(
                "{flag} {shown}: expected redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss://... for TLS"
            ));
        }
        let secret = password(url);
        let scrub = |e: redis::RedisError| match &secret {
            Some(pw) => e.to_string().replace(pw.as_str(), "***"),
            None => e.to_string(),
        };
        redis::Client::open(url).map_err(|e| format!("{flag} {shown}: {}", scrub(e)))?;
        Ok(RedisUrl {
            url: url.to_string(),
            shown,
            secret,
        })
    }

    pub fn client(&self) -> Result<redis::Client, String> {
        redis::Client::open(self.url.as_str())
            .map_err(|e| format!("{}: {}", self.shown, self.scrub(&e.to_string())))
    }

    /// `text` with the URL's password, should it appear, replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        match &self.secret {
            Some(pw) => text.replace(pw.as_str(), "***"),
            None => text.to_string(),
        }
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The credentials part of the URL between `://` and `@`, if any.
fn userinfo(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    Some(&authority[..authority.rfind('@')?])
}

/// The password in the URL (after `user:`, or the whole userinfo without a colon).
fn password(url: &str) -> Option<String> {
    let info = userinfo(url)?;
    let pw = info.split_once(':').map_or(info, |(_, pw)| pw);
    (!pw.is_empty()).then(|| pw.to_string())
}

/// The URL with any password replaced by `***` (`redis://user:***@host:6379/0`).
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let user = authority[..at].split(':').next().unwrap_or("");
            let creds = if authority[..at].contains(':') {
                format!("{user}:***")
            } else {
                // `redis://secret@host` is a password without a user in redis-rs's reading.
                "***".to_string()
            };
            format!(
                "{}{creds}{}",
                &url[..scheme_end + 3],
                &rest[at..] // "@host:port/db"
            )
        }
        None => url.to_string(),
    }
}

/// Reconnect delays: 100 ms doubling to 5 s, each with up to 25% jitter so a fleet that lost
/// Redis together does not come back in lockstep.
pub struct Backoff {
    next: Duration,
    not_before: Option<Instant>,
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

impl Backoff {
    pub fn new() -> Backoff {
        Backoff {
            next: BACKOFF_MIN,
            not_before: None,
        }
    }

    pub fn ready(&self, now: Instant) -> bool {
        self.not_before.is_none_or(|t| now >= t)
    }

    pub fn failed(&mut self, now: Instant) {
        let jitter = self.next.mul_f64(0.25 * random_unit());
        self.not_before = Some(now + self.next + jitter);
        self.next = (self.next * 2).min(BACKOFF_MAX);
    }

    pub fn reset(&mut self) {
        self.next = BACKOFF_MIN;
        self.not_before = None;
    }
}

/// A number in [0, 1) that differs between processes and calls; only for jitter.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Up, down, or not known yet; only changes are logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Starting,
    Up,
    Down,
}

/// A connection to a single Redis (or Valkey) server, or to a Redis Cluster.
pub enum Conn {
    Single(redis::Connection),
    /// Boxed: it holds a connection per shard and the slot map.
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl Conn {
    pub fn like(&mut self) -> &mut dyn redis::ConnectionLike {
        match self {
            Conn::Single(c) => c,
            Conn::Cluster(c) => c.as_mut(),
        }
    }

    /// Sends `cmds` as one pipeline and returns every reply: one round trip on a single server;
    /// on a cluster, one per shard the commands' slots live on, sent together.
    pub fn pipeline(&mut self, cmds: &[redis::Cmd]) -> redis::RedisResult<Vec<redis::Value>> {
        match self {
            Conn::Single(c) => {
                let mut p = redis::pipe();
                for cmd in cmds {
                    p.add_command(cmd.clone());
                }
                p.query(c)
            }
            Conn::Cluster(c) => {
                let mut p = redis::cluster::cluster_pipe();
                for cmd in cmds {
                    p.add_command(cmd.clone());
                }
                p.query(c.as_mut())
            }
        }
    }
}

/// A lazily (re)connected blocking Redis connection.
pub struct Link {
    what: &'static str,
    url: RedisUrl,
    client: redis::Client,
    conn: Option<Conn>,
    /// The server is a Redis Cluster (known after the first connect).
    cluster: bool,
    timeout: Duration,
    backoff: Backoff,
    health: Health,
    down_since: Option<Instant>,
    failures_while_down: u64,
    /// Connections made since start.
    pub connects: u64,
    /// Failed connects and failed calls since start.
    pub errors: u64,
    pub last_error: Option<String>,
}

impl Link {
    /// `what` names the user of the link in log lines ("fleet usage sync").
    pub fn new(what: &'static str, url: RedisUrl, timeout: Duration) -> Result<Link, String> {
        Ok(Link {
            what,
            client: url.client()?,
            url,
            conn: None,
            cluster: false,
            timeout,
            backoff: Backoff::new(),
            health: Health::Starting,
            down_since: None,
            failures_while_down: 0,
            connects: 0,
            errors: 0,
            last_error: None,
        })
    }

    pub fn url(&self) -> &RedisUrl {
        &self.url
    }

    pub fn health(&self) -> Health {
        self.health
    }

    /// The connection, connecting first if there is none and the backoff allows; `Err` when
    /// there is no connection (the failure is already recorded).
    pub fn get(&mut self) -> Result<&mut Conn, String> {
        if self.conn.is_none() {
            let now = Instant::now();
            if !self.backoff.ready(now) {
                return Err("waiting to reconnect".into());
            }
            match self.connect() {
                Ok(c) => {
                    self.connects += 1;
                    self.conn = Some(c);
                }
                Err(e) => {
                    let msg = self.url.scrub(&e.to_string());
                    self.failed(&msg);
                    return Err(msg);
                }
            }
        }
        self.conn
            .as_mut()
            .ok_or_else(|| "no connection".to_string())
    }

    fn connect(&mut self) -> redis::RedisResult<Conn> {
        let mut conn = self.client.get_connection_with_timeout(self.timeout)?;
        conn.set_read_timeout(Some(self.timeout))?;
        conn.set_write_timeout(Some(self.timeout))?;
        let info: String = redis::cmd("INFO").arg("cluster").query(&mut conn)?;
        if !info.contains("cluster_enabled:1") {
            self.cluster = false;
            return Ok(Conn::Single(conn));
        }
        // The URL is the seed; the client learns the other shards from it. Its own retries are
        // kept short: this link retries with its own backoff.
        let cluster =
            redis::cluster::ClusterClient::builder(vec![self.client.get_connection_info().clone()])
                .connection_timeout(self.timeout)
                .response_timeout(self.timeout)
                .retries(1)
                .min_retry_wait(10)
                .max_retry_wait(100)
                .build()?;
        let conn = cluster.get_connection()?;
        conn.set_read_timeout(Some(self.timeout))?;
        conn.set_write_timeout(Some(self.timeout))?;
        self.cluster = true;
        Ok(Conn::Cluster(Box::new(conn)))
    }

    /// A call on the connection failed: drop it (a timed-out connection may still deliver the
    /// late reply, which would answer the next request), back off, log if this is news.
    pub fn failed(&mut self, error: &str) {
        self.conn = None;
        self.backoff.failed(Instant::now());
        self.failures_while_down += 1;
        self.errors += 1;
        self.last_error = Some(error.to_string());
        if self.health != Health::Down {
            crate::warn!(
                "{}: Redis {} is unreachable ({error}); continuing without it and retrying with backoff",
                self.what,
                self.url
            );
            self.health = Health::Down;
            self.down_since = Some(Instant::now());
        }
    }

    /// A call succeeded: log the recovery if this is news.
    pub fn succeeded(&mut self) {
        self.backoff.reset();
        match self.health {
            Health::Up => {}
            Health::Starting => {
                let kind = if self.cluster {
                    "Redis Cluster"
                } else {
                    "Redis"
                };
                crate::info!("{}: connected to {kind} {}", self.what, self.url);
            }
            Health::Down => {
                let after = self.down_since.map_or(0.0, |t| t.elapsed().as_secs_f64());
                crate::info!(
                    "{}: Redis {} is back after {after:.1} s ({} failed attempts); resynced",
                    self.what,
                    self.url,
                    self.failures_while_down
                );
            }
        }
        self.health = Health::Up;
        self.down_since = None;
        self.failures_while_down = 0;
    }

    /// Lets the next `get` connect at once, whatever the backoff says.
    pub fn retry_now(&mut self) {
        self.backoff.reset();
    }

    /// Closes the connection (shutdown).
    pub fn close(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("redis://user:s3cret@h:6379/2"),
            "redis://user:***@h:6379/2"
        );
        assert_eq!(redact("rediss://:s3cret@h:6380"), "rediss://:***@h:6380");
        assert_eq!(redact("redis://s3cret@h"), "redis://***@h");
        assert_eq!(redact("redis://h:6379/0"), "redis://h:6379/0");
        let e = RedisUrl::parse("http://user:pw@h:1", "--redis").unwrap_err();
        assert!(e.contains("expected redis://") && !e.contains("pw"), "{e}");
        let ok = RedisUrl::parse("redis://u:pw@127.0.0.1:6379/3", "--redis").unwrap();
        assert_eq!(ok.to_string(), "redis://u:***@127.0.0.1:6379/3");
        assert!(!format!("{ok:?}").contains("pw"));
        assert_eq!(ok.scrub("auth failed for pw"), "auth failed for ***");
        assert_eq!(password("redis://s3cret@h"), Some("s3cret".into()));
        assert_eq!(password("redis://h:1"), None);
    }

    #[test]
    fn backoff_doubles_to_a_cap_and_resets() {
        let mut b = Backoff::new();
        let now = Instant::now();
        assert!(b.ready(now));
        b.failed(now);
        assert!(!b.ready(now));
        assert!(b.ready(now + Duration::from_millis(126)));
        for _ in 0..10 {
            b.failed(now);
        }
        assert_eq!(b.next, BACKOFF_MAX);
        assert!(b.ready(now + BACKOFF_MAX + BACKOFF_MAX / 4 + Duration::from_millis(1)));
        b.reset();
        assert!(b.ready(now));
    }
}
