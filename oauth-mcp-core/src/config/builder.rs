//! The builder's setters, one per value, and `build`, which validates them
//! all at start-up.

use std::sync::Arc;
use std::time::Duration;

use super::{
    PreRegisteredClient, ServerConfig, ServerConfigBuilder, clients, parse_scopes, require_subset,
    urls,
};
use crate::client::RedirectUriPolicy;
use crate::client_assertion::{AssertionPolicy, JwksFetchConfig};
use crate::clock::{SharedClock, SystemClock};
use crate::error::ConfigError;
use crate::login::{DefaultLoginUi, LoginUi};
use crate::resource::{ResourcePolicy, ResourceUri};
use crate::scope::{AllowedUsers, OFFLINE_ACCESS, ScopeSet, UserPolicy};
use crate::secret::{Secret, hash_secret};
use crate::token::{KeySet, SigningAlgorithm, SigningKey};

impl ServerConfigBuilder {
    /// The issuer, if it differs from the public URL (it must share its origin).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The path of the MCP endpoint (default `/mcp`).
    pub fn mcp_path(mut self, path: impl Into<String>) -> Self {
        self.mcp_path = path.into();
        self
    }

    /// The MCP endpoint's resource URI, if you want to state it explicitly; it
    /// must equal `<public_url><mcp_path>`.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Another resource this authorization server may issue tokens for.
    pub fn additional_resource(mut self, resource: impl Into<String>) -> Self {
        self.extra_resources.push(resource.into());
        self
    }

    /// The scopes this server knows (default `["mcp"]`).
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        scopes: I,
    ) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Scopes granted when a client asks for none (default: all supported).
    pub fn default_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.default_scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Who may log in and which scopes each user may get.
    pub fn user_policy(mut self, policy: UserPolicy) -> Self {
        self.user_policy = policy;
        self
    }

    /// Only these users may log in (`*` = anyone).
    pub fn allowed_users<I: IntoIterator<Item = S>, S: Into<String>>(mut self, users: I) -> Self {
        self.user_policy.allowed_users = AllowedUsers::from_list(users);
        self
    }

    /// The scopes `user` may be granted.
    pub fn user_scopes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        user: impl Into<String>,
        scopes: I,
    ) -> Self {
        self.user_policy
            .user_scopes
            .insert(user.into(), ScopeSet::from_scopes(scopes));
        self
    }

    /// The scopes users without their own entry may be granted.
    pub fn default_user_scopes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        scopes: I,
    ) -> Self {
        self.user_policy.default_user_scopes = Some(ScopeSet::from_scopes(scopes));
        self
    }

    /// The operator's signing keys, e.g. from a key file
    /// ([`SigningKey::from_file`]). They take precedence over the store's
    /// keys: nothing is created, rotated or read in the store. Default: the
    /// store's keys with [`crate::AuthServer::start`], or a fresh key per
    /// process with [`crate::AuthServer::new`].
    pub fn signing_keys(mut self, keys: KeySet) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Access-token lifetime (default 1 hour).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.lifetimes.access_token = ttl;
        self
    }

    /// Refresh-token lifetime (default 30 days).
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.lifetimes.refresh_token = ttl;
        self
    }

    /// Authorization-code lifetime (default 5 minutes, at most 10).
    pub fn code_ttl(mut self, ttl: Duration) -> Self {
        self.lifetimes.code = ttl;
        self
    }

    /// How long a user has to log in after /authorize (default 10 minutes).
    pub fn login_ttl(mut self, ttl: Duration) -> Self {
        self.lifetimes.login = ttl;
        self
    }

    /// Accept `code_challenge_method=plain`. PKCE `plain` protects nothing if
    /// the authorization request leaks; only for clients that cannot hash.
    pub fn dangerously_allow_plain_pkce(mut self) -> Self {
        self.allow_plain_pkce = true;
        self
    }

    /// Allow an `http://` public URL on a non-loopback host. Tokens and
    /// passwords then cross the network in clear text.
    pub fn dangerously_allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }

    /// Turn dynamic client registration (`/register`) off.
    pub fn disable_registration(mut self) -> Self {
        self.registration_enabled = false;
        self
    }

    /// Dynamically registered clients expire this long after registration
    /// (default: never).
    pub fn registered_client_ttl(mut self, ttl: Duration) -> Self {
        self.lifetimes.registered_client = Some(ttl);
        self
    }

    /// Require this initial access token (`Authorization: Bearer …`) at `/register`
    /// (RFC 7591 §3).
    pub fn registration_access_token(mut self, token: impl Into<Secret>) -> Self {
        self.registration_token = Some(token.into());
        self
    }

    /// Accept `client_id`s that are URLs of Client ID Metadata Documents (the
    /// 2026-07-28 MCP registration model), fetched with SSRF protections.
    #[cfg(feature = "cimd")]
    pub fn client_id_metadata_documents(mut self, cfg: crate::cimd::CimdConfig) -> Self {
        self.cimd = Some(cfg);
        self
    }

    /// `private_key_jwt` client assertions (RFC 7523): the farthest `exp`
    /// accepted (default 10 minutes; 1 s to 1 h) and the clock skew
    /// tolerated on `exp`, `nbf` and `iat` (default 30 s; at most 5 min).
    /// Out-of-range values fail [`ServerConfigBuilder::build`].
    pub fn client_assertion_limits(mut self, max_lifetime: Duration, leeway: Duration) -> Self {
        self.client_assertion_max_lifetime = max_lifetime;
        self.client_assertion_leeway = leeway;
        self
    }

    /// How the JWK Sets of `private_key_jwt` clients (`jwks_uri`) are
    /// fetched and cached: the SSRF-hardened fetcher's limits, cache
    /// lifetimes (feature `cimd`).
    pub fn client_jwks_fetch(mut self, cfg: JwksFetchConfig) -> Self {
        self.client_jwks_fetch = cfg;
        self
    }

    /// Restrict redirect URIs (at registration and at authorization).
    pub fn redirect_uri_policy(mut self, policy: impl RedirectUriPolicy + 'static) -> Self {
        self.redirect_policy = Some(Arc::new(policy));
        self
    }

    /// Adds an operator-created client.
    pub fn client(mut self, client: PreRegisteredClient) -> Self {
        self.clients.push(client);
        self
    }

    /// The clock (tests use [`crate::clock::ManualClock`]).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Request body limit for the OAuth endpoints and the MCP scope check (default 64 KiB).
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// The name shown on the login page.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = name.into();
        self
    }

    /// The look of the default pages: product name, logo, accent colour,
    /// support link (validated at build).
    pub fn branding(mut self, branding: crate::login::Branding) -> Self {
        self.branding = branding;
        self
    }

    /// What `scope` allows, in words, shown beside it on the consent page.
    pub fn scope_description(mut self, scope: impl Into<String>, text: impl Into<String>) -> Self {
        self.scope_descriptions.insert(scope.into(), text.into());
        self
    }

    /// Replace the login, consent and error pages (default:
    /// [`crate::login::DefaultLoginUi`] with the configured branding).
    pub fn login_ui(mut self, ui: impl LoginUi + 'static) -> Self {
        self.login_ui = Some(Arc::new(ui));
        self
    }

    /// Skip the check that a token's grant is not revoked: the resource
    /// server then trusts a token until its `exp` even after the grant was
    /// revoked (code replay, refresh-token reuse, `/revoke`, an operator).
    /// Insecure unless access tokens are very short-lived.
    pub fn dangerously_skip_revocation_check(mut self) -> Self {
        self.check_revocation = false;
        self
    }

    /// Look every client up in the store, at every step. By default a
    /// client read from the store (or registered) serves this server's
    /// lookups for [`CLIENT_CACHE_FRESH_FOR`](crate::client::CLIENT_CACHE_FRESH_FOR)
    /// (one second; a registration and its `/authorize`, a login and its
    /// code exchange, come that close), so that a change made to a client
    /// outside this server (another replica, an operator editing the
    /// store) takes effect within that second, as a revocation does.
    /// Changes this server makes itself take effect at once either way.
    pub fn without_client_cache(mut self) -> Self {
        self.client_cache = false;
        self
    }

    /// Validates everything and freezes the configuration.
    pub fn build(self) -> Result<Arc<ServerConfig>, ConfigError> {
        let urls = urls::derive(&urls::UrlInput {
            public_url: &self.public_url,
            issuer: self.issuer.as_deref(),
            mcp_path: &self.mcp_path,
            resource: self.resource.as_deref(),
            allow_insecure_http: self.allow_insecure_http,
        })?;
        let mut resources = ResourcePolicy::new(urls.resource.clone());
        for r in &self.extra_resources {
            let parsed = ResourceUri::parse(r)
                .map_err(|e| ConfigError::new("additional_resource", e.to_string()))?;
            if parsed.as_str() == urls.issuer {
                return Err(ConfigError::new(
                    "additional_resource",
                    format!(
                        "`{r}` is the authorization server itself; tokens must be issued for resources, not for the issuer"
                    ),
                ));
            }
            resources = resources.with_resource(parsed);
        }

        let supported = parse_scopes("scopes_supported", &self.scopes_supported)?;
        let default_scopes = match &self.default_scopes {
            Some(d) => parse_scopes("default_scopes", d)?,
            None => supported.without(OFFLINE_ACCESS),
        };
        require_subset(
            "default_scopes",
            "the default scopes are",
            &default_scopes,
            &supported,
        )?;
        for (user, s) in &self.user_policy.user_scopes {
            require_subset(
                "user_scopes",
                &format!("user `{user}` is given"),
                s,
                &supported,
            )?;
        }
        if let Some(s) = &self.user_policy.default_user_scopes {
            require_subset("default_user_scopes", "users are given", s, &supported)?;
        }

        for scope in self.scope_descriptions.keys() {
            if !supported.contains(scope) {
                return Err(ConfigError::new(
                    "scope_description",
                    format!("`{scope}` is described but not in scopes_supported `{supported}`"),
                ));
            }
        }
        let login_ui: Arc<dyn LoginUi> = match self.login_ui {
            Some(ui) => ui,
            None => {
                let brand = self.branding.resolve(&self.server_name)?;
                Arc::new(DefaultLoginUi::new(brand).map_err(|e| {
                    ConfigError::new(
                        "login_ui",
                        format!("the default templates do not load: {e}"),
                    )
                })?)
            }
        };
        let lifetimes = self.lifetimes.validate()?;
        self.abuse.validate()?;
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::new("max_body_bytes", "must be at least 1024"));
        }
        let registration_token_hash = match &self.registration_token {
            Some(t) if t.secret().len() < 16 => {
                return Err(ConfigError::new(
                    "registration_access_token",
                    "must be at least 16 characters",
                ));
            }
            Some(t) => Some(hash_secret(t.secret())),
            None => None,
        };
        let client_assertion_policy = AssertionPolicy::new(
            format!("{}{}/token", urls.origin, urls.issuer_path),
            urls.issuer.clone(),
        )
        .max_lifetime(self.client_assertion_max_lifetime)
        .leeway(self.client_assertion_leeway);
        client_assertion_policy.validate()?;
        self.client_jwks_fetch.validate()?;
        #[cfg(feature = "cimd")]
        if let Some(cimd) = &self.cimd {
            cimd.validate()?;
        }
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let clients = clients::pre_registered(self.clients, clock.now())?;
        let (key_schedule, key_refresh_interval) =
            self.key_rotation.validate(lifetimes.access_token)?;
        let operator_keys = self.keys.is_some();
        let keys = match self.keys {
            Some(k) => k,
            None => KeySet::new(
                SigningKey::generate(SigningAlgorithm::Es256)
                    .map_err(|e| ConfigError::new("signing_keys", e.to_string()))?,
            ),
        };

        Ok(Arc::new(ServerConfig {
            issuer: urls.issuer,
            issuer_path: urls.issuer_path,
            origin: urls.origin,
            resources,
            scopes_supported: supported,
            default_scopes,
            user_policy: self.user_policy,
            keys: Arc::new(keys),
            operator_keys,
            key_protection: self.key_protection,
            key_schedule,
            key_refresh_interval,
            access_token_ttl: lifetimes.access_token,
            refresh_token_ttl: lifetimes.refresh_token,
            code_ttl: lifetimes.code,
            login_ttl: lifetimes.login,
            allow_plain_pkce: self.allow_plain_pkce,
            registration_enabled: self.registration_enabled,
            redirect_policy: self.redirect_policy,
            clients,
            clock,
            max_body_bytes: self.max_body_bytes,
            server_name: self.server_name,
            scope_descriptions: self.scope_descriptions,
            login_ui,
            check_revocation: self.check_revocation,
            client_cache: self.client_cache,
            registered_client_ttl: lifetimes.registered_client,
            registration_token_hash,
            abuse: self.abuse,
            client_assertion_policy,
            client_jwks_fetch: self.client_jwks_fetch,
            #[cfg(feature = "cimd")]
            cimd: self.cimd,
        }))
    }
}
