//! The command line (clap): the commands, their options, and the library
//! values they stand for; [`run`] runs them.
//!
//! Exit status: `0` the flow completed (warnings allowed, unless
//! `--strict`), `1` the flow failed (or a store command failed), `2` bad
//! arguments or a file that cannot be written.

mod run;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use run::run;

use crate::secret::Hidden;
use crate::store::{self, PasswordSource, StoreCommand};
use crate::trace::{DEFAULT_PROTOCOL_VERSION, Login, Opener, TraceOptions};

/// oauth-mcp: trace and explain an MCP server's OAuth flow; manage an oauth-mcp store.
#[derive(Debug, Parser)]
#[command(name = "oauth-mcp", version)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect to an MCP server the way an MCP client does (discovery,
    /// registration, PKCE login, token, MCP calls, refresh), check each
    /// answer against the MCP authorization spec and explain what is wrong.
    Trace(TraceArgs),
    /// Inspect and manage an oauth-mcp SQL store (SQLite or PostgreSQL).
    Store(StoreArgs),
    /// The signing keys in an oauth-mcp SQL store: list, rotate, retire.
    Keys(crate::keys::KeysArgs),
}

/// How `trace` prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per step on stdout (default).
    Text,
    /// A Mermaid sequenceDiagram of the observed flow on stdout (step lines go to stderr).
    Mermaid,
    /// The JSON trace (as --save-trace writes it) on stdout (step lines go to stderr).
    Json,
}

/// `oauth-mcp trace` options (`Debug` shows no password or client secret).
#[derive(Args)]
pub struct TraceArgs {
    /// The MCP server URL (its MCP endpoint), e.g. http://127.0.0.1:8080/mcp.
    #[arg(allow_hyphen_values = true)]
    pub url: String,
    /// User name for the headless login (the login form is filled in and submitted).
    #[arg(long, env = "OAUTH_MCP_USERNAME", allow_hyphen_values = true)]
    pub username: Option<String>,
    /// Password for the headless login.
    #[arg(
        long,
        env = "OAUTH_MCP_PASSWORD",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub password: Option<String>,
    /// Log in with a browser instead: open the authorization URL and catch
    /// the redirect on a loopback port.
    #[arg(long)]
    pub browser: bool,
    /// The program that opens the URL with --browser (default: open on
    /// macOS, xdg-open elsewhere); the URL is appended as its last argument.
    #[arg(long, value_name = "PROGRAM")]
    pub browser_command: Option<String>,
    /// How long to wait for the browser login, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub browser_timeout: u64,
    /// A pre-registered client id (skips dynamic registration).
    #[arg(long, allow_hyphen_values = true)]
    pub client_id: Option<String>,
    /// The pre-registered client's secret (confidential client).
    #[arg(
        long,
        env = "OAUTH_MCP_CLIENT_SECRET",
        hide_env_values = true,
        allow_hyphen_values = true,
        requires = "client_id"
    )]
    pub client_secret: Option<String>,
    /// Redirect URI [default: http://127.0.0.1:33418/callback; with --browser
    /// http://127.0.0.1:PORT/callback on a free PORT].
    #[arg(long)]
    pub redirect_uri: Option<String>,
    /// Scope to request [default: the 401 challenge's scope, else the
    /// metadata's scopes_supported].
    #[arg(long)]
    pub scope: Option<String>,
    /// RFC 8707 resource indicator [default: the MCP server URL].
    #[arg(long, conflicts_with = "no_resource")]
    pub resource: Option<String>,
    /// Send no resource indicator (as some clients do), to see what the
    /// server does then.
    #[arg(long)]
    pub no_resource: bool,
    /// MCP protocol version to speak (it also decides which spec rules apply).
    #[arg(long, default_value = DEFAULT_PROTOCOL_VERSION)]
    pub protocol_version: String,
    /// Limit for each HTTP request, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
    /// Also print every request and response (secrets redacted).
    #[arg(short, long)]
    pub verbose: bool,
    /// Write the JSON trace (metadata, summary, steps, every request and
    /// response; secrets redacted) to FILE.
    #[arg(long, value_name = "FILE")]
    pub save_trace: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit with status 1 on warnings too.
    #[arg(long)]
    pub strict: bool,
}

impl TraceArgs {
    /// The library options these flags describe.
    pub fn options(&self) -> TraceOptions {
        let login = if self.browser {
            Login::Browser {
                opener: match &self.browser_command {
                    Some(c) => Opener::Command(c.split_whitespace().map(str::to_owned).collect()),
                    None => Opener::System,
                },
                timeout: Duration::from_secs(self.browser_timeout.max(1)),
            }
        } else {
            Login::Form {
                username: self.username.clone(),
                password: self.password.clone(),
            }
        };
        TraceOptions {
            login,
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            redirect_uri: self.redirect_uri.clone(),
            scope: self.scope.clone(),
            resource: self.resource.clone(),
            send_resource: !self.no_resource,
            protocol_version: self.protocol_version.clone(),
            timeout: Duration::from_secs(self.timeout.max(1)),
            ..TraceOptions::new(self.url.clone())
        }
    }
}

/// `oauth-mcp store` options (`Debug` shows the store URL without its password).
#[derive(Args)]
pub struct StoreArgs {
    /// Store URL: sqlite://path.db (add ?mode=rwc to create it) or postgres://user:pass@host/db.
    #[arg(long, env = "MCP_STORE", hide_env_values = true)]
    pub store: String,
    /// What to do.
    #[command(subcommand)]
    pub command: StoreSub,
}

/// Store subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreSub {
    /// Registered clients.
    #[command(subcommand)]
    Clients(ClientsSub),
    /// Authorization codes.
    #[command(subcommand)]
    Codes(CodesSub),
    /// Users of the built-in password login.
    #[command(subcommand)]
    Users(UsersSub),
}

/// `store clients …`.
#[derive(Debug, Subcommand)]
pub enum ClientsSub {
    /// List every client (oldest first).
    List,
    /// Show one client: redirect URIs, auth method, trusted, active, created.
    Show {
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Change a client.
    Update {
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// Replace the redirect URIs with these (repeat the flag for several).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Trusted clients skip the consent step.
        #[arg(long, value_name = "true|false")]
        trusted: Option<bool>,
        /// Inactive clients are refused everywhere.
        #[arg(long, value_name = "true|false")]
        active: Option<bool>,
    },
}

/// `store codes …`.
#[derive(Debug, Subcommand)]
pub enum CodesSub {
    /// List authorization codes grouped by state: pending, used, expired.
    List {
        /// Only this client's codes.
        #[arg(long, allow_hyphen_values = true)]
        client: Option<String>,
        /// Issued at or after this time (Unix seconds or RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Issued at or before this time (Unix seconds or RFC 3339).
        #[arg(long)]
        until: Option<String>,
    },
}

/// `store users …` (`Debug` shows no password).
#[derive(Subcommand)]
pub enum UsersSub {
    /// Add (or replace) a user; the password is stored as an argon2id hash.
    Add {
        /// The login name (also the token subject).
        #[arg(allow_hyphen_values = true)]
        name: String,
        /// The password (visible in the process list: prefer --password-stdin).
        #[arg(
            long,
            allow_hyphen_values = true,
            conflicts_with = "password_stdin",
            required_unless_present = "password_stdin"
        )]
        password: Option<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
}

impl fmt::Debug for TraceArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceArgs")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &Hidden(&self.password))
            .field("browser", &self.browser)
            .field("browser_command", &self.browser_command)
            .field("browser_timeout", &self.browser_timeout)
            .field("client_id", &self.client_id)
            .field("client_secret", &Hidden(&self.client_secret))
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .field("no_resource", &self.no_resource)
            .field("protocol_version", &self.protocol_version)
            .field("timeout", &self.timeout)
            .field("verbose", &self.verbose)
            .field("save_trace", &self.save_trace)
            .field("format", &self.format)
            .field("strict", &self.strict)
            .finish()
    }
}

impl fmt::Debug for StoreArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreArgs")
            .field("store", &store::redact_url(&self.store))
            .field("command", &self.command)
            .finish()
    }
}

impl fmt::Debug for UsersSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Add {
                name,
                password,
                password_stdin,
            } => f
                .debug_struct("Add")
                .field("name", name)
                .field("password", &Hidden(password))
                .field("password_stdin", password_stdin)
                .finish(),
        }
    }
}

impl StoreSub {
    /// The library command.
    pub fn command(&self) -> StoreCommand {
        match self {
            Self::Clients(ClientsSub::List) => StoreCommand::ClientsList,
            Self::Clients(ClientsSub::Show { id }) => StoreCommand::ClientsShow { id: id.clone() },
            Self::Clients(ClientsSub::Update {
                id,
                redirect_uris,
                trusted,
                active,
            }) => StoreCommand::ClientsUpdate {
                id: id.clone(),
                redirect_uris: redirect_uris.clone(),
                trusted: *trusted,
                active: *active,
            },
            Self::Codes(CodesSub::List {
                client,
                since,
                until,
            }) => StoreCommand::CodesList {
                client: client.clone(),
                since: since.clone(),
                until: until.clone(),
            },
            Self::Users(UsersSub::Add {
                name,
                password,
                password_stdin,
            }) => StoreCommand::UsersAdd {
                name: name.clone(),
                password: match (password, password_stdin) {
                    (Some(p), false) => PasswordSource::Value(p.clone()),
                    _ => PasswordSource::Stdin,
                },
            },
        }
    }
}
