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
    conformance::first_token_recorded_with_redemption(Arc::new(store.clone())).await;
    assert!(
        conformance::code_exchange(Arc::new(store.clone())).await,
        "PostgreSQL exchanges a code in one statement"
    );
    assert!(
        conformance::refresh_exchange(Arc::new(store.clone())).await,
        "PostgreSQL refreshes in one statement"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_goes_back_to_the_pool_when_requests_stop() {
    // The flow's single-statement operations keep their connection for the
    // next one, checked out of sqlx's pool. When no next one comes, it must
    // go back (where sqlx's idle timeout and lifetime apply) within about
    // two seconds: kept for at most one second, trimmed every second.
    use oauth_mcp_core::store::ClientStore;
    let db = postgres_for_tests().await;
    let store = SqlStore::options()
        .max_connections(4)
        .connect(db.url())
        .await
        .unwrap();
    let pool = store.pg_pool().unwrap().clone();
    assert_eq!(store.get_client("nobody").await.unwrap(), None);
    let size = pool.size();
    assert!(size >= 1);
    assert_eq!(
        pool.num_idle(),
        usize::try_from(size).unwrap() - 1,
        "the statement's connection is kept, out of sqlx's pool"
    );
    let mut back = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if pool.num_idle() == usize::try_from(pool.size()).unwrap() {
            back = true;
            break;
        }
    }
    assert!(
        back,
        "the kept connection is still out of the pool after 4 s"
    );
    // And the store still works (the connection comes from sqlx again).
    assert_eq!(store.get_client("nobody").await.unwrap(), None);
    store.close().await;
}
