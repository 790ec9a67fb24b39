//! Issue 16, the Settings and Uploads screens as a bureau supervisor uses
//! them: finding 5 (fields sized to their text, paths with a Browse button,
//! every setting marked as used after a restart, a Save that names what needs
//! the restart and a refusal in words) and finding 3 on the Uploads screen
//! (batches told apart by label, time, operator and a unique name; states in
//! words; paused uploads said). Each screen is drawn alone ([`kit::Bed`]) at
//! the sizes the window is used at (800x600 and 1920x1080).

mod kit;

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use folio::batch::OutboxState;
use folio::config::Config;
use folio::store::{Actor, BatchRow, OutboxRow};
use folio::ui::{ScreenCommand, SettingsScreen, UploadScreen};
use folio::workers::settings::SettingsForm;
use folio::workers::station::Command;
use kit::*;

const DATA_DIR: &str = "/srv/folio/bureau-station-07/records-data";
const PATTERN: &str = "^[A-Z]{2}[0-9]{6}$";
const FHIR_URL: &str = "https://records.example.nhs.uk/fhir/R4";

/// The form the station runs with: a data folder, a pattern and a URL as a
/// site sets them.
fn running_form() -> SettingsForm {
    let actor = Actor {
        station: "scan-01".into(),
        operator: "j.smith".into(),
        role: None,
    };
    let cfg = Config {
        hospital_number_pattern: PATTERN.into(),
        ..Config::default()
    };
    let mut form = SettingsForm::new(&cfg, &actor, std::path::Path::new(DATA_DIR));
    form.fhir_url = FHIR_URL.into();
    form
}

fn settings_at(size: egui::Vec2) -> Harness<'static, Bed<SettingsScreen>> {
    let mut h = harness_at(Bed::new(SettingsScreen::new(running_form())), size);
    h.step();
    h.step();
    h
}

/// The width `text` takes in the body font of the harness.
fn text_width<S>(h: &Harness<'static, S>, text: &str) -> f32 {
    let font = egui::TextStyle::Body.resolve(&h.ctx.global_style());
    h.ctx
        .fonts_mut(|f| f.layout_no_wrap(text.into(), font, egui::Color32::WHITE))
        .size()
        .x
}

/// The field named `label` is whole inside the window and wide enough for
/// `text` (and at least `min` wide).
fn assert_shows_whole<S>(
    h: &Harness<'static, S>,
    label: &str,
    text: &str,
    min: f32,
    size: egui::Vec2,
) {
    assert_inside(h, label, size);
    let r = rect_of(h, label);
    let needed = text_width(h, text) + 8.0;
    assert!(
        r.width() >= needed.max(min),
        "{label:?} is {:.0} px wide at {size:?}: {text:?} needs {needed:.0} (and at least {min})",
        r.width()
    );
}

/// Finding 5: at 800x600 the data folder, the pattern and the URL are drawn
/// wide enough for their whole text ("a.tes", "^[A-:" and a data folder cut
/// to four characters before), and nothing of the form leaves the window.
#[test]
fn finding_5_settings_fields_show_their_whole_text_at_800x600() {
    let h = settings_at(SMALL);
    assert_shows_whole(&h, "Data folder", DATA_DIR, 300.0, SMALL);
    assert_shows_whole(&h, "Hospital-number pattern", PATTERN, 160.0, SMALL);
    assert_shows_whole(&h, "FHIR server URL", FHIR_URL, 300.0, SMALL);
    assert_shows_whole(&h, "Operator signed in", "j.smith", 160.0, SMALL);
    for label in ["Upload folder", "Imaging threads", "Memory budget (MiB)"] {
        assert_inside(&h, label, SMALL);
    }
    // The fields line up: labels in a column of their own.
    let left = rect_of(&h, "Data folder").left();
    for label in [
        "Hospital-number pattern",
        "Operator signed in",
        "FHIR server URL",
    ] {
        let l = rect_of(&h, label).left();
        assert!(
            (l - left).abs() < 1.0,
            "{label:?} starts at {l}, the data folder at {left}"
        );
    }
}

/// Finding 5: on a full HD monitor paths and the URL take the width there is;
/// short fields still show their whole text.
#[test]
fn finding_5_settings_paths_use_the_width_of_a_full_hd_window() {
    let h = settings_at(LARGE);
    assert_shows_whole(&h, "Data folder", DATA_DIR, 1000.0, LARGE);
    assert_shows_whole(&h, "Upload folder", "", 1000.0, LARGE);
    assert_shows_whole(&h, "FHIR server URL", FHIR_URL, 1000.0, LARGE);
    assert_shows_whole(&h, "Hospital-number pattern", PATTERN, 160.0, LARGE);
}

/// Finding 5: every setting is used from the next start, and says so next to
/// its label.
#[test]
fn finding_5_every_setting_is_marked_after_restart() {
    let h = settings_at(SMALL);
    let marks: Vec<egui::Rect> = h
        .query_all_by_label("(after restart)")
        .map(|n| n.rect())
        .collect();
    for label in [
        "Operator signed in",
        "Hospital-number pattern",
        "FHIR server URL",
        "Upload folder",
        "Imaging threads",
        "Memory budget (MiB)",
        "Data folder",
    ] {
        // The field (its label, beside the mark, is left of it).
        let field = rect_of(&h, label);
        assert!(
            marks.iter().any(|m| m.right() <= field.left()
                && (m.center().y - field.center().y).abs() < 6.0),
            "no \"(after restart)\" beside {label:?} at {field:?}; marks at {marks:?}"
        );
    }
    assert!(marks.len() >= 7, "{marks:?}");
}

/// Finding 5: each folder has a Browse button, named for screen readers,
/// beside its field and inside the window at both sizes.
#[test]
fn finding_5_browse_buttons_are_named_and_inside_the_window() {
    for size in [SMALL, LARGE] {
        let h = settings_at(size);
        for (button, field) in [
            ("Browse for the upload folder", "Upload folder"),
            ("Browse for the data folder", "Data folder"),
        ] {
            assert_inside(&h, button, size);
            let (b, f) = (rect_of(&h, button), rect_of(&h, field));
            assert!(
                b.left() >= f.right() && (b.center().y - f.center().y).abs() < 4.0,
                "{button:?} at {b:?} is not beside {field:?} at {f:?} ({size:?})"
            );
            assert!(!is_disabled(&h, button));
        }
    }
}

/// The forms the screen sent to be saved.
fn saves(h: &Harness<'static, Bed<SettingsScreen>>) -> Vec<SettingsForm> {
    h.state()
        .commands
        .iter()
        .filter_map(|c| match c {
            ScreenCommand::Station(Command::SaveSettings(f)) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

fn retype(h: &mut Harness<'static, Bed<SettingsScreen>>, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label(label).type_text(text);
    h.step();
}

/// Finding 5: after a Save the screen names the fields whose change waits
/// for a restart (only those), and keeps saying so through a later refusal.
#[test]
fn finding_5_a_save_names_the_fields_that_need_a_restart() {
    let mut h = settings_at(SMALL);
    retype(&mut h, "Operator signed in", "a.jones");
    retype(&mut h, "Data folder", "/srv/folio/elsewhere");
    h.get_by_label("Save settings").click();
    h.step();
    let sent = saves(&h);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].operator, "a.jones");
    h.state_mut()
        .screen
        .on_saved(Ok("/srv/folio/elsewhere/config.toml".into()));
    h.step();
    let line = h
        .get_by_label_contains("Restart needed: ")
        .accesskit_node()
        .value()
        .unwrap_or_default();
    assert!(
        line.starts_with("Restart needed: Operator signed in, Data folder"),
        "{line}"
    );
    for unchanged in ["pattern", "threads", "URL", "Memory"] {
        assert!(!line.contains(unchanged), "{line}");
    }
    h.get_by_label_contains("Saved to /srv/folio/elsewhere/config.toml");

    // A later Save refused: the restart is still needed, and said.
    retype(&mut h, "Imaging threads", "999");
    h.get_by_label("Save settings").click();
    h.step();
    h.state_mut()
        .screen
        .on_saved(Err(folio::workers::settings::SettingsError::OutOfRange(
            "threads = '999' is not a number from 0 to 256".into(),
        )));
    h.step();
    h.get_by_label("Not saved:");
    h.get_by_label_contains("Restart needed: Operator signed in, Data folder");
}

/// Finding 5: a pattern that is not a valid one is refused in words the
/// supervisor can act on, with nothing saved and no restart asked for.
#[test]
fn finding_5_an_invalid_pattern_shows_not_saved_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let actor = Actor {
        station: "scan-01".into(),
        operator: "j.smith".into(),
        role: None,
    };
    let form = SettingsForm::new(&Config::default(), &actor, dir.path());
    let mut h = harness_at(Bed::new(SettingsScreen::new(form)), SMALL);
    h.step();
    retype(&mut h, "Hospital-number pattern", "^[A-");
    h.get_by_label("Save settings").click();
    h.step();
    let sent = saves(&h);
    assert_eq!(sent.len(), 1);
    // What the station does with the form (on its own thread in the window).
    let answer = folio::workers::settings::save(&sent[0]);
    h.state_mut().screen.on_saved(answer);
    h.step();
    h.get_by_label("Not saved:");
    h.get_by_label("the hospital-number pattern is not valid: unclosed character class");
    assert_inside(&h, "Not saved:", SMALL);
    assert!(h.query_by_label_contains("Restart needed").is_none());
    assert!(!dir.path().join("config.toml").exists());
}

fn batch(id: &str, label: &str, operator: &str, created: &str) -> BatchRow {
    BatchRow {
        created: created.into(),
        ..batch_row(id, label, operator, "approved")
    }
}

fn queued(b: &BatchRow, state: OutboxState, attempts: u32) -> OutboxRow {
    OutboxRow {
        batch_id: b.id.clone(),
        label: b.label.clone(),
        priority: 1,
        queued_at: "2026-12-02T10:00:00.000Z".into(),
        state,
        attempts,
        next_attempt_at: "2026-12-02T10:00:00.000Z".into(),
        last_error: (state == OutboxState::Parked)
            .then(|| "the central store refused it: 403 forbidden".into()),
        target: None,
        done_at: (state == OutboxState::Done).then(|| "2026-12-02T10:05:30.000Z".into()),
    }
}

/// Three batches made within a minute (their ids share their first eight
/// characters), one waiting, one parked, one delivered.
fn uploads_bed(running: bool) -> Bed<UploadScreen> {
    let a = batch(
        "01a23446-aaaa-4000-8000-000000000001",
        "Ward 7 box 12",
        "j.smith",
        "2026-12-02T09:14:05.120Z",
    );
    let b = batch(
        "01a23446-bbbb-4000-8000-000000000002",
        "Ward 7 box 13",
        "a.jones",
        "2026-12-02T09:14:48.000Z",
    );
    let c = batch(
        "7f00aa11-cccc-4000-8000-000000000003",
        "Cardiology 3\u{202e}",
        "j.smith",
        "2026-12-01T16:40:00.000Z",
    );
    let mut bed = Bed::new(UploadScreen {
        running,
        ..UploadScreen::default()
    });
    bed.snapshot.outbox = vec![
        queued(&a, OutboxState::Queued, 0),
        queued(&b, OutboxState::Parked, 5),
        queued(&c, OutboxState::Done, 1),
    ];
    bed.snapshot.batches = vec![a, b, c];
    bed.snapshot.names =
        folio::batch::short_names(bed.snapshot.batches.iter().map(|b| b.id.as_str()));
    bed.snapshot.upload_target = "folder /srv/store".into();
    bed
}

/// Finding 3 on Uploads: each row shows the batch's label, when it was made,
/// by whom, and a name no other batch shares; Retry uses that name and
/// retries that batch.
#[test]
fn finding_3_upload_rows_show_label_time_operator_and_unique_name() {
    for size in [SMALL, LARGE] {
        let mut h = harness_at(uploads_bed(true), size);
        h.step();
        h.step();
        h.get_by_label("Ward 7 box 12");
        h.get_by_label("Ward 7 box 13");
        // Outside text is shown printable: the direction mark is escaped.
        h.get_by_label_contains("Cardiology 3");
        assert!(h.query_by_label("Cardiology 3\u{202e}").is_none());
        // Made within the same minute: the labels and names tell them apart.
        assert_eq!(h.query_all_by_label("made 2026-12-02 09:14").count(), 2);
        h.get_by_label("made 2026-12-01 16:40");
        h.get_by_label("by a.jones");
        assert_eq!(h.query_all_by_label("by j.smith").count(), 2);
        let names = &h.state().snapshot.names;
        let (na, nb) = (
            names["01a23446-aaaa-4000-8000-000000000001"].clone(),
            names["01a23446-bbbb-4000-8000-000000000002"].clone(),
        );
        assert_ne!(na, nb);
        h.get_by_label(&na);
        h.get_by_label(&nb);
        assert_inside(&h, &nb, size);
        assert!(
            h.query_by_label("01a23446").is_none(),
            "an ambiguous name is shown"
        );
        let retry = format!("Retry {nb}");
        assert_inside(&h, &retry, size);
        h.get_by_label(&retry).click();
        h.step();
        assert!(matches!(
            &h.state().commands[..],
            [ScreenCommand::Station(Command::RetryUpload(id))]
                if id == "01a23446-bbbb-4000-8000-000000000002"
        ));
    }
}

/// Uploads: states in words, not stored codes; paused uploads said in a line
/// of their own and on the rows that wait for them.
#[test]
fn uploads_say_states_in_words_and_when_they_are_paused() {
    let mut h = harness_at(uploads_bed(false), SMALL);
    h.step();
    h.step();
    h.get_by_label("Uploads: paused");
    assert_inside(&h, "Uploads: paused", SMALL);
    assert_inside(&h, "Resume uploads", SMALL);
    h.get_by_label("waiting: uploads are paused");
    h.get_by_label("stopped: press Retry once the cause is fixed");
    h.get_by_label("the central store refused it: 403 forbidden");
    h.get_by_label("done");
    h.get_by_label("sent 2026-12-02 10:05");
    h.get_by_label_contains("delivered");
    for code in ["queued", "parked"] {
        assert!(
            h.query_by_label(code).is_none(),
            "the stored code {code:?} is shown"
        );
    }

    // Uploads on: the waiting batch waits to be sent, nothing says paused.
    h.state_mut().screen.running = true;
    h.step();
    h.get_by_label("Uploads: on");
    h.get_by_label("waiting to be sent");
    assert!(h.query_by_label_contains("paused").is_none());
}

/// A bucket set under [upload.s3] is where uploads go: the screen says so
/// (its FHIR and folder fields are empty), inside the small window.
#[test]
fn an_s3_bucket_from_the_file_is_named_on_the_screen() {
    let actor = Actor {
        station: "scan-01".into(),
        operator: "j.smith".into(),
        role: None,
    };
    let mut cfg = Config::default();
    cfg.upload.s3 = Some(folio::upload::s3::S3Config {
        endpoint: "https://s3.records.example.nhs.uk".into(),
        bucket: "case-notes".into(),
        ..Default::default()
    });
    let form = SettingsForm::new(&cfg, &actor, std::path::Path::new(DATA_DIR));
    let mut h = harness_at(Bed::new(SettingsScreen::new(form)), SMALL);
    h.step();
    h.step();
    let said = "Uploads go to the S3 bucket case-notes at https://s3.records.example.nhs.uk/, as [upload.s3] in config.toml says; a FHIR server URL typed here takes its place.";
    assert_inside(&h, said, SMALL);
    // Without one, nothing is said.
    let h = settings_at(SMALL);
    assert!(h.query_by_label_contains("S3").is_none());
}

/// Issue 22, item 1: the screen says whether the data folder's disk is
/// encrypted, and that scanning is refused when the station requires it.
#[test]
fn the_data_folders_disk_encryption_is_said_with_the_policy() {
    use folio::batch::at_rest::AtRest;
    let mut h = settings_at(SMALL);
    h.state_mut().snapshot.at_rest = Some(AtRest::Plain {
        device: "/dev/nvme0n1p2".into(),
        fs: "ext4".into(),
    });
    h.state_mut().cfg.require_encrypted_disk = true;
    h.step();
    h.step();
    assert_inside(
        &h,
        "The data folder is NOT encrypted at rest: it is on /dev/nvme0n1p2 (ext4) with no encryption layer. Scanning is refused here: this station requires an encrypted disk.",
        SMALL,
    );
    h.state_mut().snapshot.at_rest = Some(AtRest::Encrypted {
        device: "/dev/mapper/luks-7c1e".into(),
        how: "dm-crypt LUKS2".into(),
    });
    h.step();
    h.step();
    h.get_by_label(
        "The data folder is encrypted at rest (dm-crypt LUKS2, device /dev/mapper/luks-7c1e). This station requires it.",
    );
}
