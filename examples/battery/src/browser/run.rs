//! Running one scenario: `interop/browser/scenario.mjs` in Node.js, driving
//! Chromium, with its deadlines, its screenshots' folder and the Chromium
//! binary it launches.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::Viewport;
use super::checks::{assert_accessible, pages_brief};
use crate::client::{PASSWORD, USER};
use crate::node::{ensure_node_deps, interop_dir, run};

/// Node's own deadline for one scenario (it then closes Chromium itself).
const SCENARIO_DEADLINE: Duration = Duration::from_secs(60);

/// The backstop: Node is killed after this.
const NODE_TIMEOUT: Duration = Duration::from_secs(90);

const PLAYWRIGHT: &str = "playwright-core";

/// Runs one scenario in Chromium and returns its summary; panics when the
/// scenario could not be carried out with the keyboard. Screenshots are
/// named `<name>-<width>-<step>.png`.
pub(super) async fn drive(
    name: &str,
    scenario: &str,
    viewport: Viewport,
    url: &str,
    redirect_uri: &str,
) -> Value {
    let dir = interop_dir("browser");
    ensure_node_deps(&dir, PLAYWRIGHT).await;
    let (width, height) = viewport.size();
    let name = format!("{name}-{width}");
    let shots = screenshot_dir();
    remove_screenshots(&shots, &name);
    let spec = json!({
        "scenario": scenario,
        "name": name,
        "width": width,
        "height": height,
        "chromium": chromium(),
        "url": url,
        "redirect_uri": redirect_uri,
        "username": USER,
        "password": PASSWORD,
        "wrong_password": "not-the-password",
        "screenshot_dir": shots,
        "deadline_ms": SCENARIO_DEADLINE.as_millis() as u64,
    })
    .to_string();
    let out = run(&dir, "node", &["scenario.mjs", &spec], NODE_TIMEOUT).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no JSON summary from scenario.mjs ({}):\n{stdout}\n{stderr}",
                out.status
            )
        });
    let s: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("summary is not JSON ({e}): {line}"));
    assert!(
        out.status.success() && s["ok"] == true,
        "browser scenario {scenario} at {width} px failed ({}): {}\npages: {}\n--- stderr ---\n{stderr}",
        out.status,
        s["failure"].as_str().unwrap_or("(no reason given)"),
        pages_brief(&s)
    );
    let blocked = s["blocked"].as_array().map(Vec::len).unwrap_or_default();
    assert_eq!(
        blocked, 0,
        "the pages asked for non-loopback URLs: {}",
        s["blocked"]
    );
    assert_accessible(&s);
    s
}

/// Where screenshots go: `target/browser-screenshots` of this workspace
/// (or of `CARGO_TARGET_DIR`).
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("browser-screenshots");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir.canonicalize().unwrap_or(dir)
}

/// Removes the screenshots an earlier run of `name` left, so that the folder
/// shows only this run's pages.
fn remove_screenshots(dir: &Path, name: &str) {
    let prefix = format!("{name}-");
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix) && file.ends_with(".png") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The Chromium binary: `OAUTH_MCP_CHROMIUM`, else `chromium` or
/// `chromium-browser` on `PATH`.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("OAUTH_MCP_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "Chromium is not installed: the browser tests need Debian's `chromium` package \
                 (`apt-get install chromium`; .ci/run installs it), or OAUTH_MCP_CHROMIUM set to a \
                 Chromium binary"
            )
        })
}
