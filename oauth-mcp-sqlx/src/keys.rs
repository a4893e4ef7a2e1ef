//! [`KeyStore`] on both databases: the key set's version lives in the
//! one-row table `oauth_key_set`, the keys in `oauth_signing_keys`. A write
//! is one transaction that first runs `UPDATE oauth_key_set SET version =
//! version + 1 WHERE version = <expected>`: on PostgreSQL concurrent writers
//! queue on that row's lock and, once the first commits, find the version
//! changed (no row updated: [`KeyWrite::Stale`]); on SQLite `BEGIN
//! IMMEDIATE` serialises them.

use async_trait::async_trait;
use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::store::keys::{
    KeyChange, KeySetSnapshot, KeyStore, KeyWrite, SigningKeyRecord, StoredPrivateKey, sort_keys,
    unknown_kid,
};

use crate::error::map;
use crate::store::{WritePool, on_conn, on_pool};
use crate::{Backend, SqlStore};

/// The version and every key in one statement, so both come from one
/// snapshot of the database (one row with NULL key columns when there is
/// no key).
const LIST: &str = "SELECT s.version AS set_version, k.kid, k.algorithm, k.public_jwk, \
    k.protection, k.private_key, k.created_at, k.published_at, k.activated_at, k.retired_at, \
    k.remove_after FROM oauth_key_set s LEFT JOIN oauth_signing_keys k ON TRUE WHERE s.id = 1";
const BUMP: &str = "UPDATE oauth_key_set SET version = version + 1 WHERE id = 1 AND version = $1";
const INSERT: &str = "INSERT INTO oauth_signing_keys (kid, algorithm, public_jwk, protection, \
    private_key, created_at, published_at, activated_at, retired_at, remove_after) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const SET_LIFECYCLE: &str = "UPDATE oauth_signing_keys SET activated_at = $2, retired_at = $3, \
    remove_after = $4 WHERE kid = $1";
const REMOVE: &str = "DELETE FROM oauth_signing_keys WHERE kid = $1";

#[derive(Debug, sqlx::FromRow)]
struct KeySetRow {
    set_version: i64,
    kid: Option<String>,
    algorithm: Option<String>,
    public_jwk: Option<String>,
    protection: Option<String>,
    private_key: Option<Vec<u8>>,
    created_at: Option<i64>,
    published_at: Option<i64>,
    activated_at: Option<i64>,
    retired_at: Option<i64>,
    remove_after: Option<i64>,
}

fn corrupt(kid: &str, what: &str) -> StoreError {
    StoreError::Other(format!(
        "stored signing key {kid}: {what} is malformed or missing"
    ))
}

impl KeySetRow {
    /// The key of this row; `None` for the row of an empty key set.
    fn into_record(self) -> Result<Option<SigningKeyRecord>, StoreError> {
        let Some(kid) = self.kid else {
            return Ok(None);
        };
        let algorithm = self
            .algorithm
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| corrupt(&kid, "algorithm"))?;
        let private_key = match (self.protection, self.private_key) {
            (Some(p), Some(bytes)) => StoredPrivateKey::from_parts(&p, bytes),
            _ => None,
        }
        .ok_or_else(|| corrupt(&kid, "protection"))?;
        Ok(Some(SigningKeyRecord {
            public_jwk: self.public_jwk.ok_or_else(|| corrupt(&kid, "public_jwk"))?,
            created_at: self.created_at.ok_or_else(|| corrupt(&kid, "created_at"))?,
            published_at: self
                .published_at
                .ok_or_else(|| corrupt(&kid, "published_at"))?,
            activated_at: self.activated_at,
            retired_at: self.retired_at,
            remove_after: self.remove_after,
            kid,
            algorithm,
            private_key,
        }))
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn list_keys(&self) -> Result<KeySetSnapshot, StoreError> {
        let rows: Vec<KeySetRow> =
            on_conn!(self, |pool| sqlx::query_as(LIST).fetch_all(pool).await).map_err(map)?;
        let version = rows.first().map(|r| r.set_version).ok_or_else(|| {
            StoreError::Other(
                "the key set row (oauth_key_set, id 1) is missing: migration 0002_keys creates it"
                    .into(),
            )
        })?;
        let version = u64::try_from(version).map_err(|_| {
            StoreError::Other(format!("stored key-set version {version} is negative"))
        })?;
        let mut keys = Vec::new();
        for row in rows {
            keys.extend(row.into_record()?);
        }
        // Sorted here, not by SQL: a database collation must not decide the
        // order of kids.
        sort_keys(&mut keys);
        Ok(KeySetSnapshot { version, keys })
    }

    async fn write_keys(
        &self,
        expected_version: u64,
        changes: &[KeyChange],
    ) -> Result<KeyWrite, StoreError> {
        let expected = i64::try_from(expected_version).map_err(|_| {
            StoreError::Other(format!("key-set version {expected_version} too large"))
        })?;
        on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await.map_err(map)?;
            let bumped = sqlx::query(BUMP)
                .bind(expected)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected();
            if bumped == 0 {
                // Dropping `tx` rolls back.
                return Ok(KeyWrite::Stale);
            }
            for change in changes {
                let done = match change {
                    KeyChange::Insert(r) => sqlx::query(INSERT)
                        .bind(&r.kid)
                        .bind(r.algorithm.as_str())
                        .bind(&r.public_jwk)
                        .bind(r.private_key.protection_name())
                        .bind(r.private_key.bytes())
                        .bind(r.created_at)
                        .bind(r.published_at)
                        .bind(r.activated_at)
                        .bind(r.retired_at)
                        .bind(r.remove_after)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| match map(e) {
                            StoreError::Duplicate(_) => {
                                StoreError::Duplicate(format!("signing key {}", r.kid))
                            }
                            other => other,
                        })?,
                    KeyChange::SetLifecycle {
                        kid,
                        activated_at,
                        retired_at,
                        remove_after,
                    } => sqlx::query(SET_LIFECYCLE)
                        .bind(kid)
                        .bind(*activated_at)
                        .bind(*retired_at)
                        .bind(*remove_after)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?,
                    KeyChange::Remove { kid } => sqlx::query(REMOVE)
                        .bind(kid)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?,
                };
                if done.rows_affected() == 0 {
                    return Err(unknown_kid(change.kid()));
                }
            }
            tx.commit().await.map_err(map)?;
            Ok(KeyWrite::Written {
                version: expected_version + 1,
            })
        }
        .await)
    }
}
