//! Typed errors, split by layer, and the one mapping from a protocol error to
//! its RFC 6749 error code.

use std::fmt;

/// An RFC 6749 / RFC 6750 / RFC 7591 / RFC 8707 error code.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `invalid_request`: a parameter is missing, repeated or malformed.
    InvalidRequest,
    /// `invalid_client`: client authentication failed (HTTP 401).
    InvalidClient,
    /// `invalid_grant`: the code or refresh token is invalid, expired, used or bound elsewhere.
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant type.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `unsupported_response_type`.
    UnsupportedResponseType,
    /// `invalid_scope`.
    InvalidScope,
    /// `invalid_target` (RFC 8707): the resource is unknown or not allowed.
    InvalidTarget,
    /// `access_denied`: the user or the policy refused.
    AccessDenied,
    /// `invalid_redirect_uri` (RFC 7591).
    InvalidRedirectUri,
    /// `invalid_client_metadata` (RFC 7591).
    InvalidClientMetadata,
    /// `invalid_token` (RFC 6750).
    InvalidToken,
    /// `insufficient_scope` (RFC 6750).
    InsufficientScope,
    /// `server_error`.
    ServerError,
    /// `temporarily_unavailable`: storage is down; try again.
    TemporarilyUnavailable,
    /// `too_many_requests` (HTTP 429, with `Retry-After`): a rate limit
    /// refused the request. Not an RFC 6749 code (none fits; `slow_down` is
    /// the device flow's polling signal); the name and status follow HTTP
    /// (RFC 6585) and common practice.
    TooManyRequests,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::TooManyRequests => "too_many_requests",
        }
    }

    /// The HTTP status this code is answered with on a JSON endpoint.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope | Self::AccessDenied => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            Self::TooManyRequests => 429,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal of a protocol request: an error code and a description written
/// for the person debugging the client. Build it with [`OAuthError::new`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The RFC error code.
    pub code: ErrorCode,
    /// A human-readable `error_description`.
    pub description: String,
    /// When to try again, in seconds (`Retry-After`), if the server knows.
    pub retry_after_secs: Option<u64>,
}

impl OAuthError {
    /// A new error with the given code and description.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after_secs: None,
        }
    }

    /// Says when to try again (sent as `Retry-After`).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_client`.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// `invalid_scope`.
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    /// `invalid_target`.
    pub fn invalid_target(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidTarget, description)
    }

    /// `server_error`.
    pub fn server_error(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServerError, description)
    }
}

/// A storage backend failed.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached (database down, pool exhausted). Answered
    /// with `temporarily_unavailable` / 503.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A record with the same key already exists.
    #[error("duplicate key: {0}")]
    Duplicate(String),
    /// Any other backend failure. Answered with `server_error` / 500.
    #[error("storage error: {0}")]
    Other(String),
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        tracing::error!(target: "oauth_mcp::store", error = %e, "storage failure");
        match e {
            StoreError::Unavailable(_) => OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "the authorization server's storage is unavailable; try again shortly",
            ),
            _ => OAuthError::server_error("the authorization server's storage failed"),
        }
    }
}

/// A configuration value is missing or invalid. Raised once, when the server
/// is built, never while serving a request.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid oauth-mcp configuration `{field}`: {reason}")]
pub struct ConfigError {
    /// The configuration field at fault.
    pub field: &'static str,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
