//! Issue 16, the Scan and On demand screens and the window's shell as their
//! users live in them: one test per finding (numbered as in the issue), on a
//! screen drawn alone ([`kit::Bed`]) or on the whole window with its workers,
//! at the sizes the window is used at (800x600, 1280x800, 1920x1080).

mod kit;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use folio::batch::separate::{DocumentLayout, PageLayout};
use folio::batch::{Flag, FlagCode, Layout, PatientId, RecordLayout};
use folio::ui::{OnDemandScreen, ScanScreen, Screen, StationApp};
use folio::workers::scan::ScanProgress;
use folio::workers::station::{CancelToken, Command, Event, ScanFailure, Snapshot};
use kit::*;

/// A record of one patient whose document holds sides 1 to `last`, side 2
/// carrying another patient's label.
fn misfiled_layout(last: u32) -> Layout {
    let pages = (1..=last)
        .map(|side| PageLayout {
            side,
            flags: match side {
                2 => vec![Flag::new(FlagCode::MisfiledIdentifier, "label 4010232137").on_side(2)],
                _ => Vec::new(),
            },
        })
        .collect();
    Layout {
        batch_label: Some("Ward 7 box 12".into()),
        records: vec![RecordLayout {
            id: "r1".into(),
            patient: Some(PatientId::Nhs {
                number: "9434765919".into(),
                valid: true,
            }),
            specialty: None,
            flags: Vec::new(),
            documents: vec![DocumentLayout {
                id: "d1".into(),
                doc_type: Some("letters".into()),
                pages,
            }],
        }],
        removed: Vec::new(),
    }
}

/// Progress after `side`, the batch holding `earlier` sides from before a
/// resume.
fn progress_in(side: u32, earlier: u32, layout: Layout) -> Event {
    Event::Progress(Box::new(ScanProgress {
        batch_id: "0123456789abcdef".into(),
        sides: side + 1 - earlier,
        batch_sides: side + 1,
        sides_per_minute: 60.0,
        flags: layout.flag_count(),
        side,
        sheet: side / 2,
        thumb_sha256: None,
        preview_sha256: None,
        blank: false,
        // The page checks found nothing: the flag is the separation's.
        page_flags: Vec::new(),
        layout,
        target: None,
    }))
}

/// Finding 1: On demand has its own state, blank for each patient; nothing
/// comes from the Scan screen's batch (its label, its sheets counted, its
/// counters).
#[test]
fn finding_1_on_demand_starts_blank_after_a_bureau_scan() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let mut h = station_window(
        &dir.path().join("data"),
        &dir.path().join("store"),
        USUAL,
        "j.smith",
    );
    use_demo_feeder(&mut h, 2);
    h.get_by_label("Batch label").click();
    h.step();
    h.get_by_label("Batch label").type_text("Ward 7 box 12");
    h.step();
    h.key_press(egui::Key::F5);
    wait(&mut h, "the bureau scan", |a| {
        a.scan().view.last_report.is_some() && !a.scanning()
    });
    let bureau = h.state().scan().view.counts();
    assert!(bureau.sides > 0, "{bureau:?}");

    h.key_press(egui::Key::F4);
    h.step();
    h.step();
    assert_eq!(h.state().tab(), folio::ui::Tab::OnDemand);
    h.get_by_label("Sides: 0");
    h.get_by_label("Flagged: 0");
    assert!(h.query_by_label_contains("Ward 7").is_none());
    assert!(h.query_by_label_contains("Record 1").is_none());
    // The keyboard is in the identifier field: typing goes straight in.
    assert!(h.get_by_label("Patient identifier").is_focused());
    h.get_by_label("Patient identifier").type_text("9434765919");
    h.step();
    h.get_by_label("Scan record").click();
    wait(&mut h, "the on-demand scan", |a| {
        a.on_demand().view.last_report.is_some() && !a.scanning()
    });
    let batch = h
        .state()
        .on_demand()
        .view
        .last_report
        .clone()
        .unwrap()
        .batch_id;
    wait(&mut h, "the batch list", |a| {
        a.snapshot.batches.iter().any(|b| b.id == batch)
    });
    let row = h
        .state()
        .snapshot
        .batches
        .iter()
        .find(|b| b.id == batch)
        .cloned()
        .unwrap();
    assert!(!row.label.contains("Ward 7"), "{row:?}");
    assert_eq!(row.expected_sheets, None, "{row:?}");
    // The Scan screen still shows its own batch, untouched.
    assert_eq!(h.state().scan().view.counts(), bureau);
}

/// Finding 2: flags counted live and marked on the thumbnails and the tree
/// (with a sign and words, not colour alone); the counters come from one
/// source, the whole batch, after a resume too.
#[test]
fn finding_2_flags_are_counted_and_marked_live_and_counters_agree_after_a_resume() {
    let mut h = harness(Bed::new(ScanScreen::default()));
    h.step();
    h.get_by_label("Start").click();
    h.step();
    scan_event(&mut h, Event::ScanStarted(CancelToken::new()), scan_view);
    // A resumed batch: 36 sides were scanned before, this run adds 37 to 46.
    for side in 36..46 {
        scan_event(
            &mut h,
            progress_in(side, 36, misfiled_layout(side)),
            scan_view,
        );
    }
    h.get_by_label("Sides: 46");
    h.get_by_label("Sheets: 23");
    h.get_by_label("\u{26a0} Flagged: 1");
    // The separation's flag on side 2 marks its thumbnail (scanned before the
    // resume, so not in this run's strip) and the tree.
    h.get_by_label_contains("\u{26a0} Record 1: NHS number 943 476 5919 (1 flag)");
    h.get_by_label("\u{26a0} Another patient's label on this page (side 2)");

    // A fresh batch: the flagged side is in the strip and marked there.
    let mut h = harness(Bed::new(ScanScreen::default()));
    h.step();
    h.get_by_label("Start").click();
    h.step();
    scan_event(&mut h, Event::ScanStarted(CancelToken::new()), scan_view);
    for side in 0..4 {
        scan_event(
            &mut h,
            progress_in(side, 0, misfiled_layout(side)),
            scan_view,
        );
    }
    h.get_by_label("side 2\n\u{26a0} flagged");
    h.get_by_label("side 3");
    h.get_by_label("Sides: 4");
    h.get_by_label("\u{26a0} Flagged: 1");
}

/// Finding 3: batches made within a minute share their first 8 characters;
/// each is shown by a prefix no other shares, with its label, time and
/// operator.
#[test]
fn finding_3_batches_are_told_apart_by_label_time_operator_and_a_unique_prefix() {
    let mut bed = Bed::new(ScanScreen::default());
    bed.snapshot = with_names(Snapshot {
        batches: vec![
            batch_row(
                "01a23446-7c21-7000-8000-00000000000a",
                "Ward 7 box 12",
                "j.smith",
                "scanning",
            ),
            batch_row(
                "01a23446-9d02-7000-8000-00000000000b",
                "Ward 7 box 13",
                "a.khan",
                "scanning",
            ),
        ],
        ..bed.snapshot
    });
    let mut h = harness(bed);
    h.step();
    h.get_by_label("Resume 01a23446-7");
    h.get_by_label("Resume 01a23446-9");
    assert!(h.query_by_label("Resume 01a23446").is_none());
    h.get_by_label_contains("\u{201c}Ward 7 box 12\u{201d}, started 2026-12-02 09:14 by j.smith");
    h.get_by_label_contains("\u{201c}Ward 7 box 13\u{201d}, started 2026-12-02 09:14 by a.khan");
}

fn jam(batch: &str) -> ScanFailure {
    ScanFailure::of(&folio::workers::scan::ScanError::Interrupted {
        batch: batch.into(),
        kept: 5,
        fault: folio::capture::CaptureError::Jammed { partial: false },
    })
}

fn stopped(batch: &str) -> ScanFailure {
    ScanFailure::of(&folio::workers::scan::ScanError::Interrupted {
        batch: batch.into(),
        kept: 12,
        fault: folio::capture::CaptureError::Cancelled { partial: false },
    })
}

/// The status line's message for a scan's end, as the shell gets it.
fn end_with(
    h: &mut Harness<'static, Bed<ScanScreen>>,
    ended: Result<folio::workers::ScanReport, ScanFailure>,
) -> Option<(String, bool)> {
    let ctx = h.ctx.clone();
    let bed = h.state_mut();
    let mut commands = std::mem::take(&mut bed.commands);
    let said = bed
        .screen
        .view
        .apply(&ctx, Event::ScanEnded(ended), &mut commands, &bed.snapshot);
    bed.commands = commands;
    h.step();
    said
}

/// Finding 4: a deliberate Stop is calm (no red, no command line); a fault
/// leads with what to do, in large text, with Resume (F8) beside it and
/// Close batch (F9).
#[test]
fn finding_4_a_stop_is_calm_and_a_fault_leads_with_what_to_do() {
    let batch = "0123456789abcdef";
    let mut h = harness(Bed::new(ScanScreen::default()));
    h.step();
    h.get_by_label("Start").click();
    h.step();
    scan_event(&mut h, Event::ScanStarted(CancelToken::new()), scan_view);
    let (said, error) = end_with(&mut h, Err(stopped(batch))).unwrap();
    assert!(!error, "a Stop is not an error: {said}");
    assert!(
        !said.contains("folio scan") && !said.contains(batch),
        "{said}"
    );
    h.get_by_label("Scan stopped");
    h.get_by_label("Feeder: stopped by you");
    assert!(h.query_by_label("The scan stopped").is_none());
    assert!(h.query_by_label_contains("folio scan --resume").is_none());
    // F8 resumes that batch.
    h.key_press(egui::Key::F8);
    h.step();
    let scans = h.state().scans();
    assert_eq!(scans.len(), 2);
    assert_eq!(scans[1].resume.as_deref(), Some(batch));

    // A jam: what to do first, large, then what happened.
    scan_event(&mut h, Event::ScanStarted(CancelToken::new()), scan_view);
    let (_, error) = end_with(&mut h, Err(jam(batch))).unwrap();
    assert!(error);
    let todo = "Clear the jam, put the last sheet back on the feeder, then resume";
    let big = rect_of(&h, todo);
    let what = rect_of(&h, "The scan stopped");
    assert!(big.max.y <= what.min.y, "{big:?} is not above {what:?}");
    assert!(big.height() >= 20.0, "not large: {big:?}");
    h.get_by_label("Feeder: needs you");
    h.get_by_label("Paper jam");
    assert!(
        h.query_by_label_contains("folio scan").is_none(),
        "no command line"
    );
    assert!(h.query_by_label_contains(batch).is_none(), "no whole id");
    h.get_by_label("Resume scanning").click();
    h.step();
    assert_eq!(h.state().scans()[2].resume.as_deref(), Some(batch));
    // Resolved once the scan runs again: the banner goes.
    scan_event(&mut h, Event::ScanStarted(CancelToken::new()), scan_view);
    assert!(h.query_by_label(todo).is_none());
    assert!(h.query_by_label("The scan stopped").is_none());
}

/// Finding 4, the shell: the red lines of a fault go once the scan resumes;
/// F1 lists every key with where it works.
#[test]
fn finding_4_faults_clear_on_resume_and_f1_says_where_each_key_works() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let mut h = station_window(
        &dir.path().join("data"),
        &dir.path().join("store"),
        USUAL,
        "j.smith",
    );
    use_demo_feeder(&mut h, 2);
    {
        let s = h.state_mut().scanner_mut();
        s.extra_options = vec![
            ("fault-after".into(), "5".into()),
            ("fault".into(), "jammed".into()),
        ];
    }
    h.get_by_label("Start").click();
    wait(&mut h, "the jam", |a| a.scan().view.fault.is_some());
    assert!(h.state().notices.iter().any(|(_, error)| *error));
    h.state_mut().scanner_mut().extra_options.clear();
    h.key_press(egui::Key::F8);
    wait(&mut h, "the rest of the stack", |a| {
        a.scan().view.last_report.is_some() && !a.scanning()
    });
    let errors: Vec<_> = h.state().notices.iter().filter(|(_, e)| *e).collect();
    assert!(
        errors.is_empty(),
        "red lines stay after the resume: {errors:?}"
    );
    assert!(h.query_by_label("The scan stopped").is_none());

    h.key_press(egui::Key::F1);
    h.step();
    h.get_by_label("Keyboard shortcuts");
    h.get_by_label("Where");
    for (key, _, screens) in folio::ui::KEYS {
        assert!(h.query_all_by_label(key).count() >= 1, "{key} not listed");
        assert!(h.query_all_by_label(screens).count() >= 1, "{screens}");
    }
    let keys: Vec<&str> = folio::ui::KEYS.iter().map(|k| k.0).collect();
    for k in ["F5", "F8", "F9", "F10", "Esc", "A", "P / W / 1"] {
        assert!(keys.contains(&k), "{k} is not in the help");
    }
    assert!(
        folio::ui::KEYS
            .iter()
            .any(|(k, _, s)| *k == "Esc" && s.contains("Review")),
        "Esc on Review is explained"
    );
}

/// Finding 6: the label and the sheets counted belong to one batch: the
/// next starts blank.
#[test]
fn finding_6_the_batch_label_and_count_reset_for_the_next_batch() {
    let mut h = harness(Bed::new(ScanScreen::default()));
    h.step();
    h.get_by_label("Batch label").click();
    h.step();
    h.get_by_label("Batch label").type_text("Ward 7 box 12");
    h.state_mut().screen.expected_sheets = 30;
    h.step();
    h.key_press(egui::Key::F5);
    h.step();
    let scans = h.state().scans();
    assert_eq!(scans[0].label.as_deref(), Some("Ward 7 box 12"));
    assert_eq!(scans[0].expected_sheets, Some(30));
    assert_eq!(h.state().screen.label, "");
    assert_eq!(h.state().screen.expected_sheets, 0);
    assert_eq!(h.get_by_label("Batch label").value().as_deref(), Some(""));
}

/// A page of A4 proportions, as the live view and the strip get it.
fn a4_band(h: &mut Harness<'static, Bed<ScanScreen>>) {
    let (w, rows) = (420u32, 594u32);
    scan_event(
        h,
        Event::Band {
            side: 0,
            first_row: 0,
            width: w,
            total_rows: Some(rows),
            rows: vec![200u8; (w * rows) as usize],
        },
        scan_view,
    );
}

/// The live page's image rectangle: the largest image drawn.
fn page_rect<S>(h: &Harness<'static, S>) -> egui::Rect {
    h.query_all_by_role(Role::Image)
        .map(|n| n.rect())
        .max_by(|a, b| a.area().total_cmp(&b.area()))
        .expect("a page image")
}

/// Finding 7: the page is fitted whole by default (not cropped to its top
/// half), width and 1:1 a key away; at 800x600 the controls are whole and
/// the page is still large.
#[test]
fn finding_7_the_page_fits_whole_and_the_screen_holds_at_800x600() {
    for size in [SMALL, LARGE] {
        let mut h = harness_at(Bed::new(ScanScreen::default()), size);
        h.step();
        h.get_by_label("Start").click();
        h.step();
        scan_event(&mut h, Event::ScanStarted(CancelToken::new()), scan_view);
        a4_band(&mut h);
        scan_event(&mut h, progress_in(0, 0, misfiled_layout(0)), scan_view);
        h.step();
        let page = page_rect(&h);
        let window = egui::Rect::from_min_size(egui::Pos2::ZERO, size);
        assert!(
            window.contains_rect(page),
            "{size:?}: page at {page:?} is cut"
        );
        let ratio = page.height() / page.width();
        assert!((ratio - 594.0 / 420.0).abs() < 0.02, "{page:?}");
        assert!(page.height() >= 200.0, "{size:?}: page only {page:?}");
        for label in [
            "Start",
            "Stop",
            "Resume",
            "Close batch",
            "Sides: 1",
            "Whole page",
        ] {
            assert_inside(&h, label, size);
        }
        // W: the width; 1: one pixel a point; P: whole page again.
        h.key_press(egui::Key::W);
        h.step();
        let width = page_rect(&h);
        assert!(width.width() > page.width() + 1.0, "{width:?} vs {page:?}");
        h.key_press(egui::Key::Num1);
        h.step();
        assert!((page_rect(&h).width() - 420.0).abs() < 1.0);
        h.key_press(egui::Key::P);
        h.step();
        assert_eq!(page_rect(&h), page);
    }
}

/// Finding 9: counters readable from the feeder (at least 24 px), the
/// keyboard starting in the first field, keys for Resume and Close.
#[test]
fn finding_9_large_counters_focus_in_the_first_field_and_keys_for_resume_and_close() {
    let batch = "0123456789abcdef";
    let mut bed = Bed::new(ScanScreen::default());
    bed.snapshot = with_names(Snapshot {
        batches: vec![batch_row(batch, "box", "j.smith", "scanning")],
        ..bed.snapshot
    });
    let mut h = harness(bed);
    h.state_mut().screen.opened();
    h.step();
    h.step();
    assert!(h.get_by_label("Batch label").is_focused());
    for counter in ["Sides: 0", "Sheets: 0", "Flagged: 0", "Removed: 0"] {
        let r = rect_of(&h, counter);
        assert!(r.height() >= 24.0, "{counter} is {r:?}");
    }
    // F9 closes the batch a Stop left open.
    h.state_mut().screen.view.begin();
    scan_event(&mut h, Event::ScanStarted(CancelToken::new()), scan_view);
    end_with(&mut h, Err(stopped(batch)));
    h.key_press(egui::Key::F9);
    h.step();
    assert!(
        kit::sent(&h)
            .iter()
            .any(|c| matches!(c, Command::CloseBatch(b) if b == batch)),
        "{:?}",
        kit::sent(&h)
    );
}

/// Finding 9, for field teams: On demand scans the record with F5 once the
/// identifier checks out, and a stopped record is resumed (F8) or closed
/// (F9) from the keyboard, as on the Scan screen.
#[test]
fn finding_9_on_demand_scans_resumes_and_closes_from_the_keyboard() {
    let batch = "0123456789abcdef";
    let mut h = harness(Bed::new(OnDemandScreen::default()));
    h.state_mut().screen.opened();
    h.step();
    h.step();
    h.key_press(egui::Key::F5);
    h.step();
    assert!(
        kit::sent(&h).is_empty(),
        "no identifier yet: {:?}",
        kit::sent(&h)
    );
    h.get_by_label("Patient identifier").type_text("9434765919");
    h.step();
    h.key_press(egui::Key::F5);
    h.step();
    let scans = |h: &Harness<'static, Bed<OnDemandScreen>>| {
        kit::sent(h)
            .into_iter()
            .filter_map(|c| match c {
                Command::Scan(r) => Some(r),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let first = scans(&h);
    assert_eq!(first.len(), 1, "{:?}", kit::sent(&h));
    assert!(first[0].on_demand.is_some() && first[0].resume.is_none());
    scan_event(
        &mut h,
        Event::ScanStarted(CancelToken::new()),
        on_demand_view,
    );
    scan_event(
        &mut h,
        Event::ScanEnded(Err(stopped(batch))),
        on_demand_view,
    );
    h.get_by_label("Scan stopped");
    h.key_press(egui::Key::F8);
    h.step();
    let all = scans(&h);
    assert_eq!(all.len(), 2, "{:?}", kit::sent(&h));
    assert_eq!(all[1].resume.as_deref(), Some(batch));
    scan_event(
        &mut h,
        Event::ScanStarted(CancelToken::new()),
        on_demand_view,
    );
    scan_event(
        &mut h,
        Event::ScanEnded(Err(stopped(batch))),
        on_demand_view,
    );
    h.key_press(egui::Key::F9);
    h.step();
    assert!(
        kit::sent(&h)
            .iter()
            .any(|c| matches!(c, Command::CloseBatch(b) if b == batch)),
        "{:?}",
        kit::sent(&h)
    );
}

/// Finding 10: text, warnings and errors meet WCAG AA contrast on the
/// panels and banners in both themes, and every control of the Scan and On
/// demand screens has an accessible name.
#[test]
fn finding_10_contrast_meets_wcag_aa_and_every_control_is_named() {
    use folio::ui::style;
    for theme in [egui::Theme::Dark, egui::Theme::Light] {
        let v = style::visuals(theme);
        for (name, colour) in [
            ("text", v.text_color()),
            ("strong text", v.strong_text_color()),
            ("warning", v.warn_fg_color),
            ("error", v.error_fg_color),
        ] {
            for (bg_name, bg) in [
                ("panel", v.panel_fill),
                ("window", v.window_fill),
                (
                    "error banner",
                    style::banner(v.panel_fill, v.error_fg_color),
                ),
                (
                    "warning banner",
                    style::banner(v.panel_fill, v.warn_fg_color),
                ),
            ] {
                let c = style::contrast(colour, bg);
                assert!(c >= 4.5, "{theme:?}: {name} on {bg_name} is {c:.2}:1");
            }
        }
    }
    fn named<S: Screen + 'static>(screen: S) {
        let mut h = harness_at(Bed::new(screen), SMALL);
        h.step();
        for role in [
            Role::Button,
            Role::TextInput,
            Role::ComboBox,
            Role::SpinButton,
        ] {
            for n in h.query_all_by_role(role) {
                let label = n.accesskit_node().label().unwrap_or_default();
                assert!(!label.trim().is_empty(), "a {role:?} without a name");
            }
        }
    }
    named(ScanScreen::default());
    named(OnDemandScreen::default());
}

/// The window is the same window at every size: the status line and the
/// tabs stay whole at 800x600.
#[test]
fn the_window_holds_at_800x600() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let mut h: Harness<'static, StationApp> = station_window(
        &dir.path().join("data"),
        &dir.path().join("store"),
        SMALL,
        "j.smith",
    );
    wait(&mut h, "the scanner list", |a| {
        !a.snapshot.devices.is_empty()
    });
    for tab in ["Scan", "Review", "On demand", "Uploads", "Settings", "Help"] {
        assert_inside(&h, tab, SMALL);
    }
    for label in ["Start", "Batch label", "Sides: 0"] {
        assert_inside(&h, label, SMALL);
    }
}
