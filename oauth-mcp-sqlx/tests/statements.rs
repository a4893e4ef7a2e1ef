//! How many statements the flow runs on PostgreSQL, read from sqlx's own
//! statement log (`sqlx::query` events, recorded on this test's single
//! thread): a code exchange and a refresh each run one statement on their
//! table, because the statement that writes also checks the request
//! (`exchange_code`, `refresh_for`); storing a pending request counts the
//! store's live requests once a second, and a full store refuses the rest
//! of that second's requests without a statement.
//!
//! A test binary of its own, with one test. The log is recorded through a
//! thread-local subscriber (`tracing::subscriber::set_default`), and
//! `tracing` caches each callsite's interest process-wide: in the suite
//! binary, beside the PostgreSQL tests running sqlx on other threads, the
//! recorded log came back empty in 13 of 15 runs; alone in its process it
//! passed 10 of 10.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::store::conformance::race::{exchange_form, fresh_code, server_with_alice};
use oauth_mcp_core::store::conformance::sample_pending;
use oauth_mcp_core::store::{AuthorizationStore, PendingCaps, PendingInsert};
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::testing::postgres_for_tests;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Records the text of every statement sqlx logs.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                let _ = write!(self.0, "{}={v:?} ", f.name());
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        self.0.lock().unwrap().push(text.0);
    }
}

/// What `f` returns, and the statements it ran.
async fn recorded<T>(f: impl Future<Output = T>) -> (T, Vec<String>) {
    let log = Statements::default();
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(log.clone()));
    let out = f.await;
    drop(guard);
    let statements = log.0.lock().unwrap().clone();
    (out, statements)
}

/// `POST /token` with `form`, recording the statements it runs; asserts 200.
async fn token(oauth: &OAuthHttp, form: String) -> (serde_json::Value, Vec<String>) {
    let req = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(form))
        .unwrap();
    let (resp, statements) = recorded(oauth.handle(req)).await;
    let body = String::from_utf8_lossy(resp.body()).into_owned();
    assert_eq!(resp.status(), 200, "{body}");
    (serde_json::from_str(&body).unwrap(), statements)
}

fn on(statements: &[String], table: &str) -> Vec<String> {
    statements
        .iter()
        .filter(|s| s.contains(table))
        .cloned()
        .collect()
}

// One thread: every statement of the request is logged where the
// recorder is the default.
#[tokio::test(flavor = "current_thread")]
async fn the_flow_runs_the_statements_it_needs() {
    let db = postgres_for_tests().await;
    let store = Arc::new(SqlStore::connect(db.url()).await.unwrap());
    let oauth = server_with_alice(store.clone()).await;

    let (client_id, code) = fresh_code(&oauth).await;
    let (tokens, statements) = token(&oauth, exchange_form(&client_id, &code)).await;
    assert!(
        !statements.is_empty(),
        "sqlx's statement log was recorded: {statements:?}"
    );
    let codes = on(&statements, "oauth_codes");
    assert_eq!(
        codes.len(),
        1,
        "a code exchange reads nothing before the statement that spends the code: {codes:#?}"
    );
    assert!(codes[0].contains("UPDATE oauth_codes"), "{codes:?}");

    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let form =
        format!("grant_type=refresh_token&refresh_token={refresh_token}&client_id={client_id}");
    let (_, statements) = token(&oauth, form).await;
    let rotations = on(&statements, "oauth_refresh_tokens");
    assert_eq!(
        rotations.len(),
        1,
        "a refresh reads nothing before the statement that rotates: {rotations:#?}"
    );
    // Besides, at most the client's read: the exchange recorded the
    // registration's first token, which drops the cached copy.
    let others: Vec<_> = statements
        .iter()
        .filter(|s| !s.contains("oauth_refresh_tokens"))
        .collect();
    assert!(
        others.len() <= 1
            && others
                .iter()
                .all(|s| s.contains("FROM oauth_clients WHERE")),
        "and runs nothing else: {others:#?}"
    );

    // A second far from the requests above: they are expired then.
    const T: i64 = 1_950_000_000;
    let caps = PendingCaps::new(10, 2);
    let (outcomes, statements) = recorded(async {
        let mut outcomes = Vec::new();
        for _ in 0..5 {
            outcomes.push(
                store
                    .insert_pending_within(sample_pending(T), caps, T)
                    .await
                    .unwrap(),
            );
        }
        outcomes
    })
    .await;
    use PendingInsert::{Stored, TotalFull};
    assert_eq!(outcomes, [Stored, Stored, TotalFull, TotalFull, TotalFull]);
    let pending_statements = on(&statements, "oauth_pending");
    assert_eq!(
        pending_statements.len(),
        2,
        "two inserts, then no statement while the count says full: {pending_statements:#?}"
    );
    // The total's count is the statement with the total's cap, `$14`.
    let counts = |s: &[String]| s.iter().filter(|s| s.contains("$14")).count();
    assert_eq!(
        counts(&pending_statements),
        1,
        "the first counts the store's requests, the second does not: {pending_statements:#?}"
    );
    let (outcome, statements) =
        recorded(store.insert_pending_within(sample_pending(T + 1), caps, T + 1)).await;
    assert_eq!(outcome.unwrap(), TotalFull);
    let pending_statements = on(&statements, "oauth_pending");
    assert_eq!(
        (pending_statements.len(), counts(&pending_statements)),
        (1, 1),
        "the next second counts again: {pending_statements:#?}"
    );
    store.close().await;
}
