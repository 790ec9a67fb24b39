//! Rendering a planned side into the raster a scanner would deliver: typed text,
//! barcodes, then the scanner's faults (skew, brightness drift, sensor noise, dust).

use super::plan::{Label, SideKind, StackSpec, Symbology};
use super::rng::Rng;
use crate::imaging::draw::{
    TextPainter, code39_modules, code128_modules, draw_modules, draw_qr, fill_rect,
};
use crate::imaging::sheet::{self, Symbol};
use crate::pixels::Raster;

const PAPER: u8 = 236;
const INK: u8 = 30;
const WORDS: &[&str] = &[
    "patient",
    "seen",
    "in",
    "clinic",
    "today",
    "with",
    "her",
    "daughter.",
    "blood",
    "pressure",
    "132/84,",
    "pulse",
    "72",
    "regular.",
    "chest",
    "clear.",
    "plan:",
    "continue",
    "ramipril",
    "5mg",
    "daily",
    "and",
    "review",
    "in",
    "six",
    "weeks.",
    "ECG",
    "shows",
    "sinus",
    "rhythm.",
    "referred",
    "for",
    "echocardiogram.",
    "discussed",
    "diet",
    "and",
    "exercise.",
    "no",
    "known",
    "drug",
    "allergies.",
    "letter",
    "copied",
    "to",
    "GP.",
    "bloods:",
    "Hb",
    "128",
    "g/L,",
    "creatinine",
    "88",
    "umol/L.",
    "follow-up",
    "arranged",
    "outpatient",
    "department.",
];

/// Renders one side; `seed` makes it reproducible.
pub fn render(kind: &SideKind, spec: &StackSpec, seed: u64, painter: &mut TextPainter) -> Raster {
    render_skewed(kind, spec, seed, painter, None)
}

/// Renders one side at a given skew (degrees), or a random one within the
/// spec's range when `None`.
pub fn render_skewed(
    kind: &SideKind,
    spec: &StackSpec,
    seed: u64,
    painter: &mut TextPainter,
    skew: Option<f32>,
) -> Raster {
    if *kind == SideKind::Target {
        let faults = super::target::Faults {
            skew_deg: skew.unwrap_or(0.0),
            noise_sigma: spec.noise_sigma.min(3.0),
            seed,
            ..Default::default()
        };
        return super::target::scan(spec.dpi, &faults, painter);
    }
    let mut rng = Rng::new(seed);
    let mm = spec.dpi as f32 / 25.4;
    let (w, h) = ((210.0 * mm) as u32, (297.0 * mm) as u32);
    let mut r = Raster::filled(w, h, spec.dpi, PAPER);
    let pt = spec.dpi as f32 / 72.0;
    match kind {
        SideKind::RecordSheet { code, words } | SideKind::DocSheet { code, words } => {
            control_sheet(&mut r, code, words, painter);
        }
        SideKind::ControlBack | SideKind::Blank { bleed: false } | SideKind::Target => {}
        SideKind::Blank { bleed: true } => bleed_through(&mut r, &mut rng, painter, pt),
        SideKind::Clinical { label } => {
            let top = if let Some(l) = label {
                draw_label(&mut r, l, mm, painter)
            } else {
                20.0 * mm
            };
            let lines = 18 + rng.below(16);
            text_block(&mut r, &mut rng, painter, top + 12.0 * mm, lines, pt, INK);
        }
        SideKind::NearBlank { lines } => {
            let top = rng.range(40.0, 200.0) * mm;
            text_block(&mut r, &mut rng, painter, top, *lines, pt, INK);
        }
    }
    let random = rng.range(-spec.max_skew_deg, spec.max_skew_deg);
    let skew = skew.unwrap_or(random);
    let r = if skew.abs() > 0.05 {
        crate::imaging::deskew::rotate(&r, skew, PAPER)
    } else {
        r
    };
    scanner_faults(r, &mut rng, spec)
}

/// Draws a control sheet as `folio sheets` prints it, with a QR code instead
/// of Code 128 for text Code 128 cannot carry or fit (`folio sheets` refuses
/// such text; generated stacks and the demo feeder still draw a code).
pub fn control_sheet(r: &mut Raster, code: &str, words: &[String], painter: &mut TextPainter) {
    let symbol = match Symbol::code128(code) {
        Some(Symbol::Code128 { modules, module_mm }) => Symbol::Code128 {
            modules,
            module_mm: module_mm.max(MIN_MODULE_PX * 25.4 / r.dpi as f32),
        },
        _ => Symbol::Qr,
    };
    sheet::draw(r, code, &symbol, words, painter);
}

/// The narrowest bar drawn, in pixels. Stacks are generated below the 200
/// dpi a scan needs (100 dpi keeps tests fast), where a printed sheet's
/// 0.42 mm bars would be under two pixels wide and blur into each other; a
/// scanner at such a resolution could not read them either.
const MIN_MODULE_PX: f32 = 2.0;

fn draw_label(r: &mut Raster, l: &Label, mm: f32, painter: &mut TextPainter) -> f32 {
    let (x, y) = ((120.0 * mm) as i64, (15.0 * mm) as i64);
    let module = (0.33 * mm).round().max(2.0);
    let height = (12.0 * mm) as i64;
    match l.symbology {
        Symbology::Code128 => {
            if let Ok(m) = code128_modules(&l.text) {
                draw_modules(r, x, y, &m, module, height, INK);
            }
        }
        Symbology::Code39 => {
            if let Ok(m) = code39_modules(&l.text) {
                draw_modules(r, x, y, &m, module, height, INK);
            }
        }
        Symbology::Qr => {
            let _ = draw_qr(r, x, y, &l.text, (0.6 * mm).round().max(2.0) as i64, INK);
        }
    }
    let pt = r.dpi as f32 / 72.0;
    painter.draw(r, x as f32, y as f32 + 30.0 * mm, &l.text, 10.0 * pt, INK);
    40.0 * mm
}

fn text_block(
    r: &mut Raster,
    rng: &mut Rng,
    painter: &mut TextPainter,
    top: f32,
    lines: usize,
    pt: f32,
    ink: u8,
) {
    let size = 11.0 * pt;
    let left = 25.0 * r.dpi as f32 / 25.4;
    let right = r.width as f32 - left;
    let mut y = top;
    for _ in 0..lines {
        if y > r.height as f32 - 20.0 * pt {
            break;
        }
        let mut line = String::new();
        let target = rng.range(0.5, 1.0) * (right - left);
        while painter.width(&line, size) < target {
            let word: &&str = rng.pick(WORDS);
            line.push_str(word);
            line.push(' ');
        }
        painter.draw(r, left, y, line.trim_end(), size, ink);
        y += size * 1.45;
    }
}

/// Faint mirrored text, as the other side's print shows through thin paper.
fn bleed_through(r: &mut Raster, rng: &mut Rng, painter: &mut TextPainter, pt: f32) {
    let lines = 20 + rng.below(10);
    text_block(r, rng, painter, 40.0 * pt * 2.0, lines, pt, PAPER - 28);
    let w = r.width as usize;
    for row in r.data.chunks_mut(w) {
        row.reverse();
    }
}

/// Brightness drift down the page, Gaussian sensor noise and dust specks.
fn scanner_faults(mut r: Raster, rng: &mut Rng, spec: &StackSpec) -> Raster {
    let noise: Vec<i16> = (0..4096)
        .map(|_| (rng.normal() * spec.noise_sigma).round() as i16)
        .collect();
    let drift = rng.range(-spec.drift, spec.drift);
    let (w, h) = (r.width as usize, r.height as usize);
    let mut state = rng.next_u64() | 1;
    for (y, row) in r.data.chunks_mut(w).enumerate() {
        let offset = (drift * (y as f32 / h as f32 - 0.5)) as i16;
        for px in row.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = noise[(state & 4095) as usize];
            *px = (*px as i16 + offset + n).clamp(0, 255) as u8;
        }
    }
    let mm = r.dpi as f32 / 25.4;
    for _ in 0..rng.below(40) + 10 {
        let size = rng.range(0.1, 0.35) * mm;
        let (x, y) = (rng.below(w) as i64, rng.below(h) as i64);
        fill_rect(
            &mut r,
            x,
            y,
            size.ceil() as i64,
            size.ceil() as i64,
            rng.range(20.0, 120.0) as u8,
        );
    }
    r
}

/// Words of typed clinic letters (besides [`WORDS`]): names, drugs, units,
/// dates and punctuation as letters carry them.
const LETTER_WORDS: &[&str] = &[
    "Department",
    "of",
    "Cardiology,",
    "Respiratory",
    "Medicine",
    "outpatient",
    "letter",
    "Dear",
    "Dr",
    "Patel,",
    "Thank",
    "you",
    "for",
    "referring",
    "this",
    "68-year-old",
    "woman",
    "with",
    "breathlessness",
    "on",
    "exertion.",
    "She",
    "reports",
    "orthopnoea",
    "two",
    "pillows",
    "and",
    "ankle",
    "swelling",
    "since",
    "January.",
    "Examination:",
    "BP",
    "148/92",
    "mmHg,",
    "heart",
    "rate",
    "88",
    "bpm,",
    "SpO2",
    "96%",
    "air.",
    "Medication:",
    "bisoprolol",
    "2.5",
    "mg",
    "once",
    "daily,",
    "furosemide",
    "40",
    "atorvastatin",
    "20",
    "at",
    "night.",
    "Investigations:",
    "NT-proBNP",
    "1450",
    "ng/L,",
    "eGFR",
    "62",
    "mL/min,",
    "potassium",
    "4.3",
    "mmol/L.",
    "Impression:",
    "heart",
    "failure",
    "with",
    "reduced",
    "ejection",
    "fraction",
    "(LVEF",
    "35%).",
    "We",
    "will",
    "arrange",
    "an",
    "echocardiogram",
    "and",
    "see",
    "her",
    "again",
    "12",
    "weeks.",
    "Please",
    "increase",
    "the",
    "dose",
    "if",
    "tolerated.",
    "Yours",
    "sincerely,",
    "Consultant",
    "Cardiologist",
];

/// A typed clinic letter (DejaVu Sans at 11 pt on A4, as letters are
/// printed) with the scanner's noise, brightness drift, dust and up to
/// `max_skew_deg` of skew: the page and its words in reading order, for
/// OCR's accuracy test.
pub fn typed_letter(
    spec: &StackSpec,
    seed: u64,
    painter: &mut TextPainter,
) -> (Raster, Vec<String>) {
    let mut rng = Rng::new(seed);
    let mm = spec.dpi as f32 / 25.4;
    let (w, h) = ((210.0 * mm) as u32, (297.0 * mm) as u32);
    let mut r = Raster::filled(w, h, spec.dpi, PAPER);
    let size = 11.0 * spec.dpi as f32 / 72.0;
    let (left, right) = (25.0 * mm, w as f32 - 25.0 * mm);
    let mut words = Vec::new();
    let mut y = 30.0 * mm;
    let lines = 24 + rng.below(6);
    for i in 0..lines {
        let mut line: Vec<&str> = Vec::new();
        let target = if i % 6 == 5 { 0.45 } else { 0.92 } * (right - left);
        loop {
            let word = if rng.below(2) == 0 {
                *rng.pick(LETTER_WORDS)
            } else {
                *rng.pick(WORDS)
            };
            let mut candidate = line.join(" ");
            candidate.push(' ');
            candidate.push_str(word);
            if painter.width(&candidate, size) > target && !line.is_empty() {
                break;
            }
            line.push(word);
        }
        painter.draw(&mut r, left, y, &line.join(" "), size, INK);
        words.extend(line.iter().map(|w| w.to_string()));
        y += size * if i % 6 == 5 { 2.4 } else { 1.45 };
        if y > h as f32 - 25.0 * mm {
            break;
        }
    }
    let skew = rng.range(-spec.max_skew_deg, spec.max_skew_deg);
    let r = if skew.abs() > 0.05 {
        crate::imaging::deskew::rotate(&r, skew, PAPER)
    } else {
        r
    };
    (scanner_faults(r, &mut rng, spec), words)
}
