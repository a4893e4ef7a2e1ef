//! Signing keys kept in the store, with real server processes and no key
//! file: a restart keeps access tokens valid (SQLite and PostgreSQL), two
//! processes on one PostgreSQL sign with one key and accept each other's
//! tokens, and a missing, malformed or wrong key-encryption key fails at
//! start-up with a message naming the variable.
//!
//! PostgreSQL comes from `OAUTH_MCP_TEST_POSTGRES_URL` or a private server
//! the test starts (see `oauth_mcp_sqlx::testing`).

// Test helpers panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use oauth_mcp_battery::client::*;
use oauth_mcp_battery::process::{ServerProcess, free_loopback_port, temp_dir};
use oauth_mcp_core::crypto::KeyEncryptionKey;
use oauth_mcp_sqlx::testing::postgres_for_tests;

const BIN: &str = env!("CARGO_BIN_EXE_example-axum-server");

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("oauth.db").display())
}

fn kid(jwt: &str) -> String {
    jwt_parts(jwt).0["kid"].as_str().unwrap().to_owned()
}

/// The kids the server at `base` publishes.
async fn published(base: &str) -> Vec<String> {
    let mut kids: Vec<String> = get_json(&format!("{base}/jwks.json")).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

/// Starts the example on `store` with `args` and the key-encryption key in
/// its variable; waits until it listens.
fn server(store: &str, kek: &str, args: &[&str]) -> (ServerProcess, String) {
    let all = [&["--bind", "127.0.0.1:0", "--store", store][..], args].concat();
    let mut p = ServerProcess::spawn(BIN, &all, &[("MCP_KEY_ENCRYPTION_KEY", kek)]);
    let base = p.wait_listening();
    (p, base)
}

/// Gets tokens from one process, stops it, starts another on the same store
/// (same public URL, new port, no key file): the old access token is still
/// accepted, and the refreshed one is signed with the same key.
async fn restart_keeps_access_tokens(store: &str) {
    let kek = KeyEncryptionKey::generate_base64();
    let (first, base1) = server(store, kek.secret(), &[]);
    let s = session(&base1, None).await;
    whoami(&base1, &s.tokens.access).await;
    let keys_before = published(&base1).await;
    assert_eq!(keys_before, [kid(&s.tokens.access)]);
    drop(first);

    let (_second, base2) = server(store, kek.secret(), &["--public-url", &base1]);
    assert_ne!(base2, base1);
    let who = whoami(&base2, &s.tokens.access).await;
    assert_eq!(
        who["subject"], "demo-user",
        "a token from before the restart"
    );
    let t = tokens_of(&refresh(&base2, &s.client.client_id, &s.tokens.refresh, None).await);
    assert_eq!(kid(&t.access), kid(&s.tokens.access), "the same key signs");
    assert_eq!(published(&base2).await, keys_before, "no key was added");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_without_a_key_file_keeps_access_tokens_valid_on_sqlite() {
    let dir = temp_dir("keys-sqlite");
    restart_keeps_access_tokens(&sqlite_url(&dir)).await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_without_a_key_file_keeps_access_tokens_valid_on_postgres() {
    let db = postgres_for_tests().await;
    restart_keeps_access_tokens(db.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_sign_with_one_key_and_accept_each_others_tokens() {
    let db = postgres_for_tests().await;
    let kek = KeyEncryptionKey::generate_base64();
    // Both serve one public URL (as behind a load balancer): A's own. They
    // start at the same moment on an empty store: one creates the key.
    let port = free_loopback_port();
    let public = format!("http://127.0.0.1:{port}");
    let common = ["--store", db.url(), "--public-url", &public];
    let env = [("MCP_KEY_ENCRYPTION_KEY", kek.secret())];
    let bind_a = format!("127.0.0.1:{port}");
    let mut a = ServerProcess::spawn(BIN, &[&["--bind", &bind_a][..], &common].concat(), &env);
    let mut b = ServerProcess::spawn(
        BIN,
        &[&["--bind", "127.0.0.1:0"][..], &common].concat(),
        &env,
    );
    let (base_a, base_b) = (a.wait_listening(), b.wait_listening());
    assert_eq!(base_a, public);
    let keys = published(&base_a).await;
    assert_eq!(keys.len(), 1, "one key in the shared store: {keys:?}");
    assert_eq!(
        published(&base_b).await,
        keys,
        "both publish the same key set"
    );

    // A signs the code exchange's token, B signs the refreshed one.
    let s = session(&base_a, None).await;
    let from_b = tokens_of(&refresh(&base_b, &s.client.client_id, &s.tokens.refresh, None).await);
    assert_eq!(kid(&s.tokens.access), keys[0]);
    assert_eq!(kid(&from_b.access), keys[0], "one key signs at both");
    assert_eq!(
        whoami(&base_b, &s.tokens.access).await["subject"],
        "demo-user"
    );
    assert_eq!(
        whoami(&base_a, &from_b.access).await["subject"],
        "demo-user"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_malformed_or_wrong_key_encryption_key_fails_at_start_naming_the_variable() {
    let dir = temp_dir("keys-kek");
    let store = sqlite_url(&dir);
    let args = ["--bind", "127.0.0.1:0", "--store", store.as_str()];

    // Missing: the store would keep unencrypted keys.
    let (status, err) = ServerProcess::spawn(BIN, &args, &[]).wait_failure();
    assert!(!status.success());
    assert!(err.contains("MCP_KEY_ENCRYPTION_KEY"), "{err}");
    assert!(
        err.contains("openssl rand -base64 32"),
        "says how to make one: {err}"
    );

    // Malformed.
    let (status, err) =
        ServerProcess::spawn(BIN, &args, &[("MCP_KEY_ENCRYPTION_KEY", "not-a-key")]).wait_failure();
    assert!(!status.success());
    assert!(
        err.contains("MCP_KEY_ENCRYPTION_KEY (--key-encryption-key)"),
        "{err}"
    );

    // Right: the first start creates the key; a start with another key fails.
    let kek = KeyEncryptionKey::generate_base64();
    drop(server(&store, kek.secret(), &[]));
    let other = KeyEncryptionKey::generate_base64();
    let (status, err) =
        ServerProcess::spawn(BIN, &args, &[("MCP_KEY_ENCRYPTION_KEY", other.secret())])
            .wait_failure();
    assert!(!status.success());
    assert!(err.contains("MCP_KEY_ENCRYPTION_KEY"), "{err}");
    assert!(err.contains("another key-encryption key"), "{err}");
    assert!(
        !err.contains(other.secret()),
        "the key itself is never printed"
    );

    // A key file with the wrong key names its variable too; with the right
    // key the server starts.
    let file = dir.join("kek");
    std::fs::write(&file, other.secret()).unwrap();
    let path = file.to_str().unwrap();
    let (status, err) =
        ServerProcess::spawn(BIN, &args, &[("MCP_KEY_ENCRYPTION_KEY_FILE", path)]).wait_failure();
    assert!(!status.success());
    assert!(err.contains("MCP_KEY_ENCRYPTION_KEY_FILE"), "{err}");
    std::fs::write(&file, kek.secret()).unwrap();
    let mut ok = ServerProcess::spawn(BIN, &args, &[("MCP_KEY_ENCRYPTION_KEY_FILE", path)]);
    ok.wait_listening();
    drop(ok);
    std::fs::remove_dir_all(&dir).ok();
}
