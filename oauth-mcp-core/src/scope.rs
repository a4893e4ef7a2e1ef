//! Scope sets, scope hierarchies (a broad scope implies narrower ones, as the
//! 2026-07-28 MCP specification requires) and per-user scope policy.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};

use crate::error::OAuthError;

/// `offline_access`: asks for a refresh token; never advertised by a resource.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// An ordered set of scope tokens. Immutable and shared: a clone (one per
/// request that passes the Bearer check) copies a pointer.
///
/// Held as a sorted slice without repeats: a set holds a few scopes, and
/// the Bearer check asks [`contains`](Self::contains) several times per
/// request, which a length-first comparison of each answers in a few
/// instructions (a `BTreeSet<String>` took about 90 per lookup).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ScopeSet(Arc<[String]>);

impl Default for ScopeSet {
    fn default() -> Self {
        Self::empty()
    }
}

fn valid_scope_token(s: &str) -> bool {
    // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Past this many scopes, [`ScopeSet::contains`] searches by bisection.
const LINEAR_SEARCH_MAX: usize = 8;

impl ScopeSet {
    /// The empty set (shared: making one allocates nothing).
    pub fn empty() -> Self {
        static EMPTY: LazyLock<Arc<[String]>> = LazyLock::new(|| Arc::from([]));
        Self(EMPTY.clone())
    }

    /// The set of `set`'s scopes (already sorted and without repeats).
    fn of(set: BTreeSet<String>) -> Self {
        if set.is_empty() {
            Self::empty()
        } else {
            Self(set.into_iter().collect())
        }
    }

    /// Parses a space-separated `scope` parameter.
    pub fn parse(s: &str) -> Result<Self, OAuthError> {
        let mut set = BTreeSet::new();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            if !valid_scope_token(tok) {
                return Err(OAuthError::invalid_scope(format!(
                    "`{tok}` is not a valid scope token (RFC 6749 §3.3)"
                )));
            }
            set.insert(tok.to_owned());
        }
        Ok(Self::of(set))
    }

    /// Builds a set from scope tokens (invalid tokens are dropped).
    pub fn from_scopes<I: IntoIterator<Item = S>, S: Into<String>>(iter: I) -> Self {
        Self::of(
            iter.into_iter()
                .map(Into::into)
                .filter(|s: &String| valid_scope_token(s))
                .collect(),
        )
    }

    /// True if the set has no scopes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True if `scope` is in the set (exact, no hierarchy).
    pub fn contains(&self, scope: &str) -> bool {
        if self.0.len() <= LINEAR_SEARCH_MAX {
            self.0.iter().any(|s| s == scope)
        } else {
            self.0.binary_search_by(|s| s.as_str().cmp(scope)).is_ok()
        }
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// True if every scope of `self` is in `other` (exact).
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.iter().all(|s| other.contains(s))
    }

    /// The scopes present in both sets.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        self.filtered(|s| other.contains(s))
    }

    /// The set without `scope`.
    pub fn without(&self, scope: &str) -> ScopeSet {
        self.filtered(|s| s != scope)
    }

    /// The scopes that `keep` accepts (still sorted, without repeats).
    fn filtered(&self, keep: impl Fn(&str) -> bool) -> ScopeSet {
        let kept: Vec<String> = self.iter().filter(|s| keep(s)).map(str::to_owned).collect();
        if kept.is_empty() {
            Self::empty()
        } else {
            Self(kept.into())
        }
    }

    /// The scopes as a `Vec`.
    pub fn to_vec(&self) -> Vec<String> {
        self.0.to_vec()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in self.0.iter() {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

impl From<ScopeSet> for String {
    fn from(s: ScopeSet) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for ScopeSet {
    type Error = OAuthError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

/// Decides whether a granted scope implies a required one. Replace it to
/// express a hierarchy such as `repo:admin ⊇ repo:write ⊇ repo:read`.
pub trait ScopeImplication: Send + Sync + fmt::Debug {
    /// True if holding `granted` is enough for an operation that needs
    /// `required`. Asked only for different scopes: holding the required
    /// scope itself is always enough.
    fn implies(&self, granted: &str, required: &str) -> bool;
}

/// A scope hierarchy from explicit edges, closed transitively:
/// `ScopeHierarchy::new().with("admin", ["tools:write"]).with("tools:write", ["tools:read"])`
/// makes `admin` satisfy `tools:read`.
#[derive(Debug, Clone, Default)]
pub struct ScopeHierarchy {
    edges: HashMap<String, Vec<String>>,
}

impl ScopeHierarchy {
    /// No implications: every scope only satisfies itself.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares that `broad` implies each of `narrower`.
    pub fn with<I, S>(mut self, broad: impl Into<String>, narrower: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.edges
            .entry(broad.into())
            .or_default()
            .extend(narrower.into_iter().map(Into::into));
        self
    }
}

impl ScopeImplication for ScopeHierarchy {
    fn implies(&self, granted: &str, required: &str) -> bool {
        if granted == required {
            return true;
        }
        let mut seen = HashSet::new();
        let mut stack = vec![granted];
        while let Some(s) = stack.pop() {
            if !seen.insert(s) {
                continue;
            }
            if let Some(next) = self.edges.get(s) {
                for n in next {
                    if n == required {
                        return true;
                    }
                    stack.push(n);
                }
            }
        }
        false
    }
}

/// Checks a token's scopes against what an operation requires, honouring the
/// hierarchy. Returns the required scopes that are not satisfied.
pub fn missing_scopes(
    granted: &ScopeSet,
    required: &ScopeSet,
    rule: &dyn ScopeImplication,
) -> ScopeSet {
    ScopeSet::of(
        required
            .0
            .iter()
            .filter(|r| !granted.contains(r) && !granted.iter().any(|g| rule.implies(g, r)))
            .cloned()
            .collect(),
    )
}

/// Which users may log in.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedUsers {
    /// Any user the authenticator accepts (the default).
    #[default]
    Any,
    /// Only these user names.
    Only(HashSet<String>),
}

impl AllowedUsers {
    /// Parses a list where `*` means anyone.
    pub fn from_list<I: IntoIterator<Item = S>, S: Into<String>>(list: I) -> Self {
        let set: HashSet<String> = list.into_iter().map(Into::into).collect();
        if set.contains("*") {
            Self::Any
        } else {
            Self::Only(set)
        }
    }

    /// True if `user` may log in.
    pub fn allows(&self, user: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(set) => set.contains(user),
        }
    }
}

/// Who may log in and which scopes each user may be granted. Every field has
/// a safe default, so a field left out of the configuration never fails a
/// request.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct UserPolicy {
    /// Which users may log in (default: any authenticated user).
    pub allowed_users: AllowedUsers,
    /// Scopes a user may be granted, per user name.
    pub user_scopes: HashMap<String, ScopeSet>,
    /// Scopes a user without an entry in `user_scopes` may be granted. `None`
    /// (the default) means every supported scope except the restricted ones.
    pub default_user_scopes: Option<ScopeSet>,
}

impl UserPolicy {
    /// The scopes `user` may be granted, out of `supported`.
    pub fn grantable(&self, user: &str, supported: &ScopeSet) -> ScopeSet {
        match self
            .user_scopes
            .get(user)
            .or(self.default_user_scopes.as_ref())
        {
            Some(s) => s.clone(),
            None => supported.clone(),
        }
    }
}

/// A shared scope implication rule.
pub type SharedImplication = Arc<dyn ScopeImplication>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let s = ScopeSet::parse("b a  a").unwrap();
        assert_eq!(s.to_string(), "a b");
        assert!(ScopeSet::parse("bad\"scope").is_err());
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn set_operations_small_and_large() {
        // Both sides of the linear / bisection boundary.
        for n in [1, LINEAR_SEARCH_MAX, LINEAR_SEARCH_MAX + 1, 40] {
            let names: Vec<String> = (0..n).rev().map(|i| format!("s{i:02}")).collect();
            let set = ScopeSet::from_scopes(names.iter().chain(&names).cloned());
            assert_eq!(set.iter().count(), n, "no repeats");
            assert!(set.iter().is_sorted(), "{set}");
            for name in &names {
                assert!(set.contains(name), "{name} in {n}");
            }
            for absent in ["", "s", "s0", "s000", "t00", "s99"] {
                assert!(!set.contains(absent), "{absent} in {n}");
            }
            let first = ScopeSet::parse("s00").unwrap();
            assert!(first.is_subset(&set));
            assert!(!set.is_subset(&first) || n == 1);
            assert_eq!(set.intersection(&first), first);
            assert_eq!(set.without("s00").iter().count(), n - 1);
            assert!(!set.without("s00").contains("s00"));
            assert_eq!(set.without("nope"), set);
        }
        assert_eq!(
            ScopeSet::parse("a").unwrap().without("a"),
            ScopeSet::empty()
        );
        assert!(ScopeSet::empty().is_subset(&ScopeSet::parse("a").unwrap()));
    }

    #[test]
    fn hierarchy_is_transitive() {
        let h = ScopeHierarchy::new()
            .with("admin", ["tools:write"])
            .with("tools:write", ["tools:read"]);
        assert!(h.implies("admin", "tools:read"));
        assert!(h.implies("tools:write", "tools:read"));
        assert!(!h.implies("tools:read", "tools:write"));
        let granted = ScopeSet::parse("admin").unwrap();
        let req = ScopeSet::parse("tools:read other").unwrap();
        assert_eq!(missing_scopes(&granted, &req, &h).to_string(), "other");
    }

    #[test]
    fn hierarchy_survives_cycles() {
        let h = ScopeHierarchy::new().with("a", ["b"]).with("b", ["a"]);
        assert!(h.implies("a", "b"));
        assert!(!h.implies("a", "c"));
    }

    #[test]
    fn user_policy_defaults_are_safe() {
        let p = UserPolicy::default();
        let supported = ScopeSet::parse("mcp admin").unwrap();
        assert!(p.allowed_users.allows("anyone"));
        assert_eq!(p.grantable("x", &supported), supported);
        let p = UserPolicy {
            allowed_users: AllowedUsers::from_list(["alice"]),
            user_scopes: HashMap::from([("alice".into(), ScopeSet::parse("mcp admin").unwrap())]),
            default_user_scopes: Some(ScopeSet::parse("mcp").unwrap()),
        };
        assert!(!p.allowed_users.allows("bob"));
        assert_eq!(p.grantable("alice", &supported).to_string(), "admin mcp");
        assert_eq!(p.grantable("bob", &supported).to_string(), "mcp");
        assert_eq!(AllowedUsers::from_list(["*", "x"]), AllowedUsers::Any);
    }
}
