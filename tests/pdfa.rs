//! Every kind of document PDF Folio writes is PDF/A-1b, by Apache PDFBox
//! Preflight: grey, colour and bilevel pages, one page and 300, and a
//! document long enough (8,200 pages) to need intermediate page tree nodes.
//! The export and upload tests validate the PDFs of real scanned batches.

mod common;

use folio::imaging::encode::encode;
use folio::imaging::pdf::{DocMeta, PdfStream, Word};
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
    write_with_text(dir, name, pages, &[])
}

/// Writes `pages`, page i with `words[i]` (if any) as its text layer.
fn write_with_text(dir: &Path, name: &str, pages: &[&Encoded], words: &[Vec<Word>]) -> PathBuf {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let meta = DocMeta {
        title: &format!("letter {name} — Siân's & <notes>"),
        subject: "Scanned paper health record",
        created: OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap(),
    };
    let mut pdf = PdfStream::start(std::io::BufWriter::new(file), pages.len(), &meta).unwrap();
    for (i, p) in pages.iter().enumerate() {
        pdf.add_page_with_text(p, words.get(i).map_or(&[][..], Vec::as_slice))
            .unwrap();
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

/// Words on a line: `texts` from the left, each its length in 0.1 in
/// units wide, at 200 dpi, on line `line`.
fn line(texts: &[&str], line: u32) -> Vec<Word> {
    let mut x = 150;
    texts
        .iter()
        .map(|t| {
            let w = t.chars().count() as u32 * 20;
            let word = Word {
                text: t.to_string(),
                bbox: [x, 200 + line * 60, w, 40],
            };
            x += w + 25;
            word
        })
        .collect()
}

#[test]
fn a_text_layer_is_searchable_in_reading_order_and_stays_pdfa() {
    let dir = tempfile::tempdir().unwrap();
    let grey = page(PixelKind::Gray, 1700, 2200, 200);
    let bilevel = page(PixelKind::Bilevel, 1700, 2200, 200);
    let first: Vec<Word> = [
        line(&["Discharge", "summary:", "Siân", "O'Connor"], 0),
        line(
            &["Ward", "7", "—", "metformin", "500 mg", "twice", "daily"],
            1,
        ),
        // A control character and a direction override never come out raw.
        line(&["bell\u{7}", "ok\u{202E}"], 2),
    ]
    .concat();
    let second = line(&["Follow-up", "in", "6", "weeks"], 0);
    let one = write_with_text(dir.path(), "text.pdf", &[&grey, &bilevel], &[first, second]);
    // 300 pages of the three kinds, every other with text.
    let colour = page(PixelKind::Color, 850, 1100, 100);
    let pages: Vec<&Encoded> = (0..300)
        .map(|i| [&grey, &colour, &bilevel][i % 3])
        .collect();
    let words: Vec<Vec<Word>> = (0..300)
        .map(|i| {
            if i % 2 == 0 {
                line(&["page", &i.to_string()], 0)
            } else {
                Vec::new()
            }
        })
        .collect();
    let many = write_with_text(dir.path(), "text-300.pdf", &pages, &words);
    common::pdfa::assert_pdfa_1b(&[&one, &many]);
    tool("qpdf", &["--check"], &one);
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&one)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Discharge summary: Siân O'Connor Ward 7 — metformin 500 mg twice daily"),
        "{flat}"
    );
    assert!(flat.contains("Follow-up in 6 weeks"), "{flat}");
    assert!(
        !text.contains('\u{7}') && !text.contains('\u{202E}'),
        "{text:?}"
    );
    let out = Command::new("pdftotext")
        .arg(&many)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("page 0") && text.contains("page 298"),
        "{text}"
    );
    // The layer is invisible: rendering mode 3.
    let bytes = std::fs::read(&one).unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("3 Tr"));
}
