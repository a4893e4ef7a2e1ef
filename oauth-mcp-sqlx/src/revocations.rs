//! The revocation feed ([`TokenStore::revocations_since`](oauth_mcp_core::store::TokenStore::revocations_since))
//! on both databases: `oauth_revocations` gets a row in the transaction of
//! every revocation; a reader asks for the rows after the highest sequence
//! number it saw, plus those written in the [`LOOKBACK_MS`] before its
//! previous read (a PostgreSQL sequence number may commit after a higher
//! one: a revocation whose transaction took less than that to commit is
//! never missed). Rows older than [`RETENTION_MS`] are purged; a reader
//! further behind is told to drop its whole cache.

use crate::error::map;
use crate::{Backend, SqlStore};
use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::store::{RevocationCursor, RevocationFeed};

/// How far before its previous read a reader looks again.
pub(crate) const LOOKBACK_MS: i64 = 5_000;

/// How long revocation rows are kept.
pub(crate) const RETENTION_MS: i64 = 3_600_000;

/// A reader whose previous read is older than this is told the feed is
/// incomplete (rows it has not seen may be purged by then).
const COMPLETE_WITHIN_MS: i64 = RETENTION_MS / 2;

/// Records a revocation, in the transaction revoking the grant.
pub(crate) const LOG: &str = "INSERT INTO oauth_revocations (grant_id) VALUES ($1)";

/// The database's clock (ms), the highest sequence number, and the rows
/// after `$1` or written at or after `$2`: one round trip.
const READ_PG: &str = "SELECT n.now_ms, \
    (SELECT COALESCE(MAX(seq), 0) FROM oauth_revocations) AS max_seq, r.seq, r.grant_id \
    FROM (SELECT CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT) AS now_ms) n \
    LEFT JOIN oauth_revocations r ON r.seq > $1 OR r.at_ms >= $2 ORDER BY r.seq";
const READ_SQLITE: &str = "SELECT n.now_ms, \
    (SELECT COALESCE(MAX(seq), 0) FROM oauth_revocations) AS max_seq, r.seq, r.grant_id \
    FROM (SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) AS now_ms) n \
    LEFT JOIN oauth_revocations r ON r.seq > $1 OR r.at_ms >= $2 ORDER BY r.seq";

/// Purges rows written before `$1` (Unix milliseconds).
pub(crate) const PURGE: &str = "DELETE FROM oauth_revocations WHERE at_ms < $1";

type Row = (i64, i64, Option<i64>, Option<String>);

impl SqlStore {
    pub(crate) async fn read_revocations(
        &self,
        after: Option<RevocationCursor>,
    ) -> Result<RevocationFeed, StoreError> {
        let (seq, since) = match after {
            // Only where the feed stands: no row qualifies.
            None => (i64::MAX, i64::MAX),
            Some(c) => (c.seq, c.at_ms.saturating_sub(LOOKBACK_MS)),
        };
        let sql = match &self.backend {
            Backend::Sqlite(_) => READ_SQLITE,
            Backend::Postgres(_) => READ_PG,
        };
        let rows: Vec<Row> = on_conn!(self, |pool| sqlx::query_as(sql)
            .bind(seq)
            .bind(since)
            .fetch_all(pool)
            .await)
        .map_err(map)?;
        let (now_ms, max_seq) = rows.first().map_or((0, 0), |r| (r.0, r.1));
        let revoked: Vec<(i64, String)> = rows
            .into_iter()
            .filter_map(|(_, _, s, g)| Some((s?, g?)))
            .collect();
        let seen = revoked.iter().map(|(s, _)| *s).max().unwrap_or(0);
        let next = match after {
            None => RevocationCursor {
                seq: max_seq,
                at_ms: now_ms,
            },
            Some(c) => RevocationCursor {
                seq: c.seq.max(seen),
                at_ms: now_ms,
            },
        };
        let complete = after.is_none_or(|c| now_ms.saturating_sub(c.at_ms) < COMPLETE_WITHIN_MS);
        Ok(RevocationFeed {
            revoked,
            next,
            complete,
        })
    }
}
