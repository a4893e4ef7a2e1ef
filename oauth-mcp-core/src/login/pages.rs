//! The built-in login and consent page and the error page.

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

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
}
