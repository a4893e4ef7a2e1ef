//! Real MCP clients, as their profiles describe them
//! (`fixtures/clients/*.json`, [`crate::profiles`]), against a running
//! server: discovery, registration (their real DCR body) or their Client ID
//! Metadata Document (served from loopback, with ChatGPT's JWK Set), the
//! authorization request with the parameters each sends, the code exchange
//! with each one's token-endpoint authentication (`none`,
//! `client_secret_post`, `private_key_jwt`), an MCP call, and a refresh.
//! Also what must be refused: Claude Code's loopback-host bug and bad
//! `private_key_jwt` assertions. Along the way it checks, for each client,
//! that the metadata advertises only what is implemented and that a tool
//! needing more scope answers 403 naming it; the battery runs the profiles
//! on a path-prefixed server too.
//!
//! The server must run with [`crate::ServerSpec::loopback_client_documents`].

use oauth_mcp_core::client_assertion::{AssertionAlgorithm, TestClientKey};
use oauth_mcp_core::clock::{Clock, SystemClock};
use serde_json::{Value, json};

use crate::Harness;
use crate::client::*;
use crate::client_host::ClientHost;
use crate::profiles::{self, ClientProfile, Registration};

/// The ephemeral port a native client listens on (nothing listens: the
/// battery reads the redirect, it does not follow it).
const CLIENT_PORT: u16 = 41_234;

/// The `kid` of the test key standing in for a client's real one.
const KID: &str = "profile-test-key";

/// A profile's client, identified to the server under test.
struct ProfileClient {
    profile: ClientProfile,
    client_id: String,
    secret: Option<String>,
    key: Option<TestClientKey>,
    /// Keeps the CIMD documents served while the flow runs.
    _host: Option<ClientHost>,
}

fn path_of(url: &str) -> String {
    url::Url::parse(url)
        .unwrap_or_else(|e| panic!("`{url}`: {e}"))
        .path()
        .to_owned()
}

impl ProfileClient {
    /// Registers the profile's real body, or serves its document (re-homed
    /// on loopback; a `jwks_uri` is served there too, with a test key).
    async fn identify(base: &str, profile: ClientProfile) -> Self {
        match profile.registration() {
            Registration::Dcr => {
                let body = profile.registration_body(CLIENT_PORT).expect("a DCR body");
                let r = register(base, &body).await;
                assert_eq!(r.status, 201, "{}: {}", profile.name, r.text);
                let v = r.json();
                let asked = body["token_endpoint_auth_method"]
                    .as_str()
                    .unwrap_or("client_secret_basic");
                assert_eq!(
                    v["token_endpoint_auth_method"], asked,
                    "{}: the response names the method asked for",
                    profile.name
                );
                let secret = v["client_secret"].as_str().map(str::to_owned);
                assert_eq!(
                    secret.is_some(),
                    asked.starts_with("client_secret"),
                    "{}: a secret iff a secret method: {v}",
                    profile.name
                );
                Self {
                    client_id: v["client_id"].as_str().expect("client_id").to_owned(),
                    secret,
                    key: None,
                    _host: None,
                    profile,
                }
            }
            Registration::Cimd => {
                let host = ClientHost::start().await;
                let published = profile.json["client_id_url"]
                    .as_str()
                    .expect("client_id_url");
                let client_id = format!("{}{}", host.base, path_of(published));
                let mut doc = profile
                    .metadata_document_at(&client_id)
                    .expect("a metadata document");
                let key = doc["jwks_uri"].as_str().map(|jwks_uri| {
                    let alg = profile.json["token"]["assertion_alg"]
                        .as_str()
                        .and_then(AssertionAlgorithm::parse)
                        .unwrap_or(AssertionAlgorithm::Rs256);
                    let key = TestClientKey::generate(alg, KID);
                    let url = host.serve(&path_of(jwks_uri), &TestClientKey::jwks(&[&key]));
                    (key, url)
                });
                let key = key.map(|(key, url)| {
                    doc["jwks_uri"] = json!(url);
                    key
                });
                host.serve(&path_of(&client_id), &doc);
                Self {
                    client_id,
                    secret: None,
                    key,
                    _host: Some(host),
                    profile,
                }
            }
        }
    }

    fn name(&self) -> &'static str {
        self.profile.name
    }

    /// A fresh client assertion for the token endpoint of `base`.
    fn assertion(&self, base: &str) -> String {
        let key = self
            .key
            .as_ref()
            .expect("a private_key_jwt client has a key");
        let now = SystemClock.now();
        key.sign(
            Some(KID),
            &json!({
                "iss": self.client_id, "sub": self.client_id,
                "aud": format!("{base}/token"),
                "iat": now, "exp": now + 300, "jti": unique("jti"),
            }),
        )
    }

    /// POSTs a token request: `form` plus this client's authentication.
    async fn token_request(&self, base: &str, form: &[(&str, &str)]) -> Reply {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let assertion;
        let method = self.profile.token_auth_method();
        match method {
            "none" => form.push(("client_id", &self.client_id)),
            "client_secret_post" => {
                form.push(("client_id", &self.client_id));
                form.push(("client_secret", self.secret.as_deref().expect("a secret")));
            }
            "client_secret_basic" => {
                let secret = self.secret.as_deref().expect("a secret");
                return token(base, &form, Some((&self.client_id, secret))).await;
            }
            "private_key_jwt" => {
                assertion = self.assertion(base);
                form.extend(assertion_auth(&self.client_id, &assertion));
            }
            other => panic!("{}: unknown token auth method {other}", self.name()),
        }
        token(base, &form, None).await
    }
}

/// The scope a profile asks for, per its `authorize` section: `discovered`
/// (the challenge's scope) and `configured` (a user setting; `mcp` here) are
/// asked as such; `offline_access` is appended when the client adds it and
/// the server lists it.
fn requested_scope(p: &ClientProfile, challenge_scope: &str, as_md: &Value) -> Option<String> {
    let a = &p.json["authorize"];
    let mut scope = match a["scope"].as_str() {
        Some("none") => return None,
        Some("configured") => "mcp".to_owned(),
        _ => challenge_scope.to_owned(),
    };
    let listed = as_md["scopes_supported"]
        .as_array()
        .is_some_and(|s| s.contains(&json!("offline_access")));
    if a["adds_offline_access"] == true && listed {
        scope.push_str(" offline_access");
    }
    Some(scope)
}

/// The whole flow of the client profile `name`, including refresh.
pub async fn client_profile(h: &Harness, name: &str) {
    let base = h.base.as_str();
    let mcp = h.mcp();
    let p = profiles::get(name);

    // Discovery, as every client starts: the challenge, PRM, AS metadata.
    let r = mcp_post(base, None, &initialize_request(1)).await;
    assert_eq!(r.status(), 401, "{name}: {}", r.reply.text);
    let challenge = r.reply.challenge();
    let challenge_scope = challenge.param("scope").unwrap_or_default().to_owned();
    let prm = get_json(
        challenge
            .param("resource_metadata")
            .expect("resource_metadata"),
    )
    .await;
    assert_eq!(prm["resource"], mcp);
    let as_md = get_json(&as_metadata_url(base)).await;
    if p.registration() == Registration::Cimd {
        assert_eq!(as_md["client_id_metadata_document_supported"], true);
    }
    let method = p.token_auth_method();
    assert!(
        as_md["token_endpoint_auth_methods_supported"]
            .as_array()
            .is_some_and(|m| m.contains(&json!(method))),
        "{name}: the server advertises {method}: {as_md}"
    );
    if let Some(alg) = p.json["token"]["assertion_alg"].as_str() {
        assert!(
            as_md["token_endpoint_auth_signing_alg_values_supported"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(alg))),
            "{name}: {alg} is advertised"
        );
    }

    // Only what is implemented is advertised (issue 10 item 7).
    assert_eq!(as_md["issuer"], base, "{name}");
    assert_eq!(as_md["response_types_supported"], json!(["code"]), "{name}");
    assert_eq!(
        as_md["grant_types_supported"],
        json!(["authorization_code", "refresh_token"]),
        "{name}"
    );
    for never in [
        "id_token_signing_alg_values_supported",
        "subject_types_supported",
        "userinfo_endpoint",
    ] {
        assert!(as_md.get(never).is_none(), "{name}: no ID tokens: {never}");
    }

    let client = ProfileClient::identify(base, p.clone()).await;

    // The authorization request, with what this client sends.
    let redirect = p.authorize_redirect_uri(CLIENT_PORT);
    let pkce = Pkce::new();
    let registered = Registered {
        client_id: client.client_id.clone(),
        client_secret: client.secret.clone(),
        redirect_uri: redirect.clone(),
    };
    let mut req = AuthRequest::new(&registered, &pkce);
    req.scope = requested_scope(&p, &challenge_scope, &as_md);
    let asks_offline = req
        .scope
        .as_deref()
        .is_some_and(|s| s.split(' ').any(|t| t == "offline_access"));
    if p.json["authorize"]["prompt"] == "consent_with_offline_access" && asks_offline {
        req.prompt = Some("consent".into());
    }
    if p.json["authorize"]["resource"] == true {
        req.resource = Some(mcp.clone());
    }
    let code = authorize(base, &req).await;

    // The code exchange, with its token-endpoint authentication.
    let token_resource = p.json["token"]["resource"] == true;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
        ("redirect_uri", redirect.as_str()),
    ];
    if token_resource {
        form.push(("resource", &mcp));
    }
    let tokens = tokens_of(&client.token_request(base, &form).await);
    assert_eq!(
        tokens.scope, "mcp",
        "{name}: offline_access is never a scope"
    );
    let (_, claims) = jwt_parts(&tokens.access);
    assert_eq!(claims["aud"], mcp, "{name}");
    assert_eq!(claims["client_id"], client.client_id, "{name}");
    let who = whoami(base, &tokens.access).await;
    assert_eq!(who["client_id"], client.client_id, "{name}");
    assert_eq!(who["audience"], mcp, "{name}");
    // A tool needing more: 403 naming every scope needed (item 4).
    let r = mcp_post(
        base,
        Some(&tokens.access),
        &tool_call(5, "admin_echo", &json!({"message": "hi"})),
    )
    .await;
    assert_eq!(r.status(), 403, "{name}: {}", r.reply.text);
    let ch = r.reply.challenge();
    ch.assert_bearer(base, Some("insufficient_scope"));
    assert!(
        ch.scopes().contains(&"admin".to_owned()),
        "{name}: {}",
        ch.raw
    );

    // The refresh, as this client sends it (Codex omits `resource`).
    let refresh_resource = p.json["token"]["refresh_resource"]
        .as_bool()
        .unwrap_or(token_resource);
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh.as_str()),
    ];
    if refresh_resource {
        form.push(("resource", &mcp));
    }
    let refreshed = tokens_of(&client.token_request(base, &form).await);
    assert_ne!(refreshed.refresh, tokens.refresh, "{name}: rotated");
    assert_eq!(refreshed.scope, "mcp", "{name}");
    let who = whoami(base, &refreshed.access).await;
    assert_eq!(who["client_id"], client.client_id, "{name}");
}

/// Claude Code's recorded bug: it registers `http://localhost:<port>/callback`
/// and sends `http://127.0.0.1:<port>/callback`. The loopback hosts must
/// match literally: an error page at `/authorize`, never a redirect.
pub async fn claude_code_loopback_host_mismatch(h: &Harness) {
    let base = h.base.as_str();
    let p = profiles::get("claude-code");
    assert!(
        !p.json["known_bugs"]
            .as_array()
            .expect("known_bugs")
            .is_empty()
    );
    let r = register(
        base,
        &json!({
            "client_name": "Claude Code",
            "redirect_uris": [format!("http://localhost:{CLIENT_PORT}/callback")],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "application_type": "native",
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let client = Registered {
        client_id: r.json()["client_id"]
            .as_str()
            .expect("client_id")
            .to_owned(),
        client_secret: None,
        redirect_uri: format!("http://127.0.0.1:{CLIENT_PORT}/callback"),
    };
    let req = AuthRequest::new(&client, &Pkce::new()).resource(&h.mcp());
    let page = authorize_get(base, &req).await;
    assert_error_page(&page, 400);
    assert!(
        page.text.contains("redirect_uri"),
        "the page names the redirect URI as the problem: {}",
        page.text
    );
}

/// Refused `private_key_jwt` assertions of ChatGPT's document client, over
/// HTTP: status 401, `invalid_client`, the exact description.
pub async fn private_key_jwt_refusals(h: &Harness) {
    let base = h.base.as_str();
    let client = ProfileClient::identify(base, profiles::get("chatgpt-cimd")).await;
    let key = client.key.as_ref().expect("ChatGPT publishes a JWK Set");
    let post = |assertion: String| {
        let id = client.client_id.clone();
        async move { refresh_with_assertion(base, &id, &assertion).await }
    };
    let refused = |r: &Reply, description: &str| {
        r.assert_oauth_error(401, "invalid_client");
        assert_eq!(r.error_description(), description);
    };
    let now = SystemClock.now();
    let claims = |aud: &str| {
        json!({"iss": client.client_id, "sub": client.client_id, "aud": aud,
            "iat": now, "exp": now + 60, "jti": unique("jti")})
    };
    let token_endpoint = format!("{base}/token");

    // A replayed assertion: accepted once (the refresh token is then
    // unknown), refused the second time.
    let once = key.sign(Some(KID), &claims(&token_endpoint));
    post(once.clone())
        .await
        .assert_oauth_error(400, "invalid_grant");
    refused(
        &post(once).await,
        "the client assertion's `jti` was already used; sign a new assertion for each request",
    );
    // A tampered payload no longer verifies.
    let signed = key.sign(Some(KID), &claims(&token_endpoint));
    let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
    let mut forged = claims(&token_endpoint);
    forged["sub"] = json!("https://attacker.example/client.json");
    parts[1] = base64_json(&forged);
    refused(
        &post(parts.join(".")).await,
        "the client assertion's signature does not verify with the client's keys",
    );
    // Another audience.
    refused(
        &post(key.sign(Some(KID), &claims("https://elsewhere.example/token"))).await,
        &format!(
            "the client assertion's `aud` is \"https://elsewhere.example/token\"; it must include `{token_endpoint}` or `{base}`"
        ),
    );
    // A key the client does not publish.
    refused(
        &post(key.sign(Some("rotated-away"), &claims(&token_endpoint))).await,
        "the client's JWK Set has no key `rotated-away` (the assertion's kid)",
    );

    // A document whose jwks_uri points at the cloud metadata service: never fetched.
    let host = ClientHost::start().await;
    let id = format!("{}/evil/client.json", host.base);
    let doc = json!({
        "client_id": id, "client_name": "Evil",
        "redirect_uris": ["https://evil.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": "https://169.254.169.254/latest/jwks.json",
    });
    host.serve("/evil/client.json", &doc);
    let assertion = key.sign(
        Some(KID),
        &json!({"iss": id, "sub": id, "aud": token_endpoint,
            "iat": now, "exp": now + 60, "jti": unique("jti")}),
    );
    refused(
        &refresh_with_assertion(base, &id, &assertion).await,
        "the client's keys are unavailable: https://169.254.169.254/latest/jwks.json: \
         the host resolves only to refused addresses: 169.254.169.254 (cloud metadata service address)",
    );
    assert_eq!(
        host.hits("/evil/client.json"),
        1,
        "only the document was fetched"
    );
}

/// The form fields of `private_key_jwt` client authentication.
fn assertion_auth<'a>(client_id: &'a str, assertion: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("client_id", client_id),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ]
}

/// A refresh with an unknown refresh token, authenticated by `assertion`:
/// the answer is about client authentication first.
async fn refresh_with_assertion(base: &str, client_id: &str, assertion: &str) -> Reply {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", "unknown"),
    ];
    form.extend(assertion_auth(client_id, assertion));
    token(base, &form, None).await
}

fn base64_json(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// One battery function per client profile, named `profile_<name>`.
macro_rules! profile_functions {
    ($($f:ident => $name:literal),* $(,)?) => {$(
        #[doc = concat!("The `", $name, "` client profile's whole flow, including refresh.")]
        pub async fn $f(h: &Harness) {
            client_profile(h, $name).await;
        }
    )*};
}

profile_functions!(
    profile_chatgpt_cimd => "chatgpt-cimd",
    profile_chatgpt_dcr => "chatgpt-dcr",
    profile_claude_ai_cimd => "claude-ai-cimd",
    profile_claude_ai_dcr => "claude-ai-dcr",
    profile_claude_code => "claude-code",
    profile_codex => "codex",
    profile_cursor => "cursor",
    profile_goose => "goose",
    profile_mcp_inspector => "mcp-inspector",
    profile_vscode_cimd => "vscode-cimd",
    profile_vscode_dcr => "vscode-dcr",
);
