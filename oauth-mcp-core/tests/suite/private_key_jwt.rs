//! `private_key_jwt` client authentication (RFC 7523) at `/token`,
//! `/revoke` and `/introspect`, through the HTTP layer: a registered client
//! with inline `jwks`, a Client ID Metadata Document client with a
//! `jwks_uri` served from loopback, and every refusal with its status,
//! `error`, `error_description` and audit event.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_mcp_core::client_assertion::{AssertionAlgorithm, TestClientKey};
use oauth_mcp_core::clock::{Clock, ManualClock};
use oauth_mcp_core::config::ServerConfigBuilder;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::secret::random_token;
use oauth_mcp_core::{AuthServer, PreRegisteredClient, ServerConfig};
use serde_json::{Value, json};

use crate::audit::{AuditLog, capture};
use crate::support::*;

pub(crate) const ISSUER: &str = "http://127.0.0.1:8080";
pub(crate) const TOKEN_ENDPOINT: &str = "http://127.0.0.1:8080/token";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's signing key: the test kit's, signing with its `kid`.
pub(crate) struct Key(TestClientKey);

impl Key {
    pub(crate) fn new(alg: AssertionAlgorithm, kid: &str) -> Self {
        Self(TestClientKey::generate(alg, kid))
    }

    pub(crate) fn jwk(&self) -> Value {
        self.0.public_jwk().clone()
    }

    pub(crate) fn sign(&self, kid: &str, claims: &Value) -> String {
        self.0.sign(Some(kid), claims)
    }
}

/// Fresh assertion claims for `client_id` at `now`.
pub(crate) fn claims(client_id: &str, now: i64) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": TOKEN_ENDPOINT,
        "iat": now, "exp": now + 60,
        "jti": random_token(),
    })
}

pub(crate) struct Server {
    pub(crate) oauth: OAuthHttp,
    pub(crate) clock: ManualClock,
}

impl Server {
    pub(crate) async fn start(b: ServerConfigBuilder) -> Self {
        let clock = ManualClock::new();
        let store = crate::support::store_with_alice().await;
        let cfg = b.clock(Arc::new(clock.clone())).build().unwrap();
        Self {
            oauth: OAuthHttp::new(AuthServer::new(cfg, store).unwrap()),
            clock,
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// POSTs `form` to `path`; returns the status and the JSON body.
    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let (status, body, _) = self.post_reply(path, form).await;
        (status, body)
    }

    /// [`Self::post`] with the response headers (for refusals).
    pub(crate) async fn post_reply(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, Value, http::HeaderMap) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let r = self
            .oauth
            .handle(req(
                "POST",
                path,
                Some("application/x-www-form-urlencoded"),
                body,
            ))
            .await;
        (
            r.status().as_u16(),
            serde_json::from_slice(r.body()).unwrap(),
            r.headers().clone(),
        )
    }

    /// Registers `metadata` (plus the test redirect URI); returns the client id.
    async fn register(&self, metadata: Value) -> String {
        let mut body = metadata;
        body["redirect_uris"] = json!([REDIRECT]);
        let r = self
            .oauth
            .handle(req(
                "POST",
                "/register",
                Some("application/json"),
                body.to_string(),
            ))
            .await;
        let v: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(r.status(), 201, "{v}");
        assert!(v.get("client_secret").is_none(), "no secret: {v}");
        v["client_id"].as_str().unwrap().to_owned()
    }

    /// Logs alice in for `client_id`; returns the authorization code.
    pub(crate) async fn code(&self, client_id: &str) -> String {
        let uri = authorize_uri(&urlencode(client_id), "&scope=mcp");
        let (status, loc, body) = login(&self.oauth, &uri, "alice", "pw-alice").await;
        assert_eq!(status, 303, "{body}");
        query_param(&loc.unwrap(), "code").unwrap()
    }
}

pub(crate) fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `client_assertion` form fields (and `client_id` when `with_id`).
pub(crate) fn assertion_form<'a>(
    assertion: &'a str,
    client_id: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    if let Some(id) = client_id {
        f.push(("client_id", id));
    }
    f
}

/// Expects a refusal: status, `error`, `error_description`, and a
/// `client_auth.refused` audit event at `endpoint` with `reason_code`.
pub(crate) fn assert_refused(
    audit: &AuditLog,
    (status, body, headers): &(u16, Value, http::HeaderMap),
    expected: (u16, &str, &str),
    endpoint: &str,
    reason_code: &str,
) {
    let (want_status, error, description) = expected;
    assert_eq!(*status, want_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_description"], description);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-store");
    // RFC 6749 §5.2: a 401 invalid_client names the scheme to use.
    if *status == 401 {
        assert_eq!(
            headers["www-authenticate"],
            "Basic realm=\"oauth-mcp\", charset=\"UTF-8\""
        );
    } else {
        assert!(headers.get("www-authenticate").is_none(), "{headers:?}");
    }
    let events = audit.named("client_auth.refused");
    let e = events.last().expect("a client_auth.refused event");
    assert_eq!(e["reason_code"], reason_code, "{e:?}");
    assert_eq!(e["endpoint"], endpoint);
    assert_eq!(e["error"], error);
    assert_eq!(e["reason"], description);
}

#[tokio::test]
async fn a_registered_client_authenticates_with_private_key_jwt_at_every_endpoint() {
    let (audit, _guard) = capture();
    let s = Server::start(ServerConfig::builder(ISSUER)).await;
    let key = Key::new(AssertionAlgorithm::Es256, "k1");
    let id = s
        .register(json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.jwk()]},
        }))
        .await;
    let code = s.code(&id).await;
    // No client_id in the body: the assertion names the client (RFC 7523 §3).
    let a = key.sign("k1", &claims(&id, s.now()));
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    form.extend(assertion_form(&a, None));
    let (status, tokens) = s.post("/token", &form).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let a = key.sign("k1", &claims(&id, s.now()));
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh)];
    form.extend(assertion_form(&a, Some(&id)));
    let (status, refreshed) = s.post("/token", &form).await;
    assert_eq!(status, 200, "{refreshed}");

    let a = key.sign("k1", &claims(&id, s.now()));
    let mut form = vec![("token", access)];
    form.extend(assertion_form(&a, Some(&id)));
    let (status, info) = s.post("/introspect", &form).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], id.as_str());

    let new_refresh = refreshed["refresh_token"].as_str().unwrap();
    let a = key.sign("k1", &claims(&id, s.now()));
    let mut form = vec![("token", new_refresh)];
    form.extend(assertion_form(&a, Some(&id)));
    let (status, _) = s.post("/revoke", &form).await;
    assert_eq!(status, 200);
    audit.one("token.revoked");

    let accepted = audit.named("client_auth.assertion_accepted");
    assert_eq!(accepted.len(), 4, "{accepted:?}");
    assert!(
        accepted
            .iter()
            .all(|e| e["algorithm"] == "ES256" && e["kid"] == "k1" && e["client_id"] == id)
    );
    assert!(audit.named("client_auth.refused").is_empty());
}

#[tokio::test]
async fn every_refused_assertion_is_answered_and_logged_with_its_reason() {
    let (audit, _guard) = capture();
    let s = Server::start(ServerConfig::builder(ISSUER)).await;
    let key = Key::new(AssertionAlgorithm::Es256, "k1");
    let impostor = Key::new(AssertionAlgorithm::Es256, "k1");
    let id = s
        .register(json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.jwk()]},
        }))
        .await;
    let now = s.now();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims(&id, now);
        f(&mut c);
        key.sign("k1", &c)
    };
    let header_only = |alg: &str| {
        let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
        let p = URL_SAFE_NO_PAD.encode(claims(&id, now).to_string());
        format!("{h}.{p}.c2ln")
    };
    let unknown_kid = key.sign("k9", &claims(&id, now));
    let cases: Vec<(String, String, &str)> = vec![
        (
            impostor.sign("k1", &claims(&id, now)),
            "the client assertion's signature does not verify with the client's keys".into(),
            "bad_signature",
        ),
        (
            with(&|c| c["iss"] = "https://attacker.example".into()),
            format!(
                "the client assertion's `iss` is `https://attacker.example`; it must be the client_id `{id}`"
            ),
            "wrong_iss_or_sub",
        ),
        (
            with(&|c| c["aud"] = "https://elsewhere.example/token".into()),
            format!(
                "the client assertion's `aud` is \"https://elsewhere.example/token\"; it must include `{TOKEN_ENDPOINT}` or `{ISSUER}`"
            ),
            "wrong_aud",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "the client assertion has no valid `exp` claim".into(),
            "missing_claim",
        ),
        (
            with(&|c| c["exp"] = (now + 3600).into()),
            "the client assertion's `exp` is 3600 s away; at most 600 s is accepted (sign a short-lived assertion for each request)".into(),
            "exp_too_far",
        ),
        (
            with(&|c| c["exp"] = (now - 120).into()),
            format!(
                "the client assertion expired at {} (now {now})",
                now - 120
            ),
            "expired",
        ),
        (
            header_only("none"),
            "the client assertion is signed with `none`; only RS256, PS256, ES256 and EdDSA are accepted".into(),
            "algorithm",
        ),
        (
            header_only("HS256"),
            "the client assertion is signed with `HS256`; only RS256, PS256, ES256 and EdDSA are accepted".into(),
            "algorithm",
        ),
        (
            unknown_kid,
            "the client's JWK Set has no key `k9` (the assertion's kid)".into(),
            "unknown_kid",
        ),
    ];
    for (assertion, description, reason_code) in cases {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", "x")];
        form.extend(assertion_form(&assertion, Some(&id)));
        let reply = s.post_reply("/token", &form).await;
        assert_refused(
            &audit,
            &reply,
            (401, "invalid_client", &description),
            "token",
            reason_code,
        );
        let refused = audit.named("token.refused");
        assert_eq!(refused.last().unwrap()["reason"], description);
    }

    // A replayed jti: the first use authenticates (and the grant then
    // fails), the second is refused, at any endpoint.
    let a = key.sign("k1", &claims(&id, now));
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", "x")];
    form.extend(assertion_form(&a, Some(&id)));
    let (status, body) = s.post("/token", &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    for (path, endpoint) in [("/token", "token"), ("/revoke", "revoke")] {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("token", "x"),
        ];
        form.extend(assertion_form(&a, Some(&id)));
        let reply = s.post_reply(path, &form).await;
        assert_refused(
            &audit,
            &reply,
            (
                401,
                "invalid_client",
                "the client assertion's `jti` was already used; sign a new assertion for each request",
            ),
            endpoint,
            "replayed_jti",
        );
    }
}

#[tokio::test]
async fn requests_that_mix_or_misname_methods_are_refused() {
    let (audit, _guard) = capture();
    let s = Server::start(ServerConfig::builder(ISSUER)).await;
    let key = Key::new(AssertionAlgorithm::Es256, "k1");
    let ed = Key::new(AssertionAlgorithm::EdDsa, "ed");
    let jwt_client = s
        .register(json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "jwks": {"keys": [key.jwk(), ed.jwk()]},
        }))
        .await;
    let r = s
        .oauth
        .handle(req(
            "POST",
            "/register",
            Some("application/json"),
            json!({"redirect_uris": [REDIRECT]}).to_string(),
        ))
        .await;
    let secret_client: Value = serde_json::from_slice(r.body()).unwrap();
    let secret_id = secret_client["client_id"].as_str().unwrap();
    let secret = secret_client["client_secret"].as_str().unwrap();
    let now = s.now();
    let a = key.sign("k1", &claims(&jwt_client, now));
    let grant = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    type Case<'a> = (Vec<(&'a str, &'a str)>, (u16, &'a str, String), &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![("client_assertion", a.as_str()), ("client_id", &jwt_client)],
            (
                400,
                "invalid_request",
                format!("client_assertion needs client_assertion_type={ASSERTION_TYPE}"),
            ),
            "malformed",
        ),
        (
            vec![
                ("client_assertion_type", "urn:example:saml"),
                ("client_assertion", a.as_str()),
            ],
            (
                400,
                "invalid_request",
                format!(
                    "client_assertion_type `urn:example:saml` is not supported; use {ASSERTION_TYPE}"
                ),
            ),
            "malformed",
        ),
        (
            vec![
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", a.as_str()),
                ("client_secret", "also-a-secret"),
            ],
            (
                400,
                "invalid_request",
                "use one client authentication method: private_key_jwt (client_assertion) or a client secret, not both".into(),
            ),
            "several_methods",
        ),
        (
            vec![("client_id", &jwt_client)],
            (
                401,
                "invalid_client",
                format!("client `{jwt_client}` is confidential; authenticate with private_key_jwt"),
            ),
            "method_not_registered",
        ),
        (
            assertion_form(&a, Some(secret_id)),
            (
                401,
                "invalid_client",
                format!(
                    "client `{secret_id}` may authenticate with client_secret_basic or client_secret_post, not with private_key_jwt"
                ),
            ),
            "method_not_registered",
        ),
        (
            vec![("client_id", &jwt_client), ("client_secret", secret)],
            (
                401,
                "invalid_client",
                format!(
                    "client `{jwt_client}` has no client secret; do not send one (authenticate with private_key_jwt)"
                ),
            ),
            "method_not_registered",
        ),
    ];
    for (auth, (status, error, description), reason_code) in cases {
        let mut form = grant.to_vec();
        form.extend(auth);
        let reply = s.post_reply("/token", &form).await;
        assert_refused(
            &audit,
            &reply,
            (status, error, &description),
            "token",
            reason_code,
        );
    }
    // The registered signing algorithm is enforced.
    let signed_ed = ed.sign("ed", &claims(&jwt_client, now));
    let mut form = grant.to_vec();
    form.extend(assertion_form(&signed_ed, Some(&jwt_client)));
    let reply = s.post_reply("/token", &form).await;
    assert_refused(
        &audit,
        &reply,
        (
            401,
            "invalid_client",
            "the client assertion is signed with EdDSA, but the client registered token_endpoint_auth_signing_alg ES256",
        ),
        "token",
        "algorithm_not_registered",
    );
    // Introspection needs an authenticated client, whatever its method.
    let mut form = vec![("token", "x")];
    let bad = Key::new(AssertionAlgorithm::Es256, "k1").sign("k1", &claims(&jwt_client, now));
    form.extend(assertion_form(&bad, Some(&jwt_client)));
    let reply = s.post_reply("/introspect", &form).await;
    assert_refused(
        &audit,
        &reply,
        (
            401,
            "invalid_client",
            "the client assertion's signature does not verify with the client's keys",
        ),
        "introspect",
        "bad_signature",
    );
}

#[tokio::test]
async fn an_operator_configured_resource_server_introspects_with_private_key_jwt() {
    let (audit, _guard) = capture();
    let key = Key::new(AssertionAlgorithm::EdDsa, "rs-key");
    let s = Server::start(ServerConfig::builder(ISSUER).client(
        PreRegisteredClient::private_key_jwt(
            "resource-server",
            json!({"keys": [key.jwk()]}),
            vec!["https://rs.example/unused".into()],
        ),
    ))
    .await;
    let client = s
        .register(json!({"token_endpoint_auth_method": "none"}))
        .await;
    let code = s.code(&client).await;
    let (status, tokens) = s
        .post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", &client),
            ],
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let a = key.sign("rs-key", &claims("resource-server", s.now()));
    let mut form = vec![("token", access)];
    form.extend(assertion_form(&a, None));
    let (status, info) = s.post("/introspect", &form).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], client.as_str());
    let accepted = audit.one("client_auth.assertion_accepted");
    assert_eq!(accepted["client_id"], "resource-server");
    assert_eq!(accepted["algorithm"], "EdDSA");
}
