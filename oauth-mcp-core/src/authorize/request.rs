//! The typed input of the authorization endpoint: the `/authorize` query
//! ([`AuthorizeRequest`]) and the login form posted back ([`LoginForm`]).
//! A parameter that repeats (RFC 6749 §3.1) is kept as an error and
//! reported by the step whose rules it breaks, so that errors about the
//! client or redirect URI are shown on a page and the rest are redirected.

use crate::error::OAuthError;
use crate::params::Params;
use crate::secret::Secret;

/// One single-valued parameter: absent, present, or repeated (an error).
type Field = Result<Option<String>, OAuthError>;

fn field(p: &Params, name: &str) -> Field {
    p.single(name).map(|v| v.map(str::to_owned))
}

/// A parsed `/authorize` request (RFC 6749 §4.1.1, RFC 7636, RFC 8707).
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    client_id: Field,
    redirect_uri: Field,
    response_type: Field,
    code_challenge: Field,
    code_challenge_method: Field,
    scope: Field,
    state: Option<String>,
    resource: Vec<String>,
}

impl AuthorizeRequest {
    /// Parses a query string.
    pub fn parse(query: &[u8]) -> Self {
        let p = Params::parse(query);
        Self {
            client_id: field(&p, "client_id"),
            redirect_uri: field(&p, "redirect_uri"),
            response_type: field(&p, "response_type"),
            code_challenge: field(&p, "code_challenge"),
            code_challenge_method: field(&p, "code_challenge_method"),
            scope: field(&p, "scope"),
            state: field(&p, "state").ok().flatten(),
            resource: p.all("resource"),
        }
    }

    fn get(f: &Field) -> Result<Option<&str>, OAuthError> {
        f.as_ref().map(Option::as_deref).map_err(Clone::clone)
    }

    /// `client_id` (required).
    pub fn client_id(&self) -> Result<&str, OAuthError> {
        Self::get(&self.client_id)?
            .ok_or_else(|| OAuthError::invalid_request("missing required parameter `client_id`"))
    }

    /// `redirect_uri`, if sent.
    pub fn redirect_uri(&self) -> Result<Option<&str>, OAuthError> {
        Self::get(&self.redirect_uri)
    }

    /// `response_type`, if sent.
    pub fn response_type(&self) -> Result<Option<&str>, OAuthError> {
        Self::get(&self.response_type)
    }

    /// `code_challenge`, if sent.
    pub fn code_challenge(&self) -> Result<Option<&str>, OAuthError> {
        Self::get(&self.code_challenge)
    }

    /// `code_challenge_method`, if sent.
    pub fn code_challenge_method(&self) -> Result<Option<&str>, OAuthError> {
        Self::get(&self.code_challenge_method)
    }

    /// `scope`, if sent.
    pub fn scope(&self) -> Result<Option<&str>, OAuthError> {
        Self::get(&self.scope)
    }

    /// `state`, returned verbatim (a repeated `state` counts as absent).
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// Every `resource` (RFC 8707; may repeat).
    pub fn resources(&self) -> &[String] {
        &self.resource
    }
}

/// What the person chose on the login or consent page.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAction {
    /// Sign in and allow (the default when no action is sent).
    Approve,
    /// Refuse: the client gets `access_denied`.
    Deny,
}

/// The login form posted to `/authorize`.
#[derive(Debug, Clone)]
pub struct LoginForm {
    /// The pending request's id (hidden field), if any.
    pub request_id: Option<Secret>,
    /// The user name typed.
    pub username: String,
    /// The password typed.
    pub password: Secret,
    /// Approve or deny.
    pub action: LoginAction,
}

impl LoginForm {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Self {
        let p = Params::parse(body);
        let one = |name: &str| p.single(name).ok().flatten().map(str::to_owned);
        Self {
            request_id: one("request_id").map(Secret::new),
            username: one("username").unwrap_or_default(),
            password: Secret::new(one("password").unwrap_or_default()),
            action: match one("action").as_deref() {
                Some("deny") => LoginAction::Deny,
                _ => LoginAction::Approve,
            },
        }
    }
}
