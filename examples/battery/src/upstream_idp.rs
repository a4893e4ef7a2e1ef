//! panva's `oidc-provider` as an **upstream identity provider** for an
//! oauth-mcp server that logs its users in elsewhere: the clients, users and
//! form-driven sign-in of `interop/oidc-provider/server.mjs` in upstream mode
//! (`INTERACTIONS=forms`).
//!
//! The provider shows real HTML pages: a login form (user name and
//! password), then a consent form ("Allow" / "Deny"). [`sign_in`] drives
//! them with a [`Browser`], as a person would.

use serde_json::Value;

use crate::client::{Pkce, http, unique};
use crate::cookie_browser::{Browser, Page};
use crate::oidc::{ClientCredentials, OidcOptions, OidcProvider};

/// The confidential upstream-login client (`client_secret_basic`).
pub const UPSTREAM_CLIENT: ClientCredentials = ClientCredentials {
    id: "mcp-upstream",
    secret: "mcp-upstream-secret",
};

/// The public upstream-login client (PKCE only, no secret).
pub const UPSTREAM_PUBLIC_CLIENT_ID: &str = "mcp-upstream-public";

/// A second confidential client: its ID tokens are for another audience.
pub const UPSTREAM_OTHER_CLIENT: ClientCredentials = ClientCredentials {
    id: "mcp-upstream-other",
    secret: "mcp-upstream-other-secret",
};

/// A user of the provider's login form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdpUser {
    /// The user name typed into the form (and `preferred_username`).
    pub login: &'static str,
    /// The password.
    pub password: &'static str,
    /// The `sub` claim.
    pub sub: &'static str,
    /// The `email` claim.
    pub email: &'static str,
    /// The `email_verified` claim.
    pub email_verified: bool,
    /// The `groups` claim.
    pub groups: &'static [&'static str],
}

/// alice: verified `alice@example.com`, group `mcp-users`.
pub const ALICE: IdpUser = IdpUser {
    login: "alice",
    password: "alice-password",
    sub: "u-alice-1001",
    email: "alice@example.com",
    email_verified: true,
    groups: &["mcp-users"],
};

/// bob: verified `bob@example.org`, groups `admins` and `mcp-users`.
pub const BOB: IdpUser = IdpUser {
    login: "bob",
    password: "bob-password",
    sub: "u-bob-1002",
    email: "bob@example.org",
    email_verified: true,
    groups: &["admins", "mcp-users"],
};

/// mallory: `mallory@example.com`, **not verified**; no groups.
pub const MALLORY: IdpUser = IdpUser {
    login: "mallory",
    password: "mallory-password",
    sub: "u-mallory-1003",
    email: "mallory@example.com",
    email_verified: false,
    groups: &[],
};

/// Starts the provider in upstream mode (login and consent forms) with
/// `callbacks` as the upstream clients' redirect URIs.
pub async fn start_upstream_idp(callbacks: &[&str]) -> OidcProvider {
    OidcProvider::start(OidcOptions {
        upstream_redirect_uris: callbacks.iter().map(|c| (*c).to_owned()).collect(),
        forms: true,
        ..OidcOptions::default()
    })
    .await
}

/// Signs `user` in at the provider, starting at `authorize_url` (the
/// provider's authorization URL an oauth-mcp server redirected to): follows
/// the redirects, fills the login form (unless the browser already has a
/// session there), approves the consent form (if shown), and returns the
/// provider's final redirect, whose `location` starts with `callback`.
pub async fn sign_in(
    browser: &Browser,
    authorize_url: &str,
    user: &IdpUser,
    callback: &str,
) -> Page {
    let mut page = browser
        .follow(browser.get(authorize_url).await, callback)
        .await;
    for _ in 0..3 {
        if page.is_redirect() {
            return page;
        }
        assert_eq!(page.status, 200, "at {}: {}", page.url, page.body);
        page = if page.body.contains("/login\"") {
            browser
                .submit(
                    &page,
                    "/login",
                    &[("login", user.login), ("password", user.password)],
                )
                .await
        } else {
            browser.submit(&page, "/confirm", &[]).await
        };
        assert!(
            page.is_redirect(),
            "form at {} answered {}: {}",
            page.url,
            page.status,
            page.body
        );
        page = browser.follow(page, callback).await;
    }
    panic!(
        "no redirect to {callback} after login and consent: {}",
        page.url
    )
}

/// Declines at the provider: signs `user` in, then presses "Deny" on the
/// consent form. Returns the provider's redirect to `callback` (with
/// `error=access_denied`).
pub async fn sign_in_and_deny(
    browser: &Browser,
    authorize_url: &str,
    user: &IdpUser,
    callback: &str,
) -> Page {
    let page = browser
        .follow(browser.get(authorize_url).await, callback)
        .await;
    let page = browser
        .submit(
            &page,
            "/login",
            &[("login", user.login), ("password", user.password)],
        )
        .await;
    let page = browser.follow(page, callback).await;
    let page = browser.submit(&page, "/abort", &[]).await;
    browser.follow(page, callback).await
}

/// A genuine token response from `op` for `client`, issued to `user` with
/// `nonce`, through the whole code flow (login form, consent, code exchange
/// at the token endpoint): `id_token`, `access_token` (opaque, for the
/// provider's UserInfo), `refresh_token`. `callback` is a registered
/// redirect URI (the redirect to it is not followed).
pub async fn tokens_for(
    op: &OidcProvider,
    client: ClientCredentials,
    user: &IdpUser,
    nonce: &str,
    callback: &str,
) -> Value {
    let pkce = Pkce::new();
    let state = unique("idp-state");
    let mut url = url::Url::parse(&format!("{}/auth", op.issuer())).expect("auth URL");
    url.query_pairs_mut()
        .append_pair("client_id", client.id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", callback)
        .append_pair("scope", "openid email profile groups")
        .append_pair("state", &state)
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    let browser = Browser::new();
    let done = sign_in(&browser, url.as_str(), user, callback).await;
    let back = done.location.expect("redirect");
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {back}"));
    let r = http()
        .post(op.token_endpoint())
        .basic_auth(client.id, Some(client.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", callback),
            ("code_verifier", pkce.verifier.as_str()),
        ])
        .send()
        .await
        .expect("token request");
    let body: Value = r.json().await.expect("token response JSON");
    assert!(body["access_token"].is_string(), "{body}");
    body
}

/// A genuine ID token from `op` for `client` (see [`tokens_for`]).
pub async fn id_token_for(
    op: &OidcProvider,
    client: ClientCredentials,
    user: &IdpUser,
    nonce: &str,
    callback: &str,
) -> String {
    let body = tokens_for(op, client, user, nonce, callback).await;
    body["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no id_token: {body}"))
        .to_owned()
}
