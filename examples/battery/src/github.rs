//! A loopback stand-in with GitHub's OAuth and user-API endpoint shapes, for
//! testing the GitHub upstream login without the internet:
//!
//! | GitHub | stand-in |
//! |---|---|
//! | `https://github.com/login/oauth/authorize` | `{web_base}/login/oauth/authorize` |
//! | `https://github.com/login/oauth/access_token` | `{web_base}/login/oauth/access_token` |
//! | `https://api.github.com/user` | `{api_base}/user` |
//! | `https://api.github.com/user/emails` | `{api_base}/user/emails` |
//! | `https://api.github.com/user/memberships/orgs/{org}` | `{api_base}/user/memberships/orgs/{org}` |
//!
//! It behaves like GitHub where a client can tell: the token endpoint
//! answers JSON only when asked (`Accept: application/json`), reports
//! errors with status **200** and an `error` field (`bad_verification_code`,
//! `incorrect_client_credentials`, `redirect_uri_mismatch`), requires the
//! client secret, checks PKCE (S256), and spends a code once; the API wants
//! `Authorization: Bearer` (or `token`), answers 401 `Bad credentials`
//! otherwise, hides `/user/emails` without the `user:email` scope and
//! memberships without `read:org` (404), and lists an organisation
//! membership only for members.
//!
//! There is no login page: the test says who is signed in at "GitHub"
//! ([`GitHubStandIn::sign_in`]), and an authorization request is approved
//! (or, with [`GitHubStandIn::deny`], declined) at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::client::unique;

/// The OAuth App's client id at the stand-in.
pub const CLIENT_ID: &str = "Iv1.oauthmcpstandin";
/// The OAuth App's client secret at the stand-in.
pub const CLIENT_SECRET: &str = "standin-client-secret";

/// A GitHub user of the stand-in.
#[derive(Debug, Clone)]
pub struct GitHubUser {
    /// The numeric user id (never changes).
    pub id: u64,
    /// The login (user name).
    pub login: String,
    /// The display name.
    pub name: Option<String>,
    /// The public email on the profile (`/user`'s `email`).
    pub public_email: Option<String>,
    /// The addresses at `/user/emails`: (address, primary, verified).
    pub emails: Vec<(String, bool, bool)>,
    /// Organisation memberships: (org login, state: `active` or `pending`).
    pub orgs: Vec<(String, String)>,
}

impl GitHubUser {
    /// A user with `id` and `login`, and a verified primary address
    /// `<login>@users.example`.
    pub fn new(id: u64, login: &str) -> Self {
        Self {
            id,
            login: login.to_owned(),
            name: None,
            public_email: None,
            emails: vec![(format!("{login}@users.example"), true, true)],
            orgs: Vec::new(),
        }
    }

    /// Adds an active membership of `org`.
    pub fn member_of(mut self, org: &str) -> Self {
        self.orgs.push((org.to_owned(), "active".to_owned()));
        self
    }
}

#[derive(Debug, Clone)]
struct CodeGrant {
    redirect_uri: String,
    code_challenge: Option<String>,
    scope: String,
    login: String,
    spent: bool,
}

#[derive(Debug, Default)]
struct Inner {
    users: HashMap<String, GitHubUser>,
    signed_in: Option<String>,
    deny: bool,
    outage: bool,
    callback: Option<String>,
    codes: HashMap<String, CodeGrant>,
    /// access token -> (login, scopes)
    tokens: HashMap<String, (String, String)>,
    /// Every request: "METHOD path".
    log: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(s: &Shared) -> MutexGuard<'_, Inner> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running stand-in; stopped when dropped.
pub struct GitHubStandIn {
    base: String,
    inner: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for GitHubStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubStandIn")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl GitHubStandIn {
    /// Starts a stand-in on a free loopback port with `users`.
    pub async fn start(users: Vec<GitHubUser>) -> Self {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            users: users.into_iter().map(|u| (u.login.clone(), u)).collect(),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/api/user", get(user))
            .route("/api/user/emails", get(emails))
            .route("/api/user/memberships/orgs/{org}", get(membership))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the GitHub stand-in");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}"),
            inner,
            task,
        }
    }

    /// The web base URL (GitHub's `https://github.com`).
    pub fn web_base(&self) -> String {
        self.base.clone()
    }

    /// The API base URL (GitHub's `https://api.github.com`).
    pub fn api_base(&self) -> String {
        format!("{}/api", self.base)
    }

    /// Who is signed in at "GitHub": the next authorization request is
    /// approved for this user.
    pub fn sign_in(&self, login: &str) {
        let mut g = lock(&self.inner);
        assert!(g.users.contains_key(login), "no stand-in user `{login}`");
        g.signed_in = Some(login.to_owned());
        g.deny = false;
    }

    /// The user declines the next authorization requests (`access_denied`).
    pub fn deny(&self) {
        lock(&self.inner).deny = true;
    }

    /// While on, every endpoint answers 503 (a GitHub outage).
    pub fn set_outage(&self, on: bool) {
        lock(&self.inner).outage = on;
    }

    /// The registered callback URL: other `redirect_uri`s are refused
    /// (default: any).
    pub fn register_callback(&self, url: &str) {
        lock(&self.inner).callback = Some(url.to_owned());
    }

    /// Every request so far, as `METHOD path`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.inner).log.clone()
    }

    /// Stops listening (later connections are refused).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for GitHubStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "GitHub is having a bad day",
    )
        .into_response()
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut g = lock(&s);
    g.log.push("GET /login/oauth/authorize".into());
    if g.outage {
        return unavailable();
    }
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (StatusCode::NOT_FOUND, "unknown client_id").into_response();
    }
    let Some(redirect_uri) = q.get("redirect_uri").cloned() else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is required here").into_response();
    };
    if g.callback.as_ref().is_some_and(|c| *c != redirect_uri) {
        return (
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not associated with this application.",
        )
            .into_response();
    }
    let mut back = url::Url::parse(&redirect_uri).expect("redirect_uri is a URL");
    {
        let mut p = back.query_pairs_mut();
        if g.deny {
            p.append_pair("error", "access_denied").append_pair(
                "error_description",
                "The user has denied your application access.",
            );
        } else {
            let Some(login) = g.signed_in.clone() else {
                drop(p);
                return (StatusCode::OK, "<h1>Sign in to GitHub</h1>").into_response();
            };
            let method = q.get("code_challenge_method").map(String::as_str);
            let challenge = q.get("code_challenge").cloned();
            if challenge.is_some() && method != Some("S256") {
                return (
                    StatusCode::BAD_REQUEST,
                    "code_challenge_method must be S256",
                )
                    .into_response();
            }
            let code = unique("gh-code")[..20].to_owned();
            g.codes.insert(
                code.clone(),
                CodeGrant {
                    redirect_uri: redirect_uri.clone(),
                    code_challenge: challenge,
                    scope: q.get("scope").cloned().unwrap_or_default(),
                    login,
                    spent: false,
                },
            );
            p.append_pair("code", &code);
        }
        if let Some(state) = q.get("state") {
            p.append_pair("state", state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

/// GitHub's token endpoint: JSON when asked, else form-encoded; errors
/// with status 200.
async fn access_token(
    State(s): State<Shared>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let json_wanted = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let answer = |v: Value| -> Response {
        if json_wanted {
            (
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                v.to_string(),
            )
                .into_response()
        } else {
            let obj = v.as_object().cloned().unwrap_or_default();
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in obj {
                ser.append_pair(&k, v.as_str().unwrap_or(&v.to_string()));
            }
            (
                [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
                ser.finish(),
            )
                .into_response()
        }
    };
    let error = |code: &str, description: &str| {
        json!({
            "error": code,
            "error_description": description,
            "error_uri": "https://docs.github.com/apps/troubleshooting",
        })
    };
    let mut g = lock(&s);
    g.log.push("POST /login/oauth/access_token".into());
    if g.outage {
        return unavailable();
    }
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return answer(error(
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
        ));
    }
    let bad_code = error(
        "bad_verification_code",
        "The code passed is incorrect or expired.",
    );
    let Some(code) = form.get("code") else {
        return answer(bad_code);
    };
    let Some(grant) = g.codes.get_mut(code) else {
        return answer(bad_code);
    };
    if grant.spent {
        return answer(bad_code);
    }
    grant.spent = true;
    let grant = grant.clone();
    if form
        .get("redirect_uri")
        .is_some_and(|r| *r != grant.redirect_uri)
    {
        return answer(error(
            "redirect_uri_mismatch",
            "The redirect_uri MUST match the registered callback URL for this application.",
        ));
    }
    if let Some(challenge) = &grant.code_challenge {
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if computed != *challenge {
            return answer(error(
                "bad_verification_code",
                "The code_verifier does not match the code_challenge.",
            ));
        }
    }
    let token = format!("gho_{}", &unique("gh-token")[..36]);
    g.tokens
        .insert(token.clone(), (grant.login.clone(), grant.scope.clone()));
    answer(json!({
        "access_token": token,
        "token_type": "bearer",
        "scope": grant.scope.replace(' ', ","),
    }))
}

/// The user and scopes of the request's token (`None`: answer
/// [`bad_credentials`]).
fn authenticated(g: &Inner, headers: &HeaderMap) -> Option<(GitHubUser, String)> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "))
        .unwrap_or("");
    let (login, scope) = g.tokens.get(token)?;
    Some((g.users.get(login).cloned()?, scope.clone()))
}

/// The API's 401.
fn bad_credentials() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
            .to_string(),
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
            .to_string(),
    )
        .into_response()
}

fn has_scope(scopes: &str, wanted: &str) -> bool {
    scopes.split([' ', ',']).any(|s| s == wanted)
}

async fn user(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut g = lock(&s);
    g.log.push("GET /api/user".into());
    if g.outage {
        return unavailable();
    }
    let (u, _) = match authenticated(&g, &headers) {
        Some(x) => x,
        None => return bad_credentials(),
    };
    axum::Json(json!({
        "login": u.login,
        "id": u.id,
        "node_id": format!("MDQ6VXNlcj{}", u.id),
        "type": "User",
        "name": u.name,
        "email": u.public_email,
    }))
    .into_response()
}

async fn emails(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut g = lock(&s);
    g.log.push("GET /api/user/emails".into());
    if g.outage {
        return unavailable();
    }
    let (u, scopes) = match authenticated(&g, &headers) {
        Some(x) => x,
        None => return bad_credentials(),
    };
    if !has_scope(&scopes, "user:email") && !has_scope(&scopes, "user") {
        return not_found();
    }
    axum::Json(Value::Array(
        u.emails
            .iter()
            .map(|(email, primary, verified)| {
                json!({"email": email, "primary": primary, "verified": verified, "visibility": null})
            })
            .collect(),
    ))
    .into_response()
}

async fn membership(
    State(s): State<Shared>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut g = lock(&s);
    g.log.push(format!("GET /api/user/memberships/orgs/{org}"));
    if g.outage {
        return unavailable();
    }
    let (u, scopes) = match authenticated(&g, &headers) {
        Some(x) => x,
        None => return bad_credentials(),
    };
    if !has_scope(&scopes, "read:org") {
        return not_found();
    }
    match u.orgs.iter().find(|(o, _)| o.eq_ignore_ascii_case(&org)) {
        Some((o, state)) => axum::Json(json!({
            "state": state,
            "role": "member",
            "organization": {"login": o},
            "user": {"login": u.login, "id": u.id},
        }))
        .into_response(),
        None => not_found(),
    }
}
