//! The store's total of live pending requests is counted at most once per
//! clock second by each store and kept current in between with the
//! store's own inserts and takes (see `insert_pending_within` in the
//! crate's "How it stores"). Two stores on one database stand for two
//! server processes: each sees the other's requests at its next second's
//! count, and the cap then holds again.

use oauth_mcp_core::store::conformance::sample_pending;
use oauth_mcp_core::store::{AuthorizationStore, PendingAuthorization, PendingCaps, PendingInsert};
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::testing::postgres_for_tests;

use crate::common::TempDb;

/// A second far from every other test's.
const T: i64 = 1_950_000_000;

async fn two_processes(a: SqlStore, b: SqlStore) {
    let caps = PendingCaps::new(10, 4);
    // Request `n` is created at `now`; each has a client of its own.
    let requests: Vec<PendingAuthorization> = (0..13).map(|_| sample_pending(T)).collect();
    let insert = |s: &SqlStore, n: usize, now: i64| {
        let s = s.clone();
        let p = PendingAuthorization {
            created_at: now,
            expires_at: now + 600,
            ..requests[n].clone()
        };
        async move { s.insert_pending_within(p, caps, now).await.unwrap() }
    };
    for n in 0..3 {
        assert_eq!(insert(&a, n, T).await, PendingInsert::Stored);
    }
    // B counts 3 and stores the 4th: the store is full.
    assert_eq!(insert(&b, 3, T).await, PendingInsert::Stored);
    assert_eq!(
        insert(&b, 4, T).await,
        PendingInsert::TotalFull,
        "B counted the store full and stored the last place itself"
    );
    // A's count of this second is 3 (its first insert counted none, then
    // it stored three) and has not seen B's request: it stores a 5th, the
    // overshoot the documentation bounds to one second of the other
    // process's requests.
    assert_eq!(insert(&a, 5, T).await, PendingInsert::Stored);
    assert_eq!(
        insert(&a, 6, T).await,
        PendingInsert::TotalFull,
        "A's own requests count at once"
    );
    // The next second, A counts again and sees all five.
    assert_eq!(insert(&a, 7, T + 1).await, PendingInsert::TotalFull);
    // Taken requests free their place for the other store at its next
    // count (here B takes, in a second it has not counted yet)...
    for n in [0, 1] {
        let taken = b.take_pending(&requests[n].id_hash, T + 1).await.unwrap();
        assert!(taken.is_some());
    }
    assert_eq!(
        insert(&a, 8, T + 1).await,
        PendingInsert::TotalFull,
        "A's count of this second is 4 (the cap) until the next"
    );
    assert_eq!(
        insert(&b, 9, T + 1).await,
        PendingInsert::Stored,
        "B's first count of this second sees its two takes"
    );
    // ...and at once for the store that took them, within its count's
    // second.
    assert_eq!(insert(&a, 10, T + 2).await, PendingInsert::TotalFull);
    let taken = a.take_pending(&requests[9].id_hash, T + 2).await.unwrap();
    assert!(taken.is_some());
    assert_eq!(insert(&a, 11, T + 2).await, PendingInsert::Stored);
    // Expired requests do not count at the next second's count.
    assert_eq!(
        insert(&b, 12, T + 1_000).await,
        PendingInsert::Stored,
        "every earlier request has expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_counted_once_a_second_sqlite() {
    let db = TempDb::new("tally");
    let a = SqlStore::connect(&db.url()).await.unwrap();
    let b = SqlStore::connect(&db.url()).await.unwrap();
    two_processes(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_counted_once_a_second_postgres() {
    let db = postgres_for_tests().await;
    let a = SqlStore::connect(db.url()).await.unwrap();
    let b = SqlStore::connect(db.url()).await.unwrap();
    two_processes(a.clone(), b.clone()).await;
    a.close().await;
    b.close().await;
}
