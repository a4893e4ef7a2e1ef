//! Real-browser scenarios of the login, consent and error pages: headless
//! Chromium (Debian's `chromium` package) driven by `playwright-core`
//! (`interop/browser`, pinned in its lock file) against a running server.
//!
//! Each scenario is what a person does with a keyboard only (Tab, typing,
//! Enter; no clicks) at one viewport width. `interop/browser/scenario.mjs`
//! acts and reports what every page showed; the assertions are here:
//!
//! - no horizontal overflow (`document.documentElement.scrollWidth <=
//!   innerWidth`) on any page;
//! - the client's name (`#client-name`) and the host the result goes to
//!   (`#redirect-host`) are visible wherever the person is asked to sign in or
//!   consent;
//! - the flow completes: the browser ends at the client's redirect URI with a
//!   code that redeems (or `access_denied` after Deny), or, for a request that
//!   must not be redirected (unknown client, unregistered redirect URI),
//!   stays on a 400 error page with a visible `#error`;
//! - the browser asks for nothing outside loopback.
//!
//! Screenshots of every page land in `target/browser-screenshots/`
//! (`<scenario>-<width>-<step>.png`).
//!
//! Needs Node.js and npm (like [`crate::interop`]) and Chromium: the binary
//! named by `OAUTH_MCP_CHROMIUM`, else `chromium` or `chromium-browser` on
//! `PATH`. The tests fail (they do not skip) when either is missing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::client::*;
use crate::node::{ensure_node_deps, interop_dir, run};

/// Node's own deadline for one scenario (it then closes Chromium itself).
const SCENARIO_DEADLINE: Duration = Duration::from_secs(60);
/// The backstop: Node is killed after this.
const NODE_TIMEOUT: Duration = Duration::from_secs(90);
const PLAYWRIGHT: &str = "playwright-core";
/// The name [`register_public`] registers its clients under.
const CLIENT_NAME: &str = "e2e public client";

/// The viewport a scenario runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    /// 1280 × 800.
    Desktop,
    /// 390 × 844, a phone held upright.
    Phone,
}

impl Viewport {
    fn size(self) -> (u32, u32) {
        match self {
            Self::Desktop => (1280, 800),
            Self::Phone => (390, 844),
        }
    }
}

/// Signs in with the keyboard, submitting with Enter in the password field,
/// and approves a separate consent step if there is one; the code redeems.
pub async fn login(base: &str, viewport: Viewport) {
    let flow = Flow::start(base).await;
    let s = flow.run("login", viewport).await;
    assert_shows_client(first_page(&s), &flow.client.redirect_uri);
    flow.assert_code_redeems(&s).await;
}

/// A wrong password is refused on the same page: an error the person is
/// taken to (focus), the username kept, the field marked invalid, the client
/// still named; then the right password completes the flow.
pub async fn wrong_password(base: &str, viewport: Viewport) {
    let flow = Flow::start(base).await;
    let s = flow.run("wrong_password", viewport).await;
    let refused = page(&s, "refused");
    let shot = &refused["screenshot"];
    assert!(
        refused["error"].as_str().is_some_and(|e| !e.is_empty()),
        "no visible #error after a wrong password ({shot})"
    );
    assert_eq!(
        refused["username_value"], USER,
        "the username must be kept after a failed sign-in ({shot})"
    );
    assert_eq!(
        refused["error_focused"], true,
        "focus must move to #error after a failed sign-in ({shot})"
    );
    let invalid: Vec<&str> = refused["invalid_fields"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        invalid
            .iter()
            .any(|f| matches!(*f, "username" | "password")),
        "a failed sign-in must mark the field aria-invalid=\"true\"; marked: {invalid:?} ({shot})"
    );
    assert_shows_client(refused, &flow.client.redirect_uri);
    flow.assert_code_redeems(&s).await;
}

/// The consent step names the client, marks a dynamically registered name
/// as unverified and shows the redirect host; Tab to Allow and Enter
/// complete the flow.
pub async fn consent(base: &str, viewport: Viewport) {
    let flow = Flow::start(base).await;
    let s = flow.run("consent", viewport).await;
    let consent = consent_page(&s);
    assert_shows_client(consent, &flow.client.redirect_uri);
    assert!(
        consent["unverified_label"]
            .as_str()
            .is_some_and(|l| !l.is_empty()),
        "a dynamically registered client's name must be labelled unverified (#unverified-label) ({})",
        consent["screenshot"]
    );
    flow.assert_code_redeems(&s).await;
}

/// Tab to Deny and Enter: the client gets `access_denied` with its `state`
/// and no code.
pub async fn deny(base: &str, viewport: Viewport) {
    let flow = Flow::start(base).await;
    let s = flow.run("deny", viewport).await;
    assert_shows_client(consent_page(&s), &flow.client.redirect_uri);
    let params = flow.redirect_params(&s);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("access_denied"),
        "{params:?}"
    );
    assert!(
        !params.contains_key("code"),
        "no code after Deny: {params:?}"
    );
}

/// An unknown client, with a long id, gets an error page (400, visible
/// `#error`) that fits the viewport, and is not redirected.
pub async fn unknown_client(base: &str, viewport: Viewport) {
    shows_error_page(base, viewport, "unknown_client", |mut req, _| {
        // A long id without break opportunities: it must wrap, not widen the page.
        req.client_id = format!("unknown-client-{}", "0123456789abcdef".repeat(6));
        req
    })
    .await;
}

/// A redirect URI the client did not register gets an error page (400,
/// visible `#error`) that fits the viewport; the browser is sent nowhere.
pub async fn unregistered_redirect_uri(base: &str, viewport: Viewport) {
    shows_error_page(base, viewport, "unregistered_redirect_uri", |req, c| {
        // Under the registered URI, so the browser's watch on that prefix
        // would see a redirect to either.
        req.redirect_uri(&format!("{}/not-registered", c.redirect_uri))
    })
    .await;
}

/// Runs `scenario` on a registered client's request changed by `spoil`, and
/// asserts the result of [`assert_error_page_only`].
async fn shows_error_page(
    base: &str,
    viewport: Viewport,
    scenario: &str,
    spoil: impl FnOnce(AuthRequest, &Registered) -> AuthRequest,
) {
    let client = register_public(base).await;
    let req = spoil(AuthRequest::new(&client, &Pkce::new()), &client);
    let s = drive(
        scenario,
        viewport,
        &authorize_url(base, &req),
        &client.redirect_uri,
    )
    .await;
    assert_error_page_only(&s);
}

/// The one page shown is a 400 error page with a visible `#error` that fits
/// its viewport, and the browser was not sent to the client.
fn assert_error_page_only(s: &Value) {
    assert_pages_fit(s);
    assert!(
        s["redirect"].is_null(),
        "an unsafe request must not be redirected: {}",
        s["redirect"]
    );
    let p = first_page(s);
    let shot = &p["screenshot"];
    assert_eq!(p["status"], 400, "the error page is a 400 ({shot})");
    assert!(
        p["error"].as_str().is_some_and(|e| !e.is_empty()),
        "no visible #error ({shot})"
    );
}

/// A public client and an authorization request for the MCP resource.
struct Flow {
    base: String,
    client: Registered,
    pkce: Pkce,
    req: AuthRequest,
}

impl Flow {
    async fn start(base: &str) -> Self {
        let client = register_public(base).await;
        let pkce = Pkce::new();
        let req = AuthRequest::new(&client, &pkce)
            .resource(&mcp_url(base))
            .scope("mcp");
        Self {
            base: base.to_owned(),
            client,
            pkce,
            req,
        }
    }

    /// Runs `scenario` on this authorization request; every page must fit.
    async fn run(&self, scenario: &str, viewport: Viewport) -> Value {
        let url = authorize_url(&self.base, &self.req);
        let s = drive(scenario, viewport, &url, &self.client.redirect_uri).await;
        assert_pages_fit(&s);
        s
    }

    /// The query of the authorization response the browser was sent to,
    /// checked for the client's redirect URI, `state` and `iss`.
    fn redirect_params(&self, s: &Value) -> std::collections::HashMap<String, String> {
        let to = s["redirect"].as_str().unwrap_or_else(|| {
            panic!(
                "the browser never reached the client's redirect URI; pages: {}",
                pages_brief(s)
            )
        });
        let url = url::Url::parse(to).unwrap_or_else(|e| panic!("redirect `{to}`: {e}"));
        assert_eq!(&url[..url::Position::AfterPath], self.client.redirect_uri);
        let params: std::collections::HashMap<String, String> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(params.get("state"), self.req.state.as_ref(), "{to}");
        assert_eq!(params.get("iss"), Some(&self.base), "{to}");
        params
    }

    /// The browser brought back a code, and the code redeems.
    async fn assert_code_redeems(&self, s: &Value) {
        let params = self.redirect_params(s);
        assert!(!params.contains_key("error"), "{params:?}");
        let code = params.get("code").expect("code in the redirect");
        tokens_of(
            &exchange(
                &self.base,
                &self.client.client_id,
                code,
                &self.pkce.verifier,
                Some(&self.client.redirect_uri),
                Some(&mcp_url(&self.base)),
            )
            .await,
        );
    }
}

/// Runs one scenario in Chromium and returns its summary; panics when the
/// scenario could not be carried out with the keyboard.
async fn drive(scenario: &str, viewport: Viewport, url: &str, redirect_uri: &str) -> Value {
    let dir = interop_dir("browser");
    ensure_node_deps(&dir, PLAYWRIGHT).await;
    let (width, height) = viewport.size();
    let name = format!("{scenario}-{width}");
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
    s
}

/// Every page fits its viewport's width.
fn assert_pages_fit(s: &Value) {
    for p in s["pages"].as_array().into_iter().flatten() {
        let (scroll, inner) = (p["scroll_width"].as_u64(), p["inner_width"].as_u64());
        assert!(
            scroll.is_some() && scroll <= inner,
            "page `{}` overflows horizontally: scrollWidth {} > innerWidth {} ({})",
            p["label"],
            p["scroll_width"],
            p["inner_width"],
            p["screenshot"]
        );
    }
}

/// The page names the client and the host the result goes to.
fn assert_shows_client(p: &Value, redirect_uri: &str) {
    let host = url::Url::parse(redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("redirect URI without a host: {redirect_uri}"));
    let shot = &p["screenshot"];
    assert_eq!(
        p["client_name"], CLIENT_NAME,
        "the client's name must be visible in #client-name ({shot})"
    );
    assert_eq!(
        p["redirect_host"], host,
        "the redirect host must be visible in #redirect-host ({shot})"
    );
}

fn first_page(s: &Value) -> &Value {
    s["pages"]
        .get(0)
        .unwrap_or_else(|| panic!("no page observed: {s}"))
}

fn page<'a>(s: &'a Value, label: &str) -> &'a Value {
    s["pages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["label"] == label))
        .unwrap_or_else(|| panic!("no page `{label}`; pages: {}", pages_brief(s)))
}

/// The page with the Allow and Deny buttons.
fn consent_page(s: &Value) -> &Value {
    s["pages"]
        .as_array()
        .and_then(|ps| {
            ps.iter()
                .find(|p| p["approve_button"] == true && p["deny_button"] == true)
        })
        .unwrap_or_else(|| panic!("no page offered Allow and Deny; pages: {}", pages_brief(s)))
}

/// One line per observed page, for failure messages.
fn pages_brief(s: &Value) -> String {
    s["pages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "\n  {} [{}] {} (error: {}) {}",
                p["label"], p["status"], p["url"], p["error"], p["screenshot"]
            )
        })
        .collect()
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
