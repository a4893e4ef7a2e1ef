//! The client, authorization and user stores on both databases, and what
//! the other store modules share (`grants`, `codes`, `limits`). The SQL is
//! shared (`$n` placeholders work on both); where the databases differ —
//! how a write transaction starts and how the grant row is locked —
//! [`WritePool`] says.
//!
//! Every operation runs its body once per backend through [`on_pool!`], so
//! the two implementations cannot drift apart.

use std::future::Future;

use async_trait::async_trait;
use oauth_mcp_core::client::Client;
use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::store::{
    AuthorizationCode, AuthorizationStore, ClientStore, CodeExchange, CodeIssue, CodeRedemption,
    FirstToken, GcraRule, Grant, GuardedLoginAttempt, LoginAttempt, PendingAuthorization,
    PendingCaps, PendingInsert, RefreshToken, StoredCode, User, UserStore,
};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::SqlStore;
use crate::error::map;
use crate::rows::{ClientRow, PendingRow, UserRow};

/// Runs `$body` with `$pool` bound to the store's pool, whichever it is.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// [`on_pool!`] for an operation of one statement (or statements that each
/// complete): on PostgreSQL the connection comes from the store's kept
/// connections (see `hot`) and is kept again if `$body` succeeded, saving
/// sqlx's check on release (a round trip).
macro_rules! on_conn {
    ($store:expr, |$c:ident| $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($c) => $body,
            $crate::Backend::Postgres(pool) => $crate::store::pg_conn!($store, pool, |$c| $body),
        }
    };
}
pub(crate) use on_conn;

/// The PostgreSQL half of [`on_conn!`]: `$body` with `$c` a kept connection
/// of `$store` (or `$pool` itself if the store keeps none).
macro_rules! pg_conn {
    ($store:expr, $pool:expr, |$c:ident| $body:expr) => {
        match &$store.hot {
            Some(hot) => match hot.acquire().await {
                Ok(mut conn) => {
                    let r = {
                        let $c: &mut sqlx::PgConnection = &mut conn;
                        $body
                    };
                    if r.is_ok() {
                        conn.keep();
                    }
                    r
                }
                Err(e) => Err(e),
            },
            None => {
                let $c: &sqlx::PgPool = $pool;
                $body
            }
        }
    };
}
pub(crate) use pg_conn;

macro_rules! client_cols {
    () => {
        "client_id, secret_hash, redirect_uris, auth_method, auth_method_explicit, client_name, \
         scope, grant_types, trusted, active, created_at, expires_at, metadata, awaiting_first_token"
    };
}
macro_rules! pending_cols {
    () => {
        "id_hash, client_id, redirect_uri, redirect_uri_explicit, state, code_challenge, \
         code_challenge_method, scope, resource, created_at, expires_at"
    };
}
macro_rules! code_cols {
    () => {
        "code_hash, grant_id, client_id, redirect_uri, redirect_uri_explicit, code_challenge, \
         code_challenge_method, scope, resource, subject, issued_at, expires_at"
    };
}
pub(crate) use code_cols;

/// `$q` with a pending request's columns ([`pending_cols!`]) bound as
/// `$1`…`$11`; `$scope` is its scope as text.
macro_rules! bind_pending {
    ($q:expr, $p:expr, $scope:ident) => {
        $q.bind(&$p.id_hash)
            .bind(&$p.client_id)
            .bind(&$p.redirect_uri)
            .bind($p.redirect_uri_explicit)
            .bind(&$p.state)
            .bind(&$p.code_challenge)
            .bind($p.code_challenge_method.as_str())
            .bind(&$scope)
            .bind($p.resource.as_str())
            .bind($p.created_at)
            .bind($p.expires_at)
    };
}
pub(crate) use bind_pending;
pub(crate) use pending_cols;
macro_rules! grant_cols {
    () => {
        "grant_id, client_id, subject, scope, resource, created_at, refresh_generation, revoked"
    };
}
macro_rules! refresh_cols {
    () => {
        "token_hash, grant_id, generation, issued_at, expires_at"
    };
}
pub(crate) use refresh_cols;

pub(crate) use grant_cols;
/// What storing a grant does with an existing id: a tombstone (revoked
/// before it was stored, see `revoke_grant`) takes the grant's values and
/// stays revoked; any other existing id is a duplicate (no row returned).
macro_rules! grant_upsert {
    () => {
        "ON CONFLICT (grant_id) DO UPDATE SET client_id = excluded.client_id, \
         subject = excluded.subject, scope = excluded.scope, resource = excluded.resource, \
         created_at = excluded.created_at, refresh_generation = excluded.refresh_generation \
         WHERE oauth_grants.client_id = '' AND oauth_grants.revoked "
    };
}
pub(crate) use grant_upsert;
/// The CTE `fc` of a code's redemption: records the client's first token
/// (clears `awaiting_first_token`, sets its expiry) if the code was spent
/// (CTE `spent`); `$client` and `$expires` are the statement's parameter
/// numbers (`$client` NULL: none to record).
macro_rules! first_token_cte {
    ($client:literal, $expires:literal) => {
        concat!(
            "fc AS (UPDATE oauth_clients SET awaiting_first_token = FALSE, expires_at = ",
            $expires,
            " WHERE client_id = ",
            $client,
            " AND awaiting_first_token AND EXISTS (SELECT 1 FROM spent) RETURNING 1), "
        )
    };
}
pub(crate) use first_token_cte;

pub(crate) const INSERT_GRANT: &str = concat!(
    "INSERT INTO oauth_grants (",
    grant_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ",
    grant_upsert!(),
    "RETURNING revoked"
);
pub(crate) const INSERT_REFRESH: &str = concat!(
    "INSERT INTO oauth_refresh_tokens (",
    refresh_cols!(),
    ") VALUES ($1, $2, $3, $4, $5)"
);
pub(crate) const SELECT_GRANT: &str = concat!(
    "SELECT ",
    grant_cols!(),
    " FROM oauth_grants WHERE grant_id = $1"
);
const SELECT_GRANT_FOR_UPDATE: &str = concat!(
    "SELECT ",
    grant_cols!(),
    " FROM oauth_grants WHERE grant_id = $1 FOR UPDATE"
);

/// What differs between the databases for a write transaction.
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    /// Starts a transaction that holds the write lock it needs: on SQLite
    /// `BEGIN IMMEDIATE` takes the database write lock up front (so a
    /// read-then-write inside cannot race another writer, nor fail half-way
    /// with `SQLITE_BUSY`); on PostgreSQL a plain `BEGIN`, the rows being
    /// locked by the statements themselves.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
    /// Reads a grant and locks it for the rest of the transaction.
    fn lock_grant_sql(&self) -> &'static str;
}

impl WritePool for SqlitePool {
    type Db = Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
    fn lock_grant_sql(&self) -> &'static str {
        // The whole database is already write-locked by BEGIN IMMEDIATE.
        SELECT_GRANT
    }
}

impl WritePool for PgPool {
    type Db = Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
    fn lock_grant_sql(&self) -> &'static str {
        SELECT_GRANT_FOR_UPDATE
    }
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn insert_client(&self, client: Client) -> Result<(), StoreError> {
        let r = ClientRow::from_client(&client)?;
        const SQL: &str = concat!(
            "INSERT INTO oauth_clients (",
            client_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        );
        on_conn!(self, |pool| sqlx::query(SQL)
            .bind(&r.client_id)
            .bind(&r.secret_hash)
            .bind(&r.redirect_uris)
            .bind(&r.auth_method)
            .bind(r.auth_method_explicit)
            .bind(&r.client_name)
            .bind(&r.scope)
            .bind(&r.grant_types)
            .bind(r.trusted)
            .bind(r.active)
            .bind(r.created_at)
            .bind(r.expires_at)
            .bind(&r.metadata)
            .bind(r.awaiting_first_token)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(|e| match map(e) {
            StoreError::Duplicate(_) => StoreError::Duplicate(client.client_id.clone()),
            other => other,
        })?;
        Ok(())
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            client_cols!(),
            " FROM oauth_clients WHERE client_id = $1"
        );
        let row: Option<ClientRow> = on_conn!(self, |pool| sqlx::query_as(SQL)
            .bind(client_id)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        row.map(ClientRow::into_client).transpose()
    }

    async fn update_client(&self, client: Client) -> Result<bool, StoreError> {
        let r = ClientRow::from_client(&client)?;
        const SQL: &str = "UPDATE oauth_clients SET secret_hash = $2, redirect_uris = $3, \
            auth_method = $4, auth_method_explicit = $5, client_name = $6, scope = $7, \
            grant_types = $8, trusted = $9, active = $10, created_at = $11, expires_at = $12, \
            metadata = $13, awaiting_first_token = $14 WHERE client_id = $1";
        let done = on_conn!(self, |pool| sqlx::query(SQL)
            .bind(&r.client_id)
            .bind(&r.secret_hash)
            .bind(&r.redirect_uris)
            .bind(&r.auth_method)
            .bind(r.auth_method_explicit)
            .bind(&r.client_name)
            .bind(&r.scope)
            .bind(&r.grant_types)
            .bind(r.trusted)
            .bind(r.active)
            .bind(r.created_at)
            .bind(r.expires_at)
            .bind(&r.metadata)
            .bind(r.awaiting_first_token)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))
        .map_err(map)?;
        Ok(done > 0)
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            client_cols!(),
            " FROM oauth_clients ORDER BY created_at, client_id"
        );
        let rows: Vec<ClientRow> =
            on_conn!(self, |pool| sqlx::query_as(SQL).fetch_all(pool).await).map_err(map)?;
        rows.into_iter().map(ClientRow::into_client).collect()
    }
}

#[async_trait]
impl AuthorizationStore for SqlStore {
    async fn insert_pending(&self, p: PendingAuthorization) -> Result<(), StoreError> {
        const SQL: &str = concat!(
            "INSERT INTO oauth_pending (",
            pending_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        let scope = p.scope.to_string();
        on_conn!(self, |pool| bind_pending!(sqlx::query(SQL), &p, scope)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(map)?;
        if p.expires_at > p.created_at {
            self.pending_added(p.created_at);
        }
        Ok(())
    }

    async fn insert_pending_within(
        &self,
        p: PendingAuthorization,
        caps: PendingCaps,
        now: i64,
    ) -> Result<PendingInsert, StoreError> {
        // See `pending`.
        self.insert_pending_capped(&p, caps, now).await
    }

    async fn get_pending(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            pending_cols!(),
            " FROM oauth_pending WHERE id_hash = $1 AND expires_at > $2"
        );
        let row: Option<PendingRow> = on_conn!(self, |pool| sqlx::query_as(SQL)
            .bind(id_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        row.map(PendingRow::into_pending).transpose()
    }

    async fn take_pending(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        // One statement: of concurrent callers exactly one deletes the row
        // and gets it back. An expired request is deleted too, and refused.
        const SQL: &str = concat!(
            "DELETE FROM oauth_pending WHERE id_hash = $1 RETURNING ",
            pending_cols!()
        );
        let row: Option<PendingRow> = on_conn!(self, |pool| sqlx::query_as(SQL)
            .bind(id_hash)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        if row.is_some() {
            self.pending_left(now);
        }
        Ok(row
            .map(PendingRow::into_pending)
            .transpose()?
            .filter(|p| p.expires_at > now))
    }

    async fn insert_code(&self, c: AuthorizationCode) -> Result<(), StoreError> {
        const SQL: &str = concat!(
            "INSERT INTO oauth_codes (",
            code_cols!(),
            ", spent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, FALSE)"
        );
        let scope = c.scope.to_string();
        on_conn!(self, |pool| sqlx::query(SQL)
            .bind(&c.code_hash)
            .bind(&c.grant_id)
            .bind(&c.client_id)
            .bind(&c.redirect_uri)
            .bind(c.redirect_uri_explicit)
            .bind(&c.code_challenge)
            .bind(c.code_challenge_method.as_str())
            .bind(&scope)
            .bind(c.resource.as_str())
            .bind(&c.subject)
            .bind(c.issued_at)
            .bind(c.expires_at)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(|e| match map(e) {
            StoreError::Duplicate(_) => StoreError::Duplicate("authorization code".into()),
            other => other,
        })?;
        Ok(())
    }

    async fn take_pending_into_code(
        &self,
        id_hash: &str,
        now: i64,
        issue: CodeIssue,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.take_pending_into_code_sql(id_hash, now, issue).await
    }

    async fn get_code(&self, code_hash: &str) -> Result<Option<StoredCode>, StoreError> {
        self.get_code_sql(code_hash).await
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        grant: Grant,
        refresh: Option<RefreshToken>,
    ) -> Result<CodeRedemption, StoreError> {
        self.redeem_code_sql(code_hash, &grant, refresh.as_ref(), None)
            .await
    }

    async fn redeem_code_with_first_token(
        &self,
        code_hash: &str,
        grant: Grant,
        refresh: Option<RefreshToken>,
        first_token: Option<FirstToken>,
    ) -> Result<(CodeRedemption, bool), StoreError> {
        // With the redemption: in its statement on PostgreSQL, in its
        // transaction on SQLite.
        let r = self
            .redeem_code_sql(code_hash, &grant, refresh.as_ref(), first_token.as_ref())
            .await?;
        Ok((r, true))
    }

    async fn exchange_code(
        &self,
        code_hash: &str,
        exchange: &CodeExchange,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        self.exchange_code_sql(code_hash, exchange).await
    }

    async fn consume_login_attempt(
        &self,
        id_hash: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<LoginAttempt, StoreError> {
        self.consume_login_attempt_sql(id_hash, max_attempts, now)
            .await
    }

    async fn consume_login_attempt_reading(
        &self,
        id_hash: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<(LoginAttempt, Option<PendingAuthorization>), StoreError> {
        self.consume_login_attempt_reading_sql(id_hash, max_attempts, now)
            .await
    }

    async fn consume_login_attempt_unless_backing_off(
        &self,
        id_hash: &str,
        max_attempts: u32,
        now: i64,
        bucket: &str,
        rule: GcraRule,
        now_ms: i64,
    ) -> Result<Option<GuardedLoginAttempt>, StoreError> {
        self.consume_login_attempt_unless_backing_off_sql(
            id_hash,
            max_attempts,
            now,
            bucket,
            rule,
            now_ms,
        )
        .await
        .map(Some)
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn get_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        const SQL: &str =
            "SELECT username, subject, password_hash FROM oauth_users WHERE username = $1";
        let row: Option<UserRow> = on_conn!(self, |pool| sqlx::query_as(SQL)
            .bind(username)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        Ok(row.map(UserRow::into_user))
    }

    async fn put_user(&self, user: User) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO oauth_users (username, subject, password_hash) \
            VALUES ($1, $2, $3) ON CONFLICT (username) DO UPDATE \
            SET subject = excluded.subject, password_hash = excluded.password_hash";
        on_conn!(self, |pool| sqlx::query(SQL)
            .bind(&user.username)
            .bind(&user.subject)
            .bind(&user.password_hash)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(map)?;
        Ok(())
    }
}
