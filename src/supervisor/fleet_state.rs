//! `--state redis://`: the configuration the Admin API edits lives in Redis and every node
//! runs the same version of it. The supervisor's side of `fleet::state`: versioned writes of
//! Admin API changes, adopting other nodes' versions, and restoring a Redis that lost it.

use super::Supervisor;
use crate::admin::entities::{ApiResponse, EntityStore};
use crate::admin::EntityReply;
use crate::fleet::state::{FleetConfig, Observed, StateStore, StoreError, Written};
use crate::fleet::RedisUrl;
use crossbeam::channel::Receiver;
use std::path::PathBuf;

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

/// `--state redis://`: the configuration lives in Redis and every node runs the same version.
impl Supervisor {
    /// An Admin API call with the fleet's configuration: the changed document is validated,
    /// written with a compare-and-set on the version this node runs, then applied here (other
    /// nodes apply it when their watcher sees the new version). If another node changed the
    /// configuration first, the write is stale: this node adopts the newer configuration and
    /// applies the call again on top of it, so neither change is lost.
    pub(super) fn fleet_entities(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> EntityReply {
        for _ in 0..MAX_CONFLICTS {
            let env = |name: &str| self.source.env(name);
            let (response, changed) =
                self.store
                    .handle(method, path, content_type, body, &env, unix_secs());
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
    pub(super) fn replace_fleet_config(&mut self, text: &str) -> Result<String, Vec<String>> {
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
    pub(super) fn refresh_from_fleet(&mut self) -> Result<(), String> {
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
    pub(super) fn on_fleet_state(&mut self, seen: Observed) {
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
    pub(super) fn publish_fleet_state(&self) {
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
