//! The rules a client id metadata document must follow before it becomes a
//! (unverified) [`Client`]: public (`none`), or authenticating with
//! `private_key_jwt` against the keys the document publishes.

use serde_json::Value;

use crate::client::{
    Client, SUPPORTED_GRANT_TYPES, TokenEndpointAuthMethod, validate_redirect_uri,
};
use crate::client_assertion::declared_keys;
use crate::scope::ScopeSet;

/// Validates a fetched document and turns it into a [`Client`] without a
/// secret: `token_endpoint_auth_method` `none` (the default) or
/// `private_key_jwt` (with `jwks` or `jwks_uri`); a document listing
/// `token_endpoint_auth_methods_supported` may use any of those.
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
    declared_keys(obj).map_err(|why| format!("the document's keys are unusable: {why}"))?;
    let singular = match obj.get("token_endpoint_auth_method") {
        None => None,
        Some(Value::String(m)) => Some(m.as_str()),
        Some(_) => return Err("token_endpoint_auth_method is not a string".into()),
    };
    if let Some(m) = singular
        && TokenEndpointAuthMethod::parse(m).is_some_and(TokenEndpointAuthMethod::uses_secret)
    {
        return Err(format!(
            "token_endpoint_auth_method `{m}` needs a client secret, which a public document cannot hold; use private_key_jwt or none"
        ));
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
    let mut client = Client {
        client_id: client_id.to_owned(),
        secret_hash: None,
        redirect_uris,
        auth_method: singular
            .and_then(TokenEndpointAuthMethod::parse)
            .unwrap_or(TokenEndpointAuthMethod::None),
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
        awaiting_first_token: false,
        metadata: obj.clone(),
    };
    // What the document declares (its list, else its single method, else
    // `none`) against what this server implements and the client can do.
    let candidates: Vec<TokenEndpointAuthMethod> =
        match obj.get("token_endpoint_auth_methods_supported") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .filter_map(TokenEndpointAuthMethod::parse)
                .collect(),
            Some(_) => return Err("token_endpoint_auth_methods_supported is not a list".into()),
            None => match singular {
                None => vec![TokenEndpointAuthMethod::None],
                Some(m) => vec![TokenEndpointAuthMethod::parse(m).ok_or_else(|| {
                format!(
                    "token_endpoint_auth_method `{m}` is not supported; use none or private_key_jwt"
                )
            })?],
            },
        };
    let accepted: Vec<TokenEndpointAuthMethod> = candidates
        .into_iter()
        .filter(|m| client.can_perform(*m))
        .collect();
    let Some(first) = accepted.first() else {
        return Err(
            "none of the document's token endpoint authentication methods can be used: this server accepts none, or private_key_jwt with `jwks` or `jwks_uri`".into(),
        );
    };
    if !singular
        .and_then(TokenEndpointAuthMethod::parse)
        .is_some_and(|m| accepted.contains(&m))
    {
        client.auth_method = *first;
    }
    Ok(client)
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
                .contains("private or symmetric key material")
        );
        let mut d = good.clone();
        d["token_endpoint_auth_method"] = "client_secret_basic".into();
        assert!(client_from_document(id, &d, 0).is_err());
        let mut d = good;
        d["redirect_uris"] = serde_json::json!(["javascript:alert(1)"]);
        assert!(client_from_document(id, &d, 0).is_err());
    }
    #[test]
    fn private_key_jwt_documents_and_method_lists() {
        let id = "https://chatgpt.example/oauth/client.json";
        // ChatGPT's document shape (fixtures/clients/chatgpt-cimd.json).
        let chatgpt = serde_json::json!({
            "client_id": id, "client_name": "ChatGPT",
            "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "token_endpoint_auth_signing_alg": "RS256",
            "jwks_uri": "https://chatgpt.example/oauth/jwks.json"
        });
        let c = client_from_document(id, &chatgpt, 0).unwrap();
        assert_eq!(c.auth_method, TokenEndpointAuthMethod::PrivateKeyJwt);
        assert_eq!(
            c.accepted_auth_methods(),
            [
                TokenEndpointAuthMethod::PrivateKeyJwt,
                TokenEndpointAuthMethod::None
            ]
        );
        // The list wins over the single (deprecated) member.
        let mut d = chatgpt.clone();
        d["token_endpoint_auth_methods_supported"] = serde_json::json!(["none"]);
        let c = client_from_document(id, &d, 0).unwrap();
        assert_eq!(c.accepted_auth_methods(), [TokenEndpointAuthMethod::None]);
        // Only a list: its first usable method becomes the primary one;
        // methods the document cannot perform are ignored.
        let mut d = chatgpt.clone();
        d.as_object_mut()
            .unwrap()
            .remove("token_endpoint_auth_method");
        d["token_endpoint_auth_methods_supported"] =
            serde_json::json!(["client_secret_basic", "private_key_jwt"]);
        let c = client_from_document(id, &d, 0).unwrap();
        assert_eq!(
            c.accepted_auth_methods(),
            [TokenEndpointAuthMethod::PrivateKeyJwt]
        );
        // Refusals, each saying why.
        let mut no_keys = chatgpt.clone();
        no_keys.as_object_mut().unwrap().remove("jwks_uri");
        no_keys["token_endpoint_auth_methods_supported"] = serde_json::json!(["private_key_jwt"]);
        let mut unknown = chatgpt.clone();
        unknown
            .as_object_mut()
            .unwrap()
            .remove("token_endpoint_auth_methods_supported");
        unknown["token_endpoint_auth_method"] = "tls_client_auth".into();
        let mut hmac = chatgpt.clone();
        hmac["token_endpoint_auth_signing_alg"] = "HS256".into();
        for (doc, says) in [
            (
                no_keys,
                "none of the document's token endpoint authentication methods can be used: this server accepts none, or private_key_jwt with `jwks` or `jwks_uri`",
            ),
            (
                unknown,
                "token_endpoint_auth_method `tls_client_auth` is not supported; use none or private_key_jwt",
            ),
            (
                hmac,
                "the document's keys are unusable: token_endpoint_auth_signing_alg `HS256` is not accepted; use one of RS256, PS256, ES256, EdDSA",
            ),
        ] {
            assert_eq!(client_from_document(id, &doc, 0).unwrap_err(), says);
        }
    }
}
