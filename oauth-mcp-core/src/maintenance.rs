//! The library's own purge schedule: expired and retired records go without
//! the application having to call anything.
//!
//! [`crate::http::OAuthHttp::new`] starts it on the tokio runtime it runs in
//! (every adapter builds one): a task that calls [`crate::store::Cleanup::purge`] every
//! [`AbuseLimits::purge_every`](crate::config::AbuseLimits) with a
//! [`Retention`] that outlives every access token, and ends by itself once
//! the server (its store) is dropped. [`AuthServer::purge_now`] runs one
//! purge by hand.

use std::sync::{Arc, Weak};

use crate::error::StoreError;
use crate::server::AuthServer;
use crate::store::{PurgeReport, Retention, Store};

/// Validation leeway the retention of revoked grants must also cover.
const LEEWAY_SECS: i64 = 60;

impl AuthServer {
    /// The retention this server's purges use: revoked grants outlive the
    /// access tokens they issued.
    pub fn retention(&self) -> Retention {
        Retention::for_access_token_ttl(self.cfg.access_token_ttl, LEEWAY_SECS)
    }

    /// Purges now (what the schedule does every interval).
    pub async fn purge_now(&self) -> Result<PurgeReport, StoreError> {
        self.store.purge(self.now(), &self.retention()).await
    }

    /// Starts the purge schedule on the current tokio runtime, if there is
    /// one; returns whether it started.
    pub(crate) fn start_purge_schedule(&self) -> bool {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(target: "oauth_mcp::store", "no tokio runtime: expired records are purged only by AuthServer::purge_now");
            return false;
        };
        let store: Weak<dyn Store> = Arc::downgrade(&self.store);
        let every = self.cfg.abuse_limits().purge_every;
        let retention = self.retention();
        let clock = self.cfg.clock().clone();
        rt.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await; // the first tick is immediate
            loop {
                ticks.tick().await;
                let Some(store) = store.upgrade() else {
                    return; // the server is gone
                };
                match store.purge(clock.now(), &retention).await {
                    Ok(r) if r.total() > 0 => {
                        tracing::debug!(target: "oauth_mcp::store", purged = r.total(), report = ?r, "purged expired records")
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(target: "oauth_mcp::store", error = %e, "purging expired records failed; retrying at the next interval")
                    }
                }
            }
        });
        true
    }
}
