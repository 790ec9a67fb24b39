//! The Destruction screen (issue 18), driven through egui_kittest with the
//! real workers and SQLite: a batch verified in the local MHD test server
//! whose hold date has passed (an injected clock) is listed under where its
//! paper is; the supervisor signed in at the window ticks it, says how the
//! paper goes, a witness signs in beside them, and the certificate is
//! written and listed. The screen says why the button cannot be pressed
//! until all of that is there.

mod common;
mod kit;

use common::fhir_server::FhirServer;
use common::paper::*;
use common::*;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use folio::ui::StationApp;
use kit::*;

fn window(st: &Station) -> Harness<'static, StationApp> {
    test_env();
    let cfg = folio::config::Config::load(&st.data_dir()).unwrap();
    let actor = folio::store::Actor {
        station: "test-station".into(),
        operator: "nobody".into(),
        role: None,
    };
    let app = StationApp::new(st.data_dir(), cfg, actor, std::sync::Arc::new(|| {})).unwrap();
    Harness::builder()
        .with_size(egui::vec2(1280.0, 900.0))
        .build_ui_state(|ui, app: &mut StationApp| app.frame(ui), app)
}

fn sign_in(h: &mut Harness<'static, StationApp>, (id, pin): (&str, &str)) {
    h.get_by_label("Operator id").click();
    h.step();
    h.get_by_label("Operator id").type_text(id);
    h.key_press(egui::Key::Enter);
    h.step();
    h.get_by_label("PIN or passphrase").type_text(pin);
    h.key_press(egui::Key::Enter);
    wait(h, "the PIN checked", |a| !a.locked());
}

fn type_into(h: &mut Harness<'static, StationApp>, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

#[test]
fn a_supervisor_and_a_witness_certify_a_destruction_in_the_window() {
    let server = FhirServer::start();
    let st = station(&server);
    let id = scan(&st, 2);
    sample_approve_upload(&st, &id);
    let location = ["paper", &id, "--location", "BOX-9 trolley 2"];
    ok(as_who(&st, Some(OPERATOR), None, &location));
    // SAFETY: the only test of this binary, before its window starts any
    // thread: the clock the window judges hold dates by, 70 days on.
    unsafe { std::env::set_var("FOLIO_TEST_NOW", days_on(70)) };
    let mut h = window(&st);
    sign_in(&mut h, SUPERVISOR);
    h.key_press(egui::Key::F12);
    wait(&mut h, "the due batch", |a| {
        a.snapshot.paper.iter().any(|r| r.batch_id == id && r.due)
    });
    h.get_by_label("BOX-9 trolley 2");
    assert!(
        h.query_by_label_contains("tick the batches whose paper is destroyed")
            .is_some()
    );
    let name = h.state().snapshot.names[&id].clone();
    h.get_by_label_contains(&name).click();
    h.step();
    assert!(
        h.query_by_label_contains("say how the paper is destroyed")
            .is_some()
    );
    type_into(&mut h, "Method", "cross-cut shredding, contractor Shredco");
    assert!(
        h.query_by_label_contains("a second person signs in as witness")
            .is_some()
    );
    type_into(&mut h, "Witness (account)", WITNESS.0);
    type_into(&mut h, "Witness's PIN", WITNESS.1);
    h.get_by_label("Certify destruction of 1 batch(es)").click();
    wait(&mut h, "the certificate", |a| {
        !a.snapshot.certificates.is_empty()
    });
    let entry = h.state().snapshot.certificates[0].clone();
    assert_eq!(entry.batches, vec![id.clone()]);
    assert_eq!(
        (entry.authorised_by.as_str(), entry.witness.as_str()),
        (SUPERVISOR.0, WITNESS.0)
    );
    assert!(
        h.state().destruction().witness_pin.is_empty(),
        "the PIN is not kept"
    );
    let notices: Vec<String> = h.state().notices.iter().map(|(t, _)| t.clone()).collect();
    assert!(
        notices
            .iter()
            .any(|n| n.contains(&entry.certificate_id) && n.contains("destroyed")),
        "{notices:?}"
    );
    h.get_by_label(&entry.certificate_id);
    assert_eq!(batch_listed(&st, &id)["state"], "destroyed");
}
