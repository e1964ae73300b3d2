//! A worker's state: everything a request on this core touches, owned by this core alone.

use super::settings::Settings;
use crate::balancer::PluginBalancer;
use crate::body::BodyScanner;
use crate::config::{AiProxyConfig, GatewayConfig};
use crate::stats::{CoreReport, Merged};
use crate::upstream::{Pool, Resolved};
use crossbeam::channel::{Receiver, Sender};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;

/// Routing state a request runs on, with the balancer state that belongs to it. Requests keep
/// the `Rc` they started with, so a reload never changes a request's plugin or balancer half
/// way; the old table (and its balancers) go away with its last request.
pub struct Table {
    pub config: GatewayConfig,
    pub resolved: Resolved,
    /// Balancer state per plugin id, created on a plugin's first request.
    pub balancers: RefCell<HashMap<String, PluginBalancer>>,
}

impl Table {
    pub fn new(config: GatewayConfig, resolved: Resolved) -> Table {
        Table {
            config,
            resolved,
            balancers: RefCell::new(HashMap::new()),
        }
    }
}

pub struct WorkerCtx {
    pub id: usize,
    pub table: RefCell<Rc<Table>>,
    /// Tables replaced by a reload whose requests may still be running; their counts are
    /// still reported on each merge tick until they are gone.
    pub retired: RefCell<Vec<Weak<Table>>>,
    pub pool: RefCell<Pool>,
    pub scanner: RefCell<BodyScanner>,
    pub usage_parser: RefCell<crate::usage::UsageParser>,
    pub tls: monoio_rustls::TlsConnector,
    pub settings: Settings,
    pub in_flight: Cell<usize>,
    pub open_connections: Cell<usize>,
    pub shutting_down: Cell<bool>,
    pub merge: MergeLink,
    /// Counts tokens off the request path when a provider reports no usage.
    pub tokenizer: Option<crate::usage::TokenizerHandle>,
    /// The newest totals from the merger, for balancers created after it arrived.
    pub last_merged: RefCell<Option<Arc<Merged>>>,
    /// Histograms not tied to a target, shipped with the per-target ones.
    pub core_hists: RefCell<crate::metrics::CoreHists>,
    /// This worker's end of the statistics log (`logging.log_statistics`).
    pub access_log: Option<crate::metrics::access_log::CoreLog>,
}

impl WorkerCtx {
    /// Runs `f` on this table's balancer for `plugin`, creating it on first use.
    pub fn with_balancer<R>(
        &self,
        table: &Table,
        plugin: &AiProxyConfig,
        f: impl FnOnce(&mut PluginBalancer) -> R,
    ) -> R {
        let mut map = table.balancers.borrow_mut();
        match map.get_mut(&plugin.id) {
            Some(b) => f(b),
            None => {
                let merged = self.last_merged.borrow();
                let mut b = PluginBalancer::new(plugin, merged.as_deref(), self.id);
                let r = f(&mut b);
                map.insert(plugin.id.clone(), b);
                r
            }
        }
    }

    /// The current table and every retired one still in use.
    pub fn live_tables(&self) -> Vec<Rc<Table>> {
        let mut out = vec![self.table.borrow().clone()];
        let mut retired = self.retired.borrow_mut();
        retired.retain(|w| w.strong_count() > 0);
        out.extend(retired.iter().filter_map(Weak::upgrade));
        out
    }
}

/// This worker's ends of the merger's channels.
pub struct MergeLink {
    pub reports: Sender<CoreReport>,
    pub merged: Receiver<Arc<Merged>>,
    pub(super) seq: Cell<u64>,
    /// A report the merger's channel had no room for; the next tick adds to it and retries.
    pub(super) unsent: RefCell<Option<CoreReport>>,
    pub(super) last_gauges: Cell<(usize, usize, usize)>,
    pub(super) last_hist_ship: Cell<std::time::Instant>,
}

impl MergeLink {
    pub fn new(reports: Sender<CoreReport>, merged: Receiver<Arc<Merged>>) -> MergeLink {
        MergeLink {
            reports,
            merged,
            seq: Cell::new(0),
            unsent: RefCell::new(None),
            last_gauges: Cell::new((0, 0, 0)),
            last_hist_ship: Cell::new(std::time::Instant::now()),
        }
    }
}
