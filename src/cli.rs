//! The command line: `serve`, `validate` and `mock-provider`.

use crate::admin::entities::EntityStore;
use crate::admin::status::{SharedView, View};
use crate::config;
use crate::config::Loaded;
use crate::fleet::state::{FleetConfig, StateStore, Written};
use crate::fleet::{Fleet, RedisUrl};
use crate::server;
use crate::settings::{IoDriver, Settings};
use crate::supervisor::{FleetState, Source, StateLocation, Supervisor};
use crate::upstream::Resolved;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "llmux",
    version,
    about = "A thread-per-core LLM gateway that reads Kong ai-proxy-advanced configs"
)]
struct Cli {
    /// Log lines on stderr: `text` (RFC 3339 UTC time, level, message) or `json` (one object
    /// per line, for log shippers).
    #[arg(long, value_enum, global = true, default_value_t = crate::log::LogFormat::Text)]
    log_format: crate::log::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway. Without --config, serves a built-in demo: the route-by-model-alias seed
    /// config pointed at a built-in mock provider, so it answers at once with no API key.
    Serve(Box<ServeArgs>),
    /// Check a config file: exit 0 and print a summary, or exit 1 with every error and its YAML path.
    Validate {
        /// Kong declarative (decK) YAML or JSON file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run a fast OpenAI-compatible provider stand-in (chat, completions, embeddings; JSON and
    /// SSE streaming with a usage event) for demos, tests and load tests.
    MockProvider(crate::mock::MockArgs),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Kong declarative (decK) YAML or JSON file. Omit to run the built-in demo.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Proxy listen address; repeat for several.
    #[arg(long = "listen", default_value = "0.0.0.0:8000")]
    listen: Vec<SocketAddr>,
    /// TLS proxy listen address (Kong's convention is 8443); repeat for several. Needs
    /// --tls-cert and --tls-key.
    #[arg(long = "listen-tls", requires_all = ["tls_cert", "tls_key"])]
    listen_tls: Vec<SocketAddr>,
    /// PEM certificate chain for --listen-tls, leaf first. Re-read on SIGHUP and admin
    /// `POST /config`; connections already open keep theirs.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Longest a TLS client may take to complete its handshake, in ms.
    #[arg(long, default_value_t = 10_000)]
    tls_handshake_timeout_ms: u64,
    /// Admin API listen address (kept off the proxy port). An address other than loopback
    /// needs --admin-token.
    #[arg(long, default_value = "127.0.0.1:8001")]
    admin_listen: SocketAddr,
    /// Token every Admin API request must carry, as `Kong-Admin-Token: <token>` (or
    /// `Authorization: Bearer <token>`). Default: the LLMUX_ADMIN_TOKEN environment variable.
    /// Required when --admin-listen is not a loopback address.
    #[arg(long)]
    admin_token: Option<String>,
    /// Worker threads, one event loop each, pinned to cores 0..N when N <= cores. Default: all cores.
    #[arg(long)]
    workers: Option<usize>,
    /// I/O driver: auto tries io_uring and falls back to epoll (logged).
    #[arg(long, value_enum, default_value_t = IoDriver::Auto)]
    io_driver: IoDriver,
    /// Longest time a client may take to send a request head once it has started, in ms.
    #[arg(long, default_value_t = 30_000)]
    client_header_timeout_ms: u64,
    /// Longest wait between two reads of a request body, in ms.
    #[arg(long, default_value_t = 60_000)]
    client_body_timeout_ms: u64,
    /// How long an idle keep-alive client connection is kept open, in ms.
    #[arg(long, default_value_t = 75_000)]
    keepalive_timeout_ms: u64,
    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish, in ms.
    #[arg(long, default_value_t = 30_000)]
    shutdown_timeout_ms: u64,
    /// Open client connections per worker beyond which new ones get a 503 and are closed.
    #[arg(long, default_value_t = 16_384)]
    max_connections_per_worker: usize,
    /// Where targets with `logging.log_statistics` write one JSON line per request (Kong's
    /// `ai.proxy` fields). Default: stdout.
    #[arg(long)]
    access_log: Option<PathBuf>,
    /// Kong Admin API changes (POST/PATCH/DELETE /plugins) are written through to this file,
    /// atomically, so a restart keeps them. Without it they live in memory only. With
    /// redis://HOST:PORT[/DB] (or rediss://) the configuration is the fleet's: kept in Redis,
    /// loaded at start, and a change on any node is applied on every node.
    #[arg(long, value_name = "FILE|redis://HOST:PORT[/DB]")]
    state: Option<String>,
    /// Share usage totals with every llmux node on this Redis (or Valkey, or Redis Cluster), so
    /// lowest-usage balances on what the whole fleet served. redis://[USER:PASSWORD@]HOST:PORT[/DB],
    /// or rediss:// for TLS.
    #[arg(long, env = "LLMUX_REDIS", value_name = "redis://HOST:PORT[/DB]")]
    redis: Option<String>,
    /// How often this node exchanges usage totals with the fleet through Redis, in ms (one
    /// round trip per interval, whatever the traffic).
    #[arg(long, default_value_t = crate::fleet::DEFAULT_SYNC_MS, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    fleet_sync_ms: u64,
    /// Append an HdrHistogram interval log (all requests' provider latency, one interval per
    /// second) to this file, for HdrHistogram's tools.
    #[arg(long)]
    histogram_log: Option<PathBuf>,
    /// Latency histograms (/status percentiles, /metrics, /histograms). `off` exists to measure
    /// what recording costs; usage counting for balancing always runs.
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    metrics: String,
    /// Keep request header fields whose names contain `_` (nginx's `underscores_in_headers
    /// on`). By default they are dropped, as nginx drops them: never forwarded, never used.
    #[arg(long)]
    underscores_in_headers: bool,
    /// How often each worker exchanges usage and latency counts with the others, in ms.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    merge_interval_ms: u64,
}

/// Parses the command line and runs; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    crate::log::set_format(cli.log_format);
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Validate { config } => validate(&config),
        Command::MockProvider(args) => crate::mock::run_foreground(args),
    }
}

fn validate(path: &std::path::Path) -> i32 {
    match config::load_file(path) {
        Ok(loaded) => {
            let mut report = String::new();
            for w in &loaded.warnings {
                report.push_str(&format!("warning: {w}\n"));
            }
            report.push_str(&format!("{}: OK\n", path.display()));
            report.push_str(&format!("{}\n", loaded.config.summary()));
            // A reader that stops early (`llmux validate | head`) is not an error of the
            // config: a closed pipe ends the output quietly, where println! would panic.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), report.as_bytes());
            0
        }
        Err(errors) => {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr().lock(),
                format!("{errors}\n").as_bytes(),
            );
            1
        }
    }
}

/// The demo config: the route-by-model-alias seed with both targets sent to a mock provider.
const DEMO_CONFIG: &str = include_str!("../config/demo.yaml");

/// What `load` found: the config, its text, where it came from, and (`--state redis://`) the
/// fleet's configuration store with the version loaded from it.
struct Initial {
    loaded: Loaded,
    text: String,
    source: Source,
    fleet: Option<(StateStore, u64)>,
}

/// The config llmux starts with: the fleet's configuration (`--state redis://`), else the
/// `--state` file if it exists (it holds the latest Admin API changes), else `--config`, else
/// the built-in demo.
fn load(args: &ServeArgs, node: &str) -> Result<Initial, String> {
    let state = args
        .state
        .as_deref()
        .map(StateLocation::parse)
        .transpose()?;
    let mut source = Source {
        file: args.config.clone(),
        state: state.clone(),
        extra_env: Vec::new(),
    };
    let mut fleet = match &state {
        Some(StateLocation::Redis(url)) => Some(fleet_config(url, node)?),
        _ => None,
    };
    let state_file = state.as_ref().and_then(StateLocation::file);
    let existing_state = state_file.filter(|p| p.exists());
    let from_fleet = fleet.as_ref().and_then(|(_, found)| found.clone());
    let (text, name) = match (from_fleet, existing_state, &args.config) {
        (Some(found), _, _) => {
            crate::info!(
                "starting from the fleet configuration version {} in Redis {}",
                found.version,
                fleet
                    .as_ref()
                    .map_or(String::new(), |(s, _)| s.url().to_string())
            );
            let name = format!("fleet configuration version {}", found.version);
            (found.yaml, name)
        }
        (None, Some(state), _) => {
            crate::info!("starting from the state file {}", state.display());
            source.file = Some(state.clone());
            (read(state)?, state.display().to_string())
        }
        (None, None, Some(path)) => (read(path)?, path.display().to_string()),
        (None, None, None) => {
            let mock = crate::mock::spawn_background(crate::mock::MockArgs::demo())
                .map_err(|e| format!("starting the demo mock provider: {e}"))?;
            crate::info!("no --config given: serving the built-in demo (config/demo.yaml) against the mock provider on {mock}");
            let url = format!("http://{mock}/v1/chat/completions");
            source.extra_env.push(("LLMUX_DEMO_UPSTREAM".into(), url));
            (DEMO_CONFIG.to_string(), "built-in demo".to_string())
        }
    };
    let loaded = config::load_str(&text, &name, &|n| source.env(n)).map_err(|e| e.to_string())?;
    if let Some(state) = state_file {
        if existing_state.is_none() {
            crate::admin::entities::write_state_atomically(state, &text)
                .map_err(|e| format!("writing the state file {}: {e}", state.display()))?;
            source.file = Some(state.clone());
        }
    }
    let fleet = fleet.take().map(|(mut store, found)| {
        let version = match found {
            Some(f) => f.version,
            None => seed(&mut store, &text),
        };
        (store, version)
    });
    Ok(Initial {
        loaded,
        text,
        source,
        fleet,
    })
}

/// The fleet's configuration store and what it holds. A Redis that does not answer is no reason
/// not to serve: this node starts from its own config and adopts the fleet's when Redis answers
/// (or, if the fleet has none, gives it its own).
fn fleet_config(url: &RedisUrl, node: &str) -> Result<(StateStore, Option<FleetConfig>), String> {
    let mut store = StateStore::new(url.clone(), node.to_string())?;
    let found = match store.load() {
        Ok(found) => found,
        Err(e) => {
            crate::warn!("{e}: starting from this node's own config; the fleet's is adopted when Redis answers");
            None
        }
    };
    Ok((store, found))
}

/// A fleet without a configuration starts from this node's (the text it just loaded, so every
/// node derives the same entity ids from it). Returns the version this node runs: 1, or 0 when
/// another node seeded first or Redis is away (the watcher then brings the fleet's).
fn seed(store: &mut StateStore, text: &str) -> u64 {
    match store.seed(1, text) {
        Ok(Written::Done(v)) => {
            crate::info!("the fleet had no configuration: stored this node's as version {v}");
            v
        }
        Ok(Written::Stale(_)) | Err(_) => 0,
    }
}

fn read(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

/// The writer threads for the statistics log and the histogram log.
fn sinks(args: &ServeArgs) -> Result<server::Sinks, String> {
    let access_log = crate::sinks::access_log::spawn(args.access_log.clone())
        .map_err(|e| format!("statistics log: {e}"))?;
    let histogram_log = match &args.histogram_log {
        Some(path) => Some(
            crate::sinks::interval_log::spawn(path).map_err(|e| format!("histogram log: {e}"))?,
        ),
        None => None,
    };
    Ok(server::Sinks {
        access_log: Some(access_log),
        histogram_log,
    })
}

fn serve(args: ServeArgs) -> i32 {
    match start(args) {
        Ok((supervisor, signals)) => supervisor.run(signals),
        Err(e) => {
            crate::error!("{e}");
            1
        }
    }
}

/// Everything up to serving: config, DNS, TLS roots, limits, workers, admin listener. Returns
/// the supervisor that runs the main thread from then on.
fn start(args: ServeArgs) -> Result<(Supervisor, signal_hook::iterator::Signals), String> {
    let admin_token = args
        .admin_token
        .clone()
        .or_else(|| std::env::var("LLMUX_ADMIN_TOKEN").ok());
    let admin_token = crate::admin::token::check(args.admin_listen, admin_token)?;
    let redis = args
        .redis
        .as_deref()
        .map(|url| RedisUrl::parse(url, "--redis"))
        .transpose()?;
    let node = crate::fleet::node_id();
    let Initial {
        loaded,
        text,
        source,
        fleet: fleet_store,
    } = load(&args, &node)?;
    let config = loaded.config;
    for w in &loaded.warnings {
        crate::warn!("{w}");
    }
    if redis.is_none() {
        for w in crate::fleet::limits::KnownLimits::of(&config).without_fleet() {
            crate::warn!("{w}");
        }
    }
    let store = EntityStore::from_text(&text)
        .map_err(|e| format!("the Admin API cannot read this config: {e}"))?;
    let (resolved, dns_warnings) = Resolved::for_config(&config);
    let (roots, tls_warnings) = crate::upstream::tls::load_roots();
    for w in dns_warnings.iter().chain(&tls_warnings) {
        crate::warn!("{w}");
    }
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let settings = settings(&args, workers);
    // Register before any worker runs so a signal during start-up is not lost.
    let signals =
        crate::supervisor::signals().map_err(|e| format!("installing signal handlers: {e}"))?;
    let sinks = sinks(&args)?;
    let listener_tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(server::tls::ListenerTls::load(cert, key)?),
        _ => None,
    };
    let listen = server::Listen {
        plain: &args.listen,
        tls: &args.listen_tls,
        tls_config: listener_tls.as_ref().map(|t| t.config()),
    };
    let server = server::start(&config, &resolved, &roots, listen, workers, settings, sinks)?;
    crate::info!(
        "{} workers started, io drivers: {}",
        server.drivers.len(),
        server.drivers.join(", ")
    );
    for addr in &server.proxy_addrs {
        crate::info!("proxy listening on {addr}");
    }
    for addr in &server.tls_addrs {
        crate::info!("proxy TLS listening on {addr}");
    }
    let fleet = match redis {
        Some(url) => {
            let interval = Duration::from_millis(args.fleet_sync_ms);
            let registry = server.registry.clone();
            let merger = server.fleet_remote.clone();
            let limits = server.fleet_limits.clone();
            match Fleet::start(
                url,
                interval,
                node.clone(),
                &config,
                registry,
                merger,
                limits,
            ) {
                Ok(f) => Some(f),
                Err(e) => {
                    server.stop();
                    return Err(e);
                }
            }
        }
        None => None,
    };
    let fleet_state = match fleet_store {
        Some((store, version)) => {
            let (tx, updates) = crossbeam::channel::bounded(16);
            let url = store.url().clone();
            if let Err(e) = crate::fleet::state::watch(url, node, server.registry.clone(), tx) {
                server.stop();
                if let Some(fleet) = fleet {
                    fleet.stop();
                }
                return Err(e);
            }
            Some(FleetState {
                store,
                version,
                updates,
                failed: None,
                adopted: 0,
            })
        }
        None => None,
    };
    // The admin API answers last, so its first /status already shows the fleet's state.
    let view: SharedView = Arc::new(RwLock::new(View::of(&config)));
    let (admin_tx, admin_rx) = crossbeam::channel::bounded(crate::admin::QUEUED_CALLS);
    match crate::admin::spawn(
        args.admin_listen,
        view.clone(),
        server.registry.clone(),
        admin_tx,
        admin_token,
    ) {
        Ok(addr) => crate::info!("admin listening on {addr}"),
        Err(e) => {
            server.stop();
            if let Some(fleet) = fleet {
                fleet.stop();
            }
            return Err(format!("admin API: {e}"));
        }
    }
    let supervisor = Supervisor {
        server,
        source,
        store,
        view,
        admin: admin_rx,
        fleet,
        fleet_state,
        tls: listener_tls,
    };
    Ok((supervisor, signals))
}

/// Worker settings from the flags, with the connection cap lowered to what the open-files
/// limit allows (after raising that limit as far as the process may).
fn settings(args: &ServeArgs, workers: usize) -> Settings {
    let mut settings = Settings {
        io_driver: args.io_driver,
        header_timeout: Duration::from_millis(args.client_header_timeout_ms),
        body_timeout: Duration::from_millis(args.client_body_timeout_ms),
        keepalive_timeout: Duration::from_millis(args.keepalive_timeout_ms),
        shutdown_timeout: Duration::from_millis(args.shutdown_timeout_ms),
        tls_handshake_timeout: Duration::from_millis(args.tls_handshake_timeout_ms),
        merge_interval: Duration::from_millis(args.merge_interval_ms),
        max_connections: args.max_connections_per_worker,
        metrics: args.metrics == "on",
        limits: crate::http1::Limits {
            underscores_in_headers: args.underscores_in_headers,
            ..crate::http1::Limits::default()
        },
        ..Settings::default()
    };
    match server::limits::raise_nofile_limit() {
        Ok(n) => {
            let budget = server::limits::connection_budget(n, workers);
            if budget < settings.max_connections {
                crate::warn!(
                    "open files limit {n}: at most {budget} client connections per worker (each needs an upstream connection too); raise `ulimit -n` for more"
                );
                settings.max_connections = budget;
            }
            crate::info!("open files limit: {n}");
        }
        Err(e) => crate::warn!("could not raise the open files limit: {e}"),
    }
    settings
}
