//! Conformance checks of the revocation feed
//! ([`TokenStore::revocations_since`]): every revocation — of a grant, and
//! by a refresh token's reuse — appears after the cursor taken before it,
//! to every reader of the same database (replicas), and a reader that
//! passes back the answer's cursor is not sent newer history twice.

use super::*;

/// The revocation feed, read through every store in `stores` (pools on one
/// database, as replicas have). A store without a feed (`Ok(None)`) passes.
pub async fn revocation_feed(stores: Vec<Arc<dyn Store>>) {
    let writer = stores[0].clone();
    let Some(start) = writer
        .revocations_since(None)
        .await
        .expect("revocations_since")
    else {
        return;
    };
    assert!(
        start.revoked.is_empty(),
        "a first read (no cursor) only says where the feed stands"
    );
    let start = start.next;

    // A grant revoked, and a grant revoked by a refresh token's reuse.
    let revoked = sample_grant(NOW);
    writer
        .insert_grant(revoked.clone(), None)
        .await
        .expect("insert_grant");
    writer
        .revoke_grant(&revoked.grant_id)
        .await
        .expect("revoke_grant");
    let reused = sample_grant(NOW);
    let r0 = refresh_for(&reused, NOW);
    writer
        .insert_grant(reused.clone(), Some(r0.clone()))
        .await
        .expect("insert_grant");
    let (h1, h2) = (id("rt"), id("rt"));
    writer
        .rotate_refresh(&r0.token_hash, &h1, NOW + 1, NOW + 3600)
        .await
        .expect("rotate_refresh");
    writer
        .rotate_refresh(&h1, &h2, NOW + 2, NOW + 3600)
        .await
        .expect("rotate_refresh");
    let reuse = writer
        .rotate_refresh(&r0.token_hash, &id("rt"), NOW + 3, NOW + 3600)
        .await
        .expect("rotate_refresh");
    assert!(
        matches!(reuse, RotateOutcome::Reused { .. }),
        "reuse of a token two generations back: {reuse:?}"
    );

    for (i, store) in stores.iter().enumerate() {
        let feed = store
            .revocations_since(Some(start))
            .await
            .expect("revocations_since")
            .expect("every pool on one database keeps the feed");
        assert!(feed.complete, "reader {i}: a recent cursor is complete");
        let mine: Vec<&(i64, String)> = feed
            .revoked
            .iter()
            .filter(|(_, g)| *g == revoked.grant_id || *g == reused.grant_id)
            .collect();
        for g in [&revoked.grant_id, &reused.grant_id] {
            assert!(
                mine.iter().any(|(_, x)| x == g),
                "reader {i}: the revocation of {g} is in the feed after a cursor taken before it: {:?}",
                feed.revoked
            );
        }
        assert!(
            mine.iter()
                .all(|(seq, _)| *seq > start.seq && *seq <= feed.next.seq),
            "reader {i}: sequence numbers lie between the cursors ({start:?} .. {:?}): {mine:?}",
            feed.next
        );
        // Passing the new cursor back: nothing newer than it is re-sent
        // (stores may repeat what is at or before it).
        let again = store
            .revocations_since(Some(feed.next))
            .await
            .expect("revocations_since")
            .expect("feed");
        for (seq, g) in &again.revoked {
            if *g == revoked.grant_id || *g == reused.grant_id {
                assert!(
                    *seq <= feed.next.seq,
                    "reader {i}: {g} re-sent under a new sequence number {seq}"
                );
            }
        }
    }
}
