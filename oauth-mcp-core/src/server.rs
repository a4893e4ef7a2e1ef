//! [`AuthServer`]: the authorization server's protocol steps over a store.
//! Each step takes typed input and returns a typed outcome; the `http`
//! module turns those into responses.

use std::sync::Arc;

use crate::client::Client;
use crate::config::ServerConfig;
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::login::{Authenticator, StoreAuthenticator};
use crate::store::Store;
use crate::token::TokenSigner;
use crate::validate::LocalJwtValidator;

/// The authorization server: configuration, storage, user authentication
/// and token signing.
#[derive(Clone)]
pub struct AuthServer {
    pub(crate) cfg: Arc<ServerConfig>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) signer: TokenSigner,
    #[cfg(feature = "cimd")]
    pub(crate) cimd: Option<Arc<crate::cimd::CimdResolver>>,
    /// Set when people sign in at an upstream identity provider.
    #[cfg(feature = "upstream")]
    pub(crate) upstream: Option<Arc<crate::upstream::UpstreamRuntime>>,
}

/// The authenticator of a server whose users sign in upstream: the password
/// form is never shown, and a posted password never signs anyone in.
#[cfg(feature = "upstream")]
struct NoPasswords;

#[cfg(feature = "upstream")]
#[async_trait::async_trait]
impl Authenticator for NoPasswords {
    async fn authenticate(
        &self,
        _username: &str,
        _password: &crate::secret::Secret,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}

impl std::fmt::Debug for AuthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthServer")
            .field("issuer", &self.cfg.issuer())
            .finish_non_exhaustive()
    }
}

impl AuthServer {
    /// An authorization server that logs users in against the store's users.
    pub fn new<S: Store + 'static>(
        cfg: Arc<ServerConfig>,
        store: Arc<S>,
    ) -> Result<Self, StoreError> {
        let authenticator = Arc::new(StoreAuthenticator::new(store.clone())?);
        Ok(Self::with_authenticator(cfg, store, authenticator))
    }

    /// An authorization server with your own user authentication.
    pub fn with_authenticator<S: Store + 'static>(
        cfg: Arc<ServerConfig>,
        store: Arc<S>,
        authenticator: Arc<dyn Authenticator>,
    ) -> Self {
        let signer = TokenSigner::new(cfg.keys().clone(), cfg.issuer());
        #[cfg(feature = "cimd")]
        let cimd = cfg
            .cimd
            .clone()
            .map(|c| Arc::new(crate::cimd::CimdResolver::new(c)));
        Self {
            cfg,
            store,
            authenticator,
            signer,
            #[cfg(feature = "cimd")]
            cimd,
            #[cfg(feature = "upstream")]
            upstream: None,
        }
    }

    /// An authorization server whose users sign in at an upstream identity
    /// provider (GitHub, Google, any OpenID provider) instead of with a
    /// password: see [`crate::upstream`]. Fails if the login policy does not
    /// fit the configuration (a scope it names is not supported, …).
    #[cfg(feature = "upstream")]
    pub fn with_upstream<S: Store + 'static>(
        cfg: Arc<ServerConfig>,
        store: Arc<S>,
        login: crate::upstream::UpstreamLogin,
    ) -> Result<Self, crate::error::ConfigError> {
        let runtime = login.runtime(&cfg, store.clone())?;
        let mut server = Self::with_authenticator(cfg, store, Arc::new(NoPasswords));
        server.upstream = Some(Arc::new(runtime));
        Ok(server)
    }

    /// The upstream callback URL to register at the identity provider
    /// (`<public-url>/upstream/callback`), if people sign in upstream.
    #[cfg(feature = "upstream")]
    pub fn upstream_callback_url(&self) -> Option<String> {
        self.upstream
            .as_ref()
            .map(|u| u.sign_in.callback_url().to_owned())
    }

    /// The users' upstream tokens, if the upstream login keeps them
    /// ([`UpstreamLogin::keep_upstream_tokens`](crate::upstream::UpstreamLogin::keep_upstream_tokens)):
    /// tools get the caller's upstream access token from here, by the
    /// subject of the request's own validated token.
    #[cfg(feature = "upstream")]
    pub fn upstream_tokens(&self) -> Option<&crate::upstream::UpstreamTokenVault> {
        self.upstream.as_ref().and_then(|u| u.vault.as_ref())
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.cfg
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// A validator for the tokens this server issues, bound to its default
    /// resource (and checking grant revocation unless configured otherwise).
    pub fn local_validator(&self) -> LocalJwtValidator {
        let v = LocalJwtValidator::new(
            self.cfg.keys().clone(),
            self.cfg.issuer(),
            self.cfg.resource().clone(),
            self.cfg.clock().clone(),
        );
        if self.cfg.check_revocation {
            // Trait upcasting: a Store is a TokenStore.
            let store: Arc<dyn crate::store::TokenStore> = self.store.clone();
            v.with_revocation_check(store)
        } else {
            v
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.cfg.clock().now()
    }

    /// Looks a client up: operator-configured clients first, then the store.
    /// Inactive or expired clients are treated as unknown.
    pub async fn find_client(&self, client_id: &str) -> Result<Option<Client>, OAuthError> {
        if let Some(c) = self.cfg.pre_registered_client(client_id) {
            return Ok(Some(c.clone()));
        }
        #[cfg(feature = "cimd")]
        if let Some(resolver) = &self.cimd
            && crate::cimd::is_document_client_id(client_id)
        {
            return match resolver.resolve(client_id, self.now()).await {
                Ok(c) => Ok(Some(c)),
                Err(e) => {
                    crate::events::AuditEvent::CimdRefused {
                        client_id,
                        reason: &e.reason,
                    }
                    .emit();
                    Err(OAuthError::invalid_client(format!(
                        "the client metadata document at `{client_id}` cannot be used; the server's log says why"
                    )))
                }
            };
        }
        let c = self.store.get_client(client_id).await?;
        let now = self.now();
        Ok(c.filter(|c| c.active && c.expires_at.is_none_or(|e| e > now)))
    }

    pub(crate) fn unknown_client(client_id: &str) -> OAuthError {
        OAuthError::new(
            ErrorCode::InvalidClient,
            format!(
                "unknown client_id `{client_id}`; register the client first (POST /register) or check the id"
            ),
        )
    }
}
