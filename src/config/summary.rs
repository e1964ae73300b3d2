//! `llmux validate`'s human summary. Prints names, paths and URLs (with any auth query value
//! redacted), never header values or other secrets.

use super::routes::GatewayConfig;
use super::types::{AiProxyConfig, TargetConfig};
use std::fmt::Write;

impl GatewayConfig {
    /// Routes with their paths and the plugin in scope, then each AI plugin with its targets
    /// (provider/name, alias, weight, URL). Never prints secrets.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "routes: {}", self.routes.len());
        for r in &self.routes {
            let paths = if r.paths.is_empty() {
                "(any)".to_string()
            } else {
                r.paths.join(", ")
            };
            let methods = if r.methods.is_empty() {
                "any".to_string()
            } else {
                r.methods.join(", ")
            };
            let _ = write!(out, "  route {}: paths {paths}; methods {methods}", r.name);
            if let Some(s) = &r.service {
                let _ = write!(out, "; service {s}");
            }
            match &r.plugin {
                Some(p) => {
                    let _ = writeln!(out, " -> {} ({})", p.plugin_name, p.scope);
                }
                None => {
                    let _ = writeln!(out, " -> no AI plugin in scope (404)");
                }
            }
        }
        if let Some(p) = &self.catch_all {
            let _ = writeln!(
                out,
                "catch-all (no routes in the file): {} ({}) on every path",
                p.plugin_name, p.scope
            );
        }
        let plugins = self.plugins();
        let _ = writeln!(out, "AI plugins: {}", plugins.len());
        for p in plugins {
            plugin_summary(&mut out, p);
        }
        out
    }
}

fn plugin_summary(out: &mut String, p: &AiProxyConfig) {
    let b = &p.balancer;
    let _ = writeln!(out, "  {} {} ({})", p.plugin_name, p.id, p.scope);
    let _ = writeln!(
        out,
        "    balancer: {}, tokens {}, latency {}, retries {}, failover [{}], timeouts connect/read/write {}/{}/{} ms, max_fails {}",
        b.algorithm,
        b.tokens_count_strategy,
        b.latency_strategy,
        b.retries,
        b.failover_criteria.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        b.connect_timeout_ms,
        b.read_timeout_ms,
        b.write_timeout_ms,
        b.max_fails,
    );
    let body = if p.max_request_body_size == usize::MAX {
        "unlimited".to_string()
    } else {
        format!("{} bytes", p.max_request_body_size)
    };
    let _ = writeln!(
        out,
        "    streaming {}, max body {body}, model header {}",
        p.response_streaming, p.model_name_header
    );
    for t in &p.targets {
        target_summary(out, t);
    }
}

fn target_summary(out: &mut String, t: &TargetConfig) {
    let name = t.model_name.as_deref().unwrap_or("(client's model)");
    let _ = write!(out, "    target {}: {}/{name}", t.index, t.provider);
    if let Some(a) = &t.model_alias {
        let _ = write!(out, " alias {a}");
    }
    let _ = write!(
        out,
        " weight {} {} {}",
        t.weight, t.route_type, t.upstream.display
    );
    if let Some((h, _)) = &t.auth.header {
        let _ = write!(out, " auth header {h}");
    }
    if let Some((n, _)) = &t.auth.body_param {
        let _ = write!(out, " auth body {n}");
    }
    if let Some(n) = &t.auth.query_param_name {
        let _ = write!(out, " auth query {n}");
    }
    out.push('\n');
}
