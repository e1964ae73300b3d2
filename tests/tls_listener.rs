//! TLS on the proxy listener: `--listen-tls` with `--tls-cert`/`--tls-key` from a CA made in
//! the test; TLS 1.2 and 1.3, ALPN `http/1.1`, the same limits and errors as the plain
//! listener, certificate reloads without dropping connections, handshake timeouts, and a client
//! that hangs up over TLS cancelling its upstream request.

mod support;

use std::io::{Read, Write};
use std::time::Duration;
use support::kong::{assert_good_chat, fixture};
use support::*;

const CHAT: &str = r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;

struct Tls {
    gw: Gateway,
    up: RecordingUpstream,
    ca: TestCa,
    cert: TempFile,
    key: TempFile,
}

fn start_with(up: RecordingUpstream, extra: &[&str]) -> Tls {
    let ca = TestCa::new();
    let (cert, key) = ca.leaf_pem_files(&["localhost", "127.0.0.1"]);
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-3.5-turbo",
            up.url("/v1/chat/completions"),
        )],
        "",
    );
    let mut args = vec![
        "--listen-tls".to_string(),
        "127.0.0.1:0".into(),
        "--tls-cert".into(),
        cert.path_str().into(),
        "--tls-key".into(),
        key.path_str().into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let gw = Gateway::start_with(
        &yaml,
        GatewayOpts {
            args,
            ..GatewayOpts::default()
        },
    );
    Tls {
        gw,
        up,
        ca,
        cert,
        key,
    }
}

fn start() -> Tls {
    start_with(
        RecordingUpstream::start(|_| Reply::openai_chat("gpt-3.5-turbo", "ok", 1, 1)),
        &[],
    )
}

fn tls13() -> Vec<&'static rustls::SupportedProtocolVersion> {
    vec![&rustls::version::TLS13]
}

fn read_one(reader: &mut ResponseReader<TlsClientStream>) -> Response {
    reader.read_response()
}

#[test]
fn tls_1_3_and_1_2_with_alpn_http_1_1_serve_requests() {
    let t = start();
    let addr = t.gw.tls_addr();
    for versions in [tls13(), vec![&rustls::version::TLS12]] {
        let stream = t.ca.connect_with(addr, "localhost", &versions);
        assert_eq!(stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(stream.conn.protocol_version(), Some(versions[0].version));
        let mut reader = ResponseReader::from_stream(stream);
        reader.send(&build_post(addr, "/v1/chat/completions", CHAT, &[]));
        let r = read_one(&mut reader);
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert_eq!(r.header("X-Kong-LLM-Model"), Some("openai/gpt-3.5-turbo"));
        // Keep-alive over TLS: a second request on the same connection.
        reader.send(&build_post(addr, "/v1/chat/completions", CHAT, &[]));
        assert_eq!(read_one(&mut reader).status, 200);
    }
    assert_eq!(t.up.request_count(), 4);
}

#[test]
fn the_plain_listener_keeps_serving_beside_the_tls_one() {
    let t = start();
    let r = post_json(t.gw.addr(), "/v1/chat/completions", CHAT, &[]);
    assert_eq!(r.status, 200);
}

/// Kong's `02-openai` "good request with http2": curl over HTTPS. llmux offers HTTP/1.1 by
/// ALPN, so the same request and checks run on HTTP/1.1 over TLS.
#[test]
fn kong_good_request_over_https() {
    let mock = kong::kong_mock(kong::OPENAI_AUTH);
    let t = start_with(mock, &[]);
    // The Kong spec's route: key in the config, target `gpt-3.5-turbo`, the mock's good path.
    let yaml = kong::deck_config(&[kong::route(
        "/openai/llm/v1/chat/good",
        kong::ai_proxy(
            "llm/v1/chat",
            "openai",
            Some("gpt-3.5-turbo"),
            kong::header_auth("Authorization", "Bearer openai-key", None),
            kong::options(t.up.url("/llm/v1/chat/good"), serde_json::json!({})),
        ),
    )]);
    t.gw.rewrite_config(&yaml);
    t.gw.signal(libc::SIGHUP);
    assert!(t.gw.wait_for_stderr("configuration reloaded", WAIT));
    let addr = t.gw.tls_addr();
    let mut reader = ResponseReader::from_stream(t.ca.connect_with(addr, "localhost", &tls13()));
    reader.send(&build_request(
        "GET",
        addr,
        "/openai/llm/v1/chat/good",
        fixture("openai/llm-v1-chat/requests/good.json").as_bytes(),
        &[],
    ));
    let r = read_one(&mut reader);
    assert_good_chat(&r, "gpt-3.5-turbo-0613");
}

#[test]
fn malformed_and_oversized_heads_get_the_plain_listeners_answers() {
    let t = start();
    let addr = t.gw.tls_addr();
    let mut s = t.ca.connect_with(addr, "localhost", &tls13());
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(text.contains("Connection: close\r\n"), "{text}");

    let mut s = t.ca.connect_with(addr, "localhost", &tls13());
    let big = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    let _ = s.write_all(big.as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(
        String::from_utf8_lossy(&out).starts_with("HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(t.up.request_count(), 0);
}

#[test]
fn a_client_that_never_completes_its_handshake_is_closed_at_the_timeout() {
    let t = start_with(
        RecordingUpstream::start(|_| Reply::json(200, "{}")),
        &["--tls-handshake-timeout-ms", "300"],
    );
    let mut s = connect(t.gw.tls_addr());
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 16];
    // Nothing sent: the gateway closes (EOF), it does not wait for us.
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn a_plain_http_request_on_the_tls_port_is_closed_not_answered() {
    let t = start();
    let raw = send_raw(
        t.gw.tls_addr(),
        &build_post(t.gw.tls_addr(), "/v1/chat/completions", CHAT, &[]),
    );
    assert!(!raw.starts_with(b"HTTP/1.1 200"), "{raw:?}");
    assert_eq!(t.up.request_count(), 0);
}

#[test]
fn certificates_reload_on_sighup_and_post_config_without_dropping_connections() {
    let t = start();
    let addr = t.gw.tls_addr();
    // A kept-alive connection made with the first certificate.
    let mut old = ResponseReader::from_stream(t.ca.connect_with(addr, "localhost", &tls13()));
    old.send(&build_post(addr, "/v1/chat/completions", CHAT, &[]));
    assert_eq!(read_one(&mut old).status, 200);

    // A certificate from another CA: after SIGHUP, new handshakes verify against it only.
    let ca2 = TestCa::new();
    let (chain, key) = ca2.leaf_pem(&["localhost"]);
    t.cert.rewrite(&chain);
    t.key.rewrite(&key);
    t.gw.signal(libc::SIGHUP);
    assert!(t
        .gw
        .wait_for_stderr("SIGHUP: TLS certificate reloaded", WAIT));
    let mut fresh = ResponseReader::from_stream(ca2.connect_with(addr, "localhost", &tls13()));
    fresh.send(&build_post(addr, "/v1/chat/completions", CHAT, &[]));
    assert_eq!(read_one(&mut fresh).status, 200);

    // The connection from before the reload still works.
    old.send(&build_post(addr, "/v1/chat/completions", CHAT, &[]));
    assert_eq!(read_one(&mut old).status, 200);

    // POST /config re-reads the files too: back to the first CA.
    let (chain, key) = t.ca.leaf_pem(&["localhost"]);
    t.cert.rewrite(&chain);
    t.key.rewrite(&key);
    let config = std::fs::read_to_string(t.gw.config_path()).unwrap();
    let admin = t.gw.admin_addr();
    let r = {
        let mut reader = ResponseReader::connect(admin);
        reader.send(&build_request(
            "POST",
            admin,
            "/config",
            config.as_bytes(),
            &[
                ("Content-Type", "application/yaml"),
                ("Connection", "close"),
            ],
        ));
        reader.read_response()
    };
    assert!(r.status < 300, "{} {}", r.status, r.body_str());
    assert!(t
        .gw
        .wait_for_stderr("POST /config: TLS certificate reloaded", WAIT));
    let mut again = ResponseReader::from_stream(t.ca.connect_with(addr, "localhost", &tls13()));
    again.send(&build_post(addr, "/v1/chat/completions", CHAT, &[]));
    assert_eq!(read_one(&mut again).status, 200);

    // A broken file is refused and the current certificate stays.
    t.cert.rewrite("not a certificate");
    t.gw.signal(libc::SIGHUP);
    assert!(t.gw.wait_for_stderr("TLS certificate not reloaded", WAIT));
    let mut still = ResponseReader::from_stream(t.ca.connect_with(addr, "localhost", &tls13()));
    still.send(&build_post(addr, "/v1/chat/completions", CHAT, &[]));
    assert_eq!(read_one(&mut still).status, 200);
}

fn client_goes_away(driver: &str) {
    let hanging = RecordingUpstream::start(|_| Reply::hang(Duration::from_secs(10)));
    let t = start_with(hanging, &["--io-driver", driver]);
    let addr = t.gw.tls_addr();
    let mut s = t.ca.connect_with(addr, "localhost", &tls13());
    s.write_all(&build_post(addr, "/v1/chat/completions", CHAT, &[]))
        .unwrap();
    s.flush().unwrap();
    t.up.wait_for_requests(1, WAIT);
    // Gone without a TLS close_notify, as a killed or timed-out client goes: first a FIN
    // (the socket stays open, so the kernel does not answer unread data with a reset).
    s.sock.shutdown(std::net::Shutdown::Write).unwrap();
    t.up.wait_for_aborted(1, WAIT);
    drop(s);

    // Then a reset: closing with unread bytes (the server's session tickets) sends RST.
    let mut s = t.ca.connect_with(addr, "localhost", &tls13());
    s.write_all(&build_post(addr, "/v1/chat/completions", CHAT, &[]))
        .unwrap();
    t.up.wait_for_requests(2, WAIT);
    drop(s);
    t.up.wait_for_aborted(2, WAIT);
}

#[test]
fn a_tls_client_that_goes_away_cancels_its_upstream_request() {
    client_goes_away("auto");
}

/// The watch polls a duplicate descriptor for readability: with epoll that is a second
/// registration of the same socket, which must wake as io_uring's poll does.
#[test]
fn a_tls_client_that_goes_away_cancels_its_upstream_request_on_epoll() {
    client_goes_away("epoll");
}

#[test]
fn a_pipelined_request_over_tls_survives_the_watch_and_is_served_next() {
    let slow = RecordingUpstream::start(|_| {
        Reply::openai_chat("gpt-3.5-turbo", "ok", 1, 1).delay(Duration::from_millis(300))
    });
    let t = start_with(slow, &[]);
    let addr = t.gw.tls_addr();
    let mut reader = ResponseReader::from_stream(t.ca.connect_with(addr, "localhost", &tls13()));
    reader.send(&build_post(addr, "/v1/chat/completions", CHAT, &[]));
    // The second request arrives while llmux waits for the first answer.
    t.up.wait_for_requests(1, WAIT);
    reader.send(&build_post(addr, "/v1/chat/completions", CHAT, &[]));
    assert_eq!(read_one(&mut reader).status, 200);
    assert_eq!(read_one(&mut reader).status, 200);
    assert_eq!(t.up.request_count(), 2);
}
