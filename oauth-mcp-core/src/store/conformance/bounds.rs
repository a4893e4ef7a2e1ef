//! Bounded state: pending authorization requests capped per client and in
//! total ([`AuthorizationStore::insert_pending_within`]), and the unused
//! registration's flag surviving the store.

use std::sync::Arc;

use super::*;

/// Far from every other check's times, so that only this check's pending
/// requests are live (the total cap counts the whole store).
const AT: i64 = NOW + 50_000_000;

async fn insert(
    store: &Arc<dyn Store>,
    p: PendingAuthorization,
    caps: PendingCaps,
) -> PendingInsert {
    store
        .insert_pending_within(p, caps, AT)
        .await
        .expect("insert_pending_within")
}

fn of_client(client_id: &str) -> PendingAuthorization {
    PendingAuthorization {
        client_id: client_id.to_owned(),
        ..sample_pending(AT)
    }
}

/// A client's pending requests stop at `per_client` and the store's at
/// `total`; the refused one is not stored, the waiting ones stay; expired
/// ones do not count; a race for the last places fills them.
pub async fn pending_caps(store: Arc<dyn Store>) {
    let (a, b) = (id("client"), id("client"));
    let caps = PendingCaps::new(3, 5);
    let mut kept = Vec::new();
    for _ in 0..3 {
        let p = of_client(&a);
        assert_eq!(insert(&store, p.clone(), caps).await, PendingInsert::Stored);
        kept.push(p);
    }
    let refused = of_client(&a);
    assert_eq!(
        insert(&store, refused.clone(), caps).await,
        PendingInsert::ClientFull,
        "a client's 4th pending request is refused at a cap of 3"
    );
    assert_eq!(
        store
            .get_pending(&refused.id_hash, AT)
            .await
            .expect("get_pending"),
        None,
        "a refused request is not stored"
    );
    for p in &kept {
        assert!(
            store
                .get_pending(&p.id_hash, AT)
                .await
                .expect("get_pending")
                .is_some(),
            "the waiting requests keep their place"
        );
    }
    for _ in 0..2 {
        assert_eq!(
            insert(&store, of_client(&b), caps).await,
            PendingInsert::Stored
        );
    }
    assert_eq!(
        insert(&store, of_client(&id("client")), caps).await,
        PendingInsert::TotalFull,
        "the store's 6th live pending request is refused at a total of 5"
    );
    // An expired request does not count.
    let expired = PendingAuthorization {
        expires_at: AT,
        ..of_client(&b)
    };
    store.insert_pending(expired).await.expect("insert_pending");
    let taken = store
        .take_pending(&kept[0].id_hash, AT)
        .await
        .expect("take_pending");
    assert!(taken.is_some());
    assert_eq!(
        insert(&store, of_client(&a), caps).await,
        PendingInsert::Stored,
        "a completed request frees its place"
    );
    // Concurrent requests for the last places overshoot by at most their number.
    let c = id("client");
    let wide = PendingCaps::new(2, 1_000);
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let (store, p) = (store.clone(), of_client(&c));
        tasks.push(tokio::spawn(async move {
            store
                .insert_pending_within(p, wide, AT)
                .await
                .expect("insert_pending_within")
        }));
    }
    let mut stored = 0;
    for t in tasks {
        if t.await.expect("join") == PendingInsert::Stored {
            stored += 1;
        }
    }
    // (SQL stores count in each statement's snapshot: concurrent
    // statements may all see room. The overshoot is bounded by the pool.)
    assert!(
        stored >= 2,
        "only {stored} of {RACERS} concurrent requests were stored at a cap of 2"
    );
}

/// [`Client::awaiting_first_token`] is stored, read back and updated.
pub async fn unused_registration_flag(store: Arc<dyn Store>) {
    let mut c = Client {
        client_id: id("client"),
        awaiting_first_token: true,
        expires_at: Some(NOW + 600),
        ..sample_client()
    };
    store.insert_client(c.clone()).await.expect("insert_client");
    let read = store.get_client(&c.client_id).await.expect("get_client");
    assert_eq!(read.map(|r| r.awaiting_first_token), Some(true));
    c.awaiting_first_token = false;
    c.expires_at = None;
    assert!(store.update_client(c.clone()).await.expect("update_client"));
    assert_eq!(
        store.get_client(&c.client_id).await.expect("get_client"),
        Some(c),
        "the first token's update is kept"
    );
}
