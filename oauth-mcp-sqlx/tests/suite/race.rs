//! One authorization code redeemed by 200 token requests at once, through
//! the core's HTTP layer over each database, several times
//! (`OAUTH_MCP_RACE_RUNS`, default 5): exactly one request gets tokens.

use std::sync::Arc;

use oauth_mcp_core::store::conformance::race::code_redemption_race;
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::testing::postgres_for_tests;

use crate::common::TempDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_race_sqlite_file() {
    let db = TempDb::new("race");
    let store = SqlStore::connect(&db.url()).await.unwrap();
    code_redemption_race(Arc::new(store), "SQLite file").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_race_postgres() {
    let db = postgres_for_tests().await;
    let store = SqlStore::connect(db.url()).await.unwrap();
    code_redemption_race(Arc::new(store), "PostgreSQL").await;
}
