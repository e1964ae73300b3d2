//! Per-worker keep-alive pool of upstream connections.
//!
//! Each worker owns its pool outright (no locks, no sharing between cores). Connections are
//! reused newest-first, so a quiet period lets the oldest ones age out. A pooled connection the
//! provider has meanwhile closed is not watched for; instead a request that fails on a reused
//! connection before any response byte is retried once on a fresh one (see `exchange`), which
//! is what nginx and pingora do about that race too.

use super::exchange::UpstreamConn;
use super::peer::PeerKey;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub struct Pool {
    idle: HashMap<PeerKey, Vec<(UpstreamConn, Instant)>>,
    max_idle_per_peer: usize,
    idle_timeout: Duration,
}

impl Pool {
    pub fn new(max_idle_per_peer: usize, idle_timeout: Duration) -> Pool {
        Pool {
            idle: HashMap::new(),
            max_idle_per_peer,
            idle_timeout,
        }
    }

    /// A live idle connection to `key`, if one is young enough to trust.
    pub fn take(&mut self, key: &PeerKey) -> Option<UpstreamConn> {
        let list = self.idle.get_mut(key)?;
        let now = Instant::now();
        while let Some((mut conn, since)) = list.pop() {
            if now.duration_since(since) < self.idle_timeout {
                conn.reused = true;
                return Some(conn);
            }
        }
        None
    }

    /// Returns a connection after a complete exchange; beyond the cap the oldest is closed.
    /// An idle connection holds no read buffer.
    pub fn put(&mut self, mut conn: UpstreamConn) {
        conn.release_buffer();
        if self.max_idle_per_peer == 0 {
            return;
        }
        // Look up before inserting so the common case (a list for this peer exists) does not
        // clone the key.
        if !self.idle.contains_key(&conn.key) {
            self.idle.insert(conn.key.clone(), Vec::new());
        }
        let Some(list) = self.idle.get_mut(&conn.key) else {
            return;
        };
        if list.len() >= self.max_idle_per_peer {
            list.remove(0);
        }
        list.push((conn, Instant::now()));
    }

    /// Idle connections across peers (a gauge in `/status` and `/metrics`).
    pub fn idle_count(&self) -> usize {
        self.idle.values().map(Vec::len).sum()
    }
}
