//! PostgreSQL: the conformance kit.

use std::sync::Arc;

use oauth_mcp_core::store::conformance;
use oauth_mcp_sqlx::testing::postgres_for_tests;

use crate::common::run_all_but_cleanup;
use oauth_mcp_sqlx::{DatabaseKind, SqlStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_postgres() {
    let db = postgres_for_tests().await;
    let store = SqlStore::connect(db.url()).await.unwrap();
    assert_eq!(store.kind(), DatabaseKind::Postgres);
    conformance::run_all(Arc::new(store.clone())).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_postgres_two_pools_in_parallel() {
    // Two pools on one database, as two server processes would be; also
    // runs the migrations concurrently.
    let db = postgres_for_tests().await;
    let (a, b) = tokio::join!(SqlStore::connect(db.url()), SqlStore::connect(db.url()));
    let (a, b) = (a.unwrap(), b.unwrap());
    let (ra, rb) = tokio::join!(
        tokio::spawn(run_all_but_cleanup(Arc::new(a.clone()))),
        tokio::spawn(run_all_but_cleanup(Arc::new(b.clone())))
    );
    ra.unwrap();
    rb.unwrap();
    // One client assertion replayed to both replicas at once.
    conformance::replay_race(vec![Arc::new(a.clone()), Arc::new(b.clone())]).await;
    // Revocations through one pool reach the readers of both.
    conformance::revocation_feed(vec![Arc::new(a.clone()), Arc::new(b.clone())]).await;
    conformance::cleanup(Arc::new(a.clone())).await;
    a.close().await;
    b.close().await;
}
