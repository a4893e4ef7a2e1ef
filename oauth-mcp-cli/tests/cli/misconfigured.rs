//! `trace` against deliberately misconfigured servers: a small hand-written
//! MCP server + authorization server on axum whose [`Faults`] each break one
//! rule of the MCP authorization spec. Without faults it passes every step
//! (so each failure below is caused by its fault alone).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_mcp_cli::{Outcome, Status, TraceOptions};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::support::{assert_completed, assert_diagnosis, run_trace};

/// What the fake server gets wrong.
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    /// Access tokens carry the authorization server as `aud`.
    aud_is_as: bool,
    /// The MCP endpoint refuses tokens whose `aud` is not itself.
    mcp_checks_aud: bool,
    /// No protected-resource metadata anywhere.
    no_prm: bool,
    /// 401 without `WWW-Authenticate`.
    no_www_authenticate: bool,
    /// The bare 401 challenge carries `error="invalid_token"`.
    error_on_bare_challenge: bool,
    /// Registration refuses loopback redirect URIs.
    refuse_redirect_uri: bool,
    /// No `registration_endpoint`.
    no_registration: bool,
    /// No authorization-server metadata.
    no_as_metadata: bool,
    /// No `code_challenge_methods_supported`.
    no_pkce_methods: bool,
    /// `code_challenge_methods_supported: ["plain"]`.
    plain_pkce_only: bool,
    /// The redirect's `state` is altered.
    state_mismatch: bool,
    /// The redirect's `iss` is another issuer.
    iss_mismatch: bool,
    /// Refresh returns no new refresh token.
    no_rotation: bool,
}

#[derive(Debug)]
struct Fake {
    faults: Faults,
    base: String,
    counter: AtomicU64,
    /// code → (PKCE challenge, resource)
    codes: Mutex<HashMap<String, (String, Option<String>)>>,
    /// access token → audience
    access: Mutex<HashMap<String, String>>,
    refresh: Mutex<HashMap<String, String>>,
}

type Shared = Arc<Fake>;

impl Fake {
    fn mcp(&self) -> String {
        format!("{}/mcp", self.base)
    }

    fn fresh(&self, label: &str) -> String {
        format!(
            "{label}-{}-{}",
            self.counter.fetch_add(1, Ordering::SeqCst),
            std::process::id()
        )
    }

    /// A JWT (unsigned for this test: the tracer only decodes it).
    fn jwt(&self, aud: &str) -> String {
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"at+jwt"}"#);
        let c = URL_SAFE_NO_PAD.encode(
            json!({"iss": self.base, "aud": aud, "sub": "fake-user", "exp": 4_102_444_800u64, "jti": self.fresh("jti")})
                .to_string(),
        );
        format!("{h}.{c}.c2ln")
    }
}

fn json_resp(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        v.to_string(),
    )
        .into_response()
}

async fn prm(State(f): State<Shared>) -> Response {
    if f.faults.no_prm {
        return StatusCode::NOT_FOUND.into_response();
    }
    json_resp(
        StatusCode::OK,
        &json!({"resource": f.mcp(), "authorization_servers": [f.base], "scopes_supported": ["tools"]}),
    )
}

async fn as_metadata(State(f): State<Shared>) -> Response {
    if f.faults.no_as_metadata {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut m = json!({
        "issuer": f.base,
        "authorization_endpoint": format!("{}/authorize", f.base),
        "token_endpoint": format!("{}/token", f.base),
        "registration_endpoint": format!("{}/register", f.base),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "authorization_response_iss_parameter_supported": true,
    });
    if f.faults.plain_pkce_only {
        m["code_challenge_methods_supported"] = json!(["plain"]);
    }
    if f.faults.no_registration {
        m.as_object_mut().unwrap().remove("registration_endpoint");
    }
    if f.faults.no_pkce_methods {
        m.as_object_mut()
            .unwrap()
            .remove("code_challenge_methods_supported");
    }
    json_resp(StatusCode::OK, &m)
}

async fn register(State(f): State<Shared>, axum::Json(body): axum::Json<Value>) -> Response {
    let uris = body["redirect_uris"].clone();
    if f.faults.refuse_redirect_uri {
        return json_resp(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_redirect_uri", "error_description": "only https redirect URIs are accepted"}),
        );
    }
    json_resp(
        StatusCode::CREATED,
        &json!({"client_id": f.fresh("client"), "redirect_uris": uris, "token_endpoint_auth_method": "none"}),
    )
}

/// Approves at once: redirect with code, state and iss.
async fn authorize(State(f): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let (Some(redirect), Some(challenge)) = (q.get("redirect_uri"), q.get("code_challenge")) else {
        return (
            StatusCode::BAD_REQUEST,
            "missing redirect_uri or code_challenge",
        )
            .into_response();
    };
    let code = f.fresh("code");
    f.codes.lock().unwrap().insert(
        code.clone(),
        (challenge.clone(), q.get("resource").cloned()),
    );
    let mut u = url::Url::parse(redirect).unwrap();
    let state = q.get("state").cloned().unwrap_or_default();
    let state = if f.faults.state_mismatch {
        format!("{state}x")
    } else {
        state
    };
    let iss = if f.faults.iss_mismatch {
        "https://evil.example".to_owned()
    } else {
        f.base.clone()
    };
    u.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state)
        .append_pair("iss", &iss);
    (StatusCode::SEE_OTHER, [(header::LOCATION, u.to_string())]).into_response()
}

async fn token(State(f): State<Shared>, Form(p): Form<HashMap<String, String>>) -> Response {
    let bad = |e: &str| json_resp(StatusCode::BAD_REQUEST, &json!({"error": e}));
    let resource = match p.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some((challenge, resource)) = p
                .get("code")
                .and_then(|c| f.codes.lock().unwrap().remove(c))
            else {
                return bad("invalid_grant");
            };
            let verifier = p.get("code_verifier").cloned().unwrap_or_default();
            if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
                return bad("invalid_grant");
            }
            resource
        }
        Some("refresh_token") => match p
            .get("refresh_token")
            .and_then(|r| f.refresh.lock().unwrap().get(r).cloned())
        {
            Some(aud) => Some(aud),
            None => return bad("invalid_grant"),
        },
        _ => return bad("unsupported_grant_type"),
    };
    let aud = if f.faults.aud_is_as {
        f.base.clone()
    } else {
        resource.unwrap_or_else(|| f.mcp())
    };
    let access = f.jwt(&aud);
    f.access.lock().unwrap().insert(access.clone(), aud.clone());
    let mut body = json!({"access_token": access, "token_type": "Bearer", "expires_in": 3600});
    let presented = p.get("refresh_token").cloned();
    if presented.is_none() || !f.faults.no_rotation {
        let rt = f.fresh("refresh");
        f.refresh.lock().unwrap().insert(rt.clone(), aud);
        body["refresh_token"] = json!(rt);
    }
    json_resp(StatusCode::OK, &body)
}

async fn mcp(
    State(f): State<Shared>,
    headers: HeaderMap,
    axum::Json(msg): axum::Json<Value>,
) -> Response {
    let prm_url = format!("{}/.well-known/oauth-protected-resource/mcp", f.base);
    let challenge = |err: Option<&str>| {
        let mut c = format!("Bearer resource_metadata=\"{prm_url}\", scope=\"tools\"");
        if let Some(e) = err {
            c.push_str(&format!(
                ", error=\"invalid_token\", error_description=\"{e}\""
            ));
        }
        c
    };
    let unauthorized = |err: Option<&str>| {
        let mut r = json_resp(StatusCode::UNAUTHORIZED, &json!({"error": "invalid_token"}));
        if !f.faults.no_www_authenticate {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge(err).parse().unwrap());
        }
        r
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return unauthorized(f.faults.error_on_bare_challenge.then_some("no token"));
    };
    let Some(aud) = f.access.lock().unwrap().get(token).cloned() else {
        return unauthorized(Some("unknown token"));
    };
    if f.faults.mcp_checks_aud && aud != f.mcp() {
        return unauthorized(Some("the token audience is not this server"));
    }
    let id = msg.get("id").cloned();
    let result = match msg["method"].as_str() {
        Some("initialize") => json!({
            "protocolVersion": msg["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fake", "version": "0"},
        }),
        Some("tools/list") => {
            json!({"tools": [{"name": "ping", "inputSchema": {"type": "object"}}]})
        }
        _ if id.is_none() => return StatusCode::ACCEPTED.into_response(),
        _ => {
            return json_resp(
                StatusCode::OK,
                &json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "no such method"}}),
            );
        }
    };
    json_resp(
        StatusCode::OK,
        &json!({"jsonrpc": "2.0", "id": id, "result": result}),
    )
}

/// Starts the fake on `127.0.0.1:0`; returns its MCP URL.
async fn start(faults: Faults) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Fake {
        faults,
        base: base.clone(),
        counter: AtomicU64::new(0),
        codes: Mutex::default(),
        access: Mutex::default(),
        refresh: Mutex::default(),
    });
    let app = Router::new()
        .route("/mcp", post(mcp))
        .route("/.well-known/oauth-protected-resource/mcp", get(prm))
        .route("/.well-known/oauth-protected-resource", get(prm))
        .route("/.well-known/oauth-authorization-server", get(as_metadata))
        .route("/register", post(register))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("{base}/mcp")
}

async fn trace_fake(faults: Faults) -> oauth_mcp_cli::TraceReport {
    let url = start(faults).await;
    run_trace(&TraceOptions::new(url)).await
}

#[tokio::test]
async fn healthy_fake_passes() {
    let r = trace_fake(Faults::default()).await;
    assert_completed(&r);
    assert_eq!(r.outcome(), Outcome::Ok, "{}", r.render_text(false));
}

#[tokio::test]
async fn token_audience_is_the_authorization_server() {
    let r = trace_fake(Faults {
        aud_is_as: true,
        ..Faults::default()
    })
    .await;
    assert_diagnosis(&r, "token audience", "aud-is-authorization-server");
    let d = r.diagnosis("aud-is-authorization-server").unwrap();
    assert!(d.cause.contains("client omitted resource"), "{d:?}");
    assert!(d.cause.contains("sent resource="), "{d:?}");
    // This MCP endpoint does not check aud: that is diagnosed too.
    assert_diagnosis(&r, "MCP initialize", "mcp-accepts-wrong-audience");
    // The refreshed token has the same defect.
    assert_diagnosis(&r, "refresh", "refresh-aud-mismatch");
}

#[tokio::test]
async fn token_audience_is_the_authorization_server_without_resource() {
    let url = start(Faults {
        aud_is_as: true,
        mcp_checks_aud: true,
        ..Faults::default()
    })
    .await;
    let r = run_trace(&TraceOptions {
        send_resource: false,
        ..TraceOptions::new(url)
    })
    .await;
    let d = r.diagnosis("aud-is-authorization-server").unwrap();
    assert!(
        d.cause.contains("omitted resource (--no-resource)"),
        "{d:?}"
    );
    // An MCP endpoint that checks aud refuses it, and the diagnosis says why.
    assert_diagnosis(&r, "MCP initialize", "mcp-token-refused");
    assert!(
        r.diagnosis("mcp-token-refused")
            .unwrap()
            .cause
            .contains("audience")
    );
    assert_eq!(r.step("tools/list").unwrap().status, Status::Skipped);
}

#[tokio::test]
async fn no_protected_resource_metadata() {
    let r = trace_fake(Faults {
        no_prm: true,
        ..Faults::default()
    })
    .await;
    assert_diagnosis(&r, "PRM", "prm-not-found");
    let d = r.diagnosis("prm-not-found").unwrap();
    // The challenge named the URL; the diagnosis names it and its 404.
    assert!(
        d.problem
            .contains("/.well-known/oauth-protected-resource/mcp → 404"),
        "{d:?}"
    );
    // The trace went on as a 2025-03-26 client would and found nothing else wrong.
    assert_eq!(r.steps.len(), 12, "{}", r.render_text(false));
    assert_eq!(r.diagnoses().count(), 1, "{}", r.render_text(false));
}

#[tokio::test]
async fn unauthorized_without_www_authenticate() {
    let r = trace_fake(Faults {
        no_www_authenticate: true,
        ..Faults::default()
    })
    .await;
    assert_diagnosis(&r, "MCP challenge", "no-www-authenticate");
    // The well-known fallback found the metadata, so the rest passed.
    assert_eq!(
        r.step("PRM").unwrap().status,
        Status::Ok,
        "{}",
        r.render_text(false)
    );
    assert_eq!(r.steps.len(), 12);
}

#[tokio::test]
async fn registration_refuses_the_redirect_uri() {
    let r = trace_fake(Faults {
        refuse_redirect_uri: true,
        ..Faults::default()
    })
    .await;
    assert_diagnosis(&r, "registration", "redirect-uri-refused");
    assert!(
        r.diagnosis("redirect-uri-refused")
            .unwrap()
            .problem
            .contains("only https")
    );
    assert_eq!(r.steps.len(), 4, "the trace stops at registration");
}

#[tokio::test]
async fn no_registration_endpoint() {
    let r = trace_fake(Faults {
        no_registration: true,
        ..Faults::default()
    })
    .await;
    assert_diagnosis(&r, "registration", "registration-unavailable");
    assert!(
        r.diagnosis("registration-unavailable")
            .unwrap()
            .fix
            .contains("--client-id")
    );
}

#[tokio::test]
async fn no_authorization_server_metadata() {
    let r = trace_fake(Faults {
        no_as_metadata: true,
        ..Faults::default()
    })
    .await;
    assert_diagnosis(&r, "AS metadata", "as-metadata-not-found");
    let p = &r.diagnosis("as-metadata-not-found").unwrap().problem;
    assert!(
        p.contains("/.well-known/oauth-authorization-server → 404"),
        "{p}"
    );
    assert!(p.contains("/.well-known/openid-configuration → 404"), "{p}");
}

#[tokio::test]
async fn pkce_methods_not_advertised() {
    let r = trace_fake(Faults {
        no_pkce_methods: true,
        ..Faults::default()
    })
    .await;
    assert_diagnosis(&r, "AS metadata", "pkce-not-advertised");
}

#[tokio::test]
async fn pkce_without_s256() {
    let r = trace_fake(Faults {
        plain_pkce_only: true,
        ..Faults::default()
    })
    .await;
    assert_diagnosis(&r, "AS metadata", "pkce-no-s256");
}

#[tokio::test]
async fn state_and_iss_mismatch() {
    let r = trace_fake(Faults {
        state_mismatch: true,
        iss_mismatch: true,
        ..Faults::default()
    })
    .await;
    assert_diagnosis(&r, "redirect", "state-mismatch");
    assert_diagnosis(&r, "redirect", "iss-mismatch");
}

#[tokio::test]
async fn refresh_token_not_rotated() {
    let r = trace_fake(Faults {
        no_rotation: true,
        ..Faults::default()
    })
    .await;
    assert_diagnosis(&r, "refresh", "refresh-not-rotated");
    assert_eq!(r.summary.refresh_token_rotated, Some(false));
}

#[tokio::test]
async fn error_code_on_a_bare_challenge_is_a_warning() {
    let r = trace_fake(Faults {
        error_on_bare_challenge: true,
        ..Faults::default()
    })
    .await;
    assert_completed(&r);
    assert_eq!(r.outcome(), Outcome::Warnings);
    assert_eq!(r.step("MCP challenge").unwrap().status, Status::Warning);
    assert!(r.diagnosis("error-on-bare-challenge").is_some());
}
