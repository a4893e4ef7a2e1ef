//! A short-lived, bounded cache of the clients an authorization server read
//! from its store.
//!
//! A client's steps come in quick succession: it registers and opens
//! `/authorize` within milliseconds, and exchanges its code right after the
//! login redirects back. Each step looked the client up in the store (a
//! database round trip); an entry here serves the next step for one second
//! instead. A change made by this server (a registration's first token)
//! drops its entry at once; a change made elsewhere (another replica, an
//! operator editing the store) is seen within
//! [`CLIENT_CACHE_FRESH_FOR`], the same bound as a revocation's
//! ([`crate::validate::MAX_STALENESS`]). Unknown ids are not cached, so ids
//! a stranger makes up cannot fill it.

use std::time::{Duration, Instant};

use super::Client;

/// How long a client read from the store serves later lookups: one second,
/// counted from when the read started.
pub const CLIENT_CACHE_FRESH_FOR: Duration = Duration::from_secs(1);

/// At most this many clients are kept, the least recently used going
/// first: with at most [`MAX_METADATA_BYTES`](super::limits::MAX_METADATA_BYTES)
/// of registration metadata each, about 17 MiB at the very most, a few
/// hundred KiB for ordinary clients.
pub(crate) const CLIENT_CACHE_ENTRIES: usize = 1024;

/// Clients recently read from (or written to) the store.
pub(crate) struct ClientCache {
    entries: quick_cache::sync::Cache<String, (Client, Instant)>,
}

impl std::fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCache")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl ClientCache {
    pub(crate) fn new() -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(CLIENT_CACHE_ENTRIES),
        }
    }

    /// The client, if it was read less than [`CLIENT_CACHE_FRESH_FOR`] ago.
    pub(crate) fn get(&self, client_id: &str) -> Option<Client> {
        let (client, read_at) = self.entries.get(client_id)?;
        if read_at.elapsed() < CLIENT_CACHE_FRESH_FOR {
            Some(client)
        } else {
            self.entries.remove(client_id);
            None
        }
    }

    /// Keeps `client` as the store held it when a read (or the write)
    /// started at `read_at`.
    pub(crate) fn put(&self, client: &Client, read_at: Instant) {
        self.entries
            .insert(client.client_id.clone(), (client.clone(), read_at));
    }

    /// Drops the entry of a client this server has just changed.
    pub(crate) fn forget(&self, client_id: &str) {
        self.entries.remove(client_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str) -> Client {
        Client {
            client_id: id.to_owned(),
            secret_hash: None,
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            auth_method: super::super::TokenEndpointAuthMethod::None,
            auth_method_explicit: false,
            client_name: None,
            scope: None,
            grant_types: vec!["authorization_code".into()],
            trusted: false,
            active: true,
            created_at: 0,
            expires_at: None,
            awaiting_first_token: false,
            metadata: serde_json::Map::new(),
        }
    }

    #[test]
    fn an_entry_serves_for_one_second_from_its_read() {
        let cache = ClientCache::new();
        let now = Instant::now();
        cache.put(&client("a"), now);
        assert_eq!(cache.get("a").unwrap().client_id, "a");
        assert!(cache.get("b").is_none());
        // Read more than the freshness ago: not served, and dropped.
        cache.put(&client("old"), now - CLIENT_CACHE_FRESH_FOR);
        assert!(cache.get("old").is_none());
        assert_eq!(cache.entries.len(), 1);
        cache.forget("a");
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn it_holds_a_bounded_number_of_clients() {
        let cache = ClientCache::new();
        let now = Instant::now();
        for i in 0..CLIENT_CACHE_ENTRIES * 3 {
            cache.put(&client(&format!("c{i}")), now);
        }
        assert!(cache.entries.len() <= CLIENT_CACHE_ENTRIES);
    }
}
