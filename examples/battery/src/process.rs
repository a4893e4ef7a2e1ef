//! Example server binaries as child processes (restarts, replicas, start-up
//! failures): started with arguments and environment variables, their
//! address read from the banner's `Listening on:` line, their standard
//! error kept for failure messages (and echoed), killed on drop. Every wait
//! is bounded.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server may take to listen, or to fail.
const DEADLINE: Duration = Duration::from_secs(30);

/// Variables the examples read that must not leak in from the test's
/// environment: only what a test passes counts.
const CLEARED: [&str; 6] = [
    "MCP_STORE",
    "MCP_SIGNING_KEY",
    "MCP_KEY_ENCRYPTION_KEY",
    "MCP_KEY_ENCRYPTION_KEY_FILE",
    "MCP_PUBLIC_URL",
    "MCP_BIND",
];

/// A fresh directory for a server's files (a SQLite database, key files),
/// under the system's temporary directory.
pub fn temp_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "oauth-mcp-{label}-{}-{}",
        std::process::id(),
        crate::client::unique("d")
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// A loopback port free right now (for a server that must listen on a
/// port chosen before it starts).
pub fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A running example server process; killed on drop.
pub struct ServerProcess {
    child: Child,
    listening: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts `bin` (e.g. `env!("CARGO_BIN_EXE_example-axum-server")`) with
    /// `args` and `envs` (logging at `warn` unless `RUST_LOG` is given);
    /// does not wait for it.
    pub fn spawn(bin: &str, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in CLEARED {
            cmd.env_remove(name);
        }
        cmd.envs(envs.iter().copied());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} does not start: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, listening) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("Listening on:") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]);
                eprint!("{text}");
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&text);
                }
            }
        });
        Self {
            child,
            listening,
            stderr,
        }
    }

    /// Waits (at most 30 s) until the server listens; returns its base URL
    /// `http://<addr>`. Panics, quoting its standard error, if it exits or
    /// stays silent.
    pub fn wait_listening(&mut self) -> String {
        match self.listening.recv_timeout(DEADLINE) {
            Ok(addr) => format!("http://{addr}"),
            Err(RecvTimeoutError::Timeout) => {
                panic!("the server did not listen within 30 s:\n{}", self.stderr())
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().ok();
                panic!(
                    "the server exited ({status:?}) before listening:\n{}",
                    self.stderr()
                )
            }
        }
    }

    /// Waits (at most 30 s) for a server expected to fail at start-up;
    /// returns its exit status and standard error. Panics if it listens or
    /// keeps running.
    pub fn wait_failure(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(addr) = self.listening.try_recv() {
                panic!("the server was expected to fail, but listens on {addr}");
            }
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // Let the reader thread drain what is left.
                    std::thread::sleep(Duration::from_millis(100));
                    return (status, self.stderr());
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => panic!(
                    "the server neither failed nor listened within 30 s ({other:?}):\n{}",
                    self.stderr()
                ),
            }
        }
    }

    /// What it wrote to standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
