//! Printing results for people (plain text) and scripts (`--json`), and writing
//! generated stacks.

use crate::batch::manifest::Manifest;
use crate::imaging::Raster;
use crate::imaging::draw::TextPainter;
use crate::store::{BatchRow, BatchTree};
use crate::synth::{self, StackSpec};
use crate::workers::ImportReport;
use anyhow::{Context, Result, bail};
use std::io::IsTerminal;
use std::path::Path;

/// A progress line on a terminal; hidden for `--json` or when not a terminal.
pub fn progress_bar(json: bool) -> indicatif::ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {pos} sides stored ({per_sec}) {elapsed}",
    ) {
        bar.set_style(style);
    }
    bar
}

pub fn import_report(r: &ImportReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    for u in &r.unreadable {
        eprintln!("warning: side {} ({}): {}", u.side, u.origin, u.message);
    }
    eprintln!(
        "{} sides ({} new), {} records, {} documents, {} removed, {} flags; batch is {}",
        r.sides, r.stored_now, r.records, r.documents, r.removed, r.flags, r.state
    );
    println!("{}", r.batch_id);
    Ok(())
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
            "(no label)"
        } else {
            &b.label
        };
        println!(
            "{}  {:<10} {:<20} {:>5} sides {:>4} records {:>4} flags  {}  {}",
            b.id, b.state, label, b.sides, b.records, b.open_flags, b.created, b.operator
        );
        if let Some(e) = &b.last_error {
            println!("    stopped: {e}");
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
        b.id, b.label, b.state, b.sides, b.station, b.operator
    );
    for r in &t.records {
        let who = match (&r.nhs_number, &r.hospital_number) {
            (Some(n), _) => format!("NHS {n}"),
            (None, Some(h)) => format!("hospital {h}"),
            _ => "no patient".into(),
        };
        println!("  record {who} {}", r.specialty.as_deref().unwrap_or(""));
        for f in &r.flags {
            println!("    ! {}: {}", f.code, f.detail);
        }
        for d in &r.documents {
            println!(
                "    document {} ({} pages)",
                d.doc_type.as_deref().unwrap_or("(default type)"),
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
                    println!("        ! {}: {}", f.code, f.detail);
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
                .map(|b| format!(" [{b}]"))
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
            path.display()
        );
    }
    Ok(())
}

/// Writes a synthetic stack: one file a side (or one multi-page TIFF) under
/// `out/pages`, and the ground truth as `out/truth.json`.
pub fn generate(spec: &StackSpec, out: &Path, format: &str) -> Result<usize> {
    if !["pgm", "png", "jpeg", "tiff", "mixed"].contains(&format) {
        bail!("unknown format '{format}': use pgm, png, jpeg, tiff or mixed");
    }
    let (sides, truth) = synth::plan(spec);
    let pages = out.join("pages");
    std::fs::create_dir_all(&pages)
        .with_context(|| format!("cannot create {}", pages.display()))?;
    std::fs::write(out.join("truth.json"), serde_json::to_vec_pretty(&truth)?)?;
    let out = pages.as_path();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let rasters: Vec<(usize, Raster)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let sides = &sides;
                s.spawn(move || {
                    let mut painter = TextPainter::new();
                    (t..sides.len())
                        .step_by(threads)
                        .map(|i| {
                            (
                                i,
                                synth::render(
                                    &sides[i],
                                    spec,
                                    synth::side_seed(spec, i as u32),
                                    &mut painter,
                                ),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut rasters = rasters;
    rasters.sort_by_key(|(i, _)| *i);
    if format == "tiff" {
        write_tiff(&out.join("stack.tif"), rasters.iter().map(|(_, r)| r))?;
    } else {
        for (i, r) in &rasters {
            let fmt = if format == "mixed" {
                ["png", "jpeg", "pgm", "tiff"][i % 4]
            } else {
                format
            };
            write_side(&out.join(format!("side-{i:04}.{}", ext(fmt))), r, fmt)?;
        }
    }
    Ok(rasters.len())
}

fn ext(fmt: &str) -> &str {
    match fmt {
        "jpeg" => "jpg",
        "tiff" => "tif",
        other => other,
    }
}

fn write_side(path: &Path, r: &Raster, fmt: &str) -> Result<()> {
    match fmt {
        "pgm" => {
            let mut bytes = format!("P5\n{} {}\n255\n", r.width, r.height).into_bytes();
            bytes.extend_from_slice(&r.data);
            std::fs::write(path, bytes)?;
        }
        "png" => {
            image::GrayImage::from_raw(r.width, r.height, r.data.clone())
                .context("page buffer size")?
                .save(path)?;
        }
        "jpeg" => {
            let e = crate::imaging::encode::encode(r, 90)?;
            std::fs::write(path, e.bytes)?;
        }
        _ => write_tiff(path, std::iter::once(r))?,
    }
    Ok(())
}

fn write_tiff<'a>(path: &Path, pages: impl Iterator<Item = &'a Raster>) -> Result<()> {
    use tiff::encoder::{TiffEncoder, colortype::Gray8};
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = TiffEncoder::new(file)?;
    for r in pages {
        let mut img = enc.new_image::<Gray8>(r.width, r.height)?;
        img.resolution(
            tiff::tags::ResolutionUnit::Inch,
            tiff::encoder::Rational { n: r.dpi, d: 1 },
        );
        img.write_data(&r.data)?;
    }
    Ok(())
}
