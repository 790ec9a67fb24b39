//! `folio sheets` prints control sheets that Folio itself reads back: print,
//! rasterise with pdftoppm, import with clinical pages between them.

mod common;

use common::*;
use folio::imaging::draw::TextPainter;
use folio::synth::{SideKind, StackSpec, render};
use std::process::Command;

#[test]
fn printed_sheets_round_trip_through_pdftoppm_and_import() {
    let st = Station::new();
    let pdf = st.dir.path().join("sheets.pdf");
    let out = st.ok(&[
        "sheets",
        "--batch",
        "clinic-42",
        "--record",
        "9434765919:cardiology",
        "--doc",
        "results",
        "--doc",
        "correspondence",
        "--out",
        pdf.to_str().unwrap(),
    ]);
    assert!(out.contains("4 control sheet(s)"), "{out}");
    let q = Command::new("qpdf")
        .arg("--check")
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(q.status.success());
    let stack = st.dir.path().join("stack");
    std::fs::create_dir_all(&stack).unwrap();
    let r = Command::new("pdftoppm")
        .args(["-r", "200", "-gray"])
        .arg(&pdf)
        .arg(stack.join("a-sheet"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&stack)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    // Order: batch sheet, record sheet, results sheet, a page, correspondence sheet, a page.
    let spec = StackSpec {
        dpi: 200,
        ..Default::default()
    };
    let page = |seed| {
        render(
            &SideKind::Clinical { label: None },
            &spec,
            seed,
            &mut TextPainter::new(),
        )
    };
    let order = [
        stack.join(&names[0]),
        stack.join(&names[1]),
        stack.join(&names[2]),
        write_page(&stack.join("p1"), &page(1), "png"),
        stack.join(&names[3]),
        write_page(&stack.join("p2"), &page(2), "png"),
    ];
    let paths: Vec<&std::path::Path> = order.iter().map(|p| p.as_path()).collect();
    let report = st.import(&["--dpi", "200"], &paths);
    let (m, _) = st.export(report["batch_id"].as_str().unwrap());
    assert_eq!(m.batch.label, "clinic-42");
    assert_eq!(m.records.len(), 1);
    let rec = &m.records[0];
    assert_eq!(rec.patient.nhs_number.as_deref(), Some("9434765919"));
    assert_eq!(rec.specialty.as_deref(), Some("cardiology"));
    let docs: Vec<(Option<&str>, Vec<u32>)> = rec
        .documents
        .iter()
        .map(|d| {
            (
                d.doc_type.as_deref(),
                d.pages.iter().map(|p| p.side).collect(),
            )
        })
        .collect();
    assert_eq!(
        docs,
        vec![
            (Some("results"), vec![3]),
            (Some("correspondence"), vec![5])
        ]
    );
    let removed: Vec<(u32, &str)> = m
        .removed
        .iter()
        .map(|r| (r.side, r.reason.as_str()))
        .collect();
    assert_eq!(
        removed,
        vec![
            (0, "control_sheet"),
            (1, "control_sheet"),
            (2, "control_sheet"),
            (4, "control_sheet")
        ]
    );
    assert_eq!(
        m.removed[1].barcode.as_deref(),
        Some("FOLIO:REC:9434765919:cardiology")
    );
}

#[test]
fn sheets_refuse_invalid_identifiers() {
    let st = Station::new();
    let pdf = st.dir.path().join("bad.pdf");
    let out = st.run(&[
        "sheets",
        "--record",
        "9434765918",
        "--out",
        pdf.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a valid NHS number"), "{err}");
    assert!(!pdf.exists(), "no sheet is printed for a wrong number");
    let out = st.run(&[
        "sheets",
        "--record",
        "hello world",
        "--out",
        pdf.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("neither an NHS number nor a hospital number")
    );
}
