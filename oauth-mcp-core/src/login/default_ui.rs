//! [`DefaultLoginUi`]: the built-in pages, rendered by minijinja from the
//! templates in `oauth-mcp-core/templates/` (embedded at compile time), with
//! autoescaping on and the configured branding.

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, Value, context};

use super::branding::BrandView;
use super::ui::{ConsentView, DEFAULT_CSP, ErrorView, LoginUi, LoginView};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("client.html", include_str!("../../templates/client.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("consent.html", include_str!("../../templates/consent.html")),
    ("error.html", include_str!("../../templates/error.html")),
];

/// The built-in login, consent and error pages, branded from the configuration.
pub struct DefaultLoginUi {
    env: Environment<'static>,
    brand: BrandView,
}

impl std::fmt::Debug for DefaultLoginUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultLoginUi")
            .field("brand", &self.brand)
            .finish_non_exhaustive()
    }
}

/// The page shown if a template cannot render (a bug, never input): plain,
/// static, safe.
const FALLBACK: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title></head><body><h1>This sign-in request cannot continue</h1><p id=\"error\">The page could not be displayed; the server's log says why.</p></body></html>";

impl DefaultLoginUi {
    pub(crate) fn new(brand: BrandView) -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        // Every template is HTML: escape everything, whatever its name.
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env, brand })
    }

    fn render(&self, name: &str, view: Value) -> String {
        let ctx = context! { brand => Value::from(Serde(&self.brand)), ..view };
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => html,
            Err(e) => {
                tracing::error!(target: "oauth_mcp::login", template = name, error = %e, "a page failed to render");
                FALLBACK.to_owned()
            }
        }
    }
}

impl LoginUi for DefaultLoginUi {
    fn login_page(&self, view: &LoginView) -> String {
        self.render("login.html", Value::from(Serde(view)))
    }

    fn consent_page(&self, view: &ConsentView) -> String {
        self.render("consent.html", Value::from(Serde(view)))
    }

    fn error_page(&self, view: &ErrorView) -> String {
        self.render("error.html", Value::from(Serde(view)))
    }

    fn content_security_policy(&self) -> String {
        match &self.brand.logo_origin {
            Some(origin) => format!("{DEFAULT_CSP}; img-src {origin}"),
            None => DEFAULT_CSP.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::login::Branding;
    use crate::login::ui::{ClientView, RequestId, ScopeView};

    /// minijinja's HTML escaping writes `/` as `&#x2f;` (browsers and form
    /// parsers decode it); compare URLs in their readable form.
    fn readable(html: &str) -> String {
        html.replace("&#x2f;", "/")
    }

    fn ui(b: &Branding) -> DefaultLoginUi {
        DefaultLoginUi::new(b.resolve("Server <1>").unwrap()).unwrap()
    }

    fn client(name: &str, verified: bool) -> ClientView {
        ClientView {
            name: name.into(),
            client_id: "id".into(),
            verified,
            redirect_host: "evil<b>".into(),
            loopback_only: true,
        }
    }

    fn login(error: Option<&str>) -> LoginView {
        LoginView {
            action: "/authorize".into(),
            request_id: RequestId("\"><script>".into()),
            client: client("<script>alert(1)</script>", false),
            scopes: vec![ScopeView {
                name: "mcp".into(),
                description: Some("Use <the> tools".into()),
            }],
            ask_consent: true,
            username: "al\"ice".into(),
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn pages_escape_everything_and_keep_their_stable_ids() {
        let html = ui(&Branding::new()).login_page(&login(Some("<i>bad</i>")));
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<i>bad"));
        assert!(!html.contains("evil<b>"));
        for id in [
            "id=\"client-name\"",
            "id=\"unverified-label\"",
            "id=\"redirect-host\">evil&lt;b&gt;<",
            "id=\"loopback-warning\"",
            "id=\"username\"",
            "id=\"password\"",
            "id=\"error\"",
            "value=\"approve\"",
            "value=\"deny\"",
            "value=\"al&quot;ice\"",
            "aria-invalid=\"true\"",
            "Use &lt;the&gt; tools",
            "Sign in to Server &lt;1&gt;",
        ] {
            assert!(html.contains(id), "{id} missing in {html}");
        }
        // The hidden field keeps the shape form parsers read.
        assert!(html.contains("name=\"request_id\" value=\"&quot;&gt;&lt;script&gt;\""));
        let verified = LoginView {
            client: client("Ops", true),
            error: None,
            ..login(None)
        };
        let html = ui(&Branding::new()).login_page(&verified);
        assert!(!html.contains("unverified-label"));
        assert!(!html.contains("aria-invalid=\"true\""));
    }

    #[test]
    fn error_and_consent_pages() {
        let u = ui(&Branding::new().support_url("https://help.example/mcp"));
        let html = readable(&u.error_page(&ErrorView {
            status: 400,
            error: ErrorCode::InvalidRequest,
            message: "The application sent <a> request this server cannot accept.".into(),
            detail: "redirect_uri `x\"y` is not registered".into(),
            continue_to: None,
        }));
        assert!(html.contains("&lt;a&gt; request"));
        assert!(html.contains("id=\"error-detail\">redirect_uri `x&quot;y` is not registered<"));
        assert!(html.contains("href=\"https://help.example/mcp\""));
        assert!(!html.contains("id=\"continue\""));
        let html = readable(&u.error_page(&ErrorView {
            status: 403,
            error: ErrorCode::AccessDenied,
            message: "`mallory` is not allowed".into(),
            detail: String::new(),
            continue_to: Some("https://app.example/cb?error=access_denied&state=x".into()),
        }));
        assert!(
            html.contains(
                "id=\"continue\" href=\"https://app.example/cb?error=access_denied&amp;state=x\""
            ),
            "{html}"
        );
        let html = u.consent_page(&ConsentView {
            action: "/authorize".into(),
            request_id: RequestId("r".into()),
            client: client("App", false),
            scopes: vec![],
            subject: "github:42".into(),
            sign_in_with: None,
        });
        assert!(html.contains("id=\"subject\">github:42<"));
        assert!(html.contains("value=\"deny\""));
        assert!(!html.contains("id=\"password\""));
        assert!(!html.contains("id=\"upstream\""));
        let html = u.consent_page(&ConsentView {
            action: "/authorize".into(),
            request_id: RequestId("r".into()),
            client: client("App", false),
            scopes: vec![],
            subject: String::new(),
            sign_in_with: Some("GitHub".into()),
        });
        assert!(html.contains("id=\"upstream\">GitHub<"), "{html}");
        assert!(!html.contains("id=\"subject\""));
    }

    #[test]
    fn branding_reaches_pages_and_policy() {
        let u = ui(&Branding::new()
            .product_name("Acme MCP")
            .accent_color("#AA0000")
            .logo_url("https://cdn.acme.example/logo.png"));
        let html = readable(&u.login_page(&login(None)));
        assert!(html.contains("Sign in to Acme MCP"));
        assert!(html.contains("background:#aa0000"));
        assert!(html.contains("src=\"https://cdn.acme.example/logo.png\""));
        assert_eq!(
            u.content_security_policy(),
            format!("{DEFAULT_CSP}; img-src https://cdn.acme.example")
        );
        assert_eq!(ui(&Branding::new()).content_security_policy(), DEFAULT_CSP);
    }
}
