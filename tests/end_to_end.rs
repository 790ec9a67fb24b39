//! Generate a stack, `folio import`, `folio export`, and compare with the truth.

mod common;

use common::*;
use folio::synth::StackSpec;

#[test]
fn duplex_200dpi_noisy_mixed_formats_match_the_truth() {
    let st = Station::new();
    let spec = StackSpec {
        seed: 7,
        records: 5,
        dpi: 200,
        duplex: true,
        noise_sigma: 8.0,
        max_skew_deg: 5.0,
        drift: 30.0,
        target_first: false,
    };
    let stack = st.dir.path().join("stack");
    let truth = write_stack(&spec, &stack, "mixed");
    let report = st.import(&["--duplex", "--dpi", "200", "--label", "e2e"], &[&stack]);
    assert_eq!(report["sides"], truth.sides);
    assert_eq!(report["unreadable"].as_array().unwrap().len(), 0);
    let id = report["batch_id"].as_str().unwrap();
    let (m, dir) = st.export(id);
    assert_eq!(m.batch.label, "e2e");
    assert_eq!(m.batch.station, "test-station");
    assert_eq!(m.batch.operator, "tester");
    assert_matches_truth(&m, &truth);
    assert_pdfs_valid(&m, &dir);
    // The cache is intact and the audit chain verifies.
    let check = st.ok(&["check"]);
    assert!(check.contains("audit chain intact"), "{check}");
    // Every page has the hash of its captured pixels, a thumbnail and a preview.
    let conn = rusqlite::Connection::open(st.data_dir().join("folio.sqlite3")).unwrap();
    let mut stmt = conn
        .prepare("SELECT pixels_sha256, thumb_sha256, preview_sha256, width FROM pages")
        .unwrap();
    let rows: Vec<(String, String, String, u32)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len() as u32, truth.sides);
    for (pixels, thumb, preview, width) in rows {
        assert_eq!(pixels.len(), 64);
        for (sha, max) in [(thumb, 160), (preview, 1000)] {
            let file = st.data_dir().join("images").join(&sha[..2]).join(&sha[2..]);
            let img = image::load_from_memory(&std::fs::read(file).unwrap()).unwrap();
            assert!(img.width() <= max && img.width() >= max / 2 && img.width() < width);
        }
    }
    // `show --json` lists the same tree.
    let tree: serde_json::Value = serde_json::from_str(&st.ok(&["show", id, "--json"])).unwrap();
    assert_eq!(
        tree["records"].as_array().unwrap().len(),
        truth.records.len()
    );
}

#[test]
fn simplex_300dpi_multipage_tiff_typed_as_bilevel_matches_the_truth() {
    let st = Station::new();
    let spec = StackSpec {
        seed: 11,
        records: 3,
        dpi: 300,
        duplex: false,
        noise_sigma: 6.0,
        max_skew_deg: 4.0,
        drift: 20.0,
        target_first: false,
    };
    let stack = st.dir.path().join("stack");
    let truth = write_stack(&spec, &stack, "tiff");
    let report = st.import(&["--typed-as-bilevel"], &[&stack.join("stack.tif")]);
    let id = report["batch_id"].as_str().unwrap();
    let (m, dir) = st.export(id);
    assert_matches_truth(&m, &truth);
    assert_pdfs_valid(&m, &dir);
    // Typed pages are stored as CCITT G4 at the scan's size and resolution.
    let pdf = dir.join(&m.records[0].documents[0].pdf.path);
    let list = std::process::Command::new("pdfimages")
        .arg("-list")
        .arg(&pdf)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(!rows.is_empty(), "{list}");
    for r in rows {
        assert_eq!((r[8], r[3], r[12]), ("ccitt", "2480", "300"), "{list}");
    }
    let batches: serde_json::Value = serde_json::from_str(&st.ok(&["batches", "--json"])).unwrap();
    assert_eq!(batches[0]["id"], id);
    assert_eq!(batches[0]["sides"], truth.sides);
}

#[test]
fn pages_fed_upside_down_or_sideways_are_stored_upright() {
    use folio::imaging::draw::TextPainter;
    use folio::imaging::orient::{rotate_right_angles, upright_rotation};
    use folio::synth::{SideKind, render};
    let st = Station::new();
    let dir = st.dir.path().join("turned");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = StackSpec {
        dpi: 200,
        max_skew_deg: 2.0,
        ..StackSpec::default()
    };
    let mut painter = TextPainter::new();
    let rec = render(
        &SideKind::RecordSheet {
            code: "FOLIO:REC:9434765919".into(),
            words: vec![],
        },
        &spec,
        1,
        &mut painter,
    );
    write_page(&dir.join("0"), &rec, "pgm");
    for (i, turn) in [(1, 180u16), (2, 90), (3, 270)] {
        let page = render(
            &SideKind::Clinical { label: None },
            &spec,
            10 + i,
            &mut painter,
        );
        let fed = rotate_right_angles(&page, turn);
        write_page(&dir.join(i.to_string()), &fed, "pgm");
    }
    let report = st.import(&["--dpi", "200"], &[&dir]);
    let tree = st.json(&["show", report["batch_id"].as_str().unwrap(), "--json"]);
    let pages = tree["records"][0]["documents"][0]["pages"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(pages.len(), 3);
    let mut portrait = 0;
    for p in pages {
        let sha = p["image"]["sha256"].as_str().unwrap();
        let bytes =
            std::fs::read(st.data_dir().join("images").join(&sha[..2]).join(&sha[2..])).unwrap();
        let img = image::load_from_memory(&bytes).unwrap().into_luma8();
        let r = folio::pixels::Raster {
            width: img.width(),
            height: img.height(),
            kind: folio::pixels::PixelKind::Gray,
            dpi: 200,
            data: img.into_raw(),
        };
        portrait += (r.height > r.width) as u32;
        // Never turned the wrong way (a page it is unsure of is left as it came).
        assert!(
            matches!(upright_rotation(&r), None | Some(0)),
            "side {} stored upright",
            p["side"]
        );
    }
    assert!(
        portrait >= 2,
        "{portrait} of 3 turned pages stored in portrait"
    );
}
