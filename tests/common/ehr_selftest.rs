//! Checks the fixture EHR (tests/common/ehr_server.rs) itself: searches,
//! paging, includes, token, faults, DocumentReference counts. A module of
//! `tests/worklist.rs` (one test binary less to link).

use super::ehr_server::{EhrFault, EhrServer, clinic_day};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Percent-encodes a query value (everything but unreserved characters).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn get(url: &str, token: Option<&str>) -> (u16, String, Option<String>, String) {
    let c = reqwest::blocking::Client::new();
    let mut r = c.get(url).header("Accept", "application/fhir+json");
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let a = r.send().expect("GET");
    let status = a.status().as_u16();
    let ct = a.headers()["content-type"].to_str().unwrap().to_string();
    let www = a
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, ct, www, a.text().unwrap())
}

fn get_json(url: &str) -> Value {
    let (status, ct, _, body) = get(url, None);
    assert_eq!(status, 200, "{url}: {body}");
    assert_eq!(ct, "application/fhir+json;charset=utf-8");
    serde_json::from_str(&body).unwrap()
}

fn ids(b: &Value, mode: &str) -> Vec<String> {
    b["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == mode)
        .map(|e| {
            format!(
                "{}/{}",
                e["resource"]["resourceType"].as_str().unwrap(),
                e["resource"]["id"].as_str().unwrap()
            )
        })
        .collect()
}

fn next(b: &Value) -> Option<String> {
    b["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")
        .map(|l| l["url"].as_str().unwrap().to_string())
}

fn ts(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

/// One page of the 7-match search: a searchset, each include once, fullUrls
/// absolute; returns its matches.
fn check_page(page: &Value, base: &str) -> Vec<String> {
    assert_eq!(page["resourceType"], "Bundle");
    assert_eq!(page["type"], "searchset");
    assert_eq!(page["total"], 7);
    let m = ids(page, "match");
    let inc = ids(page, "include");
    // Each include once per page, and one patient + one location per match.
    let unique: std::collections::HashSet<_> = inc.iter().collect();
    assert_eq!(unique.len(), inc.len(), "{inc:?}");
    assert!(inc.iter().any(|i| i.starts_with("Patient/")));
    assert!(inc.iter().any(|i| i.starts_with("Location/")));
    for e in page["entry"].as_array().unwrap() {
        let r = &e["resource"];
        let url = format!(
            "{base}/{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        assert_eq!(e["fullUrl"], url.as_str());
    }
    m
}

#[test]
fn paging_includes_and_snapshot() {
    let now = OffsetDateTime::now_utc();
    let ehr = EhrServer::start(clinic_day(now));
    let base = ehr.base_url();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/fhir"));
    let q = format!(
        "{base}/Appointment?location={}&_include=Appointment%3Apatient&_include=Appointment%3Alocation",
        enc("Location/loc-cardio,Location/loc-derm")
    );
    let mut page = get_json(&q);
    let mut matches = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        let m = check_page(&page, &base);
        if m.contains(&"Appointment/apt-1004".to_string()) {
            let e = page["entry"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["resource"]["id"] == "apt-1004")
                .unwrap();
            assert_eq!(
                e["resource"]["status"], "booked",
                "the snapshot at search time"
            );
        }
        matches.extend(m);
        if pages == 1 {
            // Cancel an appointment of page 2: the paged result set keeps it as it was.
            ehr.with_data(|d| {
                let a = d
                    .appointments
                    .iter_mut()
                    .find(|a| a["id"] == "apt-1004")
                    .unwrap();
                a["status"] = "cancelled".into();
            });
        }
        match next(&page) {
            Some(url) => {
                assert!(url.starts_with(&format!("{base}?_getpages=")), "{url}");
                assert!(
                    url.contains("&_getpagesoffset=")
                        && url.ends_with("&_count=3&_bundletype=searchset")
                );
                page = get_json(&url);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let want: Vec<String> = ["1008", "1005", "1001", "1003", "1004", "1002", "1007"]
        .iter()
        .map(|n| format!("Appointment/apt-{n}"))
        .collect();
    assert_eq!(matches, want);
    let reqs = ehr.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].method, "GET");
    assert!(
        reqs[0]
            .path_and_query
            .contains("location=Location%2Floc-cardio%2CLocation%2Floc-derm")
    );
    assert!(reqs[1].path_and_query.starts_with("/fhir?_getpages="));
}

#[test]
fn status_and_count() {
    let ehr = EhrServer::start(clinic_day(OffsetDateTime::now_utc()));
    let base = ehr.base_url();
    ehr.with_data(|d| {
        let a = d
            .appointments
            .iter_mut()
            .find(|a| a["id"] == "apt-1004")
            .unwrap();
        a["status"] = "cancelled".into();
    });
    // A new search sees the change; status filter; _count smaller than page size.
    let b = get_json(&format!(
        "{base}/Appointment?status=booked%2Carrived&_count=2&location=Location%2Floc-derm"
    ));
    assert_eq!(ids(&b, "match"), ["Appointment/apt-1005"]);
    assert_eq!(b["total"], 1);
    assert!(next(&b).is_none());
    assert!(
        b["entry"].as_array().unwrap().len() == 1,
        "no _include asked"
    );
    let b = get_json(&format!("{base}/Appointment?_count=2"));
    assert_eq!(b["total"], 8);
    assert_eq!(ids(&b, "match").len(), 2);
    assert!(next(&b).unwrap().contains("_count=2"));
}

#[test]
fn date_actor_and_status_filters() {
    let now = OffsetDateTime::now_utc();
    let ehr = EhrServer::start(clinic_day(now));
    let base = ehr.base_url();
    ehr.set_page_size(100);
    let horizon = format!(
        "date=ge{}&date=lt{}",
        enc(&ts(now)),
        enc(&ts(now + time::Duration::hours(72)))
    );
    let b = get_json(&format!("{base}/Appointment?{horizon}"));
    let want: Vec<String> = ["1005", "1001", "1003", "1006", "1004", "1002"]
        .iter()
        .map(|n| format!("Appointment/apt-{n}"))
        .collect();
    assert_eq!(ids(&b, "match"), want);
    // An offset in the bound (+01:00, sent as %2B).
    let plus1 = time::UtcOffset::from_hms(1, 0, 0).unwrap();
    let b = get_json(&format!(
        "{base}/Appointment?date=ge{}&date=lt{}&location=Location%2Floc-cardio",
        enc(&ts(now.to_offset(plus1))),
        enc(&ts((now + time::Duration::hours(72)).to_offset(plus1)))
    ));
    assert_eq!(
        ids(&b, "match"),
        [
            "Appointment/apt-1001",
            "Appointment/apt-1003",
            "Appointment/apt-1002"
        ]
    );
    let b = get_json(&format!(
        "{base}/Appointment?actor=Practitioner%2Fdr-jones&{horizon}"
    ));
    assert_eq!(ids(&b, "match"), ["Appointment/apt-1006"]);
    // Both given: both must hold.
    let b = get_json(&format!(
        "{base}/Appointment?actor=Practitioner%2Fdr-jones&location=Location%2Floc-cardio"
    ));
    assert_eq!(b["total"], 0);
    assert!(b.get("entry").is_none());
    let b = get_json(&format!(
        "{base}/Appointment?status=cancelled,noshow&unknown=1"
    ));
    assert_eq!(
        ids(&b, "match"),
        ["Appointment/apt-1008", "Appointment/apt-1003"]
    );
    // A bad date: 400 with an OperationOutcome.
    let (status, _, _, body) = get(&format!("{base}/Appointment?date=ge2025-13-45T99"), None);
    assert_eq!(status, 400);
    assert!(body.contains("OperationOutcome"));
    // Reads and the dataset's facts.
    let p = get_json(&format!("{base}/Patient/pat-e"));
    assert_eq!(p["name"][0]["use"], "nickname");
    assert_eq!(p["name"][1]["use"], "official");
    assert_eq!(p["name"][1]["family"], "JONES");
    let p = get_json(&format!("{base}/Patient/pat-b"));
    assert_eq!(p["name"][0]["given"][0], "Seán");
    let c = get_json(&format!("{base}/metadata"));
    assert_eq!(c["fhirVersion"], "4.0.1");
    let a = get_json(&format!("{base}/Appointment/apt-1001"));
    let start = OffsetDateTime::parse(a["start"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(a["start"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        start,
        now.replace_nanosecond(0).unwrap() + time::Duration::hours(2)
    );
}

#[test]
fn token_faults_and_errors() {
    let ehr = EhrServer::start(clinic_day(OffsetDateTime::now_utc()));
    let base = ehr.base_url();
    let url = format!("{base}/Appointment");
    ehr.set_token(Some("s3cret"));
    let (status, ct, www, body) = get(&url, None);
    assert_eq!((status, www.as_deref()), (401, Some("Bearer")));
    assert!(ct.starts_with("application/fhir+json"));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["resourceType"],
        "OperationOutcome"
    );
    assert_eq!(get(&url, Some("wrong")).0, 401);
    assert_eq!(get(&url, Some("s3cret")).0, 200);
    // The token is checked before the fault.
    ehr.set_fault(Some(EhrFault::Status(503)));
    assert_eq!(get(&url, None).0, 401);
    let (status, _, _, body) = get(&url, Some("s3cret"));
    assert_eq!(status, 503);
    assert!(body.contains("OperationOutcome"));
    ehr.set_token(None);
    ehr.set_fault(Some(EhrFault::NotJson));
    let (status, ct, _, body) = get(&url, None);
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html"));
    assert!(body.contains("<html"));
    ehr.set_fault(Some(EhrFault::NotASearchset));
    let (status, ct, _, body) = get(&url, None);
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/fhir+json;charset=utf-8")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["resourceType"],
        "Patient"
    );
    ehr.set_fault(None);
    assert_eq!(get(&format!("{base}/Nothing"), None).0, 404);
    assert_eq!(get(&format!("{base}?_getpages=nope"), None).0, 410);
    let posted = reqwest::blocking::Client::new()
        .post(&url)
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(posted.status().as_u16(), 405);
    let reqs = ehr.requests();
    assert_eq!(reqs[0].authorization, None);
    assert_eq!(reqs[2].authorization.as_deref(), Some("Bearer s3cret"));
    assert_eq!(reqs.last().unwrap().method, "POST");
}

#[test]
fn document_reference_search() {
    let ehr = EhrServer::start(clinic_day(OffsetDateTime::now_utc()));
    let base = ehr.base_url();
    let ident = |nhs: &str| enc(&format!("https://fhir.nhs.uk/Id/nhs-number|{nhs}"));
    let b = get_json(&format!(
        "{base}/DocumentReference?subject%3Aidentifier={}&_count=1",
        ident("0898889693")
    ));
    assert_eq!(b["total"], 1);
    assert_eq!(ids(&b, "match"), ["DocumentReference/doc-2001"]);
    let b = get_json(&format!(
        "{base}/DocumentReference?subject:identifier={}&_summary=count",
        ident("0898889693")
    ));
    assert_eq!(b["total"], 1);
    assert!(b.get("entry").is_none());
    let b = get_json(&format!(
        "{base}/DocumentReference?subject%3Aidentifier={}",
        ident("9434765919")
    ));
    assert_eq!(b["total"], 0);
    ehr.set_document_search_supported(false);
    let (status, _, _, body) = get(
        &format!(
            "{base}/DocumentReference?subject%3Aidentifier={}",
            ident("0898889693")
        ),
        None,
    );
    assert_eq!(status, 400);
    let o: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(o["issue"][0]["code"], "not-supported");
    assert_eq!(
        o["issue"][0]["diagnostics"],
        "Unknown search parameter \"subject:identifier\""
    );
}

#[test]
fn nhs_numbers_in_the_dataset_check_as_documented() {
    fn valid(n: &str) -> bool {
        let d: Vec<u32> = n.chars().map(|c| c.to_digit(10).unwrap()).collect();
        let s: u32 = (0..9).map(|i| d[i] * (10 - i as u32)).sum();
        let c = (11 - s % 11) % 11;
        c != 10 && c == d[9]
    }
    let d = clinic_day(OffsetDateTime::now_utc());
    let nhs = |id: &str| {
        d.patients.iter().find(|p| p["id"] == id).unwrap()["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["system"] == super::ehr_server::NHS_SYSTEM)
            .map(|i| i["value"].as_str().unwrap().to_string())
    };
    for (id, ok) in [
        ("pat-a", true),
        ("pat-b", true),
        ("pat-d", false),
        ("pat-e", true),
    ] {
        assert_eq!(valid(&nhs(id).unwrap()), ok, "{id}");
    }
    assert_eq!(nhs("pat-c"), None);
}
