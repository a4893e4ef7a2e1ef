//! The memory store's pending authorization requests, with their live
//! counts (in all and per client) kept as requests come, go and expire, so
//! that a capped insert costs a few map operations instead of a walk over
//! every request while the store's lock is held (10,000 of them at the
//! default cap, when a flood has filled it).

use std::collections::{BTreeSet, HashMap};

use crate::store::PendingAuthorization;

/// Pending requests by id hash, and which of them are live.
#[derive(Debug, Default)]
pub(super) struct PendingRequests {
    by_id: HashMap<String, PendingAuthorization>,
    /// The requests counted as live at `now`: `(expires_at, id_hash)`,
    /// soonest to expire first.
    live: BTreeSet<(i64, String)>,
    /// How many of `live` each client has (no zero entries).
    per_client: HashMap<String, u32>,
    /// The latest time the live set was brought to.
    now: i64,
}

impl PendingRequests {
    /// Stores `p` (replacing a request with its id).
    pub(super) fn insert(&mut self, p: PendingAuthorization) {
        self.remove(&p.id_hash);
        if p.expires_at > self.now {
            self.live.insert((p.expires_at, p.id_hash.clone()));
            *self.per_client.entry(p.client_id.clone()).or_default() += 1;
        }
        self.by_id.insert(p.id_hash.clone(), p);
    }

    /// The request with this id hash, live or expired.
    pub(super) fn get(&self, id_hash: &str) -> Option<&PendingAuthorization> {
        self.by_id.get(id_hash)
    }

    /// Whether a request with this id hash is stored.
    pub(super) fn contains(&self, id_hash: &str) -> bool {
        self.by_id.contains_key(id_hash)
    }

    /// Removes and returns the request with this id hash.
    pub(super) fn remove(&mut self, id_hash: &str) -> Option<PendingAuthorization> {
        let p = self.by_id.remove(id_hash)?;
        if self.live.remove(&(p.expires_at, p.id_hash.clone())) {
            self.uncount(&p.client_id);
        }
        Some(p)
    }

    /// Removes every request expired at `now`; how many there were.
    pub(super) fn remove_expired(&mut self, now: i64) -> usize {
        // First out of the counts (which reads their clients), then out.
        self.bring_to(now);
        let before = self.by_id.len();
        self.by_id.retain(|_, p| p.expires_at > now);
        before - self.by_id.len()
    }

    /// The live requests at `now`: in all, and of `client_id`.
    pub(super) fn live_counts(&mut self, now: i64, client_id: &str) -> (usize, u32) {
        self.bring_to(now);
        let of_client = self.per_client.get(client_id).copied().unwrap_or(0);
        (self.live.len(), of_client)
    }

    /// Drops the requests expired at `now` from the live counts (and from
    /// nothing else). A `now` before the last one (a clock set back)
    /// recounts from every stored request.
    fn bring_to(&mut self, now: i64) {
        if now < self.now {
            self.live.clear();
            self.per_client.clear();
            for p in self.by_id.values().filter(|p| p.expires_at > now) {
                self.live.insert((p.expires_at, p.id_hash.clone()));
                *self.per_client.entry(p.client_id.clone()).or_default() += 1;
            }
        } else {
            while let Some(first) = self.live.first() {
                if first.0 > now {
                    break;
                }
                if let Some((_, id_hash)) = self.live.pop_first()
                    && let Some(client_id) = self.by_id.get(&id_hash).map(|p| p.client_id.clone())
                {
                    self.uncount(&client_id);
                }
            }
        }
        self.now = now;
    }

    fn uncount(&mut self, client_id: &str) {
        if let Some(n) = self.per_client.get_mut(client_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_client.remove(client_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkce::CodeChallengeMethod;
    use crate::resource::ResourceUri;
    use crate::scope::ScopeSet;

    fn request(id: &str, client: &str, expires_at: i64) -> PendingAuthorization {
        PendingAuthorization {
            id_hash: id.into(),
            client_id: client.into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_explicit: false,
            state: None,
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            code_challenge_method: CodeChallengeMethod::S256,
            scope: ScopeSet::empty(),
            resource: ResourceUri::parse("https://mcp.example/mcp").expect("a valid resource"),
            created_at: 0,
            expires_at,
        }
    }

    /// The counts a walk over every stored request gives.
    fn walked(p: &PendingRequests, now: i64, client: &str) -> (usize, u32) {
        let live: Vec<_> = p.by_id.values().filter(|r| r.expires_at > now).collect();
        let of_client = live.iter().filter(|r| r.client_id == client).count();
        (live.len(), u32::try_from(of_client).expect("small"))
    }

    #[test]
    fn counts_follow_inserts_removals_expiry_and_a_clock_set_back() {
        let mut p = PendingRequests::default();
        p.insert(request("a1", "a", 100));
        p.insert(request("a2", "a", 200));
        p.insert(request("b1", "b", 150));
        assert_eq!(p.live_counts(50, "a"), (3, 2));
        // Expiry at 100 (not after): a1 no longer counts, but is kept.
        assert_eq!(p.live_counts(100, "a"), (2, 1));
        assert!(p.contains("a1"));
        // Replacing a request counts it once.
        p.insert(request("b1", "b", 300));
        assert_eq!(p.live_counts(100, "b"), (2, 1));
        // Removing a live one uncounts it; an expired one changes nothing.
        assert!(p.remove("a2").is_some());
        assert!(p.remove("a1").is_some());
        assert_eq!(p.live_counts(100, "a"), (1, 0));
        // A request already expired when stored is not counted.
        p.insert(request("c1", "c", 90));
        assert_eq!(p.live_counts(100, "c"), (1, 0));
        // The clock set back: recounted, c1 is live again at 80.
        assert_eq!(p.live_counts(80, "c"), walked(&p, 80, "c"));
        assert_eq!(p.live_counts(80, "c"), (2, 1));
        assert_eq!(p.remove_expired(200), 1);
        assert_eq!(p.live_counts(200, "b"), (1, 1));
        assert_eq!(p.remove_expired(300), 1);
        assert_eq!(p.live_counts(300, "b"), (0, 0));
        assert!(p.per_client.is_empty() && p.live.is_empty());
    }

    /// A pseudo-random sequence of operations and times always counts as
    /// the walk does.
    #[test]
    fn counts_match_a_walk_over_a_random_sequence() {
        let mut p = PendingRequests::default();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let mut now = 0i64;
        for _ in 0..20_000 {
            let id = format!("r{}", next(200));
            let client = format!("c{}", next(7));
            match next(10) {
                0..=4 => {
                    let ttl = i64::try_from(next(50)).expect("small");
                    p.insert(request(&id, &client, now + ttl));
                }
                5 | 6 => {
                    p.remove(&id);
                }
                // A purge, as time passes between two requests.
                7 => {
                    now += i64::try_from(next(20)).expect("small");
                    p.remove_expired(now);
                }
                // Mostly forwards, sometimes back.
                _ => now += i64::try_from(next(20)).expect("small") - 4,
            }
            assert_eq!(p.live_counts(now, &client), walked(&p, now, &client));
        }
    }
}
