//! Scanning through real libsane (`test` and `pnm` backends) and the demo feeder.

mod common;

use common::*;
use folio::synth::{self, StackSpec};

fn batch_row(st: &Station, id: &str) -> serde_json::Value {
    let all = st.json(&["batches", "--json"]);
    all.as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
        .cloned()
        .expect("batch listed")
}

/// Sides stored so far in a station's cache, read while a scan writes (0
/// before the database or its schema exists).
fn stored_sides(st: &Station) -> u32 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    rusqlite::Connection::open_with_flags(st.data_dir().join("folio.sqlite3"), flags)
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM pages", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// Every stored page image of a batch (document pages and removed sides).
fn images(st: &Station, id: &str) -> Vec<serde_json::Value> {
    let tree = st.json(&["show", id, "--json"]);
    let mut out: Vec<serde_json::Value> = tree["records"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["documents"].as_array().unwrap().clone())
        .flat_map(|d| d["pages"].as_array().unwrap().clone())
        .map(|p| p["image"].clone())
        .collect();
    out.extend(
        tree["removed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["image"].clone()),
    );
    out
}

#[test]
fn devices_lists_sane_backends_with_options_and_the_demo_feeder() {
    let st = Station::new();
    let devices = st.json(&["devices", "--json"]);
    let names: Vec<&str> = devices
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"test:0") && names.contains(&"pnm:0") && names.contains(&"folio:demo"),
        "{names:?}"
    );
    let test0 = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "test:0")
        .unwrap();
    assert_eq!(
        test0["sources"],
        serde_json::json!([
            ["Flatbed", "flatbed"],
            ["Automatic Document Feeder", "feeder"]
        ])
    );
    assert_eq!(test0["modes"], serde_json::json!(["Gray", "Color"]));
    assert_eq!(test0["max_area_mm"], serde_json::json!([200.0, 200.0]));
    assert!(
        test0["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "read-return-value")
    );
    let profiles = st.json(&["profiles", "--json"]);
    assert_eq!(profiles["demo"]["device"], "folio:demo");
    // With no device named, the first scanner that has the profile's source.
    let r = st.json(&[
        "scan",
        "--json",
        "--profile",
        "feeder-gray-300",
        "--dpi",
        "75",
    ]);
    assert_eq!(r["device"], "test:0");
    assert_eq!(r["sides"], 10);
}

#[test]
fn test_backend_feeder_loads_in_grey_colour_line_art_and_odd_modes() {
    let st = Station::new();
    let cases: [(&str, u32, &[&str], &str); 7] = [
        ("gray", 150, &[], "gray"),
        ("gray", 300, &[], "gray"),
        ("color", 150, &[], "color"),
        ("color", 300, &[], "color"),
        ("bw", 150, &[], "bilevel"),
        ("color", 100, &["--option", "three-pass=yes"], "color"),
        (
            "gray",
            100,
            &[
                "--option",
                "read-limit=yes",
                "--option",
                "read-limit-size=997",
                "--option",
                "read-delay=yes",
                "--option",
                "read-delay-duration=1000",
            ],
            "gray",
        ),
    ];
    for (mode, dpi, extra, kind) in cases {
        let dpi_s = dpi.to_string();
        let mut args = vec![
            "scan",
            "--json",
            "--device",
            "test:0",
            "--source",
            "feeder",
            "--mode",
            mode,
            "--dpi",
            &dpi_s,
            "--option",
            "test-picture=Grid",
        ];
        args.extend_from_slice(extra);
        let r = st.json(&args);
        assert_eq!(
            r["sides"], 10,
            "{mode} {dpi} {extra:?}: a feeder load of the test backend is 10 sides"
        );
        let id = r["batch_id"].as_str().unwrap();
        let imgs = images(&st, id);
        assert_eq!(imgs.len(), 10);
        let width = (80.0 / 25.4 * dpi as f64).round() as i64;
        for img in imgs {
            assert_eq!(img["kind"], kind, "{mode} {dpi} {extra:?}");
            assert_eq!(img["dpi"], dpi);
            assert!(
                (img["width"].as_i64().unwrap() - width).abs() <= 1,
                "{mode} {dpi}: width {} vs {width}",
                img["width"]
            );
        }
    }
}

#[test]
fn hand_scanner_pages_of_unknown_height_are_read_to_the_end() {
    let st = Station::new();
    let r = st.json(&[
        "scan",
        "--json",
        "--device",
        "test:0",
        "--source",
        "feeder",
        "--dpi",
        "100",
        "--option",
        "hand-scanner=yes",
        "--option",
        "test-picture=Grid",
    ]);
    assert_eq!(r["sides"], 10);
    for img in images(&st, r["batch_id"].as_str().unwrap()) {
        assert_eq!(
            img["width"],
            (110.0f64 / 25.4 * 100.0).round() as i64,
            "hand scanners are 11 cm wide"
        );
        assert!(img["height"].as_i64().unwrap() > 100);
    }
}

#[test]
fn each_fault_keeps_completed_sides_says_what_to_do_and_resumes() {
    let st = Station::new();
    let base = [
        "scan", "--device", "test:0", "--source", "feeder", "--dpi", "75",
    ];
    for (status, code, words) in [
        (
            "JAMMED",
            10,
            "clear the jam, put the last sheet back on the feeder, then resume",
        ),
        ("COVER_OPEN", 11, "close it, put the last sheet back"),
        ("NO_DOCS", 12, "load the stack"),
        ("IO_ERROR", 14, "check the cable and power"),
        ("DEVICE_BUSY", 13, "close that program or wait"),
        ("INVAL", 15, "reconnect it, put the last sheet back"),
        ("CANCELLED", 16, "scan cancelled"),
    ] {
        let fault = format!("4:read-return-value=SANE_STATUS_{status}");
        let mut args = base.to_vec();
        args.extend(["--option-after", &fault]);
        let out = st.run(&args);
        assert_eq!(out.status.code(), Some(code), "{status}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(words) && err.contains("folio scan --resume"),
            "{status}: {err}"
        );
        let id = err.split_whitespace().nth(2).unwrap().to_string();
        let b = batch_row(&st, &id);
        assert_eq!(b["state"], "scanning", "{status}");
        assert_eq!(b["sides"], 4, "{status}: the four completed sides are kept");
        assert!(b["last_error"].as_str().unwrap().len() > 10);
        let mut resume = base.to_vec();
        resume.extend(["--json", "--resume", &id]);
        let r = st.json(&resume);
        assert_eq!(r["sides"], 14, "{status}: resumed with a fresh feeder load");
        assert_ne!(batch_row(&st, &id)["state"], "scanning");
    }
    // An empty feeder at the start is said plainly.
    let out = st.run(&[
        "scan",
        "--device",
        "test:0",
        "--source",
        "feeder",
        "--option",
        "read-return-value=SANE_STATUS_NO_DOCS",
    ]);
    assert_eq!(out.status.code(), Some(12));
    // A setting the device cannot honour starts no batch.
    let before = st.json(&["batches", "--json"]).as_array().unwrap().len();
    let out = st.run(&["scan", "--device", "test:0", "--source", "duplex"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot scan duplex (its sources: Flatbed, Automatic Document Feeder)")
    );
    assert_eq!(
        st.json(&["batches", "--json"]).as_array().unwrap().len(),
        before
    );
}

/// `--option` values (and a profile's options) are checked against the
/// option's type and constraint before a batch starts: the refusal names the
/// option and what it allows, and shows the value escaped.
#[test]
fn option_values_outside_their_constraint_start_no_batch_and_say_what_is_allowed() {
    let st = Station::new();
    let base = [
        "scan",
        "--device",
        "test:0",
        "--source",
        "flatbed",
        "--dpi",
        "50",
        "--option",
        "enable-test-options=yes",
        "--option",
    ];
    for (option, words) in [
        (
            "int-constraint-range=5",
            "option 'int-constraint-range' of test:0: '5' is not allowed; allowed: 4..192 in steps of 2",
        ),
        (
            "mode=Gr\u{1b}ay",
            "'Gr\\u{1b}ay' is not allowed; allowed: one of Gray, Color",
        ),
        ("depth=12", "allowed: one of 1, 8, 16"),
        ("gamma-table=1,2", "4096 whole numbers"),
        ("bool-soft-select-soft-detect=maybe", "yes or no"),
        ("no-such-option=1", "`folio devices` lists its options"),
    ] {
        let mut args = base.to_vec();
        args.push(option);
        let out = st.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{option}: {err}");
        assert!(err.contains(words), "{option}: {err}");
        assert!(!err.contains('\u{1b}'), "{option}: escaped");
    }
    assert_eq!(st.json(&["batches", "--json"]), serde_json::json!([]));
    // The same values within the constraint scan.
    let mut args = base.to_vec();
    args.extend([
        "int-constraint-range=6",
        "--option",
        "gamma-table=0,1",
        "--json",
    ]);
    let out = st.run(&args);
    assert_eq!(out.status.code(), Some(2), "two of 4096 values are refused");
    let mut args = base.to_vec();
    args.extend([
        "int-constraint-range=6",
        "--option",
        "gamma-table=7",
        "--json",
    ]);
    assert_eq!(st.json(&args)["sides"], 1);
}

#[test]
fn pnm_backend_pages_separate_and_flag_exactly_like_imports() {
    let st = Station::new();
    let spec = StackSpec {
        seed: 21,
        records: 2,
        dpi: 200,
        duplex: false,
        ..StackSpec::default()
    };
    let dir = st.dir.path().join("pages");
    let truth = write_stack(&spec, &dir, "pgm");
    let mut batch = String::new();
    for i in 0..truth.sides {
        let file = format!(
            "filename={}",
            dir.join(format!("side-{i:04}.pgm")).display()
        );
        let mut args = vec![
            "scan",
            "--json",
            "--device",
            "pnm:0",
            "--dpi",
            "200",
            "--keep-open",
            "--option",
            &file,
        ];
        if i > 0 {
            args.extend(["--resume", &batch]);
        }
        let r = st.json(&args);
        assert_eq!(r["stored_now"], 1);
        batch = r["batch_id"].as_str().unwrap().to_string();
    }
    st.ok(&["close", &batch]);
    let (m, dir) = st.export(&batch);
    assert_matches_truth(&m, &truth);
    assert_pdfs_valid(&m, &dir);
}

fn demo_truth(records: usize) -> synth::Truth {
    synth::plan(&StackSpec {
        seed: 1,
        records,
        dpi: 200,
        duplex: true,
        ..StackSpec::default()
    })
    .1
}

#[test]
fn demo_feeder_batch_of_over_100_sides_with_a_jam_matches_its_truth() {
    let st = Station::new();
    let records = 12;
    let truth = demo_truth(records);
    assert!(truth.sides >= 100, "{} sides", truth.sides);
    let rec = format!("records={records}");
    let common = [
        "--device",
        "folio:demo",
        "--option",
        &rec,
        "--option",
        "speed=0",
    ];
    let mut args = vec!["scan"];
    args.extend(common);
    args.extend(["--option", "fault-after=41", "--option", "fault=jammed"]);
    let out = st.run(&args);
    assert_eq!(
        out.status.code(),
        Some(10),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stderr)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    assert_eq!(
        batch_row(&st, &id)["sides"],
        41,
        "sides before the jam are kept"
    );
    let mut args = vec!["scan", "--json", "--resume", &id];
    args.extend(common);
    let r = st.json(&args);
    assert_eq!(r["sides"], truth.sides);
    let (m, _) = st.export(&id);
    assert_matches_truth(&m, &truth);
}

#[test]
fn slow_processing_holds_capture_back_without_losing_a_side() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let st = Station::new();
    std::fs::create_dir_all(st.data_dir()).unwrap();
    std::fs::write(
        st.data_dir().join("config.toml"),
        "threads = 1\nprocess_delay_ms = 150\n",
    )
    .unwrap();
    let truth = demo_truth(3);
    let cfg = folio::config::Config::load(&st.data_dir()).unwrap();
    // One token per side in flight: three per imaging thread and two more
    // (workers/pipeline.rs); the side being read has no token yet. (With one
    // thread the job queue, one deep, holds capture closer still: about 3.)
    let bound = cfg.thread_count() as u32 * 3 + 2 + 1;
    let mut store = folio::store::Store::open(&st.data_dir()).unwrap();
    let actor = folio::store::Actor {
        station: "test-station".into(),
        operator: "tester".into(),
        role: None,
    };
    let opts = folio::workers::ScanOptions {
        device: "folio:demo".into(),
        settings: folio::capture::ScanSettings {
            options: vec![("records".into(), "3".into()), ("speed".into(), "0".into())],
            ..Default::default()
        },
        ..Default::default()
    };
    // Capture announces each side as its lines arrive; the writer reports
    // each side stored. Sides read but not stored are the sides in flight.
    let stored = Arc::new(AtomicU32::new(0));
    let (tx, rx) = crossbeam_channel::unbounded::<folio::workers::scan::BandEvent>();
    let watcher = {
        let stored = stored.clone();
        std::thread::spawn(move || {
            let mut most = 0;
            for band in rx.iter() {
                let in_flight = (band.side + 1).saturating_sub(stored.load(Ordering::SeqCst));
                most = most.max(in_flight);
            }
            most
        })
    };
    let report = folio::workers::scan(&mut store, &cfg, &actor, &opts, Some(tx), |p| {
        stored.store(p.sides, Ordering::SeqCst)
    })
    .unwrap();
    let most_in_flight = watcher.join().unwrap();
    assert!(
        most_in_flight <= bound,
        "{most_in_flight} sides in flight, at most {bound} allowed"
    );
    assert!(
        most_in_flight >= 2,
        "capture ran ahead of slow processing and was held back ({most_in_flight} in flight at most)"
    );
    assert_eq!(report.stored_now, truth.sides);
    drop(store);
    let (m, _) = st.export(&report.batch_id);
    assert_matches_truth(&m, &truth);
}

#[test]
fn ctrl_c_stops_a_scan_cleanly_and_the_batch_resumes() {
    let st = Station::new();
    let truth = demo_truth(2);
    let child = st
        .cmd()
        .args([
            "scan",
            "--device",
            "folio:demo",
            "--option",
            "records=2",
            "--option",
            "speed=150",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Stop once some sides are stored, whatever the machine's speed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while stored_sides(&st) < 3 {
        assert!(std::time::Instant::now() < deadline, "no sides stored");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(16),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stderr)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    let kept = batch_row(&st, &id)["sides"].as_u64().unwrap();
    assert!(kept > 0 && kept < truth.sides as u64, "kept {kept}");
    let r = st.json(&[
        "scan",
        "--json",
        "--device",
        "folio:demo",
        "--option",
        "records=2",
        "--option",
        "speed=0",
        "--resume",
        &id,
    ]);
    assert_eq!(r["sides"], truth.sides);
    let (m, _) = st.export(&id);
    assert_matches_truth(&m, &truth);
    // A finished batch is not reopened by mistake.
    let again = st.run(&["scan", "--device", "folio:demo", "--resume", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr)
            .contains("only a batch still scanning can be resumed or closed")
    );
}

#[test]
fn a_folder_is_a_scanner_too_and_a_bad_file_is_flagged_not_fatal() {
    let st = Station::new();
    let spec = StackSpec {
        seed: 8,
        records: 2,
        dpi: 200,
        duplex: true,
        ..StackSpec::default()
    };
    let dir = st.dir.path().join("drop");
    let truth = write_stack(&spec, &dir, "mixed");
    let device = format!("folder:{}", dir.display());
    let r = st.json(&["scan", "--json", "--device", &device, "--source", "duplex"]);
    assert_eq!(r["sides"], truth.sides);
    let (m, _) = st.export(r["batch_id"].as_str().unwrap());
    assert_matches_truth(&m, &truth);
    std::fs::write(dir.join("zz-damaged.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let out = st.run(&["scan", "--device", &device, "--source", "duplex"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stored, with an unreadable side"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("zz-damaged.png") && err.contains("damaged or truncated"),
        "{err}"
    );
}
