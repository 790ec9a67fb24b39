//! Upload to a real HTTP server on 127.0.0.1 (tests/common/fhir_server.rs) and
//! to folders, under faults: every document ends up stored exactly once with
//! the right hash.

mod common;

use common::fhir_server::{Fault, FhirServer};
use common::*;
use folio::batch::manifest::Manifest;
use folio::synth::StackSpec;
use std::process::Output;
use std::time::{Duration, Instant};

/// A station with one imported batch (`records` patients), not yet approved.
fn station_with_batch(records: usize, seed: u64) -> (Station, String) {
    imported_station(
        "[upload]\nretry_base_ms = 20\nretry_max_ms = 300\nmax_attempts = 6\ntimeout_secs = 2\n",
        &StackSpec {
            seed,
            records,
            dpi: 150,
            duplex: false,
            ..Default::default()
        },
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every document of the manifest is on the server once, with its hash.
fn assert_stored_once(server: &FhirServer, m: &Manifest) {
    server.with(|s| {
        assert!(s.invalid.is_empty(), "invalid Bundles: {:?}", s.invalid);
        let docs: Vec<_> = m.records.iter().flat_map(|r| &r.documents).collect();
        assert!(!docs.is_empty());
        assert_eq!(s.docs.len(), docs.len(), "documents stored");
        // Exactly once, whatever was retried: the strict server evaluates
        // every entry's conditional create.
        assert_eq!(
            s.count("DocumentReference"),
            docs.len(),
            "DocumentReferences created"
        );
        assert_eq!(s.count("Binary"), docs.len(), "Binaries created");
        assert_eq!(s.count("List"), m.records.len(), "SubmissionSets created");
        for d in docs {
            let stored = &s.docs[&format!("urn:uuid:{}", d.id)];
            assert_eq!(stored.creates, 1);
            assert_eq!(
                (stored.sha256.as_str(), stored.size),
                (d.pdf.sha256.as_str(), d.pdf.bytes)
            );
        }
        for r in &m.records {
            let nhs = r.patient.nhs_number.as_deref();
            for d in &r.documents {
                let subject = &s.docs[&format!("urn:uuid:{}", d.id)].subject["identifier"];
                match nhs {
                    Some(n) => assert_eq!(
                        (subject["system"].as_str(), subject["value"].as_str()),
                        (Some("https://fhir.nhs.uk/Id/nhs-number"), Some(n))
                    ),
                    None => assert_eq!(subject["system"], "urn:folio:hospital-number"),
                }
            }
        }
    });
}

/// Re-queues a batch, delivers it and checks the server holds it once.
fn deliver_again(st: &Station, batch: &str, server: &FhirServer) {
    st.ok(&["upload", "--batch", batch, "--fhir", &server.base]);
    let (m, _) = st.export(batch);
    assert_stored_once(server, &m);
}

#[test]
fn fhir_upload_rides_out_faults_and_stores_each_document_once() {
    let (st, batch) = station_with_batch(3, 26);
    let server = FhirServer::start();
    for f in [
        Fault::Status(500),
        Fault::Busy(503, 2),
        Fault::ResetMidBody,
        Fault::Busy(429, 0),
        // Stored, but the answer comes after the client gave up: the next try
        // finds the documents there and checks them.
        Fault::SlowAnswer(Duration::from_secs(8)),
    ] {
        server.fault(f);
    }
    let open = st.json(&["batches", "--json"])[0]["open_flags"]
        .as_u64()
        .unwrap();
    assert!(open > 0, "this stack has flags to review");
    let out = st.run(&["approve", &batch]);
    assert_eq!(out.status.code(), Some(1), "open flags stop approval");
    assert!(
        stderr(&out).contains(&format!("{open} open flags")),
        "{}",
        stderr(&out)
    );
    approve_as_is(&st, &batch);
    let out = st
        .cmd()
        .args(["upload", "--fhir", &server.base, "--json"])
        .env("FOLIO_UPLOAD_TOKEN", "s3cret-token")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    // After "busy, Retry-After: 2" the next try comes no sooner (its own
    // backoff here is at most 300 ms, so only Retry-After explains the wait).
    server.with(|s| {
        let busy = s
            .post_log
            .iter()
            .position(|p| p.fault == Some(Fault::Busy(503, 2)))
            .expect("the busy answer was given");
        let answered = s.post_log[busy].answered.expect("answered");
        let next = s
            .post_log
            .get(busy + 1)
            .expect("a try after the busy answer");
        let waited = next.arrived.duration_since(answered);
        assert!(
            waited >= Duration::from_secs(2),
            "Retry-After honoured: retried after {waited:?}"
        );
    });
    for words in ["500", "busy", "next try in"] {
        assert!(err.contains(words), "stderr names '{words}': {err}");
    }
    assert!(!err.contains("s3cret"), "the token is never printed");
    server.with(|s| {
        assert!(
            s.auth_seen
                .iter()
                .all(|a| a.as_deref() == Some("Bearer s3cret-token"))
        );
    });
    let (m, _) = st.export(&batch);
    assert_stored_once(&server, &m);
    assert_eq!(outbox_state(&st, &batch), "done");
    let batches = st.json(&["batches", "--json"]);
    assert_eq!(batches[0]["state"], "paper_held");
    // Nothing is sent twice.
    let posts = server.with(|s| s.posts);
    st.ok(&["upload", "--fhir", &server.base]);
    assert_eq!(server.with(|s| s.posts), posts);
}

#[test]
fn a_refusal_is_reported_in_words_parked_and_sent_when_asked_again() {
    let (st, batch) = station_with_batch(1, 22);
    let server = FhirServer::start();
    server.fault(Fault::BadRequest(
        "patient 943 476 5919 is not registered with this store".into(),
    ));
    approve_as_is(&st, &batch);
    let out = st.run(&["upload", "--fhir", &server.base]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("400") && err.contains("not registered with this store"),
        "{err}"
    );
    assert!(err.contains("cannot help"), "{err}");
    assert_eq!(server.with(|s| s.posts), 1, "a refusal is not retried");
    assert_eq!(outbox_state(&st, &batch), "parked");
    deliver_again(&st, &batch, &server);
}

#[test]
fn duplicates_are_checked_by_hash_same_is_done_different_is_a_conflict() {
    // The server answers duplicates with 409; the first answer is lost.
    let (st, batch) = station_with_batch(2, 23);
    let server = FhirServer::start();
    server.with(|s| s.duplicates_as_409 = true);
    server.fault(Fault::SlowAnswer(Duration::from_secs(8)));
    approve_as_is(&st, &batch);
    st.ok(&["upload", "--fhir", &server.base]);
    let (m, _) = st.export(&batch);
    assert_stored_once(&server, &m);

    // Another copy with different content under one of our ids.
    let (st, batch) = station_with_batch(1, 24);
    approve_as_is(&st, &batch);
    let (m, _) = st.export(&batch);
    let doc = &m.records[0].documents[0];
    let server = FhirServer::start();
    server.with(|s| {
        let mi = format!("urn:uuid:{}", doc.id);
        s.docs.insert(
            mi.clone(),
            common::fhir_server::StoredDoc {
                id: "theirs".into(),
                master_identifier: mi.clone(),
                size: 1234,
                sha1_b64: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
                sha256: "0".repeat(64),
                subject: serde_json::Value::Null,
                resource: serde_json::json!({
                    "resourceType": "DocumentReference",
                    "masterIdentifier": {"use": "usual", "system": "urn:ietf:rfc:3986", "value": mi},
                    "content": [{"attachment": {"size": 1234, "hash": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}}],
                }),
                creates: 1,
            },
        );
    });
    let out = st.run(&["upload", "--fhir", &server.base]);
    assert_eq!(out.status.code(), Some(5));
    assert!(
        stderr(&out).contains("different content"),
        "{}",
        stderr(&out)
    );
    assert_eq!(outbox_state(&st, &batch), "conflict");
}

#[test]
fn killed_mid_transfer_the_restarted_upload_delivers_each_document_once() {
    let (st, batch) = station_with_batch(4, 25);
    approve_as_is(&st, &batch);
    let server = FhirServer::start();
    server.with(|s| s.throttle_bytes_per_sec = Some(400_000));
    let mut child = st
        .cmd()
        .args(["upload", "--fhir", &server.base])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a record is stored and the next is on its way.
    let deadline = Instant::now() + Duration::from_secs(60);
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        while !done() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("a first record stored", &|| {
        server.with(|s| !s.docs.is_empty())
    });
    let sent = server.with(|s| s.body_bytes);
    wait_for("the next record on its way", &|| {
        server.with(|s| s.body_bytes > sent + 100_000)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let (m, _) = st.export(&batch);
    let total: usize = m.records.iter().map(|r| r.documents.len()).sum();
    assert!(
        server.with(|s| s.docs.len()) < total,
        "killed before the end"
    );
    server.with(|s| s.throttle_bytes_per_sec = None);
    st.ok(&["upload", "--fhir", &server.base]);
    assert_stored_once(&server, &m);
    assert_eq!(outbox_state(&st, &batch), "done");
}

fn sha256_file(p: &std::path::Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

/// The delivered folder holds the manifest, every PDF with its hash and a
/// Bundle per record, and no temporary files.
fn assert_folder_complete(dir: &std::path::Path, batch: &str, m: &Manifest) {
    let b = dir.join(batch);
    let mut delivered: Manifest =
        serde_json::from_slice(&std::fs::read(b.join("manifest.json")).unwrap()).unwrap();
    // Delivered, it also carries the station's audit chain head (the
    // anchor `folio check` compares the chain with).
    let head = delivered.audit_head.take().expect("the audit chain head");
    assert!(head.seq > 0 && head.hash.len() == 64, "{head:?}");
    assert_eq!(&delivered, m, "the delivered manifest is the export's");
    for r in &m.records {
        let bundle: serde_json::Value = serde_json::from_slice(
            &std::fs::read(b.join(format!("bundles/{}.json", r.id))).unwrap(),
        )
        .unwrap();
        assert_eq!(bundle["type"], "transaction");
        for d in &r.documents {
            assert_eq!(sha256_file(&b.join(&d.pdf.path)), d.pdf.sha256);
        }
    }
    let leftovers: Vec<_> = walk(&b)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".folio-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn folder_target_survives_a_full_disk_and_a_read_only_folder() {
    let (st, batch) = station_with_batch(2, 26);
    approve_as_is(&st, &batch);
    let dir = st.dir.path().join("store");
    let fs = Tmpfs::mount(&dir, "size=300k");
    let out = st.run(&["upload", "--folder", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("disk is full"), "{}", stderr(&out));
    assert_eq!(outbox_state(&st, &batch), "parked");
    assert!(!dir.join(&batch).join("manifest.json").exists());
    fs.remount("size=50m");
    st.ok(&[
        "upload",
        "--batch",
        &batch,
        "--folder",
        dir.to_str().unwrap(),
    ]);
    let (m, _) = st.export(&batch);
    assert_folder_complete(&dir, &batch, &m);

    let (st, batch) = station_with_batch(1, 27);
    approve_as_is(&st, &batch);
    fs.remount("ro");
    let out = st.run(&["upload", "--folder", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
    fs.remount("rw");
    st.ok(&[
        "upload",
        "--batch",
        &batch,
        "--folder",
        dir.to_str().unwrap(),
    ]);
    let (m, _) = st.export(&batch);
    assert_folder_complete(&dir, &batch, &m);
}

#[test]
fn with_no_store_configured_batches_go_to_a_folder_in_the_data_directory() {
    let (st, batch) = station_with_batch(1, 28);
    approve_as_is(&st, &batch);
    let out = st.run(&["upload"]);
    let where_to = st.data_dir().join("delivered");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&where_to.display().to_string()),
        "{}",
        stderr(&out)
    );
    let (m, _) = st.export(&batch);
    assert_folder_complete(&where_to, &batch, &m);
}

/// A CA, a server certificate for localhost and a client certificate, as PEM
/// files; and the server's TLS configuration requiring a client certificate
/// from that CA.
fn tls_setup(
    dir: &std::path::Path,
) -> (
    std::sync::Arc<rustls::ServerConfig>,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Folio test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let mut client_params = CertificateParams::new(vec!["test-station".to_string()]).unwrap();
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().unwrap();
    let client = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let identity = dir.join("station.pem");
    std::fs::write(
        &identity,
        format!("{}{}", client.pem(), client_key.serialize_pem()),
    )
    .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
    (std::sync::Arc::new(config), ca_file, identity)
}

#[test]
fn https_with_the_sites_own_ca_and_a_client_certificate() {
    let (st, batch) = station_with_batch(1, 29);
    approve_as_is(&st, &batch);
    let (tls, ca_file, identity) = tls_setup(st.dir.path());
    let server = FhirServer::start_tls(tls);
    let config = st.data_dir().join("config.toml");
    let base_config = std::fs::read_to_string(&config)
        .unwrap()
        .replace("max_attempts = 6", "max_attempts = 1");
    let set = |extra: &str| std::fs::write(&config, format!("{base_config}{extra}")).unwrap();
    // Without our CA the server's certificate is not trusted.
    set(&format!("client_identity_file = {:?}\n", identity));
    let out = st.run(&["upload", "--fhir", &server.base]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );
    // Without a client certificate the server will not talk.
    set(&format!("ca_file = {:?}\n", ca_file));
    let out = st.run(&["upload", "--batch", &batch, "--fhir", &server.base]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(server.with(|s| s.posts), 0);
    set(&format!(
        "ca_file = {:?}\nclient_identity_file = {:?}\n",
        ca_file, identity
    ));
    deliver_again(&st, &batch, &server);
}

#[test]
fn an_on_demand_record_uploads_before_batches_approved_earlier() {
    let (st, library) = station_with_batch(2, 31);
    approve_as_is(&st, &library);
    let out = st.ok(&[
        "scan",
        "--device",
        "folio:demo",
        "--option",
        "records=1",
        "--option",
        "speed=0",
        "--on-demand",
    ]);
    let clinic = out.trim().lines().last().unwrap().to_string();
    approve_as_is(&st, &clinic);
    let queue = st.json(&["upload", "--list", "--json"]);
    let order: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["batch_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, [clinic.as_str(), library.as_str()]);
    let out = st.run(&[
        "upload",
        "--folder",
        st.dir.path().join("store").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let (a, b) = (
        err.find(&format!("batch {clinic}:")),
        err.find(&format!("batch {library}:")),
    );
    assert!(
        a.is_some() && b.is_some() && a < b,
        "on-demand first: {err}"
    );
}

/// Text that broke the Bundle when it was split on an in-band marker: the
/// marker itself, quotes, backslashes, control characters, non-ASCII and
/// JSON punctuation.
fn hostile(tag: &str) -> String {
    format!(
        "{tag} FOLIO:DOC:@@folio-binary-data-0@@ @@folio-binary-data-1@@ \" \\ \\\" \n\t\u{1}\u{1b} é Ł 中 }}]\",\"data\":\""
    )
}

/// A record whose every text field is `hostile`, with two PDFs (sizes not
/// multiples of 3) in `dir`.
fn hostile_package(dir: &std::path::Path) -> folio::upload::RecordPackage {
    use folio::batch::manifest::{ManifestRecord, Patient};
    use folio::upload::{DocumentFile, Origin, RecordPackage};
    use sha1::Digest;
    let documents = [70_001usize, 5]
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut bytes = b"%PDF-1.7\n".to_vec();
            bytes.extend((0..n).map(|k| (k * 31 + i) as u8));
            let pdf_path = dir.join(format!("{i}.pdf"));
            std::fs::write(&pdf_path, &bytes).unwrap();
            DocumentFile {
                id: uuid::Uuid::new_v4().to_string(),
                doc_type: Some(hostile("type")),
                pdf_path,
                sha256: hex::encode(sha2::Sha256::digest(&bytes)),
                sha1: hex::encode(sha1::Sha1::digest(&bytes)),
                bytes: bytes.len() as u64,
                pages: 1,
            }
        })
        .collect();
    RecordPackage {
        origin: Origin {
            batch_id: uuid::Uuid::new_v4().to_string(),
            batch_label: hostile("label"),
            station: hostile("station"),
            site: hostile("site"),
            scanned: "2026-01-02T03:04:05Z".into(),
            audit_head: None,
        },
        record: ManifestRecord {
            id: uuid::Uuid::new_v4().to_string(),
            patient: Patient {
                nhs_number: None,
                hospital_number: Some(hostile("hospital number")),
            },
            specialty: Some(hostile("specialty")),
            flags: Vec::new(),
            documents: Vec::new(),
        },
        documents,
        hospital_number_system: hostile("system"),
        resend: Vec::new(),
        mhd: Default::default(),
    }
}

#[test]
fn case_1_upload_bundle_carries_the_exact_pdfs_whatever_its_text_fields_hold() {
    use folio::upload::Target;
    let dir = tempfile::tempdir().unwrap();
    let p = hostile_package(dir.path());
    let server = FhirServer::start();
    let cfg = folio::upload::UploadConfig::default();
    let mut target = folio::upload::fhir::FhirTarget::new(&server.base, &cfg).unwrap();
    let progress: folio::upload::ProgressSink = std::sync::Arc::new(|_| {});
    let stored = target.deliver(&p, &progress).unwrap();
    assert_eq!(stored.len(), 2);
    server.with(|s| {
        assert!(s.invalid.is_empty(), "invalid Bundles: {:?}", s.invalid);
        for d in &p.documents {
            let mi = format!("urn:uuid:{}", d.id);
            assert_eq!(
                s.pdfs[&mi],
                std::fs::read(&d.pdf_path).unwrap(),
                "the Binary decodes to the exact PDF"
            );
            let r = &s.docs[&mi].resource;
            assert_eq!(r["type"]["text"], hostile("type"));
            // The station rides contained in each DocumentReference.
            assert_eq!(r["author"][0]["reference"], "#station");
            assert_eq!(r["contained"][0]["id"], "station");
            assert_eq!(
                r["contained"][0]["identifier"][0]["value"],
                hostile("station")
            );
            assert_eq!(r["context"]["practiceSetting"]["text"], hostile("specialty"));
            assert_eq!(
                r["subject"]["identifier"],
                serde_json::json!({"system": hostile("system"), "value": hostile("hospital number")})
            );
            assert!(
                r["description"]
                    .as_str()
                    .unwrap()
                    .ends_with(&hostile("label"))
            );
        }
    });

    // The folder target writes the same Bundle: it parses, and its Binaries
    // are the PDFs.
    let store = dir.path().join("store");
    let mut folder = folio::upload::folder::FolderTarget::new(store.clone());
    folder.deliver(&p, &progress).unwrap();
    let bundle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            store
                .join(&p.origin.batch_id)
                .join(format!("bundles/{}.json", p.record.id)),
        )
        .unwrap(),
    )
    .unwrap();
    let entries = bundle["entry"].as_array().unwrap();
    assert!(
        entries[0]["resource"]["title"]
            .as_str()
            .unwrap()
            .contains(&hostile("label"))
    );
    for (i, d) in p.documents.iter().enumerate() {
        use base64::Engine;
        let data = entries[2 + 2 * i]["resource"]["data"].as_str().unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap(),
            std::fs::read(&d.pdf_path).unwrap()
        );
    }
}

#[test]
fn case_1_a_batch_label_holding_the_old_marker_uploads_the_exact_pdfs() {
    let st = Station::new();
    let stack = st.dir.path().join("stack");
    let spec = StackSpec {
        seed: 32,
        records: 1,
        dpi: 150,
        duplex: false,
        ..Default::default()
    };
    write_stack(&spec, &stack, "pgm");
    let label = "FOLIO:DOC:@@folio-binary-data-0@@ \"q\" \\ é";
    let batch = st.import(&["--label", label], &[&stack])["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    approve_as_is(&st, &batch);
    let server = FhirServer::start();
    st.ok(&["upload", "--fhir", &server.base]);
    let (m, export) = st.export(&batch);
    assert_stored_once(&server, &m);
    server.with(|s| {
        for d in m.records.iter().flat_map(|r| &r.documents) {
            let mi = format!("urn:uuid:{}", d.id);
            assert_eq!(
                s.pdfs[&mi],
                std::fs::read(export.join(&d.pdf.path)).unwrap()
            );
            let description = s.docs[&mi].resource["description"].as_str().unwrap();
            assert!(description.ends_with(label), "{description}");
        }
    });
}
