//! End-to-end tests of upstream login over real HTTP: an example server
//! (either adapter) whose users sign in at panva's `oidc-provider` (its
//! real login and consent forms) or at the GitHub stand-in, driven by a
//! [`Browser`] that keeps cookies, and an OAuth client that registers,
//! exchanges its code and calls the MCP tools.
//!
//! An adapter's test file provides one start function (see [`StartUpstream`]:
//! the example's options with `upstream` set, on a pre-bound listener so the
//! callback URL is known before the provider starts) and invokes
//! [`upstream_tests!`](crate::upstream_tests) with it.

use std::future::Future;
use std::net::TcpListener;

use example_common::{UpstreamChoice, UpstreamOptions};
use serde_json::{Value, json};

use crate::Harness;
use crate::client::*;
use crate::cookie_browser::{Browser, Page};
use crate::github::{self, GitHubStandIn, GitHubUser};
use crate::oidc::OidcProvider;
use crate::upstream_idp::{
    ALICE, BOB, IdpUser, MALLORY, UPSTREAM_CLIENT, sign_in, sign_in_and_deny, start_upstream_idp,
    tokens_for,
};

/// Starts the adapter's example server on `listener` with `spec`.
pub trait StartUpstream: Fn(TcpListener, UpstreamOptions) -> Self::Fut {
    /// The start future.
    type Fut: Future<Output = Harness>;
}

impl<F, Fut> StartUpstream for F
where
    F: Fn(TcpListener, UpstreamOptions) -> Fut,
    Fut: Future<Output = Harness>,
{
    type Fut = Fut;
}

fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind a loopback port")
}

fn base_of(listener: &TcpListener) -> String {
    format!("http://{}", listener.local_addr().expect("local addr"))
}

/// The OpenID provider and an example server signing in there: `allowed`
/// may sign in (`mcp`), `admins` also get `admin`.
async fn oidc_server(
    start: &impl StartUpstream,
    allowed: &[&str],
    admins: &[&str],
) -> (OidcProvider, Harness) {
    let listener = loopback();
    let callback = format!("{}/upstream/callback", base_of(&listener));
    let op = start_upstream_idp(&[&callback]).await;
    let h = start(
        listener,
        UpstreamOptions {
            provider: UpstreamChoice::Issuer(op.issuer().to_owned()),
            client_id: UPSTREAM_CLIENT.id.to_owned(),
            client_secret: Some(UPSTREAM_CLIENT.secret.into()),
            allowed_users: allowed.iter().map(|s| (*s).to_owned()).collect(),
            admin_users: admins.iter().map(|s| (*s).to_owned()).collect(),
            scopes: Some(vec![
                "openid".into(),
                "email".into(),
                "profile".into(),
                "groups".into(),
            ]),
            github_web_url: None,
            github_api_url: None,
        },
    )
    .await;
    (op, h)
}

/// A registered public client and its authorization request (for `scope`).
async fn client_request(base: &str, scope: Option<&str>) -> (Registered, Pkce, AuthRequest) {
    let client = register_public(base).await;
    let pkce = Pkce::new();
    let mut req = AuthRequest::new(&client, &pkce).resource(&mcp_url(base));
    if let Some(s) = scope {
        req = req.scope(s);
    }
    (client, pkce, req)
}

fn authorize_url(base: &str, req: &AuthRequest) -> String {
    let mut url = url::Url::parse(&format!("{base}/authorize")).expect("authorize URL");
    {
        let mut q = url.query_pairs_mut();
        let mut push = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        };
        push("response_type", &req.response_type);
        push("client_id", &Some(req.client_id.clone()));
        push("redirect_uri", &req.redirect_uri);
        push("code_challenge", &req.code_challenge);
        push("code_challenge_method", &req.code_challenge_method);
        push("state", &req.state);
        push("resource", &req.resource);
        push("scope", &req.scope);
    }
    url.to_string()
}

/// Asserts our consent page for upstream login and approves it: returns
/// the redirect to the provider.
async fn approve_consent(browser: &Browser, page: &Page, provider_name: &str) -> Page {
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("id=\"upstream\""),
        "not the upstream consent page: {}",
        page.body
    );
    assert!(page.body.contains(provider_name), "{}", page.body);
    assert!(page.body.contains("id=\"client-name\">e2e public client<"));
    assert!(page.body.contains("id=\"redirect-host\">127.0.0.1<"));
    assert!(!page.body.contains("name=\"password\""), "no password form");
    let id = page.input_value("request_id");
    let r = browser
        .post_form(
            page.form_action("/authorize").as_str(),
            &[("request_id", id.as_str()), ("action", "approve")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    r
}

/// The whole browser leg for `user` at the OpenID provider, from the
/// authorization URL to the redirect to the client; returns the last page
/// (the 303 to the client's redirect URI).
async fn browser_login(browser: &Browser, h: &Harness, req: &AuthRequest, user: &IdpUser) -> Page {
    let redirect = req.redirect_uri.clone().expect("redirect_uri");
    let first = browser.get(&authorize_url(&h.base, req)).await;
    let to_provider = if first.status == 200 {
        approve_consent(browser, &first, "127.0.0.1").await
    } else {
        first
    };
    let location = to_provider
        .location
        .clone()
        .unwrap_or_else(|| panic!("no redirect to the provider: {}", to_provider.body));
    let callback = format!("{}/upstream/callback", h.base);
    let back = sign_in(browser, location.as_str(), user, &callback).await;
    let at_callback = browser
        .get(back.location.as_ref().expect("callback").as_str())
        .await;
    browser.follow(at_callback, &redirect).await
}

/// The code in a redirect to the client, checked.
fn code_of(page: &Page, h: &Harness, req: &AuthRequest) -> String {
    assert_eq!(page.status, 303, "{}", page.body);
    let to = page.location.as_ref().expect("Location");
    assert!(
        to.as_str()
            .starts_with(req.redirect_uri.as_deref().expect("redirect_uri")),
        "{to}"
    );
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q.get("state"), req.state.as_ref(), "{to}");
    assert_eq!(
        q.get("iss").map(String::as_str),
        Some(h.base.as_str()),
        "{to}"
    );
    assert!(!q.contains_key("error"), "{to}");
    q.get("code").cloned().expect("code")
}

async fn our_tokens(h: &Harness, client: &Registered, pkce: &Pkce, code: &str) -> Tokens {
    let r = exchange(
        &h.base,
        &client.client_id,
        code,
        &pkce.verifier,
        Some(&client.redirect_uri),
        Some(&mcp_url(&h.base)),
    )
    .await;
    tokens_of(&r)
}

/// An error page with a link handing the client `error`: returns the page's
/// text.
fn assert_refusal_page(page: &Page, status: u16, req: &AuthRequest, error: &str) -> String {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(
        page.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/html")),
        "an HTML page"
    );
    let link = page
        .link("continue")
        .unwrap_or_else(|| panic!("no link back to the application: {}", page.body));
    let u = url::Url::parse(&link).expect("link URL");
    assert!(
        link.starts_with(req.redirect_uri.as_deref().expect("redirect_uri")),
        "{link}"
    );
    let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
    assert_eq!(q.get("error").map(String::as_str), Some(error), "{link}");
    assert_eq!(q.get("state"), req.state.as_ref(), "{link}");
    assert!(!q.contains_key("code"));
    page.text()
}

// ================================================================ scenarios

/// The whole flow through both logins: our consent page, the provider's
/// login and consent forms, the callback, our code and tokens with our
/// audience; `whoami` names the upstream user. A second authorization in
/// the same browser skips our consent page (remembered for this user and
/// client); another client asks again.
pub async fn oidc_login_through_both_forms(start: impl StartUpstream) {
    let (op, h) = oidc_server(&start, &["alice"], &[]).await;
    let (client, pkce, req) = client_request(&h.base, None).await;
    let browser = Browser::new();
    let done = browser_login(&browser, &h, &req, &ALICE).await;
    let code = code_of(&done, &h, &req);
    let tokens = our_tokens(&h, &client, &pkce, &code).await;
    let who = whoami(&h.base, &tokens.access).await;
    assert_eq!(
        who["subject"],
        format!("{}|{}", op.issuer(), ALICE.sub),
        "{who}"
    );
    assert_eq!(who["audience"], mcp_url(&h.base));
    assert_eq!(who["client_id"], client.client_id);
    assert_eq!(who["scopes"], json!(["mcp"]));

    // Again, same browser and client: no consent page; the provider's own
    // session signs alice in without a form.
    let pkce2 = Pkce::new();
    let req2 = AuthRequest::new(&client, &pkce2).resource(&mcp_url(&h.base));
    let first = browser.get(&authorize_url(&h.base, &req2)).await;
    assert_eq!(first.status, 303, "remembered consent: {}", first.body);
    assert!(
        first
            .location
            .as_ref()
            .is_some_and(|l| l.as_str().starts_with(op.issuer())),
        "straight to the provider"
    );
    let done = browser_login(&browser, &h, &req2, &ALICE).await;
    let code = code_of(&done, &h, &req2);
    let again = our_tokens(&h, &client, &pkce2, &code).await;
    assert_eq!(
        whoami(&h.base, &again.access).await["subject"],
        who["subject"]
    );

    // Another client: consent is per client.
    let (_, _, other) = client_request(&h.base, None).await;
    let page = browser.get(&authorize_url(&h.base, &other)).await;
    assert_eq!(page.status, 200, "a new client asks for consent again");
    assert!(page.body.contains("id=\"upstream\""));
}

/// Deny on our consent page, and deny at the provider: the client gets
/// `access_denied`, no code.
pub async fn oidc_declines(start: impl StartUpstream) {
    let (_op, h) = oidc_server(&start, &["alice"], &[]).await;
    let (_, _, req) = client_request(&h.base, None).await;
    let browser = Browser::new();
    let page = browser.get(&authorize_url(&h.base, &req)).await;
    let id = page.input_value("request_id");
    let r = browser
        .post_form(
            &format!("{}/authorize", h.base),
            &[("request_id", id.as_str()), ("action", "deny")],
        )
        .await;
    assert_eq!(r.status, 303);
    let to = r.location.expect("Location");
    assert!(to.as_str().contains("error=access_denied"), "{to}");

    // At the provider: "Deny" on its consent form.
    let (_, _, req) = client_request(&h.base, None).await;
    let page = browser.get(&authorize_url(&h.base, &req)).await;
    let to_provider = approve_consent(&browser, &page, "127.0.0.1").await;
    let callback = format!("{}/upstream/callback", h.base);
    let back = sign_in_and_deny(
        &Browser::new(),
        to_provider.location.expect("provider").as_str(),
        &ALICE,
        &callback,
    )
    .await;
    // The provider's answer, opened in the browser that started the sign-in.
    let page = browser.get(back.location.expect("callback").as_str()).await;
    let text = assert_refusal_page(&page, 403, &req, "access_denied");
    assert!(text.contains("did not sign you in"), "{text}");
}

/// The login policy over HTTP: a user outside the allow-list gets a page
/// saying why (and the client `access_denied`); an admin user gets `admin`
/// and may call `admin_echo`; a non-admin asking only for `admin` is refused.
pub async fn oidc_policy(start: impl StartUpstream) {
    let (_op, h) = oidc_server(&start, &["alice"], &["bob@example.org"]).await;

    let (_, _, req) = client_request(&h.base, None).await;
    let page = browser_login(&Browser::new(), &h, &req, &MALLORY).await;
    let text = assert_refusal_page(&page, 403, &req, "access_denied");
    assert!(
        text.contains("`mallory` (")
            && text.contains("is not on this server's list of allowed users"),
        "{text}"
    );
    assert!(
        text.contains("mallory@example.com is not verified"),
        "{text}"
    );

    let (client, pkce, req) = client_request(&h.base, Some("mcp admin")).await;
    let done = browser_login(&Browser::new(), &h, &req, &BOB).await;
    let tokens = our_tokens(&h, &client, &pkce, &code_of(&done, &h, &req)).await;
    assert_eq!(tokens.scope, "admin mcp");
    let r = mcp_post(
        &h.base,
        Some(&tokens.access),
        &tool_call(3, "admin_echo", &json!({"message": "hi"})),
    )
    .await;
    assert_eq!(r.result()["content"][0]["text"], "hi");

    let (client, pkce, req) = client_request(&h.base, Some("mcp admin")).await;
    let done = browser_login(&Browser::new(), &h, &req, &ALICE).await;
    let tokens = our_tokens(&h, &client, &pkce, &code_of(&done, &h, &req)).await;
    assert_eq!(tokens.scope, "mcp", "narrowed to what alice may have");

    let (_, _, req) = client_request(&h.base, Some("admin")).await;
    let page = browser_login(&Browser::new(), &h, &req, &ALICE).await;
    let text = assert_refusal_page(&page, 403, &req, "access_denied");
    assert!(
        text.contains("may not be granted any of the requested scopes"),
        "{text}"
    );
}

/// The callback is CSRF-safe: a forged `state`, the same callback twice, a
/// callback in another browser are refused with a page (400) and issue no
/// code.
pub async fn callback_state_attacks(start: impl StartUpstream) {
    let (_op, h) = oidc_server(&start, &["alice"], &[]).await;
    let (_, _, req) = client_request(&h.base, None).await;
    let browser = Browser::new();
    let page = browser.get(&authorize_url(&h.base, &req)).await;
    let to_provider = approve_consent(&browser, &page, "127.0.0.1").await;
    let callback = format!("{}/upstream/callback", h.base);
    let back = sign_in(
        &browser,
        to_provider.location.expect("provider").as_str(),
        &ALICE,
        &callback,
    )
    .await;
    let callback_url = back.location.expect("callback").to_string();

    // Another browser (the attacker's link in the victim's browser).
    let other = Browser::new().get(&callback_url).await;
    assert_eq!(other.status, 400, "{}", other.body);
    assert!(other.body.contains("another browser"), "{}", other.body);
    assert!(other.location.is_none());
    // That attempt spent the sign-in: the right browser cannot use it now.
    let late = browser.get(&callback_url).await;
    assert_eq!(late.status, 400, "{}", late.body);
    assert!(late.body.contains("already used"), "{}", late.body);

    // A state nobody issued.
    let forged = browser
        .get(&format!("{callback}?code=abc&state=forged-state"))
        .await;
    assert_eq!(forged.status, 400, "{}", forged.body);

    // A good sign-in, then its callback replayed.
    let (client, pkce, req) = client_request(&h.base, None).await;
    let browser = Browser::new();
    let page = browser.get(&authorize_url(&h.base, &req)).await;
    let to_provider = approve_consent(&browser, &page, "127.0.0.1").await;
    let back = sign_in(
        &browser,
        to_provider.location.expect("provider").as_str(),
        &ALICE,
        &callback,
    )
    .await;
    let callback_url = back.location.expect("callback").to_string();
    let done = browser.get(&callback_url).await;
    let code = code_of(&done, &h, &req);
    our_tokens(&h, &client, &pkce, &code).await;
    let replay = browser.get(&callback_url).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(replay.location.is_none(), "no second code");
}

/// The provider goes down between our redirect and its callback: a page
/// that says so (502), with a link handing the client
/// `temporarily_unavailable`. Our own endpoints keep working.
pub async fn provider_outage(start: impl StartUpstream) {
    let (mut op, h) = oidc_server(&start, &["alice"], &[]).await;
    let (_, _, req) = client_request(&h.base, None).await;
    let browser = Browser::new();
    let page = browser.get(&authorize_url(&h.base, &req)).await;
    let to_provider = approve_consent(&browser, &page, "127.0.0.1").await;
    let callback = format!("{}/upstream/callback", h.base);
    let back = sign_in(
        &browser,
        to_provider.location.expect("provider").as_str(),
        &ALICE,
        &callback,
    )
    .await;
    op.stop().await;
    let page = browser.get(back.location.expect("callback").as_str()).await;
    let text = assert_refusal_page(&page, 502, &req, "temporarily_unavailable");
    assert!(text.contains("could not be reached"), "{text}");
    assert!(text.contains("try again in a moment"), "{text}");
    let meta = get(&format!(
        "{}/.well-known/oauth-authorization-server",
        h.base
    ))
    .await;
    assert_eq!(meta.status, 200);
}

/// No token passthrough: the provider's own access token is refused at the
/// MCP endpoint, and the client only ever holds our tokens (our issuer, our
/// audience).
pub async fn no_token_passthrough(start: impl StartUpstream) {
    let (op, h) = oidc_server(&start, &["alice"], &[]).await;
    let (client, pkce, req) = client_request(&h.base, None).await;
    let done = browser_login(&Browser::new(), &h, &req, &ALICE).await;
    let tokens = our_tokens(&h, &client, &pkce, &code_of(&done, &h, &req)).await;
    let (_, claims) = crate::oidc::decode_jwt(&tokens.access);
    assert_eq!(claims["iss"], h.base);
    assert_eq!(claims["aud"], mcp_url(&h.base));

    // A genuine token from the provider, for the MCP server's resource.
    let upstream = op
        .client_credentials_token(Some(op.resource()), "mcp")
        .await;
    let why = assert_token_refused(&h.base, &upstream).await;
    assert!(!why.is_empty());
    // And the provider's user tokens (as a client might try to pass on).
    let callback = format!("{}/upstream/callback", h.base);
    let upstream_user = tokens_for(&op, UPSTREAM_CLIENT, &ALICE, "n", &callback).await;
    for t in ["access_token", "id_token"] {
        let token = upstream_user[t].as_str().expect("token");
        assert_token_refused(&h.base, token).await;
    }
}

/// GitHub (the stand-in with GitHub's endpoint shapes): the allow-list by
/// login, `admin` by list, the numeric id as the subject.
pub async fn github_login(start: impl StartUpstream) {
    let gh = GitHubStandIn::start(vec![
        GitHubUser::new(583231, "octocat"),
        GitHubUser::new(9, "mallory"),
    ])
    .await;
    let listener = loopback();
    let callback = format!("{}/upstream/callback", base_of(&listener));
    gh.register_callback(&callback);
    let h = start(
        listener,
        UpstreamOptions {
            provider: UpstreamChoice::GitHub,
            client_id: github::CLIENT_ID.to_owned(),
            client_secret: Some(github::CLIENT_SECRET.into()),
            allowed_users: vec![],
            admin_users: vec!["octocat".into()],
            scopes: None,
            github_web_url: Some(gh.web_base()),
            github_api_url: Some(gh.api_base()),
        },
    )
    .await;
    let (client, pkce, req) = client_request(&h.base, Some("mcp admin")).await;
    let browser = Browser::new();
    gh.sign_in("octocat");
    let page = browser.get(&authorize_url(&h.base, &req)).await;
    let to_github = approve_consent(&browser, &page, "GitHub").await;
    let at_github = browser
        .get(to_github.location.expect("GitHub").as_str())
        .await;
    let back = browser
        .get(at_github.location.expect("callback").as_str())
        .await;
    let tokens = our_tokens(&h, &client, &pkce, &code_of(&back, &h, &req)).await;
    assert_eq!(tokens.scope, "admin mcp");
    let who = whoami(&h.base, &tokens.access).await;
    assert_eq!(who["subject"], "github|583231", "{who}");

    gh.sign_in("mallory");
    let (_, _, req) = client_request(&h.base, None).await;
    let page = browser.get(&authorize_url(&h.base, &req)).await;
    let to_github = approve_consent(&browser, &page, "GitHub").await;
    let at_github = browser
        .get(to_github.location.expect("GitHub").as_str())
        .await;
    let page = browser
        .get(at_github.location.expect("callback").as_str())
        .await;
    let text = assert_refusal_page(&page, 403, &req, "access_denied");
    assert!(text.contains("mallory"), "{text}");
}

/// The TypeScript SDK client through both logins (our consent page, the
/// provider's forms); `whoami` names the upstream user.
pub async fn typescript_client_upstream(start: impl StartUpstream) {
    let (op, h) = oidc_server(&start, &["alice"], &[]).await;
    let summary: Value = crate::interop::typescript_client_upstream(
        &h.mcp(),
        ALICE.login,
        ALICE.password,
        &format!("{}|{}", op.issuer(), ALICE.sub),
    )
    .await;
    assert_eq!(summary["ok"], true, "{summary}");
}

/// Generates one `#[tokio::test]` per upstream scenario for an adapter's
/// start function (see [`StartUpstream`]).
#[macro_export]
macro_rules! upstream_tests {
    ($start:path) => {
        $crate::upstream_tests!(@each $start;
            oidc_login_through_both_forms,
            oidc_declines,
            oidc_policy,
            callback_state_attacks,
            provider_outage,
            no_token_passthrough,
            github_login,
            typescript_client_upstream,
        );
    };
    (@each $start:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::upstream_e2e::$name($start).await;
            }
        )*
    };
}
