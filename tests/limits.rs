//! Limits of the processing pipeline: a side whose processing panics, numeric
//! settings out of range, and memory held to a budget whatever the page size.

mod common;

use common::*;
use folio::batch::flags::FlagCode;
use folio::config::Config;
use folio::store::{Actor, Store};
use folio::synth::StackSpec;
use folio::workers::{self, ImportOptions};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

fn actor() -> Actor {
    Actor {
        station: "test-station".into(),
        operator: "tester".into(),
    }
}

/// Imports `dir` with `cfg` on a thread; `None` if it has not ended within
/// `limit` (a hang).
fn import_within(
    data: &Path,
    dir: &Path,
    cfg: Config,
    limit: Duration,
) -> Option<Result<workers::ImportReport, String>> {
    let (tx, rx) = mpsc::channel();
    let (data, dir) = (data.to_path_buf(), dir.to_path_buf());
    std::thread::spawn(move || {
        let result = Store::open(&data)
            .map_err(|e| e.to_string())
            .and_then(|mut store| {
                let opts = ImportOptions {
                    paths: vec![dir],
                    ..Default::default()
                };
                workers::import(&mut store, &cfg, &actor(), &opts, |_| {})
                    .map_err(|e| e.to_string())
            });
        let _ = tx.send(result);
    });
    rx.recv_timeout(limit).ok()
}

#[test]
fn case_11_a_panicking_side_is_flagged_and_the_batch_continues() {
    for threads in [2, 3] {
        let st = Station::new();
        let dir = st.dir.path().join("stack");
        let spec = StackSpec {
            records: 3,
            dpi: 100,
            duplex: false,
            ..Default::default()
        };
        let truth = write_stack(&spec, &dir, "pgm");
        // A side in the middle, with sides of the other threads before and after it.
        let bad = truth.sides / 2;
        let cfg = Config {
            threads,
            panic_on_side: Some(bad),
            ..Config::default()
        };
        let report = import_within(&st.data_dir(), &dir, cfg, Duration::from_secs(120))
            .unwrap_or_else(|| panic!("threads = {threads}: the import hung after a panic"))
            .unwrap_or_else(|e| panic!("threads = {threads}: the import failed: {e}"));
        assert_eq!(report.stored_now, truth.sides, "threads = {threads}");
        assert_eq!(report.closed.state, "in_review", "threads = {threads}");
        let store = Store::open(&st.data_dir()).unwrap();
        let tree = store.tree(&report.batch_id).unwrap();
        let pages: Vec<_> = tree
            .records
            .iter()
            .flat_map(|r| &r.documents)
            .flat_map(|d| &d.pages)
            .collect();
        assert_eq!(
            pages.len() + tree.removed.len(),
            truth.sides as usize,
            "threads = {threads}: every side is kept"
        );
        let failed = pages
            .iter()
            .find(|p| p.side == bad)
            .unwrap_or_else(|| panic!("threads = {threads}: side {bad} is not a page"));
        let flag = failed
            .flags
            .iter()
            .find(|f| f.code == FlagCode::ProcessingFailed)
            .unwrap_or_else(|| panic!("threads = {threads}: no processing_failed flag"));
        assert!(
            flag.detail.contains("deliberate failure of side"),
            "the panic message is in the flag: {}",
            flag.detail
        );
        assert!(
            failed.image.is_some(),
            "the raw image of side {bad} is kept"
        );
    }
}
