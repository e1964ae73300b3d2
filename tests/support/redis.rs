//! A real `redis-server` on a free loopback port for the fleet tests, killed on drop.
//!
//! The binary is `redis-server` from PATH (Debian package `redis-server`, which `scripts/test`
//! installs), or `$LLMUX_TEST_REDIS_SERVER` (a `valkey-server`, say). A test that cannot find
//! it fails and says how to get it: it never passes by skipping.

use super::WAIT;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    /// Arguments redis-cli needs to reach this server (TLS, password).
    cli_args: Vec<String>,
}

fn server_binary() -> String {
    std::env::var("LLMUX_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

fn cli_binary() -> String {
    std::env::var("LLMUX_TEST_REDIS_CLI").unwrap_or_else(|_| "redis-cli".into())
}

impl RedisServer {
    /// No persistence: a restart comes back empty.
    pub fn start() -> RedisServer {
        RedisServer::start_with(&["--save", ""])
    }

    /// `extra` is appended to the command line (e.g. `--requirepass pw`).
    pub fn start_with(extra: &[&str]) -> RedisServer {
        let dir = super::unique_temp_path("redis", "d");
        std::fs::create_dir_all(&dir).expect("creating the redis test dir");
        RedisServer::start_in(dir, extra, &[], false)
    }

    /// TLS only (`rediss://`), with a certificate for 127.0.0.1 signed by `ca`, and a password.
    pub fn start_tls(ca: &super::TestCa, password: &str) -> RedisServer {
        let dir = super::unique_temp_path("redis", "d");
        std::fs::create_dir_all(&dir).expect("creating the redis test dir");
        let (cert, key) = ca.leaf_pem(&["127.0.0.1", "localhost"]);
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("writing a TLS file");
            path.to_str().expect("UTF-8 temp path").to_string()
        };
        let (cert, key) = (write("cert.pem", &cert), write("key.pem", &key));
        let ca_path = write("ca.pem", ca.pem());
        let server = [
            "--save",
            "",
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca_path,
            "--tls-auth-clients",
            "no",
            "--requirepass",
            password,
        ];
        let cli = [
            "--tls",
            "--cacert",
            &ca_path,
            "-a",
            password,
            "--no-auth-warning",
        ];
        RedisServer::start_in(dir, &server, &cli, true)
    }

    fn start_in(dir: PathBuf, extra: &[&str], cli: &[&str], tls: bool) -> RedisServer {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            if tls {
                extra.extend([
                    "--port".into(),
                    "0".into(),
                    "--tls-port".into(),
                    port.to_string(),
                ]);
            }
            let mut r = RedisServer {
                child: None,
                port,
                dir: dir.clone(),
                extra,
                cli_args: cli.iter().map(|s| s.to_string()).collect(),
            };
            match r.spawn() {
                Ok(()) => return r,
                Err(e) => last = e,
            }
        }
        panic!("could not start {}: {last}", server_binary());
    }

    fn spawn(&mut self) -> Result<(), String> {
        let bin = server_binary();
        let log = std::fs::File::create(self.dir.join("redis.log")).map_err(|e| e.to_string())?;
        let child = Command::new(&bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"]) // TLS: overridden below
            .args(["--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{bin}` ({e}): the fleet tests need a real Redis. Install it \
                     (`apt-get install redis-server`) or run `scripts/test`, which does; \
                     LLMUX_TEST_REDIS_SERVER may name another binary (valkey-server)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "exited with {status}: {}",
                    std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
                ));
            }
            if self.try_cli(&["PING"]).is_some_and(|r| r.contains("PONG")) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("did not answer PING".into())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no goodbye, no save.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same port and directory (loading `dump.rdb` if one was saved).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn()
            .unwrap_or_else(|e| panic!("restarting redis on port {}: {e}", self.port));
    }

    fn try_cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new(cli_binary())
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(&self.cli_args)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{}` ({e}): install redis-tools (it comes with redis-server)",
                    cli_binary()
                )
            });
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs one `redis-cli` command and returns its output; panics if it fails.
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args)
            .unwrap_or_else(|| panic!("redis-cli {args:?} failed on port {}", self.port))
    }

    /// `INFO commandstats`'s call count of one command (`evalsha`), 0 when never called.
    pub fn calls(&self, command: &str) -> u64 {
        let info = self.cli(&["INFO", "commandstats"]);
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("finding a free port")
}

/// A Redis Cluster of `n` primaries (no replicas) on loopback, each a [`RedisServer`].
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start(n: usize) -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..n)
            .map(|_| {
                let bus = free_port().to_string();
                RedisServer::start_with(&[
                    "--save",
                    "",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-port",
                    &bus,
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|r| format!("127.0.0.1:{}", r.port()))
            .collect();
        let out = Command::new(cli_binary())
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("running redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = Instant::now() + WAIT;
        for node in &nodes {
            while !node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok") {
                assert!(
                    Instant::now() < deadline,
                    "the cluster never reached cluster_state:ok"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        RedisCluster { nodes }
    }

    /// The first node's URL: the seed llmux discovers the cluster from.
    pub fn url(&self) -> String {
        self.nodes[0].url()
    }

    /// How many keys each node holds.
    pub fn keys_per_node(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .map(|n| n.cli(&["DBSIZE"]).trim().parse().unwrap_or(0))
            .collect()
    }
}
