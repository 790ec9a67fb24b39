//! `folio target check IMAGE`: measures a scan of Folio's session test target
//! (printed with `folio sheets --target`) and prints the figures and the
//! verdict; exit 0 when it passes, 1 when it fails or is not the target.
//! Runs on the main thread.

use super::{exit, output};
use crate::config;
use crate::imaging::decode::{FileFormat, TiffPages, decode_single, sniff};
use crate::imaging::target::{TargetReport, layout::Bars, measure_raster};
use crate::pixels::Raster;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct TargetArgs {
    #[command(subcommand)]
    command: TargetCommand,
}

#[derive(Subcommand, Debug)]
enum TargetCommand {
    /// Measure a scan of the test target: resolution reached (line pairs),
    /// grey-step separation, skew and barcode. Exit 0 pass, 1 fail.
    Check {
        /// The scan: PNG, JPEG, TIFF (its first page) or PNM.
        image: PathBuf,
        /// The scan's resolution (default: the file's, else guessed from
        /// an A4 page's width).
        #[arg(long, value_parser = config::cli_values::dpi)]
        dpi: Option<u32>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(a: &TargetArgs) -> Result<u8> {
    match &a.command {
        TargetCommand::Check { image, dpi, json } => check(image, *dpi, *json),
    }
}

fn check(path: &Path, dpi: Option<u32>, json: bool) -> Result<u8> {
    let page = read(path, dpi)?;
    let report = measure_raster(&page)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(path, &report);
    }
    Ok(if report.passed { exit::OK } else { exit::ERROR })
}

/// The scan's first page, at the resolution given or found.
fn read(path: &Path, dpi: Option<u32>) -> Result<Raster> {
    let shown = output::shown_path(path);
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
    let (default_dpi, force) = (dpi.unwrap_or(300), dpi.is_some());
    let page = match sniff(&bytes) {
        Ok(FileFormat::Tiff) => TiffPages::new(std::io::Cursor::new(bytes), default_dpi, force)
            .and_then(|mut pages| {
                pages
                    .next_page()
                    .unwrap_or(Err(crate::imaging::ImagingError::Corrupt(
                        "a TIFF without pages".into(),
                    )))
            }),
        _ => decode_single(&bytes, default_dpi, force),
    };
    page.with_context(|| format!("cannot read the scan {shown}"))
}

fn print_report(path: &Path, r: &TargetReport) {
    let verdict = if r.passed { "PASS" } else { "FAIL" };
    println!("{verdict}: {}", output::shown_path(path));
    println!(
        "  resolution   {} dpi (the marks measure {:.0})",
        r.dpi, r.measured_dpi
    );
    println!(
        "  skew         {:.2} degrees (turned {})",
        r.skew_deg, r.rotation_deg
    );
    let lp = |v: Option<f32>| v.map_or("none".to_string(), |f| format!("{f:.1}"));
    println!(
        "  line pairs   finest resolved {} lp/mm across, {} down; {:.1} needed",
        lp(r.finest_across_lp_per_mm),
        lp(r.finest_down_lp_per_mm),
        r.required_lp_per_mm
    );
    for bars in Bars::BOTH {
        let row: Vec<String> = r
            .line_pairs
            .iter()
            .filter(|g| g.bars == bars)
            .map(|g| {
                let mark = if g.resolved { ' ' } else { '-' };
                format!("{:>4}:{:.2}{mark}", g.lp_per_mm, g.modulation)
            })
            .collect();
        println!("    {:<7}{}", bars.direction(), row.join(" "));
    }
    let levels: Vec<String> = r
        .grey_steps
        .iter()
        .map(|s| format!("{:.0}", s.level))
        .collect();
    println!(
        "  grey steps   {} ({})",
        levels.join(" "),
        if r.steps_separated {
            "each told apart"
        } else {
            "some run together"
        }
    );
    let code = r
        .barcode
        .as_deref()
        .map_or("not read".to_string(), output::shown);
    println!("  barcode      {code}");
    for f in &r.failures {
        println!("  - {f}");
    }
}
