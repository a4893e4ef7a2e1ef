//! [`ResourceServer`]: the protected-resource role every MCP server plays.
//! One validated configuration — resource URI, trusted authorization
//! servers, supported, required and per-operation scopes, a
//! [`TokenValidator`] — yields both the Bearer guard of the MCP endpoint and
//! its RFC 9728 metadata, so the two cannot disagree. Built for an external
//! authorization server with [`ResourceServer::builder`], or fed by an
//! embedded one with [`ResourceServer::for_auth_server`]; either way `build`
//! checks that resource, issuer, audience and scopes agree, and refuses to
//! start otherwise.

mod builder;
mod framing;
mod json_syntax;
mod jsonrpc;
mod operations;
mod template;

use std::sync::Arc;

use http::HeaderMap;
use http::request::Parts;

use crate::bearer::{BearerRefusal, NOT_ASCII, bearer_token, refusal};
use crate::error::ErrorCode;
use crate::metadata::ProtectedResourceMetadata;
use crate::resource::ResourceUri;
use crate::scope::{ScopeImplication, ScopeSet, missing_scopes};
use crate::validate::{AuthContext, TokenRejection, TokenValidator};

pub(crate) use framing::FRAMING_HEADERS;
use framing::GuardHeaders;
pub(crate) use jsonrpc::NotJson;
use jsonrpc::operations_in_body;
pub(crate) use operations::{MCP_METHOD, MCP_NAME};
use operations::{Operation, OperationScopes};

pub use builder::ResourceServerBuilder;

/// The protected resource (your MCP endpoint): validates Bearer tokens,
/// enforces required and per-operation scopes, and serves its metadata.
/// Cheap to clone.
#[derive(Clone)]
pub struct ResourceServer {
    inner: Arc<Inner>,
}

struct Inner {
    resource: ResourceUri,
    path: String,
    metadata: ProtectedResourceMetadata,
    metadata_url: String,
    metadata_paths: Vec<String>,
    validator: Arc<dyn TokenValidator>,
    required: ScopeSet,
    operations: OperationScopes,
    implication: Arc<dyn ScopeImplication>,
    challenge_scopes: ScopeSet,
    max_body: usize,
}

impl std::fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceServer")
            .field("resource", &self.inner.resource)
            .field(
                "authorization_servers",
                &self.inner.metadata.authorization_servers,
            )
            .field("required", &self.inner.required)
            .finish_non_exhaustive()
    }
}

impl ResourceServer {
    /// The canonical resource URI (the audience tokens must carry).
    pub fn resource(&self) -> &ResourceUri {
        &self.inner.resource
    }

    /// The path to mount the MCP endpoint at: the resource URI's path (e.g.
    /// `/mcp`, or `/base/mcp` behind a path-prefixed public URL).
    pub fn mcp_path(&self) -> &str {
        &self.inner.path
    }

    /// The RFC 9728 metadata document.
    pub fn metadata(&self) -> &ProtectedResourceMetadata {
        &self.inner.metadata
    }

    /// The metadata's absolute URL (in every challenge's `resource_metadata`).
    pub fn metadata_url(&self) -> &str {
        &self.inner.metadata_url
    }

    /// The paths the metadata is served at: path insertion
    /// (`/.well-known/oauth-protected-resource/<path>`) and the origin's root.
    pub fn metadata_paths(&self) -> &[String] {
        &self.inner.metadata_paths
    }

    /// The request body limit of the MCP endpoint (default 64 KiB).
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body
    }

    /// `Some(limit)` when the decision on this request needs its body: every
    /// POST (a JSON-RPC message, whose per-operation scopes are checked and
    /// which must parse as JSON). The adapter reads at most `limit` bytes
    /// (answering [`crate::http::body_too_large`] beyond) and passes them to
    /// [`crate::http::protect`]. `None`: decide without it.
    pub fn body_limit(&self, parts: &Parts) -> Option<usize> {
        (parts.method == http::Method::POST).then_some(self.inner.max_body)
    }

    /// Checks a request to the MCP endpoint: the Bearer token, then the
    /// required scopes and those of every operation in `body` (JSON-RPC,
    /// single or batch) and in the `Mcp-Method`/`Mcp-Name` headers.
    ///
    /// A `body` that may name a scoped operation (it contains `tools/call`,
    /// `resources/read` or `prompts/get`, a backslash or a NUL byte) but
    /// that the guard cannot read for certain (not UTF-8 JSON as
    /// `serde_json::Value` reads it, nesting up to 128 and numbers within
    /// `f64`, or a message naming `method`, `params`, or its `name` or `uri`
    /// twice, or a key only a case-insensitive parser reads as one of
    /// those) may name any operation: it needs every per-operation scope.
    /// So does any body sent with a `Content-Encoding` other than
    /// `identity` or a `charset` other than UTF-8: the server would decode
    /// it before reading it. Whether a body that names none is JSON is not
    /// looked at here ([`crate::http::protect`] answers a body that is not
    /// with a JSON-RPC parse error, once the token is accepted).
    pub async fn check(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<AuthContext, BearerRefusal> {
        let ctx = self.authenticate(headers, query).await?;
        let read = GuardHeaders::read(headers);
        self.authorize(ctx, &read, || body_operations(&read, body, false))
    }

    /// [`check`](Self::check) for [`crate::http::protect`], which refuses a
    /// body that is not JSON: `Ok(Err(NotJson))` for one, once the token is
    /// accepted. The body is read once, for both.
    pub(crate) async fn check_json(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Result<AuthContext, NotJson>, BearerRefusal> {
        let ctx = self.authenticate(headers, query).await?;
        let read = GuardHeaders::read(headers);
        let ops = match body_operations(&read, body, true) {
            Ok(ops) => ops,
            Err(NotJson) => return Ok(Err(NotJson)),
        };
        self.authorize(ctx, &read, || Ok(ops)).map(Ok)
    }

    /// A refusal of this resource (its challenge names its metadata URL).
    fn refuse(
        &self,
        status: u16,
        error: Option<ErrorCode>,
        description: String,
        scope: &ScopeSet,
    ) -> BearerRefusal {
        refusal(&self.inner.metadata_url, status, error, description, scope)
    }

    /// The identity behind the request's Bearer token, or the refusal.
    async fn authenticate(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<AuthContext, BearerRefusal> {
        let i = &self.inner;
        let token = bearer_token(headers, query, &i.metadata_url)
            .map_err(|(status, error, why)| self.refuse(status, error, why, &i.challenge_scopes))?;
        // A cache hit is answered without the validator's boxed future, and
        // without a UTF-8 check (the cache compares bytes, and holds only
        // validated tokens).
        let validated = match i.validator.validate_now(token) {
            Some(ctx) => Ok(ctx),
            None => match simdutf8::basic::from_utf8(token) {
                Ok(token) => i.validator.validate(token).await,
                Err(_) => {
                    return Err(self.refuse(
                        401,
                        Some(ErrorCode::InvalidToken),
                        NOT_ASCII.to_owned(),
                        &i.challenge_scopes,
                    ));
                }
            },
        };
        let ctx = match validated {
            Ok(c) => c,
            Err(TokenRejection::Unavailable(why)) => {
                // The cause (a pool timeout, a refused connection) is for
                // the operator's log, not for the client.
                tracing::warn!(target: "oauth_mcp::store", reason = %why, "token validation could not reach what it needs");
                return Err(self.refuse(
                    503,
                    Some(ErrorCode::TemporarilyUnavailable),
                    "the authorization server cannot check this token right now (its storage or \
                     token service is unavailable); try again shortly"
                        .to_owned(),
                    &ScopeSet::empty(),
                ));
            }
            Err(rej) => {
                let why = if token.is_ascii() {
                    rej.to_string()
                } else {
                    NOT_ASCII.to_owned()
                };
                return Err(self.refuse(
                    401,
                    Some(ErrorCode::InvalidToken),
                    why,
                    &i.challenge_scopes,
                ));
            }
        };
        // `offline_access` grants nothing here (the library's validators
        // drop it before caching; a custom validator may not).
        Ok(ctx.without_offline_access())
    }

    /// `ctx` if its scopes cover the required ones and those of the
    /// operations the request names (`body_ops`: those of its body, or
    /// `NotJson` for a body that may name any; asked only if the token
    /// lacks a per-operation scope); the refusal otherwise.
    fn authorize(
        &self,
        ctx: AuthContext,
        headers: &GuardHeaders<'_>,
        body_ops: impl FnOnce() -> Result<Vec<Operation>, NotJson>,
    ) -> Result<AuthContext, BearerRefusal> {
        let i = &self.inner;
        // Most requests name no operation with scopes of its own: then the
        // required set is what is needed, and nothing is built per request.
        // A token that holds every per-operation scope may call any
        // operation: its request is not looked at.
        let by_operation = if i.operations.all_held_by(&ctx.scopes) {
            Vec::new()
        } else {
            match body_ops() {
                Ok(ops) => i.operations.needed(headers.operation().as_ref(), &ops),
                Err(NotJson) => i.operations.every.iter().map(str::to_owned).collect(),
            }
        };
        let with_operations;
        let needed = if by_operation.is_empty() {
            &i.required
        } else {
            with_operations =
                ScopeSet::from_scopes(i.required.iter().map(str::to_owned).chain(by_operation));
            &with_operations
        };
        if needed.iter().all(|s| ctx.scopes.contains(s)) {
            return Ok(ctx);
        }
        let missing = missing_scopes(&ctx.scopes, needed, i.implication.as_ref());
        if !missing.is_empty() {
            // Name everything the operation needs plus what the token has, so a
            // client that replaces its scope set (rather than merging) still
            // keeps its other abilities after step-up.
            let challenge =
                ScopeSet::from_scopes(needed.iter().chain(ctx.scopes.iter()).map(str::to_owned));
            return Err(self.refuse(
                403,
                Some(ErrorCode::InsufficientScope),
                format!(
                    "this operation needs scope `{missing}`; the token has `{}`",
                    ctx.scopes
                ),
                &challenge,
            ));
        }
        Ok(ctx)
    }
}

/// The operations `body` names (none without a body), or [`NotJson`] for a
/// body the guard cannot read for certain: one the server would decode
/// before reading it (see [`GuardHeaders::sent_as_read`]), or one
/// [`operations_in_body`] cannot read (`whole`: the JSON check too).
fn body_operations(
    headers: &GuardHeaders<'_>,
    body: Option<&[u8]>,
    whole: bool,
) -> Result<Vec<Operation>, NotJson> {
    match body {
        None => Ok(Vec::new()),
        Some(_) if !headers.sent_as_read => Err(NotJson),
        Some(b) => operations_in_body(b, whole),
    }
}
