//! Pixel value types: a page image in memory (`Raster`, `PixelKind`), a stored
//! page encoding (`Encoding`, `Encoded`) and what the page analysis measured
//! (`PageMetrics`). A leaf: it depends on nothing else in the crate, so that
//! `capture`, `imaging` and `store` can all share these types without importing
//! each other. Plain data; any thread.

use serde::{Deserialize, Serialize};

/// How a page's pixels are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PixelKind {
    /// One byte a pixel, only 0 (black) and 255 (white).
    Bilevel,
    /// One byte a pixel.
    Gray,
    /// Three bytes a pixel, RGB.
    Color,
}

impl PixelKind {
    pub fn channels(self) -> usize {
        match self {
            PixelKind::Color => 3,
            _ => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PixelKind::Bilevel => "bilevel",
            PixelKind::Gray => "gray",
            PixelKind::Color => "color",
        }
    }
}

/// A page image in memory.
#[derive(Debug, Clone)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    pub kind: PixelKind,
    pub dpi: u32,
    pub data: Vec<u8>,
}

impl Raster {
    /// A page filled with one grey level.
    pub fn filled(width: u32, height: u32, dpi: u32, level: u8) -> Raster {
        Raster {
            width,
            height,
            kind: PixelKind::Gray,
            dpi,
            data: vec![level; width as usize * height as usize],
        }
    }

    /// The luminance plane (a copy only for colour pages).
    pub fn luma(&self) -> std::borrow::Cow<'_, [u8]> {
        match self.kind {
            PixelKind::Color => std::borrow::Cow::Owned(
                self.data
                    .chunks_exact(3)
                    .map(|p| ((p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29) >> 8) as u8)
                    .collect(),
            ),
            _ => std::borrow::Cow::Borrowed(&self.data),
        }
    }
}

/// The stored encoding of a page image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Jpeg,
    /// CCITT Group 4, raw (no TIFF wrapper), black = 1 runs as the fax standard.
    G4,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Jpeg => "jpeg",
            Encoding::G4 => "g4",
        }
    }

    pub fn parse(s: &str) -> Option<Encoding> {
        match s {
            "jpeg" => Some(Encoding::Jpeg),
            "g4" => Some(Encoding::G4),
            _ => None,
        }
    }
}

/// An encoded page and what a PDF needs to place it.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub encoding: Encoding,
    pub width: u32,
    pub height: u32,
    pub dpi: u32,
    pub kind: PixelKind,
    pub bytes: Vec<u8>,
}

/// What the analysis measured on a page.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct PageMetrics {
    /// Mean grey level (0 black, 255 white).
    pub mean: f32,
    /// The paper's grey level (90th percentile).
    pub paper: u8,
    /// The ink's grey level: 5th percentile of the pixels of content blobs
    /// (255 on a page without content).
    #[serde(default)]
    pub ink: u8,
    /// Paper minus ink.
    pub contrast: u8,
    /// The page's length as scanned, millimetres.
    #[serde(default)]
    pub length_mm: f32,
    /// Clockwise turn applied to put a sideways or upside-down page upright.
    #[serde(default)]
    pub turned_deg: u16,
    /// Content blobs found.
    pub blobs: u32,
    /// Fraction of the page covered by content blobs.
    pub ink_fraction: f32,
    /// No content was found (too few blobs, too little ink), whatever the
    /// paper's shade.
    #[serde(default)]
    pub empty: bool,
    /// Empty and near-white: a blank side, removed from the output.
    pub blank: bool,
}
