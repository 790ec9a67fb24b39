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

/// Peak resident memory allowed for the import of `case_7`, MiB.
const BOUND_MIB: f64 = 300.0;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn actor() -> Actor {
    Actor {
        station: "test-station".into(),
        operator: "tester".into(),
        role: None,
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
        assert_eq!(
            report.closed.state.as_str(),
            "in_review",
            "threads = {threads}"
        );
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

/// Batches the station holds.
/// (read from the store: the command line refuses to start with a bad config).
fn batch_count(st: &Station) -> usize {
    Store::open(&st.data_dir())
        .unwrap()
        .list_batches()
        .unwrap()
        .len()
}

/// Runs folio and requires a refusal whose message names every one of `words`.
fn refused(st: &Station, cmd: &mut std::process::Command, words: &[&str]) {
    let out = cmd.output().expect("run folio");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{cmd:?} was accepted:\n{err}");
    for w in words {
        assert!(
            err.contains(w),
            "{cmd:?}: the message does not name {w:?}:\n{err}"
        );
    }
    assert_eq!(batch_count(st), 0, "{cmd:?} left a batch behind");
}

/// Out-of-range numbers on the command line and in the environment are
/// refused, naming the option, the value and the limits.
fn refuses_numbers_in_options_and_environment(st: &Station, d: &str) {
    // Command-line options.
    for dpi in ["0", "1", "100000"] {
        refused(
            st,
            st.cmd().args(["import", "--dpi", dpi, d]),
            &["dpi", dpi, "50", "2400"],
        );
        refused(
            st,
            st.cmd()
                .args(["scan", "--device", "folio:demo", "--dpi", dpi]),
            &["dpi", dpi, "50", "2400"],
        );
    }
    refused(
        st,
        st.cmd().args(["import", "--expected-sheets", "0", d]),
        &["expected-sheets", "0", "100000"],
    );
    refused(
        st,
        st.cmd()
            .args(["scan", "--device", "folio:demo", "--page-size", "0x297"]),
        &["page-size", "0x297", "10", "2000"],
    );
    refused(
        st,
        st.cmd().args(["bench", "--pages", "0"]),
        &["pages", "0", "100000"],
    );
    // The environment.
    for v in ["1000000000000", "lots"] {
        refused(
            st,
            st.cmd().env("FOLIO_THREADS", v).args(["import", d]),
            &["FOLIO_THREADS", v, "256"],
        );
    }
}

/// Out-of-range numbers (and bad MHD metadata) in `config`, one at a time,
/// are refused naming the setting and the file.
fn refuses_numbers_in_config_files(st: &Station, d: &str, config: &Path) {
    // The configuration file: every kind of number, a profile's too.
    std::fs::create_dir_all(st.data_dir()).unwrap();
    for (text, words) in [
        (
            "threads = 1000000000000\n",
            &["threads", "1000000000000", "256"][..],
        ),
        ("jpeg_quality = 0\n", &["jpeg_quality", "0", "100"]),
        (
            "[blank]\nmax_ink_fraction = 2.5\n",
            &["blank.max_ink_fraction", "2.5", "1"],
        ),
        (
            "[quality]\nmax_correctable_deg = nan\n",
            &["quality.max_correctable_deg", "NaN", "45"],
        ),
        (
            "[upload]\nmax_attempts = 0\n",
            &["upload.max_attempts", "0", "1000"],
        ),
        (
            "[profiles.tiny]\ndpi = 1\n",
            &["profiles.tiny.dpi", "1", "2400"],
        ),
        // The MHD metadata: an OID, codes, a language, the Binary transport.
        (
            "[upload.mhd]\nsource_oid = \"urn:oid:1.2.3\"\n",
            &["upload.mhd.source_oid", "urn:oid:1.2.3", "not an OID"],
        ),
        (
            "[upload.mhd]\nconfidentiality = \"secret\"\nlanguage = \"en GB\"\n",
            &["upload.mhd.confidentiality", "upload.mhd.language"],
        ),
        (
            "[upload.mhd.document_types]\nletter = { system = \"loinc\", code = \"1\" }\n",
            &["upload.mhd.document_types.letter", "absolute URI"],
        ),
        (
            "[upload.mhd]\nbinaries = \"by_carrier_pigeon\"\n",
            &["binaries", "by_carrier_pigeon", "in_bundle"],
        ),
    ] {
        std::fs::write(config, text).unwrap();
        refused(st, st.cmd().args(["import", d]), words);
        assert!(
            String::from_utf8_lossy(&st.run(&["import", d]).stderr).contains("config.toml"),
            "the message names the file"
        );
    }
}

#[test]
fn case_6_out_of_range_numbers_are_refused_before_a_batch_is_created() {
    let st = Station::new();
    let dir = st.dir.path().join("stack");
    write_stack(
        &StackSpec {
            records: 1,
            dpi: 100,
            duplex: false,
            ..Default::default()
        },
        &dir,
        "pgm",
    );
    let d = dir.to_str().unwrap();
    refuses_numbers_in_options_and_environment(&st, d);
    let config = st.data_dir().join("config.toml");
    refuses_numbers_in_config_files(&st, d, &config);
    // In range, the same station imports.
    std::fs::write(
        &config,
        "threads = 2\njpeg_quality = 80\n[upload.mhd]\nsource_oid = \"1.2.826.0.1.3680043\"\nbinaries = \"separate\"\n",
    )
    .unwrap();
    st.import(&["--dpi", "100"], &[&dir]);
    assert_eq!(batch_count(&st), 1);
}

#[test]
fn case_6_library_callers_are_refused_before_a_batch_is_created() {
    let st = Station::new();
    let mut store = Store::open(&st.data_dir()).unwrap();
    let opts = ImportOptions {
        paths: vec![st.dir.path().to_path_buf()],
        dpi: Some(0),
        ..Default::default()
    };
    let err = workers::import(&mut store, &Config::default(), &actor(), &opts, |_| {})
        .expect_err("dpi 0 refused");
    assert!(err.to_string().contains("dpi = 0"), "{err}");
    let scan = workers::ScanOptions {
        device: "folio:demo".into(),
        settings: folio::capture::ScanSettings {
            dpi: Some(100_000),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = workers::scan(
        &mut store,
        &Config::default(),
        &actor(),
        &scan,
        None,
        |_| {},
    )
    .expect_err("dpi 100000 refused");
    assert!(err.to_string().contains("dpi = 100000"), "{err}");
    assert!(
        store.list_batches().unwrap().is_empty(),
        "no batch was started"
    );
}

/// Runs `cmd` to its end; returns whether it succeeded and its peak resident
/// memory in MiB. The peak is the child's own VmHWM, read while it runs: the
/// rusage of a spawned child also counts this test process's memory, which
/// it shares until its exec.
fn run_measuring_peak(cmd: &mut std::process::Command) -> (bool, f64) {
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run folio");
    let status = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut peak_kib = 0.0f64;
    loop {
        if let Some(hwm) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        }) {
            peak_kib = peak_kib.max(hwm);
        }
        if let Some(exit) = child.try_wait().expect("wait") {
            return (exit.success(), peak_kib / 1024.0);
        }
        assert!(Instant::now() < deadline, "the import did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn case_7_import_of_large_pages_is_held_to_the_memory_budget() {
    // Pages of A4 at 600 dpi (33 MiB decoded each). With four imaging threads
    // and no budget, four were decoded and processed at once: 450 MiB peak
    // here, against 200 MiB one at a time.
    let st = Station::new();
    let dir = st.dir.path().join("large");
    let spec = StackSpec {
        records: 1,
        dpi: 600,
        duplex: false,
        ..Default::default()
    };
    let truth = write_stack(&spec, &dir, "png");
    std::fs::create_dir_all(st.data_dir()).unwrap();
    let config = st.data_dir().join("config.toml");
    // A budget smaller than one page: each is processed alone.
    std::fs::write(&config, "threads = 4\nmemory_budget_mib = 16\n").unwrap();
    let (ok, peak) = run_measuring_peak(
        st.cmd()
            .args(["import", "--json", "--dpi", "600"])
            .arg(&dir),
    );
    assert!(ok, "the import succeeded");
    eprintln!("peak {peak:.0} MiB");
    assert!(
        peak < BOUND_MIB,
        "peak resident memory {peak:.0} MiB is over {BOUND_MIB} MiB"
    );
    let store = Store::open(&st.data_dir()).unwrap();
    let batches = store.list_batches().unwrap();
    assert_eq!(batches.len(), 1);
    let tree = store.tree(&batches[0].id).unwrap();
    let kept: usize = tree
        .records
        .iter()
        .flat_map(|r| &r.documents)
        .map(|d| d.pages.len())
        .sum::<usize>()
        + tree.removed.len();
    assert_eq!(kept, truth.sides as usize, "every page is kept");
}

/// Issue 22, item 1: `folio status` says whether the data folder is on an
/// encrypted disk, and with `require_encrypted_disk` a station whose folder
/// is not refuses to import (or scan) before a batch is made, saying what IT
/// must do; without the policy the same import goes ahead.
#[test]
fn a_station_that_requires_an_encrypted_disk_refuses_to_store_scans_on_a_plain_one() {
    let st = Station::new();
    std::fs::create_dir_all(st.data_dir()).unwrap();
    std::fs::write(
        st.data_dir().join("config.toml"),
        "require_encrypted_disk = true\n",
    )
    .unwrap();
    let status: serde_json::Value = serde_json::from_str(&st.ok(&["status", "--json"])).unwrap();
    let state = status["at_rest"]["state"].as_str().unwrap().to_string();
    assert!(
        ["encrypted", "plain", "memory", "unknown"].contains(&state.as_str()),
        "{status:#}"
    );
    assert_eq!(status["require_encrypted_disk"], true);
    let text = st.ok(&["status"]);
    let stack = st.dir.path().join("stack");
    write_stack(
        &StackSpec {
            records: 1,
            dpi: 150,
            ..StackSpec::default()
        },
        &stack,
        "pgm",
    );
    let mut import = st.cmd();
    import.args(["import", stack.to_str().unwrap()]);
    if state == "encrypted" {
        // A machine on LUKS stores scans as ever.
        assert!(
            text.contains("encrypted at rest (dm-crypt") || text.contains("eCryptfs"),
            "{text}"
        );
        assert!(import.status().unwrap().success());
        return;
    }
    assert!(
        text.contains("scanning is refused here (require_encrypted_disk)"),
        "{text}"
    );
    refused(
        &st,
        &mut import,
        &[
            "must keep patients' scans on an encrypted disk",
            "Nothing was scanned",
            "IT must move the data folder to a disk encrypted with LUKS",
        ],
    );
    std::fs::write(st.data_dir().join("config.toml"), "").unwrap();
    st.ok(&["import", stack.to_str().unwrap()]);
    assert_eq!(
        batch_count(&st),
        1,
        "without the policy the import goes ahead"
    );
}
