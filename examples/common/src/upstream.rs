//! Upstream login for the examples: `--upstream-issuer URL` (any OpenID
//! provider) or `--upstream github|google`, the client registered there,
//! and who may sign in (`--allowed-users`) and who gets `admin`
//! (`--admin-users`). The callback to register at the provider is
//! `<public-url>/upstream/callback`.

use oauth_mcp_core::upstream::{
    GitHubUpstream, LoginPolicy, OidcUpstream, Principals, UpstreamLogin, UpstreamProvider,
    parse_list,
};

use oauth_mcp_core::Secret;

use crate::{BoxError, Cli};

/// Which upstream identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamChoice {
    /// Any OpenID provider, by issuer URL.
    Issuer(String),
    /// GitHub (OAuth App or GitHub App).
    GitHub,
    /// Google.
    Google,
}

/// Upstream login settings (from the flags, or set by tests).
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    /// The provider.
    pub provider: UpstreamChoice,
    /// The client id registered at the provider.
    pub client_id: String,
    /// Its secret (none: a public client, PKCE only).
    pub client_secret: Option<Secret>,
    /// Who may sign in: user names or ids, and email addresses (with `@`);
    /// `*` for anyone. Empty: nobody.
    pub allowed_users: Vec<String>,
    /// Who gets the `admin` scope (and may sign in).
    pub admin_users: Vec<String>,
    /// GitHub's web base URL (tests: a loopback stand-in).
    pub github_web_url: Option<String>,
    /// GitHub's API base URL (tests).
    pub github_api_url: Option<String>,
    /// OpenID scopes to request (default `openid email profile`).
    pub scopes: Option<Vec<String>>,
}

impl UpstreamOptions {
    /// The settings the flags describe, or `None` without an upstream flag.
    pub fn from_cli(cli: &Cli) -> Result<Option<Self>, BoxError> {
        let provider = match (&cli.upstream_issuer, cli.upstream.as_deref()) {
            (None, None) => {
                if cli.upstream_client_id.is_some()
                    || cli.allowed_users.is_some()
                    || cli.admin_users.is_some()
                {
                    return Err("--upstream-client-id, --allowed-users and --admin-users need --upstream-issuer URL or --upstream github|google".into());
                }
                return Ok(None);
            }
            (Some(_), Some(_)) => {
                return Err(
                    "give either --upstream-issuer URL or --upstream github|google, not both"
                        .into(),
                );
            }
            (Some(url), None) => UpstreamChoice::Issuer(url.clone()),
            (None, Some(p)) if p.eq_ignore_ascii_case("github") => UpstreamChoice::GitHub,
            (None, Some(p)) if p.eq_ignore_ascii_case("google") => UpstreamChoice::Google,
            (None, Some(other)) => {
                return Err(format!("--upstream `{other}`: use github or google, or --upstream-issuer URL for any OpenID provider").into());
            }
        };
        let (client_id, client_secret) = (&cli.upstream_client_id, &cli.upstream_client_secret);
        let (allowed_users, admin_users) = (&cli.allowed_users, &cli.admin_users);
        let client_id = client_id.clone().filter(|c| !c.trim().is_empty()).ok_or(
            "--upstream-client-id (MCP_UPSTREAM_CLIENT_ID) is required: the client id this server is registered with at the provider",
        )?;
        Ok(Some(Self {
            provider,
            client_id,
            client_secret: client_secret
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            allowed_users: allowed_users.as_deref().map(parse_list).unwrap_or_default(),
            admin_users: admin_users.as_deref().map(parse_list).unwrap_or_default(),
            github_web_url: None,
            github_api_url: None,
            scopes: None,
        }))
    }

    /// The principals of a list: entries with `@` are email addresses, the
    /// rest user names or ids.
    fn principals(list: &[String]) -> Principals {
        let (emails, users): (Vec<&String>, Vec<&String>) =
            list.iter().partition(|e| e.contains('@'));
        Principals::new().users(users).emails(emails)
    }

    /// The login policy: the allowed and admin users may sign in and get
    /// `mcp`; only admin users get `admin`.
    pub fn policy(&self) -> LoginPolicy {
        LoginPolicy::new()
            .allow(Self::principals(&self.allowed_users))
            .allow(Self::principals(&self.admin_users))
            .scope_users("admin", Self::principals(&self.admin_users))
            .default_scopes(["mcp"])
    }

    /// The provider, checked (an OpenID provider's metadata is fetched now,
    /// so a wrong issuer fails at start-up).
    pub async fn provider(&self) -> Result<std::sync::Arc<dyn UpstreamProvider>, BoxError> {
        Ok(match &self.provider {
            UpstreamChoice::GitHub => {
                let mut b = GitHubUpstream::builder(&self.client_id)
                    .check_orgs(self.policy().github_orgs());
                if let Some(s) = &self.client_secret {
                    b = b.client_secret(s.secret());
                }
                if let Some(u) = &self.github_web_url {
                    b = b.web_base_url(u);
                }
                if let Some(u) = &self.github_api_url {
                    b = b.api_base_url(u);
                }
                std::sync::Arc::new(b.build()?)
            }
            UpstreamChoice::Google | UpstreamChoice::Issuer(_) => {
                let mut b = match &self.provider {
                    UpstreamChoice::Issuer(url) => OidcUpstream::builder(url, &self.client_id),
                    _ => OidcUpstream::google(&self.client_id),
                };
                if let Some(s) = &self.client_secret {
                    b = b.client_secret(s.secret());
                }
                if let Some(scopes) = &self.scopes {
                    b = b.scopes(scopes.clone());
                }
                std::sync::Arc::new(b.discover().await?)
            }
        })
    }

    /// The upstream login of the example's authorization server.
    pub async fn login(&self) -> Result<UpstreamLogin, BoxError> {
        Ok(UpstreamLogin::with_provider(self.provider().await?).policy(self.policy()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<UpstreamOptions>, BoxError> {
        use clap::Parser;
        let mut all = vec!["example"];
        all.extend_from_slice(args);
        UpstreamOptions::from_cli(&Cli::try_parse_from(all)?)
    }

    #[test]
    fn flags_are_checked() {
        assert!(parse(&[]).unwrap().is_none());
        let e = parse(&["--allowed-users", "alice"]).unwrap_err();
        assert!(e.to_string().contains("need --upstream-issuer"), "{e}");
        let e = parse(&["--upstream", "gitlab", "--upstream-client-id", "c"]).unwrap_err();
        assert!(e.to_string().contains("use github or google"), "{e}");
        let e = parse(&["--upstream", "github"]).unwrap_err();
        assert!(e.to_string().contains("--upstream-client-id"), "{e}");
        let e = parse(&["--upstream", "github", "--upstream-issuer", "https://x"]).unwrap_err();
        assert!(e.to_string().contains("cannot be used with"), "{e}");
        let o = parse(&[
            "--upstream",
            "GitHub",
            "--upstream-client-id",
            "Iv1.x",
            "--upstream-client-secret",
            "",
            "--allowed-users",
            "alice, bob@example.com",
            "--admin-users",
            "carol",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(o.provider, UpstreamChoice::GitHub);
        assert!(o.client_secret.is_none());
        assert_eq!(o.allowed_users, ["alice", "bob@example.com"]);
        let p = o.policy();
        let supported = oauth_mcp_core::scope::ScopeSet::parse("mcp admin").unwrap();
        p.validate(&supported).unwrap();
        let id = |login: &str| {
            oauth_mcp_core::upstream::UpstreamIdentity::new("github", "https://github.com", "1")
                .with_login(login)
        };
        let decide = |who: &str| {
            p.decide(&id(who), "https://x.example/mcp", &supported, &supported)
                .map(|s| s.to_string())
        };
        assert_eq!(decide("alice").unwrap(), "mcp");
        assert_eq!(decide("carol").unwrap(), "admin mcp");
        assert!(decide("mallory").is_err());
    }
}
