//! Every kind of document PDF Folio writes is PDF/A-1b, by Apache PDFBox
//! Preflight: grey, colour and bilevel pages, one page and 300, and a
//! document long enough (8,200 pages) to need intermediate page tree nodes.
//! The export and upload tests validate the PDFs of real scanned batches.

mod common;

use folio::imaging::encode::encode;
use folio::imaging::pdf::{DocMeta, PdfStream};
use folio::pixels::{Encoded, PixelKind, Raster};
use std::path::{Path, PathBuf};
use std::process::Command;
use time::OffsetDateTime;

/// A page with something on it: a gradient with a dark band (colour: three
/// gradients), or text-like bars for bilevel.
fn page(kind: PixelKind, width: u32, height: u32, dpi: u32) -> Encoded {
    let channels = kind.channels();
    let mut data = Vec::with_capacity((width * height) as usize * channels);
    for y in 0..height {
        for x in 0..width {
            let band = (y / 20) % 5 == 0 && x % 37 < 30;
            for c in 0..channels {
                let v = match kind {
                    PixelKind::Bilevel => {
                        if band {
                            0
                        } else {
                            255
                        }
                    }
                    _ if band => 30,
                    _ => (((x + y * (c as u32 + 1)) * 255) / (width + height * 3)) as u8,
                };
                data.push(v);
            }
        }
    }
    let raster = Raster {
        width,
        height,
        kind,
        dpi,
        data,
    };
    encode(&raster, 85).unwrap()
}

fn write(dir: &Path, name: &str, pages: &[&Encoded]) -> PathBuf {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let meta = DocMeta {
        title: &format!("letter {name} — Siân's & <notes>"),
        subject: "Scanned paper health record",
        created: OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap(),
    };
    let mut pdf = PdfStream::start(std::io::BufWriter::new(file), pages.len(), &meta).unwrap();
    for p in pages {
        pdf.add_page(p).unwrap();
    }
    let mut w = pdf.finish(&[7; 16]).unwrap();
    std::io::Write::flush(&mut w).unwrap();
    path
}

fn tool(cmd: &str, args: &[&str], file: &Path) -> String {
    let out = Command::new(cmd).args(args).arg(file).output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd} {}: {said}", file.display());
    said
}

#[test]
fn every_kind_of_document_pdf_is_pdfa_1b() {
    let dir = tempfile::tempdir().unwrap();
    let grey = page(PixelKind::Gray, 850, 1100, 100);
    let colour = page(PixelKind::Color, 850, 1100, 100);
    let bilevel = page(PixelKind::Bilevel, 2480, 3508, 300);
    let small = page(PixelKind::Bilevel, 16, 16, 72);
    let mixed: Vec<&Encoded> = (0..300)
        .map(|i| [&grey, &colour, &bilevel][i % 3])
        .collect();
    let files = vec![
        write(dir.path(), "grey.pdf", &[&grey]),
        write(dir.path(), "colour.pdf", &[&colour]),
        write(dir.path(), "bilevel.pdf", &[&bilevel]),
        write(dir.path(), "mixed-300.pdf", &mixed),
        write(dir.path(), "long-8200.pdf", &vec![&small; 8200]),
    ];
    common::pdfa::assert_pdfa_1b(&files);
    for (file, pages) in files.iter().zip([1, 1, 1, 300, 8200]) {
        tool("qpdf", &["--check"], file);
        let info = tool("pdfinfo", &[], file);
        assert!(
            info.contains(&format!("Pages:           {pages}\n")),
            "{info}"
        );
        assert!(info.contains("PDF version:     1.4"), "{info}");
        assert!(info.contains("Siân's & <notes>"), "{info}");
        assert!(
            info.contains("Subject:         Scanned paper health record"),
            "{info}"
        );
        let bytes = std::fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("/ObjStm") && !text.contains("/XRef"));
        assert!(text.contains("<pdfaid:part>1</pdfaid:part>"));
        assert!(text.contains("/OutputConditionIdentifier (sRGB IEC61966-2.1)"));
    }
    // The same pages and metadata give the same bytes.
    let again_dir = dir.path().join("again");
    std::fs::create_dir(&again_dir).unwrap();
    let again = write(&again_dir, "mixed-300.pdf", &mixed);
    assert!(std::fs::read(&again).unwrap() == std::fs::read(&files[3]).unwrap());
}

#[test]
fn a_page_count_that_does_not_match_is_an_error_not_a_broken_file() {
    let grey = page(PixelKind::Gray, 40, 40, 72);
    let meta = DocMeta {
        title: "t",
        subject: "s",
        created: OffsetDateTime::UNIX_EPOCH,
    };
    let mut pdf = PdfStream::start(Vec::new(), 2, &meta).unwrap();
    pdf.add_page(&grey).unwrap();
    assert!(pdf.finish(&[0; 16]).is_err());
    let mut pdf = PdfStream::start(Vec::new(), 1, &meta).unwrap();
    pdf.add_page(&grey).unwrap();
    assert!(pdf.add_page(&grey).is_err());
}
