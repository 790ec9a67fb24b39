//! Verified receipt (issue 18, item 1): after the central store accepts a
//! record, every document is read back and compared with what was sent.
//! Against the local FHIR server storing correctly, truncating a Binary
//! silently and losing a document after 200, only the first verifies; the
//! others leave the batch unverified, flagged and parked, and a copy that
//! was broken once is sent again and then verifies.

mod common;

use common::fhir_server::FhirServer;
use common::*;
use folio::synth::StackSpec;
use serde_json::Value;

/// A station with one approved batch of `records` patients, which gives up
/// on a batch after `tries` tries.
fn approved(seed: u64, tries: u32, extra: &str) -> (Station, String) {
    let (st, batch) = imported_station(
        &format!(
            "[upload]\nretry_base_ms = 20\nretry_max_ms = 100\nmax_attempts = {tries}\ntimeout_secs = 5\n{extra}"
        ),
        &StackSpec {
            seed,
            records: 2,
            dpi: 150,
            duplex: false,
            ..Default::default()
        },
    );
    approve_as_is(&st, &batch);
    (st, batch)
}

fn receipts(st: &Station, batch: &str, all: bool) -> Vec<Value> {
    let mut args = vec!["receipts", batch, "--json"];
    if all {
        args.push("--all");
    }
    st.json(&args).as_array().unwrap().clone()
}

/// The documents of the batch's manifest: (id, bytes, SHA-256).
fn documents(st: &Station, batch: &str) -> Vec<(String, u64, String)> {
    let (m, _) = st.export(batch);
    m.records
        .iter()
        .flat_map(|r| &r.documents)
        .map(|d| (d.id.clone(), d.pdf.bytes, d.pdf.sha256.clone()))
        .collect()
}

#[test]
fn only_a_store_that_returns_what_was_sent_verifies() {
    let good = FhirServer::start();
    let truncating = FhirServer::start();
    truncating.with(|s| s.truncate_binaries = u32::MAX);
    let losing = FhirServer::start();
    losing.with(|s| s.lose_documents = u32::MAX);

    // The store that keeps what it is sent: every document verified.
    let (st, batch) = approved(61, 2, "");
    let docs = documents(&st, &batch);
    assert!(docs.len() >= 2, "{docs:?}");
    st.ok(&["upload", "--fhir", &good.base]);
    assert_eq!(outbox_state(&st, &batch), "done");
    assert_eq!(batch_listed(&st, &batch)["state"], "paper_held");
    let got = receipts(&st, &batch, false);
    assert_eq!(got.len(), docs.len());
    for (r, (id, bytes, sha)) in got.iter().zip(&docs) {
        assert_eq!(r["document_id"], id.as_str());
        assert_eq!(r["verified"], true, "{r}");
        assert_eq!(
            (r["read_bytes"].as_u64(), r["read_sha256"].as_str()),
            (Some(*bytes), Some(sha.as_str()))
        );
        assert_eq!(
            (r["sent_bytes"].as_u64(), r["sent_sha256"].as_str()),
            (Some(*bytes), Some(sha.as_str()))
        );
        assert!(
            r["location"]
                .as_str()
                .unwrap()
                .contains("DocumentReference/"),
            "{r}"
        );
        assert!(
            r["content_location"].as_str().unwrap().contains("/Binary/"),
            "{r}"
        );
        assert_eq!(r["etag"], "W/\"1\"");
        assert!(!r["checked_at"].as_str().unwrap().is_empty());
    }
    let text = st.ok(&["receipts", &batch]);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("verified\t")).count(),
        docs.len(),
        "{text}"
    );

    // The store that truncates Binaries and the one that loses documents:
    // accepted with 2xx, but nothing verifies; flagged, parked, not uploaded.
    for (server, words) in [
        (&truncating, "were sent"),
        (&losing, "has no DocumentReference"),
    ] {
        let (st, batch) = approved(61, 2, "");
        let before = batch_listed(&st, &batch)["open_flags"].as_u64().unwrap();
        let out = st.run(&["upload", "--fhir", &server.base]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(5), "parked: {err}");
        assert!(err.contains("did not read back"), "{err}");
        assert_eq!(outbox_state(&st, &batch), "parked");
        assert_eq!(batch_listed(&st, &batch)["state"], "uploading");
        let got = receipts(&st, &batch, false);
        assert_eq!(got.len(), docs.len());
        for r in &got {
            assert_eq!(r["verified"], false, "{r}");
            assert!(r["detail"].as_str().unwrap().contains(words), "{r}");
        }
        // One flag per document, however many tries read it back wrong.
        assert_eq!(
            receipts(&st, &batch, true).len(),
            2 * docs.len(),
            "two tries"
        );
        assert_eq!(
            batch_listed(&st, &batch)["open_flags"].as_u64(),
            Some(before + docs.len() as u64)
        );
        let text = st.ok(&["receipts", &batch]);
        assert!(
            text.lines().all(|l| l.starts_with("NOT VERIFIED\t")),
            "{text}"
        );
    }
    truncating.with(|s| assert!(s.truncated > 0));
    losing.with(|s| assert!(s.lost > 0));
}

/// A store that truncates one Binary once: the read-back catches it, the
/// document is sent again (its Binary replaced) and then verifies; the flag
/// raised for it is resolved saying so, and the DocumentReference is still
/// created once.
fn broken_once_then_verified(transport: &str) {
    let server = FhirServer::start();
    server.with(|s| s.truncate_binaries = 1);
    let (st, batch) = approved(
        62,
        4,
        &format!("[upload.mhd]\nbinaries = \"{transport}\"\n"),
    );
    let docs = documents(&st, &batch);
    // Flags accepted at approval stay open; the read-back adds to them.
    let before = batch_listed(&st, &batch)["open_flags"].clone();
    let out = st.run(&["upload", "--fhir", &server.base]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{transport}: {err}");
    assert!(err.contains("did not read back"), "{transport}: {err}");
    assert_eq!(outbox_state(&st, &batch), "done");
    assert_eq!(batch_listed(&st, &batch)["state"], "paper_held");
    assert_eq!(
        batch_listed(&st, &batch)["open_flags"],
        before,
        "the flag is resolved"
    );
    let all = receipts(&st, &batch, true);
    assert_eq!(
        all.len(),
        docs.len() + 1,
        "{transport}: one document checked twice"
    );
    let failed: Vec<_> = all.iter().filter(|r| r["verified"] == false).collect();
    assert_eq!(failed.len(), 1);
    let broken = failed[0]["document_id"].as_str().unwrap();
    assert!(failed[0]["read_bytes"].as_u64() < failed[0]["sent_bytes"].as_u64());
    assert!(
        receipts(&st, &batch, false)
            .iter()
            .all(|r| r["verified"] == true)
    );
    let audit = st.ok(&["audit", &batch]);
    assert!(audit.contains("upload.unverified"), "{audit}");
    assert!(audit.contains("upload.verified_again"), "{audit}");
    server.with(|s| {
        assert!(s.invalid.is_empty(), "{:?}", s.invalid);
        assert_eq!(s.truncated, 1);
        assert_eq!(
            s.count("DocumentReference"),
            docs.len(),
            "{transport}: created once each"
        );
        for (id, bytes, sha) in &docs {
            let stored = &s.docs[&format!("urn:uuid:{id}")];
            assert_eq!(stored.creates, 1);
            let url = stored.resource["content"][0]["attachment"]["url"]
                .as_str()
                .unwrap();
            let binary = url.rsplit('/').next().unwrap();
            let held = &s.binary_data[binary];
            assert_eq!(
                held.len() as u64,
                *bytes,
                "{transport}: {id} (broken: {broken})"
            );
            assert_eq!(&folio::store::sha256_hex(held), sha);
        }
    });
}

#[test]
fn a_copy_broken_once_is_sent_again_and_then_verifies() {
    broken_once_then_verified("in_bundle");
    broken_once_then_verified("separate");
}

#[test]
fn the_folder_target_reads_back_each_file_it_wrote() {
    let (st, batch) = approved(63, 2, "");
    let docs = documents(&st, &batch);
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("store");
    st.ok(&["upload", "--folder", folder.to_str().unwrap()]);
    assert_eq!(batch_listed(&st, &batch)["state"], "paper_held");
    let got = receipts(&st, &batch, false);
    assert_eq!(got.len(), docs.len());
    for (r, (id, bytes, sha)) in got.iter().zip(&docs) {
        assert_eq!(r["verified"], true, "{r}");
        assert_eq!(
            (r["read_bytes"].as_u64(), r["read_sha256"].as_str()),
            (Some(*bytes), Some(sha.as_str()))
        );
        let path = r["location"].as_str().unwrap();
        assert!(path.ends_with(&format!("{id}.pdf")), "{path}");
        assert!(
            r["version"].as_str().is_some(),
            "the file's modification time"
        );
    }
    // What the store keeps for decades is PDF/A-1b.
    let stored = common::pdfa::pdfs_under(&folder);
    assert_eq!(stored.len(), docs.len());
    common::pdfa::assert_pdfa_1b(&stored);
}

/// `folio receipts --check` reads a delivered batch back again: a copy the
/// store broke since is flagged (its paper may not go), and once the store
/// holds it again the check verifies and resolves the flag.
#[test]
fn a_check_after_upload_catches_a_copy_the_store_broke_since() {
    let server = FhirServer::start();
    let (st, batch) = approved(64, 2, "");
    st.ok(&["upload", "--fhir", &server.base]);
    assert_eq!(batch_listed(&st, &batch)["state"], "paper_held");
    let before = batch_listed(&st, &batch)["open_flags"].as_u64().unwrap();
    let (binary, good) = server.with(|s| {
        let d = s.docs.values().next().unwrap();
        let url = d.resource["content"][0]["attachment"]["url"]
            .as_str()
            .unwrap();
        let id = url.rsplit('/').next().unwrap().to_string();
        let good = s.binary_data[&id].clone();
        s.binary_data.get_mut(&id).unwrap().truncate(100);
        (id, good)
    });
    let check = ["receipts", &batch, "--check", "--fhir", &server.base];
    let out = st.run(&check);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("NOT VERIFIED") && err.contains("did not read back"),
        "{err}"
    );
    assert_eq!(batch_listed(&st, &batch)["open_flags"], before + 1);
    // Checked against a store it did not go to: refused in words.
    let out = st.run(&["receipts", &batch, "--check", "--folder", "/nonexistent"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("was delivered to FHIR server"), "{err}");
    server.with(|s| s.binary_data.insert(binary, good));
    st.ok(&check);
    assert_eq!(batch_listed(&st, &batch)["open_flags"], before);
    assert!(
        receipts(&st, &batch, false)
            .iter()
            .all(|r| r["verified"] == true)
    );
}
