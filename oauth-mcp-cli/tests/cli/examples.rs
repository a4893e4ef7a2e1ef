//! `trace` against the workspace's example servers (axum and actix-web),
//! through the library and through the real binary (`--save-trace`,
//! `--format mermaid`, `--verbose`), plus pre-registered clients, a refused
//! redirect URI, a wrong password and the browser login.

use std::sync::Arc;
use std::time::Duration;

use oauth_mcp_cli::{DEFAULT_REDIRECT_URI, Login, Opener, Outcome, Status, TraceOptions};
use oauth_mcp_core::PreRegisteredClient;
use serde_json::Value;

use super::support::{
    TempDir, assert_completed, assert_diagnosis, closed_port, demo, run_cli, run_trace,
    start_actix, start_axum, start_axum_capturing,
};

/// The checks every healthy example run must pass.
fn assert_example_flow(r: &oauth_mcp_cli::TraceReport, mcp_url: &str) {
    assert_completed(r);
    assert_eq!(r.outcome(), Outcome::Ok, "{}", r.render_text(false));
    let s = &r.summary;
    assert_eq!(s.audience.as_deref(), Some(&[mcp_url.to_owned()][..]));
    assert_eq!(s.access_token_is_jwt, Some(true));
    assert_eq!(s.refresh_token_rotated, Some(true));
    assert!(s.dynamically_registered);
    assert_eq!(s.resource.as_deref(), Some(mcp_url));
    assert_eq!(s.requested_scope.as_deref(), Some("mcp"));
    assert!(
        s.tools.iter().any(|t| t == "whoami") && s.tools.iter().any(|t| t == "admin_echo"),
        "{s:?}"
    );
    assert_eq!(s.server_name.as_deref(), Some("oauth-mcp example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_example() {
    let server = start_axum(Default::default()).await;
    let r = run_trace(&demo(&server.mcp_url)).await;
    assert_example_flow(&r, &server.mcp_url);
    assert_eq!(r.step("login").unwrap().status, Status::Ok);
    // One line per step, in the documented shape.
    let text = r.render_text(false);
    assert!(
        text.lines().any(|l| l.starts_with("✔  3 AS metadata")
            && l.contains("GET http://127.0.0.1:")
            && l.ends_with("/.well-known/oauth-authorization-server → 200")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_example() {
    let server = start_actix().await;
    let r = run_trace(&demo(&server.mcp_url)).await;
    assert_example_flow(&r, &server.mcp_url);
    server.handle.stop(false).await;
}

/// The real binary: `--save-trace` writes valid JSON without any code or
/// token the server issued, and `--format mermaid` prints the diagram.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_saves_a_redacted_trace_and_prints_mermaid() {
    let (url, issued) = start_axum_capturing().await;
    let dir = TempDir::new("trace");
    let file = dir.join("trace.json");
    let out = run_cli(
        &[
            "trace",
            &url,
            "--username",
            "demo-user",
            "--password",
            "demo-password",
            "--save-trace",
            file.to_str().unwrap(),
            "--format",
            "mermaid",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with("sequenceDiagram\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("C->>AS: POST /token"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("RS-->>C: 401 WWW-Authenticate: Bearer resource_metadata="),
        "{}",
        out.stdout
    );
    // The step lines went to stderr.
    assert!(out.stderr.contains("✔ 12 refresh"), "{}", out.stderr);
    assert!(out.stderr.contains("Result: OK"), "{}", out.stderr);

    let text = std::fs::read_to_string(&file).unwrap();
    let trace: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(trace["metadata"]["server_url"], url.as_str());
    assert_eq!(trace["metadata"]["step_count"], 12);
    assert_eq!(trace["metadata"]["outcome"], "ok");
    assert!(
        trace["metadata"]["timestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let n = trace["metadata"]["total_requests"].as_u64().unwrap();
    assert_eq!(trace["trace_log"].as_array().unwrap().len() as u64, 2 * n);
    assert_eq!(trace["sequence_summary"]["access_token_received"], true);
    assert_eq!(trace["steps"][11]["name"], "refresh");

    // A code, two access tokens, two refresh tokens: none leaked anywhere.
    let secrets = issued.values();
    assert!(secrets.len() >= 5, "{secrets:?}");
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "secret {s} in the trace file");
        assert!(
            !out.stdout.contains(s.as_str()) && !out.stderr.contains(s.as_str()),
            "secret {s} printed"
        );
    }
    assert!(!text.contains("demo-password"));
    assert!(text.contains("[redacted]"));
    // The PKCE verifier and the login form's request id, by name.
    for key in ["code_verifier=", "request_id=", "password="] {
        let rest: Vec<&str> = text.split(key).skip(1).collect();
        assert!(!rest.is_empty(), "{key} not in the trace");
        assert!(
            rest.iter().all(|r| r.starts_with("%5Bredacted%5D")),
            "{key} not redacted"
        );
    }
    for entry in trace["trace_log"].as_array().unwrap() {
        for h in entry["headers"].as_array().unwrap() {
            if h[0].as_str().unwrap().eq_ignore_ascii_case("authorization") {
                assert!(h[1].as_str().unwrap().ends_with("[redacted]"), "{h}");
            }
        }
    }
}

/// `--verbose` prints every request and response, redacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_verbose_output_is_redacted() {
    let (url, issued) = start_axum_capturing().await;
    let out = run_cli(
        &[
            "trace",
            &url,
            "--username",
            "demo-user",
            "--password",
            "demo-password",
            "--verbose",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("> POST "), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("<   www-authenticate: Bearer resource_metadata="),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(">   authorization: Bearer [redacted]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\"access_token\": \"[redacted]\""),
        "{}",
        out.stdout
    );
    for s in issued.values() {
        assert!(!out.stdout.contains(s.as_str()), "secret {s} printed");
    }
    assert!(!out.stdout.contains("demo-password"));
}

/// A failing flow exits with status 1; a bad argument with 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_exit_status() {
    let server = start_axum(Default::default()).await;
    let out = run_cli(
        &[
            "trace",
            &server.mcp_url,
            "--username",
            "demo-user",
            "--password",
            "nope",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.contains("[login-refused]"), "{}", out.stdout);
    assert!(out.stdout.contains("Result: FAILED"), "{}", out.stdout);
    let out = run_cli(&["trace"], None).await;
    assert_eq!(out.code, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_registered_confidential_client() {
    let server = start_axum(example_axum_server::Options {
        clients: vec![
            PreRegisteredClient::confidential(
                "ci-client",
                "ci-secret-0123456789",
                vec![DEFAULT_REDIRECT_URI.to_owned()],
            )
            .named("CI"),
        ],
        ..Default::default()
    })
    .await;
    let r = run_trace(&TraceOptions {
        client_id: Some("ci-client".into()),
        client_secret: Some("ci-secret-0123456789".into()),
        ..demo(&server.mcp_url)
    })
    .await;
    assert_completed(&r);
    assert_eq!(r.outcome(), Outcome::Ok, "{}", r.render_text(false));
    assert!(!r.summary.dynamically_registered);
    assert_eq!(r.summary.client_id.as_deref(), Some("ci-client"));
    // Basic authentication at the token endpoint, redacted in the log.
    let token_req = r
        .exchanges
        .iter()
        .find(|e| e.url.ends_with("/token"))
        .unwrap();
    assert!(
        token_req
            .request_headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == "Basic [redacted]"),
        "{token_req:?}"
    );
    let json = r.to_json().to_string();
    assert!(!json.contains("ci-secret-0123456789"));
}

/// A pre-registered client whose registered redirect URI is not the one the
/// tracer uses: the server's error page is diagnosed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_uri_refused_by_the_authorization_endpoint() {
    let server = start_axum(example_axum_server::Options {
        clients: vec![PreRegisteredClient::public(
            "fixed-client",
            vec!["https://app.example/callback".into()],
        )],
        ..Default::default()
    })
    .await;
    let r = run_trace(&TraceOptions {
        client_id: Some("fixed-client".into()),
        ..demo(&server.mcp_url)
    })
    .await;
    assert_diagnosis(&r, "authorization", "redirect-uri-refused");
    let d = r.diagnosis("redirect-uri-refused").unwrap();
    assert!(d.problem.contains("not registered"), "{d:?}");
    assert!(d.problem.contains(DEFAULT_REDIRECT_URI), "{d:?}");
    assert_eq!(r.steps.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_missing_credentials() {
    let server = start_axum(Default::default()).await;
    let r =
        run_trace(&TraceOptions::new(&server.mcp_url).with_credentials("demo-user", "wrong")).await;
    assert_diagnosis(&r, "login", "login-refused");
    assert!(
        r.diagnosis("login-refused")
            .unwrap()
            .problem
            .contains("Wrong username or password")
    );
    let r = run_trace(&TraceOptions::new(&server.mcp_url)).await;
    assert_diagnosis(&r, "login", "credentials-needed");
}

/// `--no-resource`: oauth-mcp binds the token to the MCP server anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omitted_resource_still_yields_the_mcp_audience() {
    let server = start_axum(Default::default()).await;
    let r = run_trace(&TraceOptions {
        send_resource: false,
        ..demo(&server.mcp_url)
    })
    .await;
    assert_completed(&r);
    assert_eq!(r.outcome(), Outcome::Ok, "{}", r.render_text(false));
    assert_eq!(r.summary.resource, None);
    assert_eq!(
        r.summary.audience.as_deref(),
        Some(&[server.mcp_url.clone()][..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server() {
    let port = closed_port();
    let r = run_trace(&demo(&format!("http://127.0.0.1:{port}/mcp"))).await;
    assert_diagnosis(&r, "MCP challenge", "unreachable");
    assert_eq!(r.steps.len(), 1);
}

/// The browser login: a scripted "browser" opens the URL, fills in the
/// login form and follows the redirect to the tracer's loopback listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_is_caught_on_loopback() {
    let server = start_axum(Default::default()).await;
    let opened = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = opened.clone();
    let browser = move |url: String| -> Result<(), String> {
        seen.lock().unwrap().push(url.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap();
            let page = http.get(&url).send().await.unwrap().text().await.unwrap();
            let id = page
                .split("name=\"request_id\" value=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap()
                .to_owned();
            let action = url::Url::parse(&url).unwrap().join("/authorize").unwrap();
            let resp = http
                .post(action)
                .form(&[
                    ("request_id", id.as_str()),
                    ("username", "demo-user"),
                    ("password", "demo-password"),
                    ("action", "approve"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 303);
            let back = resp.headers()["location"].to_str().unwrap().to_owned();
            let done = http.get(&back).send().await.unwrap();
            assert_eq!(done.status(), 200);
        });
        Ok(())
    };
    let r = run_trace(&TraceOptions {
        login: Login::Browser {
            opener: Opener::Custom(Arc::new(browser)),
            timeout: Duration::from_secs(30),
        },
        ..TraceOptions::new(&server.mcp_url)
    })
    .await;
    assert_example_flow(&r, &server.mcp_url);
    let redirect = r.summary.redirect_uri.clone().unwrap();
    assert!(
        redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"),
        "{redirect}"
    );
    assert_ne!(redirect, DEFAULT_REDIRECT_URI, "a free port is used");
    assert_eq!(opened.lock().unwrap().len(), 1);
    assert!(
        r.step("login")
            .unwrap()
            .summary
            .contains("browser came back")
    );
}

/// A browser that never comes back: the wait is bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_times_out() {
    let server = start_axum(Default::default()).await;
    let r = run_trace(&TraceOptions {
        login: Login::Browser {
            opener: Opener::Custom(Arc::new(|_| Ok(()))),
            timeout: Duration::from_secs(1),
        },
        ..TraceOptions::new(&server.mcp_url)
    })
    .await;
    assert_diagnosis(&r, "login", "browser-timeout");
}
