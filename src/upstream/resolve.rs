//! Upstream address resolution, done once per config load on the main thread.
//!
//! Workers never call the resolver: a blocking `getaddrinfo` on an event loop would stall every
//! connection on that core. A name that does not resolve at load time is not fatal (the machine
//! may be offline, or the provider unused); requests to it fail with 502 naming the host.

use crate::config::GatewayConfig;
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};

/// Host and port to the addresses found, or the resolver's error text.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    map: HashMap<(String, u16), Result<Vec<SocketAddr>, String>>,
}

impl Resolved {
    /// Resolves every upstream host named by `config`; returns warnings for names that failed.
    pub fn for_config(config: &GatewayConfig) -> (Resolved, Vec<String>) {
        let mut resolved = Resolved::default();
        let mut warnings = Vec::new();
        for plugin in config.plugins() {
            for t in &plugin.targets {
                let key = (t.upstream.host.clone(), t.upstream.port);
                if resolved.map.contains_key(&key) {
                    continue;
                }
                let result = lookup(&key.0, key.1);
                if let Err(e) = &result {
                    warnings.push(format!(
                        "upstream {}:{} does not resolve ({e}); requests to it will fail with 502",
                        key.0, key.1
                    ));
                }
                resolved.map.insert(key, result);
            }
        }
        (resolved, warnings)
    }

    pub fn addrs(&self, host: &str, port: u16) -> Result<&[SocketAddr], String> {
        match self.map.get(&(host.to_string(), port)) {
            Some(Ok(a)) => Ok(a),
            Some(Err(e)) => Err(format!("{host}:{port} does not resolve: {e}")),
            None => Err(format!("{host}:{port} was not resolved at config load")),
        }
    }
}

fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .collect();
    if addrs.is_empty() {
        return Err("no addresses".into());
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_resolver() {
        assert_eq!(
            lookup("127.0.0.1", 80).unwrap(),
            vec!["127.0.0.1:80".parse().unwrap()]
        );
        assert_eq!(lookup("[::1]", 443).unwrap()[0].port(), 443);
        assert!(lookup("localhost", 1).is_ok());
    }
}
