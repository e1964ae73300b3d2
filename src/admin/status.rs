//! The `GET /status` document: what this gateway runs, without credentials.

use crate::body::push_quoted;
use crate::config::GatewayConfig;

/// Renders the status JSON once at start-up; it changes only with the config.
pub fn status_json(config: &GatewayConfig, drivers: &[&str]) -> String {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"version\":");
    push_quoted(env!("CARGO_PKG_VERSION"), &mut out);
    out.extend_from_slice(format!(",\"workers\":{},\"io_drivers\":[", drivers.len()).as_bytes());
    for (i, d) in drivers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_quoted(d, &mut out);
    }
    out.extend_from_slice(b"],\"routes\":[");
    for (i, r) in config.routes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        push_quoted(&r.name, &mut out);
        out.extend_from_slice(b",\"paths\":[");
        for (j, p) in r.paths.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            push_quoted(p, &mut out);
        }
        out.extend_from_slice(format!("],\"ai_proxy\":{}}}", r.plugin.is_some()).as_bytes());
    }
    out.extend_from_slice(b"],\"plugins\":[");
    for (i, p) in config.plugins().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        push_quoted(&p.id, &mut out);
        out.extend_from_slice(b",\"targets\":[");
        for (j, t) in p.targets.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"provider\":");
            push_quoted(t.provider.as_str(), &mut out);
            out.extend_from_slice(b",\"model\":");
            push_quoted(t.model_name.as_deref().unwrap_or(""), &mut out);
            out.extend_from_slice(b",\"alias\":");
            push_quoted(t.model_alias.as_deref().unwrap_or(""), &mut out);
            out.extend_from_slice(format!(",\"weight\":{},\"upstream\":", t.weight).as_bytes());
            // Host and port only: a query string may carry an auth parameter.
            let scheme = if t.upstream.tls { "https" } else { "http" };
            push_quoted(
                &format!("{scheme}://{}:{}", t.upstream.host, t.upstream.port),
                &mut out,
            );
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"]}");
    String::from_utf8_lossy(&out).into_owned()
}
