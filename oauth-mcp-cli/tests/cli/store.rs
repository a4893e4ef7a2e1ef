//! `oauth-mcp store …` on a SQLite file that the axum example server uses
//! at the same time: a client registered by a trace is listed, shown and
//! updated (and the update takes effect); codes are listed by state; a user
//! added by the CLI can log in. The same on PostgreSQL.

use oauth_mcp_cli::{Outcome, TraceOptions};
use oauth_mcp_core::store::ClientStore;
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::testing::postgres_for_tests;

use super::support::{
    TempDir, assert_completed, assert_diagnosis, demo, run_cli, run_trace, start_axum,
};

/// The axum example on a new SQLite store in `dir`, and a client a trace
/// registered there (redeeming one code): the store URL, the server, the
/// client id.
async fn sqlite_server_with_a_client(
    dir: &TempDir,
) -> (String, example_axum_server::Running, String) {
    let store = format!("sqlite://{}", dir.join("oauth.db").display());
    let server = start_axum(example_axum_server::Options {
        store: format!("{store}?mode=rwc"),
        ..Default::default()
    })
    .await;
    let r = run_trace(&demo(&server.mcp_url)).await;
    assert_completed(&r);
    let client_id = r.summary.client_id.clone().unwrap();
    (store, server, client_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_commands_on_sqlite() {
    let dir = TempDir::new("store");
    let (store, server, client_id) = sqlite_server_with_a_client(&dir).await;

    let out = run_cli(&["store", "--store", &store, "clients", "list"], None).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(&client_id))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        line.contains("oauth-mcp trace")
            && line.contains(" none ")
            && line.contains("http://127.0.0.1:33418/callback"),
        "{line}"
    );
    assert!(out.stdout.contains("1 client\n"), "{}", out.stdout);

    let out = run_cli(
        &["store", "--store", &store, "clients", "show", &client_id],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for expected in [
        format!("client_id:      {client_id}"),
        "auth method:    none".into(),
        "  http://127.0.0.1:33418/callback".into(),
        "trusted:        no".into(),
        "active:         yes".into(),
        "created:        20".into(),
    ] {
        assert!(
            out.stdout.contains(&expected),
            "{expected:?} not in\n{}",
            out.stdout
        );
    }

    // Update: new redirect URIs, trusted; then deactivate.
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "clients",
            "update",
            &client_id,
            "--redirect-uri",
            "http://127.0.0.1:40000/cb",
            "--redirect-uri",
            "https://app.example/cb",
            "--trusted",
            "true",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("  http://127.0.0.1:40000/cb\n  https://app.example/cb\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("trusted:        yes"), "{}", out.stdout);
    // The running server sees the change within a second (it keeps a client
    // it read for that long): the old redirect URI is refused then.
    tokio::time::sleep(oauth_mcp_core::client::CLIENT_CACHE_FRESH_FOR).await;
    let r = run_trace(&TraceOptions {
        client_id: Some(client_id.clone()),
        ..demo(&server.mcp_url)
    })
    .await;
    assert_diagnosis(&r, "authorization", "redirect-uri-refused");
    // …and the new one works (trusted: no consent step, same form).
    let r = run_trace(&TraceOptions {
        client_id: Some(client_id.clone()),
        redirect_uri: Some("http://127.0.0.1:40000/cb".into()),
        ..demo(&server.mcp_url)
    })
    .await;
    assert_completed(&r);
    let out = run_cli(
        &[
            "store", "--store", &store, "clients", "update", &client_id, "--active", "false",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("active:         no"), "{}", out.stdout);
    tokio::time::sleep(oauth_mcp_core::client::CLIENT_CACHE_FRESH_FOR).await;
    let r = run_trace(&TraceOptions {
        client_id: Some(client_id.clone()),
        redirect_uri: Some("http://127.0.0.1:40000/cb".into()),
        ..demo(&server.mcp_url)
    })
    .await;
    assert_diagnosis(&r, "authorization", "unknown-client");

    // Bad input is refused, with status 1.
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "clients",
            "show",
            "no-such-client",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("no client `no-such-client`"),
        "{}",
        out.stderr
    );
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "clients",
            "update",
            &client_id,
            "--redirect-uri",
            "http://evil.example/cb",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("loopback"), "{}", out.stderr);

    // Codes: two redeemed so far, none pending; filters by client and time.
    let out = run_cli(&["store", "--store", &store, "codes", "list"], None).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("pending (0)\nused (2)\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("client {client_id}  user demo-user")),
        "{}",
        out.stdout
    );
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "codes",
            "list",
            "--client",
            "someone-else",
        ],
        None,
    )
    .await;
    assert!(out.stdout.contains("used (0)"), "{}", out.stdout);
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "codes",
            "list",
            "--since",
            "2999-01-01T00:00:00Z",
        ],
        None,
    )
    .await;
    assert!(out.stdout.contains("used (0)"), "{}", out.stdout);
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "codes",
            "list",
            "--client",
            &client_id,
            "--since",
            "2020-01-01",
            "--until",
            "4102444800",
        ],
        None,
    )
    .await;
    assert!(out.stdout.contains("used (2)"), "{}", out.stdout);
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "codes",
            "list",
            "--since",
            "yesterday",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(1));

    // A user added through the CLI logs in through the running server.
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "users",
            "add",
            "alice",
            "--password-stdin",
        ],
        Some("wonderland-2026\n"),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("added user alice"), "{}", out.stdout);
    let r =
        run_trace(&TraceOptions::new(&server.mcp_url).with_credentials("alice", "wonderland-2026"))
            .await;
    assert_completed(&r);
    assert_eq!(r.outcome(), Outcome::Ok);
    let out = run_cli(&["store", "--store", &store, "codes", "list"], None).await;
    assert!(out.stdout.contains("user alice"), "{}", out.stdout);
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "users",
            "add",
            "alice",
            "--password",
            "another-one",
        ],
        None,
    )
    .await;
    assert!(out.stdout.contains("replaced user alice"), "{}", out.stdout);
    let r =
        run_trace(&TraceOptions::new(&server.mcp_url).with_credentials("alice", "wonderland-2026"))
            .await;
    assert_diagnosis(&r, "login", "login-refused");

    // An unsupported store URL.
    let out = run_cli(&["store", "--store", "mysql://x", "clients", "list"], None).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("sqlite://"), "{}", out.stderr);
}

/// The same commands on PostgreSQL (`$1` placeholders, native booleans):
/// a private server, or the database of `OAUTH_MCP_TEST_POSTGRES_URL`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_commands_on_postgres() {
    let db = postgres_for_tests().await;
    let store = db.url().to_owned();
    let server = start_axum(example_axum_server::Options {
        store: store.clone(),
        ..Default::default()
    })
    .await;
    let r = run_trace(&demo(&server.mcp_url)).await;
    assert_completed(&r);
    let client_id = r.summary.client_id.clone().unwrap();

    let out = run_cli(&["store", "--store", &store, "clients", "list"], None).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains(&client_id), "{}", out.stdout);
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "clients",
            "update",
            &client_id,
            "--trusted",
            "true",
        ],
        None,
    )
    .await;
    assert!(out.stdout.contains("trusted:        yes"), "{}", out.stdout);
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "codes",
            "list",
            "--client",
            &client_id,
            "--since",
            "2020-01-01T00:00:00Z",
            "--until",
            "2999-01-01T00:00:00+02:00",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("pending (0)\nused (1)\n"),
        "{}",
        out.stdout
    );
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "users",
            "add",
            "bob",
            "--password",
            "builder-2026",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let r = run_trace(&TraceOptions::new(&server.mcp_url).with_credentials("bob", "builder-2026"))
        .await;
    assert_completed(&r);
}

/// Client ids are random base64url, so 1 in 64 starts with `-`: the binary
/// takes such an id as a positional value and as an option value (CI once
/// failed with clap's "unexpected argument '-Y'").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ids_with_a_leading_hyphen() {
    let dir = TempDir::new("hyphen");
    let (store, server, registered) = sqlite_server_with_a_client(&dir).await;
    // The same client again under an id that starts with `-`.
    let id = format!("-Yv8{}", registered.trim_start_matches('-'));
    let sql = SqlStore::connect(&store).await.unwrap();
    let mut client = sql.get_client(&registered).await.unwrap().unwrap();
    client.client_id = id.clone();
    sql.insert_client(client).await.unwrap();
    sql.close().await;

    let out = run_cli(&["store", "--store", &store, "clients", "show", &id], None).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("client_id:      {id}\n")),
        "{}",
        out.stdout
    );
    let out = run_cli(
        &[
            "store",
            "--store",
            &store,
            "clients",
            "update",
            &id,
            "--trusted",
            "true",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("updated client {id}\n")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("trusted:        yes"), "{}", out.stdout);
    let out = run_cli(
        &["store", "--store", &store, "codes", "list", "--client", &id],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("used (0)"), "{}", out.stdout);
    // The tracer takes it as --client-id, and the server knows it.
    let out = run_cli(
        &[
            "trace",
            &server.mcp_url,
            "--client-id",
            &id,
            "--username",
            "demo-user",
            "--password",
            "demo-password",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains(&format!("pre-registered public client `{id}`")),
        "{}",
        out.stdout
    );
}
