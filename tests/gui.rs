//! The station window driven through egui_kittest, finding controls by their
//! accessible labels, with the real workers behind it: real SQLite, the demo
//! feeder, a folder upload target.

mod common;
#[path = "common/ehr_server.rs"]
mod ehr_server;
mod kit;

use common::*;
use eframe::egui;
use egui_kittest::Harness;
use folio::store::ReviewKind;
use folio::synth::{Label, SideKind, Symbology};
use folio::ui::StationApp;
use kit::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// A window on a station's data folder, uploads going to `store/` beside it.
fn window(st: &Station) -> Harness<'static, StationApp> {
    let store = st.dir.path().join("store");
    station_window(
        &st.data_dir(),
        &store,
        egui::vec2(1280.0, 860.0),
        "supervisor",
    )
}

/// A window whose scanner is the demo feeder with `records` folders, flat out.
fn demo_window(st: &Station, records: u32) -> Harness<'static, StationApp> {
    let mut h = window(st);
    use_demo_feeder(&mut h, records);
    h
}

/// Steps the window until the outbox says the batch is delivered.
fn wait_delivered(h: &mut Harness<'static, StationApp>, batch: &str) {
    wait(h, "the upload", |a| {
        a.snapshot
            .outbox
            .iter()
            .any(|r| r.batch_id == batch && r.state == folio::batch::OutboxState::Done)
    });
}

fn review_kind(i: &folio::store::ReviewItem) -> &str {
    match &i.kind {
        ReviewKind::Flag { code, .. } => code.as_str(),
        ReviewKind::Removed { reason } if reason.as_str() == "blank" => "removed",
        ReviewKind::Removed { reason } => reason.as_str(),
        ReviewKind::Page => "page",
    }
}

fn review_has(app: &StationApp, code: &str) -> bool {
    app.snapshot
        .review
        .iter()
        .any(|i| review_kind(i) == code || i.flags().iter().any(|(_, c)| c.as_str() == code))
}

#[test]
fn a_demo_scan_shows_pages_arriving_and_a_jam_in_the_window_then_resumes() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let mut h = demo_window(&st, 2);
    {
        let s = h.state_mut().scanner_mut();
        s.extra_options = vec![
            ("fault-after".into(), "5".into()),
            ("fault".into(), "jammed".into()),
        ];
    }
    h.get_by_label("Start").click();
    wait(&mut h, "pages to arrive", |a| {
        !a.scan().view.strip.is_empty()
    });
    wait(&mut h, "the jam", |a| a.scan().view.fault.is_some());
    assert_eq!(
        h.state().scan().view.strip.len(),
        5,
        "the five sides before the jam are kept"
    );
    h.get_by_label("The scan stopped");
    let msg = h.state().scan().view.fault.clone().unwrap().message;
    assert!(msg.contains("jam"), "{msg}");
    assert!(h.query_all_by_label_contains("Clear the jam").count() >= 1);
    h.state_mut().scanner_mut().extra_options.clear();
    h.get_by_label("Resume scanning").click();
    wait(&mut h, "the rest of the stack", |a| {
        a.scan().view.last_report.is_some() && !a.scan().view.scanning
    });
    let report = h.state().scan().view.last_report.clone().unwrap();
    let closed = report
        .closed
        .expect("the batch closes at the end of the stack");
    assert!(closed.records == 2, "{closed:?}");
    wait(&mut h, "the batch list", |a| {
        a.snapshot
            .batches
            .iter()
            .any(|b| b.id == report.batch_id && b.state.as_str() != "scanning")
    });
    // The thumbnails of the stored sides come back as textures.
    wait(&mut h, "thumbnails", |a| a.textures_loaded().0 > 0);
}

/// A stack made to need a supervisor: a record sheet with an NHS number that
/// fails its check digit, a page with another patient's label, a blank page.
fn flagged_stack(dir: &Path) {
    let mut painter = folio::imaging::draw::TextPainter::new();
    let spec = folio::synth::StackSpec {
        dpi: 150,
        noise_sigma: 2.0,
        max_skew_deg: 0.0,
        ..Default::default()
    };
    let sides = [
        SideKind::RecordSheet {
            code: "FOLIO:REC:9434765918:cardiology".into(),
            words: vec!["PATIENT".into()],
        },
        SideKind::Clinical { label: None },
        SideKind::Clinical {
            label: Some(Label {
                text: "4010232137".into(),
                symbology: Symbology::Code128,
            }),
        },
        SideKind::Blank { bleed: false },
        SideKind::Clinical { label: None },
    ];
    std::fs::create_dir_all(dir).unwrap();
    for (i, k) in sides.iter().enumerate() {
        let r = folio::synth::render(k, &spec, 100 + i as u64, &mut painter);
        write_page(&dir.join(format!("side-{i:02}")), &r, "png");
    }
}

/// A page fed upside down that orientation missed: turned over
/// (losslessly), then approved.
fn turn_over_and_approve(h: &mut Harness<'static, StationApp>) {
    h.get_all_by_label_contains("Another patient's label on this page")
        .next()
        .unwrap()
        .click();
    h.step();
    let before = h
        .state()
        .snapshot
        .review
        .iter()
        .find(|i| review_kind(i) == "misfiled_identifier")
        .cloned()
        .unwrap();
    h.get_by_label("Turn over").click();
    wait(h, "the turned page", |a| {
        a.snapshot
            .review
            .iter()
            .any(|i| i.side == before.side && i.preview_sha256 != before.preview_sha256)
    });
    h.get_by_label("Approve page").click();
    wait(h, "the approval", |a| !review_has(a, "misfiled_identifier"));
}

/// A wrong check digit is refused in words; the right one sets the record.
fn fix_the_nhs_number(h: &mut Harness<'static, StationApp>) {
    h.get_all_by_label_contains("NHS number fails its check")
        .next()
        .unwrap()
        .click();
    h.step();
    h.get_by_label("Correct identifier").click();
    h.step();
    h.get_by_label("Correct identifier")
        .type_text("943 476 5918");
    h.step();
    h.get_by_label_contains("fails the check digit: check the folder and type it again");
    assert!(h.query_by_label("Set identifier").is_some());
    h.get_by_label("Correct identifier").click();
    for _ in 0.."943 476 5918".len() {
        h.key_press(egui::Key::Backspace);
    }
    h.step();
    h.get_by_label("Correct identifier")
        .type_text("943 476 5919");
    h.step();
    h.get_by_label_contains("valid: NHS number");
    h.get_by_label("Set identifier").click();
    wait(h, "the fixed record", |a| {
        !review_has(a, "invalid_nhs_number")
    });
}

#[test]
fn review_approve_restore_fix_the_nhs_number_then_approve_and_upload() {
    let _turn = one_at_a_time();
    let st = Station::new();
    test_env();
    let stack = st.dir.path().join("stack");
    flagged_stack(&stack);
    let batch = st.import(&[], &[&stack])["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut h = window(&st);
    h.key_press(egui::Key::F3);
    wait(&mut h, "the review queue", |a| {
        review_has(a, "misfiled_identifier")
    });
    assert!(review_has(h.state(), "invalid_nhs_number") && review_has(h.state(), "removed"));
    turn_over_and_approve(&mut h);

    h.get_all_by_label_contains("removed as blank")
        .next()
        .unwrap()
        .click();
    h.step();
    h.get_by_label("Restore page").click();
    wait(&mut h, "the restored page", |a| !review_has(a, "removed"));
    fix_the_nhs_number(&mut h);

    let tree = st.json(&["show", &batch, "--json"]);
    assert_eq!(tree["records"][0]["nhs_number"], "9434765919");
    let pages: usize = tree["records"][0]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pages"].as_array().unwrap().len())
        .sum();
    assert_eq!(pages, 4, "the restored blank is back in its document");

    wait(&mut h, "no open flags", |a| {
        a.snapshot
            .batches
            .iter()
            .any(|b| b.id == batch && b.open_flags == 0)
    });
    h.get_by_label_contains("Approve batch").click();
    h.key_press(egui::Key::F6);
    wait_delivered(&mut h, &batch);
    h.get_by_label_contains("delivered");
    assert!(
        st.dir
            .path()
            .join("store")
            .join(&batch)
            .join("manifest.json")
            .exists()
    );
    let audit = st.ok(&["check"]);
    assert!(!audit.is_empty());
}

/// Open flags of one side, by code (a side's flags are one item).
fn side_flags(app: &StationApp, side: u32) -> Vec<String> {
    app.snapshot
        .review
        .iter()
        .filter(|i| i.side == Some(side))
        .flat_map(|i| i.flags())
        .map(|(_, code)| code.as_str().to_string())
        .collect()
}

fn pages_of(tree: &serde_json::Value, record: usize) -> Vec<u64> {
    tree["records"][record]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["pages"].as_array().unwrap())
        .map(|p| p["side"].as_u64().unwrap())
        .collect()
}

/// Two records; three pages of the first carry the second patient's label;
/// side 7 is a file that cannot be read. Also the sheets put back on the
/// scanner: side 4 without the stray label, and side 7. Returns the batch
/// and those two sheets.
fn misfiled_batch(st: &Station) -> (String, std::path::PathBuf, std::path::PathBuf) {
    let other = || SideKind::Clinical {
        label: Some(Label {
            text: "4010232137".into(),
            symbology: Symbology::Code128,
        }),
    };
    let record = |nhs: &str| SideKind::RecordSheet {
        code: format!("FOLIO:REC:{nhs}"),
        words: vec!["PATIENT".into()],
    };
    let sides = [
        record("9434765919"),
        SideKind::Clinical { label: None },
        other(),
        other(),
        other(),
        record("4010232137"),
        SideKind::Clinical { label: None },
    ];
    let spec = folio::synth::StackSpec {
        dpi: 150,
        noise_sigma: 2.0,
        max_skew_deg: 0.0,
        ..Default::default()
    };
    let mut painter = folio::imaging::draw::TextPainter::new();
    let stack = st.dir.path().join("stack");
    std::fs::create_dir_all(&stack).unwrap();
    for (i, k) in sides.iter().enumerate() {
        let r = folio::synth::render(k, &spec, 300 + i as u64, &mut painter);
        write_page(&stack.join(format!("side-{i:02}")), &r, "png");
    }
    // Side 7 is a file that cannot be read.
    std::fs::write(stack.join("side-07.png"), b"\x89PNG\r\n\x1a\n truncated").unwrap();
    // Sheets put back on the scanner: side 4 without the stray label, side 7.
    let mut clean = |seed, name: &str| {
        let r = folio::synth::render(
            &SideKind::Clinical { label: None },
            &spec,
            seed,
            &mut painter,
        );
        write_page(&st.dir.path().join(name), &r, "pgm")
    };
    let rescanned = clean(399, "rescan-4");
    let unreadable = clean(398, "rescan-7");
    let out = st.run(&[
        "import",
        "--json",
        "--expected-sheets",
        "10",
        stack.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "one side could not be read");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let batch = report["batch_id"].as_str().unwrap().to_string();
    (batch, rescanned, unreadable)
}

/// Chooses the first item of the queue whose title holds `text`.
fn select(h: &mut Harness<'static, StationApp>, text: &str) {
    h.get_all_by_label_contains(text).next().unwrap().click();
    h.step();
}

/// Side 2 belongs to the second record: moved there, its label now agrees.
/// Zoomed in with +, the page is shown at full resolution.
fn move_side_2(h: &mut Harness<'static, StationApp>, st: &Station, batch: &str) {
    select(h, "label on this page · side 2");
    let page = h
        .state()
        .snapshot
        .review
        .iter()
        .find(|i| i.side == Some(2))
        .cloned()
        .unwrap();
    let full = page.image.expect("the page's stored image").sha256;
    assert!(
        !h.state().has_texture(&full),
        "not loaded before it is needed"
    );
    for _ in 0..6 {
        h.key_press(egui::Key::Plus);
    }
    wait(h, "the full-resolution page", |a| a.has_texture(&full));
    h.key_press(egui::Key::Minus);
    h.get_by_label("Move to").click();
    h.step();
    h.step();
    h.get_all_by_label_contains("record 2 · NHS 4010232137")
        .last()
        .unwrap()
        .click();
    h.step();
    h.get_by_label("Move page").click();
    wait(h, "the moved page", |a| side_flags(a, 2).is_empty());
    let tree = st.json(&["show", batch, "--json"]);
    assert_eq!(pages_of(&tree, 0), [1, 3, 4]);
    assert_eq!(pages_of(&tree, 1), [2, 6]);
}

/// Side 3 is a stray copy: taken out, listed, and could be put back.
fn remove_side_3(h: &mut Harness<'static, StationApp>) {
    select(h, "label on this page · side 3");
    h.key_press(egui::Key::Delete);
    wait(h, "the removed page", |a| {
        review_has(a, "removed_by_supervisor") && side_flags(a, 3).is_empty()
    });
    h.get_by_label_contains("removed by a supervisor · side 3");
}

/// Side 4 is marked for rescan, then rescanned through SANE's pnm backend;
/// side 7, which could not be read, is offered for rescanning only, and the
/// new scan joins the second record.
fn rescan_sides_4_and_7(
    h: &mut Harness<'static, StationApp>,
    st: &Station,
    batch: &str,
    (rescanned, unreadable): (&Path, &Path),
) {
    select(h, "label on this page · side 4");
    h.get_by_label("Rescan reason").click();
    h.get_by_label("Rescan reason").type_text("label stuck on");
    h.step();
    h.get_by_label("Mark for rescan").click();
    wait(h, "the rescan mark", |a| {
        side_flags(a, 4).contains(&"rescan_requested".to_string())
    });
    let old_sha = pages_sha(&st.json(&["show", batch, "--json"]), 4);
    {
        let s = h.state_mut().scanner_mut();
        s.device = "pnm:0".into();
        s.extra_options = vec![("filename".into(), rescanned.display().to_string())];
    }
    select(h, "Marked for rescan");
    h.get_by_label("Rescan and replace").click();
    wait(h, "the replaced page", |a| {
        side_flags(a, 4).is_empty() && a.review().rescanning.is_none()
    });
    select(h, "Image could not be read · side 7");
    assert!(h.query_by_label("Move page").is_none() && h.query_by_label("Turn over").is_none());
    h.get_by_label_contains("no image: the side could not be read");
    h.state_mut().scanner_mut().extra_options =
        vec![("filename".into(), unreadable.display().to_string())];
    h.key_press(egui::Key::S);
    wait(h, "the side read at last", |a| {
        side_flags(a, 7).is_empty() && a.review().rescanning.is_none()
    });
    let tree = st.json(&["show", batch, "--json"]);
    assert_ne!(pages_sha(&tree, 4), old_sha, "side 4 has the new image");
    assert_eq!(pages_of(&tree, 0), [1, 4]);
    assert_eq!(pages_of(&tree, 1), [2, 6, 7]);
    let removed: Vec<(u64, &str)> = tree["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["side"].as_u64().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert!(
        removed.contains(&(3, "removed_by_supervisor")),
        "{removed:?}"
    );
}

/// Every decision is in the audit trail, with the operator.
fn decisions_audited(st: &Station, batch: &str) {
    let audit = st.json(&["audit", batch, "--json"]);
    for action in [
        "page.move",
        "page.remove",
        "page.mark_rescan",
        "page.rescan",
    ] {
        assert!(
            audit
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == action && e["operator"] == "supervisor"),
            "{action} missing from {audit:#}"
        );
    }

    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "page.rescan"
                && e["detail"] == "side 4 replaced from pnm:0#rescan"),
        "the new side came through SANE: {audit:#}"
    );
}

/// Any side can be looked at and acted on, flagged or not: side 6 is turned
/// over from the batch's own list of sides.
fn turn_side_6_from_the_batchs_pages(
    h: &mut Harness<'static, StationApp>,
    st: &Station,
    batch: &str,
) {
    let old_sha6 = pages_sha(&st.json(&["show", batch, "--json"]), 6);
    h.get_by_label(&format!("Pages {}", h.state().batch_name(batch)))
        .click_accesskit();
    wait(h, "every side of the batch", |a| {
        a.review().pages.len() == 8
    });
    for side in ["control sheet · side 0", "removed by a supervisor · side 3"] {
        assert!(h.query_all_by_label_contains(side).count() >= 1, "{side}");
    }
    select(h, "page · side 6");
    h.key_press(egui::Key::U);
    wait(h, "side 6 turned", |_| {
        pages_sha(&st.json(&["show", batch, "--json"]), 6) != old_sha6
    });
    h.get_by_label("Back to flags").click();
    h.step();
    assert!(h.state().review().browse.is_none());
}

/// Reconciliation: 10 sheets counted at import, 8 scanned; then the
/// supervisor counts again, and the batch can be approved.
fn reconcile_and_approve(h: &mut Harness<'static, StationApp>, batch: &str) {
    wait(h, "no open flags", |a| {
        a.snapshot
            .batches
            .iter()
            .any(|b| b.id == batch && b.open_flags == 0)
    });
    h.get_by_label("2 sheets missing");
    assert!(
        h.get_by_label_contains("Approve batch")
            .accesskit_node()
            .is_disabled(),
        "a batch short of sheets is not sent without a decision"
    );
    for (count, words) in [(11, "3 sheets missing"), (8, "matches")] {
        h.state_mut()
            .review_mut()
            .expected
            .insert(batch.to_string(), count);
        h.step();
        h.get_by_label_contains("Set count").click();
        wait(h, "the count", |a| {
            a.snapshot
                .batches
                .iter()
                .any(|b| b.id == batch && b.expected_sheets == Some(count))
        });
        h.get_by_label(words);
    }
    assert!(
        !h.get_by_label_contains("Approve batch")
            .accesskit_node()
            .is_disabled(),
        "{:?}",
        h.state().snapshot.approval
    );
    h.get_by_label_contains("Approve batch").click_accesskit();
    wait(h, "the batch queued", |a| {
        a.snapshot.outbox.iter().any(|r| r.batch_id == batch)
    });
}

#[test]
fn review_moves_removes_marks_and_rescans_pages_then_reconciles_the_count() {
    let _turn = one_at_a_time();
    let st = Station::new();
    test_env();
    let (batch, rescanned, unreadable) = misfiled_batch(&st);
    let mut h = window(&st);
    h.key_press(egui::Key::F3);
    wait(&mut h, "three misfiled pages and an unreadable side", |a| {
        (2..5).all(|s| side_flags(a, s) == ["misfiled_identifier"])
            && side_flags(a, 7) == ["unreadable_image"]
    });
    move_side_2(&mut h, &st, &batch);
    remove_side_3(&mut h);
    rescan_sides_4_and_7(&mut h, &st, &batch, (&rescanned, &unreadable));
    decisions_audited(&st, &batch);
    turn_side_6_from_the_batchs_pages(&mut h, &st, &batch);
    reconcile_and_approve(&mut h, &batch);
}

fn pages_sha(tree: &serde_json::Value, side: u64) -> String {
    tree["records"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["documents"].as_array().unwrap())
        .flat_map(|d| d["pages"].as_array().unwrap())
        .find(|p| p["side"] == side)
        .map(|p| p["image"]["sha256"].as_str().unwrap().to_string())
        .unwrap()
}

/// On demand: a wrong check digit is refused in words, the right number
/// accepted.
fn type_the_patient(h: &mut Harness<'static, StationApp>) {
    h.key_press(egui::Key::F4);
    h.step();
    h.get_by_label("Patient identifier").click();
    h.step();
    h.get_by_label("Patient identifier").type_text("9434765918");
    h.step();
    h.get_by_label_contains("fails the check digit");
    h.get_by_label("Patient identifier").click();
    for _ in 0..10 {
        h.key_press(egui::Key::Backspace);
    }
    h.get_by_label("Patient identifier").type_text("9434765919");
    h.step();
    h.get_by_label_contains("valid: NHS number 943 476 5919");
}

/// Case 14: the demo folder's record sheet names another patient (NHS 089
/// 888 9693) than the one typed. The screen says so in words and nothing is
/// sent until a person chooses; the blanket "send with open flags" tick does
/// not cover it; the choice is audited and the record goes out as chosen.
#[test]
fn case_14_on_demand_says_which_patient_the_paper_shows_and_asks_before_sending() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let mut h = demo_window(&st, 1);
    type_the_patient(&mut h);
    h.get_by_label("Scan record").click();
    let batch = on_demand_scanned(&mut h);
    wait(&mut h, "the question about the patient", |a| {
        a.snapshot
            .mismatches
            .iter()
            .any(|(m, _)| m.batch_id == batch)
    });
    let b = h
        .state()
        .snapshot
        .batches
        .iter()
        .find(|b| b.id == batch)
        .cloned()
        .unwrap();
    assert_eq!(b.source.as_str(), "on_demand");
    assert!(!h.state().on_demand().view.strip.is_empty());
    h.get_by_label_contains("Record 1:");
    // In words: what the paper shows, what was typed.
    h.get_by_label("Which patient is this record?");
    h.get_by_label(
        "The record sheet in the folder shows NHS number 089 888 9693, but NHS number 943 476 5919 was typed.",
    );
    assert!(h.get_by_label("Send now").accesskit_node().is_disabled());
    assert!(
        h.query_by_label_contains("Send with its").is_none(),
        "no blanket tick sends a record under a patient nobody chose"
    );
    h.get_by_label("It is NHS number 943 476 5919 (as typed)")
        .click();
    wait(&mut h, "the choice applied", |a| {
        a.snapshot
            .mismatches
            .iter()
            .all(|(m, _)| m.batch_id != batch)
            && a.snapshot.approval.contains_key(&batch)
    });
    accept_the_demo_folders_flags(&mut h, "clinic waiting; pages checked");
    h.get_by_label_contains("Send now sends 1 records");
    h.get_by_label("Send now").click();
    wait_delivered(&mut h, &batch);
    let row = h
        .state()
        .snapshot
        .outbox
        .iter()
        .find(|r| r.batch_id == batch)
        .cloned()
        .unwrap();
    assert_eq!(row.priority, 0, "on-demand records go first");
    h.get_by_label("Delivered to the central store.");
    let tree = st.json(&["show", &batch, "--json"]);
    assert_eq!(tree["records"][0]["nhs_number"], "9434765919");
    patient_choice_audited(&st, &batch);
}

/// Waits for the On demand screen's scan to end; its batch.
fn on_demand_scanned(h: &mut Harness<'static, StationApp>) -> String {
    wait(h, "the scan", |a| {
        a.on_demand().view.last_report.is_some() && !a.on_demand().view.scanning
    });
    let report = h.state().on_demand().view.last_report.clone().unwrap();
    report.batch_id
}

/// Other flags of the demo folder (not the patient) are accepted for this
/// record, with a reason, when they hold Send now back.
fn accept_the_demo_folders_flags(h: &mut Harness<'static, StationApp>, reason: &str) {
    if h.get_by_label("Send now").accesskit_node().is_disabled() {
        h.get_by_label_contains("Send with its").click();
        h.step();
        h.get_by_label("Why it may go as it is").click();
        h.get_by_label("Why it may go as it is").type_text(reason);
        h.step();
        h.step();
    }
}

/// The choice of patient is audited, with the operator and what was seen.
fn patient_choice_audited(st: &Station, batch: &str) {
    audited(st, batch, |e| {
        e["action"] == "record.patient_chosen"
            && e["operator"] == "supervisor"
            && e["detail"]
                .as_str()
                .is_some_and(|d| d.contains("089 888 9693") && d.contains("as typed"))
    });
}

/// The batch's audit trail (`folio audit --json`) holds an event `is`.
fn audited(st: &Station, batch: &str, is: impl Fn(&serde_json::Value) -> bool) {
    let audit = st.json(&["audit", batch, "--json"]);
    assert!(audit.as_array().unwrap().iter().any(is), "{audit:#}");
}

#[test]
fn end_to_end_demo_scan_review_approve_and_upload() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let mut h = demo_window(&st, 3);
    h.key_press(egui::Key::F5);
    wait(&mut h, "the demo scan", |a| {
        a.scan().view.last_report.is_some() && !a.scan().view.scanning
    });
    let batch = h.state().scan().view.last_report.clone().unwrap().batch_id;
    // Only the thumbnails in view are laid out (the strip sticks to the
    // newest), however long the batch.
    let sides = h.state().scan().view.strip.len();
    assert!(sides >= 30, "{sides}");
    h.step();
    assert!(h.query_by_label("side 0").is_none());
    assert!(
        h.query_all_by_label_contains(&format!("side {}", sides - 1))
            .count()
            >= 1
    );
    h.key_press(egui::Key::F3);
    wait(&mut h, "the batch in review", |a| {
        a.snapshot
            .batches
            .iter()
            .any(|b| b.id == batch && b.state.as_str() != "scanning")
    });
    // Approve every flagged page with the keyboard, one at a time.
    approve_every_flag(&mut h, &batch);
    h.get_all_by_label_contains("Approve batch")
        .next()
        .unwrap()
        .click();
    h.key_press(egui::Key::F6);
    wait_delivered(&mut h, &batch);
    let manifest = st
        .dir
        .path()
        .join("store")
        .join(&batch)
        .join("manifest.json");
    let m: folio::batch::manifest::Manifest =
        serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
    assert_eq!(m.records.len(), 3);
    // Uploads shows what the store gave back: every document read back as sent.
    let documents: usize = m.records.iter().map(|r| r.documents.len()).sum();
    wait(&mut h, "the receipts", |a| {
        a.snapshot
            .receipts
            .get(&batch)
            .is_some_and(|r| r.len() == documents && r.iter().all(|r| r.verified))
    });
    h.step();
    let line =
        format!("Verified in the store: {documents} of {documents} documents read back as sent");
    assert!(
        h.query_all_by_label_contains(&line).count() == 1,
        "the Uploads screen says: {line}"
    );
}

#[test]
fn settings_are_saved_and_a_new_data_folder_is_used_from_the_next_start() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let mut h = window(&st);
    h.key_press(egui::Key::F7);
    h.step();
    let new_dir = st.dir.path().join("elsewhere");
    h.get_by_label("Operator signed in").click();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Operator signed in").type_text("a.jones");
    h.get_by_label("Data folder").click();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Data folder")
        .type_text(new_dir.to_str().unwrap());
    h.step();
    h.get_by_label("Save settings").click();
    wait(&mut h, "the station's answer", |a| {
        a.settings().saved.is_some()
    });
    h.get_by_label_contains("restart the station to use them");
    let cfg = std::fs::read_to_string(new_dir.join("config.toml")).unwrap();
    assert!(cfg.contains("operator = \"a.jones\""), "{cfg}");
    assert!(
        cfg.contains("[upload]"),
        "the upload target comes along: {cfg}"
    );
    // Without --data-dir or FOLIO_DATA_DIR, Folio now works in the new folder.
    let out = st
        .cmd()
        .env_remove("FOLIO_DATA_DIR")
        .env(
            "XDG_CONFIG_HOME",
            std::env::var_os("XDG_CONFIG_HOME").unwrap(),
        )
        .arg("check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        new_dir.join("folio.sqlite3").exists(),
        "the database is made there"
    );
}

/// A record of one patient: its record sheet and clinical pages, one of them
/// (with `stray`) carrying another patient's label.
fn simple_stack(dir: &Path, seed: u64, stray: bool) {
    let mut painter = folio::imaging::draw::TextPainter::new();
    let spec = folio::synth::StackSpec {
        dpi: 150,
        noise_sigma: 2.0,
        max_skew_deg: 0.0,
        ..Default::default()
    };
    let mut sides = vec![
        SideKind::RecordSheet {
            code: "FOLIO:REC:9434765919".into(),
            words: vec!["PATIENT".into()],
        },
        SideKind::Clinical { label: None },
    ];
    if stray {
        sides.push(SideKind::Clinical {
            label: Some(Label {
                text: "4010232137".into(),
                symbology: Symbology::Code128,
            }),
        });
    }
    sides.push(SideKind::Clinical { label: None });
    std::fs::create_dir_all(dir).unwrap();
    for (i, k) in sides.iter().enumerate() {
        let r = folio::synth::render(k, &spec, seed + i as u64, &mut painter);
        write_page(&dir.join(format!("side-{i:02}")), &r, "png");
    }
}

/// Imports a folder whatever the exit code (flags and unreadable sides are
/// not failures here); returns the batch id.
fn import_any(st: &Station, dir: &Path) -> String {
    let out = st.run(&["import", "--json", dir.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "import report: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    report["batch_id"].as_str().unwrap().to_string()
}

/// Scrolls the control whose label contains `label` into view (a long list
/// of batches does not fit in the panel).
fn into_view(h: &mut Harness<'static, StationApp>, label: &str) {
    h.get_by_label_contains(label).scroll_to_me();
    h.step();
    h.step();
}

fn is_disabled(h: &Harness<'static, StationApp>, label: &str) -> bool {
    h.get_by_label(label).accesskit_node().is_disabled()
}

#[test]
fn case_13_approving_a_batch_leaves_paused_uploads_paused() {
    let _turn = one_at_a_time();
    let st = Station::new();
    test_env();
    let stack = st.dir.path().join("stack");
    simple_stack(&stack, 500, false);
    let batch = import_any(&st, &stack);
    let mut h = window(&st);
    h.key_press(egui::Key::F6);
    wait(&mut h, "uploads on", |a| a.uploads().running);
    h.get_by_label("Pause uploads").click();
    wait(&mut h, "uploads paused", |a| !a.uploads().running);
    h.get_by_label("Uploads: paused");

    h.key_press(egui::Key::F3);
    wait(&mut h, "the batch's figures", |a| {
        a.snapshot.approval.contains_key(&batch)
    });
    let id = h.state().batch_name(&batch);
    if let Some(tick) = h.query_by_label_contains(&format!("open flags of {id}")) {
        tick.click_accesskit();
        h.step();
        h.get_by_label(&format!("Why {id} may go as it is")).focus();
        h.step();
        h.get_by_label(&format!("Why {id} may go as it is"))
            .type_text("checked by hand");
        h.step();
        h.step();
    }
    h.get_by_label_contains(&format!("Approve batch {id}: send"))
        .click();
    wait(&mut h, "the batch queued", |a| {
        a.snapshot.outbox.iter().any(|r| r.batch_id == batch)
    });
    // Long enough for a folder upload (milliseconds) had uploads come on.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        h.step();
        assert!(
            !h.state().uploads().running,
            "approving a batch turned paused uploads back on"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h.state_mut()
        .send(folio::workers::station::Command::Refresh);
    h.key_press(egui::Key::F6);
    wait(&mut h, "the queue", |a| {
        a.snapshot
            .outbox
            .iter()
            .any(|r| r.batch_id == batch && r.state == folio::batch::OutboxState::Queued)
    });
    h.get_by_label("Uploads: paused");
    assert!(
        !st.dir.path().join("store").join(&batch).exists(),
        "nothing was delivered while paused"
    );
    // The person who paused resumes: then it goes.
    h.get_by_label("Resume uploads").click();
    wait_delivered(&mut h, &batch);
    h.get_by_label("Uploads: on");
}

/// Two batches with a stray label each, and one of a blank sheet (nothing
/// to send); their ids.
fn three_batches(st: &Station) -> (String, String, String) {
    let (da, db, dc) = (
        st.dir.path().join("a"),
        st.dir.path().join("b"),
        st.dir.path().join("c"),
    );
    simple_stack(&da, 600, true);
    simple_stack(&db, 700, true);
    // A stack of one blank sheet: nothing to send.
    std::fs::create_dir_all(&dc).unwrap();
    let spec = folio::synth::StackSpec {
        dpi: 150,
        ..Default::default()
    };
    let mut painter = folio::imaging::draw::TextPainter::new();
    let r = folio::synth::render(&SideKind::Blank { bleed: false }, &spec, 800, &mut painter);
    write_page(&dc.join("side-00"), &r, "png");
    let (a, b, c) = (
        import_any(st, &da),
        import_any(st, &db),
        import_any(st, &dc),
    );
    (a, b, c)
}

#[test]
fn case_16_overrides_are_per_batch_need_a_reason_are_cleared_and_empty_batches_are_refused() {
    let _turn = one_at_a_time();
    let st = Station::new();
    test_env();
    let (a, b, c) = three_batches(&st);
    let mut h = window(&st);
    h.key_press(egui::Key::F3);
    wait(&mut h, "the three batches' figures", |app| {
        [&a, &b, &c]
            .iter()
            .all(|id| app.snapshot.approval.contains_key(*id))
    });
    let names = [&a, &b, &c].map(|id| h.state().batch_name(id));
    let [sa, sb, sc] = [&names[0], &names[1], &names[2]].map(|n| n.as_str());
    for id in [sa, sb, sc] {
        assert!(
            is_disabled(&h, &format!("Approve batch {id}")),
            "{id} needs a decision first"
        );
    }
    h.get_by_label_contains("Cannot be sent: it holds no pages to send");

    // Accepting the flags of batch a: still a reason to give, and batch b is
    // not touched.
    into_view(&mut h, &format!("open flags of {sa}"));
    h.get_by_label_contains(&format!("open flags of {sa}"))
        .click_accesskit();
    h.step();
    h.step();
    into_view(&mut h, &format!("Approve batch {sa}"));
    assert!(is_disabled(&h, &format!("Approve batch {sa}")));
    h.get_by_label_contains("Cannot be sent: an override needs a reason");
    h.get_by_label(&format!("Why {sa} may go as it is")).focus();
    h.step();
    h.get_by_label(&format!("Why {sa} may go as it is"))
        .type_text("stray label checked against the folder");
    h.step();
    h.step();
    assert!(is_disabled(&h, &format!("Approve batch {sb}")));
    assert!(is_disabled(&h, &format!("Approve batch {sc}")));
    assert!(
        h.query_by_label(&format!("Why {sb} may go as it is"))
            .is_none()
    );
    // Approve says what goes, and what is overridden.
    let facts = h.state().snapshot.approval[&a].clone();
    let approve = format!(
        "Approve batch {sa}: send {} records, {} documents, {} pages; overriding: {} open flags accepted",
        facts.records,
        facts.documents,
        facts.pages,
        facts.open_flag_count()
    );
    assert!(facts.pages > 0 && facts.open_flag_count() > 0, "{facts:?}");
    into_view(&mut h, &approve);
    h.get_by_label(&approve).click_accesskit();
    wait(&mut h, "batch a queued", |app| {
        app.snapshot.outbox.iter().any(|r| r.batch_id == a)
    });
    assert!(
        h.state()
            .review()
            .overrides
            .get(&a)
            .is_none_or(|o| !o.accept_flags && o.reason.is_empty()),
        "the override is used once"
    );
    for id in [sb, sc] {
        assert!(is_disabled(&h, &format!("Approve batch {id}")), "{id}");
    }
    let audit = st.json(&["audit", &a, "--json"]);
    assert!(
        audit.as_array().unwrap().iter().any(|e| e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("open flags accepted")
                && d.contains("reason: stray label checked against the folder"))),
        "{audit:#}"
    );
    assert!(
        st.json(&["show", &c, "--json"])["state"] != "approved",
        "the empty batch stays unapproved"
    );
}

/// Closing the window while a scan runs asks first; Stop and close stops
/// the scan and closes once it has ended.
fn closing_mid_scan_asks_first(h: &mut Harness<'static, StationApp>) {
    h.state_mut().scanner_mut().demo_speed = 20;
    h.key_press(egui::Key::F5);
    wait(h, "a scan running", |a| a.scan().view.scanning);
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    h.step();
    let cancelled = |h: &Harness<'static, StationApp>, cmd: &egui::ViewportCommand| {
        h.output()
            .viewport_output
            .get(&egui::ViewportId::ROOT)
            .is_some_and(|v| v.commands.contains(cmd))
    };
    assert!(cancelled(h, &egui::ViewportCommand::CancelClose));
    assert!(h.state().close_asked() && h.state().scan().view.scanning);
    h.step();
    h.get_by_label("A scan is running");
    h.get_by_label("Stop and close").click();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        h.step();
        if cancelled(h, &egui::ViewportCommand::Close) {
            break;
        }
        assert!(Instant::now() < deadline, "the window never closed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !h.state().scan().view.scanning,
        "closed once the scan had stopped"
    );
}

#[test]
fn case_15_interrupted_batches_are_listed_and_resumed_and_closing_mid_scan_asks_first() {
    let _turn = one_at_a_time();
    let st = Station::new();
    test_env();
    // A batch stopped by a jam on the command line: still `scanning`.
    let out = st.run(&[
        "scan",
        "--device",
        "folio:demo",
        "--option",
        "records=2",
        "--option",
        "speed=0",
        "--option",
        "fault-after=5",
        "--option",
        "fault=jammed",
    ]);
    assert_eq!(
        out.status.code(),
        Some(10),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut h = demo_window(&st, 2);
    wait(&mut h, "the interrupted batch", |a| {
        a.snapshot
            .batches
            .iter()
            .any(|b| b.state.as_str() == "scanning")
    });
    let id = h.state().snapshot.batches[0].id.clone();
    let s = h.state().batch_name(&id);
    // Listed on the Scan screen, with Resume and Close.
    h.get_by_label_contains("Batches left open: 1");
    assert!(!is_disabled(&h, &format!("Resume {s}")));
    assert!(!is_disabled(&h, &format!("Close {s}")));
    // F5 asks which to continue instead of starting a second batch.
    h.key_press(egui::Key::F5);
    h.step();
    assert!(
        !h.state().scan().view.scanning,
        "no new batch without asking"
    );
    h.get_by_label("A batch is still open");
    h.get_by_label(&format!("Continue {s}")).click();
    wait(&mut h, "the resumed batch", |a| {
        a.scan()
            .view
            .last_report
            .as_ref()
            .is_some_and(|r| r.batch_id == id)
            && !a.scan().view.scanning
    });
    wait(&mut h, "the batch closed", |a| {
        a.snapshot.batches.len() == 1 && a.snapshot.batches[0].state.as_str() != "scanning"
    });
    assert!(h.query_by_label_contains("Batches left open").is_none());

    closing_mid_scan_asks_first(&mut h);
}

/// Issue 21: the On demand screen's worklist from the EHR's fetch to a sent
/// record. The fixture EHR's list comes in deadline order (overdue first,
/// the cancelled appointment left out); the arrows and Enter pick O'Brien's
/// entry (the demo folder is hers), which fills in her NHS number, shows
/// her name to compare and scans; Send now delivers it first, and the entry
/// is then marked done, for the window and `folio worklist` alike.
#[test]
fn case_17_the_worklist_walks_from_the_ehrs_list_to_a_sent_record() {
    let _turn = one_at_a_time();
    let ehr = ehr_server::EhrServer::start(ehr_server::clinic_day(time::OffsetDateTime::now_utc()));
    ehr.set_page_size(2);
    let st = Station::new();
    let worklist = format!(
        "[worklist]\nfhir_url = {:?}\nlocations = [\"Location/loc-cardio\", \"Location/loc-derm\"]\nlead_hours = 2\n",
        ehr.base_url()
    );
    let mut h = kit::station_window_with(
        &st.data_dir(),
        &st.dir.path().join("store"),
        egui::vec2(1280.0, 860.0),
        "supervisor",
        &worklist,
    );
    use_demo_feeder(&mut h, 1);
    h.key_press(egui::Key::F4);
    wait(&mut h, "the worklist", |a| {
        a.snapshot
            .worklist
            .as_ref()
            .is_some_and(|w| !w.rows.is_empty())
    });
    the_list_as_the_ehr_gave_it(&mut h);
    // Down three times to O'Brien's entry, then Enter: her record is scanned.
    for _ in 0..3 {
        h.key_press(egui::Key::ArrowDown);
        h.step();
    }
    h.get_by_label("Scan for O'BRIEN, Seán (Enter)");
    h.key_press(egui::Key::Enter);
    h.step();
    h.get_by_label("For O'BRIEN, Seán");
    h.get_by_label("Check the folder shows this name and NHS number 089 888 9693.");
    assert_eq!(h.state().on_demand().patient_text, "089 888 9693");
    let batch = on_demand_scanned(&mut h);
    wait(&mut h, "the record's facts", |a| {
        a.snapshot.approval.contains_key(&batch)
    });
    assert!(
        h.state()
            .snapshot
            .mismatches
            .iter()
            .all(|(m, _)| m.batch_id != batch),
        "the folder is the patient chosen from the list"
    );
    accept_the_demo_folders_flags(&mut h, "clinic tomorrow; pages checked");
    h.get_by_label("Send now").click();
    wait_delivered(&mut h, &batch);
    wait(&mut h, "the entry marked done", |a| {
        a.snapshot.worklist.as_ref().is_some_and(|w| {
            w.rows
                .iter()
                .any(|r| r.item.appointment_id == "apt-1002" && r.done)
        })
    });
    h.get_by_label_contains("✔ done");
    entry_done_for_the_cli_too(&st, &batch);
}

/// The fixture's list in deadline order, its age said, the overdue entries
/// marked, a missing NHS number said.
fn the_list_as_the_ehr_gave_it(h: &mut Harness<'static, StationApp>) {
    let order: Vec<String> = h
        .state()
        .snapshot
        .worklist
        .as_ref()
        .unwrap()
        .rows
        .iter()
        .map(|r| r.item.appointment_id.clone())
        .collect();
    assert_eq!(order, ["apt-1005", "apt-1001", "apt-1004", "apt-1002"]);
    h.get_by_label("Clinic worklist");
    h.get_by_label_contains("Fetched just now from http://127.0.0.1:");
    assert_eq!(
        h.query_all_by_label_contains("⚠ OVERDUE").count(),
        2,
        "KHAN's (started an hour before its deadline) and SMITH's (due now)"
    );
    h.get_by_label("O'BRIEN, Seán");
    assert_eq!(
        h.query_all_by_label("⚠ no valid NHS number").count(),
        2,
        "KHAN's fails its check digit, NOVAK has none"
    );
}

/// `folio worklist` marks O'Brien's entry (and only hers) done by the batch
/// scanned from it, and the link is audited.
fn entry_done_for_the_cli_too(st: &Station, batch: &str) {
    let listed = st.json(&["worklist", "--offline", "--json"]);
    let row = listed["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["appointment_id"] == "apt-1002")
        .unwrap()
        .clone();
    assert_eq!(row["done"], true, "{row:#}");
    assert_eq!(row["scanned"]["batch_id"], batch);
    assert!(
        listed["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["appointment_id"] != "apt-1002")
            .all(|r| r["done"] == false),
        "only her entry is done"
    );
    audited(st, batch, |e| {
        e["action"] == "worklist.scan"
            && e["detail"].as_str().is_some_and(|d| d.contains("apt-1002"))
    });
}
