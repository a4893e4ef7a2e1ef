//! Who the upstream provider says the user is, and the stable local subject
//! (`sub` of our tokens) that identity maps to.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A user as an upstream provider authenticated them.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamIdentity {
    /// The provider's id (`github`, `google`, or the issuer URL of another
    /// OpenID provider): the namespace of [`subject`](Self::subject).
    pub provider: String,
    /// The provider's issuer (for GitHub its web base URL).
    pub issuer: String,
    /// The provider's stable, never reassigned user id: the OpenID `sub`, or
    /// GitHub's numeric user id.
    pub subject: String,
    /// The user name: GitHub's login, or the OpenID `preferred_username`.
    /// It can change (and, on GitHub, be taken by someone else after a
    /// rename); [`subject`](Self::subject) cannot.
    pub login: Option<String>,
    /// The primary email address.
    pub email: Option<String>,
    /// True only if the provider says it verified [`email`](Self::email).
    pub email_verified: bool,
    /// The display name.
    pub name: Option<String>,
    /// OpenID groups (from the configured groups claim).
    pub groups: Vec<String>,
    /// GitHub organisations the user is an active member of, among those the
    /// server asked about.
    pub orgs: Vec<String>,
}

impl UpstreamIdentity {
    /// An identity with just its provider, issuer and subject.
    pub fn new(
        provider: impl Into<String>,
        issuer: impl Into<String>,
        subject: impl Into<String>,
    ) -> Self {
        Self {
            provider: provider.into(),
            issuer: issuer.into(),
            subject: subject.into(),
            ..Self::default()
        }
    }

    /// Sets [`login`](Self::login).
    pub fn with_login(mut self, login: impl Into<String>) -> Self {
        self.login = Some(login.into());
        self
    }

    /// Sets [`email`](Self::email) and whether the provider verified it.
    pub fn with_email(mut self, email: impl Into<String>, verified: bool) -> Self {
        self.email = Some(email.into());
        self.email_verified = verified;
        self
    }

    /// Sets [`name`](Self::name).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets [`groups`](Self::groups).
    pub fn with_groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`orgs`](Self::orgs).
    pub fn with_orgs<I: IntoIterator<Item = S>, S: Into<String>>(mut self, orgs: I) -> Self {
        self.orgs = orgs.into_iter().map(Into::into).collect();
        self
    }

    /// The verified email address, if any: only a verified address may be
    /// trusted to decide anything.
    pub fn verified_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|_| self.email_verified)
    }

    /// How to call the user in a message: the login, else the email, else
    /// the subject.
    pub fn display(&self) -> &str {
        self.login
            .as_deref()
            .or(self.email.as_deref())
            .unwrap_or(&self.subject)
    }
}

/// Maps an upstream identity to the local subject (the `sub` of the tokens
/// this server issues). It must be stable (same user, same subject, at every
/// login) and injective across providers.
#[derive(Clone, Default)]
pub enum SubjectMapping {
    /// `<provider id>|<upstream subject>`, e.g. `github|583231`,
    /// `google|10769150350006150715113082367`: stable, collision-free across
    /// providers, and readable in logs. The default.
    #[default]
    ProviderAndSubject,
    /// Your own mapping (e.g. to an existing account id).
    Custom(Arc<dyn Fn(&UpstreamIdentity) -> String + Send + Sync>),
}

impl SubjectMapping {
    /// The local subject of `identity`.
    pub fn local_subject(&self, identity: &UpstreamIdentity) -> String {
        match self {
            Self::ProviderAndSubject => format!("{}|{}", identity.provider, identity.subject),
            Self::Custom(f) => f(identity),
        }
    }
}

impl fmt::Debug for SubjectMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ProviderAndSubject => f.write_str("ProviderAndSubject"),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_subjects_are_namespaced_by_provider() {
        let gh =
            UpstreamIdentity::new("github", "https://github.com", "583231").with_login("octocat");
        let g = UpstreamIdentity::new("google", "https://accounts.google.com", "583231");
        let m = SubjectMapping::default();
        assert_eq!(m.local_subject(&gh), "github|583231");
        assert_ne!(m.local_subject(&gh), m.local_subject(&g));
        // The login does not enter the subject: a rename keeps the account.
        let renamed = gh.clone().with_login("octo-renamed");
        assert_eq!(m.local_subject(&gh), m.local_subject(&renamed));
        let custom = SubjectMapping::Custom(Arc::new(|i| format!("user-{}", i.subject)));
        assert_eq!(custom.local_subject(&gh), "user-583231");
    }

    #[test]
    fn only_verified_email_counts() {
        let i = UpstreamIdentity::new("p", "i", "s").with_email("a@x.example", false);
        assert_eq!(i.verified_email(), None);
        assert_eq!(i.display(), "a@x.example");
        let i = i.with_email("a@x.example", true).with_login("al");
        assert_eq!(i.verified_email(), Some("a@x.example"));
        assert_eq!(i.display(), "al");
    }
}
