//! Secrets in `Debug` output: shown as `[redacted]`, never as their value.

use std::fmt;

/// What replaces a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// `Debug` of an optional secret: `Some([redacted])` or `None`.
pub(crate) struct Hidden<'a, T>(pub(crate) &'a Option<T>);

impl<T> fmt::Debug for Hidden<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => write!(f, "Some({REDACTED})"),
            None => f.write_str("None"),
        }
    }
}
