//! A worker's periodic duties: exchange counts with the merger, take control messages.
//! Everything uses `try_` channel operations: the event loop never blocks on a channel.

use super::ctx::{Table, WorkerCtx};
use crate::metrics::registry::HistReport;
use crate::metrics::CoreGauges;
use crate::stats::CoreReport;
use std::time::Duration;

/// How often latency histograms travel to the merger (they are larger than the counters).
const HIST_SHIP_INTERVAL: Duration = Duration::from_secs(1);
use crossbeam::channel::{Sender, TrySendError};
use std::rc::Rc;

/// Messages from the main thread.
pub enum Control {
    /// Stop accepting, finish in-flight requests, exit.
    Shutdown,
    /// Serve new requests from this table (already this core's own copy); say so on the
    /// sender once installed.
    Reload(Box<Table>, Sender<()>),
}

/// Sends what this core counted since the last tick and takes the newest merged totals.
pub fn merge_tick(ctx: &WorkerCtx) {
    let link = &ctx.merge;
    let mut report = link
        .unsent
        .borrow_mut()
        .take()
        .unwrap_or_else(|| CoreReport {
            core: ctx.id,
            seq: link.seq.get() + 1,
            ..CoreReport::default()
        });
    let tables = ctx.live_tables();
    let ship_hists = link.last_hist_ship.get().elapsed() >= HIST_SHIP_INTERVAL;
    let mut hist_targets = Vec::new();
    let mut in_flight = 0;
    for table in &tables {
        for b in table.balancers.borrow_mut().values_mut() {
            b.stats
                .drain_into(report.seq, &mut report.tallies, &mut report.latencies);
            in_flight += b.stats.in_flight_total();
            b.open_targets(&mut report.open);
            if ship_hists {
                b.stats.drain_hists(&mut hist_targets);
            }
        }
    }
    if ship_hists {
        link.last_hist_ship.set(std::time::Instant::now());
        let core = std::mem::take(&mut *ctx.core_hists.borrow_mut());
        if !hist_targets.is_empty() || !core.overhead.is_empty() {
            report.hists = Some(Box::new(HistReport {
                targets: hist_targets,
                core,
            }));
        }
        if let Some(log) = &ctx.access_log {
            log.flush();
        }
    }
    let gauges = (ctx.open_connections.get(), in_flight, report.open.len());
    report.gauges = CoreGauges {
        open_connections: gauges.0,
        in_flight: gauges.1,
    };
    let gauges_changed = link.last_gauges.replace(gauges) != gauges;
    if !report.tallies.is_empty()
        || !report.latencies.is_empty()
        || report.hists.is_some()
        || gauges_changed
    {
        let seq = report.seq;
        match link.reports.try_send(report) {
            Ok(()) => link.seq.set(seq),
            Err(TrySendError::Full(r)) => *link.unsent.borrow_mut() = Some(r),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
    let mut newest = None;
    while let Ok(m) = link.merged.try_recv() {
        newest = Some(m);
    }
    if let Some(m) = newest {
        let now = std::time::Instant::now();
        for table in &tables {
            for b in table.balancers.borrow_mut().values_mut() {
                b.apply_merged(&m, ctx.id, now);
            }
        }
        *ctx.last_merged.borrow_mut() = Some(m);
    }
}

/// Installs a reloaded table. Counts still pending on the old one are sent first, so usage
/// carries over (by target key) to the new balancers, which start from the merged totals.
pub fn install(ctx: &WorkerCtx, table: Table) {
    merge_tick(ctx);
    let old = std::mem::replace(&mut *ctx.table.borrow_mut(), Rc::new(table));
    ctx.retired.borrow_mut().push(Rc::downgrade(&old));
}
