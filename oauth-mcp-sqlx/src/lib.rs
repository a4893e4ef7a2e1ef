//! # oauth-mcp-sqlx
//!
//! Persistent storage for [`oauth_mcp_core`] on **SQLite** or **PostgreSQL**
//! through [sqlx](https://docs.rs/sqlx): [`SqlStore`] implements every storage
//! trait of the core ([`ClientStore`], [`AuthorizationStore`], [`TokenStore`],
//! [`UserStore`], [`ReplayStore`], [`Cleanup`], [`KeyStore`], and so [`Store`]), and the
//! records of logins through an upstream identity provider ([`UpstreamStore`],
//! migration `0005_upstream`), on both databases. Use it instead of the
//! core's `MemoryStore` when clients, grants and signing keys must survive a
//! restart, or be shared by several replicas behind a load balancer.
//!
//! # Example: an authorization server on SQLite
//!
//! Connect, hand the store to [`AuthServer::start`], which keeps the
//! signing keys in the store sealed with your key-encryption key, and purge
//! expired records in the background. This runs as it is, on an in-memory
//! database; for a file, write `sqlite://oauth.db?mode=rwc` (`mode=rwc`
//! creates it).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use oauth_mcp_core::crypto::KeyEncryptionKey;
//! use oauth_mcp_core::login::new_user;
//! use oauth_mcp_core::store::UserStore;
//! use oauth_mcp_core::{AuthServer, ResourceServer, ServerConfig};
//! use oauth_mcp_sqlx::{DatabaseKind, SqlStore};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     // Connects and applies the embedded migrations.
//!     let store = Arc::new(SqlStore::connect("sqlite::memory:").await?);
//!     assert_eq!(store.kind(), DatabaseKind::Sqlite);
//!     store.clone().spawn_cleanup(Duration::from_secs(600)); // expired codes, tokens, …
//!     store.put_user(new_user("alice", "correct horse battery staple")?).await?;
//!
//!     // The key-encryption key seals the signing keys in the store. A real
//!     // server reads the same one at every start, from a secret (see the
//!     // PostgreSQL example); this example makes a fresh one.
//!     let kek = KeyEncryptionKey::from_base64(KeyEncryptionKey::generate_base64().secret())?;
//!     let config = ServerConfig::builder("http://127.0.0.1:8080")
//!         .key_encryption_key(kek)
//!         .build()?;
//!     // Creates the first signing key on the first start, opens it later.
//!     let server = AuthServer::start(config, store.clone()).await?;
//!     let resource = ResourceServer::for_auth_server(&server).required_scopes(["mcp"]).build()?;
//!     assert_eq!(server.keys().jwks()["keys"].as_array().map(Vec::len), Some(1));
//!     // Mount `server` and `resource` with oauth-mcp-axum or oauth-mcp-actix.
//!     println!("MCP endpoint: {}", resource.resource());
//!     Ok(())
//! }
//! ```
//!
//! # Example: PostgreSQL, shared by replicas
//!
//! Every replica connects to the same database with the same key-encryption
//! key; they agree on the signing keys through the store. The URL and the
//! key come from the environment here (`openssl rand -base64 32` makes a
//! key; keep it secret, apart from the database, and keep it: without it
//! the stored keys cannot be opened):
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use oauth_mcp_core::crypto::KeyEncryptionKey;
//! use oauth_mcp_core::{AuthServer, ServerConfig};
//! use oauth_mcp_sqlx::SqlStore;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     let url = std::env::var("DATABASE_URL")?; // postgres://user:password@db.internal/oauth
//!     let kek = KeyEncryptionKey::from_base64(&std::env::var("MCP_KEY_ENCRYPTION_KEY")?)?;
//!     let store = Arc::new(
//!         SqlStore::options()
//!             .max_connections(20)
//!             .acquire_timeout(Duration::from_secs(2)) // how long a request waits while the database is down
//!             .connect(&url)
//!             .await?,
//!     );
//!     store.clone().spawn_cleanup(Duration::from_secs(600));
//!     let config = ServerConfig::builder("https://mcp.example.com")
//!         .key_encryption_key(kek)
//!         .build()?;
//!     let server = AuthServer::start(config, store).await?; // a wrong key fails here
//!     println!("issuer {}", server.config().issuer());
//!     Ok(())
//! }
//! ```
//!
//! Already have a pool? [`SqlStore::from_pg_pool`] and
//! [`SqlStore::from_sqlite_pool`] take it (build it with the re-exported
//! [`sqlx`], the version this crate uses) and apply the migrations.
//!
//! # How it stores
//!
//! - **Hashes only.** Client secrets, authorization codes, refresh tokens and
//!   login-request ids are stored as the hashes the core hands over.
//! - **Atomic in the database.** Redeeming a code is one conditional
//!   `UPDATE … WHERE NOT spent RETURNING …`, taking a pending login one
//!   `DELETE … RETURNING …`; refresh rotation locks the grant (`SELECT … FOR
//!   UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite) and applies the
//!   core's [`decide_rotation`]. On PostgreSQL each step of the login and
//!   token flow is one statement (data-modifying CTEs: spending a code
//!   stores its grant and refresh token, taking a pending login stores its
//!   code, a rotation writes the new token), so one round trip and one
//!   commit; only a refresh token's reuse runs a transaction. A code
//!   exchange and a refresh check the token request in that statement
//!   ([`AuthorizationStore::exchange_code`](oauth_mcp_core::store::AuthorizationStore::exchange_code),
//!   [`TokenStore::refresh_for`](oauth_mcp_core::store::TokenStore::refresh_for)),
//!   so they read nothing first. Consuming a
//!   single-use marker (a client assertion's `jti`) is one conditional
//!   upsert. Signing keys are written compare-and-set on a key-set version
//!   (one row, updated `WHERE version = <expected>` in the write's
//!   transaction), so two servers never activate different keys. Several
//!   server processes may share one PostgreSQL database.
//! - **In-flight login state does not wait for the disk.** On PostgreSQL,
//!   storing a pending authorization request, counting a login attempt,
//!   taking the request into a code, a rate-limit bucket's hit and storing
//!   an in-flight upstream login commit with `synchronous_commit = off`,
//!   set by the statement for its own transaction (no extra round trip).
//!   A crash of the database server can lose the last few hundred
//!   milliseconds of these, never half of one: a user in the middle of a
//!   login starts again. Registrations, spending a code with its grant and
//!   refresh token, rotation, revocations and keys commit durably, so a
//!   crash never brings back a spent code or a rotated-out refresh token.
//! - **A full store costs no more than an empty one.** Storing a pending
//!   login checks its client's cap in the insert statement, but counts the
//!   store's live requests for the total cap at most once per second of
//!   the engine's clock, keeping that count current with its own inserts
//!   and takes in between: a flood that fills the store is refused without
//!   a statement until the next second's count. Several processes on one
//!   database see each other's requests at that count, so together they
//!   may overshoot the total by what the others store within a second.
//! - **Fails fast, recovers by itself.** Connections come from a pool with a
//!   short acquire timeout ([`SqlStoreOptions::acquire_timeout`], 3 s by
//!   default): while the database is down every operation returns
//!   [`StoreError::Unavailable`] (answered `503 temporarily_unavailable`),
//!   and once it is back the pool reconnects without a restart. On
//!   PostgreSQL the flow's single-statement operations keep their
//!   connection for the next one instead of handing it back to sqlx's pool
//!   (which checks every returned connection with a round trip); a
//!   connection idle for a second or more is checked before reuse.
//! - **Migrations are embedded** and applied by [`SqlStore::connect`]; they
//!   are tracked in their own table, `_oauth_mcp_migrations`, so they do not
//!   mix with your application's sqlx migrations in the same database.
//!
//! URLs: `sqlite:path/to/file.db?mode=rwc` (`mode=rwc` creates the file),
//! `sqlite::memory:` (one connection, for tests), `postgres://user:pass@host/db`
//! or `postgresql://…`.
//!
//! Expired pending logins, codes, refresh tokens and replay markers are
//! removed by [`Cleanup::purge_expired`]; [`SqlStore::spawn_cleanup`] runs it
//! periodically.
//!
//! # Examples in the repository
//!
//! The example servers take `--store sqlite://oauth.db?mode=rwc` or
//! `--store postgres://…` and the key-encryption key as
//! `MCP_KEY_ENCRYPTION_KEY`:
//! [`examples/common`](https://github.com/oauth-mcp/oauth-mcp/blob/main/examples/common/src/lib.rs)
//! (`oauth()`) opens the store, and `oauth-mcp store …` / `oauth-mcp keys …`
//! (crate `oauth-mcp-cli`) inspect and manage it while the servers run.
//!
//! # Feature flags
//!
//! | feature | enables | default |
//! |---|---|---|
//! | `testing` | the module `testing`: a private, throw-away PostgreSQL server for tests, started from the system's PostgreSQL binaries, or the database named by `OAUTH_MCP_TEST_POSTGRES_URL` | no |
//!
//! sqlx is built with SQLite (bundled: no system library needed) and
//! PostgreSQL, the tokio runtime and rustls (never OpenSSL).
//!
//! [`ClientStore`]: oauth_mcp_core::store::ClientStore
//! [`AuthorizationStore`]: oauth_mcp_core::store::AuthorizationStore
//! [`TokenStore`]: oauth_mcp_core::store::TokenStore
//! [`UserStore`]: oauth_mcp_core::store::UserStore
//! [`KeyStore`]: oauth_mcp_core::store::KeyStore
//! [`ReplayStore`]: oauth_mcp_core::store::ReplayStore
//! [`Store`]: oauth_mcp_core::store::Store
//! [`UpstreamStore`]: oauth_mcp_core::store::UpstreamStore
//! [`decide_rotation`]: oauth_mcp_core::store::decide_rotation
//! [`AuthServer::start`]: oauth_mcp_core::AuthServer::start
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod codes;
mod durability;
mod error;
mod exchange;
mod grants;
mod hot;
mod keys;
mod limits;
mod pending;
mod rows;
// Declared before `replay`, which uses its `on_pool!` macro.
#[macro_use]
mod store;
mod replay;
mod revocations;
mod rotation;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod upstream;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use oauth_mcp_core::clock::{Clock, SystemClock};
use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::store::Cleanup;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// The sqlx this crate is built on, to build pools for
/// [`SqlStore::from_sqlite_pool`] and [`SqlStore::from_pg_pool`].
pub use sqlx;

/// The table that records which of this crate's migrations ran.
pub const MIGRATIONS_TABLE: &str = "_oauth_mcp_migrations";

/// Which database a [`SqlStore`] talks to.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// SQLite (bundled with sqlx; a file or `:memory:`).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Every storage trait of `oauth-mcp-core` on SQLite or PostgreSQL.
///
/// Cloning is cheap: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct SqlStore {
    backend: Backend,
    /// PostgreSQL: connections kept for single-statement operations (see `hot`).
    hot: Option<Arc<hot::HotPool>>,
    /// The live pending requests, as counted this second (see `pending`).
    pending_tally: Arc<pending::PendingTally>,
}

/// Connection options for [`SqlStore`]: pool size and timeouts.
///
/// ```no_run
/// # async fn f() -> Result<(), oauth_mcp_core::StoreError> {
/// use std::time::Duration;
/// use oauth_mcp_sqlx::SqlStoreOptions;
/// let store = SqlStoreOptions::new()
///     .max_connections(20)
///     .acquire_timeout(Duration::from_secs(2))
///     .connect("postgres://oauth:secret@127.0.0.1/oauth")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqlStoreOptions {
    /// `None`: the database's default ([`SqlStoreOptions::max_connections`]).
    max_connections: Option<u32>,
    min_connections: u32,
    acquire_timeout: Duration,
    idle_timeout: Option<Duration>,
    busy_timeout: Duration,
}

impl Default for SqlStoreOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(3),
            idle_timeout: Some(Duration::from_secs(600)),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl SqlStoreOptions {
    /// The defaults: up to 10 connections on PostgreSQL and 1 on SQLite, a
    /// 3 s acquire timeout, idle connections closed after 10 minutes, a 5 s
    /// SQLite busy timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most connections the pool opens (at least 1).
    ///
    /// - PostgreSQL: default 10. Up to `n - 1` of them may be kept for the
    ///   login and token flow between its operations (see "How it stores"
    ///   in the crate docs).
    /// - A SQLite file: default 1. SQLite lets one connection write at a
    ///   time, and the store's operations are short: with one connection
    ///   they queue in the pool, in order; with several, the writers that
    ///   find the database locked wait in SQLite's busy handler, which
    ///   sleeps in steps of up to 100 ms. In the load harness (16
    ///   concurrent code flows, three alternating runs), one connection
    ///   served 1.46 to 1.62 times the flows per second of ten, with a p99
    ///   of 30 ms instead of 132 to 157 ms. More connections let reads run
    ///   beside a write (a long `list_clients`, for example).
    /// - An in-memory SQLite database always uses exactly one.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n.max(1));
        self
    }

    /// Connections the pool keeps open even when idle (default 0).
    pub fn min_connections(mut self, n: u32) -> Self {
        self.min_connections = n;
        self
    }

    /// How long an operation waits for a connection (including opening a new
    /// one) before failing with [`StoreError::Unavailable`]. Keep it short so
    /// that requests fail fast while the database is down. Default 3 s.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Idle connections are closed after this long (`None`: never). Default
    /// 10 minutes.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// SQLite only: how long a write waits for another connection's write
    /// lock before failing. Default 5 s.
    pub fn sqlite_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Connects to `url`, choosing the database by its scheme (`sqlite:`,
    /// `postgres://`, `postgresql://`), and applies the migrations.
    ///
    /// Errors: an unknown scheme or a malformed URL is [`StoreError::Other`];
    /// a database that cannot be reached is [`StoreError::Unavailable`].
    pub async fn connect(&self, url: &str) -> Result<SqlStore, StoreError> {
        let scheme = url
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        let store = match scheme.as_str() {
            "sqlite" => SqlStore::sqlite(self.sqlite_pool(url).await?),
            "postgres" | "postgresql" => {
                let opts = PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Other(format!("invalid PostgreSQL URL: {}", e)))?;
                let pool = self
                    .pool_options::<sqlx::Postgres>(PG_MAX_CONNECTIONS)
                    .connect_with(opts)
                    .await
                    .map_err(error::map)?;
                SqlStore::postgres(pool)
            }
            "" => {
                return Err(StoreError::Other(
                    "database URL has no scheme; use sqlite:path.db?mode=rwc, sqlite::memory: or postgres://user:pass@host/db".into(),
                ));
            }
            other => {
                return Err(StoreError::Other(format!(
                    "unsupported database URL scheme `{other}:`; use sqlite: or postgres:// (postgresql://)"
                )));
            }
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The pool's options, with up to `default_max` connections unless
    /// [`max_connections`](Self::max_connections) was set.
    fn pool_options<DB: sqlx::Database>(&self, default_max: u32) -> sqlx::pool::PoolOptions<DB> {
        let max = self.max_connections.unwrap_or(default_max);
        sqlx::pool::PoolOptions::<DB>::new()
            .max_connections(max)
            .min_connections(self.min_connections.min(max))
            .acquire_timeout(self.acquire_timeout)
            .idle_timeout(self.idle_timeout)
            // A ping before every use was one extra round trip per store
            // operation. A connection idle for a while may have been cut
            // (a database restart, a proxy's timeout): ping only those.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
    }

    async fn sqlite_pool(&self, url: &str) -> Result<SqlitePool, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("invalid SQLite URL: {e}")))?
            .busy_timeout(self.busy_timeout)
            .foreign_keys(true);
        let pool = if in_memory {
            // An in-memory database lives as long as one of its connections:
            // keep exactly one, forever.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(self.acquire_timeout)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            opts = opts
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            self.pool_options::<sqlx::Sqlite>(SQLITE_MAX_CONNECTIONS)
        };
        pool.connect_with(opts).await.map_err(error::map)
    }
}

/// The default pool size on PostgreSQL.
const PG_MAX_CONNECTIONS: u32 = 10;
/// The default pool size on a SQLite file (see
/// [`SqlStoreOptions::max_connections`]).
const SQLITE_MAX_CONNECTIONS: u32 = 1;

/// A pooled connection idle this long is pinged before use.
pub(crate) const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

impl SqlStore {
    fn sqlite(pool: SqlitePool) -> Self {
        Self {
            backend: Backend::Sqlite(pool),
            hot: None,
            pending_tally: Arc::default(),
        }
    }

    fn postgres(pool: PgPool) -> Self {
        let hot = hot::HotPool::new(&pool).map(Arc::new);
        if let Some(hot) = &hot {
            hot::HotPool::spawn_trimmer(hot);
        }
        Self {
            hot,
            backend: Backend::Postgres(pool),
            pending_tally: Arc::default(),
        }
    }

    /// Connects with the default [`SqlStoreOptions`] and applies the
    /// migrations. See [`SqlStoreOptions::connect`].
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        SqlStoreOptions::new().connect(url).await
    }

    /// The default options, to adjust before connecting.
    pub fn options() -> SqlStoreOptions {
        SqlStoreOptions::new()
    }

    /// A store over an existing SQLite pool; applies the migrations. Use a
    /// busy timeout, and one connection for an in-memory database.
    pub async fn from_sqlite_pool(pool: SqlitePool) -> Result<SqlStore, StoreError> {
        let store = SqlStore::sqlite(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// A store over an existing PostgreSQL pool; applies the migrations.
    pub async fn from_pg_pool(pool: PgPool) -> Result<SqlStore, StoreError> {
        let store = SqlStore::postgres(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// Which database this store talks to.
    pub fn kind(&self) -> DatabaseKind {
        match self.backend {
            Backend::Sqlite(_) => DatabaseKind::Sqlite,
            Backend::Postgres(_) => DatabaseKind::Postgres,
        }
    }

    /// The SQLite pool, if this is a SQLite store.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.backend {
            Backend::Sqlite(p) => Some(p),
            Backend::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, if this is a PostgreSQL store.
    pub fn pg_pool(&self) -> Option<&PgPool> {
        match &self.backend {
            Backend::Postgres(p) => Some(p),
            Backend::Sqlite(_) => None,
        }
    }

    /// Applies the embedded migrations that have not run yet (tracked in
    /// [`MIGRATIONS_TABLE`]). [`SqlStore::connect`] already does this; it is
    /// safe to call again, also from several processes at once on PostgreSQL.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = match &self.backend {
            Backend::Sqlite(pool) => {
                let mut m = sqlx::migrate!("migrations/sqlite");
                m.dangerous_set_table_name(MIGRATIONS_TABLE);
                m.run(pool).await
            }
            Backend::Postgres(pool) => {
                let mut m = sqlx::migrate!("migrations/postgres");
                m.dangerous_set_table_name(MIGRATIONS_TABLE);
                m.run(pool).await
            }
        };
        result.map_err(error::map_migrate)
    }

    /// Closes the pool: waits for checked-out connections to come back and
    /// closes them all. Later operations fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        if let Some(hot) = &self.hot {
            hot.close();
        }
        match &self.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }

    /// Spawns a task on the current tokio runtime that calls
    /// [`Cleanup::purge_expired`] every `every` (at least one second), first
    /// right away. Failures are logged and retried at the next tick. Abort
    /// the returned handle to stop it.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn_cleanup(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let every = every.max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match self.purge_expired(SystemClock.now()).await {
                    Ok(n) => {
                        tracing::debug!(target: "oauth_mcp::store", purged = n, "purged expired records")
                    }
                    Err(e) => {
                        tracing::warn!(target: "oauth_mcp::store", error = %e, "purging expired records failed")
                    }
                }
            }
        })
    }
}
