//! A code exchange in one statement on PostgreSQL (see
//! [`AuthorizationStore::exchange_code`](oauth_mcp_core::store::AuthorizationStore::exchange_code)):
//! the conditional `UPDATE` that spends the code also checks the token
//! request ([`CodeExchange::matches`] in SQL), and the same statement stores
//! the grant from the spent row, as the redemption in `codes.rs` does. The
//! read of the code before its redemption goes: one round trip per code
//! exchange instead of two.
//!
//! A code the request does not match stays as it was (no row is updated,
//! nothing else runs); the engine then reads it and says why.

use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::store::{AuthorizationCode, CodeExchange};

use crate::error::map;
use crate::rows::CodeRow;
use crate::store::{code_cols, first_token_cte, grant_cols, grant_upsert, pg_conn};
use crate::{Backend, SqlStore};

/// `$1` code hash, `$2` client, `$3` now, `$4` redirect URI (NULL: none
/// sent), `$5` S256 challenge, `$6` resource (NULL: none named), `$7`/`$8`
/// the refresh token's hash and expiry (NULL: none), `$9`/`$10` the first
/// token's client and expiry (`$9` NULL: none to record).
///
/// `spent` is [`CodeExchange::matches`]; the grant is
/// [`CodeExchange::grant_for`]; `g`, `dup`, `fc` and `r` are the
/// redemption's (`REDEEM_PG`).
const EXCHANGE_PG: &str = concat!(
    "WITH spent AS (UPDATE oauth_codes SET spent = TRUE WHERE code_hash = $1 AND NOT spent \
     AND client_id = $2 AND expires_at > $3 \
     AND (redirect_uri = $4 OR ($4 IS NULL AND NOT redirect_uri_explicit)) \
     AND code_challenge_method = 'S256' AND code_challenge = $5 \
     AND ($6::TEXT IS NULL OR resource = $6) RETURNING ",
    code_cols!(),
    ", spent), ",
    "g AS (INSERT INTO oauth_grants (",
    grant_cols!(),
    ") SELECT grant_id, client_id, subject, scope, resource, $3, 0, FALSE FROM spent ",
    grant_upsert!(),
    "RETURNING grant_id, revoked), ",
    // A live grant with this id: insert it again without the upsert, so
    // the unique violation aborts the statement and the code stays unspent.
    "dup AS (INSERT INTO oauth_grants (",
    grant_cols!(),
    ") SELECT grant_id, client_id, subject, scope, resource, $3, 0, FALSE FROM spent \
     WHERE NOT EXISTS (SELECT 1 FROM g) RETURNING 1), ",
    first_token_cte!("$9", "$10"),
    // Not for a grant stored revoked (a tombstone: revoked before stored).
    "r AS (INSERT INTO oauth_refresh_tokens (token_hash, grant_id, generation, issued_at, \
     expires_at) SELECT $7, g.grant_id, 0, $3, $8 FROM g \
     WHERE $7::TEXT IS NOT NULL AND NOT g.revoked RETURNING 1) ",
    "SELECT * FROM spent"
);

impl SqlStore {
    /// The code, if this store spent it for `x` in one step: on PostgreSQL
    /// [`EXCHANGE_PG`]. On SQLite, a local file with no round trip to save,
    /// `None`: the engine reads the code, then redeems it in one
    /// transaction.
    pub(crate) async fn exchange_code_sql(
        &self,
        code_hash: &str,
        x: &CodeExchange,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        let refresh = x.refresh.as_ref();
        let first = x.first_token.as_ref();
        let row: Option<CodeRow> = pg_conn!(self, pool, |c| sqlx::query_as(EXCHANGE_PG)
            .bind(code_hash)
            .bind(&x.client_id)
            .bind(x.now)
            .bind(x.redirect_uri.as_deref())
            .bind(&x.s256_challenge)
            .bind(x.resource.as_ref().map(|r| r.as_str()))
            .bind(refresh.map(|r| r.token_hash.as_str()))
            .bind(refresh.map(|r| r.expires_at))
            .bind(first.map(|f| f.client_id.as_str()))
            .bind(first.and_then(|f| f.expires_at))
            .fetch_optional(c)
            .await)
        .map_err(|e| match map(e) {
            StoreError::Duplicate(_) => {
                StoreError::Duplicate("grant (the code's grant id is already stored)".into())
            }
            other => other,
        })?;
        row.map(CodeRow::into_code).transpose()
    }
}
