//! The main thread once the workers run: signals, config reloads and admin commands.
//!
//! Everything slow or blocking (reading and validating a config file, DNS, building each
//! core's table copy) happens here, never on a worker. A reload that fails validation changes
//! nothing: the errors are logged (and returned to an admin caller) and the old config keeps
//! serving.

use crate::admin::entities::{write_state_atomically, ApiResponse, EntityStore};
use crate::admin::status::{SharedView, View};
use crate::admin::{AdminCommand, EntityReply};
use crate::config::{self, GatewayConfig};
use crate::server::Server;
use crate::upstream::Resolved;
use crossbeam::channel::{Receiver, RecvTimeoutError};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::path::PathBuf;
use std::time::Duration;

/// Where the running config comes from, and where admin changes go.
pub struct Source {
    /// What SIGHUP re-reads: the `--state` file when given, else `--config`; `None` for the
    /// built-in demo.
    pub file: Option<PathBuf>,
    /// `--state`: admin changes are written through to it, atomically.
    pub state: Option<PathBuf>,
    /// `${{ env }}` variables llmux defines itself (the demo's mock address).
    pub extra_env: Vec<(String, String)>,
}

impl Source {
    pub fn env(&self, name: &str) -> Option<String> {
        self.extra_env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    }
}

pub struct Supervisor {
    pub server: Server,
    pub source: Source,
    /// The running config as a Kong entity document, for the Admin API.
    pub store: EntityStore,
    /// What the admin API describes, rebuilt on every successful reload.
    pub view: SharedView,
    pub admin: Receiver<AdminCommand>,
    /// The `--listen-tls` certificate, re-read with every reload.
    pub tls: Option<crate::server::tls::ListenerTls>,
}

impl Supervisor {
    /// Runs until SIGINT or SIGTERM, then stops the workers gracefully. Returns the exit code.
    pub fn run(mut self, mut signals: signal_hook::iterator::Signals) -> i32 {
        loop {
            for sig in signals.pending() {
                match sig {
                    SIGHUP => {
                        self.reload_tls("SIGHUP");
                        self.reload_file();
                    }
                    SIGINT | SIGTERM => {
                        crate::info!("signal {sig} received: stopping accepting, finishing in-flight requests");
                        self.server.stop();
                        crate::info!("stopped");
                        return 0;
                    }
                    _ => {}
                }
            }
            match self.admin.recv_timeout(Duration::from_millis(100)) {
                Ok(AdminCommand::ReplaceConfig { text, reply }) => {
                    self.reload_tls("POST /config");
                    let result = self.apply_text(&text, "POST /config");
                    if result.is_ok() {
                        self.adopt_text(&text);
                    }
                    let _ = reply.send(result);
                }
                Ok(AdminCommand::Entities {
                    method,
                    path,
                    content_type,
                    body,
                    reply,
                }) => {
                    let _ = reply.send(self.entities(&method, &path, &content_type, &body));
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
            }
        }
    }

    /// Re-reads the TLS listener's certificate and key; new handshakes use them, open
    /// connections keep theirs. A bad file keeps the old certificate.
    fn reload_tls(&self, why: &str) {
        let Some(tls) = &self.tls else { return };
        match tls.reload() {
            Ok(()) => crate::info!("{why}: TLS certificate reloaded"),
            Err(e) => crate::error!(
                "{why}: TLS certificate not reloaded, the previous one stays in use: {e}"
            ),
        }
    }

    fn reload_file(&mut self) {
        let Some(path) = self.source.file.clone() else {
            crate::warn!("SIGHUP: the built-in demo has no config file to re-read");
            return;
        };
        crate::info!("SIGHUP: reloading {}", path.display());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                crate::error!(
                    "reload rejected, the previous configuration stays in force: reading {}: {e}",
                    path.display()
                );
                return;
            }
        };
        match self.apply_text(&text, &path.display().to_string()) {
            Ok(_) => self.adopt_text(&text),
            Err(errors) => crate::error!(
                "reload rejected, the previous configuration stays in force:\n{}",
                errors.join("\n")
            ),
        }
    }

    /// Loads, validates and applies `text`; returns the summary or every error.
    fn apply_text(&self, text: &str, source: &str) -> Result<String, Vec<String>> {
        let env = |name: &str| self.source.env(name);
        let loaded = config::load_str(text, source, &env)
            .map_err(|errors| errors.0.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        for w in &loaded.warnings {
            crate::warn!("{w}");
        }
        self.apply(&loaded.config).map_err(|e| vec![e])?;
        Ok(loaded.config.summary())
    }

    /// After a whole new config was applied: the Admin API works on it from now on, and a
    /// `--state` file holds it.
    fn adopt_text(&mut self, text: &str) {
        match EntityStore::from_text(text) {
            Ok(store) => {
                self.store = store;
                self.persist();
            }
            Err(e) => crate::warn!("the Admin API cannot edit this config ({e}); it still serves"),
        }
    }

    /// One Kong Admin API call: a change is committed only once every worker runs it.
    fn entities(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> EntityReply {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let env = |name: &str| self.source.env(name);
        let (response, changed) = self
            .store
            .handle(method, path, content_type, body, &env, now);
        let Some(new) = changed else {
            return EntityReply {
                response,
                warning: None,
            };
        };
        if let Err(errors) = self.apply_text(&new.to_yaml(), "admin API") {
            return EntityReply {
                response: ApiResponse {
                    status: 500,
                    body: serde_json::json!({
                        "message": format!("the change could not be applied: {}", errors.join("; "))
                    })
                    .to_string(),
                },
                warning: None,
            };
        }
        self.store = new;
        let warning = match &self.source.state {
            Some(_) => {
                self.persist();
                None
            }
            None => Some(
                "this change lives in memory only; start llmux with --state FILE to keep admin changes across restarts"
                    .to_string(),
            ),
        };
        EntityReply { response, warning }
    }

    /// Writes the current entity document to the `--state` file, if any.
    fn persist(&self) {
        if let Some(path) = &self.source.state {
            if let Err(e) = write_state_atomically(path, &self.store.to_yaml()) {
                crate::error!("writing the state file {}: {e}", path.display());
            }
        }
    }

    fn apply(&self, config: &GatewayConfig) -> Result<(), String> {
        let (resolved, dns_warnings) = Resolved::for_config(config);
        for w in &dns_warnings {
            crate::warn!("{w}");
        }
        self.server.reload(config, &resolved)?;
        if let Ok(mut v) = self.view.write() {
            *v = View::of(config);
        }
        crate::info!(
            "configuration reloaded: {} routes, {} AI plugins",
            config.routes.len(),
            config.plugins().len()
        );
        Ok(())
    }
}

/// The signals the supervisor handles; registered before any worker starts so none is lost.
pub fn signals() -> std::io::Result<signal_hook::iterator::Signals> {
    signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
}
