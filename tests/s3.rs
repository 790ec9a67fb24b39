//! The S3 target against a real S3 server: a single-node Ceph radosgw on
//! 127.0.0.1 (tests/common/ceph.rs), with the fault-injecting proxy
//! (tests/common/fault_proxy.rs) in front of it for 500s, 503s and resets.
//! One node serves every test here, each test in its own bucket.

mod common;

use common::ceph::CephNode;
use common::fault_proxy::{Fault, FaultProxy, Matcher};
use common::*;
use folio::synth::StackSpec;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;

/// Parts of 64 KiB (radosgw is told to allow them), so a page or two of PDF
/// goes multipart.
const PART_KIB: u64 = 64;

fn node() -> &'static CephNode {
    static NODE: OnceLock<CephNode> = OnceLock::new();
    NODE.get_or_init(|| CephNode::start_with_min_part_size(PART_KIB << 10))
}

/// A test's view of one bucket, through the S3 API.
struct Store {
    bucket: Bucket,
    creds: Credentials,
    http: reqwest::blocking::Client,
}

const SIGNED: Duration = Duration::from_secs(600);

impl Store {
    /// A new, empty bucket.
    fn create(name: &str) -> Store {
        let n = node();
        let s = Store {
            bucket: Bucket::new(
                n.endpoint.parse().unwrap(),
                UrlStyle::Path,
                name.to_string(),
                n.region.clone(),
            )
            .unwrap(),
            creds: Credentials::new(n.access_key.clone(), n.secret_key.clone()),
            http: reqwest::blocking::Client::new(),
        };
        let url = rusty_s3::actions::CreateBucket::new(&s.bucket, &s.creds).sign(SIGNED);
        let r = s.http.put(url).send().unwrap();
        assert!(r.status().is_success(), "create bucket: {:?}", r.text());
        s
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let url =
            rusty_s3::actions::GetObject::new(&self.bucket, Some(&self.creds), key).sign(SIGNED);
        let r = self.http.get(url).send().unwrap();
        (r.status().is_success()).then(|| r.bytes().unwrap().to_vec())
    }

    fn put(&self, key: &str, body: Vec<u8>) {
        let url =
            rusty_s3::actions::PutObject::new(&self.bucket, Some(&self.creds), key).sign(SIGNED);
        let r = self.http.put(url).body(body).send().unwrap();
        assert!(r.status().is_success(), "put {key}: {:?}", r.text());
    }

    /// A presigned URL for `method` on `key` (the bucket when empty).
    fn signed(&self, method: rusty_s3::Method, key: &str, query: &[(&str, &str)]) -> reqwest::Url {
        let url = if key.is_empty() {
            self.bucket.base_url().clone()
        } else {
            self.bucket.object_url(key).unwrap()
        };
        rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            method,
            url,
            self.creds.key(),
            self.creds.secret(),
            None,
            self.bucket.region(),
            600,
            {
                let mut q = query.to_vec();
                q.sort_unstable();
                q.into_iter()
            },
            std::iter::empty(),
        )
    }

    /// Every key in the bucket.
    fn keys(&self) -> Vec<String> {
        let url = self.signed(rusty_s3::Method::Get, "", &[("list-type", "2")]);
        let text = self.http.get(url).send().unwrap().text().unwrap();
        assert!(!text.contains("<IsTruncated>true"), "{text}");
        tags(&text, "Key")
    }

    /// The keys of multipart uploads still open.
    fn open_uploads(&self) -> Vec<String> {
        let url = self.signed(rusty_s3::Method::Get, "", &[("uploads", "")]);
        let r = self.http.get(url).send().unwrap();
        assert!(r.status().is_success());
        tags(&r.text().unwrap(), "Key")
    }

    /// Starts a multipart upload of `key` and stores one part: what a
    /// station that died mid-upload leaves.
    fn orphan_upload(&self, key: &str) {
        let url = self.signed(rusty_s3::Method::Post, key, &[("uploads", "")]);
        let text = self.http.post(url).send().unwrap().text().unwrap();
        let id = tags(&text, "UploadId").remove(0);
        let url = self.signed(
            rusty_s3::Method::Put,
            key,
            &[("partNumber", "1"), ("uploadId", &id)],
        );
        let r = self.http.put(url).body(vec![7u8; 70_000]).send().unwrap();
        assert!(r.status().is_success());
    }

    /// `[upload.s3]` for this bucket at `endpoint` (the node, or a proxy).
    fn config(&self, endpoint: &str, secret: &str) -> String {
        format!(
            "[upload]\nretry_base_ms = 20\nretry_max_ms = 200\nmax_attempts = 12\ntimeout_secs = 10\n\n[upload.s3]\nendpoint = \"{endpoint}\"\nregion = \"{}\"\nbucket = \"{}\"\nprefix = \"site-a/station-1\"\naccess_key = \"{}\"\nsecret_key = \"{secret}\"\npart_size_kib = {PART_KIB}\n",
            node().region,
            self.bucket.name(),
            node().access_key,
        )
    }
}

fn tags(xml: &str, tag: &str) -> Vec<String> {
    xml.split(&format!("<{tag}>"))
        .skip(1)
        .filter_map(|s| s.split(&format!("</{tag}>")).next())
        .map(|s| s.replace("&quot;", "\""))
        .collect()
}

fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// A station with an approved batch of `records` patients at `dpi`, set to
/// deliver to `store` through `endpoint`.
fn station(
    store: &Store,
    endpoint: &str,
    records: usize,
    dpi: u32,
    seed: u64,
) -> (Station, String) {
    let (st, batch) = imported_station(
        &store.config(endpoint, &node().secret_key),
        &StackSpec {
            seed,
            records,
            dpi,
            duplex: false,
            ..StackSpec::default()
        },
    );
    approve_as_is(&st, &batch);
    (st, batch)
}

/// The bucket holds exactly the batch's objects, each PDF as the manifest
/// says; returns the manifest's documents' (id, bytes).
fn assert_holds_batch(store: &Store, st: &Station, batch: &str) -> Vec<(String, u64)> {
    let (m, _) = st.export(batch);
    let prefix = format!("site-a/station-1/{batch}");
    let mut want: Vec<String> = vec![format!("{prefix}/manifest.json")];
    let mut docs = Vec::new();
    for r in &m.records {
        want.push(format!("{prefix}/bundles/{}.json", r.id));
        for d in &r.documents {
            let key = format!("{prefix}/documents/{}.pdf", d.id);
            let pdf = store.get(&key).expect("the PDF is stored");
            assert_eq!(
                (pdf.len() as u64, sha256(&pdf)),
                (d.pdf.bytes, d.pdf.sha256.clone())
            );
            want.push(key);
            docs.push((d.id.clone(), d.pdf.bytes));
        }
        let bundle: Value = serde_json::from_slice(
            &store
                .get(&format!("{prefix}/bundles/{}.json", r.id))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(bundle["resourceType"], "Bundle");
    }
    let manifest: Value =
        serde_json::from_slice(&store.get(&format!("{prefix}/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["batch"]["id"], batch);
    let mut got = store.keys();
    got.sort();
    want.sort();
    assert_eq!(got, want, "exactly the batch's objects, once each");
    assert!(
        store.open_uploads().is_empty(),
        "no multipart upload left open"
    );
    docs
}

fn receipts_verified(st: &Station, batch: &str, docs: usize) {
    let got = st.json(&["receipts", batch, "--json"]);
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), docs, "{got:?}");
    for r in got {
        assert_eq!(r["verified"], true, "{r}");
        assert!(r["location"].as_str().unwrap().starts_with("s3://"), "{r}");
        assert!(!r["etag"].as_str().unwrap_or_default().is_empty(), "{r}");
    }
}

#[test]
fn a_batch_sent_twice_is_stored_once_and_verified() {
    let store = Store::create("twice");
    let proxy = FaultProxy::start(node().endpoint.trim_start_matches("http://"));
    let (st, batch) = station(&store, &proxy.url(), 2, 150, 41);
    // The station as it was before it sent anything: sending again from
    // here is a station restored from backup, its outbox state lost.
    let before = tempfile::tempdir().unwrap();
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        let s = std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", from.display()))
            .arg(to)
            .status()
            .unwrap();
        assert!(s.success());
    };
    copy(&st.data_dir(), before.path());

    st.ok(&["upload"]);
    assert_eq!(outbox_state(&st, &batch), "done");
    let docs = assert_holds_batch(&store, &st, &batch);
    assert!(
        docs.iter().any(|(_, b)| *b > PART_KIB << 10),
        "a multipart document: {docs:?}"
    );
    receipts_verified(&st, &batch, docs.len());
    let first = proxy.requests().len();

    std::fs::remove_dir_all(st.data_dir()).unwrap();
    std::fs::create_dir_all(st.data_dir()).unwrap();
    copy(before.path(), &st.data_dir());
    assert_eq!(outbox_state(&st, &batch), "queued");
    st.ok(&["upload"]);
    assert_eq!(outbox_state(&st, &batch), "done");
    assert_holds_batch(&store, &st, &batch);
    receipts_verified(&st, &batch, docs.len());
    // Nothing was written the second time: every create met the object.
    let again = &proxy.requests()[first..];
    let writes: Vec<_> = again
        .iter()
        .filter(|r| matches!(r.method.as_str(), "PUT" | "POST"))
        .collect();
    assert!(!writes.is_empty());
    for w in writes {
        assert_eq!(
            w.status,
            Some(412),
            "a second send rewrote an object: {w:?}"
        );
    }
}

#[test]
fn a_changed_object_is_flagged_and_left_alone() {
    let store = Store::create("changed");
    let (st, batch) = station(&store, &node().endpoint, 1, 150, 42);
    let (m, _) = st.export(&batch);
    let doc = &m.records[0].documents[0];
    let key = format!("site-a/station-1/{batch}/documents/{}.pdf", doc.id);
    store.put(&key, b"%PDF-1.4 someone else's document".to_vec());
    let out = st.run(&["upload"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(outbox_state(&st, &batch), "conflict", "{err}");
    assert!(
        err.contains(&doc.id) && err.contains("does not overwrite"),
        "{err}"
    );
    assert_eq!(
        store.get(&key).unwrap(),
        b"%PDF-1.4 someone else's document"
    );
}

#[test]
fn faults_and_resets_are_ridden_out_without_a_second_copy() {
    let store = Store::create("faults");
    let proxy = FaultProxy::start(node().endpoint.trim_start_matches("http://"));
    let (st, batch) = station(&store, &proxy.url(), 2, 200, 43);
    proxy.fault(Matcher::Method("PUT"), Fault::Status(500), 1);
    proxy.fault(Matcher::Any, Fault::Status(503), 2);
    // Stored, but the answer is lost: the next try meets the object.
    proxy.fault(Matcher::Method("PUT"), Fault::ResetAfter, 1);
    proxy.fault(Matcher::Query("partNumber=2"), Fault::ResetBefore, 1);
    proxy.fault(Matcher::Query("partNumber=1"), Fault::ResetAfter, 1);
    let out = st.run(&["upload"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        proxy.pending(),
        0,
        "every fault was met: {:?}",
        proxy.requests()
    );
    for words in ["500", "busy", "connection"] {
        assert!(err.contains(words), "stderr names '{words}': {err}");
    }
    assert!(
        !err.contains(&node().secret_key) && !err.contains("X-Amz-Signature"),
        "{err}"
    );
    let docs = assert_holds_batch(&store, &st, &batch);
    receipts_verified(&st, &batch, docs.len());
}

#[test]
fn an_upload_killed_mid_multipart_resumes_and_orphans_are_aborted() {
    let store = Store::create("resume");
    let proxy = FaultProxy::start(node().endpoint.trim_start_matches("http://"));
    let (st, batch) = station(&store, &proxy.url(), 1, 300, 44);
    let (m, _) = st.export(&batch);
    // An upload some earlier crash left, under a document of this batch.
    let small = m.records[0]
        .documents
        .iter()
        .min_by_key(|d| d.pdf.bytes)
        .unwrap();
    store.orphan_upload(&format!(
        "site-a/station-1/{batch}/documents/{}.pdf",
        small.id
    ));
    let big = m.records[0]
        .documents
        .iter()
        .max_by_key(|d| d.pdf.bytes)
        .unwrap();
    assert!(
        big.pdf.bytes > 3 * (PART_KIB << 10),
        "{} bytes",
        big.pdf.bytes
    );

    let upload_id = |t: &str| {
        t.split("uploadId=")
            .nth(1)
            .map(|s| s.split('&').next().unwrap_or_default().to_string())
    };
    let part_2_stored = |p: &FaultProxy| {
        p.requests()
            .into_iter()
            .find(|r| r.target.contains("partNumber=2&") && r.status == Some(200))
    };
    let mut child = st.cmd().arg("upload").spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while part_2_stored(&proxy).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            proxy.requests()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_id = upload_id(&part_2_stored(&proxy).unwrap().target).unwrap();
    assert!(
        store.open_uploads().len() >= 2,
        "the killed upload and the orphan are open"
    );
    let killed = proxy.requests().len();

    st.ok(&["upload"]);
    assert_eq!(outbox_state(&st, &batch), "done");
    let after = &proxy.requests()[killed..];
    let same: Vec<_> = after
        .iter()
        .filter(|r| upload_id(&r.target).as_deref() == Some(killed_id.as_str()))
        .collect();
    assert!(
        same.iter().any(|r| r.method == "GET"),
        "the killed upload's parts were listed: {same:?}"
    );
    assert!(
        same.iter()
            .any(|r| r.method == "POST" && r.status == Some(200)),
        "the killed upload was completed, not begun again: {same:?}"
    );
    assert!(
        !same.iter().any(|r| r.method == "PUT"
            && (r.target.contains("partNumber=1&") || r.target.contains("partNumber=2&"))),
        "parts already stored were sent again: {same:?}"
    );
    let docs = assert_holds_batch(&store, &st, &batch);
    receipts_verified(&st, &batch, docs.len());
}

#[test]
fn wrong_credentials_and_a_missing_bucket_are_said_and_nothing_is_marked_sent() {
    let store = Store::create("creds");
    let (st, batch) = imported_station(
        &store.config(&node().endpoint, "not-the-secret-at-all"),
        &StackSpec {
            seed: 45,
            records: 1,
            dpi: 150,
            duplex: false,
            ..StackSpec::default()
        },
    );
    approve_as_is(&st, &batch);
    let out = st.run(&["upload"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("does not accept Folio's credentials"), "{err}");
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    assert!(
        !err.contains("not-the-secret-at-all"),
        "the secret was shown: {err}"
    );
    assert_ne!(outbox_state(&st, &batch), "done");
    assert!(store.keys().is_empty());

    let cfg = store
        .config(&node().endpoint, &node().secret_key)
        .replace("bucket = \"creds\"", "bucket = \"no-such-bucket\"");
    std::fs::write(st.data_dir().join("config.toml"), cfg).unwrap();
    let out = st.run(&["upload", "--batch", &batch]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("no-such-bucket") && err.contains("does not exist"),
        "{err}"
    );
    assert_ne!(outbox_state(&st, &batch), "done");
}

#[test]
fn two_uploaders_at_once_leave_one_copy() {
    let store = Store::create("together");
    let (st, batch) = station(&store, &node().endpoint, 2, 200, 46);
    let a = st.cmd().arg("upload").spawn().unwrap();
    let b = st.cmd().arg("upload").spawn().unwrap();
    for mut child in [a, b] {
        let status = child.wait().unwrap();
        assert!(status.success(), "{status:?}");
    }
    // One of them may have found the batch held by the other: a last run
    // finishes whatever is left.
    st.ok(&["upload"]);
    assert_eq!(outbox_state(&st, &batch), "done");
    let docs = assert_holds_batch(&store, &st, &batch);
    receipts_verified(&st, &batch, docs.len());
}
