//! Pure functions on pixel buffers: decoding, blank detection and metrics, barcode
//! reading, encoding (JPEG, CCITT G4), PDF writing and drawing (control sheets and
//! synthetic pages). Runs on the imaging pool's threads; nothing here touches the
//! store, the network or a device.

pub mod analyze;
pub mod barcode;
pub mod bilevel;
pub mod crop;
pub mod decode;
pub mod deskew;
pub mod draw;
pub mod encode;
pub mod orient;
pub mod pdf;

use thiserror::Error;

/// How a page's pixels are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// Why an image could not be used. Each says what to do.
#[derive(Debug, Error)]
pub enum ImagingError {
    #[error(
        "not a supported image format ({0}); Folio reads PNG, JPEG, TIFF and PNM: convert or rescan it"
    )]
    Unsupported(String),
    #[error("the image file is empty (0 bytes): rescan the sheet")]
    Empty,
    #[error("the image is damaged or truncated ({0}): rescan the sheet")]
    Corrupt(String),
    #[error(
        "the image claims {width}x{height} pixels, more than a scanned page can be (limit {limit} megapixels): the file is damaged or not a scan; rescan the sheet"
    )]
    TooLarge { width: u64, height: u64, limit: u64 },
    #[error("encoding the page failed: {0}")]
    Encode(String),
    #[error("writing the PDF failed: {0}")]
    Io(#[from] std::io::Error),
}
