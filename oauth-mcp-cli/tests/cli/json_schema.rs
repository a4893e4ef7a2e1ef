//! `--format json` is a stable schema: real output of the binary, for a
//! complete flow and for a failed one, validates against the JSON Schema
//! the crate ships (`schema/trace.schema.json`), and the schema is closed
//! (an unknown member is refused).

use oauth_mcp_cli::{TRACE_JSON_SCHEMA, TRACE_SCHEMA_VERSION};
use serde_json::Value;

use super::support::{closed_port, run_cli, start_axum};

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(TRACE_JSON_SCHEMA).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_follows_the_schema() {
    let v = validator();
    let server = start_axum(Default::default()).await;
    let out = run_cli(
        &[
            "trace",
            &server.mcp_url,
            "--username",
            "demo-user",
            "--password",
            "demo-password",
            "--format",
            "json",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["schema_version"], TRACE_SCHEMA_VERSION);
    assert_eq!(doc["metadata"]["step_count"], 12);
    assert_valid(&v, &doc);

    // A failed flow: a response entry without a status, with an error.
    let port = closed_port();
    let out = run_cli(
        &[
            "trace",
            &format!("http://127.0.0.1:{port}/mcp"),
            "--format",
            "json",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let failed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(failed["metadata"]["outcome"], "failed");
    assert_eq!(failed["trace_log"][1]["status_code"], Value::Null);
    assert_valid(&v, &failed);

    // The schema is closed: a new member must come with a new version.
    let mut extra = doc.clone();
    extra["metadata"]["surprise"] = Value::from(1);
    assert!(!v.is_valid(&extra));
    let mut retyped = doc;
    retyped["steps"][0]["status"] = Value::from("fine");
    assert!(!v.is_valid(&retyped));
}
