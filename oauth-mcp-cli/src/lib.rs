//! # oauth-mcp-cli
//!
//! The `oauth-mcp` command-line tool, and the library behind it.
//!
//! ## Install
//!
//! ```bash
//! cargo install --path oauth-mcp-cli   # from a clone of the repository
//! cargo install oauth-mcp-cli          # once it is published on crates.io
//! oauth-mcp trace http://127.0.0.1:8080/mcp --username demo-user --password demo-password
//! ```
//!
//! ## As a library: check a server in your tests
//!
//! [`trace`] runs the same flow as `oauth-mcp trace` and returns a
//! [`TraceReport`]: each step, every diagnosis, and the exchanges (secrets
//! redacted). Here it traces the repository's example server, started on a
//! free port; point it at any MCP server URL:
//!
//! ```
//! use oauth_mcp_cli::{Outcome, TraceOptions, trace};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     let opts = example_axum_server::Options {
//!         bind: "127.0.0.1:0".parse()?,
//!         ..Default::default()
//!     };
//!     let server = example_axum_server::start(opts).await?;
//!
//!     let options = TraceOptions::new(&server.mcp_url).with_credentials("demo-user", "demo-password");
//!     let report = trace(&options).await;
//!     for diagnosis in report.diagnoses() {
//!         println!("{} [{}]: {}", diagnosis.problem, diagnosis.id, diagnosis.fix);
//!     }
//!     println!("{}", report.result_line());
//!     assert_eq!(report.outcome(), Outcome::Ok);
//!     Ok(())
//! }
//! ```
//!
//! It has no public Cargo features (`fuzzing` only exposes entry points to
//! the fuzz targets in `fuzz/`).
//!
//! ## `oauth-mcp trace <MCP server URL>`
//!
//! Does what an MCP client does to connect to an OAuth-protected MCP server,
//! one step per line, and checks each answer against the MCP authorization
//! specification: the unauthenticated request and its 401 challenge,
//! protected-resource metadata (RFC 9728), authorization-server metadata
//! (RFC 8414 / OpenID discovery), dynamic client registration (RFC 7591) or a
//! pre-registered client, the authorization request with PKCE S256, `state`
//! and the RFC 8707 `resource`, a headless login (the HTML form filled in
//! and submitted) or a browser login caught on a loopback port, the code
//! exchange, the access token's audience, MCP `initialize` and `tools/list`
//! with the token, and the refresh grant with rotation. Client side OAuth
//! runs on the [`oauth2`] crate. See [`trace`] for the library entry point.
//!
//! Every violation is a [`Diagnosis`] naming the problem, the cause and
//! the fix, with a stable id:
//!
//! | id | severity | detected when |
//! |---|---|---|
//! | `unreachable` | failure | the MCP URL does not answer; the cause says whether the connection was refused, the host name does not resolve, or the connection was accepted and no answer came before `--timeout` |
//! | `not-protected` | failure | `initialize` without a token gets 2xx |
//! | `mcp-not-found`, `mcp-method-not-allowed`, `mcp-unexpected-status`, `forbidden-without-token` | failure | no 401 to a request without a token |
//! | `no-www-authenticate` | failure | a 401 without `WWW-Authenticate` |
//! | `not-bearer` | failure | the challenge is not `Bearer` |
//! | `no-resource-metadata` | warning (failure for `--protocol-version 2025-06-18`) | the Bearer challenge lacks `resource_metadata` |
//! | `error-on-bare-challenge` | warning | a challenge to a request without credentials carries `error=` (RFC 6750 §3.1) |
//! | `prm-not-found` | failure | no RFC 9728 document at the challenge's URL, or at the well-known URLs (each URL tried is named) |
//! | `prm-invalid`, `prm-resource-mismatch`, `prm-no-authorization-servers`, `prm-no-header-bearer` | failure / warning | the document lacks `resource`, names another resource, lists no authorization server, or no header bearer method |
//! | `as-metadata-not-found` | failure | RFC 8414 (path inserted) and OpenID (inserted, appended) all fail; each URL is named |
//! | `as-issuer-mismatch` | failure | the metadata's `issuer` is not the issuer it was looked up for |
//! | `as-missing-endpoint` | failure | no authorization or token endpoint |
//! | `pkce-not-advertised`, `pkce-no-s256` | failure | `code_challenge_methods_supported` missing, or without `S256` |
//! | `registration-unavailable` | failure | no `registration_endpoint` and no `--client-id` |
//! | `registration-refused` | failure | registration answered an error (or needs an initial access token) |
//! | `redirect-uri-refused` | failure | registration answered `invalid_redirect_uri`, or the authorization endpoint's error names the redirect URI |
//! | `unknown-client`, `authorization-refused` | failure | the authorization endpoint refuses the client id, or the request for another reason (its error is quoted) |
//! | `credentials-needed`, `login-refused`, `login-failed`, `no-login-form`, `browser-timeout` | failure | the login could not be completed |
//! | `authorization-error`, `no-code` | failure | the redirect carries `error=` or no `code` |
//! | `state-mismatch` | failure | `state` missing from the redirect or altered |
//! | `iss-mismatch`, `iss-missing` | failure | RFC 9207 `iss` differs from the issuer, or is missing though advertised |
//! | `token-refused`, `token-response-invalid` | failure | the code exchange is refused (the error code is explained) or unusable |
//! | `token-cacheable`, `token-type` | warning | no `Cache-Control: no-store`, token type not Bearer |
//! | `aud-is-authorization-server` | failure | a JWT access token's `aud` is the authorization server: the "client omitted resource" bug |
//! | `aud-mismatch`, `aud-missing` | failure | `aud` is some other value, or absent |
//! | `mcp-token-refused` | failure | the MCP endpoint answers 401 to the fresh token (the cause names a wrong audience when step 9 found one) |
//! | `mcp-insufficient-scope` | failure | the MCP endpoint answers 403 |
//! | `mcp-accepts-wrong-audience` | failure | the MCP endpoint accepts a token whose `aud` is not itself |
//! | `mcp-initialize-failed`, `tools-list-failed`, `initialized-refused` | failure / warning | the MCP calls fail with the token |
//! | `refresh-not-issued` | warning | no refresh token though `refresh_token` is advertised |
//! | `refresh-refused` | failure | the refresh grant is refused |
//! | `refresh-not-rotated` | failure (public client) / warning (confidential) | no new refresh token, or the same one |
//! | `refresh-aud-mismatch` | failure | the refreshed token lost its audience |
//! | `as-not-https`, `grant-type-missing`, `no-public-clients`, `registration-redirect-changed`, `jwt-iss-mismatch`, `browser-not-opened` | warning | plain-http issuer off loopback; no `authorization_code` grant listed; no `none` auth method; registered redirect URIs changed; token `iss` spelled differently; no browser opener (the URL is printed) |
//! | `no-code-response-type`, `prm-url-invalid`, `as-issuer-invalid`, `wrong-redirect-target`, `authorization-unreachable`, `redirect-loop`, `bad-endpoint`, `browser-listener`, `bad-url`, `http-client` | failure | `code` not among the response types; unusable URLs; a redirect elsewhere; endpoints that do not answer; more than five redirects; no loopback listener; a traced URL that is not http(s) |
//!
//! Warnings do not make the flow fail (exit 0); failures do (exit 1);
//! `--strict` makes warnings fail too.
//!
//! `--save-trace FILE` writes [`TraceReport::to_json`] (metadata, a summary,
//! the steps, every request and response) with secrets redacted:
//! `Authorization`/`Cookie` headers, access and refresh tokens, codes,
//! client secrets, passwords, PKCE verifiers, login request ids (by name in
//! URLs, forms and JSON, and by value everywhere). `--format json` prints
//! the same document; its shape is versioned (`schema_version`,
//! [`TRACE_SCHEMA_VERSION`]) and described by the JSON Schema
//! [`TRACE_JSON_SCHEMA`] (`schema/trace.schema.json`). `--format mermaid`
//! prints [`TraceReport::to_mermaid`]. While a request waits, a progress
//! line is drawn on stderr when it is a terminal ([`TraceOptions::progress`]).
//!
//! ## `oauth-mcp store --store <URL> …`
//!
//! `clients list`, `clients show <id>`, `clients update <id>
//! [--redirect-uri U]… [--trusted true|false] [--active true|false]`,
//! `codes list [--client ID] [--since T] [--until T]` (grouped by state),
//! `users add <name> [--password P | --password-stdin]`, on an
//! `oauth_mcp_sqlx::SqlStore` (`sqlite://…`, `postgres://…`). See [`store`].
//!
//! ## `oauth-mcp keys --store <URL> …`
//!
//! `list` (state, lifecycle times, and which key-encryption key sealed each
//! key), `rotate [--immediate]` (publish a successor the servers activate
//! after the publish lead, or switch at once), `retire <kid> [--remove-now]`.
//! Rotating and retiring need the servers' key-encryption key
//! (`--key-encryption-key` / `MCP_KEY_ENCRYPTION_KEY` or
//! `--key-encryption-key-file` / `MCP_KEY_ENCRYPTION_KEY_FILE`) and refuse to
//! add a key next to keys it cannot open. The writes are the servers' own
//! compare-and-set writes, safe while they run; each lifecycle step
//! (`key.created`, `key.published`, `key.activated`, `key.retired`,
//! `key.removed`) is logged to stderr (target `oauth_mcp::audit`). See [`keys`].
#![forbid(unsafe_code)]

pub mod cli;
pub mod keys;
mod secret;
pub mod store;
mod timefmt;
mod trace;
mod words;

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`); not a public API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use trace::fuzzing;

pub use trace::{
    DEFAULT_PROTOCOL_VERSION, DEFAULT_REDIRECT_URI, Diagnosis, Exchange, Login, Opener, Outcome,
    Progress, Severity, Status, Step, Summary, TRACE_JSON_SCHEMA, TRACE_SCHEMA_VERSION,
    TraceOptions, TraceReport, Waiting, render_step, trace, trace_with,
};
