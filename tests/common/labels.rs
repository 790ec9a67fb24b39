//! Patient labels as a scanner sees them: a Code 128 label printed with a
//! given module width, sampled by area (a bar edge that falls inside a pixel
//! makes it grey, as a scanner's sensor does), on a half page of typed text,
//! with Gaussian sensor noise. Included with `#[path]` by the tests.
#![allow(dead_code)]

use folio::imaging::draw::{TextPainter, code128_modules};
use folio::pixels::Raster;

const PAPER: f32 = 236.0;
const INK: f32 = 30.0;

/// An A5 page at `dpi` with a few lines of text and a Code 128 label of
/// `text` at 20 mm from the top left, modules `module_mm` wide and 8 mm high,
/// with sensor noise of `sigma` grey levels.
pub fn label_page(
    text: &str,
    dpi: u32,
    module_mm: f32,
    sigma: f32,
    seed: u64,
    painter: &mut TextPainter,
) -> Raster {
    let mm = dpi as f32 / 25.4;
    let (w, h) = ((148.0 * mm) as u32, (210.0 * mm) as u32);
    let mut r = Raster::filled(w, h, dpi, PAPER as u8);
    let pt = dpi as f32 / 72.0;
    for (i, line) in [
        "Outpatient letter, cardiology clinic",
        "seen today with her daughter; blood pressure 132/84",
        "plan: continue ramipril 5mg daily, review in six weeks",
    ]
    .iter()
    .enumerate()
    {
        painter.draw(
            &mut r,
            15.0 * mm,
            (60.0 + 8.0 * i as f32) * mm,
            line,
            11.0 * pt,
            30,
        );
    }
    let modules = code128_modules(text).expect("Code 128 text");
    // A random sub-pixel start, so bar edges fall anywhere in a pixel.
    let x0 = 20.0 * mm + (seed % 97) as f32 / 97.0;
    let (y0, y1) = ((20.0 * mm) as usize, (28.0 * mm) as usize);
    let m = module_mm * mm;
    let bars: Vec<(f32, f32)> = modules
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == 1)
        .map(|(i, _)| (x0 + i as f32 * m, x0 + (i + 1) as f32 * m))
        .collect();
    let first = x0.floor() as usize;
    let last = (x0 + modules.len() as f32 * m).ceil() as usize;
    let row: Vec<u8> = (first..=last)
        .map(|px| {
            let (a, b) = (px as f32, px as f32 + 1.0);
            let cover: f32 = bars
                .iter()
                .map(|&(s, e)| (e.min(b) - s.max(a)).max(0.0))
                .sum();
            (PAPER - cover.min(1.0) * (PAPER - INK)).round() as u8
        })
        .collect();
    for y in y0..y1 {
        let at = y * w as usize + first;
        r.data[at..at + row.len()].copy_from_slice(&row);
    }
    add_noise(&mut r, sigma, seed);
    r
}

/// Adds Gaussian-like noise (sum of twelve uniforms) of `sigma` grey levels.
pub fn add_noise(r: &mut Raster, sigma: f32, seed: u64) {
    if sigma <= 0.0 {
        return;
    }
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    // A table of normal deviates, drawn from at random: fast enough for a
    // 600 dpi page in a test build.
    let table: Vec<i16> = (0..4096)
        .map(|_| (((0..12).map(|_| next()).sum::<f32>() - 6.0) * sigma).round() as i16)
        .collect();
    for v in r.data.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = table[(state & 4095) as usize];
        *v = (*v as i16 + n).clamp(0, 255) as u8;
    }
}
