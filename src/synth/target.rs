//! Synthetic scans of Folio's session test target, for the tests of the
//! quality check: the target as printed (drawn by
//! `imaging::target::layout`, the renderer `folio sheets --target` prints
//! with), read as a scanner reads a laser print, and the faults a session
//! check must catch or tolerate: blur (a lens out of focus, a dirty glass),
//! darkness (brightness set too low), skew and sensor noise. Pure CPU work;
//! any thread.

use super::rng::Rng;
use crate::imaging::deskew;
use crate::imaging::draw::TextPainter;
use crate::imaging::target::layout;
use crate::pixels::Raster;

/// The grey levels a scanner reads a laser print's paper and toner as.
pub const PAPER: u8 = 238;
pub const INK: u8 = 22;

/// What goes wrong in a synthetic scan; the default is a clean scan.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Gaussian blur, standard deviation in pixels (0: none).
    pub blur_sigma_px: f32,
    /// Grey levels taken off every pixel (clipped at black): brightness set
    /// too low.
    pub darken: u8,
    /// Degrees, clockwise as `deskew::rotate` turns.
    pub skew_deg: f32,
    /// Sensor noise, standard deviation in grey levels (0: none).
    pub noise_sigma: f32,
    pub seed: u64,
}

/// The target as printed, black on white, at `dpi`.
pub fn printed(dpi: u32, painter: &mut TextPainter) -> Raster {
    let mut page = layout::blank(dpi);
    layout::draw(&mut page, painter);
    page
}

/// A scan of the printed target at `dpi` with `faults`: printed, read as
/// paper and toner ([`PAPER`], [`INK`]), blurred, turned, darkened and
/// given noise, in the order a scanner does it.
pub fn scan(dpi: u32, faults: &Faults, painter: &mut TextPainter) -> Raster {
    let mut page = as_scanned(&printed(dpi, painter));
    if faults.blur_sigma_px > 0.0 {
        page = gaussian_blur(&page, faults.blur_sigma_px);
    }
    if faults.skew_deg != 0.0 {
        page = deskew::rotate(&page, faults.skew_deg, PAPER);
    }
    if faults.darken > 0 {
        page = darken(&page, faults.darken);
    }
    if faults.noise_sigma > 0.0 {
        page = add_noise(&page, faults.noise_sigma, faults.seed);
    }
    page
}

/// Maps white to [`PAPER`] and black to [`INK`], linearly.
pub fn as_scanned(page: &Raster) -> Raster {
    let span = (PAPER - INK) as u32;
    let data = page
        .data
        .iter()
        .map(|&v| (INK as u32 + (v as u32 * span + 127) / 255) as u8)
        .collect();
    Raster {
        data,
        ..page.clone_empty()
    }
}

/// Takes `levels` off every pixel, clipping at black.
pub fn darken(page: &Raster, levels: u8) -> Raster {
    Raster {
        data: page
            .data
            .iter()
            .map(|&v| v.saturating_sub(levels))
            .collect(),
        ..page.clone_empty()
    }
}

/// Adds Gaussian noise of `sigma` grey levels, reproducibly from `seed`.
pub fn add_noise(page: &Raster, sigma: f32, seed: u64) -> Raster {
    let mut rng = Rng::new(seed);
    // A table of normal samples indexed by a fast xorshift, as the stacks'
    // scanner faults do: a normal sample a pixel would dominate the time.
    let table: Vec<i16> = (0..4096)
        .map(|_| (rng.normal() * sigma).round() as i16)
        .collect();
    let mut state = rng.next_u64() | 1;
    let data = page
        .data
        .iter()
        .map(|&v| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (v as i16 + table[(state & 4095) as usize]).clamp(0, 255) as u8
        })
        .collect();
    Raster {
        data,
        ..page.clone_empty()
    }
}

/// A Gaussian blur of standard deviation `sigma_px`, separable, the kernel
/// cut at three sigma (edges repeat). Grey pages only.
pub fn gaussian_blur(page: &Raster, sigma_px: f32) -> Raster {
    let radius = (3.0 * sigma_px).ceil().max(1.0) as i64;
    let raw: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma_px * sigma_px)).exp())
        .collect();
    let total: f32 = raw.iter().sum();
    let kernel: Vec<u32> = raw
        .iter()
        .map(|k| (k / total * 65536.0).round() as u32)
        .collect();
    let (w, h) = (page.width as usize, page.height as usize);
    let mut across = vec![0u8; w * h];
    for (src, dst) in page.data.chunks_exact(w).zip(across.chunks_exact_mut(w)) {
        for (x, out) in dst.iter_mut().enumerate() {
            let mut sum = 0u32;
            for (k, &weight) in kernel.iter().enumerate() {
                let sx = (x as i64 + k as i64 - radius).clamp(0, w as i64 - 1) as usize;
                sum += weight * src[sx] as u32;
            }
            *out = ((sum + 32768) >> 16).min(255) as u8;
        }
    }
    let mut data = vec![0u8; w * h];
    let mut sums = vec![0u32; w];
    for (y, dst) in data.chunks_exact_mut(w).enumerate() {
        sums.iter_mut().for_each(|s| *s = 0);
        for (k, &weight) in kernel.iter().enumerate() {
            let sy = (y as i64 + k as i64 - radius).clamp(0, h as i64 - 1) as usize;
            let row = &across[sy * w..(sy + 1) * w];
            sums.iter_mut()
                .zip(row)
                .for_each(|(s, &v)| *s += weight * v as u32);
        }
        for (out, &s) in dst.iter_mut().zip(&sums) {
            *out = ((s + 32768) >> 16).min(255) as u8;
        }
    }
    Raster {
        data,
        ..page.clone_empty()
    }
}

trait CloneEmpty {
    fn clone_empty(&self) -> Raster;
}

impl CloneEmpty for Raster {
    /// The page's size, kind and resolution, without its pixels.
    fn clone_empty(&self) -> Raster {
        Raster {
            width: self.width,
            height: self.height,
            kind: self.kind,
            dpi: self.dpi,
            data: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_keeps_the_mean_and_softens_an_edge() {
        let mut r = Raster::filled(40, 20, 300, 240);
        for row in r.data.chunks_exact_mut(40) {
            row[..20].fill(20);
        }
        let b = gaussian_blur(&r, 3.0);
        let mean = |d: &[u8]| d.iter().map(|&v| v as u64).sum::<u64>() / d.len() as u64;
        assert!(mean(&b.data).abs_diff(mean(&r.data)) <= 1);
        // Three pixels from the edge: about 16% of the way (one sigma).
        let v = b.data[10 * 40 + 17];
        assert!((40..=70).contains(&v), "{v}");
        assert_eq!(b.data[10 * 40], 20, "far from the edge unchanged");
    }

    #[test]
    fn darkening_clips_at_black_and_noise_is_reproducible() {
        let r = Raster::filled(8, 8, 300, 50);
        assert!(darken(&r, 60).data.iter().all(|&v| v == 0));
        assert_eq!(add_noise(&r, 5.0, 7).data, add_noise(&r, 5.0, 7).data);
        assert_ne!(add_noise(&r, 5.0, 7).data, r.data);
    }
}
