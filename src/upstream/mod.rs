//! Talking to providers: address resolution, plain and TLS connections, the per-worker
//! keep-alive pool, and one request/response exchange.

pub mod exchange;
pub mod io;
pub mod peer;
pub mod pool;
pub mod request_buf;
pub mod resolve;
pub mod tls;

pub use exchange::{AttemptError, FailKind, UpstreamConn};
pub use peer::{HttpPeer, PeerOptions};
pub use pool::Pool;
pub use request_buf::RequestBuf;
pub use resolve::Resolved;
