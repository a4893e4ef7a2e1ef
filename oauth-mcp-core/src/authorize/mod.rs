//! The authorization endpoint as a sans-IO step with storage around it:
//! typed input in ([`AuthorizeRequest`] from the query, [`LoginForm`] from
//! the posted form), a typed [`AuthorizeOutcome`] out — show the login page,
//! show the consent page, redirect with a code, redirect with an error, or
//! show an error page. The rules are pure functions (`rules`); this module
//! does the store I/O between them; rendering happens in the HTTP layer
//! through the configured [`crate::login::LoginUi`].

mod request;
mod rules;
#[cfg(feature = "upstream")]
mod upstream;

use crate::client::{Client, all_loopback};
use crate::error::{ErrorCode, OAuthError};
use crate::events::AuditEvent;
use crate::login::{ClientView, ConsentView, ErrorView, LoginView, RequestId, ScopeView};
use crate::login_throttle::LoginRefusal;
use crate::scope::ScopeSet;
use crate::secret::{hash_secret, random_token};
use crate::server::AuthServer;
use crate::store::{CodeIssue, PendingAuthorization, PendingCaps, PendingInsert};

pub use request::{AuthorizeRequest, LoginAction, LoginForm};
#[cfg(feature = "upstream")]
pub use upstream::{UpstreamAnswer, UpstreamCookie};

/// What the authorization endpoint answers.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum AuthorizeOutcome {
    /// Show the login page (200, or 401 after failed credentials).
    ShowLogin(LoginView),
    /// Show the consent page to an already-authenticated person.
    ShowConsent(ConsentView),
    /// Send the browser to the client with a code (303 See Other).
    RedirectWithCode(String),
    /// Send the browser to the client with an error (303 See Other).
    RedirectWithError {
        /// The redirect URI with `error`, `error_description`, `state`, `iss`.
        location: String,
        /// The error sent.
        error: ErrorCode,
    },
    /// Show an error page: redirecting would be unsafe (unknown client or
    /// redirect URI) or there is nowhere to go.
    ShowError(ErrorView),
    /// Send the browser to the upstream identity provider to sign in
    /// (303 See Other; see `crate::upstream`).
    RedirectToProvider(String),
}

impl AuthorizeOutcome {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::ShowLogin(v) => v.status(),
            Self::ShowConsent(_) => 200,
            Self::RedirectWithCode(_)
            | Self::RedirectWithError { .. }
            | Self::RedirectToProvider(_) => 303,
            Self::ShowError(v) => v.status,
        }
    }
}

/// An error page for `e`: a plain sentence for the person, the description
/// for the developer.
pub(crate) fn error_page(status: u16, e: &OAuthError) -> AuthorizeOutcome {
    let message = match e.code {
        ErrorCode::InvalidClient => {
            "The application that sent you here is not known to this server, or cannot be used."
        }
        ErrorCode::TooManyRequests => {
            "Too many sign-in requests came from your network in a short time. Wait a moment, then try again."
        }
        ErrorCode::TemporarilyUnavailable | ErrorCode::ServerError => {
            "Something went wrong on this server. Try again in a moment."
        }
        _ if e.description.contains("unknown or has expired") => {
            "This sign-in request is unknown or has expired. Start again from the application."
        }
        _ => "The application sent a sign-in request this server cannot accept.",
    };
    AuthorizeOutcome::ShowError(ErrorView {
        status,
        error: e.code,
        message: message.to_owned(),
        detail: e.description.clone(),
        continue_to: None,
    })
}

/// 503 while the storage is unavailable, 500 for a server error; `None`
/// for a refusal of the request itself.
fn server_side_status(e: &OAuthError) -> Option<u16> {
    match e.code {
        ErrorCode::TemporarilyUnavailable => Some(503),
        ErrorCode::ServerError => Some(500),
        _ => None,
    }
}

/// The request used up its password attempts and is discarded.
fn exhausted() -> AuthorizeOutcome {
    error_page(
        400,
        &OAuthError::invalid_request(
            "too many failed sign-in attempts on this request; it is discarded: start again from the application",
        ),
    )
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn gone() -> AuthorizeOutcome {
    error_page(
        400,
        &OAuthError::invalid_request(
            "this sign-in request is unknown or has expired; start again from the application",
        ),
    )
}

/// The audit event of an authorization request refused with `e`, whether
/// the browser is redirected to the client or shown a page.
fn log_refused(client_id: &str, redirect_uri: &str, e: &OAuthError) {
    AuditEvent::AuthorizeRefused {
        client_id: Some(client_id),
        redirect_uri: Some(redirect_uri),
        error: e.code,
        reason: &e.description,
    }
    .emit();
}

impl AuthServer {
    fn error_redirect(
        &self,
        client_id: &str,
        redirect_uri: &str,
        state: Option<&str>,
        e: &OAuthError,
    ) -> AuthorizeOutcome {
        // Our own failure (storage down, say) is not the client's to handle:
        // a page with 503 (and `Retry-After`) or 500, not a redirect.
        if let Some(status) = server_side_status(e) {
            log_refused(client_id, redirect_uri, e);
            return error_page(status, e);
        }
        AuthorizeOutcome::RedirectWithError {
            location: self.error_location(client_id, redirect_uri, state, e),
            error: e.code,
        }
    }

    /// The client's redirect URI carrying the error `e` (with `state` and
    /// `iss`), logged as a refusal. [`Self::error_redirect`] sends the
    /// browser there; an error page may offer it as a link instead.
    pub(crate) fn error_location(
        &self,
        client_id: &str,
        redirect_uri: &str,
        state: Option<&str>,
        e: &OAuthError,
    ) -> String {
        log_refused(client_id, redirect_uri, e);
        let mut p = vec![
            ("error", e.code.as_str()),
            ("error_description", e.description.as_str()),
        ];
        if let Some(s) = state {
            p.push(("state", s));
        }
        p.push(("iss", self.cfg.issuer()));
        rules::redirect_with(redirect_uri, &p)
    }

    /// Sends the client of `pending` the error `e` (see [`Self::error_redirect`]).
    fn refuse_pending(&self, pending: &PendingAuthorization, e: &OAuthError) -> AuthorizeOutcome {
        self.error_redirect(
            &pending.client_id,
            &pending.redirect_uri,
            pending.state.as_deref(),
            e,
        )
    }

    fn client_view(&self, client: &Client, redirect_uri: &str) -> ClientView {
        ClientView {
            name: client.display_name().to_owned(),
            client_id: client.client_id.clone(),
            verified: self.cfg.pre_registered_client(&client.client_id).is_some(),
            redirect_host: rules::redirect_host(redirect_uri),
            loopback_only: all_loopback(&client.redirect_uris),
        }
    }

    fn scope_views(&self, scope: &ScopeSet) -> Vec<ScopeView> {
        scope
            .iter()
            .map(|s| ScopeView {
                name: s.to_owned(),
                description: self.cfg.scope_description(s).map(str::to_owned),
            })
            .collect()
    }

    fn login_view(
        &self,
        client: &Client,
        p: &PendingAuthorization,
        request_id: &str,
        username: &str,
        error: Option<&str>,
    ) -> LoginView {
        LoginView {
            action: self.cfg.endpoint_path("/authorize"),
            request_id: RequestId(request_id.to_owned()),
            client: self.client_view(client, &p.redirect_uri),
            scopes: self.scope_views(&p.scope),
            ask_consent: !client.trusted,
            username: username.to_owned(),
            error: error.map(str::to_owned),
            retry_after: None,
        }
    }

    /// GET /authorize: validates the request, stores it as pending and shows
    /// the login page; or refuses (on a page when the client or redirect URI
    /// is in doubt, else by redirect).
    pub async fn authorize(&self, req: &AuthorizeRequest) -> AuthorizeOutcome {
        let checked = match req.client_id() {
            Ok(id) => match self.find_client(id).await {
                Ok(Some(c)) => rules::redirect_uri(req, &c, self.cfg.redirect_policy())
                    .map(|(uri, explicit)| (c, uri, explicit)),
                Ok(None) => Err(Self::unknown_client(id)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (client, redirect_uri, explicit) = match checked {
            Ok(v) => v,
            Err(e) => {
                AuditEvent::AuthorizeRefused {
                    client_id: req.client_id().ok(),
                    redirect_uri: req.redirect_uri().ok().flatten(),
                    error: e.code,
                    reason: &e.description,
                }
                .emit();
                return error_page(server_side_status(&e).unwrap_or(400), &e);
            }
        };
        let max_state = self.cfg.abuse_limits().max_state_bytes;
        // An over-long state is refused and not echoed.
        let state = rules::state(req, max_state).unwrap_or(None);
        let allowed = rules::Allowed {
            max_state_bytes: max_state,
            plain_pkce: self.cfg.plain_pkce_allowed(),
            resources: self.cfg.resources(),
            scopes_supported: self.cfg.scopes_supported(),
            default_scopes: &self.cfg.default_scopes,
        };
        let v = match rules::validate(req, &client, &allowed) {
            Ok(v) => v,
            Err(e) => {
                return self.error_redirect(&client.client_id, &redirect_uri, state, &e);
            }
        };
        let now = self.now();
        let request_id = random_token();
        let pending = PendingAuthorization {
            id_hash: hash_secret(&request_id),
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            redirect_uri_explicit: explicit,
            state: state.map(str::to_owned),
            code_challenge: v.code_challenge,
            code_challenge_method: v.code_challenge_method,
            scope: v.scope,
            resource: v.resource,
            created_at: now,
            expires_at: now + self.cfg.login_ttl,
        };
        let limits = self.cfg.abuse_limits();
        let caps = PendingCaps::new(limits.max_pending_per_client, limits.max_pending_total);
        let full = match self
            .store
            .insert_pending_within(pending.clone(), caps, now)
            .await
        {
            Ok(PendingInsert::Stored) => None,
            Ok(PendingInsert::ClientFull) => Some(format!(
                "too many sign-in requests of this client are waiting (limit {}); try again in a few minutes",
                caps.per_client
            )),
            Ok(PendingInsert::TotalFull) => Some(format!(
                "too many sign-in requests are waiting on this server (limit {}); try again in a few minutes",
                caps.total
            )),
            Err(e) => {
                return self.error_redirect(&client.client_id, &redirect_uri, state, &e.into());
            }
        };
        if let Some(why) = full {
            let e = OAuthError::new(ErrorCode::TemporarilyUnavailable, why);
            return self.error_redirect(&client.client_id, &redirect_uri, state, &e);
        }
        AuditEvent::LoginShown {
            client_id: &client.client_id,
            redirect_uri: &redirect_uri,
            resource: pending.resource.as_str(),
            scopes: &pending.scope.to_string(),
        }
        .emit();
        AuthorizeOutcome::ShowLogin(self.login_view(&client, &pending, &request_id, "", None))
    }

    /// The pending request behind `request_id` and its client, or the page to show.
    async fn pending(
        &self,
        request_id: &str,
    ) -> Result<(String, PendingAuthorization, Client), AuthorizeOutcome> {
        let id_hash = hash_secret(request_id);
        let pending = match self.store.get_pending(&id_hash, self.now()).await {
            Ok(Some(p)) => p,
            Ok(None) => return Err(gone()),
            Err(e) => return Err(error_page(503, &e.into())),
        };
        let client = self.pending_client(&pending).await?;
        Ok((id_hash, pending, client))
    }

    /// The client of a pending request, or the page to show.
    async fn pending_client(
        &self,
        pending: &PendingAuthorization,
    ) -> Result<Client, AuthorizeOutcome> {
        match self.find_client(&pending.client_id).await {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(error_page(400, &Self::unknown_client(&pending.client_id))),
            Err(e) => Err(error_page(server_side_status(&e).unwrap_or(400), &e)),
        }
    }

    /// POST /authorize: the login form. Wrong credentials show the form again
    /// (401, user name kept); a deny redirects with `access_denied`; a good
    /// login completes the authorization.
    pub async fn submit_login(&self, form: &LoginForm) -> AuthorizeOutcome {
        let Some(request_id) = &form.request_id else {
            return gone();
        };
        if form.action == LoginAction::Deny {
            return match self.pending(request_id.secret()).await {
                Ok((id_hash, pending, _)) => self.deny(&id_hash, &pending).await,
                Err(page) => page,
            };
        }
        // At most N password checks per request, and a backoff per
        // username (the same whether or not the user exists). Counting the
        // attempt also reads the request: one store step.
        let id_hash = hash_secret(request_id.secret());
        let now = self.now();
        let (permit, pending) = match self
            .login_throttle
            .begin_reading(self.store.as_ref(), &id_hash, &form.username, now)
            .await
        {
            Ok(v) => v,
            Err(LoginRefusal::RequestGone) => return gone(),
            Err(LoginRefusal::RequestExhausted) => return exhausted(),
            Err(r @ LoginRefusal::UsernameBackoff { .. }) => {
                // Nothing was counted; the form is shown again.
                let (_, pending, client) = match self.pending(request_id.secret()).await {
                    Ok(v) => v,
                    Err(page) => return page,
                };
                AuditEvent::LoginFailed {
                    client_id: &pending.client_id,
                    username: &form.username,
                }
                .emit();
                let mut view = self.login_view(
                    &client,
                    &pending,
                    request_id.secret(),
                    &form.username,
                    Some(&format!("{}.", capitalise(&r.to_string()))),
                );
                view.retry_after = r.retry_after_secs();
                return AuthorizeOutcome::ShowLogin(view);
            }
            Err(LoginRefusal::Store(e)) => return error_page(503, &e.into()),
        };
        let client = match self.pending_client(&pending).await {
            Ok(c) => c,
            Err(page) => return page,
        };
        match self
            .authenticator
            .authenticate(&form.username, &form.password)
            .await
        {
            Ok(Some(subject)) => {
                self.finish(&id_hash, pending, &form.username, &subject)
                    .await
            }
            Ok(None) => {
                AuditEvent::LoginFailed {
                    client_id: &pending.client_id,
                    username: &form.username,
                }
                .emit();
                match self
                    .login_throttle
                    .failed(self.store.as_ref(), &permit, now)
                    .await
                {
                    Ok(f) if f.request_discarded => return exhausted(),
                    Ok(_) => {}
                    Err(e) => return error_page(503, &e.into()),
                }
                AuthorizeOutcome::ShowLogin(self.login_view(
                    &client,
                    &pending,
                    request_id.secret(),
                    &form.username,
                    Some("Wrong username or password."),
                ))
            }
            Err(e) => self.error_redirect(
                &pending.client_id,
                &pending.redirect_uri,
                pending.state.as_deref(),
                &e.into(),
            ),
        }
    }

    /// The consent page for a pending request whose person is already
    /// authenticated as `subject` (for example by an upstream identity
    /// provider). Its form posts `request_id` and `action`; answer it with
    /// [`AuthServer::complete`].
    pub async fn consent(&self, request_id: &str, subject: &str) -> AuthorizeOutcome {
        match self.pending(request_id).await {
            Ok((_, pending, client)) => AuthorizeOutcome::ShowConsent(ConsentView {
                action: self.cfg.endpoint_path("/authorize"),
                request_id: RequestId(request_id.to_owned()),
                client: self.client_view(&client, &pending.redirect_uri),
                scopes: self.scope_views(&pending.scope),
                subject: subject.to_owned(),
                sign_in_with: None,
            }),
            Err(page) => page,
        }
    }

    /// Completes a pending request for a person already authenticated:
    /// `user` is the name the user policy knows, `subject` the token's `sub`.
    /// Approve issues a code; deny redirects with `access_denied`.
    pub async fn complete(
        &self,
        request_id: &str,
        user: &str,
        subject: &str,
        action: LoginAction,
    ) -> AuthorizeOutcome {
        let (id_hash, pending, _) = match self.pending(request_id).await {
            Ok(v) => v,
            Err(page) => return page,
        };
        match action {
            LoginAction::Deny => self.deny(&id_hash, &pending).await,
            LoginAction::Approve => self.finish(&id_hash, pending, user, subject).await,
        }
    }

    async fn deny(&self, id_hash: &str, pending: &PendingAuthorization) -> AuthorizeOutcome {
        let _ = self.store.take_pending(id_hash, self.now()).await;
        self.error_redirect(
            &pending.client_id,
            &pending.redirect_uri,
            pending.state.as_deref(),
            &OAuthError::new(ErrorCode::AccessDenied, "the user denied the request"),
        )
    }

    /// Applies the user policy, spends the pending request (atomically: a
    /// double-submitted form yields one code) and issues the code.
    async fn finish(
        &self,
        id_hash: &str,
        pending: PendingAuthorization,
        user: &str,
        subject: &str,
    ) -> AuthorizeOutcome {
        let scope = match rules::grant_scope(
            user,
            &pending.scope,
            self.cfg.user_policy(),
            self.cfg.scopes_supported(),
        ) {
            Ok(s) => s,
            Err(e) => {
                let _ = self.store.take_pending(id_hash, self.now()).await;
                return self.refuse_pending(&pending, &e);
            }
        };
        self.issue_code(id_hash, pending, scope, subject).await
    }

    /// Spends the pending request (atomically: a double-submitted form
    /// yields one code) and issues a code for `scope` to `subject`.
    pub(crate) async fn issue_code(
        &self,
        id_hash: &str,
        pending: PendingAuthorization,
        scope: ScopeSet,
        subject: &str,
    ) -> AuthorizeOutcome {
        let now = self.now();
        let code = random_token();
        let issue = CodeIssue {
            code_hash: hash_secret(&code),
            grant_id: random_token(),
            scope: scope.clone(),
            subject: subject.to_owned(),
            issued_at: now,
            expires_at: now + self.cfg.code_ttl,
        };
        // One store step: the request is spent and its code stored together.
        let pending = match self.store.take_pending_into_code(id_hash, now, issue).await {
            Ok(Some(p)) => p,
            Ok(None) => return gone(),
            Err(e) => return self.refuse_pending(&pending, &e.into()),
        };
        AuditEvent::CodeIssued {
            client_id: &pending.client_id,
            redirect_uri: &pending.redirect_uri,
            resource: pending.resource.as_str(),
            scopes: &scope.to_string(),
            subject,
            code: &code,
        }
        .emit();
        let mut p = vec![("code", code.as_str())];
        if let Some(s) = &pending.state {
            p.push(("state", s));
        }
        p.push(("iss", self.cfg.issuer()));
        AuthorizeOutcome::RedirectWithCode(rules::redirect_with(&pending.redirect_uri, &p))
    }
}
