//! The resource server's flags: `Debug` shows no introspection secret and
//! `--help` does not print it from the environment.

use clap::{CommandFactory, Parser};
use example_resource_server::Options;

#[test]
fn introspection_secret_is_redacted() {
    let opts = Options::try_parse_from([
        "example-resource-server",
        "--issuer",
        "https://as.example.com",
        "--introspection-client-id",
        "rs",
        "--introspection-client-secret",
        "intro-s3cr3t",
    ])
    .unwrap();
    let shown = format!("{opts:?}");
    assert!(!shown.contains("intro-s3cr3t"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert_eq!(
        opts.introspection_client_secret
            .as_ref()
            .map(|s| s.secret()),
        Some("intro-s3cr3t")
    );
    let cmd = Options::command();
    let arg = cmd
        .get_arguments()
        .find(|a| a.get_id() == "introspection_client_secret")
        .unwrap();
    assert!(arg.is_hide_env_values_set());
}
