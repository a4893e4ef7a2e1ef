//! Resource URIs (RFC 8707 indicators, token audiences): `ResourceUri`
//! parsing and canonicalisation, the authorization server's
//! `ResourcePolicy::resolve`, and the CLI's `canonical`/`same_resource`.
//!
//! Input: NUL-separated URIs.
//!
//! Checked: a canonical URI canonicalises to itself and matches itself and
//! its source; its URL form and path agree with it; the CLI's canonical
//! form is the core's; `same_resource` is symmetric and agrees with
//! `matches`; the policy resolves only to a configured resource.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_mcp_cli::fuzzing::{canonical, same_resource};
use oauth_mcp_core::ResourceUri;
use oauth_mcp_core::resource::ResourcePolicy;
use oauth_mcp_fuzz::{fields, text};

fuzz_target!(|data: &[u8]| {
    let uris: Vec<String> = fields(data, 4).into_iter().map(text).collect();
    for s in &uris {
        let Ok(r) = ResourceUri::parse(s) else {
            assert_eq!(canonical(s), *s);
            continue;
        };
        let c = r.as_str();
        let again = ResourceUri::parse(c).expect("a canonical URI parses");
        assert_eq!(again, r, "canonicalisation is idempotent: {s}");
        assert!(r.matches(c) && r.matches(s));
        assert_eq!(r.to_string(), c);
        let url = r.to_url();
        if url.query().is_none() {
            assert!(!c.ends_with('/'), "{c}");
        }
        assert!(matches!(url.scheme(), "http" | "https"));
        assert!(url.fragment().is_none());
        assert_eq!(r.path(), url.path().trim_end_matches('/'));
        assert_eq!(canonical(s), c);
        assert!(same_resource(s, c));
        let json = serde_json::to_string(&r).expect("serialises");
        assert_eq!(
            serde_json::from_str::<ResourceUri>(&json).expect("parses"),
            r
        );
    }
    // Each pair once (both orders checked), each URI parsed once here: the
    // functions under test still parse what they are given.
    let parsed: Vec<Option<ResourceUri>> =
        uris.iter().map(|s| ResourceUri::parse(s).ok()).collect();
    for i in 0..uris.len() {
        for j in i..uris.len() {
            let (a, b) = (&uris[i], &uris[j]);
            let same = same_resource(a, b);
            assert_eq!(same, same_resource(b, a), "{a} / {b}");
            if let Some(r) = &parsed[i] {
                assert_eq!(r.matches(b), same && parsed[j].is_some(), "{a} / {b}");
            }
            if let Some(r) = &parsed[j] {
                assert_eq!(r.matches(a), same && parsed[i].is_some(), "{b} / {a}");
            }
        }
    }
    let default = ResourceUri::parse("https://mcp.example/mcp").expect("default");
    let extra = ResourceUri::parse("https://mcp.example/other").expect("extra");
    let policy = ResourcePolicy::new(default).with_resource(extra);
    let requested: Vec<String> = uris.into_iter().filter(|u| !u.is_empty()).collect();
    if let Ok(r) = policy.resolve(&requested) {
        assert!(policy.known().contains(&r));
        assert!(requested.iter().all(|q| r.matches(q)));
    }
});
