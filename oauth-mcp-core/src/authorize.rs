//! The authorization endpoint: GET validates the request and shows the login
//! page; POST checks credentials and consent and redirects with a code.

use url::Url;

use crate::client::{Client, all_loopback};
use crate::error::{ErrorCode, OAuthError};
use crate::events::AuditEvent;
use crate::login::{LoginPage, render_error, render_login};
use crate::params::Params;
use crate::pkce::{self, CodeChallengeMethod};
use crate::scope::ScopeSet;
use crate::secret::{Secret, hash_secret, random_token};
use crate::server::AuthServer;
use crate::store::{AuthorizationCode, PendingAuthorization};

/// What the authorization endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Show the login page.
    Login {
        /// 200, or 401 after failed credentials.
        status: u16,
        /// The page.
        html: String,
    },
    /// Send the browser to the client's redirect URI (303 See Other).
    Redirect(String),
    /// Show an error page; redirecting would be unsafe (unknown client or redirect URI).
    ErrorPage {
        /// HTTP status.
        status: u16,
        /// The error code (for logs and tests).
        error: ErrorCode,
        /// The page.
        html: String,
    },
}

fn error_page(e: &OAuthError) -> AuthorizeOutcome {
    AuthorizeOutcome::ErrorPage {
        status: 400,
        error: e.code,
        html: render_error("This sign-in request cannot continue", &e.description),
    }
}

/// Appends parameters to a redirect URI, keeping its own query.
fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        // Registered URIs were parsed at registration; this cannot happen.
        Err(_) => redirect_uri.to_owned(),
    }
}

impl AuthServer {
    fn error_redirect(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        e: &OAuthError,
    ) -> AuthorizeOutcome {
        let mut p = vec![
            ("error", e.code.as_str()),
            ("error_description", e.description.as_str()),
        ];
        if let Some(s) = state {
            p.push(("state", s));
        }
        p.push(("iss", self.cfg.issuer()));
        AuthorizeOutcome::Redirect(redirect_with(redirect_uri, &p))
    }

    /// Resolves and checks the client and redirect URI. Errors here are shown
    /// on a page, never redirected.
    async fn check_client_and_redirect(
        &self,
        q: &Params,
    ) -> Result<(Client, String, bool), OAuthError> {
        let client_id = q.required("client_id")?;
        let client = self
            .find_client(client_id)
            .await?
            .ok_or_else(|| Self::unknown_client(client_id))?;
        let requested = q.single("redirect_uri")?;
        let (redirect_uri, explicit) = match requested {
            Some(r) => {
                if client.match_redirect_uri(r).is_none() {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidRequest,
                        format!(
                            "redirect_uri `{r}` is not registered for client `{client_id}`. Registered: {}. Redirect URIs must match exactly (loopback URIs may differ only in port).",
                            client.redirect_uris.join(", ")
                        ),
                    ));
                }
                (r.to_owned(), true)
            }
            None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
            None => {
                return Err(OAuthError::invalid_request(
                    "redirect_uri is required because the client registered several",
                ));
            }
        };
        if let Some(policy) = self.cfg.redirect_policy() {
            policy
                .check(&redirect_uri)
                .map_err(OAuthError::invalid_request)?;
        }
        Ok((client, redirect_uri, explicit))
    }

    /// GET /authorize with the request's query string.
    pub async fn authorize_get(&self, query: &[u8]) -> AuthorizeOutcome {
        let q = Params::parse(query);
        let (client, redirect_uri, explicit) = match self.check_client_and_redirect(&q).await {
            Ok(v) => v,
            Err(e) => {
                AuditEvent::AuthorizeRefused {
                    client_id: q.single("client_id").ok().flatten(),
                    redirect_uri: q.single("redirect_uri").ok().flatten(),
                    error: e.code,
                    reason: &e.description,
                }
                .emit();
                return error_page(&e);
            }
        };
        let state = q.single("state").ok().flatten().map(str::to_owned);
        match self
            .validate_authorize(&q, &client, &redirect_uri, explicit, state.clone())
            .await
        {
            Ok((pending, request_id)) => {
                AuditEvent::LoginShown {
                    client_id: &client.client_id,
                    redirect_uri: &redirect_uri,
                    resource: pending.resource.as_str(),
                    scopes: &pending.scope.to_string(),
                }
                .emit();
                AuthorizeOutcome::Login {
                    status: 200,
                    html: self.login_html(&client, &pending, &request_id, None),
                }
            }
            Err(e) => {
                AuditEvent::AuthorizeRefused {
                    client_id: Some(&client.client_id),
                    redirect_uri: Some(&redirect_uri),
                    error: e.code,
                    reason: &e.description,
                }
                .emit();
                self.error_redirect(&redirect_uri, state.as_deref(), &e)
            }
        }
    }

    async fn validate_authorize(
        &self,
        q: &Params,
        client: &Client,
        redirect_uri: &str,
        explicit: bool,
        state: Option<String>,
    ) -> Result<(PendingAuthorization, String), OAuthError> {
        match q.single("response_type")? {
            Some("code") => {}
            Some(other) => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    format!("response_type `{other}` is not supported; use `code`"),
                ));
            }
            None => {
                return Err(OAuthError::invalid_request(
                    "missing required parameter `response_type` (use `code`)",
                ));
            }
        }
        if !client.allows_grant("authorization_code") {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client did not register the authorization_code grant",
            ));
        }
        let challenge = q.single("code_challenge")?.ok_or_else(|| {
            OAuthError::invalid_request(
                "code_challenge is required: this server requires PKCE with S256 (OAuth 2.1)",
            )
        })?;
        let method = CodeChallengeMethod::parse(q.single("code_challenge_method")?)?;
        if method == CodeChallengeMethod::Plain && !self.cfg.plain_pkce_allowed() {
            return Err(OAuthError::invalid_request(
                "code_challenge_method `plain` (or none) is not allowed; send code_challenge_method=S256",
            ));
        }
        pkce::check_challenge_format(method, challenge)?;
        let resource = self.cfg.resources().resolve(&q.all("resource"))?;
        let scope = match q.single("scope")? {
            Some(s) => {
                let requested = ScopeSet::parse(s)?;
                let unknown: Vec<&str> = requested
                    .iter()
                    .filter(|s| !self.cfg.scopes_supported().contains(s))
                    .collect();
                if !unknown.is_empty() {
                    return Err(OAuthError::invalid_scope(format!(
                        "unknown scope(s) {}; this server supports: {}",
                        unknown.join(" "),
                        self.cfg.scopes_supported()
                    )));
                }
                requested
            }
            None => self.cfg.default_scopes.clone(),
        };
        let now = self.now();
        let request_id = random_token();
        let pending = PendingAuthorization {
            id_hash: hash_secret(&request_id),
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            redirect_uri_explicit: explicit,
            state,
            code_challenge: challenge.to_owned(),
            code_challenge_method: method,
            scope,
            resource,
            created_at: now,
            expires_at: now + self.cfg.login_ttl,
        };
        self.store.insert_pending(pending.clone()).await?;
        Ok((pending, request_id))
    }

    fn login_html(
        &self,
        client: &Client,
        p: &PendingAuthorization,
        request_id: &str,
        error: Option<&str>,
    ) -> String {
        let host = Url::parse(&p.redirect_uri)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(str::to_owned)
                    .or_else(|| Some(format!("{}:", u.scheme())))
            })
            .unwrap_or_else(|| p.redirect_uri.clone());
        let action = self.cfg.endpoint_path("/authorize");
        render_login(&LoginPage {
            server_name: self.cfg.server_name(),
            action: &action,
            request_id,
            client_name: client.display_name(),
            redirect_host: &host,
            loopback_only: all_loopback(&client.redirect_uris),
            scopes: p.scope.iter().collect(),
            ask_consent: !client.trusted,
            error,
        })
    }

    /// POST /authorize with the login form's body.
    pub async fn authorize_post(&self, body: &[u8]) -> AuthorizeOutcome {
        let form = Params::parse(body);
        let gone = || {
            error_page(&OAuthError::invalid_request(
                "this sign-in request is unknown or has expired; start again from the application",
            ))
        };
        let Ok(Some(request_id)) = form.single("request_id") else {
            return gone();
        };
        let now = self.now();
        let id_hash = hash_secret(request_id);
        let pending = match self.store.get_pending(&id_hash, now).await {
            Ok(Some(p)) => p,
            Ok(None) => return gone(),
            Err(e) => return error_page(&e.into()),
        };
        let client = match self.find_client(&pending.client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return error_page(&Self::unknown_client(&pending.client_id)),
            Err(e) => return error_page(&e),
        };
        let state = pending.state.clone();
        let fail = |e: OAuthError| {
            AuditEvent::AuthorizeRefused {
                client_id: Some(&pending.client_id),
                redirect_uri: Some(&pending.redirect_uri),
                error: e.code,
                reason: &e.description,
            }
            .emit();
            self.error_redirect(&pending.redirect_uri, state.as_deref(), &e)
        };

        if form.single("action").ok().flatten() == Some("deny") {
            let _ = self.store.take_pending(&id_hash, now).await;
            return fail(OAuthError::new(
                ErrorCode::AccessDenied,
                "the user denied the request",
            ));
        }
        let username = form.single("username").ok().flatten().unwrap_or("");
        let password = Secret::new(form.single("password").ok().flatten().unwrap_or(""));
        let subject = match self.authenticator.authenticate(username, &password).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                AuditEvent::LoginFailed {
                    client_id: &pending.client_id,
                    username,
                }
                .emit();
                return AuthorizeOutcome::Login {
                    status: 401,
                    html: self.login_html(
                        &client,
                        &pending,
                        request_id,
                        Some("Wrong username or password."),
                    ),
                };
            }
            Err(e) => return fail(e.into()),
        };
        let policy = self.cfg.user_policy();
        if !policy.allowed_users.allows(username) {
            let _ = self.store.take_pending(&id_hash, now).await;
            return fail(OAuthError::new(
                ErrorCode::AccessDenied,
                format!("user `{username}` may not use this server"),
            ));
        }
        let grantable = policy.grantable(username, self.cfg.scopes_supported());
        let scope = pending.scope.intersection(&grantable);
        if scope.is_empty() && !pending.scope.is_empty() {
            let _ = self.store.take_pending(&id_hash, now).await;
            return fail(OAuthError::new(
                ErrorCode::AccessDenied,
                format!(
                    "user `{username}` may not be granted any of the requested scopes ({})",
                    pending.scope
                ),
            ));
        }
        // Atomic: a double-submitted form yields one code, not two.
        let pending = match self.store.take_pending(&id_hash, now).await {
            Ok(Some(p)) => p,
            Ok(None) => return gone(),
            Err(e) => return fail(e.into()),
        };
        let code = random_token();
        let grant_id = random_token();
        let record = AuthorizationCode {
            code_hash: hash_secret(&code),
            grant_id,
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            redirect_uri_explicit: pending.redirect_uri_explicit,
            code_challenge: pending.code_challenge.clone(),
            code_challenge_method: pending.code_challenge_method,
            scope: scope.clone(),
            resource: pending.resource.clone(),
            subject: subject.clone(),
            issued_at: now,
            expires_at: now + self.cfg.code_ttl,
        };
        if let Err(e) = self.store.insert_code(record).await {
            return fail(e.into());
        }
        AuditEvent::CodeIssued {
            client_id: &pending.client_id,
            redirect_uri: &pending.redirect_uri,
            resource: pending.resource.as_str(),
            scopes: &scope.to_string(),
            subject: &subject,
            code: &code,
        }
        .emit();
        let mut p = vec![("code", code.as_str())];
        if let Some(s) = &pending.state {
            p.push(("state", s));
        }
        p.push(("iss", self.cfg.issuer()));
        AuthorizeOutcome::Redirect(redirect_with(&pending.redirect_uri, &p))
    }
}
