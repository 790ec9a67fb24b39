//! Processing one side: measure, read barcodes, encode, store the image file.
//! Runs on the imaging pool's threads.

use crate::batch::separate::Face;
use crate::batch::{Flag, FlagCode};
use crate::config::Config;
use crate::imaging::decode::Decoded;
use crate::imaging::target::TargetCheck;
use crate::imaging::{analyze, barcode, bilevel, crop, deskew, encode, orient, patch};
use crate::pixels::Raster;
use crate::store::{ImageStore, PageRow, StoreError, StoredImage, sha256_hex};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// What the pipeline knows of a side before processing.
#[derive(Debug, Clone)]
pub struct SideMeta {
    pub batch_id: String,
    pub side: u32,
    pub sheet: u32,
    pub face: Face,
    pub origin: String,
    /// The first side of a scan or an import: measured as the session test
    /// target when it looks like one, even if its barcode does not read (a
    /// blurred target must fail, not pass for a patient's page).
    pub probe_target: bool,
}

impl SideMeta {
    /// The side at feed position `side` of a batch (simplex or duplex).
    pub fn at(batch_id: &str, side: u32, duplex: bool, origin: String) -> SideMeta {
        let (sheet, face) = crate::batch::separate::sheet_and_face(side, duplex);
        SideMeta {
            batch_id: batch_id.to_string(),
            side,
            sheet,
            face,
            origin,
            probe_target: false,
        }
    }
}

/// Processing stages, for `folio bench`'s breakdown.
pub const STAGES: [&str; 5] = [
    "analyse (blank, metrics)",
    "orient + deskew",
    "barcodes",
    "encode (+ thumbnail, preview)",
    "hash + write file",
];

/// Nanoseconds spent in each stage, summed over all threads since start.
pub static STAGE_NANOS: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];

/// Runs `f`, adding its time to stage `i`.
fn timed<T>(i: usize, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    STAGE_NANOS[i].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    out
}

/// Processes a decoded side into a page row, storing its encoded image; a
/// side whose file was damaged is kept and flagged `damaged_image`.
pub fn process_decoded(
    meta: &SideMeta,
    decoded: &Decoded,
    cfg: &Config,
    images: &ImageStore,
) -> Result<PageRow, StoreError> {
    let mut row = process_side(meta, &decoded.raster, cfg, images)?;
    if let Some(why) = &decoded.damage {
        row.flags.push(damaged(&meta.origin, why));
    }
    Ok(row)
}

/// The flag of a side whose file was damaged, naming the file.
fn damaged(origin: &str, why: &str) -> Flag {
    Flag::new(
        FlagCode::DamagedImage,
        format!(
            "the image file {} is damaged ({}): what could be decoded is kept, the rest may be grey or missing; check the page and rescan the sheet",
            shown(origin),
            shown(why)
        ),
    )
}

/// Outside text (a file name, a decoder's message) with control characters
/// escaped, fit to print.
pub(crate) fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A side made ready to read and store: the scanner's background cropped
/// off, measured, turned upright and straightened.
pub struct Prepared {
    cropped: Option<Raster>,
    pub metrics: crate::pixels::PageMetrics,
    pub skew: Option<f32>,
    /// Turned and/or straightened; `None`: the side as scanned is upright.
    corrected: Option<Raster>,
}

impl Prepared {
    /// The side as scanned, its background cropped (where the sheet's
    /// leading edge is the top).
    pub fn as_scanned<'a>(&'a self, captured: &'a Raster) -> &'a Raster {
        self.cropped.as_ref().unwrap_or(captured)
    }

    /// The page upright and straight.
    pub fn page<'a>(&'a self, captured: &'a Raster) -> &'a Raster {
        self.corrected
            .as_ref()
            .unwrap_or_else(|| self.as_scanned(captured))
    }
}

/// Crops, measures, turns and straightens a side (stages 0 and 1).
pub fn prepare(captured: &Raster, cfg: &Config) -> Prepared {
    // The scanner's dark background goes first: it would look like ink.
    let cropped = timed(0, || {
        crop::sheet_area(captured).map(|rect| crop::crop(captured, rect))
    });
    let raster = cropped.as_ref().unwrap_or(captured);
    let mut metrics = timed(0, || analyze::analyze(raster, &cfg.blank));
    // Sideways or upside-down pages are turned upright before straightening.
    let turn = if metrics.blank {
        None
    } else {
        timed(1, || orient::upright_rotation(raster)).filter(|&t| t != 0)
    };
    let turned = turn.map(|t| timed(1, || orient::rotate_right_angles(raster, t)));
    let raster = turned.as_ref().unwrap_or(raster);
    metrics.turned_deg = turn.unwrap_or(0);
    // Blank sides are removed anyway; straightening them is wasted work.
    let skew = if metrics.blank {
        None
    } else {
        timed(1, || deskew::estimate_skew(raster))
    };
    let q = &cfg.quality;
    let straightened = skew
        .filter(|a| a.abs() >= q.deskew_min_deg && a.abs() <= q.max_correctable_deg)
        .map(|a| timed(1, || deskew::straighten(raster, -a, metrics.paper)));
    Prepared {
        cropped,
        metrics,
        skew,
        corrected: straightened.or(turned),
    }
}

/// The marks read on a prepared side (stage 2): its barcodes, from the page
/// upright and straight, and its patch code, from the side as scanned.
pub fn read_marks(
    prep: &Prepared,
    captured: &Raster,
    cfg: &Config,
) -> (barcode::PageCodes, Option<patch::PatchRead>) {
    let page = prep.page(captured);
    // The survey looks for upright bars; a page too skewed to straighten is
    // read whole (and flagged).
    let codes = match prep.skew {
        Some(a) if a.abs() > cfg.quality.max_correctable_deg => {
            timed(2, || barcode::read_whole(page))
        }
        _ => timed(2, || barcode::read_page(page)),
    };
    // A patch is read from the sheet's leading edge: the side as scanned.
    let patch = timed(2, || patch::detect(prep.as_scanned(captured)));
    (codes, patch)
}

/// Processes a decoded side into a page row, storing its encoded image.
pub fn process_side(
    meta: &SideMeta,
    captured: &Raster,
    cfg: &Config,
    images: &ImageStore,
) -> Result<PageRow, StoreError> {
    let prep = prepare(captured, cfg);
    let (metrics, skew) = (prep.metrics, prep.skew);
    let page = prep.page(captured);
    let (codes, patch) = read_marks(&prep, captured, cfg);
    let patch = patch.map(|p| p.patch);
    // Folio's session test target is measured as scanned, uncorrected: its
    // marks show the skew and scale themselves.
    let as_scanned = prep.as_scanned(captured);
    let target = if codes
        .codes
        .iter()
        .any(|c| crate::batch::protocol::is_target_code(c))
    {
        Some(timed(2, || TargetCheck::of(as_scanned)))
    } else if meta.probe_target && !metrics.blank {
        timed(2, || TargetCheck::probe(as_scanned))
    } else {
        None
    };
    let bilevel = timed(3, || {
        bilevel::wanted(page, &metrics, &cfg.bilevel)
            .then(|| bilevel::to_bilevel(page, cfg.bilevel.ink_delta))
    });
    let page = bilevel.as_ref().unwrap_or(page);
    let encoded = match timed(3, || encode::encode(page, cfg.jpeg_quality)) {
        Ok(e) => e,
        // One page the encoder rejects must not stop the batch: flag it.
        Err(e) => return Ok(unreadable_side(meta, e.to_string())),
    };
    let (thumb, preview) = match timed(3, || renderings(page)) {
        Ok(r) => r,
        Err(e) => return Ok(unreadable_side(meta, e.to_string())),
    };
    let pixels_sha256 = timed(4, || sha256_hex(&captured.data));
    let sha256 = timed(4, || images.put(&encoded.bytes))?;
    let thumb_sha256 = Some(timed(4, || images.put(&thumb))?);
    let preview_sha256 = Some(timed(4, || images.put(&preview))?);
    Ok(PageRow {
        batch_id: meta.batch_id.clone(),
        side: meta.side,
        sheet: meta.sheet,
        face: meta.face,
        origin: meta.origin.clone(),
        image: Some(StoredImage::of(&encoded, sha256)),
        flags: analyze::quality_flags(&metrics, skew, &codes, &cfg.quality),
        barcodes: codes.codes,
        symbols: codes.symbols,
        metrics: Some(metrics),
        blank: metrics.blank,
        error: None,
        skew_deg: skew,
        pixels_sha256: Some(pixels_sha256),
        thumb_sha256,
        preview_sha256,
        target,
        session: None,
        patch,
    })
}

/// The row of a side whose image could not be read: kept in sequence, flagged.
pub fn unreadable_side(meta: &SideMeta, why: String) -> PageRow {
    PageRow {
        batch_id: meta.batch_id.clone(),
        side: meta.side,
        sheet: meta.sheet,
        face: meta.face,
        origin: meta.origin.clone(),
        image: None,
        barcodes: Vec::new(),
        metrics: None,
        blank: false,
        error: Some(why),
        flags: Vec::new(),
        skew_deg: None,
        pixels_sha256: None,
        thumb_sha256: None,
        preview_sha256: None,
        target: None,
        session: None,
        patch: None,
        symbols: Vec::new(),
    }
}

/// Widths of the thumbnail and the screen preview, pixels.
const THUMB_WIDTH: u32 = 160;
const PREVIEW_WIDTH: u32 = 1000;

/// The thumbnail and preview JPEGs, made once here so the window never decodes a
/// full page to show a strip of them.
pub(crate) fn renderings(
    page: &Raster,
) -> Result<(Vec<u8>, Vec<u8>), crate::imaging::ImagingError> {
    let preview = encode::downscale(page, PREVIEW_WIDTH);
    let thumb = encode::downscale(&preview, THUMB_WIDTH);
    Ok((
        encode::encode(&thumb, 70)?.bytes,
        encode::encode(&preview, 80)?.bytes,
    ))
}
