//! A small OAuth + MCP client for the black-box battery: dynamic registration,
//! the login form, the token endpoint and MCP JSON-RPC over streamable HTTP.
//! It talks only to the base URL it is given (loopback) and never follows
//! redirects: every `Location` is inspected instead.
//!
//! Its helpers panic (failing the test) on any unexpected answer.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The demo user the example server creates.
pub const USER: &str = "demo-user";
/// The demo user's password.
pub const PASSWORD: &str = "demo-password";
/// The MCP protocol version the battery speaks.
pub const MCP_PROTOCOL_VERSION: &str = "2025-11-25";

/// Upper bound on how long any single MCP response may take to produce its
/// first JSON-RPC message.
const MCP_READ_LIMIT: Duration = Duration::from_secs(20);
/// Upper bound on the number of body chunks read from one SSE response.
const MAX_SSE_CHUNKS: usize = 10_000;

/// The shared HTTP client: no redirects followed, no proxy, bounded time.
pub fn http() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("reqwest client")
        })
        .clone()
}

/// A unique, URL-safe, 43-character random-looking string.
pub fn unique(label: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!("{label}:{n}:{t}:{}", std::process::id());
    URL_SAFE_NO_PAD.encode(Sha256::digest(seed.as_bytes()))
}

/// A fresh loopback callback URI (nothing listens there; redirects are only inspected).
pub fn callback_uri() -> String {
    static PORT: AtomicU64 = AtomicU64::new(0);
    let port = 40_000 + PORT.fetch_add(1, Ordering::SeqCst) % 20_000;
    format!("http://127.0.0.1:{port}/callback")
}

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// The `code_verifier` sent to the token endpoint.
    pub verifier: String,
    /// The `code_challenge` (S256 of the verifier) sent to /authorize.
    pub challenge: String,
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

impl Pkce {
    /// A fresh random verifier and its challenge.
    pub fn new() -> Self {
        let verifier = unique("pkce-verifier");
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// A buffered HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, as text.
    pub text: String,
}

impl Reply {
    async fn read(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("response body");
        Self {
            status,
            headers,
            text,
        }
    }

    /// The body as JSON (panics with the body if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    /// A header's value as a string.
    pub fn header(&self, name: &str) -> Option<String> {
        header_str(&self.headers, name)
    }

    /// The `error` member of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    /// The `error_description` member of a JSON error body.
    pub fn error_description(&self) -> String {
        self.json()["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Asserts an RFC 6749 §5.2 JSON error: status, code, `no-store`.
    pub fn assert_oauth_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(self.error(), code, "unexpected error; body: {}", self.text);
        assert_eq!(
            self.header("cache-control").as_deref(),
            Some("no-store"),
            "error responses must not be cached"
        );
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "error body must be JSON"
        );
    }

    /// The parsed `WWW-Authenticate` challenge (panics if absent).
    pub fn challenge(&self) -> Challenge {
        let v = self
            .header("www-authenticate")
            .unwrap_or_else(|| panic!("no WWW-Authenticate header; body: {}", self.text));
        Challenge::parse(&v)
    }
}

/// A header's value as a string.
pub fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// True if a comma-separated header list contains `item` (case-insensitive).
pub fn list_contains(list: &str, item: &str) -> bool {
    list.split(',').any(|s| s.trim().eq_ignore_ascii_case(item))
}

/// A parsed `WWW-Authenticate` challenge: scheme and auth-params.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// The header value as received.
    pub raw: String,
    /// The auth scheme, e.g. `Bearer`.
    pub scheme: String,
    /// The auth-params, keyed by lower-cased name.
    pub params: HashMap<String, String>,
}

impl Challenge {
    /// Parses `Scheme k="v", k2=token, …` (one challenge).
    pub fn parse(raw: &str) -> Self {
        let (scheme, rest) = raw.split_once(' ').unwrap_or((raw, ""));
        let mut params = HashMap::new();
        let chars: Vec<char> = rest.chars().collect();
        let mut i = 0;
        // Each iteration consumes at least one character: bounded by the length.
        while i < chars.len() {
            while i < chars.len() && (chars[i] == ',' || chars[i].is_whitespace()) {
                i += 1;
            }
            let start = i;
            while i < chars.len() && chars[i] != '=' && chars[i] != ',' {
                i += 1;
            }
            let key: String = chars[start..i].iter().collect::<String>().trim().to_owned();
            if i >= chars.len() || chars[i] == ',' {
                if !key.is_empty() {
                    params.insert(key.to_ascii_lowercase(), String::new());
                }
                continue;
            }
            i += 1; // '='
            let value = if i < chars.len() && chars[i] == '"' {
                i += 1;
                let mut v = String::new();
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    v.push(chars[i]);
                    i += 1;
                }
                i += 1; // closing quote
                v
            } else {
                let s = i;
                while i < chars.len() && chars[i] != ',' {
                    i += 1;
                }
                chars[s..i].iter().collect::<String>().trim().to_owned()
            };
            params.insert(key.to_ascii_lowercase(), value);
        }
        Self {
            raw: raw.to_owned(),
            scheme: scheme.to_owned(),
            params,
        }
    }

    /// An auth-param's value (`name` in lower case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The challenge's `scope` as a list.
    pub fn scopes(&self) -> Vec<String> {
        self.param("scope")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    /// Asserts a Bearer challenge pointing at the resource metadata of `base`,
    /// with `error` (or none, for the bare challenge).
    pub fn assert_bearer(&self, base: &str, error: Option<&str>) {
        assert_eq!(self.scheme, "Bearer", "challenge: {}", self.raw);
        assert_eq!(
            self.param("resource_metadata"),
            Some(prm_url(base).as_str()),
            "challenge: {}",
            self.raw
        );
        assert_eq!(self.param("error"), error, "challenge: {}", self.raw);
        if error.is_some() {
            assert!(
                self.param("error_description")
                    .is_some_and(|d| !d.is_empty()),
                "an error challenge carries error_description: {}",
                self.raw
            );
        } else {
            assert!(
                self.param("error_description").is_none(),
                "a bare challenge carries no error_description: {}",
                self.raw
            );
        }
    }
}

/// The MCP endpoint of a server.
pub fn mcp_url(base: &str) -> String {
    format!("{base}/mcp")
}

/// The RFC 9728 metadata URL of the MCP endpoint (path insertion, so a
/// path-prefixed `base` puts its path after the well-known segment).
pub fn prm_url(base: &str) -> String {
    oauth_mcp_core::discovery::protected_resource_metadata_url(&mcp_url(base))
        .expect("the base URL is an http(s) URL")
}

/// The RFC 8414 metadata URL of the issuer `base` (path insertion).
pub fn as_metadata_url(base: &str) -> String {
    oauth_mcp_core::discovery::authorization_server_metadata_urls(base)
        .expect("the base URL is an http(s) URL")
        .swap_remove(0)
}

/// GET a URL.
pub async fn get(url: &str) -> Reply {
    Reply::read(http().get(url).send().await.expect("GET")).await
}

/// GET a JSON document, asserting 200.
pub async fn get_json(url: &str) -> Value {
    let r = get(url).await;
    assert_eq!(r.status, 200, "GET {url}: {}", r.text);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "GET {url} is not JSON"
    );
    r.json()
}

// ---------------------------------------------------------------- registration

/// A registered client.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The issued `client_id`.
    pub client_id: String,
    /// The issued `client_secret` (confidential clients only).
    pub client_secret: Option<String>,
    /// The one redirect URI the client registered.
    pub redirect_uri: String,
}

/// POST /register with a raw body and content type.
pub async fn register_raw(base: &str, content_type: &str, body: Vec<u8>) -> Reply {
    let r = http()
        .post(format!("{base}/register"))
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("POST /register");
    Reply::read(r).await
}

/// POST /register with JSON client metadata.
pub async fn register(base: &str, metadata: &Value) -> Reply {
    register_raw(
        base,
        "application/json",
        serde_json::to_vec(metadata).expect("json"),
    )
    .await
}

fn registered(r: &Reply, redirect_uri: &str) -> Registered {
    assert_eq!(r.status, 201, "registration failed: {}", r.text);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let v = r.json();
    Registered {
        client_id: v["client_id"].as_str().expect("client_id").to_owned(),
        client_secret: v["client_secret"].as_str().map(str::to_owned),
        redirect_uri: redirect_uri.to_owned(),
    }
}

/// Registers a public client (PKCE only) with one loopback redirect URI.
pub async fn register_public(base: &str) -> Registered {
    let redirect = callback_uri();
    let r = register(
        base,
        &json!({
            "redirect_uris": [redirect],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "e2e public client",
        }),
    )
    .await;
    let c = registered(&r, &redirect);
    assert!(c.client_secret.is_none(), "public clients get no secret");
    c
}

/// Registers a confidential client; `method` is the explicit
/// `token_endpoint_auth_method`, or `None` to omit it.
pub async fn register_confidential(base: &str, method: Option<&str>) -> Registered {
    let redirect = callback_uri();
    let mut meta = json!({
        "redirect_uris": [redirect],
        "client_name": "e2e confidential client",
    });
    if let Some(m) = method {
        meta["token_endpoint_auth_method"] = json!(m);
    }
    let r = register(base, &meta).await;
    let c = registered(&r, &redirect);
    assert!(
        c.client_secret.as_deref().is_some_and(|s| !s.is_empty()),
        "confidential clients get a secret: {}",
        r.text
    );
    c
}

// ---------------------------------------------------------------- authorization

/// The query of an authorization request. `None` fields are left out.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// `response_type` (normally `code`).
    pub response_type: Option<String>,
    /// `client_id` (always sent).
    pub client_id: String,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `code_challenge` (PKCE).
    pub code_challenge: Option<String>,
    /// `code_challenge_method` (normally `S256`).
    pub code_challenge_method: Option<String>,
    /// `state`, echoed in the redirect.
    pub state: Option<String>,
    /// `resource` (RFC 8707).
    pub resource: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `prompt` (OpenID Connect; MCP Inspector sends `consent`).
    pub prompt: Option<String>,
}

impl AuthRequest {
    /// A well-formed request for `client` with `pkce`, a fresh state and no
    /// `resource` or `scope`.
    pub fn new(client: &Registered, pkce: &Pkce) -> Self {
        Self {
            response_type: Some("code".into()),
            client_id: client.client_id.clone(),
            redirect_uri: Some(client.redirect_uri.clone()),
            code_challenge: Some(pkce.challenge.clone()),
            code_challenge_method: Some("S256".into()),
            state: Some(unique("state")),
            resource: None,
            scope: None,
            prompt: None,
        }
    }

    /// Sets `resource`.
    pub fn resource(mut self, r: &str) -> Self {
        self.resource = Some(r.to_owned());
        self
    }

    /// Sets `scope`.
    pub fn scope(mut self, s: &str) -> Self {
        self.scope = Some(s.to_owned());
        self
    }

    /// Sets `redirect_uri`.
    pub fn redirect_uri(mut self, r: &str) -> Self {
        self.redirect_uri = Some(r.to_owned());
        self
    }

    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        let mut push = |k: &'static str, v: &Option<String>| {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        };
        push("response_type", &self.response_type);
        push("client_id", &Some(self.client_id.clone()));
        push("redirect_uri", &self.redirect_uri);
        push("code_challenge", &self.code_challenge);
        push("code_challenge_method", &self.code_challenge_method);
        push("state", &self.state);
        push("resource", &self.resource);
        push("scope", &self.scope);
        push("prompt", &self.prompt);
        q
    }
}

/// The authorization request URL (`{base}/authorize?…`) for `req`.
pub fn authorize_url(base: &str, req: &AuthRequest) -> String {
    let mut url = url::Url::parse(&format!("{base}/authorize")).expect("authorize URL");
    url.query_pairs_mut().extend_pairs(req.query());
    url.into()
}

/// GET /authorize.
pub async fn authorize_get(base: &str, req: &AuthRequest) -> Reply {
    let r = http()
        .get(authorize_url(base, req))
        .send()
        .await
        .expect("GET /authorize");
    Reply::read(r).await
}

/// The hidden `request_id` of a login page.
pub fn request_id(html: &str) -> String {
    let marker = "name=\"request_id\" value=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no request_id field in the page: {html}"))
        + marker.len();
    let len = html[start..].find('"').expect("closing quote");
    html[start..start + len].to_owned()
}

/// POST /authorize: the login form.
pub async fn login_post(
    base: &str,
    request_id: &str,
    username: &str,
    password: &str,
    action: &str,
) -> Reply {
    let r = http()
        .post(format!("{base}/authorize"))
        .form(&[
            ("request_id", request_id),
            ("username", username),
            ("password", password),
            ("action", action),
        ])
        .send()
        .await
        .expect("POST /authorize");
    Reply::read(r).await
}

/// Asserts a login page (status 200 or 401) and returns its request id.
pub fn assert_login_page(r: &Reply, status: u16) -> String {
    assert_eq!(r.status, status, "expected the login page: {}", r.text);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "the login page is HTML"
    );
    assert!(r.header("location").is_none());
    request_id(&r.text)
}

/// Asserts an HTML error page that does not redirect.
pub fn assert_error_page(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "expected an error page: {}", r.text);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "the error page is HTML"
    );
    assert!(
        r.header("location").is_none(),
        "an unsafe request must not redirect: {:?}",
        r.header("location")
    );
    assert!(
        !r.text.contains("name=\"request_id\""),
        "no login form on an error page"
    );
}

/// A redirect back to the client.
#[derive(Debug, Clone)]
pub struct Redirect {
    /// The Location without its query.
    pub target: String,
    /// The query parameters of the Location (each appears once).
    pub params: HashMap<String, String>,
}

impl Redirect {
    /// A query parameter of the Location.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Asserts a 303 and parses its Location.
pub fn redirect_of(r: &Reply) -> Redirect {
    assert_eq!(r.status, 303, "expected a redirect: {}", r.text);
    let loc = r.header("location").expect("Location header");
    let u = url::Url::parse(&loc).unwrap_or_else(|e| panic!("Location `{loc}`: {e}"));
    let mut params = HashMap::new();
    for (k, v) in u.query_pairs() {
        assert!(
            params.insert(k.to_string(), v.to_string()).is_none(),
            "parameter `{k}` repeated in {loc}"
        );
    }
    Redirect {
        target: u[..url::Position::AfterPath].to_owned(),
        params,
    }
}

/// Asserts an error redirect to `redirect_uri` with `error`, the request's
/// `state` and the issuer.
pub fn assert_error_redirect(
    r: &Reply,
    base: &str,
    redirect_uri: &str,
    req: &AuthRequest,
    error: &str,
) {
    let rd = redirect_of(r);
    assert_eq!(rd.target, redirect_uri);
    assert_eq!(rd.param("error"), Some(error), "{:?}", rd.params);
    assert!(rd.param("error_description").is_some());
    assert_eq!(rd.param("state"), req.state.as_deref());
    assert_eq!(rd.param("iss"), Some(base));
    assert!(rd.param("code").is_none(), "no code on an error redirect");
}

/// The whole login: GET the form, POST the demo user's credentials with
/// `approve`, check the redirect and return the code.
pub async fn authorize_as(base: &str, req: &AuthRequest, username: &str, password: &str) -> String {
    let page = authorize_get(base, req).await;
    let id = assert_login_page(&page, 200);
    let r = login_post(base, &id, username, password, "approve").await;
    let rd = redirect_of(&r);
    let expected_target = req
        .redirect_uri
        .as_deref()
        .expect("redirect_uri in request");
    assert_eq!(rd.target, expected_target);
    assert_eq!(rd.param("state"), req.state.as_deref(), "state is echoed");
    assert_eq!(rd.param("iss"), Some(base), "iss is the issuer (RFC 9207)");
    assert!(rd.param("error").is_none(), "{:?}", rd.params);
    rd.param("code").expect("code").to_owned()
}

/// [`authorize_as`] for the demo user.
pub async fn authorize(base: &str, req: &AuthRequest) -> String {
    authorize_as(base, req, USER, PASSWORD).await
}

// ---------------------------------------------------------------- token endpoint

/// POST /token with a form; `basic` sends `Authorization: Basic`.
pub async fn token(base: &str, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
    let mut rb = http().post(format!("{base}/token")).form(form);
    if let Some((id, secret)) = basic {
        rb = rb.basic_auth(id, Some(secret));
    }
    Reply::read(rb.send().await.expect("POST /token")).await
}

/// POST /token with a raw body.
pub async fn token_raw(base: &str, content_type: &str, body: Vec<u8>) -> Reply {
    let r = http()
        .post(format!("{base}/token"))
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("POST /token");
    Reply::read(r).await
}

/// Exchanges a code as a public client. `redirect_uri` and `resource` are sent when given.
pub async fn exchange(
    base: &str,
    client_id: &str,
    code: &str,
    verifier: &str,
    redirect_uri: Option<&str>,
    resource: Option<&str>,
) -> Reply {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("client_id", client_id),
    ];
    if let Some(r) = redirect_uri {
        form.push(("redirect_uri", r));
    }
    if let Some(r) = resource {
        form.push(("resource", r));
    }
    token(base, &form, None).await
}

/// Refreshes as a public client.
pub async fn refresh(
    base: &str,
    client_id: &str,
    refresh_token: &str,
    scope: Option<&str>,
) -> Reply {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    token(base, &form, None).await
}

/// A successful token response.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// `access_token`.
    pub access: String,
    /// `refresh_token`.
    pub refresh: String,
    /// `scope` as granted.
    pub scope: String,
}

/// Asserts a successful token response and returns its tokens.
pub fn tokens_of(r: &Reply) -> Tokens {
    assert_eq!(r.status, 200, "token request failed: {}", r.text);
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("no-store"),
        "token responses carry Cache-Control: no-store"
    );
    assert_eq!(r.header("pragma").as_deref(), Some("no-cache"));
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["expires_in"].as_i64().is_some_and(|e| e > 0));
    Tokens {
        access: v["access_token"].as_str().expect("access_token").to_owned(),
        refresh: v["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
        scope: v["scope"].as_str().expect("scope").to_owned(),
    }
}

/// A client that went through the whole code flow.
#[derive(Debug, Clone)]
pub struct Session {
    /// The registered public client.
    pub client: Registered,
    /// The tokens of its code exchange.
    pub tokens: Tokens,
}

/// Registers a public client and runs the code flow for `username`, asking
/// for `scope` (or the default).
pub async fn session_as(
    base: &str,
    username: &str,
    password: &str,
    scope: Option<&str>,
) -> Session {
    let client = register_public(base).await;
    let pkce = Pkce::new();
    let mut req = AuthRequest::new(&client, &pkce).resource(&mcp_url(base));
    if let Some(s) = scope {
        req = req.scope(s);
    }
    let code = authorize_as(base, &req, username, password).await;
    let r = exchange(
        base,
        &client.client_id,
        &code,
        &pkce.verifier,
        Some(&client.redirect_uri),
        Some(&mcp_url(base)),
    )
    .await;
    Session {
        client,
        tokens: tokens_of(&r),
    }
}

/// [`session_as`] for the demo user.
pub async fn session(base: &str, scope: Option<&str>) -> Session {
    session_as(base, USER, PASSWORD, scope).await
}

/// The decoded JOSE header and claims of a JWT (no signature check).
pub fn jwt_parts(jwt: &str) -> (Value, Value) {
    let mut it = jwt.split('.');
    let mut part = || -> Value {
        let seg = it.next().expect("JWT segment");
        let raw = URL_SAFE_NO_PAD.decode(seg).expect("base64url JWT segment");
        serde_json::from_slice(&raw).expect("JSON JWT segment")
    };
    let header = part();
    let claims = part();
    (header, claims)
}

// ---------------------------------------------------------------- MCP

/// An MCP HTTP response: the status, headers, and the first JSON-RPC message
/// of an SSE stream (or the JSON body).
#[derive(Debug, Clone)]
pub struct McpReply {
    /// Status and headers; `text` holds the SSE text read (or the JSON body).
    pub reply: Reply,
    /// The first JSON-RPC message, if any could be parsed.
    pub message: Option<Value>,
}

impl McpReply {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.reply.status
    }

    /// The JSON-RPC `result` (panics on a JSON-RPC error or a non-200).
    pub fn result(&self) -> Value {
        assert_eq!(
            self.reply.status, 200,
            "MCP call failed: {}",
            self.reply.text
        );
        let m = self
            .message
            .as_ref()
            .unwrap_or_else(|| panic!("no JSON-RPC message in the reply: {:?}", self.reply.text));
        assert!(m.get("error").is_none(), "JSON-RPC error: {m}");
        m["result"].clone()
    }
}

/// The first `data:` JSON message in SSE text, considering complete lines only.
fn first_sse_message(buf: &str) -> Option<Value> {
    let complete = &buf[..buf.rfind('\n')? + 1];
    complete.lines().find_map(|line| {
        let d = line.strip_prefix("data:")?.trim();
        if d.is_empty() {
            return None;
        }
        serde_json::from_str(d).ok()
    })
}

/// POSTs one JSON-RPC message to `url` (normally the MCP endpoint).
pub async fn mcp_post_to(url: &str, token: Option<&str>, body: &Value) -> McpReply {
    let mut rb = http()
        .post(url)
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header(header::CONTENT_TYPE, "application/json")
        .header("MCP-Protocol-Version", MCP_PROTOCOL_VERSION)
        .body(serde_json::to_vec(body).expect("json"));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let mut resp = rb.send().await.expect("POST /mcp");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let is_sse =
        header_str(&headers, "content-type").is_some_and(|c| c.starts_with("text/event-stream"));
    if !is_sse {
        let reply = Reply::read(resp).await;
        let message = serde_json::from_str(&reply.text).ok();
        return McpReply { reply, message };
    }
    // SSE: read until the first complete `data:` message (bounded in time and chunks).
    let read = async {
        let mut buf = String::new();
        for _ in 0..MAX_SSE_CHUNKS {
            if let Some(m) = first_sse_message(&buf) {
                return (buf, Some(m));
            }
            match resp.chunk().await.expect("SSE chunk") {
                Some(c) => buf.push_str(&String::from_utf8_lossy(&c)),
                None => break,
            }
        }
        let m = first_sse_message(&format!("{buf}\n"));
        (buf, m)
    };
    let (text, message) = tokio::time::timeout(MCP_READ_LIMIT, read)
        .await
        .expect("the MCP server answered within the time limit");
    McpReply {
        reply: Reply {
            status,
            headers,
            text,
        },
        message,
    }
}

/// POSTs one JSON-RPC message to the MCP endpoint of `base`.
pub async fn mcp_post(base: &str, token: Option<&str>, body: &Value) -> McpReply {
    mcp_post_to(&mcp_url(base), token, body).await
}

/// The `initialize` request.
pub fn initialize_request(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "initialize",
        "params": {
            "protocolVersion": MCP_PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "oauth-mcp e2e battery", "version": "0.0.0"},
        },
    })
}

/// A JSON-RPC request.
pub fn rpc(id: u64, method: &str, params: &Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// A `tools/call` request.
pub fn tool_call(id: u64, name: &str, arguments: &Value) -> Value {
    rpc(
        id,
        "tools/call",
        &json!({"name": name, "arguments": arguments}),
    )
}

/// Calls `whoami` and returns its decoded JSON answer.
pub async fn whoami(base: &str, token: &str) -> Value {
    let r = mcp_post(base, Some(token), &tool_call(7, "whoami", &json!({}))).await;
    let result = r.result();
    assert_ne!(result["isError"], json!(true), "whoami failed: {result}");
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("whoami content: {result}"));
    serde_json::from_str(text).expect("whoami returns JSON text")
}

/// Asserts that `token` is refused at the MCP endpoint with 401 `invalid_token`;
/// returns the challenge's `error_description`.
pub async fn assert_token_refused(base: &str, token: &str) -> String {
    let r = mcp_post(base, Some(token), &tool_call(8, "whoami", &json!({}))).await;
    assert_eq!(r.status(), 401, "token should be refused: {}", r.reply.text);
    let ch = r.reply.challenge();
    ch.assert_bearer(base, Some("invalid_token"));
    assert_eq!(r.reply.error(), "invalid_token");
    ch.param("error_description").unwrap_or_default().to_owned()
}
