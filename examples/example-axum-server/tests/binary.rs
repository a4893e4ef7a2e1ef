//! The example binary as a person runs it: what it prints when its port is
//! taken, and that redirected logs carry no terminal colour codes.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_example-axum-server"));
    c.env_remove("MCP_BIND")
        .env_remove("MCP_PUBLIC_URL")
        .env_remove("MCP_STORE")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    c
}

#[test]
fn a_busy_port_is_named_with_the_flag_to_change_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = binary()
        .args(["--bind", &addr])
        .output()
        .expect("the example binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(
        stderr.contains("--bind") && stderr.contains("MCP_BIND"),
        "{stderr}"
    );
    assert!(!stderr.contains("Os {"), "{stderr}");
}

#[test]
fn redirected_logs_have_no_ansi_codes_and_a_tokenless_request_is_not_a_warning() {
    let mut child = binary()
        .args(["--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("Listening on:") {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server reports its address");
    // The first request of every OAuth flow: no token yet.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(
        &mut s,
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut reply = String::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    // Give the log line a moment to be written, then stop the server.
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = child.wait();
    assert!(stderr.contains("bearer.refused"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escape in redirected logs: {stderr}"
    );
    let refusal = stderr
        .lines()
        .find(|l| l.contains("bearer.refused"))
        .unwrap();
    assert!(refusal.contains("INFO"), "{refusal}");
    assert!(!refusal.contains("WARN"), "{refusal}");
}
