//! The `Authorization` request header: `<scheme> <credentials>`, the scheme
//! matched case-insensitively (RFC 9110 §11.1) everywhere it is read.

/// The credentials of `header` if its scheme is `scheme` (any case), with
/// surrounding whitespace (HTTP's: spaces and tabs) removed; `None` for
/// another scheme or no credentials.
pub(crate) fn credentials<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let ows: &[char] = &[' ', '\t'];
    let (s, rest) = header.trim_start_matches(ows).split_once(ows)?;
    if !s.eq_ignore_ascii_case(scheme) {
        return None;
    }
    let c = rest.trim_matches(ows);
    (!c.is_empty()).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_case_insensitive() {
        for h in ["Bearer abc", "bearer abc", "BEARER  abc ", "BeArEr\tabc"] {
            assert_eq!(credentials(h, "Bearer"), Some("abc"), "{h}");
        }
        assert_eq!(credentials("Basic abc", "Bearer"), None);
        assert_eq!(credentials("Bearer", "Bearer"), None);
        assert_eq!(credentials("Bearer   ", "Bearer"), None);
        assert_eq!(credentials("Bearerabc", "Bearer"), None);
        // Only HTTP's whitespace surrounds credentials: a no-break space is
        // part of them (and makes them invalid).
        assert_eq!(credentials("Bearer abc\u{a0}", "Bearer"), Some("abc\u{a0}"));
    }
}
