//! Running the Node.js parts of the tests (`interop/*`): locating a package
//! folder, installing its pinned dependencies, and running a program with a
//! deadline. Missing Node.js fails the test with install instructions.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

const NPM_TIMEOUT: Duration = Duration::from_secs(300);

/// The folder `interop/<name>` of the repository.
pub(crate) fn interop_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../interop")
        .join(name);
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("interop/{name} not found at {}: {e}", dir.display()))
}

/// A JSON file, if it exists and parses.
pub(crate) fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Runs `program args` in `dir` with a deadline; panics with a clear message
/// when the program is not installed, times out or fails to start.
pub(crate) async fn run(
    dir: &Path,
    program: &str,
    args: &[&str],
    timeout: Duration,
) -> std::process::Output {
    run_with_env(dir, program, args, &[], timeout).await
}

/// [`run`] with extra environment variables.
pub(crate) async fn run_with_env(
    dir: &Path,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    timeout: Duration,
) -> std::process::Output {
    let child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                panic!(
                    "`{program}` is not installed (or not on PATH): the interop tests need Node.js >= 20 \
                     with npm. Install it (e.g. `apt-get install nodejs npm`) and run again."
                )
            }
            panic!("cannot start `{program}`: {e}")
        });
    // On timeout the future is dropped with the child, which kill_on_drop ends.
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("waiting for `{program} {}` failed: {e}", args.join(" ")),
        Err(_) => panic!(
            "`{program} {}` did not finish within {timeout:?} (killed)",
            args.join(" ")
        ),
    }
}

/// Installs `dir`'s `node_modules` from its lock file unless the version of
/// `package` pinned in `package.json` is already installed. Serialized within
/// the test process.
pub(crate) async fn ensure_node_deps(dir: &Path, package: &str) {
    static INSTALL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = INSTALL.lock().await;
    let node = run(dir, "node", &["--version"], Duration::from_secs(30)).await;
    assert!(node.status.success(), "`node --version` failed: {node:?}");
    let pinned = read_json(&dir.join("package.json"))
        .and_then(|p| p["dependencies"][package].as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            panic!(
                "{}/package.json does not depend on {package}",
                dir.display()
            )
        });
    let installed = read_json(&dir.join("node_modules").join(package).join("package.json"))
        .and_then(|p| p["version"].as_str().map(str::to_owned));
    if installed.as_deref() == Some(pinned.as_str()) {
        return;
    }
    eprintln!(
        "{package} {} installed, {pinned} pinned: running `npm ci` in {}",
        installed.as_deref().unwrap_or("not"),
        dir.display()
    );
    let out = run(dir, "npm", &["ci", "--no-audit", "--no-fund"], NPM_TIMEOUT).await;
    assert!(
        out.status.success(),
        "`npm ci` in {} failed ({}):\n{}\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
