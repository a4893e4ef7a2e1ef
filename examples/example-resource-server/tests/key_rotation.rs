//! Signing-key rotation seen from outside, over real HTTP under one
//! `ManualClock`: the axum example's authorization server on SQLite (keys
//! sealed with a key-encryption key) rotates on a short schedule, and this
//! example's resource server validates every token through the remote JWKS.
//!
//! Over 40 simulated hours three successors are published, activated and
//! their predecessors retired and removed, in order and on time; the
//! resource server never refuses a valid token, and never needs to refetch
//! the JWKS for an unknown key (the JWKS `Cache-Control` fits the publish
//! lead). Then an operator's immediate rotation, written straight to the
//! store as `oauth-mcp keys rotate --immediate` does, reaches the
//! authorization server within its refresh interval and the resource server
//! with the first token of the new key.

// Test helpers panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use example_resource_server::{Options as RsOptions, start_on};
use oauth_mcp_battery::client::*;
use oauth_mcp_battery::process::temp_dir;
use oauth_mcp_core::Secret;
use oauth_mcp_core::clock::{Clock, ManualClock};
use oauth_mcp_core::config::KeyRotation;
use oauth_mcp_core::crypto::KeyEncryptionKey;
use oauth_mcp_core::token::managed::{KeyProtection, ManagedKeys};
use oauth_mcp_core::token::rotation::KeySchedule;
use oauth_mcp_sqlx::SqlStore;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const HOUR: i64 = 3600;
const STEP: i64 = 20 * 60;

/// Every audit event of this test binary (one test), fields as text.
static EVENTS: Mutex<Vec<BTreeMap<String, String>>> = Mutex::new(Vec::new());

struct Capture;

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "oauth_mcp::audit" {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            EVENTS.lock().unwrap().push(fields);
        }
    }
}

fn events(name: &str) -> Vec<BTreeMap<String, String>> {
    EVENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.get("event").is_some_and(|n| n == name))
        .cloned()
        .collect()
}

fn jwks_fetches(reason: &str) -> usize {
    events("jwks.fetched")
        .iter()
        .filter(|e| e["reason"] == reason)
        .count()
}

fn kid(jwt: &str) -> String {
    jwt_parts(jwt).0["kid"].as_str().unwrap().to_owned()
}

/// The kids in the authorization server's JWKS, and its `Cache-Control`.
async fn jwks(base: &str) -> (Vec<String>, String) {
    let r = get(&format!("{base}/jwks.json")).await;
    assert_eq!(r.status, 200);
    let kids = r.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    (kids, r.header("cache-control").unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_rotation_never_makes_the_resource_server_refuse_a_valid_token() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture)).unwrap();
    let clock = ManualClock::new();
    let dir = temp_dir("rotation");
    let store_url = format!("sqlite://{}?mode=rwc", dir.join("oauth.db").display());
    let kek = KeyEncryptionKey::generate_base64();
    // Rotate every 12 h, publishing successors 3 h ahead; tokens live 1 h.
    let auth = example_axum_server::start(example_axum_server::Options {
        bind: ([127, 0, 0, 1], 0).into(),
        store: store_url.clone(),
        key_encryption_key: Some(Secret::new(kek.secret())),
        key_rotation: Some(
            KeyRotation::default()
                .every(Duration::from_secs(12 * HOUR as u64))
                .publish_lead(Duration::from_secs(3 * HOUR as u64)),
        ),
        clock: Some(Arc::new(clock.clone())),
        ..Default::default()
    })
    .await
    .unwrap();
    let base = auth.public_url.clone();

    // The resource server serves the same public URL (as another replica of
    // the MCP endpoint would), trusts the authorization server's issuer, and
    // caches the JWKS as long as its Cache-Control allows (up to a day).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rs_base = format!("http://{}", listener.local_addr().unwrap());
    let rs = start_on(
        listener,
        &RsOptions {
            bind: ([127, 0, 0, 1], 0).into(),
            public_url: Some(base.clone()),
            issuer: base.clone(),
            introspection_client_id: None,
            introspection_client_secret: None,
            accept_jwt_typ: false,
            jwks_min_refetch_secs: 0,
            jwks_max_age_secs: 24 * HOUR as u64,
            scopes: "mcp admin".into(),
            required_scopes: "mcp".into(),
            tool_scopes: "admin_echo=admin".into(),
            scope_implies: "admin=mcp".into(),
            clock: Some(Arc::new(clock.clone())),
        },
    )
    .await
    .unwrap();

    let t0 = clock.now();
    let s = session(&base, None).await;
    let mut refresh_token = s.tokens.refresh.clone();
    let mut live: Vec<(i64, String)> = vec![(t0, s.tokens.access.clone())];
    let mut signed: Vec<(i64, String)> = vec![(t0, kid(&s.tokens.access))];
    let mut published: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut refused_after_expiry = 0;
    for _ in 0..(40 * HOUR / STEP) {
        clock.advance(STEP);
        let now = clock.now();
        let t = tokens_of(&refresh(&base, &s.client.client_id, &refresh_token, None).await);
        refresh_token = t.refresh.clone();
        if signed.last().unwrap().1 != kid(&t.access) {
            signed.push((now, kid(&t.access)));
        }
        live.push((now, t.access));
        let (kids, cache_control) = jwks(&base).await;
        assert_eq!(
            cache_control, "public, max-age=3600",
            "half the lead, at most an hour"
        );
        for k in kids {
            published.entry(k).or_insert((now, now)).1 = now;
        }
        for (at, token) in &live {
            if now < at + HOUR {
                let who = whoami(&rs_base, token).await;
                assert_eq!(who["subject"], "demo-user");
            } else if now >= at + HOUR + 30 {
                // Past expiry and the validator's 30 s leeway.
                let r = mcp_post(&rs_base, Some(token), &tool_call(9, "whoami", &json!({}))).await;
                assert_eq!(r.status(), 401, "an expired token must be refused");
                refused_after_expiry += 1;
            }
        }
        live.retain(|(at, _)| now < at + HOUR + STEP);
    }
    assert!(refused_after_expiry > 100, "{refused_after_expiry}");

    // Three successors signed, each 12 h after the last, each published in
    // the JWKS at least the 3 h lead before; predecessors stayed published
    // until their last token expired, then left.
    let starts: Vec<i64> = signed.iter().map(|(t, _)| t - t0).collect();
    assert_eq!(starts, [0, 12 * HOUR, 24 * HOUR, 36 * HOUR], "{signed:?}");
    for (at, k) in &signed[1..] {
        assert!(
            at - published[k].0 >= 3 * HOUR,
            "{k} signed before its lead passed"
        );
    }
    for pair in signed.windows(2) {
        let (handover, old) = (pair[1].0, &pair[0].1);
        let last_seen = published[old].1;
        assert!(
            last_seen >= handover + HOUR - STEP,
            "{old} left the JWKS too early"
        );
        assert!(last_seen <= handover + 2 * HOUR, "{old} was not removed");
    }
    // The audit trail, in order: each successor created and published,
    // then activated with its predecessor retired, then the predecessor removed.
    let trail: Vec<(String, String)> = EVENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.get("event").is_some_and(|n| n.starts_with("key.")))
        .map(|e| (e["event"].clone(), e["kid"].clone()))
        .collect();
    let mut expected = vec![
        ("key.created".to_owned(), signed[0].1.clone()),
        ("key.published".to_owned(), signed[0].1.clone()),
        ("key.activated".to_owned(), signed[0].1.clone()),
    ];
    for pair in signed.windows(2) {
        let (old, new) = (&pair[0].1, &pair[1].1);
        for (name, k) in [
            ("key.created", new),
            ("key.published", new),
            ("key.activated", new),
            ("key.retired", old),
            ("key.removed", old),
        ] {
            expected.push((name.to_owned(), k.clone()));
        }
    }
    assert_eq!(trail, expected);
    // The resource server learnt every key from the JWKS before it signed.
    assert_eq!(
        jwks_fetches("unknown_kid"),
        0,
        "the lead must outlast the cache"
    );
    assert!(
        jwks_fetches("expired") >= 30,
        "refetched when max-age ran out"
    );

    // An operator's immediate rotation, written to the store while the
    // server runs (what `oauth-mcp keys rotate --immediate` does).
    let store = SqlStore::connect(&store_url).await.unwrap();
    let ops = ManagedKeys::new(
        Arc::new(store.clone()),
        KeyProtection::encrypted(KeyEncryptionKey::from_base64(kek.secret()).unwrap()),
        KeySchedule::new(Duration::from_secs(HOUR as u64))
            .without_scheduled_rotation()
            .validate()
            .unwrap(),
    );
    let out = ops.rotate(clock.now(), true).await.unwrap();
    let fresh = out
        .snapshot
        .keys
        .iter()
        .find(|k| k.retired_at.is_none())
        .unwrap()
        .kid
        .clone();
    store.close().await;
    clock.advance(31); // the server's refresh interval (30 s) passes
    let t = tokens_of(&refresh(&base, &s.client.client_id, &refresh_token, None).await);
    assert_eq!(kid(&t.access), fresh, "the server follows the store");
    assert_eq!(whoami(&rs_base, &t.access).await["subject"], "demo-user");
    assert_eq!(
        jwks_fetches("unknown_kid"),
        1,
        "the new kid was fetched at once"
    );
    whoami(&rs_base, &live.last().unwrap().1).await;

    rs.task.abort();
    auth.task.abort();
    std::fs::remove_dir_all(&dir).ok();
}
