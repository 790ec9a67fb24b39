//! Bad input gets a clear message naming the file, and loses nothing else.

mod common;
#[path = "common/hostile.rs"]
mod hostile;
#[path = "common/sides.rs"]
mod sides;

use common::*;
use folio::imaging::draw::TextPainter;
use folio::synth::{SideKind, StackSpec, render};

fn page(seed: u64, kind: SideKind) -> folio::pixels::Raster {
    render(
        &kind,
        &StackSpec {
            dpi: 150,
            ..Default::default()
        },
        seed,
        &mut TextPainter::new(),
    )
}

/// A stack folder whose first file (`name`) is a record sheet.
fn stack_with_record_sheet(st: &Station, name: &str) -> std::path::PathBuf {
    let dir = st.dir.path().join("stack");
    std::fs::create_dir_all(&dir).unwrap();
    let rec = SideKind::RecordSheet {
        code: "FOLIO:REC:9434765919".into(),
        words: vec![],
    };
    write_page(&dir.join(name), &page(1, rec), "png");
    dir
}

#[test]
fn corrupt_empty_unsupported_and_bomb_files_are_reported_and_the_rest_kept() {
    let st = Station::new();
    let dir = stack_with_record_sheet(&st, "01");
    write_page(
        &dir.join("02"),
        &page(2, SideKind::Clinical { label: None }),
        "png",
    );
    let good = write_page(
        &dir.join("03"),
        &page(3, SideKind::Clinical { label: None }),
        "png",
    );
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(dir.join("04-truncated.png"), &bytes[..bytes.len() / 3]).unwrap();
    std::fs::write(dir.join("05-empty.png"), b"").unwrap();
    std::fs::write(dir.join("06-notes.txt"), b"this is not a scan").unwrap();
    std::fs::write(
        dir.join("07-bomb.png"),
        hostile::lying_png(100_000, 100_000),
    )
    .unwrap();
    write_page(
        &dir.join("08"),
        &page(8, SideKind::Clinical { label: None }),
        "pgm",
    );
    let out = st.run(&["import", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "exit code says some sides were unreadable"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for (name, words) in [
        ("04-truncated.png", "damaged or truncated"),
        ("05-empty.png", "empty"),
        ("06-notes.txt", "not a supported image format"),
        ("07-bomb.png", "more than a scanned page can be"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not reported:\n{err}"));
        assert!(line.contains(words), "{name}: {line}");
        assert!(
            line.contains("rescan") || line.contains("convert"),
            "says what to do: {line}"
        );
    }
    let batch = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (m, _) = st.export(&batch);
    assert_eq!(m.batch.sides_scanned, 8);
    let rec = &m.records[0];
    let sides: Vec<u32> = rec
        .documents
        .iter()
        .flat_map(|d| d.pages.iter().map(|p| p.side))
        .collect();
    assert_eq!(sides, vec![1, 2, 7], "every good page kept in order");
    let unreadable: Vec<&str> = rec
        .flags
        .iter()
        .filter(|f| f.code == "unreadable_image")
        .map(|f| f.detail.as_str())
        .collect();
    assert_eq!(unreadable.len(), 4, "{:?}", rec.flags);
    assert!(
        unreadable[0].starts_with("side 3 "),
        "flagged where it belongs: {}",
        unreadable[0]
    );
}

#[test]
fn missing_input_is_named_and_no_batch_is_made() {
    let st = Station::new();
    let out = st.run(&["import", "/nonexistent/scans"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/scans") && err.contains("No such file"),
        "{err}"
    );
    let list = st.ok(&["batches", "--json"]);
    assert_eq!(list.trim(), "[]");
}

#[test]
fn full_disk_stops_cleanly_and_resume_finishes_after_space_is_freed() {
    let st = Station::new();
    let stack = st.dir.path().join("stack");
    let spec = StackSpec {
        seed: 5,
        records: 2,
        dpi: 200,
        duplex: true,
        ..Default::default()
    };
    let truth = write_stack(&spec, &stack, "pgm");
    let data = st.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    // Room for the database and a few pages only.
    let fs = Tmpfs::mount(&data, "size=2m");
    let out = st.run(&["import", "--duplex", stack.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "interrupted exit code; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("disk") && err.contains("full") && err.contains("--resume"),
        "{err}"
    );
    let batches: serde_json::Value =
        serde_json::from_str(&st.ok(&["batches", "--json"])).unwrap_or_default();
    let batch = batches[0]["id"]
        .as_str()
        .expect("the batch exists")
        .to_string();
    let kept = batches[0]["sides"].as_u64().unwrap();
    assert!(
        kept > 0 && kept < truth.sides as u64,
        "kept {kept} of {}",
        truth.sides
    );
    fs.remount("size=200m");
    let report = st.import(&["--resume", &batch], &[&stack]);
    assert_eq!(report["sides"], truth.sides);
    let (m, _) = st.export(&batch);
    assert_matches_truth(&m, &truth);
}

/// A scanned page encoded as JPEG, as a network scanner leaves it.
fn jpeg(page: &folio::pixels::Raster) -> Vec<u8> {
    folio::imaging::encode::encode(page, 85).unwrap().bytes
}

/// An uncompressed single-page TIFF, its directory before its strip.
fn raw_tiff(page: &folio::pixels::Raster) -> Vec<u8> {
    hostile::tiff(&[hostile::gray_page(page.width, page.height, &page.luma())])
}

/// Case 5 of issue 12: a JPEG cut off half way decoded to a page with a grey
/// bottom and no flag. Damaged files are kept and flagged `damaged_image`
/// (naming the file) where the decoder could read part of them, or reported
/// unreadable naming the file; every other page is kept either way.
#[test]
fn case_5_truncated_jpeg_is_kept_and_flagged_damaged_image() {
    let st = Station::new();
    let dir = st.dir.path().join("stack");
    std::fs::create_dir_all(&dir).unwrap();
    let clinical = |seed| page(seed, SideKind::Clinical { label: None });
    let rec = SideKind::RecordSheet {
        code: "FOLIO:REC:9434765919".into(),
        words: vec![],
    };
    write_page(&dir.join("00"), &page(1, rec), "png");
    write_page(&dir.join("01"), &clinical(2), "png");
    let j = jpeg(&clinical(3));
    std::fs::write(dir.join("02-half.jpg"), &j[..j.len() / 2]).unwrap();
    write_page(&dir.join("03"), &clinical(4), "pgm");
    let j = jpeg(&clinical(5));
    std::fs::write(dir.join("04-nine-tenths.jpg"), &j[..j.len() * 9 / 10]).unwrap();
    let png = std::fs::read(write_page(&dir.join("05-crc"), &clinical(6), "png")).unwrap();
    let mut flipped = png.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    std::fs::write(dir.join("05-crc.png"), &flipped).unwrap();
    std::fs::write(dir.join("06-cut.png"), &png[..png.len() * 2 / 3]).unwrap();
    let pgm = std::fs::read(write_page(&dir.join("07-cut"), &clinical(7), "pgm")).unwrap();
    std::fs::write(dir.join("07-cut.pgm"), &pgm[..pgm.len() / 2]).unwrap();
    let tif = raw_tiff(&clinical(8));
    // The strip runs past the end of the file.
    std::fs::write(dir.join("08-short-strip.tif"), &tif[..tif.len() * 3 / 4]).unwrap();
    write_page(&dir.join("09"), &clinical(9), "png");

    let out = st.run(&["import", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "some sides were unreadable");
    let err = String::from_utf8_lossy(&out.stderr);
    let batch = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let got = sides::Sides::of(&st.json(&["show", &batch, "--json"]));
    for side in [1, 3, 9] {
        assert_eq!(
            got.pages.get(&side),
            Some(&vec![]),
            "good side {side} kept, unflagged"
        );
    }
    for (side, name) in [(2, "02-half.jpg"), (4, "04-nine-tenths.jpg")] {
        let flags = got
            .pages
            .get(&side)
            .unwrap_or_else(|| panic!("{name} kept"));
        assert!(
            flags
                .iter()
                .any(|(c, d)| c == "damaged_image" && d.contains(name) && d.contains("rescan")),
            "{name} flagged damaged_image naming the file: {flags:?}"
        );
    }
    for (side, name) in [
        (5, "05-crc.png"),
        (6, "06-cut.png"),
        (7, "07-cut.pgm"),
        (8, "08-short-strip.tif"),
    ] {
        let flags = got.side_flags(side);
        assert!(
            flags.iter().any(|(c, _)| *c == "unreadable_image"),
            "{name}: {flags:?}"
        );
        assert!(
            err.lines()
                .any(|l| l.contains(name) && l.contains("rescan")),
            "{name} named in the report:\n{err}"
        );
    }
}

/// Case 8 of issue 12: a 1x5000 or 5000x1 image failed thumbnail creation and
/// its side was lost as unreadable. Any shape the decoder accepts is a page.
#[test]
fn case_8_odd_page_shapes_become_pages_with_thumbnails() {
    let st = Station::new();
    let dir = stack_with_record_sheet(&st, "00");
    let shapes = [(1, 1), (1, 5000), (5000, 1), (2, 2), (3, 6000), (6000, 3)];
    for (i, &(w, h)) in shapes.iter().enumerate() {
        // Dark stripes: content, not a blank sliver.
        let data = (0..w * h)
            .map(|p| [20u8, 90][(p as usize / 2) % 2])
            .collect();
        let img = image::GrayImage::from_raw(w, h, data).unwrap();
        img.save(dir.join(format!("{:02}-{w}x{h}.png", 2 * i + 1)))
            .unwrap();
        write_page(
            &dir.join(format!("{:02}", 2 * i + 2)),
            &page(10 + i as u64, SideKind::Clinical { label: None }),
            "pgm",
        );
    }
    let report = st.import(&[], &[&dir]);
    assert_eq!(report["unreadable"], serde_json::json!([]), "{report}");
    let batch = report["batch_id"].as_str().unwrap();
    let got = sides::Sides::of(&st.json(&["show", batch, "--json"]));
    for (i, (w, h)) in shapes.iter().enumerate() {
        let side = 2 * i as u32 + 1;
        assert!(
            got.pages.contains_key(&side),
            "{w}x{h} kept as a page: {:?}",
            got.flags(side)
        );
        assert!(
            got.pages.contains_key(&(side + 1)),
            "the page after {w}x{h}"
        );
    }
}
