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
use crate::fleet::state::{FleetConfig, Observed, StateStore, StoreError, Written};
use crate::fleet::{Fleet, RedisUrl};
use crate::server::Server;
use crate::upstream::Resolved;
use crossbeam::channel::{never, select, Receiver};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::path::PathBuf;
use std::time::Duration;

/// `--state`: a file for one node, or Redis for a fleet.
#[derive(Debug, Clone)]
pub enum StateLocation {
    File(PathBuf),
    Redis(RedisUrl),
}

impl StateLocation {
    /// `redis://...` or `rediss://...` is the fleet's store; anything else is a file path.
    pub fn parse(arg: &str) -> Result<StateLocation, String> {
        if arg.starts_with("redis://") || arg.starts_with("rediss://") {
            RedisUrl::parse(arg, "--state").map(StateLocation::Redis)
        } else {
            Ok(StateLocation::File(PathBuf::from(arg)))
        }
    }

    pub fn file(&self) -> Option<&PathBuf> {
        match self {
            StateLocation::File(p) => Some(p),
            StateLocation::Redis(_) => None,
        }
    }
}

/// The fleet's configuration store and where this node stands with it (`--state redis://`).
pub struct FleetState {
    pub store: StateStore,
    /// The fleet version this node runs; 0 until it has one (started while Redis was away).
    pub version: u64,
    /// Versions the watcher thread saw.
    pub updates: Receiver<Observed>,
    /// A fleet version that failed to load here, so it is reported once, not on every poll.
    pub failed: Option<u64>,
    pub adopted: u64,
}

/// How many times an Admin API change is re-applied on top of a concurrent one before giving up.
const MAX_CONFLICTS: usize = 16;

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
}

impl Supervisor {
    /// Runs until SIGINT or SIGTERM, then stops the workers gracefully. Returns the exit code.
    pub fn run(mut self, mut signals: signal_hook::iterator::Signals) -> i32 {
        self.publish_fleet_state();
        loop {
            for sig in signals.pending() {
                match sig {
                    SIGHUP => self.reload_file(),
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
                body,
                reply,
            } => {
                let _ = reply.send(self.entities(&method, &path, &body));
            }
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
    fn entities(&mut self, method: &str, path: &str, body: &[u8]) -> EntityReply {
        if self.fleet_state.is_some() {
            return self.fleet_entities(method, path, body);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let env = |name: &str| self.source.env(name);
        let (response, changed) = self.store.handle(method, path, body, &env, now);
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
        if let Some(fleet) = &self.fleet {
            fleet.set_config(config);
        }
        crate::info!(
            "configuration reloaded: {} routes, {} AI plugins",
            config.routes.len(),
            config.plugins().len()
        );
        Ok(())
    }
}

/// `--state redis://`: the configuration lives in Redis and every node runs the same version.
impl Supervisor {
    /// An Admin API call with the fleet's configuration: the changed document is validated,
    /// written with a compare-and-set on the version this node runs, then applied here (other
    /// nodes apply it when their watcher sees the new version). If another node changed the
    /// configuration first, the write is stale: this node adopts the newer configuration and
    /// applies the call again on top of it, so neither change is lost.
    fn fleet_entities(&mut self, method: &str, path: &str, body: &[u8]) -> EntityReply {
        for _ in 0..MAX_CONFLICTS {
            let env = |name: &str| self.source.env(name);
            let (response, changed) = self.store.handle(method, path, body, &env, unix_secs());
            let Some(new) = changed else {
                return EntityReply {
                    response,
                    warning: None,
                };
            };
            let yaml = new.to_yaml();
            let loaded = match self.validate(&yaml, "admin API") {
                Ok(l) => l,
                Err(errors) => {
                    return failure(
                        500,
                        format!("the change could not be applied: {}", errors.join("; ")),
                    )
                }
            };
            match self.write_fleet(&yaml) {
                Ok(Written::Done(_)) => {
                    let applied = self.apply(&loaded.config);
                    self.store = new;
                    return match applied {
                        Ok(()) => EntityReply {
                            response,
                            warning: None,
                        },
                        Err(e) => failure(
                            500,
                            format!("the change is stored for the fleet but this node could not apply it: {e}"),
                        ),
                    };
                }
                Ok(Written::Stale(_)) => {
                    if let Err(e) = self.refresh_from_fleet() {
                        return failure(503, format!("the change was not made: {e}"));
                    }
                }
                Err(e) => return failure(503, unsaved(&e)),
            }
        }
        failure(
            503,
            format!("the fleet configuration changed {MAX_CONFLICTS} times while this change was being made; nothing was changed, try again"),
        )
    }

    /// `POST /config` with the fleet's configuration: the new document replaces the fleet's.
    fn replace_fleet_config(&mut self, text: &str) -> Result<String, Vec<String>> {
        let store = EntityStore::from_text(text)
            .map_err(|e| vec![format!("the Admin API cannot read this config: {e}")])?;
        // What every node will load: the document with its generated ids written out.
        let yaml = store.to_yaml();
        let loaded = self.validate(&yaml, "POST /config")?;
        for _ in 0..MAX_CONFLICTS {
            match self.write_fleet(&yaml) {
                Ok(Written::Done(_)) => {
                    self.apply(&loaded.config).map_err(|e| vec![e])?;
                    self.store = store;
                    return Ok(loaded.config.summary());
                }
                Ok(Written::Stale(_)) => self.refresh_from_fleet().map_err(|e| vec![e])?,
                Err(e) => return Err(vec![unsaved(&e)]),
            }
        }
        Err(vec![format!(
            "the fleet configuration changed {MAX_CONFLICTS} times meanwhile; nothing was changed, try again"
        )])
    }

    /// Compare-and-set of `yaml` over the version this node runs; on success this node runs
    /// (is about to run) the new version.
    fn write_fleet(&mut self, yaml: &str) -> Result<Written, StoreError> {
        let Some(fs) = self.fleet_state.as_mut() else {
            return Err(StoreError::Unreachable(
                "no fleet configuration store".into(),
            ));
        };
        let written = fs.store.compare_and_set(fs.version, yaml)?;
        if let Written::Done(v) = written {
            fs.version = v;
            crate::info!("fleet configuration version {v} written by this node");
        }
        self.publish_fleet_state();
        Ok(written)
    }

    /// Reads the fleet's configuration and runs it if it is not the version this node runs.
    fn refresh_from_fleet(&mut self) -> Result<(), String> {
        let fs = self
            .fleet_state
            .as_mut()
            .ok_or("no fleet configuration store")?;
        match fs.store.load()? {
            Some(config) => self.adopt_fleet(config),
            None => Ok(()),
        }
    }

    /// Runs the fleet's configuration `config` (a newer version than this node's).
    fn adopt_fleet(&mut self, config: FleetConfig) -> Result<(), String> {
        if self.fleet_state.as_ref().map(|f| f.version) == Some(config.version) {
            return Ok(());
        }
        let store = EntityStore::from_text(&config.yaml)
            .map_err(|e| format!("the fleet configuration version {}: {e}", config.version))?;
        let source = format!("fleet configuration version {}", config.version);
        self.apply_text(&config.yaml, &source)
            .map_err(|errors| format!("{source}:\n{}", errors.join("\n")))?;
        self.store = store;
        if let Some(fs) = self.fleet_state.as_mut() {
            fs.version = config.version;
            fs.adopted += 1;
            fs.failed = None;
        }
        crate::info!(
            "fleet configuration version {} (written by node {}) applied",
            config.version,
            config.node
        );
        self.publish_fleet_state();
        Ok(())
    }

    /// The watcher saw the fleet at version `seen`: adopt a newer one; restore ours where
    /// Redis has none or an older one (it restarted empty, or failed over to a stale replica).
    fn on_fleet_state(&mut self, seen: Observed) {
        let Some(fs) = self.fleet_state.as_mut() else {
            return;
        };
        let (mine, theirs) = (fs.version, seen.version());
        if theirs > mine {
            if fs.failed == Some(theirs) {
                return;
            }
            let Some(config) = seen.config else {
                return;
            };
            if let Err(e) = self.adopt_fleet(config) {
                crate::error!("this node keeps running configuration version {mine}: {e}");
                if let Some(fs) = self.fleet_state.as_mut() {
                    fs.failed = Some(theirs);
                }
            }
        } else if theirs < mine || theirs == 0 {
            let yaml = self.store.to_yaml();
            match fs.store.seed(mine.max(1), &yaml) {
                Ok(Written::Done(v)) => {
                    fs.version = v;
                    crate::warn!(
                        "fleet configuration in Redis was {}; restored version {v} from this node",
                        if theirs == 0 {
                            "missing".to_string()
                        } else {
                            format!("at older version {theirs}")
                        }
                    );
                    self.publish_fleet_state();
                }
                // Another node restored it first, or Redis is away: the watcher reports again.
                Ok(Written::Stale(_)) | Err(_) => {}
            }
        }
    }

    /// The version this node runs and how many it adopted, for `/status` and `/metrics`.
    fn publish_fleet_state(&self) {
        let Some(fs) = &self.fleet_state else {
            return;
        };
        if let Ok(mut reg) = self.server.registry.lock() {
            let r = reg.fleet_state.get_or_insert_with(Default::default);
            r.redis = fs.store.url().to_string();
            r.version = fs.version;
            r.adopted = fs.adopted;
        }
    }
}

/// What a client is told when its change could not be stored for the fleet.
fn unsaved(e: &StoreError) -> String {
    match e {
        StoreError::Unreachable(e) => format!("the change was not made: {e}"),
        StoreError::NoAnswer(e) => format!(
            "the change was not confirmed: {e}; GET /plugins on any node shows whether it was made"
        ),
    }
}

fn failure(status: u16, message: String) -> EntityReply {
    EntityReply {
        response: ApiResponse {
            status,
            body: serde_json::json!({ "message": message }).to_string(),
        },
        warning: None,
    }
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The signals the supervisor handles; registered before any worker starts so none is lost.
pub fn signals() -> std::io::Result<signal_hook::iterator::Signals> {
    signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
}
