//! Form and query parameters, with RFC 6749 §3.1/§3.2's rule that a
//! parameter must not repeat.

use crate::error::OAuthError;

/// Decoded `application/x-www-form-urlencoded` parameters.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a query string or form body.
    pub fn parse(input: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The one value of `name` (empty values count as absent); an error if repeated.
    pub fn single(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut it = self.0.iter().filter(|(k, v)| k == name && !v.is_empty());
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{name}` is repeated (RFC 6749 §3.1)"
            )));
        }
        Ok(first)
    }

    /// The value of a required parameter.
    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.single(name)?.ok_or_else(|| {
            OAuthError::invalid_request(format!("missing required parameter `{name}`"))
        })
    }

    /// Every value of a parameter that may repeat (`resource`).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_refused() {
        let p = Params::parse(b"a=1&b=2&b=3&r=x&r=y&e=");
        assert_eq!(p.single("a").unwrap(), Some("1"));
        assert!(p.single("b").is_err());
        assert_eq!(p.single("e").unwrap(), None);
        assert!(p.required("e").is_err());
        assert_eq!(p.all("r"), vec!["x", "y"]);
        assert_eq!(
            Params::parse(b"s=a+b%20c").single("s").unwrap(),
            Some("a b c")
        );
    }
}
