//! The `Authorization` request header: `<scheme> <credentials>`, the scheme
//! matched case-insensitively (RFC 9110 §11.1) everywhere it is read.

/// The credentials of `header` if its scheme is `scheme` (any case), with
/// surrounding whitespace (HTTP's: spaces and tabs) removed; `None` for
/// another scheme or no credentials.
pub(crate) fn credentials<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    // Bytes, compared in place: reading a 500-byte token costs no scan of it
    // (a Bearer check per MCP request). Every index below is next to an
    // ASCII byte, so `get` never splits a character.
    let ows = |c: &u8| *c == b' ' || *c == b'\t';
    let b = header.as_bytes();
    let start = b.iter().position(|c| !ows(c))?;
    let after = start + scheme.len();
    if !b.get(start..after)?.eq_ignore_ascii_case(scheme.as_bytes()) || !ows(b.get(after)?) {
        return None;
    }
    let from = after + b[after..].iter().position(|c| !ows(c))?;
    let to = b.iter().rposition(|c| !ows(c))? + 1;
    header.get(from..to)
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
        assert_eq!(credentials(" \tBearer abc", "Bearer"), Some("abc"));
        assert_eq!(credentials("Beare\u{e9} abc", "Bearer"), None);
        assert_eq!(credentials("B\u{e9}arer abc", "Bearer"), None);
        assert_eq!(credentials("Bear", "Bearer"), None);
        // Only HTTP's whitespace surrounds credentials: a no-break space is
        // part of them (and makes them invalid).
        assert_eq!(credentials("Bearer abc\u{a0}", "Bearer"), Some("abc\u{a0}"));
    }
}
