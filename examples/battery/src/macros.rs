//! [`battery_tests!`](crate::battery_tests): the whole battery as `#[test]`s.

/// Generates the whole battery as tests in the invoking test file: one
/// `#[tokio::test]` per battery function, each on a fresh server, plus the
/// TypeScript SDK interop test.
///
/// `$start` is the path of an `async fn(ServerSpec) -> Harness` that starts
/// the adapter's example server on loopback (`127.0.0.1:0`) with a manual
/// clock the harness can advance, applying every field of the
/// [`ServerSpec`](crate::ServerSpec). The invoking crate needs `tokio` (with
/// `macros` and `rt-multi-thread`) among its dev-dependencies.
///
/// Tests with special needs get them here: `admin_tool_with_admin_scope` and
/// `refresh_narrowing_scope` run with `demo_admin = true`, the client
/// profiles (`profile_*`) with `loopback_client_documents = true`, and
/// `token_for_authorization_server_refused` with a signing key the test also
/// holds ([`start_with_generated_key`](crate::start_with_generated_key)).
#[macro_export]
macro_rules! battery_tests {
    ($start:path) => {
        $crate::__battery_tests_with_spec!(
            $start,
            $crate::ServerSpec::default();
            full_flow,
            omitted_resource_defaults_to_mcp,
            wrong_pkce_verifier,
            code_replay_revokes_tokens,
            redirect_uri_mismatch_at_authorize,
            redirect_uri_mismatch_at_token,
            loopback_redirect_any_port,
            unknown_client_at_authorize,
            unknown_resource_at_authorize,
            unknown_resource_at_token,
            missing_code_challenge,
            plain_pkce_refused,
            expired_code,
            expired_access_token,
            insufficient_scope_for_admin_tool,
            token_in_query_refused,
            malformed_token_requests,
            malformed_registrations,
            oversize_bodies,
            garbage_bearer,
            confidential_client_wrong_secret,
            confidential_client_basic_and_post,
            explicit_post_client_refuses_basic,
            refresh_broader_scope_refused,
            user_denies_consent,
            wrong_password_then_retry,
            cors,
            concurrent_refresh,
            concurrent_code_redemption,
        );

        // Tests that need a server granting the demo user `admin`.
        $crate::__battery_tests_with_spec!(
            $start,
            $crate::ServerSpec {
                demo_admin: true,
                ..$crate::ServerSpec::default()
            };
            admin_tool_with_admin_scope,
            refresh_narrowing_scope,
        );

        // The full sequence and the confinement checks on a server whose
        // public URL has a path.
        $crate::__battery_tests_with_spec!(
            $start,
            $crate::ServerSpec {
                public_path: Some("/base"),
                ..$crate::ServerSpec::default()
            };
            path_prefixed_full_flow => full_flow,
            path_prefix_confines_everything => path_prefix_confines_everything,
        );

        // Real clients' profiles (fixtures/clients), their known bugs and
        // refused private_key_jwt assertions, on a server that accepts
        // client documents and JWK Sets from loopback.
        $crate::__battery_tests_with_spec!(
            $start,
            $crate::ServerSpec {
                loopback_client_documents: true,
                ..$crate::ServerSpec::default()
            };
            profile_chatgpt_cimd,
            profile_chatgpt_dcr,
            profile_claude_ai_cimd,
            profile_claude_ai_dcr,
            profile_claude_code,
            profile_codex,
            profile_cursor,
            profile_goose,
            profile_mcp_inspector,
            profile_vscode_cimd,
            profile_vscode_dcr,
            claude_code_loopback_host_mismatch,
            private_key_jwt_refusals,
        );
        $crate::__battery_tests_with_spec!(
            $start,
            $crate::ServerSpec {
                loopback_client_documents: true,
                public_path: Some("/base"),
                ..$crate::ServerSpec::default()
            };
            path_prefixed_profile_chatgpt_cimd => profile_chatgpt_cimd,
            path_prefixed_profile_chatgpt_dcr => profile_chatgpt_dcr,
            path_prefixed_profile_claude_ai_cimd => profile_claude_ai_cimd,
            path_prefixed_profile_claude_ai_dcr => profile_claude_ai_dcr,
            path_prefixed_profile_claude_code => profile_claude_code,
            path_prefixed_profile_codex => profile_codex,
            path_prefixed_profile_cursor => profile_cursor,
            path_prefixed_profile_goose => profile_goose,
            path_prefixed_profile_mcp_inspector => profile_mcp_inspector,
            path_prefixed_profile_vscode_cimd => profile_vscode_cimd,
            path_prefixed_profile_vscode_dcr => profile_vscode_dcr,
        );

        /// The server signs with a key the test also holds, so it can mint a
        /// token whose audience is the authorization server itself.
        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn token_for_authorization_server_refused() {
            let (h, key) = $crate::start_with_generated_key($start).await;
            $crate::token_for_authorization_server_refused(&h, &key).await;
        }

        /// The official TypeScript MCP SDK client connects through OAuth.
        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn typescript_sdk_client_connects_through_oauth() {
            let h = $start($crate::ServerSpec::default()).await;
            $crate::interop::typescript_client(&h.mcp()).await;
        }
    };
}

/// One test per battery function, each on a fresh server started with `$spec`.
#[doc(hidden)]
#[macro_export]
macro_rules! __battery_tests_with_spec {
    ($start:path, $spec:expr; $($test:ident => $name:ident),* $(,)?) => {$(
        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $test() {
            $crate::$name(&$start($spec).await).await;
        }
    )*};
    ($start:path, $spec:expr; $($name:ident),* $(,)?) => {
        $crate::__battery_tests_with_spec!($start, $spec; $($name => $name),*);
    };
}
