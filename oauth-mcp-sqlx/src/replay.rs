//! [`ReplayStore`] on both databases: one conditional upsert.

use async_trait::async_trait;
use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::store::ReplayStore;

use crate::SqlStore;
use crate::error::map;

/// Inserts the marker, or renews one that has expired; a live marker is
/// left alone and nothing is written. The statement is the whole decision:
/// on PostgreSQL a concurrent insert of the same key waits for the first to
/// commit and then takes the conflict branch, whose `WHERE` sees the live
/// row; on SQLite writes are serialised. So exactly one caller affects a row.
const CONSUME: &str = "INSERT INTO oauth_replay (marker, expires_at) VALUES ($1, $2) \
    ON CONFLICT (marker) DO UPDATE SET expires_at = excluded.expires_at \
    WHERE oauth_replay.expires_at <= $3";

#[async_trait]
impl ReplayStore for SqlStore {
    async fn consume_once(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StoreError> {
        let affected = on_conn!(self, |pool| sqlx::query(CONSUME)
            .bind(key)
            .bind(expires_at)
            .bind(now)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))
        .map_err(map)?;
        Ok(affected == 1)
    }
}
