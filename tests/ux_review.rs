//! Issue 16, the Review screen as a supervisor who clears flags all day lives
//! in it (findings 6 to 9 where they concern Review): one test per point, on
//! the screen drawn alone ([`kit::Bed`]) or on the whole window with its
//! workers and a real store, at 1280x800 and 800x600.

mod common;
mod kit;

use common::{Station, approve_as_is, assert_pdfs_valid, write_page};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use folio::batch::approval::ApprovalFacts;
use folio::batch::{FlagCode, MoveTarget, PageDecision, PatientId, Reconciliation};
use folio::store::{BatchRow, DocChoice, ReviewItem, ReviewKind};
use folio::synth::{Label, SideKind, Symbology};
use folio::ui::{ReviewScreen, ScreenCommand, StationApp};
use folio::workers::station::Command;
use kit::*;
use std::sync::Arc;

const BATCH: &str = "0123456789abcdef";

fn flag(id: i64, code: FlagCode) -> ReviewKind {
    ReviewKind::Flag {
        id,
        code,
        detail: format!("{} (details)", code.title()),
    }
}

/// Side 2 of box 3, flagged `code` (and `more`), with another patient's
/// label on it.
fn side_item(id: i64, code: FlagCode, more: &[(i64, FlagCode)]) -> ReviewItem {
    ReviewItem {
        kind: flag(id, code),
        more_flags: more.iter().map(|(i, c)| flag(*i, *c)).collect(),
        barcodes: vec!["4010232137".into()],
        batch_id: BATCH.into(),
        batch_label: "box 3".into(),
        record_id: Some("r1".into()),
        patient: Some("NHS 9434765919".into()),
        side: Some(2),
        preview_sha256: Some("preview-2".into()),
        thumb_sha256: None,
        neighbours: Vec::new(),
        image: None,
    }
}

fn batch_row() -> BatchRow {
    BatchRow {
        id: BATCH.into(),
        label: "box 3".into(),
        source: folio::batch::BatchSource::parse("site_library").unwrap(),
        specialty: None,
        duplex: false,
        station: "scan-01".into(),
        operator: "j.smith".into(),
        created: "2026-12-02T09:14:05.120Z".into(),
        closed: Some("2026-12-02T09:20:00.000Z".into()),
        state: folio::batch::BatchState::parse("in_review").unwrap(),
        expected_sheets: None,
        last_error: None,
        sides: 12,
        unreadable_sides: 0,
        records: 2,
        open_flags: 1,
        paper_location: None,
        hold_until: None,
    }
}

/// Figures under which the batch may go as it is (no open flags).
fn facts() -> ApprovalFacts {
    ApprovalFacts {
        batch_id: BATCH.into(),
        state: folio::batch::BatchState::parse("closed").unwrap(),
        sides: 12,
        records: 2,
        documents: 3,
        pages: 11,
        records_without_patient: 0,
        patient_contradictions: 0,
        open_flags: Vec::new(),
        count: Reconciliation::new(None, 12),
        sample: folio::batch::sample::SampleState::NotRequired,
        unproven_sessions: 0,
        text: Default::default(),
    }
}

/// The Review screen with one item, the batch awaiting approval, its
/// documents, and the page's preview (an A4 page) loaded.
fn review_bed(items: Vec<ReviewItem>, size: egui::Vec2) -> Harness<'static, Bed<ReviewScreen>> {
    let mut bed = Bed::new(ReviewScreen::default());
    bed.snapshot.review = Arc::new(items);
    bed.snapshot.batches = vec![batch_row()];
    bed.snapshot.names = folio::batch::short_names([BATCH]);
    bed.snapshot.approval.insert(BATCH.into(), facts());
    bed.snapshot.documents.insert(
        BATCH.into(),
        vec![DocChoice {
            id: "d2".into(),
            record_id: "r2".into(),
            words: "record 2 · NHS 4010232137 · letters · 3 pages".into(),
        }],
    );
    let mut h = harness_at(bed, size);
    let ctx = h.ctx.clone();
    let (w, t) = (420, 594);
    h.state_mut()
        .textures
        .insert(&ctx, "preview-2".into(), w, t, &vec![230; w * t * 4]);
    h.step();
    h.step();
    h
}

fn decisions(h: &Harness<'static, Bed<ReviewScreen>>) -> Vec<PageDecision> {
    sent(h)
        .into_iter()
        .filter_map(|c| match c {
            Command::DecidePage { decision, .. } => Some(decision),
            _ => None,
        })
        .collect()
}

/// Finding 6: Enter in "Sheets counted" saves the count, and the field says
/// which batch it counts.
#[test]
fn finding_6_enter_saves_the_sheets_counted_named_for_its_batch() {
    let mut h = review_bed(vec![side_item(7, FlagCode::Skewed, &[])], USUAL);
    let field = "Sheets counted for 01234567";
    h.get_by_label(field).click();
    h.step();
    h.step();
    h.get_by_label(field).type_text("30");
    h.step();
    assert!(sent(&h).is_empty(), "nothing saved while typing");
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    let counts: Vec<(String, u32)> = sent(&h)
        .into_iter()
        .filter_map(|c| match c {
            Command::SetExpectedSheets { batch, sheets } => Some((batch, sheets)),
            _ => None,
        })
        .collect();
    assert_eq!(counts, [(BATCH.to_string(), 30)]);
}

/// Finding 8: a rescan mark with no reason typed says so, rather than
/// recording a reason nobody gave.
#[test]
fn finding_8_an_empty_rescan_reason_is_recorded_as_no_reason_given() {
    let mut h = review_bed(vec![side_item(7, FlagCode::Skewed, &[])], USUAL);
    h.key_press(egui::Key::M);
    h.step();
    assert_eq!(
        decisions(&h),
        [PageDecision::MarkRescan("no reason given".into())]
    );
    h.get_by_label("Rescan reason").click();
    h.step();
    h.get_by_label("Rescan reason").type_text("streaked");
    h.step();
    h.get_by_label("Mark for rescan").click();
    h.step();
    assert_eq!(
        decisions(&h)[1..],
        [PageDecision::MarkRescan("streaked".into())]
    );
}

/// Finding 8: titles in plain words with the codes small beside them; a
/// side with two flags is one item, and one decision settles both.
#[test]
fn finding_8_plain_titles_and_one_decision_for_a_sides_flags() {
    let item = side_item(7, FlagCode::MisfiledIdentifier, &[(8, FlagCode::Skewed)]);
    let mut h = review_bed(vec![item], USUAL);
    h.get_by_label("To review: 1");
    let title =
        "Flags: Another patient's label on this page; Page scanned crooked · side 2 · box 3";
    // In the queue and as the heading.
    assert_eq!(h.query_all_by_label(title).count(), 2);
    assert!(h.query_all_by_label("misfiled_identifier, skewed").count() >= 1);
    assert!(
        h.query_all_by_label_contains("misfiled_identifier ·")
            .next()
            .is_none(),
        "no raw code in a title"
    );
    h.get_by_label("Approve page").click();
    h.step();
    let approved: Vec<i64> = sent(&h)
        .into_iter()
        .filter_map(|c| match c {
            Command::ApproveFlag(id) => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(
        approved,
        [7, 8],
        "both of the side's flags, in one decision"
    );
}

/// Finding 8: "Move to" offers a new record for the patient on the page's
/// label, beside the batch's documents.
#[test]
fn finding_8_move_to_offers_a_new_record_for_the_labels_patient() {
    let mut h = review_bed(vec![side_item(7, FlagCode::MisfiledIdentifier, &[])], USUAL);
    h.get_by_label("Move to").click();
    h.step();
    h.step();
    assert!(
        h.query_all_by_label_contains("record 2 · NHS 4010232137")
            .count()
            >= 1
    );
    h.get_all_by_label("a new record for NHS number 401 023 2137")
        .last()
        .unwrap()
        .click();
    h.step();
    h.get_by_label("Move page").click();
    h.step();
    assert_eq!(
        decisions(&h),
        [PageDecision::MoveTo(MoveTarget::NewRecord(
            PatientId::Nhs {
                number: "4010232137".into(),
                valid: true
            }
        ))]
    );
    // A page flagged for another reason is offered no new record.
    let mut h = review_bed(vec![side_item(7, FlagCode::Skewed, &[])], USUAL);
    h.get_by_label("Move to").click();
    h.step();
    h.step();
    assert!(h.query_by_label_contains("a new record for").is_none());
}

/// Finding 8 and 4: every action has a key: Ctrl+Enter approves the batch of
/// the page shown, Esc leaves a batch's pages, Q and B fold the panels
/// away; F1 lists each with where it works.
#[test]
fn finding_8_every_action_has_a_key_and_f1_lists_it() {
    let mut h = review_bed(vec![side_item(7, FlagCode::Skewed, &[])], USUAL);
    h.get_by_label("To review: 1");
    h.get_by_label("Batches awaiting approval");
    h.key_press(egui::Key::Q);
    h.step();
    assert!(
        h.query_by_label("To review: 1").is_none(),
        "Q hides the queue"
    );
    h.key_press(egui::Key::B);
    h.step();
    assert!(h.query_by_label("Batches awaiting approval").is_none());
    h.key_press(egui::Key::Q);
    h.key_press(egui::Key::B);
    h.step();
    h.get_by_label("To review: 1");
    h.get_by_label("Batches awaiting approval");

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    h.step();
    let approved: Vec<String> = sent(&h)
        .into_iter()
        .filter_map(|c| match c {
            Command::ApproveBatch { batch, .. } => Some(batch),
            _ => None,
        })
        .collect();
    assert_eq!(approved, [BATCH]);

    h.state_mut().screen.browse = Some(BATCH.into());
    h.step();
    h.key_press(egui::Key::Escape);
    h.step();
    assert_eq!(h.state().screen.browse, None, "Esc goes back to the flags");
    assert!(matches!(
        h.state().commands.last(),
        Some(ScreenCommand::Station(Command::BrowseBatch(None)))
    ));

    for key in ["Ctrl+Enter", "Q", "B", "Esc", "A", "M"] {
        assert!(
            folio::ui::KEYS
                .iter()
                .any(|(k, _, screen)| *k == key && screen.contains("Review")),
            "{key} is not listed for Review"
        );
    }
}

/// Finding 7: at 800x600 the page stays large (the queue and the batches
/// fold away) and Approve for the page's batch is whole in the window, with
/// every batch a key away.
#[test]
fn finding_7_at_800x600_the_page_is_large_and_approve_is_whole() {
    let mut h = review_bed(vec![side_item(7, FlagCode::Skewed, &[])], SMALL);
    let page = rect_of(&h, "Page: side 2");
    assert!(page.height() >= 300.0, "the page is {page:?}");
    let approve = "Approve batch 01234567: send 2 records, 3 documents, 11 pages";
    assert_inside(&h, approve, SMALL);
    assert_inside(&h, "Approve page", SMALL);
    assert_inside(&h, "Rescan and replace", SMALL);
    // Every batch, when asked for: still whole.
    h.key_press(egui::Key::B);
    h.step();
    h.step();
    h.get_by_label("Batches awaiting approval");
    assert_inside(&h, approve, SMALL);
    assert_inside(&h, "Sheets counted for 01234567", SMALL);
}

/// Finding 9: a refused identifier says what is expected (the site's
/// pattern, shown safely, with an example); a site may accept lower case.
#[test]
fn finding_9_a_refused_identifier_shows_the_pattern_and_lower_case_where_allowed() {
    let item = ReviewItem {
        kind: flag(9, FlagCode::InvalidPatientId),
        side: None,
        preview_sha256: None,
        ..side_item(9, FlagCode::InvalidPatientId, &[])
    };
    let mut h = review_bed(vec![item], USUAL);
    h.state_mut().cfg.hospital_number_pattern = "^[A-Z]{2}[0-9]{6}$".into();
    h.step();
    h.get_by_label("Correct identifier").click();
    h.step();
    h.get_by_label("Correct identifier").type_text("rx648221");
    h.step();
    h.get_by_label(
        "rx648221 is not a hospital number here: expected e.g. AB123456 (pattern ^[A-Z]{2}[0-9]{6}$)",
    );
    assert!(is_disabled(&h, "Set identifier"));
    h.state_mut().cfg.identifiers.case_insensitive = true;
    h.step();
    h.get_by_label("valid: hospital number RX648221");
    h.get_by_label("Set identifier").click();
    h.step();
    assert!(sent(&h).iter().any(|c| matches!(
        c,
        Command::FixIdentifier { record, text, .. } if record == "r1" && text == "rx648221"
    )));
}

/// A record sheet, a page, a page with another patient's label, a page.
fn misfiled_stack(dir: &std::path::Path) {
    let mut painter = folio::imaging::draw::TextPainter::new();
    let spec = folio::synth::StackSpec {
        dpi: 150,
        noise_sigma: 2.0,
        max_skew_deg: 0.0,
        ..Default::default()
    };
    let sides = [
        SideKind::RecordSheet {
            code: "FOLIO:REC:9434765919".into(),
            words: vec!["PATIENT".into()],
        },
        SideKind::Clinical { label: None },
        SideKind::Clinical {
            label: Some(Label {
                text: "4010232137".into(),
                symbology: Symbology::Code128,
            }),
        },
        SideKind::Clinical { label: None },
    ];
    std::fs::create_dir_all(dir).unwrap();
    for (i, k) in sides.iter().enumerate() {
        let r = folio::synth::render(k, &spec, 500 + i as u64, &mut painter);
        write_page(&dir.join(format!("side-{i:02}")), &r, "png");
    }
}

/// The station with the misfiled stack imported, and its window on Review
/// with side 2 chosen.
fn misfiled_window(st: &Station) -> (String, Harness<'static, StationApp>) {
    test_env();
    let stack = st.dir.path().join("stack");
    misfiled_stack(&stack);
    let batch = st.import(&[], &[&stack])["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    let store = st.dir.path().join("store");
    let mut h = station_window(&st.data_dir(), &store, USUAL, "supervisor");
    h.key_press(egui::Key::F3);
    wait(&mut h, "the misfiled side", |a| {
        side_codes(a, 2) == ["misfiled_identifier"]
    });
    h.get_all_by_label_contains("label on this page · side 2")
        .next()
        .unwrap()
        .click();
    h.step();
    (batch, h)
}

fn side_codes(app: &StationApp, side: u32) -> Vec<&'static str> {
    app.snapshot
        .review
        .iter()
        .filter(|i| i.side == Some(side))
        .flat_map(|i| i.flags())
        .map(|(_, c)| c.as_str())
        .collect()
}

fn said(app: &StationApp, words: &str) -> bool {
    app.notices.iter().any(|(n, _)| n.contains(words))
}

/// Finding 8: Approve page says what it did, as the other decisions do, and
/// turning right then left says the page is back as scanned (the net turn).
#[test]
fn finding_8_approve_says_so_and_turns_are_said_as_the_net_turn() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let (_batch, mut h) = misfiled_window(&st);
    h.get_by_label("Turn right").click();
    wait(&mut h, "the turn", |a| {
        said(a, "side 2 now turned 90° right")
    });
    h.get_by_label("Turn left").click();
    wait(&mut h, "the turn back", |a| {
        said(a, "side 2 turned back to as scanned")
    });
    assert!(!said(h.state(), "270"), "{:?}", h.state().notices);
    h.get_by_label("Approve page").click();
    wait(&mut h, "the approval", |a| {
        said(
            a,
            "side 2 approved as it is: Another patient's label on this page",
        )
    });
    assert!(side_codes(h.state(), 2).is_empty());
}

/// Finding 8: the misfiled page moved to a new record for its label's
/// patient: a record of that page alone, after the batch's, in the tree, the
/// manifest and the PDFs.
#[test]
fn finding_8_a_misfiled_page_moves_to_a_new_record_for_its_labels_patient() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let (batch, mut h) = misfiled_window(&st);
    h.get_by_label("Move to").click();
    h.step();
    h.step();
    h.get_all_by_label("a new record for NHS number 401 023 2137")
        .last()
        .unwrap()
        .click();
    h.step();
    h.get_by_label("Move page").click();
    wait(&mut h, "the move", |a| {
        side_codes(a, 2).is_empty() && said(a, "side 2 moved to a new record")
    });
    let tree = st.json(&["show", &batch, "--json"]);
    let records = tree["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{tree:#}");
    assert_eq!(records[1]["nhs_number"], "4010232137", "{tree:#}");
    let sides = |r: &serde_json::Value| -> Vec<u64> {
        r["documents"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["pages"].as_array().unwrap())
            .map(|p| p["side"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(sides(&records[0]), [1, 3]);
    assert_eq!(sides(&records[1]), [2]);
    let audit = st.json(&["audit", &batch, "--json"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "page.move"
                && e["detail"] == "side 2 to a new record for NHS number 401 023 2137"
                && e["operator"] == "supervisor"),
        "{audit:#}"
    );
    approve_as_is(&st, &batch);
    let (m, dir) = st.export(&batch);
    assert_eq!(m.records.len(), 2);
    assert_eq!(
        m.records[1].patient.nhs_number.as_deref(),
        Some("4010232137")
    );
    assert_eq!(m.records[1].documents.len(), 1);
    assert_eq!(m.records[1].documents[0].pages.len(), 1);
    assert_pdfs_valid(&m, &dir);
}

/// Searchable text on demand: "Read text" asks the station for the batch's
/// text; once asked for, the batch says how far it has got instead.
#[test]
fn read_text_asks_for_a_batchs_text_and_then_shows_its_progress() {
    let mut h = review_bed(vec![side_item(7, FlagCode::Skewed, &[])], USUAL);
    h.get_by_label("Read text 01234567").click();
    h.step();
    h.step();
    let asked: Vec<String> = sent(&h)
        .into_iter()
        .filter_map(|c| match c {
            Command::RequestText(b) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(asked, [BATCH.to_string()]);
    let text = folio::batch::text::TextProgress {
        wanted: true,
        pages: 11,
        done: 4,
        failed: 1,
    };
    h.state_mut().snapshot.approval.get_mut(BATCH).unwrap().text = text;
    h.step();
    h.step();
    assert!(h.query_by_label("Read text 01234567").is_none());
    h.get_by_label("text: 4 of 11 pages read, 1 could not be read");
}
