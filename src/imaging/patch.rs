//! Reading Kodak patch codes, and drawing them for `folio sheets --patch`.
//!
//! No open-source library decodes patch codes (zbar and zxing-cpp read
//! barcodes, and a patch is not one: four bars with no start, stop or check
//! character), so this is our own. A patch is four black bars parallel to the
//! sheet's leading edge, two wide (0.20 in) and two narrow (0.08 in), with
//! three narrow spaces: 0.80 in from first bar to last, at least 2 in long,
//! within 3.75 in of the leading edge. Which bars are wide, read from the
//! leading edge, is the code (`batch::protocol::Patch`).
//!
//! How it is read: the top 3.75 in of the side as scanned (the leading edge;
//! and the bottom 3.75 in read upwards, for a sheet fed upside down) is cut
//! into columns every 0.1 in. Down each column the mean darkness of a narrow
//! strip is thresholded halfway between paper and ink, cleaned of specks and
//! cut into runs; seven runs dark-light-dark-light-dark-light-dark whose
//! widths are narrow or wide within tolerance (all spaces narrow, two bars
//! wide), between quiet paper, are one column's reading. A patch is a line of
//! neighbouring columns that read the same code at nearly the same height
//! over at least 1.2 in: a bar of text, a table's rule or a logo does not make
//! that, so ordinary pages do not read as patches (tests: 1,000 generated
//! pages of text, forms and tables, none read). Widths are measured along the
//! column, so skew up to ±5° changes them by under 0.4%; a bar's edge drifts
//! across the strip by 0.005 in at most.

use crate::batch::protocol::Patch;
use crate::pixels::Raster;

/// Narrow and wide element widths, inches, and what is accepted as each
/// (print gain, scanner blur, a printer's rounding).
const NARROW_IN: f32 = 0.08;
const WIDE_IN: f32 = 0.20;
const NARROW_RANGE: (f32, f32) = (0.05, 0.135);
const WIDE_RANGE: (f32, f32) = (0.15, 0.27);
/// The patch's total height, first bar to last, accepted.
const TOTAL_RANGE: (f32, f32) = (0.66, 0.94);
/// Paper needed either side of the patch.
const QUIET_IN: f32 = 0.08;
/// How far from the edge a patch may start (3.75 in, and the bars' own height).
const ZONE_IN: f32 = 3.75 + 0.85;
const COLUMN_STEP_IN: f32 = 0.1;
const STRIP_IN: f32 = 0.06;
/// A run shorter than this is a speck or a gap in the toner, not an element.
const SPECK_IN: f32 = 0.02;
/// Shortest line of agreeing columns that is a patch (a patch is at least 2
/// in; a partly printed or torn one still reads).
const MIN_SPAN_IN: f32 = 1.2;
/// Columns that may fail to read inside a patch (a scratch, a gap).
const MAX_GAP_COLUMNS: usize = 2;
/// Ink must be at least this much darker than paper.
const MIN_CONTRAST: u8 = 60;

/// A patch found on a side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PatchRead {
    pub patch: Patch,
    /// The sheet was fed upside down: the patch was read from the bottom up.
    pub upside_down: bool,
    /// Distance of the first bar from the leading edge, inches.
    pub from_edge_in: f32,
    /// Length of the bars that read, inches.
    pub length_in: f32,
}

/// One column's reading: the code and where its first bar starts, inches
/// from the edge read from.
#[derive(Debug, Clone, Copy)]
struct ColumnRead {
    patch: Patch,
    start_in: f32,
}

/// Reads the patch on a side as scanned (before it is turned or straightened),
/// if there is one.
pub fn detect(raster: &Raster) -> Option<PatchRead> {
    let dpi = if raster.dpi == 0 { 200 } else { raster.dpi } as f32;
    let (w, h) = (raster.width as usize, raster.height as usize);
    if w == 0 || h == 0 {
        return None;
    }
    let luma = raster.luma();
    let zone = ((ZONE_IN * dpi) as usize).min(h);
    let (paper, ink) = levels(&luma, w, zone, h)?;
    let threshold = (u16::from(paper) + u16::from(ink)) / 2;
    // Rows are read at 150 to 300 per inch: enough for 0.08 in elements.
    let row_step = ((dpi / 150.0) as usize).max(1);
    let geometry = Geometry {
        dpi,
        ydpi: dpi / row_step as f32,
        row_step,
        w,
        h,
        zone,
        threshold: threshold as u8,
    };
    [false, true]
        .into_iter()
        .find_map(|upside_down| geometry.read_zone(&luma, upside_down))
}

/// Paper and ink levels of the two zones: the 95th and 2nd percentile of a
/// sample. None if there is no ink to speak of.
fn levels(luma: &[u8], w: usize, zone: usize, h: usize) -> Option<(u8, u8)> {
    let mut hist = [0u32; 256];
    let rows = (0..zone).chain(h.saturating_sub(zone).max(zone)..h);
    for y in rows.step_by(3) {
        for x in (0..w).step_by(3) {
            hist[usize::from(luma[y * w + x])] += 1;
        }
    }
    let total: u32 = hist.iter().sum();
    let at = |share: f32| {
        let want = (total as f32 * share) as u32;
        let mut seen = 0;
        for (v, n) in hist.iter().enumerate() {
            seen += n;
            if seen > want {
                return v as u8;
            }
        }
        255
    };
    let (paper, ink) = (at(0.95), at(0.02));
    (paper.saturating_sub(ink) >= MIN_CONTRAST).then_some((paper, ink))
}

struct Geometry {
    dpi: f32,
    /// Rows read per inch, and every how many rows one is read.
    ydpi: f32,
    row_step: usize,
    w: usize,
    h: usize,
    zone: usize,
    threshold: u8,
}

impl Geometry {
    /// Pixels across.
    fn px(&self, inches: f32) -> usize {
        ((inches * self.dpi).round() as usize).max(1)
    }

    /// Rows read down.
    fn rows(&self, inches: f32) -> usize {
        ((inches * self.ydpi).round() as usize).max(1)
    }

    /// Reads the zone at the top (or, upside down, the bottom read upwards).
    fn read_zone(&self, luma: &[u8], upside_down: bool) -> Option<PatchRead> {
        let step = self.px(COLUMN_STEP_IN);
        let strip = self.px(STRIP_IN);
        let xs: Vec<usize> = (0..)
            .map(|i| i * step + step / 2)
            .take_while(|x| x + strip <= self.w)
            .collect();
        // Every third column first (0.3 in apart, so at least three cross
        // any patch that can be accepted): most sides have no patch, and
        // this is all they cost.
        let sparse = |i: usize| i % 3 == 1;
        let mut columns: Vec<Option<ColumnRead>> = vec![None; xs.len()];
        for (i, &x) in xs.iter().enumerate().filter(|(i, _)| sparse(*i)) {
            columns[i] = self.read_column(luma, x, strip, upside_down);
        }
        if columns.iter().all(Option::is_none) {
            return None;
        }
        for (i, &x) in xs.iter().enumerate().filter(|(i, _)| !sparse(*i)) {
            columns[i] = self.read_column(luma, x, strip, upside_down);
        }
        best_line(&columns).map(|(read, cols)| PatchRead {
            patch: read.patch,
            upside_down,
            from_edge_in: read.start_in,
            length_in: cols as f32 * COLUMN_STEP_IN,
        })
    }

    /// The dark/light profile down one strip, cleaned of specks, as runs.
    fn read_column(
        &self,
        luma: &[u8],
        x: usize,
        strip: usize,
        upside_down: bool,
    ) -> Option<ColumnRead> {
        let mut dark = Vec::with_capacity(self.zone / self.row_step + 1);
        for i in (0..self.zone).step_by(self.row_step) {
            let y = if upside_down { self.h - 1 - i } else { i };
            let row = &luma[y * self.w + x..y * self.w + x + strip];
            let sum: u32 = row.iter().map(|&v| u32::from(v)).sum();
            dark.push(sum < u32::from(self.threshold) * strip as u32);
        }
        let runs = despeckle(runs_of(&dark), self.rows(SPECK_IN));
        self.find_patch(&runs)
    }

    /// The first seven runs that make a patch between quiet paper.
    fn find_patch(&self, runs: &[(bool, usize, usize)]) -> Option<ColumnRead> {
        let inch = |rows: usize| rows as f32 / self.ydpi;
        let quiet = self.rows(QUIET_IN);
        for i in 0..runs.len().saturating_sub(6) {
            let el = &runs[i..i + 7];
            if !el[0].0 {
                continue;
            }
            let before_ok = i == 0 && el[0].1 >= quiet || i > 0 && runs[i - 1].2 >= quiet;
            let after_ok = runs.get(i + 7).is_none_or(|r| r.2 >= quiet);
            if !before_ok || !after_ok {
                continue;
            }
            let total = inch(el[6].1 + el[6].2 - el[0].1);
            if total < TOTAL_RANGE.0 || total > TOTAL_RANGE.1 {
                continue;
            }
            let kind = |len: usize| {
                let w = inch(len);
                if (NARROW_RANGE.0..=NARROW_RANGE.1).contains(&w) {
                    Some(false)
                } else if (WIDE_RANGE.0..=WIDE_RANGE.1).contains(&w) {
                    Some(true)
                } else {
                    None
                }
            };
            let spaces_narrow = [1, 3, 5].iter().all(|&k| kind(el[k].2) == Some(false));
            let bars = [0, 2, 4, 6].map(|k| kind(el[k].2));
            if !spaces_narrow || bars.iter().any(Option::is_none) {
                continue;
            }
            if let Some(patch) = Patch::from_bars(bars.map(|b| b == Some(true))) {
                return Some(ColumnRead {
                    patch,
                    start_in: inch(el[0].1),
                });
            }
        }
        None
    }
}

/// Runs of equal values: (dark, start, length).
fn runs_of(dark: &[bool]) -> Vec<(bool, usize, usize)> {
    let mut runs: Vec<(bool, usize, usize)> = Vec::new();
    for (i, &d) in dark.iter().enumerate() {
        match runs.last_mut() {
            Some(last) if last.0 == d => last.2 += 1,
            _ => runs.push((d, i, 1)),
        }
    }
    runs
}

/// Merges runs shorter than `speck` into their neighbours (a dust speck in a
/// space, a pinhole in a bar), so they do not split an element.
fn despeckle(runs: Vec<(bool, usize, usize)>, speck: usize) -> Vec<(bool, usize, usize)> {
    let mut out: Vec<(bool, usize, usize)> = Vec::with_capacity(runs.len());
    for r in runs {
        match out.last_mut() {
            // A short run takes the colour of what came before.
            Some(last) if r.2 < speck || last.0 == r.0 => last.2 += r.2,
            _ => out.push(r),
        }
    }
    // Merging can leave equal neighbours only when a speck came first.
    let mut merged: Vec<(bool, usize, usize)> = Vec::with_capacity(out.len());
    for r in out {
        match merged.last_mut() {
            Some(last) if last.0 == r.0 => last.2 += r.2,
            _ => merged.push(r),
        }
    }
    merged
}

/// The longest line of neighbouring columns reading the same code at nearly
/// the same height (gaps of a few columns allowed), if it is long enough.
fn best_line(columns: &[Option<ColumnRead>]) -> Option<(ColumnRead, usize)> {
    // Height may drift by tan(5°) × 0.1 in a column; allow a little more.
    let drift = COLUMN_STEP_IN * 0.12;
    let mut best: Option<(ColumnRead, usize)> = None;
    for (i, first) in columns.iter().enumerate() {
        let Some(first) = first else { continue };
        // Only start a line where the previous column does not continue it.
        if i > 0
            && columns[i - 1].is_some_and(|p| {
                p.patch == first.patch && (p.start_in - first.start_in).abs() <= drift
            })
        {
            continue;
        }
        let (mut last, mut at, mut read) = (*first, i, 1);
        let mut j = i + 1;
        while j < columns.len() && j - at <= MAX_GAP_COLUMNS + 1 {
            if let Some(c) = columns[j]
                && c.patch == first.patch
                && (c.start_in - last.start_in).abs() <= drift * (j - at) as f32
            {
                last = c;
                at = j;
                read += 1;
            }
            j += 1;
        }
        let span = at - i + 1;
        // Most columns of the line must read, not one in three.
        let long = span as f32 * COLUMN_STEP_IN >= MIN_SPAN_IN && read * 4 >= span * 3;
        if long && best.is_none_or(|(_, b)| span > b) {
            best = Some((*first, span));
        }
    }
    best
}

/// Draws `patch` on `page` with its first bar `from_top_in` below the top
/// edge, bars running from `margin_in` to the right margin.
pub fn draw(page: &mut Raster, patch: Patch, from_top_in: f32, margin_in: f32) {
    let dpi = page.dpi.max(1) as f32;
    let px = |inches: f32| (inches * dpi).round() as i64;
    let x0 = px(margin_in);
    let len = i64::from(page.width) - 2 * x0;
    let mut y = from_top_in;
    for (k, wide) in patch.bars().into_iter().enumerate() {
        let h = if wide { WIDE_IN } else { NARROW_IN };
        super::draw::fill_rect(page, x0, px(y), len, px(y + h) - px(y), 0);
        y += h;
        if k < 3 {
            y += NARROW_IN;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixels::PixelKind;

    fn sheet(patch: Patch, dpi: u32) -> Raster {
        let mut page = Raster::filled(
            (8.5 * dpi as f32) as u32,
            (11.0 * dpi as f32) as u32,
            dpi,
            245,
        );
        draw(&mut page, patch, 0.5, 0.75);
        page
    }

    #[test]
    fn every_patch_reads_at_every_resolution() {
        for dpi in [150, 200, 300, 400, 600] {
            for patch in Patch::ALL {
                let got = detect(&sheet(patch, dpi)).unwrap_or_else(|| panic!("{patch:?} {dpi}"));
                assert_eq!(got.patch, patch, "{dpi} dpi");
                assert!(!got.upside_down);
                assert!((got.from_edge_in - 0.5).abs() < 0.03, "{got:?}");
                assert!(got.length_in > 6.0, "{got:?}");
            }
        }
    }

    #[test]
    fn a_sheet_fed_upside_down_reads_from_its_own_leading_edge() {
        for patch in Patch::ALL {
            let mut page = sheet(patch, 200);
            page.data.reverse(); // turned 180°
            let got = detect(&page).unwrap();
            assert_eq!((got.patch, got.upside_down), (patch, true));
        }
    }

    #[test]
    fn blank_text_like_and_ruled_pages_read_nothing() {
        let mut page = Raster::filled(1700, 2200, 200, 250);
        assert_eq!(detect(&page), None);
        // Ruled lines 0.01 in thick every 0.1 in, across the page.
        for k in 0..100 {
            super::super::draw::fill_rect(&mut page, 100, 100 + k * 20, 1500, 2, 0);
        }
        assert_eq!(detect(&page), None);
        // Bars of the right widths, but only 1 in long.
        let mut short = Raster::filled(1700, 2200, 200, 250);
        draw(&mut short, Patch::P2, 0.5, 3.75);
        assert_eq!(detect(&short), None);
        // An empty raster.
        let empty = Raster {
            width: 0,
            height: 0,
            kind: PixelKind::Gray,
            dpi: 200,
            data: Vec::new(),
        };
        assert_eq!(detect(&empty), None);
    }

    #[test]
    fn runs_are_cleaned_of_specks() {
        let dark: Vec<bool> = "..####.####...#..".chars().map(|c| c == '#').collect();
        let runs = despeckle(runs_of(&dark), 2);
        assert_eq!(runs, vec![(false, 0, 2), (true, 2, 9), (false, 11, 6)]);
    }
}
