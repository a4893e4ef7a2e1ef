//! RFC 6570 URI templates as patterns for `resources/read` URIs: a literal
//! part matches itself; `{var}` (simple expansion) matches one or more
//! characters other than `/`, `?`, `#` and `,`; the reserved and fragment
//! forms `{+var}` / `{#var}` and any other operator match any run of one or
//! more characters. Matching is a dynamic programme, linear in
//! pattern × input, so no input can make it slow.

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Literal text.
    Lit(char),
    /// A variable segment; `true` if it may contain `/`, `?`, `#`.
    Var(bool),
}

/// A parsed URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UriTemplate {
    source: String,
    pieces: Vec<Piece>,
}

impl UriTemplate {
    /// Parses `template`; an error names what is wrong (unbalanced braces, an
    /// empty expression).
    pub(crate) fn parse(template: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut chars = template.chars();
        while let Some(c) = chars.next() {
            match c {
                '{' => {
                    let expr: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    if expr.is_empty() || expr.contains('{') {
                        return Err(format!("`{template}` has an empty or nested `{{…}}`"));
                    }
                    let reserved =
                        !expr.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
                    pieces.push(Piece::Var(reserved));
                }
                '}' => return Err(format!("`{template}` has a `}}` without `{{`")),
                c => pieces.push(Piece::Lit(c)),
            }
        }
        if template.matches('{').count() != template.matches('}').count() {
            return Err(format!("`{template}` has an unclosed `{{`"));
        }
        Ok(Self {
            source: template.to_owned(),
            pieces,
        })
    }

    /// The template as configured.
    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    /// True if `uri` is an expansion of the template.
    pub(crate) fn matches(&self, uri: &str) -> bool {
        let s: Vec<char> = uri.chars().collect();
        // reach[j]: the pieces so far can consume exactly s[..j].
        let mut reach = vec![false; s.len() + 1];
        reach[0] = true;
        for piece in &self.pieces {
            let mut next = vec![false; s.len() + 1];
            match piece {
                Piece::Lit(c) => {
                    for j in 0..s.len() {
                        if reach[j] && s[j] == *c {
                            next[j + 1] = true;
                        }
                    }
                }
                Piece::Var(reserved) => {
                    // One or more allowed characters after a reachable point.
                    let mut open = false;
                    for j in 0..s.len() {
                        let allowed = *reserved || !matches!(s[j], '/' | '?' | '#' | ',');
                        open = allowed && (open || reach[j]);
                        next[j + 1] = open;
                    }
                }
            }
            reach = next;
        }
        reach[s.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: &str, u: &str) -> bool {
        UriTemplate::parse(t).unwrap().matches(u)
    }

    #[test]
    fn simple_and_reserved_expansion() {
        assert!(m("repo://{owner}/{repo}/issues", "repo://a/b/issues"));
        assert!(!m("repo://{owner}/{repo}/issues", "repo://a/b/c/issues"));
        assert!(!m("repo://{owner}/{repo}/issues", "repo:///b/issues"));
        assert!(m("file:///{+path}", "file:///etc/hosts"));
        assert!(!m("file:///{path}", "file:///etc/hosts"));
        assert!(m("note://x", "note://x"));
        assert!(!m("note://x", "note://xy"));
    }

    #[test]
    fn bad_templates_and_hostile_inputs() {
        for bad in ["a{", "a}", "a{}", "{a{b}}"] {
            assert!(UriTemplate::parse(bad).is_err(), "{bad}");
        }
        // Many variables against a long near-miss stays linear.
        let t = UriTemplate::parse(&"{+a}x".repeat(50)).unwrap();
        assert!(!t.matches(&"x".repeat(49)));
        assert!(t.matches(&"yx".repeat(50)));
    }
}
