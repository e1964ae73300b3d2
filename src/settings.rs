//! Worker settings that come from the command line, not the YAML: listen-side timeouts, limits,
//! pools and the merge interval (Kong puts these in `kong.conf`, not in the declarative file).

use crate::http1::Limits;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IoDriver {
    /// io_uring when the kernel allows it, else epoll (logged).
    Auto,
    IoUring,
    Epoll,
}

impl IoDriver {
    /// `Auto` decided: io_uring if the kernel offers every op monoio uses (and
    /// `MONOIO_FORCE_LEGACY_DRIVER` is not set), else epoll.
    pub fn resolve(self) -> IoDriver {
        match self {
            IoDriver::Auto if monoio::utils::detect_uring() => IoDriver::IoUring,
            IoDriver::Auto => IoDriver::Epoll,
            d => d,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub io_driver: IoDriver,
    pub uring_entries: u32,
    pub limits: Limits,
    /// Whole request head must arrive within this once its first byte has.
    pub header_timeout: Duration,
    /// Idle wait for the next request on a kept-alive connection.
    pub keepalive_timeout: Duration,
    /// Longest wait between two reads of a request body.
    pub body_timeout: Duration,
    /// Longest a TLS client may take to complete its handshake.
    pub tls_handshake_timeout: Duration,
    /// Graceful-shutdown deadline for in-flight requests.
    pub shutdown_timeout: Duration,
    pub pool_max_idle: usize,
    pub pool_idle_timeout: Duration,
    /// How often each core exchanges usage and latency with the merger.
    pub merge_interval: Duration,
    /// Open client connections per worker beyond which new ones are refused with a 503.
    pub max_connections: usize,
    /// Record latency histograms (for /status, /metrics, /histograms). Off only to measure
    /// what recording costs.
    pub metrics: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            io_driver: IoDriver::Auto,
            uring_entries: 1024,
            limits: Limits::default(),
            header_timeout: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            pool_max_idle: 128,
            pool_idle_timeout: Duration::from_secs(50),
            merge_interval: Duration::from_millis(50),
            max_connections: 16_384,
            metrics: true,
        }
    }
}
