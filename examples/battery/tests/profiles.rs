//! The client profiles are well formed, and what each real client sends
//! registers with the library as it is configured by default.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use oauth_mcp_battery::profiles::{self, ClientProfile, Registration};
use oauth_mcp_core::cimd::client_from_document;
use oauth_mcp_core::client::Client;
use oauth_mcp_core::store::{ClientStore, MemoryStore};
use oauth_mcp_core::{AuthServer, ServerConfig};
use serde_json::Value;

const PORT: u16 = 54_321;

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn every_profile_names_its_sources_and_what_it_sends() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/clients");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    on_disk.sort();
    let listed: Vec<String> = profiles::all().iter().map(|p| p.name.to_owned()).collect();
    assert_eq!(
        on_disk, listed,
        "every fixture file is listed in profiles.rs"
    );
    for p in profiles::all() {
        let j = &p.json;
        let n = p.name;
        assert_eq!(j["profile"], n, "{n}: `profile` is the file name");
        assert!(j["client"].is_string(), "{n}: client");
        assert!(!strings(&j["sources"]).is_empty(), "{n}: sources");
        assert!(
            ["verbatim-source", "verbatim-published", "partial"]
                .contains(&j["body_fidelity"].as_str().unwrap_or_default()),
            "{n}: body_fidelity"
        );
        if j["body_fidelity"] == "partial" {
            assert!(
                !strings(&j["not_public"]).is_empty(),
                "{n}: a partial body says what is missing"
            );
        }
        let a = &j["authorize"];
        assert!(a["redirect_uri"].is_string(), "{n}: authorize.redirect_uri");
        assert!(
            ["none", "discovered", "configured"].contains(&a["scope"].as_str().unwrap_or_default()),
            "{n}: authorize.scope"
        );
        assert!(
            a["adds_offline_access"].is_boolean(),
            "{n}: adds_offline_access"
        );
        assert!(
            a["prompt"].is_null() || a["prompt"] == "consent_with_offline_access",
            "{n}: authorize.prompt"
        );
        assert!(a["resource"].is_boolean(), "{n}: authorize.resource");
        assert!(j["token"]["resource"].is_boolean(), "{n}: token.resource");
        assert!(
            j["token"]["refresh_resource"].is_null() || j["token"]["refresh_resource"].is_boolean(),
            "{n}: token.refresh_resource"
        );
        assert_eq!(
            j["token"]["assertion_alg"].is_string(),
            p.token_auth_method() == "private_key_jwt",
            "{n}: token.assertion_alg iff private_key_jwt"
        );
        assert!(
            j["token"]["auth_method"].is_string(),
            "{n}: token.auth_method"
        );
        assert!(j["refresh"].is_boolean(), "{n}: refresh");
        assert!(
            j["known_bugs"].is_array() && j["not_public"].is_array(),
            "{n}: lists"
        );
        match p.registration() {
            Registration::Dcr => assert!(
                p.registration_body(PORT).is_some(),
                "{n}: registration_body"
            ),
            Registration::Cimd => {
                let doc = p.metadata_document().expect("metadata_document");
                assert_eq!(
                    doc["client_id"], j["client_id_url"],
                    "{n}: a document names its own URL"
                );
                assert_eq!(
                    doc["token_endpoint_auth_method"].as_str().unwrap_or("none"),
                    p.token_auth_method(),
                    "{n}: token.auth_method is the document's"
                );
            }
        }
    }
}

async fn register(p: &ClientProfile) -> (Value, Client) {
    let store = Arc::new(MemoryStore::new());
    let config = ServerConfig::builder("http://127.0.0.1:8080")
        .build()
        .unwrap();
    let server = AuthServer::new(config, store.clone()).unwrap();
    let body = p.registration_body(PORT).unwrap().to_string();
    let response = server
        .register(body.as_bytes(), None)
        .await
        .unwrap_or_else(|e| panic!("{}: the real registration body is refused: {e}", p.name));
    let id = response["client_id"].as_str().unwrap();
    let client = store.get_client(id).await.unwrap().unwrap();
    (response, client)
}

#[tokio::test]
async fn every_real_registration_body_registers() {
    let mut seen = 0;
    for p in profiles::all() {
        if p.registration() != Registration::Dcr {
            continue;
        }
        seen += 1;
        let (response, client) = register(&p).await;
        let n = p.name;
        let sent = p.registration_body(PORT).unwrap();
        assert_eq!(
            response["token_endpoint_auth_method"], sent["token_endpoint_auth_method"],
            "{n}: the registered auth method is the one asked for"
        );
        assert_eq!(
            response["response_types"],
            serde_json::json!(["code"]),
            "{n}"
        );
        let registered = strings(&response["grant_types"]);
        assert!(
            registered.contains(&"authorization_code"),
            "{n}: {registered:?}"
        );
        for g in strings(&sent["grant_types"]) {
            let supported = ["authorization_code", "refresh_token"].contains(&g);
            assert_eq!(
                registered.contains(&g),
                supported,
                "{n}: grant {g} kept iff supported"
            );
        }
        if p.json["refresh"] == true {
            assert!(client.allows_grant("refresh_token"), "{n}: may refresh");
        }
        let redirect = p.authorize_redirect_uri(PORT);
        assert!(
            client.match_redirect_uri(&redirect).is_some(),
            "{n}: the redirect URI it sends ({redirect}) matches what it registered"
        );
    }
    assert_eq!(seen, 7, "DCR profiles");
}

#[test]
fn every_real_metadata_document_is_accepted() {
    let mut seen = 0;
    for p in profiles::all() {
        if p.registration() != Registration::Cimd {
            continue;
        }
        let n = p.name;
        let url = p.json["client_id_url"].as_str().unwrap();
        let doc = p.metadata_document().unwrap();
        seen += 1;
        let client = client_from_document(url, doc, 0)
            .unwrap_or_else(|e| panic!("{n}: the published document is refused: {e}"));
        assert!(client.allows_grant("authorization_code"), "{n}");
        assert_eq!(
            client.auth_method.as_str(),
            p.token_auth_method(),
            "{n}: authenticates as its document says"
        );
        let redirect = p.authorize_redirect_uri(PORT);
        assert!(
            client.match_redirect_uri(&redirect).is_some(),
            "{n}: the redirect URI it sends ({redirect}) matches its document"
        );
    }
    assert_eq!(seen, 4, "CIMD profiles");
}

#[tokio::test]
async fn a_client_sending_the_other_loopback_host_does_not_match() {
    // Claude Code's recorded bug: registered `localhost`, sent `127.0.0.1`.
    let p = profiles::get("claude-code");
    assert!(!p.json["known_bugs"].as_array().unwrap().is_empty());
    let store = Arc::new(MemoryStore::new());
    let config = ServerConfig::builder("http://127.0.0.1:8080")
        .build()
        .unwrap();
    let server = AuthServer::new(config, store.clone()).unwrap();
    let body = serde_json::json!({
        "client_name": "Claude Code",
        "redirect_uris": [format!("http://localhost:{PORT}/callback")],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "application_type": "native"
    });
    let response = server
        .register(body.to_string().as_bytes(), None)
        .await
        .unwrap();
    let client = store
        .get_client(response["client_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        client
            .match_redirect_uri(&format!("http://localhost:{PORT}/callback"))
            .is_some()
    );
    assert!(
        client
            .match_redirect_uri(&format!("http://127.0.0.1:{PORT}/callback"))
            .is_none()
    );
}
