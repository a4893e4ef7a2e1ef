//! Scope checks done once at start-up: every configured scope list parses
//! and names only supported scopes, or the server refuses to start.

use crate::error::ConfigError;
use crate::scope::ScopeSet;

/// Parses a configured scope list.
pub(crate) fn parse_scopes(field: &'static str, list: &[String]) -> Result<ScopeSet, ConfigError> {
    ScopeSet::parse(&list.join(" ")).map_err(|e| ConfigError::new(field, e.description))
}

/// Refuses `set` unless it is within `supported`; `what` names the owner
/// (e.g. "tool `x` needs") for the message.
pub(crate) fn require_subset(
    field: &'static str,
    what: &str,
    set: &ScopeSet,
    supported: &ScopeSet,
) -> Result<(), ConfigError> {
    if set.is_subset(supported) {
        return Ok(());
    }
    let outside = set
        .iter()
        .filter(|s| !supported.contains(s))
        .collect::<Vec<_>>()
        .join(" ");
    Err(ConfigError::new(
        field,
        format!(
            "{what} `{set}`, but `{outside}` is not in scopes_supported `{supported}`; add it there or remove it here (no token could ever carry it)"
        ),
    ))
}
