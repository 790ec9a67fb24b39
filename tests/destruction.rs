//! From scan to shredder (issue 18): a batch scanned on the demo feeder,
//! closed, sampled, approved, uploaded to the local MHD test server and
//! verified there is held; once its hold date passes (an injected clock) a
//! supervisor and a witness certify its destruction. The certificate's PDF
//! passes `qpdf --check` and Apache PDFBox Preflight's PDF/A-1b validation
//! and carries the batch and page counts; its JSON
//! lists every document's hash, matching the server's copy; the register's
//! chain holds. A legal hold stops certification; lifting it allows it.
//! Real binary, real SQLite file, real HTTP server on 127.0.0.1.

mod common;

use common::fhir_server::FhirServer;
use common::paper::*;
use common::*;
use serde_json::Value;
use std::process::{Command, Output};

fn certify(st: &Station, batches: &str, now: &str) -> Output {
    let mut c = st.cmd();
    c.env_remove("FOLIO_PIN")
        .args(["--operator", SUPERVISOR.0])
        .env("FOLIO_PIN", SUPERVISOR.1)
        .env("FOLIO_WITNESS_PIN", WITNESS.1)
        .env("FOLIO_TEST_NOW", now)
        .args([
            "destruction",
            "certify",
            "--batches",
            batches,
            "--method",
            "cross-cut shredding, contractor Shredco (DIN 66399 P-4)",
            "--witness",
            WITNESS.0,
            "--json",
        ]);
    c.output().unwrap()
}

#[test]
fn from_scan_to_a_signed_destruction_certificate() {
    let server = FhirServer::start();
    let st = station(&server);
    let id = scan(&st, 3);
    sample_approve_upload(&st, &id);
    let b = batch_listed(&st, &id);
    assert_eq!(b["state"], "paper_held", "{b}");
    let hold_until = b["hold_until"].as_str().unwrap().to_string();
    assert!(
        hold_until > days_on(29) && hold_until < days_on(61),
        "{hold_until}"
    );

    // Not before its date, and not without knowing where the paper is.
    let early = certify(&st, &id, &days_on(1));
    assert!(!early.status.success());
    assert!(
        said(&early).contains("nothing was destroyed"),
        "{}",
        said(&early)
    );
    let later = days_on(70);
    let out = certify(&st, &id, &later);
    assert!(
        said(&out).contains("where its paper is was never recorded"),
        "{}",
        said(&out)
    );
    ok(as_who(
        &st,
        Some(OPERATOR),
        None,
        &["paper", &id, "--location", "BOX-0042 trolley 3"],
    ));

    // An operator may not authorise; nobody witnesses their own authorisation.
    let mut c = st.cmd();
    c.args(["--operator", SUPERVISOR.0])
        .env("FOLIO_PIN", SUPERVISOR.1)
        .env("FOLIO_WITNESS_PIN", SUPERVISOR.1)
        .env("FOLIO_TEST_NOW", &later)
        .args([
            "destruction",
            "certify",
            "--batches",
            &id,
            "--method",
            "shred",
            "--witness",
            SUPERVISOR.0,
        ]);
    let out = c.output().unwrap();
    assert!(
        said(&out).contains("cannot witness their own authorisation"),
        "{}",
        said(&out)
    );

    let due = ok(as_who(
        &st,
        None,
        Some(&later),
        &["destruction", "due", "--json"],
    ));
    let due: Value = serde_json::from_str(&due).unwrap();
    assert_eq!(due[0]["paper_location"], "BOX-0042 trolley 3", "{due}");
    assert_eq!(due[0]["batches"][0]["batch_id"], id.as_str());
    assert_eq!(due[0]["batches"][0]["refusals"], serde_json::json!([]));

    let out = certify(&st, &id, &later);
    let done: Value = serde_json::from_str(&ok(out)).unwrap();
    assert_eq!(batch_listed(&st, &id)["state"], "destroyed");
    check_certificate(&st, &server, &done, &id);
    // Destroyed is for good: not certified twice.
    let again = certify(&st, &id, &later);
    assert!(said(&again).contains("it is destroyed"), "{}", said(&again));
    let register: Value = st.json(&["destruction", "register", "--json"]);
    assert_eq!(register.as_array().unwrap().len(), 1);
    assert_eq!(register[0]["witness"], WITNESS.0);
    purge_keeps_the_history(&st, &id);
}

/// After destruction the cache may go: page images purged, rows, hashes,
/// receipts and the certificate kept; the batch says so and is not exported.
fn purge_keeps_the_history(st: &Station, id: &str) {
    let before: Value = st.json(&["status", "--json"]);
    assert_eq!(before["batches"]["destroyed"], 1, "{before}");
    let images = before["disk"]["images_bytes"].as_u64().unwrap();
    let purge = ["purge", "--destroyed", "--json"];
    assert!(!as_who(st, Some(OPERATOR), None, &purge).status.success());
    let done: Value =
        serde_json::from_str(&ok(as_who(st, Some(SUPERVISOR), None, &purge))).unwrap();
    assert_eq!(done["batches"], 1, "{done}");
    assert!(done["files"].as_u64().unwrap() > 0 && done["pages"].as_u64().unwrap() > 0);
    let after: Value = st.json(&["status", "--json"]);
    assert!(
        after["disk"]["images_bytes"].as_u64().unwrap() < images,
        "{after}"
    );
    let shown = st.ok(&["show", id]);
    assert!(shown.contains("page images purged"), "{shown}");
    let to = st.dir.path().join("after-purge");
    let out = as_who(
        st,
        Some(OPERATOR),
        None,
        &["export", id, "--to", to.to_str().unwrap()],
    );
    assert!(
        said(&out).contains("purged from this station"),
        "{}",
        said(&out)
    );
    assert!(receipts_all_verified(st, id));
    st.ok(&["check"]);
}

fn receipts_all_verified(st: &Station, id: &str) -> bool {
    let r: Value = st.json(&["receipts", id, "--json"]);
    let r = r.as_array().unwrap();
    !r.is_empty() && r.iter().all(|r| r["verified"] == true)
}

/// The batch's manifest, exported by the operator.
fn export(st: &Station, id: &str) -> folio::batch::manifest::Manifest {
    let to = st.dir.path().join(format!("export-{id}"));
    ok(as_who(
        st,
        Some(OPERATOR),
        None,
        &["export", id, "--to", to.to_str().unwrap()],
    ));
    serde_json::from_slice(&std::fs::read(to.join("manifest.json")).unwrap()).unwrap()
}

/// The certificate's files are as registered; the PDF is sound and says
/// what went; the JSON lists every document with the server's hash.
fn check_certificate(st: &Station, server: &FhirServer, done: &Value, id: &str) {
    let pdf = std::path::PathBuf::from(done["pdf"].as_str().unwrap());
    let json = std::path::PathBuf::from(done["json"].as_str().unwrap());
    let pdf_bytes = std::fs::read(&pdf).unwrap();
    let json_bytes = std::fs::read(&json).unwrap();
    assert_eq!(
        folio::store::sha256_hex(&pdf_bytes),
        done["pdf_sha256"].as_str().unwrap()
    );
    assert_eq!(
        folio::store::sha256_hex(&json_bytes),
        done["json_sha256"].as_str().unwrap()
    );
    let qpdf = Command::new("qpdf")
        .arg("--check")
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(
        qpdf.status.success(),
        "qpdf: {}",
        String::from_utf8_lossy(&qpdf.stdout)
    );
    let cert: Value = serde_json::from_slice(&json_bytes).unwrap();
    assert_eq!(cert["format"], "folio.destruction-certificate/1");
    assert_eq!(cert["authorised_by"]["operator"], SUPERVISOR.0);
    assert_eq!(cert["witness"]["operator"], WITNESS.0);
    let m = export(st, id);
    // The certificate and every document PDF, as exported, are PDF/A-1b.
    let exported = common::pdfa::pdfs_under(&st.dir.path().join(format!("export-{id}")));
    assert!(!exported.is_empty());
    common::pdfa::assert_pdfa_1b(&[vec![pdf.clone()], exported].concat());
    let pages: u32 = m
        .records
        .iter()
        .flat_map(|r| &r.documents)
        .map(|d| d.pdf.pages)
        .sum();
    let documents = m.records.iter().map(|r| r.documents.len()).sum::<usize>();
    assert_eq!(cert["totals"]["batches"], 1);
    assert_eq!(cert["totals"]["records"], m.records.len());
    assert_eq!(cert["totals"]["documents"], documents);
    assert_eq!(cert["totals"]["pages"], pages);
    let text = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout).replace('\n', " ");
    assert!(
        text.contains(&format!(
            "1 batch(es), {} records, {documents} documents, {pages} pages",
            m.records.len()
        )),
        "{text}"
    );
    assert!(text.contains(id), "the batch is named: {text}");
    assert!(text.contains("BOX-0042 trolley 3"), "{text}");
    assert!(text.contains("Siân O'Connor"), "{text}");
    check_against_server(server, &cert, documents);
    check_masked(&m, &json_bytes, &text);
}

/// Apache PDFBox Preflight (Debian's `libpdfbox2-java`, installed by
/// `installer/setup.sh --tests`) says the file is PDF/A-1b: exit 0 only
/// when valid.
/// Every document the JSON lists is on the server with that hash.
fn check_against_server(server: &FhirServer, cert: &Value, documents: usize) {
    server.with(|s| {
        let listed: Vec<&Value> = cert["batches"][0]["records"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["documents"].as_array().unwrap())
            .collect();
        assert_eq!(listed.len(), documents);
        for d in listed {
            let id = d["document_id"].as_str().unwrap();
            let stored = &s.docs[&format!("urn:uuid:{id}")];
            let url = stored.resource["content"][0]["attachment"]["url"]
                .as_str()
                .unwrap();
            let held = &s.binary_data[url.rsplit('/').next().unwrap()];
            assert_eq!(
                d["sha256"].as_str().unwrap(),
                folio::store::sha256_hex(held)
            );
            assert_eq!(d["receipt"]["read_sha256"], d["sha256"]);
        }
    });
}

/// Full identifiers in the JSON, masked to their last four on the PDF.
fn check_masked(m: &folio::batch::manifest::Manifest, json: &[u8], text: &str) {
    for r in m.records.iter() {
        if let Some(nhs) = &r.patient.nhs_number {
            assert!(String::from_utf8_lossy(json).contains(nhs.as_str()));
            let digits: String = nhs.chars().filter(|c| c.is_ascii_digit()).collect();
            assert!(
                !text.replace(' ', "").contains(&digits),
                "{nhs} unmasked on the PDF"
            );
            assert!(text.contains(&digits[digits.len() - 4..]));
        }
    }
}

/// `folio hold ARGS` as the supervisor.
fn hold(st: &Station, args: &[&str]) -> Output {
    let mut all = vec!["hold"];
    all.extend_from_slice(args);
    as_who(st, Some(SUPERVISOR), None, &all)
}

#[test]
fn a_legal_hold_stops_certification_and_lifting_it_allows_it() {
    let server = FhirServer::start();
    let st = station(&server);
    let id = scan(&st, 2);
    sample_approve_upload(&st, &id);
    let location = ["paper", &id, "--location", "BOX-7"];
    ok(as_who(&st, Some(OPERATOR), None, &location));
    let later = days_on(70);
    // Only a supervisor places a hold, and a reason is required.
    let place = ["hold", "place", &id, "--kind", "inquiry", "--reason"];
    let out = as_who(&st, Some(OPERATOR), None, &[&place[..], &["x"]].concat());
    assert!(
        said(&out).contains("may not place or lift a legal hold"),
        "{}",
        said(&out)
    );
    let out = hold(&st, &[&place[1..], &["  "]].concat());
    assert!(
        said(&out).contains("the reason is required"),
        "{}",
        said(&out)
    );
    let shown = st.json(&["show", &id, "--json"]);
    let record = shown["records"][0]["id"].as_str().unwrap();
    let why = "Public inquiry instruction 4: do not destroy";
    ok(hold(
        &st,
        &[&place[1..], &[why, "--record", record]].concat(),
    ));
    let out = certify(&st, &id, &later);
    assert!(said(&out).contains("legal hold"), "{}", said(&out));
    assert_ne!(batch_listed(&st, &id)["state"], "destroyed");
    let holds: Value = st.json(&["hold", "list", "--json"]);
    assert_eq!(holds.as_array().unwrap().len(), 1);
    assert_eq!(holds[0]["reason"], why);
    let n = holds[0]["id"].as_i64().unwrap().to_string();
    assert!(!hold(&st, &["lift", &n, "--reason", ""]).status.success());
    ok(hold(
        &st,
        &["lift", &n, "--reason", "the inquiry released it"],
    ));
    let listed = |all: bool| {
        let args: &[&str] = if all {
            &["hold", "list", "--all", "--json"]
        } else {
            &["hold", "list", "--json"]
        };
        st.json(args).as_array().unwrap().len()
    };
    assert_eq!((listed(false), listed(true)), (0, 1));
    let out = certify(&st, &id, &later);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(batch_listed(&st, &id)["state"], "destroyed");
    let audit = ok(as_who(&st, None, None, &["audit", &id]));
    for action in [
        "hold.place",
        "hold.lift",
        "paper.location",
        "paper.held",
        "paper.destruction_due",
        "paper.destroyed",
    ] {
        assert!(audit.contains(action), "{action} not in {audit}");
    }
}
