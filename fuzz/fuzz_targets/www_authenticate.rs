//! `WWW-Authenticate` challenges as the CLI's tracer reads them
//! (`parse_challenges`), against anything, and against what the core's
//! resource server writes (`bearer::quoted_string` values).
//!
//! Input: NUL-separated fields a, b, c, d. The whole input (lossy UTF-8)
//! is parsed as a header value; then a header is built the way the resource
//! server builds one, with a `Basic realm=d` challenge before it when d is
//! not empty, and the values a (`resource_metadata`), b (`scope`), c
//! (`error_description`).
//!
//! Checked: parsing terminates and keeps names lower-case; a built header
//! parses back to its challenges and every value as sent (characters a
//! quoted-string cannot carry become `?`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_mcp_cli::fuzzing::challenges;
use oauth_mcp_core::bearer::quoted_string;
use oauth_mcp_fuzz::{fields, text};

fn carried(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\t' || (' '..='~').contains(&c) {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    for ((_, params), _, _) in challenges(&text(data)) {
        for (k, _) in params {
            assert_eq!(k, k.to_ascii_lowercase());
        }
    }

    let f = fields(data, 4);
    let (a, b, c, d) = (text(f[0]), text(f[1]), text(f[2]), text(f[3]));
    let bearer = format!(
        "Bearer resource_metadata={}, scope={}, error=\"invalid_token\", error_description={}",
        quoted_string(&a),
        quoted_string(&b),
        quoted_string(&c)
    );
    let header = if d.is_empty() {
        bearer
    } else {
        format!("Basic realm={}, {bearer}", quoted_string(&d))
    };
    let parsed = challenges(&header);
    let schemes: Vec<&str> = parsed.iter().map(|((s, _), _, _)| s.as_str()).collect();
    let expected: &[&str] = if d.is_empty() {
        &["Bearer"]
    } else {
        &["Basic", "Bearer"]
    };
    assert_eq!(schemes, expected, "{header}");
    let ((_, params), is_bearer, rm) = parsed.last().expect("Bearer");
    assert!(is_bearer);
    assert_eq!(rm.as_deref(), Some(carried(&a).as_str()));
    let param = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(param("scope"), Some(carried(&b)));
    assert_eq!(param("error").as_deref(), Some("invalid_token"));
    assert_eq!(param("error_description"), Some(carried(&c)));
    if !d.is_empty() {
        let ((_, basic), _, _) = &parsed[0];
        assert_eq!(basic, &vec![("realm".to_owned(), carried(&d))]);
    }
});
