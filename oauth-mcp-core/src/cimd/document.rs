//! The rules a client id metadata document must follow before it becomes a
//! (public, unverified) [`Client`].

use serde_json::Value;

use crate::client::{
    Client, SUPPORTED_GRANT_TYPES, TokenEndpointAuthMethod, validate_redirect_uri,
};
use crate::scope::ScopeSet;

/// Validates a fetched document and turns it into a public [`Client`].
pub fn client_from_document(client_id: &str, doc: &Value, now: i64) -> Result<Client, String> {
    let obj = doc.as_object().ok_or("the document is not a JSON object")?;
    match obj.get("client_id").and_then(Value::as_str) {
        Some(id) if id == client_id => {}
        Some(id) => {
            return Err(format!(
                "the document's client_id `{id}` is not its URL `{client_id}`"
            ));
        }
        None => return Err("the document has no client_id".into()),
    }
    let name = obj
        .get("client_name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or("the document has no client_name")?;
    let redirect_uris: Vec<String> = obj
        .get("redirect_uris")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .filter(|v: &Vec<String>| !v.is_empty())
        .ok_or("the document has no redirect_uris")?;
    for u in &redirect_uris {
        validate_redirect_uri(u).map_err(|e| e.description)?;
    }
    for secret in ["client_secret", "client_secret_expires_at"] {
        if obj.contains_key(secret) {
            return Err(format!(
                "the document contains `{secret}`; a public document must never hold a secret"
            ));
        }
    }
    if let Some(keys) = obj
        .get("jwks")
        .and_then(|j| j.get("keys"))
        .and_then(Value::as_array)
        && keys.iter().any(|k| {
            ["d", "p", "q", "dp", "dq", "qi", "k"]
                .iter()
                .any(|m| k.get(*m).is_some())
        })
    {
        return Err("the document's jwks contains private key material".into());
    }
    match obj
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
    {
        None | Some("none") => {}
        Some(m) => {
            return Err(format!(
                "token_endpoint_auth_method `{m}` is not supported for metadata documents; use none"
            ));
        }
    }
    let grant_types: Vec<String> = match obj.get("grant_types").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        None => SUPPORTED_GRANT_TYPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    };
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err("grant_types must include authorization_code".into());
    }
    let scope = obj
        .get("scope")
        .and_then(Value::as_str)
        .and_then(|s| ScopeSet::parse(s).ok());
    Ok(Client {
        client_id: client_id.to_owned(),
        secret_hash: None,
        redirect_uris,
        auth_method: TokenEndpointAuthMethod::None,
        auth_method_explicit: true,
        client_name: Some(name.to_owned()),
        scope,
        grant_types: grant_types
            .into_iter()
            .filter(|g| SUPPORTED_GRANT_TYPES.contains(&g.as_str()))
            .collect(),
        trusted: false,
        active: true,
        created_at: now,
        expires_at: None,
        metadata: obj.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_validated() {
        let id = "https://app.example/client.json";
        let good = serde_json::json!({"client_id": id, "client_name": "App", "redirect_uris": ["https://app.example/cb"]});
        let c = client_from_document(id, &good, 0).unwrap();
        assert_eq!(c.auth_method, TokenEndpointAuthMethod::None);
        let mut bad = good.clone();
        bad["client_id"] = "https://other.example/client.json".into();
        assert!(
            client_from_document(id, &bad, 0)
                .unwrap_err()
                .contains("not its URL")
        );
        for missing in ["client_name", "redirect_uris"] {
            let mut d = good.clone();
            d.as_object_mut().unwrap().remove(missing);
            assert!(client_from_document(id, &d, 0).is_err(), "{missing}");
        }
        let mut d = good.clone();
        d["client_secret"] = "s".into();
        assert!(
            client_from_document(id, &d, 0)
                .unwrap_err()
                .contains("secret")
        );
        let mut d = good.clone();
        d["jwks"] = serde_json::json!({"keys": [{"kty": "EC", "d": "x"}]});
        assert!(
            client_from_document(id, &d, 0)
                .unwrap_err()
                .contains("private key")
        );
        let mut d = good.clone();
        d["token_endpoint_auth_method"] = "client_secret_basic".into();
        assert!(client_from_document(id, &d, 0).is_err());
        let mut d = good;
        d["redirect_uris"] = serde_json::json!(["javascript:alert(1)"]);
        assert!(client_from_document(id, &d, 0).is_err());
    }
}
