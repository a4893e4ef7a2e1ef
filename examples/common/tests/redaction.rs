//! The example servers' flags: no `Debug` shows a password, a secret or a
//! store URL's password, and `--help` never prints a secret taken from the
//! environment.

use clap::{CommandFactory, Parser};
use example_common::{Cli, Options};

const SECRETS: [&str; 4] = [
    "db-pa55",
    "pw-hunter2",
    "up-s3cr3t",
    "a2VrLXNlY3JldC1rZWstc2VjcmV0LWtlay1zZWNyZXQ=",
];

#[test]
fn debug_shows_no_secret() {
    let cli = Cli::try_parse_from([
        "example",
        "--store",
        "postgres://u:db-pa55@h/db",
        "--demo-password",
        "pw-hunter2",
        "--upstream",
        "github",
        "--upstream-client-id",
        "up-id",
        "--upstream-client-secret",
        "up-s3cr3t",
        "--allowed-users",
        "*",
        "--key-encryption-key",
        "a2VrLXNlY3JldC1rZWstc2VjcmV0LWtlay1zZWNyZXQ=",
    ])
    .unwrap();
    let opts: Options = cli.clone().try_options().unwrap();
    for shown in [
        format!("{cli:?}"),
        format!("{opts:?}"),
        format!("{opts:#?}"),
    ] {
        for s in SECRETS {
            assert!(!shown.contains(s), "{s} in {shown}");
        }
        assert!(shown.contains("postgres://u:***@h/db"), "{shown}");
        assert!(shown.contains("up-id"), "{shown}");
    }
}

#[test]
fn help_hides_secret_environment_values() {
    let cmd = Cli::command();
    for var in [
        "MCP_STORE",
        "MCP_DEMO_PASSWORD",
        "MCP_UPSTREAM_CLIENT_SECRET",
        "MCP_KEY_ENCRYPTION_KEY",
    ] {
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_env().is_some_and(|e| e == var))
            .unwrap_or_else(|| panic!("{var}"));
        assert!(arg.is_hide_env_values_set(), "{var}");
    }
}
