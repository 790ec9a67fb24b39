//! Blank detection and simple page metrics.
//!
//! A page is reduced to about 100 dpi (box averaging, which also tames sensor
//! noise), the paper level is estimated per tile (so brightness drift across the
//! sheet does not matter), and pixels well below the local paper level count as
//! ink. Faint bleed-through from the other side stays above that threshold, and
//! isolated dust specks are too small to count: only connected ink blobs of a
//! character's size or more are content. A page is blank when it has almost no
//! such blobs and almost no ink area; one line of typed text already has dozens.
//! Blank also means near-white paper: a side that is uniformly grey or black
//! (a failed lamp, a covered sensor) has no blobs either, but it is a fault to
//! look at, never a blank back to remove.

use crate::pixels::{PageMetrics, Raster};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Tunable thresholds (station config can override them).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BlankParams {
    /// How far below the local paper level (grey levels) a pixel must be to be ink.
    pub ink_delta: u8,
    /// Smallest blob, in square millimetres, that counts as content.
    pub min_blob_mm2: f32,
    /// A page with fewer content blobs than this (and little ink) is blank.
    pub max_blobs: usize,
    /// Ink area, as a fraction of the page, above which a page is never blank.
    pub max_ink_fraction: f32,
    /// Paper darker than this grey level is never blank: blank means near-white
    /// paper, and an empty side darker than this is flagged `too_dark` instead.
    pub min_paper: u8,
}

impl Default for BlankParams {
    fn default() -> Self {
        BlankParams {
            ink_delta: 55,
            min_blob_mm2: 0.5,
            max_blobs: 3,
            max_ink_fraction: 0.0005,
            // White paper scans at 220-250, recycled or yellowed paper rarely
            // under 190; a lamp failure gives tens.
            min_paper: 170,
        }
    }
}

/// A grey plane reduced by an integer factor (box average); factor 1 borrows.
pub struct Reduced<'a> {
    pub width: usize,
    pub height: usize,
    pub factor: usize,
    pub data: Cow<'a, [u8]>,
}

/// Box-averages `luma` by `factor` in both directions. The factor is lowered
/// for an image narrower or shorter than it (a 1 x 5000 sliver), so that a
/// non-empty image never reduces to an empty plane: callers that turn reduced
/// pixels into millimetres use the returned `factor`.
pub fn reduce(luma: &[u8], width: usize, height: usize, factor: usize) -> Reduced<'_> {
    // Column totals are u16: 255 x 256 rows fits.
    let factor = factor.clamp(1, 256).min(width.max(1)).min(height.max(1));
    let (w, h) = (width / factor, height / factor);
    let data = match factor {
        1 => Cow::Borrowed(&luma[..width * height]),
        // Literal factors let the inlined loop divide by a constant.
        2 => Cow::Owned(reduce_rows(luma, width, w, h, 2)),
        3 => Cow::Owned(reduce_rows(luma, width, w, h, 3)),
        4 => Cow::Owned(reduce_rows(luma, width, w, h, 4)),
        f => Cow::Owned(reduce_rows(luma, width, w, h, f)),
    };
    Reduced {
        width: w,
        height: h,
        factor,
        data,
    }
}

/// Whole input rows are summed into column totals first (a loop the compiler
/// vectorises), then each output row sums `factor` columns once: every stage
/// reduces the page, so this is kept to about an add a pixel.
#[inline(always)]
fn reduce_rows(luma: &[u8], width: usize, w: usize, h: usize, factor: usize) -> Vec<u8> {
    let mut cols = vec![0u16; w * factor];
    let mut data = Vec::with_capacity(w * h);
    let area = (factor * factor) as u32;
    for oy in 0..h {
        cols.iter_mut().for_each(|s| *s = 0);
        for y in oy * factor..(oy + 1) * factor {
            let row = &luma[y * width..y * width + w * factor];
            cols.iter_mut().zip(row).for_each(|(s, &v)| *s += v as u16);
        }
        data.extend(
            cols.chunks_exact(factor)
                .map(|c| (c.iter().map(|&v| v as u32).sum::<u32>() / area) as u8),
        );
    }
    data
}

/// The grey level below which a share `p` of `data` lies.
pub fn level(data: &[u8], p: f32) -> u8 {
    let mut hist = [0u32; 256];
    data.iter().for_each(|&v| hist[v as usize] += 1);
    percentile(&hist, data.len() as u32, p)
}

/// Halfway between ink and the paper (its 90th percentile), a little towards
/// the paper: what binarising for barcodes, skew and orientation uses.
pub fn ink_threshold(data: &[u8]) -> u8 {
    level(data, 0.9) / 2 + 10
}

fn percentile(hist: &[u32; 256], total: u32, p: f32) -> u8 {
    let target = (total as f32 * p) as u32;
    let mut acc = 0;
    for (v, &n) in hist.iter().enumerate() {
        acc += n;
        if acc > target {
            return v as u8;
        }
    }
    255
}

/// Measures a page and decides whether it is blank.
pub fn analyze(raster: &Raster, params: &BlankParams) -> PageMetrics {
    let luma = raster.luma();
    let factor = (raster.dpi as usize / 100).max(1);
    let r = reduce(&luma, raster.width as usize, raster.height as usize, factor);
    let mut hist = [0u32; 256];
    let mut sum = 0u64;
    for &v in r.data.iter() {
        hist[v as usize] += 1;
        sum += v as u64;
    }
    let total = r.data.len().max(1) as u32;
    let paper = percentile(&hist, total, 0.9);
    let mask = ink_mask(&r, paper, params.ink_delta);
    let eff_dpi = raster.dpi as f32 / r.factor as f32;
    let px_per_mm2 = (eff_dpi / 25.4).powi(2);
    let min_blob = (params.min_blob_mm2 * px_per_mm2).ceil().max(2.0) as u32;
    let (blobs, area, blob_hist) = content_blobs(&mask, &r.data, r.width, r.height, min_blob);
    let ink_fraction = area as f32 / total as f32;
    let ink = if area > 0 {
        percentile(&blob_hist, area as u32, 0.05)
    } else {
        255
    };
    let empty = (blobs as usize) < params.max_blobs && ink_fraction < params.max_ink_fraction;
    PageMetrics {
        mean: sum as f32 / total as f32,
        paper,
        ink,
        contrast: paper.saturating_sub(ink),
        length_mm: raster.height as f32 * 25.4 / raster.dpi.max(1) as f32,
        turned_deg: 0,
        blobs,
        ink_fraction,
        empty,
        blank: empty && paper >= params.min_paper,
    }
}

/// Marks pixels darker than the local paper level minus `delta`. The paper level
/// is taken per tile, but never far below the page's, so a large dark area still
/// counts as ink.
fn ink_mask(r: &Reduced, page_paper: u8, delta: u8) -> Vec<bool> {
    const TILE: usize = 32;
    let mut mask = vec![false; r.data.len()];
    for ty in (0..r.height).step_by(TILE) {
        for tx in (0..r.width).step_by(TILE) {
            let (x1, y1) = ((tx + TILE).min(r.width), (ty + TILE).min(r.height));
            let mut hist = [0u32; 256];
            for y in ty..y1 {
                for &v in &r.data[y * r.width + tx..y * r.width + x1] {
                    hist[v as usize] += 1;
                }
            }
            let n = ((x1 - tx) * (y1 - ty)) as u32;
            let local = percentile(&hist, n, 0.9).max(page_paper.saturating_sub(40));
            let threshold = local.saturating_sub(delta);
            for y in ty..y1 {
                for x in tx..x1 {
                    let i = y * r.width + x;
                    mask[i] = r.data[i] < threshold;
                }
            }
        }
    }
    mask
}

/// Counts 8-connected blobs of at least `min_area` pixels, their total area and
/// the histogram of their pixels' grey levels.
fn content_blobs(
    mask: &[bool],
    values: &[u8],
    width: usize,
    height: usize,
    min_area: u32,
) -> (u32, u64, [u32; 256]) {
    let mut seen = vec![false; mask.len()];
    let mut stack = Vec::new();
    let mut members = Vec::new();
    let mut hist = [0u32; 256];
    let (mut blobs, mut area) = (0u32, 0u64);
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        members.clear();
        let mut size = 0u32;
        while let Some(i) = stack.pop() {
            size += 1;
            members.push(i);
            let (x, y) = ((i % width) as isize, (i / width) as isize);
            for dy in -1..=1isize {
                for dx in -1..=1isize {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= width as isize || ny >= height as isize {
                        continue;
                    }
                    let j = ny as usize * width + nx as usize;
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        if size >= min_area {
            blobs += 1;
            area += size as u64;
            members.iter().for_each(|&i| hist[values[i] as usize] += 1);
        }
    }
    (blobs, area, hist)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paper_is_blank_and_a_mark_is_not() {
        let mut r = Raster::filled(850, 1100, 100, 235);
        assert!(analyze(&r, &BlankParams::default()).blank);
        // Four solid 3x3 mm marks: content.
        for k in 0..4 {
            for y in 100..112 {
                for x in 100 + k * 40..112 + k * 40 {
                    r.data[y * 850 + x] = 20;
                }
            }
        }
        let m = analyze(&r, &BlankParams::default());
        assert_eq!(m.blobs, 4);
        assert!(!m.blank);
    }

    #[test]
    fn only_near_white_paper_is_blank_and_an_even_grey_side_is_too_dark() {
        let q = QualityParams::default();
        let codes = super::super::barcode::PageCodes::default();
        for (level, blank) in [
            (0, false),
            (60, false),
            (128, false),
            (160, false),
            (235, true),
        ] {
            let m = analyze(
                &Raster::filled(850, 1100, 100, level),
                &BlankParams::default(),
            );
            assert!(m.empty, "{level}: nothing on it");
            assert_eq!(m.blank, blank, "{level}: {m:?}");
            let dark = quality_flags(&m, None, &codes, &q)
                .iter()
                .any(|f| f.code == crate::batch::FlagCode::TooDark);
            assert_eq!(dark, !blank, "{level}: too_dark");
        }
    }

    #[test]
    fn a_sliver_reduces_to_a_sliver_not_to_nothing() {
        let r = reduce(&[9; 5000], 1, 5000, 3);
        assert_eq!((r.width, r.height, r.factor), (1, 5000, 1));
        let r = reduce(&[9; 10], 5, 2, 4);
        assert_eq!((r.width, r.height, r.factor), (2, 1, 2));
    }

    #[test]
    fn reduce_averages() {
        let r = reduce(&[0, 255, 0, 255, 10, 10, 10, 10], 4, 2, 2);
        assert_eq!((r.width, r.height), (2, 1));
        assert_eq!(r.data, vec![68, 68]);
    }
}

/// Thresholds of the image-quality checks (station config can override them).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct QualityParams {
    /// Paper darker than this grey level: the page is too dark.
    pub too_dark_paper: u8,
    /// Ink lighter than this grey level: the page is too light (faded, or the
    /// scanner's brightness is too high).
    pub too_light_ink: u8,
    /// Paper minus ink below this: low contrast.
    pub low_contrast: u8,
    /// Skew is corrected from this angle (degrees)...
    pub deskew_min_deg: f32,
    /// ...up to this one; beyond it the page is flagged for a rescan.
    pub max_correctable_deg: f32,
    /// The length pages should have (the profile's page size), millimetres;
    /// unset, lengths are not checked.
    pub expected_length_mm: Option<f32>,
    /// Longer than expected by this factor: possible double feed.
    pub double_feed_factor: f32,
    /// Shorter than expected by this factor: cut short.
    pub cut_short_factor: f32,
    /// A barcode-like area at least this wide and tall (millimetres)...
    pub sheet_barcode_min_mm: (f32, f32),
    /// ...making up at least this share of the page's ink is a control sheet's
    /// look; with no barcode read, the page is flagged.
    pub sheet_barcode_share: f32,
}

impl Default for QualityParams {
    fn default() -> Self {
        QualityParams {
            too_dark_paper: 120,
            too_light_ink: 150,
            low_contrast: 90,
            deskew_min_deg: 0.15,
            max_correctable_deg: 10.0,
            expected_length_mm: None,
            double_feed_factor: 1.15,
            cut_short_factor: 0.85,
            sheet_barcode_min_mm: (40.0, 15.0),
            sheet_barcode_share: 0.2,
        }
    }
}

/// The quality flags a page's measurements call for (none on blank pages, which
/// are removed and listed anyway).
pub fn quality_flags(
    m: &PageMetrics,
    skew_deg: Option<f32>,
    codes: &super::barcode::PageCodes,
    q: &QualityParams,
) -> Vec<crate::batch::Flag> {
    use crate::batch::{Flag, FlagCode};
    let mut out = Vec::new();
    if m.paper < q.too_dark_paper {
        out.push(Flag::new(
            FlagCode::TooDark,
            format!("the paper reads {} of 255 (threshold {}): check the scanner's brightness and rescan", m.paper, q.too_dark_paper),
        ));
    } else if m.empty && !m.blank {
        // Kept rather than removed as blank: a grey side with nothing on it is
        // more likely a scanner fault hiding a page than an empty back.
        out.push(Flag::new(
            FlagCode::TooDark,
            format!("the side is an even grey with nothing readable on it (it reads {} of 255, blank paper reads lighter): check the scanner's lamp and the sheet, and rescan", m.paper),
        ));
    } else if !m.blank && m.ink > q.too_light_ink {
        out.push(Flag::new(
            FlagCode::TooLight,
            format!("the darkest ink reads {} of 255 (threshold {}): the text may be too faint to read; rescan darker", m.ink, q.too_light_ink),
        ));
    } else if !m.blank && m.contrast < q.low_contrast {
        out.push(Flag::new(
            FlagCode::LowContrast,
            format!("ink and paper differ by {} grey levels (threshold {}): check legibility, rescan if needed", m.contrast, q.low_contrast),
        ));
    }
    if let Some(expected) = q.expected_length_mm {
        if m.length_mm > expected * q.double_feed_factor {
            out.push(Flag::new(
                FlagCode::PossibleDoubleFeed,
                format!("the page is {:.0} mm long, {expected:.0} mm expected: two sheets may have gone through together; check and rescan them", m.length_mm),
            ));
        } else if m.length_mm < expected * q.cut_short_factor {
            out.push(Flag::new(
                FlagCode::CutShort,
                format!("the page is {:.0} mm long, {expected:.0} mm expected: the scan may have stopped early; check the sheet and rescan", m.length_mm),
            ));
        }
    }
    if codes.codes.is_empty()
        && let Some((w, h)) = codes.largest_mm
        && w >= q.sheet_barcode_min_mm.0
        && h >= q.sheet_barcode_min_mm.1
        && codes.barcode_share >= q.sheet_barcode_share
    {
        out.push(Flag::new(
            FlagCode::UnreadableControlSheet,
            format!("the page looks like a control sheet (a {w:.0} x {h:.0} mm barcode, {:.0}% of its ink) but no barcode could be read: check the sheet, reprint it with `folio sheets` if damaged, and rescan", codes.barcode_share * 100.0),
        ));
    }
    if let Some(a) = skew_deg.filter(|a| a.abs() > q.max_correctable_deg) {
        out.push(Flag::new(
            FlagCode::Skewed,
            format!("the page is skewed by {a:.1} degrees, more than the {:.0} corrected automatically: feed it straight and rescan", q.max_correctable_deg),
        ));
    }
    out
}
