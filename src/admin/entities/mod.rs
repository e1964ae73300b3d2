//! Kong Admin API entity endpoints (`/plugins`, `/services`, `/routes`, `/consumers` with their
//! `/key-auth` and `/acls`, Kong's other tables as empty lists, `/schemas`) over the running
//! decK document.
//!
//! [`EntityStore`] is a pure, synchronous in-memory model of the gateway's declarative state: the
//! decK document as a YAML tree. The admin thread calls [`EntityStore::handle`] for one Admin API
//! call; a call that changes state returns the new store, already checked with
//! [`crate::config::load_str`], and the caller hands its [`EntityStore::to_yaml`] to the gateway
//! and keeps the new store only if the gateway accepts it.
//!
//! New entities are written at the top level of the document (a plugin with a `service:`/`route:`
//! reference by name, or id when the entity has no name), as decK writes them. Entities nested in
//! a service or route stay where they are: they are listed, replaced, patched and deleted in
//! place (a `PUT` that gives one another parent moves it to the top level).
//!
//! Every service, route and plugin has an `id`: those the file leaves out get a name-based UUID
//! (version 5) of the entity kind, its YAML path and its name, written into the document, so that
//! the same file gives the same ids on every start; a plugin created without one gets a random
//! UUID (version 4), as in Kong.
//!
//! Responses have Kong 3.x's shapes: entities and plugin `config`s with every field of Kong's
//! schema and Kong's defaults for unset ones (the stored document keeps what the user wrote),
//! `{"data":[...],"next":null}` lists, `{"message":"Not found"}` and Kong's error objects
//! (`{"message","name","fields","code"}`). Set values are returned as stored, `${{ env }}`
//! templates included (as Kong returns them: this is the localhost admin API); error messages
//! never contain configured values. Bodies are JSON, or Kong's form keys
//! (`config.targets[1].model.name=...`), form-encoded or multipart.
//!
//! The pieces, each using only those listed before it: `model` (the shared vocabulary), `json`
//! (serde_json in and out of the YAML tree), `response`, `paging` and `errors` (Kong's answer
//! shapes, pages and error objects), `index` (where each entity is, taken from the config
//! loader's own entity list), `ids` (the ids clients address entities by), `defaults` and
//! `schemas` (Kong's defaults and schemas, from the loader's schema tables), `form`, `infer` and
//! `body` (request bodies), `views` (entities as Kong shows them), `change` (what every change
//! shares), `plugins` and `writes` (plugin, service and route changes), `consumers` (consumers,
//! keys and ACL groups: views and changes), `dispatch` (the endpoint table), then this file (the
//! store). `state_file` stands alone: it persists the document.

use crate::config::as_mapping;
use ids::assign_ids;
use index::Index;
use model::yaml_text;
use serde_yaml_ng::Value;

mod body;
mod change;
mod consumers;
mod credentials;
mod defaults;
mod dispatch;
mod errors;
mod form;
mod ids;
mod index;
mod infer;
mod json;
mod model;
mod paging;
mod plugins;
mod response;
mod schemas;
mod state_file;
mod views;
mod writes;

pub(crate) use body::declarative_text;
pub use model::ApiResponse;
pub use state_file::write_state_atomically;

#[cfg(test)]
mod tests;

/// The running declarative config as a decK document, every entity with an `id`.
#[derive(Clone)]
pub struct EntityStore {
    doc: Value,
}

/// Never the document itself: it holds credentials.
impl std::fmt::Debug for EntityStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ix = Index::build(&self.doc);
        f.debug_struct("EntityStore")
            .field("services", &ix.services.len())
            .field("routes", &ix.routes.len())
            .field("plugins", &ix.plugins.len())
            .finish()
    }
}

/// Whether `path` (query string allowed) is one of the endpoints [`EntityStore::handle`] serves:
/// `/plugins...`, `/services...`, `/routes...`.
pub fn handles_path(path: &str) -> bool {
    match dispatch::split_path(path).first().map(String::as_str) {
        Some("plugins" | "services" | "routes" | "consumers" | "key-auths" | "acls") => true,
        Some(table) => dispatch::EMPTY_TABLES.contains(&table),
        None => false,
    }
}

/// Kong's schema endpoints (`/schemas/{entity}`, `/schemas/plugins/{name}`), answered from the
/// static schema tables without the store; `None` for other paths.
pub fn schema_call(method: &str, path: &str) -> Option<ApiResponse> {
    let segs = dispatch::split_path(path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if segs.first() != Some(&"schemas") {
        return None;
    }
    let answer = match (method, segs.as_slice()) {
        ("GET", ["schemas", "plugins", name]) => schemas::plugin(name),
        ("GET", ["schemas", "vaults", name]) => {
            response::message(404, &format!("No vault named '{name}'"))
        }
        ("GET", ["schemas", name]) => schemas::entity(name),
        ("GET", _) => response::not_found(),
        _ => response::message(405, "Method not allowed"),
    };
    Some(answer)
}

/// Kong has `created_at`/`updated_at` on every entity; those the file leaves out are the time
/// llmux first loaded it (written into the document, so a `--state` file keeps them).
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn stamp_times(doc: &mut Value) {
    let now = now();
    let locs: Vec<Vec<model::Step>> = Index::build(doc)
        .all()
        .map(|(_, e)| e.loc.clone())
        .collect();
    for loc in locs {
        if let Some(Value::Mapping(m)) = model::at_mut(doc, &loc) {
            for key in ["created_at", "updated_at"] {
                if !m.contains_key(key) {
                    m.insert(key.into(), Value::Number(now.into()));
                }
            }
        }
    }
}

impl EntityStore {
    /// From the running config's text (YAML or JSON decK). YAML merge keys are applied;
    /// `${{ env }}` templates are kept as written. Services, routes and plugins without an `id`
    /// get a generated one, stable for the same text.
    pub fn from_text(text: &str) -> Result<EntityStore, String> {
        let mut doc: Value =
            serde_yaml_ng::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
        doc.apply_merge()
            .map_err(|e| format!("invalid YAML merge key: {e}"))?;
        if as_mapping(&doc).is_none() {
            return Err("expected a mapping at the top of the config".to_string());
        }
        assign_ids(&mut doc);
        stamp_times(&mut doc);
        consumers::assign_ids(&mut doc, now());
        Ok(EntityStore { doc })
    }

    /// The whole decK document, for `--state` files and for `load_str`.
    pub fn to_yaml(&self) -> String {
        yaml_text(&self.doc)
    }

    /// Handles one Admin API call. `body` is read by its `content_type`: a JSON object (or
    /// empty), or Kong's form keys; `env` resolves `${{ env "NAME" }}` when the changed document
    /// is checked; `now` (unix seconds) stamps `created_at`/`updated_at`. A call that changes
    /// state returns the new store, which already loads with
    /// `load_str(&new.to_yaml(), "admin API", env)`; the caller commits it only if the gateway
    /// accepts that text.
    pub fn handle(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
        env: &dyn Fn(&str) -> Option<String>,
        now: u64,
    ) -> (ApiResponse, Option<EntityStore>) {
        let (response, changed) =
            dispatch::handle(&self.doc, method, path, content_type, body, env, now);
        (response, changed.map(|doc| EntityStore { doc }))
    }
}
