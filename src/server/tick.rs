//! A worker's periodic duties: exchange counts with the merger, take control messages.
//! Everything uses `try_` channel operations: the event loop never blocks on a channel.

use super::ctx::{Table, WorkerCtx};
use crate::stats::CoreReport;
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
    for table in &tables {
        for b in table.balancers.borrow_mut().values_mut() {
            b.stats
                .drain_into(report.seq, &mut report.tallies, &mut report.latencies);
        }
    }
    if !report.tallies.is_empty() || !report.latencies.is_empty() {
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
