//! The grants and refresh tokens ([`TokenStore`]) on both databases:
//! storing and revoking grants (with the revocation feed), reading and
//! rotating refresh tokens (one statement on PostgreSQL, see `rotation`).

use async_trait::async_trait;
use oauth_mcp_core::clock::{Clock, SystemClock};
use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::store::{
    Grant, RefreshExchange, RefreshToken, RevocationCursor, RevocationFeed, RotateOutcome,
    RotationDecision, TokenStore, decide_rotation,
};

use crate::codes::{GrantBinds, store_grant};
use crate::error::map;
use crate::revocations;
use crate::rotation::{self, PgRotation};
use crate::rows::{GrantRow, RefreshRow, generation_to_db};
use crate::store::{
    INSERT_GRANT, INSERT_REFRESH, SELECT_GRANT, WritePool, on_conn, on_pool, refresh_cols,
};
use crate::{Backend, SqlStore};

const SELECT_REFRESH: &str = concat!(
    "SELECT ",
    refresh_cols!(),
    " FROM oauth_refresh_tokens WHERE token_hash = $1"
);
/// Revokes a grant; `$2` is the revocation time, kept from the first revocation.
const REVOKE_GRANT: &str = "UPDATE oauth_grants SET revoked = TRUE, \
    revoked_at = COALESCE(revoked_at, $2) WHERE grant_id = $1";
const DELETE_GRANT_REFRESH: &str = "DELETE FROM oauth_refresh_tokens WHERE grant_id = $1";

#[async_trait]
impl TokenStore for SqlStore {
    async fn insert_grant(
        &self,
        grant: Grant,
        refresh: Option<RefreshToken>,
    ) -> Result<(), StoreError> {
        let binds = GrantBinds::new(&grant, refresh.as_ref())?;
        let result: Result<bool, sqlx::Error> = on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            if !store_grant!(tx, &binds).await? {
                return Ok(false);
            }
            tx.commit().await.map(|()| true)
        }
        .await);
        match result.map_err(map) {
            Ok(true) => Ok(()),
            Ok(false) | Err(StoreError::Duplicate(_)) => Err(binds.duplicate()),
            Err(other) => Err(other),
        }
    }

    async fn get_grant(&self, grant_id: &str) -> Result<Option<Grant>, StoreError> {
        let row: Option<GrantRow> = on_conn!(self, |pool| sqlx::query_as(SELECT_GRANT)
            .bind(grant_id)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        // A tombstone (a grant revoked before it was stored) is no grant.
        row.filter(|r| !(r.revoked && r.client_id.is_empty()))
            .map(GrantRow::into_grant)
            .transpose()
    }

    async fn revoke_grant(&self, grant_id: &str) -> Result<bool, StoreError> {
        // Unknown ids get a revoked tombstone. An upsert, not "insert if
        // absent": if the grant is being stored concurrently, the tombstone
        // insert waits for it and then revokes it instead.
        const TOMBSTONE: &str = "INSERT INTO oauth_grants (grant_id, client_id, subject, scope, \
            resource, created_at, refresh_generation, revoked, revoked_at) \
            VALUES ($1, '', '', '', '', 0, 0, TRUE, $2) \
            ON CONFLICT (grant_id) DO UPDATE SET revoked = TRUE, \
            revoked_at = COALESCE(oauth_grants.revoked_at, $2)";
        // The revocation time starts the record's retention (see `purge`).
        let now = SystemClock.now();
        on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            let found = sqlx::query(REVOKE_GRANT)
                .bind(grant_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            if !found {
                sqlx::query(TOMBSTONE)
                    .bind(grant_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(DELETE_GRANT_REFRESH)
                .bind(grant_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(revocations::LOG)
                .bind(grant_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(found)
        }
        .await)
        .map_err(map)
    }

    async fn get_refresh(&self, token_hash: &str) -> Result<Option<RefreshToken>, StoreError> {
        let row: Option<RefreshRow> = on_conn!(self, |pool| sqlx::query_as(SELECT_REFRESH)
            .bind(token_hash)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        row.map(RefreshRow::into_refresh).transpose()
    }

    async fn get_refresh_with_grant(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshToken, Option<Grant>)>, StoreError> {
        const SQL: &str = "SELECT r.token_hash, r.grant_id, r.generation, r.issued_at, \
            r.expires_at, g.client_id, g.subject, g.scope, g.resource, g.created_at, \
            g.refresh_generation, g.revoked \
            FROM oauth_refresh_tokens r LEFT JOIN oauth_grants g ON g.grant_id = r.grant_id \
            WHERE r.token_hash = $1";
        #[derive(sqlx::FromRow)]
        struct Joined {
            #[sqlx(flatten)]
            refresh: RefreshRow,
            client_id: Option<String>,
            subject: Option<String>,
            scope: Option<String>,
            resource: Option<String>,
            created_at: Option<i64>,
            refresh_generation: Option<i64>,
            revoked: Option<bool>,
        }
        let row: Option<Joined> = on_conn!(self, |pool| sqlx::query_as(SQL)
            .bind(token_hash)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        let Some(j) = row else {
            return Ok(None);
        };
        let grant = match (
            j.client_id,
            j.subject,
            j.scope,
            j.resource,
            j.created_at,
            j.refresh_generation,
            j.revoked,
        ) {
            (
                Some(client_id),
                Some(subject),
                Some(scope),
                Some(resource),
                Some(created_at),
                Some(refresh_generation),
                Some(revoked),
            ) => Some(GrantRow {
                grant_id: j.refresh.grant_id.clone(),
                client_id,
                subject,
                scope,
                resource,
                created_at,
                refresh_generation,
                revoked,
            }),
            _ => None,
        };
        // A tombstone (a grant revoked before it was stored) is no grant.
        let grant = grant
            .filter(|r| !(r.revoked && r.client_id.is_empty()))
            .map(GrantRow::into_grant)
            .transpose()?;
        Ok(Some((j.refresh.into_refresh()?, grant)))
    }

    async fn refresh_for(
        &self,
        presented_hash: &str,
        x: &RefreshExchange,
    ) -> Result<Option<Grant>, StoreError> {
        // SQLite, a local file with no round trip to save: the engine reads
        // the token, then rotates it in one transaction.
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        let rotation = rotation::rotate_pg(
            self,
            pool,
            presented_hash,
            &x.new_hash,
            x.now,
            x.new_expires_at,
            Some(x),
        )
        .await?;
        // A reuse (nothing written) is left to the engine's rotate_refresh,
        // which revokes the grant.
        Ok(match rotation {
            PgRotation::Done(RotateOutcome::Rotated(grant)) => Some(grant),
            PgRotation::Done(RotateOutcome::Reused { .. } | RotateOutcome::Invalid)
            | PgRotation::Reuse => None,
        })
    }

    async fn rotate_refresh(
        &self,
        presented_hash: &str,
        new_hash: &str,
        now: i64,
        new_expires_at: i64,
    ) -> Result<RotateOutcome, StoreError> {
        const SET_GENERATION: &str =
            "UPDATE oauth_grants SET refresh_generation = $2 WHERE grant_id = $1";
        // PostgreSQL: one statement for every rotation but a reuse.
        if let Backend::Postgres(pool) = &self.backend {
            match rotation::rotate_pg(
                self,
                pool,
                presented_hash,
                new_hash,
                now,
                new_expires_at,
                None,
            )
            .await?
            {
                PgRotation::Done(outcome) => return Ok(outcome),
                PgRotation::Reuse => {}
            }
        }
        // One transaction holding the grant's lock from the read of its
        // generation to the write of the new token: concurrent rotations of
        // one grant run one after the other.
        on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await.map_err(map)?;
            let outcome = async {
                let presented: Option<RefreshRow> = sqlx::query_as(SELECT_REFRESH)
                    .bind(presented_hash)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map)?;
                let Some(presented) = presented else {
                    return Ok(RotateOutcome::Invalid);
                };
                if presented.expires_at <= now {
                    return Ok(RotateOutcome::Invalid);
                }
                let grant: Option<GrantRow> = sqlx::query_as(pool.lock_grant_sql())
                    .bind(&presented.grant_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map)?;
                let Some(grant) = grant else {
                    return Ok(RotateOutcome::Invalid);
                };
                // A revocation in the meantime also deleted the presented
                // token; `revoked`, read under the lock, covers that.
                let mut grant = grant.into_grant()?;
                if grant.revoked {
                    return Ok(RotateOutcome::Invalid);
                }
                let presented = presented.into_refresh()?;
                let generation =
                    match decide_rotation(presented.generation, grant.refresh_generation) {
                        RotationDecision::Advance => grant.refresh_generation + 1,
                        RotationDecision::Sibling => grant.refresh_generation,
                        RotationDecision::Reuse => {
                            sqlx::query(REVOKE_GRANT)
                                .bind(&grant.grant_id)
                                .bind(now)
                                .execute(&mut *tx)
                                .await
                                .map_err(map)?;
                            sqlx::query(DELETE_GRANT_REFRESH)
                                .bind(&grant.grant_id)
                                .execute(&mut *tx)
                                .await
                                .map_err(map)?;
                            sqlx::query(revocations::LOG)
                                .bind(&grant.grant_id)
                                .execute(&mut *tx)
                                .await
                                .map_err(map)?;
                            return Ok(RotateOutcome::Reused {
                                grant_id: grant.grant_id,
                            });
                        }
                    };
                let db_generation = generation_to_db(generation)?;
                // Retired tokens stay (until they expire), so that their
                // reuse is recognised as theft rather than as an unknown token.
                sqlx::query(INSERT_REFRESH)
                    .bind(new_hash)
                    .bind(&grant.grant_id)
                    .bind(db_generation)
                    .bind(now)
                    .bind(new_expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match map(e) {
                        StoreError::Duplicate(_) => StoreError::Duplicate("refresh token".into()),
                        other => other,
                    })?;
                sqlx::query(SET_GENERATION)
                    .bind(&grant.grant_id)
                    .bind(db_generation)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                grant.refresh_generation = generation;
                Ok::<_, StoreError>(RotateOutcome::Rotated(grant))
            }
            .await?;
            // On an error above, dropping `tx` rolls back.
            tx.commit().await.map_err(map)?;
            Ok(outcome)
        }
        .await)
    }

    async fn revocations_since(
        &self,
        after: Option<RevocationCursor>,
    ) -> Result<Option<RevocationFeed>, StoreError> {
        self.read_revocations(after).await.map(Some)
    }
}
