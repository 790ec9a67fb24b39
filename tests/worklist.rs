//! Issue 21, the on-demand worklist, through `folio worklist` against a
//! fixture EHR on 127.0.0.1 (`common/ehr_server.rs`: searchset Bundles with
//! `next` links, included patients and locations, a cancelled appointment, a
//! patient without an NHS number, one with a wrong check digit, a 401).

mod common;
#[path = "common/ehr_selftest.rs"]
mod ehr_selftest;
#[path = "common/ehr_server.rs"]
mod ehr_server;

use common::*;
use ehr_server::{EhrFault, EhrServer, clinic_day};
use serde_json::Value;
use std::path::Path;
use time::OffsetDateTime;

const TOKEN: &str = "ehr-token-7f3a";

/// A station whose worklist reads `ehr` (which is also its FHIR store).
fn station_for(ehr: &EhrServer, extra: &str) -> Station {
    let st = Station::new();
    std::fs::create_dir_all(st.data_dir()).unwrap();
    write_config(&st, &ehr.base_url(), extra);
    st
}

fn write_config(st: &Station, url: &str, extra: &str) {
    std::fs::write(
        st.data_dir().join("config.toml"),
        format!(
            "[upload]\nfhir_url = {url:?}\ntoken = {TOKEN:?}\ntimeout_secs = 5\n\n\
             [worklist]\nfhir_url = {url:?}\ntoken = {TOKEN:?}\n\
             locations = [\"Location/loc-cardio\", \"Location/loc-derm\"]\n\
             practitioners = [\"Practitioner/dr-jones\"]\nhorizon_working_days = 3\nlead_hours = 2\n{extra}"
        ),
    )
    .unwrap();
}

fn clinic() -> EhrServer {
    let ehr = EhrServer::start(clinic_day(OffsetDateTime::now_utc()));
    ehr.set_token(Some(TOKEN));
    ehr.set_page_size(3);
    ehr
}

/// `folio worklist --json` (and its exit code and stderr).
fn worklist(st: &Station, extra: &[&str]) -> (Value, Option<i32>, String) {
    let mut args = vec!["worklist", "--json"];
    args.extend_from_slice(extra);
    let out = st.run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("worklist JSON ({e}); stderr: {stderr}"));
    (json, out.status.code(), stderr)
}

fn ids(list: &Value) -> Vec<String> {
    list["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["appointment_id"].as_str().unwrap().to_string())
        .collect()
}

fn row<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["appointment_id"] == id)
        .unwrap_or_else(|| panic!("{id} in {list:#}"))
}

/// A record of this NHS number scanned (imported) here.
fn scanned_here(st: &Station, nhs: &str) -> String {
    use folio::synth::SideKind;
    let dir = st.dir.path().join(format!("folder-{nhs}"));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = folio::synth::StackSpec {
        dpi: 150,
        noise_sigma: 1.0,
        max_skew_deg: 0.0,
        ..Default::default()
    };
    let mut painter = folio::imaging::draw::TextPainter::new();
    let sides = [
        SideKind::RecordSheet {
            code: format!("FOLIO:REC:{nhs}:cardiology"),
            words: vec!["PATIENT".into()],
        },
        SideKind::Clinical { label: None },
    ];
    for (i, k) in sides.iter().enumerate() {
        let r = folio::synth::render(k, &spec, 7 + i as u64, &mut painter);
        write_page(&dir.join(format!("side-{i:02}")), &r, "png");
    }
    st.import(&[], &[Path::new(&dir)])["batch_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_list_comes_in_deadline_order_from_every_page_with_patients_checked_and_marked() {
    let ehr = clinic();
    let st = station_for(&ehr, "");
    let batch = scanned_here(&st, "9434765919");
    let (list, code, stderr) = worklist(&st, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    // Deadline order (start less 2 hours); the cancelled 1003, the no-show
    // 1008 (past) and 1007 (a month away) are not there; 1006 comes from
    // the search by practitioner.
    assert_eq!(
        ids(&list),
        ["apt-1005", "apt-1001", "apt-1006", "apt-1004", "apt-1002"]
    );
    let first = row(&list, "apt-1005");
    assert_eq!(first["urgency"], "overdue");
    assert_eq!(first["name"], "KHAN, Farah");
    assert!(first["nhs_number"].is_null());
    assert!(
        first["nhs_problem"]
            .as_str()
            .unwrap()
            .contains("fails its check digit"),
        "{first}"
    );
    assert_eq!(first["clinic"], "Dermatology Clinic");
    let novak = row(&list, "apt-1004");
    assert!(novak["nhs_number"].is_null());
    assert_eq!(novak["nhs_problem"], "no NHS number in the EHR");
    assert_eq!(
        row(&list, "apt-1006")["name"],
        "JONES, Tom",
        "official name"
    );
    let obrien = row(&list, "apt-1002");
    assert_eq!(obrien["name"], "O'BRIEN, Seán");
    assert_eq!(obrien["nhs_number"], "0898889693");
    assert_eq!(obrien["in_store"], true, "the store holds her documents");
    assert_eq!(obrien["urgency"], "later");
    let smith = row(&list, "apt-1001");
    assert_eq!(smith["clinic"], "Cardiology Outpatients");
    assert_eq!(smith["in_store"], false);
    assert_eq!(smith["scanned"]["batch_id"], batch.as_str());
    assert_eq!(smith["scanned"]["for_this_appointment"], false);
    assert_eq!(smith["done"], false);
    assert!(list["fetched_at"].is_string() && list["error"].is_null());
    // Every page was read, by its next link, with the EHR's token only.
    let reqs = ehr.requests();
    let pages: Vec<_> = reqs
        .iter()
        .filter(|r| {
            r.path_and_query.contains("Appointment") || r.path_and_query.contains("_getpages")
        })
        .collect();
    assert_eq!(
        pages.len(),
        3,
        "two pages by location, one by practitioner: {reqs:#?}"
    );
    assert!(pages.iter().any(|r| r.path_and_query.contains("_getpages")));
    assert!(
        reqs.iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}"))),
        "{reqs:#?}"
    );
    // The same list for people: overdue first, names as the EHR has them.
    let text = st.ok(&["worklist", "--offline"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("Fetched just now from http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        lines[1].contains("OVERDUE") && lines[1].contains("KHAN, Farah"),
        "{text}"
    );
    assert!(
        text.contains("SMITH, Alice\talready scanned today ")
            && text.contains("O'BRIEN, Seán\tin the central store"),
        "{text}"
    );
}

#[test]
fn cancelled_and_rescheduled_appointments_leave_the_list_on_the_next_refresh() {
    let ehr = clinic();
    let st = station_for(&ehr, "");
    let (before, _, _) = worklist(&st, &[]);
    assert!(ids(&before).contains(&"apt-1001".to_string()));
    let later = (OffsetDateTime::now_utc() + time::Duration::days(40))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    ehr.with_data(|d| {
        for a in &mut d.appointments {
            match a["id"].as_str() {
                Some("apt-1001") => a["status"] = "cancelled".into(),
                Some("apt-1004") => a["start"] = later.clone().into(),
                Some("apt-1003") => a["status"] = "booked".into(),
                _ => {}
            }
        }
    });
    let (after, code, stderr) = worklist(&st, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        ids(&after),
        ["apt-1005", "apt-1003", "apt-1006", "apt-1002"],
        "1001 cancelled and 1004 moved away are gone; 1003 booked again is back"
    );
}

#[test]
fn offline_the_last_list_stays_with_its_age_and_the_reason_in_words() {
    let ehr = clinic();
    let st = station_for(&ehr, "");
    let (first, _, _) = worklist(&st, &[]);
    assert_eq!(ids(&first).len(), 5);
    let asked = ehr.requests().len();
    // --offline does not ask the EHR at all.
    let (kept, code, _) = worklist(&st, &["--offline"]);
    assert_eq!(code, Some(0));
    assert_eq!(ids(&kept), ids(&first));
    assert_eq!(ehr.requests().len(), asked);
    // The laptop goes offline: nothing listens on the EHR's port any more.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/fhir", l.local_addr().unwrap())
    };
    write_config(&st, &gone, "");
    let (offline, code, stderr) = worklist(&st, &[]);
    assert_eq!(code, Some(1), "a stale list is not a success for a script");
    assert!(stderr.contains("cannot reach the EHR"), "{stderr}");
    assert_eq!(ids(&offline), ids(&first), "the last list is kept");
    assert_eq!(offline["fetched_at"], first["fetched_at"]);
    assert!(
        offline["error"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{offline:#}"
    );
    let text = String::from_utf8_lossy(&st.run(&["worklist"]).stdout).into_owned();
    assert!(
        text.starts_with("Fetched just now from http://127.0.0.1:")
            && text.contains(
                "the last try failed, so this is the last list fetched: cannot reach the EHR"
            ),
        "{text}"
    );
}

#[test]
fn refusals_and_nonsense_from_the_ehr_are_said_in_words_and_never_block() {
    let ehr = clinic();
    let st = station_for(&ehr, "");
    // Nothing fetched yet and a wrong token: said, and an empty list.
    ehr.set_token(Some("another-token"));
    let (list, code, stderr) = worklist(&st, &[]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("refused Folio's credentials (401 Unauthorized)")
            && stderr.contains("FOLIO_WORKLIST_TOKEN"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "the token is never printed");
    assert_eq!(ids(&list).len(), 0);
    assert!(list["fetched_at"].is_null());
    ehr.set_token(Some(TOKEN));
    for (fault, want) in [
        (
            EhrFault::Status(403),
            "does not let this station read appointments (403 Forbidden)",
        ),
        (EhrFault::Status(500), "answered 500"),
        (
            EhrFault::NotJson,
            "it is not FHIR JSON (an HTML or XML page)",
        ),
        (EhrFault::NotASearchset, "not a FHIR searchset Bundle"),
    ] {
        ehr.set_fault(Some(fault.clone()));
        let (_, code, stderr) = worklist(&st, &[]);
        assert_eq!(code, Some(1), "{fault:?}");
        assert!(stderr.contains(want), "{fault:?}: {stderr}");
        assert!(!stderr.contains('\u{1b}'), "{stderr}");
    }
    ehr.set_fault(None);
    let (list, code, _) = worklist(&st, &[]);
    assert_eq!(
        (code, ids(&list).len()),
        (Some(0), 5),
        "back as soon as the EHR is"
    );
    assert!(list["error"].is_null());
    // A name with control characters is kept as it came, printed escaped.
    ehr.with_data(|d| {
        for p in &mut d.patients {
            if p["id"] == "pat-a" {
                p["name"] =
                    serde_json::json!([{"use": "official", "text": "SMITH\u{1b}[2J\nAlice"}]);
            }
        }
    });
    let (list, _, _) = worklist(&st, &[]);
    assert_eq!(row(&list, "apt-1001")["name"], "SMITH\u{1b}[2J\nAlice");
    let text = st.ok(&["worklist", "--offline"]);
    assert!(
        !text.contains('\u{1b}') && text.lines().count() == 6,
        "{text}"
    );
}

#[test]
fn a_store_that_cannot_search_by_patient_leaves_the_marks_unknown_and_says_so() {
    let ehr = clinic();
    ehr.set_document_search_supported(false);
    let st = station_for(&ehr, "");
    let (list, code, stderr) = worklist(&st, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(ids(&list).len(), 5);
    assert!(
        list["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["in_store"].is_null())
    );
    assert!(
        list["store_note"]
            .as_str()
            .unwrap()
            .contains("does not answer searches by patient (400 Bad Request"),
        "{list:#}"
    );
    // And a station told not to ask does not.
    write_config(&st, &ehr.base_url(), "check_store = false\n");
    let asked = ehr.requests().len();
    worklist(&st, &[]);
    assert!(
        ehr.requests()[asked..]
            .iter()
            .all(|r| !r.path_and_query.contains("DocumentReference"))
    );
}
