//! The built-in login and consent page, the error page, and user
//! authentication (argon2 passwords from a [`UserStore`], or your own
//! [`Authenticator`]).

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use async_trait::async_trait;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use crate::error::StoreError;
use crate::secret::Secret;
use crate::store::{User, UserStore};

/// Checks a user's credentials.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// The subject (`sub`) of the user, or `None` if the credentials are wrong.
    async fn authenticate(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Option<String>, StoreError>;
}

/// Hashes a password with argon2id (default parameters) into a PHC string.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Other(format!("password hashing failed: {e}")))
}

/// A user record with an argon2 hash of `password`.
pub fn new_user(username: &str, password: &str) -> Result<User, StoreError> {
    Ok(User {
        username: username.to_owned(),
        subject: username.to_owned(),
        password_hash: hash_password(password)?,
    })
}

/// Authenticates against a [`UserStore`] with argon2. Unknown users cost the
/// same as wrong passwords, so timing does not reveal which names exist.
pub struct StoreAuthenticator {
    users: Arc<dyn UserStore>,
    dummy_hash: String,
}

impl std::fmt::Debug for StoreAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreAuthenticator")
    }
}

impl StoreAuthenticator {
    /// An authenticator over `users`.
    pub fn new(users: Arc<dyn UserStore>) -> Result<Self, StoreError> {
        Ok(Self {
            users,
            dummy_hash: hash_password("dummy password for timing equalisation")?,
        })
    }
}

#[async_trait]
impl Authenticator for StoreAuthenticator {
    async fn authenticate(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Option<String>, StoreError> {
        let user = self.users.get_user(username).await?;
        let (hash, subject) = match &user {
            Some(u) => (u.password_hash.clone(), Some(u.subject.clone())),
            None => (self.dummy_hash.clone(), None),
        };
        let password = password.clone();
        // argon2 takes tens of milliseconds: keep it off the async workers.
        let ok = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.secret().as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
        .map_err(|e| StoreError::Other(format!("password check failed: {e}")))?;
        Ok(if ok { subject } else { None })
    }
}

/// What the login/consent page shows.
#[derive(Debug, Clone)]
pub struct LoginPage<'a> {
    /// The server's name.
    pub server_name: &'a str,
    /// The form's target (the authorization endpoint path).
    pub action: &'a str,
    /// The pending request id (hidden field).
    pub request_id: &'a str,
    /// The client's display name.
    pub client_name: &'a str,
    /// The host the result goes to, shown prominently.
    pub redirect_host: &'a str,
    /// True if every registered redirect URI is on loopback.
    pub loopback_only: bool,
    /// Requested scopes.
    pub scopes: Vec<&'a str>,
    /// True if consent is asked (untrusted client).
    pub ask_consent: bool,
    /// An error from the previous attempt.
    pub error: Option<&'a str>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}.box{border:1px solid #ccc;border-radius:8px;padding:1rem 1.2rem}\
label{display:block;margin:.6rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.5rem;box-sizing:border-box}\
.err{color:#a00;font-weight:600}.warn{background:#fff4d6;border:1px solid #e0b040;padding:.5rem;border-radius:6px}\
.host{font-family:monospace;font-size:1.1rem;font-weight:700}button{margin-top:1rem;padding:.5rem 1rem;margin-right:.5rem}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        text(title)
    )
}

/// Renders the login (and consent) page. Every value is HTML-escaped.
pub fn render_login(p: &LoginPage<'_>) -> String {
    let mut b = format!(
        "<h1>Sign in to {}</h1><div class=\"box\">",
        text(p.server_name)
    );
    b.push_str(&format!(
        "<p><strong>{}</strong> wants to access {} on your behalf.</p>\
<p>After you sign in you will be sent to <span class=\"host\" id=\"redirect-host\">{}</span>.</p>",
        text(p.client_name),
        text(p.server_name),
        text(p.redirect_host)
    ));
    if p.loopback_only {
        b.push_str(
            "<p class=\"warn\" id=\"loopback-warning\">This application receives the result on your own computer \
(a local address). Any program running on this computer could pose as it. Continue only if you started this sign-in yourself.</p>",
        );
    }
    if !p.scopes.is_empty() {
        b.push_str("<p>It asks for:</p><ul>");
        for s in &p.scopes {
            b.push_str(&format!("<li><code>{}</code></li>", text(s)));
        }
        b.push_str("</ul>");
    }
    if let Some(e) = p.error {
        b.push_str(&format!("<p class=\"err\" role=\"alert\">{}</p>", text(e)));
    }
    b.push_str(&format!(
        "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"request_id\" value=\"{}\">\
<label for=\"username\">Username</label><input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required>\
<label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>",
        attr(p.action),
        attr(p.request_id)
    ));
    if p.ask_consent {
        b.push_str(
            "<button type=\"submit\" name=\"action\" value=\"approve\">Allow</button>\
<button type=\"submit\" name=\"action\" value=\"deny\" formnovalidate>Deny</button>",
        );
    } else {
        b.push_str("<button type=\"submit\" name=\"action\" value=\"approve\">Sign in</button>");
    }
    b.push_str("</form></div>");
    page(&format!("Sign in to {}", p.server_name), &b)
}

/// Renders an error page (used when redirecting to the client is unsafe).
pub fn render_error(title: &str, message: &str) -> String {
    page(
        title,
        &format!(
            "<h1>{}</h1><div class=\"box\"><p class=\"err\" id=\"error\">{}</p></div>",
            text(title),
            text(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn pages_escape_everything() {
        let html = render_login(&LoginPage {
            server_name: "S",
            action: "/authorize",
            request_id: "\"><script>",
            client_name: "<script>alert(1)</script>",
            redirect_host: "evil<b>",
            loopback_only: true,
            scopes: vec!["mcp"],
            ask_consent: true,
            error: Some("<i>bad</i>"),
        });
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<i>bad"));
        assert!(html.contains("loopback-warning"));
        assert!(html.contains("value=\"deny\""));
        assert!(!render_error("x", "<b>").contains("<b>"));
    }

    #[tokio::test]
    async fn argon2_login() {
        let store = Arc::new(MemoryStore::new());
        store
            .put_user(new_user("alice", "correct horse").unwrap())
            .await
            .unwrap();
        let auth = StoreAuthenticator::new(store).unwrap();
        assert_eq!(
            auth.authenticate("alice", &"correct horse".into())
                .await
                .unwrap()
                .as_deref(),
            Some("alice")
        );
        assert_eq!(
            auth.authenticate("alice", &"wrong".into()).await.unwrap(),
            None
        );
        assert_eq!(
            auth.authenticate("bob", &"correct horse".into())
                .await
                .unwrap(),
            None
        );
    }
}
