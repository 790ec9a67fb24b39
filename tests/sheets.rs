//! `folio sheets` prints control sheets that Folio itself reads back: print,
//! rasterise with pdftoppm, import with clinical pages between them.

mod common;

use common::*;
use folio::imaging::draw::TextPainter;
use folio::synth::{SideKind, StackSpec, render};
use std::process::Command;

/// Checks the PDF, rasterises its four sheets at 200 dpi and returns the
/// stack to import: batch sheet, record sheet, results sheet, a page,
/// correspondence sheet, a page.
fn stack_around_printed_sheets(st: &Station, pdf: &std::path::Path) -> Vec<std::path::PathBuf> {
    let q = Command::new("qpdf")
        .arg("--check")
        .arg(pdf)
        .output()
        .unwrap();
    assert!(q.status.success());
    let stack = st.dir.path().join("stack");
    std::fs::create_dir_all(&stack).unwrap();
    let r = Command::new("pdftoppm")
        .args(["-r", "200", "-gray"])
        .arg(pdf)
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
    vec![
        stack.join(&names[0]),
        stack.join(&names[1]),
        stack.join(&names[2]),
        write_page(&stack.join("p1"), &page(1), "png"),
        stack.join(&names[3]),
        write_page(&stack.join("p2"), &page(2), "png"),
    ]
}

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
    common::pdfa::assert_pdfa_1b(&[&pdf]);
    let order = stack_around_printed_sheets(&st, &pdf);
    let paths: Vec<&std::path::Path> = order.iter().map(|p| p.as_path()).collect();
    let report = st.import(&["--dpi", "200"], &paths);
    let (m, _) = st.export(report["batch_id"].as_str().unwrap());
    assert_eq!(m.batch.label, "clinic-42");
    assert_eq!(m.records.len(), 1);
    let rec = &m.records[0];
    assert_eq!(rec.patient.nhs_number.as_deref(), Some("9434765919"));
    assert_eq!(rec.specialty.as_deref(), Some("cardiology"));
    let docs = doc_sides(rec);
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

/// Renders a PDF's pages at 200 dpi (grey) into `dir`; returns them in order.
fn rasterise(pdf: &std::path::Path, dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let r = Command::new("pdftoppm")
        .args(["-r", "200", "-gray"])
        .arg(pdf)
        .arg(dir.join("sheet"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let mut pages: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("sheet")
        })
        .collect();
    pages.sort();
    pages
}

/// The columns of a 200 dpi page holding ink between `top_mm` and `bottom_mm`.
fn ink_columns(page: &std::path::Path, top_mm: f32, bottom_mm: f32) -> (u32, u32, u32) {
    let img = image_gray(page);
    let (w, _) = img.dimensions();
    let px = |mm: f32| (mm * 200.0 / 25.4) as u32;
    let inked: Vec<u32> = (0..w)
        .filter(|&x| (px(top_mm)..px(bottom_mm)).any(|y| img.get_pixel(x, y).0[0] < 128))
        .collect();
    (inked[0], *inked.last().unwrap(), w)
}

fn image_gray(p: &std::path::Path) -> image::GrayImage {
    image::open(p).unwrap().to_luma8()
}

#[test]
fn case_3_every_printed_sheet_reads_back_exactly_as_asked() {
    let st = Station::new();
    let pdf = st.dir.path().join("sheets.pdf");
    // The longest value accepted: 46 characters of barcode in all.
    let long_doc = "d".repeat(46 - "FOLIO:DOC:".len());
    let label = "Ward 7 \"B\" \\ x:y";
    let specialty = "Cardiology: paeds (A&E)";
    st.ok(&[
        "sheets",
        "--batch",
        label,
        "--record",
        &format!("943 476 5919:{specialty}"),
        "--doc",
        "results",
        "--doc",
        &long_doc,
        "--out",
        pdf.to_str().unwrap(),
    ]);
    let sheets = rasterise(&pdf, &st.dir.path().join("stack"));
    assert_eq!(sheets.len(), 4);
    // Long values keep Code 128's quiet zone (10 modules of at least 0.33 mm)
    // inside a 10 mm printable margin.
    let (left, right, width) = ink_columns(&sheets[3], 40.0, 70.0);
    let edge = (13.3 * 200.0 / 25.4) as u32;
    assert!(
        left >= edge && right <= width - edge,
        "bars from {left} to {right} of {width}"
    );
    let spec = StackSpec {
        dpi: 200,
        ..Default::default()
    };
    let page = |seed| {
        let p = render(
            &SideKind::Clinical { label: None },
            &spec,
            seed,
            &mut TextPainter::new(),
        );
        write_page(&st.dir.path().join(format!("p{seed}")), &p, "png")
    };
    let order = [
        sheets[0].clone(),
        sheets[1].clone(),
        sheets[2].clone(),
        page(1),
        sheets[3].clone(),
        page(2),
    ];
    let paths: Vec<&std::path::Path> = order.iter().map(|p| p.as_path()).collect();
    let report = st.import(&["--dpi", "200"], &paths);
    let (m, _) = st.export(report["batch_id"].as_str().unwrap());
    let codes: Vec<Option<&str>> = m.removed.iter().map(|r| r.barcode.as_deref()).collect();
    let long_code = format!("FOLIO:DOC:{long_doc}");
    let rec_code = format!("FOLIO:REC:9434765919:{specialty}");
    let batch_code = format!("FOLIO:BATCH:{label}");
    assert_eq!(
        codes,
        [
            Some(batch_code.as_str()),
            Some(rec_code.as_str()),
            Some("FOLIO:DOC:results"),
            Some(long_code.as_str()),
        ]
    );
    assert_eq!(m.batch.label, label);
    assert_eq!(m.records.len(), 1);
    let rec = &m.records[0];
    assert_eq!(rec.patient.nhs_number.as_deref(), Some("9434765919"));
    assert_eq!(rec.specialty.as_deref(), Some(specialty));
    let docs = doc_sides(rec);
    assert_eq!(
        docs,
        [
            (Some("results"), vec![3]),
            (Some(long_doc.as_str()), vec![5])
        ]
    );
}

#[test]
fn case_3_sheets_that_could_not_read_back_are_refused_before_anything_is_written() {
    let st = Station::new();
    let dir = st.dir.path().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let pdf = dir.join("sheets.pdf");
    let long = "z".repeat(60);
    let cases: Vec<(&str, String, &str)> = vec![
        ("--record", "9434765919:pédiatrie".into(), "'é'"),
        ("--doc", "Łódź letters".into(), "'Ł'"),
        ("--batch", "病房 中".into(), "'病'"),
        ("--doc", "".into(), "empty"),
        ("--batch", "   ".into(), "empty"),
        ("--record", "".into(), "empty"),
        ("--record", "9434765919:".into(), "empty"),
        ("--doc", "lab\tresults".into(), "\\t"),
        ("--batch", "red\u{1b}[31m".into(), "\\u{1b}"),
        ("--record", "9434765919:cardi\nology".into(), "\\n"),
        ("--doc", "right\u{202e}left".into(), "\\u{202e}"),
        ("--doc", long.clone(), "too long"),
        ("--batch", long.clone(), "too long"),
        ("--record", format!("9434765919:{long}"), "too long"),
        ("--doc", "lab:results".into(), "':'"),
    ];
    for (flag, value, why) in &cases {
        let out = st.run(&[
            "sheets",
            "--doc",
            "results",
            flag,
            value,
            "--out",
            pdf.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value:?} was printed");
        assert!(err.contains(why), "{flag} {value:?}: {err}");
        assert!(
            !err.chars().any(|c| c.is_control() && c != '\n') && !err.contains('\u{202e}'),
            "{flag} {value:?}: the message shows the value escaped: {err:?}"
        );
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(
            left.is_empty(),
            "{flag} {value:?}: nothing written, found {left:?}"
        );
    }
}

/// Each document of a record: its type and the sides of its pages.
fn doc_sides(rec: &folio::batch::manifest::ManifestRecord) -> Vec<(Option<&str>, Vec<u32>)> {
    rec.documents
        .iter()
        .map(|d| {
            (
                d.doc_type.as_deref(),
                d.pages.iter().map(|p| p.side).collect(),
            )
        })
        .collect()
}

/// `folio sheets --patch 3 --patch 2 --patch t`: three patch sheets' PDF.
fn print_patch_sheets(st: &Station) -> std::path::PathBuf {
    let pdf = st.dir.path().join("patches.pdf");
    let args = [
        "sheets", "--patch", "3", "--patch", "2", "--patch", "t", "--out",
    ];
    let out = st.ok(&[&args[..], &[pdf.to_str().unwrap()]].concat());
    assert!(out.contains("3 patch sheet(s)"), "{out}");
    pdf
}

/// The printed patch sheets at 150 dpi around clinical pages: patch 3, page,
/// page, patch 2 (fed upside down), page, patch T, page.
fn patch_stack(st: &Station, pdf: &std::path::Path) -> Vec<std::path::PathBuf> {
    let dir = st.dir.path().join("patch-stack");
    std::fs::create_dir_all(&dir).unwrap();
    let r = Command::new("pdftoppm")
        .args(["-r", "150", "-gray"])
        .arg(pdf)
        .arg(dir.join("sheet"))
        .output()
        .unwrap();
    assert!(r.status.success());
    let mut sheets: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    sheets.sort();
    // Patch 2 fed upside down.
    let flipped = dir.join("sheet-2-flipped.png");
    image::open(&sheets[1])
        .unwrap()
        .rotate180()
        .save(&flipped)
        .unwrap();
    let spec = StackSpec {
        dpi: 150,
        ..Default::default()
    };
    let page = |seed| {
        let r = render(
            &SideKind::Clinical { label: None },
            &spec,
            seed,
            &mut TextPainter::new(),
        );
        write_page(&dir.join(format!("p{seed}")), &r, "png")
    };
    // patch 3, page, page, patch 2 (upside down), page, patch T, page.
    let stack = [
        sheets[0].clone(),
        page(1),
        page(2),
        flipped,
        page(3),
        sheets[2].clone(),
        page(4),
    ];
    stack.to_vec()
}

/// Patch sheets printed by `folio sheets --patch`, rasterised at 150 dpi
/// (the lowest a patch is read at), one fed upside down, separate an
/// imported stack as the bureau defaults say, and are listed as removed.
#[test]
fn printed_patch_sheets_separate_an_imported_stack() {
    let st = Station::new();
    let pdf = print_patch_sheets(&st);
    common::pdfa::assert_pdfa_1b(&[&pdf]);
    let stack = patch_stack(&st, &pdf);
    let paths: Vec<&std::path::Path> = stack.iter().map(|p| p.as_path()).collect();
    let report = st.import(&["--dpi", "150"], &paths);
    let (m, _) = st.export(report["batch_id"].as_str().unwrap());
    assert_eq!(m.records.len(), 1, "{m:#?}");
    assert_eq!(
        doc_sides(&m.records[0])
            .iter()
            .map(|(_, s)| s.clone())
            .collect::<Vec<_>>(),
        vec![vec![1, 2], vec![4, 6]]
    );
    // No label on the patch 3 sheet: the record waits for its patient.
    assert!(m.records[0].patient.nhs_number.is_none());
    let removed: Vec<(u32, String)> = m
        .removed
        .iter()
        .map(|r| {
            (
                r.side,
                format!("{} {}", r.reason, r.barcode.as_deref().unwrap_or("")),
            )
        })
        .collect();
    assert_eq!(
        removed,
        vec![
            (0, "patch_sheet patch 3".to_string()),
            (3, "patch_sheet patch 2".to_string()),
            (5, "patch_sheet patch T".to_string()),
        ]
    );
}

/// A profile's own patch meanings: the same printed stack scanned (through
/// a drop folder) with a profile where patch 2 only separates gives one
/// document where the station's meanings give two.
#[test]
fn a_profiles_patch_meanings_apply_to_its_batches() {
    let st = Station::new();
    std::fs::create_dir_all(st.data_dir()).unwrap();
    std::fs::write(
        st.data_dir().join("config.toml"),
        "[profiles.archive]\ndpi = 150\n\n[profiles.archive.patches]\n\"2\" = \"separator\"\n\"3\" = \"new_record\"\n",
    )
    .unwrap();
    let pdf = print_patch_sheets(&st);
    let drop = st.dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    for (i, f) in patch_stack(&st, &pdf).iter().enumerate() {
        let ext = f.extension().unwrap().to_str().unwrap();
        std::fs::copy(f, drop.join(format!("{i:02}.{ext}"))).unwrap();
    }
    let device = format!("folder:{}", drop.display());
    let mut docs = Vec::new();
    for profile in [None, Some("archive")] {
        let mut args = vec!["scan", "--json", "--device", &device, "--dpi", "150"];
        if let Some(p) = profile {
            args.extend(["--profile", p]);
        }
        let r = st.json(&args);
        let (m, _) = st.export(r["batch_id"].as_str().unwrap());
        assert_eq!(m.records.len(), 1, "{m:#?}");
        docs.push(
            doc_sides(&m.records[0])
                .into_iter()
                .map(|(_, s)| s)
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        docs[0],
        vec![vec![1, 2], vec![4, 6]],
        "station: patch 2 starts a document"
    );
    assert_eq!(
        docs[1],
        vec![vec![1, 2, 4, 6]],
        "archive profile: patch 2 only separates"
    );
}

/// `folio barcodes` reads files as the pipeline does: printed control and
/// patch sheets, a label only zxing-cpp reads (faint and blurred), a hostile
/// QR text shown escaped, and a file that is no image (exit 1, the others
/// still listed).
#[test]
fn folio_barcodes_lists_every_mark_with_its_decoder() {
    let st = Station::new();
    let dir = st.dir.path().join("marks");
    std::fs::create_dir_all(&dir).unwrap();
    let pdf = dir.join("s.pdf");
    st.ok(&[
        "sheets",
        "--record",
        "9434765919",
        "--out",
        pdf.to_str().unwrap(),
    ]);
    let patch = dir.join("p.pdf");
    st.ok(&["sheets", "--patch", "4", "--out", patch.to_str().unwrap()]);
    for (p, stem) in [(&pdf, "sheet"), (&patch, "patch")] {
        let r = Command::new("pdftoppm")
            .args(["-r", "200", "-gray", "-png", "-singlefile"])
            .arg(p)
            .arg(dir.join(stem))
            .output()
            .unwrap();
        assert!(r.status.success());
    }
    let mut page = folio::pixels::Raster::filled(1200, 600, 300, 250);
    folio::imaging::draw::draw_qr(&mut page, 100, 100, "\u{1b}[31mRED\u{7}", 6, 0).unwrap();
    let hostile = write_page(&dir.join("hostile"), &page, "png");
    // A small QR on an A4 page at 300 dpi, out of focus: zbar reads
    // nothing, zxing-cpp reads it.
    let mut qr = folio::pixels::Raster::filled(2480, 3508, 300, 250);
    folio::imaging::draw::draw_qr(&mut qr, 300, 300, "FOLIO:REC:9434765919", 3, 0).unwrap();
    let img = image::GrayImage::from_raw(qr.width, qr.height, qr.data.clone()).unwrap();
    let qr = folio::pixels::Raster {
        data: image::imageops::blur(&img, 1.4).into_raw(),
        ..qr
    };
    let blurred = write_page(&dir.join("blurred"), &qr, "png");
    let junk = dir.join("junk.png");
    std::fs::write(&junk, b"not an image").unwrap();
    let files = [
        dir.join("sheet.png"),
        dir.join("patch.png"),
        hostile,
        blurred,
        junk,
    ];
    let mut args = vec!["barcodes", "--json"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let out = st.run(&args);
    assert_eq!(out.status.code(), Some(1), "a page could not be read");
    let pages: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pages = pages.as_array().unwrap();
    assert_eq!(pages.len(), 5);
    let sym = &pages[0]["symbols"][0];
    assert_eq!(sym["text"], "FOLIO:REC:9434765919");
    assert_eq!(sym["symbology"], "code128");
    assert_eq!(sym["decoder"], "zbar");
    assert_eq!(sym["bbox"].as_array().unwrap().len(), 4);
    assert_eq!(pages[1]["patch"]["code"], "4");
    assert_eq!(pages[1]["symbols"], serde_json::json!([]));
    assert_eq!(pages[2]["symbols"][0]["text"], "\u{1b}[31mRED\u{7}");
    assert_eq!(pages[3]["symbols"][0]["text"], "FOLIO:REC:9434765919");
    assert_eq!(pages[3]["symbols"][0]["decoder"], "zxing_cpp");
    assert_eq!(pages[3]["symbols"][0]["symbology"], "qr");
    assert!(
        pages[4]["error"]
            .as_str()
            .unwrap()
            .contains("not a supported image")
    );
    // For people: escaped, never raw.
    args.remove(1);
    let out = st.run(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text}"
    );
    assert!(
        text.contains("by zbar") && text.contains("patch    4"),
        "{text}"
    );
}
