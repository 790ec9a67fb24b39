//! Accountable scanning in the window (issue 17), driven through
//! egui_kittest with the real workers, SQLite and the demo feeder: the window
//! opens on its sign-in screen, an operator scans and is refused the
//! approval, the window locks (Ctrl+L, idle) while a scan goes on, and a
//! supervisor who did not scan the batch walks its sample and approves it.

mod common;
mod kit;

use common::*;
use eframe::egui;
use egui_kittest::Harness;
use folio::batch::roles::Role;
use folio::store::{NewOperator, Store};
use folio::ui::StationApp;
use kit::*;

const STATION: &str = "test-station";

/// The station's accounts: an admin, an operator and a supervisor.
fn accounts(data: &std::path::Path) {
    std::fs::create_dir_all(data).unwrap();
    let mut store = Store::open(data).unwrap();
    let admin = NewOperator {
        id: "a.admin",
        name: "Ann Admin",
        role: Role::Admin,
        secret: "246810",
    };
    store.init_operators(STATION, &admin).unwrap();
    let by = store.sign_in(STATION, "a.admin", "246810").unwrap();
    for (id, name, role, secret) in [
        ("j.op", "Jo Operator", Role::Operator, "135790"),
        ("m.sup", "Mo Supervisor", Role::Supervisor, "112233"),
    ] {
        let new = NewOperator {
            id,
            name,
            role,
            secret,
        };
        store.add_operator(&by, &new).unwrap();
    }
}

fn window(st: &Station) -> Harness<'static, StationApp> {
    accounts(&st.data_dir());
    station_window(
        &st.data_dir(),
        &st.dir.path().join("store"),
        egui::vec2(1280.0, 860.0),
        "nobody",
    )
}

fn sign_in(h: &mut Harness<'static, StationApp>, id: &str, pin: &str) {
    assert!(h.state().locked());
    h.get_by_label("Operator id").click();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Operator id").type_text(id);
    h.key_press(egui::Key::Enter);
    h.step();
    h.get_by_label("PIN or passphrase").type_text(pin);
    h.key_press(egui::Key::Enter);
    wait(h, "the PIN checked", |a| !a.sign_in_screen().waiting);
}

fn notices(app: &StationApp) -> String {
    app.notices
        .iter()
        .map(|(t, _)| t.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn an_operator_is_refused_the_approval_and_a_supervisor_who_did_not_scan_samples_and_approves() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let mut h = window(&st);
    h.step();
    // Nothing but the sign-in screen, its id field taking the keyboard.
    assert!(h.state().locked());
    assert!(h.query_by_label("Operator id").is_some());
    assert!(
        h.query_by_label("Review").is_none(),
        "a screen shows while locked"
    );
    sign_in(&mut h, "j.op", "000000");
    assert!(h.state().locked());
    let said = h.state().sign_in_screen().message.clone().unwrap();
    assert!(said.1 && said.0.contains("wrong PIN"), "{said:?}");
    sign_in(&mut h, "j.op", "135790");
    assert!(!h.state().locked(), "{}", notices(h.state()));
    assert_eq!(h.state().actor().role, Some(Role::Operator));
    h.step();
    assert!(h.query_by_label_contains("j.op (operator) at ").is_some());

    let batch = operator_scans_and_is_refused(&mut h);
    // Ctrl+L locks; the supervisor signs in.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::L);
    h.step();
    assert!(h.state().locked());
    sign_in(&mut h, "m.sup", "112233");
    assert!(!h.state().locked(), "{}", notices(h.state()));
    assert_eq!(h.state().actor().operator, "m.sup");
    h.key_press(egui::Key::F3);
    approve_every_flag(&mut h, &batch);
    walk_the_sample_and_approve(&mut h, &batch);
    // Who did what, in which role.
    let store = Store::open(&st.data_dir()).unwrap();
    let events = store.audit_events(Some(&batch)).unwrap();
    let by = |action: &str| {
        events
            .iter()
            .find(|e| e.action == action)
            .map(|e| (e.operator.clone(), e.role.clone()))
            .unwrap_or_else(|| panic!("no {action}"))
    };
    assert_eq!(by("batch.create"), ("j.op".into(), "operator".into()));
    assert_eq!(by("sample.draw"), ("m.sup".into(), "supervisor".into()));
    assert_eq!(by("sample.pass"), ("m.sup".into(), "supervisor".into()));
    assert_eq!(by("batch.approve"), ("m.sup".into(), "supervisor".into()));
    assert!(store.check().is_ok());
}

/// The operator scans two folders on the demo feeder, and may not approve
/// the batch nor check its sample; the batch.
fn operator_scans_and_is_refused(h: &mut Harness<'static, StationApp>) -> String {
    // The operator scans two folders on the demo feeder.
    use_demo_feeder(h, 2);
    h.key_press(egui::Key::F5);
    wait(h, "the demo scan", |a| {
        a.scan().view.last_report.is_some() && !a.scan().view.scanning
    });
    let batch = h.state().scan().view.last_report.clone().unwrap().batch_id;
    h.key_press(egui::Key::F3);
    wait(h, "the batch in review", |a| {
        a.snapshot.approval.contains_key(&batch)
    });
    // Approving is not theirs: the window says so, and the station refuses
    // the command if it is sent all the same.
    h.step();
    let words = "an operator may not approve a batch: ask a supervisor";
    assert!(
        h.query_by_label_contains(words).is_some(),
        "the window does not say {words:?}"
    );
    h.state_mut()
        .send(folio::workers::station::Command::ApproveBatch {
            batch: batch.clone(),
            overrides: Default::default(),
        });
    h.step();
    assert!(notices(h.state()).contains(words), "{}", notices(h.state()));
    h.state_mut()
        .send(folio::workers::station::Command::DrawSample(batch.clone()));
    assert!(
        notices(h.state()).contains("an operator may not inspect a batch's sample"),
        "{}",
        notices(h.state())
    );

    batch
}

/// The sample drawn and walked with one key per side, then the approval.
fn walk_the_sample_and_approve(h: &mut Harness<'static, StationApp>, batch: &str) {
    let name = h.state().batch_name(batch);
    // Not yet: the sample comes first.
    h.step();
    assert!(
        h.query_by_label_contains("have not been sampled").is_some(),
        "no word of the sample"
    );
    h.get_by_label_contains(&format!("Draw and check sample {name}"))
        .click();
    wait(h, "the sample drawn", |a| {
        a.snapshot.samples.contains_key(batch)
    });
    let sides = h.state().snapshot.samples[batch].sides.clone();
    assert!(sides.len() >= 5, "{sides:?}");
    // One key per verdict: Y for each sampled side, in order.
    for (i, side) in sides.iter().enumerate() {
        wait(h, "the sampled side shown", |a| {
            a.snapshot.samples[batch].verdicts.len() == i
        });
        h.step();
        assert!(
            h.query_by_label_contains(&format!("Passes (Y): side {side}"))
                .is_some(),
            "side {side} is not shown"
        );
        h.key_press(egui::Key::Y);
    }
    wait(h, "the sample passed", |a| {
        matches!(
            a.snapshot.approval[batch].sample,
            folio::batch::sample::SampleState::Passed { .. }
        )
    });
    h.key_press(egui::Key::Escape);
    h.step();
    h.get_by_label_contains(&format!("Approve batch {name}: send"))
        .click();
    wait(h, "the batch approved", |a| {
        a.snapshot
            .batches
            .iter()
            .any(|b| b.id == batch && b.state.as_str() != "closed")
    });
}

#[test]
fn the_window_locks_when_idle_and_on_ctrl_l_while_a_scan_goes_on() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let mut h = window(&st);
    sign_in(&mut h, "j.op", "135790");
    assert!(!h.state().locked());
    use_demo_feeder(&mut h, 3);
    h.state_mut().scanner_mut().demo_speed = 240;
    h.key_press(egui::Key::F5);
    wait(&mut h, "the scan running", |a| a.scanning());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::L);
    h.step();
    assert!(h.state().locked());
    assert!(h.query_by_label_contains("A scan is running").is_some());
    // The scan goes on behind the lock, to its end.
    wait(&mut h, "the scan ended while locked", |a| {
        a.locked() && a.scan().view.last_report.is_some() && !a.scanning()
    });
    // Nothing passes while locked.
    h.state_mut()
        .send(folio::workers::station::Command::PauseUploads);
    assert!(
        notices(h.state()).contains("sign in first"),
        "{}",
        notices(h.state())
    );
    // The same operator signs back in (the id is kept, the PIN is not).
    assert_eq!(h.state().sign_in_screen().id, "j.op");
    sign_in(&mut h, "j.op", "135790");
    assert!(!h.state().locked());
    // Idle past [accounts] idle_lock_minutes (10 by default) locks again.
    h.state_mut()
        .pretend_idle(std::time::Duration::from_secs(11 * 60));
    h.step();
    assert!(h.state().locked());
    assert!(
        h.query_by_label_contains("Locked after 10 minutes without use")
            .is_some()
    );
}

#[test]
fn a_station_without_accounts_runs_as_a_clearly_marked_demo_account() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let mut h = station_window(
        &st.data_dir(),
        &st.dir.path().join("store"),
        egui::vec2(1280.0, 860.0),
        "visitor",
    );
    h.step();
    assert!(!h.state().locked());
    assert!(
        h.query_by_label_contains("Demo account (visitor)")
            .is_some()
    );
    // Ctrl+L has nobody to sign in as: nothing happens.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::L);
    h.step();
    assert!(!h.state().locked());
    // Accounts made meanwhile (by `folio operators init`) end the demo.
    accounts(&st.data_dir());
    h.state_mut()
        .send(folio::workers::station::Command::Refresh);
    wait(&mut h, "the accounts seen", |a| a.snapshot.accounts);
    h.step();
    assert!(h.state().locked());
    assert!(h.query_by_label("Operator id").is_some());
}

/// The flag codes of a batch, as stored.
fn flag_codes(data: &std::path::Path, batch: &str) -> Vec<String> {
    let tree = Store::open(data).unwrap().tree(batch).unwrap();
    tree.records
        .iter()
        .flat_map(|r| {
            r.flags.iter().map(|f| f.code.as_str().to_string()).chain(
                r.documents
                    .iter()
                    .flat_map(|d| &d.pages)
                    .flat_map(|p| p.flags.iter().map(|f| f.code.as_str().to_string())),
            )
        })
        .collect()
}

/// Scans `records` demo folders (after the test target when `target`); the
/// batch.
fn demo_scan(h: &mut Harness<'static, StationApp>, records: u32, target: bool) -> String {
    let last = |a: &StationApp| {
        a.scan()
            .view
            .last_report
            .as_ref()
            .map(|r| r.batch_id.clone())
    };
    let before = last(h.state());
    use_demo_feeder(h, records);
    h.state_mut().scanner_mut().demo_target = target;
    h.key_press(egui::Key::F1);
    h.key_press(egui::Key::F5);
    wait(h, "the demo scan", |a| {
        last(a).is_some() && last(a) != before && !a.scan().view.scanning
    });
    last(h.state()).unwrap()
}

#[test]
fn a_sitting_proves_itself_with_the_test_target_first_and_another_operator_starts_anew() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let mut h = window(&st);
    sign_in(&mut h, "j.op", "135790");
    // The target first: measured, shown under the counters, no page, no flag.
    let first = demo_scan(&mut h, 1, true);
    let target = h
        .state()
        .scan()
        .view
        .target
        .clone()
        .expect("the target's result");
    assert!(target.passed, "{target:?}");
    h.step();
    assert!(h.query_by_label_contains("Test target passed").is_some());
    assert!(
        h.query_by_label_contains(" lp/mm at ").is_some(),
        "the figures are not shown"
    );
    assert!(!flag_codes(&st.data_dir(), &first).contains(&"no_session_target".to_string()));
    // Locked and unlocked by the same operator: the same sitting, proven.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::L);
    h.step();
    sign_in(&mut h, "j.op", "135790");
    assert!(
        h.state().scan().view.target.is_some(),
        "still j.op's session"
    );
    let second = demo_scan(&mut h, 1, false);
    assert!(!flag_codes(&st.data_dir(), &second).contains(&"no_session_target".to_string()));
    // Someone else at the station starts a sitting of their own: without a
    // target, their sides are flagged.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::L);
    h.step();
    sign_in(&mut h, "m.sup", "112233");
    assert!(
        h.state().scan().view.target.is_none(),
        "j.op's target is not m.sup's"
    );
    let third = demo_scan(&mut h, 1, false);
    let codes = flag_codes(&st.data_dir(), &third);
    assert_eq!(
        codes.iter().filter(|c| *c == "no_session_target").count(),
        1,
        "{codes:?}"
    );
    let store = Store::open(&st.data_dir()).unwrap();
    let sessions = store.sessions(10).unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_eq!(sessions[0].operator, "m.sup");
    assert!(!sessions[0].proven() && sessions[1].proven());
    assert_eq!(sessions[1].vendor, "Folio");
}
