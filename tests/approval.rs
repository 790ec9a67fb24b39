//! One approval rule for every front end, exact batch ids, and control sheets
//! that disagree: through the real `folio` binary and a real SQLite file.

mod common;

use common::*;
use folio::imaging::draw::TextPainter;
use folio::pixels::Raster;
use folio::synth::{SideKind, StackSpec, render};
use std::path::Path;

fn page(seed: u64, kind: SideKind) -> Raster {
    render(
        &kind,
        &StackSpec {
            dpi: 150,
            max_skew_deg: 0.0,
            ..Default::default()
        },
        seed,
        &mut TextPainter::new(),
    )
}

fn record_sheet(seed: u64, id: &str) -> Raster {
    page(
        seed,
        SideKind::RecordSheet {
            code: format!("FOLIO:REC:{id}"),
            words: vec![],
        },
    )
}

fn clinical(seed: u64) -> Raster {
    page(seed, SideKind::Clinical { label: None })
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Imports `pages` (in order) as one batch; returns its id.
fn import(st: &Station, name: &str, pages: &[Raster], extra: &[&str]) -> String {
    let dir = st.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, p) in pages.iter().enumerate() {
        write_page(&dir.join(format!("{i:02}")), p, "png");
    }
    st.import(extra, &[&dir])["batch_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn flag_codes(show: &serde_json::Value) -> Vec<String> {
    let mut codes = Vec::new();
    for r in show["records"].as_array().unwrap() {
        for f in r["flags"].as_array().unwrap() {
            codes.push(f["code"].as_str().unwrap().to_string());
        }
        for d in r["documents"].as_array().unwrap() {
            for p in d["pages"].as_array().unwrap() {
                for f in p["flags"].as_array().unwrap() {
                    codes.push(f["code"].as_str().unwrap().to_string());
                }
            }
        }
    }
    codes
}

#[test]
fn case_2_two_record_barcodes_on_one_side_leave_a_batch_that_closes_and_exports() {
    let st = Station::new();
    // Two cover sheets stuck together: one side shows both barcodes.
    let mut stuck = record_sheet(2, "4010232137");
    let other = record_sheet(3, "9434765919");
    let (w, mm) = (stuck.width as usize, 150.0 / 25.4);
    let (from, to, rows) = (
        (35.0 * mm) as usize,
        (150.0 * mm) as usize,
        (40.0 * mm) as usize,
    );
    for y in 0..rows {
        let src = &other.data[(from + y) * w..(from + y + 1) * w];
        stuck.data[(to + y) * w..(to + y + 1) * w].copy_from_slice(src);
    }
    let batch = import(
        &st,
        "stack",
        &[
            record_sheet(1, "9434765919"),
            clinical(10),
            stuck,
            clinical(11),
        ],
        &[],
    );
    let show = st.json(&["show", &batch, "--json"]);
    assert_eq!(show["batch"]["state"], "in_review", "{show}");
    assert!(
        flag_codes(&show).contains(&"conflicting_control_sheet".to_string()),
        "{show}"
    );
    let records = show["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{show}");
    // The page after the stuck sheets is not merged into the first patient.
    let first_pages: usize = records[0]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pages"].as_array().unwrap().len())
        .sum();
    assert_eq!(first_pages, 1, "{show}");
    // Nothing is wedged: close again, export, and the approval rule says why not.
    let out = st.run(&["close", &batch]);
    assert!(stderr(&out).contains("already"), "{}", stderr(&out));
    st.export(&batch);
    let out = st.run(&["approve", &batch, "--accept-flags", "--reason", "looked"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("1 record(s) have no patient"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn case_9_a_batch_is_named_by_its_id_or_a_unique_prefix_of_six_or_more() {
    let st = Station::new();
    let a = import(&st, "a", &[record_sheet(1, "9434765919"), clinical(2)], &[]);
    let b = import(&st, "b", &[record_sheet(3, "4010232137"), clinical(4)], &[]);
    for bad in ["", " ", "%", "_", "*", "a%", "../x", "\u{1b}[2J"] {
        let out = st.run(&["show", bad]);
        assert_ne!(out.status.code(), Some(0), "{bad:?} picked a batch");
        let err = stderr(&out);
        assert!(!err.contains('\u{1b}'), "raw escape printed: {err:?}");
        assert!(err.contains("folio batches"), "{bad:?}: {err}");
    }
    // Too short to be trusted, even when only one batch starts so.
    let out = st.run(&["show", &a[..4]]);
    assert!(stderr(&out).contains("too short"), "{}", stderr(&out));
    st.ok(&["show", &a]);
    st.ok(&["show", &a.to_uppercase()]);
    // A prefix both share (ids made in the same minute) lists the candidates.
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    if common >= 6 {
        let out = st.run(&["show", &a[..common]]);
        let err = stderr(&out);
        assert!(err.contains(&a) && err.contains(&b), "{err}");
    }
    let unique = (common + 1).max(6);
    let show = st.json(&["show", &a[..unique], "--json"]);
    assert_eq!(show["batch"]["id"], a.as_str());
}

#[test]
fn case_10_the_cli_applies_the_count_rule_and_audits_the_reason() {
    let st = Station::new();
    let batch = import(
        &st,
        "stack",
        &[record_sheet(1, "9434765919"), clinical(2), clinical(3)],
        &["--expected-sheets", "5"],
    );
    let show = st.json(&["show", &batch, "--json"]);
    assert!(flag_codes(&show).is_empty(), "{show}");
    let out = st.run(&["approve", &batch]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a count mismatch stops approval"
    );
    assert!(
        stderr(&out).contains("2 sheets missing"),
        "{}",
        stderr(&out)
    );
    // The command line says how it takes an override (the window has its own
    // tick box, and its words name no flags).
    assert!(
        stderr(&out).contains("(--accept-count-mismatch --reason \"...\")"),
        "{}",
        stderr(&out)
    );
    // The flags override does not cover the count, and no override goes without a reason.
    let out = st.run(&["approve", &batch, "--accept-flags", "--reason", "x"]);
    assert!(stderr(&out).contains("sheets missing"), "{}", stderr(&out));
    let out = st.run(&["approve", &batch, "--accept-count-mismatch"]);
    assert!(stderr(&out).contains("needs a reason"), "{}", stderr(&out));
    st.ok(&[
        "approve",
        &batch,
        "--accept-count-mismatch",
        "--reason",
        "two sheets stapled together, counted by hand",
    ]);
    let audit = st.json(&["audit", &batch, "--json"]);
    let approve = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "batch.approve")
        .expect("approval audited");
    let detail = approve["detail"].as_str().unwrap();
    assert!(
        detail.contains("count accepted (2 sheets missing)")
            && detail.contains("reason: two sheets stapled together"),
        "{detail}"
    );
    // Approving twice is refused in words.
    let out = st.run(&["approve", &batch]);
    assert!(
        stderr(&out).contains("already approved"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn case_16_an_empty_batch_and_unread_sides_cannot_be_approved_by_override() {
    let st = Station::new();
    let blank = page(5, SideKind::Blank { bleed: false });
    let empty = import(&st, "empty", &[blank.clone(), blank], &[]);
    let out = st.run(&["approve", &empty, "--accept-flags", "--reason", "r"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no pages to send"),
        "{}",
        stderr(&out)
    );

    // A side that could not be read must be seen (rescanned or removed) first.
    let dir = st.dir.path().join("cut");
    std::fs::create_dir_all(&dir).unwrap();
    write_page(&dir.join("01"), &record_sheet(1, "9434765919"), "png");
    write_page(&dir.join("02"), &clinical(2), "png");
    let good = write_page(&dir.join("03"), &clinical(3), "png");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(dir.join("04-cut.png"), &bytes[..bytes.len() / 3]).unwrap();
    let out = st.run(&["import", dir.to_str().unwrap()]);
    let batch = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = st.run(&["approve", &batch, "--accept-flags", "--reason", "r"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unreadable_image must each be looked at"),
        "{}",
        stderr(&out)
    );
    assert!(!Path::new(&st.data_dir().join("delivered")).exists());
}
