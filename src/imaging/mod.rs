//! Pure functions on pixel buffers (the value types of `crate::pixels`):
//! decoding, blank detection and metrics, barcode reading, encoding (JPEG,
//! CCITT G4), PDF writing and drawing (the control sheet in `sheet`, the
//! session test target in `target_layout` and its measurement in `target`,
//! and the primitives synthetic pages are drawn with). Runs on the imaging
//! pool's threads; nothing here touches the store, the network or a device.

pub mod analyze;
pub mod barcode;
pub mod bilevel;
pub mod crop;
pub mod decode;
pub mod deskew;
pub mod draw;
pub mod encode;
pub mod ocr;
pub mod orient;
pub mod patch;
pub mod pdf;
pub mod pdf_font;
pub mod pdfa;
pub mod report_pdf;
pub mod sheet;
pub mod target;
pub mod target_layout;
mod target_marks;

use thiserror::Error;

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
