//! Start-up validation of the server configuration.
use super::*;
use crate::error::ConfigError;

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

#[test]
fn client_assertion_limits_fail_at_startup_not_clamped() {
    let b = || ServerConfig::builder("https://h.example/tenant");
    let c = b().build().unwrap();
    assert_eq!(
        c.client_assertion_policy().audiences(),
        ["https://h.example/tenant/token", "https://h.example/tenant"],
        "the token endpoint URL and the issuer"
    );
    let secs = Duration::from_secs;
    for (lifetime, leeway, field_name) in [
        (secs(0), secs(30), "client_assertion_max_lifetime"),
        (secs(7200), secs(30), "client_assertion_max_lifetime"),
        (secs(600), secs(301), "client_assertion_leeway"),
    ] {
        let e = b()
            .client_assertion_limits(lifetime, leeway)
            .build()
            .unwrap_err();
        assert_eq!(e.field, field_name, "{lifetime:?} {leeway:?}");
    }
    assert!(
        b().client_assertion_limits(secs(3600), secs(300))
            .build()
            .is_ok()
    );
    let e = b()
        .client_jwks_fetch(crate::client_assertion::JwksFetchConfig::default().capacity(0))
        .build()
        .unwrap_err();
    assert_eq!(e.field, "client_jwks_fetch");
    assert_eq!(e.reason, "capacity is 0; use at least 1");
}

#[test]
fn pre_registered_private_key_jwt_clients_are_checked_at_startup() {
    let key = crate::client_assertion::TestClientKey::generate(
        crate::client_assertion::AssertionAlgorithm::Es256,
        "k1",
    );
    let jwks = crate::client_assertion::TestClientKey::jwks(&[&key]);
    let cb = || vec!["https://rs.example/cb".to_owned()];
    let c = ServerConfig::builder("https://h.example")
        .client(PreRegisteredClient::private_key_jwt("rs", jwks, cb()))
        .client(PreRegisteredClient::private_key_jwt_with_jwks_uri(
            "rs2",
            "https://rs.example/jwks.json",
            cb(),
        ))
        .build()
        .unwrap();
    for id in ["rs", "rs2"] {
        let client = c.pre_registered_client(id).unwrap();
        assert_eq!(
            client.accepted_auth_methods(),
            [crate::client::TokenEndpointAuthMethod::PrivateKeyJwt]
        );
        assert!(client.secret_hash.is_none());
    }
    for (client, says) in [
        (
            PreRegisteredClient::private_key_jwt_with_jwks_uri("x", "http://rs.example/j", cb()),
            "client `x`: `jwks_uri` `http://rs.example/j` must use https",
        ),
        (
            PreRegisteredClient::private_key_jwt("x", serde_json::json!({"keys": []}), cb()),
            "client `x`: `jwks`: the JWK Set has no usable signing key (RS256, PS256, ES256 or EdDSA)",
        ),
        (
            PreRegisteredClient::confidential("x", "a-secret-of-16-chars", cb())
                .auth_method(crate::client::TokenEndpointAuthMethod::PrivateKeyJwt),
            "client `x` uses private_key_jwt: give it its public keys (jwks or jwks_uri) and no client_secret",
        ),
    ] {
        let e = ServerConfig::builder("https://h.example")
            .client(client)
            .build()
            .unwrap_err();
        assert_eq!((e.field, e.reason.as_str()), ("clients", says));
    }
}

/// Out-of-range Client ID Metadata Document settings fail at start-up,
/// naming the setting.
#[cfg(feature = "cimd")]
#[test]
fn cimd_settings_are_validated() {
    use crate::cimd::CimdConfig;
    let build = |c: CimdConfig| {
        ServerConfig::builder("https://as.example.com")
            .client_id_metadata_documents(c)
            .build()
    };
    assert!(build(CimdConfig::default()).is_ok());
    for (cfg, words) in [
        (CimdConfig::default().max_bytes(0), "max_bytes is 0"),
        (
            CimdConfig::default().timeout(std::time::Duration::ZERO),
            "timeout is 0ns",
        ),
        (CimdConfig::default().cache_bounds(0, 60, 30), "min is 0 s"),
        (
            CimdConfig::default().cache_bounds(600, 60, 30),
            "longer than max",
        ),
        (
            CimdConfig::default().cache_bounds(60, 600, -1),
            "failure is -1 s",
        ),
        (CimdConfig::default().capacity(0), "capacity is 0"),
    ] {
        let e = build(cfg).unwrap_err();
        assert_eq!(e.field, "client_id_metadata_documents");
        assert!(e.to_string().contains(words), "{e}");
    }
}
