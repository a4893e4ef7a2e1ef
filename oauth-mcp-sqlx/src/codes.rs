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
use oauth_mcp_core::store::{CodeRedemption, Grant, RefreshToken, StoredCode};

use crate::error::map;
use crate::rows::{CodeRow, generation_to_db};
use crate::store::{INSERT_GRANT, INSERT_REFRESH, WritePool, code_cols, on_pool};
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
        let row: Option<CodeRow> = on_pool!(self, |pool| sqlx::query_as(SQL)
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

    pub(crate) async fn redeem_code_sql(
        &self,
        code_hash: &str,
        grant: &Grant,
        refresh: Option<&RefreshToken>,
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
        let binds = GrantBinds::new(grant, refresh)?;
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
