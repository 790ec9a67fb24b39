//! Orientation: pages fed upside down or sideways, found from the text itself
//! (no OCR). Text lines make a sharp row profile across them and a flat one
//! along them, which tells sideways from upright; within a line, Latin script
//! has more ink above its x-height band (ascenders, capitals) than below it
//! (descenders), which tells upright from upside down.

use super::analyze::{ink_threshold, reduce};
use crate::pixels::Raster;

/// Ink mask of a page at about 100 dpi.
struct Mask {
    w: usize,
    ink: Vec<bool>,
}

fn mask(raster: &Raster) -> Mask {
    let luma = raster.luma();
    let factor = (raster.dpi as usize / 100).max(1);
    let r = reduce(&luma, raster.width as usize, raster.height as usize, factor);
    let t = ink_threshold(&r.data);
    Mask {
        w: r.width,
        ink: r.data.iter().map(|&v| v < t).collect(),
    }
}

impl Mask {
    /// Ink points, centred; `across` swaps the axes (to look at columns).
    fn points(&self, across: bool) -> Vec<(f32, f32)> {
        let h = self.ink.len() / self.w.max(1);
        let (cx, cy) = (self.w as f32 / 2.0, h as f32 / 2.0);
        let mut out = Vec::new();
        for (i, _) in self.ink.iter().enumerate().filter(|(_, b)| **b) {
            let (x, y) = ((i % self.w) as f32 - cx, (i / self.w) as f32 - cy);
            out.push(if across { (y, x) } else { (x, y) });
        }
        out
    }
}

/// The profile of points projected across lines tilted by `degrees`.
fn profile(pts: &[(f32, f32)], degrees: f32, len: usize) -> Vec<u32> {
    let (s, c) = degrees.to_radians().sin_cos();
    let mut bins = vec![0u32; len];
    let half = len as f32 / 2.0;
    for &(x, y) in pts {
        if let Some(b) = bins.get_mut((y * c - x * s + half) as usize) {
            *b += 1;
        }
    }
    bins
}

/// How strongly a profile alternates between lines and gaps: its squared
/// coefficient of variation over the span it covers.
fn lininess(p: &[u32]) -> f64 {
    let (Some(a), Some(b)) = (
        p.iter().position(|&v| v > 0),
        p.iter().rposition(|&v| v > 0),
    ) else {
        return 0.0;
    };
    let span = &p[a..=b];
    let n = span.len() as f64;
    let mean = span.iter().map(|&v| v as f64).sum::<f64>() / n;
    span.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n / (mean * mean).max(1e-9)
}

/// The sharpest profile over small tilts (pages are oriented before they are
/// straightened), and how sharp it is.
fn best_profile(pts: &[(f32, f32)], len: usize) -> (Vec<u32>, f64) {
    (-12..=12)
        .map(|i| profile(pts, i as f32 * 0.5, len))
        .map(|p| {
            let l = lininess(&p);
            (p, l)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or_default()
}

/// Ink above minus ink below the x-height band, over every text line of a
/// row profile (positive for upright text).
fn ascender_balance(rows: &[u32]) -> f64 {
    let mut balance = 0.0;
    let mut y = 0;
    while y < rows.len() {
        if rows[y] == 0 {
            y += 1;
            continue;
        }
        let start = y;
        while y < rows.len() && rows[y] > 0 {
            y += 1;
        }
        let line = &rows[start..y];
        if line.len() < 4 {
            continue;
        }
        let peak = *line.iter().max().unwrap_or(&0) as f64;
        let core: Vec<usize> = (0..line.len())
            .filter(|&i| line[i] as f64 >= 0.5 * peak)
            .collect();
        let (Some(&top), Some(&bottom)) = (core.first(), core.last()) else {
            continue;
        };
        let above: f64 = line[..top].iter().map(|&v| v as f64).sum();
        let below: f64 = line[bottom + 1..].iter().map(|&v| v as f64).sum();
        balance += above - below;
    }
    balance
}

/// The clockwise rotation (0, 90, 180 or 270 degrees) that makes the page
/// upright, or `None` when there is too little text to tell.
pub fn upright_rotation(raster: &Raster) -> Option<u16> {
    let m = mask(raster);
    let ink = m.ink.iter().filter(|&&b| b).count();
    if ink < 2000 {
        return None;
    }
    let len = m.w + m.ink.len() / m.w.max(1) + 8;
    let (rows, along) = best_profile(&m.points(false), len);
    let (cols, across) = best_profile(&m.points(true), len);
    let (profile, sideways) = if along > 1.5 * across {
        (rows, false)
    } else if across > 1.5 * along {
        (cols, true)
    } else {
        return None;
    };
    let b = ascender_balance(&profile);
    if b.abs() < 0.02 * ink as f64 {
        return None;
    }
    Some(match (sideways, b > 0.0) {
        (false, true) => 0,
        (false, false) => 180,
        (true, true) => 90,
        (true, false) => 270,
    })
}

/// Rotates a page clockwise by a multiple of 90 degrees, exactly.
pub fn rotate_right_angles(src: &Raster, degrees: u16) -> Raster {
    let (w, h, ch) = (src.width as usize, src.height as usize, src.kind.channels());
    let px = |x: usize, y: usize| &src.data[(y * w + x) * ch..(y * w + x + 1) * ch];
    let (nw, nh) = match degrees % 360 {
        90 | 270 => (h, w),
        _ => (w, h),
    };
    let mut data = Vec::with_capacity(src.data.len());
    for y in 0..nh {
        for x in 0..nw {
            let p = match degrees % 360 {
                90 => px(y, h - 1 - x),
                180 => px(w - 1 - x, h - 1 - y),
                270 => px(w - 1 - y, x),
                _ => px(x, y),
            };
            data.extend_from_slice(p);
        }
    }
    Raster {
        width: nw as u32,
        height: nh as u32,
        kind: src.kind,
        dpi: src.dpi,
        data,
    }
}
