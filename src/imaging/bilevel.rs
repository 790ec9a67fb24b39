//! Turning clean typed grey pages into bilevel ones (stored as CCITT G4, about
//! a fifteenth of the JPEG), when a profile asks for it.
//!
//! Only pages that are paper and ink are converted: a page with a fair share of
//! mid-tones (photographs, shading, a bruised or stained sheet, much pencil)
//! stays grey. The threshold is local: a pixel is ink when it is darker than
//! the paper *around it* by `ink_delta`, so faint pencil and coloured ink (which
//! scan as mid-grey) survive on paper whose brightness drifts across the sheet,
//! where one threshold for the page would drop them.

use super::analyze::reduce;
use crate::pixels::{PageMetrics, PixelKind, Raster};
use serde::{Deserialize, Serialize};

/// When and how grey pages become bilevel.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BilevelParams {
    /// Convert clean typed grey pages to bilevel (G4).
    pub enabled: bool,
    /// Pages with more mid-tone pixels than this share stay grey.
    pub max_midtone_share: f32,
    /// How much darker than the paper around it (grey levels) a pixel must be
    /// to be ink: low enough for pencil, above the scanner's noise.
    pub ink_delta: u8,
}

impl Default for BilevelParams {
    fn default() -> Self {
        BilevelParams {
            enabled: false,
            max_midtone_share: 0.06,
            ink_delta: 30,
        }
    }
}

/// Share of a grey page's pixels that are neither ink nor paper: between the
/// ink level and the paper level, a third of the way in from each (every
/// second row is enough to tell).
pub fn midtone_share(page: &Raster, m: &PageMetrics) -> f32 {
    let third = m.contrast / 3;
    let (lo, hi) = (m.ink.saturating_add(third), m.paper.saturating_sub(third));
    let w = page.width as usize;
    let (mut mid, mut n) = (0usize, 0usize);
    for row in page.data.chunks_exact(w).step_by(2) {
        mid += row.iter().filter(|&&v| v > lo && v < hi).count();
        n += w;
    }
    mid as f32 / n.max(1) as f32
}

/// Whether the page should be stored bilevel: a grey, non-blank page with
/// ink clearly darker than the paper and few mid-tones.
pub fn wanted(page: &Raster, m: &PageMetrics, p: &BilevelParams) -> bool {
    p.enabled
        && page.kind == PixelKind::Gray
        && !m.blank
        && m.contrast >= 2 * p.ink_delta
        && midtone_share(page, m) <= p.max_midtone_share
}

/// The page thresholded against its local paper level: blocks of about a
/// millimetre give the paper level (the brightest of each 5 x 5 neighbourhood,
/// so text never darkens its own background), interpolated across each row.
pub fn to_bilevel(page: &Raster, ink_delta: u8) -> Raster {
    let (w, h) = (page.width as usize, page.height as usize);
    let blocks = reduce(&page.data, w, h, (page.dpi as usize / 25).clamp(2, 32));
    let f = blocks.factor;
    let (bw, bh) = (blocks.width.max(1), blocks.height.max(1));
    let paper = if blocks.data.is_empty() {
        vec![255u8; 1]
    } else {
        neighbourhood_max(&blocks.data, bw, bh, 2)
    };
    let at = |bx: usize, by: usize| paper[by.min(bh - 1) * bw + bx.min(bw - 1)] as i32;
    let mut data = vec![255u8; w * h];
    let mut line = vec![0i32; w];
    let delta = ink_delta as i32;
    for (y, (out, row)) in data
        .chunks_exact_mut(w)
        .zip(page.data.chunks_exact(w))
        .enumerate()
    {
        // Block centres sit at f/2; positions are in 1/256ths of a block.
        let fy = ((y * 256) / f).saturating_sub(128);
        let (by, ty) = (fy / 256, (fy % 256) as i32);
        for (x, l) in line.iter_mut().enumerate() {
            let fx = ((x * 256) / f).saturating_sub(128);
            let (bx, tx) = (fx / 256, (fx % 256) as i32);
            let top = at(bx, by) * (256 - tx) + at(bx + 1, by) * tx;
            let bottom = at(bx, by + 1) * (256 - tx) + at(bx + 1, by + 1) * tx;
            *l = ((top * (256 - ty) + bottom * ty) >> 16) - delta;
        }
        for ((o, &v), &t) in out.iter_mut().zip(row).zip(&line) {
            if (v as i32) < t {
                *o = 0;
            }
        }
    }
    despeckle(&mut data, w, h);
    Raster {
        width: page.width,
        height: page.height,
        kind: PixelKind::Bilevel,
        dpi: page.dpi,
        data,
    }
}

/// The maximum of each (2r+1)-square neighbourhood, rows then columns.
fn neighbourhood_max(data: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
    let mut rows = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r + 1).min(w));
            rows[y * w + x] = data[y * w + a..y * w + b]
                .iter()
                .copied()
                .max()
                .unwrap_or(255);
        }
    }
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let (a, b) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            out[y * w + x] = (a..b).map(|yy| rows[yy * w + x]).max().unwrap_or(255);
        }
    }
    out
}

/// Clears black pixels with no black neighbour up, down, left or right:
/// sensor noise, not ink (a pencil stroke is wider than a pixel).
fn despeckle(data: &mut [u8], w: usize, h: usize) {
    for y in 1..h.saturating_sub(1) {
        for x in 1..w - 1 {
            let i = y * w + x;
            if data[i] == 0
                && data[i - 1] != 0
                && data[i + 1] != 0
                && data[i - w] != 0
                && data[i + w] != 0
            {
                data[i] = 255;
            }
        }
    }
}
