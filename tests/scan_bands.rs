//! Pages arrive as bands of lines while the sheet moves (for the live preview),
//! also with tiny reads and with pages of unknown height.

use folio::config::Config;
use folio::store::{Actor, Store};
use folio::workers::scan::{BandEvent, ScanOptions, scan};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Points libsane at a configuration with the `test` backend alone, once for
/// the whole binary (the folder lives as long as the process).
fn sane_sees_only_the_test_backend() {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dll.conf"), "test\n").unwrap();
        // SAFETY: runs once, before any test of this binary uses libsane or
        // reads the environment (each calls this function first).
        unsafe { std::env::set_var("SANE_CONFIG_DIR", dir.path()) };
        dir
    });
}

fn bands_per_side(options: &[(&str, &str)], device: &str) -> BTreeMap<u32, Vec<BandEvent>> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    let actor = Actor {
        station: "s".into(),
        operator: "o".into(),
        role: None,
    };
    let mut opts = ScanOptions {
        device: device.into(),
        ..ScanOptions::default()
    };
    opts.settings.dpi = Some(100);
    opts.settings.options = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (tx, rx) = crossbeam_channel::unbounded();
    let report = scan(
        &mut store,
        &Config::default(),
        &actor,
        &opts,
        Some(tx),
        |_| {},
    )
    .unwrap();
    let mut by_side: BTreeMap<u32, Vec<BandEvent>> = BTreeMap::new();
    for b in rx.try_iter() {
        by_side.entry(b.side).or_default().push(b);
    }
    assert_eq!(by_side.len() as u32, report.closed.unwrap().sides);
    by_side
}

fn assert_contiguous(by_side: &BTreeMap<u32, Vec<BandEvent>>, min_bands: usize) {
    for (side, bands) in by_side {
        assert!(
            bands.len() >= min_bands,
            "side {side}: {} bands",
            bands.len()
        );
        let mut next = 0;
        for b in bands {
            assert_eq!(b.first_line, next, "side {side}: bands follow each other");
            let row = (b.width * b.channels) as usize;
            assert!(row > 0 && b.data.len() % row == 0);
            next += (b.data.len() / row) as u32;
        }
        if let Some(total) = bands[0].total_lines {
            assert_eq!(next, total, "side {side}: every line delivered");
        }
    }
}

#[test]
fn bands_stream_from_sane_and_the_demo_feeder() {
    sane_sees_only_the_test_backend();
    let tiny = [
        ("source", "Automatic Document Feeder"),
        ("read-limit", "yes"),
        ("read-limit-size", "500"),
        ("test-picture", "Grid"),
    ];
    assert_contiguous(&bands_per_side(&tiny, "test:0"), 3);
    let hand = [
        ("source", "Automatic Document Feeder"),
        ("hand-scanner", "yes"),
        ("read-limit", "yes"),
        ("read-limit-size", "2000"),
    ];
    let by_side = bands_per_side(&hand, "test:0");
    assert!(
        by_side.values().all(|b| b[0].total_lines.is_none()),
        "hand scanners do not know the height"
    );
    assert_contiguous(&by_side, 2);
    assert_contiguous(
        &bands_per_side(&[("records", "1"), ("speed", "0")], "folio:demo"),
        10,
    );
}

/// The bands of each side, joined, at a SANE bit depth.
fn side_rows_at_depth(depth: &str) -> Vec<(u32, u32, Vec<u8>)> {
    let options = [
        ("test-picture", "Grid"),
        ("depth", depth),
        ("read-limit", "yes"),
        ("read-limit-size", "333"),
    ];
    bands_per_side(&options, "test:0")
        .into_values()
        .map(|bands| {
            let (w, ch) = (bands[0].width, bands[0].channels);
            let mut data = Vec::new();
            for b in &bands {
                assert_eq!((b.width, b.channels), (w, ch));
                assert_eq!(
                    b.data.len() % (w * ch) as usize,
                    0,
                    "depth {depth}: whole rows of width x channels bytes"
                );
                data.extend_from_slice(&b.data);
            }
            (w, ch, data)
        })
        .collect()
}

/// The live preview reads a band as rows of `width x channels` 8-bit samples:
/// 1-bit and 16-bit scans (rows of `bytes_per_line` bytes at the scanner) reach
/// it in that form, so their preview is the same grid as an 8-bit scan's.
#[test]
fn bands_of_1_and_16_bit_scans_are_8_bit_rows_like_an_8_bit_scan() {
    sane_sees_only_the_test_backend();
    let eight = side_rows_at_depth("8");
    assert_eq!(eight.len(), 1, "one flatbed page");
    let (w, ch, data) = &eight[0];
    assert_eq!((*w, *ch), (314, 1), "80 mm at 100 dpi, grey");
    assert!(
        data.contains(&0) && data.contains(&255),
        "a black and white grid"
    );
    for depth in ["1", "16"] {
        let other = side_rows_at_depth(depth);
        assert_eq!(other.len(), eight.len(), "depth {depth}");
        for (side, (a, b)) in eight.iter().zip(&other).enumerate() {
            assert_eq!(
                (a.0, a.1, a.2.len()),
                (b.0, b.1, b.2.len()),
                "depth {depth}, side {side}"
            );
            assert!(
                a.2 == b.2,
                "depth {depth}, side {side}: the same grid as at 8 bits"
            );
        }
    }
}
