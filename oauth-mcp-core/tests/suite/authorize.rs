//! The sans-IO authorization step through the public API: typed requests
//! and forms in, typed outcomes out, with the view models the pages need.

use oauth_mcp_core::authorize::{AuthorizeOutcome, AuthorizeRequest, LoginAction, LoginForm};
use oauth_mcp_core::error::ErrorCode;
use oauth_mcp_core::pkce::s256_challenge;
use oauth_mcp_core::secret::Secret;
use oauth_mcp_core::{AuthServer, PreRegisteredClient, ServerConfig};

use crate::support::{REDIRECT, VERIFIER, query_param};

async fn server() -> AuthServer {
    let cfg = ServerConfig::builder("http://127.0.0.1:8080")
        .scopes_supported(["mcp", "admin"])
        .default_scopes(["mcp"])
        .scope_description("mcp", "Use this server's tools")
        .client(PreRegisteredClient::public("ops", vec![REDIRECT.into()]).named("Ops"))
        .build()
        .unwrap();
    let store = crate::support::store_with_alice().await;
    AuthServer::new(cfg, store).unwrap()
}

fn request(client_id: &str, extra: &str) -> AuthorizeRequest {
    AuthorizeRequest::parse(
        format!(
            "response_type=code&client_id={client_id}&redirect_uri={REDIRECT}&code_challenge={}&code_challenge_method=S256&state=st{extra}",
            s256_challenge(VERIFIER)
        )
        .as_bytes(),
    )
}

fn form(request_id: &str, user: &str, pw: &str, action: LoginAction) -> LoginForm {
    LoginForm {
        request_id: Some(Secret::new(request_id)),
        username: user.into(),
        password: Secret::new(pw),
        action,
    }
}

async fn register(s: &AuthServer, name: &str) -> String {
    let body = format!(
        r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none","client_name":"{name}"}}"#
    );
    let v = s.register(body.as_bytes(), None).await.unwrap();
    v["client_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn login_views_carry_what_the_pages_need() {
    let s = server().await;
    // A pre-registered client is verified; a registered one is not, whatever it calls itself.
    let AuthorizeOutcome::ShowLogin(v) = s.authorize(&request("ops", "")).await else {
        panic!("login page expected");
    };
    assert!(v.client.verified);
    assert_eq!(v.client.name, "Ops");
    let id = register(&s, "Claude").await;
    let AuthorizeOutcome::ShowLogin(v) = s.authorize(&request(&id, "")).await else {
        panic!("login page expected");
    };
    assert!(!v.client.verified);
    assert_eq!(v.client.name, "Claude");
    assert_eq!(v.client.redirect_host, "127.0.0.1");
    assert!(v.client.loopback_only);
    assert!(v.ask_consent);
    assert_eq!(v.scopes.len(), 1);
    assert_eq!(v.scopes[0].name, "mcp");
    assert_eq!(
        v.scopes[0].description.as_deref(),
        Some("Use this server's tools")
    );
    assert_eq!(v.status(), 200);

    // A failed login keeps the user name and says why, with 401.
    let rid = v.request_id.as_str().to_owned();
    let out = s
        .submit_login(&form(&rid, "alice", "wrong", LoginAction::Approve))
        .await;
    assert_eq!(out.status(), 401);
    let AuthorizeOutcome::ShowLogin(v) = out else {
        panic!("login page again expected");
    };
    assert_eq!(v.username, "alice");
    assert_eq!(v.error.as_deref(), Some("Wrong username or password."));
    // The right password redirects with a code, state and iss.
    let AuthorizeOutcome::RedirectWithCode(to) = s
        .submit_login(&form(&rid, "alice", "pw-alice", LoginAction::Approve))
        .await
    else {
        panic!("a redirect with a code expected");
    };
    assert!(query_param(&to, "code").is_some());
    assert_eq!(query_param(&to, "state").as_deref(), Some("st"));
    assert_eq!(
        query_param(&to, "iss").as_deref(),
        Some("http://127.0.0.1:8080")
    );
    // The request is spent.
    let AuthorizeOutcome::ShowError(e) = s
        .submit_login(&form(&rid, "alice", "pw-alice", LoginAction::Approve))
        .await
    else {
        panic!("an error page expected");
    };
    assert_eq!((e.status, e.error), (400, ErrorCode::InvalidRequest));
    assert!(e.message.contains("expired"), "{}", e.message);
}

#[tokio::test]
async fn refusals_are_pages_or_redirects_as_the_rfc_says() {
    let s = server().await;
    // Unknown client: a page, with a sentence for the person and the detail.
    let AuthorizeOutcome::ShowError(e) = s.authorize(&request("ghost", "")).await else {
        panic!("an error page expected");
    };
    assert_eq!((e.status, e.error), (400, ErrorCode::InvalidClient));
    assert!(e.detail.contains("`ghost`"), "{}", e.detail);
    assert!(!e.message.contains("ghost"), "{}", e.message);
    // Unknown scope: redirected as invalid_scope.
    let out = s.authorize(&request("ops", "&scope=nope")).await;
    let AuthorizeOutcome::RedirectWithError { location, error } = out else {
        panic!("an error redirect expected");
    };
    assert_eq!(error, ErrorCode::InvalidScope);
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_scope")
    );
    // A repeated client_id is a page error; a repeated scope a redirect.
    let out = s.authorize(&request("ops", "&client_id=ops")).await;
    assert!(matches!(out, AuthorizeOutcome::ShowError(_)), "{out:?}");
    let out = s.authorize(&request("ops", "&scope=mcp&scope=admin")).await;
    assert!(
        matches!(
            out,
            AuthorizeOutcome::RedirectWithError {
                error: ErrorCode::InvalidRequest,
                ..
            }
        ),
        "{out:?}"
    );
}

#[tokio::test]
async fn an_authenticated_person_gets_consent_then_a_code_or_a_denial() {
    let s = server().await;
    let mut rids = Vec::new();
    for _ in 0..2 {
        let AuthorizeOutcome::ShowLogin(v) = s.authorize(&request("ops", "")).await else {
            panic!("login page expected");
        };
        rids.push(v.request_id.as_str().to_owned());
    }
    let AuthorizeOutcome::ShowConsent(c) = s.consent(&rids[0], "github:42").await else {
        panic!("consent page expected");
    };
    assert_eq!(c.subject, "github:42");
    assert_eq!(c.client.name, "Ops");
    let out = s
        .complete(&rids[0], "alice", "github:42", LoginAction::Approve)
        .await;
    assert!(
        matches!(out, AuthorizeOutcome::RedirectWithCode(_)),
        "{out:?}"
    );
    let out = s
        .complete(&rids[1], "alice", "github:42", LoginAction::Deny)
        .await;
    let AuthorizeOutcome::RedirectWithError { location, error } = out else {
        panic!("access_denied expected");
    };
    assert_eq!(error, ErrorCode::AccessDenied);
    assert_eq!(query_param(&location, "state").as_deref(), Some("st"));
    assert!(matches!(
        s.consent("no-such-request", "x").await,
        AuthorizeOutcome::ShowError(_)
    ));
}
