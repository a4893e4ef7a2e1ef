//! Authorization codes and the grants they start: reading a code, and
//! spending it together with storing its grant in one transaction (see
//! [`AuthorizationStore::redeem_code`](oauth_mcp_core::store::AuthorizationStore::redeem_code)).
//!
//! One transaction matters under load: the request that spends a code needs
//! no second pool connection afterwards, so a saturated pool can refuse it
//! only before the code is spent (the code stays usable), never between
//! spending it and storing the grant (which would lose the login). And the
//! contenders that lose the race wait for the winner's row lock, so they
//! see the code spent only once the grant is stored: revoking the replayed
//! grant then revokes the real one.

use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::store::{
    CodeIssue, CodeRedemption, FirstToken, Grant, PendingAuthorization, RefreshToken, StoredCode,
};

use crate::durability::async_commit;
use crate::error::map;
use crate::rows::{CodeRow, PendingRow, generation_to_db};
use crate::store::{
    INSERT_GRANT, INSERT_REFRESH, WritePool, code_cols, first_token_cte, grant_cols, grant_upsert,
    on_conn, on_pool, pending_cols, pg_conn,
};
use crate::{Backend, SqlStore};

/// A grant's values as bound to [`INSERT_GRANT`] and [`INSERT_REFRESH`].
pub(crate) struct GrantBinds<'a> {
    pub(crate) grant: &'a Grant,
    pub(crate) refresh: Option<&'a RefreshToken>,
    pub(crate) scope: String,
    pub(crate) generation: i64,
    pub(crate) refresh_generation: Option<i64>,
}

impl<'a> GrantBinds<'a> {
    pub(crate) fn new(
        grant: &'a Grant,
        refresh: Option<&'a RefreshToken>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            grant,
            refresh,
            scope: grant.scope.to_string(),
            generation: generation_to_db(grant.refresh_generation)?,
            refresh_generation: refresh
                .map(|r| generation_to_db(r.generation))
                .transpose()?,
        })
    }

    pub(crate) fn duplicate(&self) -> StoreError {
        StoreError::Duplicate(format!("grant {}", self.grant.grant_id))
    }
}

/// Stores a grant (and its refresh token, unless the grant was revoked
/// before it was stored) inside the transaction `$tx`: evaluates to
/// `Ok(true)` if stored, `Ok(false)` if the id is already stored.
macro_rules! store_grant {
    ($tx:ident, $b:expr) => {
        async {
            let b: &GrantBinds<'_> = $b;
            let stored: Option<(bool,)> = sqlx::query_as(INSERT_GRANT)
                .bind(&b.grant.grant_id)
                .bind(&b.grant.client_id)
                .bind(&b.grant.subject)
                .bind(&b.scope)
                .bind(b.grant.resource.as_str())
                .bind(b.grant.created_at)
                .bind(b.generation)
                .bind(b.grant.revoked)
                .fetch_optional(&mut *$tx)
                .await?;
            let Some((revoked,)) = stored else {
                return Ok::<bool, sqlx::Error>(false);
            };
            if let (Some(r), Some(g), false) = (b.refresh, b.refresh_generation, revoked) {
                sqlx::query(INSERT_REFRESH)
                    .bind(&r.token_hash)
                    .bind(&r.grant_id)
                    .bind(g)
                    .bind(r.issued_at)
                    .bind(r.expires_at)
                    .execute(&mut *$tx)
                    .await?;
            }
            Ok(true)
        }
    };
}
pub(crate) use store_grant;

/// How a redemption's transaction ended.
enum Spend {
    Redeemed(Box<CodeRow>),
    Replayed(String),
    NotFound,
    Duplicate,
}

impl SqlStore {
    pub(crate) async fn get_code_sql(
        &self,
        code_hash: &str,
    ) -> Result<Option<StoredCode>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            code_cols!(),
            ", spent FROM oauth_codes WHERE code_hash = $1"
        );
        let row: Option<CodeRow> = on_conn!(self, |pool| sqlx::query_as(SQL)
            .bind(code_hash)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        row.map(|r| {
            let spent = r.spent;
            r.into_code().map(|code| StoredCode { code, spent })
        })
        .transpose()
    }

    pub(crate) async fn take_pending_into_code_sql(
        &self,
        id_hash: &str,
        now: i64,
        issue: CodeIssue,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        // The code's own columns are $2…$7; the rest comes from the taken
        // request. An expired request is deleted and yields no code.
        macro_rules! code_from {
            ($p:literal) => {
                concat!(
                    "INSERT INTO oauth_codes (",
                    code_cols!(),
                    ", spent) SELECT $2, $3, client_id, redirect_uri, redirect_uri_explicit, \
                     code_challenge, code_challenge_method, $4, resource, $5, $6, $7, FALSE FROM ",
                    $p,
                    " WHERE expires_at > $8"
                )
            };
        }
        // PostgreSQL: one statement (data-modifying CTE), one round trip,
        // committed without waiting for the disk (see `durability`).
        const TAKE_PG: &str = concat!(
            "WITH p AS (DELETE FROM oauth_pending WHERE id_hash = $1 AND ",
            async_commit!(),
            " RETURNING ",
            pending_cols!(),
            "), c AS (",
            code_from!("p"),
            " RETURNING 1) SELECT ",
            pending_cols!(),
            " FROM p WHERE expires_at > $8"
        );
        // SQLite (no data-modifying CTEs): copy, then delete, in one
        // transaction holding the write lock.
        const COPY_SQLITE: &str = concat!(code_from!("oauth_pending"), " AND id_hash = $1");
        const TAKE_SQLITE: &str = concat!(
            "DELETE FROM oauth_pending WHERE id_hash = $1 RETURNING ",
            pending_cols!()
        );
        let scope = issue.scope.to_string();
        macro_rules! bind_issue {
            ($q:expr) => {
                $q.bind(id_hash)
                    .bind(&issue.code_hash)
                    .bind(&issue.grant_id)
                    .bind(&scope)
                    .bind(&issue.subject)
                    .bind(issue.issued_at)
                    .bind(issue.expires_at)
                    .bind(now)
            };
        }
        let row: Result<Option<PendingRow>, sqlx::Error> = match &self.backend {
            Backend::Postgres(pool) => {
                pg_conn!(self, pool, |c| bind_issue!(sqlx::query_as(TAKE_PG))
                    .fetch_optional(c)
                    .await)
            }
            Backend::Sqlite(pool) => {
                async {
                    let mut tx = pool.begin_write().await?;
                    bind_issue!(sqlx::query(COPY_SQLITE))
                        .execute(&mut *tx)
                        .await?;
                    let row: Option<PendingRow> = sqlx::query_as(TAKE_SQLITE)
                        .bind(id_hash)
                        .fetch_optional(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(row)
                }
                .await
            }
        };
        let row = row.map_err(|e| match map(e) {
            StoreError::Duplicate(_) => StoreError::Duplicate("authorization code".into()),
            other => other,
        })?;
        if row.is_some() {
            self.pending_left(now);
        }
        Ok(row
            .map(PendingRow::into_pending)
            .transpose()?
            .filter(|p| p.expires_at > now))
    }

    /// Redeems a code into its grant (and refresh token), and records the
    /// client's `first_token` if given and the client still awaits it, in
    /// one statement (PostgreSQL) or one transaction (SQLite).
    pub(crate) async fn redeem_code_sql(
        &self,
        code_hash: &str,
        grant: &Grant,
        refresh: Option<&RefreshToken>,
        first_token: Option<&FirstToken>,
    ) -> Result<CodeRedemption, StoreError> {
        // The conditional UPDATE decides: of concurrent callers exactly one
        // flips `spent` (on PostgreSQL the others wait for its row lock until
        // it commits, then re-check `NOT spent`; on SQLite BEGIN IMMEDIATE
        // serialises the transactions).
        const SPEND: &str = concat!(
            "UPDATE oauth_codes SET spent = TRUE WHERE code_hash = $1 AND NOT spent RETURNING ",
            code_cols!(),
            ", spent"
        );
        const LOOKUP: &str = "SELECT grant_id FROM oauth_codes WHERE code_hash = $1 AND spent";
        // Only the flag and the expiry: an edit of the client made since the
        // engine read it is kept.
        const FIRST_TOKEN: &str = "UPDATE oauth_clients SET awaiting_first_token = FALSE, \
             expires_at = $2 WHERE client_id = $1 AND awaiting_first_token";
        let binds = GrantBinds::new(grant, refresh)?;
        if let Backend::Postgres(pool) = &self.backend {
            return self.redeem_pg(pool, code_hash, &binds, first_token).await;
        }
        let spend: Result<Spend, sqlx::Error> = on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            let row: Option<CodeRow> = sqlx::query_as(SPEND)
                .bind(code_hash)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                // Not spendable: either spent (remembered until purged) or unknown.
                let grant: Option<(String,)> = sqlx::query_as(LOOKUP)
                    .bind(code_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Ok(grant.map_or(Spend::NotFound, |(g,)| Spend::Replayed(g)));
            };
            if !store_grant!(tx, &binds).await? {
                // Rolled back when `tx` drops: the code stays unspent.
                return Ok(Spend::Duplicate);
            }
            if let Some(first) = first_token {
                sqlx::query(FIRST_TOKEN)
                    .bind(&first.client_id)
                    .bind(first.expires_at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Spend::Redeemed(Box::new(row)))
        }
        .await);
        match spend.map_err(map) {
            Ok(Spend::Redeemed(row)) => Ok(CodeRedemption::Redeemed(row.into_code()?)),
            Ok(Spend::Replayed(grant_id)) => Ok(CodeRedemption::Replayed { grant_id }),
            Ok(Spend::NotFound) => Ok(CodeRedemption::NotFound),
            Ok(Spend::Duplicate) | Err(StoreError::Duplicate(_)) => Err(binds.duplicate()),
            Err(other) => Err(other),
        }
    }
}

/// PostgreSQL: spends the code, stores the grant and its refresh token in
/// one statement (data-modifying CTEs), so one round trip and one commit
/// instead of BEGIN, three statements and COMMIT. The statement is atomic
/// like the transaction was: concurrent spenders wait for the winner's row
/// lock on the code until its statement commits with the grant, then find
/// the code spent.
const REDEEM_PG: &str = concat!(
    "WITH spent AS (UPDATE oauth_codes SET spent = TRUE WHERE code_hash = $1 AND NOT spent RETURNING ",
    code_cols!(),
    ", spent), ",
    "g AS (INSERT INTO oauth_grants (",
    grant_cols!(),
    ") SELECT $2, $3, $4, $5, $6, $7, $8, $9 FROM spent ",
    grant_upsert!(),
    "RETURNING revoked), ",
    // A live grant with this id: the upsert above returned no row. Insert it
    // again without the upsert, so the unique violation aborts the whole
    // statement and the code stays unspent.
    "dup AS (INSERT INTO oauth_grants (",
    grant_cols!(),
    ") SELECT $2, $3, $4, $5, $6, $7, $8, $9 FROM spent \
     WHERE NOT EXISTS (SELECT 1 FROM g) RETURNING 1), ",
    // The client's first token ($15 NULL: none to record).
    first_token_cte!("$15", "$16"),
    // Not for a grant stored revoked (a tombstone: revoked before stored).
    "r AS (INSERT INTO oauth_refresh_tokens (token_hash, grant_id, generation, issued_at, \
     expires_at) SELECT $10, $14, $11, $12, $13 FROM g WHERE $10 IS NOT NULL AND NOT g.revoked \
     RETURNING 1) ",
    "SELECT * FROM spent"
);

impl SqlStore {
    /// Redeems on PostgreSQL, also recording `first_token` if given.
    pub(crate) async fn redeem_pg(
        &self,
        pool: &sqlx::PgPool,
        code_hash: &str,
        b: &GrantBinds<'_>,
        first_token: Option<&FirstToken>,
    ) -> Result<CodeRedemption, StoreError> {
        const LOOKUP: &str = "SELECT grant_id FROM oauth_codes WHERE code_hash = $1 AND spent";
        let refresh_hash: Option<&str> = b.refresh.map(|r| r.token_hash.as_str());
        let row: Option<CodeRow> = pg_conn!(self, pool, |c| sqlx::query_as(REDEEM_PG)
            .bind(code_hash)
            .bind(&b.grant.grant_id)
            .bind(&b.grant.client_id)
            .bind(&b.grant.subject)
            .bind(&b.scope)
            .bind(b.grant.resource.as_str())
            .bind(b.grant.created_at)
            .bind(b.generation)
            .bind(b.grant.revoked)
            .bind(refresh_hash)
            .bind(b.refresh_generation.unwrap_or(0))
            .bind(b.refresh.map_or(0, |r| r.issued_at))
            .bind(b.refresh.map_or(0, |r| r.expires_at))
            .bind(b.refresh.map(|r| r.grant_id.as_str()))
            .bind(first_token.map(|f| f.client_id.as_str()))
            .bind(first_token.and_then(|f| f.expires_at))
            .fetch_optional(c)
            .await)
        .map_err(|e| match map(e) {
            StoreError::Duplicate(_) => b.duplicate(),
            other => other,
        })?;
        if let Some(row) = row {
            return Ok(CodeRedemption::Redeemed(row.into_code()?));
        }
        // Not spendable: spent (remembered until purged) or unknown. A new
        // statement, so a fresh snapshot: it sees a spend that committed while
        // the one above waited for the row lock.
        let grant: Option<(String,)> = sqlx::query_as(LOOKUP)
            .bind(code_hash)
            .fetch_optional(pool)
            .await
            .map_err(map)?;
        Ok(
            grant.map_or(CodeRedemption::NotFound, |(g,)| CodeRedemption::Replayed {
                grant_id: g,
            }),
        )
    }
}
