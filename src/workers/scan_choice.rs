//! The one scan-settings resolver: what the operator chose (device, profile,
//! source, mode, dpi, page size, backend options) becomes the device and
//! settings of a scan. `folio scan` and the window both call [`resolve`], so a
//! choice is accepted or refused the same way, with the same words, wherever
//! it was made. Runs on the caller's thread; only the default device asks
//! SANE (on a capture thread of its own).

use crate::capture::{ColorMode, ScanSettings, SourceKind};
use crate::config::{self, Config, ConfigError};
use thiserror::Error;

/// What a person chose for a scan; anything unset comes from the profile,
/// then the station's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanChoice {
    /// A scanner name; unset: the profile's, the configured one, the first
    /// SANE scanner, else the demo feeder.
    pub device: Option<String>,
    /// A profile name from the configuration (or the built-in ones).
    pub profile: Option<String>,
    /// `feeder`, `flatbed` or `duplex`.
    pub source: Option<String>,
    /// `gray`, `color` or `bw`.
    pub mode: Option<String>,
    pub dpi: Option<u32>,
    /// `a4`, `a3`, `a5`, `letter`, `legal` or `WIDTHxHEIGHT` in millimetres.
    pub page_size: Option<String>,
    /// Backend options on top of the profile's, as `NAME=VALUE`.
    pub options: Vec<String>,
    /// Backend options set once N sides are scanned, as `N:NAME=VALUE`.
    pub options_after: Vec<String>,
    /// Store clean typed grey pages as bilevel, whatever the profile says.
    pub typed_as_bilevel: bool,
    /// Read the batch's text (OCR), whatever the profile says.
    pub ocr: bool,
}

/// A choice made whole.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub device: String,
    pub settings: ScanSettings,
    /// The bilevel choice (the flag's, else the profile's; unset: the
    /// station's).
    pub typed_as_bilevel: Option<bool>,
    /// The language to read the batch's text in, when text is asked for (the
    /// flag, else the profile's `ocr`, else the station's `[ocr] enabled`).
    pub ocr: Option<String>,
    /// What each patch code does in the batch: the profile's, if it says.
    pub patches: Option<crate::batch::protocol::PatchMeanings>,
}

/// Why a choice cannot be scanned with, and what to choose instead.
#[derive(Debug, Error, PartialEq)]
pub enum ChoiceError {
    #[error("no profile '{name}' (profiles: {known}); see `folio profiles`")]
    UnknownProfile { name: String, known: String },
    #[error("source '{0}': use feeder, flatbed or duplex")]
    Source(String),
    #[error("mode '{0}': use gray, color or bw")]
    Mode(String),
    #[error("unknown page size '{0}': use a4, a3, a5, letter, legal or WIDTHxHEIGHT (mm)")]
    PageSize(String),
    #[error("backend option '{0}': write NAME=VALUE")]
    Option(String),
    #[error("backend option '{0}' for later sides: write N:NAME=VALUE")]
    OptionAfter(String),
    #[error("{0}")]
    Profile(String),
}

impl From<ConfigError> for ChoiceError {
    fn from(e: ConfigError) -> ChoiceError {
        ChoiceError::Profile(e.to_string())
    }
}

/// The device and settings a choice asks for; the same for every front end.
pub fn resolve(cfg: &Config, choice: &ScanChoice) -> Result<Resolved, ChoiceError> {
    let (settings, profile_device, profile_bilevel) = settings_of(cfg, choice)?;
    let device = choice
        .device
        .clone()
        .filter(|d| !d.trim().is_empty())
        .or(profile_device)
        .unwrap_or_else(|| super::scan::default_device(cfg, settings.source));
    let profile = choice
        .profile
        .as_ref()
        .and_then(|n| cfg.profiles().get(n).cloned());
    let profile_ocr = profile.as_ref().and_then(|p| p.ocr);
    let ocr =
        (choice.ocr || profile_ocr.unwrap_or(cfg.ocr.enabled)).then(|| cfg.ocr.language.clone());
    Ok(Resolved {
        ocr,
        patches: profile.and_then(|p| p.patches),
        device,
        settings,
        typed_as_bilevel: if choice.typed_as_bilevel {
            Some(true)
        } else {
            profile_bilevel
        },
    })
}

/// The settings of a choice, with the profile's device and bilevel choice:
/// everything but the default device, which needs the scanners.
fn settings_of(
    cfg: &Config,
    choice: &ScanChoice,
) -> Result<(ScanSettings, Option<String>, Option<bool>), ChoiceError> {
    let profiles = cfg.profiles();
    let profile = match &choice.profile {
        Some(name) => {
            Some(
                profiles
                    .get(name)
                    .cloned()
                    .ok_or_else(|| ChoiceError::UnknownProfile {
                        name: crate::batch::printable(name, 60),
                        known: profiles.keys().cloned().collect::<Vec<_>>().join(", "),
                    })?,
            )
        }
        None => None,
    };
    let mut settings = match &profile {
        Some(p) => p.settings()?,
        None => ScanSettings::default(),
    };
    overrides(&mut settings, choice)?;
    Ok((
        settings,
        profile.as_ref().and_then(|p| p.device.clone()),
        profile.and_then(|p| p.typed_as_bilevel),
    ))
}

/// The choice's own settings on top of the profile's.
fn overrides(settings: &mut ScanSettings, choice: &ScanChoice) -> Result<(), ChoiceError> {
    let shown = |s: &str| crate::batch::printable(s, 60);
    if let Some(s) = &choice.source {
        settings.source = Some(SourceKind::parse(s).ok_or_else(|| ChoiceError::Source(shown(s)))?);
    }
    if let Some(m) = &choice.mode {
        settings.mode = Some(ColorMode::parse(m).ok_or_else(|| ChoiceError::Mode(shown(m)))?);
    }
    if choice.dpi.is_some() {
        settings.dpi = choice.dpi;
    }
    if let Some(p) = &choice.page_size {
        settings.page_size_mm =
            Some(config::page_size_mm(p).ok_or_else(|| ChoiceError::PageSize(shown(p)))?);
    }
    for o in &choice.options {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| ChoiceError::Option(shown(o)))?;
        settings
            .options
            .push((k.trim().to_string(), v.trim().to_string()));
    }
    for o in &choice.options_after {
        let parsed = o
            .split_once(':')
            .and_then(|(n, kv)| Some((n.trim().parse::<u32>().ok()?, kv.split_once('=')?)));
        let (n, (k, v)) = parsed.ok_or_else(|| ChoiceError::OptionAfter(shown(o)))?;
        settings
            .options_after
            .push((n, k.trim().to_string(), v.trim().to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(device: &str) -> ScanChoice {
        ScanChoice {
            device: Some(device.into()),
            ..ScanChoice::default()
        }
    }

    #[test]
    fn an_unknown_profile_is_refused_naming_the_known_ones() {
        let cfg = Config::default();
        let c = ScanChoice {
            profile: Some("nope\u{1b}[2J".into()),
            ..choice("folio:demo")
        };
        let e = resolve(&cfg, &c).unwrap_err();
        assert!(matches!(e, ChoiceError::UnknownProfile { .. }), "{e:?}");
        let words = e.to_string();
        assert!(words.contains("demo") && words.contains("feeder-gray-300"));
        assert!(!words.contains('\u{1b}'), "{words}");
    }

    #[test]
    fn the_choice_overrides_the_profile_and_options_add_to_its_own() {
        let cfg = Config::default();
        let c = ScanChoice {
            profile: Some("feeder-gray-300".into()),
            dpi: Some(150),
            source: Some("duplex".into()),
            options: vec!["records = 3".into()],
            options_after: vec!["2:jam=yes".into()],
            ..choice("folio:demo")
        };
        let r = resolve(&cfg, &c).unwrap();
        assert_eq!(r.device, "folio:demo");
        assert_eq!(r.settings.dpi, Some(150));
        assert_eq!(r.settings.source, Some(SourceKind::Duplex));
        assert_eq!(r.settings.mode, Some(ColorMode::Gray));
        assert_eq!(r.settings.options, vec![("records".into(), "3".into())]);
        assert_eq!(
            r.settings.options_after,
            vec![(2, "jam".into(), "yes".into())]
        );
    }

    #[test]
    fn the_profile_names_the_device_when_the_choice_does_not() {
        let cfg = Config::default();
        let c = ScanChoice {
            profile: Some("demo".into()),
            ..ScanChoice::default()
        };
        assert_eq!(resolve(&cfg, &c).unwrap().device, "folio:demo");
    }

    #[test]
    fn malformed_overrides_are_refused_with_what_to_write() {
        let cfg = Config::default();
        for (c, want) in [
            (
                ScanChoice {
                    source: Some("roll".into()),
                    ..choice("d")
                },
                ChoiceError::Source("roll".into()),
            ),
            (
                ScanChoice {
                    mode: Some("sepia".into()),
                    ..choice("d")
                },
                ChoiceError::Mode("sepia".into()),
            ),
            (
                ScanChoice {
                    page_size: Some("b9".into()),
                    ..choice("d")
                },
                ChoiceError::PageSize("b9".into()),
            ),
            (
                ScanChoice {
                    options: vec!["records".into()],
                    ..choice("d")
                },
                ChoiceError::Option("records".into()),
            ),
            (
                ScanChoice {
                    options_after: vec!["x:jam=yes".into()],
                    ..choice("d")
                },
                ChoiceError::OptionAfter("x:jam=yes".into()),
            ),
        ] {
            assert_eq!(resolve(&cfg, &c).unwrap_err(), want);
        }
    }
}
