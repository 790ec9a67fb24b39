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
//!
//! `--target` prints Folio's session test target instead (one grey page at
//! 600 dpi, so that its finest line pairs print as drawn), after checking
//! that the page drawn passes the target check itself.

use crate::batch::identifiers::{NhsCheck, PatientId, check_nhs_number};
use crate::batch::printable;
use crate::batch::protocol::{
    Control, Patch, PatchAction, SheetCode, document_code, hidden_char, parse_barcode, record_code,
};
use crate::config::Config;
use crate::imaging::barcode::read_page;
use crate::imaging::draw::TextPainter;
use crate::imaging::encode::{downscale, encode, threshold};
use crate::imaging::patch;
use crate::imaging::pdf::{DocMeta, PdfStream};
use crate::imaging::sheet::{self, PRINT_DPI, Symbol, max_chars};
use crate::imaging::target::{self, layout};
use crate::pixels::{Encoded, Raster};
use anyhow::{Context, Result, bail};
use regex::Regex;
use std::path::Path;
use thiserror::Error;

/// The resolutions a printed sheet must read back at (a scan at 200 dpi is
/// the lowest the station takes).
const CHECK_DPI: [u32; 2] = [PRINT_DPI, 200];

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
    write_pdf(&pages, out, "Folio control sheets")?;
    Ok(pages.len())
}

/// Where a patch sheet's first bar is, and its bars' side margins, inches.
const PATCH_FROM_TOP_IN: f32 = 0.5;
const PATCH_MARGIN_IN: f32 = 0.75;

/// Writes Kodak patch sheets to `out` atomically, one A4 page each: the
/// patch across the top, and in large letters which patch it is and what it
/// does at this station. Each page is read back at 300 and 200 dpi first.
pub fn print_patches(cfg: &Config, patches: &[Patch], out: &Path) -> Result<usize> {
    let mut painter = TextPainter::new();
    let mut pages = Vec::with_capacity(patches.len());
    for &p in patches {
        let mut page = sheet::blank_page(PRINT_DPI, 255);
        patch::draw(&mut page, p, PATCH_FROM_TOP_IN, PATCH_MARGIN_IN);
        let px = PRINT_DPI as f32;
        let what = match cfg.patches.action(p) {
            PatchAction::NewDocument => "new document",
            PatchAction::NewRecord => "new record: put the patient's label on this sheet",
            PatchAction::Separator => "separator",
        };
        painter.draw(
            &mut page,
            0.75 * px,
            4.5 * px,
            &format!("PATCH {}", p.as_str()),
            1.2 * px,
            0,
        );
        painter.draw(&mut page, 0.75 * px, 6.0 * px, what, 0.28 * px, 0);
        painter.draw(
            &mut page,
            0.75 * px,
            6.6 * px,
            "Feed with the bars first. Folio removes this sheet and lists it.",
            0.2 * px,
            0,
        );
        let page = threshold(&page, 128);
        // As printed, and as a 150 dpi scan of it (the lowest supported).
        for scaled in [page.clone(), downscale(&page, page.width / 2)] {
            let read = patch::detect(&scaled).map(|r| r.patch);
            if read != Some(p) {
                bail!(
                    "patch sheet {} drawn reads back as {read:?} at {} dpi: nothing was printed (please report this)",
                    p.as_str(),
                    scaled.dpi
                );
            }
        }
        pages.push(encode(&page, 90)?);
    }
    write_pdf(&pages, out, "Folio patch sheets")?;
    Ok(pages.len())
}

/// The resolution the test target is printed at: its 6 lp/mm bars are
/// under two pixels a pair at 300 dpi, four at 600.
const TARGET_DPI: u32 = 600;
/// JPEG quality of the target's page: high, so that the grey steps and the
/// finest bars print as drawn.
const TARGET_JPEG_QUALITY: u8 = 92;

/// Writes Folio's session test target to `out` atomically, once the page
/// drawn has passed the target check.
pub fn print_target(out: &Path) -> Result<()> {
    let mut page = layout::blank(TARGET_DPI);
    layout::draw(&mut page, &mut TextPainter::new());
    let report = target::measure_raster(&page)
        .context("the test target drawn could not be measured (please report this)")?;
    if !report.passed {
        bail!(
            "the test target drawn fails its own check ({}): nothing was printed (please report this)",
            report.failures.join("; ")
        );
    }
    let encoded = encode(&page, TARGET_JPEG_QUALITY)?;
    write_pdf(&[encoded], out, "Folio session test target")?;
    Ok(())
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
        bail!(
            "nothing to print: give --record, --doc or --batch (or --target for the test target)"
        );
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
    let symbol = Symbol::code128(&s.code).ok_or_else(|| SheetError::TooLong {
        code: shown(&s.code),
        chars: s.code.chars().count(),
        max: max_chars(),
    })?;
    for dpi in CHECK_DPI {
        let page = threshold(&draw(s, &symbol, dpi, painter), 128);
        let read = read_page(&page).codes;
        if read != [s.code.clone()] {
            return Err(SheetError::Unreadable {
                code: shown(&s.code),
                read: shown(&read.join(" + ")),
                dpi,
            });
        }
    }
    let page = threshold(&draw(s, &symbol, PRINT_DPI, painter), 128);
    encode(&page, 90).map_err(|e| SheetError::Unreadable {
        code: shown(&s.code),
        read: e.to_string(),
        dpi: PRINT_DPI,
    })
}

/// A sheet's page at `dpi`, on white paper.
fn draw(s: &Sheet, symbol: &Symbol, dpi: u32, painter: &mut TextPainter) -> Raster {
    let mut page = sheet::blank_page(dpi, 255);
    sheet::draw(&mut page, &s.code, symbol, &s.words, painter);
    page
}

fn write_pdf(pages: &[Encoded], out: &Path, title: &str) -> Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut staged = crate::durable::Staged::new(dir)?;
    let meta = DocMeta {
        title,
        subject: "Folio control sheets",
        created: time::OffsetDateTime::now_utc(),
    };
    let mut pdf = PdfStream::start(std::io::BufWriter::new(staged.file()), pages.len(), &meta)?;
    for p in pages {
        pdf.add_page(p)?;
    }
    let mut w = pdf.finish(uuid::Uuid::new_v4().as_bytes())?;
    std::io::Write::flush(&mut w)?;
    drop(w);
    // The commit syncs the target's folder, which for a bare file name
    // ("sheets.pdf") is "": it must be named "./sheets.pdf" to be opened.
    let target = match out.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new(".").join(out),
        _ => out.to_path_buf(),
    };
    staged.commit(&target).with_context(|| {
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
