//! Border crop: removes the dark scanner background that frames a sheet when the
//! scan area is larger than the paper (a dark backing plate is how feeders find
//! the sheet's edges). Only whole rows and columns that are nearly all dark are
//! cut, so a page with a black photograph or a thick rule keeps its content.

use super::analyze::{level, reduce};
use crate::pixels::Raster;

/// A rectangle in pixels: left, top, right (exclusive), bottom (exclusive).
pub type Rect = (u32, u32, u32, u32);

/// Share of a row or column that must be dark for it to be background.
const DARK_SHARE: f32 = 0.9;
/// Never crop more than this share of either dimension: past it, the "border"
/// is more likely a dark page than a backing plate.
const MAX_CROP: f32 = 0.35;

/// The sheet inside a dark border, or `None` when there is no border.
pub fn sheet_area(raster: &Raster) -> Option<Rect> {
    if !edges_dark(raster) {
        return None;
    }
    let luma = raster.luma();
    let factor = (raster.dpi as usize / 100).max(1);
    let r = reduce(&luma, raster.width as usize, raster.height as usize, factor);
    let (w, h) = (r.width, r.height);
    if w < 8 || h < 8 {
        return None;
    }
    let dark = level(&r.data, 0.75) / 2;
    let row_dark = |y: usize| {
        r.data[y * w..(y + 1) * w]
            .iter()
            .filter(|&&v| v < dark)
            .count() as f32
            >= DARK_SHARE * w as f32
    };
    let col_dark = |x: usize| {
        (0..h).filter(|&y| r.data[y * w + x] < dark).count() as f32 >= DARK_SHARE * h as f32
    };
    let top = (0..h).take_while(|&y| row_dark(y)).count();
    let bottom = (0..h).rev().take_while(|&y| row_dark(y)).count();
    let left = (0..w).take_while(|&x| col_dark(x)).count();
    let right = (0..w).rev().take_while(|&x| col_dark(x)).count();
    if top + bottom + left + right == 0
        || (top + bottom) as f32 > MAX_CROP * h as f32
        || (left + right) as f32 > MAX_CROP * w as f32
    {
        return None;
    }
    // One reduced pixel more on each cut side takes the blurred edge too.
    let pad = |n: usize| if n > 0 { (n + 1) * factor } else { 0 };
    let (x0, y0) = (pad(left) as u32, pad(top) as u32);
    let x1 = raster.width.saturating_sub(pad(right) as u32);
    let y1 = raster.height.saturating_sub(pad(bottom) as u32);
    (x1 > x0 && y1 > y0).then_some((x0, y0, x1, y1))
}

/// Whether any outermost row or column is mostly dark: a quick look at a few
/// hundred pixels that spares the full measurement on the usual borderless page.
fn edges_dark(r: &Raster) -> bool {
    let (w, h, ch) = (r.width as usize, r.height as usize, r.kind.channels());
    if w < 8 || h < 8 {
        return false;
    }
    let at = |x: usize, y: usize| r.data[(y * w + x) * ch] < 80;
    let share = |hits: usize, n: usize| hits as f32 >= 0.5 * n as f32;
    let step = 7;
    let rows = [0, h - 1].iter().any(|&y| {
        share(
            (0..w).step_by(step).filter(|&x| at(x, y)).count(),
            w.div_ceil(step),
        )
    });
    let cols = [0, w - 1].iter().any(|&x| {
        share(
            (0..h).step_by(step).filter(|&y| at(x, y)).count(),
            h.div_ceil(step),
        )
    });
    rows || cols
}

/// The part of a page inside `rect`.
pub fn crop(raster: &Raster, (x0, y0, x1, y1): Rect) -> Raster {
    let ch = raster.kind.channels();
    let stride = raster.width as usize * ch;
    let mut data = Vec::with_capacity((x1 - x0) as usize * (y1 - y0) as usize * ch);
    for y in y0 as usize..y1 as usize {
        data.extend_from_slice(
            &raster.data[y * stride + x0 as usize * ch..y * stride + x1 as usize * ch],
        );
    }
    Raster {
        width: x1 - x0,
        height: y1 - y0,
        kind: raster.kind,
        dpi: raster.dpi,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dark_frame_is_cut_and_a_plain_page_is_left_alone() {
        let mut page = Raster::filled(1000, 1400, 100, 30);
        for y in 100..1300 {
            page.data[y * 1000 + 60..y * 1000 + 940].fill(230);
        }
        let rect = sheet_area(&page).unwrap();
        assert!(
            (rect.0 as i32 - 60).abs() <= 2 && (rect.1 as i32 - 100).abs() <= 2,
            "{rect:?}"
        );
        assert!(
            (rect.2 as i32 - 940).abs() <= 2 && (rect.3 as i32 - 1300).abs() <= 2,
            "{rect:?}"
        );
        let c = crop(&page, rect);
        assert!(c.data.iter().all(|&v| v == 230));
        assert_eq!(sheet_area(&Raster::filled(1000, 1400, 100, 230)), None);
        assert_eq!(
            sheet_area(&Raster::filled(1000, 1400, 100, 20)),
            None,
            "a black page is not all border"
        );
    }
}
