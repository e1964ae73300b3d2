//! One configuration generation as a worker runs it: the routing table, and per AI plugin the
//! upstream peers and balancer state built from it.
//!
//! A reload builds a new generation (on the main thread, one private copy per worker) and the
//! worker swaps it in; requests keep the `Rc` they started with, so a reload never changes a
//! request's plugin, peers or balancer half way, and an old generation goes away with its
//! last request.

use crate::balancer::PluginBalancer;
use crate::config::{AiProxyConfig, GatewayConfig};
use crate::limits::LimitsState;
use crate::stats::Merged;
use crate::upstream::{HttpPeer, PeerOptions, Resolved};
use std::cell::{RefCell, RefMut};
use std::sync::Arc;

pub struct Generation {
    pub config: GatewayConfig,
    /// By plugin slot ([`AiProxyConfig::slot`]).
    plugins: Vec<PluginRuntime>,
    /// Where each limiter of `config.access` keeps its counts in the worker's `LimitsState`:
    /// by index in `request_limits`, then in `token_limits`.
    request_limits: Vec<usize>,
    token_limits: Vec<usize>,
}

/// An AI plugin, ready to serve: its config, where each target lives and how to reach it, and
/// this worker's balancing state for it.
pub struct PluginRuntime {
    pub config: Arc<AiProxyConfig>,
    /// By target index.
    pub peers: Vec<HttpPeer>,
    pub options: PeerOptions,
    balancer: RefCell<PluginBalancer>,
}

impl Generation {
    /// `config` must already be this worker's own copy (`GatewayConfig::per_core_copy`).
    pub fn new(config: GatewayConfig, resolved: &Resolved, core: usize) -> Generation {
        let plugins = config
            .plugins()
            .iter()
            .map(|p| PluginRuntime {
                config: Arc::clone(p),
                peers: p
                    .targets
                    .iter()
                    .map(|t| HttpPeer::new(&t.upstream, resolved))
                    .collect(),
                options: PeerOptions::of(&p.balancer),
                balancer: RefCell::new(PluginBalancer::new(p, None, core)),
            })
            .collect();
        Generation {
            config,
            plugins,
            request_limits: Vec::new(),
            token_limits: Vec::new(),
        }
    }

    /// Finds (or makes) each limiter's counters in this worker's state, by limiter id: a
    /// reload that keeps a limiter keeps counting where the old configuration stopped. Called
    /// on the worker before the generation serves.
    pub fn bind_limits(&mut self, state: &mut LimitsState, merged: Option<&Merged>) {
        let access = &self.config.access;
        self.request_limits = (access.request_limits.iter())
            .map(|l| state.bind(&l.id, merged))
            .collect();
        self.token_limits = (access.token_limits.iter())
            .map(|l| state.bind(&l.id, merged))
            .collect();
    }

    /// The worker's counters for request limiter `i` of `config.access`.
    pub fn request_limit_state(&self, i: u32) -> usize {
        self.request_limits
            .get(i as usize)
            .copied()
            .unwrap_or(usize::MAX)
    }

    /// The worker's counters for token limiter `i` of `config.access`.
    pub fn token_limit_state(&self, i: u32) -> usize {
        self.token_limits
            .get(i as usize)
            .copied()
            .unwrap_or(usize::MAX)
    }

    /// The runtime of `plugin`, which must come from this generation's config.
    pub fn plugin(&self, plugin: &AiProxyConfig) -> Option<&PluginRuntime> {
        self.plugins.get(plugin.slot)
    }

    pub fn plugins(&self) -> &[PluginRuntime] {
        &self.plugins
    }

    /// Starts every balancer from the merged totals the worker already has, so usage counted
    /// before a reload still steers `lowest-usage` after it.
    pub fn adopt_merged(&self, merged: &Merged, core: usize) {
        for p in &self.plugins {
            p.balancer.borrow_mut().adopt_merged(merged, core);
        }
    }
}

impl PluginRuntime {
    /// This worker's balancer for the plugin. Never hold the guard across an `.await`.
    pub fn balancer(&self) -> RefMut<'_, PluginBalancer> {
        self.balancer.borrow_mut()
    }
}
