//! The fleet sync thread: every `--fleet-sync-ms` it sends one pipeline to Redis holding every
//! family's commands and hands each family its replies. One round trip per interval whatever
//! the request rate, on a thread no worker ever waits for.
//!
//! A family is one kind of shared state kept in Redis: fleet usage ([`super::usage`]) and
//! fleet-wide rate-limit windows ([`super::limits`]). Each stages its script calls into the
//! same pipeline under its plugin's hash tag and reads its replies back, with no new
//! connection, thread or round trip.

use super::link::{Health, Link};
use crate::stats::{FleetReport, SharedRegistry};
use crossbeam::channel::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One kind of state the fleet keeps in Redis.
///
/// Contract: every command must be idempotent (a round is re-sent whole after `NOSCRIPT`, and a
/// reply lost to a timeout may hide a command that ran), which is why families write absolute
/// per-node values rather than increments.
pub trait Family: Send {
    /// Appends this round's commands to `pipe`; returns how many replies they produce.
    fn stage(&mut self, pipe: &mut Vec<redis::Cmd>) -> usize;
    /// The replies to this round's commands, in the order they were staged.
    fn absorb(&mut self, replies: Vec<redis::Value>) -> Result<(), String>;
    /// Commands that take this node out of the shared state when it stops; returns how many.
    fn leave(&mut self, pipe: &mut Vec<redis::Cmd>) -> usize;
    /// The source of every script the family calls by SHA, loaded when Redis lacks one.
    fn scripts(&self) -> Vec<&'static str>;
}

pub struct Syncer {
    pub link: Link,
    pub families: Vec<Box<dyn Family>>,
    pub interval: Duration,
    pub registry: SharedRegistry,
    pub report: FleetReport,
}

impl Syncer {
    /// Runs rounds until `stop` fires or is dropped, then leaves the fleet (best effort).
    pub fn run(mut self, stop: Receiver<()>) {
        let mut next = Instant::now();
        // A message or a dropped sender both mean stop.
        while let Err(RecvTimeoutError::Timeout) =
            stop.recv_timeout(next.saturating_duration_since(Instant::now()))
        {
            // A round that overran (slow Redis) is not followed by a burst of catch-up rounds.
            next = (next + self.interval).max(Instant::now());
            self.round();
            self.publish();
        }
        self.leave();
    }

    /// One sync: every family's commands in one pipeline, one round trip.
    fn round(&mut self) {
        let mut pipe = Vec::new();
        let counts: Vec<usize> = self
            .families
            .iter_mut()
            .map(|f| f.stage(&mut pipe))
            .collect();
        if counts.iter().all(|n| *n == 0) {
            return;
        }
        let replies = match self.send(&pipe) {
            Some(r) => r,
            None => return,
        };
        let mut replies = replies.into_iter();
        let mut result = Ok(());
        for (family, n) in self.families.iter_mut().zip(counts) {
            let mine: Vec<redis::Value> = replies.by_ref().take(n).collect();
            if let Err(e) = family.absorb(mine) {
                result = Err(e);
            }
        }
        match result {
            Ok(()) => {
                self.link.succeeded();
                self.report.syncs += 1;
                self.report.last_success_unix_ms = Some(unix_ms());
            }
            Err(e) => self.link.failed(&e),
        }
    }

    /// Sends `pipe`, loading the scripts and sending it once more if Redis lost them (a restart,
    /// `SCRIPT FLUSH`, a new cluster shard). `None` when there is no answer; the link has
    /// recorded why.
    fn send(&mut self, pipe: &[redis::Cmd]) -> Option<Vec<redis::Value>> {
        for attempt in 0..2 {
            let conn = self.link.get().ok()?;
            self.report.round_trips += 1;
            match conn.pipeline(pipe) {
                Ok(replies) => return Some(replies),
                Err(e) if e.code() == Some("NOSCRIPT") && attempt == 0 => {
                    // SCRIPT LOAD goes to every primary of a cluster.
                    for f in &self.families {
                        for s in f.scripts() {
                            self.report.round_trips += 1;
                            let conn = self.link.get().ok()?;
                            let loaded: redis::RedisResult<redis::Value> =
                                redis::cmd("SCRIPT").arg("LOAD").arg(s).query(conn.like());
                            if let Err(e) = loaded {
                                self.link.failed(&format!("loading the fleet scripts: {e}"));
                                return None;
                            }
                        }
                    }
                }
                Err(e) => {
                    let msg = self.link.url().scrub(&e.to_string());
                    self.link.failed(&msg);
                    return None;
                }
            }
        }
        None
    }

    fn leave(&mut self) {
        let mut pipe = Vec::new();
        let n: usize = self.families.iter_mut().map(|f| f.leave(&mut pipe)).sum();
        if n > 0 && self.link.health() == Health::Up {
            if let Ok(conn) = self.link.get() {
                let _ = conn.pipeline(&pipe);
            }
        }
        self.link.close();
    }

    fn publish(&mut self) {
        self.report.up = self.link.health() == Health::Up;
        self.report.errors = self.link.errors;
        self.report.connects = self.link.connects;
        self.report.last_error.clone_from(&self.link.last_error);
        if let Ok(mut reg) = self.registry.lock() {
            reg.fleet = Some(self.report.clone());
        }
    }
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
