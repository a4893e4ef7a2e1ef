//! The GitHub provider and the browser leg against the loopback stand-in
//! with GitHub's endpoint shapes.

use std::sync::Arc;

use oauth_mcp_battery::cookie_browser::Browser;
use oauth_mcp_battery::github::{CLIENT_ID, CLIENT_SECRET, GitHubStandIn, GitHubUser};
use oauth_mcp_core::clock::ManualClock;
use oauth_mcp_core::secret::Secret;
use oauth_mcp_core::store::MemoryStore;
use oauth_mcp_core::upstream::{
    AuthorizationParams, CallbackParams, ExchangeParams, GitHubUpstream, LoginPolicy, Principals,
    SubjectMapping, UpstreamError, UpstreamProvider, UpstreamSignIn,
};

use crate::support::{CALLBACK, callback_params};

fn octocat() -> GitHubUser {
    GitHubUser {
        name: Some("The Octocat".into()),
        emails: vec![
            ("octo-old@users.example".into(), false, true),
            ("octocat@github.example".into(), true, true),
        ],
        ..GitHubUser::new(583231, "octocat").member_of("Acme")
    }
}

/// A stand-in with octocat (verified primary email, member of Acme),
/// `unverified` (primary email not verified, public email set) and
/// `pending` (invited to Acme, not yet a member).
async fn stand_in() -> GitHubStandIn {
    let unverified = GitHubUser {
        public_email: Some("un@verified.example".into()),
        emails: vec![("un@verified.example".into(), true, false)],
        ..GitHubUser::new(1002, "unverified")
    };
    let mut pending = GitHubUser::new(1003, "pending");
    pending.orgs.push(("acme".into(), "pending".into()));
    GitHubStandIn::start(vec![octocat(), unverified, pending]).await
}

fn github(gh: &GitHubStandIn, policy: &LoginPolicy) -> GitHubUpstream {
    GitHubUpstream::builder(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .web_base_url(gh.web_base())
        .api_base_url(gh.api_base())
        .check_orgs(policy.github_orgs())
        .build()
        .expect("GitHub provider")
}

struct Setup {
    gh: GitHubStandIn,
    sign_in: UpstreamSignIn,
    clock: ManualClock,
}

async fn setup() -> Setup {
    let gh = stand_in().await;
    gh.register_callback(CALLBACK);
    let policy = LoginPolicy::new().allow(Principals::new().github_orgs(["acme"]));
    let clock = ManualClock::new();
    let store = Arc::new(MemoryStore::new());
    let sign_in = UpstreamSignIn::new(Arc::new(github(&gh, &policy)), store.clone(), CALLBACK)
        .clock(Arc::new(clock.clone()));
    Setup { gh, sign_in, clock }
}

/// Starts a sign-in for `login` and lets "GitHub" approve it: the callback
/// parameters and the browser binding.
async fn approved(s: &Setup, login: &str) -> (CallbackParams, Secret) {
    s.gh.sign_in(login);
    let start = s
        .sign_in
        .start("pending-1", "client-1", true)
        .await
        .expect("start");
    assert!(
        start
            .location
            .starts_with(&format!("{}/login/oauth/authorize?", s.gh.web_base())),
        "{}",
        start.location
    );
    let page = Browser::new().get(&start.location).await;
    assert_eq!(page.status, 302, "{}", page.body);
    (callback_params(&page), start.browser_binding)
}

#[tokio::test]
async fn github_login_gives_id_login_verified_email_and_orgs() {
    let s = setup().await;
    let (params, binding) = approved(&s, "octocat").await;
    assert!(
        params.code.is_some() && params.state.is_some(),
        "{params:?}"
    );
    let flow = s
        .sign_in
        .returned(&params, Some(binding.secret()))
        .await
        .expect("returned");
    assert_eq!(flow.pending_id_hash(), "pending-1");
    let login = s.sign_in.finish(flow, &params).await.expect("finish");
    let id = &login.identity;
    assert_eq!(id.provider, "github");
    assert_eq!(id.issuer, s.gh.web_base());
    assert_eq!(id.subject, "583231");
    assert_eq!(id.login.as_deref(), Some("octocat"));
    assert_eq!(id.name.as_deref(), Some("The Octocat"));
    assert_eq!(id.email.as_deref(), Some("octocat@github.example"));
    assert!(id.email_verified);
    assert_eq!(id.orgs, ["acme"]);
    assert_eq!(SubjectMapping::default().local_subject(id), "github|583231");
    assert!(login.tokens.access_token.secret().starts_with("gho_"));
    assert_eq!(
        login.tokens.scope.as_deref(),
        Some("read:user,user:email,read:org")
    );
    assert_eq!(
        s.gh.requests(),
        [
            "GET /login/oauth/authorize",
            "POST /login/oauth/access_token",
            "GET /api/user",
            "GET /api/user/emails",
            "GET /api/user/memberships/orgs/acme",
        ]
    );
}

#[tokio::test]
async fn unverified_email_and_pending_membership_do_not_count() {
    let s = setup().await;
    let (params, binding) = approved(&s, "unverified").await;
    let flow = s
        .sign_in
        .returned(&params, Some(binding.secret()))
        .await
        .unwrap();
    let id = s.sign_in.finish(flow, &params).await.unwrap().identity;
    assert_eq!(id.email.as_deref(), Some("un@verified.example"));
    assert!(!id.email_verified);
    assert_eq!(id.verified_email(), None);
    assert!(id.orgs.is_empty());

    let (params, binding) = approved(&s, "pending").await;
    let flow = s
        .sign_in
        .returned(&params, Some(binding.secret()))
        .await
        .unwrap();
    let id = s.sign_in.finish(flow, &params).await.unwrap().identity;
    assert!(
        id.orgs.is_empty(),
        "an invitation is not a membership: {id:?}"
    );
}

#[tokio::test]
async fn replayed_forged_and_expired_state_are_refused() {
    let s = setup().await;
    let (params, binding) = approved(&s, "octocat").await;
    let flow = s
        .sign_in
        .returned(&params, Some(binding.secret()))
        .await
        .unwrap();
    s.sign_in.finish(flow, &params).await.unwrap();
    // The same callback again: the state was spent.
    let replay = s
        .sign_in
        .returned(&params, Some(binding.secret()))
        .await
        .unwrap_err();
    assert!(matches!(replay, UpstreamError::UnknownState), "{replay}");
    assert!(replay.is_before_flow());

    // A state nobody issued.
    let forged = CallbackParams {
        state: Some("forged-state-value".into()),
        ..params.clone()
    };
    let e = s
        .sign_in
        .returned(&forged, Some(binding.secret()))
        .await
        .unwrap_err();
    assert!(matches!(e, UpstreamError::UnknownState), "{e}");

    // No state at all.
    let none = CallbackParams {
        state: None,
        ..params.clone()
    };
    let e = s
        .sign_in
        .returned(&none, Some(binding.secret()))
        .await
        .unwrap_err();
    assert!(matches!(e, UpstreamError::MissingState), "{e}");

    // A state given twice.
    let twice = CallbackParams::from_query("state=a&state=b&code=c");
    let e = s.sign_in.returned(&twice, Some("x")).await.unwrap_err();
    assert!(matches!(e, UpstreamError::MalformedCallback(_)), "{e}");

    // Expired: ten minutes and a second later.
    let (params, binding) = approved(&s, "octocat").await;
    s.clock.advance(601);
    let e = s
        .sign_in
        .returned(&params, Some(binding.secret()))
        .await
        .unwrap_err();
    assert!(matches!(e, UpstreamError::UnknownState), "{e}");
    assert_eq!(
        e.to_string(),
        "this sign-in link is unknown, was already used, or has expired; start again from your application"
    );
}

#[tokio::test]
async fn callback_in_another_browser_is_refused_and_burns_the_state() {
    let s = setup().await;
    let (params, binding) = approved(&s, "octocat").await;
    // Login CSRF: the attacker's callback URL opened in the victim's
    // browser, which holds another (or no) binding cookie.
    let e = s
        .sign_in
        .returned(&params, Some("another-browser"))
        .await
        .unwrap_err();
    assert!(matches!(e, UpstreamError::BrowserMismatch), "{e}");
    let e = s.sign_in.returned(&params, None).await.unwrap_err();
    assert!(matches!(e, UpstreamError::UnknownState), "{e}");
    // Spent by the failed attempt: even the right browser cannot use it now.
    let e = s
        .sign_in
        .returned(&params, Some(binding.secret()))
        .await
        .unwrap_err();
    assert!(matches!(e, UpstreamError::UnknownState), "{e}");
}

#[tokio::test]
async fn user_declining_at_github_is_reported() {
    let s = setup().await;
    s.gh.sign_in("octocat");
    s.gh.deny();
    let start = s
        .sign_in
        .start("pending-2", "client-1", true)
        .await
        .unwrap();
    let page = Browser::new().get(&start.location).await;
    let params = callback_params(&page);
    let flow = s
        .sign_in
        .returned(&params, Some(start.browser_binding.secret()))
        .await
        .expect("the flow is found: the client can be told");
    assert_eq!(flow.pending_id_hash(), "pending-2");
    let e = s.sign_in.finish(flow, &params).await.unwrap_err();
    match &e {
        UpstreamError::Denied {
            provider,
            error,
            description,
        } => {
            assert_eq!(provider, "GitHub");
            assert_eq!(error, "access_denied");
            assert_eq!(
                description.as_deref(),
                Some("The user has denied your application access.")
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        oauth_mcp_core::OAuthError::from(e).code,
        oauth_mcp_core::ErrorCode::AccessDenied
    );
}

#[tokio::test]
async fn github_outage_is_reported_clearly() {
    let s = setup().await;
    // Down (503) between the redirect and the callback.
    let (params, binding) = approved(&s, "octocat").await;
    s.gh.set_outage(true);
    let flow = s
        .sign_in
        .returned(&params, Some(binding.secret()))
        .await
        .unwrap();
    let e = s.sign_in.finish(flow, &params).await.unwrap_err();
    match &e {
        UpstreamError::Unavailable { provider, detail } => {
            assert_eq!(provider, "GitHub");
            assert!(
                detail.contains("/login/oauth/access_token") && detail.contains("503"),
                "{detail}"
            );
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().ends_with("; try again in a moment"), "{e}");
    assert_eq!(
        oauth_mcp_core::OAuthError::from(e).code,
        oauth_mcp_core::ErrorCode::TemporarilyUnavailable
    );

    // Gone altogether: the connection is refused.
    s.gh.set_outage(false);
    let (params, binding) = approved(&s, "octocat").await;
    s.gh.stop();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let flow = s
        .sign_in
        .returned(&params, Some(binding.secret()))
        .await
        .unwrap();
    let e = s.sign_in.finish(flow, &params).await.unwrap_err();
    assert!(
        matches!(&e, UpstreamError::Unavailable { detail, .. } if detail.contains("cannot connect")),
        "{e}"
    );
}

#[tokio::test]
async fn code_exchange_refusals_carry_githubs_error() {
    let gh = stand_in().await;
    gh.sign_in("octocat");
    let policy = LoginPolicy::new();
    let right = github(&gh, &policy);
    let verifier = Secret::new("v".repeat(43));
    let code = |gh: &GitHubStandIn, provider: GitHubUpstream| {
        let verifier = verifier.clone();
        let gh_base = gh.web_base();
        async move {
            let url = provider
                .authorization_url(&AuthorizationParams {
                    redirect_uri: CALLBACK.into(),
                    state: Secret::new("s"),
                    pkce_verifier: verifier,
                    nonce: None,
                })
                .await
                .unwrap();
            assert!(url.starts_with(&gh_base));
            callback_params(&Browser::new().get(&url).await)
                .code
                .expect("code")
        }
    };
    let exchange = |verifier: &Secret| ExchangeParams {
        redirect_uri: CALLBACK.into(),
        pkce_verifier: verifier.clone(),
        nonce: None,
    };

    // A wrong PKCE verifier.
    let c = code(&gh, right.clone()).await;
    let e = right
        .exchange(&c, &exchange(&Secret::new("w".repeat(43))))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, UpstreamError::TokenRejected { error, .. } if error == "bad_verification_code"),
        "{e}"
    );

    // A wrong client secret (GitHub answers 200 with an error body).
    let wrong_secret = GitHubUpstream::builder(CLIENT_ID)
        .client_secret("not-the-secret")
        .web_base_url(gh.web_base())
        .api_base_url(gh.api_base())
        .build()
        .unwrap();
    let c = code(&gh, wrong_secret.clone()).await;
    let e = wrong_secret
        .exchange(&c, &exchange(&verifier))
        .await
        .unwrap_err();
    match &e {
        UpstreamError::TokenRejected {
            error, description, ..
        } => {
            assert_eq!(error, "incorrect_client_credentials");
            assert_eq!(
                description.as_deref(),
                Some("The client_id and/or client_secret passed are incorrect.")
            );
        }
        other => panic!("{other}"),
    }

    // The right verifier works once; the code is then spent.
    let c = code(&gh, right.clone()).await;
    let login = right.exchange(&c, &exchange(&verifier)).await.unwrap();
    assert_eq!(login.identity.subject, "583231");
    // Without `read:org` the memberships are not even asked for.
    assert!(login.identity.orgs.is_empty());
    let e = right.exchange(&c, &exchange(&verifier)).await.unwrap_err();
    assert!(
        matches!(&e, UpstreamError::TokenRejected { error, .. } if error == "bad_verification_code"),
        "{e}"
    );
}
