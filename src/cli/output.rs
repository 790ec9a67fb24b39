//! Printing results for people (plain text) and scripts (`--json`), and writing
//! generated stacks.

use crate::batch::manifest::Manifest;
use crate::store::{BatchRow, BatchTree};
use crate::synth::{self, StackSpec, files};
use crate::workers::{Closed, ImportReport};
use anyhow::{Context, Result, bail};
use std::io::IsTerminal;
use std::path::Path;

/// A progress line on a terminal; hidden for `--json` or when not a terminal.
pub fn progress_bar(json: bool) -> indicatif::ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {pos} sides stored {elapsed} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

pub fn import_report(r: &ImportReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    closed(&r.closed, r.stored_now);
    if let Some(s) = &r.session {
        session_target(s);
    }
    println!("{}", r.batch_id);
    Ok(())
}

/// The manifest a `folio show` argument names, if it names one: a
/// `manifest.json` file, or a folder holding one.
pub fn manifest_path(arg: &str) -> Option<std::path::PathBuf> {
    let p = Path::new(arg);
    if p.is_file() {
        Some(p.to_path_buf())
    } else {
        Some(p.join("manifest.json")).filter(|m| p.is_dir() && m.is_file())
    }
}

/// Reads a manifest of any format this Folio reads.
pub fn read_manifest(arg: &str) -> Result<Manifest> {
    use crate::batch::manifest::READABLE;
    let path = manifest_path(arg).with_context(|| format!("no manifest at {}", shown(arg)))?;
    let shown_at = shown_path(&path);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {shown_at}"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{shown_at} is not JSON"))?;
    let format = value["format"].as_str().unwrap_or_default().to_string();
    if !READABLE.contains(&format.as_str()) {
        bail!(
            "{shown_at} is not a Folio manifest this version reads (format '{}'; it reads {})",
            shown(&format),
            READABLE.join(" and ")
        );
    }
    serde_json::from_value(value).with_context(|| format!("{shown_at} is a damaged {format}"))
}

/// A manifest for people: the batch, then each document with its pages,
/// hash and provenance (version 2); `--json` prints it as read.
pub fn manifest(m: &Manifest, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(m)?);
        return Ok(());
    }
    let b = &m.batch;
    println!(
        "{} of batch {} '{}', station {}, operator {}, {} sides scanned",
        shown(&m.format),
        shown(&b.id),
        shown(&b.label),
        shown(&b.station),
        shown(&b.operator),
        b.sides_scanned
    );
    for r in &m.records {
        let who = match (&r.patient.nhs_number, &r.patient.hospital_number) {
            (Some(n), _) => format!("NHS {}", shown(n)),
            (None, Some(h)) => format!("hospital {}", shown(h)),
            _ => "no patient".into(),
        };
        println!("  record {who}");
        for d in &r.documents {
            println!(
                "    document {} ({}), {} pages, sha256 {}",
                shown(&d.id),
                shown(d.doc_type.as_deref().unwrap_or("untyped")),
                d.pdf.pages,
                shown(&d.pdf.sha256)
            );
            let Some(p) = &d.provenance else { continue };
            println!(
                "      captured {} to {} at {}",
                shown(&p.captured_from),
                shown(&p.captured_to),
                shown(&p.station)
            );
            for s in &p.sessions {
                let target = match &s.target {
                    Some(t) if t.passed => "test target passed",
                    Some(_) => "test target FAILED",
                    None => "no test target",
                };
                println!(
                    "      scanned by {}{} on {} ({}), profile {}: {target}",
                    shown(&s.operator),
                    s.role
                        .as_deref()
                        .map(|r| format!(" ({})", shown(r)))
                        .unwrap_or_default(),
                    shown(&s.device),
                    shown(format!("{} {}", s.vendor, s.model).trim()),
                    shown(&s.profile)
                );
            }
            if let Some(s) = &p.sample {
                println!(
                    "      sample {} {} ({} sides){}",
                    s.draw,
                    shown(&s.result),
                    s.sides,
                    s.by.as_deref()
                        .map(|by| format!(" by {}", shown(by)))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// Scanning sessions, one line each (tab-separated: started, operator with
/// role, device with vendor and model, profile, sides, target verdict and
/// figures); `--json` gives them as stored.
pub fn sessions(rows: &[crate::store::SessionRow], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    for s in rows {
        let who = if s.role.is_empty() {
            shown(&s.operator)
        } else {
            format!("{} ({})", shown(&s.operator), shown(&s.role))
        };
        let target = match &s.target {
            Some(t) if t.passed => format!("target passed: {}", shown_long(&t.summary)),
            Some(t) => format!("target FAILED: {}", shown_long(&t.failures.join("; "))),
            None => "no test target".to_string(),
        };
        let fields = [
            shown(&s.started),
            who,
            format!(
                "{} ({})",
                shown(&s.device),
                shown(format!("{} {}", s.vendor, s.model).trim())
            ),
            shown(&s.profile),
            format!("{} sides", s.sides),
            target,
        ];
        println!("{}", fields.join("\t"));
    }
    Ok(())
}

/// Verified receipts, one line each (tab-separated, text from the store
/// shown escaped), or as JSON exactly as kept.
pub fn receipts(rows: &[crate::store::Receipt], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    let opt = |v: &Option<String>| v.as_deref().map(shown).unwrap_or_else(|| "-".into());
    for r in rows {
        let read = match (&r.read_bytes, &r.read_sha256) {
            (Some(b), Some(h)) => format!("{b}\t{}", shown(h)),
            _ => "-\t-".into(),
        };
        let fields = [
            if r.verified {
                "verified"
            } else {
                "NOT VERIFIED"
            }
            .to_string(),
            shown(&r.document_id),
            format!("{}\t{}", r.sent_bytes, shown(&r.sent_sha256)),
            read,
            shown(&r.location),
            opt(&r.version),
            opt(&r.etag),
            shown(&r.checked_at),
            shown_long(&r.detail),
        ];
        println!("{}", fields.join("\t"));
    }
    Ok(())
}

/// The session test target's result, on stderr: figures when it passed,
/// why when it failed (nothing when none was scanned: the batch's
/// `no_session_target` flag says so where the station asks for one).
pub fn session_target(s: &crate::store::SessionRow) {
    let Some(t) = &s.target else {
        return;
    };
    if t.passed {
        eprintln!("session test target passed: {}", shown_long(&t.summary));
        return;
    }
    eprintln!("session test target FAILED: {}", shown_long(&t.summary));
    for f in &t.failures {
        eprintln!("  - {}", shown_long(f));
    }
}

/// Text from outside (labels, barcodes, file names, messages, operator names,
/// scanner descriptions) made safe for a terminal: see [`crate::batch::printable`].
/// Every human (not `--json`) line that holds such text goes through here.
pub(crate) fn shown(text: &str) -> String {
    crate::batch::printable(text, 200)
}

/// [`shown`] for long text (error chains, audit details): cut later.
pub(crate) fn shown_long(text: &str) -> String {
    crate::batch::printable(text, 4000)
}

/// A path as typed or found (it may hold anything a file name may), shown.
pub(crate) fn shown_path(path: &Path) -> String {
    shown_long(&path.to_string_lossy())
}

/// The audit trail for people: one line per event, its fields separated by
/// tabs (seq, time, station, operator, action, subject, detail). Every field
/// is escaped, and escaping turns tabs and line breaks into `\t` and `\n`, so
/// a label or a barcode can neither start a forged line nor add a field.
/// `--json` prints the events exactly as stored.
pub fn audit(events: &[crate::store::audit::AuditEvent], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(events)?);
        return Ok(());
    }
    for e in events {
        let fields = [
            e.seq.to_string(),
            shown(&e.at),
            shown(&e.station),
            // The role an operator signed in with, beside their id.
            if e.role.is_empty() {
                shown(&e.operator)
            } else {
                format!("{} ({})", shown(&e.operator), shown(&e.role))
            },
            shown(&e.action),
            shown(&e.subject),
            shown_long(&e.detail),
        ];
        println!("{}", fields.join("\t"));
    }
    Ok(())
}

/// The summary of a separated batch, on stderr (stdout carries the id).
pub fn closed(c: &Closed, stored_now: u32) {
    for u in &c.unreadable {
        eprintln!(
            "warning: side {} ({}): {}",
            u.side,
            shown(&u.origin),
            shown(&u.message)
        );
    }
    eprintln!(
        "{} sides ({} new), {} records, {} documents, {} removed, {} flags; batch is {}",
        c.sides, stored_now, c.records, c.documents, c.removed, c.flags, c.state
    );
}

pub fn batches(rows: &[BatchRow], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("No batches yet: import files with `folio import PATH...`.");
    }
    for b in rows {
        let label = if b.label.is_empty() {
            "(no label)".to_string()
        } else {
            shown(&b.label)
        };
        println!(
            "{}  {:<10} {:<20} {:>5} sides {:>4} records {:>4} flags  {}  {}",
            b.id,
            b.state,
            label,
            b.sides,
            b.records,
            b.open_flags,
            b.created,
            shown(&b.operator)
        );
        if let Some(e) = &b.last_error {
            println!("    stopped: {}", shown(e));
        }
    }
    Ok(())
}

pub fn tree(t: &BatchTree, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(t)?);
        return Ok(());
    }
    let b = &t.batch;
    println!(
        "batch {} '{}' ({}), {} sides, station {}, operator {}",
        b.id,
        shown(&b.label),
        b.state,
        b.sides,
        shown(&b.station),
        shown(&b.operator)
    );
    if b.paper_location.is_some() || b.hold_until.is_some() {
        println!(
            "  paper at {}, held until {}",
            shown(b.paper_location.as_deref().unwrap_or("(not recorded)")),
            shown(b.hold_until.as_deref().unwrap_or("(not held yet)"))
        );
    }
    if let Some(counted) = b.expected_sheets {
        println!(
            "  {} sheets scanned, {counted} counted: {}",
            b.sheets_scanned(),
            b.reconciliation().0
        );
    }
    for r in &t.records {
        let who = match (&r.nhs_number, &r.hospital_number) {
            (Some(n), _) => format!("NHS {}", shown(n)),
            (None, Some(h)) => format!("hospital {}", shown(h)),
            _ => "no patient".into(),
        };
        println!(
            "  record {who} {}",
            shown(r.specialty.as_deref().unwrap_or(""))
        );
        for f in &r.flags {
            println!("    ! {}: {}", f.code, shown(&f.detail));
        }
        for d in &r.documents {
            println!(
                "    document {} ({} pages)",
                shown(d.doc_type.as_deref().unwrap_or("(default type)")),
                d.pages.len()
            );
            for p in &d.pages {
                println!(
                    "      side {:>4} sheet {:>4} {}",
                    p.side,
                    p.sheet,
                    p.face.as_str()
                );
                for f in &p.flags {
                    println!("        ! {}: {}", f.code, shown(&f.detail));
                }
            }
        }
    }
    for r in &t.removed {
        println!(
            "  removed side {:>4}: {}{}",
            r.side,
            r.reason.as_str(),
            r.barcode
                .as_deref()
                .map(|b| format!(" [{}]", shown(b)))
                .unwrap_or_default()
        );
    }
    Ok(())
}

pub fn exported(m: &Manifest, path: &Path, json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::json!({ "manifest": path, "documents": m.records.iter().map(|r| r.documents.len()).sum::<usize>() })
        );
    } else {
        let docs: usize = m.records.iter().map(|r| r.documents.len()).sum();
        println!(
            "{} records, {} documents written; manifest at {}",
            m.records.len(),
            docs,
            shown_path(path)
        );
    }
    Ok(())
}

/// Writes a synthetic stack: one file a side (or one multi-page TIFF) under
/// `out/pages`, and the ground truth as `out/truth.json`.
pub fn generate(spec: &StackSpec, out: &Path, format: &str) -> Result<usize> {
    if format != "mixed" && !files::FORMATS.contains(&format) {
        bail!("unknown format '{format}': use pgm, png, jpeg, tiff or mixed");
    }
    let (sides, truth) = synth::plan(spec);
    let pages = out.join("pages");
    std::fs::create_dir_all(&pages)
        .with_context(|| format!("cannot create {}", pages.display()))?;
    std::fs::write(out.join("truth.json"), serde_json::to_vec_pretty(&truth)?)?;
    let rasters = files::render_stack(spec, &sides);
    let err = |e| anyhow::anyhow!("cannot write the stack in {}: {e}", pages.display());
    if format == "tiff" {
        files::write_tiff(&pages.join("stack.tif"), &rasters).map_err(err)?;
    } else {
        for (i, r) in rasters.iter().enumerate() {
            let fmt = if format == "mixed" {
                files::FORMATS[i % 4]
            } else {
                format
            };
            files::write_page(&pages.join(format!("side-{i:04}")), r, fmt).map_err(err)?;
        }
    }
    Ok(rasters.len())
}

pub fn devices(devices: &[crate::capture::DeviceInfo], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(devices)?);
        return Ok(());
    }
    for d in devices {
        // Names, vendors, models and option values come from the scanner's
        // backend: outside text.
        println!(
            "{}  {} {} ({})",
            shown(&d.name),
            shown(&d.vendor),
            shown(&d.model),
            shown(&d.kind)
        );
        let sources: Vec<String> = d
            .sources
            .iter()
            .map(|(n, k)| {
                format!(
                    "{} [{}]",
                    shown(n),
                    k.map(|k| k.as_str()).unwrap_or("not used")
                )
            })
            .collect();
        println!(
            "    sources: {}",
            if sources.is_empty() {
                "-".into()
            } else {
                sources.join(", ")
            }
        );
        println!("    modes: {}", shown_long(&d.modes.join(", ")));
        println!("    resolutions: {}", shown_long(&d.resolutions.join(", ")));
        if let Some((w, h)) = d.max_area_mm {
            println!("    largest area: {w} x {h} mm");
        }
    }
    Ok(())
}

pub fn profiles(
    profiles: &std::collections::BTreeMap<String, crate::config::ScanProfile>,
    json: bool,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(profiles)?);
        return Ok(());
    }
    for (name, p) in profiles {
        println!(
            "{}: device {}, source {}, mode {}, {} dpi, page {}",
            shown(name),
            shown(p.device.as_deref().unwrap_or("(default)")),
            p.source.map(|s| s.as_str()).unwrap_or("(device default)"),
            p.mode
                .map(|m| format!("{m:?}").to_lowercase())
                .unwrap_or("(device default)".into()),
            p.dpi
                .map(|d| d.to_string())
                .unwrap_or("(device default)".into()),
            shown(p.page_size.as_deref().unwrap_or("(device default)"))
        );
    }
    Ok(())
}

pub fn bench(r: &crate::workers::bench::BenchReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    println!(
        "{} sides of {} dpi {} {} in {:.2} s on {} threads: {:.1} sides/s ({:.0} sides/min)",
        r.pages,
        r.dpi,
        r.mode,
        r.page,
        r.seconds,
        r.threads,
        r.sides_per_second,
        r.sides_per_minute
    );
    println!("CPU per side by stage:");
    for s in &r.stages {
        println!("  {:<26} {:>7.1} ms", s.stage, s.ms_per_side);
    }
    println!(
        "stored image: {:.0} KiB a side; peak memory {:.0} MiB (memory budget {} MiB)",
        r.mean_stored_kib, r.peak_rss_mib, r.memory_budget_mib
    );
    for s in &r.keeps_up_with {
        println!("keeps up with: {s}");
    }
    for s in &r.too_slow_for {
        println!("too slow for:  {s}");
    }
    if let Some(o) = &r.ocr {
        println!(
            "OCR beside capture ({} worker{} at idle priority): {} pages read, {:.1} s a page; {} left, about {:.0} s once capture stops",
            o.workers,
            if o.workers == 1 { "" } else { "s" },
            o.pages_read,
            o.seconds_per_page,
            o.backlog,
            o.catch_up_seconds
        );
    }
    Ok(())
}
