//! The audit trail proves itself, its tail included (issue 17): someone with
//! the database file drops the append-only triggers with the `sqlite3` tool
//! and changes an event, removes one from the middle, or removes the last
//! events (with the station's own record of what it sent, too). `folio
//! check` finds each: the hash chain for the first two, the chain's head
//! that every delivered batch carried to the central store for the tail.

mod common;

use common::*;
use folio::synth::StackSpec;

/// A station with one imported record's batch (not approved); its id.
fn one_record() -> (Station, String) {
    imported_station(
        "",
        &StackSpec {
            records: 1,
            dpi: 150,
            max_skew_deg: 0.0,
            ..Default::default()
        },
    )
}

/// A station whose batch was delivered to a folder store; the batch id.
fn delivered() -> (Station, String) {
    let (st, batch) = one_record();
    let store = st.dir.path().join("store");
    std::fs::write(
        st.data_dir().join("config.toml"),
        format!("[upload]\nfolder = {store:?}\n"),
    )
    .unwrap();
    approve_as_is(&st, &batch);
    st.ok(&["upload"]);
    // Events after the delivery, as a station goes on working.
    st.ok(&[
        "export",
        &batch,
        "--to",
        st.dir.path().join("x").to_str().unwrap(),
    ]);
    (st, batch)
}

/// Runs SQL on the station's database with the sqlite3 tool.
fn sqlite3(st: &Station, sql: &str) {
    let out = std::process::Command::new("sqlite3")
        .arg(st.data_dir().join("folio.sqlite3"))
        .arg(sql)
        .output()
        .expect("the sqlite3 tool (installer/setup.sh --tests installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes the events from `seq` on, and the station's record of the
/// anchors it sent.
fn remove_tail_and_anchors(st: &Station, seq: i64) {
    sqlite3(
        st,
        &format!(
            "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq >= {seq}; DELETE FROM audit_anchors;"
        ),
    );
}

fn check_fails(st: &Station, words: &str) {
    let out = st.run(&["check"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "check passed: {said}");
    assert!(said.contains(words), "{words:?} not in {said}");
}

fn anchor_seq(st: &Station) -> i64 {
    let conn = rusqlite::Connection::open(st.data_dir().join("folio.sqlite3")).unwrap();
    conn.query_row("SELECT max(seq) FROM audit_anchors", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn an_untouched_trail_checks_against_the_central_stores_anchor() {
    let (st, batch) = delivered();
    let out = st.ok(&["check"]);
    let seq = anchor_seq(&st);
    assert!(
        out.contains(&format!(
            "it holds event {seq} as the central store keeps it"
        )),
        "{out}"
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            st.dir
                .path()
                .join("store")
                .join(&batch)
                .join("manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["audit_head"]["seq"], seq);
    assert_eq!(manifest["audit_head"]["hash"].as_str().unwrap().len(), 64);
}

#[test]
fn a_changed_event_is_found() {
    let (st, _) = delivered();
    sqlite3(
        &st,
        "DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'nothing happened' WHERE seq = 2;",
    );
    check_fails(&st, "audit event 2 was altered");
}

#[test]
fn an_event_removed_from_the_middle_is_found() {
    let (st, _) = delivered();
    sqlite3(
        &st,
        "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 3;",
    );
    check_fails(&st, "was altered or an event before it was removed");
}

#[test]
fn a_removed_tail_is_found_by_the_anchor_the_station_remembers() {
    let (st, _) = delivered();
    let seq = anchor_seq(&st);
    sqlite3(
        &st,
        &format!("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq >= {seq};"),
    );
    check_fails(
        &st,
        &format!("the audit chain is shorter than its anchor: event {seq} was sent to folder"),
    );
}

#[test]
fn a_removed_tail_and_the_stations_record_of_it_are_found_by_the_central_store() {
    let (st, _) = delivered();
    let seq = anchor_seq(&st);
    remove_tail_and_anchors(&st, seq);
    check_fails(
        &st,
        &format!("event {seq} was kept by the central store in"),
    );
    // And a rewritten tail (the same length, other events) differs from it.
    let (st, _) = delivered();
    let seq = anchor_seq(&st);
    sqlite3(
        &st,
        &format!(
            "DROP TRIGGER audit_no_update; DELETE FROM audit_anchors; \
             UPDATE audit SET hash = 'f00d' WHERE seq = {seq};"
        ),
    );
    check_fails(&st, "audit event");
}

#[test]
fn a_removed_tail_and_the_stations_record_of_it_are_found_by_the_fhir_servers_provenance() {
    let (st, batch) = one_record();
    let server = common::fhir_server::FhirServer::start();
    std::fs::write(
        st.data_dir().join("config.toml"),
        format!("[upload]\nfhir_url = {:?}\n", server.base),
    )
    .unwrap();
    approve_as_is(&st, &batch);
    st.ok(&["upload"]);
    // The record's Provenance on the server carries the chain's head.
    let provenances = server.state.lock().unwrap().resources("Provenance");
    assert_eq!(provenances.len(), 1, "{provenances:?}");
    let head = provenances[0].1["extension"][0]["valueString"]
        .as_str()
        .expect("the audit head on the Provenance")
        .to_string();
    let seq: i64 = head.split(':').next().unwrap().parse().unwrap();
    let out = st.run(&["check"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "it holds event {seq} as the central store keeps it"
        )),
        "{said}"
    );
    remove_tail_and_anchors(&st, seq);
    check_fails(
        &st,
        &format!("event {seq} was kept by the FHIR server in the Provenance of record"),
    );
}
