//! Signing keys: replicas (two pools on one database) racing on SQLite and
//! PostgreSQL, and sealed keys surviving a reconnect.

use std::sync::Arc;
use std::time::Duration;

use oauth_mcp_core::crypto::{CryptoError, KeyEncryptionKey};
use oauth_mcp_core::store::conformance::key_races;
use oauth_mcp_core::store::keys::StoredPrivateKey;
use oauth_mcp_core::token::managed::{KeyOpsError, KeyProtection, KeyRecordError, ManagedKeys};
use oauth_mcp_core::token::rotation::KeySchedule;
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::sqlx::{self, Row};
use oauth_mcp_sqlx::testing::postgres_for_tests;

use crate::common::TempDb;

fn fresh_kek() -> KeyEncryptionKey {
    KeyEncryptionKey::from_base64(KeyEncryptionKey::generate_base64().secret()).unwrap()
}

fn managed(store: &SqlStore, kek: &KeyEncryptionKey) -> ManagedKeys {
    ManagedKeys::new(
        Arc::new(store.clone()),
        KeyProtection::encrypted(kek.clone()),
        KeySchedule::new(Duration::from_secs(3600))
            .validate()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_race_across_two_sqlite_pools() {
    let db = TempDb::new("key-races");
    let a = SqlStore::connect(&db.url()).await.unwrap();
    let b = SqlStore::connect(&db.url()).await.unwrap();
    key_races(vec![Arc::new(a.clone()), Arc::new(b.clone())]).await;
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_race_across_two_postgres_pools() {
    let db = postgres_for_tests().await;
    let (a, b) = tokio::join!(SqlStore::connect(db.url()), SqlStore::connect(db.url()));
    let (a, b) = (a.unwrap(), b.unwrap());
    key_races(vec![Arc::new(a.clone()), Arc::new(b.clone())]).await;
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_keys_survive_a_reconnect_and_need_their_kek() {
    let db = TempDb::new("key-persist");
    let kek = fresh_kek();
    let now = 1_800_000_000;
    let (kid, pem) = {
        let store = SqlStore::connect(&db.url()).await.unwrap();
        let keys = managed(&store, &kek);
        let out = keys.maintain(now).await.unwrap();
        let set = keys.key_set(&out.snapshot).unwrap().unwrap();
        let pem = set.active().to_pkcs8_pem();
        store.close().await;
        (set.active().kid().to_owned(), pem)
    };
    let store = SqlStore::connect(&db.url()).await.unwrap();
    // On disk: sealed, and not the clear key.
    let row = sqlx::query("SELECT protection, private_key FROM oauth_signing_keys WHERE kid = ?")
        .bind(&kid)
        .fetch_one(store.sqlite_pool().unwrap())
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("protection"), "aes-256-gcm");
    let stored: Vec<u8> = row.get("private_key");
    let clear = oauth_mcp_core::token::SigningKey::from_pem(pem.as_bytes()).unwrap();
    assert_eq!(clear.kid(), kid);
    assert!(!String::from_utf8_lossy(&stored).contains("PRIVATE KEY"));

    // The same KEK opens the same key; nothing is due.
    let keys = managed(&store, &kek);
    let out = keys.maintain(now + 60).await.unwrap();
    assert!(out.events.is_empty(), "{:?}", out.events);
    assert!(matches!(
        out.snapshot.keys[0].private_key,
        StoredPrivateKey::Sealed(_)
    ));
    let set = keys.key_set(&out.snapshot).unwrap().unwrap();
    assert_eq!(set.active().kid(), kid);
    assert_eq!(set.active().to_pkcs8_pem(), pem);

    // Another KEK is refused, naming the key and both KEK ids.
    let other = fresh_kek();
    assert_ne!(other.id(), kek.id());
    match managed(&store, &other).key_set(&out.snapshot) {
        Err(KeyOpsError::Record(KeyRecordError::Crypto {
            kid: k,
            source: CryptoError::WrongKey { sealed_with, given },
        })) => {
            assert_eq!(k, kid);
            assert_eq!(sealed_with, kek.id());
            assert_eq!(given, other.id());
        }
        other => panic!("expected a wrong-KEK refusal, got {other:?}"),
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_an_sql_store_needs_a_kek_or_the_dangerous_opt_out() {
    use oauth_mcp_core::server::{AuthServer, StartError};
    use oauth_mcp_core::{ServerConfig, store::KeyStore};

    let db = TempDb::new("key-start");
    let store = Arc::new(SqlStore::connect(&db.url()).await.unwrap());
    let builder = || ServerConfig::builder("http://127.0.0.1:8080");
    // No key-encryption key: refused, saying what to give and how to make it.
    let Err(e @ StartError::MissingKeyEncryptionKey) =
        AuthServer::start(builder().build().unwrap(), store.clone()).await
    else {
        panic!("an SQL store without a key-encryption key must refuse to start");
    };
    let why = e.to_string();
    assert!(why.contains("key_encryption_key"), "{why}");
    assert!(why.contains("openssl rand -base64 32"), "{why}");
    assert!(store.list_keys().await.unwrap().keys.is_empty());

    // The opt-out named as dangerous stores the key in the clear ...
    let clear = builder()
        .dangerously_store_signing_keys_unencrypted()
        .build()
        .unwrap();
    let server = AuthServer::start(clear.clone(), store.clone())
        .await
        .unwrap();
    let snap = store.list_keys().await.unwrap();
    assert!(matches!(
        snap.keys[0].private_key,
        StoredPrivateKey::Unencrypted(_)
    ));
    assert_eq!(
        server.keys().current().active().kid(),
        snap.keys[0].kid,
        "and signs with it"
    );
    // ... which a server given a key-encryption key refuses to use.
    let sealed = builder().key_encryption_key(fresh_kek()).build().unwrap();
    let Err(StartError::KeyEncryptionKey(why)) = AuthServer::start(sealed, store.clone()).await
    else {
        panic!("a planted clear key must be refused when a KEK is given");
    };
    assert!(why.contains("stored unencrypted"), "{why}");
    store.close().await;
}
