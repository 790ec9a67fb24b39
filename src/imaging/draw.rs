//! Drawing on grey rasters: typed text (DejaVu Sans through ab_glyph), linear
//! barcodes (Code 128, Code 39 through barcoders) and QR codes. Used to print
//! control sheets and to make the synthetic pages of the demo feeder and tests.

use crate::pixels::Raster;
use ab_glyph::{Font, FontRef, ScaleFont};
use std::collections::HashMap;

/// Fills a rectangle (clipped to the page) with one grey level.
pub fn fill_rect(r: &mut Raster, x: i64, y: i64, w: i64, h: i64, level: u8) {
    let (x0, y0) = (x.max(0), y.max(0));
    let (x1, y1) = ((x + w).min(r.width as i64), (y + h).min(r.height as i64));
    for yy in y0..y1 {
        let row = yy as usize * r.width as usize;
        r.data[row + x0 as usize..row + x1.max(x0) as usize].fill(level);
    }
}

/// The bar/space modules of a Code 128 barcode (character set B).
pub fn code128_modules(text: &str) -> Result<Vec<u8>, String> {
    barcoders::sym::code128::Code128::new(format!("\u{0181}{text}"))
        .map(|c| c.encode())
        .map_err(|e| format!("cannot encode '{text}' as Code 128: {e}"))
}

/// The bar/space modules of a Code 39 barcode.
pub fn code39_modules(text: &str) -> Result<Vec<u8>, String> {
    barcoders::sym::code39::Code39::new(text)
        .map(|c| c.encode())
        .map_err(|e| format!("cannot encode '{text}' as Code 39: {e}"))
}

/// Draws linear barcode modules with their left edge at `x`, each `module_px`
/// wide, `height` tall. Returns the drawn width.
pub fn draw_modules(
    r: &mut Raster,
    x: i64,
    y: i64,
    modules: &[u8],
    module_px: f32,
    height: i64,
    ink: u8,
) -> i64 {
    for (i, &m) in modules.iter().enumerate() {
        if m == 1 {
            let a = (x as f32 + i as f32 * module_px).round() as i64;
            let b = (x as f32 + (i + 1) as f32 * module_px).round() as i64;
            fill_rect(r, a, y, b - a, height, ink);
        }
    }
    (modules.len() as f32 * module_px).round() as i64
}

/// Draws a QR code of `text` with its top-left at (x, y). Returns its size.
pub fn draw_qr(
    r: &mut Raster,
    x: i64,
    y: i64,
    text: &str,
    module_px: i64,
    ink: u8,
) -> Result<i64, String> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| e.to_string())?;
    let n = code.width();
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (cx, cy) = ((i % n) as i64, (i / n) as i64);
            fill_rect(
                r,
                x + cx * module_px,
                y + cy * module_px,
                module_px,
                module_px,
                ink,
            );
        }
    }
    Ok(n as i64 * module_px)
}

struct Glyph {
    left: i64,
    top: i64,
    width: usize,
    coverage: Vec<u8>,
}

/// Renders text in DejaVu Sans, caching each glyph's coverage per size.
pub struct TextPainter {
    font: FontRef<'static>,
    cache: HashMap<(char, u32), Option<Glyph>>,
}

impl TextPainter {
    pub fn new() -> TextPainter {
        // The font is compiled in; parsing it can only fail if the crate is broken.
        let font = FontRef::try_from_slice(dejavu::sans::regular())
            .unwrap_or_else(|_| unreachable!("the embedded DejaVu Sans font is valid"));
        TextPainter {
            font,
            cache: HashMap::new(),
        }
    }

    /// The advance width of `text` at `px` pixels per em.
    pub fn width(&self, text: &str, px: f32) -> f32 {
        let f = self.font.as_scaled(px);
        text.chars()
            .map(|c| f.h_advance(self.font.glyph_id(c)))
            .sum()
    }

    /// Draws `text` with its baseline at `y`, starting at `x`; ink darkens the page.
    pub fn draw(&mut self, r: &mut Raster, x: f32, y: f32, text: &str, px: f32, ink: u8) {
        let mut pen = x;
        let key_px = (px * 4.0).round() as u32;
        for ch in text.chars() {
            let advance = {
                let f = self.font.as_scaled(px);
                f.h_advance(self.font.glyph_id(ch))
            };
            if !ch.is_whitespace() {
                let font = &self.font;
                let glyph = self
                    .cache
                    .entry((ch, key_px))
                    .or_insert_with(|| rasterize(font, ch, px));
                if let Some(g) = glyph {
                    blit(
                        r,
                        pen.round() as i64 + g.left,
                        y.round() as i64 + g.top,
                        g,
                        ink,
                    );
                }
            }
            pen += advance;
        }
    }
}

impl Default for TextPainter {
    fn default() -> Self {
        TextPainter::new()
    }
}

fn rasterize(font: &FontRef<'static>, ch: char, px: f32) -> Option<Glyph> {
    let glyph = font
        .glyph_id(ch)
        .with_scale_and_position(px, ab_glyph::point(0.0, 0.0));
    let outline = font.outline_glyph(glyph)?;
    let b = outline.px_bounds();
    let (w, h) = (b.width() as usize, b.height() as usize);
    let mut coverage = vec![0u8; w * h];
    outline.draw(|x, y, c| {
        if let Some(v) = coverage.get_mut(y as usize * w + x as usize) {
            *v = (c.clamp(0.0, 1.0) * 255.0) as u8;
        }
    });
    Some(Glyph {
        left: b.min.x as i64,
        top: b.min.y as i64,
        width: w,
        coverage,
    })
}

fn blit(r: &mut Raster, x: i64, y: i64, g: &Glyph, ink: u8) {
    let (pw, ph) = (r.width as i64, r.height as i64);
    for (gy, row) in g.coverage.chunks(g.width.max(1)).enumerate() {
        let py = y + gy as i64;
        if py < 0 || py >= ph {
            continue;
        }
        for (gx, &c) in row.iter().enumerate() {
            let px = x + gx as i64;
            if c == 0 || px < 0 || px >= pw {
                continue;
            }
            let i = (py * pw + px) as usize;
            let v = r.data[i] as i32;
            let target = v - ((v - ink as i32).max(0) * c as i32) / 255;
            r.data[i] = target as u8;
        }
    }
}
