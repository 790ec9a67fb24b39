//! Folio's session test target, version 1: where each element sits on the A4
//! page (millimetres from the page's top-left corner) and the one renderer of
//! it. `folio sheets --target` prints what [`draw`] draws, the synthetic scans
//! of the tests start from it, and [`super::target::measure`] looks for its elements
//! where this module says they are. Pure; any thread.
//!
//! Three registration marks (top-left, top-right, bottom-left, like a QR
//! code's finder patterns) fix the page's position, scale, skew and which
//! way up it lies; everything else is found relative to them, so a target
//! printed slightly scaled or scanned crooked still measures.

use crate::imaging::draw::{TextPainter, draw_modules, fill_rect};
use crate::imaging::sheet::{self, Symbol};
use crate::pixels::Raster;

/// What the target's barcode carries: a version, so that a later target
/// with another layout is told apart.
pub const CODE: &str = "FOLIO:TARGET:1";
/// The registration marks' centres: top-left, top-right, bottom-left.
pub const MARKS_MM: [(f32, f32); 3] = [(17.0, 17.0), (193.0, 17.0), (17.0, 280.0)];
/// A mark is 7 x 7 modules: a black ring one module wide, a white ring one
/// module wide and a black centre three modules wide (QR's finder pattern).
/// 1.5 mm modules keep the white ring 6 pixels wide at 100 dpi, the
/// resolution marks are searched at, and clear of any scanner's blur.
pub const MARK_MODULE_MM: f32 = 1.5;
/// The grey steps' printed levels, darkest first: 100% to 0% ink in steps
/// of 10% (the last one is the bare paper).
pub const GREY_LEVELS: [u8; 11] = [0, 25, 51, 76, 102, 128, 153, 178, 204, 229, 255];
/// The grey-step strip: left, top, one patch's width, height.
pub const STEPS_MM: (f32, f32, f32, f32) = (28.0, 72.0, 14.0, 18.0);
/// The line-pair groups' frequencies, line pairs per millimetre.
pub const LP_PER_MM: [f32; 8] = [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0];
/// Line-pair groups: the first group's left edge, the pitch between groups,
/// each group's side, and the tops of the two rows (bars upright, measuring
/// resolution across the page; bars level, measuring it down the page).
pub const GROUP_LEFT_MM: f32 = 36.0;
pub const GROUP_PITCH_MM: f32 = 18.0;
pub const GROUP_SIDE_MM: f32 = 12.0;
pub const GROUP_ROWS_MM: [f32; 2] = [110.0, 138.0];
/// The area the barcode and its quiet zones lie in: left, top, width, height.
pub const BARCODE_AREA_MM: (f32, f32, f32, f32) = (55.0, 29.0, 100.0, 26.0);
const BAR_TOP_MM: f32 = 32.0;
const BAR_HEIGHT_MM: f32 = 20.0;
/// The text-size ladder: sizes in points, and the first baseline.
const LADDER_PT: [f32; 8] = [4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 14.0];
const LADDER_TOP_MM: f32 = 176.0;
const LEFT_MM: f32 = 28.0;
const INK: u8 = 0;

/// Which way a line-pair group's bars run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bars {
    /// Upright bars, alternating along the page's width: resolution across.
    Upright,
    /// Level bars, alternating down the page: resolution down the page.
    Level,
}

impl Bars {
    /// Both directions, in the order the rows are printed.
    pub const BOTH: [Bars; 2] = [Bars::Upright, Bars::Level];

    /// The direction the resolution is measured in, in words.
    pub fn direction(self) -> &'static str {
        match self {
            Bars::Upright => "across",
            Bars::Level => "down",
        }
    }
}

/// A rectangle on the page, millimetres: left, top, width, height.
pub type RectMm = (f32, f32, f32, f32);

/// Grey step `i` (0 darkest).
pub fn step_rect(i: usize) -> RectMm {
    let (x, y, w, h) = STEPS_MM;
    (x + i as f32 * w, y, w, h)
}

/// The line-pair group of frequency index `i` with `bars`. Each group holds
/// a whole number of line pairs (12 mm at every frequency on the list).
pub fn group_rect(i: usize, bars: Bars) -> RectMm {
    let top = match bars {
        Bars::Upright => GROUP_ROWS_MM[0],
        Bars::Level => GROUP_ROWS_MM[1],
    };
    let x = GROUP_LEFT_MM + i as f32 * GROUP_PITCH_MM;
    (x, top, GROUP_SIDE_MM, GROUP_SIDE_MM)
}

/// An empty A4 page at `dpi`, white, for the target to be drawn on.
pub fn blank(dpi: u32) -> Raster {
    sheet::blank_page(dpi, 255)
}

/// Draws the whole target, black on the page (drawn on white: [`blank`]).
pub fn draw(page: &mut Raster, painter: &mut TextPainter) {
    for (x, y) in MARKS_MM {
        draw_mark(page, x, y);
    }
    draw_header(page, painter);
    draw_steps(page, painter);
    for bars in Bars::BOTH {
        for (i, &f) in LP_PER_MM.iter().enumerate() {
            let r = group_rect(i, bars);
            draw_bars(page, r, f, bars);
            let label = format!("{f}");
            text(page, painter, r.0 + 2.0, r.1 + r.3 + 4.5, &label, 8.0);
        }
        let (_, top, _, _) = group_rect(0, bars);
        let words = match bars {
            Bars::Upright => "Line pairs per mm, across the page",
            Bars::Level => "Line pairs per mm, down the page",
        };
        text(page, painter, LEFT_MM, top - 3.0, words, 9.0);
    }
    draw_ladder(page, painter);
    draw_footer(page, painter);
}

fn px(page: &Raster, mm: f32) -> i64 {
    (mm * page.dpi as f32 / 25.4).round() as i64
}

fn text(page: &mut Raster, painter: &mut TextPainter, x_mm: f32, y_mm: f32, s: &str, pt: f32) {
    let mm = page.dpi as f32 / 25.4;
    let size = pt * page.dpi as f32 / 72.0;
    painter.draw(page, x_mm * mm, y_mm * mm, s, size, INK);
}

/// Fills a rectangle given in millimetres, its edges rounded to pixels.
fn fill_mm(page: &mut Raster, (x, y, w, h): RectMm, level: u8) {
    let (x0, y0) = (px(page, x), px(page, y));
    let (x1, y1) = (px(page, x + w), px(page, y + h));
    fill_rect(page, x0, y0, x1 - x0, y1 - y0, level);
}

/// A registration mark centred on (x, y) millimetres.
fn draw_mark(page: &mut Raster, x: f32, y: f32) {
    let m = MARK_MODULE_MM;
    let square = |modules: f32| {
        (
            x - modules * m / 2.0,
            y - modules * m / 2.0,
            modules * m,
            modules * m,
        )
    };
    fill_mm(page, square(7.0), INK);
    fill_mm(page, square(5.0), 255);
    fill_mm(page, square(3.0), INK);
}

fn draw_header(page: &mut Raster, painter: &mut TextPainter) {
    text(
        page,
        painter,
        30.0,
        19.0,
        "Folio session test target 1",
        16.0,
    );
    text(
        page,
        painter,
        30.0,
        25.0,
        "Print at actual size (100%, not fit to page); scan it first in every session.",
        8.0,
    );
    if let Some(Symbol::Code128 { modules, module_mm }) = Symbol::code128(CODE) {
        let mm = page.dpi as f32 / 25.4;
        let module = module_mm * mm;
        let width = modules.len() as f32 * module;
        let x = (page.width as f32 - width) / 2.0;
        let (top, height) = (px(page, BAR_TOP_MM), px(page, BAR_HEIGHT_MM));
        draw_modules(page, x.round() as i64, top, &modules, module, height, INK);
        let tw = painter.width(CODE, 10.0 * page.dpi as f32 / 72.0) / mm;
        text(page, painter, 105.0 - tw / 2.0, 58.0, CODE, 10.0);
    }
}

fn draw_steps(page: &mut Raster, painter: &mut TextPainter) {
    text(
        page,
        painter,
        LEFT_MM,
        STEPS_MM.1 - 3.0,
        "Grey steps, % ink",
        9.0,
    );
    for (i, &level) in GREY_LEVELS.iter().enumerate() {
        let r = step_rect(i);
        fill_mm(page, r, level);
        let ink = 100 - (i * 10);
        text(
            page,
            painter,
            r.0 + 3.0,
            r.1 + r.3 + 4.5,
            &format!("{ink}"),
            8.0,
        );
    }
    // A hairline frame, so that the paper-white step shows as a patch.
    let (x, y, _, h) = STEPS_MM;
    let w = STEPS_MM.2 * GREY_LEVELS.len() as f32;
    let t = 0.25;
    fill_mm(page, (x - t, y - t, w + 2.0 * t, t), INK);
    fill_mm(page, (x - t, y + h, w + 2.0 * t, t), INK);
    fill_mm(page, (x - t, y, t, h), INK);
    fill_mm(page, (x + w, y, t, h), INK);
}

/// The part of [0, t] (millimetres from a group's edge) that is black, for
/// bars of frequency `f`: black from k/f to (k + 1/2)/f.
fn ink_upto(t: f32, f: f32) -> f32 {
    let period = 1.0 / f;
    let whole = (t * f).floor();
    let rest = t - whole * period;
    whole * period / 2.0 + rest.min(period / 2.0)
}

/// One line-pair group, each pixel inked by the share of it the bars cover
/// (so bars narrower than a pixel are drawn as a scanner would see them,
/// not rounded to whole pixels).
fn draw_bars(page: &mut Raster, (x, y, w, h): RectMm, f: f32, bars: Bars) {
    let mm = page.dpi as f32 / 25.4;
    let (across, along) = match bars {
        Bars::Upright => ((x, w), (y, h)),
        Bars::Level => ((y, h), (x, w)),
    };
    let (a0, a1) = (
        (across.0 * mm).floor() as i64,
        ((across.0 + across.1) * mm).ceil() as i64,
    );
    let (b0, b1) = (px(page, along.0), px(page, along.0 + along.1));
    for p in a0..a1 {
        let lo = (p as f32 / mm - across.0).clamp(0.0, across.1);
        let hi = ((p + 1) as f32 / mm - across.0).clamp(0.0, across.1);
        let cover = (ink_upto(hi, f) - ink_upto(lo, f)) * mm;
        if cover <= 0.0 {
            continue;
        }
        let level = (255.0 * (1.0 - cover.clamp(0.0, 1.0))).round() as u8;
        match bars {
            Bars::Upright => fill_rect(page, p, b0, 1, b1 - b0, level),
            Bars::Level => fill_rect(page, b0, p, b1 - b0, 1, level),
        }
    }
}

fn draw_ladder(page: &mut Raster, painter: &mut TextPainter) {
    let mut y = LADDER_TOP_MM;
    text(page, painter, LEFT_MM, y - 8.0, "Text sizes", 9.0);
    for pt in LADDER_PT {
        let line = format!("{pt} pt  Hb 128 g/L; NHS 943 476 5919; 0O 1lI 5S 8B rn m");
        text(page, painter, LEFT_MM, y, &line, pt);
        y += pt * 25.4 / 72.0 * 1.6 + 1.0;
    }
}

fn draw_footer(page: &mut Raster, painter: &mut TextPainter) {
    let lines = [
        "Folio measures: registration marks (corners), skew, the finest line pairs resolved",
        "both ways, whether neighbouring grey steps stay apart, and the barcode.",
        "Check a scan of it with: folio target check IMAGE",
    ];
    for (i, l) in lines.iter().enumerate() {
        text(page, painter, 30.0, 268.0 + i as f32 * 4.5, l, 8.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_cover_half_of_each_period() {
        for f in LP_PER_MM {
            let side = GROUP_SIDE_MM;
            assert!((ink_upto(side, f) - side / 2.0).abs() < 1e-3, "{f}");
            assert!(
                ((side * f) - (side * f).round()).abs() < 1e-4,
                "whole pairs at {f}"
            );
        }
        assert!((ink_upto(0.25, 2.0) - 0.25).abs() < 1e-6);
        assert!((ink_upto(0.4, 2.0) - 0.25).abs() < 1e-6);
    }

    #[test]
    fn the_elements_stay_clear_of_each_other_and_inside_the_margin() {
        let last_step = step_rect(GREY_LEVELS.len() - 1);
        assert!(last_step.0 + last_step.2 <= 210.0 - sheet::MARGIN_MM);
        let last_group = group_rect(LP_PER_MM.len() - 1, Bars::Level);
        assert!(last_group.0 + last_group.2 <= 210.0 - sheet::MARGIN_MM);
        let half = 3.5 * MARK_MODULE_MM;
        for (x, y) in MARKS_MM {
            assert!(x - half >= sheet::MARGIN_MM && y - half >= sheet::MARGIN_MM);
        }
        // The barcode (with its quiet zones) fits in the area read.
        let Some(Symbol::Code128 { modules, module_mm }) = Symbol::code128(CODE) else {
            panic!("the target's code is Code 128");
        };
        let width = (modules.len() + 2 * sheet::QUIET_MODULES) as f32 * module_mm;
        assert!(width <= BARCODE_AREA_MM.2, "{width} mm");
    }
}
