//! Server configuration: a builder whose `build` validates every value once,
//! at start-up, and checks that the public URL, MCP endpoint, resource,
//! audience and issuer agree. After that nothing in it can be missing.

mod abuse;
mod builder;
mod clients;
mod keys;
mod scopes;
mod ttl;
mod urls;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::client::{Client, RedirectUriPolicy, SharedRedirectPolicy};
use crate::client_assertion::{AssertionPolicy, JwksFetchConfig};
use crate::clock::SharedClock;
use crate::login::LoginUi;
use crate::resource::{ResourcePolicy, ResourceUri};
use crate::scope::{ScopeSet, UserPolicy};
use crate::secret::Secret;
use crate::token::KeySet;
use crate::token::rotation::KeySchedule;

pub use abuse::AbuseLimits;
pub use clients::PreRegisteredClient;
pub(crate) use keys::KeyProtectionChoice;
pub use keys::KeyRotation;
pub(crate) use scopes::{parse_scopes, require_subset};

/// Builds a [`ServerConfig`]. Every field has a secure default except the
/// public URL.
///
/// ```
/// use oauth_mcp_core::config::ServerConfig;
/// let cfg = ServerConfig::builder("https://mcp.example.com")
///     .scopes_supported(["mcp", "admin"])
///     .default_scopes(["mcp"])
///     .build()
///     .unwrap();
/// assert_eq!(cfg.resource().as_str(), "https://mcp.example.com/mcp");
/// assert_eq!(cfg.issuer(), "https://mcp.example.com");
/// ```
#[must_use]
#[derive(Debug, Clone)]
pub struct ServerConfigBuilder {
    public_url: String,
    issuer: Option<String>,
    mcp_path: String,
    resource: Option<String>,
    extra_resources: Vec<String>,
    scopes_supported: Vec<String>,
    default_scopes: Option<Vec<String>>,
    user_policy: UserPolicy,
    keys: Option<KeySet>,
    key_protection: KeyProtectionChoice,
    key_rotation: KeyRotation,
    lifetimes: ttl::LifetimeInput,
    allow_plain_pkce: bool,
    allow_insecure_http: bool,
    registration_enabled: bool,
    redirect_policy: Option<SharedRedirectPolicy>,
    clients: Vec<PreRegisteredClient>,
    clock: Option<SharedClock>,
    max_body_bytes: usize,
    server_name: String,
    branding: crate::login::Branding,
    scope_descriptions: HashMap<String, String>,
    login_ui: Option<Arc<dyn LoginUi>>,
    check_revocation: bool,
    client_cache: bool,
    registration_token: Option<Secret>,
    abuse: AbuseLimits,
    client_assertion_max_lifetime: Duration,
    client_assertion_leeway: Duration,
    client_jwks_fetch: JwksFetchConfig,
    #[cfg(feature = "cimd")]
    cimd: Option<crate::cimd::CimdConfig>,
}

/// The validated, immutable configuration.
#[derive(Debug)]
pub struct ServerConfig {
    pub(crate) issuer: String,
    pub(crate) issuer_path: String,
    pub(crate) origin: String,
    pub(crate) resources: ResourcePolicy,
    pub(crate) scopes_supported: ScopeSet,
    pub(crate) default_scopes: ScopeSet,
    pub(crate) user_policy: UserPolicy,
    /// The operator's keys, else a key made for this process (what
    /// [`crate::AuthServer::new`] signs with).
    pub(crate) keys: Arc<KeySet>,
    pub(crate) operator_keys: bool,
    pub(crate) key_protection: KeyProtectionChoice,
    pub(crate) key_schedule: KeySchedule,
    pub(crate) key_refresh_interval: i64,
    pub(crate) access_token_ttl: i64,
    pub(crate) refresh_token_ttl: i64,
    pub(crate) code_ttl: i64,
    pub(crate) login_ttl: i64,
    pub(crate) allow_plain_pkce: bool,
    pub(crate) registration_enabled: bool,
    pub(crate) redirect_policy: Option<SharedRedirectPolicy>,
    pub(crate) clients: HashMap<String, Client>,
    pub(crate) clock: SharedClock,
    pub(crate) max_body_bytes: usize,
    pub(crate) server_name: String,
    pub(crate) scope_descriptions: HashMap<String, String>,
    pub(crate) login_ui: Arc<dyn LoginUi>,
    pub(crate) check_revocation: bool,
    /// Stored clients serve the next second's lookups from memory.
    pub(crate) client_cache: bool,
    pub(crate) registered_client_ttl: Option<i64>,
    pub(crate) registration_token_hash: Option<String>,
    pub(crate) abuse: AbuseLimits,
    pub(crate) client_assertion_policy: AssertionPolicy,
    pub(crate) client_jwks_fetch: JwksFetchConfig,
    #[cfg(feature = "cimd")]
    pub(crate) cimd: Option<crate::cimd::CimdConfig>,
}

impl ServerConfig {
    /// Starts a configuration for a server reachable at `public_url` (the
    /// issuer; the MCP endpoint defaults to `<public_url>/mcp`).
    pub fn builder(public_url: impl Into<String>) -> ServerConfigBuilder {
        ServerConfigBuilder {
            public_url: public_url.into(),
            issuer: None,
            mcp_path: "/mcp".into(),
            resource: None,
            extra_resources: Vec::new(),
            scopes_supported: vec!["mcp".into()],
            default_scopes: None,
            user_policy: UserPolicy::default(),
            keys: None,
            key_protection: KeyProtectionChoice::Unset,
            key_rotation: KeyRotation::default(),
            lifetimes: ttl::LifetimeInput::default(),
            allow_plain_pkce: false,
            allow_insecure_http: false,
            registration_enabled: true,
            redirect_policy: None,
            clients: Vec::new(),
            clock: None,
            max_body_bytes: 64 * 1024,
            server_name: "MCP server".into(),
            branding: crate::login::Branding::default(),
            scope_descriptions: HashMap::new(),
            login_ui: None,
            check_revocation: true,
            client_cache: true,
            registration_token: None,
            abuse: AbuseLimits::default(),
            client_assertion_max_lifetime: Duration::from_secs(600),
            client_assertion_leeway: Duration::from_secs(30),
            client_jwks_fetch: JwksFetchConfig::default(),
            #[cfg(feature = "cimd")]
            cimd: None,
        }
    }

    /// The issuer identifier (also the PRM `authorization_servers` entry, byte for byte).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The MCP endpoint's canonical URI: the default token audience.
    pub fn resource(&self) -> &ResourceUri {
        self.resources.default_resource()
    }

    /// The resources tokens may be issued for.
    pub fn resources(&self) -> &ResourcePolicy {
        &self.resources
    }

    /// Supported scopes.
    pub fn scopes_supported(&self) -> &ScopeSet {
        &self.scopes_supported
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The path of one of this server's endpoints (`/authorize`, `/token`, …)
    /// under the issuer's path.
    pub fn endpoint_path(&self, endpoint: &str) -> String {
        format!("{}{}", self.issuer_path, endpoint)
    }

    /// The absolute URL of one of this server's endpoints.
    pub fn endpoint_url(&self, endpoint: &str) -> String {
        format!("{}{}", self.origin, self.endpoint_path(endpoint))
    }

    /// The origin (`scheme://host[:port]`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The issuer's path ("" at the root).
    pub fn issuer_path(&self) -> &str {
        &self.issuer_path
    }

    /// Whether `plain` PKCE is accepted.
    pub fn plain_pkce_allowed(&self) -> bool {
        self.allow_plain_pkce
    }

    /// Whether `/register` is served.
    pub fn registration_enabled(&self) -> bool {
        self.registration_enabled
    }

    /// The redirect-URI policy, if any.
    pub fn redirect_policy(&self) -> Option<&dyn RedirectUriPolicy> {
        self.redirect_policy.as_deref()
    }

    /// The user policy.
    pub fn user_policy(&self) -> &UserPolicy {
        &self.user_policy
    }

    /// The name shown on the login page.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// The description of `scope` shown on the consent page, if configured.
    pub fn scope_description(&self, scope: &str) -> Option<&str> {
        self.scope_descriptions.get(scope).map(String::as_str)
    }

    /// The pages of the authorization endpoint.
    pub fn login_ui(&self) -> &Arc<dyn LoginUi> {
        &self.login_ui
    }

    /// The request body limit, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// True if URL client ids (Client ID Metadata Documents) are accepted.
    pub fn client_id_metadata_documents_enabled(&self) -> bool {
        #[cfg(feature = "cimd")]
        {
            self.cimd.is_some()
        }
        #[cfg(not(feature = "cimd"))]
        {
            false
        }
    }

    /// How `private_key_jwt` client assertions are checked (accepted
    /// audiences: the token endpoint URL and the issuer).
    pub fn client_assertion_policy(&self) -> &AssertionPolicy {
        &self.client_assertion_policy
    }

    /// A client configured by the operator.
    pub fn pre_registered_client(&self, client_id: &str) -> Option<&Client> {
        self.clients.get(client_id)
    }
}

#[cfg(test)]
mod tests;
