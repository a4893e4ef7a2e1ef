//! The abuse battery's harness: it builds both example servers, starts each
//! as a real process on a loopback port, and measures its memory from
//! outside (`/proc/<pid>/status`: `VmRSS` now, `VmHWM` the peak), so that
//! nothing in the server helps or hides what is measured.
//!
//! The scenarios are in `tests/abuse.rs` (one test per issue bullet and per
//! server); the ten-minute soak harness is `tests/soak.rs`. See the crate's
//! README section in the repository README for the commands.

// Test-support code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod net;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

/// One mebibyte.
pub const MIB: u64 = 1024 * 1024;

/// Which example server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `example-axum-server`.
    Axum,
    /// `example-actix-server`.
    Actix,
}

impl Flavor {
    /// Both.
    pub const ALL: [Flavor; 2] = [Flavor::Axum, Flavor::Actix];

    /// The cargo package (and binary) name.
    pub fn package(self) -> &'static str {
        match self {
            Self::Axum => "example-axum-server",
            Self::Actix => "example-actix-server",
        }
    }
}

/// The workspace root (two levels above this crate).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

/// `target/<profile>`, where the test binary itself lives
/// (`target/<profile>/deps/<test>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(2)
        .expect("target/<profile>")
        .to_path_buf()
}

/// Builds both example binaries (once per test process) in the profile
/// this test was built with, and returns the directory holding them.
pub async fn binaries() -> &'static Path {
    static BUILT: OnceCell<PathBuf> = OnceCell::const_new();
    BUILT
        .get_or_init(|| async {
            let dir = profile_dir();
            let release = dir.file_name().is_some_and(|n| n == "release");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = std::process::Command::new(cargo);
            // The variables `cargo test` sets for a test process would make
            // this build's fingerprints differ from a plain `cargo build`
            // (then each rebuilds what the other built).
            for (k, _) in std::env::vars_os() {
                let k = k.to_string_lossy().into_owned();
                if k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR"
                    || k.starts_with("RUST_TEST")
                    || k == "LD_LIBRARY_PATH"
                    || k == "OUT_DIR"
                {
                    cmd.env_remove(&k);
                }
            }
            cmd.current_dir(workspace_root()).args([
                "build",
                "--quiet",
                "-p",
                Flavor::Axum.package(),
                "-p",
                Flavor::Actix.package(),
            ]);
            if release {
                cmd.arg("--release");
            }
            let status = tokio::task::spawn_blocking(move || cmd.status())
                .await
                .expect("join")
                .expect("run cargo build");
            assert!(status.success(), "building the example servers failed");
            dir
        })
        .await
}

/// Memory of a process, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Resident now (`VmRSS`).
    pub rss: u64,
    /// The most it was ever resident (`VmHWM`).
    pub peak: u64,
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {:.1} MiB (peak {:.1} MiB)",
            self.rss as f64 / MIB as f64,
            self.peak as f64 / MIB as f64
        )
    }
}

/// Reads `VmRSS` and `VmHWM` of `pid` from `/proc`.
pub fn memory_of(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e} (is the server still running?)"));
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
            * 1024
    };
    Memory {
        rss: kib("VmRSS:"),
        peak: kib("VmHWM:"),
    }
}

/// A running example server, killed when dropped.
pub struct Server {
    child: Child,
    /// Which one.
    pub flavor: Flavor,
    /// Its public URL, e.g. `http://127.0.0.1:40123`.
    pub base: String,
    /// `host:port`.
    pub addr: String,
    /// Its process id.
    pub pid: u32,
    /// Where its log (stderr) goes.
    pub log: PathBuf,
}

impl Server {
    /// Starts `flavor` on an ephemeral loopback port with extra `args`
    /// (e.g. `["--store", "sqlite://…"]`), and waits for its banner.
    pub async fn start(flavor: Flavor, args: &[&str]) -> Server {
        let dir = binaries().await;
        let logs = workspace_root().join("target").join("abuse-logs");
        std::fs::create_dir_all(&logs).expect("log dir");
        let log = logs.join(format!(
            "{}-{}.log",
            flavor.package(),
            oauth_mcp_battery::client::unique("log")
        ));
        let mut child = Command::new(dir.join(flavor.package()))
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("ABUSE_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            // SQL stores keep the signing keys, sealed with this test
            // key-encryption key (the bytes 0 to 31).
            .env(
                "MCP_KEY_ENCRYPTION_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", flavor.package()));
        let pid = child.id().expect("pid");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(url) = line.strip_prefix("Authorization server:") {
                    return url.trim().to_owned();
                }
            }
            panic!(
                "{} exited before printing its banner; log: {}",
                flavor.package(),
                log.display()
            )
        })
        .await
        .unwrap_or_else(|_| panic!("{} did not start within 60 s", flavor.package()));
        // Keep draining stdout so the server never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr = base.trim_start_matches("http://").to_owned();
        Server {
            child,
            flavor,
            base,
            addr,
            pid,
            log,
        }
    }

    /// Its memory now.
    pub fn memory(&self) -> Memory {
        memory_of(self.pid)
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The tail of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// Runs `f(0..n)` with at most `concurrency` in flight; results in
/// completion order.
pub async fn run_concurrently<F, Fut, T>(n: usize, concurrency: usize, f: F) -> Vec<T>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    futures_util::stream::iter(0..n)
        .map(f)
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// A client of its own for one test: no redirects, no proxy, keep-alive
/// pool sized for floods, bounded time.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("reqwest client")
}

/// Counts of HTTP statuses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Statuses(pub std::collections::BTreeMap<u16, usize>);

impl Statuses {
    /// Adds one.
    pub fn add(&mut self, status: u16) {
        *self.0.entry(status).or_default() += 1;
    }

    /// How many had `status`.
    pub fn count(&self, status: u16) -> usize {
        self.0.get(&status).copied().unwrap_or(0)
    }

    /// How many were 5xx.
    pub fn server_errors(&self) -> usize {
        self.0
            .iter()
            .filter(|(s, _)| **s >= 500)
            .map(|(_, n)| n)
            .sum()
    }
}

impl FromIterator<u16> for Statuses {
    fn from_iter<I: IntoIterator<Item = u16>>(iter: I) -> Self {
        let mut s = Statuses::default();
        for x in iter {
            s.add(x);
        }
        s
    }
}
