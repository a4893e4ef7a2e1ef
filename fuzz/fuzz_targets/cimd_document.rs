//! Client ID Metadata Documents: a fetched document (any JSON) turned into
//! a public client by `cimd::client_from_document`, for the URL it was
//! fetched from.
//!
//! Input: the client id URL, NUL, the document. The document's own
//! `client_id` is used as the URL when the first field is empty, so that the
//! fuzzer reaches the rules past the identity check.
//!
//! Checked: an accepted document names its own URL, is a public client
//! (`none`), has at least one redirect URI, each valid, supported grant
//! types only, and holds no secret and no private key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_mcp_core::cimd::{client_from_document, is_document_client_id};
use oauth_mcp_core::client::{
    SUPPORTED_GRANT_TYPES, TokenEndpointAuthMethod, validate_redirect_uri,
};
use oauth_mcp_fuzz::{fields, text};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 2);
    let Ok(doc) = serde_json::from_slice::<Value>(f[1]) else {
        return;
    };
    let url = match text(f[0]) {
        u if u.is_empty() => doc
            .get("client_id")
            .and_then(Value::as_str)
            .unwrap_or("https://app.example/client.json")
            .to_owned(),
        u => u,
    };
    let _ = is_document_client_id(&url);
    let Ok(c) = client_from_document(&url, &doc, 1_700_000_000) else {
        return;
    };
    assert_eq!(c.client_id, url);
    assert_eq!(doc["client_id"].as_str(), Some(url.as_str()));
    assert_eq!(c.auth_method, TokenEndpointAuthMethod::None);
    assert!(c.secret_hash.is_none() && !c.is_confidential());
    assert!(!c.redirect_uris.is_empty());
    for u in &c.redirect_uris {
        assert!(validate_redirect_uri(u).is_ok(), "{u}");
    }
    assert!(
        c.grant_types
            .iter()
            .all(|g| SUPPORTED_GRANT_TYPES.contains(&g.as_str()))
    );
    assert!(
        c.client_name
            .as_deref()
            .is_some_and(|n| !n.trim().is_empty())
    );
    assert!(!c.metadata.contains_key("client_secret"));
    if let Some(keys) = doc["jwks"]["keys"].as_array() {
        for k in keys {
            assert!(k.get("d").is_none(), "private key accepted");
        }
    }
});
