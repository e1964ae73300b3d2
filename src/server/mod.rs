//! Starting and stopping the worker threads: one pinned thread per core, each with its own
//! monoio runtime, listeners, generation of the config and merge tick.

pub(crate) mod limits;
pub(crate) mod listener;
mod tick;
pub(crate) mod tls;
mod worker;

#[cfg(test)]
mod alloc_tests;

use crate::config::GatewayConfig;
use crate::ctx::{Generation, MergeLink};
use crate::settings::Settings;
use crate::stats::SharedRegistry;
use crate::upstream::Resolved;
use crossbeam::channel::{bounded, Sender};
use std::net::SocketAddr;
use std::thread::JoinHandle;
use tick::Control;
use worker::WorkerSpec;

/// Where the off-worker writer threads take what workers and the merger produce.
#[derive(Default)]
pub struct Sinks {
    /// Statistics log lines (`logging.log_statistics`).
    pub access_log: Option<Sender<Vec<u8>>>,
    /// Provider-latency histograms for `--histogram-log`.
    pub histogram_log: Option<Sender<hdrhistogram::Histogram<u64>>>,
}

/// A running gateway: its bound addresses and the means to stop it.
pub struct Server {
    pub proxy_addrs: Vec<SocketAddr>,
    /// The `--listen-tls` addresses, bound.
    pub tls_addrs: Vec<SocketAddr>,
    /// The driver each worker ended up with, by worker id.
    pub drivers: Vec<&'static str>,
    /// Histograms, gauges and totals for the admin API.
    pub registry: SharedRegistry,
    /// Where the fleet sync hands the merger the other nodes' usage (`--redis`).
    pub fleet_remote: Sender<std::sync::Arc<crate::stats::RemoteTotals>>,
    /// Where the fleet sync hands the other nodes' rate-limit counts to the merger.
    pub fleet_limits: Sender<Vec<crate::stats::limits::RemoteWindow>>,
    controls: Vec<Sender<Control>>,
    threads: Vec<JoinHandle<()>>,
}

/// Where the proxy listens: plain addresses, and TLS ones with the config their handshakes use.
pub struct Listen<'a> {
    pub plain: &'a [SocketAddr],
    pub tls: &'a [SocketAddr],
    pub tls_config: Option<std::sync::Arc<rustls::ServerConfig>>,
}

/// Binds the listeners and starts `workers` threads, each on its own core when there are
/// enough cores. Returns once every worker is accepting, or with the first failure.
pub fn start(
    config: &GatewayConfig,
    resolved: &Resolved,
    roots: &rustls::RootCertStore,
    listen: Listen<'_>,
    workers: usize,
    settings: Settings,
    sinks: Sinks,
) -> Result<Server, String> {
    let workers = workers.max(1);
    let (per_worker, proxy_addrs) = listener::bind_all(listen.plain, workers)?;
    let tls_config = listen.tls_config;
    let tls_addrs = if tls_config.is_some() {
        listen.tls
    } else {
        &[]
    };
    let (tls_per_worker, tls_addrs) = listener::bind_all(tls_addrs, workers)?;
    let mut tls_per_worker = tls_per_worker.into_iter();
    let cpus = limits::allowed_cpus();
    let merger = crate::stats::merger::spawn(workers, settings.merge_interval, sinks.histogram_log)
        .map_err(|e| format!("starting the stats merger thread: {e}"))?;
    let tokenizer = match crate::usage::TokenizerHandle::spawn(merger.counted.clone()) {
        Ok(t) => Some(t),
        Err(e) => {
            crate::warn!(
                "no tokenizer thread ({e}): usage unreported by a provider goes uncounted"
            );
            None
        }
    };
    let mut merged_rx = merger.merged.into_iter();
    let (ready_tx, ready_rx) = bounded(workers);
    let mut controls = Vec::with_capacity(workers);
    let mut threads = Vec::with_capacity(workers);
    for (id, listeners) in per_worker.into_iter().enumerate() {
        let (control_tx, control_rx) = bounded(16);
        controls.push(control_tx);
        let spec = WorkerSpec {
            id,
            core: (workers <= cpus.len()).then(|| cpus[id]),
            listeners,
            tls_listeners: tls_per_worker.next().unwrap_or_default(),
            tls: tls_config.clone(),
            // Each worker gets its own copy: no config memory is shared between cores.
            generation: Generation::new(config.per_core_copy(), resolved, id),
            roots: roots.clone(),
            settings: settings.clone(),
            control: control_rx,
            merge: MergeLink {
                limit_extra: Some(merger.limit_extra.clone()),
                ..MergeLink::new(
                    merger.reports.clone(),
                    merged_rx
                        .next()
                        .ok_or_else(|| format!("no merge channel for worker {id}"))?,
                )
            },
            tokenizer: tokenizer.clone(),
            access_log: sinks.access_log.clone(),
            ready: ready_tx.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("llmux-worker-{id}"))
            .spawn(move || worker::run(spec))
            .map_err(|e| format!("spawning worker {id}: {e}"))?;
        threads.push(handle);
    }
    let mut server = Server {
        proxy_addrs,
        tls_addrs,
        drivers: Vec::with_capacity(workers),
        registry: merger.registry.clone(),
        fleet_remote: merger.remote.clone(),
        fleet_limits: merger.limit_remote.clone(),
        controls,
        threads,
    };
    for _ in 0..workers {
        match ready_rx.recv() {
            Ok(Ok(driver)) => server.drivers.push(driver),
            Ok(Err(e)) => {
                server.stop();
                return Err(e);
            }
            Err(_) => {
                server.stop();
                return Err("a worker exited during start-up".into());
            }
        }
    }
    if let Ok(mut reg) = server.registry.lock() {
        reg.drivers = server.drivers.clone();
    }
    Ok(server)
}

impl Server {
    /// Hands every worker its own copy of a new generation and returns once every worker
    /// serves new requests from it; requests already running finish on the one they started
    /// with.
    pub fn reload(&self, config: &GatewayConfig, resolved: &Resolved) -> Result<(), String> {
        let (done_tx, done_rx) = bounded(self.controls.len());
        for (id, c) in self.controls.iter().enumerate() {
            let generation = Generation::new(config.per_core_copy(), resolved, id);
            c.send(Control::Reload(Box::new(generation), done_tx.clone()))
                .map_err(|_| format!("worker {id} is not running"))?;
        }
        for _ in &self.controls {
            done_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .map_err(|_| "a worker did not take the new config within 10 s".to_string())?;
        }
        Ok(())
    }

    /// Asks every worker to stop accepting and finish in-flight requests, then joins them.
    pub fn stop(self) {
        for c in &self.controls {
            let _ = c.send(Control::Shutdown);
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}
