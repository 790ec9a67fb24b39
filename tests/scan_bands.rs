//! Pages arrive as bands of lines while the sheet moves (for the live preview),
//! also with tiny reads and with pages of unknown height.

use folio::config::Config;
use folio::store::{Actor, Store};
use folio::workers::scan::{BandEvent, ScanOptions, scan};
use std::collections::BTreeMap;

fn bands_per_side(options: &[(&str, &str)], device: &str) -> BTreeMap<u32, Vec<BandEvent>> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    let actor = Actor {
        station: "s".into(),
        operator: "o".into(),
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
    let sane = tempfile::tempdir().unwrap();
    std::fs::write(sane.path().join("dll.conf"), "test\n").unwrap();
    // SAFETY: set before any thread of this test binary uses the environment.
    unsafe { std::env::set_var("SANE_CONFIG_DIR", sane.path()) };
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
