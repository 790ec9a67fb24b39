//! Scanner backends behind one trait: SANE (real libsane), the built-in demo
//! feeder, and (through `workers::import`) files. A `PageSource` lives on the
//! capture thread that made it (libsane is not thread-safe) and delivers each
//! side as bands of lines while the sheet moves, then the whole side.
//!
//! A TWAIN backend for Windows would be one more `PageSource`; nothing above this
//! module knows which backend it talks to.

pub mod demo;
pub mod folder;
pub mod sane;
mod sane_ffi;

use crate::pixels::Raster;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Where the paper comes from, whatever the vendor calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Feeder,
    Flatbed,
    Duplex,
}

impl SourceKind {
    /// Classifies a backend's source name ("ADF", "Automatic Document Feeder",
    /// "ADF Duplex", "Duplex", "Flatbed", "Platen"...).
    pub fn classify(name: &str) -> Option<SourceKind> {
        let n = name.to_ascii_lowercase();
        if n.contains("duplex") || n.contains("both") {
            Some(SourceKind::Duplex)
        } else if n.contains("adf")
            || n.contains("feeder")
            || n.contains("automatic")
            || n.contains("front")
        {
            Some(SourceKind::Feeder)
        } else if n.contains("flatbed")
            || n.contains("platen")
            || n.contains("glass")
            || n.contains("normal")
        {
            Some(SourceKind::Flatbed)
        } else {
            None
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        match s {
            "feeder" | "adf" => Some(SourceKind::Feeder),
            "flatbed" => Some(SourceKind::Flatbed),
            "duplex" => Some(SourceKind::Duplex),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Feeder => "feeder",
            SourceKind::Flatbed => "flatbed",
            SourceKind::Duplex => "duplex",
        }
    }
}

/// Colour mode asked of a scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorMode {
    Gray,
    Color,
    Bw,
}

impl ColorMode {
    pub fn parse(s: &str) -> Option<ColorMode> {
        match s {
            "gray" | "grey" => Some(ColorMode::Gray),
            "color" | "colour" => Some(ColorMode::Color),
            "bw" | "lineart" => Some(ColorMode::Bw),
            _ => None,
        }
    }
}

/// What to ask of the scanner; unset fields keep the device's defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanSettings {
    pub source: Option<SourceKind>,
    pub mode: Option<ColorMode>,
    pub dpi: Option<u32>,
    /// Page size in millimetres (width, height).
    pub page_size_mm: Option<(f64, f64)>,
    pub brightness: Option<f64>,
    pub contrast: Option<f64>,
    /// Backend options by name, set last (`--option name=value`).
    pub options: Vec<(String, String)>,
    /// Options to set once a number of sides is scanned (`--option-after
    /// N:name=value`), to rehearse faults with SANE's test backend.
    pub options_after: Vec<(u32, String, String)>,
}

/// Lines of a side as they arrive from the scanner.
pub struct Band<'a> {
    /// Index of the first line in this band.
    pub first_line: u32,
    pub width: u32,
    /// 1 for grey (or one colour frame of a three-pass scan), 3 for RGB.
    pub channels: u32,
    /// Lines of the side, when the scanner knows (hand scanners do not).
    pub total_lines: Option<u32>,
    pub data: &'a [u8],
}

/// What a device offers, as its backend reports it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    pub name: String,
    pub vendor: String,
    pub model: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Source names with what Folio understands them to be.
    pub sources: Vec<(String, Option<SourceKind>)>,
    pub modes: Vec<String>,
    pub resolutions: Vec<String>,
    /// Largest scan area (width, height) in millimetres, if the device says.
    pub max_area_mm: Option<(f64, f64)>,
    pub options: Vec<OptionInfo>,
}

/// One backend option.
#[derive(Debug, Clone, Serialize)]
pub struct OptionInfo {
    pub name: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub unit: String,
    /// "1..1200 step 1", or the allowed values.
    pub allowed: Vec<String>,
    pub value: Option<String>,
    pub active: bool,
}

/// Why capture stopped. Each says what the operator should do.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CaptureError {
    #[error("paper jam{}: {}", partial_note(*.partial), self.to_do())]
    Jammed { partial: bool },
    #[error("the scanner cover is open{}: {}", partial_note(*.partial), self.to_do())]
    CoverOpen { partial: bool },
    #[error("the feeder is empty: {}", self.to_do())]
    FeederEmpty,
    #[error("the scanner is busy (another program may be using it): {}", self.to_do())]
    DeviceBusy,
    #[error("the scanner reported an I/O error{}: {}", partial_note(*.partial), self.to_do())]
    Io { partial: bool },
    #[error("the scanner went away ({}): {}", .0, self.to_do())]
    Gone(String),
    #[error("scan cancelled{}", partial_note(*.partial))]
    Cancelled { partial: bool },
    #[error("no scanner named '{0}': list them with `folio devices`")]
    NoSuchDevice(String),
    #[error("{0}")]
    Unsupported(String),
    /// One side could not be read; capture goes on (the side is stored flagged).
    #[error("{0}")]
    BadSide(String),
    #[error("the scanner failed: {0}")]
    Other(String),
}

fn partial_note(partial: bool) -> &'static str {
    if partial {
        " (the side being read was incomplete and has been discarded)"
    } else {
        ""
    }
}

impl CaptureError {
    /// Exit code of `folio scan` for this fault.
    pub fn exit_code(&self) -> u8 {
        match self {
            CaptureError::Jammed { .. } => 10,
            CaptureError::CoverOpen { .. } => 11,
            CaptureError::FeederEmpty => 12,
            CaptureError::DeviceBusy => 13,
            CaptureError::Io { .. } => 14,
            CaptureError::Gone(_) => 15,
            CaptureError::Cancelled { .. } => 16,
            CaptureError::NoSuchDevice(_) | CaptureError::Unsupported(_) => 2,
            CaptureError::Other(_) | CaptureError::BadSide(_) => 1,
        }
    }

    /// What the operator should do about it, when there is something to do
    /// at the scanner (said first, in large text, by the window).
    pub fn what_to_do(&self) -> Option<&'static str> {
        Some(match self {
            CaptureError::Jammed { .. } => {
                "clear the jam, put the last sheet back on the feeder, then resume"
            }
            CaptureError::CoverOpen { .. } => {
                "close it, put the last sheet back on the feeder, then resume"
            }
            CaptureError::FeederEmpty => "load the stack, then start (or resume) the scan",
            CaptureError::DeviceBusy => "close that program or wait, then resume",
            CaptureError::Io { .. } => {
                "check the cable and power, put the last sheet back, then resume"
            }
            CaptureError::Gone(_) => {
                "reconnect it, put the last sheet back on the feeder, then resume"
            }
            _ => return None,
        })
    }

    /// What happened, without what to do about it.
    pub fn what(&self) -> String {
        let full = self.to_string();
        match self.what_to_do() {
            Some(t) => full
                .strip_suffix(&format!(": {t}"))
                .map_or_else(|| full.clone(), str::to_string),
            None => full,
        }
    }

    fn to_do(&self) -> &'static str {
        self.what_to_do().unwrap_or_default()
    }

    /// A short code stored with the batch.
    pub fn code(&self) -> &'static str {
        match self {
            CaptureError::Jammed { .. } => "jammed",
            CaptureError::CoverOpen { .. } => "cover_open",
            CaptureError::FeederEmpty => "feeder_empty",
            CaptureError::DeviceBusy => "device_busy",
            CaptureError::Io { .. } => "io_error",
            CaptureError::Gone(_) => "device_gone",
            CaptureError::Cancelled { .. } => "cancelled",
            CaptureError::NoSuchDevice(_) => "no_such_device",
            CaptureError::Unsupported(_) => "unsupported",
            CaptureError::Other(_) => "scanner_error",
            CaptureError::BadSide(_) => "unreadable_side",
        }
    }
}

/// A scanner (or anything that behaves like one) on the capture thread.
pub trait PageSource {
    /// True when sides come as front, back, front, back...
    fn duplex(&self) -> bool;
    /// Captures the next side, calling `on_band` as lines arrive. `Ok(None)` means
    /// the feeder is empty (or a flatbed's single page is done).
    fn next_side(
        &mut self,
        on_band: &mut dyn FnMut(Band<'_>),
    ) -> Result<Option<Raster>, CaptureError>;

    /// Uses `flag` to stop: once set, the scan ends at the next read with
    /// `CaptureError::Cancelled`.
    fn set_cancel(&mut self, _flag: std::sync::Arc<std::sync::atomic::AtomicBool>) {}

    /// Sets a backend option between sides.
    fn set_option(&mut self, name: &str, _value: &str) -> Result<(), CaptureError> {
        Err(CaptureError::Unsupported(format!(
            "this device has no option '{name}'"
        )))
    }
}

/// The name of the built-in demo feeder.
pub const DEMO_DEVICE: &str = "folio:demo";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_source_names_map_to_kinds() {
        for (name, kind) in [
            ("ADF", SourceKind::Feeder),
            ("Automatic Document Feeder", SourceKind::Feeder),
            ("ADF Front", SourceKind::Feeder),
            ("ADF Duplex", SourceKind::Duplex),
            ("Duplex", SourceKind::Duplex),
            ("Flatbed", SourceKind::Flatbed),
        ] {
            assert_eq!(SourceKind::classify(name), Some(kind), "{name}");
        }
        assert_eq!(SourceKind::classify("Transparency Unit"), None);
    }
}
