//! Real-browser scenarios of the login, consent and error pages: headless
//! Chromium (Debian's `chromium` package) driven by `playwright-core`
//! (`interop/browser`, pinned in its lock file) against a running server.
//!
//! Each scenario is what a person does with a keyboard only (Tab, typing,
//! Enter; no clicks) at one viewport width. `interop/browser/scenario.mjs`
//! acts and reports what every page showed; the assertions are here:
//!
//! - no horizontal overflow (`document.documentElement.scrollWidth <=
//!   innerWidth`) on any page, even with a long client id or redirect URI;
//! - every form field has a label, and every element the keyboard reaches
//!   (and the element a page focuses by itself) shows a focus indicator;
//! - every visible text has WCAG AA contrast with its background (4.5:1,
//!   3:1 when large), whatever the branding;
//! - the browser refused nothing under the pages' Content-Security-Policy
//!   (the inline style sheet is allowed by its hash) and every image loaded;
//! - the client's name (`#client-name`) and the host the result goes to
//!   (`#redirect-host`) are visible wherever the person is asked to sign in or
//!   consent, and a dynamically registered name is labelled unverified;
//! - after a failed sign-in the username is kept, the fields are marked
//!   invalid and focus is on the error;
//! - an error page shows the sentence for the person (`#error`) and the
//!   developer's detail (`#error-detail`) with the offending value in it;
//! - the flow completes: the browser ends at the client's redirect URI with a
//!   code that redeems (or `access_denied` after Deny), or, for a request that
//!   must not be redirected (unknown client, unregistered redirect URI),
//!   stays on a 400 error page with a visible `#error`;
//! - the browser asks for nothing outside loopback.
//!
//! Screenshots of every page land in `target/browser-screenshots/`
//! (`<scenario>-<width>-<step>.png`; `focus-approve`/`focus-deny` is the
//! page with the chosen button focused, just before Enter).
//!
//! Needs Node.js and npm (like [`crate::interop`]) and Chromium: the binary
//! named by `OAUTH_MCP_CHROMIUM`, else `chromium` or `chromium-browser` on
//! `PATH`. The tests fail (they do not skip) when either is missing.

mod checks;
mod run;

use serde_json::Value;

use crate::client::*;
use checks::{
    assert_error_page_only, assert_pages_fit, assert_shows_client, consent_page, first_page, page,
    pages_brief,
};
use run::drive;

/// The name [`register_public`] registers its clients under.
const CLIENT_NAME: &str = "e2e public client";
/// How the example servers describe the `mcp` scope (`scope_description`).
const MCP_SCOPE_DESCRIPTION: &str = "Use this server's tools as you";

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
/// The requested scope is shown in words, with its code beside it.
pub async fn login(base: &str, viewport: Viewport) {
    let flow = Flow::start(base).await;
    let s = flow.run("login", viewport).await;
    let first = first_page(&s);
    assert_shows_client(first, &flow.client.redirect_uri);
    let scopes = first["scopes"].as_str().unwrap_or_default();
    assert!(
        scopes.contains(MCP_SCOPE_DESCRIPTION) && scopes.contains("mcp"),
        "#scopes must show the scope's description and its code, shows {scopes:?} ({})",
        first["screenshot"]
    );
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
    assert_eq!(
        refused["focus_marked"], true,
        "the focused error must show a focus indicator ({shot})"
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

/// The consent page of a person already signed in (as `subject`, say by an
/// upstream identity provider: [`AuthServer::consent`]'s page) names the
/// person, the client and its host; Tab to Allow and Enter complete the flow.
///
/// [`AuthServer::consent`]: oauth_mcp_core::AuthServer::consent
pub async fn consent_signed_in(base: &str, viewport: Viewport, subject: &str) {
    let flow = Flow::start(base).await;
    let s = flow.run_as("consent_signed_in", "consent", viewport).await;
    let consent = consent_page(&s);
    assert_shows_client(consent, &flow.client.redirect_uri);
    assert_eq!(
        consent["password_field"], false,
        "no password on a consent page"
    );
    assert_eq!(
        consent["subject"], subject,
        "the signed-in person must be named in #subject ({})",
        consent["screenshot"]
    );
    flow.assert_code_redeems(&s).await;
}

/// The consent page shown before the person is sent to sign in at an
/// upstream identity provider names the provider (`#upstream`) besides the
/// client and its host; Tab to Deny and Enter send `access_denied`.
pub async fn consent_before_upstream_sign_in(base: &str, viewport: Viewport, provider: &str) {
    let flow = Flow::start(base).await;
    let s = flow
        .run_as("consent_before_upstream", "deny", viewport)
        .await;
    let consent = consent_page(&s);
    assert_shows_client(consent, &flow.client.redirect_uri);
    assert_eq!(
        consent["upstream"], provider,
        "the provider signed in with next must be named in #upstream ({})",
        consent["screenshot"]
    );
    assert!(consent["subject"].is_null(), "nobody is signed in yet");
    let params = flow.redirect_params(&s);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("access_denied"),
        "{params:?}"
    );
}

/// A page refusing the person after consent (upstream login's policy says
/// no) says why in `#error` with `sentence`, and its link back to the
/// application (`#continue`), reached with Tab and followed with Enter,
/// hands the client `access_denied` with its `state`.
pub async fn refusal_continues_to_client(base: &str, viewport: Viewport, sentence: &str) {
    let flow = Flow::start(base).await;
    let s = flow.run_as("refusal", "refused_continue", viewport).await;
    assert_shows_client(consent_page(&s), &flow.client.redirect_uri);
    let refused = page(&s, "after-decision");
    let shot = &refused["screenshot"];
    assert_eq!(refused["status"], 403, "({shot})");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.starts_with(sentence)),
        "#error must start with the sentence for the person: {} ({shot})",
        refused["error"]
    );
    assert!(
        refused["continue_link"]
            .as_str()
            .is_some_and(|l| !l.is_empty()),
        "a visible link back to the application (#continue) ({shot})"
    );
    assert_eq!(page(&s, "focus-continue")["focused"], "continue");
    let params = flow.redirect_params(&s);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("access_denied"),
        "{params:?}"
    );
    assert!(!params.contains_key("code"), "{params:?}");
}

/// A branded server's pages carry its product name, its logo (loaded: the
/// policy allows the logo's origin) and its support link, stay readable in
/// its colours, and a failed sign-in still works as in [`wrong_password`].
pub async fn branded(base: &str, viewport: Viewport, product: &str) {
    let flow = Flow::start(base).await;
    let s = flow.run_as("branded", "wrong_password", viewport).await;
    for p in s["pages"].as_array().into_iter().flatten() {
        let shot = &p["screenshot"];
        assert!(
            p["heading"].as_str().is_some_and(|h| h.contains(product)),
            "the heading must name {product}: {} ({shot})",
            p["heading"]
        );
        assert!(
            p["title"].as_str().is_some_and(|t| t.contains(product)),
            "the title must name {product}: {} ({shot})",
            p["title"]
        );
        let images = p["images"].as_array().map(Vec::len).unwrap_or_default();
        assert_eq!(images, 1, "the logo must be shown ({shot})");
        assert!(
            p["support_link"].as_str().is_some_and(|l| !l.is_empty()),
            "the support link must be visible ({shot})"
        );
    }
    assert_eq!(page(&s, "refused")["error_focused"], true);
    assert!(
        s["focus_stops"]
            .as_array()
            .is_some_and(|f| f.iter().any(|n| n == "#password")),
        "Tab reached the password field: {}",
        s["focus_stops"]
    );
    flow.assert_code_redeems(&s).await;
}

/// A branded server's error page: the sentence, the detail, the support
/// link and the logo, readable in its colours.
pub async fn branded_error_page(base: &str, viewport: Viewport) {
    let id = "no-such-client";
    let s = shows_error_page(
        base,
        viewport,
        "branded_error",
        "unknown_client",
        id,
        |mut req, _| {
            req.client_id = id.into();
            req
        },
    )
    .await;
    let p = first_page(&s);
    let shot = &p["screenshot"];
    assert!(
        p["support_link"].as_str().is_some_and(|l| !l.is_empty()),
        "the support link must be visible ({shot})"
    );
    assert_eq!(
        p["images"].as_array().map(Vec::len),
        Some(1),
        "the logo must be shown ({shot})"
    );
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
/// `#error` with the id in `#error-detail`) that fits the viewport, and is
/// not redirected.
pub async fn unknown_client(base: &str, viewport: Viewport) {
    // A long id without break opportunities: it must wrap, not widen the page.
    let id = format!("unknown-client-{}", "0123456789abcdef".repeat(6));
    shows_error_page(
        base,
        viewport,
        "unknown_client",
        "unknown_client",
        &id.clone(),
        |mut req, _| {
            req.client_id = id;
            req
        },
    )
    .await;
}

/// A long redirect URI the client did not register gets an error page (400,
/// visible `#error` with the URI in `#error-detail`) that fits the viewport;
/// the browser is sent nowhere.
pub async fn unregistered_redirect_uri(base: &str, viewport: Viewport) {
    // Under the registered URI, so the browser's watch on that prefix would
    // see a redirect to either; long and without break opportunities.
    let tail = format!("not-registered-{}", "abcdefghij".repeat(12));
    shows_error_page(
        base,
        viewport,
        "unregistered_redirect_uri",
        "unregistered_redirect_uri",
        &tail.clone(),
        |req, c| req.redirect_uri(&format!("{}/{tail}", c.redirect_uri)),
    )
    .await;
}

/// Runs `scenario` (screenshots named after `name`) on a registered
/// client's request changed by `spoil`, and asserts the result of
/// [`assert_error_page_only`], the developer's detail naming `culprit`;
/// returns the summary.
async fn shows_error_page(
    base: &str,
    viewport: Viewport,
    name: &str,
    scenario: &str,
    culprit: &str,
    spoil: impl FnOnce(AuthRequest, &Registered) -> AuthRequest,
) -> Value {
    let client = register_public(base).await;
    let req = spoil(AuthRequest::new(&client, &Pkce::new()), &client);
    let s = drive(
        name,
        scenario,
        viewport,
        &authorize_url(base, &req),
        &client.redirect_uri,
    )
    .await;
    assert_error_page_only(&s);
    let p = first_page(&s);
    let detail = p["error_detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(culprit),
        "#error-detail must name `{culprit}` for the developer, shows {detail:?} ({})",
        p["screenshot"]
    );
    let error = p["error"].as_str().unwrap_or_default();
    assert!(
        error.len() > detail.len() && error.ends_with(detail),
        "the person's sentence comes first in #error, the detail after it: {error:?} ({})",
        p["screenshot"]
    );
    s
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
        self.run_as(scenario, scenario, viewport).await
    }

    /// [`Flow::run`], with screenshots named after `name`.
    async fn run_as(&self, name: &str, scenario: &str, viewport: Viewport) -> Value {
        let url = authorize_url(&self.base, &self.req);
        let s = drive(name, scenario, viewport, &url, &self.client.redirect_uri).await;
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
