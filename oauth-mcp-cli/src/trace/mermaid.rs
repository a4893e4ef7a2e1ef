//! The observed flow as a Mermaid `sequenceDiagram`: the tracer, the MCP
//! server and the authorization server, every request and answer, and each
//! step's findings as notes.

use std::fmt::Write as _;

use serde_json::Value;
use url::Url;

use super::parse::truncate;
use super::recorder::Exchange;
use super::report::{Severity, Status, TraceReport};

/// Text safe inside a Mermaid message or note.
fn mm(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ';' => ',',
            '#' => '♯',
            '<' => '‹',
            '>' => '›',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

/// Which participant serves a URL: the MCP server for the MCP endpoint and
/// protected-resource metadata, the callback for the redirect URI, else the
/// authorization server.
fn participant(url: &str, mcp: Option<&Url>) -> &'static str {
    let Ok(u) = Url::parse(url) else { return "AS" };
    if u.path()
        .starts_with("/.well-known/oauth-protected-resource")
    {
        return "RS";
    }
    if let Some(m) = mcp
        && u.origin() == m.origin()
        && u.path().trim_end_matches('/') == m.path().trim_end_matches('/')
    {
        return "RS";
    }
    "AS"
}

fn short_path(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => {
            let q = if u.query().is_some() { "?…" } else { "" };
            format!("{}{q}", u.path())
        }
        Err(_) => url.to_owned(),
    }
}

/// The JSON-RPC method of an MCP request body.
fn rpc_method(body: Option<&str>) -> Option<String> {
    let v: Value = serde_json::from_str(body?).ok()?;
    v.get("method")?.as_str().map(str::to_owned)
}

fn response_label(e: &Exchange) -> String {
    let Some(status) = e.status else {
        return format!("error: {}", e.error.as_deref().unwrap_or("no response"));
    };
    let mut s = status.to_string();
    if let Some(w) = e.response_header("www-authenticate") {
        let _ = write!(s, " WWW-Authenticate: {}", truncate(w, 60));
    } else if let Some(l) = e.response_header("location") {
        let _ = write!(s, " Location: {}", truncate(&short_path_loc(l), 60));
    } else if let Some(ct) = e.response_header("content-type") {
        let _ = write!(s, " {}", ct.split(';').next().unwrap_or(ct).trim());
    }
    s
}

fn short_path_loc(l: &str) -> String {
    match Url::parse(l) {
        Ok(u) => {
            let keys: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
            let host = u.host_str().unwrap_or_default();
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            if keys.is_empty() {
                format!("{host}{port}{}", u.path())
            } else {
                format!("{host}{port}{}?{}", u.path(), keys.join(","))
            }
        }
        Err(_) => l.to_owned(),
    }
}

pub(crate) fn render(r: &TraceReport) -> String {
    let mcp = Url::parse(&r.server_url).ok();
    let host = |u: Option<&Url>| {
        u.map(|u| {
            let h = u.host_str().unwrap_or_default().to_owned();
            match u.port() {
                Some(p) => format!("{h} port {p}"),
                None => h,
            }
        })
        .unwrap_or_default()
    };
    let issuer = r.summary.issuer.as_deref().and_then(|i| Url::parse(i).ok());
    let mut out = String::from("sequenceDiagram\n");
    out.push_str("    participant C as oauth-mcp trace\n");
    let _ = writeln!(
        out,
        "    participant RS as MCP server {}",
        mm(&host(mcp.as_ref()))
    );
    let as_host = host(issuer.as_ref());
    let _ = writeln!(
        out,
        "    participant AS as Authorization server{}{}",
        if as_host.is_empty() { "" } else { " " },
        mm(&as_host)
    );
    for step in &r.steps {
        let _ = writeln!(
            out,
            "    Note over C,AS: {} {} {}",
            step.status.symbol(),
            step.number,
            mm(&step.name)
        );
        for &i in &step.exchanges {
            let Some(e) = r.exchanges.get(i) else {
                continue;
            };
            let p = participant(&e.url, mcp.as_ref());
            let what = match rpc_method(e.request_body.as_deref()).filter(|_| p == "RS") {
                Some(m) => {
                    let auth = e
                        .request_headers
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"));
                    format!(
                        "{} {} {m}{}",
                        e.method,
                        short_path(&e.url),
                        if auth { " (Bearer)" } else { "" }
                    )
                }
                None => {
                    let grant = e
                        .request_body
                        .as_deref()
                        .filter(|b| b.contains("grant_type="))
                        .and_then(|b| {
                            form_urlencoded::parse(b.as_bytes())
                                .find(|(k, _)| k == "grant_type")
                                .map(|(_, v)| format!(" grant_type={v}"))
                        })
                        .unwrap_or_default();
                    format!("{} {}{grant}", e.method, short_path(&e.url))
                }
            };
            let _ = writeln!(out, "    C->>{p}: {}", mm(&what));
            let _ = writeln!(out, "    {p}-->>C: {}", mm(&response_label(e)));
        }
        if step.exchanges.is_empty() && step.status != Status::Skipped {
            let _ = writeln!(
                out,
                "    Note right of C: {}",
                mm(&truncate(&step.summary, 80))
            );
        }
        for d in &step.diagnoses {
            let _ = writeln!(
                out,
                "    Note right of C: {} {}",
                if d.severity == Severity::Failure {
                    "✘"
                } else {
                    "⚠"
                },
                mm(&truncate(&d.problem, 90))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_text_is_sanitized() {
        assert_eq!(mm("a;b#c<d>e\nf"), "a,b♯c‹d›e f");
        let mcp = Url::parse("http://h:1/mcp").ok();
        assert_eq!(participant("http://h:1/mcp", mcp.as_ref()), "RS");
        assert_eq!(participant("http://h:1/mcp/", mcp.as_ref()), "RS");
        assert_eq!(
            participant(
                "http://h:1/.well-known/oauth-protected-resource/mcp",
                mcp.as_ref()
            ),
            "RS"
        );
        assert_eq!(participant("http://h:1/token", mcp.as_ref()), "AS");
        assert_eq!(participant("http://other/mcp", mcp.as_ref()), "AS");
        assert_eq!(
            short_path_loc("http://127.0.0.1:9/cb?code=x&state=y"),
            "127.0.0.1:9/cb?code,state"
        );
    }
}
