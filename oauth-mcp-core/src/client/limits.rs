//! What a dynamic registration may store: only the client metadata this
//! server knows (RFC 7591 §2 and the OpenID registration fields clients
//! send), within a size bound. Anything else is dropped — neither stored nor
//! echoed — so a stranger cannot park data in the store.

use serde_json::{Map, Value};

use crate::error::{ErrorCode, OAuthError};

/// Metadata fields kept besides the typed ones (`redirect_uris`,
/// `token_endpoint_auth_method`, `grant_types`, `response_types`,
/// `client_name`, `scope`).
pub const KNOWN_METADATA: &[&str] = &[
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "contacts",
    "software_id",
    "software_version",
    "application_type",
    "jwks_uri",
    "jwks",
    "token_endpoint_auth_signing_alg",
];

/// The most bytes the kept metadata may take (as JSON).
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// The most redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 20;
/// The longest redirect URI.
pub const MAX_REDIRECT_URI_BYTES: usize = 2048;
/// The longest `client_name`.
pub const MAX_CLIENT_NAME_CHARS: usize = 200;

/// The known fields of `extra`, refused if they are too large.
pub(crate) fn kept_metadata(extra: &Map<String, Value>) -> Result<Map<String, Value>, OAuthError> {
    let kept: Map<String, Value> = extra
        .iter()
        .filter(|(k, _)| KNOWN_METADATA.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let size = serde_json::to_vec(&kept).map_or(usize::MAX, |v| v.len());
    if size > MAX_METADATA_BYTES {
        return Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            format!(
                "the client metadata takes {size} bytes; this server keeps at most {MAX_METADATA_BYTES}"
            ),
        ));
    }
    Ok(kept)
}

/// Bounds on the typed fields.
pub(crate) fn check_sizes(
    redirect_uris: &[String],
    client_name: Option<&str>,
) -> Result<(), OAuthError> {
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            format!(
                "{} redirect URIs; register at most {MAX_REDIRECT_URIS}",
                redirect_uris.len()
            ),
        ));
    }
    if let Some(long) = redirect_uris
        .iter()
        .find(|u| u.len() > MAX_REDIRECT_URI_BYTES)
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            format!(
                "a redirect URI of {} bytes; at most {MAX_REDIRECT_URI_BYTES}",
                long.len()
            ),
        ));
    }
    if client_name.is_some_and(|n| n.chars().count() > MAX_CLIENT_NAME_CHARS) {
        return Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            format!("client_name is longer than {MAX_CLIENT_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_known_fields_within_the_bound() {
        let extra: Map<String, Value> = serde_json::from_value(json!({
            "logo_uri": "https://app.example/logo.png",
            "application_type": "native",
            "x-anything": "dropped",
            "nested": {"a": [1, 2, 3]},
        }))
        .unwrap();
        let kept = kept_metadata(&extra).unwrap();
        assert_eq!(kept.len(), 2);
        assert!(kept.contains_key("logo_uri") && kept.contains_key("application_type"));
        let fat: Map<String, Value> =
            serde_json::from_value(json!({"client_uri": "x".repeat(MAX_METADATA_BYTES)})).unwrap();
        let e = kept_metadata(&fat).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        let many: Vec<String> = (0..=MAX_REDIRECT_URIS)
            .map(|i| format!("http://127.0.0.1/{i}"))
            .collect();
        assert_eq!(
            check_sizes(&many, None).unwrap_err().code,
            ErrorCode::InvalidRedirectUri
        );
        let long = vec![format!(
            "https://a.example/{}",
            "p".repeat(MAX_REDIRECT_URI_BYTES)
        )];
        assert_eq!(
            check_sizes(&long, None).unwrap_err().code,
            ErrorCode::InvalidRedirectUri
        );
        let name = "n".repeat(MAX_CLIENT_NAME_CHARS + 1);
        assert_eq!(
            check_sizes(&[], Some(&name)).unwrap_err().code,
            ErrorCode::InvalidClientMetadata
        );
        assert!(check_sizes(&many[..MAX_REDIRECT_URIS], Some("ok")).is_ok());
    }
}
