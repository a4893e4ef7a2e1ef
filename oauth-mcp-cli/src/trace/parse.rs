//! Parsers for what servers send: `WWW-Authenticate` challenges, HTML login
//! forms, server-sent events, JWT payloads, plus the well-known URL rules
//! and canonical resource comparison. None of them panics on any input; each
//! loop consumes input on every iteration.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_mcp_core::resource::ResourceUri;
use serde_json::Value;
use url::Url;

// ------------------------------------------------------------ challenges

/// One challenge of a `WWW-Authenticate` header: scheme and auth-params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme as sent (`Bearer`).
    pub(crate) scheme: String,
    /// Auth-params, names lower-cased, in order.
    pub(crate) params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of a parameter (name case-insensitive).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for the `Bearer` scheme.
    pub(crate) fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Parses a `WWW-Authenticate` value into its challenges (RFC 9110 §11.6.1):
/// `Scheme k=v, k2="v 2", Other k=v`. Malformed parts are skipped.
pub(crate) fn parse_challenges(value: &str) -> Vec<Challenge> {
    let chars: Vec<char> = value.chars().collect();
    let mut out: Vec<Challenge> = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && (chars[*i] == ' ' || chars[*i] == '\t' || chars[*i] == ',') {
            *i += 1;
        }
    };
    while i < chars.len() {
        skip_ws(&mut i);
        // A token: a scheme, or a parameter name.
        let start = i;
        while i < chars.len() && is_tchar(chars[i]) {
            i += 1;
        }
        if i == start {
            // Not a token character: skip it.
            i += 1;
            continue;
        }
        let token: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && (chars[j] == ' ' || chars[j] == '\t') {
            j += 1;
        }
        if j < chars.len() && chars[j] == '=' && !out.is_empty() {
            // name = value
            i = j + 1;
            while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
                i += 1;
            }
            let mut v = String::new();
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    v.push(chars[i]);
                    i += 1;
                }
                i += 1; // closing quote (or past the end)
            } else {
                while i < chars.len() && chars[i] != ',' {
                    v.push(chars[i]);
                    i += 1;
                }
                v = v.trim().to_owned();
            }
            if let Some(c) = out.last_mut() {
                c.params.push((token.to_ascii_lowercase(), v));
            }
        } else if j < chars.len() && chars[j] == '=' {
            // token68 or a parameter before any scheme: ignore up to the comma.
            while i < chars.len() && chars[i] != ',' {
                i += 1;
            }
        } else {
            out.push(Challenge {
                scheme: token,
                params: Vec::new(),
            });
        }
    }
    out
}

// ------------------------------------------------------------ HTML forms

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

/// A start or end tag: its lower-cased name and its attributes.
struct Tag {
    name: String,
    closing: bool,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the tag starting at `chars[start] == '<'`; returns it and the index
/// after its `>`.
fn read_tag(chars: &[char], start: usize) -> (Option<Tag>, usize) {
    let mut i = start + 1;
    // Comments are skipped whole.
    if chars[i..].starts_with(&['!', '-', '-']) {
        let mut j = i + 3;
        while j + 2 < chars.len()
            && !(chars[j] == '-' && chars[j + 1] == '-' && chars[j + 2] == '>')
        {
            j += 1;
        }
        return (None, (j + 3).min(chars.len()));
    }
    let closing = i < chars.len() && chars[i] == '/';
    if closing {
        i += 1;
    }
    let ns = i;
    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '-') {
        i += 1;
    }
    if i == ns {
        return (None, start + 1);
    }
    let name: String = chars[ns..i].iter().collect::<String>().to_ascii_lowercase();
    let mut attrs = Vec::new();
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '/') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        if chars[i] == '>' {
            i += 1;
            break;
        }
        let an = i;
        while i < chars.len() && !chars[i].is_whitespace() && !"=>/\"'".contains(chars[i]) {
            i += 1;
        }
        if i == an {
            // A stray quote or similar: skip it.
            i += 1;
            continue;
        }
        let aname: String = chars[an..i].iter().collect::<String>().to_ascii_lowercase();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let q = chars[i];
                i += 1;
                let vs = i;
                while i < chars.len() && chars[i] != q {
                    i += 1;
                }
                value = chars[vs..i.min(chars.len())].iter().collect();
                i += 1;
            } else {
                let vs = i;
                while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '>' {
                    i += 1;
                }
                value = chars[vs..i].iter().collect();
            }
        }
        attrs.push((
            aname,
            html_escape::decode_html_entities(&value).into_owned(),
        ));
    }
    (
        Some(Tag {
            name,
            closing,
            attrs,
        }),
        i.min(chars.len()),
    )
}

/// Every form of an HTML page, with its inputs and buttons. Controls outside
/// a form are ignored; `<script>`/`<style>` contents are skipped.
pub(crate) fn parse_forms(html: &str) -> Vec<Form> {
    let chars: Vec<char> = html.chars().collect();
    let mut forms = Vec::new();
    let mut current: Option<Form> = None;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '<' {
            i += 1;
            continue;
        }
        let (tag, next) = read_tag(&chars, i);
        i = next.max(i + 1);
        let Some(tag) = tag else { continue };
        if !tag.closing && (tag.name == "script" || tag.name == "style") {
            // Skip to the matching end tag.
            let end: Vec<char> = format!("</{}", tag.name).chars().collect();
            while i < chars.len()
                && !chars[i..]
                    .iter()
                    .take(end.len())
                    .map(char::to_ascii_lowercase)
                    .eq(end.iter().copied())
            {
                i += 1;
            }
            continue;
        }
        match (tag.name.as_str(), tag.closing) {
            ("form", false) => {
                if let Some(f) = current.take() {
                    forms.push(f);
                }
                current = Some(Form {
                    action: tag.attr("action").map(str::to_owned),
                    method: tag.attr("method").unwrap_or("get").to_ascii_lowercase(),
                    fields: Vec::new(),
                });
            }
            ("form", true) => {
                if let Some(f) = current.take() {
                    forms.push(f);
                }
            }
            ("input" | "button", false) => {
                if let Some(f) = current.as_mut() {
                    let default = if tag.name == "button" {
                        "submit"
                    } else {
                        "text"
                    };
                    f.fields.push(Field {
                        kind: tag.attr("type").unwrap_or(default).to_ascii_lowercase(),
                        name: tag.attr("name").unwrap_or_default().to_owned(),
                        value: tag.attr("value").unwrap_or_default().to_owned(),
                        checked: tag.attr("checked").is_some(),
                        id: tag.attr("id").unwrap_or_default().to_owned(),
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

/// The visible text of an HTML page (tags stripped, entities decoded,
/// whitespace collapsed), at most `max` characters: for error messages.
pub(crate) fn visible_text(html: &str, max: usize) -> String {
    let chars: Vec<char> = html.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut skip_until: Option<&str> = None;
    while i < chars.len() {
        if chars[i] == '<' {
            let (tag, next) = read_tag(&chars, i);
            i = next.max(i + 1);
            if let Some(t) = tag {
                match (t.name.as_str(), t.closing, skip_until) {
                    ("script", false, _) => skip_until = Some("script"),
                    ("style", false, _) => skip_until = Some("style"),
                    ("title", false, _) => skip_until = Some("title"),
                    (n, true, Some(s)) if n == s => skip_until = None,
                    _ => {}
                }
            }
            out.push(' ');
            continue;
        }
        if skip_until.is_none() {
            out.push(chars[i]);
        }
        i += 1;
    }
    let text = html_escape::decode_html_entities(&out);
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&collapsed, max)
}

/// The text of the page's error element (`class="err"`, `role="alert"`,
/// `class="error…"`), if it has one.
pub(crate) fn error_text(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    for marker in [
        "role=\"alert\"",
        "class=\"err\"",
        "class=\"error",
        "id=\"error\"",
    ] {
        if let Some(at) = lower.find(marker) {
            let open_end = lower[at..].find('>').map(|e| at + e + 1)?;
            let close = lower[open_end..].find("</").map(|e| open_end + e)?;
            let text = visible_text(html.get(open_end..close)?, 300);
            if !text.is_empty() {
                return Some(text);
            }
        }
    }
    None
}

/// `s` cut to `max` characters, with `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}

// ------------------------------------------------------------ SSE

/// Splits off the complete events of an SSE buffer: returns each event's
/// `data` (lines joined with `\n`) and leaves the incomplete rest in `buf`.
pub(crate) fn drain_sse_events(buf: &mut String) -> Vec<String> {
    let mut events = Vec::new();
    loop {
        let normalized_end = [("\r\n\r\n", 4), ("\n\n", 2), ("\r\r", 2)]
            .iter()
            .filter_map(|(sep, len)| buf.find(sep).map(|i| (i, *len)))
            .min_by_key(|(i, _)| *i);
        let Some((end, len)) = normalized_end else {
            break;
        };
        let event: String = buf[..end].to_owned();
        buf.replace_range(..end + len, "");
        let mut data: Vec<&str> = Vec::new();
        for line in event.lines() {
            if let Some(d) = line.strip_prefix("data:") {
                data.push(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        if !data.is_empty() {
            events.push(data.join("\n"));
        }
    }
    events
}

// ------------------------------------------------------------ JWT

/// A JWT's decoded header and claims (not verified: the tracer only reads them).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JwtParts {
    /// The JOSE header.
    pub(crate) header: Value,
    /// The claims.
    pub(crate) claims: Value,
}

fn b64_json(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

/// Decodes a compact JWS (three base64url parts, JSON header with `alg`,
/// JSON object claims); `None` for anything else (an opaque token, a JWE).
pub(crate) fn decode_jwt(token: &str) -> Option<JwtParts> {
    let mut parts = token.split('.');
    let (h, c, _s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = b64_json(h)?;
    header.get("alg")?.as_str()?;
    Some(JwtParts {
        header,
        claims: b64_json(c)?,
    })
}

/// The `aud` claim as a list (a string is a list of one).
pub(crate) fn audiences(claims: &Value) -> Option<Vec<String>> {
    match claims.get("aud")? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

// ------------------------------------------------------------ URLs

/// True if `a` and `b` name the same resource after canonicalisation (case
/// of scheme and host, default port, one trailing slash).
pub(crate) fn same_resource(a: &str, b: &str) -> bool {
    match (ResourceUri::parse(a), ResourceUri::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The canonical form of a resource URI, or the input when it is not one.
pub(crate) fn canonical(s: &str) -> String {
    ResourceUri::parse(s).map_or_else(|_| s.to_owned(), |r| r.to_string())
}

/// `scheme://host[:port]` of a URL.
pub(crate) fn origin(u: &Url) -> String {
    u.origin().ascii_serialization()
}

/// True for `http` URLs on a loopback host (`localhost`, 127/8, ::1).
pub(crate) fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// True if `location` is `redirect_uri` plus query parameters (same scheme,
/// host, port and path).
pub(crate) fn is_redirect_to(location: &Url, redirect_uri: &Url) -> bool {
    location.scheme() == redirect_uri.scheme()
        && location.host_str().map(str::to_ascii_lowercase)
            == redirect_uri.host_str().map(str::to_ascii_lowercase)
        && location.port_or_known_default() == redirect_uri.port_or_known_default()
        && location.path() == redirect_uri.path()
}

/// The first value of a query parameter.
pub(crate) fn query_param(u: &Url, name: &str) -> Option<String> {
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenges(
            r#"Bearer resource_metadata="http://h/.well-known/oauth-protected-resource/mcp", scope="mcp admin""#,
        );
        assert_eq!(c.len(), 1);
        assert!(c[0].is_bearer());
        assert_eq!(
            c[0].param("resource_metadata"),
            Some("http://h/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c[0].param("SCOPE"), Some("mcp admin"));
        let c = parse_challenges(
            r#"Basic realm="x", Bearer error=invalid_token, error_description="a \"b\", c""#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].param("error"), Some("invalid_token"));
        assert_eq!(c[1].param("error_description"), Some("a \"b\", c"));
        assert_eq!(parse_challenges("Bearer").len(), 1);
        for junk in ["", "=", "\"", "Bearer a=\"unterminated", "  ,,, ", "é=è"] {
            let _ = parse_challenges(junk);
        }
    }

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

    #[test]
    fn sse() {
        let mut buf =
            "event: message\ndata: {\"a\":1}\n\n: comment\n\ndata:x\ndata: y\r\n\r\ndata: partial"
                .to_owned();
        assert_eq!(drain_sse_events(&mut buf), vec!["{\"a\":1}", "x\ny"]);
        assert_eq!(buf, "data: partial");
    }

    #[test]
    fn jwt() {
        let enc = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let t = format!(
            "{}.{}.sig",
            enc(r#"{"alg":"ES256","typ":"at+jwt"}"#),
            enc(r#"{"aud":["a","b"],"sub":"x"}"#)
        );
        let j = decode_jwt(&t).unwrap();
        assert_eq!(
            audiences(&j.claims),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert!(decode_jwt("3f8a-uuid").is_none());
        assert!(decode_jwt("a.b.c").is_none());
        assert!(decode_jwt(&format!("{}.{}", enc("{}"), enc("{}"))).is_none());
    }

    #[test]
    fn urls() {
        assert!(same_resource(
            "HTTPS://H.example:443/mcp/",
            "https://h.example/mcp"
        ));
        assert!(!same_resource(
            "https://h.example/mcp",
            "https://h.example/"
        ));
        assert!(!same_resource(
            "https://h.example:8443/mcp",
            "https://h.example/mcp"
        ));
        let loc = Url::parse("http://127.0.0.1:33418/callback?code=x").unwrap();
        assert!(is_redirect_to(
            &loc,
            &Url::parse("http://127.0.0.1:33418/callback").unwrap()
        ));
        assert!(!is_redirect_to(
            &loc,
            &Url::parse("http://127.0.0.1:1/callback").unwrap()
        ));
        assert_eq!(query_param(&loc, "code").as_deref(), Some("x"));
    }
}
