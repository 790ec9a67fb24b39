//! The session test target through the real binary: `folio sheets --target`
//! prints it, `folio target check` measures scans of it. Sharp scans pass
//! (at 200, 300 and 600 dpi, crooked and noisy too), a blurred one fails on
//! resolution, a too-dark one on its grey steps, and pages that are not the
//! target are refused in words.

mod common;

use common::*;
use folio::imaging::draw::TextPainter;
use folio::imaging::target::TargetReport;
use folio::pixels::Raster;
use folio::synth::target::{Faults, scan};
use folio::synth::{SideKind, StackSpec, render};
use std::path::Path;
use std::process::{Command, Output};

fn check(st: &Station, file: &Path, dpi: Option<u32>) -> (Output, Option<TargetReport>) {
    let mut args = vec![
        "target".to_string(),
        "check".into(),
        file.display().to_string(),
        "--json".into(),
    ];
    if let Some(d) = dpi {
        args.extend(["--dpi".into(), d.to_string()]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = st.run(&refs);
    let report = serde_json::from_slice(&out.stdout).ok();
    (out, report)
}

fn scanned(st: &Station, name: &str, dpi: u32, faults: Faults, fmt: &str) -> std::path::PathBuf {
    let page = scan(dpi, &faults, &mut TextPainter::new());
    write_page(&st.dir.path().join(name), &page, fmt)
}

fn assert_passes(st: &Station, file: &Path, dpi: Option<u32>) -> TargetReport {
    let (out, report) = check(st, file, dpi);
    let r = report.unwrap_or_else(|| {
        panic!(
            "no report for {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(r.passed, "{}: {:?}", file.display(), r.failures);
    assert!(r.failures.is_empty());
    assert_eq!(out.status.code(), Some(0));
    r
}

fn assert_fails(st: &Station, file: &Path) -> TargetReport {
    let (out, report) = check(st, file, None);
    assert_eq!(out.status.code(), Some(1), "{}", file.display());
    let r = report.expect("a report on a failing target");
    assert!(!r.passed && !r.failures.is_empty());
    r
}

#[test]
fn sharp_scans_pass_at_200_300_and_600_dpi() {
    let st = Station::new();
    for (dpi, need) in [(200, 2.5), (300, 4.0), (600, 6.0)] {
        let faults = Faults {
            noise_sigma: 3.0,
            seed: dpi as u64,
            ..Faults::default()
        };
        let file = scanned(&st, &format!("sharp-{dpi}"), dpi, faults, "png");
        let r = assert_passes(&st, &file, Some(dpi));
        assert_eq!(r.required_lp_per_mm, need);
        assert!(r.finest_across_lp_per_mm.unwrap() >= need, "{r:?}");
        assert!(r.finest_down_lp_per_mm.unwrap() >= need, "{r:?}");
        assert!((r.measured_dpi - dpi as f32).abs() < dpi as f32 * 0.01);
        assert!(r.skew_deg.abs() < 0.05, "{}", r.skew_deg);
        assert_eq!(r.barcode.as_deref(), Some("FOLIO:TARGET:1"));
        assert!(r.steps_separated);
        assert_eq!(r.grey_steps.len(), 11);
    }
}

#[test]
fn crooked_noisy_scans_pass_and_their_skew_is_measured() {
    let st = Station::new();
    for (skew, noise) in [(1.5f32, 4.0), (-2.0, 6.0)] {
        let faults = Faults {
            skew_deg: skew,
            noise_sigma: noise,
            seed: 3,
            ..Faults::default()
        };
        let file = scanned(&st, &format!("skew{skew}"), 300, faults, "tiff");
        // The TIFF carries its resolution: no --dpi.
        let r = assert_passes(&st, &file, None);
        assert_eq!(r.dpi, 300);
        assert!((r.skew_deg - skew).abs() < 0.1, "{} vs {skew}", r.skew_deg);
    }
}

#[test]
fn a_blurred_scan_fails_on_resolution() {
    let st = Station::new();
    let faults = Faults {
        blur_sigma_px: 3.0,
        noise_sigma: 2.0,
        ..Faults::default()
    };
    let file = scanned(&st, "blurred", 300, faults, "png");
    let r = assert_fails(&st, &file);
    assert!(r.finest_across_lp_per_mm.unwrap_or(0.0) < 4.0, "{r:?}");
    assert!(r.finest_down_lp_per_mm.unwrap_or(0.0) < 4.0, "{r:?}");
    let words = r.failures.join("\n");
    assert!(
        words.contains("finest resolved") && words.contains("4.0 lp/mm needed at 300 dpi"),
        "{words}"
    );
    assert!(!words.contains("grey steps"), "the greys are fine: {words}");
    // The same for people, without --json.
    let out = st.run(&["target", "check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("FAIL") && text.contains("needed at 300 dpi"),
        "{text}"
    );
}

#[test]
fn a_too_dark_scan_fails_on_grey_steps() {
    let st = Station::new();
    let faults = Faults {
        darken: 60,
        noise_sigma: 2.0,
        ..Faults::default()
    };
    let file = scanned(&st, "dark", 300, faults, "png");
    let r = assert_fails(&st, &file);
    assert!(!r.steps_separated);
    let words = r.failures.join("\n");
    assert!(
        words.contains("grey steps 1-3 run together: the scan is too dark"),
        "{words}"
    );
    assert!(!words.contains("lp/mm"), "sharp all the same: {words}");
}

/// A page that is not the target: exit 1, the error in words, no panic.
fn refused(st: &Station, file: &Path, expect: &str) {
    let (out, report) = check(st, file, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(report.is_none());
    assert!(err.contains(expect), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn pages_that_are_not_the_target_are_refused_in_words() {
    let st = Station::new();
    let blank = Raster::filled(2480, 3508, 300, 236);
    let file = write_page(&st.dir.path().join("blank"), &blank, "png");
    refused(&st, &file, "not Folio's test target: the page is blank");

    let spec = StackSpec {
        dpi: 300,
        ..Default::default()
    };
    let words = vec!["PATIENT RECORD".to_string()];
    let sheet = SideKind::RecordSheet {
        code: "FOLIO:REC:9434765919".into(),
        words,
    };
    let page = render(&sheet, &spec, 5, &mut TextPainter::new());
    let file = write_page(&st.dir.path().join("control"), &page, "png");
    refused(&st, &file, "not Folio's test target: none of its three");

    let mut state = 0x1234_5678_u32;
    let noise: Vec<u8> = (0..1200 * 1700)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let garbage = Raster {
        data: noise,
        ..Raster::filled(1200, 1700, 150, 0)
    };
    let file = write_page(&st.dir.path().join("garbage"), &garbage, "png");
    refused(&st, &file, "not Folio's test target");

    let file = st.dir.path().join("not-an-image.png");
    std::fs::write(&file, b"these are not pixels").unwrap();
    refused(&st, &file, "cannot read the scan");
}

#[test]
fn the_printed_target_rasterised_at_300_dpi_passes() {
    let st = Station::new();
    let pdf = st.dir.path().join("target.pdf");
    let out = st.ok(&["sheets", "--target", "--out", pdf.to_str().unwrap()]);
    assert!(out.contains("test target written"), "{out}");
    let q = Command::new("qpdf")
        .arg("--check")
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stdout));
    let stem = st.dir.path().join("page");
    let r = Command::new("pdftoppm")
        .args(["-r", "300", "-gray", "-singlefile"])
        .arg(&pdf)
        .arg(&stem)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // A PGM says no resolution: it is found from the A4 page's width.
    let report = assert_passes(&st, &stem.with_extension("pgm"), None);
    assert_eq!(report.dpi, 300);
    assert!(report.finest_across_lp_per_mm.unwrap() >= 4.0);

    // A bare file name, as the README has it, is written in the current folder.
    let here = st.dir.path().join("here");
    std::fs::create_dir_all(&here).unwrap();
    let out = st
        .cmd()
        .current_dir(&here)
        .args(["sheets", "--target", "--out", "target.pdf"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(here.join("target.pdf").is_file());

    // The control-sheet values are not wanted with --target.
    let both = st.run(&["sheets", "--target", "--batch", "b1", "--out", "x.pdf"]);
    assert_eq!(both.status.code(), Some(2));
}
