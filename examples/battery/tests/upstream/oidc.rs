//! Any OpenID provider by issuer URL, against panva's `oidc-provider` with
//! its login and consent forms: discovery, the whole sign-in (confidential
//! and public clients), and every ID-token check with genuine tokens from a
//! real provider (another issuer, another audience, a wrong nonce, expiry, a
//! rotated key), a decline at the provider, and an outage.

use std::sync::Arc;
use std::time::Duration;

use oauth_mcp_battery::cookie_browser::Browser;
use oauth_mcp_battery::oidc::OidcProvider;
use oauth_mcp_battery::upstream_idp::{
    ALICE, BOB, MALLORY, UPSTREAM_CLIENT, UPSTREAM_OTHER_CLIENT, UPSTREAM_PUBLIC_CLIENT_ID,
    id_token_for, sign_in, sign_in_and_deny, start_upstream_idp,
};
use oauth_mcp_core::clock::ManualClock;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::secret::{Secret, random_token};
use oauth_mcp_core::store::MemoryStore;
use oauth_mcp_core::upstream::{
    AuthorizationParams, CallbackParams, ExchangeParams, IdTokenCheck, LoginPolicy, OidcUpstream,
    Principals, Refusal, SubjectMapping, UpstreamError, UpstreamProvider, UpstreamSignIn,
};

use crate::support::{CALLBACK, callback_params};

async fn provider(op: &OidcProvider) -> OidcUpstream {
    OidcUpstream::builder(op.issuer(), UPSTREAM_CLIENT.id)
        .client_secret(UPSTREAM_CLIENT.secret)
        .scopes(["openid", "email", "profile", "groups"])
        .discover()
        .await
        .expect("discovery")
}

fn sign_in_with(provider: OidcUpstream) -> UpstreamSignIn {
    UpstreamSignIn::new(Arc::new(provider), Arc::new(MemoryStore::new()), CALLBACK)
}

/// The whole browser leg for `user`: start, the provider's forms, the
/// callback; returns what came back and the flow's outcome.
async fn login(
    flows: &UpstreamSignIn,
    user: &oauth_mcp_battery::upstream_idp::IdpUser,
) -> Result<oauth_mcp_core::upstream::SignedIn, UpstreamError> {
    let start = flows
        .start("pending-x", "client-1", true)
        .await
        .expect("start");
    let browser = Browser::new();
    let back = sign_in(&browser, &start.location, user, CALLBACK).await;
    let params = callback_params(&back);
    let flow = flows
        .returned(&params, Some(start.browser_binding.secret()))
        .await?;
    flows.finish(flow, &params).await
}

#[tokio::test]
async fn discovery_checks_the_issuer_and_reports_outages() {
    let op = start_upstream_idp(&[CALLBACK]).await;
    let ok = provider(&op).await;
    assert_eq!(ok.id(), op.issuer());
    assert_eq!(ok.display_name(), "127.0.0.1");

    // A URL whose discovery document names another issuer.
    let e = OidcUpstream::builder(format!("{}/", op.issuer()), UPSTREAM_CLIENT.id)
        .discover()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, UpstreamError::Misconfigured { detail, .. } if detail.contains("must be exactly the provider's `issuer`")),
        "{e}"
    );
    // No discovery document at all.
    let e = OidcUpstream::builder(format!("{}/nothing-here", op.issuer()), UPSTREAM_CLIENT.id)
        .discover()
        .await
        .unwrap_err();
    assert!(matches!(&e, UpstreamError::Misconfigured { .. }), "{e}");
    // Plain http off loopback is refused before any request.
    let e = OidcUpstream::builder("http://idp.example", UPSTREAM_CLIENT.id)
        .build()
        .unwrap_err();
    assert_eq!(e.field, "upstream_issuer");

    // Metadata that is always stale, refetched whenever asked.
    let stale_ok = OidcUpstream::builder(op.issuer(), UPSTREAM_CLIENT.id)
        .metadata_max_age(Duration::ZERO)
        .min_refetch_interval(Duration::ZERO)
        .discover()
        .await
        .unwrap();

    let port = op.port();
    drop(op);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The provider's discovery is down: the cached copy still serves.
    let params = AuthorizationParams {
        redirect_uri: CALLBACK.into(),
        state: Secret::new("s"),
        pkce_verifier: Secret::new(random_token()),
        nonce: Some(Secret::new("n")),
    };
    let url = stale_ok
        .authorization_url(&params)
        .await
        .expect("stale metadata serves");
    assert!(
        url.starts_with(&format!("http://127.0.0.1:{port}/auth?")),
        "{url}"
    );
    let e = OidcUpstream::builder(format!("http://127.0.0.1:{port}"), UPSTREAM_CLIENT.id)
        .discover()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, UpstreamError::Unavailable { detail, .. } if detail.contains("cannot connect")),
        "{e}"
    );
}

#[tokio::test]
async fn confidential_client_signs_alice_in_through_the_forms() {
    let op = start_upstream_idp(&[CALLBACK]).await;
    let flows = sign_in_with(provider(&op).await);
    let start = flows
        .start("pending-alice", "client-1", true)
        .await
        .unwrap();
    let auth = url::Url::parse(&start.location).unwrap();
    let q: std::collections::HashMap<_, _> = auth.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], UPSTREAM_CLIENT.id);
    assert_eq!(q["redirect_uri"], CALLBACK);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["nonce"].len() >= 43 && q["state"].len() >= 43, "{q:?}");
    assert_eq!(q["scope"], "openid email profile groups");

    let browser = Browser::new();
    let back = sign_in(&browser, &start.location, &ALICE, CALLBACK).await;
    let params = callback_params(&back);
    assert_eq!(params.iss.as_deref(), Some(op.issuer()), "RFC 9207 iss");
    let flow = flows
        .returned(&params, Some(start.browser_binding.secret()))
        .await
        .unwrap();
    assert_eq!(flow.pending_id_hash(), "pending-alice");
    let login = flows.finish(flow, &params).await.expect("login");
    let id = &login.identity;
    assert_eq!(id.provider, op.issuer());
    assert_eq!(id.issuer, op.issuer());
    assert_eq!(id.subject, ALICE.sub);
    // oidc-provider keeps scope claims out of the ID token when it also
    // issues an access token: these come from UserInfo.
    assert_eq!(id.login.as_deref(), Some(ALICE.login));
    assert_eq!(id.email.as_deref(), Some(ALICE.email));
    assert!(id.email_verified);
    assert_eq!(id.groups, ALICE.groups);
    assert_eq!(id.name.as_deref(), Some("Alice Example"));
    assert_eq!(
        SubjectMapping::default().local_subject(id),
        format!("{}|{}", op.issuer(), ALICE.sub)
    );
    assert!(login.tokens.refresh_token.is_some());
    assert!(login.tokens.expires_at.is_some());

    // The refresh token works at the provider.
    let provider = flows.provider().clone();
    let refreshed = provider
        .refresh(login.tokens.refresh_token.as_ref().unwrap())
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.access_token.secret(),
        login.tokens.access_token.secret()
    );

    // A second sign-in in the same browser reuses the provider session.
    let again = flows
        .start("pending-again", "client-1", true)
        .await
        .unwrap();
    let back = sign_in(&browser, &again.location, &ALICE, CALLBACK).await;
    let params = callback_params(&back);
    let flow = flows
        .returned(&params, Some(again.browser_binding.secret()))
        .await
        .unwrap();
    assert_eq!(
        flows.finish(flow, &params).await.unwrap().identity.subject,
        ALICE.sub
    );
}

#[tokio::test]
async fn public_client_signs_in_with_pkce_alone() {
    let op = start_upstream_idp(&[CALLBACK]).await;
    let public = OidcUpstream::builder(op.issuer(), UPSTREAM_PUBLIC_CLIENT_ID)
        .id("corp-idp")
        .display_name("Corp IdP")
        .scopes(["openid", "email", "profile", "groups"])
        .build()
        .unwrap();
    let flows = sign_in_with(public);
    let login = login(&flows, &BOB).await.expect("public client login");
    assert_eq!(login.identity.subject, BOB.sub);
    assert_eq!(login.identity.provider, "corp-idp");
    assert_eq!(login.identity.groups, BOB.groups);
    assert_eq!(
        SubjectMapping::default().local_subject(&login.identity),
        "corp-idp|u-bob-1002"
    );
}

#[tokio::test]
async fn policy_decides_on_the_upstream_identity() {
    let op = start_upstream_idp(&[CALLBACK]).await;
    let flows = sign_in_with(provider(&op).await);
    let policy = LoginPolicy::new()
        .allow(Principals::new().email_domains(["example.com", "example.org"]))
        .scope_users("admin", Principals::new().groups(["admins"]));
    let supported = ScopeSet::parse("mcp admin").unwrap();
    policy.validate(&supported).unwrap();
    let res = "http://127.0.0.1:5555/mcp";

    let alice = login(&flows, &ALICE).await.unwrap().identity;
    let bob = login(&flows, &BOB).await.unwrap().identity;
    let mallory = login(&flows, &MALLORY).await.unwrap().identity;
    assert_eq!(
        policy
            .decide(&alice, res, &supported, &supported)
            .unwrap()
            .to_string(),
        "mcp"
    );
    assert_eq!(
        policy
            .decide(&bob, res, &supported, &supported)
            .unwrap()
            .to_string(),
        "admin mcp"
    );
    // mallory@example.com is at an allowed domain, but not verified.
    let r = policy
        .decide(&mallory, res, &supported, &supported)
        .unwrap_err();
    assert!(matches!(r, Refusal::NotAllowed { .. }));
    assert!(
        r.to_string()
            .contains("your email address mallory@example.com is not verified"),
        "{r}"
    );
}

/// Runs the provider's forms for a flow this test drives by hand, so the
/// exchange can be given other parameters than the ones the flow sent.
async fn code_for(provider: &OidcUpstream, verifier: &Secret, nonce: &Secret) -> String {
    let url = provider
        .authorization_url(&AuthorizationParams {
            redirect_uri: CALLBACK.into(),
            state: Secret::new(random_token()),
            pkce_verifier: verifier.clone(),
            nonce: Some(nonce.clone()),
        })
        .await
        .unwrap();
    let back = sign_in(&Browser::new(), &url, &ALICE, CALLBACK).await;
    callback_params(&back).code.expect("code")
}

#[tokio::test]
async fn a_wrong_nonce_is_refused() {
    let op = start_upstream_idp(&[CALLBACK]).await;
    let p = provider(&op).await;
    let verifier = Secret::new(random_token());
    let nonce = Secret::new(random_token());
    // The ID token carries `nonce`; the exchange expects another one (a
    // token injected from another sign-in).
    let code = code_for(&p, &verifier, &nonce).await;
    let e = p
        .exchange(
            &code,
            &ExchangeParams {
                redirect_uri: CALLBACK.into(),
                pkce_verifier: verifier.clone(),
                nonce: Some(Secret::new(random_token())),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            UpstreamError::InvalidIdToken {
                check: IdTokenCheck::Nonce,
                ..
            }
        ),
        "{e}"
    );
    // The same flow with its own nonce succeeds.
    let code = code_for(&p, &verifier, &nonce).await;
    let ok = p
        .exchange(
            &code,
            &ExchangeParams {
                redirect_uri: CALLBACK.into(),
                pkce_verifier: verifier.clone(),
                nonce: Some(nonce.clone()),
            },
        )
        .await
        .unwrap();
    assert_eq!(ok.identity.subject, ALICE.sub);
    // And a wrong PKCE verifier is refused by the provider itself.
    let code = code_for(&p, &verifier, &nonce).await;
    let e = p
        .exchange(
            &code,
            &ExchangeParams {
                redirect_uri: CALLBACK.into(),
                pkce_verifier: Secret::new(random_token()),
                nonce: Some(nonce),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, UpstreamError::TokenRejected { error, .. } if error == "invalid_grant"),
        "{e}"
    );
}

#[tokio::test]
async fn id_tokens_of_another_issuer_or_audience_are_refused() {
    let op = start_upstream_idp(&[CALLBACK]).await;
    // A second provider with the same signing key (the KEY_ID keys are
    // deterministic): only its issuer differs.
    let other_op = start_upstream_idp(&[CALLBACK]).await;
    let p = provider(&op).await;
    let nonce = random_token();

    let genuine = id_token_for(&op, UPSTREAM_CLIENT, &ALICE, &nonce, CALLBACK).await;
    let id = p.verify_id_token(&genuine, &nonce).await.expect("genuine");
    assert_eq!(id.subject, ALICE.sub);

    let foreign = id_token_for(&other_op, UPSTREAM_CLIENT, &ALICE, &nonce, CALLBACK).await;
    let e = p.verify_id_token(&foreign, &nonce).await.unwrap_err();
    assert!(
        matches!(
            &e,
            UpstreamError::InvalidIdToken {
                check: IdTokenCheck::Issuer,
                ..
            }
        ),
        "{e}"
    );

    let other_audience = id_token_for(&op, UPSTREAM_OTHER_CLIENT, &ALICE, &nonce, CALLBACK).await;
    let e = p
        .verify_id_token(&other_audience, &nonce)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, UpstreamError::InvalidIdToken { check: IdTokenCheck::Audience, reason, .. } if reason.contains("mcp-upstream")),
        "{e}"
    );

    let e = p
        .verify_id_token(&genuine, "another-nonce")
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            UpstreamError::InvalidIdToken {
                check: IdTokenCheck::Nonce,
                ..
            }
        ),
        "{e}"
    );

    // A tampered payload breaks the signature.
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    let payload = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1])
            .unwrap(),
    )
    .unwrap()
    .replace(ALICE.sub, BOB.sub);
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        payload.as_bytes(),
    );
    let e = p
        .verify_id_token(&parts.join("."), &nonce)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            UpstreamError::InvalidIdToken {
                check: IdTokenCheck::Signature,
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn expired_id_tokens_are_refused_and_rotated_keys_are_fetched() {
    let mut op = start_upstream_idp(&[CALLBACK]).await;
    let clock = ManualClock::new();
    let p = OidcUpstream::builder(op.issuer(), UPSTREAM_CLIENT.id)
        .client_secret(UPSTREAM_CLIENT.secret)
        .clock(Arc::new(clock.clone()))
        .min_refetch_interval(Duration::ZERO)
        .discover()
        .await
        .unwrap();
    let nonce = random_token();
    let token = id_token_for(&op, UPSTREAM_CLIENT, &ALICE, &nonce, CALLBACK).await;
    p.verify_id_token(&token, &nonce).await.unwrap();
    // The provider's ID tokens live an hour; the leeway is a minute.
    clock.advance(3600 + 30);
    p.verify_id_token(&token, &nonce)
        .await
        .expect("within the leeway");
    clock.advance(60);
    let e = p.verify_id_token(&token, &nonce).await.unwrap_err();
    assert!(
        matches!(
            &e,
            UpstreamError::InvalidIdToken {
                check: IdTokenCheck::Expired,
                ..
            }
        ),
        "{e}"
    );

    // The provider rotates its key: a token signed with the new key is
    // accepted after one refetch of the keys.
    op.restart_with_key("rotated-key").await;
    let clock_now = ManualClock::new();
    let p = OidcUpstream::builder(op.issuer(), UPSTREAM_CLIENT.id)
        .client_secret(UPSTREAM_CLIENT.secret)
        .clock(Arc::new(clock_now))
        .min_refetch_interval(Duration::ZERO)
        .build()
        .unwrap();
    let old_key_token = token;
    let new_key_token = id_token_for(&op, UPSTREAM_CLIENT, &ALICE, &nonce, CALLBACK).await;
    let e = p.verify_id_token(&old_key_token, &nonce).await.unwrap_err();
    assert!(
        matches!(
            &e,
            UpstreamError::InvalidIdToken {
                check: IdTokenCheck::Signature,
                ..
            }
        ),
        "a key the provider no longer publishes: {e}"
    );
    p.verify_id_token(&new_key_token, &nonce)
        .await
        .expect("the new key is fetched");
}

#[tokio::test]
async fn a_cached_client_picks_up_a_key_rotation() {
    let mut op = start_upstream_idp(&[CALLBACK]).await;
    let p = OidcUpstream::builder(op.issuer(), UPSTREAM_CLIENT.id)
        .client_secret(UPSTREAM_CLIENT.secret)
        .min_refetch_interval(Duration::ZERO)
        .discover()
        .await
        .unwrap();
    op.restart_with_key("rotated-key").await;
    let nonce = random_token();
    let token = id_token_for(&op, UPSTREAM_CLIENT, &ALICE, &nonce, CALLBACK).await;
    let id = p
        .verify_id_token(&token, &nonce)
        .await
        .expect("unknown kid triggers a refetch of the keys");
    assert_eq!(id.subject, ALICE.sub);
}

#[tokio::test]
async fn decline_issuer_mixup_and_outage_at_the_provider() {
    let mut op = start_upstream_idp(&[CALLBACK]).await;
    let flows = sign_in_with(provider(&op).await);

    // The user presses "Deny" at the provider.
    let start = flows.start("pending-deny", "client-1", true).await.unwrap();
    let back = sign_in_and_deny(&Browser::new(), &start.location, &ALICE, CALLBACK).await;
    let params = callback_params(&back);
    let flow = flows
        .returned(&params, Some(start.browser_binding.secret()))
        .await
        .unwrap();
    let e = flows.finish(flow, &params).await.unwrap_err();
    assert!(
        matches!(&e, UpstreamError::Denied { error, description, .. }
            if error == "access_denied" && description.as_deref() == Some("the user cancelled the sign-in")),
        "{e}"
    );

    // A callback claiming another issuer (RFC 9207 mix-up).
    let start = flows
        .start("pending-mixup", "client-1", true)
        .await
        .unwrap();
    let back = sign_in(&Browser::new(), &start.location, &ALICE, CALLBACK).await;
    let params = CallbackParams {
        iss: Some("https://evil.example".into()),
        ..callback_params(&back)
    };
    let flow = flows
        .returned(&params, Some(start.browser_binding.secret()))
        .await
        .unwrap();
    let e = flows.finish(flow, &params).await.unwrap_err();
    assert!(matches!(&e, UpstreamError::IssuerMismatch { .. }), "{e}");

    // The provider goes down between its redirect and our code exchange.
    let start = flows
        .start("pending-outage", "client-1", true)
        .await
        .unwrap();
    let back = sign_in(&Browser::new(), &start.location, &ALICE, CALLBACK).await;
    let params = callback_params(&back);
    op.stop().await;
    let flow = flows
        .returned(&params, Some(start.browser_binding.secret()))
        .await
        .unwrap();
    let e = flows.finish(flow, &params).await.unwrap_err();
    match &e {
        UpstreamError::Unavailable { provider, detail } => {
            assert_eq!(provider, "127.0.0.1");
            assert!(
                detail.contains("/token") && detail.contains("cannot connect"),
                "{detail}"
            );
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn upstream_tokens_are_sealed_bound_to_their_owner_and_refreshed() {
    use oauth_mcp_core::crypto::KeyEncryptionKey;
    use oauth_mcp_core::store::UpstreamStore;
    use oauth_mcp_core::upstream::{TokenVaultError, UpstreamLogin};
    use oauth_mcp_core::{AuthServer, ServerConfig};

    let op = start_upstream_idp(&[CALLBACK]).await;
    // One clock for the server and its provider (expiry times are absolute).
    let clock = ManualClock::new();
    let provider = OidcUpstream::builder(op.issuer(), UPSTREAM_CLIENT.id)
        .client_secret(UPSTREAM_CLIENT.secret)
        .scopes(["openid", "email", "profile", "groups"])
        .clock(Arc::new(clock.clone()))
        .discover()
        .await
        .unwrap();
    let cfg = ServerConfig::builder("http://127.0.0.1:5555")
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let kek = KeyEncryptionKey::from_base64(KeyEncryptionKey::generate_base64().secret()).unwrap();
    let server = AuthServer::with_upstream(
        cfg,
        store.clone(),
        UpstreamLogin::new(provider.clone()).keep_upstream_tokens(kek),
    )
    .unwrap();
    let vault = server.upstream_tokens().expect("tokens are kept");

    let signed = login(&sign_in_with(provider.clone()), &ALICE)
        .await
        .unwrap();
    let subject = SubjectMapping::default().local_subject(&signed.identity);
    vault.save(&subject, &signed.tokens).await.unwrap();

    // Sealed at rest: the token is not in the stored bytes.
    let record = store
        .get_upstream_tokens(&subject, provider.id())
        .await
        .unwrap()
        .unwrap();
    let at = signed.tokens.access_token.secret();
    assert!(
        !record.sealed.windows(at.len()).any(|w| w == at.as_bytes()),
        "the access token is stored in clear"
    );
    // Fresh: handed out as is, and it works at the provider.
    assert_eq!(vault.access_token(&subject).await.unwrap().secret(), at);

    // Bound to its owner: the same sealed bytes under another user do not open.
    let mut stolen = record.clone();
    stolen.subject = "someone-else".into();
    store.put_upstream_tokens(stolen).await.unwrap();
    assert!(matches!(
        vault.access_token("someone-else").await.unwrap_err(),
        TokenVaultError::Sealed(_)
    ));
    assert!(matches!(
        vault.access_token("nobody").await.unwrap_err(),
        TokenVaultError::NotStored { .. }
    ));

    // Expired (an hour later): refreshed at the provider, stored again.
    clock.advance(3600);
    let fresh = vault.access_token(&subject).await.expect("refreshed");
    assert_ne!(fresh.secret(), at);
    let after = store
        .get_upstream_tokens(&subject, provider.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.version, record.version + 1);
    assert_eq!(
        vault.access_token(&subject).await.unwrap().secret(),
        fresh.secret(),
        "no second refresh"
    );
    // The provider accepts the refreshed token.
    let userinfo = reqwest::Client::new()
        .get(format!("{}/me", op.issuer()))
        .bearer_auth(fresh.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);

    // A refresh the provider refuses is reported (the user must sign in again).
    assert!(vault.forget(&subject).await.unwrap());
    let mut dead = signed.tokens.clone();
    dead.refresh_token = Some(Secret::new("not-a-refresh-token"));
    dead.expires_at = Some(0);
    vault.save(&subject, &dead).await.unwrap();
    let e = vault.access_token(&subject).await.unwrap_err();
    assert!(
        matches!(&e, TokenVaultError::Refresh(UpstreamError::TokenRejected { error, .. }) if error == "invalid_grant"),
        "{e}"
    );
}
