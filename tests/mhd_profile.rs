//! The test FHIR server as a STRICT ITI-65 Document Recipient for IHE MHD
//! 4.2.x Minimal (tests/common/fhir_server.rs): Folio's Bundles pass it and
//! are stored exactly once, re-sends create nothing, and the checker itself
//! refuses a Bundle that breaks any one constraint of the profile, with 422
//! naming the element.

mod common;

use common::fhir_server::{self, FhirServer, MHD_LIST_TYPES, SOURCE_ID};
use common::*;
use folio::synth::StackSpec;
use serde_json::{Value, json};
use std::time::Duration;

/// A station with one imported batch of `records` patients, approved as it is.
fn approved_batch(records: usize, seed: u64) -> (Station, String) {
    let (st, id) = imported_station(
        "[upload]\nretry_base_ms = 20\nretry_max_ms = 300\nmax_attempts = 4\ntimeout_secs = 2\n",
        &StackSpec {
            seed,
            records,
            dpi: 150,
            duplex: false,
            ..Default::default()
        },
    );
    approve_as_is(&st, &id);
    (st, id)
}

/// Uploads to a fresh strict server keeping every Bundle; fails with the
/// server's violations if it refused any.
fn upload_captured(st: &Station) -> FhirServer {
    let server = FhirServer::start();
    server.with(|s| s.capture = true);
    let out = st.run(&["upload", "--fhir", &server.base]);
    let invalid = server.with(|s| s.invalid.clone());
    assert!(
        invalid.is_empty(),
        "the strict MHD Minimal recipient refused Folio's Bundle:\n  {}",
        invalid.join("\n  ")
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server
}

/// The server holds one List per record and one DocumentReference and one
/// Binary per document, linked by their server ids (fullUrls rewritten).
fn assert_exactly_once(server: &FhirServer, records: usize, documents: usize) {
    server.with(|s| {
        assert!(s.invalid.is_empty(), "violations: {:?}", s.invalid);
        assert_eq!(s.count("List"), records, "Lists stored");
        assert_eq!(
            s.count("DocumentReference"),
            documents,
            "DocumentReferences stored"
        );
        assert_eq!(s.count("Binary"), documents, "Binaries stored");
        let docs: Vec<(String, Value)> = s.resources("DocumentReference");
        let binaries: Vec<String> = s
            .resources("Binary")
            .into_iter()
            .map(|(id, _)| format!("Binary/{id}"))
            .collect();
        let mut listed = Vec::new();
        for (_, list) in s.resources("List") {
            for e in list["entry"].as_array().expect("List.entry") {
                listed.push(e["item"]["reference"].as_str().unwrap().to_string());
            }
            // Identifiers survive storage untouched (none was a fullUrl).
            for i in list["identifier"].as_array().unwrap() {
                let v = i["value"].as_str().unwrap();
                assert!(
                    v.starts_with("urn:oid:") || v.starts_with("urn:uuid:"),
                    "{v}"
                );
            }
        }
        listed.sort();
        let mut want: Vec<String> = docs
            .iter()
            .map(|(id, _)| format!("DocumentReference/{id}"))
            .collect();
        want.sort();
        assert_eq!(
            listed, want,
            "each List names its stored DocumentReferences"
        );
        for (_, d) in &docs {
            let url = d["content"][0]["attachment"]["url"].as_str().unwrap();
            // Rewritten from the Bundle's fullUrl, or the Binary's own URL
            // when it was stored first (`binaries = "separate"`).
            assert!(
                binaries
                    .iter()
                    .any(|b| url == b || url.ends_with(&format!("/{b}"))),
                "{url} is a stored Binary"
            );
            assert!(
                d["masterIdentifier"]["value"]
                    .as_str()
                    .unwrap()
                    .starts_with("urn:uuid:")
            );
        }
    });
}

fn document_count(st: &Station, batch: &str) -> (usize, usize) {
    let (m, _) = st.export(batch);
    let docs = m.records.iter().map(|r| r.documents.len()).sum();
    (m.records.len(), docs)
}

#[test]
fn strict_recipient_accepts_folios_bundles_and_a_resend_creates_nothing() {
    let (st, batch) = approved_batch(2, 41);
    let server = upload_captured(&st);
    let (records, docs) = document_count(&st, &batch);
    assert!(docs >= records && records == 2);
    assert_exactly_once(&server, records, docs);
    // The very Bundles again: every conditional create matches.
    let bundles = server.with(|s| s.bundles.clone());
    assert_eq!(bundles.len(), records, "one Bundle per record");
    for b in &bundles {
        let (status, answer) = server.post(b);
        assert_eq!(status, 200, "{answer}");
        let statuses: Vec<&str> = answer["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["response"]["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses.len(), b["entry"].as_array().unwrap().len());
        assert!(
            statuses.iter().all(|s| s.starts_with("200")),
            "a re-send creates nothing: {statuses:?}"
        );
    }
    assert_exactly_once(&server, records, docs);
}

#[test]
fn strict_recipient_binaries_sent_first_are_checked_and_a_resend_creates_nothing() {
    let (st, batch) = imported_station(
        "[upload]\nretry_base_ms = 20\nmax_attempts = 4\ntimeout_secs = 2\n[upload.mhd]\nbinaries = \"separate\"\n",
        &StackSpec {
            seed: 43,
            records: 2,
            dpi: 150,
            duplex: false,
            ..Default::default()
        },
    );
    approve_as_is(&st, &batch);
    let server = upload_captured(&st);
    let (records, docs) = document_count(&st, &batch);
    assert_exactly_once(&server, records, docs);
    server.with(|s| {
        assert_eq!(s.put_binaries.len(), docs, "each Binary PUT on its own");
        for b in &s.bundles {
            assert!(
                b["entry"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e["resource"]["resourceType"] != "Binary"),
                "no Binary entries"
            );
        }
    });
    // The same Bundles again: every conditional create matches, and their
    // attachments name the Binaries already held.
    let puts = server.with(|s| s.post_log.len());
    let bundles = server.with(|s| s.bundles.clone());
    for b in &bundles {
        let (status, answer) = server.post(b);
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(server.with(|s| s.post_log.len()), puts + bundles.len());
    assert_exactly_once(&server, records, docs);
}

#[test]
fn strict_recipient_a_lost_answer_and_folios_retry_store_everything_once() {
    let (st, batch) = approved_batch(1, 42);
    let server = FhirServer::start();
    // Stored, but answered after Folio gave up: its retry must match.
    // Longer than Folio's wait: 2 s idle, plus a second a megabyte of body.
    server.fault(common::fhir_server::Fault::SlowAnswer(Duration::from_secs(
        10,
    )));
    let out = st.run(&["upload", "--fhir", &server.base]);
    let invalid = server.with(|s| s.invalid.clone());
    assert!(invalid.is_empty(), "refused:\n  {}", invalid.join("\n  "));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.with(|s| s.posts) >= 2, "a retry was sent");
    let (records, docs) = document_count(&st, &batch);
    assert_exactly_once(&server, records, docs);
    server.with(|s| {
        for t in ["List", "DocumentReference", "Binary"] {
            assert!(
                s.matched.get(t).copied().unwrap_or(0) >= 1,
                "the retry's {t} matched its conditional create: {:?}",
                s.matched
            );
        }
    });
}

/// The resource of the first entry of this type.
fn res<'a>(b: &'a mut Value, rt: &str) -> &'a mut Value {
    b["entry"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .map(|e| &mut e["resource"])
        .find(|r| r["resourceType"] == rt)
        .unwrap_or_else(|| panic!("no {rt} entry"))
}

/// The entry (not its resource) of the first resource of this type.
fn entry<'a>(b: &'a mut Value, rt: &str) -> &'a mut Value {
    b["entry"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["resource"]["resourceType"] == rt)
        .unwrap_or_else(|| panic!("no {rt} entry"))
}

fn full_url(b: &Value, rt: &str) -> String {
    b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["resourceType"] == rt)
        .and_then(|e| e["fullUrl"].as_str())
        .unwrap()
        .to_string()
}

fn identifier_with_use<'a>(r: &'a mut Value, using: &str) -> &'a mut Value {
    r["identifier"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|i| i["use"] == using)
        .unwrap_or_else(|| panic!("no identifier with use {using}"))
}

type Mutation = (&'static str, &'static str, &'static str, fn(&mut Value));

/// One broken constraint each: (what, the issue code, a text the diagnostics
/// must hold (the element), the change).
fn mutations() -> Vec<Mutation> {
    let mut all = bundle_mutations();
    all.extend(list_identity_mutations());
    all.extend(list_element_mutations());
    all.extend(document_reference_identity_mutations());
    all.extend(document_reference_content_mutations());
    all
}

/// The Bundle's own constraints: profile, type, slices, requests.
fn bundle_mutations() -> Vec<Mutation> {
    vec![
        ("no meta.profile", "required", "Bundle.meta.profile", |b| {
            b["meta"].as_object_mut().unwrap().remove("profile");
        }),
        ("a batch, not a transaction", "value", "Bundle.type", |b| {
            b["type"] = json!("batch")
        }),
        (
            "no SubmissionSet (the List coded folder)",
            "required",
            "Bundle.entry:SubmissionSet",
            |b| {
                res(b, "List")["code"] =
                    json!({"coding": [{"system": MHD_LIST_TYPES, "code": "folder"}]})
            },
        ),
        (
            "the SubmissionSet PUT",
            "value",
            "Bundle.entry:SubmissionSet.request.method",
            |b| entry(b, "List")["request"]["method"] = json!("PUT"),
        ),
        (
            "the Binary PUT",
            "value",
            "Bundle.entry:Documents.request.method",
            |b| entry(b, "Binary")["request"]["method"] = json!("PUT"),
        ),
        (
            "a fullUrl twice",
            "invariant",
            "Bundle.entry.fullUrl",
            |b| {
                let url = full_url(b, "DocumentReference");
                entry(b, "Binary")["fullUrl"] = json!(url)
            },
        ),
        (
            "a conditional create searching for a fullUrl",
            "invariant",
            "Bundle.entry:SubmissionSet.request.ifNoneExist",
            |b| {
                let url = full_url(b, "List");
                entry(b, "List")["request"]["ifNoneExist"] =
                    json!(format!("identifier=urn:ietf:rfc:3986|{url}"))
            },
        ),
        (
            "an unsupported conditional search",
            "not-supported",
            "Bundle.entry:Documents.request.ifNoneExist",
            |b| entry(b, "Binary")["request"]["ifNoneExist"] = json!("_content=x"),
        ),
    ]
}

/// The SubmissionSet's sourceId and identifiers.
fn list_identity_mutations() -> Vec<Mutation> {
    vec![
        ("no sourceId", "required", "List.extension:sourceId", |b| {
            res(b, "List")["extension"]
                .as_array_mut()
                .unwrap()
                .retain(|e| e["url"] != SOURCE_ID)
        }),
        (
            "sourceId not an OID",
            "invariant",
            "List.extension:sourceId.valueIdentifier.value",
            |b| {
                let l = res(b, "List");
                let e = l["extension"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .find(|e| e["url"] == SOURCE_ID)
                    .unwrap();
                e["valueIdentifier"]["value"] = json!("urn:oid:1.02.3")
            },
        ),
        (
            "uniqueId a urn:uuid",
            "invariant",
            "List.identifier:uniqueId.value",
            |b| {
                identifier_with_use(res(b, "List"), "usual")["value"] =
                    json!(format!("urn:uuid:{}", uuid::Uuid::new_v4()))
            },
        ),
        (
            "uniqueId with another system",
            "value",
            "List.identifier:uniqueId.system",
            |b| identifier_with_use(res(b, "List"), "usual")["system"] = json!("urn:folio:x"),
        ),
        (
            "no entryUUID on the List",
            "required",
            "List.identifier:entryUUID",
            |b| {
                res(b, "List")["identifier"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|i| i["use"] != "official")
            },
        ),
    ]
}

/// The SubmissionSet's other elements and references.
fn list_element_mutations() -> Vec<Mutation> {
    vec![
        ("List mode snapshot", "value", "List.mode", |b| {
            res(b, "List")["mode"] = json!("snapshot")
        }),
        ("List status retired", "value", "List.status", |b| {
            res(b, "List")["status"] = json!("retired")
        }),
        ("List date not a dateTime", "invariant", "List.date", |b| {
            res(b, "List")["date"] = json!("2026-13-01")
        }),
        ("List without date", "required", "List.date", |b| {
            res(b, "List").as_object_mut().unwrap().remove("date");
        }),
        (
            "List subject a Practitioner",
            "invariant",
            "List.subject",
            |b| res(b, "List")["subject"] = json!({"reference": "Practitioner/7"}),
        ),
        ("List encounter", "invariant", "List.encounter", |b| {
            res(b, "List")["encounter"] = json!({"reference": "Encounter/1"})
        }),
        ("List entry.flag", "invariant", "List.entry.flag", |b| {
            res(b, "List")["entry"][0]["flag"] = json!({"text": "x"})
        }),
        (
            "List entry.item a Binary",
            "invariant",
            "List.entry.item",
            |b| {
                let url = full_url(b, "Binary");
                res(b, "List")["entry"][0]["item"]["reference"] = json!(url)
            },
        ),
        (
            "an identifier equal to a fullUrl",
            "invariant",
            "is the fullUrl of Bundle.entry[0]",
            |b| {
                let url = full_url(b, "List");
                identifier_with_use(res(b, "List"), "official")["value"] = json!(url)
            },
        ),
        (
            "a broken #station reference",
            "invariant",
            "List.source",
            |b| res(b, "List")["source"]["reference"] = json!("#nowhere"),
        ),
    ]
}

/// The DocumentReference's references, identifiers and status.
fn document_reference_identity_mutations() -> Vec<Mutation> {
    vec![
        (
            "an author reference that resolves nowhere",
            "invariant",
            "DocumentReference.author",
            |b| res(b, "DocumentReference")["author"][0]["reference"] = json!("#ghost"),
        ),
        (
            "a contained station no one references",
            "invariant",
            "DocumentReference.contained",
            |b| {
                res(b, "DocumentReference")
                    .as_object_mut()
                    .unwrap()
                    .remove("author");
            },
        ),
        (
            "no masterIdentifier",
            "required",
            "DocumentReference.masterIdentifier",
            |b| {
                res(b, "DocumentReference")
                    .as_object_mut()
                    .unwrap()
                    .remove("masterIdentifier");
            },
        ),
        (
            "masterIdentifier use official",
            "value",
            "DocumentReference.masterIdentifier.use",
            |b| res(b, "DocumentReference")["masterIdentifier"]["use"] = json!("official"),
        ),
        (
            "DocumentReference entryUUID an OID",
            "invariant",
            "DocumentReference.identifier:entryUUID.value",
            |b| {
                identifier_with_use(res(b, "DocumentReference"), "official")["value"] =
                    json!("urn:oid:2.25.1")
            },
        ),
        (
            "docStatus",
            "invariant",
            "DocumentReference.docStatus",
            |b| res(b, "DocumentReference")["docStatus"] = json!("final"),
        ),
        (
            "status entered-in-error",
            "value",
            "DocumentReference.status",
            |b| res(b, "DocumentReference")["status"] = json!("entered-in-error"),
        ),
    ]
}

/// The DocumentReference's extensions, categories and content.
fn document_reference_content_mutations() -> Vec<Mutation> {
    vec![
        (
            "a modifierExtension",
            "invariant",
            "DocumentReference.modifierExtension",
            |b| {
                res(b, "DocumentReference")["modifierExtension"] =
                    json!([{"url": "urn:x", "valueBoolean": true}])
            },
        ),
        (
            "two categories",
            "invariant",
            "DocumentReference.category",
            |b| {
                let d = res(b, "DocumentReference");
                let c = d["category"][0].clone();
                d["category"] = json!([c.clone(), c])
            },
        ),
        (
            "two contents",
            "invariant",
            "DocumentReference.content",
            |b| {
                let d = res(b, "DocumentReference");
                let c = d["content"][0].clone();
                d["content"] = json!([c.clone(), c])
            },
        ),
        (
            "no attachment.contentType",
            "required",
            "DocumentReference.content.attachment.contentType",
            |b| {
                res(b, "DocumentReference")["content"][0]["attachment"]
                    .as_object_mut()
                    .unwrap()
                    .remove("contentType");
            },
        ),
        (
            "attachment.data",
            "invariant",
            "DocumentReference.content.attachment.data",
            |b| res(b, "DocumentReference")["content"][0]["attachment"]["data"] = json!("JVBERi0="),
        ),
        (
            "a wrong SHA-1",
            "value",
            "DocumentReference.content.attachment.hash",
            |b| {
                res(b, "DocumentReference")["content"][0]["attachment"]["hash"] =
                    json!("AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            },
        ),
    ]
}

#[test]
fn strict_recipient_refuses_each_broken_constraint_with_422_naming_it() {
    let (st, _) = approved_batch(1, 43);
    let captured = upload_captured(&st);
    let folio_bundle = captured.with(|s| s.bundles[0].clone());
    assert_each_mutation_refused(&folio_bundle);
}

/// Posts `valid` broken by each mutation in turn to a fresh server: each is
/// refused with 422 and an issue of the expected code naming the element,
/// recorded, and nothing is stored; then `valid` itself is taken.
fn assert_each_mutation_refused(valid: &Value) {
    let clean = fhir_server::check(valid);
    assert!(clean.is_empty(), "Folio's own Bundle: {clean:?}");
    let server = FhirServer::start();
    let table = mutations();
    for (what, code, names, mutate) in &table {
        let mut b = valid.clone();
        mutate(&mut b);
        let (status, answer) = server.post(&b);
        assert_eq!(status, 422, "{what}: {answer}");
        assert_eq!(answer["resourceType"], "OperationOutcome", "{what}");
        let issues = answer["issue"].as_array().unwrap();
        assert!(
            issues.iter().any(|i| i["code"] == *code
                && i["severity"] == "error"
                && i["diagnostics"].as_str().unwrap().contains(names)),
            "{what}: no {code} issue naming {names}: {answer:#}"
        );
        // The checker says the same, and the server recorded it.
        assert!(
            fhir_server::check(&b)
                .iter()
                .any(|v| v.diagnostics().contains(names)),
            "{what}"
        );
        server.with(|s| {
            assert!(
                s.invalid.iter().any(|d| d.contains(names)),
                "{what}: recorded {:?}",
                s.invalid
            )
        });
    }
    server.with(|s| {
        assert!(s.invalid.len() >= table.len());
        for t in ["List", "DocumentReference", "Binary"] {
            assert_eq!(s.count(t), 0, "a refused Bundle stores nothing ({t})");
        }
    });
    // The untouched Bundle is taken.
    let (status, answer) = server.post(valid);
    assert_eq!(status, 200, "{answer}");
    server.with(|s| assert_eq!(s.count("List"), 1));
}

#[test]
fn strict_recipient_identifier_shapes() {
    use fhir_server::{is_date_time, is_oid, is_uuid_urn};
    assert!(is_oid("2.25.339782218977203098567891234567890123456"));
    assert!(is_oid("1.2.840.113619.2.62"));
    for bad in [
        "",
        "2",
        "3.1",
        "1.02",
        "1..2",
        "1.2.",
        "1.2a",
        "urn:oid:1.2",
    ] {
        assert!(!is_oid(bad), "{bad:?}");
    }
    assert!(is_uuid_urn("urn:uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"));
    for bad in [
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "urn:uuid:0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0",
        "urn:uuid:0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "urn:oid:1.2.3",
    ] {
        assert!(!is_uuid_urn(bad), "{bad:?}");
    }
    for good in [
        "2026",
        "2026-01",
        "2026-01-02",
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05.123+01:00",
    ] {
        assert!(is_date_time(good), "{good}");
    }
    for bad in [
        "2026-13-01",
        "2026-01-02T03:04:05",
        "2026-01-02 03:04:05Z",
        "yesterday",
    ] {
        assert!(!is_date_time(bad), "{bad}");
    }
}
