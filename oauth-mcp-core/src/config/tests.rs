//! Start-up validation of the server configuration.
use super::*;

fn field(r: Result<Arc<ServerConfig>, ConfigError>) -> &'static str {
    r.unwrap_err().field
}

#[test]
fn derived_urls_agree() {
    let c = ServerConfig::builder("https://h.example/tenant")
        .build()
        .unwrap();
    assert_eq!(c.issuer(), "https://h.example/tenant");
    assert_eq!(c.resource().as_str(), "https://h.example/tenant/mcp");
    assert_eq!(c.endpoint_url("/token"), "https://h.example/tenant/token");
}

#[test]
fn mismatches_fail_at_startup_naming_the_field() {
    assert_eq!(
        field(ServerConfig::builder("not a url").build()),
        "public_url"
    );
    assert_eq!(
        field(ServerConfig::builder("https://h.example/").build()),
        "public_url"
    );
    assert_eq!(
        field(ServerConfig::builder("https://H.example").build()),
        "public_url"
    );
    assert_eq!(
        field(ServerConfig::builder("http://h.example").build()),
        "public_url"
    );
    assert!(
        ServerConfig::builder("http://127.0.0.1:8080")
            .build()
            .is_ok()
    );
    assert_eq!(
        field(
            ServerConfig::builder("https://h.example")
                .issuer("https://other.example")
                .build()
        ),
        "issuer"
    );
    assert_eq!(
        field(
            ServerConfig::builder("https://h.example")
                .issuer("https://h.example/")
                .build()
        ),
        "issuer"
    );
    let e = ServerConfig::builder("https://h.example")
        .resource("https://h.example/mcp/")
        .build()
        .unwrap_err();
    assert_eq!(e.field, "resource");
    assert!(e.to_string().contains("https://h.example/mcp"), "{e}");
    assert_eq!(
        field(
            ServerConfig::builder("https://h.example")
                .mcp_path("mcp")
                .build()
        ),
        "mcp_path"
    );
    assert_eq!(
        field(
            ServerConfig::builder("https://h.example")
                .default_scopes(["x"])
                .build()
        ),
        "default_scopes"
    );
    assert_eq!(
        field(
            ServerConfig::builder("https://h.example")
                .user_scopes("u", ["x"])
                .build()
        ),
        "user_scopes"
    );
    assert_eq!(
        field(
            ServerConfig::builder("https://h.example")
                .code_ttl(Duration::from_secs(601))
                .build()
        ),
        "code_ttl"
    );
    assert_eq!(
        field(
            ServerConfig::builder("https://h.example")
                .additional_resource("https://h.example")
                .build()
        ),
        "additional_resource"
    );
}

#[test]
fn pre_registered_clients_are_checked() {
    let bad = PreRegisteredClient::confidential("c", "short", vec!["https://a/cb".into()]);
    assert_eq!(
        field(
            ServerConfig::builder("https://h.example")
                .client(bad)
                .build()
        ),
        "clients"
    );
    let bad = PreRegisteredClient::public("c", vec!["javascript:x".into()]);
    assert_eq!(
        field(
            ServerConfig::builder("https://h.example")
                .client(bad)
                .build()
        ),
        "clients"
    );
    let ok =
        PreRegisteredClient::confidential("c", "a-long-enough-secret", vec!["https://a/cb".into()]);
    let cfg = ServerConfig::builder("https://h.example")
        .client(ok.clone())
        .build()
        .unwrap();
    let c = cfg.pre_registered_client("c").unwrap();
    assert!(c.is_confidential());
    assert_ne!(c.secret_hash.as_deref(), Some("a-long-enough-secret"));
    assert_eq!(
        field(
            ServerConfig::builder("https://h.example")
                .client(ok.clone())
                .client(ok)
                .build()
        ),
        "clients"
    );
}
