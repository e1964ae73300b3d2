//! A worker's state: everything a request on this core touches, owned by this core alone.
//!
//! This is a leaf of the request path: `server` builds it and `proxy` reads it; it knows
//! nothing about either.

mod generation;
mod scratch;

pub use generation::{Generation, PluginRuntime};
pub use scratch::{AccessScratch, IoScratch, RequestScratch, ScratchPool, NO_ACCESS};

use crate::body::BodyScanner;
use crate::limits::LimitsState;
use crate::settings::Settings;
use crate::sinks::access_log::CoreLog;
use crate::stats::consumers::ConsumerUsage;
use crate::stats::limits::LimitExtra;
use crate::stats::{CoreHists, CoreReport, Merged};
use crate::upstream::Pool;
use crate::usage::{TokenizerHandle, UsageParser};
use crossbeam::channel::{Receiver, Sender};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Instant;

/// Open connections per worker beyond which waits hold no read buffers: below it a buffer
/// per waiting connection is a few MiB at most, and the extra poll per request is not worth it.
pub const LEAN_ABOVE_CONNECTIONS: usize = 512;

pub struct WorkerCtx {
    pub id: usize,
    /// The generation new requests start on.
    pub generation: RefCell<Rc<Generation>>,
    /// Generations replaced by a reload whose requests may still be running; their counts are
    /// still reported on each merge tick until they are gone.
    pub retired: RefCell<Vec<Weak<Generation>>>,
    pub pool: RefCell<Pool>,
    pub scanner: RefCell<BodyScanner>,
    /// Per-request buffers, reused.
    pub scratch: ScratchPool,
    pub usage_parser: RefCell<UsageParser>,
    pub tls: monoio_rustls::TlsConnector,
    pub settings: Settings,
    pub in_flight: Cell<usize>,
    pub open_connections: Cell<usize>,
    pub shutting_down: Cell<bool>,
    pub merge: MergeLink,
    /// Counts tokens off the request path when a provider reports no usage.
    pub tokenizer: Option<TokenizerHandle>,
    /// The newest totals from the merger, for generations installed after it arrived.
    pub last_merged: RefCell<Option<Arc<Merged>>>,
    /// Histograms not tied to a target, shipped with the per-target ones.
    pub core_hists: RefCell<CoreHists>,
    /// This worker's end of the statistics log (`logging.log_statistics`).
    pub access_log: Option<CoreLog>,
    /// This core's rate-limit counters, by limiter id (kept across reloads).
    pub limits: RefCell<LimitsState>,
    /// Spend per (target, consumer) since the last merge tick.
    pub consumer_usage: RefCell<ConsumerUsage>,
    /// Scratch space for rate-limit counter keys when a request's tokens are spent.
    pub limit_key: RefCell<Vec<u8>>,
}

impl WorkerCtx {
    /// A worker's state before it serves anything: empty pool, fresh scanners and histograms.
    pub fn new(
        id: usize,
        generation: Generation,
        settings: Settings,
        tls: monoio_rustls::TlsConnector,
        merge: MergeLink,
        tokenizer: Option<TokenizerHandle>,
        access_log: Option<CoreLog>,
    ) -> WorkerCtx {
        let mut generation = generation;
        let mut limits = LimitsState::new(id);
        generation.bind_limits(&mut limits, None);
        WorkerCtx {
            id,
            generation: RefCell::new(Rc::new(generation)),
            retired: RefCell::new(Vec::new()),
            pool: RefCell::new(Pool::new(
                settings.pool_max_idle,
                settings.pool_idle_timeout,
            )),
            scanner: RefCell::new(BodyScanner::new()),
            scratch: ScratchPool::default(),
            usage_parser: RefCell::new(UsageParser::new()),
            tls,
            settings,
            in_flight: Cell::new(0),
            open_connections: Cell::new(0),
            shutting_down: Cell::new(false),
            merge,
            tokenizer,
            last_merged: RefCell::new(None),
            core_hists: RefCell::new(CoreHists::default()),
            access_log,
            limits: RefCell::new(limits),
            consumer_usage: RefCell::new(ConsumerUsage::default()),
            limit_key: RefCell::new(Vec::new()),
        }
    }

    /// Many connections are open: waits should hold no buffers, at the price of a readiness
    /// poll before each read (see `ClientConn::wait_for_request`).
    pub fn lean(&self) -> bool {
        self.open_connections.get() > LEAN_ABOVE_CONNECTIONS
    }

    /// The current generation and every retired one still in use.
    pub fn live_generations(&self) -> Vec<Rc<Generation>> {
        let mut out = vec![self.generation.borrow().clone()];
        let mut retired = self.retired.borrow_mut();
        retired.retain(|w| w.strong_count() > 0);
        out.extend(retired.iter().filter_map(Weak::upgrade));
        out
    }
}

/// This worker's ends of the merger's channels, and what it has sent but not had confirmed.
pub struct MergeLink {
    pub reports: Sender<CoreReport>,
    pub merged: Receiver<Arc<Merged>>,
    /// Sequence number of the last report sent.
    pub seq: Cell<u64>,
    /// A report the merger's channel had no room for; the next tick adds to it and retries.
    pub unsent: RefCell<Option<CoreReport>>,
    /// The gauges and open-breaker count last reported, so unchanged ones alone do not cause
    /// a report.
    pub last_gauges: Cell<crate::stats::CoreGauges>,
    pub last_open: Cell<usize>,
    pub last_hist_ship: Cell<Instant>,
    /// Rate-limit counts that arrive off the request path (tokens the tokenizer thread
    /// counted) go straight to the merger on this channel.
    pub limit_extra: Option<Sender<Vec<LimitExtra>>>,
    /// When this core last forgot expired rate-limit windows.
    pub last_limit_sweep: Cell<Instant>,
}

impl MergeLink {
    pub fn new(reports: Sender<CoreReport>, merged: Receiver<Arc<Merged>>) -> MergeLink {
        MergeLink {
            reports,
            merged,
            seq: Cell::new(0),
            unsent: RefCell::new(None),
            last_gauges: Cell::new(crate::stats::CoreGauges::default()),
            last_open: Cell::new(0),
            last_hist_ship: Cell::new(Instant::now()),
            limit_extra: None,
            last_limit_sweep: Cell::new(Instant::now()),
        }
    }
}
