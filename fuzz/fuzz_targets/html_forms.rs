//! The CLI's HTML reading (`html5gum` tokenizer): the forms of a login or
//! consent page as a browser would submit them, a page's visible text, and
//! its error message; on any page, and on the core's own pages carrying
//! untrusted text.
//!
//! Input: selector byte (mod 3): 0 the rest is a page; 1 the rest is the
//! `client_name` of a client registered through `/register`, whose login
//! page (GET `/authorize`) is read; 2 the rest is an unknown `client_id`
//! sent to `/authorize`, whose error page is read.
//!
//! Checked: a filled form submits only named controls, the password in
//! every password field and checkboxes only when checked; visible text is
//! collapsed and at most `max` characters (plus `…`); on the core's login
//! page a client name can add no form or control and is shown as sent; on
//! its error page a client id can add no form and the error is found.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use oauth_mcp_cli::fuzzing::{Form, error_text, forms, visible_text};
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::pkce::s256_challenge;
use oauth_mcp_fuzz::{block_on, text, with_oauth};

const REDIRECT: &str = "http://127.0.0.1:7777/cb";

fn get(oauth: &OAuthHttp, uri: &str) -> (u16, String) {
    let req = http::Request::get(uri).body(Bytes::new()).expect("request");
    let r = block_on(oauth.handle(req));
    (
        r.status().as_u16(),
        String::from_utf8_lossy(r.body()).into_owned(),
    )
}

fn authorize_uri(client_id: &str) -> String {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_challenge", &s256_challenge(&"v".repeat(43)))
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "s")
        .finish();
    format!("/authorize?{q}")
}

/// What holds for the forms of any page.
fn check_forms(fs: &[Form]) {
    for f in fs {
        assert!(f.filled.len() <= f.fields.len() + 1);
        for (name, value) in &f.filled {
            assert!(!name.is_empty());
            if f.fields
                .iter()
                .any(|(k, n, _)| k == "password" && n == name)
            {
                assert!(
                    value == "pw"
                        || f.fields
                            .iter()
                            .any(|(k, n, _)| k != "password" && n == name)
                );
            }
        }
        assert_eq!(
            f.has_password,
            f.fields.iter().any(|(k, _, _)| k == "password")
        );
        assert_eq!(f.method, f.method.to_ascii_lowercase());
    }
}

/// What holds for a page's visible text at most `max` characters long.
fn check_text(t: &str, max: usize) {
    assert!(t.chars().count() <= max + 1);
    assert!(!t.contains("  ") && t.trim_start() == t, "{t:?}");
    assert!(t.ends_with('…') || t.trim_end() == t, "{t:?}");
}

/// Every reading of an arbitrary page.
fn any_page(page: &str) {
    check_forms(&forms(page, "alice", "pw"));
    for max in [0, 10, 300] {
        check_text(&visible_text(page, max), max);
    }
    if let Some(e) = error_text(page) {
        assert!(!e.is_empty() && e.chars().count() <= 301);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let s = text(rest);
    match sel % 3 {
        0 => any_page(&s),
        1 => with_oauth(|oauth| {
            let body = serde_json::json!({
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "none",
                "client_name": s,
            });
            let req = http::Request::post("/register")
                .header("content-type", "application/json")
                .body(Bytes::from(body.to_string()))
                .expect("request");
            let r = block_on(oauth.handle(req));
            if r.status() != 201 {
                return;
            }
            let v: serde_json::Value = serde_json::from_slice(r.body()).expect("JSON");
            let id = v["client_id"].as_str().expect("client_id");
            let (status, page) = get(oauth, &authorize_uri(id));
            assert_eq!(status, 200, "{page}");
            // The core's pages are large: each is tokenized twice, not as
            // often as `any_page` would (its checks run on small pages).
            let fs = forms(&page, "alice", "pw");
            check_forms(&fs);
            assert_eq!(fs.len(), 1, "{page}");
            let f = &fs[0];
            assert!(f.has_password);
            assert_eq!(f.username_field.as_deref(), Some("username"));
            for (_, name, _) in &f.fields {
                assert!(
                    matches!(
                        name.as_str(),
                        "request_id" | "username" | "password" | "action"
                    ),
                    "a client name added the control `{name}`"
                );
            }
            assert!(
                f.filled
                    .contains(&("action".to_owned(), "approve".to_owned()))
            );
            let shown = s.split_whitespace().collect::<Vec<_>>().join(" ");
            if !shown.is_empty() && !s.chars().any(|c| c.is_control() || c == '\u{fffd}') {
                let t = visible_text(&page, 100_000);
                check_text(&t, 100_000);
                assert!(t.contains(&shown), "{shown:?} not shown");
            }
        }),
        _ => with_oauth(|oauth| {
            if s.is_empty() {
                return;
            }
            let (status, page) = get(oauth, &authorize_uri(&s));
            assert_eq!(status, 400, "{page}");
            assert!(
                forms(&page, "a", "b").is_empty(),
                "a client id added a form"
            );
            let e = error_text(&page);
            assert!(
                e.is_some_and(|e| !e.is_empty() && e.chars().count() <= 301),
                "{page}"
            );
        }),
    }
});
