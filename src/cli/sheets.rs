//! `folio sheets`: control sheets to print and put in front of each folder and
//! document, as a PDF of bilevel A4 pages at 300 dpi.

use crate::batch::identifiers::{NhsCheck, PatientId, check_nhs_number};
use crate::batch::protocol::{document_code, record_code};
use crate::config::Config;
use crate::imaging::Raster;
use crate::imaging::draw::TextPainter;
use crate::imaging::encode::{encode, threshold};
use crate::imaging::pdf::PdfStream;
use crate::synth::render::control_sheet;
use anyhow::{Context, Result, bail};
use std::path::Path;

const DPI: u32 = 300;

/// Writes the sheets to `out` atomically; returns how many.
pub fn print(
    cfg: &Config,
    record: Option<&str>,
    docs: &[String],
    batch: Option<&str>,
    out: &Path,
) -> Result<usize> {
    let mut sheets: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(label) = batch {
        sheets.push((
            format!("FOLIO:BATCH:{label}"),
            vec![format!("BATCH {label}")],
        ));
    }
    if let Some(rec) = record {
        let (id, specialty) = match rec.split_once(':') {
            Some((id, sp)) => (id.trim(), Some(sp.trim())),
            None => (rec.trim(), None),
        };
        let id = validate_id(cfg, id)?;
        let mut words = vec![format!("PATIENT RECORD: {}", id.describe())];
        if let Some(sp) = specialty {
            words.push(format!("Specialty: {sp}"));
        }
        sheets.push((record_code(id.number(), specialty), words));
    }
    for d in docs {
        if d.trim().is_empty() || d.contains(':') {
            bail!("document type '{d}' must be a non-empty word without ':'");
        }
        sheets.push((
            document_code(d.trim()),
            vec![format!("DOCUMENT: {}", d.trim())],
        ));
    }
    if sheets.is_empty() {
        bail!("nothing to print: give --record, --doc or --batch");
    }
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".folio-tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let mut pdf = PdfStream::start(
        std::io::BufWriter::new(tmp.as_file()),
        sheets.len(),
        "Folio control sheets",
    )?;
    let mut painter = TextPainter::new();
    for (code, words) in &sheets {
        let mm = DPI as f32 / 25.4;
        let mut page = Raster::filled((210.0 * mm) as u32, (297.0 * mm) as u32, DPI, 255);
        control_sheet(&mut page, code, words, &mut painter);
        pdf.add_page(&encode(&threshold(&page, 128), 90)?)?;
    }
    let mut w = pdf.finish(uuid::Uuid::new_v4().as_bytes())?;
    std::io::Write::flush(&mut w)?;
    drop(w);
    tmp.as_file().sync_all()?;
    tmp.persist(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(sheets.len())
}

fn validate_id(cfg: &Config, id: &str) -> Result<PatientId> {
    let pattern = cfg.hospital_pattern()?;
    match PatientId::classify(id, &pattern) {
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
            "'{id}' is neither an NHS number nor a hospital number of this site (pattern {})",
            cfg.hospital_number_pattern
        ),
    }
}
