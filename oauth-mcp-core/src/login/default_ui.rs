//! [`DefaultLoginUi`]: the built-in pages, rendered by minijinja from the
//! templates in `oauth-mcp-core/templates/` (embedded at compile time), with
//! autoescaping on and the configured branding.
//!
//! The style sheet (`style.css`) is rendered once, at start-up, with the
//! brand's colours; the pages carry it inline and the Content-Security-Policy
//! allows that exact text by its SHA-256 hash instead of `'unsafe-inline'`.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, Value, context};

use super::branding::BrandView;
use super::ui::{ConsentView, ErrorView, LoginUi, LoginView};

const TEMPLATES: &[(&str, &str)] = &[
    ("style.css", include_str!("../../templates/style.css")),
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
    /// The rendered style sheet, placed verbatim in every page.
    css: Value,
    /// The policy sent with every page, allowing exactly `css`.
    csp: String,
}

impl std::fmt::Debug for DefaultLoginUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultLoginUi")
            .field("brand", &self.brand)
            .field("csp", &self.csp)
            .finish_non_exhaustive()
    }
}

/// The page shown if a template cannot render (a bug, never input): plain,
/// static, safe, and unstyled (the policy allows no other style).
const FALLBACK: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title></head><body><h1>This sign-in cannot continue</h1><p id=\"error\" role=\"alert\">The page could not be displayed; the server's log says why.</p></body></html>";

/// The Content-Security-Policy of the default pages: nothing but the one
/// style sheet (by hash) and, if branded, images from the logo's origin.
fn policy(css: &str, logo_origin: Option<&str>) -> String {
    let hash = STANDARD.encode(digest(&SHA256, css.as_bytes()));
    let img = logo_origin
        .map(|o| format!("; img-src {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'{img}; frame-ancestors 'none'; base-uri 'none'"
    )
}

impl DefaultLoginUi {
    pub(crate) fn new(brand: BrandView) -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        // Every page is HTML: escape everything, whatever its name. The style
        // sheet holds only validated `#rrggbb` colours and is not HTML.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".css") {
                AutoEscape::None
            } else {
                AutoEscape::Html
            }
        });
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        let css = env
            .get_template("style.css")?
            .render(context! { c => Value::from(Serde(&brand.colours)) })?;
        let csp = policy(&css, brand.logo_origin.as_deref());
        Ok(Self {
            env,
            brand,
            css: Value::from_safe_string(css),
            csp,
        })
    }

    fn render(&self, name: &str, view: Value) -> String {
        let ctx = context! {
            brand => Value::from(Serde(&self.brand)),
            css => self.css.clone(),
            ..view
        };
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
        self.csp.clone()
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

    fn client(name: &str, verified: bool, loopback_only: bool) -> ClientView {
        ClientView {
            name: name.into(),
            client_id: "id".into(),
            verified,
            redirect_host: "evil<b>".into(),
            loopback_only,
        }
    }

    fn login(error: Option<&str>) -> LoginView {
        LoginView {
            action: "/authorize".into(),
            request_id: RequestId("\"><script>".into()),
            client: client("<script>alert(1)</script>", false, true),
            scopes: vec![
                ScopeView {
                    name: "mcp".into(),
                    description: Some("Use <the> tools".into()),
                },
                ScopeView {
                    name: "admin".into(),
                    description: None,
                },
            ],
            ask_consent: true,
            username: "al\"ice".into(),
            error: error.map(str::to_owned),
        }
    }

    fn consent(sign_in_with: Option<&str>) -> ConsentView {
        ConsentView {
            action: "/authorize".into(),
            request_id: RequestId("r".into()),
            client: client("App", false, false),
            scopes: vec![],
            subject: if sign_in_with.is_some() {
                String::new()
            } else {
                "github:42".into()
            },
            sign_in_with: sign_in_with.map(str::to_owned),
        }
    }

    fn error_view(continue_to: Option<&str>) -> ErrorView {
        ErrorView {
            status: 400,
            error: ErrorCode::InvalidRequest,
            message: "The application sent <a> request this server cannot accept.".into(),
            detail: "redirect_uri `x\"y` is not registered".into(),
            continue_to: continue_to.map(str::to_owned),
        }
    }

    /// The start tag of the element with `id`.
    fn tag<'a>(html: &'a str, id: &str) -> &'a str {
        let at = html
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id} in {html}"));
        let start = html[..at].rfind('<').unwrap();
        let end = at + html[at..].find('>').unwrap();
        &html[start..=end]
    }

    /// The text of the page's only `<style>` element.
    fn style(html: &str) -> &str {
        let start = html.find("<style>").expect("a style element") + "<style>".len();
        let end = html.find("</style>").expect("closed");
        assert_eq!(html.matches("<style").count(), 1, "one style element");
        &html[start..end]
    }

    #[test]
    fn pages_escape_everything_and_keep_their_stable_ids() {
        let html = ui(&Branding::new()).login_page(&login(None));
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("evil<b>"));
        for id in [
            "id=\"client-name\">&lt;script&gt;alert(1)&lt;&#x2f;script&gt;<",
            "id=\"unverified-label\">Unverified<",
            "id=\"redirect-host\">evil&lt;b&gt;<",
            "id=\"loopback-warning\"",
            "id=\"username\"",
            "id=\"password\"",
            "value=\"approve\">Sign in and allow<",
            "value=\"deny\" formnovalidate>Deny<",
            "value=\"al&quot;ice\"",
            "<span class=\"scope-text\">Use &lt;the&gt; tools</span> <code class=\"scope-code\">mcp</code>",
            "<code class=\"scope-text\">admin</code>",
            "<title>Sign in to Server &lt;1&gt;</title>",
            "<h1>Sign in to Server &lt;1&gt;</h1>",
            "<label for=\"username\">Username</label>",
            "<label for=\"password\">Password</label>",
        ] {
            assert!(html.contains(id), "{id} missing in {html}");
        }
        // The hidden field keeps the shape form parsers read.
        assert!(html.contains("name=\"request_id\" value=\"&quot;&gt;&lt;script&gt;\""));
        // No error yet: nothing marked, nothing announced, nothing focused.
        let body = &html[html.find("</style>").unwrap()..];
        for absent in [
            "id=\"error\"",
            "aria-invalid",
            "role=\"alert\"",
            "autofocus",
        ] {
            assert!(!body.contains(absent), "{absent} in {body}");
        }
        // A loopback client gets the warning, not the "trust this host" line.
        assert!(!html.contains("Continue only if you trust"));
    }

    #[test]
    fn a_failed_sign_in_keeps_the_name_and_takes_focus_to_the_error() {
        let html = ui(&Branding::new()).login_page(&login(Some("Wrong <i>username</i>.")));
        assert!(html.contains("<title>Error: Sign in to Server &lt;1&gt;</title>"));
        let error = tag(&html, "error");
        for attr in ["role=\"alert\"", "tabindex=\"-1\"", "autofocus"] {
            assert!(error.contains(attr), "{attr} missing in {error}");
        }
        assert!(html.contains(">Wrong &lt;i&gt;username&lt;&#x2f;i&gt;.<"));
        for field in ["username", "password"] {
            let t = tag(&html, field);
            assert!(t.contains("aria-invalid=\"true\""), "{t}");
            assert!(t.contains("aria-describedby=\"error\""), "{t}");
            assert!(!t.contains("autofocus"), "focus goes to the error: {t}");
        }
        assert!(tag(&html, "username").contains("value=\"al&quot;ice\""));
        assert!(!tag(&html, "password").contains("value="));
        // The error comes before the fields, so Tab goes on to them.
        assert!(html.find("id=\"error\"") < html.find("id=\"username\""));
        assert_eq!(html.matches("autofocus").count(), 1);
    }

    #[test]
    fn verified_clients_are_not_labelled() {
        let verified = LoginView {
            client: client("Ops", true, false),
            ask_consent: false,
            ..login(None)
        };
        let html = ui(&Branding::new()).login_page(&verified);
        assert!(html.contains("id=\"client-name\">Ops<"));
        assert!(html.contains("id=\"redirect-host\">evil&lt;b&gt;<"));
        for absent in [
            "unverified",
            "Unverified",
            "loopback-warning",
            "value=\"deny\"",
        ] {
            assert!(!html.contains(absent), "{absent} in {html}");
        }
        assert!(html.contains("value=\"approve\">Sign in<"));
        // An unverified client off loopback: asked to check the host.
        let html = ui(&Branding::new()).consent_page(&consent(None));
        assert!(html.contains("id=\"unverified-label\""));
        assert!(
            html.contains("Continue only if you trust <span class=\"host\">evil&lt;b&gt;</span>.")
        );
        assert!(!html.contains("loopback-warning"));
    }

    #[test]
    fn error_page_has_a_sentence_and_the_detail_apart() {
        let u = ui(&Branding::new().support_url("https://help.example/mcp"));
        let html = readable(&u.error_page(&error_view(None)));
        // One alert holds both, the sentence first: readers of the alert
        // (screen readers, the CLI's headless login) get the whole story.
        let alert = &html[html.find("role=\"alert\"").unwrap()..];
        let alert = &alert[..alert.find("</div>\n</div>").unwrap()];
        let sentence = alert.find("&lt;a&gt; request").unwrap();
        let detail = alert
            .find("id=\"error-detail\">redirect_uri `x&quot;y` is not registered<")
            .unwrap();
        assert!(sentence < detail, "{alert}");
        assert!(alert.contains("id=\"error-code\">invalid_request<"));
        assert!(alert.contains("HTTP 400"));
        assert!(html.contains("<p class=\"alert-message\">The application sent"));
        assert!(html.contains("id=\"support-link\" href=\"https://help.example/mcp\""));
        assert!(html.contains("Still stuck?"));
        assert!(!html.contains("id=\"continue\""));
        assert!(
            !html.contains("<form"),
            "nothing to submit on an error page"
        );
        // No detail: no developer section.
        let html = u.error_page(&ErrorView {
            detail: String::new(),
            ..error_view(None)
        });
        assert!(!html.contains("error-detail"));
        // A safe way back to the application: a link, not a redirect.
        let html = readable(&u.error_page(&error_view(Some(
            "https://app.example/cb?error=access_denied&state=x",
        ))));
        assert!(
            html.contains(
                "id=\"continue\" href=\"https://app.example/cb?error=access_denied&amp;state=x\""
            ),
            "{html}"
        );
    }

    #[test]
    fn consent_pages_before_and_after_signing_in() {
        let u = ui(&Branding::new());
        let html = u.consent_page(&consent(None));
        assert!(html.contains("<h1>Allow access to Server &lt;1&gt;?</h1>"));
        assert!(html.contains("id=\"subject\">github:42<"));
        assert!(html.contains("value=\"approve\">Allow<"));
        assert!(html.contains("value=\"deny\">Deny<"));
        assert!(html.contains("id=\"client-name\">App<"));
        assert!(!html.contains("id=\"password\""));
        assert!(!html.contains("id=\"upstream\""));
        assert!(html.contains("name=\"request_id\" value=\"r\""));
        // Before an upstream sign-in: nobody is signed in yet; the person
        // learns where they sign in next, and the button says so.
        let html = u.consent_page(&consent(Some("Git<Hub>")));
        assert!(html.contains("id=\"upstream\">Git&lt;Hub&gt;<"), "{html}");
        assert!(html.contains("value=\"approve\">Continue with Git&lt;Hub&gt;<"));
        assert!(!html.contains("id=\"subject\""));
        assert!(html.contains("value=\"deny\">Deny<"));
        // Nobody named: no empty "Signed in as".
        let html = u.consent_page(&ConsentView {
            subject: String::new(),
            ..consent(None)
        });
        assert!(!html.contains("Signed in as"), "{html}");
    }

    #[test]
    fn the_policy_allows_exactly_the_style_sheet_and_nothing_else() {
        let u = ui(&Branding::new());
        let csp = u.content_security_policy();
        let pages = [
            u.login_page(&login(None)),
            u.login_page(&login(Some("x"))),
            u.consent_page(&consent(None)),
            u.consent_page(&consent(Some("GitHub"))),
            u.error_page(&error_view(Some("https://app.example/cb"))),
        ];
        for html in &pages {
            let hash = STANDARD.encode(digest(&SHA256, style(html).as_bytes()));
            assert!(
                csp.contains(&format!("style-src 'sha256-{hash}';")),
                "{csp}"
            );
            // Style attributes and scripts would be blocked by the policy.
            assert!(!html.contains(" style="), "a style attribute in {html}");
            assert!(!html.to_ascii_lowercase().contains("<script"));
        }
        assert!(csp.starts_with("default-src 'none'; "));
        assert!(csp.ends_with("; frame-ancestors 'none'; base-uri 'none'"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(!csp.contains("img-src"), "no logo, no images");
        // The page a broken template falls back to has no style to allow.
        assert!(!FALLBACK.contains("<style"));
    }

    #[test]
    fn branding_reaches_pages_and_policy() {
        let u = ui(&Branding::new()
            .product_name("Acme MCP")
            .accent_color("#FFD33D")
            .background_color("#102030")
            .logo_url("https://cdn.acme.example/logo.png")
            .support_url("https://help.acme.example/"));
        let html = readable(&u.login_page(&login(None)));
        assert!(html.contains("<h1>Sign in to Acme MCP</h1>"));
        assert!(html.contains("wants to use Acme MCP on your behalf."));
        assert!(html.contains("<img src=\"https://cdn.acme.example/logo.png\" alt=\"Acme MCP\">"));
        assert!(html.contains("id=\"support-link\" href=\"https://help.acme.example/\""));
        let css = style(&html);
        assert!(
            css.contains("body{margin:0;min-height:100vh;background:#102030;"),
            "{css}"
        );
        // A light accent: dark text on the button, a darker shade for links.
        assert!(
            css.contains(".primary{background:#ffd33d;color:#1f2328;"),
            "{css}"
        );
        assert!(!css.contains("a{color:#ffd33d"), "{css}");
        let csp = u.content_security_policy();
        assert!(csp.contains("; img-src https://cdn.acme.example;"), "{csp}");
        let plain = ui(&Branding::new());
        assert_ne!(
            plain.content_security_policy(),
            csp,
            "the hash follows the colours"
        );
        assert!(!plain.login_page(&login(None)).contains("<img"));
        assert!(!plain.login_page(&login(None)).contains("support-link"));
    }
}
