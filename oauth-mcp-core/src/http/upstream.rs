//! The HTTP side of upstream login: which cookies carry the sign-in's
//! browser binding and the browser session, with which attributes, and the
//! callback endpoint. The decisions are the authorization step's
//! ([`crate::authorize::UpstreamAnswer`]).
//!
//! Cookies are `HttpOnly` and `SameSite=Lax` (the provider's redirect back
//! is a top-level navigation from another site, which `Lax` allows and
//! `Strict` would not). On an https public URL they are `Secure` and
//! prefixed (`__Host-` at the root, `__Secure-` under a path). A binding
//! cookie's name carries its sign-in's state tag, so sign-ins started in
//! several tabs do not overwrite each other.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Request, Response};

use super::pages::authorize_response;
use crate::authorize::{AuthorizeRequest, LoginForm, UpstreamAnswer, UpstreamCookie};
use crate::config::ServerConfig;
use crate::server::AuthServer;
use crate::upstream::{CallbackParams, state_tag};

const BINDING: &str = "oauth_mcp_upstream_";
const SESSION: &str = "oauth_mcp_session";

/// The cookies' name prefix, path and `Secure` attribute for `cfg`.
fn scheme(cfg: &ServerConfig) -> (&'static str, String, &'static str) {
    let https = cfg.origin().starts_with("https://");
    let path = if cfg.issuer_path().is_empty() {
        "/".to_owned()
    } else {
        cfg.issuer_path().to_owned()
    };
    match (https, path.as_str()) {
        (true, "/") => ("__Host-", path, "; Secure"),
        (true, _) => ("__Secure-", path, "; Secure"),
        (false, _) => ("", path, ""),
    }
}

fn binding_name(cfg: &ServerConfig, tag: &str) -> String {
    format!("{}{BINDING}{tag}", scheme(cfg).0)
}

fn session_name(cfg: &ServerConfig) -> String {
    format!("{}{SESSION}", scheme(cfg).0)
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
}

/// The `Set-Cookie` value for `c`.
fn set_cookie(cfg: &ServerConfig, c: &UpstreamCookie) -> Option<HeaderValue> {
    let (_, path, secure) = scheme(cfg);
    let (name, value, max_age) = match c {
        UpstreamCookie::Binding {
            state_tag,
            value,
            max_age,
        } => (binding_name(cfg, state_tag), value.secret(), *max_age),
        UpstreamCookie::ClearBinding { state_tag } => (binding_name(cfg, state_tag), "", 0),
        UpstreamCookie::Session { value, max_age } => (session_name(cfg), value.secret(), *max_age),
        UpstreamCookie::ClearSession => (session_name(cfg), "", 0),
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

fn respond(server: &AuthServer, answer: UpstreamAnswer) -> Response<Bytes> {
    let cfg = server.config();
    let mut r = authorize_response(answer.outcome, cfg.login_ui().as_ref());
    for c in &answer.cookies {
        if let Some(v) = set_cookie(cfg, c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// GET `/authorize` on a server that signs people in upstream.
pub(crate) async fn authorize_get(server: &AuthServer, req: &Request<Bytes>) -> Response<Bytes> {
    let query = req.uri().query().unwrap_or("");
    let session = cookie(req.headers(), &session_name(server.config()));
    let answer = server
        .authorize_upstream(&AuthorizeRequest::parse(query.as_bytes()), session)
        .await;
    respond(server, answer)
}

/// POST `/authorize` (the consent form) on a server that signs people in upstream.
pub(crate) async fn authorize_post(server: &AuthServer, req: &Request<Bytes>) -> Response<Bytes> {
    let answer = server.consent_upstream(&LoginForm::parse(req.body())).await;
    respond(server, answer)
}

/// GET `/upstream/callback`.
pub(crate) async fn callback(server: &AuthServer, req: &Request<Bytes>) -> Response<Bytes> {
    let cfg = server.config();
    let params = CallbackParams::from_query(req.uri().query().unwrap_or(""));
    let binding = params
        .state
        .as_deref()
        .and_then(|s| cookie(req.headers(), &binding_name(cfg, &state_tag(s))));
    let session = cookie(req.headers(), &session_name(cfg));
    let answer = server.upstream_callback(&params, binding, session).await;
    respond(server, answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn cfg(url: &str) -> std::sync::Arc<ServerConfig> {
        ServerConfig::builder(url).build().unwrap()
    }

    #[test]
    fn cookie_attributes_follow_the_public_url() {
        let https = cfg("https://mcp.example");
        let v = set_cookie(
            &https,
            &UpstreamCookie::Session {
                value: Secret::new("abc"),
                max_age: 60,
            },
        )
        .unwrap();
        assert_eq!(
            v,
            "__Host-oauth_mcp_session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        let under = cfg("https://mcp.example/team");
        let v = set_cookie(
            &under,
            &UpstreamCookie::ClearBinding {
                state_tag: "t4g".into(),
            },
        )
        .unwrap();
        assert_eq!(
            v,
            "__Secure-oauth_mcp_upstream_t4g=; Path=/team; Max-Age=0; HttpOnly; SameSite=Lax; Secure"
        );
        let local = ServerConfig::builder("http://127.0.0.1:9").build().unwrap();
        let v = set_cookie(
            &local,
            &UpstreamCookie::Binding {
                state_tag: "x".into(),
                value: Secret::new("v"),
                max_age: 600,
            },
        )
        .unwrap();
        assert_eq!(
            v,
            "oauth_mcp_upstream_x=v; Path=/; Max-Age=600; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn cookies_are_read_from_every_cookie_header() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; oauth_mcp_session=s1"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2;c = 3"));
        assert_eq!(cookie(&h, "oauth_mcp_session"), Some("s1"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(cookie(&h, "missing"), None);
    }
}
