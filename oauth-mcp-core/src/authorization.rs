//! The `Authorization` request header: `<scheme> <credentials>`, the scheme
//! matched case-insensitively (RFC 9110 §11.1) everywhere it is read.

/// The credentials of `header` if its scheme is `scheme` (any case), with
/// surrounding whitespace (HTTP's: spaces and tabs) removed; `None` for
/// another scheme or no credentials.
pub(crate) fn credentials<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    // Every index of the range is next to an ASCII byte, so `get` never
    // splits a character.
    header.get(credentials_range(header.as_bytes(), scheme)?)
}

/// [`credentials`] on a header's bytes, before any UTF-8 check (the Bearer
/// check looks a repeated token up in its cache by these bytes).
pub(crate) fn credentials_bytes<'a>(header: &'a [u8], scheme: &str) -> Option<&'a [u8]> {
    header.get(credentials_range(header, scheme)?)
}

/// Where the credentials are in `b`. Bytes, compared in place: reading a
/// 500-byte token costs no scan of it (a Bearer check per MCP request).
fn credentials_range(b: &[u8], scheme: &str) -> Option<std::ops::Range<usize>> {
    let ows = |c: &u8| *c == b' ' || *c == b'\t';
    // The usual form, `<scheme> <credentials>` with no other whitespace,
    // decided without the scans below (the general case finds the same).
    let n = scheme.len();
    if let (Some(name), Some(b' '), Some(first), Some(last)) =
        (b.get(..n), b.get(n), b.get(n + 1), b.last())
        && !ows(first)
        && !ows(last)
        && name.eq_ignore_ascii_case(scheme.as_bytes())
    {
        return Some(n + 1..b.len());
    }
    let start = b.iter().position(|c| !ows(c))?;
    let after = start + scheme.len();
    if !b.get(start..after)?.eq_ignore_ascii_case(scheme.as_bytes()) || !ows(b.get(after)?) {
        return None;
    }
    let from = after + b[after..].iter().position(|c| !ows(c))?;
    let to = b.iter().rposition(|c| !ows(c))? + 1;
    Some(from..to)
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
        // The bytes version finds the same credentials, and reads past
        // bytes that are not UTF-8.
        assert_eq!(
            credentials_bytes(b" bearer\tabc ", "Bearer"),
            Some(&b"abc"[..])
        );
        assert_eq!(
            credentials_bytes(b"Bearer a\xffb", "Bearer"),
            Some(&b"a\xffb"[..])
        );
        assert_eq!(credentials_bytes(b"Basic abc", "Bearer"), None);
    }
}
