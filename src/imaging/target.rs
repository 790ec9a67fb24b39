//! The session quality check: measuring a scan of Folio's test target
//! ([`layout`]) for the resolution the scanner reaches (the finest line-pair
//! group still resolved, both ways), whether its grey steps stay apart,
//! its skew and whether its barcode reads, and deciding pass or fail in
//! words. Pure (no I/O); runs on whichever thread holds the page, in a few
//! tens of milliseconds for a 300 dpi A4 page.
//!
//! Everything is found relative to the three registration marks
//! (`target_marks`), so a target printed slightly scaled, scanned crooked or
//! upside down still measures; a page without them is not the target
//! ([`TargetError`]).

pub use super::target_layout as layout;
use super::target_marks as marks;

use crate::batch::printable;
use crate::imaging::barcode::{Area, read_fine};
use layout::{Bars, GREY_LEVELS, LP_PER_MM, RectMm};
use marks::{Frame, Plane};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A line-pair group is resolved when its bars' contrast (95th minus 5th
/// percentile of the profile across them) is at least this share of the
/// black-to-paper contrast of the same scan. A quarter: a sharp scan keeps
/// well over half at the frequencies it is asked for, and below a quarter
/// strokes of that width fade into the paper once JPEG and a printer's
/// toner have had their share (the sigma-3 blur of the tests leaves 0.3 at
/// 1 lp/mm and under 0.1 at 1.5).
pub const MIN_MODULATION: f32 = 0.25;
/// The finest line pairs required, as a share of the scan's Nyquist limit
/// (half its samples per millimetre): the largest group frequency at or
/// under it. 0.7 asks 4 lp/mm at 300 dpi, 2.5 at 200 and the finest group
/// (6) at 600: what a scanner in focus reaches; a lens out of focus, a
/// dirty glass or a resolution interpolated up from a lower one does not.
pub const REQUIRED_SHARE_OF_NYQUIST: f32 = 0.7;
/// Neighbouring grey steps must differ by at least this many grey levels
/// (the print differs by 25.5): less, and the scanner's tone curve has
/// crushed that part of the range into one grey.
pub const MIN_STEP_DELTA: f32 = 8.0;
/// ... and by at least this many times the pixels' own noise (the mean of
/// both patches' standard deviations), so that a step is told apart pixel
/// by pixel, not only on average.
pub const MIN_STEP_DELTA_IN_NOISE: f32 = 1.5;
/// Skew beyond this fails the session: Folio straightens pages up to 12
/// degrees, but a target fed more than 3 degrees crooked says the feeder's
/// guides are set wrong, and every page of the session would come out so.
pub const MAX_SKEW_DEG: f32 = 3.0;
/// The target's measured scale may differ this much from the resolution
/// stated: a printer's fit-to-page shrink (3-5%) passes; a scanner set to
/// 200 dpi that says 300 does not.
pub const MAX_SCALE_ERROR: f32 = 0.06;

/// Why a page could not be measured as the test target.
#[derive(Debug, Error, PartialEq)]
pub enum TargetError {
    #[error(
        "this is not Folio's test target: {why}. Print the target with `folio sheets --target --out target.pdf` at actual size and scan it as the session's first sheet"
    )]
    NotATarget { why: String },
    #[error(
        "the test target came out mirrored (the scanner or its settings flip the image): turn mirroring off and scan the target's printed side"
    )]
    Mirrored,
    #[error(
        "{dpi} dpi is not a resolution a scan can have (50 to 2400): give the scan's resolution with --dpi"
    )]
    BadDpi { dpi: u32 },
}

/// One grey step as scanned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GreyStep {
    /// 1 is the darkest.
    pub step: u32,
    /// The printed ink, percent (100 black, 0 bare paper).
    pub ink_percent: u32,
    /// Mean grey level read (0 black, 255 white).
    pub level: f32,
    /// The pixels' standard deviation, grey levels.
    pub noise: f32,
}

/// One line-pair group as scanned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinePairs {
    pub lp_per_mm: f32,
    /// `upright` bars measure across the page, `level` bars down it.
    pub bars: Bars,
    /// The bars' contrast as a share of black-to-paper.
    pub modulation: f32,
    /// Contrast at least [`MIN_MODULATION`] and as many bars as printed (not
    /// an aliased pattern).
    pub resolved: bool,
}

/// What the check measured, and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    /// The resolution the scan states.
    pub dpi: u32,
    /// The resolution the marks' spacing shows.
    pub measured_dpi: f32,
    /// How the target lies: 0, 90, 180 or 270 degrees turned clockwise.
    pub rotation_deg: u32,
    /// The skew beyond that, degrees (positive: clockwise).
    pub skew_deg: f32,
    /// The finest line pairs required at this resolution.
    pub required_lp_per_mm: f32,
    /// The finest group resolved across the page, with every coarser one
    /// (none: not even the coarsest).
    pub finest_across_lp_per_mm: Option<f32>,
    /// The same down the page.
    pub finest_down_lp_per_mm: Option<f32>,
    pub line_pairs: Vec<LinePairs>,
    pub grey_steps: Vec<GreyStep>,
    /// Every neighbouring pair of grey steps told apart.
    pub steps_separated: bool,
    /// What the barcode read (none: nothing).
    pub barcode: Option<String>,
    /// The barcode read as the target's own.
    pub barcode_read: bool,
    pub passed: bool,
    /// Why it failed, one sentence each, with what to do.
    pub failures: Vec<String>,
}

/// A session test target's result as the cache keeps it: the verdict, one
/// line of figures for people, and the whole report when it could be measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    pub passed: bool,
    /// The figures in one line, or why the sheet could not be measured.
    pub summary: String,
    /// Why it failed, one sentence each, with what to do.
    pub failures: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<TargetReport>,
}

impl TargetCheck {
    /// Measures a side that carries the target's barcode: one that cannot be
    /// measured (a photocopied barcode on another page, a torn target) fails.
    pub fn of(page: &crate::pixels::Raster) -> TargetCheck {
        match measure_raster(page) {
            Ok(r) => TargetCheck {
                passed: r.passed,
                summary: r.summary(),
                failures: r.failures.clone(),
                report: Some(r),
            },
            Err(e) => TargetCheck {
                passed: false,
                summary: format!("could not be measured: {e}"),
                failures: vec![e.to_string()],
                report: None,
            },
        }
    }
}

impl TargetCheck {
    /// Measures a side that may be the target although its barcode did not
    /// read: the target when its registration marks are found (passing or
    /// not), `None` for any other page.
    pub fn probe(page: &crate::pixels::Raster) -> Option<TargetCheck> {
        measure_raster(page).ok().map(|r| TargetCheck {
            passed: r.passed,
            summary: r.summary(),
            failures: r.failures.clone(),
            report: Some(r),
        })
    }
}

impl TargetReport {
    /// The figures in one line: resolution reached against what is needed,
    /// grey steps, skew, barcode.
    pub fn summary(&self) -> String {
        let lp = |v: Option<f32>| v.map_or("none".to_string(), |f| format!("{f:.1}"));
        format!(
            "line pairs {} across, {} down (needs {:.1} lp/mm at {} dpi); grey steps {}; skew {:.1}°; barcode {}",
            lp(self.finest_across_lp_per_mm),
            lp(self.finest_down_lp_per_mm),
            self.required_lp_per_mm,
            self.dpi,
            if self.steps_separated {
                "all told apart"
            } else {
                "run together"
            },
            self.skew_deg,
            if self.barcode_read {
                "read"
            } else {
                "not read"
            }
        )
    }
}

/// Measures a grey scan of the test target at `dpi`.
pub fn measure(img: &image::GrayImage, dpi: u32) -> Result<TargetReport, TargetError> {
    let (w, h) = img.dimensions();
    measure_luma(img.as_raw(), w, h, dpi)
}

/// [`measure`] for a page as the pipeline holds it (its luminance).
pub fn measure_raster(page: &crate::pixels::Raster) -> Result<TargetReport, TargetError> {
    measure_luma(&page.luma(), page.width, page.height, page.dpi)
}

fn measure_luma(luma: &[u8], w: u32, h: u32, dpi: u32) -> Result<TargetReport, TargetError> {
    if !(50..=2400).contains(&dpi) {
        return Err(TargetError::BadDpi { dpi });
    }
    let plane = Plane {
        data: luma,
        width: w as usize,
        height: h as usize,
    };
    if plane.data.len() < plane.width * plane.height {
        return Err(TargetError::NotATarget {
            why: "the image holds fewer pixels than its size says".into(),
        });
    }
    let frame = marks::find_frame(plane, dpi)?;
    let grey_steps: Vec<GreyStep> = (0..GREY_LEVELS.len())
        .map(|i| grey_step(plane, &frame, i))
        .collect();
    let (black, paper) = (grey_steps[0].level, grey_steps[GREY_LEVELS.len() - 1].level);
    let nyquist = frame.px_per_mm() / 2.0;
    let line_pairs: Vec<LinePairs> = Bars::BOTH
        .iter()
        .flat_map(|&bars| (0..LP_PER_MM.len()).map(move |i| (i, bars)))
        .map(|(i, bars)| line_pairs(plane, &frame, i, bars, (black, paper), nyquist))
        .collect();
    let barcode = read_barcode(plane, &frame);
    let angle = frame.angle_deg();
    let rotation = ((angle / 90.0).round() as i32).rem_euclid(4) as u32 * 90;
    let mut report = TargetReport {
        dpi,
        measured_dpi: frame.px_per_mm() * 25.4,
        rotation_deg: rotation,
        skew_deg: angle - (angle / 90.0).round() * 90.0,
        required_lp_per_mm: required_lp_per_mm(dpi),
        finest_across_lp_per_mm: finest(&line_pairs, Bars::Upright),
        finest_down_lp_per_mm: finest(&line_pairs, Bars::Level),
        steps_separated: true,
        barcode_read: barcode.as_deref() == Some(layout::CODE),
        barcode,
        line_pairs,
        grey_steps,
        passed: false,
        failures: Vec::new(),
    };
    judge(&mut report);
    Ok(report)
}

/// The finest group frequency at or under [`REQUIRED_SHARE_OF_NYQUIST`] of
/// `dpi`'s Nyquist limit (the coarsest group at very low resolutions).
pub fn required_lp_per_mm(dpi: u32) -> f32 {
    let limit = REQUIRED_SHARE_OF_NYQUIST * dpi as f32 / 25.4 / 2.0;
    LP_PER_MM
        .iter()
        .copied()
        .rfind(|&f| f <= limit + 1e-3)
        .unwrap_or(LP_PER_MM[0])
}

/// The finest frequency resolved with every coarser one, for one direction.
fn finest(groups: &[LinePairs], bars: Bars) -> Option<f32> {
    groups
        .iter()
        .filter(|g| g.bars == bars)
        .take_while(|g| g.resolved)
        .last()
        .map(|g| g.lp_per_mm)
}

/// A pixel's value at a fractional position, interpolated (edges repeat).
fn sample(p: Plane<'_>, (x, y): (f32, f32)) -> f32 {
    let x = (x - 0.5).clamp(0.0, (p.width - 1) as f32);
    let y = (y - 0.5).clamp(0.0, (p.height - 1) as f32);
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(p.width - 1), (y0 + 1).min(p.height - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let v = |x: usize, y: usize| p.data[y * p.width + x] as f32;
    let top = v(x0, y0) * (1.0 - fx) + v(x1, y0) * fx;
    let bottom = v(x0, y1) * (1.0 - fx) + v(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Mean and standard deviation of the middle of grey step `i`.
fn grey_step(p: Plane<'_>, frame: &Frame, i: usize) -> GreyStep {
    let (x, y, w, h) = layout::step_rect(i);
    let step = 1.0 / frame.px_per_mm();
    let (mut n, mut sum, mut sq) = (0f64, 0f64, 0f64);
    let mut v = y + 0.2 * h;
    while v < y + 0.8 * h {
        let mut u = x + 0.25 * w;
        while u < x + 0.75 * w {
            let (px, py) = frame.at(u, v);
            if px >= 0.0 && py >= 0.0 && (px as usize) < p.width && (py as usize) < p.height {
                let value = p.data[py as usize * p.width + px as usize] as f64;
                n += 1.0;
                sum += value;
                sq += value * value;
            }
            u += step;
        }
        v += step;
    }
    let mean = if n > 0.0 { sum / n } else { 0.0 };
    let var = if n > 0.0 { sq / n - mean * mean } else { 0.0 };
    GreyStep {
        step: i as u32 + 1,
        ink_percent: 100 - 10 * i as u32,
        level: mean as f32,
        noise: var.max(0.0).sqrt() as f32,
    }
}

/// The profile across a group's bars: at quarter-pixel steps across the
/// middle 80% of the group, the mean along the middle 80% of the bars.
fn profile(p: Plane<'_>, frame: &Frame, (x, y, w, h): RectMm, bars: Bars) -> Vec<f32> {
    let step = 1.0 / frame.px_per_mm();
    let (ex, ey) = frame.axes();
    let (across, along, dir) = match bars {
        Bars::Upright => ((x, w), (y, h), ey),
        Bars::Level => ((y, h), (x, w), ex),
    };
    let along_n = ((0.8 * along.1 / step) as usize).max(1);
    let mut out = Vec::new();
    let mut t = across.0 + 0.1 * across.1;
    while t < across.0 + 0.9 * across.1 {
        let s0 = along.0 + 0.1 * along.1;
        let mut pos = match bars {
            Bars::Upright => frame.at(t, s0),
            Bars::Level => frame.at(s0, t),
        };
        let mut sum = 0.0;
        for _ in 0..along_n {
            sum += sample(p, pos);
            pos = (pos.0 + dir.0 * step, pos.1 + dir.1 * step);
        }
        out.push(sum / along_n as f32);
        t += step / 4.0;
    }
    out
}

/// Measures group `i` with `bars`; `(black, paper)` are the scan's own.
fn line_pairs(
    p: Plane<'_>,
    frame: &Frame,
    i: usize,
    bars: Bars,
    (black, paper): (f32, f32),
    nyquist: f32,
) -> LinePairs {
    let f = LP_PER_MM[i];
    let rect = layout::group_rect(i, bars);
    let prof = profile(p, frame, rect, bars);
    let mut sorted = prof.clone();
    sorted.sort_by(f32::total_cmp);
    let last = sorted.len().saturating_sub(1) as f32;
    let at = |q: f32| sorted.get((q * last) as usize).copied();
    let (lo, hi) = (at(0.05).unwrap_or(0.0), at(0.95).unwrap_or(0.0));
    let modulation = ((hi - lo) / (paper - black).max(1.0)).max(0.0);
    let expected = 0.8 * layout::GROUP_SIDE_MM * f;
    let cycles = cycles(&prof, lo, hi) as f32;
    let counted = (cycles - expected).abs() <= (0.12 * expected).max(1.5);
    LinePairs {
        lp_per_mm: f,
        bars,
        modulation: (modulation * 1000.0).round() / 1000.0,
        resolved: modulation >= MIN_MODULATION && counted && f < nyquist,
    }
}

/// Dark-to-light swings of a profile, with hysteresis at a third and two
/// thirds of its range (so noise on a flat stretch counts nothing).
fn cycles(prof: &[f32], lo: f32, hi: f32) -> usize {
    let (low, high) = (lo + (hi - lo) / 3.0, lo + 2.0 * (hi - lo) / 3.0);
    let mut dark = None;
    let mut n = 0;
    for &v in prof {
        if v <= low {
            dark = Some(true);
        } else if v >= high {
            if dark == Some(true) {
                n += 1;
            }
            dark = Some(false);
        }
    }
    n
}

/// Reads the barcode in its area of the target (the text read, if any).
fn read_barcode(p: Plane<'_>, frame: &Frame) -> Option<String> {
    let (x, y, w, h) = layout::BARCODE_AREA_MM;
    let corners = [
        frame.at(x, y),
        frame.at(x + w, y),
        frame.at(x, y + h),
        frame.at(x + w, y + h),
    ];
    let clamp = |v: f32, max: usize| (v.max(0.0) as usize).min(max);
    let x0 = clamp(
        corners.iter().map(|c| c.0).fold(f32::MAX, f32::min),
        p.width,
    );
    let x1 = clamp(
        corners.iter().map(|c| c.0).fold(f32::MIN, f32::max),
        p.width,
    );
    let y0 = clamp(
        corners.iter().map(|c| c.1).fold(f32::MAX, f32::min),
        p.height,
    );
    let y1 = clamp(
        corners.iter().map(|c| c.1).fold(f32::MIN, f32::max),
        p.height,
    );
    let area = Area {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    };
    let codes = read_fine(p.data, p.width, &area);
    codes
        .iter()
        .find(|c| c.as_str() == layout::CODE)
        .or(codes.first())
        .cloned()
}

/// Decides pass or fail and says why in words.
fn judge(r: &mut TargetReport) {
    resolution_failure(r);
    grey_step_failures(r);
    if r.skew_deg.abs() > MAX_SKEW_DEG {
        r.failures.push(format!(
            "skew {:.1} degrees, more than {MAX_SKEW_DEG}: set the feeder's side guides to the paper (or lay the target straight on the glass) and scan it again",
            r.skew_deg
        ));
    }
    let scale = r.measured_dpi / r.dpi as f32;
    if (scale - 1.0).abs() > MAX_SCALE_ERROR {
        r.failures.push(format!(
            "the target measures {:.0} dpi where the scan says {} dpi: check the scanner's resolution setting, and that the target was printed at actual size",
            r.measured_dpi, r.dpi
        ));
    }
    match (&r.barcode, r.barcode_read) {
        (_, true) => {}
        (None, _) => r.failures.push(
            "the target's barcode did not read: the scan is too blurred or too faint for barcodes (clean the glass, check the brightness), or the barcode is damaged: print a new target".into(),
        ),
        (Some(other), false) => r.failures.push(format!(
            "the target's barcode reads '{}', not {}: this is another version of the target; print a current one with `folio sheets --target`",
            printable(other, 60),
            layout::CODE
        )),
    }
    r.passed = r.failures.is_empty();
}

fn lp(v: Option<f32>) -> String {
    match v {
        Some(f) => format!("{f:.1} lp/mm"),
        None => "nothing (not even 1 lp/mm)".into(),
    }
}

fn resolution_failure(r: &mut TargetReport) {
    let need = r.required_lp_per_mm;
    let (a, d) = (r.finest_across_lp_per_mm, r.finest_down_lp_per_mm);
    let short = |v: Option<f32>| v.is_none_or(|f| f + 1e-3 < need);
    if !short(a) && !short(d) {
        return;
    }
    let reached = if a == d {
        format!("finest resolved {}", lp(a))
    } else {
        format!("finest resolved {} across and {} down", lp(a), lp(d))
    };
    r.failures.push(format!(
        "{reached}; {need:.1} lp/mm needed at {} dpi: the scan is blurred (clean the scanner's glass and rollers, check its focus) or its resolution is lower than it says",
        r.dpi
    ));
}

/// Runs of neighbouring steps that are not told apart, each in words.
fn grey_step_failures(r: &mut TargetReport) {
    let steps = &r.grey_steps;
    let apart = |a: &GreyStep, b: &GreyStep| {
        let delta = b.level - a.level;
        delta >= MIN_STEP_DELTA && delta >= MIN_STEP_DELTA_IN_NOISE * (a.noise + b.noise) / 2.0
    };
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for pair in steps.windows(2) {
        if apart(&pair[0], &pair[1]) {
            continue;
        }
        match runs.last_mut() {
            Some(run) if run.1 == pair[0].step => run.1 = pair[1].step,
            _ => runs.push((pair[0].step, pair[1].step)),
        }
    }
    let last = steps.len() as u32;
    for (from, to) in &runs {
        let why = if *from == 1 {
            "the scan is too dark (its darkest greys turn black): raise the brightness or lower the contrast in the scan profile"
        } else if *to == last {
            "the scan is too light (its lightest greys turn white): lower the brightness or the contrast in the scan profile"
        } else {
            "the scanner's tone curve flattens these greys: reset its gamma and contrast in the scan profile"
        };
        r.failures
            .push(format!("grey steps {from}-{to} run together: {why}"));
    }
    r.steps_separated = runs.is_empty();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::draw::TextPainter;
    use crate::imaging::orient::rotate_right_angles;
    use crate::synth::target::{Faults, scan};

    fn scanned(dpi: u32, faults: Faults) -> crate::pixels::Raster {
        scan(dpi, &faults, &mut TextPainter::new())
    }

    #[test]
    fn a_sharp_scan_passes_the_right_way_up_and_upside_down() {
        let page = scanned(300, Faults::default());
        let r = measure_raster(&page).unwrap();
        assert!(r.passed, "{:?}", r.failures);
        assert_eq!((r.rotation_deg, r.barcode_read), (0, true));
        assert!(
            r.line_pairs
                .iter()
                .filter(|g| g.lp_per_mm <= 4.0)
                .all(|g| g.resolved)
        );
        // Nothing beyond Nyquist (5.9 lp/mm at 300 dpi) counts as resolved.
        assert!(
            r.line_pairs
                .iter()
                .filter(|g| g.lp_per_mm == 6.0)
                .all(|g| !g.resolved)
        );
        let levels: Vec<f32> = r.grey_steps.iter().map(|s| s.level).collect();
        assert!(levels.windows(2).all(|w| w[1] > w[0] + 15.0), "{levels:?}");
        let turned = measure_raster(&rotate_right_angles(&page, 180)).unwrap();
        assert!(turned.passed, "{:?}", turned.failures);
        assert_eq!(turned.rotation_deg, 180);
        assert!(turned.skew_deg.abs() < 0.05);
    }

    #[test]
    fn a_blurred_scan_fails_on_resolution_alone() {
        let faults = Faults {
            blur_sigma_px: 3.0,
            ..Faults::default()
        };
        let r = measure_raster(&scanned(300, faults)).unwrap();
        assert!(!r.passed);
        assert!(r.finest_across_lp_per_mm.unwrap_or(0.0) <= 1.5, "{r:?}");
        assert!(
            r.failures[0].starts_with("finest resolved"),
            "{:?}",
            r.failures
        );
        assert!(r.steps_separated, "{:?}", r.grey_steps);
    }

    #[test]
    fn a_mirrored_scan_and_an_impossible_resolution_are_said_to_be() {
        let mut page = scanned(150, Faults::default());
        let w = page.width as usize;
        page.data.chunks_exact_mut(w).for_each(|row| row.reverse());
        assert_eq!(measure_raster(&page), Err(TargetError::Mirrored));
        let img = image::GrayImage::new(10, 10);
        assert_eq!(measure(&img, 20), Err(TargetError::BadDpi { dpi: 20 }));
        let blank = image::GrayImage::from_pixel(100, 100, image::Luma([200]));
        assert!(matches!(
            measure(&blank, 300),
            Err(TargetError::NotATarget { .. })
        ));
    }

    #[test]
    fn required_resolution_scales_with_the_dpi() {
        assert_eq!(required_lp_per_mm(300), 4.0);
        assert_eq!(required_lp_per_mm(200), 2.5);
        assert_eq!(required_lp_per_mm(600), 6.0);
        assert_eq!(required_lp_per_mm(400), 5.0);
        assert_eq!(required_lp_per_mm(100), 1.0);
        assert_eq!(required_lp_per_mm(50), 1.0);
    }

    #[test]
    fn cycles_count_swings_not_noise_on_them() {
        let noisy = |i: usize| if i.is_multiple_of(2) { 25.0 } else { -25.0 };
        let square: Vec<f32> = (0..200)
            .map(|i| if (i / 10) % 2 == 0 { 20.0 } else { 230.0 } + noisy(i))
            .collect();
        assert_eq!(cycles(&square, 20.0, 230.0), 10);
    }
}
