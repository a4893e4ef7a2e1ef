//! The authorization endpoint when people sign in at an upstream identity
//! provider ([`crate::upstream`]), as sans-IO steps around the store:
//!
//! 1. [`AuthServer::authorize_upstream`] (GET `/authorize`): the request is
//!    validated and kept as for a password login; then this server's consent
//!    page is shown (client, where the result goes, scopes, which provider
//!    comes next) — or, when this browser's session belongs to a user who
//!    already consented to this client for these scopes, the browser goes
//!    straight to the provider.
//! 2. [`AuthServer::consent_upstream`] (POST `/authorize`): "Deny" sends the
//!    client `access_denied`; "Allow" sends the browser to the provider.
//! 3. [`AuthServer::upstream_callback`] (GET `/upstream/callback`): the
//!    sign-in is matched to its browser (single-use `state`, binding
//!    cookie), the provider's code is redeemed, the login policy decides,
//!    the consent is remembered, and this server issues its own code.
//!
//! Each step answers an [`UpstreamAnswer`]: the outcome plus the cookies the
//! HTTP layer sets. A refusal after the provider signed the person in is an
//! error page that says why, with a link that hands the client its error
//! (`access_denied`, or `temporarily_unavailable` for an outage).

use super::request::{AuthorizeRequest, LoginAction, LoginForm};
use super::{AuthorizeOutcome, error_page, gone};
use crate::error::{ErrorCode, OAuthError};
use crate::events::AuditEvent;
use crate::login::{ConsentView, ErrorView};
use crate::scope::ScopeSet;
use crate::secret::{Secret, hash_secret, random_token};
use crate::server::AuthServer;
use crate::store::{BrowserSession, PendingAuthorization, RememberedConsent};
use crate::upstream::{CallbackParams, UpstreamError, UpstreamRuntime, state_tag};

/// A cookie an upstream step asks the HTTP layer to set or clear. Names and
/// attributes (`HttpOnly`, `SameSite=Lax`, `Secure` on https, the path) are
/// the HTTP layer's; values are secrets.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum UpstreamCookie {
    /// Binds a sign-in at the provider to this browser.
    Binding {
        /// The sign-in's state tag (part of the cookie's name).
        state_tag: String,
        /// The value the callback must present.
        value: Secret,
        /// Seconds until the sign-in expires.
        max_age: i64,
    },
    /// Removes a used binding cookie.
    ClearBinding {
        /// The sign-in's state tag.
        state_tag: String,
    },
    /// Remembers who signed in in this browser.
    Session {
        /// The session's id.
        value: Secret,
        /// Seconds until it expires.
        max_age: i64,
    },
    /// Forgets the session.
    ClearSession,
}

/// What an upstream step answers.
#[derive(Debug, Clone)]
pub struct UpstreamAnswer {
    /// The page or redirect.
    pub outcome: AuthorizeOutcome,
    /// The cookies to set or clear with it.
    pub cookies: Vec<UpstreamCookie>,
}

impl From<AuthorizeOutcome> for UpstreamAnswer {
    fn from(outcome: AuthorizeOutcome) -> Self {
        Self {
            outcome,
            cookies: Vec::new(),
        }
    }
}

/// An error page for a failure of the upstream leg, with a link handing the
/// client `e` when the pending request is known.
fn failure_page(status: u16, message: String, detail: String, code: ErrorCode) -> ErrorView {
    ErrorView {
        status,
        error: code,
        message,
        detail,
        continue_to: None,
    }
}

impl AuthServer {
    fn upstream_runtime(&self) -> Option<&UpstreamRuntime> {
        self.upstream.as_deref()
    }

    /// True if people sign in at an upstream identity provider.
    pub fn signs_in_upstream(&self) -> bool {
        self.upstream.is_some()
    }

    /// The local subject of this browser's session, if it has a live one.
    async fn session_subject(&self, session: Option<&str>) -> Option<String> {
        let id = session?;
        match self
            .store
            .get_browser_session(&hash_secret(id), self.now())
            .await
        {
            Ok(s) => s.map(|s| s.subject),
            Err(e) => {
                // Without the session the consent page is shown: safe.
                tracing::warn!(target: "oauth_mcp::upstream", error = %e, "cannot read the browser session");
                None
            }
        }
    }

    /// A failure page for the pending request: the client's error redirect
    /// (which also logs the refusal) becomes the page's link.
    fn refusal(
        &self,
        pending: &PendingAuthorization,
        status: u16,
        e: &OAuthError,
        message: String,
    ) -> AuthorizeOutcome {
        // The page is ours to show even for our own (upstream) outage: the
        // link hands the client `e`, so the person can go back to it.
        let continue_to = Some(self.error_location(
            &pending.client_id,
            &pending.redirect_uri,
            pending.state.as_deref(),
            e,
        ));
        AuthorizeOutcome::ShowError(ErrorView {
            continue_to,
            ..failure_page(status, message, e.description.clone(), e.code)
        })
    }

    /// Sends the browser to the provider for the pending request `id_hash`.
    async fn send_upstream(
        &self,
        up: &UpstreamRuntime,
        id_hash: &str,
        pending: &PendingAuthorization,
        consented: bool,
    ) -> UpstreamAnswer {
        match up
            .sign_in
            .start(id_hash, &pending.client_id, consented)
            .await
        {
            Ok(r) => UpstreamAnswer {
                outcome: AuthorizeOutcome::RedirectToProvider(r.location),
                cookies: vec![UpstreamCookie::Binding {
                    state_tag: r.state_tag,
                    value: r.browser_binding,
                    max_age: r.expires_in,
                }],
            },
            Err(e) => {
                AuditEvent::UpstreamFailed {
                    provider: up.sign_in.provider().id(),
                    client_id: Some(&pending.client_id),
                    reason: &e.to_string(),
                }
                .emit();
                // The pending request stays: the person may try again.
                let status = upstream_status(&e);
                let message = e.to_string();
                self.refusal(pending, status, &e.into(), message).into()
            }
        }
    }

    /// GET `/authorize` with upstream login: validates and keeps the
    /// request, then shows the consent page or, for a consent this browser's
    /// user already gave, goes straight to the provider. Without upstream
    /// login it is [`AuthServer::authorize`].
    pub async fn authorize_upstream(
        &self,
        req: &AuthorizeRequest,
        session: Option<&str>,
    ) -> UpstreamAnswer {
        let outcome = self.authorize(req).await;
        let Some(up) = self.upstream_runtime() else {
            return outcome.into();
        };
        let AuthorizeOutcome::ShowLogin(view) = outcome else {
            return outcome.into();
        };
        let requested = ScopeSet::from_scopes(view.scopes.iter().map(|s| s.name.clone()));
        if let Some(subject) = self.session_subject(session).await {
            let remembered = self
                .store
                .get_consent(&subject, &view.client.client_id, self.now())
                .await
                .ok()
                .flatten()
                .is_some_and(|c| requested.is_subset(&c.scope));
            if remembered {
                let id_hash = hash_secret(view.request_id.as_str());
                return match self.pending(view.request_id.as_str()).await {
                    Ok((_, pending, _)) => self.send_upstream(up, &id_hash, &pending, false).await,
                    Err(page) => page.into(),
                };
            }
        }
        AuthorizeOutcome::ShowConsent(ConsentView {
            action: view.action,
            request_id: view.request_id,
            client: view.client,
            scopes: view.scopes,
            subject: String::new(),
            sign_in_with: Some(up.sign_in.provider().display_name().to_owned()),
        })
        .into()
    }

    /// POST `/authorize` with upstream login: the consent page's answer.
    /// "Deny" redirects with `access_denied`; "Allow" sends the browser to
    /// the provider. Without upstream login it is [`AuthServer::submit_login`].
    pub async fn consent_upstream(&self, form: &LoginForm) -> UpstreamAnswer {
        let Some(up) = self.upstream_runtime() else {
            return self.submit_login(form).await.into();
        };
        let Some(request_id) = &form.request_id else {
            return gone().into();
        };
        let (id_hash, pending, _) = match self.pending(request_id.secret()).await {
            Ok(v) => v,
            Err(page) => return page.into(),
        };
        if form.action == LoginAction::Deny {
            return self.deny(&id_hash, &pending).await.into();
        }
        self.send_upstream(up, &id_hash, &pending, true).await
    }

    /// GET `/upstream/callback`: `binding` is the cookie named by the
    /// callback's state tag, `session` the browser-session cookie.
    pub async fn upstream_callback(
        &self,
        params: &CallbackParams,
        binding: Option<&str>,
        session: Option<&str>,
    ) -> UpstreamAnswer {
        let Some(up) = self.upstream_runtime() else {
            return error_page(
                404,
                &OAuthError::invalid_request("this server does not sign people in upstream"),
            )
            .into();
        };
        let mut cookies = Vec::new();
        if let Some(state) = &params.state {
            cookies.push(UpstreamCookie::ClearBinding {
                state_tag: state_tag(state),
            });
        }
        let answer = |outcome, cookies| UpstreamAnswer { outcome, cookies };
        let flow = match up.sign_in.returned(params, binding).await {
            Ok(f) => f,
            Err(e) => {
                let status = upstream_status(&e);
                let message = e.to_string();
                let oe: OAuthError = e.into();
                let page = AuthorizeOutcome::ShowError(failure_page(
                    status,
                    message,
                    oe.description,
                    oe.code,
                ));
                return answer(page, cookies);
            }
        };
        let now = self.now();
        let id_hash = flow.pending_id_hash().to_owned();
        let pending = match self.store.get_pending(&id_hash, now).await {
            Ok(Some(p)) => p,
            Ok(None) => return answer(gone(), cookies),
            Err(e) => return answer(error_page(503, &e.into()), cookies),
        };
        let consented = flow.consented();
        let provider = up.sign_in.provider().id().to_owned();
        let spend = || async {
            let _ = self.store.take_pending(&id_hash, now).await;
        };
        let signed = match up.sign_in.finish(flow, params).await {
            Ok(s) => s,
            Err(e) => {
                spend().await;
                let status = upstream_status(&e);
                let message = e.to_string();
                return answer(self.refusal(&pending, status, &e.into(), message), cookies);
            }
        };
        let subject = up.subjects.local_subject(&signed.identity);
        AuditEvent::UpstreamLogin {
            provider: &provider,
            upstream_subject: &signed.identity.subject,
            login: signed.identity.login.as_deref(),
            subject: &subject,
        }
        .emit();
        let refuse = |reason: String, cookies| {
            AuditEvent::UpstreamRefused {
                provider: &provider,
                client_id: &pending.client_id,
                subject: &subject,
                reason: &reason,
            }
            .emit();
            let e = OAuthError::new(ErrorCode::AccessDenied, reason.clone());
            answer(self.refusal(&pending, 403, &e, reason), cookies)
        };
        let scope = match up.policy.decide(
            &signed.identity,
            pending.resource.as_str(),
            &pending.scope,
            self.cfg.scopes_supported(),
        ) {
            Ok(s) => s,
            Err(refusal) => {
                spend().await;
                return refuse(refusal.to_string(), cookies);
            }
        };
        let session_subject = self.session_subject(session).await;
        let previous = self
            .store
            .get_consent(&subject, &pending.client_id, now)
            .await
            .ok()
            .flatten();
        if consented {
            let scope = match &previous {
                Some(p) => ScopeSet::from_scopes(pending.scope.iter().chain(p.scope.iter())),
                None => pending.scope.clone(),
            };
            let remembered = self
                .store
                .put_consent(RememberedConsent {
                    subject: subject.clone(),
                    client_id: pending.client_id.clone(),
                    scope,
                    granted_at: now,
                    expires_at: now + up.consent_ttl,
                })
                .await;
            if let Err(e) = remembered {
                tracing::warn!(target: "oauth_mcp::upstream", error = %e, "cannot remember the consent");
            }
        } else {
            // The consent page was skipped for this browser's user: the
            // provider must have signed in that same user, who consented.
            let covered = previous.is_some_and(|p| pending.scope.is_subset(&p.scope));
            if session_subject.as_deref() != Some(subject.as_str()) || !covered {
                spend().await;
                cookies.push(UpstreamCookie::ClearSession);
                return refuse(
                    format!(
                        "you signed in at {} as `{}`, but this browser's consent was given by another account; start again from your application",
                        up.sign_in.provider().display_name(),
                        signed.identity.display()
                    ),
                    cookies,
                );
            }
        }
        if let Some(vault) = &up.vault
            && let Err(e) = vault.save(&subject, &signed.tokens).await
        {
            // The login works without them; tools that need them will say so.
            AuditEvent::UpstreamTokens {
                provider: &provider,
                subject: &subject,
                outcome: "save_failed",
                reason: Some(&e.to_string()),
            }
            .emit();
        }
        if session_subject.as_deref() != Some(subject.as_str()) {
            let id = random_token();
            let created = self
                .store
                .insert_browser_session(BrowserSession {
                    id_hash: hash_secret(&id),
                    subject: subject.clone(),
                    created_at: now,
                    expires_at: now + up.session_ttl,
                })
                .await;
            match created {
                Ok(()) => cookies.push(UpstreamCookie::Session {
                    value: Secret::new(id),
                    max_age: up.session_ttl,
                }),
                Err(e) => {
                    tracing::warn!(target: "oauth_mcp::upstream", error = %e, "cannot start a browser session")
                }
            }
        }
        let outcome = self.issue_code(&id_hash, pending, scope, &subject).await;
        answer(outcome, cookies)
    }
}

/// The HTTP status of an upstream failure page.
fn upstream_status(e: &UpstreamError) -> u16 {
    match e {
        UpstreamError::Unavailable { .. } | UpstreamError::BadResponse { .. } => 502,
        UpstreamError::Misconfigured { .. } => 500,
        UpstreamError::Store(_) => 503,
        UpstreamError::Denied { .. }
        | UpstreamError::InvalidIdToken { .. }
        | UpstreamError::TokenRejected { .. }
        | UpstreamError::IssuerMismatch { .. } => 403,
        _ => 400,
    }
}
