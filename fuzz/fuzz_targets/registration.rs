//! RFC 7591 registration JSON (`/register`): the body as the server
//! deserialises it, then `validate_registration` with no policy and with
//! an allowlist policy.
//!
//! Checked: an accepted registration has at least one redirect URI, each
//! of which passes `validate_redirect_uri` (and the policy, when there is
//! one); its grant types are supported ones and include
//! `authorization_code`; its scope parses; the metadata kept is what was
//! sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_mcp_core::ScopeSet;
use oauth_mcp_core::client::{
    RedirectUriAllowlist, RedirectUriPolicy, RegistrationRequest, SUPPORTED_GRANT_TYPES,
    validate_redirect_uri, validate_registration,
};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<RegistrationRequest>(data) else {
        return;
    };
    let allowlist = RedirectUriAllowlist::new([
        "https://*.example.com/cb",
        "https://app.example/*/callback",
        "cursor://*",
    ])
    .allow_loopback();
    for policy in [None, Some(&allowlist as &dyn RedirectUriPolicy)] {
        let Ok(c) = validate_registration(&req, policy, 1_700_000_000) else {
            continue;
        };
        assert!(!c.redirect_uris.is_empty());
        assert_eq!(c.redirect_uris, req.redirect_uris);
        for u in &c.redirect_uris {
            assert!(validate_redirect_uri(u).is_ok(), "{u}");
            if let Some(p) = policy {
                assert!(p.check(u).is_ok(), "{u}");
            }
        }
        assert!(c.grant_types.iter().any(|g| g == "authorization_code"));
        assert!(
            c.grant_types
                .iter()
                .all(|g| SUPPORTED_GRANT_TYPES.contains(&g.as_str()))
        );
        if let Some(s) = &req.scope {
            assert_eq!(c.scope.as_ref(), Some(&ScopeSet::parse(s).expect("scope")));
        }
        assert_eq!(c.client_name, req.client_name);
        // Only known metadata is kept (unknown fields are dropped, issue
        // 11): whatever is stored was sent, as sent.
        for (k, v) in &c.metadata {
            assert_eq!(req.extra.get(k), Some(v), "{k}");
        }
        assert!(c.active && !c.trusted);
    }
});
