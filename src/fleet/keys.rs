//! Every Redis key and channel llmux uses, in one place, so the names docs/fleet.md lists are
//! the names the code writes.
//!
//! Redis Cluster runs a script or a pipeline's commands for one slot on one shard only, so all
//! keys one script touches share a hash tag (the part between `{` and `}`, the only part Cluster
//! hashes): per plugin `{llmux:<plugin id>}`, for the configuration `{llmux:config}`. A later
//! family of shared counters (rate-limit windows, say) puts its keys under the same per-plugin
//! tag, so its script lands on the same shard as the plugin's usage.

/// Prefix of every key and channel, so llmux's keys are easy to find and to ACL
/// (`~llmux:*`, `&llmux:*`).
pub const PREFIX: &str = "llmux";

/// The hash tag of one plugin's keys: `{llmux:<id>}`. Braces inside the id would end or
/// restart the tag (Cluster hashes only up to the first `}`), so such ids are hex-encoded.
pub fn plugin_tag(plugin_id: &str) -> String {
    if plugin_id.contains(['{', '}']) {
        let hex: String = plugin_id.bytes().map(|b| format!("{b:02x}")).collect();
        format!("{{{PREFIX}:x{hex}}}")
    } else {
        format!("{{{PREFIX}:{plugin_id}}}")
    }
}

/// The three keys of one plugin's fleet usage (see `usage.lua`).
pub struct UsageKeys {
    /// Hash: node id → that node's cumulative usage per target.
    pub nodes: String,
    /// Hash: target → the sum over `nodes`.
    pub sum: String,
    /// Sorted set: node id → when its lease ends (ms on the Redis clock).
    pub live: String,
}

impl UsageKeys {
    pub fn for_plugin(plugin_id: &str) -> UsageKeys {
        let tag = plugin_tag(plugin_id);
        UsageKeys {
            nodes: format!("{tag}:usage:nodes"),
            sum: format!("{tag}:usage:sum"),
            live: format!("{tag}:usage:live"),
        }
    }
}

/// The two keys of one window of one rate limiter's fleet counts (see `limits.lua`), under the
/// limiter's own hash tag.
pub struct LimitKeys {
    /// Hash: `<node>\t<identity>` → that node's count.
    pub nodes: String,
    /// Hash: identity → the sum over `nodes`.
    pub sum: String,
}

impl LimitKeys {
    pub fn for_window(limiter: &str, seconds: u64, start: u64) -> LimitKeys {
        let tag = plugin_tag(limiter);
        LimitKeys {
            nodes: format!("{tag}:limit:{seconds}:{start}:nodes"),
            sum: format!("{tag}:limit:{seconds}:{start}:sum"),
        }
    }
}

/// Hash holding the fleet's configuration: `version`, `yaml`, `node` (who wrote it).
pub const CONFIG: &str = "{llmux:config}:state";
/// Pub/sub channel a configuration change is announced on (the message is the new version).
pub const CONFIG_CHANNEL: &str = "{llmux:config}:changes";

/// The Redis Cluster slot of `key`: CRC16 (XMODEM) of its hash tag, or of the whole key when it
/// has none, modulo 16384. Only used to check that keys meant to share a slot do.
#[cfg(test)]
pub fn cluster_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = match bytes.iter().position(|&b| b == b'{') {
        Some(open) => match bytes[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &bytes[open + 1..open + 1 + len],
            _ => bytes,
        },
        None => bytes,
    };
    crc16_xmodem(hashed) % 16384
}

#[cfg(test)]
fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_function_matches_the_redis_cluster_spec_examples() {
        // From the Redis Cluster specification: CRC16("123456789") = 0x31C3.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        assert_eq!(cluster_slot("foo"), 12182);
        assert_eq!(
            cluster_slot("{user1000}.following"),
            cluster_slot("user1000")
        );
        assert_eq!(cluster_slot("foo{}{bar}"), cluster_slot("foo{}{bar}"));
        assert_ne!(cluster_slot("foo{}{bar}"), cluster_slot("bar"));
    }

    #[test]
    fn a_plugins_keys_share_one_slot_whatever_its_id() {
        for id in [
            "ai-proxy-advanced@global",
            "5f1c7a2e-9a43-4b8e-8f0e-0d5a1c2b3e4f",
            "odd}id",
            "{braced}",
            "}",
            "",
        ] {
            let k = UsageKeys::for_plugin(id);
            let slot = cluster_slot(&k.nodes);
            assert_eq!(cluster_slot(&k.sum), slot, "{id}");
            assert_eq!(cluster_slot(&k.live), slot, "{id}");
            assert!(k.nodes.starts_with("{llmux:"), "{}", k.nodes);
        }
        assert_eq!(cluster_slot(CONFIG), cluster_slot(CONFIG_CHANNEL));
        let l = LimitKeys::for_window("rate-limiting@global", 60, 1_700_000_040);
        assert_eq!(cluster_slot(&l.nodes), cluster_slot(&l.sum));
        assert_eq!(
            l.sum,
            "{llmux:rate-limiting@global}:limit:60:1700000040:sum"
        );
        // Different plugins spread over the cluster rather than all landing on one shard.
        let slots: std::collections::HashSet<u16> = (0..50)
            .map(|i| cluster_slot(&UsageKeys::for_plugin(&format!("plugin-{i}")).sum))
            .collect();
        assert!(slots.len() > 40, "{}", slots.len());
    }
}
