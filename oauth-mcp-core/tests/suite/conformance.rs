//! The memory store passes the storage conformance kit.

use std::sync::Arc;

use oauth_mcp_core::store::{MemoryStore, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_conformance_kit() {
    conformance::run_all(Arc::new(MemoryStore::new())).await;
    conformance::first_token_recorded_with_redemption(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_does_token_requests_in_one_step() {
    assert!(
        conformance::code_exchange(Arc::new(MemoryStore::new())).await,
        "the memory store checks the request and redeems under one lock"
    );
    assert!(
        conformance::refresh_exchange(Arc::new(MemoryStore::new())).await,
        "the memory store checks the request and rotates under one lock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_code_redemption_race() {
    conformance::race::code_redemption_race(Arc::new(MemoryStore::new()), "memory").await;
}
