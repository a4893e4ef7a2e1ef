//! Whether a body that names no operation is one JSON value (RFC 8259 §2),
//! nested no deeper than `serde_json` parses: the guard's syntax check of
//! most MCP requests (`tools/list`, notifications, results), in one pass
//! over the bytes, without allocating.
//!
//! It accepts exactly the texts that `serde_json` skips as
//! [`serde::de::IgnoredAny`] and nest at most [`MAX_DEPTH`] arrays and
//! objects deep (`serde_json`'s limit for any value it builds, and the
//! guard's for a body that may name an operation): strings are checked for
//! their escapes and control characters, not for what a `\u` escape
//! decodes to, and numbers for their grammar, not their range. Tested
//! against `serde_json` on generated and mutated texts (and fuzzed, target
//! `json_syntax`). `serde_json` took about 1,200 instructions for a 60-byte
//! `tools/list`, a third of `protect`'s work on it, most of them to skip
//! the strings one call each and to allocate the stack of a nested object.

/// The deepest nesting of arrays and objects accepted: 127, as `serde_json`
/// (which refuses the 128th level).
pub(crate) const MAX_DEPTH: u32 = 127;

/// True if `text` is one JSON value, optionally surrounded by whitespace,
/// nested at most [`MAX_DEPTH`] deep. `text` is UTF-8 already, so every
/// byte above ASCII in a string is part of a valid character.
pub(crate) fn is_json(text: &str) -> bool {
    value_document(text.as_bytes()).is_some()
}

/// The whole check; `None` at the first byte that cannot be there.
fn value_document(b: &[u8]) -> Option<()> {
    // One bit per open array (0) or object (1), innermost lowest: 127
    // levels fit.
    let mut open: u128 = 0;
    let mut depth: u32 = 0;
    let mut i = 0;
    loop {
        // A value is expected at `i`.
        i = whitespace(b, i);
        match *b.get(i)? {
            c @ (b'{' | b'[') => {
                if depth == MAX_DEPTH {
                    return None;
                }
                let object = c == b'{';
                let close = if object { b'}' } else { b']' };
                i = whitespace(b, i + 1);
                if b.get(i) == Some(&close) {
                    // Empty: a whole value, at the depth it opened at.
                    i += 1;
                } else {
                    open = open << 1 | u128::from(object);
                    depth += 1;
                    if object {
                        i = member_key(b, i)?;
                    }
                    continue;
                }
            }
            b'"' => i = string(b, i + 1)?,
            b't' => i = literal(b, i, b"true")?,
            b'f' => i = literal(b, i, b"false")?,
            b'n' => i = literal(b, i, b"null")?,
            b'-' | b'0'..=b'9' => i = number(b, i)?,
            _ => return None,
        }
        // A value ended before `i`: close what it ends, up to the next
        // value expected, or the end of the text.
        loop {
            i = whitespace(b, i);
            if depth == 0 {
                return (i == b.len()).then_some(());
            }
            let object = open & 1 == 1;
            match (*b.get(i)?, object) {
                (b',', false) => {
                    i += 1;
                    break;
                }
                (b',', true) => {
                    i = member_key(b, whitespace(b, i + 1))?;
                    break;
                }
                (b']', false) | (b'}', true) => {
                    i += 1;
                    open >>= 1;
                    depth -= 1;
                }
                _ => return None,
            }
        }
    }
}

/// Past `"key" :` at `i` (whitespace before `i` already skipped).
#[inline(always)]
fn member_key(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let i = whitespace(b, string(b, i + 1)?);
    (b.get(i) == Some(&b':')).then_some(i + 1)
}

/// Past the whitespace at `i` (space, tab, line feed, carriage return).
#[inline]
fn whitespace(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// Past the rest of a string whose opening quote is before `i`. Always
/// inlined (two call sites): as a call, its register saves and restores
/// were about 20 of the 45 instructions a short string costs.
#[inline(always)]
fn string(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        // Eight bytes at a time up to the first quote, backslash or control
        // character (most strings hold none before their closing quote).
        while let Some(word) = b.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
            let special = quote_backslash_or_control(u64::from_le_bytes(word));
            if special != 0 {
                i += (special.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => {
                i = match *b.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i + 2,
                    b'u' => {
                        let hex = b.get(i + 2..i + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        i + 6
                    }
                    _ => return None,
                };
            }
            // Control characters must be escaped.
            0..=0x1f => return None,
            _ => i += 1,
        }
    }
}

/// A high bit set in the lowest byte of `w` (read little-endian) that is
/// `"`, `\` or below 0x20, if any. Each of the three tests (SWAR: a byte
/// is zero, a byte is below `n`) may also flag bytes above the first one it
/// finds, never below: the lowest flag is exact.
#[inline]
fn quote_backslash_or_control(w: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    zero_byte(w ^ (ONES * u64::from(b'"')))
        | zero_byte(w ^ (ONES * u64::from(b'\\')))
        | (w.wrapping_sub(ONES * 0x20) & !w & HIGH)
}

/// Past `word` at `i`.
#[inline]
fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    b.get(i..)?.starts_with(word).then_some(i + word.len())
}

/// Past a number at `i`: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)? ([eE] [+-]? [0-9]+)?
#[inline]
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match *b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(b, i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i = some_digits(b, i + 1)?;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        i = some_digits(b, i)?;
    }
    Some(i)
}

/// Past the digits at `i` (none or more).
#[inline]
fn digits(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// Past the digits at `i`, at least one.
#[inline]
fn some_digits(b: &[u8], i: usize) -> Option<usize> {
    let end = digits(b, i);
    (end > i).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde::de::IgnoredAny;

    /// What `serde_json` says: one value skipped as `IgnoredAny`, nothing
    /// after it, nested at most `MAX_DEPTH` deep (counted on a text it
    /// accepted, outside strings).
    fn oracle(text: &str) -> bool {
        let mut de = serde_json::Deserializer::from_str(text);
        if IgnoredAny::deserialize(&mut de).is_err() || de.end().is_err() {
            return false;
        }
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0u32, 0u32, false, false);
        for c in text.bytes() {
            match (in_string, escaped, c) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
                (false, _, b'[' | b'{') => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                (false, _, b']' | b'}') => depth -= 1,
                _ => {}
            }
        }
        deepest <= MAX_DEPTH
    }

    fn agree(text: &str) {
        assert_eq!(is_json(text), oracle(text), "{text:?}");
    }

    #[test]
    fn valid_texts() {
        for ok in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#,
            " \t\r\n{ \"a\" : [ 1 , -0.5e+3 , 2E-7 , 0 , -0 ] , \"b\":{}} \n",
            "[]",
            "[[],{},[{}]]",
            "0",
            "-12.25",
            "1e9",
            "true",
            "false",
            "null",
            r#""""#,
            r#""\" \\ \/ \b \f \n \r \t \u00e9 \uD800 \uDFFF é 😀 \u007f""#,
            "\"\u{7f}\"",
            r#"{"":""}"#,
            r#"[1,"x",true,null,{"k":[false]}]"#,
        ] {
            assert!(is_json(ok), "{ok:?}");
            agree(ok);
        }
    }

    #[test]
    fn invalid_texts() {
        for bad in [
            "",
            " ",
            "{",
            "}",
            "[",
            "]",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,}",
            "{1:2}",
            "{'a':1}",
            "{\"a\" 1}",
            "{\"a\":1 \"b\":2}",
            "[1}",
            "{\"a\":1]",
            "[]]",
            "{}}",
            "[] []",
            "01",
            "-01",
            "1.",
            ".5",
            "1e",
            "1e+",
            "-",
            "+1",
            "0x10",
            "1.e3",
            "NaN",
            "Infinity",
            "tru",
            "truex",
            "nul",
            "True",
            "\"abc",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12G4\"",
            "\"a\nb\"",
            "\"\t\"",
            "\"\u{0}\"",
            "[1]x",
            "\u{a0}1",
            "\u{feff}{}",
            "/*c*/1",
            "1 // c",
        ] {
            assert!(!is_json(bad), "{bad:?}");
            agree(bad);
        }
    }

    #[test]
    fn the_word_scan_finds_the_first_special_byte() {
        let special = |c: u8| c == b'"' || c == b'\\' || c < 0x20;
        let first = |w: [u8; 8]| {
            let found = quote_backslash_or_control(u64::from_le_bytes(w));
            (found != 0).then(|| (found.trailing_zeros() / 8) as usize)
        };
        let mut r = Rng(0x2545_f491_4f6c_dd1d);
        // Every byte value at every position, among plain bytes or random
        // ones (specials after it included).
        for at in 0..8 {
            for c in 0..=255u8 {
                for fill in [b'a', 0xff, 0x80] {
                    let mut w = [fill; 8];
                    w[at] = c;
                    assert_eq!(first(w), special(c).then_some(at), "{w:?}");
                }
                let mut w = r.next().to_le_bytes();
                w[at] = c;
                assert_eq!(first(w), w.iter().position(|&c| special(c)), "{w:?}");
            }
        }
    }

    #[test]
    fn nesting_stops_where_serde_json_does() {
        for (open, close) in [("[", "]"), ("{\"k\":[", "]}")] {
            for depth in [1, 63, 64, 65, 126, 127, 128, 129, 300] {
                let text = format!("{}{}", open.repeat(depth), close.repeat(depth));
                agree(&text);
            }
        }
        let deepest = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(is_json(&deepest));
        // `serde_json::Value` refuses the 128th level too.
        let deeper = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(!is_json(&deeper));
        assert!(serde_json::from_str::<serde_json::Value>(&deeper).is_err());
        assert!(serde_json::from_str::<serde_json::Value>(&deepest).is_ok());
    }

    /// A small deterministic generator (xorshift), so the test needs no
    /// dependency and replays the same texts every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// A random JSON value of at most `depth` levels.
    fn value(r: &mut Rng, depth: u32, out: &mut String) {
        const SCALARS: [&str; 16] = [
            "0",
            "-1",
            "12.5e-3",
            "1E+2",
            "true",
            "false",
            "null",
            "\"\"",
            "\"tools/list\"",
            "\"a\\\"b\"",
            "\"\\u00e9\\n\"",
            "\"é😀\"",
            "-0.0",
            "9999999999999999999999",
            // Longer than a word, so that edits land in the word scan.
            "\"notifications/initialized, a longer string é 😀\"",
            "\"0123456789abcdef\\\\ghijklmnop\\u0041qrstuvwxyz\"",
        ];
        let ws = [" ", "", "\n", "\t", "\r\n "];
        out.push_str(ws[r.below(ws.len())]);
        match (depth, r.below(4)) {
            (0, _) | (_, 0 | 1) => out.push_str(SCALARS[r.below(SCALARS.len())]),
            (_, 2) => {
                out.push('[');
                for k in 0..r.below(4) {
                    if k > 0 {
                        out.push(',');
                    }
                    value(r, depth - 1, out);
                }
                out.push(']');
            }
            _ => {
                out.push('{');
                for k in 0..r.below(4) {
                    if k > 0 {
                        out.push(',');
                    }
                    out.push_str(["\"id\"", "\"method\"", "\"\"", "\"k\\u0041\""][r.below(4)]);
                    out.push_str(ws[r.below(ws.len())]);
                    out.push(':');
                    value(r, depth - 1, out);
                }
                out.push('}');
            }
        }
        out.push_str(ws[r.below(ws.len())]);
    }

    #[test]
    fn agrees_with_serde_json_on_generated_and_mutated_texts() {
        // Bytes a mutation puts in: JSON's punctuation, escapes, digits,
        // letters of the literals, controls, and a few multi-byte characters.
        const PIECES: [&str; 30] = [
            "{", "}", "[", "]", ",", ":", "\"", "\\", "/", "u", "0", "1", "-", "+", ".", "e", "E",
            "t", "n", "f", " ", "\n", "\t", "\u{0}", "\u{1f}", "x", "é", "\u{2028}", "[[", "\\u",
        ];
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut valid, mut invalid) = (0, 0);
        for _ in 0..20_000 {
            let mut text = String::new();
            value(&mut r, 4, &mut text);
            agree(&text);
            // One to three edits at character boundaries.
            for _ in 0..=r.below(3) {
                let bounds: Vec<usize> = (0..=text.len())
                    .filter(|&k| text.is_char_boundary(k))
                    .collect();
                let at = bounds[r.below(bounds.len())];
                let piece = PIECES[r.below(PIECES.len())];
                match r.below(3) {
                    0 => text.insert_str(at, piece),
                    1 => {
                        if let Some(c) = text[at..].chars().next() {
                            text.replace_range(at..at + c.len_utf8(), piece);
                        }
                    }
                    _ => {
                        if let Some(c) = text[at..].chars().next() {
                            text.replace_range(at..at + c.len_utf8(), "");
                        }
                    }
                }
            }
            agree(&text);
            if is_json(&text) {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        // The mutations produce both kinds in numbers.
        assert!(
            valid > 1_000 && invalid > 10_000,
            "{valid} valid, {invalid} invalid"
        );
    }
}
