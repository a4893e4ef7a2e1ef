//! The form and query parser of `/token`, `/authorize`, `/revoke` and
//! `/introspect` (`Params`), the typed `/authorize` query and login form
//! built on it, and the scope and PKCE values they carry.
//!
//! Checked against `form_urlencoded` as the model: a parameter is single
//! iff it has at most one non-empty value, `all` lists exactly those
//! values; `AuthorizeRequest` and `LoginForm` read what `Params` reads; a
//! parsed scope set prints to a string that parses back to the same set.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_mcp_core::ScopeSet;
use oauth_mcp_core::authorize::{AuthorizeRequest, LoginAction, LoginForm};
use oauth_mcp_core::params::Params;
use oauth_mcp_core::pkce;

fuzz_target!(|data: &[u8]| {
    let p = Params::parse(data);
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // Each distinct name's non-empty values, built once: checking every
    // name against a rescan of all pairs was quadratic in the pair count
    // and held the target near 1,500 executions a second.
    let mut by_name: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    for (k, v) in &pairs {
        let vs = by_name.entry(k.as_str()).or_default();
        if !v.is_empty() {
            vs.push(v.as_str());
        }
    }
    let values = |name: &str| -> Vec<&str> { by_name.get(name).cloned().unwrap_or_default() };
    // The parser treats every name alike: the first 32 distinct names of the
    // input and the names the endpoints read are enough to compare it with
    // the model, and keep the check linear in the input.
    let mut names: Vec<&str> = Vec::new();
    for (k, _) in &pairs {
        if names.len() == 32 {
            break;
        }
        if !names.contains(&k.as_str()) {
            names.push(k.as_str());
        }
    }
    names.extend(["client_id", "state", "resource", "scope", "code_verifier"]);
    for name in names {
        let vs = values(name);
        assert_eq!(p.all(name), vs, "all({name})");
        match p.single(name) {
            Ok(v) => {
                assert!(vs.len() <= 1, "{name} repeated but single");
                assert_eq!(v, vs.first().copied());
            }
            Err(e) => assert!(vs.len() > 1 && e.description.contains(name)),
        }
        assert_eq!(p.required(name).is_ok(), vs.len() == 1);
    }

    let a = AuthorizeRequest::parse(data);
    assert_eq!(a.client_id().ok(), p.single("client_id").ok().flatten());
    assert_eq!(a.client_id().is_ok(), values("client_id").len() == 1);
    assert_eq!(a.redirect_uri().ok(), p.single("redirect_uri").ok());
    assert_eq!(a.state(), p.single("state").ok().flatten());
    assert_eq!(a.resources(), p.all("resource").as_slice());
    if let Ok(Some(s)) = a.scope() {
        if let Ok(set) = ScopeSet::parse(s) {
            let again = ScopeSet::parse(&set.to_string()).expect("a printed scope set parses");
            assert_eq!(again, set, "scope round trip");
        }
    }
    if let (Ok(m), Ok(Some(c))) = (a.code_challenge_method(), a.code_challenge())
        && let Ok(method) = pkce::CodeChallengeMethod::parse(m)
    {
        let _ = pkce::check_challenge_format(method, c);
    }
    if let Ok(Some(v)) = p.single("code_verifier") {
        let ok = pkce::check_verifier_format(v).is_ok();
        let challenge = pkce::s256_challenge(v);
        assert!(
            pkce::check_challenge_format(pkce::CodeChallengeMethod::S256, &challenge).is_ok(),
            "an S256 challenge has the S256 shape"
        );
        assert_eq!(
            pkce::verify(pkce::CodeChallengeMethod::S256, &challenge, v).is_ok(),
            ok,
            "a well-formed verifier matches its own S256 challenge"
        );
        assert_eq!(
            pkce::verify(pkce::CodeChallengeMethod::Plain, v, v).is_ok(),
            ok
        );
    }

    let f = LoginForm::parse(data);
    let one = |n: &str| p.single(n).ok().flatten();
    assert_eq!(f.username, one("username").unwrap_or_default());
    assert_eq!(f.password.secret(), one("password").unwrap_or_default());
    assert_eq!(f.request_id.as_ref().map(|s| s.secret()), one("request_id"));
    assert_eq!(f.action == LoginAction::Deny, one("action") == Some("deny"));
});
