//! [`UpstreamLogin`]: upstream login as the embedded authorization server's
//! way of signing people in, instead of the password form
//! ([`AuthServer::with_upstream`](crate::AuthServer::with_upstream)).
//!
//! What the person sees: `/authorize` shows this server's consent page
//! (client name, where the result goes, the scopes) — unless this browser
//! already consented to that client as the same user — then sends them to
//! the provider; the provider sends them back to `<public-url>/upstream/callback`,
//! where the login policy decides and this server issues its own code (and
//! later its own tokens, for its own audience).

use std::sync::Arc;
use std::time::Duration;

use super::UpstreamProvider;
use super::flow::UpstreamSignIn;
use super::identity::SubjectMapping;
use super::policy::LoginPolicy;
use super::vault::UpstreamTokenVault;
use crate::config::ServerConfig;
use crate::crypto::KeyEncryptionKey;
use crate::error::ConfigError;
use crate::store::Store;

/// The callback path, under the public URL.
pub const CALLBACK_PATH: &str = "/upstream/callback";

/// How the embedded authorization server signs people in at an upstream
/// identity provider. Every setting has a safe default; the login policy's
/// default admits nobody (see [`LoginPolicy`]).
///
/// ```
/// use std::sync::Arc;
/// use oauth_mcp_core::{AuthServer, ServerConfig};
/// use oauth_mcp_core::store::MemoryStore;
/// use oauth_mcp_core::upstream::{GitHubUpstream, LoginPolicy, Principals, UpstreamLogin};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cfg = ServerConfig::builder("https://mcp.example.com")
///     .scopes_supported(["mcp", "admin"])
///     .build()?;
/// let github = GitHubUpstream::builder("Iv1.0123456789abcdef")
///     .client_secret("the app's client secret")
///     .build()?;
/// let login = UpstreamLogin::new(github).policy(
///     LoginPolicy::new()
///         .allow(Principals::new().users(["alice", "bob"]))
///         .scope_users("admin", Principals::new().users(["alice"])),
/// );
/// let server = AuthServer::with_upstream(cfg, Arc::new(MemoryStore::new()), login)?;
/// assert_eq!(
///     server.upstream_callback_url().as_deref(),
///     Some("https://mcp.example.com/upstream/callback")
/// );
/// # Ok(()) }
/// ```
#[must_use]
#[derive(Clone)]
pub struct UpstreamLogin {
    provider: Arc<dyn UpstreamProvider>,
    policy: LoginPolicy,
    subjects: SubjectMapping,
    flow_ttl: Duration,
    consent_ttl: Duration,
    session_ttl: Duration,
    token_key: Option<KeyEncryptionKey>,
}

impl std::fmt::Debug for UpstreamLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamLogin")
            .field("provider", &self.provider.id())
            .field("policy", &self.policy)
            .field("keeps_tokens", &self.token_key.is_some())
            .finish_non_exhaustive()
    }
}

impl UpstreamLogin {
    /// Sign-in at `provider`, with the default (admit nobody) policy.
    pub fn new(provider: impl UpstreamProvider + 'static) -> Self {
        Self::with_provider(Arc::new(provider))
    }

    /// Sign-in at a shared provider.
    pub fn with_provider(provider: Arc<dyn UpstreamProvider>) -> Self {
        Self {
            provider,
            policy: LoginPolicy::default(),
            subjects: SubjectMapping::default(),
            flow_ttl: Duration::from_secs(600),
            consent_ttl: Duration::from_secs(30 * 86_400),
            session_ttl: Duration::from_secs(30 * 86_400),
            token_key: None,
        }
    }

    /// Who may log in and which scopes each user gets.
    pub fn policy(mut self, policy: LoginPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How upstream identities map to the `sub` of this server's tokens
    /// (default `<provider id>|<upstream id>`).
    pub fn subject_mapping(mut self, mapping: SubjectMapping) -> Self {
        self.subjects = mapping;
        self
    }

    /// How long a person may take at the provider (default 10 minutes;
    /// 1 to 60 minutes).
    pub fn flow_ttl(mut self, ttl: Duration) -> Self {
        self.flow_ttl = ttl;
        self
    }

    /// How long a consent is remembered (default 30 days; at most a year).
    pub fn consent_ttl(mut self, ttl: Duration) -> Self {
        self.consent_ttl = ttl;
        self
    }

    /// How long a browser is remembered as the user who signed in there,
    /// to skip the consent page for clients that user approved (default 30
    /// days; at most a year). The upstream sign-in itself is never skipped.
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// Keep the user's upstream tokens, sealed with `kek`, so that tools can
    /// call the provider's API on the user's behalf
    /// ([`AuthServer::upstream_tokens`](crate::AuthServer::upstream_tokens)).
    /// Off by default: then upstream tokens are dropped after the login.
    pub fn keep_upstream_tokens(mut self, kek: KeyEncryptionKey) -> Self {
        self.token_key = Some(kek);
        self
    }

    /// The provider.
    pub fn provider(&self) -> &Arc<dyn UpstreamProvider> {
        &self.provider
    }

    /// The login policy.
    pub fn login_policy(&self) -> &LoginPolicy {
        &self.policy
    }

    /// Checks the settings against the server's configuration (once, at
    /// start-up) and prepares the sign-in machinery.
    pub(crate) fn runtime(
        self,
        cfg: &ServerConfig,
        store: Arc<dyn Store>,
    ) -> Result<UpstreamRuntime, ConfigError> {
        self.policy.validate(cfg.scopes_supported())?;
        let secs = |field: &'static str, d: Duration, min: u64, max: u64| {
            let s = d.as_secs();
            if s < min || s > max {
                Err(ConfigError::new(
                    field,
                    format!("{s} s is outside {min}..={max} s"),
                ))
            } else {
                Ok(s as i64)
            }
        };
        let flow_ttl = secs("upstream.flow_ttl", self.flow_ttl, 60, 3600)?;
        let consent_ttl = secs("upstream.consent_ttl", self.consent_ttl, 1, 366 * 86_400)?;
        let session_ttl = secs("upstream.session_ttl", self.session_ttl, 1, 366 * 86_400)?;
        let callback_url = cfg.endpoint_url(CALLBACK_PATH);
        let sign_in = UpstreamSignIn::new(self.provider.clone(), store.clone(), callback_url)
            .flow_ttl(flow_ttl)
            .clock(cfg.clock().clone());
        let vault = self.token_key.map(|kek| {
            UpstreamTokenVault::new(kek, store, self.provider.clone(), cfg.clock().clone())
        });
        Ok(UpstreamRuntime {
            sign_in,
            policy: self.policy,
            subjects: self.subjects,
            consent_ttl,
            session_ttl,
            vault,
        })
    }
}

/// The validated upstream login of a running server.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamRuntime {
    pub(crate) sign_in: UpstreamSignIn,
    pub(crate) policy: LoginPolicy,
    pub(crate) subjects: SubjectMapping,
    pub(crate) consent_ttl: i64,
    pub(crate) session_ttl: i64,
    pub(crate) vault: Option<UpstreamTokenVault>,
}
