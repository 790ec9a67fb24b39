//! The window's colours, chosen so text, warnings and errors meet WCAG 2.x
//! AA contrast (4.5:1 for text) on the panels and the tinted banners they are
//! drawn on, in the dark and the light theme. egui's own red (255, 0, 0) and
//! light-theme orange fall short of it; these replace them. What a colour
//! says is always also said in words or with a sign (⚠), never by the colour
//! alone.

use eframe::egui::{self, Color32, Theme, Visuals};

/// Plain text in the dark theme: egui's grey (140) reads at 4.3:1 on a red
/// banner; this one at 6:1, and better from across the room.
const DARK_TEXT: Color32 = Color32::from_gray(175);
/// Warnings (flags, counts that disagree) and errors, per theme.
const DARK_ERROR: Color32 = Color32::from_rgb(255, 110, 110);
const LIGHT_WARN: Color32 = Color32::from_rgb(160, 70, 0);
const LIGHT_ERROR: Color32 = Color32::from_rgb(185, 0, 0);

/// How strongly a banner is tinted with its colour.
pub const BANNER_TINT: f32 = 0.12;

/// Sets the station's colours on both themes of `ctx`.
pub fn apply(ctx: &egui::Context) {
    for theme in [Theme::Dark, Theme::Light] {
        ctx.style_mut_of(theme, |s| adjust(theme, &mut s.visuals));
    }
}

/// The visuals of a theme as [`apply`] leaves them.
pub fn visuals(theme: Theme) -> Visuals {
    let mut v = match theme {
        Theme::Dark => Visuals::dark(),
        Theme::Light => Visuals::light(),
    };
    adjust(theme, &mut v);
    v
}

fn adjust(theme: Theme, v: &mut Visuals) {
    match theme {
        Theme::Dark => {
            v.widgets.noninteractive.fg_stroke.color = DARK_TEXT;
            v.error_fg_color = DARK_ERROR;
        }
        Theme::Light => {
            v.warn_fg_color = LIGHT_WARN;
            v.error_fg_color = LIGHT_ERROR;
        }
    }
}

/// A banner's fill: `tint` laid over the panel at [`BANNER_TINT`], as drawn.
pub fn banner(panel: Color32, tint: Color32) -> Color32 {
    let mix =
        |p: u8, t: u8| (p as f32 * (1.0 - BANNER_TINT) + t as f32 * BANNER_TINT).round() as u8;
    Color32::from_rgb(
        mix(panel.r(), tint.r()),
        mix(panel.g(), tint.g()),
        mix(panel.b(), tint.b()),
    )
}

/// WCAG 2.x contrast ratio of two opaque colours (1 to 21).
pub fn contrast(a: Color32, b: Color32) -> f32 {
    fn luminance(c: Color32) -> f32 {
        let lin = |v: u8| {
            let s = v as f32 / 255.0;
            if s <= 0.04045 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c.r()) + 0.7152 * lin(c.g()) + 0.0722 * lin(c.b())
    }
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}
