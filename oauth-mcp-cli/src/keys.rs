//! `oauth-mcp keys --store <URL> list | rotate [--immediate] | retire <kid>
//! [--remove-now]`: the signing keys an oauth-mcp SQL store holds for every
//! server that uses it. Rotation and retirement go through the same rule
//! and the same compare-and-set store writes as the servers' scheduled
//! maintenance ([`oauth_mcp_core::token::managed::ManagedKeys`]), so they
//! are safe while servers run; every step is written to the audit log
//! (target `oauth_mcp::audit`) on standard error.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use oauth_mcp_core::Secret;
use oauth_mcp_core::crypto::{KeyEncryptionKey, sealed_with};
use oauth_mcp_core::store::keys::{KeyPhase, KeySetSnapshot, StoredPrivateKey};
use oauth_mcp_core::token::managed::{KeyOutcome, KeyProtection, ManagedKeys};
use oauth_mcp_core::token::rotation::KeySchedule;

use crate::store::{connect, redact_url};
use crate::timefmt::{now_unix, rfc3339};

/// `oauth-mcp keys` options (`Debug` shows the store URL without its
/// password, and no key-encryption key).
#[derive(Args)]
pub struct KeysArgs {
    /// Store URL: sqlite://path.db or postgres://user:pass@host/db (the servers' --store).
    #[arg(long, env = "MCP_STORE", hide_env_values = true)]
    pub store: String,
    /// The servers' key-encryption key: base64 of 32 bytes. Needed to
    /// rotate and retire (new keys are sealed with it).
    #[arg(
        long,
        env = "MCP_KEY_ENCRYPTION_KEY",
        hide_env_values = true,
        value_name = "BASE64",
        conflicts_with = "key_encryption_key_file"
    )]
    pub key_encryption_key: Option<Secret>,
    /// A file holding the key-encryption key (base64 of 32 bytes, or 32 raw bytes).
    #[arg(long, env = "MCP_KEY_ENCRYPTION_KEY_FILE", value_name = "FILE")]
    pub key_encryption_key_file: Option<PathBuf>,
    /// The servers store private keys unencrypted: new keys are too.
    #[arg(long, conflicts_with_all = ["key_encryption_key", "key_encryption_key_file"])]
    pub dangerously_unencrypted_keys: bool,
    /// The servers' access-token lifetime: a retired key stays published
    /// this long (plus --leeway) so the tokens it signed keep validating.
    /// Servers never remove a key before their own lifetime has passed.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub access_token_ttl: u64,
    /// The servers' publish lead: a successor published by `rotate` is
    /// activated by the servers this long after it was published.
    #[arg(long, default_value_t = 86_400, value_name = "SECS")]
    pub publish_lead: u64,
    /// Extra time a retired key stays published.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub leeway: u64,
    /// What to do.
    #[command(subcommand)]
    pub command: KeysSub,
}

impl std::fmt::Debug for KeysArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysArgs")
            .field("store", &redact_url(&self.store))
            .field("key_encryption_key", &self.key_encryption_key)
            .field("key_encryption_key_file", &self.key_encryption_key_file)
            .field(
                "dangerously_unencrypted_keys",
                &self.dangerously_unencrypted_keys,
            )
            .field("access_token_ttl", &self.access_token_ttl)
            .field("publish_lead", &self.publish_lead)
            .field("leeway", &self.leeway)
            .field("command", &self.command)
            .finish()
    }
}

/// `oauth-mcp keys` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum KeysSub {
    /// List the signing keys: state, lifecycle times, protection.
    List,
    /// Publish a successor key now; the servers activate it after the
    /// publish lead. With --immediate it signs at once and the active key
    /// retires (resource servers that cache the JWKS and do not refetch
    /// on an unknown kid may refuse new tokens until their cache expires).
    Rotate {
        /// Switch to the successor now.
        #[arg(long)]
        immediate: bool,
    },
    /// Stop signing with a key: an active key hands over to the published
    /// successor (else to a new key) at once, and stays published until its
    /// tokens have expired; a published key that never signed is removed.
    Retire {
        /// The key id (see `keys list`). A kid is a base64url thumbprint
        /// and may start with `-`: taken as the value, not as an option.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Remove it from the JWKS now: tokens it signed stop validating
        /// (for a compromised key).
        #[arg(long)]
        remove_now: bool,
    },
}

/// A failed `keys` command: the message and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysFailure {
    /// What went wrong and how to fix it.
    pub message: String,
    /// `1` the store refused or failed, `2` bad arguments.
    pub exit_code: u8,
}

impl KeysFailure {
    fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: 2,
        }
    }

    fn failed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: 1,
        }
    }
}

impl KeysArgs {
    /// The schedule the flags describe.
    pub fn schedule(&self) -> Result<KeySchedule, KeysFailure> {
        KeySchedule::new(Duration::from_secs(self.access_token_ttl))
            .publish_lead(Duration::from_secs(self.publish_lead))
            .leeway(Duration::from_secs(self.leeway))
            .without_scheduled_rotation()
            .validate()
            .map_err(|e| KeysFailure::usage(e.to_string()))
    }

    /// The protection the flags describe; `None` if none was given.
    pub fn protection(&self) -> Result<Option<KeyProtection>, KeysFailure> {
        let kek = match (&self.key_encryption_key, &self.key_encryption_key_file) {
            (Some(b64), _) => KeyEncryptionKey::from_base64(b64.secret()).map_err(|e| {
                KeysFailure::usage(format!(
                    "--key-encryption-key (MCP_KEY_ENCRYPTION_KEY): {e}"
                ))
            })?,
            (None, Some(path)) => KeyEncryptionKey::from_file(path).map_err(|e| {
                KeysFailure::usage(format!(
                    "--key-encryption-key-file (MCP_KEY_ENCRYPTION_KEY_FILE): {e}"
                ))
            })?,
            (None, None) if self.dangerously_unencrypted_keys => {
                return Ok(Some(KeyProtection::dangerously_unencrypted()));
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(KeyProtection::encrypted(kek)))
    }
}

/// Runs a `keys` command at the current time; returns what to print.
pub async fn run(args: &KeysArgs) -> Result<String, KeysFailure> {
    let schedule = args.schedule()?;
    let protection = args.protection()?;
    if protection.is_none() && args.command != KeysSub::List {
        return Err(KeysFailure::usage(
            "rotating and retiring seal new keys with the servers' key-encryption key: give \
             --key-encryption-key (MCP_KEY_ENCRYPTION_KEY) or --key-encryption-key-file \
             (MCP_KEY_ENCRYPTION_KEY_FILE), the one the servers use",
        ));
    }
    let store = connect(&args.store).await.map_err(KeysFailure::failed)?;
    let keys = ManagedKeys::new(
        Arc::new(store.clone()),
        protection
            .clone()
            .unwrap_or_else(KeyProtection::dangerously_unencrypted),
        schedule,
    );
    let now = now_unix();
    let result = match &args.command {
        KeysSub::List => keys
            .snapshot()
            .await
            .map(|snap| render_list(&snap, protection.as_ref(), now)),
        KeysSub::Rotate { immediate } => keys
            .rotate(now, *immediate)
            .await
            .map(|out| render_outcome(&out, &schedule)),
        KeysSub::Retire { kid, remove_now } => {
            keys.retire(kid, now, *remove_now).await.map(|out| {
                if out.events.is_empty() {
                    format!("key {kid} is already retired; nothing changed\n")
                } else {
                    render_outcome(&out, &schedule)
                }
            })
        }
    };
    store.close().await;
    result.map_err(|e| KeysFailure::failed(e.to_string()))
}

fn time(t: Option<i64>) -> String {
    t.map_or_else(|| "-".to_owned(), rfc3339)
}

/// The key set as a table.
pub fn render_list(snap: &KeySetSnapshot, protection: Option<&KeyProtection>, now: i64) -> String {
    if snap.keys.is_empty() {
        return "no signing keys (a server creates the first one when it starts)\n".into();
    }
    let mut out = format!(
        "{:<44} {:<6} {:<9} {:<20} {:<20} {:<20} {:<20} {}\n",
        "KID", "ALG", "STATE", "PUBLISHED", "ACTIVATED", "RETIRED", "REMOVE AFTER", "PROTECTION"
    );
    for k in &snap.keys {
        let protected = match &k.private_key {
            StoredPrivateKey::Sealed(b) => format!(
                "sealed (kek {})",
                sealed_with(b).unwrap_or_else(|| "unknown".into())
            ),
            StoredPrivateKey::Unencrypted(_) => "UNENCRYPTED".into(),
        };
        let _ = writeln!(
            out,
            "{:<44} {:<6} {:<9} {:<20} {:<20} {:<20} {:<20} {}",
            k.kid,
            k.algorithm.as_str(),
            k.phase().as_str(),
            rfc3339(k.published_at),
            time(k.activated_at),
            time(k.retired_at),
            time(k.remove_after),
            protected
        );
    }
    let _ = writeln!(
        out,
        "{} key{} (key-set version {}; now {})",
        snap.keys.len(),
        if snap.keys.len() == 1 { "" } else { "s" },
        snap.version,
        rfc3339(now)
    );
    if let Some(p) = protection {
        for k in &snap.keys {
            if let Err(e) = p.open(k) {
                let _ = writeln!(out, "warning: {e}");
            }
        }
    }
    out
}

/// What a rotation or retirement did, and what happens next.
pub fn render_outcome(out: &KeyOutcome, schedule: &KeySchedule) -> String {
    let mut s = String::new();
    for e in &out.events {
        let _ = write!(s, "{:<14} {}", e.kind.as_str(), e.kid);
        if let Some(r) = e.remove_after {
            let _ = write!(s, " (stays in the JWKS until {})", rfc3339(r));
        }
        s.push('\n');
    }
    for k in out.snapshot.in_phase(KeyPhase::Published) {
        let _ = writeln!(
            s,
            "key {} is published; the servers activate it at {} (publish lead {} s)",
            k.kid,
            rfc3339(k.published_at.saturating_add(schedule.publish_lead_secs())),
            schedule.publish_lead_secs()
        );
    }
    if let Some(k) = out.snapshot.in_phase(KeyPhase::Active).next() {
        let _ = writeln!(s, "signing with {}", k.kid);
    }
    s
}

/// Sends audit events (target `oauth_mcp::audit`) to standard error while
/// the returned guard lives.
pub fn audit_to_stderr() -> tracing::subscriber::DefaultGuard {
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .with_env_filter(tracing_subscriber::EnvFilter::new("oauth_mcp::audit=info"))
        .finish();
    tracing::subscriber::set_default(subscriber)
}
