//! Steps 5–7, the authorization code: the authorization request (PKCE
//! S256, `state`, RFC 8707 `resource`) built with the `oauth2` crate, the
//! login (the HTML form filled in and submitted, or a browser caught on
//! loopback) and the redirect back (`code`, `state`, RFC 9207 `iss`).
//! Yields a [`Code`].

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenUrl,
};
use url::Url;

use crate::trace::diagnoses::code as diag;
use crate::trace::flow::{Stop, Tracer, error_summary, is_redirect_status};
use crate::trace::html::{error_text, parse_forms};
use crate::trace::options::Login;
use crate::trace::parse::{is_redirect_to, query_param, truncate};
use crate::trace::recorder::Exchange;
use crate::trace::report::Step;
use crate::trace::stages::client::Client;
use crate::trace::stages::discovery::Discovery;

/// The oauth2 client with an authorization and a token endpoint.
pub(crate) type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// An authorization code, and what redeems it.
pub(crate) struct Code {
    /// The OAuth client (token endpoint, client authentication).
    pub(crate) oauth: OAuthClient,
    /// The PKCE verifier of the request.
    pub(crate) verifier: PkceCodeVerifier,
    /// The code.
    pub(crate) code: String,
}

/// The authorization request sent.
struct Request {
    oauth: OAuthClient,
    verifier: PkceCodeVerifier,
    state: String,
    redirect: Url,
}

/// Where the authorization request landed.
enum Landing {
    /// A page with a form (its URL and HTML).
    Form(String, String),
    /// Straight back to the redirect URI (no login page).
    Redirect(Url),
    /// Opened in a browser.
    Browser,
}

/// Runs steps 5–7.
pub(crate) async fn run<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    d: &Discovery,
    client: &Client,
) -> Result<Code, Stop> {
    let (request, landing) = authorization(t, d, client).await?;
    let back = login(t, client, &request.redirect, landing).await?;
    let code = redirect(t, d, client, &request, &back)?;
    Ok(Code {
        oauth: request.oauth,
        verifier: request.verifier,
        code,
    })
}

/// Builds the oauth2 client for these endpoints and this client.
fn oauth_client(d: &Discovery, client: &Client) -> Result<OAuthClient, String> {
    let a = &d.auth_server;
    let c = BasicClient::new(ClientId::new(client.id.clone()))
        .set_auth_uri(
            AuthUrl::new(a.authorization_endpoint.clone())
                .map_err(|e| format!("authorization_endpoint: {e}"))?,
        )
        .set_token_uri(
            TokenUrl::new(a.token_endpoint.clone()).map_err(|e| format!("token_endpoint: {e}"))?,
        )
        .set_redirect_uri(
            RedirectUrl::new(client.redirect_uri.clone())
                .map_err(|e| format!("redirect URI: {e}"))?,
        )
        .set_auth_type(client.auth_type.clone());
    Ok(match &client.secret {
        Some(sec) => c.set_client_secret(ClientSecret::new(sec.clone())),
        None => c,
    })
}

/// Step 5: the authorization request, fetched headlessly or opened in a browser.
async fn authorization<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    d: &Discovery,
    client: &Client,
) -> Result<(Request, Landing), Stop> {
    let mut s = t.begin("authorization");
    let auth_ep = d.auth_server.authorization_endpoint.clone();
    let built = oauth_client(d, client).and_then(|c| {
        let redirect =
            Url::parse(&client.redirect_uri).map_err(|e| format!("redirect URI: {e}"))?;
        Ok((c, redirect))
    });
    let (oauth, redirect) = match built {
        Ok(c) => c,
        Err(e) => {
            s.push(diag::bad_endpoint(&e));
            return Err(t.stop(s));
        }
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    t.rec.secret(verifier.secret());
    let scope = d.requested_scope(t.o.scope.as_deref());
    let mut req = oauth
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge);
    for sc in scope.iter().flat_map(|s| s.split_whitespace()) {
        req = req.add_scope(Scope::new(sc.to_owned()));
    }
    if t.o.send_resource {
        req = req.add_extra_param("resource", t.target.resource.clone());
        t.summary.resource = Some(t.target.resource.clone());
    }
    let (url, csrf) = req.url();
    t.summary.requested_scope = scope.clone();
    s.note(format!(
        "PKCE S256, state, scope {}, resource {}",
        scope
            .as_deref()
            .map_or_else(|| "(none)".to_owned(), |s| format!("\"{s}\"")),
        if t.o.send_resource {
            t.target.resource.clone()
        } else {
            "(omitted: --no-resource)".to_owned()
        }
    ));
    let request = Request {
        oauth,
        verifier,
        state: csrf.secret().clone(),
        redirect,
    };
    if let Login::Browser { opener, .. } = &t.o.login {
        match opener.open(url.as_str()).await {
            Ok(()) => s.summary = format!("opened {auth_ep} in the browser"),
            Err(e) => {
                s.push(diag::browser_not_opened(&e));
                s.summary = "waiting for the browser".into();
            }
        }
        s.note(format!("authorization URL: {url}"));
        t.end(s);
        return Ok((request, Landing::Browser));
    }
    let mut page = url.to_string();
    // Follow redirects inside the authorization server (at most five).
    for _ in 0..6 {
        let r = match t.get(&page, "text/html,application/xhtml+xml").await {
            Ok(r) => r,
            Err(e) => {
                s.push(diag::authorization_unreachable(&e));
                return Err(t.stop(s));
            }
        };
        if is_redirect_status(r.status) {
            let Some(loc) = r.location(&page) else {
                s.push(diag::redirect_without_location(r.status));
                return Err(t.stop(s));
            };
            if is_redirect_to(&loc, &request.redirect) {
                s.summary = format!(
                    "GET {auth_ep} → {} (back to the redirect URI without a login page)",
                    r.status
                );
                t.end(s);
                return Ok((request, Landing::Redirect(loc)));
            }
            page = loc.to_string();
            continue;
        }
        if r.status == 200 {
            let html = r.text();
            if parse_forms(&html).is_empty() {
                s.push(diag::no_login_form(&r.content_type()));
                return Err(t.stop(s));
            }
            s.summary = format!("GET {auth_ep} → 200 (login page)");
            t.end(s);
            return Ok((request, Landing::Form(page, html)));
        }
        let answer = error_summary(&r);
        s.push(diag::authorization_refused(
            r.status,
            &answer,
            &client.id,
            &client.redirect_uri,
        ));
        return Err(t.stop(s));
    }
    s.push(diag::redirect_loop());
    Err(t.stop(s))
}

/// Step 6: the login form (and a consent form) submitted, or the browser's
/// redirect caught on loopback. Returns the URL the server sent the
/// browser back to.
async fn login<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    client: &Client,
    redirect: &Url,
    landing: Landing,
) -> Result<Url, Stop> {
    let mut s = t.begin("login");
    let (mut page_url, mut html) = match landing {
        Landing::Redirect(u) => {
            s.skip("no login page: the server approved the request at once");
            t.end(s);
            return Ok(u);
        }
        Landing::Browser => {
            let Login::Browser { timeout, .. } = &t.o.login else {
                return Err(Stop);
            };
            let got = match &client.callback {
                Some(cb) => cb.wait(*timeout).await,
                None => Err("no listener".into()),
            };
            return match got {
                Ok(u) => {
                    s.summary = format!("the browser came back to {}", redirect.path());
                    t.end(s);
                    Ok(u)
                }
                Err(e) => {
                    s.push(diag::browser_timeout(&e));
                    Err(t.stop(s))
                }
            };
        }
        Landing::Form(u, h) => (u, h),
    };
    let (username, password) = match &t.o.login {
        Login::Form { username, password } => (username.clone(), password.clone()),
        Login::Browser { .. } => (None, None),
    };
    if let Some(p) = &password {
        t.rec.secret(p);
    }
    // A login form, perhaps a consent form after it; with upstream login,
    // the server's consent page, then the identity provider's login and
    // consent forms: at most six pages.
    let mut sent_password = false;
    for _ in 0..6 {
        let forms = parse_forms(&html);
        let Some(form) = forms
            .iter()
            .find(|f| f.has_password())
            .or(forms.first())
            .cloned()
        else {
            s.push(diag::no_form_after_login());
            return Err(t.stop(s));
        };
        if form.has_password() && (username.is_none() || password.is_none()) {
            s.push(diag::credentials_needed());
            return Err(t.stop(s));
        }
        // The password form right after the password was sent: refused.
        if form.has_password() && sent_password {
            s.push(diag::login_refused(error_text(&html).as_deref()));
            return Err(t.stop(s));
        }
        sent_password = form.has_password();
        let pairs = form.fill(username.as_deref(), password.as_deref());
        let base = Url::parse(&page_url).map_err(|_| Stop)?;
        let Ok(mut action) = base.join(form.action.as_deref().unwrap_or("")) else {
            s.push(diag::bad_form_action());
            return Err(t.stop(s));
        };
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        let fields: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        let result = if form.method == "get" {
            action.set_query(Some(&encoded));
            t.get(action.as_str(), "text/html").await
        } else {
            t.post(
                action.as_str(),
                "application/x-www-form-urlencoded",
                "text/html",
                encoded.into_bytes(),
            )
            .await
        };
        let mut r = match result {
            Ok(r) => r,
            Err(e) => {
                s.push(diag::form_unreachable(&e));
                return Err(t.stop(s));
            }
        };
        s.summary = format!(
            "{} {} ({}) → {}",
            form.method.to_ascii_uppercase(),
            action.as_str().split('?').next().unwrap_or_default(),
            fields.join(", "),
            r.status
        );
        let mut at = action.to_string();
        // Redirects inside the authorization server (and, with upstream
        // login, to the identity provider and back), then to the client.
        for _ in 0..8 {
            if !is_redirect_status(r.status) {
                break;
            }
            let Some(loc) = r.location(&at) else { break };
            if is_redirect_to(&loc, redirect) {
                t.end(s);
                return Ok(loc);
            }
            at = loc.to_string();
            r = match t.get(&at, "text/html").await {
                Ok(r) => r,
                Err(e) => {
                    s.push(diag::login_redirect_unreachable(&at, &e));
                    return Err(t.stop(s));
                }
            };
        }
        let body = r.text();
        if parse_forms(&body).is_empty() || r.status >= 500 {
            s.push(diag::login_not_redirected(r.status, &error_summary(&r)));
            return Err(t.stop(s));
        }
        page_url = at;
        html = body;
        let host = Url::parse(&page_url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
            })
            .unwrap_or_default();
        if parse_forms(&html).iter().any(|f| f.has_password()) {
            s.note(format!(
                "a login form followed at {host}, perhaps an upstream identity provider: filling it in ({})",
                r.status
            ));
        } else {
            s.note(format!(
                "another form followed at {host} (consent?), submitting it ({})",
                r.status
            ));
        }
    }
    s.push(diag::too_many_forms());
    Err(t.stop(s))
}

/// Step 7: the redirect back: `code`, `state`, RFC 9207 `iss`.
fn redirect<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    d: &Discovery,
    client: &Client,
    request: &Request,
    back: &Url,
) -> Result<String, Stop> {
    let mut s = t.begin("redirect");
    let keys: Vec<String> = back.query_pairs().map(|(k, _)| k.into_owned()).collect();
    s.summary = format!(
        "back at {} with {}",
        back.as_str().split('?').next().unwrap_or_default(),
        if keys.is_empty() {
            "no parameters".to_owned()
        } else {
            keys.join(", ")
        }
    );
    if !is_redirect_to(back, &request.redirect) {
        s.push(diag::wrong_redirect_target(back, &client.redirect_uri));
        return Err(t.stop(s));
    }
    if let Some(err) = query_param(back, "error") {
        let desc = query_param(back, "error_description").unwrap_or_default();
        s.push(diag::authorization_error(&err, &desc, &t.target.resource));
        return Err(t.stop(s));
    }
    let Some(code) = query_param(back, "code") else {
        s.push(diag::no_code());
        return Err(t.stop(s));
    };
    t.rec.secret(&code);
    t.summary.auth_code_received = true;
    match query_param(back, "state") {
        Some(st) if st == request.state => s.note("state matches"),
        Some(st) => s.push(diag::state_mismatch(Some(&truncate(&st, 40)))),
        None => s.push(diag::state_mismatch(None)),
    }
    let issuer = &d.auth_server.issuer;
    match query_param(back, "iss") {
        Some(iss) if &iss == issuer => s.note("iss matches the issuer (RFC 9207)"),
        Some(iss) => s.push(diag::iss_mismatch(&iss, issuer)),
        None if d
            .auth_server
            .flag("authorization_response_iss_parameter_supported") =>
        {
            s.push(diag::iss_missing());
        }
        None => s.note("no iss (RFC 9207 not advertised)"),
    }
    t.end(s);
    Ok(code)
}
