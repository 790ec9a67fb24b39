//! Skew: finding the angle of a page's text lines, and rotating a page.
//!
//! The angle is the one at which the page's ink, projected onto the vertical,
//! gives the sharpest row profile (text lines and rules line up): a coarse search
//! over ±12 degrees in half-degree steps, then a fine one in 0.02-degree steps
//! around the best, on ink points of a ~150 dpi copy. Rotation is bilinear in
//! fixed point, so a straightened page stays smooth until the final encode.

use super::analyze::{ink_threshold, reduce};
use crate::pixels::{PixelKind, Raster};

/// The largest skew searched for, degrees.
pub const MAX_SEARCH_DEG: f32 = 12.0;

/// Ink points of a page at about 150 dpi, centred on the page centre.
fn ink_points(raster: &Raster) -> Vec<(f32, f32)> {
    let luma = raster.luma();
    let factor = ((raster.dpi as f32 / 150.0).round() as usize).max(1);
    let r = reduce(&luma, raster.width as usize, raster.height as usize, factor);
    let threshold = ink_threshold(&r.data);
    let (cx, cy) = (r.width as f32 / 2.0, r.height as f32 / 2.0);
    let mut pts = Vec::new();
    for (y, row) in r.data.chunks_exact(r.width).enumerate() {
        // An ink pixel with paper above it: the tops of strokes, which is all a
        // line profile needs and a fraction of the points.
        for (x, &v) in row.iter().enumerate() {
            if v < threshold && (y == 0 || r.data[(y - 1) * r.width + x] >= threshold) {
                pts.push((x as f32 - cx, y as f32 - cy));
            }
        }
    }
    pts
}

fn sharpness(pts: &[(f32, f32)], degrees: f32, bins: &mut [u32]) -> u64 {
    let (s, c) = degrees.to_radians().sin_cos();
    bins.iter_mut().for_each(|b| *b = 0);
    let half = bins.len() as f32 / 2.0;
    for &(x, y) in pts {
        let row = (y * c - x * s + half) as usize;
        if let Some(b) = bins.get_mut(row) {
            *b += 1;
        }
    }
    bins.iter().map(|&b| (b as u64) * (b as u64)).sum()
}

/// The page's skew in degrees (positive: content rotated as `rotate` with a
/// positive angle would rotate it), or `None` when there is too little ink.
pub fn estimate_skew(raster: &Raster) -> Option<f32> {
    let pts = ink_points(raster);
    if pts.len() < 200 {
        return None;
    }
    let diag = (raster.width as f32).hypot(raster.height as f32) as usize + 8;
    let mut bins = vec![0u32; diag];
    let best = |pts: &[(f32, f32)], from: f32, to: f32, step: f32, bins: &mut Vec<u32>| {
        let n = ((to - from) / step).round() as i32;
        (0..=n)
            .map(|i| from + i as f32 * step)
            .map(|a| (a, sharpness(pts, a, bins)))
            .max_by_key(|&(_, score)| score)
            .map(|(a, _)| a)
            .unwrap_or(0.0)
    };
    // Coarse on a quarter of the points, then finer steps on all of them.
    let sparse: Vec<(f32, f32)> = pts.iter().step_by(4).copied().collect();
    let coarse = best(&sparse, -MAX_SEARCH_DEG, MAX_SEARCH_DEG, 0.5, &mut bins);
    let medium = best(&pts, coarse - 0.5, coarse + 0.5, 0.05, &mut bins);
    let fine = best(&pts, medium - 0.05, medium + 0.05, 0.01, &mut bins);
    Some(fine)
}

/// Rotates a page by `degrees` about its centre (bilinear), filling the
/// uncovered corners with `fill`. Bilevel pages stay bilevel.
pub fn rotate(src: &Raster, degrees: f32, fill: u8) -> Raster {
    let (w, h) = (src.width as usize, src.height as usize);
    let ch = src.kind.channels();
    let (s, c) = degrees.to_radians().sin_cos();
    const ONE: i64 = 1 << 16;
    let (fs, fc) = ((s * ONE as f32) as i64, (c * ONE as f32) as i64);
    let (cx, cy) = ((w as i64 * ONE) / 2, (h as i64 * ONE) / 2);
    let mut data = vec![fill; w * h * ch];
    let d = &src.data;
    for y in 0..h {
        let dy = y as i64 * ONE - cy;
        // Source position of (0, y), then step by (cos, -sin) along the row.
        let mut sx = (fc * -cx) / ONE + (fs * dy) / ONE + cx;
        let mut sy = (-fs * -cx) / ONE + (fc * dy) / ONE + cy;
        let row = &mut data[y * w * ch..(y + 1) * w * ch];
        for px in row.chunks_exact_mut(ch) {
            let (x0, y0) = (sx >> 16, sy >> 16);
            if x0 >= 0 && y0 >= 0 && (x0 as usize) < w - 1 && (y0 as usize) < h - 1 {
                let (fx, fy) = ((sx & 0xFFFF) >> 8, (sy & 0xFFFF) >> 8);
                let i = (y0 as usize * w + x0 as usize) * ch;
                for (k, out) in px.iter_mut().enumerate() {
                    let (a, b) = (d[i + k] as i64, d[i + ch + k] as i64);
                    let (e, f) = (d[i + w * ch + k] as i64, d[i + w * ch + ch + k] as i64);
                    let top = a * (256 - fx) + b * fx;
                    let bot = e * (256 - fx) + f * fx;
                    *out = ((top * (256 - fy) + bot * fy) >> 16) as u8;
                }
            }
            sx += fc;
            sy -= fs;
        }
    }
    if src.kind == PixelKind::Bilevel {
        data.iter_mut()
            .for_each(|v| *v = if *v < 128 { 0 } else { 255 });
    }
    Raster {
        width: src.width,
        height: src.height,
        kind: src.kind,
        dpi: src.dpi,
        data,
    }
}

/// Straightens a page by `degrees` with three shears (Paeth), moving whole pixels:
/// several times faster than `rotate`, and the page's pixels are moved, not
/// resampled, so text stays as sharp as scanned. Uncovered areas get `fill`.
pub fn straighten(src: &Raster, degrees: f32, fill: u8) -> Raster {
    let theta = degrees.to_radians();
    let a = -(theta / 2.0).tan();
    let b = theta.sin();
    let (w, h, ch) = (src.width as usize, src.height as usize, src.kind.channels());
    let mut one = vec![fill; src.data.len()];
    let mut two = vec![fill; src.data.len()];
    shear_x(&src.data, &mut one, w, h, ch, a);
    shear_y(&one, &mut two, w, h, ch, b, fill);
    one.fill(fill);
    shear_x(&two, &mut one, w, h, ch, a);
    Raster {
        data: one,
        ..src.clone_meta()
    }
}

impl Raster {
    fn clone_meta(&self) -> Raster {
        Raster {
            width: self.width,
            height: self.height,
            kind: self.kind,
            dpi: self.dpi,
            data: Vec::new(),
        }
    }
}

/// dst[y][x] = src[y][x - shift(y)], shift(y) = round(a * (y - h/2)).
fn shear_x(src: &[u8], dst: &mut [u8], w: usize, h: usize, ch: usize, a: f32) {
    let row = w * ch;
    for y in 0..h {
        let shift = (a * (y as f32 - h as f32 / 2.0)).round() as isize;
        let (s, d) = (
            &src[y * row..(y + 1) * row],
            &mut dst[y * row..(y + 1) * row],
        );
        let n = (w as isize - shift.abs()).max(0) as usize * ch;
        if n == 0 {
            // Shifted by the row's whole width (a page a few pixels wide):
            // nothing of it stays in place, the row is all fill.
            continue;
        }
        let k = shift.unsigned_abs() * ch;
        if shift >= 0 {
            d[k..k + n].copy_from_slice(&s[..n]);
        } else {
            d[..n].copy_from_slice(&s[k..k + n]);
        }
    }
}

/// dst[y][x] = src[y - shift(x)][x], shift(x) = round(b * (x - w/2)), copied in
/// runs of columns that share a shift.
fn shear_y(src: &[u8], dst: &mut [u8], w: usize, h: usize, ch: usize, b: f32, fill: u8) {
    let row = w * ch;
    let shift = |x: usize| (b * (x as f32 - w as f32 / 2.0)).round() as isize;
    let mut runs = Vec::new();
    let mut x0 = 0;
    for x in 1..=w {
        if x == w || shift(x) != shift(x0) {
            runs.push((x0, x, shift(x0)));
            x0 = x;
        }
    }
    for y in 0..h {
        for &(x0, x1, t) in &runs {
            let sy = y as isize - t;
            let d = &mut dst[y * row + x0 * ch..y * row + x1 * ch];
            if sy >= 0 && (sy as usize) < h {
                let sy = sy as usize;
                d.copy_from_slice(&src[sy * row + x0 * ch..sy * row + x1 * ch]);
            } else {
                d.fill(fill);
            }
        }
    }
}
