//! A real, widely used authorization server for integration tests: panva's
//! certified [`oidc-provider`](https://github.com/panva/node-oidc-provider)
//! (pinned in `interop/oidc-provider/package.json`), run by
//! `interop/oidc-provider/server.mjs` on loopback.
//!
//! [`OidcProvider::start`] installs `node_modules` with `npm ci` when needed,
//! starts `node server.mjs` and waits for it to listen. The provider then
//! issues, for the confidential client [`JWT_CLIENT`]:
//!
//! * with `resource=<RESOURCE>` (RFC 8707): an RFC 9068 JWT access token
//!   (header `typ: at+jwt`, `alg: ES256`, `kid`) with the claims `iss`, `aud`
//!   (the resource), `sub` (the client id for `client_credentials`, the user
//!   for `authorization_code`), `client_id`, `scope` (space-separated), `jti`,
//!   `iat`, `exp`;
//! * without `resource`: an opaque token with no audience.
//!
//! [`OPAQUE_CLIENT`] gets opaque tokens for the same resources (with `aud`
//! in their introspection), and [`INTROSPECTION_CLIENT`] (a client with no
//! grants, like a resource server's credentials) may introspect any token at
//! `/token/introspection` (RFC 7662; JWTs are refused there with
//! `unsupported_token_type`). Signing keys are deterministic EC P-256 keys
//! named by a key id (the JWK `kid`), so [`OidcProvider::restart_with_key`]
//! simulates a key rotation. State (opaque tokens, grants) lives in memory
//! and is lost on restart.
//!
//! Needs Node.js (>= 20.19) and npm on `PATH`; starting panics (failing the
//! test) when they are missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::oneshot;

use crate::client::{Pkce, http};
use crate::node::{ensure_node_deps, interop_dir};

/// How long the provider may take to print its ready line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a killed provider may take to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any single HTTP request to the provider may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts to bind the same port again on restart (the old socket may linger).
const RESTART_ATTEMPTS: u32 = 20;
/// The most redirects the headless authorization flow follows.
const MAX_REDIRECTS: usize = 10;
const PACKAGE: &str = "oidc-provider";

/// A confidential client of the provider (`client_secret_basic` or
/// `client_secret_post`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The `client_id`.
    pub id: &'static str,
    /// The `client_secret`.
    pub secret: &'static str,
}

/// Gets JWT access tokens for a `resource` (grants `client_credentials`,
/// `authorization_code`, `refresh_token`; scopes `mcp admin`).
pub const JWT_CLIENT: ClientCredentials = ClientCredentials {
    id: "mcp-rs",
    secret: "mcp-rs-secret",
};

/// Gets opaque access tokens, also for a `resource` (grant
/// `client_credentials`; scopes `mcp admin`).
pub const OPAQUE_CLIENT: ClientCredentials = ClientCredentials {
    id: "mcp-rs-opaque",
    secret: "mcp-rs-opaque-secret",
};

/// No grants: the credentials a resource server introspects tokens with.
pub const INTROSPECTION_CLIENT: ClientCredentials = ClientCredentials {
    id: "mcp-resource-server",
    secret: "mcp-resource-server-secret",
};

/// The user an `authorization_code` request is approved for (headlessly).
pub const DEMO_USER: &str = "demo-user";

/// The redirect URI registered for [`JWT_CLIENT`] (nothing listens there).
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// The default [`OidcOptions::resource`].
pub const DEFAULT_RESOURCE: &str = "http://127.0.0.1:5555/mcp";

/// The default [`OidcOptions::resource_other`].
pub const DEFAULT_RESOURCE_OTHER: &str = "http://127.0.0.1:5556/other";

/// How to start the provider.
#[derive(Debug, Clone)]
pub struct OidcOptions {
    /// Port on 127.0.0.1; 0 (the default) picks a free one.
    pub port: u16,
    /// The MCP server's resource URL: tokens requested with it carry it as `aud`.
    pub resource: String,
    /// A second resource server tokens can be requested for.
    pub resource_other: String,
    /// The signing key's id (and `kid`): a deterministic EC P-256 key derived
    /// from it, so the same id always gives the same key.
    pub key_id: String,
    /// Further key ids published in the JWKS (not signing), e.g. the key
    /// rotated out, for a rotation with overlap.
    pub extra_key_ids: Vec<String>,
    /// A private JWKS (JSON) file to use instead of `key_id`; its first
    /// signing key signs.
    pub jwks_file: Option<PathBuf>,
    /// Access token lifetime in seconds.
    pub access_token_ttl: u64,
    /// The redirect URIs of the upstream-login clients (see
    /// [`crate::upstream_idp`]); empty: the server's default.
    pub upstream_redirect_uris: Vec<String>,
    /// Real HTML login and consent forms instead of headless approval of
    /// every request for [`DEMO_USER`] (see [`crate::upstream_idp`]).
    pub forms: bool,
}

impl Default for OidcOptions {
    fn default() -> Self {
        Self {
            port: 0,
            resource: DEFAULT_RESOURCE.to_owned(),
            resource_other: DEFAULT_RESOURCE_OTHER.to_owned(),
            key_id: "key-1".to_owned(),
            extra_key_ids: Vec::new(),
            jwks_file: None,
            access_token_ttl: 3600,
            upstream_redirect_uris: Vec::new(),
            forms: false,
        }
    }
}

impl OidcOptions {
    /// The defaults with `resource` as the MCP server's resource URL.
    pub fn for_resource(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            ..Self::default()
        }
    }
}

/// A running `oidc-provider` on loopback; stopped when dropped.
pub struct OidcProvider {
    opts: OidcOptions,
    issuer: String,
    port: u16,
    process: Option<Process>,
}

/// The node process and what keeps it alive.
struct Process {
    child: Child,
    /// Held open: the server exits when it closes (the test process died).
    _stdin: Option<ChildStdin>,
    /// Everything the server printed (but the ready line).
    log: Arc<Mutex<String>>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.issuer)
            .field("port", &self.port)
            .field("key_id", &self.opts.key_id)
            .finish_non_exhaustive()
    }
}

fn append(log: &Mutex<String>, line: &str) {
    if let Ok(mut log) = log.lock() {
        log.push_str(line);
        log.push('\n');
    }
}

fn log_text(log: &Mutex<String>) -> String {
    log.lock().map(|l| l.clone()).unwrap_or_default()
}

/// Why a start attempt failed.
enum StartError {
    /// The port was still taken (worth retrying on restart).
    PortInUse(String),
    /// Anything else.
    Other(String),
}

/// Spawns `node server.mjs` with `opts` and waits (bounded) for its ready
/// line `READY <issuer> <port>`.
async fn spawn(dir: &Path, opts: &OidcOptions) -> Result<(Process, String, u16), StartError> {
    let mut keys = vec![opts.key_id.clone()];
    keys.extend(opts.extra_key_ids.iter().cloned());
    let mut cmd = Command::new("node");
    cmd.arg("server.mjs")
        .current_dir(dir)
        .env("PORT", opts.port.to_string())
        .env("RESOURCE", &opts.resource)
        .env("RESOURCE_OTHER", &opts.resource_other)
        .env("KEY_ID", keys.join(","))
        .env("ACCESS_TOKEN_TTL", opts.access_token_ttl.to_string())
        .env(
            "UPSTREAM_REDIRECT_URIS",
            opts.upstream_redirect_uris.join(","),
        )
        .env(
            "INTERACTIONS",
            if opts.forms { "forms" } else { "headless" },
        )
        .env("EXIT_ON_STDIN_CLOSE", "1")
        .env_remove("ISSUER")
        .env_remove("JWKS_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(file) = &opts.jwks_file {
        cmd.env("JWKS_FILE", file);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            panic!("`node` is not installed (or not on PATH): install Node.js >= 20.19 with npm (e.g. `apt-get install nodejs npm`)")
        }
        panic!("cannot start `node server.mjs`: {e}")
    });

    let log = Arc::new(Mutex::new(String::new()));
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let (ready_tx, ready_rx) = oneshot::channel::<String>();
    {
        let log = Arc::clone(&log);
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut lines = BufReader::new(stdout).lines();
            // Keeps draining after the ready line so the server never blocks.
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("READY ")
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(line);
                } else {
                    append(&log, &line);
                }
            }
        });
    }
    {
        let log = Arc::clone(&log);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                append(&log, &line);
            }
        });
    }

    let stdin = child.stdin.take();
    let line = match tokio::time::timeout(START_TIMEOUT, ready_rx).await {
        Ok(Ok(line)) => line,
        outcome => {
            // Exited (stdout closed) or timed out: make sure it is gone.
            let _ = child.start_kill();
            let status = tokio::time::timeout(STOP_TIMEOUT, child.wait()).await;
            // Let the stderr reader catch up.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let text = log_text(&log);
            let why = if outcome.is_err() {
                format!("no ready line within {START_TIMEOUT:?}")
            } else {
                format!("exited early ({status:?})")
            };
            let msg = format!("oidc-provider ({}): {why}\n{text}", dir.display());
            return Err(if text.contains("EADDRINUSE") {
                StartError::PortInUse(msg)
            } else {
                StartError::Other(msg)
            });
        }
    };
    let mut parts = line.split_whitespace().skip(1);
    let issuer = parts.next().map(str::to_owned);
    let port = parts.next().and_then(|p| p.parse::<u16>().ok());
    let (Some(issuer), Some(port)) = (issuer, port) else {
        let _ = child.start_kill();
        return Err(StartError::Other(format!(
            "oidc-provider: malformed ready line `{line}`"
        )));
    };
    Ok((
        Process {
            child,
            _stdin: stdin,
            log,
        },
        issuer,
        port,
    ))
}

/// Splits a JWT into its decoded header and payload (no verification).
pub fn decode_jwt(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let mut next = |what: &str| -> Value {
        let seg = parts
            .next()
            .unwrap_or_else(|| panic!("JWT without a {what}: {jwt}"));
        let raw = URL_SAFE_NO_PAD
            .decode(seg)
            .unwrap_or_else(|e| panic!("JWT {what} is not base64url ({e}): {jwt}"));
        serde_json::from_slice(&raw)
            .unwrap_or_else(|e| panic!("JWT {what} is not JSON ({e}): {jwt}"))
    };
    let header = next("header");
    let payload = next("payload");
    (header, payload)
}

/// The value of the cookie pairs (`name=value`) in `Set-Cookie` headers.
fn set_cookies(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

impl OidcProvider {
    /// Starts the provider (after `npm ci` in `interop/oidc-provider` if
    /// needed) and waits, bounded, until it listens. Panics on failure, with
    /// the provider's output.
    pub async fn start(opts: OidcOptions) -> OidcProvider {
        let dir = interop_dir("oidc-provider");
        ensure_node_deps(&dir, PACKAGE).await;
        match spawn(&dir, &opts).await {
            Ok((process, issuer, port)) => OidcProvider {
                opts,
                issuer,
                port,
                process: Some(process),
            },
            Err(StartError::PortInUse(msg) | StartError::Other(msg)) => panic!("{msg}"),
        }
    }

    /// Starts the provider with [`OidcOptions::default`].
    pub async fn start_default() -> OidcProvider {
        Self::start(OidcOptions::default()).await
    }

    /// The issuer identifier, `http://127.0.0.1:<port>`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The port on 127.0.0.1 the provider listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The options the provider runs with (`port` is the actual one after a
    /// restart).
    pub fn options(&self) -> &OidcOptions {
        &self.opts
    }

    /// The MCP server's resource URL ([`OidcOptions::resource`]).
    pub fn resource(&self) -> &str {
        &self.opts.resource
    }

    /// The second resource URL ([`OidcOptions::resource_other`]).
    pub fn resource_other(&self) -> &str {
        &self.opts.resource_other
    }

    /// The id (`kid`) of the key that signs now.
    pub fn key_id(&self) -> &str {
        &self.opts.key_id
    }

    /// The OpenID discovery document URL (`/.well-known/openid-configuration`).
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// The RFC 8414 metadata URL (`/.well-known/oauth-authorization-server`),
    /// served with the same document.
    pub fn oauth_metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-authorization-server", self.issuer)
    }

    /// The token endpoint (`/token`).
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// The RFC 7662 introspection endpoint (`/token/introspection`).
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/token/introspection", self.issuer)
    }

    /// The RFC 7009 revocation endpoint (`/token/revocation`).
    pub fn revocation_endpoint(&self) -> String {
        format!("{}/token/revocation", self.issuer)
    }

    /// The JWKS URL (`/jwks`).
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// Everything the provider printed so far (but its ready line).
    pub fn log(&self) -> String {
        self.process
            .as_ref()
            .map(|p| log_text(&p.log))
            .unwrap_or_default()
    }

    async fn get_json(&self, url: &str) -> Value {
        let r = http()
            .get(url)
            .timeout(HTTP_TIMEOUT)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.log()));
        let status = r.status();
        let text = r.text().await.expect("body");
        assert!(status.is_success(), "GET {url}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {text}"))
    }

    /// Fetches the discovery document.
    pub async fn discovery(&self) -> Value {
        self.get_json(&self.discovery_url()).await
    }

    /// Fetches the public JWKS.
    pub async fn jwks(&self) -> Value {
        self.get_json(&self.jwks_uri()).await
    }

    /// POSTs `form` to `url` with HTTP Basic client authentication; returns
    /// the status and the JSON body.
    async fn post_form(
        &self,
        url: &str,
        client: ClientCredentials,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let r = http()
            .post(url)
            .timeout(HTTP_TIMEOUT)
            .basic_auth(client.id, Some(client.secret))
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}\n{}", self.log()));
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("POST {url}: {status}, not JSON ({e}): {text}"))
        };
        (status, json)
    }

    /// POSTs `form` to the token endpoint as `client` (Basic auth); returns
    /// the status and the JSON body, success or error.
    pub async fn token_request(
        &self,
        client: ClientCredentials,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        self.post_form(&self.token_endpoint(), client, form).await
    }

    /// A `client_credentials` grant for `client`; panics unless it succeeds.
    /// Returns the whole token response.
    pub async fn client_credentials_response(
        &self,
        client: ClientCredentials,
        resource: Option<&str>,
        scope: &str,
    ) -> Value {
        let mut form = vec![("grant_type", "client_credentials"), ("scope", scope)];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        let (status, body) = self.token_request(client, &form).await;
        assert_eq!(
            status, 200,
            "client_credentials ({resource:?}, {scope:?}): {body}"
        );
        assert!(body["access_token"].is_string(), "{body}");
        body
    }

    /// An access token from a `client_credentials` grant of [`JWT_CLIENT`]
    /// (Basic auth): a JWT whose `aud` is `resource` when one is given
    /// (it must be [`resource`](Self::resource) or
    /// [`resource_other`](Self::resource_other)), an opaque token without
    /// audience otherwise. Panics unless the request succeeds.
    pub async fn client_credentials_token(&self, resource: Option<&str>, scope: &str) -> String {
        let body = self
            .client_credentials_response(JWT_CLIENT, resource, scope)
            .await;
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// An opaque access token from a `client_credentials` grant of
    /// [`OPAQUE_CLIENT`], bound to `resource` (its introspection has `aud`).
    pub async fn opaque_token(&self, resource: Option<&str>, scope: &str) -> String {
        let body = self
            .client_credentials_response(OPAQUE_CLIENT, resource, scope)
            .await;
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// RFC 7662 introspection of `token` as [`INTROSPECTION_CLIENT`]; returns
    /// the response (`{"active": false}` for an unknown, expired or revoked
    /// token). Panics unless the status is 200 (JWTs get 400
    /// `unsupported_token_type`: use [`introspect_as`](Self::introspect_as)).
    pub async fn introspect(&self, token: &str) -> Value {
        let (status, body) = self.introspect_as(INTROSPECTION_CLIENT, token).await;
        assert_eq!(status, 200, "introspection: {body}");
        body
    }

    /// RFC 7662 introspection of `token` as `client`: the status and body.
    pub async fn introspect_as(&self, client: ClientCredentials, token: &str) -> (u16, Value) {
        self.post_form(&self.introspection_endpoint(), client, &[("token", token)])
            .await
    }

    /// RFC 7009 revocation of `token` by the client it was issued to.
    /// Panics unless the provider answers 200.
    pub async fn revoke(&self, client: ClientCredentials, token: &str) {
        let (status, body) = self
            .post_form(&self.revocation_endpoint(), client, &[("token", token)])
            .await;
        assert_eq!(status, 200, "revocation: {body}");
    }

    /// A full `authorization_code` flow of [`JWT_CLIENT`] with PKCE (S256),
    /// approved headlessly for [`DEMO_USER`]: `/auth` → the provider's login
    /// and consent interactions → the code at [`REDIRECT_URI`] → `/token`.
    /// Returns the token response (`access_token` a JWT for `resource`, or
    /// opaque without one; `refresh_token`).
    pub async fn authorization_code_tokens(&self, resource: Option<&str>, scope: &str) -> Value {
        let pkce = Pkce::new();
        let state = crate::client::unique("oidc-state");
        let mut url = url::Url::parse(&format!("{}/auth", self.issuer)).expect("auth URL");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", JWT_CLIENT.id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", REDIRECT_URI)
                .append_pair("scope", scope)
                .append_pair("state", &state)
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(resource) = resource {
                q.append_pair("resource", resource);
            }
        }
        let mut next = url.to_string();
        // A minimal cookie jar: the flows are sequential, so the newest
        // value of each cookie is the one to send (paths are ignored).
        let mut jar: Vec<(String, String)> = Vec::new();
        let mut code = None;
        for _ in 0..MAX_REDIRECTS {
            let cookie = jar
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let mut req = http().get(&next).timeout(HTTP_TIMEOUT);
            if !cookie.is_empty() {
                req = req.header(reqwest::header::COOKIE, cookie);
            }
            let r = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {next}: {e}\n{}", self.log()));
            for (name, value) in set_cookies(r.headers()) {
                jar.retain(|(n, _)| *n != name);
                jar.push((name, value));
            }
            let status = r.status();
            let location = r
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned);
            let Some(location) = location.filter(|_| status.is_redirection()) else {
                let text = r.text().await.unwrap_or_default();
                panic!(
                    "GET {next}: {status} without a redirect: {text}\n{}",
                    self.log()
                );
            };
            let target = url::Url::parse(&next)
                .and_then(|base| base.join(&location))
                .unwrap_or_else(|e| panic!("bad Location `{location}`: {e}"));
            if target.as_str().starts_with(REDIRECT_URI) {
                let params: std::collections::HashMap<String, String> =
                    target.query_pairs().into_owned().collect();
                assert_eq!(params.get("state"), Some(&state), "{target}");
                assert_eq!(
                    params.get("iss").map(String::as_str),
                    Some(self.issuer()),
                    "{target}"
                );
                code = Some(
                    params
                        .get("code")
                        .unwrap_or_else(|| panic!("no code in the redirect: {target}"))
                        .clone(),
                );
                break;
            }
            next = target.to_string();
        }
        let code = code.unwrap_or_else(|| panic!("no code after {MAX_REDIRECTS} redirects"));
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", pkce.verifier.as_str()),
        ];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        let (status, body) = self.token_request(JWT_CLIENT, &form).await;
        assert_eq!(status, 200, "authorization_code: {body}");
        body
    }

    /// Stops the provider (kill, then wait for it to exit, bounded).
    pub async fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.child.start_kill();
            let waited = tokio::time::timeout(STOP_TIMEOUT, process.child.wait()).await;
            assert!(
                waited.is_ok(),
                "oidc-provider did not exit within {STOP_TIMEOUT:?} after kill"
            );
        }
    }

    /// Stops the provider and starts it again on the same port (so the same
    /// issuer) signing with the key `key_id` only: a hard key rotation. The
    /// in-memory state (opaque tokens, grants) is lost.
    pub async fn restart_with_key(&mut self, key_id: &str) {
        self.restart_with_keys(key_id, &[]).await;
    }

    /// Like [`restart_with_key`](Self::restart_with_key), but also publishing
    /// the keys `also_published` in the JWKS (a rotation with overlap: new
    /// tokens carry `key_id`, tokens signed with the old keys still verify).
    pub async fn restart_with_keys(&mut self, key_id: &str, also_published: &[&str]) {
        self.stop().await;
        self.opts.port = self.port;
        self.opts.key_id = key_id.to_owned();
        self.opts.extra_key_ids = also_published.iter().map(|k| (*k).to_owned()).collect();
        let dir = interop_dir("oidc-provider");
        let mut attempt = 0;
        loop {
            attempt += 1;
            match spawn(&dir, &self.opts).await {
                Ok((process, issuer, port)) => {
                    assert_eq!(port, self.port, "restarted on another port");
                    self.issuer = issuer;
                    self.process = Some(process);
                    return;
                }
                Err(StartError::PortInUse(msg)) if attempt < RESTART_ATTEMPTS => {
                    eprintln!(
                        "oidc-provider: port {} still in use, retrying: {msg}",
                        self.port
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(StartError::PortInUse(msg) | StartError::Other(msg)) => panic!("{msg}"),
            }
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        if let Some(process) = self.process.as_mut() {
            // kill_on_drop would too; this is explicit. Tokio reaps it.
            let _ = process.child.start_kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kids(jwks: &Value) -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap_or_else(|| panic!("JWKS without keys: {jwks}"))
            .iter()
            .filter_map(|k| k["kid"].as_str().map(str::to_owned))
            .collect()
    }

    fn assert_jwt(
        op: &OidcProvider,
        token: &str,
        aud: &str,
        sub: &str,
        scope: &str,
    ) -> (Value, Value) {
        let (header, claims) = decode_jwt(token);
        assert_eq!(header["typ"], "at+jwt", "{header}");
        assert_eq!(header["alg"], "ES256", "{header}");
        assert_eq!(header["kid"], op.key_id(), "{header}");
        assert_eq!(claims["iss"], op.issuer(), "{claims}");
        assert_eq!(claims["aud"], aud, "{claims}");
        assert_eq!(claims["sub"], sub, "{claims}");
        assert_eq!(claims["client_id"], JWT_CLIENT.id, "{claims}");
        assert_eq!(claims["scope"], scope, "{claims}");
        assert!(claims["jti"].is_string(), "{claims}");
        let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
        assert!(iat.zip(exp).is_some_and(|(i, e)| e - i == 3600), "{claims}");
        (header, claims)
    }

    #[tokio::test]
    async fn oidc_provider_interop() {
        let mcp = "http://127.0.0.1:5555/mcp";
        let mut op = OidcProvider::start(OidcOptions {
            key_id: "rotation-a".to_owned(),
            ..OidcOptions::for_resource(mcp)
        })
        .await;
        let issuer = op.issuer().to_owned();
        assert_eq!(issuer, format!("http://127.0.0.1:{}", op.port()));

        // Discovery, under both well-known names.
        let disco = op.discovery().await;
        assert_eq!(disco["issuer"], issuer, "{disco}");
        assert_eq!(disco["token_endpoint"], op.token_endpoint(), "{disco}");
        assert_eq!(disco["jwks_uri"], op.jwks_uri(), "{disco}");
        assert_eq!(
            disco["introspection_endpoint"],
            op.introspection_endpoint(),
            "{disco}"
        );
        assert_eq!(
            disco["revocation_endpoint"],
            op.revocation_endpoint(),
            "{disco}"
        );
        let as_meta = op.get_json(&op.oauth_metadata_url()).await;
        assert_eq!(as_meta, disco);

        // A JWT for the MCP resource.
        let token = op.client_credentials_token(Some(mcp), "mcp admin").await;
        let (header, claims) = assert_jwt(&op, &token, mcp, JWT_CLIENT.id, "mcp admin");
        eprintln!("JWT header {header}\nJWT claims {claims}");
        let jwks_uri = disco["jwks_uri"].as_str().expect("jwks_uri");
        let jwks = op.get_json(jwks_uri).await;
        assert_eq!(kids(&jwks), ["rotation-a"]);
        let jwk = &jwks["keys"][0];
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert!(jwk.get("d").is_none(), "private part published: {jwk}");

        // Scopes narrow to what was asked; another resource gives another aud.
        let other = op
            .client_credentials_token(Some(op.resource_other()), "mcp")
            .await;
        assert_jwt(&op, &other, op.resource_other(), JWT_CLIENT.id, "mcp");

        // Unknown resources and wrong secrets are refused.
        let (status, body) = op
            .token_request(
                JWT_CLIENT,
                &[
                    ("grant_type", "client_credentials"),
                    ("scope", "mcp"),
                    ("resource", "http://127.0.0.1:9/elsewhere"),
                ],
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target"))
        );
        let wrong = ClientCredentials {
            id: JWT_CLIENT.id,
            secret: "wrong",
        };
        let (status, body) = op
            .token_request(wrong, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );

        // JWTs cannot be introspected at oidc-provider.
        let (status, body) = op.introspect_as(INTROSPECTION_CLIENT, &token).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unsupported_token_type")),
            "{body}"
        );

        // Opaque tokens: bound to the resource (opaque client) or without one.
        let opaque = op.opaque_token(Some(mcp), "mcp").await;
        assert_eq!(opaque.split('.').count(), 1, "{opaque}");
        let intro = op.introspect(&opaque).await;
        eprintln!("introspection {intro}");
        assert_eq!(intro["active"], true, "{intro}");
        assert_eq!(intro["aud"], mcp, "{intro}");
        assert_eq!(intro["iss"], issuer, "{intro}");
        assert_eq!(intro["client_id"], OPAQUE_CLIENT.id, "{intro}");
        assert_eq!(intro["scope"], "mcp", "{intro}");
        assert_eq!(intro["token_type"], "Bearer", "{intro}");
        assert!(intro["exp"].is_i64() && intro["iat"].is_i64(), "{intro}");
        let no_aud = op.client_credentials_token(None, "mcp admin").await;
        assert_eq!(no_aud.split('.').count(), 1, "{no_aud}");
        let intro = op.introspect(&no_aud).await;
        assert_eq!(intro["active"], true, "{intro}");
        assert!(intro.get("aud").is_none(), "{intro}");
        assert_eq!(intro["client_id"], JWT_CLIENT.id, "{intro}");
        // The introspecting client may be the token's own client too.
        let (status, own) = op.introspect_as(OPAQUE_CLIENT, &opaque).await;
        assert_eq!((status, &own["active"]), (200, &json!(true)), "{own}");
        // Revoked and unknown tokens are inactive.
        op.revoke(OPAQUE_CLIENT, &opaque).await;
        assert_eq!(op.introspect(&opaque).await, json!({"active": false}));
        assert_eq!(
            op.introspect("no-such-token").await,
            json!({"active": false})
        );

        // A user token through the authorization_code flow.
        let tokens = op.authorization_code_tokens(Some(mcp), "mcp").await;
        let user_jwt = tokens["access_token"].as_str().expect("access_token");
        assert_jwt(&op, user_jwt, mcp, DEMO_USER, "mcp");
        assert!(tokens["refresh_token"].is_string(), "{tokens}");
        let refresh = tokens["refresh_token"].as_str().expect("refresh_token");
        let (status, refreshed) = op
            .token_request(
                JWT_CLIENT,
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )
            .await;
        assert_eq!(status, 200, "{refreshed}");
        let again = refreshed["access_token"].as_str().expect("access_token");
        assert_jwt(&op, again, mcp, DEMO_USER, "mcp");

        // Rotation: same port and issuer, another signing key.
        let port = op.port();
        op.restart_with_key("rotation-b").await;
        assert_eq!((op.port(), op.issuer()), (port, issuer.as_str()));
        let rotated = op.client_credentials_token(Some(mcp), "mcp").await;
        let (header, _) = assert_jwt(&op, &rotated, mcp, JWT_CLIENT.id, "mcp");
        assert_eq!(header["kid"], "rotation-b");
        assert_ne!(header["kid"], decode_jwt(&token).0["kid"]);
        assert_eq!(kids(&op.jwks().await), ["rotation-b"]);
        // The in-memory state is gone with the old process.
        assert_eq!(op.introspect(&no_aud).await["active"], false);

        // Rotation with overlap; and back to the first key: the same key again.
        op.restart_with_keys("rotation-c", &["rotation-b"]).await;
        assert_eq!(kids(&op.jwks().await), ["rotation-c", "rotation-b"]);
        let overlap = op.client_credentials_token(Some(mcp), "mcp").await;
        assert_eq!(decode_jwt(&overlap).0["kid"], "rotation-c");
        op.restart_with_key("rotation-a").await;
        let back = op.jwks().await;
        assert_eq!(back["keys"][0], *jwk, "keys are deterministic per id");

        op.stop().await;
        assert!(
            http().get(op.discovery_url()).send().await.is_err(),
            "still listening after stop"
        );
    }
}
