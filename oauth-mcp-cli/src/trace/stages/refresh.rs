//! Step 12, refresh: the refresh grant, whether the refresh token rotated,
//! and the refreshed token's audience.

use oauth2::{RefreshToken, TokenResponse};

use crate::trace::diagnoses::tokens as diag;
use crate::trace::flow::Tracer;
use crate::trace::recorder::Exchange;
use crate::trace::report::Step;
use crate::trace::stages::client::Client;
use crate::trace::stages::code::OAuthClient;
use crate::trace::stages::discovery::Discovery;
use crate::trace::stages::tokens::{Tokens, check_audience, request_summary, resource_sent};

/// Runs step 12.
pub(crate) async fn run<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    d: &Discovery,
    client: &Client,
    oauth: &OAuthClient,
    tokens: &Tokens,
) {
    let mut s = t.begin("refresh");
    let Some(old) = tokens.refresh.as_deref() else {
        let advertised = d
            .auth_server
            .list("grant_types_supported")
            .is_some_and(|g| g.iter().any(|x| x == "refresh_token"));
        if advertised {
            s.push(diag::refresh_not_issued());
            s.summary = "no refresh token issued".into();
        } else {
            s.skip("no refresh token issued (the server does not offer refresh)");
        }
        t.end(s);
        return;
    };
    let rec = &t.rec;
    let http = |req: oauth2::HttpRequest| rec.oauth2_call(req);
    let rt = RefreshToken::new(old.to_owned());
    let mut req = oauth.exchange_refresh_token(&rt);
    if t.o.send_resource {
        req = req.add_extra_param("resource", t.target.resource.clone());
    }
    let result = req.request_async(&http).await;
    s.summary = request_summary(t, &d.auth_server.token_endpoint, "refresh_token");
    let tr = match result {
        Ok(tr) => tr,
        Err(e) => {
            s.push(diag::token_error(&e, "refresh_token", resource_sent(t)));
            t.end(s);
            return;
        }
    };
    let access = tr.access_token().secret().clone();
    t.rec.secret(&access);
    let new = tr.refresh_token().map(|r| r.secret().clone());
    if let Some(n) = &new {
        t.rec.secret(n);
    }
    let rotated = new.as_deref().is_some_and(|n| n != old);
    t.summary.refresh_token_rotated = Some(rotated);
    if rotated {
        s.note("new access token; the refresh token rotated");
    } else {
        s.push(diag::refresh_not_rotated(new.is_some(), client.public));
    }
    let _ = check_audience(t, &mut s, d, client, &access, true);
    t.end(s);
}
