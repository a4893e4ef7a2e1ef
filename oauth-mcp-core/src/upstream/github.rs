//! GitHub (an OAuth App or a GitHub App's user authorization) as the
//! upstream identity provider: OAuth 2.0 with PKCE at
//! `<web>/login/oauth/authorize` and `<web>/login/oauth/access_token`, then
//! the user API (`<api>/user`, `<api>/user/emails`, and
//! `<api>/user/memberships/orgs/<org>` for each organisation the login policy
//! names). Both base URLs are configurable: GitHub Enterprise Server, or a
//! loopback stand-in in tests.
//!
//! The identity's subject is GitHub's numeric user id, which never changes;
//! the login (which can, and can be re-registered by someone else after a
//! rename) is kept as [`UpstreamIdentity::login`].

use std::sync::Arc;

use async_trait::async_trait;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope, TokenUrl,
};
use serde::Deserialize;

use super::error::UpstreamError;
use super::error::token_request_error;
use super::http::{HttpLimits, UpstreamHttp};
use super::identity::UpstreamIdentity;
use super::{
    AuthorizationParams, ExchangeParams, SignedIn, UpstreamProvider, UpstreamTokens,
    check_provider_url,
};
use crate::clock::{SharedClock, SystemClock};
use crate::error::ConfigError;
use crate::secret::Secret;

/// The most organisations whose membership is checked at each login (one
/// API request each).
pub const MAX_GITHUB_ORGS: usize = 20;

const DISPLAY: &str = "GitHub";
const API_HEADERS: [(&str, &str); 2] = [
    ("accept", "application/vnd.github+json"),
    ("x-github-api-version", "2022-11-28"),
];

type GitHubClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Builds a [`GitHubUpstream`].
#[must_use]
#[derive(Debug, Clone)]
pub struct GitHubUpstreamBuilder {
    client_id: String,
    client_secret: Option<Secret>,
    id: String,
    web_base: String,
    api_base: String,
    orgs: Vec<String>,
    scopes: Option<Vec<String>>,
    limits: HttpLimits,
    clock: SharedClock,
}

impl GitHubUpstreamBuilder {
    /// The client secret. GitHub requires it for OAuth Apps and GitHub Apps
    /// alike; without it the client is public (PKCE only).
    pub fn client_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// The provider's id, the namespace of local subjects (default
    /// `github`; give a GitHub Enterprise Server its own).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// The web base URL (default `https://github.com`).
    pub fn web_base_url(mut self, url: impl Into<String>) -> Self {
        self.web_base = url.into();
        self
    }

    /// The API base URL (default `https://api.github.com`; GitHub
    /// Enterprise Server: `https://<host>/api/v3`).
    pub fn api_base_url(mut self, url: impl Into<String>) -> Self {
        self.api_base = url.into();
        self
    }

    /// Organisations whose membership to check at login (at most
    /// [`MAX_GITHUB_ORGS`]); usually [`LoginPolicy::github_orgs`](super::LoginPolicy::github_orgs).
    /// Adds the `read:org` scope.
    pub fn check_orgs<I: IntoIterator<Item = S>, S: Into<String>>(mut self, orgs: I) -> Self {
        self.orgs.extend(orgs.into_iter().map(Into::into));
        self
    }

    /// The scopes requested (default `read:user user:email`, plus `read:org`
    /// when organisations are checked).
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Limits on every request to GitHub.
    pub fn http_limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The clock (tests: give it the server's clock, so that the expiry
    /// times of upstream tokens agree with the server's notion of now).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<GitHubUpstream, ConfigError> {
        let err = |field, e: UpstreamError| ConfigError::new(field, e.to_string());
        let web = check_provider_url(DISPLAY, "the web base URL", &self.web_base)
            .map_err(|e| err("github_web_base_url", e))?;
        check_provider_url(DISPLAY, "the API base URL", &self.api_base)
            .map_err(|e| err("github_api_base_url", e))?;
        if self.client_id.trim().is_empty() {
            return Err(ConfigError::new(
                "upstream_client_id",
                "the client id of the GitHub app is empty",
            ));
        }
        if self.orgs.len() > MAX_GITHUB_ORGS {
            return Err(ConfigError::new(
                "github_orgs",
                format!(
                    "{} organisations to check; at most {MAX_GITHUB_ORGS} (each costs a request per login)",
                    self.orgs.len()
                ),
            ));
        }
        for o in &self.orgs {
            if o.is_empty() || !o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(ConfigError::new(
                    "github_orgs",
                    format!("`{o}` is not a GitHub organisation login (letters, digits and `-`)"),
                ));
            }
        }
        let web_base = web.as_str().trim_end_matches('/').to_owned();
        let api_base = self.api_base.trim_end_matches('/').to_owned();
        let auth = AuthUrl::new(format!("{web_base}/login/oauth/authorize"))
            .map_err(|e| ConfigError::new("github_web_base_url", e.to_string()))?;
        let token = TokenUrl::new(format!("{web_base}/login/oauth/access_token"))
            .map_err(|e| ConfigError::new("github_web_base_url", e.to_string()))?;
        let mut client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(auth)
            .set_token_uri(token)
            // GitHub documents the secret as a body parameter.
            .set_auth_type(AuthType::RequestBody);
        if let Some(s) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(s.secret().to_owned()));
        }
        let http =
            UpstreamHttp::new(self.limits).map_err(|e| ConfigError::new("upstream_http", e))?;
        let mut orgs: Vec<String> = self.orgs.iter().map(|o| o.to_ascii_lowercase()).collect();
        orgs.sort();
        orgs.dedup();
        let scopes = self.scopes.clone().unwrap_or_else(|| {
            let mut s = vec!["read:user".to_owned(), "user:email".to_owned()];
            if !orgs.is_empty() {
                s.push("read:org".to_owned());
            }
            s
        });
        Ok(GitHubUpstream {
            inner: Arc::new(Inner {
                client,
                http,
                web_base,
                api_base,
                orgs,
                scopes,
                id: self.id.clone(),
                clock: self.clock.clone(),
            }),
        })
    }
}

/// GitHub as the upstream identity provider. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GitHubUpstream {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: GitHubClient,
    http: UpstreamHttp,
    web_base: String,
    api_base: String,
    orgs: Vec<String>,
    scopes: Vec<String>,
    id: String,
    clock: SharedClock,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
    name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

#[derive(Deserialize)]
struct GitHubMembership {
    state: String,
}

impl GitHubUpstream {
    /// GitHub with the client id of your OAuth App (or GitHub App).
    pub fn builder(client_id: impl Into<String>) -> GitHubUpstreamBuilder {
        GitHubUpstreamBuilder {
            client_id: client_id.into(),
            client_secret: None,
            id: "github".into(),
            web_base: "https://github.com".into(),
            api_base: "https://api.github.com".into(),
            orgs: Vec::new(),
            scopes: None,
            limits: HttpLimits::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// GETs an API path with the user's token: `Ok(Some(body))` on 200,
    /// `Ok(None)` on 403/404 (not granted, not a member), an error otherwise.
    async fn api(&self, path: &str, token: &str) -> Result<Option<Vec<u8>>, UpstreamError> {
        let url = format!("{}{path}", self.inner.api_base);
        let (status, body) = self
            .inner
            .http
            .get_with_token(&url, token, &API_HEADERS)
            .await
            .map_err(|e| e.into_upstream(DISPLAY))?;
        match status {
            200 => Ok(Some(body)),
            403 | 404 => Ok(None),
            401 => Err(UpstreamError::BadResponse {
                provider: DISPLAY.into(),
                detail: format!("{url} refused the access token GitHub just issued (401)"),
            }),
            s => Err(UpstreamError::BadResponse {
                provider: DISPLAY.into(),
                detail: format!("{url} answered {s}"),
            }),
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, UpstreamError> {
        serde_json::from_slice(body).map_err(|e| UpstreamError::BadResponse {
            provider: DISPLAY.into(),
            detail: format!("{what} does not parse: {e}"),
        })
    }

    /// Who the token belongs to: `/user`, the primary verified email, and
    /// the configured organisations' memberships.
    async fn identity(&self, token: &str) -> Result<UpstreamIdentity, UpstreamError> {
        let body = self
            .api("/user", token)
            .await?
            .ok_or_else(|| UpstreamError::BadResponse {
                provider: DISPLAY.into(),
                detail: "the user API refused the access token GitHub just issued".into(),
            })?;
        let user: GitHubUser = Self::parse("/user", &body)?;
        let mut id = UpstreamIdentity::new(
            self.inner.id.clone(),
            self.inner.web_base.clone(),
            user.id.to_string(),
        )
        .with_login(user.login);
        id.name = user.name;
        // `/user/emails` (scope `user:email`) says which address is verified;
        // without it, `/user`'s public address is kept but not trusted.
        match self.api("/user/emails", token).await? {
            Some(body) => {
                let emails: Vec<GitHubEmail> = Self::parse("/user/emails", &body)?;
                if let Some(e) = emails.into_iter().find(|e| e.primary) {
                    id = id.with_email(e.email, e.verified);
                }
            }
            None => {
                if let Some(e) = user.email {
                    id = id.with_email(e, false);
                }
            }
        }
        for org in &self.inner.orgs {
            if let Some(body) = self
                .api(&format!("/user/memberships/orgs/{org}"), token)
                .await?
            {
                let m: GitHubMembership = Self::parse("the organisation membership", &body)?;
                if m.state == "active" {
                    id.orgs.push(org.clone());
                }
            }
        }
        Ok(id)
    }
}

#[async_trait]
impl UpstreamProvider for GitHubUpstream {
    fn id(&self) -> &str {
        &self.inner.id
    }

    fn display_name(&self) -> &str {
        DISPLAY
    }

    fn issuer(&self) -> &str {
        &self.inner.web_base
    }

    fn uses_nonce(&self) -> bool {
        false
    }

    async fn authorization_url(
        &self,
        params: &AuthorizationParams,
    ) -> Result<String, UpstreamError> {
        let redirect = RedirectUrl::new(params.redirect_uri.clone()).map_err(|e| {
            UpstreamError::Misconfigured {
                provider: DISPLAY.into(),
                detail: format!("callback URL: {e}"),
            }
        })?;
        let state = params.state.secret().to_owned();
        let client = self.inner.client.clone().set_redirect_uri(redirect);
        let mut req = client
            .authorize_url(move || CsrfToken::new(state))
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(
                &PkceCodeVerifier::new(params.pkce_verifier.secret().to_owned()),
            ));
        for s in &self.inner.scopes {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, _) = req.url();
        Ok(url.to_string())
    }

    async fn exchange(
        &self,
        code: &str,
        params: &ExchangeParams,
    ) -> Result<SignedIn, UpstreamError> {
        let redirect = RedirectUrl::new(params.redirect_uri.clone()).map_err(|e| {
            UpstreamError::Misconfigured {
                provider: DISPLAY.into(),
                detail: format!("callback URL: {e}"),
            }
        })?;
        let resp = self
            .inner
            .client
            .clone()
            .set_redirect_uri(redirect)
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(
                params.pkce_verifier.secret().to_owned(),
            ))
            .request_async(&self.inner.http)
            .await
            .map_err(|e| token_request_error(DISPLAY, e))?;
        let tokens = UpstreamTokens::from_response(&resp, self.inner.clock.now(), None);
        let identity = self.identity(tokens.access_token.secret()).await?;
        Ok(SignedIn { identity, tokens })
    }

    async fn refresh(&self, refresh_token: &Secret) -> Result<UpstreamTokens, UpstreamError> {
        let token = RefreshToken::new(refresh_token.secret().to_owned());
        let resp = self
            .inner
            .client
            .exchange_refresh_token(&token)
            .request_async(&self.inner.http)
            .await
            .map_err(|e| token_request_error(DISPLAY, e))?;
        Ok(UpstreamTokens::from_response(
            &resp,
            self.inner.clock.now(),
            Some(refresh_token),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_checked() {
        assert!(GitHubUpstream::builder("id").build().is_ok());
        let e = GitHubUpstream::builder("id")
            .web_base_url("http://github.example")
            .build()
            .unwrap_err();
        assert_eq!(e.field, "github_web_base_url");
        let e = GitHubUpstream::builder(" ").build().unwrap_err();
        assert_eq!(e.field, "upstream_client_id");
        let e = GitHubUpstream::builder("id")
            .check_orgs(["acme/../../user"])
            .build()
            .unwrap_err();
        assert_eq!(e.field, "github_orgs");
        let e = GitHubUpstream::builder("id")
            .check_orgs((0..=MAX_GITHUB_ORGS).map(|i| format!("org{i}")))
            .build()
            .unwrap_err();
        assert_eq!(e.field, "github_orgs");
    }

    #[tokio::test]
    async fn authorization_url_has_pkce_state_and_scopes() {
        let gh = GitHubUpstream::builder("Iv1.abc")
            .client_secret("s")
            .web_base_url("http://127.0.0.1:9/")
            .check_orgs(["Acme"])
            .build()
            .unwrap();
        let url = gh
            .authorization_url(&AuthorizationParams {
                redirect_uri: "https://mcp.example/upstream/callback".into(),
                state: Secret::new("st"),
                pkce_verifier: Secret::new("v".repeat(43)),
                nonce: None,
            })
            .await
            .unwrap();
        let u = url::Url::parse(&url).unwrap();
        assert_eq!(u.path(), "/login/oauth/authorize");
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "Iv1.abc");
        assert_eq!(q["state"], "st");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(
            q["code_challenge"],
            crate::pkce::s256_challenge(&"v".repeat(43))
        );
        assert_eq!(q["scope"], "read:user user:email read:org");
        assert_eq!(q["redirect_uri"], "https://mcp.example/upstream/callback");
        assert_eq!(gh.issuer(), "http://127.0.0.1:9");
        assert!(!q.contains_key("client_secret"));
    }
}
