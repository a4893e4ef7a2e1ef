//! Colour arithmetic for the branded pages (WCAG 2.2 relative luminance and
//! contrast ratio), so that any configured colour stays readable: text on a
//! branded button is black or white, whichever contrasts more, and a branded
//! colour used for links and focus outlines on white is darkened until it
//! reaches the 4.5:1 that WCAG asks of text.

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rgb(pub(crate) u8, pub(crate) u8, pub(crate) u8);

/// The page's text colour (contrast 15.8:1 on white).
pub(crate) const TEXT: Rgb = Rgb(0x1f, 0x23, 0x28);
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);

/// WCAG's minimum contrast for normal text.
pub(crate) const TEXT_CONTRAST: f64 = 4.5;

impl Rgb {
    /// `#rgb` or `#rrggbb` (any case); `None` for anything else.
    pub(crate) fn parse_hex(s: &str) -> Option<Self> {
        let hex = s.strip_prefix('#')?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |h: &str| u8::from_str_radix(h, 16).ok();
        match hex.len() {
            3 => {
                let d = |i: usize| channel(&hex[i..=i]).map(|v| v * 17);
                Some(Self(d(0)?, d(1)?, d(2)?))
            }
            6 => Some(Self(
                channel(&hex[0..2])?,
                channel(&hex[2..4])?,
                channel(&hex[4..6])?,
            )),
            _ => None,
        }
    }

    /// `#rrggbb`, lower case.
    pub(crate) fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Relative luminance (WCAG 2.2, "relative luminance"), 0 to 1.
    fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// The contrast ratio with `other`, 1 to 21.
    pub(crate) fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// The page's text colour or white, whichever is more readable on this
    /// colour; pure black for the mid tones where neither reaches 4.5:1
    /// (black or white always does).
    pub(crate) fn text_on(self) -> Rgb {
        let best = if self.contrast(TEXT) >= self.contrast(WHITE) {
            TEXT
        } else {
            WHITE
        };
        if self.contrast(best) >= TEXT_CONTRAST {
            best
        } else {
            Rgb(0, 0, 0)
        }
    }

    /// This colour, darkened (mixed with black) only as much as needed to
    /// reach `ratio` against white.
    pub(crate) fn readable_on_white(self, ratio: f64) -> Rgb {
        let mix = |c: u8, keep: f64| (f64::from(c) * keep).round() as u8;
        // Contrast rises monotonically as the colour darkens; black is 21:1.
        (0..=20)
            .map(|step| {
                let keep = 1.0 - f64::from(step) * 0.05;
                Rgb(mix(self.0, keep), mix(self.1, keep), mix(self.2, keep))
            })
            .find(|c| c.contrast(WHITE) >= ratio)
            .unwrap_or(Rgb(0, 0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_writes_it_back() {
        assert_eq!(Rgb::parse_hex("#AbC"), Some(Rgb(0xaa, 0xbb, 0xcc)));
        assert_eq!(
            Rgb::parse_hex("#1a5fb4").map(Rgb::hex).as_deref(),
            Some("#1a5fb4")
        );
        for bad in [
            "", "#", "red", "#12", "#1234", "#1234567", "#ggg", "1a5fb4", "#fff;x", "#éé",
        ] {
            assert_eq!(Rgb::parse_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn contrast_matches_wcag_reference_values() {
        let round = |x: f64| (x * 100.0).round() / 100.0;
        assert_eq!(round(Rgb(0, 0, 0).contrast(WHITE)), 21.0);
        assert_eq!(round(WHITE.contrast(WHITE)), 1.0);
        // #767676 is the lightest grey with 4.5:1 on white (4.54).
        assert_eq!(round(Rgb(0x76, 0x76, 0x76).contrast(WHITE)), 4.54);
        assert!(Rgb(0x77, 0x77, 0x77).contrast(WHITE) < TEXT_CONTRAST);
    }

    #[test]
    fn text_on_any_colour_is_readable() {
        assert_eq!(Rgb(0x1a, 0x5f, 0xb4).text_on(), WHITE);
        assert_eq!(Rgb(0xff, 0xd3, 0x3d).text_on(), TEXT);
        // The worst case is a mid grey: still above 4.5:1 either way.
        for v in (0..=255u8).step_by(5) {
            let c = Rgb(v, v, v);
            assert!(c.contrast(c.text_on()) >= TEXT_CONTRAST, "{}", c.hex());
        }
    }

    #[test]
    fn light_colours_are_darkened_for_links_dark_ones_kept() {
        let blue = Rgb(0x1a, 0x5f, 0xb4);
        assert_eq!(blue.readable_on_white(TEXT_CONTRAST), blue);
        let yellow = Rgb(0xff, 0xd3, 0x3d);
        let dark = yellow.readable_on_white(TEXT_CONTRAST);
        assert!(dark.contrast(WHITE) >= TEXT_CONTRAST, "{}", dark.hex());
        assert!(dark.0 > dark.2, "keeps its hue: {}", dark.hex());
        assert!(WHITE.readable_on_white(TEXT_CONTRAST).contrast(WHITE) >= TEXT_CONTRAST);
    }
}
