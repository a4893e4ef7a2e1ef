//! Branding of the default pages: product name, logo, accent colour and a
//! support link, validated at start-up (a colour that is not `#rgb` or
//! `#rrggbb`, or a link that is not https, fails the build naming the field).

use serde::Serialize;

use crate::error::ConfigError;
use crate::net::is_loopback;

/// How the default pages look. Every field is optional.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct Branding {
    pub(crate) product_name: Option<String>,
    pub(crate) logo_url: Option<String>,
    pub(crate) accent_color: Option<String>,
    pub(crate) support_url: Option<String>,
}

impl Branding {
    /// No branding: the server name and the default colours.
    pub fn new() -> Self {
        Self::default()
    }

    /// The product name in titles and headings (default: the server name).
    pub fn product_name(mut self, name: impl Into<String>) -> Self {
        self.product_name = Some(name.into());
        self
    }

    /// A logo shown above the heading (https, or http on loopback).
    pub fn logo_url(mut self, url: impl Into<String>) -> Self {
        self.logo_url = Some(url.into());
        self
    }

    /// The accent colour of buttons and links, `#rgb` or `#rrggbb`.
    pub fn accent_color(mut self, color: impl Into<String>) -> Self {
        self.accent_color = Some(color.into());
        self
    }

    /// Where people get help (https, or http on loopback).
    pub fn support_url(mut self, url: impl Into<String>) -> Self {
        self.support_url = Some(url.into());
        self
    }

    /// The validated values the templates see.
    pub(crate) fn resolve(&self, server_name: &str) -> Result<BrandView, ConfigError> {
        let url = |field: &'static str,
                   v: &Option<String>|
         -> Result<Option<String>, ConfigError> {
            let Some(raw) = v else { return Ok(None) };
            let u = url::Url::parse(raw)
                .map_err(|e| ConfigError::new(field, format!("`{raw}` is not a URL ({e})")))?;
            if u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)) {
                Ok(Some(u.to_string()))
            } else {
                Err(ConfigError::new(
                    field,
                    format!("`{raw}` must be an https URL (pages load nothing over plain http)"),
                ))
            }
        };
        let accent = match &self.accent_color {
            None => "#1a5fb4".to_owned(),
            Some(c) => {
                let hex = c.strip_prefix('#').unwrap_or("");
                if !matches!(hex.len(), 3 | 6) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(ConfigError::new(
                        "branding.accent_color",
                        format!("`{c}` must be a hex colour: `#rgb` or `#rrggbb`"),
                    ));
                }
                c.to_ascii_lowercase()
            }
        };
        let logo_url = url("branding.logo_url", &self.logo_url)?;
        let logo_origin = logo_url
            .as_deref()
            .and_then(|l| url::Url::parse(l).ok())
            .map(|u| u.origin().ascii_serialization());
        Ok(BrandView {
            product_name: self
                .product_name
                .clone()
                .unwrap_or_else(|| server_name.to_owned()),
            logo_url,
            logo_origin,
            accent,
            support_url: url("branding.support_url", &self.support_url)?,
        })
    }
}

/// Validated branding, as the templates see it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BrandView {
    pub(crate) product_name: String,
    pub(crate) logo_url: Option<String>,
    #[serde(skip)]
    pub(crate) logo_origin: Option<String>,
    pub(crate) accent: String,
    pub(crate) support_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branding_is_validated() {
        let b = Branding::new()
            .accent_color("#AbC")
            .logo_url("https://cdn.example/logo.svg")
            .resolve("S")
            .unwrap();
        assert_eq!(b.accent, "#abc");
        assert_eq!(b.product_name, "S");
        assert_eq!(b.logo_origin.as_deref(), Some("https://cdn.example"));
        for bad in ["red", "#12", "#1234567", "#ggg", "#fff;background:url(x)"] {
            let e = Branding::new().accent_color(bad).resolve("S").unwrap_err();
            assert_eq!(e.field, "branding.accent_color", "{bad}");
        }
        let e = Branding::new()
            .support_url("http://help.example")
            .resolve("S")
            .unwrap_err();
        assert_eq!(e.field, "branding.support_url");
        let e = Branding::new()
            .logo_url("javascript:x")
            .resolve("S")
            .unwrap_err();
        assert_eq!(e.field, "branding.logo_url");
    }
}
