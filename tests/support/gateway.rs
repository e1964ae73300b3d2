//! Runs the real `llmux` binary: [`Gateway`] for `llmux serve`, [`run_cli`] for one-shot commands
//! such as `llmux validate`.

use super::{TempFile, WAIT};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The binary under test.
pub const LLMUX_BIN: &str = env!("CARGO_BIN_EXE_llmux");

/// Options for [`Gateway::start_with`].
#[derive(Debug, Clone)]
pub struct GatewayOpts {
    /// `--workers N` (default 1).
    pub workers: usize,
    /// Extra arguments appended after the standard ones.
    pub args: Vec<String>,
    /// Extra environment variables (e.g. `SSL_CERT_FILE`, values for `${{ env "X" }}`).
    pub env: Vec<(String, String)>,
    /// `--admin-listen` (default `127.0.0.1:0`).
    pub admin_listen: &'static str,
}

impl Default for GatewayOpts {
    fn default() -> Self {
        GatewayOpts {
            workers: 1,
            args: Vec::new(),
            env: Vec::new(),
            admin_listen: "127.0.0.1:0",
        }
    }
}

/// A running `llmux serve` on ephemeral loopback ports. Killed (SIGKILL) and reaped on drop; if
/// the test is panicking, its captured stderr and stdout are printed to help find out why.
pub struct Gateway {
    child: Child,
    addr: SocketAddr,
    stderr: Captured,
    stdout: Captured,
    config: TempFile,
    exit: Option<ExitStatus>,
}

impl Gateway {
    /// `llmux serve` with one worker; panics (with the captured stderr) unless it reports
    /// `proxy listening on 127.0.0.1:PORT` within 20 s.
    pub fn start(config_yaml: &str) -> Gateway {
        Gateway::start_with(config_yaml, GatewayOpts::default())
    }

    pub fn start_with(config_yaml: &str, opts: GatewayOpts) -> Gateway {
        let config = TempFile::with_contents("config", "yaml", config_yaml);
        let mut cmd = Command::new(LLMUX_BIN);
        cmd.arg("serve")
            .arg("--config")
            .arg(config.path())
            .args([
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                opts.admin_listen,
            ])
            .arg("--workers")
            .arg(opts.workers.to_string())
            .args(&opts.args)
            .env("NO_COLOR", "1")
            .envs(opts.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {LLMUX_BIN}: {e}"));
        let stderr = Captured::spawn(child.stderr.take().unwrap(), "llmux stderr");
        let stdout = Captured::spawn(child.stdout.take().unwrap(), "llmux stdout");
        let found = stderr.wait_for(WAIT, |text| parse_listen_line(text, "proxy listening on "));
        match found {
            Some(addr) => Gateway {
                child,
                addr,
                stderr,
                stdout,
                config,
                exit: None,
            },
            None => {
                let _ = child.kill();
                let status = child.wait();
                stdout.wait_eof(Duration::from_secs(2));
                panic!(
                    "llmux serve did not report `proxy listening on` within {WAIT:?} \
                     (process status: {status:?})\n--- stderr ---\n{}\n--- stdout ---\n{}",
                    stderr.text(),
                    stdout.text()
                );
            }
        }
    }

    /// The proxy listener.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/path` on the proxy listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// The admin listener, from the `admin listening on 127.0.0.1:PORT` line (waited for, 20 s).
    pub fn admin_addr(&self) -> SocketAddr {
        self.stderr
            .wait_for(WAIT, |text| parse_listen_line(text, "admin listening on "))
            .unwrap_or_else(|| {
                panic!(
                    "llmux never reported `admin listening on`\n--- stderr ---\n{}",
                    self.stderr()
                )
            })
    }

    /// The first `--listen-tls` listener, from `proxy TLS listening on 127.0.0.1:PORT`.
    pub fn tls_addr(&self) -> SocketAddr {
        self.stderr
            .wait_for(WAIT, |text| {
                parse_listen_line(text, "proxy TLS listening on ")
            })
            .unwrap_or_else(|| {
                panic!(
                    "llmux never reported `proxy TLS listening on`\n--- stderr ---\n{}",
                    self.stderr()
                )
            })
    }

    /// Everything the gateway has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Everything the gateway has written to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// Waits until stderr contains `needle` (true) or `timeout` passes / the process exits (false).
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) -> bool {
        self.stderr
            .wait_for(timeout, |text| text.contains(needle).then_some(()))
            .is_some()
    }

    /// The config file passed with `--config` (removed when the gateway is dropped).
    pub fn config_path(&self) -> &Path {
        self.config.path()
    }

    /// Replaces the config file's contents, for reload tests.
    pub fn rewrite_config(&self, config_yaml: &str) {
        self.config.rewrite(config_yaml);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`libc::SIGHUP`, `libc::SIGTERM`, ...) to the gateway process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our unreaped child.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({}, {signal}) failed", self.child.id());
    }

    /// Waits up to `timeout` for the process to exit on its own; panics if it does not.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(status) = self.exit {
            return status;
        }
        // The process closing its stderr (at exit) is the event to wait for: no polling.
        if !self.stderr.wait_eof(timeout) {
            panic!(
                "llmux did not exit within {timeout:?}\n--- stderr ---\n{}",
                self.stderr()
            );
        }
        let status = self.child.wait().expect("waiting for llmux");
        self.exit = Some(status);
        status
    }

    /// SIGTERM, then waits up to `timeout` for a graceful exit (panics if it does not exit).
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        if self.exit.is_none() {
            self.signal(libc::SIGTERM);
        }
        self.wait_exit(timeout)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            self.stderr.wait_eof(Duration::from_secs(2));
            eprintln!(
                "--- llmux stderr ---\n{}\n--- llmux stdout ---\n{}\n--- end of llmux output ---",
                self.stderr(),
                self.stdout()
            );
        }
    }
}

/// Runs `llmux ARGS...` to completion (20 s bound, then killed and the test fails) and returns
/// `(status, stdout, stderr)`.
pub fn run_cli(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    run_cli_timeout(args, env, WAIT)
}

pub fn run_cli_timeout(
    args: &[&str],
    env: &[(&str, &str)],
    timeout: Duration,
) -> (ExitStatus, String, String) {
    let child = Command::new(LLMUX_BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {LLMUX_BIN}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let (output, timed_out) = match rx.recv_timeout(timeout) {
        Ok(output) => (output, false),
        Err(_) => {
            // SAFETY: kill(2) has no memory-safety preconditions; the child is not reaped yet.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            (rx.recv().expect("waiting for llmux"), true)
        }
    };
    let output = output.unwrap_or_else(|e| panic!("running llmux {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if timed_out {
        panic!(
            "llmux {args:?} did not finish within {timeout:?}\n--- stderr ---\n{stderr}\n\
             --- stdout ---\n{stdout}"
        );
    }
    (output.status, stdout, stderr)
}

/// Finds `<prefix><ip>:<port>` in the text and parses the address.
fn parse_listen_line(text: &str, prefix: &str) -> Option<SocketAddr> {
    let start = text.find(prefix)? + prefix.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || ".:[]".contains(c)))
        .unwrap_or(rest.len());
    if end == rest.len() {
        return None; // the line is not complete yet
    }
    rest[..end].parse().ok()
}

/// A child's output stream, collected by a thread; waiters are woken at every line and at EOF.
#[derive(Clone)]
struct Captured(Arc<(Mutex<CapturedState>, Condvar)>);

#[derive(Default)]
struct CapturedState {
    text: String,
    eof: bool,
}

impl Captured {
    fn spawn(pipe: impl Read + Send + 'static, label: &'static str) -> Captured {
        let captured = Captured(Arc::default());
        let shared = captured.clone();
        // Set LLMUX_TEST_ECHO=1 to see the gateway's output live (not captured by the harness).
        let echo = std::env::var_os("LLMUX_TEST_ECHO").is_some();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = reader.read_until(b'\n', &mut line).unwrap_or(0);
                let (lock, cvar) = &*shared.0;
                let mut state = lock.lock().unwrap();
                if n == 0 {
                    state.eof = true;
                    cvar.notify_all();
                    return;
                }
                let text = String::from_utf8_lossy(&line);
                if echo {
                    eprint!("[{label}] {text}");
                }
                state.text.push_str(&text);
                cvar.notify_all();
            }
        });
        captured
    }

    fn text(&self) -> String {
        self.0 .0.lock().unwrap().text.clone()
    }

    /// Waits until `check` finds something in the text; None on timeout or EOF without it.
    fn wait_for<T>(&self, timeout: Duration, check: impl Fn(&str) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.0;
        let mut state = lock.lock().unwrap();
        loop {
            if let Some(found) = check(&state.text) {
                return Some(found);
            }
            let now = Instant::now();
            if state.eof || now >= deadline {
                return None;
            }
            state = cvar.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    /// Waits for EOF (the process exited or closed the stream); false on timeout.
    fn wait_eof(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.0;
        let mut state = lock.lock().unwrap();
        while !state.eof {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = cvar.wait_timeout(state, deadline - now).unwrap().0;
        }
        true
    }
}
