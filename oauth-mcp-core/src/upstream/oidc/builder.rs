//! The configuration of an [`OidcUpstream`]: issuer, client, scopes, limits;
//! checked once by [`OidcUpstreamBuilder::build`] (or
//! [`OidcUpstreamBuilder::discover`], which also fetches the metadata).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, RwLock};

use super::{Inner, OidcUpstream};
use crate::clock::{SharedClock, SystemClock};
use crate::error::ConfigError;
use crate::secret::Secret;
use crate::upstream::check_provider_url;
use crate::upstream::error::UpstreamError;
use crate::upstream::http::{HttpLimits, UpstreamHttp};

/// How this server authenticates to the provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic` when the provider supports it, else
    /// `client_secret_post` (the default).
    Auto,
    /// `client_secret_basic`: HTTP Basic authentication.
    Basic,
    /// `client_secret_post`: the secret in the request body.
    Post,
}

/// Builds an [`OidcUpstream`].
#[must_use]
#[derive(Debug, Clone)]
pub struct OidcUpstreamBuilder {
    pub(super) issuer: String,
    pub(super) client_id: String,
    pub(super) client_secret: Option<Secret>,
    pub(super) id: Option<String>,
    pub(super) display_name: Option<String>,
    pub(super) scopes: Vec<String>,
    pub(super) extra_params: Vec<(String, String)>,
    pub(super) groups_claim: String,
    pub(super) userinfo: bool,
    pub(super) client_auth: ClientAuth,
    pub(super) limits: HttpLimits,
    pub(super) leeway: i64,
    pub(super) metadata_max_age: Duration,
    pub(super) min_refetch_interval: Duration,
    pub(super) clock: SharedClock,
}

impl OidcUpstreamBuilder {
    /// The client secret (a confidential client). Without one the client
    /// is public and relies on PKCE alone.
    pub fn client_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// The provider's id: the namespace of its users' local subjects and
    /// the key of stored records (default: the issuer URL). Changing it
    /// changes every user's local subject.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The name shown to people (default: the issuer's host).
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// The scopes requested (default `openid email profile`; `openid` is
    /// always sent).
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// An extra authorization-request parameter (e.g. Google's `hd`, or
    /// `prompt=consent`).
    pub fn auth_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }

    /// The claim holding the user's groups (default `groups`), read from the
    /// ID token and the UserInfo answer.
    pub fn groups_claim(mut self, claim: impl Into<String>) -> Self {
        self.groups_claim = claim.into();
        self
    }

    /// Do not call the UserInfo endpoint (by default it is called when the
    /// provider has one, for claims some providers leave out of ID tokens).
    pub fn without_userinfo(mut self) -> Self {
        self.userinfo = false;
        self
    }

    /// How to authenticate at the token endpoint (default [`ClientAuth::Auto`]).
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = auth;
        self
    }

    /// Limits on every request to the provider.
    pub fn http_limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Clock-skew allowance for the ID token's `exp`, in seconds (default 60).
    pub fn leeway(mut self, secs: i64) -> Self {
        self.leeway = secs.max(0);
        self
    }

    /// Refetch the metadata and keys at least this often (default 1 hour).
    pub fn metadata_max_age(mut self, d: Duration) -> Self {
        self.metadata_max_age = d;
        self
    }

    /// An ID token signed with an unknown key triggers a refetch at most
    /// this often (default 10 s).
    pub fn min_refetch_interval(mut self, d: Duration) -> Self {
        self.min_refetch_interval = d;
        self
    }

    /// The clock (tests: give it the server's clock, so that the expiry
    /// times of upstream tokens agree with the server's notion of now).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration; the provider is contacted on first use.
    pub fn build(self) -> Result<OidcUpstream, ConfigError> {
        let url = url::Url::parse(&self.issuer).map_err(|e| {
            ConfigError::new(
                "upstream_issuer",
                format!("`{}` is not a URL: {e}", self.issuer),
            )
        })?;
        check_provider_url(&self.issuer, "the issuer", &self.issuer)
            .map_err(|e| ConfigError::new("upstream_issuer", e.to_string()))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::new(
                "upstream_issuer",
                format!("`{}` must not have a query or fragment", self.issuer),
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(ConfigError::new(
                "upstream_client_id",
                "the client id registered at the provider is empty",
            ));
        }
        if self.groups_claim.is_empty() {
            return Err(ConfigError::new("groups_claim", "the claim name is empty"));
        }
        let http =
            UpstreamHttp::new(self.limits).map_err(|e| ConfigError::new("upstream_http", e))?;
        let id = self.id.clone().unwrap_or_else(|| self.issuer.clone());
        let display_name = self
            .display_name
            .clone()
            .unwrap_or_else(|| url.host_str().unwrap_or(&self.issuer).to_owned());
        Ok(OidcUpstream {
            inner: Arc::new(Inner {
                id,
                display_name,
                http,
                cache: RwLock::new(None),
                refetch: Mutex::new(None),
                cfg: self,
            }),
        })
    }

    /// Builds the provider and fetches its metadata and keys now, so that a
    /// wrong issuer fails at start-up.
    pub async fn discover(self) -> Result<OidcUpstream, UpstreamError> {
        let issuer = self.issuer.clone();
        let provider = self.build().map_err(|e| UpstreamError::Misconfigured {
            provider: issuer,
            detail: e.reason,
        })?;
        provider.metadata(false).await?;
        Ok(provider)
    }
}

impl OidcUpstream {
    /// A provider by issuer URL and the client id registered there.
    pub fn builder(issuer: impl Into<String>, client_id: impl Into<String>) -> OidcUpstreamBuilder {
        OidcUpstreamBuilder {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            id: None,
            display_name: None,
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            extra_params: Vec::new(),
            groups_claim: "groups".into(),
            userinfo: true,
            client_auth: ClientAuth::Auto,
            limits: HttpLimits::default(),
            leeway: 60,
            metadata_max_age: Duration::from_secs(3600),
            min_refetch_interval: Duration::from_secs(10),
            clock: Arc::new(SystemClock),
        }
    }

    /// Google (`https://accounts.google.com`): id `google`, scopes
    /// `openid email profile`. Register a "Web application" OAuth client in
    /// the Google Cloud console with the callback URL as redirect URI, and
    /// give its secret with [`OidcUpstreamBuilder::client_secret`]. Restrict
    /// who may log in with the [`LoginPolicy`](crate::upstream::LoginPolicy) (e.g. by
    /// verified email domain).
    pub fn google(client_id: impl Into<String>) -> OidcUpstreamBuilder {
        Self::builder("https://accounts.google.com", client_id)
            .id("google")
            .display_name("Google")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::UpstreamProvider;

    #[test]
    fn google_preset_and_configuration_checks() {
        let g = OidcUpstream::google("123.apps.googleusercontent.com")
            .client_secret("s")
            .build()
            .unwrap();
        assert_eq!(g.id(), "google");
        assert_eq!(g.display_name(), "Google");
        assert_eq!(g.issuer(), "https://accounts.google.com");
        assert!(g.uses_nonce());

        let generic = OidcUpstream::builder("https://idp.example/realms/one", "c")
            .build()
            .unwrap();
        assert_eq!(generic.id(), "https://idp.example/realms/one");
        assert_eq!(generic.display_name(), "idp.example");

        for (issuer, client, field) in [
            ("not a url", "c", "upstream_issuer"),
            ("http://idp.example", "c", "upstream_issuer"),
            ("https://idp.example/?tenant=1", "c", "upstream_issuer"),
            ("https://idp.example", " ", "upstream_client_id"),
        ] {
            let e = OidcUpstream::builder(issuer, client).build().unwrap_err();
            assert_eq!(e.field, field, "{issuer}: {e}");
        }
        let e = OidcUpstream::builder("https://idp.example", "c")
            .groups_claim("")
            .build()
            .unwrap_err();
        assert_eq!(e.field, "groups_claim");
    }
}
