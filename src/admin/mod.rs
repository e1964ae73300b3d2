//! The admin listener (default `127.0.0.1:8001`, never the proxy port).
//!
//! It runs on its own thread and runtime so admin traffic never competes with a proxy worker's
//! event loop. This is where monoio-http serves well: small request/response exchanges with no
//! streaming. Endpoints: `GET /status` (workers, io drivers, routes, and per target requests,
//! failures, health, tokens, cost and latency percentiles merged across cores; never
//! credentials), `GET /metrics` (Prometheus), `GET /histograms/<target|all|proxy-overhead>`
//! (HdrHistogram percentile distribution text), Kong DB-less `POST /config` (a whole
//! declarative config, YAML or JSON, replaces the running one), Kong's `GET /` and `/schemas`
//! (answered here, from static tables) and the Kong Admin API entity calls (answered by the main
//! thread, which owns the entity store, one at a time).
//!
//! The admin side reads the merged accounting (`stats::Registry`) and renders it: `status`,
//! `prometheus` and `hgrm` are its three renderers. Changes go to the main thread as
//! [`AdminCommand`]s (`commands`); `entities` is the Kong entity store the main thread keeps.

mod commands;
pub(crate) mod entities;
mod hgrm;
mod prometheus;
mod reply;
pub(crate) mod status;
pub(crate) mod token;

pub(crate) use commands::{AdminCommand, EntityReply};

use crate::stats::{new_histogram, SharedRegistry};
use crossbeam::channel::Sender;
use reply::{message, text};
use status::SharedView;

use http::StatusCode;
use monoio::io::sink::SinkExt;
use monoio::io::stream::Stream;
use monoio::io::Splitable;
use monoio::net::{TcpListener, TcpStream};
use monoio_http::common::request::Request;
use monoio_http::common::response::Response;
use monoio_http::h1::codec::decoder::{FillPayload, RequestDecoder};
use monoio_http::h1::codec::encoder::GenericEncoder;
use monoio_http::h1::payload::Payload;
use std::net::SocketAddr;
use std::rc::Rc;

/// Binds `addr` on the calling thread (so errors and the chosen port are known at once) and
/// serves on a new thread. Returns the bound address.
pub(crate) fn spawn(
    addr: SocketAddr,
    view: SharedView,
    registry: SharedRegistry,
    commands: Sender<AdminCommand>,
    token: Option<token::AdminToken>,
) -> Result<SocketAddr, String> {
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
                Ok(mut rt) => rt.block_on(serve(
                    listener,
                    Rc::new(Shared {
                        view,
                        registry,
                        commands,
                        token,
                    }),
                )),
                Err(e) => crate::error!("admin runtime: {e}"),
            }
        })
        .map_err(|e| format!("spawning the admin thread: {e}"))?;
    Ok(bound[0])
}

/// What every admin connection needs.
struct Shared {
    view: SharedView,
    registry: SharedRegistry,
    commands: Sender<AdminCommand>,
    /// Required on every request when set.
    token: Option<token::AdminToken>,
}

async fn serve(listener: std::net::TcpListener, shared: Rc<Shared>) {
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
                monoio::spawn(connection(stream, shared.clone()));
            }
            Err(_) => monoio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

async fn connection(stream: TcpStream, shared: Rc<Shared>) {
    let (r, w) = stream.into_split();
    let mut decoder = RequestDecoder::new(r);
    let mut encoder = GenericEncoder::new(w);
    while let Some(Ok(req)) = decoder.next().await {
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_ADMIN_BODY) {
            let resp = message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "admin request body too large",
            );
            let _ = encoder.send_and_flush(resp).await;
            return;
        }
        // monoio-http delivers a body only while the decoder is driven: read it all first.
        if decoder.fill_payload().await.is_err() {
            return;
        }
        let resp = route(req, &shared).await;
        if encoder.send_and_flush(resp).await.is_err() {
            return;
        }
    }
}

/// The Kong version llmux answers as (`GET /`): the ai-proxy-advanced schema it reads. decK
/// reads it to choose its Admin API calls.
pub(crate) const KONG_VERSION: &str = "3.14.0";

/// Kong's `GET /` as decK and Kong Manager read it: `version`, `configuration.database`
/// (`off`: a declarative config, changed through `POST /config` or the plugin endpoints),
/// the plugins available and enabled, and an identifying `tagline`.
fn root() -> serde_json::Value {
    static NODE_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let node_id = NODE_ID.get_or_init(|| uuid::Uuid::new_v4().to_string());
    // Kong's priorities: the order the plugins run in.
    let priority = |name: &str| match name {
        "key-auth" => 1250,
        "acl" => 950,
        "rate-limiting" => 910,
        "ai-rate-limiting-advanced" => 905,
        _ => 770,
    };
    let names = crate::config::PLUGINS.iter().map(|p| p.name);
    let loaded: serde_json::Map<_, _> = names.clone().map(|n| (n.into(), true.into())).collect();
    let available: serde_json::Map<_, _> = names
        .map(|n| {
            let plugin = serde_json::json!({"version": KONG_VERSION, "priority": priority(n)});
            (n.into(), plugin)
        })
        .collect();
    serde_json::json!({
        "version": KONG_VERSION,
        "edition": "community",
        "tagline": "Welcome to kong",
        "hostname": std::env::var("HOSTNAME").unwrap_or_else(|_| "llmux".into()),
        "node_id": node_id,
        "lua_version": "llmux",
        "configuration": {
            "database": "off",
            "role": "traditional",
            "router_flavor": "traditional_compatible",
            "loaded_plugins": loaded,
        },
        "plugins": {
            "available_on_server": available,
            "enabled_in_cluster": [],
        },
        "timers": {"running": 0, "pending": 0},
        "pids": {"master": std::process::id(), "workers": []},
    })
}

/// Admin API calls the main thread takes in turn: decK reads every table at once (`dump`, the
/// first half of `diff` and `sync`, about twenty calls) and writes ten at a time. A call past
/// this many waiting is answered 503. Each holds its body, at most [`MAX_ADMIN_BODY`].
pub(crate) const QUEUED_CALLS: usize = 64;

/// Admin bodies (a whole config) may be large, but not unbounded.
const MAX_ADMIN_BODY: usize = 16 * 1024 * 1024;

async fn route(req: Request, shared: &Shared) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(token) = &shared.token {
        if !token.admits(&parts.headers) {
            return message(StatusCode::UNAUTHORIZED, token::REFUSED);
        }
    }
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(r) = entities::schema_call(parts.method.as_str(), parts.uri.path()) {
        let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return reply::raw_json(status, r.body);
    }
    match (parts.method.as_str(), parts.uri.path()) {
        ("GET", "/") => reply::json(StatusCode::OK, &root()),
        ("GET", "/status") => {
            let doc = match (shared.view.read(), shared.registry.lock()) {
                (Ok(view), Ok(reg)) => status::render(&view, &reg),
                _ => return message(StatusCode::INTERNAL_SERVER_ERROR, "status unavailable"),
            };
            reply::raw_json(StatusCode::OK, doc)
        }
        ("GET", "/metrics") => match shared.registry.lock() {
            Ok(reg) => text(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                prometheus::render(&reg),
            ),
            Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable"),
        },
        ("GET", path) if path.starts_with("/histograms/") => {
            histogram(shared, &path["/histograms/".len()..])
        }
        ("POST", "/config") => commands::replace_config(&shared.commands, content_type, body).await,
        (method, path) if entities::handles_path(path) => {
            let path = parts
                .uri
                .path_and_query()
                .map_or(path.to_string(), |p| p.as_str().to_string());
            let content_type = content_type.to_string();
            commands::entity_call(
                &shared.commands,
                method.to_string(),
                path,
                content_type,
                body.to_vec(),
            )
            .await
        }
        (_, "/status") | (_, "/config") => message(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{} is not allowed on {}", parts.method, parts.uri.path()),
        ),
        (_, path) => message(
            StatusCode::NOT_FOUND,
            &format!("no admin endpoint at {path}"),
        ),
    }
}

async fn read_body(body: Payload) -> Result<bytes::Bytes, Response> {
    match body {
        Payload::None => Ok(bytes::Bytes::new()),
        Payload::Fixed(mut p) => match p.next().await {
            Some(Ok(b)) if b.len() <= MAX_ADMIN_BODY => Ok(b),
            Some(Ok(_)) => Err(message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "admin request body too large",
            )),
            _ => Err(message(
                StatusCode::BAD_REQUEST,
                "could not read the request body",
            )),
        },
        Payload::Stream(mut s) => {
            let mut all = Vec::new();
            while let Some(chunk) = s.next().await {
                match chunk {
                    Ok(b) if all.len() + b.len() <= MAX_ADMIN_BODY => all.extend_from_slice(&b),
                    Ok(_) => {
                        return Err(message(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "admin request body too large",
                        ))
                    }
                    Err(_) => {
                        return Err(message(
                            StatusCode::BAD_REQUEST,
                            "could not read the request body",
                        ))
                    }
                }
            }
            Ok(bytes::Bytes::from(all))
        }
    }
}

/// `all` (every target's provider latency), `proxy-overhead`, or the targets whose alias,
/// model name or `provider/model` equals `name`.
fn histogram(shared: &Shared, name: &str) -> Response {
    let (Ok(view), Ok(reg)) = (shared.view.read(), shared.registry.lock()) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "histograms unavailable");
    };
    let mut acc = new_histogram();
    let mut found = false;
    if name == "proxy-overhead" {
        let _ = acc.add(&reg.core.overhead);
        found = true;
    }
    for t in &view.targets {
        let key = &t.key;
        let label = format!("{}/{}", key.provider, key.model);
        if name == "all" || name == key.alias || name == key.model || name == label {
            found = true;
            if let Some(h) = reg.targets.get(&t.key) {
                let _ = acc.add(&h.provider);
            }
        }
    }
    if !found {
        return message(
            StatusCode::NOT_FOUND,
            &format!("no target named {name:?} (use an alias, a model name, provider/model, all or proxy-overhead)"),
        );
    }
    text(
        StatusCode::OK,
        "text/plain",
        hgrm::percentile_distribution(&acc),
    )
}
