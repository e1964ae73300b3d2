//! Where a target's requests go ([`HttpPeer`]) and how llmux talks to it ([`PeerOptions`]),
//! both built once per config load, as pingora's `HttpPeer` and `PeerOptions` are: a request
//! never parses a host, clones a name or converts a timeout.

use super::resolve::Resolved;
use crate::config::{BalancerConfig, UpstreamUrl};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::time::Duration;

/// What makes two upstream connections interchangeable: same scheme, host (which is also the
/// TLS server name) and port. The keep-alive pool is keyed by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerKey {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for PeerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// One target's upstream endpoint.
#[derive(Debug, Clone)]
pub struct HttpPeer {
    pub key: PeerKey,
    /// The addresses the host resolved to at config load, or why it did not resolve.
    pub addrs: Result<Vec<SocketAddr>, String>,
    /// The TLS server name (SNI and certificate name), for `https` peers; an error when the host
    /// is not a valid name.
    pub server_name: Option<Result<ServerName<'static>, String>>,
}

impl HttpPeer {
    pub fn new(url: &UpstreamUrl, resolved: &Resolved) -> HttpPeer {
        let server_name = url.tls.then(|| {
            ServerName::try_from(url.host.clone())
                .map_err(|e| format!("invalid TLS server name {:?}: {e}", url.host))
        });
        HttpPeer {
            key: PeerKey {
                tls: url.tls,
                host: url.host.clone(),
                port: url.port,
            },
            addrs: resolved.addrs(&url.host, url.port).map(<[_]>::to_vec),
            server_name,
        }
    }
}

/// How every attempt on a plugin's targets is bounded (Kong's `balancer.*_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerOptions {
    /// TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Writing the whole request.
    pub write_timeout: Duration,
    /// Each wait between two reads from the provider, as nginx's `proxy_read_timeout`.
    pub read_timeout: Duration,
}

impl PeerOptions {
    pub fn of(b: &BalancerConfig) -> PeerOptions {
        PeerOptions {
            connect_timeout: Duration::from_millis(b.connect_timeout_ms),
            write_timeout: Duration::from_millis(b.write_timeout_ms),
            read_timeout: Duration::from_millis(b.read_timeout_ms),
        }
    }
}
