//! Conformance checks of [`ReplayStore`]: a single-use marker (a client
//! assertion's `jti`) is consumed once until it expires, on one store and
//! across several pools on one database, as replicas would share it.

use super::*;

/// Single-use markers: consumed once until they expire, also under a
/// [`RACERS`]-way race; an expired marker may be consumed again.
pub async fn replay_markers(store: Arc<dyn Store>) {
    replay_race(vec![store.clone()]).await;
    let key = id("jti");
    let until = NOW + 300;
    assert!(
        store
            .consume_once(&key, until, NOW)
            .await
            .expect("consume_once"),
        "the first use of a marker succeeds"
    );
    for now in [NOW, NOW + 1, until - 1] {
        assert!(
            !store
                .consume_once(&key, until + 100, now)
                .await
                .expect("consume_once"),
            "a marker is refused until it expires (at {now}, expires {until})"
        );
    }
    assert!(
        store
            .consume_once(&key, until + 300, until)
            .await
            .expect("consume_once"),
        "a marker expired at `now` may be consumed again"
    );
    assert!(
        !store
            .consume_once(&key, until + 600, until + 1)
            .await
            .expect("consume_once"),
        "consuming again renews the marker until its new expiry"
    );
    assert!(
        store
            .consume_once(&id("jti"), until, NOW)
            .await
            .expect("consume_once"),
        "markers are independent"
    );
}

/// [`RACERS`] concurrent consumptions of one marker, spread over `stores`
/// (one store, or several pools on one database as replicas would be):
/// exactly one succeeds.
pub async fn replay_race(stores: Vec<Arc<dyn Store>>) {
    assert!(!stores.is_empty(), "replay_race needs a store");
    let key = id("jti");
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let s = stores[i % stores.len()].clone();
            let k = key.clone();
            tokio::spawn(async move {
                s.consume_once(&k, NOW + 300, NOW)
                    .await
                    .expect("consume_once")
            })
        })
        .collect();
    let mut first = 0;
    for t in tasks {
        if t.await.expect("task") {
            first += 1;
        }
    }
    assert_eq!(
        first, 1,
        "exactly one of {RACERS} concurrent consumptions of one marker succeeds"
    );
}
