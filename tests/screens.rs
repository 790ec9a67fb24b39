//! Each screen of the station window driven through egui_kittest on its own,
//! with a [`ScreenCtx`] built here (no workers, no database): a user action
//! must produce the right commands for the app shell, or the right state.

mod kit;

use eframe::egui;
use egui_kittest::Harness;
use folio::config::Config;
use folio::store::{Actor, ReviewItem, ReviewKind};
use folio::ui::{
    OnDemandScreen, ReviewScreen, ScanScreen, ScreenCommand, SettingsScreen, UploadScreen,
};
use folio::workers::settings::{SettingsError, SettingsForm};
use folio::workers::station::{CancelToken, Command, Event};
use kit::*;
use std::sync::Arc;

#[test]
fn scan_f5_and_start_ask_for_a_scan_on_the_chosen_scanner_with_the_batch_label() {
    let mut h = harness(Bed::new(ScanScreen::default()));
    h.step();
    h.get_by_label("Batch label").click();
    h.step();
    h.get_by_label("Batch label").type_text("box 12");
    h.step();
    h.key_press(egui::Key::F5);
    h.step();
    let scans = h.state().scans();
    assert_eq!(scans.len(), 1, "{:?}", h.state().commands);
    assert_eq!(scans[0].device, "test:0");
    assert_eq!(scans[0].label.as_deref(), Some("box 12"));
    assert!(scans[0].on_demand.is_none() && scans[0].resume.is_none());
    assert!(h.state().screen.view.scanning);
    assert!(is_disabled(&h, "Start"), "no second scan while one runs");

    // Another scanner chosen, after the scan ended: Start uses it.
    scan_event(&mut h, ended("b1"), scan_view);
    h.state_mut().scanner.device = "folio:demo".into();
    h.step();
    h.get_by_label("Start").click();
    h.step();
    let scans = h.state().scans();
    assert_eq!(scans.len(), 2);
    assert_eq!(scans[1].device, "folio:demo");
    assert!(
        scans[1].options.iter().any(|(k, _)| k == "records"),
        "{:?}",
        scans[1]
    );
}

#[test]
fn scan_stop_and_esc_send_the_scans_own_token() {
    let mut h = harness(Bed::new(ScanScreen::default()));
    h.step();
    h.get_by_label("Start").click();
    h.step();
    // Stop pressed before the station has started the scan: sent with the
    // token as soon as it comes, not lost.
    h.get_by_label("Stop").click();
    h.step();
    assert!(h.state().stops().is_empty());
    let token = CancelToken::new();
    scan_event(&mut h, Event::ScanStarted(token.clone()), scan_view);
    assert_eq!(h.state().stops(), std::slice::from_ref(&token));
    h.state_mut().commands.clear();

    scan_event(&mut h, progress(0), scan_view);
    h.get_by_label("Sides: 1");
    h.get_by_label("Stop").click();
    h.step();
    assert_eq!(h.state().stops(), std::slice::from_ref(&token));
    h.key_press(egui::Key::Escape);
    h.step();
    assert_eq!(h.state().stops(), [token.clone(), token.clone()]);
    assert!(!token.is_cancelled(), "the shell cancels, not the screen");
    assert!(
        h.state().stops()[0] != CancelToken::new(),
        "another scan's token is another token"
    );
}

#[test]
fn on_demand_starts_blank_and_an_invalid_nhs_number_blocks_the_scan() {
    let mut h = harness(Bed::new(OnDemandScreen::default()));
    h.step();
    // Blank: nothing typed, nothing scanned, nothing to send.
    h.get_by_label("type an NHS number or a hospital number");
    h.get_by_label("Sides: 0");
    h.get_by_label("Sheets: 0");
    assert!(h.query_by_label_contains("Record 1").is_none());
    assert!(is_disabled(&h, "Scan record"));
    assert!(is_disabled(&h, "Send now"));

    h.get_by_label("Patient identifier").click();
    h.step();
    h.get_by_label("Patient identifier").type_text("9434765918");
    h.step();
    h.get_by_label_contains("fails the check digit");
    assert!(is_disabled(&h, "Scan record"));
    h.get_by_label("Scan record").click();
    h.step();
    assert!(h.state().commands.is_empty(), "{:?}", h.state().commands);
}

#[test]
fn on_demand_scans_the_typed_patient_and_starts_blank_for_the_next() {
    let mut h = harness(Bed::new(OnDemandScreen::default()));
    h.step();
    h.get_by_label("Patient identifier").click();
    h.step();
    h.get_by_label("Patient identifier").type_text("9434765919");
    h.step();
    h.get_by_label_contains("valid: NHS number 943 476 5919");
    h.get_by_label("Scan record").click();
    h.step();
    let scans = h.state().scans();
    assert_eq!(scans.len(), 1);
    let (patient, _, _) = scans[0].on_demand.clone().expect("an on-demand scan");
    assert_eq!(patient.describe(), "NHS number 943 476 5919");
    assert_eq!(scans[0].device, "test:0");
    assert!(scans[0].label.is_none() && scans[0].expected_sheets.is_none());

    // The first record scanned...
    scan_event(
        &mut h,
        Event::ScanStarted(CancelToken::new()),
        on_demand_view,
    );
    for side in 0..4 {
        scan_event(&mut h, progress(side), on_demand_view);
    }
    scan_event(&mut h, ended("first"), on_demand_view);
    h.get_by_label("Sides: 4");
    // ...and the next patient's starts blank, before the station answers.
    h.get_by_label("Scan record").click();
    h.step();
    let view = &h.state().screen.view;
    assert!(view.strip.is_empty() && view.progress.is_none() && view.last_report.is_none());
    assert!(view.scanning);
    h.get_by_label("Sides: 0");
}

fn flag(id: i64) -> ReviewItem {
    ReviewItem {
        kind: ReviewKind::Flag {
            id,
            code: folio::batch::FlagCode::MisfiledIdentifier,
            detail: "another patient's label".into(),
        },
        more_flags: Vec::new(),
        barcodes: Vec::new(),
        batch_id: "0123456789abcdef".into(),
        batch_label: "box 3".into(),
        record_id: Some("r1".into()),
        patient: Some("NHS 9434765919".into()),
        side: Some(2),
        preview_sha256: None,
        thumb_sha256: None,
        neighbours: Vec::new(),
        image: None,
    }
}

#[test]
fn review_approve_page_and_the_a_key_approve_the_selected_flag() {
    let mut bed = Bed::new(ReviewScreen::default());
    bed.snapshot.review = Arc::new(vec![flag(7), flag(8)]);
    let mut h = harness(bed);
    h.step();
    h.get_by_label("To review: 2");
    h.get_by_label("Approve page").click();
    h.step();
    let approved = |h: &Harness<'static, Bed<ReviewScreen>>| -> Vec<i64> {
        h.state()
            .commands
            .iter()
            .filter_map(|c| match c {
                ScreenCommand::Station(Command::ApproveFlag(id)) => Some(*id),
                _ => None,
            })
            .collect()
    };
    assert_eq!(approved(&h), [7]);
    h.key_press(egui::Key::ArrowDown);
    h.step();
    assert_eq!(h.state().screen.selected, 1);
    h.key_press(egui::Key::A);
    h.step();
    assert_eq!(approved(&h), [7, 8]);
}

#[test]
fn review_rescans_on_the_chosen_scanner_and_esc_stops_the_rescan() {
    let mut bed = Bed::new(ReviewScreen::default());
    bed.snapshot.review = Arc::new(vec![flag(7)]);
    let mut h = harness(bed);
    h.step();
    h.get_by_label("Rescan and replace").click();
    h.step();
    let rescans: Vec<_> = h
        .state()
        .commands
        .iter()
        .filter_map(|c| match c {
            ScreenCommand::Station(Command::RescanPage { side, scanner, .. }) => {
                Some((*side, scanner.device.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(rescans, [(2, "test:0".to_string())]);
    h.step();
    assert!(is_disabled(&h, "Rescan and replace"), "one at a time");
    let token = CancelToken::new();
    h.state_mut().screen.on_rescan_started(token.clone());
    h.key_press(egui::Key::Escape);
    h.step();
    assert_eq!(h.state().stops(), [token]);
}

#[test]
fn uploads_pause_and_resume_send_their_commands() {
    let mut h = harness(Bed::new(UploadScreen {
        running: true,
        ..UploadScreen::default()
    }));
    h.step();
    h.get_by_label("Uploads: on");
    h.get_by_label("Pause uploads").click();
    h.step();
    assert!(matches!(
        h.state().commands[..],
        [ScreenCommand::Station(Command::PauseUploads)]
    ));
    h.state_mut().screen.running = false;
    h.state_mut().commands.clear();
    h.step();
    h.get_by_label("Uploads: paused");
    h.get_by_label("Resume uploads").click();
    h.step();
    assert!(matches!(
        h.state().commands[..],
        [ScreenCommand::Station(Command::ResumeUploads)]
    ));
}

fn settings_screen() -> SettingsScreen {
    let actor = Actor {
        station: "st".into(),
        operator: "op".into(),
        role: None,
    };
    let dir = std::path::Path::new("/nonexistent/folio-data");
    SettingsScreen::new(SettingsForm::new(&Config::default(), &actor, dir))
}

#[test]
fn settings_save_sends_the_form_and_shows_a_refusal() {
    let mut h = harness(Bed::new(settings_screen()));
    h.step();
    h.get_by_label("Imaging threads").click();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Imaging threads").type_text("999");
    h.step();
    h.get_by_label("Save settings").click();
    h.step();
    let forms: Vec<SettingsForm> = h
        .state()
        .commands
        .iter()
        .filter_map(|c| match c {
            ScreenCommand::Station(Command::SaveSettings(f)) => Some(f.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(forms.len(), 1, "{:?}", h.state().commands);
    assert_eq!(forms[0].threads, "999");
    h.step();
    assert!(is_disabled(&h, "Save settings"), "one save at a time");
    // The station refuses it (nothing written): the screen says why.
    let why = "threads = '999' is not a number from 0 to 256";
    h.state_mut()
        .screen
        .on_saved(Err(SettingsError::OutOfRange(why.into())));
    h.step();
    h.get_by_label(why);
    assert!(!is_disabled(&h, "Save settings"));
    h.state_mut()
        .screen
        .on_saved(Ok("/data/config.toml".into()));
    h.step();
    h.get_by_label_contains("restart the station to use them");
}

#[test]
fn a_cancel_token_is_its_own_and_stays_cancelled() {
    let a = CancelToken::new();
    let b = a.clone();
    let other = CancelToken::new();
    assert_eq!(a, b);
    assert_ne!(a, other);
    b.cancel();
    assert!(a.is_cancelled() && a.flag().load(std::sync::atomic::Ordering::SeqCst));
    assert!(!other.is_cancelled(), "a Stop reaches its own scan only");
}
