//! Refresh rotation on PostgreSQL in one statement (see
//! [`TokenStore::rotate_refresh`](oauth_mcp_core::store::TokenStore::rotate_refresh)):
//! the advance and sibling cases, which are every rotation of a client that
//! behaves, take one round trip and one commit instead of BEGIN, four
//! statements and COMMIT. A reuse (theft) is left to the transaction in
//! `store.rs`, which revokes the grant.
//!
//! Atomicity is the transaction's: `SELECT … FOR UPDATE` on the grant row
//! inside the statement makes concurrent rotations of one grant wait for
//! each other; the one that waited re-reads the grant's newest version
//! (READ COMMITTED re-checks a locked row that changed), so it decides on
//! the generation the other one wrote, and on `revoked`.

use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::store::{RefreshExchange, RotateOutcome, RotationDecision, decide_rotation};
use sqlx::PgPool;

use crate::SqlStore;
use crate::error::map;
use crate::rows::{GrantRow, generation_from_db};

/// `$1` presented hash, `$2` new hash, `$3` now, `$4` new expiry; `$5`
/// the client and `$6` the resource the grant must have (NULL: any; see
/// [`RefreshExchange::matches`]).
///
/// `new_gen` is [`decide_rotation`] in SQL: presented ≥ current → current + 1
/// (advance); presented + 1 = current → current (sibling); else NULL
/// (reuse: nothing is written, the caller falls back to the transaction).
/// The caller checks the returned generations against [`decide_rotation`].
const ROTATE_PG: &str = "WITH p AS MATERIALIZED (\
        SELECT grant_id, generation FROM oauth_refresh_tokens \
        WHERE token_hash = $1 AND expires_at > $3), \
    g AS MATERIALIZED (\
        SELECT g.grant_id, g.client_id, g.subject, g.scope, g.resource, g.created_at, \
        g.refresh_generation, g.revoked, p.generation AS presented, \
        CASE WHEN p.generation >= g.refresh_generation THEN g.refresh_generation + 1 \
             WHEN p.generation + 1 = g.refresh_generation THEN g.refresh_generation \
        END AS new_gen \
        FROM oauth_grants g JOIN p ON g.grant_id = p.grant_id \
        WHERE NOT g.revoked AND ($5::TEXT IS NULL OR g.client_id = $5) \
        AND ($6::TEXT IS NULL OR g.resource = $6) FOR UPDATE OF g), \
    ins AS (INSERT INTO oauth_refresh_tokens (token_hash, grant_id, generation, issued_at, expires_at) \
        SELECT $2, grant_id, new_gen, $3, $4 FROM g WHERE new_gen IS NOT NULL RETURNING 1), \
    upd AS (UPDATE oauth_grants SET refresh_generation = g.new_gen FROM g \
        WHERE oauth_grants.grant_id = g.grant_id AND g.new_gen > g.refresh_generation RETURNING 1) \
    SELECT grant_id, client_id, subject, scope, resource, created_at, refresh_generation, revoked, \
        presented, new_gen FROM g";

#[derive(sqlx::FromRow)]
struct Rotated {
    #[sqlx(flatten)]
    grant: GrantRow,
    presented: i64,
    new_gen: Option<i64>,
}

/// What the one statement did.
pub(crate) enum PgRotation {
    /// Decided and, unless a reuse, written.
    Done(RotateOutcome),
    /// A reuse: nothing written; the caller revokes in a transaction.
    Reuse,
}

/// Rotates in one statement; with `only`, a grant the request does not
/// match is [`RotateOutcome::Invalid`] (nothing written), as for
/// [`TokenStore::refresh_for`](oauth_mcp_core::store::TokenStore::refresh_for).
pub(crate) async fn rotate_pg(
    store: &SqlStore,
    pool: &PgPool,
    presented_hash: &str,
    new_hash: &str,
    now: i64,
    new_expires_at: i64,
    only: Option<&RefreshExchange>,
) -> Result<PgRotation, StoreError> {
    let row: Option<Rotated> = pg_conn!(store, pool, |c| sqlx::query_as(ROTATE_PG)
        .bind(presented_hash)
        .bind(new_hash)
        .bind(now)
        .bind(new_expires_at)
        .bind(only.map(|x| x.client_id.as_str()))
        .bind(only.and_then(|x| x.resource.as_ref()).map(|r| r.as_str()))
        .fetch_optional(c)
        .await)
    .map_err(|e| match map(e) {
        StoreError::Duplicate(_) => StoreError::Duplicate("refresh token".into()),
        other => other,
    })?;
    // Unknown or expired token, unknown or revoked grant.
    let Some(row) = row else {
        return Ok(PgRotation::Done(RotateOutcome::Invalid));
    };
    let presented = generation_from_db(row.presented)?;
    let mut grant = row.grant.into_grant()?;
    let expected = match decide_rotation(presented, grant.refresh_generation) {
        RotationDecision::Advance => Some(grant.refresh_generation + 1),
        RotationDecision::Sibling => Some(grant.refresh_generation),
        RotationDecision::Reuse => None,
    };
    let written = row.new_gen.map(generation_from_db).transpose()?;
    if written != expected {
        // Cannot happen while the SQL mirrors decide_rotation; say so loudly
        // rather than hand out a token the rule did not allow.
        return Err(StoreError::Other(format!(
            "refresh rotation: the database decided generation {written:?}, the rule {expected:?}"
        )));
    }
    match written {
        Some(generation) => {
            grant.refresh_generation = generation;
            Ok(PgRotation::Done(RotateOutcome::Rotated(grant)))
        }
        None => Ok(PgRotation::Reuse),
    }
}
