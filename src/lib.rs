//! llmux: a thread-per-core LLM gateway that reads Kong `ai-proxy-advanced` configs.
//!
//! Apps send OpenAI-style requests naming a `model` alias; llmux picks a target for it (by
//! round-robin, usage, latency, connections, hash or priority), injects the provider's key,
//! fails over, streams the answer back and counts every token. Each core runs its own monoio
//! event loop with its own copy of everything a request touches; cores exchange counts over
//! crossbeam channels every merge interval.
//!
//! # Layout
//!
//! Modules are listed from the bottom layer up; each uses only modules above it in this list.
//!
//! - [`log`]: start-up and reload logging (the request path never logs).
//! - [`http1`]: HTTP/1.1 heads, chunked framing, read buffers, and `ClientConn`, the one type
//!   that owns a client's socket.
//! - [`body`]: the simd-json scan that finds `model` and friends, and the splice that forwards
//!   the client's bytes with `model` replaced.
//! - [`config`]: Kong decK files to a routing table of AI plugins and targets, with Kong's
//!   defaults and every error's YAML path.
//! - [`usage`]: token usage from JSON and SSE responses; the tokenizer thread for providers
//!   that report none.
//! - [`stats`]: per-core counters and latency histograms, the merger thread that sums cores.
//! - [`balancer`]: the balancing algorithms and a plugin's per-core balancer state.
//! - `upstream`: peers, connections, the keep-alive pool, one request/response exchange.
//! - [`provider`]: the provider seam: what differs between providers (request building, auth,
//!   signing, translation to and from other APIs, response filtering, usage).
//! - `access`, `limits`: who may call (`key-auth`, `acl`) and how often (`rate-limiting`,
//!   `ai-rate-limiting-advanced`), on the request path, over the tables `config` built.
//! - `settings`, `sinks`, `ctx`: command-line settings, log writer threads, and a worker's
//!   state (`WorkerCtx`, one config `Generation`).
//! - `proxy`: the request path, from a parsed head to a relayed answer and its bookkeeping.
//! - `server`: worker threads, listeners, the merge tick, reload and shutdown.
//! - `fleet`: several nodes on one Redis: the usage sync thread (other nodes' usage reaches the
//!   workers through the merger) and the fleet-wide configuration store. Never on a worker.
//! - `admin`: the admin listener, `/status`, `/metrics`, `.hgrm`, the Kong Admin API.
//! - `supervisor`, `mock`, [`cli`]: the main thread (signals, reloads), the mock provider,
//!   the command line.
//!
//! # Where a request goes
//!
//! Start at `proxy::connection::serve` (spawned by `server::worker` for each accepted
//! socket), then `proxy::proxy`, the retry loop, which reads in one screen.
//! `docs/lifecycle.md` follows one request from accept to the merged counters, step by step.
//!
//! The crate is a library so that integration tests, benchmarks and fuzz targets share one
//! implementation; `main.rs` only calls [`cli::run`]. Modules benches and fuzz targets use are
//! public; the rest is `pub(crate)`, so the compiler reports dead code.

pub mod log;

pub mod balancer;
pub mod body;
pub mod cli;
pub mod config;
pub mod http1;
pub mod provider;
pub mod stats;
pub mod usage;

mod access;
mod admin;
#[cfg(test)]
mod alloc_count;
mod ctx;
mod deadline;
mod fleet;
mod limits;
mod mock;
mod proxy;
mod server;
mod settings;
mod sinks;
mod supervisor;
mod upstream;
