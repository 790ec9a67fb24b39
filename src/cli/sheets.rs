//! `folio sheets`: control sheets to print and put in front of each folder and
//! document, as a PDF of bilevel A4 pages at 300 dpi.
//!
//! A sheet whose barcode is missing or says something else files the pages
//! behind it under the wrong patient, so every sheet is checked before a byte
//! is written: its text must be printable ASCII (all Code 128 holds; accented
//! letters, other scripts, control characters and empty values are refused,
//! not transliterated), it must fit across the page at a module Folio and
//! handheld scanners read, with the symbology's quiet zones, inside a 10 mm
//! printable margin, it must parse back to the instruction asked, and the drawn
//! page must decode back to exactly that text at 300 and at 200 dpi.

use crate::batch::identifiers::{NhsCheck, PatientId, check_nhs_number};
use crate::batch::printable;
use crate::batch::protocol::{
    Control, SheetCode, document_code, hidden_char, parse_barcode, record_code,
};
use crate::config::Config;
use crate::imaging::Raster;
use crate::imaging::barcode::read_page;
use crate::imaging::draw::{TextPainter, code128_modules, draw_modules};
use crate::imaging::encode::{Encoded, encode, threshold};
use crate::imaging::pdf::PdfStream;
use anyhow::{Context, Result, bail};
use regex::Regex;
use std::path::Path;
use thiserror::Error;

/// The resolution the sheets are drawn at.
const DPI: u32 = 300;
/// The resolutions a printed sheet must read back at (a scan at 200 dpi is
/// the lowest the station takes).
const CHECK_DPI: [u32; 2] = [300, 200];
const PAGE_MM: (f32, f32) = (210.0, 297.0);
/// Printers cannot ink closer to the edge than this.
const MARGIN_MM: f32 = 10.0;
/// Code 128's quiet zone on each side, in modules.
const QUIET_MODULES: usize = 10;
/// Module widths tried, in pixels at 300 dpi, widest first: 0.42 mm (easy to
/// read) and 0.34 mm. Not 0.25 mm: a 200 dpi scan resolves it, but Folio reads
/// a 300 dpi scan's barcodes at 150 dpi, where such bars were measured not to
/// decode (every length tried, 20 to 63 characters).
const MODULE_PX: [u32; 2] = [5, 4];
const BAR_TOP_MM: f32 = 40.0;
const BAR_HEIGHT_MM: f32 = 30.0;
const TEXT_LEFT_MM: f32 = 15.0;

/// Why a sheet was not printed.
#[derive(Debug, Error, PartialEq)]
pub enum SheetError {
    #[error("the {what} is empty: a control sheet needs a value")]
    Empty { what: &'static str },
    #[error(
        "the {what} '{value}' holds the invisible or control character {ch}: retype it without line breaks, tabs or other invisible characters"
    )]
    ControlCharacter {
        what: &'static str,
        value: String,
        ch: String,
    },
    #[error(
        "the {what} '{value}' holds '{ch}', which a control sheet's Code 128 barcode cannot carry: use plain letters A-Z, digits, spaces and ASCII punctuation (for example 'e' for 'é')"
    )]
    NotAscii {
        what: &'static str,
        value: String,
        ch: String,
    },
    #[error(
        "the document type '{value}' holds ':', which the sheet protocol reserves: use '-' or a space instead"
    )]
    ColonInDocumentType { value: String },
    #[error(
        "the barcode '{code}' is too long for a control sheet: {chars} characters, at most {max} fit across the page at a bar width Folio reads at 200 and 300 dpi (0.34 mm), with the margins and quiet zones scanners need; shorten it"
    )]
    TooLong {
        code: String,
        chars: usize,
        max: usize,
    },
    #[error(
        "the barcode '{code}' would read back as '{read}' at {dpi} dpi, not as asked: nothing was printed (please report this)"
    )]
    Unreadable {
        code: String,
        read: String,
        dpi: u32,
    },
    #[error("the barcode '{code}' would be read as another instruction: {why}")]
    Misread { code: String, why: String },
}

/// Text from the command line as it may be shown: invisible characters escaped.
fn shown(s: &str) -> String {
    crate::batch::printable(s, 200)
}

/// Checks one value typed for a sheet: present, printable, ASCII.
fn check_text(what: &'static str, value: &str) -> Result<(), SheetError> {
    if value.trim().is_empty() {
        return Err(SheetError::Empty { what });
    }
    if let Some(c) = value.chars().find(|&c| hidden_char(c)) {
        return Err(SheetError::ControlCharacter {
            what,
            value: shown(value),
            ch: c.escape_default().to_string(),
        });
    }
    if let Some(ch) = value.chars().find(|c| !c.is_ascii()) {
        return Err(SheetError::NotAscii {
            what,
            value: shown(value),
            ch: shown(&ch.to_string()),
        });
    }
    Ok(())
}

/// One sheet to print: its barcode text, what it must read back as, and the
/// words printed under it.
struct Sheet {
    code: String,
    means: Control,
    words: Vec<String>,
}

/// Writes the sheets to `out` atomically; returns how many. Nothing is
/// written unless every sheet checks out.
pub fn print(
    cfg: &Config,
    record: Option<&str>,
    docs: &[String],
    batch: Option<&str>,
    out: &Path,
) -> Result<usize> {
    let pattern = cfg.hospital_pattern()?;
    let sheets = plan(cfg, &pattern, record, docs, batch)?;
    let mut painter = TextPainter::new();
    let pages = sheets
        .iter()
        .map(|s| checked_page(s, &pattern, &mut painter))
        .collect::<Result<Vec<Encoded>, SheetError>>()?;
    write_pdf(&pages, out)?;
    Ok(pages.len())
}

/// The sheets asked for, each checked as text.
fn plan(
    cfg: &Config,
    pattern: &Regex,
    record: Option<&str>,
    docs: &[String],
    batch: Option<&str>,
) -> Result<Vec<Sheet>> {
    let mut sheets = Vec::new();
    if let Some(label) = batch {
        check_text("batch label", label)?;
        let label = label.trim();
        sheets.push(Sheet {
            code: format!("FOLIO:BATCH:{label}"),
            means: Control::Batch {
                label: label.to_string(),
            },
            words: vec![format!("BATCH {label}")],
        });
    }
    if let Some(rec) = record {
        sheets.push(record_sheet(cfg, pattern, rec)?);
    }
    for d in docs {
        check_text("document type", d)?;
        if d.contains(':') {
            return Err(SheetError::ColonInDocumentType { value: shown(d) }.into());
        }
        let d = d.trim();
        sheets.push(Sheet {
            code: document_code(d),
            means: Control::Document {
                doc_type: d.to_string(),
            },
            words: vec![format!("DOCUMENT: {d}")],
        });
    }
    if sheets.is_empty() {
        bail!("nothing to print: give --record, --doc or --batch");
    }
    Ok(sheets)
}

fn record_sheet(cfg: &Config, pattern: &Regex, rec: &str) -> Result<Sheet> {
    check_text("patient record", rec)?;
    let (id, specialty) = match rec.split_once(':') {
        Some((id, sp)) => (id.trim(), Some(sp.trim())),
        None => (rec.trim(), None),
    };
    if let Some(sp) = specialty {
        check_text("specialty (after ':')", sp)?;
    }
    let id = validate_id(cfg, pattern, id)?;
    let mut words = vec![format!("PATIENT RECORD: {}", id.describe())];
    if let Some(sp) = specialty {
        words.push(format!("Specialty: {sp}"));
    }
    Ok(Sheet {
        code: record_code(id.number(), specialty),
        means: Control::Record {
            raw_id: id.number().to_string(),
            patient: Some(id),
            specialty: specialty.map(str::to_string),
        },
        words,
    })
}

/// The widest module (pixels at 300 dpi) at which `modules` fit between the
/// margins with their quiet zones.
fn module_px(modules: usize) -> Option<u32> {
    let printable = ((PAGE_MM.0 - 2.0 * MARGIN_MM) * DPI as f32 / 25.4).floor() as usize;
    MODULE_PX
        .into_iter()
        .find(|&px| (modules + 2 * QUIET_MODULES) * px as usize <= printable)
}

/// Code 128 (set B): 11 modules a character, plus start, check and stop.
fn max_chars() -> usize {
    let printable = ((PAGE_MM.0 - 2.0 * MARGIN_MM) * DPI as f32 / 25.4).floor() as usize;
    let px = MODULE_PX[MODULE_PX.len() - 1] as usize;
    (printable / px - 2 * QUIET_MODULES - 13) / 11 - 2
}

/// Draws a sheet, checks it parses and reads back as asked, and encodes it.
fn checked_page(
    s: &Sheet,
    pattern: &Regex,
    painter: &mut TextPainter,
) -> Result<Encoded, SheetError> {
    if parse_barcode(&s.code, pattern) != SheetCode::Control(s.means.clone()) {
        return Err(SheetError::Misread {
            code: shown(&s.code),
            why: format!("{:?}", parse_barcode(&s.code, pattern)),
        });
    }
    let too_long = || SheetError::TooLong {
        code: shown(&s.code),
        chars: s.code.chars().count(),
        max: max_chars(),
    };
    let modules = code128_modules(&s.code).map_err(|_| too_long())?;
    let px = module_px(modules.len()).ok_or_else(too_long)?;
    let module_mm = px as f32 * 25.4 / DPI as f32;
    for dpi in CHECK_DPI {
        let page = threshold(&draw(s, &modules, module_mm, dpi, painter), 128);
        let read = read_page(&page).codes;
        if read != [s.code.clone()] {
            return Err(SheetError::Unreadable {
                code: shown(&s.code),
                read: shown(&read.join(" + ")),
                dpi,
            });
        }
    }
    let page = threshold(&draw(s, &modules, module_mm, DPI, painter), 128);
    encode(&page, 90).map_err(|e| SheetError::Unreadable {
        code: shown(&s.code),
        read: e.to_string(),
        dpi: DPI,
    })
}

/// An A4 page at `dpi`: the barcode centred near the top, its text and the
/// words under it, everything inside the printable margin.
fn draw(s: &Sheet, modules: &[u8], module_mm: f32, dpi: u32, painter: &mut TextPainter) -> Raster {
    let mm = dpi as f32 / 25.4;
    let pt = dpi as f32 / 72.0;
    let mut page = Raster::filled((PAGE_MM.0 * mm) as u32, (PAGE_MM.1 * mm) as u32, dpi, 255);
    let module = module_mm * mm;
    let width = modules.len() as f32 * module;
    let x = (page.width as f32 - width) / 2.0;
    let (top, height) = ((BAR_TOP_MM * mm) as i64, (BAR_HEIGHT_MM * mm) as i64);
    draw_modules(&mut page, x.round() as i64, top, modules, module, height, 0);
    let max_width = (PAGE_MM.0 - TEXT_LEFT_MM - MARGIN_MM) * mm;
    let mut y = (BAR_TOP_MM + BAR_HEIGHT_MM + 25.0) * mm;
    let mut line = |page: &mut Raster, y: f32, text: &str, size_pt: f32| {
        // Long values are set smaller rather than run off the page.
        let px = size_pt * pt;
        let fit = px * (max_width / painter.width(text, px).max(1.0)).min(1.0);
        painter.draw(page, TEXT_LEFT_MM * mm, y, text, fit, 0);
    };
    line(&mut page, y, &s.code, 14.0);
    for w in &s.words {
        y += 22.0 * pt * 1.3;
        line(&mut page, y, w, 22.0);
    }
    page
}

fn write_pdf(pages: &[Encoded], out: &Path) -> Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut staged = crate::durable::Staged::new(dir)?;
    let mut pdf = PdfStream::start(
        std::io::BufWriter::new(staged.file()),
        pages.len(),
        "Folio control sheets",
    )?;
    for p in pages {
        pdf.add_page(p)?;
    }
    let mut w = pdf.finish(uuid::Uuid::new_v4().as_bytes())?;
    std::io::Write::flush(&mut w)?;
    drop(w);
    staged.commit(out).with_context(|| {
        format!(
            "cannot write {}",
            printable(&out.display().to_string(), 200)
        )
    })?;
    Ok(())
}

fn validate_id(cfg: &Config, pattern: &Regex, id: &str) -> Result<PatientId> {
    match PatientId::classify(id, pattern) {
        Some(p @ PatientId::Nhs { valid: true, .. }) | Some(p @ PatientId::Hospital { .. }) => {
            Ok(p)
        }
        Some(PatientId::Nhs { number, .. }) => {
            debug_assert_eq!(check_nhs_number(&number), NhsCheck::BadCheckDigit);
            bail!(
                "{number} is not a valid NHS number (the check digit is wrong): check the folder's label"
            )
        }
        None => bail!(
            "'{}' is neither an NHS number nor a hospital number of this site (pattern {})",
            shown(id),
            cfg.hospital_number_pattern
        ),
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
        let mm = px as f32 * 25.4 / DPI as f32;
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
    fn text_checks_name_the_problem_and_escape_what_they_show() {
        assert_eq!(check_text("x", " "), Err(SheetError::Empty { what: "x" }));
        let e = check_text("x", "a\u{1b}b").unwrap_err().to_string();
        assert!(e.contains("a\\u{1b}b") && !e.contains('\u{1b}'), "{e}");
        assert!(matches!(
            check_text("x", "pédiatrie"),
            Err(SheetError::NotAscii { ch, .. }) if ch == "é"
        ));
        assert!(check_text("x", "A-Z 0-9 \"quotes\" \\ :;").is_ok());
    }
}
