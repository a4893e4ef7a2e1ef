//! What to trace and how: the options of `oauth-mcp trace` as a library
//! value.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::browser::Opener;
use crate::secret::Hidden;

/// The MCP protocol version sent by default.
pub const DEFAULT_PROTOCOL_VERSION: &str = "2025-11-25";

/// The redirect URI used by default for the headless login: a loopback URI,
/// as native MCP clients use. Nothing needs to listen there: the redirect
/// is read from the `Location` header and never followed.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:33418/callback";

/// How the user logs in (`Debug` shows no password).
#[derive(Clone)]
pub enum Login {
    /// Headless: fetch the authorization URL, fill in the HTML login form
    /// (and a consent form, if one follows) and submit it, reading the
    /// redirect from `Location` without following it. Servers that approve
    /// at once (no form) need no credentials.
    Form {
        /// The user name for the form.
        username: Option<String>,
        /// The password for the form.
        password: Option<String>,
    },
    /// Open the authorization URL in a browser and wait (at most `timeout`)
    /// for the redirect on a loopback listener.
    Browser {
        /// How to open the URL.
        opener: Opener,
        /// How long to wait for the redirect.
        timeout: Duration,
    },
}

/// A request the tracer is waiting for (for a progress display).
#[derive(Debug, Clone, Copy)]
pub struct Waiting<'a> {
    /// The request method.
    pub method: &'a str,
    /// The URL without its query (queries carry codes and states).
    pub url: &'a str,
    /// How long it has been waiting.
    pub elapsed: Duration,
    /// True once the answer (or the failure) came: clear the display.
    pub done: bool,
}

/// Called about once a second while a request waits, and once when it is
/// done (only for requests that waited at least a second).
pub type Progress = Arc<dyn Fn(&Waiting<'_>) + Send + Sync>;

/// What to trace and how (`Debug` shows no password or client secret).
#[derive(Clone)]
pub struct TraceOptions {
    /// The MCP endpoint URL, e.g. `http://127.0.0.1:8080/mcp`.
    pub server_url: String,
    /// How to log in.
    pub login: Login,
    /// A pre-registered client id (skips dynamic registration).
    pub client_id: Option<String>,
    /// The pre-registered client's secret (confidential clients).
    pub client_secret: Option<String>,
    /// The `client_name` sent at registration.
    pub client_name: String,
    /// The redirect URI (default [`DEFAULT_REDIRECT_URI`], or a free
    /// loopback port with a browser login).
    pub redirect_uri: Option<String>,
    /// The scope to request (default: the challenge's `scope`, else the
    /// metadata's `scopes_supported`).
    pub scope: Option<String>,
    /// The RFC 8707 resource indicator (default: the MCP server URL).
    pub resource: Option<String>,
    /// Send `resource` at all (false reproduces clients that omit it).
    pub send_resource: bool,
    /// The MCP protocol version to speak.
    pub protocol_version: String,
    /// The limit for each HTTP request, body included.
    pub timeout: Duration,
    /// Told while a request waits (the command line draws a progress line
    /// on a terminal); `None`: nothing.
    pub progress: Option<Progress>,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Form { username, password } => f
                .debug_struct("Form")
                .field("username", username)
                .field("password", &Hidden(password))
                .finish(),
            Self::Browser { opener, timeout } => f
                .debug_struct("Browser")
                .field("opener", opener)
                .field("timeout", timeout)
                .finish(),
        }
    }
}

impl fmt::Debug for TraceOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceOptions")
            .field("server_url", &self.server_url)
            .field("login", &self.login)
            .field("client_id", &self.client_id)
            .field("client_secret", &Hidden(&self.client_secret))
            .field("client_name", &self.client_name)
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .field("send_resource", &self.send_resource)
            .field("protocol_version", &self.protocol_version)
            .field("timeout", &self.timeout)
            .field("progress", &self.progress.as_ref().map(|_| ".."))
            .finish()
    }
}

impl TraceOptions {
    /// Defaults for tracing `server_url`: headless login without
    /// credentials, dynamic registration, `resource` sent, protocol
    /// [`DEFAULT_PROTOCOL_VERSION`], 30 s per request.
    pub fn new(server_url: impl Into<String>) -> Self {
        Self {
            server_url: server_url.into(),
            login: Login::Form {
                username: None,
                password: None,
            },
            client_id: None,
            client_secret: None,
            client_name: "oauth-mcp trace".into(),
            redirect_uri: None,
            scope: None,
            resource: None,
            send_resource: true,
            protocol_version: DEFAULT_PROTOCOL_VERSION.into(),
            timeout: Duration::from_secs(30),
            progress: None,
        }
    }

    /// With these form-login credentials.
    pub fn with_credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.login = Login::Form {
            username: Some(username.into()),
            password: Some(password.into()),
        };
        self
    }
}
