//! The abuse limits of a [`ServerConfig`]: login throttling and the bounded
//! password-hashing pool (on by default; tune them here).

use crate::error::ConfigError;
use crate::login_throttle::{LoginThrottle, LoginThrottleConfig};
use crate::password::Argon2Params;

use super::{ServerConfig, ServerConfigBuilder};

/// Limits on what strangers can make the server do. Every one is on by
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbuseLimits {
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
}

impl Default for AbuseLimits {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            login_throttle: LoginThrottleConfig::default(),
            argon2: Argon2Params::OWASP_MINIMUM,
            hashing_concurrency: cpus.clamp(1, 4),
            hashing_queue: 64,
            max_state_bytes: 1024,
            purge_every: std::time::Duration::from_secs(60),
        }
    }
}

impl AbuseLimits {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }
}

impl ServerConfigBuilder {
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
