//! What storing a pending login costs once the PostgreSQL store holds its
//! total cap of live pending requests (10,000 by default): the step of
//! `GET /authorize` a flood makes every login pay. It fills a fresh
//! database with 10,000 live requests (one `INSERT … SELECT`, then
//! `VACUUM ANALYZE`), then calls `insert_pending_within` for new requests
//! with the default caps, one after another with the real clock, and
//! prints (to stderr) the mean time per refused request over three rounds
//! of 3,000.
//!
//! ```bash
//! OAUTH_MCP_TEST_POSTGRES_URL=postgres://user:pass@127.0.0.1/db \
//!   cargo run --release -p oauth-mcp-benches --example pending_at_cap
//! ```
//!
//! Without `OAUTH_MCP_TEST_POSTGRES_URL` it starts a private PostgreSQL
//! server from the system's binaries (`oauth_mcp_sqlx::testing`).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use oauth_mcp_benches::glue::BoxError;
use oauth_mcp_core::store::conformance::sample_pending;
use oauth_mcp_core::store::{AuthorizationStore, PendingCaps, PendingInsert};
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::sqlx;
use oauth_mcp_sqlx::testing::postgres_for_tests;

const ROUNDS: usize = 3;
const PER_ROUND: u32 = 3_000;

fn now() -> Result<i64, BoxError> {
    Ok(i64::try_from(
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
    )?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let db = postgres_for_tests().await;
    let store = SqlStore::connect(db.url()).await?;
    let pool = store.pg_pool().ok_or("not a PostgreSQL store")?.clone();
    // 10,000 live requests of 10 clients, as a flood leaves them.
    sqlx::query(
        "INSERT INTO oauth_pending (id_hash, client_id, redirect_uri, redirect_uri_explicit, \
         state, code_challenge, code_challenge_method, scope, resource, created_at, expires_at) \
         SELECT 'flood-' || g, 'flood-client-' || (g % 10), 'https://app.example/cb', FALSE, \
         NULL, 'x', 'S256', '', 'https://mcp.example/mcp', $1, $1 + 3600 \
         FROM generate_series(1, 10000) g",
    )
    .bind(now()?)
    .execute(&pool)
    .await?;
    sqlx::raw_sql("VACUUM ANALYZE oauth_pending")
        .execute(&pool)
        .await?;
    let caps = PendingCaps::new(1_000, 10_000);
    for round in 1..=ROUNDS {
        let start = Instant::now();
        for _ in 0..PER_ROUND {
            let t = now()?;
            let outcome = store
                .insert_pending_within(sample_pending(t), caps, t)
                .await?;
            if outcome != PendingInsert::TotalFull {
                return Err(format!("a full store answered {outcome:?}").into());
            }
        }
        let took = start.elapsed().as_secs_f64();
        eprintln!(
            "round {round}: {PER_ROUND} requests refused in {took:.2} s, {:.1} µs each",
            took * 1e6 / f64::from(PER_ROUND)
        );
    }
    store.close().await;
    Ok(())
}
