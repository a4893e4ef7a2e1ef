//! [`AuthServer`]: the authorization server's protocol steps over a store.
//! Each step takes typed input and returns a typed outcome; the `http`
//! module turns those into responses.

use std::sync::Arc;

use crate::client::Client;
use crate::client_assertion::ClientAssertionVerifier;
use crate::config::{KeyProtectionChoice, ServerConfig};
use crate::crypto::CryptoError;
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::login::{Authenticator, StoreAuthenticator};
use crate::store::{KeyStore, Store};
use crate::token::managed::{KeyOpsError, KeyProtection, KeyRecordError, ManagedKeys};
use crate::token::{KeyRing, TokenSigner};
use crate::token_cache::TokenCacheConfig;
use crate::validate::{LocalJwtValidator, RevocationHub};

/// The authorization server: configuration, storage, user authentication
/// and token signing.
#[derive(Clone)]
pub struct AuthServer {
    pub(crate) cfg: Arc<ServerConfig>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) keys: KeyRing,
    pub(crate) signer: TokenSigner,
    pub(crate) login_throttle: crate::login_throttle::LoginThrottle,
    pub(crate) rate_limiter: Arc<crate::ratelimit::RateLimiter>,
    pub(crate) assertions: Arc<ClientAssertionVerifier>,
    /// The caches of this server's local validators, told of its revocations.
    pub(crate) revocations: Arc<RevocationHub>,
    /// Clients read from the store in the last second (unless configured off).
    pub(crate) clients: Option<Arc<crate::client::ClientCache>>,
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

/// Why an authorization server could not start.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No key-encryption key was given, and the store keeps signing keys
    /// beyond this process (give one, or opt out by name).
    #[error("no key-encryption key: {MISSING_KEK}")]
    MissingKeyEncryptionKey,
    /// The key-encryption key is not the one the store's signing keys were
    /// sealed with (or keys are stored unencrypted although one was given).
    #[error("the key-encryption key: {0}")]
    KeyEncryptionKey(String),
    /// The store's signing keys cannot be created or used.
    #[error("signing keys: {0}")]
    Keys(KeyOpsError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<KeyOpsError> for StartError {
    fn from(e: KeyOpsError) -> Self {
        match e {
            KeyOpsError::Store(e) => Self::Store(e),
            KeyOpsError::Record(
                r @ (KeyRecordError::NoKeyEncryptionKey { .. }
                | KeyRecordError::Unencrypted { .. }
                | KeyRecordError::Crypto {
                    source: CryptoError::WrongKey { .. },
                    ..
                }),
            ) => Self::KeyEncryptionKey(r.to_string()),
            other => Self::Keys(other),
        }
    }
}

const MISSING_KEK: &str = "this store keeps the signing keys beyond this process (every replica and every restart use them), so their private parts must be sealed: give a key-encryption key (32 random bytes in base64, e.g. from `openssl rand -base64 32`) with `ServerConfigBuilder::key_encryption_key`, the same on every replica, and keep it secret and apart from the store; or sign with your own key (`signing_keys`)";

impl AuthServer {
    /// An authorization server that logs users in against the store's
    /// users and signs with the keys the store holds (see
    /// [`AuthServer::start_with_authenticator`]).
    pub async fn start<S: Store + 'static>(
        cfg: Arc<ServerConfig>,
        store: Arc<S>,
    ) -> Result<Self, StartError> {
        let authenticator = Arc::new(store_authenticator(&cfg, store.clone())?);
        Self::start_with_authenticator(cfg, store, authenticator).await
    }

    /// An authorization server with your own user authentication, signing
    /// with the store's keys: the first start creates the signing key in
    /// the store, every replica sharing the store signs and validates with
    /// the same key set, a restart changes nothing for clients, and keys
    /// rotate on [`crate::config::KeyRotation`]'s schedule. Private keys are
    /// sealed with the configured key-encryption key; a store that keeps
    /// keys beyond this process refuses to start without one (or without
    /// the opt-out named as dangerous). The operator's keys
    /// ([`crate::ServerConfigBuilder::signing_keys`]) take precedence: then
    /// the store's keys are not used.
    ///
    /// Fails when the key-encryption key is missing or wrong, or the store
    /// cannot be reached.
    pub async fn start_with_authenticator<S: Store + 'static>(
        cfg: Arc<ServerConfig>,
        store: Arc<S>,
        authenticator: Arc<dyn Authenticator>,
    ) -> Result<Self, StartError> {
        let keys = match cfg.operator_keys() {
            Some(keys) => {
                KeyRing::fixed_shared(keys.clone(), cfg.key_schedule().jwks_cache_control())
            }
            None => store_keys(&cfg, store.clone()).await?,
        };
        Ok(Self::assemble(cfg, store, authenticator, keys))
    }

    /// An authorization server that logs users in against the store's
    /// users, signing with the operator's keys if configured, else with a
    /// key made for this process: not shared with other replicas, and lost
    /// at restart (tokens it signed are then refused). [`AuthServer::start`]
    /// keeps the keys in the store.
    pub fn new<S: Store + 'static>(
        cfg: Arc<ServerConfig>,
        store: Arc<S>,
    ) -> Result<Self, StoreError> {
        let authenticator = Arc::new(store_authenticator(&cfg, store.clone())?);
        Ok(Self::with_authenticator(cfg, store, authenticator))
    }

    /// An authorization server with your own user authentication, signing
    /// as [`AuthServer::new`] does.
    pub fn with_authenticator<S: Store + 'static>(
        cfg: Arc<ServerConfig>,
        store: Arc<S>,
        authenticator: Arc<dyn Authenticator>,
    ) -> Self {
        let keys = KeyRing::fixed_shared(cfg.keys.clone(), cfg.key_schedule().jwks_cache_control());
        Self::assemble(cfg, store, authenticator, keys)
    }

    fn assemble<S: Store + 'static>(
        cfg: Arc<ServerConfig>,
        store: Arc<S>,
        authenticator: Arc<dyn Authenticator>,
        keys: KeyRing,
    ) -> Self {
        let signer = TokenSigner::new(keys.clone(), cfg.issuer());
        let assertions = Arc::new(ClientAssertionVerifier::from_validated(
            cfg.client_assertion_policy.clone(),
            cfg.client_jwks_fetch.clone(),
        ));
        #[cfg(feature = "cimd")]
        let cimd = cfg
            .cimd
            .clone()
            .map(|c| Arc::new(crate::cimd::CimdResolver::new(c)));
        // Validated when the configuration was built.
        let login_throttle = crate::login_throttle::LoginThrottle::validated(
            cfg.abuse_limits().login_throttle,
            crate::ratelimit::RateClock::system(),
        );
        // Trait upcasting: a Store is a RateLimitStore.
        let limit_store: Arc<dyn crate::store::RateLimitStore> = store.clone();
        let rate_limiter = Arc::new(crate::ratelimit::RateLimiter::for_server(
            cfg.abuse_limits().rate_limits.clone(),
            limit_store,
        ));
        let clients = cfg
            .client_cache
            .then(|| Arc::new(crate::client::ClientCache::new()));
        Self {
            cfg,
            clients,
            store,
            authenticator,
            keys,
            signer,
            login_throttle,
            rate_limiter,
            assertions,
            revocations: Arc::default(),
            #[cfg(feature = "cimd")]
            cimd,
            #[cfg(feature = "upstream")]
            upstream: None,
        }
    }

    /// An authorization server whose users sign in at an upstream identity
    /// provider (GitHub, Google, any OpenID provider) instead of with a
    /// password, signing as [`AuthServer::new`] does: see
    /// [`crate::upstream`] and [`AuthServer::upstream_login`]. Fails if the
    /// login policy does not fit the configuration (a scope it names is not
    /// supported, …).
    #[cfg(feature = "upstream")]
    pub fn with_upstream<S: Store + 'static>(
        cfg: Arc<ServerConfig>,
        store: Arc<S>,
        login: crate::upstream::UpstreamLogin,
    ) -> Result<Self, crate::error::ConfigError> {
        Self::with_authenticator(cfg, store, Arc::new(NoPasswords)).upstream_login(login)
    }

    /// Signs people in at an upstream identity provider from now on,
    /// instead of with a password (which then never signs anyone in), e.g.
    /// `AuthServer::start(cfg, store).await?.upstream_login(login)?` to keep
    /// the signing keys in the store. Fails if the login policy does not fit
    /// the configuration.
    #[cfg(feature = "upstream")]
    pub fn upstream_login(
        mut self,
        login: crate::upstream::UpstreamLogin,
    ) -> Result<Self, crate::error::ConfigError> {
        let runtime = login.runtime(&self.cfg, self.store.clone())?;
        self.authenticator = Arc::new(NoPasswords);
        self.upstream = Some(Arc::new(runtime));
        Ok(self)
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

    /// The store. A client changed through it (rather than by this
    /// server's own endpoints) is seen by this server within
    /// [`CLIENT_CACHE_FRESH_FOR`](crate::client::CLIENT_CACHE_FRESH_FOR),
    /// at once with [`without_client_cache`](crate::ServerConfigBuilder::without_client_cache).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The rate limiter of the public endpoints (configured with
    /// [`crate::ServerConfigBuilder::rate_limits`]).
    pub fn rate_limiter(&self) -> &crate::ratelimit::RateLimiter {
        &self.rate_limiter
    }

    /// The signing keys in use (fixed, or following the store's key set).
    /// An immediate rotation: `server.keys().rotate(true)`.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// A validator for the tokens this server issues, bound to its default
    /// resource (and checking grant revocation unless configured otherwise),
    /// with the default validated-token cache, which this server's
    /// revocations reach at once.
    pub fn local_validator(&self) -> LocalJwtValidator {
        self.local_validator_with_cache(Some(TokenCacheConfig::default()))
    }

    /// [`AuthServer::local_validator`] with these cache limits, or no cache.
    pub fn local_validator_with_cache(&self, cache: Option<TokenCacheConfig>) -> LocalJwtValidator {
        let v = self.uncached_validator();
        match cache {
            Some(c) => v.with_token_cache(c).notified_by(&self.revocations),
            None => v,
        }
    }

    /// The local validator without a cache (for one-off checks).
    pub(crate) fn uncached_validator(&self) -> LocalJwtValidator {
        let v = LocalJwtValidator::new(
            self.keys.clone(),
            self.cfg.issuer(),
            self.cfg.resource().clone(),
            self.cfg.clock().clone(),
        )
        .without_token_cache();
        if self.cfg.check_revocation {
            // Trait upcasting: a Store is a TokenStore.
            let store: Arc<dyn crate::store::TokenStore> = self.store.clone();
            v.with_revocation_check(store)
        } else {
            v
        }
    }

    /// Revokes a grant and every token in it (an operator's action, say):
    /// the store refuses its refresh tokens from now on, this server's
    /// resource servers drop its cached access tokens at once, and every
    /// other instance sharing the store within
    /// [`MAX_STALENESS`](crate::validate::MAX_STALENESS). False if the
    /// store did not know the grant.
    pub async fn revoke_grant(&self, grant_id: &str) -> Result<bool, StoreError> {
        let found = self.store.revoke_grant(grant_id).await?;
        self.revocations.revoked(grant_id);
        Ok(found)
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
        let cached = self.clients.as_ref().and_then(|cache| cache.get(client_id));
        let c = match cached {
            Some(c) => Some(c),
            None => {
                let started = std::time::Instant::now();
                let c = self.store.get_client(client_id).await?;
                if let (Some(cache), Some(c)) = (&self.clients, &c) {
                    cache.put(c, started);
                }
                c
            }
        };
        let now = self.now();
        Ok(c.filter(|c| c.active && c.expires_at.is_none_or(|e| e > now)))
    }

    /// Keeps a client this server has just registered for its next steps.
    pub(crate) fn remember_client(&self, client: &Client, written_at: std::time::Instant) {
        if let Some(cache) = &self.clients {
            cache.put(client, written_at);
        }
    }

    /// Drops the cached copy of a client this server has just changed.
    pub(crate) fn forget_client(&self, client_id: &str) {
        if let Some(cache) = &self.clients {
            cache.forget(client_id);
        }
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

/// The store's key set, protected as configured.
async fn store_keys(cfg: &ServerConfig, store: Arc<dyn KeyStore>) -> Result<KeyRing, StartError> {
    let protection = match (&cfg.key_protection, store.persists_keys()) {
        (KeyProtectionChoice::Sealed(kek), _) => KeyProtection::encrypted(kek.clone()),
        (KeyProtectionChoice::DangerouslyUnencrypted, _) => {
            KeyProtection::dangerously_unencrypted()
        }
        // Keys that never leave this process's memory (where the opened
        // keys live anyway): sealing them would protect nothing.
        (KeyProtectionChoice::Unset, false) => KeyProtection::dangerously_unencrypted(),
        (KeyProtectionChoice::Unset, true) => {
            return Err(StartError::MissingKeyEncryptionKey);
        }
    };
    let managed = ManagedKeys::new(store, protection, *cfg.key_schedule());
    Ok(KeyRing::from_store(managed, cfg.clock().clone(), cfg.key_refresh_interval).await?)
}

/// The store's users, checked on a password-hashing pool sized by the
/// configuration's abuse limits.
fn store_authenticator<S: Store + 'static>(
    cfg: &ServerConfig,
    store: Arc<S>,
) -> Result<StoreAuthenticator, StoreError> {
    let limits = cfg.abuse_limits();
    let hashing = crate::password::PasswordHashing::new(
        limits.argon2,
        limits.hashing_concurrency,
        limits.hashing_queue,
    )
    .map_err(|e| StoreError::Other(e.to_string()))?;
    StoreAuthenticator::with_hashing(store, hashing)
}
