//! The main thread once the workers run: signals, config reloads and admin commands.
//!
//! Everything slow or blocking (reading and validating a config file, DNS, building each
//! core's table copy) happens here, never on a worker. A reload that fails validation changes
//! nothing: the errors are logged (and returned to an admin caller) and the old config keeps
//! serving.

use crate::admin::entities::{write_state_atomically, ApiResponse, EntityStore};
use crate::admin::status::{SharedView, View};
use crate::admin::{AdminCommand, EntityReply};
use crate::config::{self, GatewayConfig, Loaded};
use crate::fleet::Fleet;
use crate::server::Server;
use crate::upstream::Resolved;
use crossbeam::channel::{never, select, Receiver};
pub use fleet_state::{FleetState, StateLocation};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::path::PathBuf;
use std::time::Duration;

mod fleet_state;

/// Where the running config comes from, and where admin changes go.
pub struct Source {
    /// What SIGHUP re-reads: the `--state` file when given, else `--config`; `None` for the
    /// built-in demo. With `--state redis://`, SIGHUP re-reads the fleet's configuration.
    pub file: Option<PathBuf>,
    /// `--state`: admin changes are written through to it (a file atomically; Redis with a
    /// versioned compare-and-set).
    pub state: Option<StateLocation>,
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
    /// The usage sync (`--redis`).
    pub fleet: Option<Fleet>,
    /// The fleet's configuration store (`--state redis://`).
    pub fleet_state: Option<FleetState>,
    /// The `--listen-tls` certificate, re-read with every reload.
    pub tls: Option<crate::server::tls::ListenerTls>,
}

impl Supervisor {
    /// Runs until SIGINT or SIGTERM, then stops the workers gracefully. Returns the exit code.
    pub fn run(mut self, mut signals: signal_hook::iterator::Signals) -> i32 {
        self.publish_fleet_state();
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
                        if let Some(fleet) = self.fleet.take() {
                            fleet.stop();
                        }
                        crate::info!("stopped");
                        return 0;
                    }
                    _ => {}
                }
            }
            let updates = match &self.fleet_state {
                Some(f) => f.updates.clone(),
                None => never(),
            };
            select! {
                recv(self.admin) -> cmd => {
                    if let Ok(cmd) = cmd {
                        self.command(cmd);
                    }
                }
                recv(updates) -> seen => {
                    if let Ok(seen) = seen {
                        self.on_fleet_state(seen);
                    }
                }
                default(Duration::from_millis(100)) => {}
            }
        }
    }

    fn command(&mut self, cmd: AdminCommand) {
        match cmd {
            AdminCommand::ReplaceConfig { text, reply } => {
                self.reload_tls("POST /config");
                let result = if self.fleet_state.is_some() {
                    self.replace_fleet_config(&text)
                } else {
                    let result = self.apply_text(&text, "POST /config");
                    if result.is_ok() {
                        self.adopt_text(&text);
                    }
                    result
                };
                let _ = reply.send(result);
            }
            AdminCommand::Entities {
                method,
                path,
                content_type,
                body,
                reply,
            } => {
                let _ = reply.send(self.entities(&method, &path, &content_type, &body));
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
        if self.fleet_state.is_some() {
            crate::info!("SIGHUP: re-reading the fleet's configuration");
            if let Err(e) = self.refresh_from_fleet() {
                crate::error!("SIGHUP: {e}");
            }
            return;
        }
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
        let loaded = self.validate(text, source)?;
        self.apply(&loaded.config).map_err(|e| vec![e])?;
        Ok(loaded.config.summary())
    }

    /// Loads and validates `text` without applying it; logs its warnings.
    fn validate(&self, text: &str, source: &str) -> Result<Loaded, Vec<String>> {
        let env = |name: &str| self.source.env(name);
        let loaded = config::load_str(text, source, &env)
            .map_err(|errors| errors.0.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        for w in &loaded.warnings {
            crate::warn!("{w}");
        }
        Ok(loaded)
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
        if self.fleet_state.is_some() {
            return self.fleet_entities(method, path, content_type, body);
        }
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
        if let Some(path) = self.source.state.as_ref().and_then(StateLocation::file) {
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
        match &self.fleet {
            Some(fleet) => fleet.set_config(config),
            None => {
                for w in crate::fleet::limits::KnownLimits::of(config).without_fleet() {
                    crate::warn!("{w}");
                }
            }
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
