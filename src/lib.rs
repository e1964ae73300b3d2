//! llmux: a thread-per-core LLM gateway that reads Kong `ai-proxy-advanced` configs.
//!
//! The crate is a library so that integration tests, benchmarks and the binary share one
//! implementation; `main.rs` only parses the command line and calls [`cli::run`].

pub mod admin;
pub mod balancer;
pub mod body;
pub mod cli;
pub mod config;
pub mod http1;
pub mod log;
pub mod metrics;
pub mod mock;
pub mod proxy;
pub mod server;
pub mod stats;
pub mod supervisor;
pub mod upstream;
pub mod usage;
