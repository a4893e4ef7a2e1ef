//! What the tracer reads in HTML pages: the forms of a login or consent
//! page (as a browser would submit them) and the text of an error page.
//! Tokenized by `html5gum` (WHATWG tokenization, entities decoded; the
//! contents of `<script>`, `<style>` and `<title>` are raw text).

use html5gum::{DefaultEmitter, Token, Tokenizer};

use super::parse::truncate;

/// An HTML form as a browser would submit it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Form {
    /// `action` (absent: the page's own URL).
    pub(crate) action: Option<String>,
    /// `get` or `post` (lower-case).
    pub(crate) method: String,
    /// Inputs and buttons in document order.
    pub(crate) fields: Vec<Field>,
}

/// One control of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// `hidden`, `text`, `password`, `submit`, `checkbox`, … (lower-case);
    /// `<button>` elements are `submit` unless their type says otherwise.
    pub(crate) kind: String,
    /// The `name` attribute ("" when absent).
    pub(crate) name: String,
    /// The `value` attribute ("" when absent).
    pub(crate) value: String,
    /// The `checked` attribute is present.
    pub(crate) checked: bool,
    /// The `id` attribute.
    pub(crate) id: String,
}

impl Form {
    /// True if the form has a password input.
    pub(crate) fn has_password(&self) -> bool {
        self.fields.iter().any(|f| f.kind == "password")
    }

    /// The field that takes the user name: the text or e-mail input named
    /// like a user name, else the first text or e-mail input.
    pub(crate) fn username_field(&self) -> Option<&Field> {
        let texts = || {
            self.fields
                .iter()
                .filter(|f| matches!(f.kind.as_str(), "text" | "email" | "") && !f.name.is_empty())
        };
        texts()
            .find(|f| {
                let n = f.name.to_ascii_lowercase();
                ["user", "login", "email", "name", "account"]
                    .iter()
                    .any(|k| n.contains(k))
            })
            .or_else(|| texts().next())
    }

    /// The submit button to press: the first whose name or value reads
    /// like approval, else the first that does not read like refusal.
    pub(crate) fn submit_button(&self) -> Option<&Field> {
        let buttons = || self.fields.iter().filter(|f| f.kind == "submit");
        let says = |f: &Field, words: &[&str]| {
            let t = format!("{} {} {}", f.name, f.value, f.id).to_ascii_lowercase();
            words.iter().any(|w| t.contains(w))
        };
        const YES: &[&str] = &[
            "approve",
            "allow",
            "accept",
            "consent",
            "authorize",
            "authorise",
            "grant",
            "sign",
            "login",
            "log in",
            "continue",
            "yes",
            "submit",
        ];
        const NO: &[&str] = &["deny", "cancel", "reject", "decline", "refuse", "no"];
        buttons()
            .find(|f| says(f, YES) && !says(f, &["deny", "cancel", "reject", "decline"]))
            .or_else(|| buttons().find(|f| !says(f, NO)))
    }

    /// The submitted name/value pairs with the credentials filled in.
    pub(crate) fn fill(
        &self,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Vec<(String, String)> {
        let user_field = self.username_field().map(|f| f.name.clone());
        let button = self.submit_button().cloned();
        let mut out = Vec::new();
        for f in &self.fields {
            if f.name.is_empty() {
                continue;
            }
            match f.kind.as_str() {
                "submit" | "button" | "reset" | "image" | "file" => {}
                "checkbox" | "radio" => {
                    if f.checked {
                        let v = if f.value.is_empty() { "on" } else { &f.value };
                        out.push((f.name.clone(), v.to_owned()));
                    }
                }
                "password" => out.push((f.name.clone(), password.unwrap_or_default().to_owned())),
                _ if Some(&f.name) == user_field.as_ref() => {
                    out.push((f.name.clone(), username.unwrap_or(&f.value).to_owned()));
                }
                _ => out.push((f.name.clone(), f.value.clone())),
            }
        }
        if let Some(b) = button.filter(|b| !b.name.is_empty()) {
            out.push((b.name, b.value));
        }
        out
    }
}

/// A page as a flat list of tags and text.
enum Node {
    /// A start tag: lower-cased name and attributes (names lower-cased,
    /// values decoded).
    Start(String, Vec<(String, String)>),
    /// An end tag: lower-cased name.
    End(String),
    /// Text (entities decoded).
    Text(String),
}

impl Node {
    fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
        attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Tokenizes a page; comments, doctypes and parse errors are dropped.
fn nodes(html: &str) -> Vec<Node> {
    let mut emitter = DefaultEmitter::default();
    // `<script>`/`<style>`/`<title>` hold raw text, as a browser reads them.
    emitter.naively_switch_states(true);
    Tokenizer::new_with_emitter(html, emitter)
        .filter_map(Result::ok)
        .filter_map(|t| match t {
            Token::StartTag(tag) => Some(Node::Start(
                lossy(&tag.name).to_ascii_lowercase(),
                tag.attributes
                    .iter()
                    .map(|(k, v)| (lossy(k).to_ascii_lowercase(), lossy(v)))
                    .collect(),
            )),
            Token::EndTag(tag) => Some(Node::End(lossy(&tag.name).to_ascii_lowercase())),
            Token::String(s) => Some(Node::Text(lossy(&s))),
            _ => None,
        })
        .collect()
}

/// Every form of an HTML page, with its inputs and buttons. Controls outside
/// a form are ignored.
pub(crate) fn parse_forms(html: &str) -> Vec<Form> {
    let mut forms = Vec::new();
    let mut current: Option<Form> = None;
    for node in nodes(html) {
        match node {
            Node::Start(name, attrs) if name == "form" => {
                if let Some(f) = current.take() {
                    forms.push(f);
                }
                current = Some(Form {
                    action: Node::attr(&attrs, "action").map(str::to_owned),
                    method: Node::attr(&attrs, "method")
                        .unwrap_or("get")
                        .to_ascii_lowercase(),
                    fields: Vec::new(),
                });
            }
            Node::End(name) if name == "form" => {
                if let Some(f) = current.take() {
                    forms.push(f);
                }
            }
            Node::Start(name, attrs) if name == "input" || name == "button" => {
                if let Some(f) = current.as_mut() {
                    let default = if name == "button" { "submit" } else { "text" };
                    let get = |k: &str| Node::attr(&attrs, k).unwrap_or_default().to_owned();
                    f.fields.push(Field {
                        kind: Node::attr(&attrs, "type")
                            .unwrap_or(default)
                            .to_ascii_lowercase(),
                        name: get("name"),
                        value: get("value"),
                        checked: Node::attr(&attrs, "checked").is_some(),
                        id: get("id"),
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(f) = current.take() {
        forms.push(f);
    }
    forms
}

/// The visible text of nodes (tags make spaces; `<script>`, `<style>` and
/// `<title>` are skipped), whitespace collapsed, at most `max` characters.
fn text_of(nodes: &[Node], max: usize) -> String {
    let mut out = String::new();
    let mut hidden: Option<&str> = None;
    for node in nodes {
        match node {
            Node::Start(name, _) if matches!(name.as_str(), "script" | "style" | "title") => {
                hidden = Some(name);
                out.push(' ');
            }
            Node::End(name) if hidden == Some(name.as_str()) => {
                hidden = None;
                out.push(' ');
            }
            Node::Start(..) | Node::End(_) => out.push(' '),
            Node::Text(t) if hidden.is_none() => out.push_str(t),
            Node::Text(_) => {}
        }
    }
    truncate(&out.split_whitespace().collect::<Vec<_>>().join(" "), max)
}

/// The visible text of an HTML page (tags stripped, entities decoded,
/// whitespace collapsed), at most `max` characters: for error messages.
pub(crate) fn visible_text(html: &str, max: usize) -> String {
    text_of(&nodes(html), max)
}

/// An element's attributes.
type Attrs = [(String, String)];

/// True if an element with these attributes is a page's error message, in
/// the order tried: `role="alert"`, `class="err"`, a class starting with
/// `error`, `id="error"`.
const ERROR_MARKERS: [fn(&Attrs) -> bool; 4] = [
    |a| Node::attr(a, "role") == Some("alert"),
    |a| Node::attr(a, "class") == Some("err"),
    |a| Node::attr(a, "class").is_some_and(|c| c.starts_with("error")),
    |a| Node::attr(a, "id") == Some("error"),
];

/// The text of the page's error element (see [`ERROR_MARKERS`]), if it has
/// one with text.
pub(crate) fn error_text(html: &str) -> Option<String> {
    let nodes = nodes(html);
    ERROR_MARKERS.iter().find_map(|marks| {
        let (start, name) = nodes.iter().enumerate().find_map(|(i, n)| match n {
            Node::Start(name, attrs) if marks(attrs) => Some((i, name)),
            _ => None,
        })?;
        // The element's content: up to its own end tag (same-name nesting counted).
        let mut depth = 0usize;
        let mut end = nodes.len();
        for (i, n) in nodes.iter().enumerate().skip(start + 1) {
            match n {
                Node::Start(n2, _) if n2 == name => depth += 1,
                Node::End(n2) if n2 == name && depth == 0 => {
                    end = i;
                    break;
                }
                Node::End(n2) if n2 == name => depth -= 1,
                _ => {}
            }
        }
        let text = text_of(nodes.get(start + 1..end)?, 300);
        (!text.is_empty()).then_some(text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN: &str = r#"<html><head><style>form{x:"<form>"}</style><script>var s = "<form action=/evil>";</script></head>
<body><!-- <form action="/commented"> -->
<form method="post" action="/authorize?x=1&amp;y=2"><input type="hidden" name="request_id" value="r&quot;1">
<label>User</label><input type=text id=username name="username" required>
<input type="password" name="password">
<input type="checkbox" name="remember" checked><input type="checkbox" name="spam">
<button type="submit" name="action" value="approve">Allow</button>
<button type="submit" name="action" value="deny">Deny</button></form>
<form action="/other"><input name="q"></form></body></html>"#;

    #[test]
    fn forms() {
        let forms = parse_forms(LOGIN);
        assert_eq!(forms.len(), 2, "{forms:?}");
        let f = &forms[0];
        assert_eq!(f.action.as_deref(), Some("/authorize?x=1&y=2"));
        assert_eq!(f.method, "post");
        assert!(f.has_password());
        assert_eq!(
            f.username_field().map(|f| f.name.as_str()),
            Some("username")
        );
        assert_eq!(
            f.fill(Some("alice"), Some("pw")),
            vec![
                ("request_id".to_owned(), "r\"1".to_owned()),
                ("username".to_owned(), "alice".to_owned()),
                ("password".to_owned(), "pw".to_owned()),
                ("remember".to_owned(), "on".to_owned()),
                ("action".to_owned(), "approve".to_owned()),
            ]
        );
        assert!(!forms[1].has_password());
        for junk in [
            "<",
            "<form",
            "<form action=",
            "<input name='a",
            "<!--",
            "<<>>",
            "<form><input type=\"",
            "</",
        ] {
            let _ = parse_forms(junk);
            let _ = visible_text(junk, 10);
            let _ = error_text(junk);
        }
    }

    #[test]
    fn page_text() {
        let html = "<html><head><title>T</title><style>p{}</style></head><body><h1>Oops</h1><p class=\"err\" id=\"error\">redirect_uri `x` is &lt;bad&gt;</p></body></html>";
        assert_eq!(visible_text(html, 100), "Oops redirect_uri `x` is <bad>");
        assert_eq!(
            error_text(html).as_deref(),
            Some("redirect_uri `x` is <bad>")
        );
        assert_eq!(truncate("abcdef", 3), "abc…");
    }
}
