//! The rate-limit family: `rate-limiting` with `policy: redis` and `ai-rate-limiting-advanced`
//! with `strategy: redis` count fleet-wide. Every sync, this node's count of every identity in
//! every live window of such a limiter goes to Redis (one script call per window, in the
//! round's one pipeline, on the sync thread's one connection) and the fleet's totals come back.
//!
//! As for usage, what is written is absolute (this node's count in that window), so the
//! exchange is idempotent, and what comes back becomes "the other nodes' count" (fleet total
//! minus exactly what this node wrote in the same call), which the merger hands to every worker
//! beside the node's own counts. Workers decide on local state only: no request waits on Redis,
//! and while Redis is away limits hold on this node's counts plus the last known others'.

use super::keys::LimitKeys;
use super::sync::Family;
use crate::config::access::{Period, Strategy, WindowType};
use crate::config::GatewayConfig;
use crate::limits::clock::{self, Now};
use crate::stats::limits::{RemoteWindow, Window};
use crate::stats::SharedRegistry;
use crossbeam::channel::Sender;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
use std::sync::{Arc, Mutex};

const SCRIPT: &str = include_str!("limits.lua");

/// Extra time the keys live past their window, for clocks that disagree a little.
const EXPIRY_SLACK_MS: u64 = 60_000;

/// The limiters that count fleet-wide, from the running config, with their windows.
#[derive(Default)]
pub struct KnownLimits {
    limiters: Vec<(Arc<str>, Vec<Spec>)>,
}

/// How a limiter's windows are laid out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spec {
    Period(Period),
    Seconds { seconds: u64, sliding: bool },
}

impl KnownLimits {
    pub fn of(config: &GatewayConfig) -> KnownLimits {
        let access = &config.access;
        let requests = (access.request_limits.iter())
            .filter(|l| l.strategy == Strategy::Redis)
            .map(|l| {
                let specs = l.limits.iter().map(|(p, _)| Spec::Period(*p)).collect();
                (Arc::from(l.id.as_str()), specs)
            });
        let tokens = (access.token_limits.iter())
            .filter(|l| l.strategy == Strategy::Redis)
            .map(|l| {
                let sliding = l.window_type == WindowType::Sliding;
                let seconds: BTreeSet<u64> = (l.providers.iter())
                    .flat_map(|p| p.windows.iter().map(|w| w.seconds))
                    .collect();
                let specs = (seconds.into_iter())
                    .map(|seconds| Spec::Seconds { seconds, sliding })
                    .collect();
                (Arc::from(l.id.as_str()), specs)
            });
        KnownLimits {
            limiters: requests.chain(tokens).collect(),
        }
    }

    /// One warning per limiter that asks for fleet-wide counting on a node that has no fleet
    /// (no `--redis`): it counts on this node only, as Kong's limiters do when Redis is away.
    pub fn without_fleet(&self) -> Vec<String> {
        (self.limiters.iter())
            .map(|(id, _)| {
                format!(
                    "{id}: `policy: redis` / `strategy: redis` counts on this node only, \
                     because llmux runs without --redis; start every node with the same \
                     --redis URL to share the count across the fleet"
                )
            })
            .collect()
    }

    /// The windows a limiter reads now: each period's or window's current one, and the one
    /// before it for a sliding window.
    fn live(specs: &[Spec], now: Now) -> Vec<Window> {
        let mut out = Vec::new();
        for spec in specs {
            match *spec {
                Spec::Period(p) => out.push(clock::period_window(p, now)),
                Spec::Seconds { seconds, sliding } => {
                    let w = clock::fixed_window(seconds, now);
                    out.push(w);
                    if sliding {
                        out.push(clock::previous(w));
                    }
                }
            }
        }
        out
    }
}

pub struct LimitsFamily {
    node: String,
    script: redis::Script,
    registry: SharedRegistry,
    known: Arc<Mutex<Arc<KnownLimits>>>,
    merger: Sender<Vec<RemoteWindow>>,
    /// The windows staged in the current round, in order, with what this node wrote for each
    /// identity (hex-encoded, as in Redis).
    staged: Vec<(Arc<str>, Window, HashMap<String, f64>)>,
}

impl LimitsFamily {
    pub fn new(
        node: String,
        registry: SharedRegistry,
        known: Arc<Mutex<Arc<KnownLimits>>>,
        merger: Sender<Vec<RemoteWindow>>,
    ) -> LimitsFamily {
        LimitsFamily {
            node,
            script: redis::Script::new(SCRIPT),
            registry,
            known,
            merger,
            staged: Vec::new(),
        }
    }
}

impl Family for LimitsFamily {
    fn stage(&mut self, pipe: &mut Vec<redis::Cmd>) -> usize {
        let known = self
            .known
            .lock()
            .map(|k| k.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        let merged = self.registry.lock().ok().and_then(|r| r.merged.clone());
        let now = Now::read();
        self.staged.clear();
        for (id, specs) in &known.limiters {
            let totals = merged.as_ref().and_then(|m| m.limits.get(id));
            let mut windows: BTreeSet<(u64, u64)> = KnownLimits::live(specs, now)
                .into_iter()
                .map(|w| (w.seconds, w.start))
                .collect();
            // Windows this node counted in that are still read (a sliding window's previous
            // one, a period that just ended).
            for list in totals.iter().flat_map(|t| t.identities.values()) {
                for (w, _) in list.iter().filter(|(w, _)| !w.expired(now.secs())) {
                    windows.insert((w.seconds, w.start));
                }
            }
            for (seconds, start) in windows {
                let window = Window { seconds, start };
                let mut blob = String::new();
                let mut sent = HashMap::new();
                for (identity, list) in totals.iter().flat_map(|t| t.identities.iter()) {
                    let Some((_, c)) = list.iter().find(|(w, _)| *w == window) else {
                        continue;
                    };
                    let count = c.node();
                    if count > 0.0 {
                        let hex = hex(identity);
                        let _ = writeln!(blob, "{hex}\t{count}");
                        sent.insert(hex, count);
                    }
                }
                let keys = LimitKeys::for_window(id, seconds, start);
                let expire_at = (start + 2 * seconds) * 1000 + EXPIRY_SLACK_MS;
                let mut cmd = redis::cmd("EVALSHA");
                cmd.arg(self.script.get_hash())
                    .arg(2)
                    .arg(&keys.nodes)
                    .arg(&keys.sum)
                    .arg(&self.node)
                    .arg(expire_at)
                    .arg(blob);
                pipe.push(cmd);
                self.staged.push((id.clone(), window, sent));
            }
        }
        self.staged.len()
    }

    fn absorb(&mut self, replies: Vec<redis::Value>) -> Result<(), String> {
        let mut windows = Vec::with_capacity(self.staged.len());
        for ((limiter, window, sent), reply) in self.staged.iter().zip(replies) {
            let mut others = Vec::new();
            for (hex_identity, value) in super::usage::pairs(reply)? {
                let fleet: f64 = value.parse().map_err(|_| {
                    format!("fleet rate-limit count for {limiter}: unreadable value {value:?}")
                })?;
                let mine = sent.get(&hex_identity).copied().unwrap_or(0.0);
                let rest = fleet - mine;
                if let (Some(identity), true) = (unhex(&hex_identity), rest > 1e-9) {
                    others.push((identity.into_boxed_slice(), rest));
                }
            }
            windows.push(RemoteWindow {
                limiter: limiter.clone(),
                window: *window,
                others,
            });
        }
        // The merger drains this every merge interval; a full queue only delays by one sync.
        let _ = self.merger.try_send(windows);
        Ok(())
    }

    fn leave(&mut self, _pipe: &mut Vec<redis::Cmd>) -> usize {
        // A node's counts outlive it: the requests it let through happened.
        0
    }

    fn scripts(&self) -> Vec<&'static str> {
        vec![SCRIPT]
    }
}

/// Identities are arbitrary bytes (header values); in Redis they are hex, so no tab or newline
/// of theirs can break the script's lines.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip_through_hex() {
        for id in [&b"c:alice"[..], b"h:a\tb\nc", b"", &[0, 255, 16]] {
            assert_eq!(unhex(&hex(id)).as_deref(), Some(id));
        }
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn a_round_writes_this_nodes_counts_and_hands_the_others_to_the_merger() {
        use crate::config::access::Period;
        use crate::stats::limits::{apply_reports, LimitReport};
        let now = Now::read();
        let year = clock::period_window(Period::Year, now);
        let mut merged = crate::stats::Merged::default();
        let report = |identity: &[u8], count| LimitReport {
            limiter: Arc::from("rl"),
            identity: identity.into(),
            window: year,
            count,
        };
        apply_reports(&mut merged.limits, 0, vec![report(b"c:alice", 3.0)]);
        apply_reports(&mut merged.limits, 1, vec![report(b"c:alice", 2.0)]);
        let registry = SharedRegistry::default();
        registry.lock().unwrap().merged = Some(Arc::new(merged));
        let known = KnownLimits {
            limiters: vec![(Arc::from("rl"), vec![Spec::Period(Period::Year)])],
        };
        let (tx, rx) = crossbeam::channel::bounded(4);
        let mut family = LimitsFamily::new(
            "node-a".into(),
            registry,
            Arc::new(Mutex::new(Arc::new(known))),
            tx,
        );
        let mut pipe = Vec::new();
        assert_eq!(family.stage(&mut pipe), 1, "one window, one script call");
        let args: Vec<Vec<u8>> = pipe[0]
            .args_iter()
            .filter_map(|a| match a {
                redis::Arg::Simple(b) => Some(b.to_vec()),
                _ => None,
            })
            .collect();
        let tag = format!("{{llmux:rl}}:limit:{}:{}", year.seconds, year.start);
        // EVALSHA sha 2 nodes sum node expire blob
        assert_eq!(args[0], b"EVALSHA");
        assert_eq!(args[3], format!("{tag}:nodes").into_bytes());
        assert_eq!(args[4], format!("{tag}:sum").into_bytes());
        assert_eq!(args[5], b"node-a");
        assert_eq!(args[7], format!("{}\t5\n", hex(b"c:alice")).into_bytes());

        // The fleet: alice 12 (5 of them ours), bob 4, a field written as 0 by a node.
        let bulk = |s: &str| redis::Value::BulkString(s.as_bytes().to_vec());
        let reply = redis::Value::Array(vec![
            bulk(&hex(b"c:alice")),
            bulk("12"),
            bulk(&hex(b"c:bob")),
            bulk("4"),
            bulk(&hex(b"c:carol")),
            bulk("0"),
        ]);
        family.absorb(vec![reply]).unwrap();
        let got = rx.try_recv().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((&*got[0].limiter, got[0].window), ("rl", year));
        let mut others = got[0].others.clone();
        others.sort_by(|a, b| a.0.cmp(&b.0));
        let expected: Vec<(Box<[u8]>, f64)> = vec![
            (b"c:alice".as_slice().into(), 7.0),
            (b"c:bob".as_slice().into(), 4.0),
        ];
        assert_eq!(others, expected);

        // A reply Redis could not have sent is an error of the round, not a panic.
        family.stage(&mut Vec::new());
        let err = family
            .absorb(vec![redis::Value::Array(vec![bulk("00"), bulk("x")])])
            .unwrap_err();
        assert!(err.contains("rl") && err.contains("\"x\""), "{err}");
    }

    #[test]
    fn only_redis_limiters_are_synced_with_their_windows() {
        let yaml = r#"_format_version: "3.0"
plugins:
  - name: rate-limiting
    config: {minute: 5, policy: local}
  - name: rate-limiting
    route: r
    config: {minute: 5, hour: 50, policy: redis}
  - name: ai-rate-limiting-advanced
    config:
      strategy: redis
      llm_providers: [{name: openai, limit: [10, 100], window_size: [60, 3600]}]
routes: [{name: r, paths: [/]}]
"#;
        let c = crate::config::load_str(yaml, "t", &|_| None)
            .unwrap()
            .config;
        let k = KnownLimits::of(&c);
        assert_eq!(k.limiters.len(), 2);
        assert_eq!(&*k.limiters[0].0, "rate-limiting@route:r");
        let now = Now {
            ms: 1_700_000_430_000,
        };
        let request = KnownLimits::live(&k.limiters[0].1, now);
        assert_eq!(request.len(), 2);
        let tokens = KnownLimits::live(&k.limiters[1].1, now);
        assert_eq!(
            tokens.len(),
            4,
            "sliding: current and previous of each size"
        );
    }
}
