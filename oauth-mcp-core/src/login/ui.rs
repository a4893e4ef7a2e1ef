//! The seam between the authorization step and the pages people see: the
//! view models the step produces and the [`LoginUi`] that renders them.
//! Replace the UI to change every page; keep the default and brand it
//! through [`crate::login::Branding`] to change how it looks.

use serde::Serialize;

use crate::error::ErrorCode;

/// The Content-Security-Policy of a [`LoginUi`] that does not choose its
/// own: no script, no external resource, inline styles only, never framed.
/// [`crate::login::DefaultLoginUi`] sends a stricter one: its style sheet
/// by hash instead of `'unsafe-inline'`.
pub const DEFAULT_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

/// The id of a pending authorization request, carried by the page's form.
/// It is as good as the request itself until used, so `Debug` redacts it.
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct RequestId(pub(crate) String);

impl RequestId {
    /// The value to put in the form's hidden `request_id` field.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestId([redacted])")
    }
}

/// The client asking for access, as a person should see it.
#[non_exhaustive]
#[derive(Debug, Clone, Serialize)]
pub struct ClientView {
    /// Its display name (registered name, else its id). Chosen by the client
    /// itself unless `verified`.
    pub name: String,
    /// Its client id.
    pub client_id: String,
    /// True for clients the operator registered; false for dynamic
    /// registration and Client ID Metadata Documents, whose names anyone can pick.
    pub verified: bool,
    /// The host the result is sent to (the redirect URI's host, or its scheme
    /// for app links such as `cursor:`), shown prominently.
    pub redirect_host: String,
    /// True if every redirect URI of the client is on this computer (any
    /// local program could pose as it).
    pub loopback_only: bool,
}

/// A requested scope with its description from the configuration.
#[non_exhaustive]
#[derive(Debug, Clone, Serialize)]
pub struct ScopeView {
    /// The scope token.
    pub name: String,
    /// What it allows, in words, if configured.
    pub description: Option<String>,
}

/// The login page (password login and consent on one form).
#[non_exhaustive]
#[derive(Debug, Clone, Serialize)]
pub struct LoginView {
    /// The form's target (the authorization endpoint's path).
    pub action: String,
    /// The pending request (hidden field `request_id`).
    pub request_id: RequestId,
    /// Who asks.
    pub client: ClientView,
    /// What it asks for.
    pub scopes: Vec<ScopeView>,
    /// True if the person must approve (untrusted client): approve and deny
    /// buttons; otherwise one sign-in button.
    pub ask_consent: bool,
    /// The user name to keep in the field after a failed attempt.
    pub username: String,
    /// The error of the previous attempt, for the person.
    pub error: Option<String>,
}

impl LoginView {
    /// 401 after a failed attempt, 200 otherwise.
    pub fn status(&self) -> u16 {
        if self.error.is_some() { 401 } else { 200 }
    }
}

/// The consent page: for a person already authenticated (`subject`), or,
/// with upstream login, before the person is sent to sign in at the
/// upstream identity provider (`sign_in_with`).
#[non_exhaustive]
#[derive(Debug, Clone, Serialize)]
pub struct ConsentView {
    /// The form's target.
    pub action: String,
    /// The pending request.
    pub request_id: RequestId,
    /// Who asks.
    pub client: ClientView,
    /// What it asks for.
    pub scopes: Vec<ScopeView>,
    /// Who is signed in (empty before an upstream sign-in).
    pub subject: String,
    /// The upstream identity provider the person will sign in with after
    /// approving (`GitHub`, `Google`, …), if that comes next.
    pub sign_in_with: Option<String>,
}

/// An error page: shown instead of redirecting when redirecting would be
/// unsafe (unknown client or redirect URI) or impossible.
#[non_exhaustive]
#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    /// The HTTP status.
    pub status: u16,
    /// The OAuth error code.
    #[serde(serialize_with = "code_str")]
    pub error: ErrorCode,
    /// A plain sentence for the person.
    pub message: String,
    /// The technical detail, for the application's developer.
    pub detail: String,
    /// Where the application can be told about the failure (its redirect URI
    /// with the error), when that is safe: a "return to the application" link.
    pub continue_to: Option<String>,
}

fn code_str<S: serde::Serializer>(c: &ErrorCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.as_str())
}

/// Renders the pages of the authorization endpoint. Implementations must
/// escape every value they place in HTML.
pub trait LoginUi: Send + Sync + std::fmt::Debug {
    /// The login (and consent) page.
    fn login_page(&self, view: &LoginView) -> String;
    /// The consent page for an already-authenticated person.
    fn consent_page(&self, view: &ConsentView) -> String;
    /// The error page.
    fn error_page(&self, view: &ErrorView) -> String;
    /// The Content-Security-Policy sent with every page.
    fn content_security_policy(&self) -> String {
        DEFAULT_CSP.to_owned()
    }
}
