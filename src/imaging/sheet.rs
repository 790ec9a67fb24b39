//! The control sheet's page: its barcode centred near the top of an A4 page,
//! the barcode's text under it and the words a person reads, all inside the
//! printable margin. The one renderer of control sheets: `folio sheets` draws
//! the pages it prints with it (and checks each reads back before printing),
//! and the synthetic stacks and the demo feeder draw their control sheets with
//! it, so what the tests scan is what the station prints. Pure; any thread.

use super::draw::{TextPainter, code128_modules, draw_modules, draw_qr};
use crate::pixels::Raster;

/// The resolution sheets are printed at.
pub const PRINT_DPI: u32 = 300;
/// The page, A4, in millimetres (width, height).
pub const PAGE_MM: (f32, f32) = (210.0, 297.0);
/// Printers cannot ink closer to the edge than this.
pub const MARGIN_MM: f32 = 10.0;
/// Code 128's quiet zone on each side, in modules.
pub const QUIET_MODULES: usize = 10;
/// Module widths tried, in pixels at 300 dpi, widest first: 0.42 mm (easy to
/// read) and 0.34 mm. Not 0.25 mm: a 200 dpi scan resolves it, but Folio reads
/// a 300 dpi scan's barcodes at 150 dpi, where such bars were measured not to
/// decode (every length tried, 20 to 63 characters).
const MODULE_PX: [u32; 2] = [5, 4];
const BAR_TOP_MM: f32 = 40.0;
const BAR_HEIGHT_MM: f32 = 30.0;
const TEXT_LEFT_MM: f32 = 15.0;
/// Where a QR code (the fallback symbol) is placed, and its module.
const QR_AT_MM: (f32, f32) = (25.0, 30.0);
const QR_MODULE_MM: f32 = 0.8;

/// How a sheet's code is drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Symbol {
    /// Code 128 with modules `module_mm` wide.
    Code128 { modules: Vec<u8>, module_mm: f32 },
    /// A QR code, for text Code 128 cannot carry or that does not fit across
    /// the page. `folio sheets` refuses such text; generated stacks and the
    /// demo feeder draw it this way so that a side still carries its code.
    Qr,
}

impl Symbol {
    /// Code 128 at the widest module that fits between the margins with its
    /// quiet zones; `None` when the text cannot be Code 128 or is too long.
    pub fn code128(code: &str) -> Option<Symbol> {
        let modules = code128_modules(code).ok()?;
        let px = module_px(modules.len())?;
        Some(Symbol::Code128 {
            modules,
            module_mm: px as f32 * 25.4 / PRINT_DPI as f32,
        })
    }
}

/// The printable width, in pixels at the print resolution.
fn printable_px() -> usize {
    ((PAGE_MM.0 - 2.0 * MARGIN_MM) * PRINT_DPI as f32 / 25.4).floor() as usize
}

/// The widest module (pixels at 300 dpi) at which `modules` fit between the
/// margins with their quiet zones.
pub fn module_px(modules: usize) -> Option<u32> {
    MODULE_PX
        .into_iter()
        .find(|&px| (modules + 2 * QUIET_MODULES) * px as usize <= printable_px())
}

/// The longest text a sheet carries as Code 128 (set B): 11 modules a
/// character, plus start, check and stop.
pub fn max_chars() -> usize {
    let px = MODULE_PX[MODULE_PX.len() - 1] as usize;
    (printable_px() / px - 2 * QUIET_MODULES - 13) / 11 - 2
}

/// An empty A4 page at `dpi`, every pixel at grey level `paper`.
pub fn blank_page(dpi: u32, paper: u8) -> Raster {
    let mm = dpi as f32 / 25.4;
    Raster::filled((PAGE_MM.0 * mm) as u32, (PAGE_MM.1 * mm) as u32, dpi, paper)
}

/// Draws a control sheet on `page` (an A4 page at its own dpi) in black: the
/// symbol near the top, then `code` in text and each of `words` on a line of
/// its own. Long lines are set smaller rather than run off the page.
pub fn draw(
    page: &mut Raster,
    code: &str,
    symbol: &Symbol,
    words: &[String],
    painter: &mut TextPainter,
) {
    let mm = page.dpi as f32 / 25.4;
    match symbol {
        Symbol::Code128 { modules, module_mm } => {
            let module = module_mm * mm;
            let width = modules.len() as f32 * module;
            let x = (page.width as f32 - width) / 2.0;
            let (top, height) = ((BAR_TOP_MM * mm) as i64, (BAR_HEIGHT_MM * mm) as i64);
            draw_modules(page, x.round() as i64, top, modules, module, height, 0);
        }
        Symbol::Qr => {
            let module = (QR_MODULE_MM * mm).round().max(3.0) as i64;
            let (x, y) = ((QR_AT_MM.0 * mm) as i64, (QR_AT_MM.1 * mm) as i64);
            // A text too long even for a QR code leaves the sheet without a
            // symbol: the reader then flags it as unreadable.
            let _ = draw_qr(page, x, y, code, module, 0);
        }
    }
    draw_words(page, code, words, painter);
}

/// The code in text, then the words, from 25 mm under the barcode.
fn draw_words(page: &mut Raster, code: &str, words: &[String], painter: &mut TextPainter) {
    let mm = page.dpi as f32 / 25.4;
    let pt = page.dpi as f32 / 72.0;
    let max_width = (PAGE_MM.0 - TEXT_LEFT_MM - MARGIN_MM) * mm;
    let mut line = |page: &mut Raster, y: f32, text: &str, size_pt: f32| {
        let px = size_pt * pt;
        let fit = px * (max_width / painter.width(text, px).max(1.0)).min(1.0);
        painter.draw(page, TEXT_LEFT_MM * mm, y, text, fit, 0);
    };
    let mut y = (BAR_TOP_MM + BAR_HEIGHT_MM + 25.0) * mm;
    line(page, y, code, 14.0);
    for w in words {
        y += 22.0 * pt * 1.3;
        line(page, y, w, 22.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_accepted_code_keeps_quiet_zones_inside_the_margin() {
        let n = max_chars();
        let code = "X".repeat(n);
        let modules = code128_modules(&code).unwrap();
        let px = module_px(modules.len()).expect("the longest accepted value fits");
        let mm = px as f32 * 25.4 / PRINT_DPI as f32;
        assert!(mm >= 0.33, "module {mm} mm");
        let needed = (modules.len() + 2 * QUIET_MODULES) as f32 * mm;
        assert!(needed <= PAGE_MM.0 - 2.0 * MARGIN_MM, "{needed} mm");
        let longer = code128_modules(&"X".repeat(n + 1)).unwrap();
        assert_eq!(
            module_px(longer.len()),
            None,
            "one more character is refused"
        );
    }

    #[test]
    fn text_code_128_cannot_carry_or_fit_gets_no_code_128_symbol() {
        assert!(matches!(
            Symbol::code128("FOLIO:DOC:results"),
            Some(Symbol::Code128 { .. })
        ));
        assert_eq!(Symbol::code128("FOLIO:DOC:pédiatrie"), None);
        assert_eq!(Symbol::code128(&"X".repeat(max_chars() + 1)), None);
    }
}
