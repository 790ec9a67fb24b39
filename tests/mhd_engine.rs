//! Issue 13 acceptance: Folio's ITI-65 Bundles against a real FHIR engine
//! (Medplum's FHIR router with validation on, tests/fhir_engine): each record
//! is stored exactly once (one List per record, one DocumentReference and one
//! Binary per document) however often it is sent, after timeouts, resets and a
//! killed station; the Binaries hold the exact PDFs; a PDF over the engine's
//! 1 MiB base64Binary limit parks the batch with a message that says why.

mod common;
#[path = "common/fhir_engine.rs"]
mod fhir_engine;

use common::*;
use fhir_engine::{Counts, EngineFault, FaultOn, FhirEngine, Post};
use folio::batch::manifest::{Manifest, ManifestDocument};
use folio::batch::protocol;
use folio::synth::{self, SideKind, StackSpec};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// Medplum's default limit for a base64Binary, decoded bytes.
const ENGINE_LIMIT: u64 = 1_048_576;

/// The station's settings: quick retries, `timeout_secs`, and Binaries sent
/// by `PUT Binary/<id>` before the transaction (Medplum cannot search
/// Binaries, so it cannot evaluate a conditional create of one).
fn config(timeout_secs: u64) -> String {
    format!(
        "[upload]\nretry_base_ms = 20\nretry_max_ms = 300\nmax_attempts = 6\ntimeout_secs = {timeout_secs}\n\n[upload.mhd]\nbinaries = \"separate\"\n"
    )
}

/// A seed from `from` on whose stack every one of `records` records has two
/// or three documents (the planner gives one to three).
fn seed_with_several_documents(records: usize, from: u64) -> StackSpec {
    (from..from + 500)
        .map(|seed| StackSpec {
            seed,
            records,
            dpi: 150,
            duplex: false,
            ..Default::default()
        })
        .find(|spec| {
            let (_, truth) = synth::plan(spec);
            truth.records.iter().all(|r| r.documents.len() >= 2)
                && truth.records.iter().any(|r| r.documents.len() == 3)
        })
        .expect("a seed with several documents per record")
}

/// A station with `spec`'s stack imported and approved as it is.
fn approved_station(spec: &StackSpec, timeout_secs: u64) -> (Station, String) {
    let st = Station::new();
    let stack = st.dir.path().join("stack");
    write_stack(spec, &stack, "pgm");
    let batch = import_and_approve(&st, &stack, timeout_secs);
    (st, batch)
}

/// A station with one record of `docs` one-page documents.
fn station_with_documents(docs: usize) -> (Station, String) {
    let st = Station::new();
    let stack = st.dir.path().join("stack");
    std::fs::create_dir_all(&stack).unwrap();
    let mut sides = vec![SideKind::RecordSheet {
        code: protocol::record_code("9434765919", None),
        words: vec!["PATIENT RECORD 9434765919".into()],
    }];
    for _ in 0..docs {
        sides.push(SideKind::DocSheet {
            code: protocol::document_code("clinical_note"),
            words: vec!["DOCUMENT clinical_note".into()],
        });
        sides.push(SideKind::Clinical { label: None });
    }
    let spec = StackSpec {
        seed: 91,
        records: 1,
        dpi: 150,
        duplex: false,
        // Clean sheets: this stack is about the document count.
        noise_sigma: 2.0,
        max_skew_deg: 0.5,
        drift: 5.0,
        target_first: false,
    };
    for (i, r) in synth::files::render_stack(&spec, &sides).iter().enumerate() {
        write_page(&stack.join(format!("side-{i:04}")), r, "pgm");
    }
    let batch = import_and_approve(&st, &stack, 10);
    (st, batch)
}

fn import_and_approve(st: &Station, stack: &Path, timeout_secs: u64) -> String {
    std::fs::create_dir_all(st.data_dir()).unwrap();
    std::fs::write(st.data_dir().join("config.toml"), config(timeout_secs)).unwrap();
    let batch = st.import(&[], &[stack])["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    st.ok(&[
        "approve",
        &batch,
        "--accept-flags",
        "--reason",
        "test stack",
    ]);
    batch
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn upload(st: &Station, engine: &FhirEngine) -> Output {
    st.run(&["upload", "--fhir", &engine.base])
}

fn upload_ok(st: &Station, engine: &FhirEngine) {
    let out = upload(st, engine);
    assert!(
        out.status.success(),
        "folio upload failed ({:?}):\n{}\nengine posts: {:?}\nengine stderr: {}",
        out.status.code(),
        stderr(&out),
        post_summary(&engine.posts()),
        engine.stderr()
    );
}

fn sha256(bytes: &[u8]) -> String {
    folio::store::sha256_hex(bytes)
}

fn documents(m: &Manifest) -> usize {
    m.records.iter().map(|r| r.documents.len()).sum()
}

/// What exactly-once means for these manifests (all sent to one engine).
fn expected(ms: &[&Manifest]) -> Counts {
    let docs: usize = ms.iter().map(|m| documents(m)).sum();
    Counts {
        lists: ms.iter().map(|m| m.records.len() as u64).sum(),
        document_references: docs as u64,
        binaries: docs as u64,
        provenances: ms.iter().map(|m| m.records.len() as u64).sum(),
    }
}

/// The engine holds every document of `m` once, as the exact PDF in `pdfs`,
/// and one List per record that lists exactly the record's documents.
fn assert_stored_once(engine: &FhirEngine, m: &Manifest, pdfs: &Path) {
    let mut dr_ids: BTreeMap<String, String> = BTreeMap::new();
    for d in m.records.iter().flat_map(|r| &r.documents) {
        let found = engine.search(
            "DocumentReference",
            &format!("identifier=urn:ietf:rfc:3986|urn:uuid:{}", d.id),
        );
        let entries = found["entry"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            entries.len(),
            1,
            "document {} found {} times by identifier",
            d.id,
            entries.len()
        );
        let dr = &entries[0]["resource"];
        assert_eq!(
            dr["masterIdentifier"]["value"],
            format!("urn:uuid:{}", d.id).as_str()
        );
        let att = &dr["content"][0]["attachment"];
        assert!(att.get("data").is_none(), "no attachment.data");
        let url = att["url"].as_str().expect("attachment.url");
        assert!(
            url.starts_with("Binary/") || url.contains("/Binary/"),
            "attachment.url rewritten to the stored Binary: {url}"
        );
        let stored = engine.read_binary(url);
        let local = std::fs::read(pdfs.join(&d.pdf.path)).expect("exported PDF");
        assert_eq!(
            sha256(&local),
            d.pdf.sha256,
            "exported PDF is the manifest's"
        );
        assert_eq!(
            sha256(&stored),
            d.pdf.sha256,
            "Binary of document {} holds the exact PDF",
            d.id
        );
        assert_eq!(att["size"].as_u64(), Some(d.pdf.bytes));
        dr_ids.insert(
            format!("DocumentReference/{}", dr["id"].as_str().expect("id")),
            d.id.clone(),
        );
    }
    // One List per record, listing exactly its documents.
    let lists = engine.search_resources("List", "");
    let mut lists_by_record: BTreeMap<String, usize> = BTreeMap::new();
    for r in &m.records {
        let want: BTreeSet<String> = r.documents.iter().map(|d| d.id.clone()).collect();
        let matching = lists
            .iter()
            .filter(|l| {
                let items: BTreeSet<String> = l["entry"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["item"]["reference"].as_str())
                    .filter_map(|reference| dr_ids.get(reference).cloned())
                    .collect();
                items == want
            })
            .count();
        lists_by_record.insert(r.id.clone(), matching);
    }
    assert!(
        lists_by_record.values().all(|n| *n == 1),
        "Lists per record (want one each): {lists_by_record:?}"
    );
    assert_provenance_once(engine, m);
}

/// One Provenance per record, found by its tag, naming the record's
/// documents and carrying the station's audit chain head.
fn assert_provenance_once(engine: &FhirEngine, m: &Manifest) {
    for r in &m.records {
        let found = engine.search_resources(
            "Provenance",
            &format!("_tag=urn:folio:provenance|{}:{}", m.batch.id, r.id),
        );
        assert_eq!(found.len(), 1, "the Provenance of record {}", r.id);
        let p = &found[0];
        assert_eq!(
            p["target"].as_array().map(Vec::len),
            Some(r.documents.len())
        );
        assert_eq!(p["extension"][0]["url"], "urn:folio:audit-head");
    }
}

/// Entries a record's Bundle has: its List, then a DocumentReference per
/// document (the Binaries go first, on their own), then its Provenance.
fn entry_counts(m: &Manifest) -> Vec<usize> {
    let mut v: Vec<usize> = m.records.iter().map(|r| 2 + r.documents.len()).collect();
    v.sort();
    v
}

/// The engine processed the Bundle and every entry succeeded.
fn all_2xx(p: &Post) -> bool {
    p.entries
        .as_ref()
        .is_some_and(|e| !e.is_empty() && e.iter().all(|s| s.starts_with('2')))
}

fn post_summary(posts: &[Post]) -> Vec<String> {
    posts
        .iter()
        .map(|p| {
            format!(
                "{} /{} {}:{}:{}",
                p.method,
                p.path,
                p.fault.as_deref().unwrap_or("-"),
                p.status,
                p.entries.as_ref().map(|e| e.join(",")).unwrap_or_default()
            )
        })
        .collect()
}

/// Copies a station's data folder into a new station: the same station
/// restored from a backup taken at that moment.
fn restored_copy(st: &Station) -> Station {
    let copy = Station::new();
    let s = std::process::Command::new("cp")
        .arg("-a")
        .arg(st.data_dir())
        .arg(copy.data_dir())
        .status()
        .expect("cp");
    assert!(s.success(), "copy the data folder");
    copy
}

#[test]
fn a_batch_sent_twice_is_stored_once_with_the_exact_pdfs() {
    let spec = seed_with_several_documents(3, 1300);
    let (st, batch) = approved_station(&spec, 10);
    // The station as a backup taken now would restore it: approved, not sent.
    let before = restored_copy(&st);
    // About sending twice, not size: this stack's largest PDF is within a
    // few kilobytes of Medplum's 1 MiB, so the engine takes 4 MiB here
    // (tests of the limit itself start it as it comes).
    let engine = FhirEngine::start_with(&["--base64-max-bytes", "4194304"]);
    upload_ok(&st, &engine);
    assert_eq!(outbox_state(&st, &batch), "done");
    let (m, pdfs) = st.export(&batch);
    assert!(
        documents(&m) > m.records.len(),
        "several documents a record"
    );
    assert_eq!(engine.counts(), expected(&[&m]));
    let first = engine.transactions();
    assert_eq!(first.len(), m.records.len(), "{:?}", post_summary(&first));
    assert!(
        first.iter().all(|p| p.status == "200" && all_2xx(p)),
        "{:?}",
        post_summary(&first)
    );
    assert_stored_once(&engine, &m, &pdfs);

    // The restored station sends the same documents again: the engine finds
    // every resource by its condition and creates nothing.
    let binary_writes = engine.posts().len() - first.len();
    assert_eq!(binary_writes, documents(&m), "one Binary PUT a document");
    upload_ok(&before, &engine);
    assert_eq!(outbox_state(&before, &batch), "done");
    let writes = engine.posts().len();
    assert_eq!(
        writes - binary_writes,
        2 * m.records.len(),
        "the re-send PUTs no Binary (the DocumentReference is found): {:?}",
        post_summary(&engine.posts())
    );
    let again = engine.transactions();
    assert_eq!(
        again.len(),
        2 * m.records.len(),
        "{:?}",
        post_summary(&again)
    );
    let mut sizes: Vec<usize> = again[first.len()..]
        .iter()
        .map(|p| p.entries.as_ref().map_or(0, Vec::len))
        .collect();
    sizes.sort();
    assert_eq!(sizes, entry_counts(&m), "{:?}", post_summary(&again));
    for p in &again[first.len()..] {
        let e = p.entries.as_ref().expect("a transaction-response");
        assert!(
            e.iter().all(|s| s == "200"),
            "re-sent: every entry found, none created: {:?}",
            post_summary(&again)
        );
    }
    assert_eq!(engine.counts(), expected(&[&m]));
    assert_stored_once(&engine, &m, &pdfs);
    // The station that sent first has nothing more to send.
    upload_ok(&st, &engine);
    assert_eq!(engine.posts().len(), writes);
}

#[test]
fn after_a_timeout_a_reset_before_and_a_reset_after_each_record_is_stored_once() {
    let spec = seed_with_several_documents(3, 1400);
    let (st, batch) = approved_station(&spec, 2);
    let engine = FhirEngine::start();
    // First record: the engine commits, the answer never comes (Folio times
    // out after 2 s). Second: reset before the engine sees it. Third: the
    // engine commits, then the connection is reset. Each retry goes through.
    // And the first Binary PUT is stored, then its connection reset.
    engine.fault_on(FaultOn::Binary, EngineFault::ResetAfter, 1);
    engine.fault(EngineFault::StallAfter, 1);
    engine.fault(EngineFault::Pass, 1);
    engine.fault(EngineFault::ResetBefore, 1);
    engine.fault(EngineFault::Pass, 1);
    engine.fault(EngineFault::ResetAfter, 1);
    upload_ok(&st, &engine);
    assert_eq!(outbox_state(&st, &batch), "done");
    let (m, pdfs) = st.export(&batch);
    let all = engine.posts();
    // The Binary whose answer was lost was PUT again, to the same id.
    let binaries: Vec<&Post> = all
        .iter()
        .filter(|p| p.kind.as_deref() == Some("binary"))
        .collect();
    assert_eq!(
        binaries[0].fault.as_deref(),
        Some("reset-after"),
        "{:?}",
        post_summary(&all)
    );
    assert!(
        binaries[1..]
            .iter()
            .any(|p| p.path == binaries[0].path && p.status == "200"),
        "{:?}",
        post_summary(&all)
    );
    let posts = engine.transactions();
    let faults: Vec<Option<&str>> = posts.iter().map(|p| p.fault.as_deref()).collect();
    assert_eq!(
        faults,
        [
            Some("stall-after"),
            None,
            Some("reset-before"),
            None,
            Some("reset-after"),
            None
        ],
        "{:?}",
        post_summary(&posts)
    );
    let statuses = |i: usize| posts[i].entries.clone().unwrap_or_default();
    // Committed before the fault: the retry finds everything.
    for i in [1, 5] {
        assert!(
            statuses(i).iter().all(|s| s == "200"),
            "{:?}",
            post_summary(&posts)
        );
    }
    // Never seen before the fault: the retry stores it.
    assert!(all_2xx(&posts[3]), "{:?}", post_summary(&posts));
    assert_eq!(engine.counts(), expected(&[&m]));
    assert_stored_once(&engine, &m, &pdfs);
}

#[test]
fn a_station_killed_after_the_engine_committed_sends_again_and_stores_once() {
    let spec = seed_with_several_documents(2, 1500);
    let (st, batch) = approved_station(&spec, 30);
    let engine = FhirEngine::start();
    engine.fault(EngineFault::StallAfter, 1);
    let mut child = st
        .cmd()
        .args(["upload", "--fhir", &engine.base])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !engine.transactions().iter().any(|p| p.status == "stalled") {
        assert!(
            Instant::now() < deadline,
            "the engine committed the first record"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "folio upload still waiting for the answer"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // kill -9 while it waits for the answer.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(engine.counts().lists, 1, "one record committed");
    upload_ok(&st, &engine);
    assert_eq!(outbox_state(&st, &batch), "done");
    let (m, pdfs) = st.export(&batch);
    let posts = engine.posts();
    assert_eq!(
        engine.counts(),
        expected(&[&m]),
        "{:?}",
        post_summary(&posts)
    );
    assert_stored_once(&engine, &m, &pdfs);
}

/// A stack of one record whose single document exceeds the engine's limit:
/// dense noise at 300 dpi does not compress.
fn big_document_station() -> (Station, String) {
    let spec = StackSpec {
        seed: 77,
        records: 1,
        dpi: 300,
        duplex: false,
        noise_sigma: 40.0,
        ..Default::default()
    };
    approved_station(&spec, 10)
}

/// The engine refused one POST, with its size limit, was not retried, and
/// listed nothing of the record.
fn assert_refused_once_and_nothing_listed(engine: &FhirEngine, m: &Manifest) {
    let posts = engine.posts();
    let refused: Vec<&Post> = posts.iter().filter(|p| p.status == "400").collect();
    assert_eq!(
        refused.len(),
        1,
        "one refusal, not retried: {:?}",
        post_summary(&posts)
    );
    let words = outcome_words(refused[0]);
    assert!(
        words.contains("base64Binary exceeds 1048576 bytes"),
        "the engine's refusal: {words}"
    );
    assert!(
        posts.iter().all(|p| p.status == "400" || p.status == "200"),
        "{:?}",
        post_summary(&posts)
    );
    let c = engine.counts();
    assert_eq!(
        (c.lists, c.document_references),
        (0, 0),
        "nothing of the record listed: {:?}",
        post_summary(&posts)
    );
    assert!(
        c.binaries < documents(m) as u64,
        "the big PDF is not stored"
    );
}

/// The message names the document `d` and its size, carries the server's
/// words and says what to do.
fn assert_says_what_and_what_to_do(err: &str, d: &ManifestDocument, batch: &str) {
    assert!(err.contains(&d.id), "names the document {}: {err}", d.id);
    let mib = format!("{:.1} MiB", d.pdf.bytes as f64 / 1_048_576.0);
    let mb = format!("{:.1} MB", d.pdf.bytes as f64 / 1e6);
    assert!(
        err.contains(&d.pdf.bytes.to_string()) || err.contains(&mib) || err.contains(&mb),
        "names the size ({} bytes): {err}",
        d.pdf.bytes
    );
    assert!(
        err.contains("base64Binary exceeds 1048576 bytes"),
        "carries the server's words: {err}"
    );
    let lower = err.to_lowercase();
    assert!(
        ["split", "rescan", "resolution", "raise", "limit"]
            .iter()
            .any(|w| lower.contains(w)),
        "says what to do: {err}"
    );
    assert!(
        err.contains(&format!("folio upload --batch {batch}")),
        "says how to queue it again: {err}"
    );
}

#[test]
fn a_pdf_over_the_engines_limit_parks_the_batch_with_the_reason_and_what_to_do() {
    let (st, batch) = big_document_station();
    let (m, _) = st.export(&batch);
    let big: Vec<_> = m
        .records
        .iter()
        .flat_map(|r| &r.documents)
        .filter(|d| d.pdf.bytes > ENGINE_LIMIT)
        .collect();
    assert!(
        !big.is_empty(),
        "the stack has a PDF over 1 MiB: {:?}",
        m.records
            .iter()
            .flat_map(|r| &r.documents)
            .map(|d| d.pdf.bytes)
            .collect::<Vec<_>>()
    );
    let engine = FhirEngine::start();
    let started = Instant::now();
    let out = upload(&st, &engine);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "parked: {err}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "not retried for ever"
    );
    assert_eq!(outbox_state(&st, &batch), "parked");
    assert_refused_once_and_nothing_listed(&engine, &m);
    let d = big[0];
    assert_says_what_and_what_to_do(&err, d, &batch);

    // Done as it says: a store that accepts the size (Medplum's limit counts
    // decoded bytes: the PDF's size is enough) takes the batch queued again.
    drop(engine);
    let limit = d.pdf.bytes.to_string();
    let engine = FhirEngine::start_with(&["--base64-max-bytes", &limit]);
    let meta: Value = engine.get("metadata");
    assert_eq!(meta["fhirVersion"], "4.0.1");
    st.ok(&["upload", "--batch", &batch, "--fhir", &engine.base]);
    assert_eq!(outbox_state(&st, &batch), "done");
    let (m, pdfs) = st.export(&batch);
    assert_eq!(engine.counts(), expected(&[&m]));
    assert_stored_once(&engine, &m, &pdfs);
}

#[test]
fn binaries_in_the_bundle_are_refused_by_an_engine_that_cannot_search_them_and_folio_says_what_to_set()
 {
    // Medplum has no search parameters on Binary, so it cannot evaluate the
    // Binary entries' `ifNoneExist: _tag=...`: it refuses the whole Bundle.
    let spec = seed_with_several_documents(1, 1600);
    let (st, batch) = approved_station(&spec, 10);
    std::fs::write(
        st.data_dir().join("config.toml"),
        config(10).replace("separate", "in_bundle"),
    )
    .unwrap();
    let engine = FhirEngine::start();
    let out = upload(&st, &engine);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "parked: {err}");
    assert_eq!(outbox_state(&st, &batch), "parked");
    let posts = engine.transactions();
    assert_eq!(posts.len(), 1, "{:?}", post_summary(&posts));
    assert_eq!(posts[0].status, "400");
    let words = outcome_words(&posts[0]);
    assert!(
        words.contains("Cannot search on Binary resource type"),
        "{words}"
    );
    assert_eq!(
        engine.counts(),
        Counts {
            lists: 0,
            document_references: 0,
            binaries: 0,
            provenances: 0,
        },
        "the transaction is all or nothing"
    );
    assert!(
        err.contains("Cannot search on Binary resource type"),
        "{err}"
    );
    assert!(err.contains("binaries = \"separate\""), "{err}");
}

#[test]
fn medplum_refuses_an_atomic_transaction_of_more_than_eight_entries_and_takes_it_entry_by_entry() {
    // List + 8 DocumentReferences, all conditional creates: over Medplum's
    // limit of 8 entries for a transaction that needs strict isolation.
    let (st, batch) = station_with_documents(8);
    let (m, pdfs) = st.export(&batch);
    assert_eq!(m.records.len(), 1);
    assert_eq!(m.records[0].documents.len(), 8, "eight documents");
    let engine = FhirEngine::start();
    let out = upload(&st, &engine);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "parked: {err}");
    assert_eq!(outbox_state(&st, &batch), "parked");
    let posts = engine.transactions();
    assert_eq!(posts.len(), 1, "{:?}", post_summary(&posts));
    let words = outcome_words(&posts[0]);
    let said = "Transaction requires strict isolation but has too many entries";
    assert!(words.contains(said), "{words}");
    assert!(err.contains(said), "the server's words: {err}");
    let c = engine.counts();
    assert_eq!((c.lists, c.document_references), (0, 0));

    // A Medplum project without the 'transaction-bundles' feature runs the
    // same Bundle entry by entry: all of it is stored, once.
    drop(engine);
    let engine = FhirEngine::start_with(&["--batch-semantics"]);
    st.ok(&["upload", "--batch", &batch, "--fhir", &engine.base]);
    assert_eq!(outbox_state(&st, &batch), "done");
    assert_eq!(engine.counts(), expected(&[&m]));
    assert_stored_once(&engine, &m, &pdfs);
}

#[test]
fn a_record_of_ten_documents_is_stored_once_by_an_engine_running_transactions_entry_by_entry() {
    let (st, batch) = station_with_documents(10);
    let before = restored_copy(&st);
    let engine = FhirEngine::start_with(&["--batch-semantics"]);
    upload_ok(&st, &engine);
    let (m, pdfs) = st.export(&batch);
    assert_eq!(documents(&m), 10, "ten documents");
    assert_eq!(engine.counts(), expected(&[&m]));
    upload_ok(&before, &engine);
    let posts = engine.transactions();
    assert_eq!(posts.len(), 2, "{:?}", post_summary(&posts));
    assert_eq!(posts[1].entries.as_ref().map(Vec::len), Some(12));
    assert!(
        posts[1].entries.iter().flatten().all(|s| s == "200"),
        "{:?}",
        post_summary(&posts)
    );
    assert_eq!(engine.counts(), expected(&[&m]));
    assert_stored_once(&engine, &m, &pdfs);
}

/// An engine answer's OperationOutcome as text (empty when none).
fn outcome_words(p: &fhir_engine::Post) -> String {
    p.outcome
        .as_ref()
        .map(|o| o.to_string())
        .unwrap_or_default()
}
