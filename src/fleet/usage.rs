//! The usage family: every sync, this node's cumulative usage per target goes to Redis and the
//! fleet totals come back, one script call per AI plugin, all in the round's one pipeline.
//!
//! What is written is absolute (everything this node counted since it started), never an
//! increment, so the exchange is idempotent: a retried or duplicated call, a reply lost to a
//! timeout, or a Redis that restarted empty can neither count anything twice nor lose it; the
//! next successful sync simply states the truth again. `usage.lua` keeps the fleet sum by moving
//! it by each node's (new - old). Counts gathered while Redis is away are part of the next
//! absolute value, so they are "kept and sent on recovery" by construction, in memory bounded
//! by the number of targets. docs/decisions.md ("Fleet") has the reasoning.
//!
//! What comes back is turned into `others` (fleet total minus exactly what this node wrote in
//! the same call) and handed to the merger, which gives it to every worker beside the node's
//! own totals; see `stats::merger::Merged`.

use super::keys::UsageKeys;
use super::sync::Family;
use crate::config::{GatewayConfig, TargetId, TargetKey};
use crate::stats::{RemoteTotals, SharedRegistry, Tally};
use crossbeam::channel::Sender;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

const SCRIPT: &str = include_str!("usage.lua");

/// What the fleet syncs, from the running config: every AI plugin and its targets.
#[derive(Default)]
pub struct Known {
    plugins: Vec<KnownPlugin>,
}

struct KnownPlugin {
    id: String,
    keys: UsageKeys,
    /// Redis field name → the target it names.
    fields: HashMap<String, TargetKey>,
}

impl Known {
    pub fn of(config: &GatewayConfig) -> Known {
        let plugins = config
            .plugins()
            .iter()
            .map(|p| KnownPlugin {
                id: p.id.clone(),
                keys: UsageKeys::for_plugin(&p.id),
                fields: p
                    .targets
                    .iter()
                    .map(|t| (field(&t.key), t.key.clone()))
                    .collect(),
            })
            .collect();
        Known { plugins }
    }
}

/// A target's field name inside its plugin's keys: its identity as a JSON array
/// (`["openai","gpt-4o","fast","https://api.openai.com:443/v1/chat/completions",1]`), which
/// holds no tab or newline (the script's separators) and reads back unambiguously.
pub fn field(key: &TargetId) -> String {
    serde_json::to_string(&(
        key.provider.as_str(),
        &key.model,
        &key.alias,
        &key.upstream,
        key.occurrence,
    ))
    .unwrap_or_default()
}

pub struct UsageFamily {
    node: String,
    lease_ms: u64,
    script: redis::Script,
    registry: SharedRegistry,
    known: Arc<Mutex<Arc<Known>>>,
    merger: Sender<Arc<RemoteTotals>>,
    /// The plugins staged in the current round, in order, and what was written for each.
    staged: Vec<(usize, HashMap<String, Tally>)>,
    staged_known: Arc<Known>,
}

impl UsageFamily {
    pub fn new(
        node: String,
        lease_ms: u64,
        registry: SharedRegistry,
        known: Arc<Mutex<Arc<Known>>>,
        merger: Sender<Arc<RemoteTotals>>,
    ) -> UsageFamily {
        UsageFamily {
            node,
            lease_ms,
            script: redis::Script::new(SCRIPT),
            registry,
            known,
            merger,
            staged: Vec::new(),
            staged_known: Arc::new(Known::default()),
        }
    }

    fn call(&self, keys: &UsageKeys, blob: &str, leaving: bool) -> redis::Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.script.get_hash())
            .arg(3)
            .arg(&keys.nodes)
            .arg(&keys.sum)
            .arg(&keys.live)
            .arg(&self.node)
            .arg(self.lease_ms)
            .arg(blob)
            .arg(if leaving { "1" } else { "0" });
        cmd
    }
}

impl Family for UsageFamily {
    fn stage(&mut self, pipe: &mut Vec<redis::Cmd>) -> usize {
        let known = self
            .known
            .lock()
            .map(|k| k.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        let merged = self.registry.lock().ok().and_then(|r| r.merged.clone());
        let mut own: HashMap<&str, Vec<(&TargetKey, Tally)>> = HashMap::new();
        if let Some(m) = &merged {
            for (key, t) in &m.targets {
                if has_usage(&t.tally) {
                    own.entry(key.plugin.as_str())
                        .or_default()
                        .push((key, t.tally));
                }
            }
        }
        self.staged.clear();
        for (i, plugin) in known.plugins.iter().enumerate() {
            let mut blob = String::new();
            let mut sent = HashMap::new();
            for (key, tally) in own.get(plugin.id.as_str()).into_iter().flatten() {
                let name = field(key);
                let _ = writeln!(
                    blob,
                    "{name}\t{}\t{}\t{}\t{}\t{}",
                    tally.requests,
                    tally.prompt_tokens,
                    tally.completion_tokens,
                    tally.total_tokens,
                    tally.cost
                );
                sent.insert(name, usage_only(tally));
            }
            pipe.push(self.call(&plugin.keys, &blob, false));
            self.staged.push((i, sent));
        }
        self.staged_known = known;
        self.staged.len()
    }

    fn absorb(&mut self, replies: Vec<redis::Value>) -> Result<(), String> {
        let mut others = RemoteTotals::new();
        for ((index, sent), reply) in self.staged.iter().zip(replies) {
            let Some(plugin) = self.staged_known.plugins.get(*index) else {
                continue;
            };
            for (name, value) in pairs(reply)? {
                let Some(key) = plugin.fields.get(&name) else {
                    continue; // a target this node's config does not have, or the marker
                };
                let fleet = parse_tally(&value).ok_or_else(|| {
                    format!("fleet usage for {key}: unreadable value {value:?} in Redis")
                })?;
                let remote = minus(fleet, sent.get(&name).copied().unwrap_or_default());
                if has_usage(&remote) {
                    others.insert(key.clone(), remote);
                }
            }
        }
        // The merger drains this every merge interval; a full queue only delays by one sync.
        let _ = self.merger.try_send(Arc::new(others));
        Ok(())
    }

    fn leave(&mut self, pipe: &mut Vec<redis::Cmd>) -> usize {
        let known = self
            .known
            .lock()
            .map(|k| k.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        for plugin in &known.plugins {
            pipe.push(self.call(&plugin.keys, "", true));
        }
        known.plugins.len()
    }

    fn scripts(&self) -> Vec<&'static str> {
        vec![SCRIPT]
    }
}

fn has_usage(t: &Tally) -> bool {
    t.requests > 0
        || t.prompt_tokens > 0
        || t.completion_tokens > 0
        || t.total_tokens > 0
        || t.cost > 0.0
}

/// What the fleet shares of a tally: usage, not failures.
fn usage_only(t: &Tally) -> Tally {
    Tally { failures: 0, ..*t }
}

fn minus(a: Tally, b: Tally) -> Tally {
    Tally {
        requests: a.requests.saturating_sub(b.requests),
        failures: 0,
        prompt_tokens: a.prompt_tokens.saturating_sub(b.prompt_tokens),
        completion_tokens: a.completion_tokens.saturating_sub(b.completion_tokens),
        total_tokens: a.total_tokens.saturating_sub(b.total_tokens),
        cost: (a.cost - b.cost).max(0.0),
    }
}

/// `r\tp\tc\tt\tcost` as the script writes it.
fn parse_tally(text: &str) -> Option<Tally> {
    let mut it = text.split('\t');
    let mut int = || -> Option<u64> {
        let v: f64 = it.next()?.parse().ok()?;
        (v.is_finite() && v >= 0.0).then_some(v as u64)
    };
    let (requests, prompt_tokens, completion_tokens, total_tokens) =
        (int()?, int()?, int()?, int()?);
    let cost: f64 = it.next()?.parse().ok()?;
    Some(Tally {
        requests,
        failures: 0,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        cost: if cost.is_finite() { cost.max(0.0) } else { 0.0 },
    })
}

/// A flat `[field, value, field, value...]` reply (HGETALL's) as string pairs.
pub(super) fn pairs(reply: redis::Value) -> Result<Vec<(String, String)>, String> {
    let items = match reply {
        redis::Value::Array(items) => items,
        redis::Value::Map(map) => map.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => return Err(format!("fleet usage script answered {other:?}")),
    };
    let text = |v: redis::Value| match v {
        redis::Value::BulkString(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        redis::Value::SimpleString(s) => Ok(s),
        other => Err(format!(
            "fleet usage script answered {other:?} in its totals"
        )),
    };
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((text(k)?, text(v)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_key;

    #[test]
    fn field_names_are_json_without_separators() {
        let mut id = TargetId::clone(&test_key("gpt\t4\nx"));
        id.alias = "a|b".into();
        let f = field(&id);
        assert!(!f.contains('\t') && !f.contains('\n'), "{f}");
        assert_eq!(f, r#"["openai","gpt\t4\nx","a|b","u",1]"#);
        id.occurrence = 2;
        assert_ne!(field(&id), f);
    }

    #[test]
    fn totals_read_back_and_subtract_this_nodes_share() {
        let fleet = parse_tally("4\t40\t10\t50\t0.75").unwrap();
        assert_eq!(
            (fleet.requests, fleet.prompt_tokens, fleet.total_tokens),
            (4, 40, 50)
        );
        let own = Tally {
            requests: 1,
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 15,
            cost: 0.5,
            failures: 3,
        };
        let others = minus(fleet, usage_only(&own));
        assert_eq!(others.prompt_tokens, 30);
        assert_eq!(others.completion_tokens, 5);
        assert_eq!(others.failures, 0);
        assert!((others.cost - 0.25).abs() < 1e-12);
        assert!(parse_tally("1\t2\t3").is_none());
        assert!(parse_tally("x\t2\t3\t4\t0").is_none());
    }
}
