//! The OAuth client steps over HTTP (register → GET /authorize → POST
//! /authorize → POST /token, and refresh), and the token-endpoint workloads
//! built from them.

use async_trait::async_trait;
use oauth_mcp_core::pkce::s256_challenge;

use crate::client::{Conn, Error, Reply};
use crate::load::Workload;

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const FORM: &str = "application/x-www-form-urlencoded";

/// Access and refresh token.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    /// The access token.
    pub(crate) access: String,
    /// The refresh token.
    pub(crate) refresh: String,
}

fn expect(r: &Reply, status: u16, what: &str) -> Result<(), Error> {
    if r.status.as_u16() == status {
        Ok(())
    } else {
        Err(format!(
            "{what}: status {} (expected {status}): {}",
            r.status,
            String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
        )
        .into())
    }
}

fn str_field(v: &serde_json::Value, name: &str, what: &str) -> Result<String, Error> {
    v[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{what}: no `{name}` in {v}").into())
}

/// `POST /register` (public client, code + refresh grants); the client id.
pub(crate) async fn register(conn: &mut Conn) -> Result<String, Error> {
    let body = format!(
        r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"client_name":"loadtest"}}"#
    );
    let r = conn.post("/register", "application/json", body).await?;
    expect(&r, 201, "register")?;
    str_field(&r.json(), "client_id", "register")
}

/// PKCE verifier used by every flow (its challenge is what the server checks).
pub(crate) const VERIFIER: &str =
    "loadtest-verifier-loadtest-verifier-loadtest-verifier-0123456789";

/// `GET /authorize`; the login page's `request_id`.
pub(crate) async fn authorize_get(conn: &mut Conn, client_id: &str) -> Result<String, Error> {
    let challenge = s256_challenge(VERIFIER);
    let q = format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={REDIRECT}&code_challenge={challenge}&code_challenge_method=S256&state=s&scope=mcp"
    );
    let r = conn.get(&q).await?;
    expect(&r, 200, "GET /authorize")?;
    let html = String::from_utf8_lossy(&r.body);
    let marker = "name=\"request_id\" value=\"";
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .ok_or("GET /authorize: no request_id in the login page")?;
    let end = html[start..]
        .find('"')
        .ok_or("GET /authorize: unterminated request_id")?;
    Ok(html[start..start + end].to_owned())
}

/// `POST /authorize` (log in and approve); the code.
pub(crate) async fn authorize_post(
    conn: &mut Conn,
    request_id: &str,
    user: &str,
    password: &str,
) -> Result<String, Error> {
    let body =
        format!("request_id={request_id}&username={user}&password={password}&action=approve");
    let r = conn.post("/authorize", FORM, body).await?;
    expect(&r, 303, "POST /authorize")?;
    let loc = r.header("location").unwrap_or_default();
    loc.split("code=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("POST /authorize: no code in `{loc}`").into())
}

fn tokens(r: &Reply, what: &str) -> Result<Tokens, Error> {
    expect(r, 200, what)?;
    let v = r.json();
    Ok(Tokens {
        access: str_field(&v, "access_token", what)?,
        refresh: str_field(&v, "refresh_token", what)?,
    })
}

/// `POST /token` with the code.
pub(crate) async fn exchange(
    conn: &mut Conn,
    client_id: &str,
    code: &str,
) -> Result<Tokens, Error> {
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}&client_id={client_id}"
    );
    let r = conn.post("/token", FORM, body).await?;
    tokens(&r, "POST /token (code)")
}

/// `POST /token` with a refresh token (rotation).
pub(crate) async fn refresh(
    conn: &mut Conn,
    client_id: &str,
    refresh: &str,
) -> Result<Tokens, Error> {
    let body = format!("grant_type=refresh_token&refresh_token={refresh}&client_id={client_id}");
    let r = conn.post("/token", FORM, body).await?;
    tokens(&r, "POST /token (refresh)")
}

/// The whole code flow for a new client; its id and tokens.
pub(crate) async fn code_flow(
    conn: &mut Conn,
    user: &str,
    password: &str,
) -> Result<(String, Tokens), Error> {
    let client_id = register(conn).await?;
    let rid = authorize_get(conn, &client_id).await?;
    let code = authorize_post(conn, &rid, user, password).await?;
    let t = exchange(conn, &client_id, &code).await?;
    Ok((client_id, t))
}

/// The user the `as` server's fixed-cost authenticator accepts.
pub(crate) const USER: (&str, &str) = ("u", "p");

/// One operation = the full code flow (four requests).
pub(crate) struct CodeFlow;

#[async_trait]
impl Workload for CodeFlow {
    type State = ();
    async fn prepare(&self, _conn: &mut Conn) -> Result<(), Error> {
        Ok(())
    }
    async fn op(&self, conn: &mut Conn, _state: &mut ()) -> Result<bool, Error> {
        code_flow(conn, USER.0, USER.1).await?;
        Ok(true)
    }
}

/// One operation = one refresh-token rotation (each connection owns a grant).
pub(crate) struct Refresh;

#[async_trait]
impl Workload for Refresh {
    type State = (String, String);
    async fn prepare(&self, conn: &mut Conn) -> Result<(String, String), Error> {
        let (client_id, t) = code_flow(conn, USER.0, USER.1).await?;
        Ok((client_id, t.refresh))
    }
    async fn op(&self, conn: &mut Conn, state: &mut (String, String)) -> Result<bool, Error> {
        let t = refresh(conn, &state.0, &state.1).await?;
        state.1 = t.refresh;
        Ok(true)
    }
}
