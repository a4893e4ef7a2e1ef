//! Parsing the command line: ids that start with `-`, and `Debug` output
//! without secrets.

use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("oauth-mcp").chain(args.iter().copied()))
}

/// Client ids are random base64url and may start with `-` (1 in 64)
/// or `--`: every place that takes one accepts it as a value.
#[test]
fn ids_with_leading_hyphens_are_values() {
    for id in [
        "-Yv8Qx3",
        "--Yv8Qx3",
        "-hYv8Qx3",
        "-V1x",
        "-Yv8Qx3--trusted",
    ] {
        let cli = parse(&[
            "store",
            "--store",
            "sqlite://x",
            "clients",
            "update",
            id,
            "--trusted",
            "true",
        ])
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        let Command::Store(s) = cli.command else {
            panic!("{id}")
        };
        assert_eq!(
            s.command.command(),
            StoreCommand::ClientsUpdate {
                id: id.into(),
                redirect_uris: Vec::new(),
                trusted: Some(true),
                active: None
            },
            "{id}"
        );
        let cli = parse(&["store", "--store", "sqlite://x", "clients", "show", id])
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let Command::Store(s) = cli.command else {
            panic!("{id}")
        };
        assert_eq!(
            s.command.command(),
            StoreCommand::ClientsShow { id: id.into() }
        );
        let cli = parse(&[
            "store",
            "--store",
            "sqlite://x",
            "codes",
            "list",
            "--client",
            id,
            "--since",
            "2020-01-01",
        ])
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        let Command::Store(s) = cli.command else {
            panic!("{id}")
        };
        assert_eq!(
            s.command.command(),
            StoreCommand::CodesList {
                client: Some(id.into()),
                since: Some("2020-01-01".into()),
                until: None
            }
        );
        let cli = parse(&[
            "store",
            "--store",
            "sqlite://x",
            "users",
            "add",
            id,
            "--password",
            id,
        ])
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        let Command::Store(s) = cli.command else {
            panic!("{id}")
        };
        assert_eq!(
            s.command.command(),
            StoreCommand::UsersAdd {
                name: id.into(),
                password: PasswordSource::Value(id.into())
            }
        );
        let cli = parse(&[
            "trace",
            "http://h/mcp",
            "--client-id",
            id,
            "--client-secret",
            id,
            "--strict",
        ])
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        let Command::Trace(t) = cli.command else {
            panic!("{id}")
        };
        assert_eq!(t.client_id.as_deref(), Some(id));
        assert_eq!(t.client_secret.as_deref(), Some(id));
        assert!(t.strict);
    }
    // Flags are still flags.
    assert!(
        parse(&[
            "store",
            "--store",
            "sqlite://x",
            "clients",
            "show",
            "--help"
        ])
        .is_err()
    );
    assert!(parse(&["trace", "http://h/mcp", "--bogus"]).is_err());
}

/// No `Debug` of the options shows a password, a client secret or the
/// password of a store URL.
#[test]
fn debug_output_redacts_secrets() {
    let cli = parse(&[
        "trace",
        "http://h/mcp",
        "--username",
        "alice",
        "--password",
        "pw-hunter2",
        "--client-id",
        "c1",
        "--client-secret",
        "cs-s3cr3t",
    ])
    .unwrap();
    let Command::Trace(args) = &cli.command else {
        panic!("trace")
    };
    let opts = args.options();
    let login = opts.login.clone();
    for shown in [
        format!("{cli:?}"),
        format!("{args:?}"),
        format!("{opts:?}"),
        format!("{opts:#?}"),
        format!("{login:?}"),
    ] {
        assert!(!shown.contains("pw-hunter2"), "{shown}");
        assert!(!shown.contains("cs-s3cr3t"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(
            shown.contains("alice") || shown.starts_with("Form"),
            "{shown}"
        );
    }
    let cli = parse(&[
        "store",
        "--store",
        "postgres://u:db-pa55@h/db",
        "users",
        "add",
        "bob",
        "--password",
        "pw-builder",
    ])
    .unwrap();
    let Command::Store(store_args) = &cli.command else {
        panic!("store")
    };
    for shown in [
        format!("{cli:?}"),
        format!("{:?}", store_args.command.command()),
    ] {
        assert!(!shown.contains("db-pa55"), "{shown}");
        assert!(!shown.contains("pw-builder"), "{shown}");
        assert!(shown.contains("bob"), "{shown}");
    }
}

/// A kid is a base64url thumbprint and may start with `-` (1 in 64; a
/// CI run of `keys_commands_on_sqlite` met one): `keys retire` takes it as
/// the value, with its options before or after it.
#[test]
fn kids_with_leading_hyphens_are_values() {
    for kid in ["-7-ntxDVxGPX4NzcIMvE6", "--7ntx", "-hNtxDV"] {
        for args in [
            vec!["keys", "--store", "sqlite://x", "retire", kid],
            vec![
                "keys",
                "--store",
                "sqlite://x",
                "retire",
                "--remove-now",
                kid,
            ],
            vec![
                "keys",
                "--store",
                "sqlite://x",
                "retire",
                kid,
                "--remove-now",
            ],
        ] {
            let cli = parse(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let Command::Keys(k) = cli.command else {
                panic!("{args:?}")
            };
            let crate::keys::KeysSub::Retire {
                kid: got,
                remove_now,
            } = k.command
            else {
                panic!("{args:?}")
            };
            assert_eq!(got, kid, "{args:?}");
            assert_eq!(remove_now, args.contains(&"--remove-now"), "{args:?}");
        }
    }
}

/// `oauth-mcp keys` shows neither the store password nor the
/// key-encryption key in `Debug`.
#[test]
fn keys_debug_redacts_the_store_password_and_the_kek() {
    let cli = parse(&[
        "keys",
        "--store",
        "postgres://u:db-pa55@h/db",
        "--key-encryption-key",
        "a2VrLXNlY3JldC1rZWstc2VjcmV0LWtlay1zZWNyZXQ=",
        "list",
    ])
    .unwrap();
    let shown = format!("{cli:?}");
    assert!(!shown.contains("db-pa55"), "{shown}");
    assert!(
        !shown.contains("a2VrLXNlY3JldC1rZWstc2VjcmV0LWtlay1zZWNyZXQ="),
        "{shown}"
    );
    assert!(shown.contains("postgres://u:***@h/db"), "{shown}");
}

/// `--help` never prints a secret taken from the environment (clap shows
/// `[env: NAME=value]` unless the value is hidden).
#[test]
fn help_hides_secret_environment_values() {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    for (sub, var) in [
        ("trace", "OAUTH_MCP_PASSWORD"),
        ("trace", "OAUTH_MCP_CLIENT_SECRET"),
        ("store", "MCP_STORE"),
        ("keys", "MCP_STORE"),
        ("keys", "MCP_KEY_ENCRYPTION_KEY"),
    ] {
        let sub = cmd.find_subcommand_mut(sub).unwrap();
        let arg = sub
            .get_arguments()
            .find(|a| a.get_env().is_some_and(|e| e == var))
            .unwrap_or_else(|| panic!("{var}"));
        assert!(arg.is_hide_env_values_set(), "{var}");
    }
}
