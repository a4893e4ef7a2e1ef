//! Which writes of a login flow wait for the disk on PostgreSQL: in-flight
//! login state commits with `synchronous_commit = off` (set by its own
//! statement, for its own transaction), everything a client or user keeps
//! commits durably. Observed from inside the database: a row trigger on
//! each table records the setting in force when a row is written, while
//! each step runs through the public API; the store's connections start
//! with `synchronous_commit = on`, so a durable write shows `on`.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use oauth_mcp_core::clock::{Clock, SystemClock};
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::secret::hash_secret;
use oauth_mcp_core::store::conformance::race::server_with_alice;
use oauth_mcp_core::store::conformance::upstream::sample_flow;
use oauth_mcp_core::store::{AuthorizationStore, GcraRule, RateLimitStore, UpstreamStore};
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::testing::postgres_for_tests;
use sqlx::PgPool;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1:9/cb";

/// `url` with `synchronous_commit = on` for every connection (the private
/// test server runs with it off).
fn synchronous(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options[synchronous_commit]=on")
}

/// A row trigger on each table of the flow records the setting in force.
async fn install_log(admin: &PgPool) {
    sqlx::raw_sql(
        "CREATE TABLE commit_log (n BIGSERIAL, tbl TEXT, op TEXT, setting TEXT); \
         CREATE FUNCTION log_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         INSERT INTO commit_log (tbl, op, setting) \
         VALUES (TG_TABLE_NAME, TG_OP, current_setting('synchronous_commit')); \
         RETURN NULL; END $$; \
         DO $$ DECLARE t TEXT; BEGIN FOREACH t IN ARRAY ARRAY['oauth_clients', \
         'oauth_pending', 'oauth_codes', 'oauth_grants', 'oauth_refresh_tokens', \
         'oauth_rate_limits', 'oauth_upstream_flows'] LOOP EXECUTE format('CREATE TRIGGER \
         log_commit AFTER INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW \
         EXECUTE FUNCTION log_commit()', t); END LOOP; END $$;",
    )
    .execute(admin)
    .await
    .unwrap();
}

/// The (table, operation, setting) of every row written since the last
/// call, in a set.
async fn written(admin: &PgPool) -> BTreeSet<(String, String, String)> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("DELETE FROM commit_log RETURNING tbl, op, setting")
            .fetch_all(admin)
            .await
            .unwrap();
    rows.into_iter().collect()
}

fn expect(rows: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|(t, o, s)| (t.to_string(), o.to_string(), s.to_string()))
        .collect()
}

async fn call(oauth: &OAuthHttp, req: http::Request<Bytes>) -> (u16, http::HeaderMap, String) {
    let resp = oauth.handle(req).await;
    let (parts, body) = resp.into_parts();
    (
        parts.status.as_u16(),
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

fn form(path: &str, body: String) -> http::Request<Bytes> {
    http::Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(body))
        .unwrap()
}

/// `GET /authorize` for `client_id`: the login page's request id.
async fn authorize(oauth: &OAuthHttp, client_id: &str) -> String {
    let q = format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={REDIRECT}\
         &code_challenge={CHALLENGE}&code_challenge_method=S256&state=s"
    );
    let (status, _, page) = call(oauth, http::Request::get(q).body(Bytes::new()).unwrap()).await;
    assert_eq!(status, 200, "{page}");
    page.split("name=\"request_id\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("request_id on the login page")
        .to_owned()
}

fn query_value(location: &str, key: &str) -> String {
    let q = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_else(|| panic!("no {key} in {location}"))
}

async fn token(oauth: &OAuthHttp, body: String) -> serde_json::Value {
    let (status, _, body) = call(oauth, form("/token", body)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn in_flight_login_state_commits_without_waiting_for_the_disk() {
    let db = postgres_for_tests().await;
    let url = synchronous(db.url());
    let store = Arc::new(SqlStore::connect(&url).await.unwrap());
    let admin = PgPool::connect(&url).await.unwrap();
    let oauth = server_with_alice(store.clone()).await;
    install_log(&admin).await;

    // Registration: kept by the client, durable.
    let reg = http::Request::post("/register")
        .header("content-type", "application/json")
        .body(Bytes::from(format!(
            r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none"}}"#
        )))
        .unwrap();
    let (status, _, body) = call(&oauth, reg).await;
    assert_eq!(status, 201, "{body}");
    let client: serde_json::Value = serde_json::from_str(&body).unwrap();
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        written(&admin).await,
        expect(&[("oauth_clients", "INSERT", "on")])
    );

    // The pending request.
    let id = authorize(&oauth, &client_id).await;
    assert_eq!(
        written(&admin).await,
        expect(&[("oauth_pending", "INSERT", "off")])
    );

    // A wrong password: the attempt and the username's bucket.
    let login = |password: &str| {
        form(
            "/authorize",
            format!("request_id={id}&username=alice&password={password}&action=approve"),
        )
    };
    let (status, _, page) = call(&oauth, login("wrong")).await;
    assert_eq!(status, 401, "the login page again: {page}");
    assert_eq!(
        written(&admin).await,
        expect(&[
            ("oauth_pending", "UPDATE", "off"),
            ("oauth_rate_limits", "INSERT", "off"),
        ])
    );

    // The right one: the attempt, and the request taken into a code.
    let (status, headers, body) = call(&oauth, login("pw")).await;
    assert_eq!(status, 303, "{body}");
    let code = query_value(headers["location"].to_str().unwrap(), "code");
    assert_eq!(
        written(&admin).await,
        expect(&[
            ("oauth_codes", "INSERT", "off"),
            ("oauth_pending", "DELETE", "off"),
            ("oauth_pending", "UPDATE", "off"),
        ])
    );

    // The exchange spends the code and stores the grant: durable, so a
    // crash cannot bring back a spent code.
    let tokens = token(
        &oauth,
        format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}\
             &client_id={client_id}&redirect_uri={REDIRECT}"
        ),
    )
    .await;
    assert_eq!(
        written(&admin).await,
        expect(&[
            ("oauth_clients", "UPDATE", "on"),
            ("oauth_codes", "UPDATE", "on"),
            ("oauth_grants", "INSERT", "on"),
            ("oauth_refresh_tokens", "INSERT", "on"),
        ]),
        "and the setting of the earlier statements on the same connections \
         ended with their transactions"
    );

    // A rotation: durable, so a crash cannot bring back a rotated-out token.
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    token(
        &oauth,
        format!("grant_type=refresh_token&refresh_token={refresh_token}&client_id={client_id}"),
    )
    .await;
    assert_eq!(
        written(&admin).await,
        expect(&[
            ("oauth_grants", "UPDATE", "on"),
            ("oauth_refresh_tokens", "INSERT", "on"),
        ])
    );

    // The store's other in-flight writes: a bucket's second hit, an
    // attempt counted without the username guard, an upstream login.
    let now = SystemClock.now();
    let rule = GcraRule {
        interval_ms: 60_000,
        burst: 5,
    };
    for _ in 0..2 {
        store
            .rate_limit_hit("durability-test", rule, now * 1000)
            .await
            .unwrap();
    }
    let id = authorize(&oauth, &client_id).await;
    store
        .consume_login_attempt(&hash_secret(&id), 5, now)
        .await
        .unwrap();
    store.insert_upstream_flow(sample_flow(now)).await.unwrap();
    assert_eq!(
        written(&admin).await,
        expect(&[
            ("oauth_pending", "INSERT", "off"),
            ("oauth_pending", "UPDATE", "off"),
            ("oauth_rate_limits", "INSERT", "off"),
            ("oauth_rate_limits", "UPDATE", "off"),
            ("oauth_upstream_flows", "INSERT", "off"),
        ])
    );

    admin.close().await;
    store.close().await;
}
