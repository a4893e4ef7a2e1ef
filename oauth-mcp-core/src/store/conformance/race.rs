//! One authorization code redeemed by many token requests at once, through
//! the engine's HTTP layer (`OAuthHttp`) over a store: exactly one request
//! gets tokens, the others `invalid_grant`; never none, never a 5xx.

use bytes::Bytes;
use serde_json::Value;

use super::*;
use crate::config::ServerConfig;
use crate::http::OAuthHttp;
use crate::login::new_user;
use crate::server::AuthServer;

/// How many token requests race for one code.
pub const CODE_RACERS: usize = 200;
/// Races per call of [`code_redemption_race`], unless
/// `OAUTH_MCP_RACE_RUNS` says otherwise (for a longer hunt).
pub fn race_runs() -> usize {
    std::env::var("OAUTH_MCP_RACE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}
/// base64url(SHA-256(VERIFIER)).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1:9/cb";

async fn call(oauth: &OAuthHttp, req: http::Request<Bytes>) -> (u16, http::HeaderMap, Bytes) {
    let resp = oauth.handle(req).await;
    let (parts, body) = resp.into_parts();
    (parts.status.as_u16(), parts.headers, body)
}

fn form(path: &str, body: String) -> http::Request<Bytes> {
    http::Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(body))
        .unwrap()
}

/// The HTTP layer of an authorization server (default configuration) on
/// `store`, to which it adds the user `alice` that [`fresh_code`] logs in.
pub async fn server_with_alice<S: Store + 'static>(store: Arc<S>) -> OAuthHttp {
    store
        .put_user(new_user("alice", "pw").unwrap())
        .await
        .unwrap();
    let config = ServerConfig::builder("http://127.0.0.1:8080")
        .build()
        .unwrap();
    OAuthHttp::new(AuthServer::new(config, store).unwrap())
}

/// Registers a public client through `oauth` (a [`server_with_alice`]),
/// logs `alice` in and returns (client id, code); [`exchange_form`]
/// redeems the code.
pub async fn fresh_code(oauth: &OAuthHttp) -> (String, String) {
    let reg = http::Request::post("/register")
        .header("content-type", "application/json")
        .body(Bytes::from(format!(
            r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none"}}"#
        )))
        .unwrap();
    let (status, _, body) = call(oauth, reg).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let client: Value = serde_json::from_slice(&body).unwrap();
    let client_id = client["client_id"].as_str().unwrap().to_owned();

    let q = format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={REDIRECT}\
         &code_challenge={CHALLENGE}&code_challenge_method=S256&state=s"
    );
    let (status, _, page) = call(oauth, http::Request::get(q).body(Bytes::new()).unwrap()).await;
    let page = String::from_utf8_lossy(&page).into_owned();
    assert_eq!(status, 200, "{page}");
    let id = page
        .split("name=\"request_id\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("request_id on the login page")
        .to_owned();
    let (status, headers, body) = call(
        oauth,
        form(
            "/authorize",
            format!("request_id={id}&username=alice&password=pw&action=approve"),
        ),
    )
    .await;
    assert_eq!(status, 303, "{}", String::from_utf8_lossy(&body));
    let location = headers["location"].to_str().unwrap();
    let url = url_query(location, "code");
    (client_id, url)
}

/// The `POST /token` form body that redeems a [`fresh_code`].
pub fn exchange_form(client_id: &str, code: &str) -> String {
    format!(
        "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}\
         &client_id={client_id}&redirect_uri={REDIRECT}"
    )
}

fn url_query(location: &str, key: &str) -> String {
    let q = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_pairs(q)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key} in {location}"))
}

fn form_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%2F", "/").replace("%3A", ":")))
        .collect()
}

/// [`race_runs`] races of [`CODE_RACERS`] token requests for one code on
/// `store` (a user `alice` is added to it); `what` names the store in
/// failures.
pub async fn code_redemption_race<S: Store + 'static>(store: Arc<S>, what: &str) {
    let oauth = Arc::new(server_with_alice(store).await);
    for run in 0..race_runs() {
        let (client_id, code) = fresh_code(&oauth).await;
        let body = exchange_form(&client_id, &code);
        let start = Arc::new(tokio::sync::Barrier::new(CODE_RACERS));
        let tasks: Vec<_> = (0..CODE_RACERS)
            .map(|_| {
                let (oauth, body, start) = (oauth.clone(), body.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    call(&oauth, form("/token", body)).await
                })
            })
            .collect();
        let mut ok = 0;
        let mut refused = 0;
        for t in tasks {
            let (status, _, body) = t.await.unwrap();
            let text = String::from_utf8_lossy(&body);
            match status {
                200 => ok += 1,
                400 => {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    assert_eq!(v["error"], "invalid_grant", "{text}");
                    refused += 1;
                }
                other => panic!("{what} run {run}: a racer got {other}: {text}"),
            }
        }
        assert_eq!(
            (ok, refused),
            (1, CODE_RACERS - 1),
            "{what} run {run}: exactly one of {CODE_RACERS} concurrent redemptions gets tokens"
        );
    }
}
