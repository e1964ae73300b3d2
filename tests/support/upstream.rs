//! A fake LLM provider on 127.0.0.1:0 that records every request exactly as received and answers
//! through a closure.

use super::reply::{write_reply, After, Reply};
use super::wire::{is_timeout, parse_head, Conn, WireReader};
use super::{find_header, header_has_token, json_str_at, parse_json, TestCa};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The exact bytes of the request line and headers, up to and including CRLFCRLF.
    pub raw_head: Vec<u8>,
    pub method: String,
    /// The request target as sent, query included.
    pub path: String,
    /// `HTTP/1.1`.
    pub version: String,
    /// As received: original case and order, values trimmed.
    pub headers: Vec<(String, String)>,
    /// Decoded body (Content-Length or chunked).
    pub body: Vec<u8>,
    /// The body bytes exactly as on the wire (chunk framing included).
    pub raw_body: Vec<u8>,
    /// Which accepted connection carried it (0, 1, ... in accept order).
    pub conn_id: usize,
    /// Position among all requests this upstream received (0, 1, ...).
    pub index: usize,
    pub received_at: Instant,
}

impl Recorded {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Every value of header `name`, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn head_str(&self) -> String {
        String::from_utf8_lossy(&self.raw_head).into_owned()
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON (panics if it is not JSON).
    pub fn body_json(&self) -> simd_json::OwnedValue {
        parse_json(&self.body).unwrap_or_else(|e| panic!("upstream request body: {e}"))
    }

    /// The body's top-level `model` string, if the body is JSON and has one.
    /// The body as a serde_json value (panics when it is not JSON).
    pub fn body_json_serde(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("upstream body is not JSON ({e}): {}", self.body_str()))
    }

    pub fn body_json_model(&self) -> Option<String> {
        json_str_at(&parse_json(&self.body).ok()?, &["model"])
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync + 'static;

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    handler: Box<Handler>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    connections: usize,
    aborted: usize,
    errors: Vec<String>,
    open: HashMap<usize, TcpStream>,
    shutdown: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `done(state)` or `timeout`; returns the final guard and whether it held.
    fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&State) -> bool,
    ) -> (MutexGuard<'_, State>, bool) {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if done(&state) {
                return (state, true);
            }
            let now = Instant::now();
            if now >= deadline {
                return (state, false);
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Sleeps `d` unless shut down meanwhile; false if shut down.
    fn sleep(&self, d: Duration) -> bool {
        !self.wait_until(d, |s| s.shutdown).1
    }

    fn note_error(&self, conn_id: usize, e: impl std::fmt::Display) {
        let msg = format!("upstream connection {conn_id}: {e}");
        eprintln!("{msg}");
        self.lock().errors.push(msg);
        self.changed.notify_all();
    }
}

/// The fake provider. Dropping it closes the listener and every open connection.
pub struct RecordingUpstream {
    addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl RecordingUpstream {
    /// Plain HTTP on 127.0.0.1:0.
    pub fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        Self::spawn(Box::new(handler), None)
    }

    /// HTTPS with a certificate for `localhost` and `127.0.0.1` signed by a fresh [`TestCa`].
    pub fn start_tls(
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> (Self, TestCa) {
        let ca = TestCa::new();
        (Self::start_tls_with_ca(&ca, handler), ca)
    }

    /// HTTPS with a certificate signed by `ca` (several upstreams trusted through one CA file).
    pub fn start_tls_with_ca(
        ca: &TestCa,
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let config = ca.server_config(&["localhost", "127.0.0.1"]);
        Self::spawn(Box::new(handler), Some(config))
    }

    fn spawn(handler: Box<Handler>, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding upstream");
        let addr = listener.local_addr().unwrap();
        let is_tls = tls.is_some();
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            changed: Condvar::new(),
            handler,
            tls,
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::spawn(move || accept_loop(listener, shared))
        };
        RecordingUpstream {
            addr,
            tls: is_tls,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/path`, or `https://localhost:PORT/path` for TLS.
    pub fn url(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        if self.tls {
            format!("https://localhost:{}/{path}", self.addr.port())
        } else {
            format!("http://{}/{path}", self.addr)
        }
    }

    /// `https://127.0.0.1:PORT/path` for TLS (the certificate has the IP too), else as `url`.
    pub fn url_ip(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// Waits until at least `n` requests arrived; panics after `timeout`.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let (state, ok) = self.shared.wait_until(timeout, |s| s.requests.len() >= n);
        if !ok {
            panic!(
                "upstream {} got {} of {n} expected requests within {timeout:?}; errors: {:?}",
                self.addr,
                state.requests.len(),
                state.errors
            );
        }
        state.requests.clone()
    }

    /// TCP connections accepted so far (to prove keep-alive reuse).
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        self.shared.lock().open.len()
    }

    /// Replies the peer abandoned: a write failed, or it closed during a `hang`.
    pub fn aborted(&self) -> usize {
        self.shared.lock().aborted
    }

    /// Waits until at least `n` replies were abandoned by the peer; panics after `timeout`.
    pub fn wait_for_aborted(&self, n: usize, timeout: Duration) {
        let (state, ok) = self.shared.wait_until(timeout, |s| s.aborted >= n);
        assert!(
            ok,
            "upstream {}: {} of {n} expected aborted replies within {timeout:?}",
            self.addr, state.aborted
        );
    }

    /// Waits until no connection is open (e.g. the gateway dropped its pooled ones).
    pub fn wait_for_no_open_connections(&self, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |s| s.open.is_empty()).1
    }

    /// Connection-level errors seen (bad requests, TLS handshake failures, ...).
    pub fn errors(&self) -> Vec<String> {
        self.shared.lock().errors.clone()
    }

    /// Shuts down every open connection (the gateway's pooled connections go stale).
    pub fn close_connections(&self) {
        for stream in self.shared.lock().open.values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for RecordingUpstream {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.changed.notify_all();
        // Wake the blocking accept() so the acceptor sees the shutdown flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        self.close_connections();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let conn_id = {
            let mut state = shared.lock();
            if state.shutdown {
                return;
            }
            let id = state.connections;
            state.connections += 1;
            if let Ok(clone) = stream.try_clone() {
                state.open.insert(id, clone);
            }
            id
        };
        shared.changed.notify_all();
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        std::thread::spawn(move || {
            match shared.tls.clone() {
                None => serve(stream, conn_id, &shared),
                Some(config) => match rustls::ServerConnection::new(config) {
                    Ok(conn) => serve(rustls::StreamOwned::new(conn, stream), conn_id, &shared),
                    Err(e) => shared.note_error(conn_id, e),
                },
            }
            shared.lock().open.remove(&conn_id);
            shared.changed.notify_all();
        });
    }
}

fn serve<C: Conn>(conn: C, conn_id: usize, shared: &Shared) {
    let mut wire = WireReader::new(conn);
    loop {
        let req = match read_request(&mut wire, conn_id) {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => {
                if !shared.lock().shutdown {
                    shared.note_error(conn_id, e);
                }
                return;
            }
        };
        let close =
            req.version == "HTTP/1.0" || header_has_token(&req.headers, "Connection", "close");
        let req = {
            let mut state = shared.lock();
            let req = Recorded {
                index: state.requests.len(),
                ..req
            };
            state.requests.push(req.clone());
            req
        };
        shared.changed.notify_all();
        let reply = catch_unwind(AssertUnwindSafe(|| (shared.handler)(&req)))
            .unwrap_or_else(|_| Reply::json(500, r#"{"error":"test upstream handler panicked"}"#));
        let sleep = |d| shared.sleep(d);
        let mut hang = |c: &mut C, d| hang_until_peer_closes(c, d, shared);
        let after = write_reply(wire.get_mut(), &reply, close, &sleep, &mut hang)
            .unwrap_or(After::PeerGone);
        match after {
            After::KeepAlive => continue,
            After::Close => wire.get_mut().finish(),
            After::Abort => {}
            After::PeerGone => {
                shared.lock().aborted += 1;
                shared.changed.notify_all();
            }
        }
        return;
    }
}

/// Sends nothing for `d`; true if the peer closed meanwhile. Bytes the peer sends are dropped.
fn hang_until_peer_closes<C: Conn>(conn: &mut C, d: Duration, shared: &Shared) -> bool {
    let deadline = Instant::now() + d;
    let mut scratch = [0u8; 4096];
    loop {
        let now = Instant::now();
        if now >= deadline || shared.lock().shutdown {
            return false;
        }
        let _ = conn.tcp().set_read_timeout(Some(deadline - now));
        match conn.read(&mut scratch) {
            Ok(0) => return !shared.lock().shutdown,
            Ok(_) => continue,
            Err(e) if is_timeout(&e) => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return !shared.lock().shutdown,
        }
    }
}

fn read_request<C: Conn>(wire: &mut WireReader<C>, conn_id: usize) -> io::Result<Option<Recorded>> {
    let Some(raw_head) = wire.read_head()? else {
        return Ok(None);
    };
    let received_at = Instant::now();
    let head = parse_head(&raw_head)?;
    let [method, path, version] = head.parts;
    let headers = head.headers;
    let chunked = header_has_token(&headers, "Transfer-Encoding", "chunked");
    let length = match find_header(&headers, "Content-Length") {
        Some(v) if !chunked => Some(v.parse::<usize>().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad Content-Length {v:?}"),
            )
        })?),
        _ => None,
    };
    let has_body = chunked || length.is_some_and(|n| n > 0);
    if has_body && header_has_token(&headers, "Expect", "100-continue") {
        wire.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        wire.get_mut().flush()?;
    }
    wire.start_capture();
    let body = if chunked {
        let mut body = Vec::new();
        while let Some(chunk) = wire.read_chunk()? {
            body.extend_from_slice(&chunk);
        }
        body
    } else {
        wire.read_n(length.unwrap_or(0))?
    };
    Ok(Some(Recorded {
        raw_head,
        method,
        path,
        version,
        headers,
        body,
        raw_body: wire.take_capture(),
        conn_id,
        index: 0,
        received_at,
    }))
}
