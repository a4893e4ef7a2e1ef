//! Steps 8–9, the tokens: the code exchange (PKCE verifier, `resource`)
//! and a JWT access token's audience, which must be the MCP server. Yields
//! [`Tokens`]. The audience check and the request summary serve the
//! refresh step too.

use oauth2::{AuthorizationCode, TokenResponse};
use serde_json::Value;
use url::Url;

use crate::timefmt;
use crate::trace::diagnoses::tokens as diag;
use crate::trace::flow::{StepCtx, Stop, Tracer};
use crate::trace::parse::{audiences, decode_jwt, origin, same_resource};
use crate::trace::recorder::Exchange;
use crate::trace::report::{self, Step};
use crate::trace::stages::client::Client;
use crate::trace::stages::code::Code;
use crate::trace::stages::discovery::Discovery;

/// The tokens obtained.
pub(crate) struct Tokens {
    /// The access token.
    pub(crate) access: String,
    /// The refresh token, if one was issued.
    pub(crate) refresh: Option<String>,
    /// The access token's audience when it is not the MCP server.
    pub(crate) wrong_audience: Option<String>,
}

/// Runs steps 8–9.
pub(crate) async fn run<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    d: &Discovery,
    client: &Client,
    code: Code,
) -> Result<Tokens, Stop> {
    let mut tokens = exchange(t, d, code).await?;
    tokens.wrong_audience = audience(t, d, client, &tokens.access);
    Ok(tokens)
}

/// The one-line summary of the token request just sent: what was sent and
/// the outcome of the last recorded exchange.
pub(crate) fn request_summary<F>(t: &Tracer<'_, F>, token_ep: &str, sent: &str) -> String {
    format!(
        "POST {token_ep} ({sent}{}) → {}",
        if t.o.send_resource { ", resource" } else { "" },
        t.rec
            .last()
            .as_ref()
            .map(report::outcome_of)
            .unwrap_or_default()
            .trim_start_matches("→ ")
    )
}

/// The `resource` sent, if any.
pub(crate) fn resource_sent<'a, F>(t: &'a Tracer<'_, F>) -> Option<&'a str> {
    t.o.send_resource.then_some(t.target.resource.as_str())
}

/// Step 8: the code exchange.
async fn exchange<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    d: &Discovery,
    code: Code,
) -> Result<Tokens, Stop> {
    let mut s = t.begin("token");
    let rec = &t.rec;
    let http = |req: oauth2::HttpRequest| rec.oauth2_call(req);
    let mut req = code
        .oauth
        .exchange_code(AuthorizationCode::new(code.code))
        .set_pkce_verifier(code.verifier);
    if t.o.send_resource {
        req = req.add_extra_param("resource", t.target.resource.clone());
    }
    let result = req.request_async(&http).await;
    s.summary = request_summary(
        t,
        &d.auth_server.token_endpoint,
        "authorization_code, PKCE verifier",
    );
    let tr = match result {
        Ok(tr) => tr,
        Err(e) => {
            s.push(diag::token_error(
                &e,
                "authorization_code",
                resource_sent(t),
            ));
            return Err(t.stop(s));
        }
    };
    let access = tr.access_token().secret().clone();
    t.rec.secret(&access);
    let refresh = tr.refresh_token().map(|r| r.secret().clone());
    if let Some(r) = &refresh {
        t.rec.secret(r);
    }
    t.summary.access_token_received = true;
    t.summary.refresh_token_received = refresh.is_some();
    t.summary.granted_scope = tr.scopes().map(|v| {
        v.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let is_jwt = decode_jwt(&access).is_some();
    t.summary.access_token_is_jwt = Some(is_jwt);
    s.note(format!(
        "access token ({}{}), refresh token: {}{}",
        if is_jwt { "JWT" } else { "opaque" },
        tr.expires_in()
            .map(|d| format!(", expires in {} s", d.as_secs()))
            .unwrap_or_default(),
        if refresh.is_some() { "yes" } else { "no" },
        t.summary
            .granted_scope
            .as_deref()
            .map(|s| format!(", scope \"{s}\""))
            .unwrap_or_default(),
    ));
    if !matches!(tr.token_type(), oauth2::basic::BasicTokenType::Bearer) {
        s.push(diag::token_type(tr.token_type().as_ref()));
    }
    if let Some(e) = t.rec.last()
        && !e
            .response_header("cache-control")
            .is_some_and(|v| v.to_ascii_lowercase().contains("no-store"))
    {
        s.push(diag::token_cacheable());
    }
    t.end(s);
    Ok(Tokens {
        access,
        refresh,
        wrong_audience: None,
    })
}

/// Step 9: a JWT access token's `aud`. Returns the audience when it is not
/// the MCP server.
fn audience<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    d: &Discovery,
    client: &Client,
    access: &str,
) -> Option<String> {
    let mut s = t.begin("token audience");
    let mut wrong = None;
    match check_audience(t, &mut s, d, client, access, false) {
        None => s.skip("aud: not a JWT, not checked (opaque token)"),
        Some(auds) => {
            s.summary = format!(
                "JWT aud = {}",
                if auds.is_empty() {
                    "(none)".to_owned()
                } else {
                    auds.join(", ")
                }
            );
            if s.failed() {
                wrong = Some(auds.join(", "));
            }
            t.summary.audience = Some(auds);
        }
    }
    t.end(s);
    wrong
}

/// Checks a JWT access token's audience (and, for the first token, notes
/// its claims); `None` if it is not a JWT.
pub(crate) fn check_audience<F>(
    t: &Tracer<'_, F>,
    s: &mut StepCtx,
    d: &Discovery,
    client: &Client,
    token: &str,
    after_refresh: bool,
) -> Option<Vec<String>> {
    let jwt = decode_jwt(token)?;
    let mcp = t.target.canonical.as_str();
    let issuer = d.auth_server.issuer.as_str();
    let Some(auds) = audiences(&jwt.claims).filter(|a| !a.is_empty()) else {
        s.push(diag::aud_missing(mcp));
        return Some(Vec::new());
    };
    let list = auds.join(", ");
    if auds.iter().any(|a| same_resource(a, mcp)) {
        s.note(format!("aud {list} (the MCP server)"));
    } else {
        let issuer_origin = Url::parse(issuer).map(|u| origin(&u)).unwrap_or_default();
        let is_authorization_server = auds.iter().any(|a| {
            same_resource(a, issuer)
                || (!issuer_origin.is_empty()
                    && same_resource(a, &issuer_origin)
                    && !same_resource(a, mcp))
        });
        s.push(diag::wrong_audience(&diag::WrongAudience {
            list: &list,
            mcp,
            is_authorization_server,
            is_client: auds.iter().any(|a| a == &client.id),
            resource_sent: resource_sent(t),
            after_refresh,
        }));
    }
    if !after_refresh {
        let claim = |k: &str| {
            jwt.claims.get(k).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        let mut parts = Vec::new();
        for k in ["iss", "sub", "client_id", "scope"] {
            if let Some(v) = claim(k) {
                parts.push(format!("{k} {v}"));
            }
        }
        if let Some(exp) = jwt.claims.get("exp").and_then(Value::as_i64) {
            parts.push(format!("exp {}", timefmt::rfc3339(exp)));
        }
        if let Some(typ) = jwt.header.get("typ").and_then(Value::as_str) {
            parts.push(format!("typ {typ}"));
        }
        s.note(format!("claims: {}", parts.join(", ")));
    }
    if let Some(iss) = jwt.claims.get("iss").and_then(Value::as_str)
        && iss != issuer
    {
        s.push(diag::jwt_iss_mismatch(iss, issuer));
    }
    Some(auds)
}
