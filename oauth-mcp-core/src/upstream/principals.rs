//! Sets of users by login or id, verified email or domain, GitHub
//! organisation or OpenID group ([`Principals`]).

use super::identity::UpstreamIdentity;
use crate::error::ConfigError;

/// Splits a comma- (or whitespace-) separated list, as in an environment
/// variable (`alice, bob`), dropping empty entries.
pub fn parse_list(list: &str) -> Vec<String> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A set of users, described by any mix of criteria; an identity belongs to
/// it if it meets any one of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principals {
    pub(super) users: Vec<String>,
    pub(super) emails: Vec<String>,
    pub(super) email_domains: Vec<String>,
    pub(super) github_orgs: Vec<String>,
    pub(super) groups: Vec<String>,
}

impl Principals {
    /// Nobody (add criteria with the other methods).
    pub fn new() -> Self {
        Self::default()
    }

    /// Everyone the provider authenticates.
    pub fn anyone() -> Self {
        Self::new().users(["*"])
    }

    /// Users by login (GitHub login or OpenID `preferred_username`,
    /// compared without case) or by the provider's user id (`sub`, GitHub's
    /// numeric id; exact). `*` means anyone. Prefer ids, emails or groups
    /// where users can change their login.
    pub fn users<I: IntoIterator<Item = S>, S: Into<String>>(mut self, users: I) -> Self {
        self.users.extend(clean(users));
        self
    }

    /// Users whose provider-verified email address is one of these
    /// (compared without case).
    pub fn emails<I: IntoIterator<Item = S>, S: Into<String>>(mut self, emails: I) -> Self {
        self.emails.extend(clean(emails));
        self
    }

    /// Users whose provider-verified email address is at one of these
    /// domains (`example.com` or `@example.com`; exact, so subdomains must
    /// be listed too).
    pub fn email_domains<I: IntoIterator<Item = S>, S: Into<String>>(mut self, domains: I) -> Self {
        self.email_domains
            .extend(clean(domains).map(|d| d.trim_start_matches('@').to_owned()));
        self
    }

    /// Active members of these GitHub organisations (by login, without case).
    pub fn github_orgs<I: IntoIterator<Item = S>, S: Into<String>>(mut self, orgs: I) -> Self {
        self.github_orgs.extend(clean(orgs));
        self
    }

    /// Members of these OpenID groups (from the provider's groups claim; exact).
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups.extend(clean(groups));
        self
    }

    /// True if no criterion is set (the set is nobody).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
            && self.emails.is_empty()
            && self.email_domains.is_empty()
            && self.github_orgs.is_empty()
            && self.groups.is_empty()
    }

    /// True if `id` meets any criterion.
    pub fn matches(&self, id: &UpstreamIdentity) -> bool {
        let login = id.login.as_deref();
        if self.users.iter().any(|u| {
            u == "*" || *u == id.subject || login.is_some_and(|l| l.eq_ignore_ascii_case(u))
        }) {
            return true;
        }
        if let Some(email) = id.verified_email() {
            if self.emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
                return true;
            }
            if let Some((_, domain)) = email.rsplit_once('@')
                && self
                    .email_domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(domain))
            {
                return true;
            }
        }
        if self
            .github_orgs
            .iter()
            .any(|o| id.orgs.iter().any(|m| m.eq_ignore_ascii_case(o)))
        {
            return true;
        }
        self.groups.iter().any(|g| id.groups.contains(g))
    }

    pub(super) fn uses_email(&self) -> bool {
        !self.emails.is_empty() || !self.email_domains.is_empty()
    }

    pub(super) fn validate(&self, field: &'static str) -> Result<(), ConfigError> {
        for d in &self.email_domains {
            if d.contains('@') || !d.contains('.') {
                return Err(ConfigError::new(
                    field,
                    format!("`{d}` is not an email domain; write it as `example.com`"),
                ));
            }
        }
        for e in &self.emails {
            if !e.contains('@') {
                return Err(ConfigError::new(
                    field,
                    format!("`{e}` is not an email address"),
                ));
            }
        }
        Ok(())
    }
}

fn clean<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> impl Iterator<Item = String> {
    items
        .into_iter()
        .map(Into::into)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_like_environment_variables() {
        assert_eq!(
            parse_list(" alice, bob ,,carol dave"),
            ["alice", "bob", "carol", "dave"]
        );
        assert!(parse_list("").is_empty());
        assert!(Principals::new().users(parse_list(" , ")).is_empty());
    }

    #[test]
    fn any_criterion_admits() {
        let p = Principals::new()
            .users(["Octocat"])
            .emails(["boss@corp.example"])
            .email_domains(["@example.com"])
            .github_orgs(["Acme"])
            .groups(["/admins"]);
        let id = |s: &str| UpstreamIdentity::new("p", "https://p.example", s);
        assert!(p.matches(&id("1").with_login("octocat")));
        assert!(p.matches(&id("Octocat")), "an entry also matches the id");
        assert!(p.matches(&id("2").with_email("x@Example.COM", true)));
        assert!(!p.matches(&id("2").with_email("x@example.com", false)));
        assert!(p.matches(&id("3").with_email("BOSS@corp.example", true)));
        assert!(p.matches(&id("4").with_orgs(["acme"])));
        assert!(p.matches(&id("5").with_groups(["/admins"])));
        assert!(!p.matches(&id("6").with_groups(["/Admins"])));
        assert!(!p.matches(&id("7").with_login("someone")));
        assert!(!Principals::new().matches(&id("8")));
        assert!(Principals::anyone().matches(&id("9")));
    }
}
