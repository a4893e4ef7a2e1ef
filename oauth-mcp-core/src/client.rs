//! OAuth clients: the registered record, RFC 7591 registration rules and
//! redirect-URI matching (exact, plus the RFC 8252 loopback-port rule).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{ErrorCode, OAuthError};
use crate::net::is_loopback;
use crate::scope::ScopeSet;

/// How a client authenticates at the token endpoint.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// Public client: no secret; PKCE protects the code.
    None,
    /// HTTP Basic with client id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl TokenEndpointAuthMethod {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    /// Parses a method name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }
}

/// A client as the authorization server stores it. The secret is kept only
/// as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The client identifier.
    pub client_id: String,
    /// base64url(SHA-256(secret)) for confidential clients.
    pub secret_hash: Option<String>,
    /// Registered redirect URIs, verbatim.
    pub redirect_uris: Vec<String>,
    /// How the client authenticates at the token endpoint.
    pub auth_method: TokenEndpointAuthMethod,
    /// True if the client registered `token_endpoint_auth_method` explicitly;
    /// then only that method is accepted. Otherwise a confidential client may
    /// use either `client_secret_basic` or `client_secret_post`.
    pub auth_method_explicit: bool,
    /// Human-readable name shown on the consent page.
    pub client_name: Option<String>,
    /// Scopes the client registered for (informational; user policy decides).
    pub scope: Option<ScopeSet>,
    /// Grant types the client may use.
    pub grant_types: Vec<String>,
    /// Trusted clients skip the consent step (operators set this).
    pub trusted: bool,
    /// Inactive clients are refused everywhere.
    pub active: bool,
    /// Unix time of registration.
    pub created_at: i64,
    /// Unix time after which the client registration expires, if any.
    pub expires_at: Option<i64>,
    /// The registration metadata as sent, for the registration response.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Client {
    /// True for confidential clients (they hold a secret).
    pub fn is_confidential(&self) -> bool {
        self.auth_method != TokenEndpointAuthMethod::None
    }

    /// The name to show a person: the registered name, else the id.
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().unwrap_or(&self.client_id)
    }

    /// True if the client may use `grant_type`.
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Finds the registered redirect URI that `requested` matches: exact
    /// string equality, or for an `http` loopback IP literal the same URI on
    /// any port (RFC 8252 §7.3). `localhost` gets the port rule too, but only
    /// when registered as `localhost` (host literals must match).
    pub fn match_redirect_uri(&self, requested: &str) -> Option<&str> {
        self.redirect_uris
            .iter()
            .find(|r| redirect_uri_matches(r, requested))
            .map(String::as_str)
    }
}

/// True if `requested` may be used where `registered` was registered.
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    reg.scheme() == "http"
        && req.scheme() == "http"
        && is_loopback(&reg)
        && reg.host_str() == req.host_str()
        && reg.path() == req.path()
        && reg.query() == req.query()
        && reg.username() == req.username()
        && reg.password().is_none()
        && req.password().is_none()
        && req.fragment().is_none()
}

/// True if every redirect URI of the list is on loopback (the consent page
/// then warns that any local program could receive the code).
pub fn all_loopback(uris: &[String]) -> bool {
    !uris.is_empty()
        && uris
            .iter()
            .all(|u| Url::parse(u).is_ok_and(|u| is_loopback(&u)))
}

/// Schemes a redirect URI may never use.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "vbscript",
    "about",
    "blob",
    "filesystem",
    "view-source",
    "chrome",
    "ws",
    "wss",
    "ftp",
];

/// Checks one redirect URI against the registration rules: absolute, no
/// fragment; `https` anywhere, `http` only on loopback; private-use schemes
/// (`cursor://…`, `vscode://…`) allowed; script-capable and local schemes refused.
pub fn validate_redirect_uri(uri: &str) -> Result<(), OAuthError> {
    let bad = |why: &str| {
        OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            format!("redirect URI `{uri}` {why}"),
        )
    };
    let url = Url::parse(uri).map_err(|e| bad(&format!("is not an absolute URI ({e})")))?;
    if url.fragment().is_some() {
        return Err(bad("must not contain a fragment (RFC 6749 §3.1.2)"));
    }
    let scheme = url.scheme();
    if FORBIDDEN_SCHEMES.contains(&scheme) {
        return Err(bad(&format!("uses the forbidden scheme `{scheme}:`")));
    }
    match scheme {
        "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(bad("has no host"));
            }
            Ok(())
        }
        "http" => {
            if is_loopback(&url) {
                Ok(())
            } else {
                Err(bad(
                    "uses http on a non-loopback host; use https, or http://127.0.0.1 / http://[::1] / http://localhost for native apps",
                ))
            }
        }
        _ => Ok(()),
    }
}

/// Decides which redirect URIs are acceptable beyond the built-in rules:
/// enforced at registration and again at authorization.
pub trait RedirectUriPolicy: Send + Sync + fmt::Debug {
    /// `Ok` if `uri` may be used; `Err(reason)` otherwise.
    fn check(&self, uri: &str) -> Result<(), String>;
}

/// An allowlist of redirect-URI patterns. A pattern is either an exact URI or
/// contains `*`, which matches any run of characters except `/`, `?` and `#`
/// (so `https://*.example.com/cb` cannot match `https://evil.test/x.example.com/cb`).
/// Loopback URIs (`http://127.0.0.1`, `[::1]`, `localhost`, any port) are allowed
/// when [`RedirectUriAllowlist::allow_loopback`] is set.
#[derive(Debug, Clone, Default)]
pub struct RedirectUriAllowlist {
    patterns: Vec<String>,
    loopback: bool,
}

impl RedirectUriAllowlist {
    /// An allowlist of the given patterns.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(patterns: I) -> Self {
        Self {
            patterns: patterns.into_iter().map(Into::into).collect(),
            loopback: false,
        }
    }

    /// Also allow loopback redirect URIs (native apps, MCP Inspector, CLIs).
    pub fn allow_loopback(mut self) -> Self {
        self.loopback = true;
        self
    }

    /// The hosted callbacks of well-known MCP clients (Claude and ChatGPT),
    /// plus loopback.
    pub fn hosted_mcp_clients() -> Self {
        Self::new([
            "https://claude.ai/api/mcp/auth_callback",
            "https://claude.com/api/mcp/auth_callback",
            "https://chatgpt.com/connector_platform_oauth_redirect",
        ])
        .allow_loopback()
    }
}

fn glob_match(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, tail)) => {
            let Some(rest) = s.strip_prefix(head) else {
                return false;
            };
            // `*` consumes 0..n characters that are not path/query/fragment delimiters.
            for (i, c) in rest.char_indices() {
                if glob_match(tail, &rest[i..]) {
                    return true;
                }
                if matches!(c, '/' | '?' | '#') {
                    return false;
                }
            }
            glob_match(tail, "")
        }
    }
}

impl RedirectUriPolicy for RedirectUriAllowlist {
    fn check(&self, uri: &str) -> Result<(), String> {
        if self.loopback && Url::parse(uri).is_ok_and(|u| u.scheme() == "http" && is_loopback(&u)) {
            return Ok(());
        }
        if self.patterns.iter().any(|p| glob_match(p, uri)) {
            return Ok(());
        }
        Err(format!(
            "redirect URI `{uri}` is not on this server's allowlist"
        ))
    }
}

/// A shared redirect-URI policy.
pub type SharedRedirectPolicy = Arc<dyn RedirectUriPolicy>;

/// An RFC 7591 client registration request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistrationRequest {
    /// Redirect URIs (required for the code flow).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Requested token endpoint auth method.
    pub token_endpoint_auth_method: Option<String>,
    /// Grant types.
    pub grant_types: Option<Vec<String>>,
    /// Response types.
    pub response_types: Option<Vec<String>>,
    /// Client name.
    pub client_name: Option<String>,
    /// Requested scope.
    pub scope: Option<String>,
    /// Every field, for echoing back registered metadata.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Grant types this server implements for registered clients.
pub const SUPPORTED_GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token"];

/// Response types this server implements.
pub const SUPPORTED_RESPONSE_TYPES: &[&str] = &["code"];

const AUDIT: &str = "oauth_mcp::audit";

/// Splits `requested` into the values this server supports (deduplicated,
/// in request order) and the ones it drops.
fn keep_supported(requested: &[String], supported: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut kept: Vec<String> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for value in requested {
        let list = if supported.contains(&value.as_str()) {
            &mut kept
        } else {
            &mut dropped
        };
        if !list.contains(value) {
            list.push(value.clone());
        }
    }
    (kept, dropped)
}

fn quoted(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validates a registration request and turns it into a [`Client`] (without
/// id or secret, which the caller assigns).
///
/// Lenient where RFC 7591 §3.2.1 allows it: grant types and response types
/// this server does not implement (`urn:ietf:params:oauth:grant-type:device_code`
/// from VS Code, `…:jwt-bearer` from Claude, `implicit`, `token`, …) are
/// dropped, and the client is registered with the rest; the registration
/// response reports what was registered. The request is refused only when
/// what remains cannot work: no `authorization_code` grant, or no `code`
/// response type.
pub fn validate_registration(
    req: &RegistrationRequest,
    policy: Option<&dyn RedirectUriPolicy>,
    now: i64,
) -> Result<Client, OAuthError> {
    let meta_err = |d: String| OAuthError::new(ErrorCode::InvalidClientMetadata, d);
    if req.redirect_uris.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            "redirect_uris is required and must list at least one URI",
        ));
    }
    for uri in &req.redirect_uris {
        validate_redirect_uri(uri)?;
        if let Some(p) = policy {
            p.check(uri)
                .map_err(|why| OAuthError::new(ErrorCode::InvalidRedirectUri, why))?;
        }
    }
    let (auth_method, explicit) = match req.token_endpoint_auth_method.as_deref() {
        None => (TokenEndpointAuthMethod::ClientSecretBasic, false),
        Some(m) => (
            TokenEndpointAuthMethod::parse(m).ok_or_else(|| {
                meta_err(format!(
                    "token_endpoint_auth_method `{m}` is not supported; use none, client_secret_basic or client_secret_post"
                ))
            })?,
            true,
        ),
    };
    let (grant_types, dropped_grants) = match &req.grant_types {
        None => (
            SUPPORTED_GRANT_TYPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            Vec::new(),
        ),
        Some(requested) => keep_supported(requested, SUPPORTED_GRANT_TYPES),
    };
    if !grant_types.iter().any(|g| g == "authorization_code") {
        let why = if dropped_grants.is_empty() {
            String::new()
        } else {
            format!(
                " (set aside as not implemented here: {})",
                quoted(&dropped_grants)
            )
        };
        return Err(meta_err(format!(
            "grant_types must include authorization_code{why}; this server supports authorization_code and refresh_token"
        )));
    }
    let dropped_responses = match &req.response_types {
        None => Vec::new(),
        Some(requested) => {
            let (kept, dropped) = keep_supported(requested, SUPPORTED_RESPONSE_TYPES);
            if kept.is_empty() {
                return Err(meta_err(format!(
                    "response_types must include `code` (the authorization code flow){}",
                    if dropped.is_empty() {
                        String::new()
                    } else {
                        format!("; not supported: {}", quoted(&dropped))
                    }
                )));
            }
            dropped
        }
    };
    let scope = req
        .scope
        .as_deref()
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| meta_err(e.description))?;
    if !dropped_grants.is_empty() || !dropped_responses.is_empty() {
        tracing::info!(target: AUDIT, event = "register.adjusted",
            client_name = req.client_name.as_deref(),
            dropped_grant_types = ?dropped_grants,
            dropped_response_types = ?dropped_responses,
            registered_grant_types = ?grant_types,
            reason = "not implemented by this server (RFC 7591 §3.2.1: replaced and reported in the response)");
    }
    Ok(Client {
        client_id: String::new(),
        secret_hash: None,
        redirect_uris: req.redirect_uris.clone(),
        auth_method,
        auth_method_explicit: explicit,
        client_name: req.client_name.clone(),
        scope,
        grant_types,
        trusted: false,
        active: true,
        created_at: now,
        expires_at: None,
        metadata: req.extra.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str]) -> Client {
        let req = RegistrationRequest {
            redirect_uris: uris.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        validate_registration(&req, None, 0).unwrap()
    }

    #[test]
    fn redirect_uri_rules() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418/callback",
            "http://[::1]/cb",
            "http://localhost:6274/oauth/callback",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "vscode://vscode.github-authentication/did-authenticate",
            "com.example.app:/oauth2redirect",
        ] {
            validate_redirect_uri(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "http://example.com/cb",
            "https://example.com/cb#frag",
            "/relative",
            "vbscript:x",
        ] {
            let e = validate_redirect_uri(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRedirectUri, "{bad}");
        }
    }

    #[test]
    fn exact_match_plus_loopback_port_rule() {
        let c = client(&[
            "http://127.0.0.1:1234/cb",
            "https://app.example/cb",
            "http://localhost/cb",
        ]);
        assert!(c.match_redirect_uri("http://127.0.0.1:1234/cb").is_some());
        assert!(c.match_redirect_uri("http://127.0.0.1:9999/cb").is_some());
        assert!(c.match_redirect_uri("http://127.0.0.1/cb").is_some());
        assert!(c.match_redirect_uri("http://localhost:5555/cb").is_some());
        // Same host literal required: 127.0.0.1 vs localhost vs ::1 are different.
        assert!(c.match_redirect_uri("http://[::1]:1234/cb").is_none());
        assert!(
            c.match_redirect_uri("http://127.0.0.1:1234/other")
                .is_none()
        );
        assert!(
            c.match_redirect_uri("http://127.0.0.1:1234/cb?x=1")
                .is_none()
        );
        assert!(c.match_redirect_uri("https://app.example/cb/").is_none());
        assert!(c.match_redirect_uri("https://app.example:444/cb").is_none());
        assert!(c.match_redirect_uri("https://APP.example/cb").is_none());
    }

    #[test]
    fn allowlist_globs_do_not_cross_path_boundaries() {
        let p = RedirectUriAllowlist::new(["https://*.example.com/cb"]).allow_loopback();
        assert!(p.check("https://a.example.com/cb").is_ok());
        assert!(p.check("https://evil.test/x.example.com/cb").is_err());
        assert!(p.check("https://a.example.com/cb/extra").is_err());
        assert!(p.check("http://127.0.0.1:8000/anything").is_ok());
        let hosted = RedirectUriAllowlist::hosted_mcp_clients();
        assert!(
            hosted
                .check("https://claude.ai/api/mcp/auth_callback")
                .is_ok()
        );
        assert!(
            hosted
                .check("https://claude.ai.evil.com/api/mcp/auth_callback")
                .is_err()
        );
    }

    #[test]
    fn registration_validation() {
        let mut req = RegistrationRequest {
            redirect_uris: vec!["https://a/cb".into()],
            ..Default::default()
        };
        let c = validate_registration(&req, None, 5).unwrap();
        assert_eq!(c.auth_method, TokenEndpointAuthMethod::ClientSecretBasic);
        assert!(!c.auth_method_explicit);
        req.token_endpoint_auth_method = Some("private_key_jwt".into());
        assert_eq!(
            validate_registration(&req, None, 5).unwrap_err().code,
            ErrorCode::InvalidClientMetadata
        );
        req.token_endpoint_auth_method = Some("none".into());
        req.grant_types = Some(vec!["implicit".into()]);
        assert_eq!(
            validate_registration(&req, None, 5).unwrap_err().code,
            ErrorCode::InvalidClientMetadata
        );
        req.grant_types = None;
        req.redirect_uris.clear();
        assert_eq!(
            validate_registration(&req, None, 5).unwrap_err().code,
            ErrorCode::InvalidRedirectUri
        );
        req.redirect_uris = vec!["https://evil/cb".into()];
        let policy = RedirectUriAllowlist::new(["https://good/cb"]);
        assert_eq!(
            validate_registration(&req, Some(&policy), 5)
                .unwrap_err()
                .code,
            ErrorCode::InvalidRedirectUri
        );
    }

    fn dcr(grants: Option<&[&str]>, responses: Option<&[&str]>) -> RegistrationRequest {
        let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        RegistrationRequest {
            redirect_uris: vec!["http://127.0.0.1:33418/".into()],
            token_endpoint_auth_method: Some("none".into()),
            grant_types: grants.map(list),
            response_types: responses.map(list),
            ..Default::default()
        }
    }

    #[test]
    fn unsupported_grant_and_response_types_are_dropped_not_refused() {
        // VS Code's grant list, with a duplicate and an unknown response type.
        let c = validate_registration(
            &dcr(
                Some(&[
                    "authorization_code",
                    "refresh_token",
                    "urn:ietf:params:oauth:grant-type:device_code",
                    "refresh_token",
                ]),
                Some(&["code", "token", "code"]),
            ),
            None,
            0,
        )
        .unwrap();
        assert_eq!(c.grant_types, ["authorization_code", "refresh_token"]);
        // Claude's: jwt-bearer goes, refresh is kept.
        let c = validate_registration(
            &dcr(
                Some(&[
                    "authorization_code",
                    "refresh_token",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer",
                ]),
                Some(&["code"]),
            ),
            None,
            0,
        )
        .unwrap();
        assert_eq!(c.grant_types, ["authorization_code", "refresh_token"]);
        // Without refresh_token the client registers without it.
        let c = validate_registration(&dcr(Some(&["authorization_code"]), None), None, 0).unwrap();
        assert_eq!(c.grant_types, ["authorization_code"]);
        assert!(!c.allows_grant("refresh_token"));
        // Omitted: both supported grants.
        let c = validate_registration(&dcr(None, None), None, 0).unwrap();
        assert_eq!(c.grant_types, SUPPORTED_GRANT_TYPES);
    }

    #[test]
    fn registration_is_refused_when_what_remains_cannot_work() {
        let e = validate_registration(
            &dcr(
                Some(&["urn:ietf:params:oauth:grant-type:device_code", "implicit"]),
                None,
            ),
            None,
            0,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        assert_eq!(
            e.description,
            "grant_types must include authorization_code (set aside as not implemented here: \
             `urn:ietf:params:oauth:grant-type:device_code`, `implicit`); \
             this server supports authorization_code and refresh_token"
        );
        let e = validate_registration(&dcr(Some(&["refresh_token"]), None), None, 0).unwrap_err();
        assert_eq!(
            e.description,
            "grant_types must include authorization_code; this server supports authorization_code and refresh_token"
        );
        let e = validate_registration(&dcr(Some(&[]), None), None, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        let e =
            validate_registration(&dcr(None, Some(&["token", "id_token"])), None, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        assert_eq!(
            e.description,
            "response_types must include `code` (the authorization code flow); not supported: `token`, `id_token`"
        );
        let e = validate_registration(&dcr(None, Some(&[])), None, 0).unwrap_err();
        assert_eq!(
            e.description,
            "response_types must include `code` (the authorization code flow)"
        );
    }

    #[test]
    fn all_loopback_detection() {
        assert!(all_loopback(&[
            "http://127.0.0.1:1/cb".into(),
            "http://localhost/cb".into()
        ]));
        assert!(!all_loopback(&[
            "http://127.0.0.1:1/cb".into(),
            "https://x/cb".into()
        ]));
        assert!(!all_loopback(&[]));
    }
}
