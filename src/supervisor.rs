//! The main thread once the workers run: signals, config reloads and admin commands.
//!
//! Everything slow or blocking (reading and validating a config file, DNS, building each
//! core's table copy) happens here, never on a worker. A reload that fails validation changes
//! nothing: the errors are logged (and returned to an admin caller) and the old config keeps
//! serving.

use crate::config::{self, GatewayConfig};
use crate::metrics::status::{SharedView, View};
use crate::server::Server;
use crate::upstream::Resolved;
use crossbeam::channel::{Receiver, RecvTimeoutError, Sender};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::path::PathBuf;
use std::time::Duration;

/// A request from the admin thread, answered on `reply`.
pub enum AdminCommand {
    /// Kong DB-less `POST /config`: a whole declarative config (YAML or JSON) replaces the
    /// running one.
    ReplaceConfig {
        text: String,
        reply: Sender<Result<String, Vec<String>>>,
    },
}

pub struct Supervisor {
    pub server: Server,
    /// The file SIGHUP re-reads; `None` for the built-in demo.
    pub config_path: Option<PathBuf>,
    /// What the admin API describes, rebuilt on every successful reload.
    pub view: SharedView,
    pub admin: Receiver<AdminCommand>,
}

impl Supervisor {
    /// Runs until SIGINT or SIGTERM, then stops the workers gracefully. Returns the exit code.
    pub fn run(self, mut signals: signal_hook::iterator::Signals) -> i32 {
        loop {
            for sig in signals.pending() {
                match sig {
                    SIGHUP => self.reload_file(),
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
                    let result = self.apply_text(&text);
                    let _ = reply.send(result);
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
            }
        }
    }

    fn reload_file(&self) {
        let Some(path) = &self.config_path else {
            crate::warn!("SIGHUP: the built-in demo has no config file to re-read");
            return;
        };
        crate::info!("SIGHUP: reloading {}", path.display());
        match config::load_file(path) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    crate::warn!("{w}");
                }
                if let Err(e) = self.apply(&loaded.config) {
                    crate::error!("reload failed: {e}");
                }
            }
            Err(errors) => {
                crate::error!(
                    "reload rejected, the previous configuration stays in force:\n{errors}"
                );
            }
        }
    }

    fn apply_text(&self, text: &str) -> Result<String, Vec<String>> {
        let env = |name: &str| std::env::var(name).ok();
        let loaded = config::load_str(text, "POST /config", &env)
            .map_err(|errors| errors.0.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        for w in &loaded.warnings {
            crate::warn!("{w}");
        }
        self.apply(&loaded.config).map_err(|e| vec![e])?;
        Ok(loaded.config.summary())
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
