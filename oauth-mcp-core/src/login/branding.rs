//! Branding of the default pages: product name, logo, colours and a support
//! link, validated at start-up (a colour that is not `#rgb` or `#rrggbb`, or
//! a link that is not https, fails the build naming the field). Colours are
//! made readable whatever is configured: see [`super::colour`].

use serde::Serialize;

use super::colour::{Rgb, TEXT_CONTRAST};
use crate::error::ConfigError;
use crate::net::is_loopback;

/// The default accent: buttons, links, focus outlines.
const DEFAULT_ACCENT: Rgb = Rgb(0x1a, 0x5f, 0xb4);
/// The default page background around the card.
const DEFAULT_BACKGROUND: Rgb = Rgb(0xf6, 0xf8, 0xfa);

/// How the default pages look. Every field is optional.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct Branding {
    pub(crate) product_name: Option<String>,
    pub(crate) logo_url: Option<String>,
    pub(crate) accent_color: Option<String>,
    pub(crate) background_color: Option<String>,
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

    /// The accent colour of the main button, links and focus outlines,
    /// `#rgb` or `#rrggbb` (default `#1a5fb4`). Any colour works: the
    /// button's text is black or white, whichever reads better, and links
    /// and outlines use the colour darkened as far as needed for 4.5:1
    /// contrast on white.
    pub fn accent_color(mut self, color: impl Into<String>) -> Self {
        self.accent_color = Some(color.into());
        self
    }

    /// The page background around the sign-in card, `#rgb` or `#rrggbb`
    /// (default `#f6f8fa`).
    pub fn background_color(mut self, color: impl Into<String>) -> Self {
        self.background_color = Some(color.into());
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
        let colour =
            |field: &'static str, v: &Option<String>, default: Rgb| -> Result<Rgb, ConfigError> {
                match v {
                    None => Ok(default),
                    Some(c) => Rgb::parse_hex(c).ok_or_else(|| {
                        ConfigError::new(
                            field,
                            format!("`{c}` must be a hex colour: `#rgb` or `#rrggbb`"),
                        )
                    }),
                }
            };
        let accent = colour("branding.accent_color", &self.accent_color, DEFAULT_ACCENT)?;
        let background = colour(
            "branding.background_color",
            &self.background_color,
            DEFAULT_BACKGROUND,
        )?;
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
            colours: Colours {
                accent: accent.hex(),
                on_accent: accent.text_on().hex(),
                link: accent.readable_on_white(TEXT_CONTRAST).hex(),
                background: background.hex(),
            },
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
    #[serde(skip)]
    pub(crate) colours: Colours,
    pub(crate) support_url: Option<String>,
}

/// The colours of the style sheet, each `#rrggbb`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Colours {
    /// The main button's background.
    pub(crate) accent: String,
    /// The main button's text: black-ish or white, whichever contrasts more.
    pub(crate) on_accent: String,
    /// Links and focus outlines: the accent, darkened to 4.5:1 on white.
    pub(crate) link: String,
    /// The page around the card.
    pub(crate) background: String,
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
        assert_eq!(b.product_name, "S");
        assert_eq!(b.logo_origin.as_deref(), Some("https://cdn.example"));
        for bad in ["red", "#12", "#1234567", "#ggg", "#fff;background:url(x)"] {
            let e = Branding::new().accent_color(bad).resolve("S").unwrap_err();
            assert_eq!(e.field, "branding.accent_color", "{bad}");
            let e = Branding::new()
                .background_color(bad)
                .resolve("S")
                .unwrap_err();
            assert_eq!(e.field, "branding.background_color", "{bad}");
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

    #[test]
    fn colours_stay_readable_whatever_is_configured() {
        let default = Branding::new().resolve("S").unwrap().colours;
        assert_eq!(default.accent, "#1a5fb4");
        assert_eq!(default.on_accent, "#ffffff");
        assert_eq!(default.link, "#1a5fb4", "dark enough already");
        assert_eq!(default.background, "#f6f8fa");
        // A light accent: dark button text, links darkened.
        let light = Branding::new()
            .accent_color("#AbC")
            .background_color("#102030")
            .resolve("S")
            .unwrap()
            .colours;
        assert_eq!(light.accent, "#aabbcc");
        assert_eq!(light.on_accent, "#1f2328");
        assert_ne!(light.link, "#aabbcc");
        let link = Rgb::parse_hex(&light.link).unwrap();
        assert!(
            link.contrast(Rgb(255, 255, 255)) >= TEXT_CONTRAST,
            "{}",
            light.link
        );
        assert_eq!(light.background, "#102030");
    }
}
