//! Logging users in through an upstream identity provider (feature
//! `upstream`): **any OpenID provider** by issuer URL ([`OidcUpstream`]:
//! discovery, ID-token validation through the `openidconnect` crate),
//! **Google** (an OpenID preset, [`OidcUpstream::google`]) and **GitHub**
//! ([`GitHubUpstream`]: OAuth 2.0 plus its user API).
//!
//! Give the embedded authorization server an [`UpstreamLogin`]
//! ([`AuthServer::with_upstream`](crate::AuthServer::with_upstream)) and
//! `/authorize` shows this server's consent page, then sends the person to
//! the provider; the provider sends them back to `<public-url>/upstream/callback`
//! ([`CALLBACK_PATH`]), the [`LoginPolicy`] decides, and the client gets this
//! server's own code. [`UpstreamTokenVault`] keeps the users' upstream tokens
//! sealed for tools, if asked to.
//!
//! The pieces:
//!
//! - a provider ([`UpstreamProvider`]) builds the authorization URL and
//!   turns the returned code into an [`UpstreamIdentity`] and the user's
//!   [`UpstreamTokens`], checking everything the protocol requires
//!   (PKCE always, `nonce` and the ID token for OpenID providers);
//! - [`UpstreamSignIn`] runs the browser leg around a provider: a random
//!   `state` stored hashed, single use and short-lived, bound to the browser
//!   by a cookie value, and the RFC 9207 `iss` check;
//! - a [`LoginPolicy`] decides who may log in and which scopes each user
//!   gets;
//! - a [`SubjectMapping`] turns the upstream identity into the stable local
//!   subject of our own tokens.
//!
//! Upstream tokens never become our tokens: the MCP client gets tokens this
//! server issues, for its own audience.
//!
//! Every upstream request is bounded ([`HttpLimits`]: a total timeout and a
//! response-size cap) and never follows redirects.

mod error;
mod flow;
mod github;
mod http;
mod identity;
mod login;
mod oidc;
mod policy;
mod principals;
mod vault;

use std::fmt;

use async_trait::async_trait;

pub use error::{IdTokenCheck, UpstreamError};
pub use flow::{
    CallbackParams, DEFAULT_FLOW_TTL, ReturnedFlow, SignInRedirect, UpstreamSignIn, state_tag,
};
pub use github::{GitHubUpstream, GitHubUpstreamBuilder, MAX_GITHUB_ORGS};
pub use http::{HttpError, HttpErrorKind, HttpLimits};
pub use identity::{SubjectMapping, UpstreamIdentity};
pub(crate) use login::UpstreamRuntime;
pub use login::{CALLBACK_PATH, UpstreamLogin};
pub use oidc::{ClientAuth, OidcUpstream, OidcUpstreamBuilder};
pub use policy::{LoginPolicy, Refusal, ResourcePolicy};
pub use principals::{Principals, parse_list};
pub use vault::{TokenVaultError, UpstreamTokenVault};

use crate::secret::Secret;

/// What a provider needs to build the URL the browser is sent to.
#[derive(Debug, Clone)]
pub struct AuthorizationParams {
    /// Our callback URL (registered at the provider).
    pub redirect_uri: String,
    /// The `state` value (random; checked at the callback).
    pub state: Secret,
    /// The flow's PKCE code verifier (the provider sends its S256 challenge).
    pub pkce_verifier: Secret,
    /// The OpenID `nonce` (for providers that use one).
    pub nonce: Option<Secret>,
}

/// What a provider needs to redeem the code returned at the callback.
#[derive(Debug, Clone)]
pub struct ExchangeParams {
    /// The callback URL the authorization request named.
    pub redirect_uri: String,
    /// The PKCE code verifier.
    pub pkce_verifier: Secret,
    /// The `nonce` the ID token must carry (OpenID providers).
    pub nonce: Option<Secret>,
}

/// The user's tokens at the upstream provider. They are for calling the
/// provider's API on the user's behalf; they never leave this server.
#[derive(Debug, Clone)]
pub struct UpstreamTokens {
    /// The access token.
    pub access_token: Secret,
    /// The refresh token, if the provider issued one.
    pub refresh_token: Option<Secret>,
    /// Unix time the access token expires, if the provider said.
    pub expires_at: Option<i64>,
    /// The scopes granted, as the provider reported them.
    pub scope: Option<String>,
}

impl UpstreamTokens {
    /// The tokens of a token response received at `now`. After a refresh,
    /// `previous_refresh` is kept if the provider did not rotate it.
    fn from_response<R: oauth2::TokenResponse>(
        resp: &R,
        now: i64,
        previous_refresh: Option<&Secret>,
    ) -> Self {
        Self {
            access_token: Secret::new(resp.access_token().secret().clone()),
            refresh_token: resp
                .refresh_token()
                .map(|r| Secret::new(r.secret().clone()))
                .or_else(|| previous_refresh.cloned()),
            expires_at: expiry(now, resp.expires_in()),
            // As the provider wrote them (GitHub separates them with commas).
            scope: resp
                .scopes()
                .map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ")),
        }
    }
}

/// A successful upstream sign-in: who, and their tokens at the provider.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who the provider says the user is.
    pub identity: UpstreamIdentity,
    /// The user's tokens at the provider.
    pub tokens: UpstreamTokens,
}

/// An upstream identity provider.
#[async_trait]
pub trait UpstreamProvider: Send + Sync + fmt::Debug {
    /// A short, stable id (`github`, `google`, or the issuer URL): the
    /// namespace of its users' subjects and the key of stored records.
    fn id(&self) -> &str;

    /// The name to show people (`GitHub`, `Google`, the issuer's host).
    fn display_name(&self) -> &str;

    /// The issuer a callback's RFC 9207 `iss` parameter must name, if the
    /// provider sends one.
    fn issuer(&self) -> &str;

    /// True if the provider is an OpenID provider (the flow then sends a
    /// `nonce` and the ID token must carry it).
    fn uses_nonce(&self) -> bool;

    /// The URL to send the browser to.
    async fn authorization_url(
        &self,
        params: &AuthorizationParams,
    ) -> Result<String, UpstreamError>;

    /// Redeems the code (with PKCE) and establishes who the user is.
    async fn exchange(
        &self,
        code: &str,
        params: &ExchangeParams,
    ) -> Result<SignedIn, UpstreamError>;

    /// New tokens from a refresh token.
    async fn refresh(&self, refresh_token: &Secret) -> Result<UpstreamTokens, UpstreamError>;
}

/// `expires_in` seconds from `now` as a Unix time.
fn expiry(now: i64, expires_in: Option<std::time::Duration>) -> Option<i64> {
    expires_in.map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
}

/// True for `http://` URLs on a loopback host (tests, local development):
/// the only plain-HTTP provider URLs accepted.
fn is_loopback_http(url: &url::Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        }
}

/// Checks that a provider URL is https (or loopback http); `what` names it
/// in the error.
fn check_provider_url(provider: &str, what: &str, raw: &str) -> Result<url::Url, UpstreamError> {
    let url = url::Url::parse(raw).map_err(|e| UpstreamError::Misconfigured {
        provider: provider.to_owned(),
        detail: format!("{what} `{raw}` is not a URL: {e}"),
    })?;
    if url.scheme() != "https" && !is_loopback_http(&url) {
        return Err(UpstreamError::Misconfigured {
            provider: provider.to_owned(),
            detail: format!(
                "{what} `{raw}` must use https (plain http is accepted only on a loopback host)"
            ),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_urls_must_be_https_or_loopback() {
        assert!(check_provider_url("p", "issuer", "https://idp.example").is_ok());
        assert!(check_provider_url("p", "issuer", "http://127.0.0.1:4444").is_ok());
        assert!(check_provider_url("p", "issuer", "http://[::1]:4444").is_ok());
        assert!(check_provider_url("p", "issuer", "http://localhost:4444").is_ok());
        let e = check_provider_url("p", "issuer", "http://idp.example").unwrap_err();
        assert!(e.to_string().contains("must use https"), "{e}");
        assert!(check_provider_url("p", "issuer", "http://127.0.0.1.evil.example").is_err());
        assert!(check_provider_url("p", "issuer", "idp.example").is_err());
    }
}
