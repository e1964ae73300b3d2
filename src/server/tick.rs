//! A worker's periodic duties: exchange counts with the merger, take control messages.
//! Everything uses `try_` channel operations: the event loop never blocks on a channel.

use crate::ctx::{Generation, WorkerCtx};
use crate::stats::{CoreGauges, CoreReport, HistReport};
use crossbeam::channel::{Sender, TrySendError};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often latency histograms travel to the merger (they are larger than the counters).
const HIST_SHIP_INTERVAL: Duration = Duration::from_secs(1);

/// Buffers freed in one trim beyond which the allocator is asked to give memory back.
const RETURN_TO_SYSTEM_AFTER: usize = 256;

/// glibc keeps freed memory in its arenas; after a burst (thousands of streams) that would
/// keep the process's resident size at its peak. `malloc_trim` hands free pages back.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and shrinks the allocator's own free lists; it takes no
    // pointers from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Messages from the main thread.
pub enum Control {
    /// Stop accepting, finish in-flight requests, exit.
    Shutdown,
    /// Serve new requests from this generation (already this core's own copy); say so on the
    /// sender once installed.
    Reload(Box<Generation>, Sender<()>),
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
    let generations = ctx.live_generations();
    let ship_hists = link.last_hist_ship.get().elapsed() >= HIST_SHIP_INTERVAL;
    let mut hist_targets = Vec::new();
    let mut in_flight = 0;
    for generation in &generations {
        for plugin in generation.plugins() {
            let mut b = plugin.balancer();
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
        // Once a second: per-request and read buffers beyond what the last second needed go
        // back, and after a burst the allocator returns the freed pages to the system.
        let freed = ctx.scratch.trim() + crate::http1::spare::trim();
        if freed >= RETURN_TO_SYSTEM_AFTER {
            return_freed_memory();
        }
        link.last_hist_ship.set(Instant::now());
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
    ctx.limits.borrow_mut().drain(&mut report.limits);
    ctx.consumer_usage.borrow_mut().drain(&mut report.consumers);
    if link.last_limit_sweep.get().elapsed() >= HIST_SHIP_INTERVAL {
        ctx.limits
            .borrow_mut()
            .sweep(crate::stats::limits::unix_seconds());
        link.last_limit_sweep.set(Instant::now());
    }
    report.gauges = CoreGauges {
        open_connections: ctx.open_connections.get(),
        in_flight,
        idle_upstream_connections: ctx.pool.borrow().idle_count(),
        statistics_log_dropped: ctx.access_log.as_ref().map_or(0, |l| l.dropped()),
    };
    // Open breakers are part of what the merger shows: a change there is news too.
    let open_count = report.open.len();
    let gauges_changed = link.last_gauges.replace(report.gauges) != report.gauges
        || link.last_open.replace(open_count) != open_count;
    if !report.tallies.is_empty()
        || !report.latencies.is_empty()
        || !report.limits.is_empty()
        || !report.consumers.is_empty()
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
        let now = Instant::now();
        for generation in &generations {
            for plugin in generation.plugins() {
                plugin.balancer().apply_merged(&m, ctx.id, now);
            }
        }
        ctx.limits.borrow_mut().adopt(&m);
        *ctx.last_merged.borrow_mut() = Some(m);
    }
}

/// Installs a reloaded generation. Counts still pending on the old one are sent first, and the
/// new balancers start from the merged totals, so usage carries over (by target key).
pub fn install(ctx: &WorkerCtx, mut generation: Generation) {
    merge_tick(ctx);
    let merged = ctx.last_merged.borrow();
    if let Some(m) = merged.as_deref() {
        generation.adopt_merged(m, ctx.id);
    }
    generation.bind_limits(&mut ctx.limits.borrow_mut(), merged.as_deref());
    drop(merged);
    let old = std::mem::replace(&mut *ctx.generation.borrow_mut(), Rc::new(generation));
    ctx.retired.borrow_mut().push(Rc::downgrade(&old));
}
