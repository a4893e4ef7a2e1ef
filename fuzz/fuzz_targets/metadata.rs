//! Metadata documents as the remote validator and the CLI read them:
//! RFC 8414 authorization-server metadata and RFC 9728 protected-resource
//! metadata (typed, unknown members kept in `extra`), and the well-known
//! URLs derived from the issuer and resource they name.
//!
//! Checked: a parsed document serialises to one that parses back equal
//! (floats in unknown members aside: serde_json's float parsing is
//! best-effort); the core's discovery URLs and the CLI's agree for every
//! http(s) URL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_mcp_cli::fuzzing::well_known;
use oauth_mcp_core::ResourceUri;
use oauth_mcp_core::discovery::{
    authorization_server_metadata_urls, protected_resource_metadata_url,
};
use oauth_mcp_core::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use url::Url;

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Clone + std::fmt::Debug>(
    doc: &T,
    extra: impl Fn(&mut T) -> &mut Map<String, Value>,
) {
    let bytes = serde_json::to_vec(doc).expect("serialises");
    let mut again: T = serde_json::from_slice(&bytes).expect("its own output parses");
    let mut doc = doc.clone();
    extra(&mut doc).retain(|_, v| !has_float(v));
    extra(&mut again).retain(|_, v| !has_float(v));
    assert_eq!(doc, again);
}

/// The core's and the CLI's well-known URLs for `raw` agree.
fn discovery_agrees(raw: &str) {
    let Ok(as_urls) = authorization_server_metadata_urls(raw) else {
        return;
    };
    let prm = protected_resource_metadata_url(raw).expect("same URL rules");
    let url = Url::parse(raw).expect("core parsed it");
    let (cli_prm, cli_as) = well_known(&url);
    assert_eq!(
        as_urls, cli_as,
        "authorization-server metadata URLs of {raw}"
    );
    assert_eq!(
        Some(&prm),
        cli_prm.first(),
        "protected-resource URL of {raw}"
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(md) = serde_json::from_slice::<AuthorizationServerMetadata>(data) {
        round_trip(&md, |m| &mut m.extra);
        discovery_agrees(&md.issuer);
    }
    if let Ok(md) = serde_json::from_slice::<ProtectedResourceMetadata>(data) {
        round_trip(&md, |m| &mut m.extra);
        discovery_agrees(&md.resource);
        if let Ok(r) = ResourceUri::parse(&md.resource) {
            discovery_agrees(r.as_str());
        }
        for issuer in &md.authorization_servers {
            discovery_agrees(issuer);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        discovery_agrees(s);
    }
});
