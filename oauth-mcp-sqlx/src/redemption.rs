//! A code replayed while its first redemption is still storing the grant.
//!
//! The engine answers a replayed code by revoking the code's grant. If the
//! replay arrives between the winner spending the code and storing the
//! grant, the grant does not exist yet: the revocation leaves a tombstone,
//! and the winner's insert then fails too. With many concurrent redemptions
//! of one code that happened now and then (on SQLite more often, where every
//! write queues for one lock): *every* contender was refused and the user's
//! login was lost. So before revoking a grant that does not exist yet but
//! whose code is already spent, wait briefly for the winner to store it;
//! then its revocation revokes the real grant (the winner still gets its
//! answer, and its tokens are revoked), and only a winner that never stores
//! one (it failed PKCE, say) leaves a tombstone.

use std::time::{Duration, Instant};

use oauth_mcp_core::error::StoreError;

use crate::error::map;
use crate::store::on_pool;
use crate::{Backend, SqlStore};

/// How long a replay waits for the first redemption to store its grant.
const WAIT_FOR_WINNER: Duration = Duration::from_secs(2);
/// How often it looks.
const POLL: Duration = Duration::from_millis(10);

impl SqlStore {
    /// Waits (at most [`WAIT_FOR_WINNER`]) while `grant_id` is absent but a
    /// spent code names it. Returns at once in every other case.
    pub(crate) async fn wait_for_redeemed_grant(&self, grant_id: &str) -> Result<(), StoreError> {
        const SPENT_WITHOUT_GRANT: &str = "SELECT 1 FROM oauth_codes c WHERE c.grant_id = $1 \
            AND c.spent AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.grant_id = $1)";
        let deadline = Instant::now() + WAIT_FOR_WINNER;
        loop {
            let waiting: Option<(i32,)> =
                on_pool!(self, |pool| sqlx::query_as(SPENT_WITHOUT_GRANT)
                    .bind(grant_id)
                    .fetch_optional(pool)
                    .await)
                .map_err(map)?;
            if waiting.is_none() || Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
