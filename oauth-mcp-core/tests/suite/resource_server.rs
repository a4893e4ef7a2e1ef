//! `ResourceServer` through its public API: the start-up agreement checks in
//! both modes, per-operation scopes (tools, resources and URI templates,
//! prompts; body and `Mcp-Method`/`Mcp-Name` headers), the metadata it
//! serves, and the exact refusals (status, error, challenge).

use std::sync::Arc;

use async_trait::async_trait;
use http::HeaderMap;
use oauth_mcp_core::http::{Endpoints, OAuthHttp, Protection, protect};
use oauth_mcp_core::resource::ResourceUri;
use oauth_mcp_core::scope::{ScopeHierarchy, ScopeSet};
use oauth_mcp_core::store::MemoryStore;
use oauth_mcp_core::validate::{AuthContext, Identity, TokenRejection, TokenValidator};
use oauth_mcp_core::{AuthServer, ErrorCode, ResourceServer, ServerConfig};

use crate::support::req;

const RESOURCE: &str = "https://mcp.example/api/mcp";
const ISSUER: &str = "https://idp.example/realms/x";

/// Accepts `Bearer scopes:<space-separated scopes>`; reports its binding.
struct Fixed {
    issuer: String,
    audience: ResourceUri,
}

fn fixed() -> Fixed {
    Fixed {
        issuer: ISSUER.into(),
        audience: ResourceUri::parse(RESOURCE).unwrap(),
    }
}

#[async_trait]
impl TokenValidator for Fixed {
    async fn validate(&self, token: &str) -> Result<AuthContext, TokenRejection> {
        let scopes = token
            .strip_prefix("scopes:")
            .ok_or_else(|| TokenRejection::Malformed(r#"not a "scopes:" token"#.into()))?;
        Ok(AuthContext::new(Identity {
            subject: "alice".into(),
            client_id: "c".into(),
            scopes: ScopeSet::parse(&scopes.replace('+', " ")).unwrap(),
            audience: self.audience.as_str().into(),
            issuer: self.issuer.as_str().into(),
            expires_at: i64::MAX,
            token_id: None,
        }))
    }
    fn issuer(&self) -> Option<&str> {
        Some(&self.issuer)
    }
    fn audience(&self) -> Option<&ResourceUri> {
        Some(&self.audience)
    }
}

fn external() -> oauth_mcp_core::ResourceServerBuilder {
    ResourceServer::builder(RESOURCE)
        .authorization_server(ISSUER)
        .validator(fixed())
}

fn headers(token: Option<&str>, extra: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(t) = token {
        h.insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    for (k, v) in extra {
        h.insert(*k, v.parse().unwrap());
    }
    h
}

fn field(b: oauth_mcp_core::ResourceServerBuilder) -> &'static str {
    b.build().unwrap_err().field
}

#[test]
fn disagreements_refuse_to_start_naming_the_value() {
    assert!(external().build().is_ok());
    // No authorization server, no validator, a non-canonical resource.
    assert_eq!(
        field(ResourceServer::builder(RESOURCE).validator(fixed())),
        "authorization_servers"
    );
    assert_eq!(
        field(ResourceServer::builder(RESOURCE).authorization_server(ISSUER)),
        "validator"
    );
    let e = ResourceServer::builder("https://MCP.example/api/mcp/")
        .authorization_server(ISSUER)
        .validator(fixed())
        .build()
        .unwrap_err();
    assert_eq!(e.field, "resource");
    assert!(e.reason.contains("`https://mcp.example/api/mcp`"), "{e}");
    // The validator's audience and issuer must be this resource and one of its servers.
    let other_aud = Fixed {
        audience: ResourceUri::parse("https://mcp.example/other").unwrap(),
        ..fixed()
    };
    let e = ResourceServer::builder(RESOURCE)
        .authorization_server(ISSUER)
        .validator(other_aud)
        .build()
        .unwrap_err();
    assert_eq!(e.field, "validator");
    assert!(e.reason.contains("https://mcp.example/other"), "{e}");
    let e = ResourceServer::builder(RESOURCE)
        .authorization_server("https://elsewhere.example")
        .validator(fixed())
        .build()
        .unwrap_err();
    assert_eq!(e.field, "validator");
    assert!(e.reason.contains(ISSUER), "{e}");
    // Scopes outside scopes_supported, bad templates, insecure http, bad issuers.
    assert_eq!(
        field(external().scopes_supported(["mcp"]).required_scopes(["x"])),
        "required_scopes"
    );
    assert_eq!(
        field(external().scopes_supported(["mcp"]).tool_scopes("t", ["x"])),
        "tool_scopes"
    );
    assert_eq!(
        field(external().resource_scopes("repo://{owner", ["mcp"])),
        "resource_scopes"
    );
    assert_eq!(
        field(
            external()
                .scopes_supported(["mcp"])
                .prompt_scopes("p", ["x"])
        ),
        "prompt_scopes"
    );
    assert_eq!(
        field(
            ResourceServer::builder("http://mcp.example/mcp")
                .authorization_server(ISSUER)
                .validator(fixed())
        ),
        "resource"
    );
    assert_eq!(
        field(
            ResourceServer::builder(RESOURCE)
                .authorization_server("https://idp.example/x/")
                .validator(fixed())
        ),
        "authorization_servers"
    );
}

#[tokio::test]
async fn embedded_mode_feeds_issuer_validator_and_scopes_and_checks_them() {
    let cfg = ServerConfig::builder("https://h.example/base")
        .scopes_supported(["mcp", "admin", "offline_access"])
        .default_scopes(["mcp"])
        .build()
        .unwrap();
    let server = AuthServer::new(cfg, Arc::new(MemoryStore::new())).unwrap();
    let rs = ResourceServer::for_auth_server(&server)
        .required_scopes(["mcp"])
        .build()
        .unwrap();
    assert_eq!(rs.resource().as_str(), "https://h.example/base/mcp");
    assert_eq!(rs.mcp_path(), "/base/mcp");
    let md = serde_json::to_value(rs.metadata()).unwrap();
    assert_eq!(
        md["authorization_servers"],
        serde_json::json!(["https://h.example/base"])
    );
    assert_eq!(md["scopes_supported"], serde_json::json!(["admin", "mcp"]));
    // A bare challenge asks for the required and the default scopes.
    let r = rs.check(&headers(None, &[]), None, None).await.unwrap_err();
    assert_eq!(
        r.challenge,
        "Bearer resource_metadata=\"https://h.example/.well-known/oauth-protected-resource/base/mcp\", scope=\"mcp\""
    );
    // The embedded server's scopes bound what the resource may require.
    let e = ResourceServer::for_auth_server(&server)
        .tool_scopes("t", ["nope"])
        .build()
        .unwrap_err();
    assert_eq!(e.field, "tool_scopes");
    // Its local validator is bound to the default resource: another is refused.
    let e = ResourceServer::for_auth_server(&server)
        .validator(fixed())
        .build()
        .unwrap_err();
    assert_eq!(e.field, "validator");
    // The AS metadata and the resource metadata are served by different handlers.
    let oauth = OAuthHttp::new(server);
    assert!(
        !oauth
            .paths()
            .iter()
            .any(|p| p.starts_with("/.well-known/oauth-protected-resource")),
        "{:?}",
        oauth.paths()
    );
}

#[tokio::test]
async fn per_operation_scopes_name_everything_needed() {
    let rs = external()
        .scopes_supported(["mcp", "admin", "repo:read", "repo:secret", "prompts"])
        .required_scopes(["mcp"])
        .tool_scopes("admin_echo", ["admin"])
        .resource_scopes("repo://{owner}/{name}", ["repo:read"])
        .resource_scopes("repo://acme/vault", ["repo:secret"])
        .prompt_scopes("release_notes", ["prompts"])
        .scope_hierarchy(ScopeHierarchy::new().with("admin", ["mcp"]))
        .build()
        .unwrap();
    let post = http::Request::post("/api/mcp")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    assert_eq!(rs.body_limit(&post), Some(64 * 1024));
    let get = http::Request::get("/api/mcp")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    assert_eq!(rs.body_limit(&get), None);

    let check =
        |token: &'static str, extra: Vec<(&'static str, &'static str)>, body: &'static str| {
            let rs = rs.clone();
            async move {
                rs.check(&headers(Some(token), &extra), None, Some(body.as_bytes()))
                    .await
            }
        };
    // A tool: admin implies mcp, so "admin" alone passes.
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_echo"}}"#;
    assert!(check("scopes:admin", vec![], call).await.is_ok());
    let r = check("scopes:mcp", vec![], call).await.unwrap_err();
    assert_eq!(
        (r.status, r.error.map(|e| e.as_str())),
        (403, Some("insufficient_scope"))
    );
    assert!(
        r.challenge.contains("scope=\"admin mcp\""),
        "{}",
        r.challenge
    );
    assert!(
        r.challenge.contains("error=\"insufficient_scope\""),
        "{}",
        r.challenge
    );

    // Resources: exact entries and every matching template add up.
    let read = r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"repo://acme/vault"}}"#;
    let r = check("scopes:mcp+repo:read", vec![], read)
        .await
        .unwrap_err();
    assert!(
        r.challenge.contains("scope=\"mcp repo:read repo:secret\""),
        "{}",
        r.challenge
    );
    assert!(
        check("scopes:mcp+repo:read+repo:secret", vec![], read)
            .await
            .is_ok()
    );
    let other =
        r#"{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"repo://acme/site"}}"#;
    assert!(check("scopes:mcp+repo:read", vec![], other).await.is_ok());

    // Prompts, inside a batch.
    let batch = r#"[{"jsonrpc":"2.0","id":4,"method":"tools/list"},
        {"jsonrpc":"2.0","id":5,"method":"prompts/get","params":{"name":"release_notes"}}]"#;
    let r = check("scopes:mcp", vec![], batch).await.unwrap_err();
    assert!(r.description.contains("`prompts`"), "{}", r.description);

    // 2026-07-28 headers count too, even when the body says otherwise.
    let list = r#"{"jsonrpc":"2.0","id":6,"method":"tools/list"}"#;
    let hdrs = vec![("mcp-method", "tools/call"), ("mcp-name", "admin_echo")];
    assert_eq!(
        check("scopes:mcp", hdrs, list).await.unwrap_err().status,
        403
    );
    let hdrs = vec![("mcp-method", "resources/read"), ("mcp-name", "repo://a/b")];
    assert_eq!(
        check("scopes:mcp", hdrs, list).await.unwrap_err().status,
        403
    );
    assert!(check("scopes:mcp", vec![], list).await.is_ok());
}

#[tokio::test]
async fn refusals_have_exact_status_error_and_challenge() {
    let rs = external().required_scopes(["mcp"]).build().unwrap();
    let md = "https://mcp.example/.well-known/oauth-protected-resource/api/mcp";
    // No token: a bare challenge (no error), with the required scopes.
    let r = rs.check(&headers(None, &[]), None, None).await.unwrap_err();
    assert_eq!((r.status, r.error), (401, None));
    assert_eq!(
        r.challenge,
        format!("Bearer resource_metadata=\"{md}\", scope=\"mcp\"")
    );
    // Any case of the scheme is read; a bad token is invalid_token, and its
    // description is escaped as an RFC 9110 quoted-string.
    let mut h = HeaderMap::new();
    h.insert("authorization", "bEaReR nope".parse().unwrap());
    let r = rs.check(&h, None, None).await.unwrap_err();
    assert_eq!(r.status, 401);
    assert_eq!(
        r.challenge,
        format!(
            "Bearer resource_metadata=\"{md}\", scope=\"mcp\", error=\"invalid_token\", error_description=\"the access token is malformed: not a \\\"scopes:\\\" token\""
        )
    );
    // A token beyond ASCII (valid UTF-8 or not): invalid_token, saying so.
    for v in [&b"Bearer \xc3\xa9t"[..], b"Bearer t\xff"] {
        h.insert("authorization", http::HeaderValue::from_bytes(v).unwrap());
        let r = rs.check(&h, None, None).await.unwrap_err();
        assert_eq!((r.status, r.error), (401, Some(ErrorCode::InvalidToken)));
        assert_eq!(
            r.challenge,
            format!(
                "Bearer resource_metadata=\"{md}\", scope=\"mcp\", error=\"invalid_token\", error_description=\"the Authorization header is not ASCII\""
            )
        );
    }
    h.insert("authorization", "BEARER scopes:mcp".parse().unwrap());
    assert_eq!(&*rs.check(&h, None, None).await.unwrap().subject, "alice");
    // Tokens in the query string: 400 invalid_request.
    let r = rs
        .check(&headers(None, &[]), Some("access_token=scopes:mcp"), None)
        .await
        .unwrap_err();
    assert_eq!(
        (r.status, r.error.map(|e| e.as_str())),
        (400, Some("invalid_request"))
    );
    // The HTTP face: the same refusal as a response with CORS headers, and
    // preflights answered without a token.
    let parts = http::Request::post("/api/mcp")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let Protection::Respond(resp) = protect(&rs, &parts, None).await else {
        panic!("no token must be refused");
    };
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let opts = http::Request::options("/api/mcp")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let Protection::Respond(resp) = protect(&rs, &opts, None).await else {
        panic!("a preflight is answered");
    };
    assert_eq!(resp.status(), 204);
}

#[tokio::test]
async fn metadata_is_served_at_its_well_known_paths() {
    let rs = external()
        .scopes_supported(["mcp", "offline_access"])
        .resource_name("Example")
        .build()
        .unwrap();
    assert_eq!(
        rs.metadata_url(),
        "https://mcp.example/.well-known/oauth-protected-resource/api/mcp"
    );
    assert_eq!(
        rs.paths(),
        vec![
            "/.well-known/oauth-protected-resource/api/mcp",
            "/.well-known/oauth-protected-resource"
        ]
    );
    let r = Endpoints::handle(
        &rs,
        req(
            "GET",
            "/.well-known/oauth-protected-resource/api/mcp",
            None,
            "",
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(v["resource"], RESOURCE);
    assert_eq!(v["authorization_servers"], serde_json::json!([ISSUER]));
    assert_eq!(v["scopes_supported"], serde_json::json!(["mcp"]));
    assert_eq!(v["resource_name"], "Example");
    let r = Endpoints::handle(
        &rs,
        req("POST", "/.well-known/oauth-protected-resource", None, ""),
    )
    .await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET");
}

#[tokio::test]
async fn an_mcp_path_that_collides_with_the_authorization_server_refuses_to_start() {
    let cfg = ServerConfig::builder("http://127.0.0.1:8080")
        .mcp_path("/token")
        .build()
        .unwrap();
    let server = AuthServer::new(cfg, Arc::new(MemoryStore::new())).unwrap();
    let e = ResourceServer::for_auth_server(&server)
        .build()
        .unwrap_err();
    assert_eq!(e.field, "resource");
    assert!(e.reason.contains("`/token`"), "{e}");
    // Under /.well-known/ the metadata would shadow it.
    let e = ResourceServer::builder("https://mcp.example/.well-known/mcp")
        .authorization_server(ISSUER)
        .validator(fixed())
        .build()
        .unwrap_err();
    assert_eq!(e.field, "resource");
}

#[tokio::test]
async fn offline_access_in_an_external_token_grants_nothing_here() {
    let rs = external().required_scopes(["mcp"]).build().unwrap();
    let ctx = rs
        .check(&headers(Some("scopes:mcp+offline_access"), &[]), None, None)
        .await
        .unwrap();
    assert_eq!(ctx.scopes.to_string(), "mcp");
    // It cannot stand in for a required scope either.
    let refused = rs
        .check(&headers(Some("scopes:offline_access"), &[]), None, None)
        .await
        .unwrap_err();
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn a_body_that_is_not_json_gets_a_jsonrpc_parse_error_after_the_token_check() {
    let rs = external().required_scopes(["mcp"]).build().unwrap();
    let post = |token: Option<&str>| {
        let mut r = http::Request::post("/api/mcp").body(()).unwrap();
        *r.headers_mut() = headers(token, &[("content-type", "application/json")]);
        r.into_parts().0
    };
    assert_eq!(
        rs.body_limit(&post(None)),
        Some(64 * 1024),
        "every POST body is read"
    );
    let malformed: &[u8] = b"{\"jsonrpc\": \"2.0\", \"method\": ";
    // Without a token: the 401, not a word about the body.
    let Protection::Respond(resp) = protect(&rs, &post(None), Some(malformed)).await else {
        panic!("no token must be refused");
    };
    assert_eq!(resp.status(), 401);
    let Protection::Respond(resp) = protect(&rs, &post(Some("scopes:mcp")), Some(malformed)).await
    else {
        panic!("a malformed body is answered by the core");
    };
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "Parse error"}})
    );
    for ok in [
        &b"{}"[..],
        b"[]",
        b" {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} ",
    ] {
        assert!(
            matches!(
                protect(&rs, &post(Some("scopes:mcp")), Some(ok)).await,
                Protection::Allow(_)
            ),
            "{}",
            String::from_utf8_lossy(ok)
        );
    }
}

/// A body that a laxer parser at the MCP server could read as an operation
/// the guard did not see is never let through on the strength of the
/// required scopes alone: `protect` answers it with a JSON-RPC parse error
/// once the token is accepted, and `check` asks for every per-operation
/// scope. (A body with invalid UTF-8 in a string, or nested deeper than 128,
/// used to pass the JSON check while the operation reading failed, and its
/// `tools/call` needed only `mcp`.)
#[tokio::test]
async fn a_body_the_guard_cannot_read_for_certain_is_refused() {
    let rs = external()
        .scopes_supported(["mcp", "admin", "repo:read"])
        .required_scopes(["mcp"])
        .tool_scopes("admin_echo", ["admin"])
        .resource_scopes("repo://{owner}/{name}", ["repo:read"])
        .build()
        .unwrap();
    let post = |token: &str| {
        let mut r = http::Request::post("/api/mcp").body(()).unwrap();
        *r.headers_mut() = headers(Some(token), &[("content-type", "application/json")]);
        r.into_parts().0
    };
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_echo"}"#;
    let deep = format!(r#"{call},"x":{}{}}}"#, "[".repeat(200), "]".repeat(200));
    let unreadable: Vec<Vec<u8>> = vec![
        deep.into_bytes(),
        format!("{call},\"x\":\"\u{e9}\"}}")
            .into_bytes()
            .into_iter()
            .map(|b| if b == 0xc3 { 0xff } else { b })
            .collect(),
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"admin_echo"}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_echo","name":"whoami"}}"#.to_vec(),
        // Go's encoding/json reads `Name` as `name` (the last one wins) and
        // `PARAMS`/`METHOD` as `params`/`method`; some parsers drop NULs.
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","Name":"admin_echo"}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","PARAMS":{"NAME":"admin_echo"}}"#.to_vec(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","paramſ":{"name":"admin_echo"}}"#.as_bytes().to_vec(),
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name\u0000":"admin_echo"}}"#.to_vec(),
    ];
    assert!(std::str::from_utf8(&unreadable[1]).is_err());
    // The same call in UTF-16 (Python's json.loads reads it): `check`
    // finds no scoped method in its bytes, but a NUL makes it read them.
    let utf16: Vec<u8> = format!("{call}}}")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let unreadable = [unreadable, vec![utf16]].concat();
    for body in &unreadable {
        let shown = String::from_utf8_lossy(body);
        let shown = &shown[..shown.len().min(120)];
        let Protection::Respond(resp) = protect(&rs, &post("scopes:mcp"), Some(body)).await else {
            panic!("let through: {shown}");
        };
        assert_jsonrpc_parse_error(&resp, shown);
        // `check` cannot answer a parse error: it needs every per-operation scope.
        let refused = rs
            .check(&headers(Some("scopes:mcp"), &[]), None, Some(body))
            .await
            .unwrap_err();
        assert_eq!(refused.status, 403, "{shown}");
        assert_eq!(refused.error, Some(ErrorCode::InsufficientScope));
        assert!(
            refused.challenge.contains(r#"scope="admin mcp repo:read""#),
            "{}",
            refused.challenge
        );
        rs.check(
            &headers(Some("scopes:mcp+admin+repo:read"), &[]),
            None,
            Some(body),
        )
        .await
        .unwrap();
    }
    // The same call, readable: it needs `admin`, and gets it.
    let readable = format!("{call}}}");
    let refused = rs
        .check(
            &headers(Some("scopes:mcp"), &[]),
            None,
            Some(readable.as_bytes()),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.status, 403);
    assert!(
        refused.challenge.contains(r#"scope="admin mcp""#),
        "{}",
        refused.challenge
    );
    let Protection::Respond(resp) =
        protect(&rs, &post("scopes:mcp"), Some(readable.as_bytes())).await
    else {
        panic!("needs admin");
    };
    assert_eq!(resp.status(), 403);
    assert!(matches!(
        protect(&rs, &post("scopes:mcp+admin"), Some(readable.as_bytes())).await,
        Protection::Allow(_)
    ));
}

/// `protect`'s answer to a body the guard cannot read for certain: 400, a
/// JSON-RPC parse error (-32700, `id` null) with the CORS header.
fn assert_jsonrpc_parse_error(resp: &http::Response<bytes::Bytes>, what: &str) {
    assert_eq!(resp.status(), 400, "{what}");
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "Parse error"}}),
        "{what}"
    );
}

/// A body that names no operation is only checked for syntax, with
/// `serde_json`'s nesting limit: a `tools/list` nested 128 levels deep is
/// answered with the JSON-RPC parse error, 127 levels are let through.
#[tokio::test]
async fn a_tools_list_nested_deeper_than_serde_json_reads_is_a_parse_error() {
    let rs = mcp_with_admin_echo();
    let mut post = http::Request::post("/api/mcp").body(()).unwrap();
    *post.headers_mut() = headers(Some("scopes:mcp"), &[("content-type", "application/json")]);
    let post = post.into_parts().0;
    let nested = |depth: usize| {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"x":{}{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let deepest = nested(125);
    assert!(serde_json::from_str::<serde_json::Value>(&deepest).is_ok());
    assert!(matches!(
        protect(&rs, &post, Some(deepest.as_bytes())).await,
        Protection::Allow(_)
    ));
    let deeper = nested(126);
    assert!(serde_json::from_str::<serde_json::Value>(&deeper).is_err());
    let Protection::Respond(resp) = protect(&rs, &post, Some(deeper.as_bytes())).await else {
        panic!("let through at 128 levels");
    };
    assert_jsonrpc_parse_error(&resp, "128 levels");
}

/// A resource server requiring `mcp`, and `admin` for the tool `admin_echo`.
fn mcp_with_admin_echo() -> ResourceServer {
    external()
        .scopes_supported(["mcp", "admin"])
        .required_scopes(["mcp"])
        .tool_scopes("admin_echo", ["admin"])
        .build()
        .unwrap()
}

/// A body the MCP server would decode before reading it (a
/// `Content-Encoding`, a `charset` other than UTF-8) is one the guard
/// cannot read for certain: `tools+AC8-call` is `tools/call` in UTF-7,
/// which Express's `express.json()` decodes.
#[tokio::test]
async fn a_body_the_server_would_decode_first_is_refused() {
    let rs = mcp_with_admin_echo();
    let utf7 =
        br#"{"jsonrpc":"2.0","id":1,"method":"tools+AC8-call","params":{"name":"admin_echo"}}"#;
    let list = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let framed: [(&'static str, &str, &[u8]); 4] = [
        ("content-type", "application/json; charset=utf-7", utf7),
        ("content-type", "application/json; charset=UTF-16LE", list),
        ("content-encoding", "gzip", b"\x1f\x8b\x08\x00"),
        ("content-encoding", "identity, br", list),
    ];
    for (name, value, body) in framed {
        let post = |token: &str| {
            let mut r = http::Request::post("/api/mcp").body(()).unwrap();
            *r.headers_mut() = headers(Some(token), &[(name, value)]);
            r.into_parts().0
        };
        let Protection::Respond(resp) = protect(&rs, &post("scopes:mcp"), Some(body)).await else {
            panic!("let through: {name}: {value}");
        };
        assert_jsonrpc_parse_error(&resp, value);
        let refused = rs
            .check(
                &headers(Some("scopes:mcp"), &[(name, value)]),
                None,
                Some(body),
            )
            .await
            .unwrap_err();
        assert_eq!(refused.status, 403, "{value}");
        assert_eq!(refused.error, Some(ErrorCode::InsufficientScope));
        assert!(
            refused.challenge.contains(r#"scope="admin mcp""#),
            "{}",
            refused.challenge
        );
    }
    // Declared UTF-8, or nothing declared: read as sent.
    for value in ["application/json; charset=utf-8", "application/json"] {
        let ok = rs
            .check(
                &headers(Some("scopes:mcp"), &[("content-type", value)]),
                None,
                Some(list),
            )
            .await;
        assert!(ok.is_ok(), "{value}: {ok:?}");
    }
}

/// `PROTECT_READS_HEADERS` is what an adapter may convert instead of every
/// header: over requests that pass, are refused for scope, for the token
/// or as a preflight, and that name operations by header, `protect` answers
/// the same with only those headers as with all of them.
#[tokio::test]
async fn protect_reads_only_the_headers_it_declares() {
    use oauth_mcp_core::http::PROTECT_READS_HEADERS;
    let rs = mcp_with_admin_echo();
    let noise: [(&'static str, &str); 5] = [
        ("content-type", "application/json"),
        ("origin", "https://app.example"),
        ("mcp-protocol-version", "2026-07-28"),
        ("x-forwarded-for", "203.0.113.9"),
        ("cookie", "session=1"),
    ];
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_echo"}}"#;
    type Case<'a> = (
        http::Method,
        Option<&'a str>,
        Vec<(&'static str, &'a str)>,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (http::Method::POST, Some("scopes:mcp"), vec![], list),
        (http::Method::POST, Some("scopes:mcp"), vec![], call),
        (http::Method::POST, Some("scopes:admin+mcp"), vec![], call),
        (http::Method::POST, None, vec![], list),
        (http::Method::POST, Some("not-a-token"), vec![], list),
        (
            http::Method::POST,
            Some("scopes:mcp"),
            vec![("mcp-method", "tools/call"), ("mcp-name", "admin_echo")],
            list,
        ),
        (http::Method::POST, Some("scopes:mcp"), vec![], "not json"),
        (
            http::Method::POST,
            Some("scopes:mcp"),
            vec![("content-encoding", "gzip")],
            list,
        ),
        (http::Method::OPTIONS, None, vec![], ""),
    ];
    for (method, token, extra, body) in cases {
        let mut all = headers(token, &extra);
        for (k, v) in noise {
            all.insert(k, v.parse().unwrap());
        }
        let mut only = HeaderMap::new();
        for name in PROTECT_READS_HEADERS {
            for v in all.get_all(name) {
                only.append(http::HeaderName::from_static(name), v.clone());
            }
        }
        let parts = |h: HeaderMap| {
            let mut r = http::Request::builder()
                .method(method.clone())
                .uri("/api/mcp?x=1")
                .body(())
                .unwrap();
            *r.headers_mut() = h;
            r.into_parts().0
        };
        let body = (method == http::Method::POST).then_some(body.as_bytes());
        let full = protect(&rs, &parts(all), body).await;
        let few = protect(&rs, &parts(only), body).await;
        let what = format!("{method} {token:?} {extra:?} {body:?}");
        match (full, few) {
            (Protection::Allow(a), Protection::Allow(b)) => assert_eq!(a, b, "{what}"),
            (Protection::Respond(a), Protection::Respond(b)) => {
                assert_eq!(a.status(), b.status(), "{what}");
                assert_eq!(a.headers(), b.headers(), "{what}");
                assert_eq!(a.body(), b.body(), "{what}");
            }
            (a, b) => panic!("{what}: {a:?} vs {b:?}"),
        }
    }
}
