//! `oauth-mcp store …`: inspect and manage an oauth-mcp SQL store
//! (`oauth_mcp_sqlx::SqlStore`, SQLite or PostgreSQL) through the core's
//! storage traits; listing authorization codes, which the traits do not
//! offer, reads the `oauth_codes` table directly.

use std::fmt::Write as _;
use std::io::BufRead;

use oauth_mcp_core::client::{Client, validate_redirect_uri};
use oauth_mcp_core::login::new_user;
use oauth_mcp_core::store::{ClientStore, UserStore};
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::sqlx::{self, Row};

use crate::timefmt::{now_unix, parse_time, rfc3339};
use crate::words::count;

/// A store command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreCommand {
    /// Every client, oldest first.
    ClientsList,
    /// One client in full.
    ClientsShow {
        /// The client id.
        id: String,
    },
    /// Changes a client's redirect URIs (replacing them all when any is
    /// given), trusted flag or active flag.
    ClientsUpdate {
        /// The client id.
        id: String,
        /// The new redirect URIs (none: unchanged).
        redirect_uris: Vec<String>,
        /// The new trusted flag.
        trusted: Option<bool>,
        /// The new active flag.
        active: Option<bool>,
    },
    /// Authorization codes grouped by state (pending, used, expired).
    CodesList {
        /// Only this client's.
        client: Option<String>,
        /// Issued at or after (Unix seconds or RFC 3339).
        since: Option<String>,
        /// Issued at or before.
        until: Option<String>,
    },
    /// Adds (or replaces) a user of the built-in password login.
    UsersAdd {
        /// The login name (also the subject).
        name: String,
        /// Where the password comes from.
        password: PasswordSource,
    },
}

/// Where `users add` reads the password (`Debug` shows no password).
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// Given on the command line.
    Value(String),
    /// The first line of standard input.
    Stdin,
}

impl std::fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(_) => write!(f, "Value({})", crate::secret::REDACTED),
            Self::Stdin => f.write_str("Stdin"),
        }
    }
}

/// A store URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Connects to the store (applying migrations, as the servers do).
pub async fn connect(url: &str) -> Result<SqlStore, String> {
    let scheme = url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !matches!(scheme.as_str(), "sqlite" | "postgres" | "postgresql") {
        return Err(format!(
            "--store `{}`: use sqlite://<path> (add ?mode=rwc to create the file) or postgres://user:pass@host/db",
            redact_url(url)
        ));
    }
    SqlStore::connect(url)
        .await
        .map_err(|e| format!("cannot open the store {}: {e}", redact_url(url)))
}

/// Runs a store command against the store at `url` and returns what to
/// print. `stdin` supplies `--password-stdin`.
pub async fn run(url: &str, cmd: &StoreCommand, stdin: &mut dyn BufRead) -> Result<String, String> {
    let store = connect(url).await?;
    let out = run_on(&store, cmd, stdin).await;
    store.close().await;
    out
}

/// Runs a store command on an open store.
pub async fn run_on(
    store: &SqlStore,
    cmd: &StoreCommand,
    stdin: &mut dyn BufRead,
) -> Result<String, String> {
    match cmd {
        StoreCommand::ClientsList => clients_list(store).await,
        StoreCommand::ClientsShow { id } => Ok(show_client(&get_client(store, id).await?)),
        StoreCommand::ClientsUpdate {
            id,
            redirect_uris,
            trusted,
            active,
        } => {
            let mut c = get_client(store, id).await?;
            if redirect_uris.is_empty() && trusted.is_none() && active.is_none() {
                return Err("nothing to change: give --redirect-uri, --trusted or --active".into());
            }
            if !redirect_uris.is_empty() {
                for u in redirect_uris {
                    validate_redirect_uri(u).map_err(|e| e.description.clone())?;
                }
                c.redirect_uris = redirect_uris.clone();
            }
            if let Some(t) = trusted {
                c.trusted = *t;
            }
            if let Some(a) = active {
                c.active = *a;
            }
            if !store
                .update_client(c.clone())
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("client `{id}` disappeared while updating it"));
            }
            let fresh = get_client(store, id).await?;
            Ok(format!("updated client {id}\n{}", show_client(&fresh)))
        }
        StoreCommand::CodesList {
            client,
            since,
            until,
        } => {
            let since = since.as_deref().map(parse_time).transpose()?;
            let until = until.as_deref().map(parse_time).transpose()?;
            let codes = list_codes(store, client.as_deref(), since, until).await?;
            Ok(render_codes(&codes, now_unix()))
        }
        StoreCommand::UsersAdd { name, password } => {
            if name.trim().is_empty() {
                return Err("the user name is empty".into());
            }
            let pw = match password {
                PasswordSource::Value(p) => p.clone(),
                PasswordSource::Stdin => {
                    let mut line = String::new();
                    stdin
                        .read_line(&mut line)
                        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            if pw.is_empty() {
                return Err("the password is empty".into());
            }
            let existed = store
                .get_user(name)
                .await
                .map_err(|e| e.to_string())?
                .is_some();
            let user = new_user(name, &pw).map_err(|e| e.to_string())?;
            store.put_user(user).await.map_err(|e| e.to_string())?;
            Ok(format!(
                "{} user {name} (argon2id password hash)\n",
                if existed { "replaced" } else { "added" }
            ))
        }
    }
}

async fn get_client(store: &SqlStore, id: &str) -> Result<Client, String> {
    store
        .get_client(id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no client `{id}` in this store"))
}

async fn clients_list(store: &SqlStore) -> Result<String, String> {
    let clients = store.list_clients().await.map_err(|e| e.to_string())?;
    if clients.is_empty() {
        return Ok("no clients\n".into());
    }
    let mut out = format!(
        "{:<40} {:<24} {:<20} {:<7} {:<6} {:<20} {}\n",
        "CLIENT ID", "NAME", "AUTH METHOD", "TRUSTED", "ACTIVE", "CREATED", "REDIRECT URIS"
    );
    for c in &clients {
        let _ = writeln!(
            out,
            "{:<40} {:<24} {:<20} {:<7} {:<6} {:<20} {}",
            c.client_id,
            c.client_name.as_deref().unwrap_or("-"),
            c.auth_method.as_str(),
            yes_no(c.trusted),
            yes_no(c.active),
            rfc3339(c.created_at),
            c.redirect_uris.join(" ")
        );
    }
    let _ = writeln!(out, "{}", count(clients.len(), "client"));
    Ok(out)
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn show_client(c: &Client) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "client_id:      {}", c.client_id);
    let _ = writeln!(
        out,
        "name:           {}",
        c.client_name.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        out,
        "auth method:    {}{}",
        c.auth_method.as_str(),
        if c.auth_method_explicit {
            " (registered explicitly)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "secret:         {}",
        if c.secret_hash.is_some() {
            "yes (stored hashed)"
        } else {
            "none (public client)"
        }
    );
    let _ = writeln!(out, "redirect URIs:");
    for u in &c.redirect_uris {
        let _ = writeln!(out, "  {u}");
    }
    let _ = writeln!(out, "grant types:    {}", c.grant_types.join(" "));
    let _ = writeln!(
        out,
        "scope:          {}",
        c.scope
            .as_ref()
            .map_or_else(|| "-".to_owned(), ToString::to_string)
    );
    let _ = writeln!(out, "trusted:        {}", yes_no(c.trusted));
    let _ = writeln!(out, "active:         {}", yes_no(c.active));
    let _ = writeln!(
        out,
        "created:        {} ({})",
        rfc3339(c.created_at),
        c.created_at
    );
    if let Some(e) = c.expires_at {
        let _ = writeln!(out, "expires:        {} ({e})", rfc3339(e));
    }
    out
}

/// An authorization code as stored (its hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    /// base64url(SHA-256(code)).
    pub code_hash: String,
    /// The client.
    pub client_id: String,
    /// The user.
    pub subject: String,
    /// The redirect URI.
    pub redirect_uri: String,
    /// Granted scopes.
    pub scope: String,
    /// The resource (token audience).
    pub resource: String,
    /// Issued (Unix seconds).
    pub issued_at: i64,
    /// Expires (Unix seconds).
    pub expires_at: i64,
    /// Redeemed already.
    pub spent: bool,
}

/// The state of a code at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeState {
    /// Issued, not redeemed, not expired.
    Pending,
    /// Redeemed.
    Used,
    /// Expired before being redeemed.
    Expired,
}

impl CodeRow {
    /// The code's state at `now`.
    pub fn state(&self, now: i64) -> CodeState {
        if self.spent {
            CodeState::Used
        } else if self.expires_at <= now {
            CodeState::Expired
        } else {
            CodeState::Pending
        }
    }
}

/// Authorization codes, oldest first, optionally for one client and within
/// an issue-time window. SQL over the `oauth_codes` table (the storage
/// traits have no listing method for codes); expired codes remain until
/// the store's periodic cleanup removes them.
pub async fn list_codes(
    store: &SqlStore,
    client: Option<&str>,
    since: Option<i64>,
    until: Option<i64>,
) -> Result<Vec<CodeRow>, String> {
    // Static SQL per dialect; the filters are bound parameters (NULL: no filter).
    const SQLITE: &str = "SELECT code_hash, client_id, subject, redirect_uri, scope, resource, issued_at, expires_at, spent \
        FROM oauth_codes WHERE (?1 IS NULL OR client_id = ?1) AND (?2 IS NULL OR issued_at >= ?2) \
        AND (?3 IS NULL OR issued_at <= ?3) ORDER BY issued_at, code_hash";
    const POSTGRES: &str = "SELECT code_hash, client_id, subject, redirect_uri, scope, resource, issued_at, expires_at, spent \
        FROM oauth_codes WHERE ($1::text IS NULL OR client_id = $1) AND ($2::bigint IS NULL OR issued_at >= $2) \
        AND ($3::bigint IS NULL OR issued_at <= $3) ORDER BY issued_at, code_hash";
    let err = |e: sqlx::Error| format!("reading oauth_codes failed: {e}");
    macro_rules! fetch {
        ($pool:expr, $sql:expr) => {{
            sqlx::query($sql)
                .bind(client.map(str::to_owned))
                .bind(since)
                .bind(until)
                .fetch_all($pool)
                .await
                .map_err(err)?
                .iter()
                .map(|r| {
                    Ok(CodeRow {
                        code_hash: r.try_get("code_hash")?,
                        client_id: r.try_get("client_id")?,
                        subject: r.try_get("subject")?,
                        redirect_uri: r.try_get("redirect_uri")?,
                        scope: r.try_get("scope")?,
                        resource: r.try_get("resource")?,
                        issued_at: r.try_get("issued_at")?,
                        expires_at: r.try_get("expires_at")?,
                        spent: r.try_get("spent")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(err)
        }};
    }
    if let Some(pool) = store.sqlite_pool() {
        fetch!(pool, SQLITE)
    } else if let Some(pool) = store.pg_pool() {
        fetch!(pool, POSTGRES)
    } else {
        Err("unsupported database".into())
    }
}

/// The codes as text, grouped by state.
pub fn render_codes(codes: &[CodeRow], now: i64) -> String {
    let mut out = String::new();
    for (state, title) in [
        (CodeState::Pending, "pending"),
        (CodeState::Used, "used"),
        (CodeState::Expired, "expired"),
    ] {
        let group: Vec<&CodeRow> = codes.iter().filter(|c| c.state(now) == state).collect();
        let _ = writeln!(out, "{title} ({})", group.len());
        for c in group {
            let _ = writeln!(
                out,
                "  {}…  client {}  user {}  issued {}  expires {}  scope \"{}\"  resource {}  redirect {}",
                c.code_hash.chars().take(8).collect::<String>(),
                c.client_id,
                c.subject,
                rfc3339(c.issued_at),
                rfc3339(c.expires_at),
                c.scope,
                c.resource,
                c.redirect_uri
            );
        }
    }
    out
}
