//! The admin listener (default `127.0.0.1:8001`, never the proxy port).
//!
//! It runs on its own thread and runtime so admin traffic never competes with a proxy worker's
//! event loop. This is where monoio-http serves well: small request/response exchanges with no
//! streaming. Today it answers `GET /status` with what the gateway runs (workers, io drivers,
//! routes and targets, never credentials); metrics and the Kong Admin API build on it.

mod status;
pub use status::status_json;

use http::StatusCode;
use monoio::io::sink::SinkExt;
use monoio::io::stream::Stream;
use monoio::io::Splitable;
use monoio::net::{TcpListener, TcpStream};
use monoio_http::common::request::Request;
use monoio_http::common::response::Response;
use monoio_http::h1::codec::decoder::RequestDecoder;
use monoio_http::h1::codec::encoder::GenericEncoder;
use monoio_http::h1::payload::{FixedPayload, Payload};
use std::net::SocketAddr;
use std::rc::Rc;

/// Binds `addr` on the calling thread (so errors and the chosen port are known at once) and
/// serves on a new thread. Returns the bound address.
pub fn spawn(addr: SocketAddr, status_json: String) -> Result<SocketAddr, String> {
    let (mut listeners, bound) = crate::server::listener::bind_all(&[addr], 1)?;
    let listener = listeners
        .pop()
        .and_then(|mut l| l.pop())
        .ok_or_else(|| format!("admin: no listener bound for {addr}"))?;
    std::thread::Builder::new()
        .name("llmux-admin".into())
        .spawn(move || {
            let rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .enable_timer()
                .build();
            match rt {
                Ok(mut rt) => rt.block_on(serve(listener, Rc::new(status_json))),
                Err(e) => crate::error!("admin runtime: {e}"),
            }
        })
        .map_err(|e| format!("spawning the admin thread: {e}"))?;
    Ok(bound[0])
}

async fn serve(listener: std::net::TcpListener, status: Rc<String>) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            crate::error!("admin listener: {e}");
            return;
        }
    };
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                monoio::spawn(connection(stream, status.clone()));
            }
            Err(_) => monoio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

async fn connection(stream: TcpStream, status: Rc<String>) {
    let (r, w) = stream.into_split();
    let mut decoder = RequestDecoder::new(r);
    let mut encoder = GenericEncoder::new(w);
    while let Some(Ok(req)) = decoder.next().await {
        let resp = route(req, &status).await;
        if encoder.send_and_flush(resp).await.is_err() {
            return;
        }
    }
}

async fn route(req: Request, status: &str) -> Response {
    let (parts, body) = req.into_parts();
    // Drain a request body so the decoder can read the next request.
    if let Payload::Fixed(mut p) = body {
        let _ = p.next().await;
    }
    match (parts.method.as_str(), parts.uri.path()) {
        ("GET", "/status") => json(StatusCode::OK, status.to_string()),
        (_, "/status") => json(
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"message":"only GET is allowed on /status"}"#.into(),
        ),
        (_, path) => json(
            StatusCode::NOT_FOUND,
            format!(
                r#"{{"message":"no admin endpoint at {}"}}"#,
                path.escape_default()
            ),
        ),
    }
}

fn json(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Payload::Fixed(FixedPayload::new(bytes::Bytes::from(body))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}
