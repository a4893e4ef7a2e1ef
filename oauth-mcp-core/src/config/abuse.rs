//! The abuse limits of a [`ServerConfig`]: rate limits, login throttling
//! and the bounded password-hashing pool (on by default; tune them here).

use crate::error::ConfigError;
use crate::login_throttle::{LoginThrottle, LoginThrottleConfig};
use crate::password::Argon2Params;
use crate::ratelimit::RateLimitConfig;

use super::{ServerConfig, ServerConfigBuilder};

/// Limits on what strangers can make the server do. Every one is on by
/// default.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbuseLimits {
    /// Requests per client address (and per authenticated client) on the
    /// public endpoints; see [`RateLimitConfig::default`].
    pub rate_limits: RateLimitConfig,
    /// Failed-login limits per pending request and per username.
    pub login_throttle: LoginThrottleConfig,
    /// argon2id parameters for new password hashes (at least OWASP's minimum).
    pub argon2: Argon2Params,
    /// Password checks that run at once (each holds `argon2.memory_kib` of
    /// memory); default: the CPU count, at most 4.
    pub hashing_concurrency: usize,
    /// Password checks that may wait for one of those; past that a login is
    /// answered 503 with `Retry-After`. Default 64.
    pub hashing_queue: usize,
    /// The longest `state` an authorization request may carry (it is stored
    /// with the pending request); longer ones are refused with
    /// `invalid_request`. Default 1024 bytes.
    pub max_state_bytes: usize,
    /// How often the library purges expired records (default 60 s).
    pub purge_every: std::time::Duration,
    /// Pending authorization requests (people between `GET /authorize` and
    /// the login) one client may have at once; past that, new ones are
    /// refused with `temporarily_unavailable` and the waiting ones are
    /// kept. Default 1,000.
    pub max_pending_per_client: u32,
    /// Pending authorization requests the server holds at once (about
    /// 1 KiB each); past that, new ones are refused as above. Default 10,000.
    pub max_pending_total: u32,
    /// A dynamically registered client that has not completed a token
    /// request this long after registering is removed (by the purge, on
    /// every store); after its first token it keeps the registration
    /// lifetime. `None` keeps unused registrations. Default 7 days.
    pub unused_registration_ttl: Option<std::time::Duration>,
}

impl Default for AbuseLimits {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            rate_limits: RateLimitConfig::default(),
            login_throttle: LoginThrottleConfig::default(),
            argon2: Argon2Params::OWASP_MINIMUM,
            hashing_concurrency: cpus.clamp(1, 4),
            hashing_queue: 64,
            max_state_bytes: 1024,
            purge_every: std::time::Duration::from_secs(60),
            max_pending_per_client: 1_000,
            max_pending_total: 10_000,
            unused_registration_ttl: Some(std::time::Duration::from_secs(7 * 24 * 3600)),
        }
    }
}

impl AbuseLimits {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.rate_limits.validate()?;
        LoginThrottle::new(self.login_throttle)?;
        self.argon2.validate()?;
        if !(1..=256).contains(&self.hashing_concurrency) {
            return Err(ConfigError::new(
                "password_hashing_concurrency",
                format!(
                    "{} concurrent password checks; use 1 to 256 (each holds {} KiB while it runs)",
                    self.hashing_concurrency, self.argon2.memory_kib
                ),
            ));
        }
        if self.purge_every < std::time::Duration::from_secs(1)
            || self.purge_every > std::time::Duration::from_secs(3600)
        {
            return Err(ConfigError::new(
                "purge_every",
                format!(
                    "{:?}; use 1 second to 1 hour (default 60 s)",
                    self.purge_every
                ),
            ));
        }
        if !(64..=64 * 1024).contains(&self.max_state_bytes) {
            return Err(ConfigError::new(
                "max_state_bytes",
                format!(
                    "{} bytes; use 64 to 65536 (default 1024): clients send 16 to a few hundred",
                    self.max_state_bytes
                ),
            ));
        }
        if self.max_pending_per_client == 0 || self.max_pending_total < self.max_pending_per_client
        {
            return Err(ConfigError::new(
                "max_pending",
                format!(
                    "{} per client, {} in total; allow at least 1 per client, and at least as many in total (defaults 1000 and 10000)",
                    self.max_pending_per_client, self.max_pending_total
                ),
            ));
        }
        if let Some(ttl) = self.unused_registration_ttl
            && ttl < std::time::Duration::from_secs(3600)
        {
            return Err(ConfigError::new(
                "unused_registration_ttl",
                format!(
                    "{ttl:?}; give a client at least an hour to finish its first login (default 7 days), or keep unused registrations with `None`"
                ),
            ));
        }
        Ok(())
    }
}

impl ServerConfigBuilder {
    /// At most `per_client` pending authorization requests per client and
    /// `total` in all (defaults 1,000 and 10,000); past either, a new
    /// request is refused with `temporarily_unavailable`.
    pub fn max_pending(mut self, per_client: u32, total: u32) -> Self {
        self.abuse.max_pending_per_client = per_client;
        self.abuse.max_pending_total = total;
        self
    }

    /// How long a dynamically registered client may stay without
    /// completing a token request before it is removed (default 7 days;
    /// `None` keeps unused registrations).
    pub fn unused_registration_ttl(mut self, ttl: Option<std::time::Duration>) -> Self {
        self.abuse.unused_registration_ttl = ttl;
        self
    }

    /// The rate limits of `/register`, `/token`, `/authorize`, `/revoke`
    /// and `/introspect` (on by default: [`RateLimitConfig::default`]),
    /// the proxies whose forwarding header names the client address, and
    /// whether the buckets live in the store
    /// ([`RateLimitConfig::in_store`], for replicas sharing PostgreSQL).
    ///
    /// ```
    /// use oauth_mcp_core::ServerConfig;
    /// use oauth_mcp_core::ratelimit::{Endpoint, ForwardedHeader, Limit, RateLimitConfig, TrustedProxies};
    /// let limits = RateLimitConfig::default()
    ///     .limit(Endpoint::Register, Limit::per_hour(20))
    ///     .trusted_proxies(TrustedProxies::new(ForwardedHeader::XForwardedFor, ["10.0.0.0/8"]).unwrap())
    ///     .in_store();
    /// let cfg = ServerConfig::builder("https://mcp.example.com").rate_limits(limits).build().unwrap();
    /// assert!(cfg.abuse_limits().rate_limits.is_in_store());
    /// ```
    pub fn rate_limits(mut self, cfg: RateLimitConfig) -> Self {
        self.abuse.rate_limits = cfg;
        self
    }

    /// Failed-login limits (default: 10 attempts per pending request; per
    /// username 5 failures, then one a minute).
    pub fn login_throttle(mut self, cfg: LoginThrottleConfig) -> Self {
        self.abuse.login_throttle = cfg;
        self
    }

    /// argon2id parameters for new password hashes; weaker than OWASP's
    /// minimum fails at build.
    pub fn argon2_params(mut self, params: Argon2Params) -> Self {
        self.abuse.argon2 = params;
        self
    }

    /// How many password checks run at once, and how many may wait.
    pub fn password_hashing(mut self, concurrency: usize, queue: usize) -> Self {
        self.abuse.hashing_concurrency = concurrency;
        self.abuse.hashing_queue = queue;
        self
    }
}

impl ServerConfigBuilder {
    /// The longest `state` accepted (default 1024 bytes).
    pub fn max_state_bytes(mut self, n: usize) -> Self {
        self.abuse.max_state_bytes = n;
        self
    }

    /// How often expired records are purged (default 60 s; 1 s to 1 h).
    pub fn purge_every(mut self, every: std::time::Duration) -> Self {
        self.abuse.purge_every = every;
        self
    }
}

impl ServerConfig {
    /// The abuse limits.
    pub fn abuse_limits(&self) -> &AbuseLimits {
        &self.abuse
    }
}
