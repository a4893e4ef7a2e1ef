//! Shared helpers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A SQLite database file in the temp directory, deleted (with its WAL
/// files) on drop.
pub(crate) struct TempDb {
    path: PathBuf,
}

impl TempDb {
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "oauth-mcp-sqlx-{tag}-{}-{}.db",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let db = Self { path };
        db.remove();
        db
    }

    pub(crate) fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.path.display())
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Every conformance check but `cleanup`, whose far-future purge would
/// delete the records of checks running in parallel on the same database.
pub(crate) async fn run_all_but_cleanup(store: std::sync::Arc<dyn oauth_mcp_core::store::Store>) {
    use oauth_mcp_core::store::conformance::*;
    clients(store.clone()).await;
    pending_requests(store.clone()).await;
    codes(store.clone()).await;
    refresh_rotation(store.clone()).await;
    concurrent_refresh(store.clone()).await;
    users(store.clone()).await;
    replay_markers(store.clone()).await;
    upstream::run_all_but_cleanup(store.clone()).await;
    limits::run_all_but_purge(store).await;
}
