//! Step 4, the client: the redirect URI (a loopback listener for a browser
//! login), then dynamic client registration (RFC 7591) or the pre-registered
//! `--client-id`. Yields a [`Client`].

use oauth2::AuthType;
use serde_json::{Value, json};

use crate::trace::browser::Callback;
use crate::trace::diagnoses::client as diag;
use crate::trace::flow::{Stop, Tracer, error_summary, str_list};
use crate::trace::options::{DEFAULT_REDIRECT_URI, Login};
use crate::trace::recorder::Exchange;
use crate::trace::report::Step;
use crate::trace::stages::discovery::Discovery;

/// The OAuth client the flow goes on with.
pub(crate) struct Client {
    /// The client id.
    pub(crate) id: String,
    /// The client secret (confidential clients).
    pub(crate) secret: Option<String>,
    /// How it authenticates at the token endpoint.
    pub(crate) auth_type: AuthType,
    /// True for a public client (no secret).
    pub(crate) public: bool,
    /// The redirect URI registered and sent.
    pub(crate) redirect_uri: String,
    /// The loopback listener of a browser login.
    pub(crate) callback: Option<Callback>,
}

/// Runs step 4.
pub(crate) async fn run<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    d: &Discovery,
) -> Result<Client, Stop> {
    let mut s = t.begin("registration");
    // The redirect URI first (a browser login listens on a free port).
    let (redirect_uri, callback) = match &t.o.login {
        Login::Browser { .. } => match Callback::bind(t.o.redirect_uri.as_deref()).await {
            Ok(cb) => (cb.redirect_uri.to_string(), Some(cb)),
            Err(e) => {
                s.push(diag::browser_listener(e));
                return Err(t.stop(s));
            }
        },
        Login::Form { .. } => (
            t.o.redirect_uri
                .clone()
                .unwrap_or_else(|| DEFAULT_REDIRECT_URI.to_owned()),
            None,
        ),
    };
    t.summary.redirect_uri = Some(redirect_uri.clone());
    let methods = d.auth_server.list("token_endpoint_auth_methods_supported");
    let supports = |m: &str| methods.as_ref().is_none_or(|l| l.iter().any(|x| x == m));
    let mut client = Client {
        id: String::new(),
        secret: None,
        auth_type: AuthType::BasicAuth,
        public: true,
        redirect_uri,
        callback,
    };
    if let Some(id) = t.o.client_id.clone() {
        client.secret = t.o.client_secret.clone();
        client.public = client.secret.is_none();
        if let Some(sec) = &client.secret {
            t.rec.secret(sec);
        }
        if !supports("client_secret_basic") && supports("client_secret_post") {
            client.auth_type = AuthType::RequestBody;
        }
        s.summary = format!(
            "pre-registered {} client `{id}` (--client-id), no registration",
            if client.public {
                "public"
            } else {
                "confidential"
            }
        );
        t.summary.client_id = Some(id.clone());
        client.id = id;
        t.end(s);
        return Ok(client);
    }
    let Some(reg) = d
        .auth_server
        .member("registration_endpoint")
        .map(str::to_owned)
    else {
        let cimd = d.auth_server.flag("client_id_metadata_document_supported");
        s.push(diag::registration_unavailable(cimd));
        return Err(t.stop(s));
    };
    let method = if supports("none") {
        "none"
    } else if supports("client_secret_basic") {
        "client_secret_basic"
    } else {
        "client_secret_post"
    };
    if method != "none" {
        s.push(diag::no_public_clients(
            &methods.clone().unwrap_or_default(),
        ));
    }
    let mut body = json!({
        "client_name": t.o.client_name,
        "redirect_uris": [client.redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    });
    if let Some(sc) = d.requested_scope(t.o.scope.as_deref()) {
        body["scope"] = json!(sc);
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let r = match t
        .post(&reg, "application/json", "application/json", bytes)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            s.push(diag::registration_unreachable(&reg, &e));
            return Err(t.stop(s));
        }
    };
    let doc = r.json().unwrap_or(Value::Null);
    let client_id = doc
        .get("client_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match (r.status, client_id) {
        (200 | 201, Some(id)) => {
            if r.status == 200 {
                s.note("RFC 7591 §3.2.1 says 201 Created (200 works with most clients)");
            }
            if let Some(sec) = doc.get("client_secret").and_then(Value::as_str) {
                t.rec.secret(sec);
                client.secret = Some(sec.to_owned());
                client.public = false;
            }
            if let Some(uris) = str_list(&doc, "redirect_uris")
                && !uris.iter().any(|u| u == &client.redirect_uri)
            {
                s.push(diag::registration_redirect_changed(
                    &uris,
                    &client.redirect_uri,
                ));
            }
            let m = doc
                .get("token_endpoint_auth_method")
                .and_then(Value::as_str)
                .unwrap_or(method);
            if m == "client_secret_post" {
                client.auth_type = AuthType::RequestBody;
            }
            s.note(format!("client_id {id} ({m})"));
            t.summary.client_id = Some(id.clone());
            t.summary.dynamically_registered = true;
            s.summary = format!("POST {reg} → {}", r.status);
            client.id = id;
            t.end(s);
            Ok(client)
        }
        (200 | 201, None) => {
            s.push(diag::registration_without_client_id(r.status));
            Err(t.stop(s))
        }
        (status, _) => {
            let err = doc.get("error").and_then(Value::as_str).unwrap_or_default();
            let answer = error_summary(&r);
            s.push(
                if err == "invalid_redirect_uri"
                    || (err.is_empty() && answer.to_ascii_lowercase().contains("redirect"))
                {
                    diag::registration_refused_redirect_uri(&client.redirect_uri, status, &answer)
                } else if status == 401 || status == 403 {
                    diag::registration_needs_authorization(status, &answer)
                } else {
                    diag::registration_refused(status, &answer)
                },
            );
            Err(t.stop(s))
        }
    }
}
