//! Real-browser tests of the login, consent and error pages of the axum
//! example: headless Chromium driven by playwright-core, keyboard only, at
//! desktop (1280 px) and phone (390 px) widths. The scenarios and their
//! assertions are in `oauth_mcp_battery::browser`; screenshots land in
//! `target/browser-screenshots/`.
//!
//! The `consent_page_*` tests serve the consent page that upstream login
//! shows ([`AuthServer::consent`], answered by [`AuthServer::complete`])
//! in place of the example's `/authorize`, for a person already signed in
//! and for one about to sign in at an identity provider; `refusal_page_*`
//! answer its "Allow" with the page upstream login shows a refused person
//! (why, and a link handing the client `access_denied`). The `branded_*`
//! tests run the example with a product name, a logo, a light accent colour
//! on a dark background and a support link.

// The start helper is not a #[test] function, and panics on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use example_axum_server::{Options, app, start};
use oauth_mcp_axum::oauth_router;
use oauth_mcp_battery::browser::{self, Viewport};
use oauth_mcp_core::ErrorCode;
use oauth_mcp_core::authorize::{AuthorizeOutcome, AuthorizeRequest, LoginAction, LoginForm};
use oauth_mcp_core::{AuthServer, Branding};

/// Starts the example on an ephemeral loopback port; returns its base URL.
async fn server() -> String {
    let running = start(Options {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .expect("the example server starts");
    assert!(running.addr.ip().is_loopback());
    running.public_url
}

#[tokio::test]
async fn login_desktop() {
    browser::login(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn login_phone() {
    browser::login(&server().await, Viewport::Phone).await;
}

#[tokio::test]
async fn wrong_password_desktop() {
    browser::wrong_password(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn wrong_password_phone() {
    browser::wrong_password(&server().await, Viewport::Phone).await;
}

#[tokio::test]
async fn consent_desktop() {
    browser::consent(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn consent_phone() {
    browser::consent(&server().await, Viewport::Phone).await;
}

#[tokio::test]
async fn deny_desktop() {
    browser::deny(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn deny_phone() {
    browser::deny(&server().await, Viewport::Phone).await;
}

#[tokio::test]
async fn unknown_client_desktop() {
    browser::unknown_client(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn unknown_client_phone() {
    browser::unknown_client(&server().await, Viewport::Phone).await;
}

#[tokio::test]
async fn unregistered_redirect_uri_desktop() {
    browser::unregistered_redirect_uri(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn unregistered_redirect_uri_phone() {
    browser::unregistered_redirect_uri(&server().await, Viewport::Phone).await;
}

/// Who the consent-page server says is signed in.
const SUBJECT: &str = "github:4242";

/// What the consent-page server shows.
#[derive(Clone)]
struct ConsentOnly {
    server: AuthServer,
    /// `None`: the person is signed in as [`SUBJECT`]; `Some`: they sign in
    /// at this identity provider after consenting.
    provider: Option<&'static str>,
    /// Answer "Allow" with the page upstream login shows when its policy
    /// refuses the person: why, and a link handing the client `access_denied`.
    refuse: bool,
}

/// The sentence of [`ConsentOnly::refuse`]'s page.
const REFUSAL: &str =
    "GitHub signed you in as `mallory`, who is not on this server's list of allowed users.";

/// The example's endpoints on an ephemeral loopback port, but `/authorize`
/// shows the consent page of [`ConsentOnly`] and completes the request
/// with the answer; returns the base URL.
async fn consent_server(provider: Option<&'static str>, refuse: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let roles = example_common::oauth(&Options::default(), &base)
        .await
        .unwrap();
    let state = ConsentOnly {
        server: roles.oauth.server().clone(),
        provider,
        refuse,
    };
    let app = Router::new()
        .route("/authorize", get(show_consent).post(answer_consent))
        .with_state(state)
        .fallback_service(oauth_router(roles.oauth));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// An outcome as the core's HTTP layer answers it: pages with the UI's
/// policy, redirects as 303.
fn respond(server: &AuthServer, outcome: AuthorizeOutcome) -> Response {
    let ui = server.config().login_ui();
    let status = StatusCode::from_u16(outcome.status()).unwrap();
    let page = |html: String| {
        (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                (
                    header::CONTENT_SECURITY_POLICY,
                    ui.content_security_policy(),
                ),
            ],
            html,
        )
            .into_response()
    };
    match outcome {
        AuthorizeOutcome::ShowConsent(v) => page(ui.consent_page(&v)),
        AuthorizeOutcome::ShowError(v) => page(ui.error_page(&v)),
        AuthorizeOutcome::RedirectWithCode(to)
        | AuthorizeOutcome::RedirectWithError { location: to, .. } => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
        }
        other => panic!("unexpected outcome {other:?}"),
    }
}

async fn show_consent(State(s): State<ConsentOnly>, RawQuery(q): RawQuery) -> Response {
    let query = q.unwrap_or_default();
    let outcome = match s
        .server
        .authorize(&AuthorizeRequest::parse(query.as_bytes()))
        .await
    {
        AuthorizeOutcome::ShowLogin(login) => {
            match s.server.consent(login.request_id.as_str(), SUBJECT).await {
                AuthorizeOutcome::ShowConsent(mut v) if s.provider.is_some() => {
                    v.subject = String::new();
                    v.sign_in_with = s.provider.map(str::to_owned);
                    AuthorizeOutcome::ShowConsent(v)
                }
                other => other,
            }
        }
        other => other,
    };
    respond(&s.server, outcome)
}

async fn answer_consent(State(s): State<ConsentOnly>, body: Bytes) -> Response {
    let form = LoginForm::parse(&body);
    let id = form
        .request_id
        .as_ref()
        .map(|r| r.secret().to_owned())
        .unwrap_or_default();
    if s.refuse && form.action == LoginAction::Approve {
        return respond(&s.server, refusal(&s.server, &id).await);
    }
    let outcome = s
        .server
        .complete(&id, &Options::default().demo_user, SUBJECT, form.action)
        .await;
    respond(&s.server, outcome)
}

#[tokio::test]
async fn consent_page_signed_in_desktop() {
    browser::consent_signed_in(
        &consent_server(None, false).await,
        Viewport::Desktop,
        SUBJECT,
    )
    .await;
}

#[tokio::test]
async fn consent_page_signed_in_phone() {
    browser::consent_signed_in(&consent_server(None, false).await, Viewport::Phone, SUBJECT).await;
}

#[tokio::test]
async fn consent_page_before_upstream_sign_in_desktop() {
    browser::consent_before_upstream_sign_in(
        &consent_server(Some("GitHub"), false).await,
        Viewport::Desktop,
        "GitHub",
    )
    .await;
}

#[tokio::test]
async fn consent_page_before_upstream_sign_in_phone() {
    browser::consent_before_upstream_sign_in(
        &consent_server(Some("GitHub"), false).await,
        Viewport::Phone,
        "GitHub",
    )
    .await;
}

/// The product name of [`branded_server`].
const PRODUCT: &str = "Acme Tools";

/// A small logo, served by the branded server itself (the policy allows
/// images from the logo's origin only).
const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40" viewBox="0 0 160 40"><rect width="40" height="40" rx="8" fill="#ffd33d"/><text x="50" y="28" font-family="sans-serif" font-size="22" font-weight="700" fill="#ffffff">Acme</text></svg>"##;

/// The example, branded, on an ephemeral loopback port; returns its base URL.
async fn branded_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let opts = Options {
        branding: Some(
            Branding::new()
                .product_name(PRODUCT)
                .logo_url(format!("{base}/logo.svg"))
                // Light: the button's text turns dark and links darken.
                .accent_color("#ffd33d")
                .background_color("#0b3d2e")
                .support_url(format!("{base}/help")),
        ),
        ..Default::default()
    };
    let router = app(&opts, &base).await.unwrap().route(
        "/logo.svg",
        get(|| async { ([(header::CONTENT_TYPE, "image/svg+xml")], LOGO) }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

#[tokio::test]
async fn branded_desktop() {
    browser::branded(&branded_server().await, Viewport::Desktop, PRODUCT).await;
}

#[tokio::test]
async fn branded_phone() {
    browser::branded(&branded_server().await, Viewport::Phone, PRODUCT).await;
}

#[tokio::test]
async fn branded_error_page_desktop() {
    browser::branded_error_page(&branded_server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn branded_error_page_phone() {
    browser::branded_error_page(&branded_server().await, Viewport::Phone).await;
}

/// The page upstream login shows when its policy refuses the person: the
/// request is denied, and the page links to the client's redirect URI with
/// `access_denied` (`ErrorView::continue_to`).
async fn refusal(server: &AuthServer, request_id: &str) -> AuthorizeOutcome {
    let user = Options::default().demo_user;
    let location = match server
        .complete(request_id, &user, SUBJECT, LoginAction::Deny)
        .await
    {
        AuthorizeOutcome::RedirectWithError { location, .. } => location,
        other => return other,
    };
    // An error page the core made (for an empty request), filled in as
    // upstream login fills its refusals.
    let AuthorizeOutcome::ShowError(mut v) = server.authorize(&AuthorizeRequest::parse(b"")).await
    else {
        panic!("an empty authorization request gets an error page");
    };
    v.status = 403;
    v.error = ErrorCode::AccessDenied;
    v.message = REFUSAL.to_owned();
    v.detail = "user `mallory` may not use this server".to_owned();
    v.continue_to = Some(location);
    AuthorizeOutcome::ShowError(v)
}

#[tokio::test]
async fn refusal_page_desktop() {
    browser::refusal_continues_to_client(
        &consent_server(Some("GitHub"), true).await,
        Viewport::Desktop,
        REFUSAL,
    )
    .await;
}

#[tokio::test]
async fn refusal_page_phone() {
    browser::refusal_continues_to_client(
        &consent_server(Some("GitHub"), true).await,
        Viewport::Phone,
        REFUSAL,
    )
    .await;
}
