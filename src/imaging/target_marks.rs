//! Finding the target's three registration marks and, from them, the frame
//! that turns the target's millimetres into the scan's pixels.
//!
//! The page is reduced to about 100 dpi and binarised halfway between its
//! ink and its paper; a mark is a black ring whose hole holds a black square
//! of about 3/7 its size, centred in it (a connected-components test that
//! does not care how the page is turned). Each mark's centre is then refined
//! on the full-resolution page as the ink-weighted centroid of a window
//! around it (the mark is symmetric, so blur moves no centroid), and three
//! marks are accepted only in the target's arrangement: a right angle with
//! sides in the ratio of 176 to 263 mm. Pure; any thread.

use super::target::TargetError;
use super::target_layout::{MARK_MODULE_MM, MARKS_MM};
use crate::imaging::analyze::{level, reduce};

/// The resolution marks are searched at.
const SEARCH_DPI: f32 = 100.0;
/// Ink and paper closer than this (grey levels) is a page without marks.
const MIN_CONTRAST: u8 = 40;
/// How far the target's printed scale may be from the resolution given and
/// still be searched: a page printed at 60% or 160% is not the target.
const SCALE_RANGE: (f32, f32) = (0.6, 1.6);
/// Tolerances of the arrangement: the sides' ratio (a scanner whose feed
/// speed differs 2% from its sensor's pitch still passes) and the angle.
const MAX_RATIO_ERROR: f32 = 0.04;
const MAX_COS_ANGLE: f32 = 0.035;
/// At most this many candidate marks are tried together (a page with more
/// ring-like things than that is not the target).
const MAX_CANDIDATES: usize = 40;

/// Where the target lies in the scan: the top-left mark's centre, and the
/// pixel steps of one target millimetre along the target's width and height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    origin: (f32, f32),
    ex: (f32, f32),
    ey: (f32, f32),
}

impl Frame {
    /// The pixel position of the target's point (x, y) millimetres.
    pub fn at(&self, x_mm: f32, y_mm: f32) -> (f32, f32) {
        let (u, v) = (x_mm - MARKS_MM[0].0, y_mm - MARKS_MM[0].1);
        (
            self.origin.0 + u * self.ex.0 + v * self.ey.0,
            self.origin.1 + u * self.ex.1 + v * self.ey.1,
        )
    }

    /// Pixel steps per target millimetre along its width and its height.
    pub fn axes(&self) -> ((f32, f32), (f32, f32)) {
        (self.ex, self.ey)
    }

    /// Pixels per millimetre, the mean of both directions.
    pub fn px_per_mm(&self) -> f32 {
        (self.ex.0.hypot(self.ex.1) + self.ey.0.hypot(self.ey.1)) / 2.0
    }

    /// The angle of the target's top edge, degrees, in the sense of
    /// `deskew::rotate` (positive: turned clockwise on the screen).
    pub fn angle_deg(&self) -> f32 {
        self.ex.1.atan2(self.ex.0).to_degrees()
    }
}

/// A connected run of dark pixels on the reduced page.
#[derive(Debug, Clone, Copy)]
struct Blob {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    count: usize,
    sx: f64,
    sy: f64,
}

impl Blob {
    fn size(&self) -> (f32, f32) {
        (
            (self.x1 - self.x0 + 1) as f32,
            (self.y1 - self.y0 + 1) as f32,
        )
    }
    fn centre(&self) -> (f32, f32) {
        (
            (self.sx / self.count as f64) as f32,
            (self.sy / self.count as f64) as f32,
        )
    }
    fn fill(&self) -> f32 {
        let (w, h) = self.size();
        self.count as f32 / (w * h)
    }
    fn squarish(&self) -> bool {
        let (w, h) = self.size();
        (0.75..=1.33).contains(&(w / h))
    }
}

/// A grey plane, one byte a pixel, row after row.
#[derive(Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
}

/// Finds the marks and returns the frame, or says why this is not the target.
pub fn find_frame(plane: Plane<'_>, dpi: u32) -> Result<Frame, TargetError> {
    let factor = ((dpi as f32 / SEARCH_DPI).round() as usize).max(1);
    let small = reduce(plane.data, plane.width, plane.height, factor);
    let (paper, ink) = (level(&small.data, 0.9), level(&small.data, 0.01));
    if paper.saturating_sub(ink) < MIN_CONTRAST {
        return Err(TargetError::NotATarget {
            why: "the page is blank (no registration marks, nothing printed)".into(),
        });
    }
    let threshold = ((paper as u16 + ink as u16) / 2) as u8;
    let blobs = blobs(&small.data, small.width, small.height, threshold);
    let mm = dpi as f32 / 25.4 / small.factor as f32;
    let f = small.factor as f32;
    let mut marks: Vec<((f32, f32), f32)> = candidates(&blobs, mm)
        .into_iter()
        .map(|(c, size)| ((c.0 * f + f / 2.0, c.1 * f + f / 2.0), size * f))
        .collect();
    marks.truncate(MAX_CANDIDATES);
    let refined: Vec<((f32, f32), f32)> = marks
        .iter()
        .map(|&(c, size)| (refine(plane, c, size, threshold), size))
        .collect();
    arrange(&refined, dpi as f32 / 25.4)
}

/// Labels the dark pixels (below `threshold`) into 4-connected blobs.
fn blobs(data: &[u8], w: usize, h: usize, threshold: u8) -> Vec<Blob> {
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if seen[start] || data[start] >= threshold {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (x, y) = (start % w, start / w);
        let mut b = Blob {
            x0: x,
            y0: y,
            x1: x,
            y1: y,
            count: 0,
            sx: 0.0,
            sy: 0.0,
        };
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            b.x0 = b.x0.min(x);
            b.x1 = b.x1.max(x);
            b.y0 = b.y0.min(y);
            b.y1 = b.y1.max(y);
            b.count += 1;
            b.sx += x as f64;
            b.sy += y as f64;
            let mut visit = |j: usize| {
                if !seen[j] && data[j] < threshold {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        out.push(b);
    }
    out
}

/// Rings with a centred square in their hole: (centre, ring size), on the
/// reduced page whose millimetre is `mm` pixels.
fn candidates(blobs: &[Blob], mm: f32) -> Vec<((f32, f32), f32)> {
    let outer = 7.0 * MARK_MODULE_MM * mm;
    // A square turned up to 45 degrees has a bounding box up to 1.41 times
    // its side; the scale may be off by SCALE_RANGE.
    let (lo, hi) = (outer * SCALE_RANGE.0, outer * SCALE_RANGE.1 * 1.42);
    let rings: Vec<&Blob> = blobs
        .iter()
        .filter(|b| {
            let (w, h) = b.size();
            (lo..=hi).contains(&w)
                && (lo..=hi).contains(&h)
                && b.squarish()
                && (0.2..=0.75).contains(&b.fill())
        })
        .collect();
    let mut out = Vec::new();
    for r in rings {
        let (rw, rh) = r.size();
        let rc = r.centre();
        let inner = blobs.iter().find(|c| {
            let (w, h) = c.size();
            let cc = c.centre();
            c.squarish()
                && c.fill() >= 0.4
                && (0.3..=0.6).contains(&(w / rw))
                && (0.3..=0.6).contains(&(h / rh))
                && (cc.0 - rc.0).hypot(cc.1 - rc.1) <= 0.1 * rw.max(rh)
        });
        if inner.is_some() {
            out.push((rc, rw.max(rh)));
        }
    }
    out
}

/// The ink-weighted centroid of a window around a mark, twice (the second
/// time around the first result), on the full-resolution plane.
fn refine(plane: Plane<'_>, mut c: (f32, f32), size: f32, threshold: u8) -> (f32, f32) {
    let half = size * 0.5 + size / 7.0;
    for _ in 0..2 {
        let x0 = (c.0 - half).max(0.0) as usize;
        let y0 = (c.1 - half).max(0.0) as usize;
        let x1 = ((c.0 + half) as usize).min(plane.width.saturating_sub(1));
        let y1 = ((c.1 + half) as usize).min(plane.height.saturating_sub(1));
        let (mut sw, mut sx, mut sy) = (0f64, 0f64, 0f64);
        for y in y0..=y1 {
            let row = &plane.data[y * plane.width..(y + 1) * plane.width];
            for (x, &v) in row.iter().enumerate().take(x1 + 1).skip(x0) {
                let weight = threshold.saturating_sub(v) as f64;
                sw += weight;
                sx += weight * x as f64;
                sy += weight * y as f64;
            }
        }
        if sw > 0.0 {
            // Pixel centres are at +0.5.
            c = ((sx / sw) as f32 + 0.5, (sy / sw) as f32 + 0.5);
        }
    }
    c
}

/// The best three marks in the target's arrangement, as a frame; `px_mm` is
/// the scan's stated pixels per millimetre.
fn arrange(marks: &[((f32, f32), f32)], px_mm: f32) -> Result<Frame, TargetError> {
    let (w_mm, h_mm) = (MARKS_MM[1].0 - MARKS_MM[0].0, MARKS_MM[2].1 - MARKS_MM[0].1);
    let mut best: Option<(f32, Frame)> = None;
    let mut mirrored = false;
    for (i, &(c, c_size)) in marks.iter().enumerate() {
        for (j, &(a, _)) in marks.iter().enumerate() {
            for (k, &(b, _)) in marks.iter().enumerate() {
                if i == j || i == k || j == k {
                    continue;
                }
                let (va, vb) = ((a.0 - c.0, a.1 - c.1), (b.0 - c.0, b.1 - c.1));
                let (la, lb) = (va.0.hypot(va.1), vb.0.hypot(vb.1));
                let (sa, sb) = (la / w_mm, lb / h_mm);
                let ratio_error = (sa / sb - 1.0).abs();
                let cos = (va.0 * vb.0 + va.1 * vb.1) / (la * lb).max(1e-6);
                let scale = (sa + sb) / 2.0;
                let mark_scale = c_size / (7.0 * MARK_MODULE_MM) / scale;
                if ratio_error > MAX_RATIO_ERROR
                    || cos.abs() > MAX_COS_ANGLE
                    || !(SCALE_RANGE.0..=SCALE_RANGE.1).contains(&(scale / px_mm))
                    || !(0.6..=1.6).contains(&mark_scale)
                {
                    continue;
                }
                if va.0 * vb.1 - va.1 * vb.0 <= 0.0 {
                    mirrored = true;
                    continue;
                }
                let error = ratio_error + cos.abs();
                if best.is_none_or(|(e, _)| error < e) {
                    let frame = Frame {
                        origin: c,
                        ex: (va.0 / w_mm, va.1 / w_mm),
                        ey: (vb.0 / h_mm, vb.1 / h_mm),
                    };
                    best = Some((error, frame));
                }
            }
        }
    }
    match (best, mirrored) {
        (Some((_, frame)), _) => Ok(frame),
        (None, true) => Err(TargetError::Mirrored),
        (None, false) => Err(TargetError::NotATarget {
            why: match marks.len() {
                0 => "none of its three registration marks (the nested black squares in three corners) was found".into(),
                n @ (1 | 2) => format!(
                    "only {n} of its three registration marks were found (a corner may be cut off, folded or covered)"
                ),
                n => format!(
                    "{n} mark-like squares were found, but not three in the target's corners at the scale the resolution gives"
                ),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_at(origin: (f32, f32), deg: f32, px_mm: f32) -> Frame {
        let (s, c) = deg.to_radians().sin_cos();
        Frame {
            origin,
            ex: (c * px_mm, s * px_mm),
            ey: (-s * px_mm, c * px_mm),
        }
    }

    #[test]
    fn three_marks_in_the_arrangement_give_the_frame_and_others_do_not() {
        let truth = frame_at((200.0, 210.0), 1.5, 11.8);
        let at = |(x, y): (f32, f32)| (truth.at(x, y), 7.0 * MARK_MODULE_MM * 11.8);
        let marks: Vec<_> = MARKS_MM.iter().map(|&m| at(m)).collect();
        let f = arrange(&marks, 11.8).unwrap();
        assert!((f.angle_deg() - 1.5).abs() < 1e-3, "{}", f.angle_deg());
        assert!((f.px_per_mm() - 11.8).abs() < 1e-3);
        // Extra squares elsewhere change nothing.
        let mut more = marks.clone();
        more.insert(1, ((900.0, 900.0), marks[0].1));
        assert_eq!(arrange(&more, 11.8).unwrap(), f);
        // Two marks are not enough; a mirrored page is said to be one.
        let two = arrange(&marks[..2], 11.8).unwrap_err().to_string();
        assert!(two.contains("only 2 of its three"), "{two}");
        let mirror: Vec<_> = marks
            .iter()
            .map(|&((x, y), s)| ((3000.0 - x, y), s))
            .collect();
        assert_eq!(arrange(&mirror, 11.8), Err(TargetError::Mirrored));
        // The wrong scale for the resolution stated is not the target.
        assert!(arrange(&marks, 11.8 * 2.0).is_err());
    }
}
