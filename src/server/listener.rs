//! Listening sockets: one `SO_REUSEPORT` socket per worker and address, so the kernel spreads
//! connections across cores with no shared accept queue.
//!
//! Sockets are made on the main thread (a port-0 address is resolved to a real port by the
//! first bind, and every other worker binds that same port) and handed to the workers, which
//! adopt them into their own runtimes.

use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;

/// The kernel caps this at `net.core.somaxconn` (4096 by default on current kernels); asking
/// for more lets a burst of thousands of connects queue instead of falling back to SYN retries.
const BACKLOG: i32 = 65_535;

fn bind_one(addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| format!("creating a socket for {addr}: {e}"))?;
    socket
        .set_reuse_port(true)
        .and_then(|_| socket.set_reuse_address(true))
        .and_then(|_| socket.set_nonblocking(true))
        .map_err(|e| format!("setting socket options for {addr}: {e}"))?;
    socket
        .bind(&addr.into())
        .map_err(|e| format!("binding {addr}: {e}"))?;
    socket
        .listen(BACKLOG)
        .map_err(|e| format!("listening on {addr}: {e}"))?;
    Ok(socket.into())
}

/// Binds every address once per worker. Returns the listeners grouped by worker and the
/// actual bound addresses (port 0 replaced by the chosen port).
pub fn bind_all(
    addrs: &[SocketAddr],
    workers: usize,
) -> Result<(Vec<Vec<std::net::TcpListener>>, Vec<SocketAddr>), String> {
    let mut per_worker: Vec<Vec<std::net::TcpListener>> =
        (0..workers).map(|_| Vec::new()).collect();
    let mut bound = Vec::with_capacity(addrs.len());
    for &addr in addrs {
        let first = bind_one(addr)?;
        let actual = first
            .local_addr()
            .map_err(|e| format!("reading the bound address of {addr}: {e}"))?;
        per_worker[0].push(first);
        for listeners in per_worker.iter_mut().skip(1) {
            listeners.push(bind_one(actual)?);
        }
        bound.push(actual);
    }
    Ok((per_worker, bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_is_shared_by_all_workers() {
        let (per_worker, bound) = bind_all(&["127.0.0.1:0".parse().unwrap()], 3).unwrap();
        assert_ne!(bound[0].port(), 0);
        for l in per_worker.iter().flatten() {
            assert_eq!(l.local_addr().unwrap(), bound[0]);
        }
    }
}
