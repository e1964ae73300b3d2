//! `llmux mock-provider`: a fast OpenAI-compatible stand-in for demos, tests and load tests.
//!
//! It speaks the same HTTP/1.1 code as the gateway (keep-alive, pipelining, chunked bodies)
//! and answers chat, completions and embeddings requests, as JSON or as an SSE stream that
//! flushes every event on its own and ends with a usage event when the client asks for one.

mod responses;

use crate::body::BodyScanner;
use crate::http1::{ClientConn, Framing, Limits, RequestHead};
use clap::Args;
use monoio::net::{TcpListener, TcpStream};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct MockArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Delay before the response head (time to first byte), in ms.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Delay between two streamed events, in ms.
    #[arg(long, default_value_t = 0)]
    pub stream_interval_ms: u64,
    /// prompt_tokens reported in usage.
    #[arg(long, default_value_t = 12)]
    pub prompt_tokens: u32,
    /// completion_tokens reported in usage; also the number of content events in a stream.
    #[arg(long, default_value_t = 8)]
    pub completion_tokens: u32,
    /// Worker threads, each with its own event loop and SO_REUSEPORT listener.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
}

impl MockArgs {
    /// Settings for the built-in demo: an ephemeral port and a visible stream cadence.
    pub fn demo() -> MockArgs {
        MockArgs {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            latency_ms: 0,
            stream_interval_ms: 30,
            prompt_tokens: 12,
            completion_tokens: 8,
            workers: 1,
        }
    }
}

/// Runs in the foreground until SIGINT/SIGTERM; returns the exit code.
pub(crate) fn run_foreground(args: MockArgs) -> i32 {
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]);
    let mut signals = match signals {
        Ok(s) => s,
        Err(e) => {
            crate::error!("installing signal handlers: {e}");
            return 1;
        }
    };
    match spawn_background(args) {
        Ok(addr) => crate::info!("mock provider listening on {addr}"),
        Err(e) => {
            crate::error!("mock provider: {e}");
            return 1;
        }
    }
    let _ = signals.forever().next();
    0
}

/// Starts the mock on background threads and returns its bound address.
pub(crate) fn spawn_background(args: MockArgs) -> Result<SocketAddr, String> {
    let (per_worker, bound) =
        crate::server::listener::bind_all(&[args.listen], args.workers.max(1))?;
    let args = Rc::new(args);
    for (i, listeners) in per_worker.into_iter().enumerate() {
        let args = (*args).clone();
        std::thread::Builder::new()
            .name(format!("llmux-mock-{i}"))
            .spawn(move || {
                let rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                    .enable_timer()
                    .build();
                match rt {
                    Ok(mut rt) => rt.block_on(serve_listeners(listeners, args)),
                    Err(e) => crate::error!("mock provider runtime: {e}"),
                }
            })
            .map_err(|e| format!("spawning mock thread: {e}"))?;
    }
    Ok(bound[0])
}

async fn serve_listeners(listeners: Vec<std::net::TcpListener>, args: MockArgs) {
    let args = Rc::new(args);
    let scanner = Rc::new(RefCell::new(BodyScanner::new()));
    let mut adopted = Vec::new();
    for l in listeners {
        match TcpListener::from_std(l) {
            Ok(l) => adopted.push(l),
            Err(e) => crate::error!("mock provider listener: {e}"),
        }
    }
    monoio::spawn(crate::deadline::run_ticker());
    let mut tasks = Vec::new();
    for listener in adopted {
        let args = args.clone();
        let scanner = scanner.clone();
        tasks.push(monoio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        monoio::spawn(serve_conn(stream, args.clone(), scanner.clone()));
                    }
                    Err(_) => monoio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }));
    }
    for t in tasks {
        t.await;
    }
}

/// The mock waits as long as a client likes between and within requests.
const PATIENCE: Duration = Duration::from_secs(3600);

async fn serve_conn(stream: TcpStream, args: Rc<MockArgs>, scanner: Rc<RefCell<BodyScanner>>) {
    let mut stream = ClientConn::new(stream);
    let limits = Limits::default();
    let mut head = RequestHead::default();
    loop {
        if !stream.wait_for_request(PATIENCE, false).await {
            return;
        }
        match stream.read_head_into(&mut head, &limits, PATIENCE).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                let message = format!("{e:?}");
                let _ = stream
                    .write_all(responses::error(400, &message, true))
                    .await;
                return;
            }
        };
        if head.expect_continue {
            let _ = stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec())
                .await;
        }
        let framing = head.framing;
        let mut body = Vec::new();
        if stream
            .read_body(framing, 64 << 20, Duration::from_secs(60), &mut body)
            .await
            .is_err()
        {
            return;
        }
        let keep_alive = head.keep_alive && framing != Framing::UntilClose;
        if args.latency_ms > 0 {
            monoio::time::sleep(Duration::from_millis(args.latency_ms)).await;
        }
        let kind = responses::Kind::from_path(head.path());
        let facts = scanner.borrow_mut().scan(&body);
        let ok = match (kind, facts) {
            (None, _) => stream
                .write_all(responses::error(404, "unknown path", !keep_alive))
                .await
                .is_ok(),
            (Some(_), Err(e)) => stream
                .write_all(responses::error(
                    400,
                    &format!("bad JSON body: {e}"),
                    !keep_alive,
                ))
                .await
                .is_ok(),
            (Some(kind), Ok(facts)) => {
                let model = facts
                    .model
                    .map(|m| m.value)
                    .unwrap_or_else(|| "mock-model".into());
                if facts.stream {
                    responses::stream(
                        &mut stream,
                        kind,
                        &model,
                        facts.include_usage,
                        &args,
                        keep_alive,
                    )
                    .await
                } else {
                    let bytes = responses::json(kind, &model, &args, keep_alive);
                    stream.write_all(bytes).await.is_ok()
                }
            }
        };
        if !ok || !keep_alive {
            return;
        }
    }
}
