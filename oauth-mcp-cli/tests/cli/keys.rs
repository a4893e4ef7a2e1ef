//! `oauth-mcp keys …` on SQLite and PostgreSQL: list, rotate (scheduled
//! and immediate), retire (hand-over, idempotent, --remove-now), the
//! refusals (no KEK, bad KEK, wrong KEK, a second successor, an unknown
//! kid) with their exit codes, the audit events on stderr, and that the
//! keys the CLI writes are the ones the servers' library opens.

use std::sync::Arc;
use std::time::Duration;

use oauth_mcp_core::crypto::KeyEncryptionKey;
use oauth_mcp_core::token::managed::{KeyProtection, ManagedKeys};
use oauth_mcp_core::token::rotation::KeySchedule;
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::testing::postgres_for_tests;

use super::support::{CliOutput, TempDir, run_cli};

fn new_kek() -> String {
    KeyEncryptionKey::generate_base64().secret().to_owned()
}

fn kek_id(b64: &str) -> String {
    KeyEncryptionKey::from_base64(b64).unwrap().id()
}

/// `oauth-mcp keys --store <store> [extra…] <command…>`.
async fn keys(store: &str, extra: &[&str], command: &[&str]) -> CliOutput {
    let mut args = vec!["keys", "--store", store];
    args.extend_from_slice(extra);
    args.extend_from_slice(command);
    run_cli(&args, None).await
}

fn ok(out: &CliOutput) -> &str {
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    &out.stdout
}

fn refused<'a>(out: &'a CliOutput, code: i32, needle: &str) -> &'a str {
    assert_eq!(out.code, Some(code), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(needle),
        "{needle:?} not in stderr:\n{}",
        out.stderr
    );
    &out.stderr
}

/// The kid after "signing with ".
fn signer(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("signing with "))
        .unwrap_or_else(|| panic!("no signing key in\n{stdout}"))
        .to_owned()
}

/// The state column of `kid` in `keys list`.
fn state(list: &str, kid: &str) -> Option<String> {
    list.lines()
        .find(|l| l.starts_with(kid))
        .map(|l| l.split_whitespace().nth(2).unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_commands_on_sqlite() {
    let dir = TempDir::new("keys");
    let store = format!("sqlite://{}?mode=rwc", dir.join("oauth.db").display());
    let kek = new_kek();
    let kek_file = dir.join("kek");
    std::fs::write(&kek_file, format!("{kek}\n")).unwrap();
    let kek_file = kek_file.display().to_string();
    let with_kek = ["--key-encryption-key", kek.as_str()];

    let out = keys(&store, &[], &["list"]).await;
    assert!(ok(&out).contains("no signing keys"));

    // Rotating needs the KEK; a malformed one is named.
    let out = keys(&store, &[], &["rotate"]).await;
    refused(&out, 2, "--key-encryption-key (MCP_KEY_ENCRYPTION_KEY)");
    refused(
        &out,
        2,
        "--key-encryption-key-file (MCP_KEY_ENCRYPTION_KEY_FILE)",
    );
    let out = keys(&store, &["--key-encryption-key", "not base64"], &["rotate"]).await;
    refused(
        &out,
        2,
        "--key-encryption-key (MCP_KEY_ENCRYPTION_KEY): invalid key-encryption key: it is not base64",
    );
    let out = keys(
        &store,
        &[
            "--key-encryption-key-file",
            &dir.join("missing").display().to_string(),
        ],
        &["rotate"],
    )
    .await;
    refused(
        &out,
        2,
        "--key-encryption-key-file (MCP_KEY_ENCRYPTION_KEY_FILE)",
    );

    // The first rotation of an empty store makes an active key, audited.
    let out = keys(&store, &with_kek, &["rotate"]).await;
    let stdout = ok(&out);
    let k1 = signer(stdout);
    for step in ["key.created", "key.published", "key.activated"] {
        assert!(stdout.contains(&format!("{step:<14} {k1}")), "{stdout}");
        assert!(
            out.stderr.contains("oauth_mcp::audit")
                && out.stderr.contains(&format!("event=\"{step}\""))
                && out.stderr.contains("cause=\"rotate\""),
            "audit event {step} missing from stderr:\n{}",
            out.stderr
        );
    }

    // A wrong KEK adds no key (one it sealed would break the servers), and
    // `list` with it warns about the key it cannot open.
    let wrong = new_kek();
    let out = keys(&store, &["--key-encryption-key", &wrong], &["rotate"]).await;
    refused(&out, 1, &format!("signing key {k1} cannot be decrypted"));
    refused(&out, 1, "another key-encryption key");
    let out = keys(&store, &["--key-encryption-key", &wrong], &["list"]).await;
    let list = ok(&out);
    assert_eq!(list.matches("warning: signing key").count(), 1, "{list}");
    assert!(list.contains("1 key (key-set version 1;"), "{list}");

    // A scheduled rotation publishes a successor the servers activate later.
    let out = keys(
        &store,
        &["--key-encryption-key-file", &kek_file],
        &["rotate"],
    )
    .await;
    let stdout = ok(&out);
    assert_eq!(signer(stdout), k1, "the active key keeps signing");
    let k2 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("key.published  "))
        .unwrap()
        .to_owned();
    assert_ne!(k2, k1);
    assert!(
        stdout.contains(&format!(
            "key {k2} is published; the servers activate it at"
        )) && stdout.contains("(publish lead 86400 s)"),
        "{stdout}"
    );
    assert!(!stdout.contains("key.activated"), "{stdout}");
    let out = keys(&store, &with_kek, &["rotate"]).await;
    refused(
        &out,
        1,
        &format!("key {k2} is already published as the successor"),
    );

    let out = keys(&store, &with_kek, &["list"]).await;
    let list = ok(&out);
    assert_eq!(state(list, &k1).as_deref(), Some("active"), "{list}");
    assert_eq!(state(list, &k2).as_deref(), Some("published"), "{list}");
    assert_eq!(
        list.matches(&format!("sealed (kek {})", kek_id(&kek)))
            .count(),
        2,
        "{list}"
    );
    assert!(list.contains("2 keys (key-set version 2;"), "{list}");
    assert!(!list.contains("warning"), "{list}");

    // An immediate rotation: the published successor signs now.
    let out = keys(&store, &with_kek, &["rotate", "--immediate"]).await;
    let stdout = ok(&out);
    assert_eq!(signer(stdout), k2);
    assert!(stdout.contains(&format!("key.activated  {k2}")), "{stdout}");
    assert!(
        stdout.contains(&format!("key.retired    {k1} (stays in the JWKS until ")),
        "{stdout}"
    );

    // Retiring the active key hands over to a new key at once.
    let out = keys(&store, &with_kek, &["retire", &k2]).await;
    let stdout = ok(&out);
    let k3 = signer(stdout);
    assert!(k3 != k1 && k3 != k2);
    assert!(stdout.contains(&format!("key.retired    {k2}")), "{stdout}");
    let out = keys(&store, &with_kek, &["retire", &k2]).await;
    assert!(ok(&out).contains(&format!("key {k2} is already retired; nothing changed")));
    let out = keys(&store, &with_kek, &["retire", "no-such-kid"]).await;
    refused(&out, 1, "no signing key with kid no-such-kid");

    // --remove-now takes a key out of the JWKS at once.
    let out = keys(&store, &with_kek, &["retire", &k1, "--remove-now"]).await;
    assert!(ok(&out).contains(&format!("key.removed    {k1}")));
    assert!(
        out.stderr.contains("event=\"key.removed\"") && out.stderr.contains("cause=\"retire\"")
    );
    let out = keys(&store, &[], &["list"]).await;
    let list = ok(&out);
    assert_eq!(state(list, &k1), None, "{list}");
    assert_eq!(state(list, &k2).as_deref(), Some("retired"), "{list}");
    assert_eq!(state(list, &k3).as_deref(), Some("active"), "{list}");

    // What the CLI wrote is what a server opens.
    let sql = SqlStore::connect(&store).await.unwrap();
    let managed = ManagedKeys::new(
        Arc::new(sql.clone()),
        KeyProtection::encrypted(KeyEncryptionKey::from_base64(&kek).unwrap()),
        KeySchedule::new(Duration::from_secs(3600))
            .validate()
            .unwrap(),
    );
    let snap = managed.snapshot().await.unwrap();
    let set = managed.key_set(&snap).unwrap().unwrap();
    assert_eq!(set.active().kid(), k3);
    assert!(set.find(&k2).is_some() && set.find(&k1).is_none());
    sql.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_commands_on_postgres() {
    let db = postgres_for_tests().await;
    let store = db.url().to_owned();
    let kek = new_kek();
    let with_kek = ["--key-encryption-key", kek.as_str()];
    let k1 = signer(ok(&keys(&store, &with_kek, &["rotate"]).await));
    let k2 = signer(ok(
        &keys(&store, &with_kek, &["rotate", "--immediate"]).await
    ));
    assert_ne!(k1, k2);
    let out = keys(&store, &[], &["list"]).await;
    let list = ok(&out);
    assert_eq!(state(list, &k1).as_deref(), Some("retired"), "{list}");
    assert_eq!(state(list, &k2).as_deref(), Some("active"), "{list}");
    assert!(
        list.contains(&format!("sealed (kek {})", kek_id(&kek))),
        "{list}"
    );
}
