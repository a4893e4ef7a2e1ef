//! The upstream-login records (migration 0005) across two pools on one
//! database (SQLite file, PostgreSQL), as two server processes would share
//! it; the conformance kit's upstream checks also run in `sqlite` and
//! `postgres` through `run_all`.

use std::sync::Arc;

use oauth_mcp_core::store::conformance::upstream as kit;
use oauth_mcp_core::store::{UpstreamStore, conformance::upstream::sample_flow};
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::testing::postgres_for_tests;

use crate::common::TempDb;

/// Two pools on one database, as two server processes would be: the
/// single-use take and the version check must hold across them.
/// (Connected one after the other: sqlx takes no migration lock on SQLite.)
async fn two_pools(url: &str) {
    let a = SqlStore::connect(url).await.unwrap();
    let b = SqlStore::connect(url).await.unwrap();
    let (ra, rb) = tokio::join!(
        tokio::spawn(kit::run_all_but_cleanup(Arc::new(a.clone()))),
        tokio::spawn(kit::run_all_but_cleanup(Arc::new(b.clone())))
    );
    ra.unwrap();
    rb.unwrap();
    // A flow stored through one pool is taken once, through either.
    let flow = sample_flow(1_800_000_000);
    a.insert_upstream_flow(flow.clone()).await.unwrap();
    let (x, y) = tokio::join!(
        a.take_upstream_flow(&flow.state_hash, 1_800_000_000),
        b.take_upstream_flow(&flow.state_hash, 1_800_000_000)
    );
    let got: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
    assert_eq!(got, vec![flow], "exactly one pool takes the flow");
    kit::cleanup(Arc::new(a.clone())).await;
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upstream_conformance_sqlite_two_pools() {
    let db = TempDb::new("upstream");
    two_pools(&db.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upstream_conformance_postgres_two_pools() {
    let db = postgres_for_tests().await;
    two_pools(db.url()).await;
}
