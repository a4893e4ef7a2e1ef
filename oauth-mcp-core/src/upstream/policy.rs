//! Who may log in through the upstream provider, and with which scopes
//! ([`LoginPolicy`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::identity::UpstreamIdentity;
use super::principals::Principals;
#[cfg(test)]
use super::principals::parse_list;
use crate::error::{ConfigError, ErrorCode, OAuthError};
use crate::scope::ScopeSet;

/// Overrides of the [`LoginPolicy`] for the tokens of one resource.
/// Whatever is left out is inherited from the global policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourcePolicy {
    allow: Option<Principals>,
    scope_users: BTreeMap<String, Principals>,
    default_scopes: Option<ScopeSet>,
}

impl ResourcePolicy {
    /// Inherits everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Who may log in for this resource (instead of the global allow-list).
    pub fn allow(mut self, principals: Principals) -> Self {
        self.allow = Some(principals);
        self
    }

    /// Only these principals get `scope` for this resource (instead of the
    /// global list for `scope`).
    pub fn scope_users(mut self, scope: impl Into<String>, principals: Principals) -> Self {
        self.scope_users.insert(scope.into(), principals);
        self
    }

    /// The scopes every admitted user gets for this resource.
    pub fn default_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.default_scopes = Some(ScopeSet::from_scopes(scopes));
        self
    }
}

/// Who may log in through the upstream provider, and which scopes each user
/// gets: per-scope user lists (like `OAUTH_ADMIN_USERS=alice,bob`), global
/// defaults, and per-resource overrides.
///
/// Every part may be left out, and nothing left out can crash a request:
///
/// - **Who may log in** defaults to **nobody**. An identity provider such as
///   GitHub or Google will authenticate anyone on the internet, so "allow
///   everyone" must be said (`Principals::anyone()`, or `*` in a user list),
///   never assumed. A user refused this way is told that the operator has
///   not listed anyone yet.
/// - **A scope with a user list** (`scope_users`) is granted only to the
///   principals on it.
/// - **Default scopes** (`default_scopes`) are granted to every admitted
///   user. Left out, they are every supported scope that has no user list.
/// - **A resource override** replaces, for tokens of that resource, the
///   allow-list, the default scopes, or the user list of a scope; whatever
///   it leaves out is inherited from the global policy.
///
/// ```
/// use oauth_mcp_core::scope::ScopeSet;
/// use oauth_mcp_core::upstream::{LoginPolicy, Principals, ResourcePolicy, UpstreamIdentity};
///
/// let policy = LoginPolicy::new()
///     .allow(Principals::new().users(["alice", "bob"]).email_domains(["example.com"]))
///     .scope_users("admin", Principals::new().users(["alice"]))
///     .resource(
///         "https://files.example/mcp",
///         ResourcePolicy::new().scope_users("admin", Principals::new().users(["bob"])),
///     );
/// let supported = ScopeSet::parse("mcp admin").unwrap();
/// policy.validate(&supported).unwrap();
///
/// let alice = UpstreamIdentity::new("github", "https://github.com", "1").with_login("alice");
/// let both = ScopeSet::parse("mcp admin").unwrap();
/// let got = policy.decide(&alice, "https://mcp.example/mcp", &both, &supported).unwrap();
/// assert_eq!(got.to_string(), "admin mcp");
/// let got = policy.decide(&alice, "https://files.example/mcp", &both, &supported).unwrap();
/// assert_eq!(got.to_string(), "mcp");
///
/// let mallory = UpstreamIdentity::new("github", "https://github.com", "9").with_login("mallory");
/// let refused = policy.decide(&mallory, "https://mcp.example/mcp", &both, &supported).unwrap_err();
/// assert!(refused.to_string().contains("not on this server's list"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginPolicy {
    allow: Principals,
    scope_users: BTreeMap<String, Principals>,
    default_scopes: Option<ScopeSet>,
    resources: BTreeMap<String, ResourcePolicy>,
}

/// Why the policy refused a user. Its `Display` is written for that user.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No allow-list is configured, so nobody may log in.
    NobodyAllowed,
    /// The user is not on the allow-list.
    NotAllowed {
        /// How the user is called (login, email or id).
        user: String,
        /// The provider's display name.
        provider: String,
        /// Why an email-based rule could not match, if that may be the reason.
        hint: Option<String>,
    },
    /// The user may log in but may not have any of the requested scopes.
    NoScopes {
        /// How the user is called.
        user: String,
        /// What the client asked for.
        requested: ScopeSet,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NobodyAllowed => f.write_str(
                "this server does not let anyone sign in yet: its operator has not listed any allowed users, email addresses, email domains, organisations or groups",
            ),
            Self::NotAllowed {
                user,
                provider,
                hint,
            } => {
                write!(
                    f,
                    "`{user}` ({provider}) is not on this server's list of allowed users; ask its operator to add you"
                )?;
                if let Some(h) = hint {
                    write!(f, " ({h})")?;
                }
                Ok(())
            }
            Self::NoScopes { user, requested } => write!(
                f,
                "`{user}` may sign in, but may not be granted any of the requested scopes ({requested}); ask this server's operator for access"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

impl From<Refusal> for OAuthError {
    fn from(r: Refusal) -> Self {
        OAuthError::new(ErrorCode::AccessDenied, r.to_string())
    }
}

impl LoginPolicy {
    /// Nobody may log in; no scope has a user list; default scopes are the
    /// unrestricted supported ones.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds to who may log in.
    pub fn allow(mut self, principals: Principals) -> Self {
        let Principals {
            users,
            emails,
            email_domains,
            github_orgs,
            groups,
        } = principals;
        self.allow.users.extend(users);
        self.allow.emails.extend(emails);
        self.allow.email_domains.extend(email_domains);
        self.allow.github_orgs.extend(github_orgs);
        self.allow.groups.extend(groups);
        self
    }

    /// Only `principals` get `scope` (e.g. `admin` for `alice` and `bob`).
    /// They must also be allowed to log in.
    pub fn scope_users(mut self, scope: impl Into<String>, principals: Principals) -> Self {
        self.scope_users.insert(scope.into(), principals);
        self
    }

    /// The scopes every admitted user gets (default: every supported scope
    /// that has no user list).
    pub fn default_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.default_scopes = Some(ScopeSet::from_scopes(scopes));
        self
    }

    /// Overrides for tokens whose audience is `resource` (its canonical URI).
    pub fn resource(mut self, resource: impl Into<String>, policy: ResourcePolicy) -> Self {
        self.resources.insert(resource.into(), policy);
        self
    }

    /// Every GitHub organisation the policy mentions: the GitHub provider
    /// checks the user's membership in these.
    pub fn github_orgs(&self) -> BTreeSet<String> {
        let mut all: Vec<&Principals> = vec![&self.allow];
        all.extend(self.scope_users.values());
        for r in self.resources.values() {
            all.extend(r.allow.iter());
            all.extend(r.scope_users.values());
        }
        all.into_iter()
            .flat_map(|p| p.github_orgs.iter().map(|o| o.to_ascii_lowercase()))
            .collect()
    }

    /// True if the policy lets nobody in (no allow-list anywhere).
    pub fn admits_nobody(&self) -> bool {
        self.allow.is_empty()
            && self
                .resources
                .values()
                .all(|r| r.allow.as_ref().is_none_or(Principals::is_empty))
    }

    /// Checks the policy against the server's supported scopes, once, at
    /// start-up: every scope named must be supported, a scope may not be
    /// both a default and restricted to a list, and every resource must be
    /// an absolute URI.
    pub fn validate(&self, supported: &ScopeSet) -> Result<(), ConfigError> {
        self.allow.validate("login_policy.allow")?;
        check_level(
            &self.scope_users,
            self.default_scopes.as_ref(),
            supported,
            "login_policy",
        )?;
        for (uri, r) in &self.resources {
            let parsed = url::Url::parse(uri).map_err(|e| {
                ConfigError::new(
                    "login_policy.resource",
                    format!("`{uri}` is not an absolute URI ({e}); use the resource's canonical URI, e.g. https://mcp.example.com/mcp"),
                )
            })?;
            if parsed.fragment().is_some() {
                return Err(ConfigError::new(
                    "login_policy.resource",
                    format!("`{uri}` has a fragment; a resource URI must not"),
                ));
            }
            if let Some(a) = &r.allow {
                a.validate("login_policy.resource.allow")?;
            }
            // A resource's default scopes are checked against every list in
            // force for it: its own and the inherited ones.
            let mut lists = self.scope_users.clone();
            lists.extend(r.scope_users.clone());
            check_level(
                &lists,
                r.default_scopes.as_ref().or(self.default_scopes.as_ref()),
                supported,
                "login_policy.resource",
            )?;
        }
        Ok(())
    }

    /// Decides for `identity` asking for `requested` scopes on `resource`:
    /// the scopes to grant (`requested` narrowed to what the user may have),
    /// or why not. An empty request yields an empty grant.
    pub fn decide(
        &self,
        identity: &UpstreamIdentity,
        resource: &str,
        requested: &ScopeSet,
        supported: &ScopeSet,
    ) -> Result<ScopeSet, Refusal> {
        let overrides = self.resources.get(resource);
        let allow = overrides
            .and_then(|r| r.allow.as_ref())
            .unwrap_or(&self.allow);
        if allow.is_empty() {
            return Err(Refusal::NobodyAllowed);
        }
        if !allow.matches(identity) {
            let hint = (allow.uses_email() && identity.verified_email().is_none()).then(|| {
                match &identity.email {
                    Some(e) => format!(
                        "your email address {e} is not verified at {}, so it cannot be used to admit you",
                        identity.provider
                    ),
                    None => format!(
                        "{} did not share a verified email address, so email rules cannot admit you",
                        identity.provider
                    ),
                }
            });
            return Err(Refusal::NotAllowed {
                user: identity.display().to_owned(),
                provider: identity.provider.clone(),
                hint,
            });
        }
        let defaults = overrides
            .and_then(|r| r.default_scopes.as_ref())
            .or(self.default_scopes.as_ref());
        let grantable = ScopeSet::from_scopes(supported.iter().filter(|scope| {
            let list = overrides
                .and_then(|r| r.scope_users.get(*scope))
                .or_else(|| self.scope_users.get(*scope));
            match (list, defaults) {
                (Some(list), _) => list.matches(identity),
                (None, Some(d)) => d.contains(scope),
                (None, None) => true,
            }
        }));
        let granted = requested.intersection(&grantable);
        if granted.is_empty() && !requested.is_empty() {
            return Err(Refusal::NoScopes {
                user: identity.display().to_owned(),
                requested: requested.clone(),
            });
        }
        Ok(granted)
    }
}

fn check_level(
    lists: &BTreeMap<String, Principals>,
    defaults: Option<&ScopeSet>,
    supported: &ScopeSet,
    field: &'static str,
) -> Result<(), ConfigError> {
    for (scope, p) in lists {
        if !supported.contains(scope) {
            return Err(ConfigError::new(
                field,
                format!(
                    "scope `{scope}` has a user list but is not in scopes_supported `{supported}`"
                ),
            ));
        }
        p.validate(field)?;
    }
    if let Some(d) = defaults {
        if !d.is_subset(supported) {
            return Err(ConfigError::new(
                field,
                format!("default scopes `{d}` must be a subset of scopes_supported `{supported}`"),
            ));
        }
        if let Some(s) = d.iter().find(|s| lists.contains_key(*s)) {
            return Err(ConfigError::new(
                field,
                format!(
                    "scope `{s}` is both a default scope (everyone gets it) and restricted to a user list; remove it from one of them"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MCP: &str = "https://mcp.example/mcp";
    const FILES: &str = "https://files.example/mcp";

    fn scopes(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    fn gh(login: &str, id: &str) -> UpstreamIdentity {
        UpstreamIdentity::new("github", "https://github.com", id).with_login(login)
    }

    #[test]
    fn absent_allow_list_admits_nobody_without_crashing() {
        let p = LoginPolicy::default();
        p.validate(&scopes("mcp admin")).unwrap();
        assert!(p.admits_nobody());
        let r = p
            .decide(&gh("alice", "1"), MCP, &scopes("mcp"), &scopes("mcp admin"))
            .unwrap_err();
        assert_eq!(r, Refusal::NobodyAllowed);
        assert!(r.to_string().contains("has not listed any allowed users"));
        assert_eq!(OAuthError::from(r).code, ErrorCode::AccessDenied);
    }

    #[test]
    fn users_match_login_without_case_or_id_exactly() {
        let p = LoginPolicy::new().allow(Principals::new().users(["Alice", "4242"]));
        let s = scopes("mcp");
        assert!(p.decide(&gh("alice", "1"), MCP, &s, &s).is_ok());
        assert!(p.decide(&gh("someone", "4242"), MCP, &s, &s).is_ok());
        let r = p.decide(&gh("bob", "2"), MCP, &s, &s).unwrap_err();
        assert_eq!(
            r.to_string(),
            "`bob` (github) is not on this server's list of allowed users; ask its operator to add you"
        );
        let anyone = LoginPolicy::new().allow(Principals::new().users(parse_list("x, *")));
        assert!(anyone.decide(&gh("bob", "2"), MCP, &s, &s).is_ok());
    }

    #[test]
    fn emails_and_domains_need_verification() {
        let p = LoginPolicy::new().allow(
            Principals::new()
                .emails(["boss@corp.example"])
                .email_domains(["@example.com"]),
        );
        p.validate(&scopes("mcp")).unwrap();
        let s = scopes("mcp");
        let id = |email: &str, verified| {
            UpstreamIdentity::new("google", "https://accounts.google.com", "7")
                .with_email(email, verified)
        };
        assert!(p.decide(&id("a@EXAMPLE.com", true), MCP, &s, &s).is_ok());
        assert!(
            p.decide(&id("Boss@corp.example", true), MCP, &s, &s)
                .is_ok()
        );
        assert!(
            p.decide(&id("a@sub.example.com", true), MCP, &s, &s)
                .is_err()
        );
        assert!(
            p.decide(&id("a@example.com.evil", true), MCP, &s, &s)
                .is_err()
        );
        let r = p
            .decide(&id("a@example.com", false), MCP, &s, &s)
            .unwrap_err();
        assert!(
            r.to_string()
                .contains("your email address a@example.com is not verified at google"),
            "{r}"
        );
        let r = p
            .decide(&UpstreamIdentity::new("google", "g", "8"), MCP, &s, &s)
            .unwrap_err();
        assert!(
            r.to_string().contains("did not share a verified email"),
            "{r}"
        );
    }

    #[test]
    fn orgs_and_groups() {
        let p = LoginPolicy::new().allow(
            Principals::new()
                .github_orgs(["Acme"])
                .groups(["/mcp-users"]),
        );
        let s = scopes("mcp");
        assert!(
            p.decide(&gh("a", "1").with_orgs(["acme"]), MCP, &s, &s)
                .is_ok()
        );
        assert!(
            p.decide(&gh("a", "1").with_orgs(["other"]), MCP, &s, &s)
                .is_err()
        );
        let oidc = UpstreamIdentity::new("https://idp.example", "https://idp.example", "u1");
        assert!(
            p.decide(&oidc.clone().with_groups(["/mcp-users"]), MCP, &s, &s)
                .is_ok()
        );
        assert!(
            p.decide(&oidc.with_groups(["/MCP-users"]), MCP, &s, &s)
                .is_err()
        );
        assert_eq!(
            p.github_orgs().into_iter().collect::<Vec<_>>(),
            vec!["acme".to_owned()]
        );
    }

    #[test]
    fn scopes_by_user_list_defaults_and_resource_override() {
        // The field report's setup: admins by list, everyone else `mcp`,
        // another resource with its own admin list.
        let supported = scopes("mcp admin files");
        let p = LoginPolicy::new()
            .allow(Principals::anyone())
            .scope_users("admin", Principals::new().users(["alice", "bob"]))
            .default_scopes(["mcp"])
            .resource(
                FILES,
                ResourcePolicy::new()
                    .scope_users("admin", Principals::new().users(["carol"]))
                    .default_scopes(["mcp", "files"]),
            );
        p.validate(&supported).unwrap();
        let all = scopes("mcp admin files");
        let decide = |who: &str, res: &str| {
            p.decide(&gh(who, who), res, &all, &supported)
                .unwrap()
                .to_string()
        };
        assert_eq!(decide("alice", MCP), "admin mcp");
        assert_eq!(decide("carol", MCP), "mcp");
        assert_eq!(decide("alice", FILES), "files mcp");
        assert_eq!(decide("carol", FILES), "admin files mcp");
        // A request is narrowed, never widened.
        assert_eq!(
            p.decide(&gh("alice", "a"), MCP, &scopes("mcp"), &supported)
                .unwrap()
                .to_string(),
            "mcp"
        );
        // Asking only for what one may not have is refused with a reason.
        let r = p
            .decide(&gh("carol", "c"), MCP, &scopes("admin"), &supported)
            .unwrap_err();
        assert_eq!(
            r.to_string(),
            "`carol` may sign in, but may not be granted any of the requested scopes (admin); ask this server's operator for access"
        );
        // An empty request is an empty grant, not a refusal.
        assert!(
            p.decide(&gh("carol", "c"), MCP, &ScopeSet::empty(), &supported)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn absent_defaults_are_the_unrestricted_scopes() {
        let supported = scopes("mcp admin");
        let p = LoginPolicy::new()
            .allow(Principals::new().users(["alice", "bob"]))
            .scope_users("admin", Principals::new().users(["alice"]));
        p.validate(&supported).unwrap();
        let d = |who: &str| {
            p.decide(&gh(who, who), MCP, &supported, &supported)
                .unwrap()
                .to_string()
        };
        assert_eq!(d("alice"), "admin mcp");
        assert_eq!(d("bob"), "mcp");
    }

    #[test]
    fn resource_allow_list_overrides_the_global_one() {
        let s = scopes("mcp");
        let p = LoginPolicy::new()
            .allow(Principals::new().users(["alice"]))
            .resource(
                FILES,
                ResourcePolicy::new().allow(Principals::new().users(["bob"])),
            );
        assert!(p.decide(&gh("alice", "1"), MCP, &s, &s).is_ok());
        assert!(p.decide(&gh("bob", "2"), MCP, &s, &s).is_err());
        assert!(p.decide(&gh("bob", "2"), FILES, &s, &s).is_ok());
        assert!(p.decide(&gh("alice", "1"), FILES, &s, &s).is_err());
        // A resource may also shut everyone out.
        let closed = p.resource(MCP, ResourcePolicy::new().allow(Principals::new()));
        assert_eq!(
            closed.decide(&gh("alice", "1"), MCP, &s, &s).unwrap_err(),
            Refusal::NobodyAllowed
        );
    }

    #[test]
    fn validation_names_the_field_and_the_fix() {
        let supported = scopes("mcp admin");
        let e = LoginPolicy::new()
            .scope_users("root", Principals::anyone())
            .validate(&supported)
            .unwrap_err();
        assert_eq!(e.field, "login_policy");
        assert!(e.reason.contains("`root`"), "{e}");
        let e = LoginPolicy::new()
            .default_scopes(["mcp", "admin"])
            .scope_users("admin", Principals::new().users(["alice"]))
            .validate(&supported)
            .unwrap_err();
        assert!(e.reason.contains("both a default scope"), "{e}");
        let e = LoginPolicy::new()
            .resource("/mcp", ResourcePolicy::new())
            .validate(&supported)
            .unwrap_err();
        assert_eq!(e.field, "login_policy.resource");
        let e = LoginPolicy::new()
            .allow(Principals::new().email_domains(["alice@example.com"]))
            .validate(&supported)
            .unwrap_err();
        assert!(e.reason.contains("not an email domain"), "{e}");
        // An inherited list conflicts with a resource's defaults too.
        let e = LoginPolicy::new()
            .scope_users("admin", Principals::new().users(["alice"]))
            .resource(MCP, ResourcePolicy::new().default_scopes(["admin"]))
            .validate(&supported)
            .unwrap_err();
        assert!(e.reason.contains("both a default scope"), "{e}");
    }
}
