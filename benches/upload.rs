//! `cargo bench --bench upload`: delivering to the loopback FHIR server of the
//! tests (tests/common/fhir_server.rs, which validates every Bundle: base64,
//! hashes, references), in a child process so the figures are the uploader's.
//!
//! 1. 50 records of one 40-page document each (200 dpi grey pages as Folio
//!    stores them): MB/s and documents/s.
//! 2. One record of 2,000 pages: the uploader's peak memory, which must not
//!    grow with the record (the Bundle streams from the PDF file).
//!
//! After each, every document is read back from the server and checked
//! (size and SHA-256: the verified receipt), timed apart, its memory too.

#[path = "../tests/common/fhir_server.rs"]
mod fhir_server;

use folio::batch::manifest::{ManifestRecord, Patient};
use folio::imaging::encode::encode;
use folio::imaging::pdf::{DocMeta, PdfStream};
use folio::pixels::Encoded;
use folio::synth::{SideKind, StackSpec, render};
use folio::upload::fhir::FhirTarget;
use folio::upload::{
    DocumentFile, Origin, ProgressSink, RecordPackage, Target, UploadConfig, Verdict,
};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Writes a PDF of `pages` pages cycling through `sample`; returns its file.
fn pdf(dir: &Path, name: &str, sample: &[Encoded], pages: usize) -> DocumentFile {
    let path = dir.join(format!("{name}.pdf"));
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let meta = DocMeta {
        title: name,
        subject: "Scanned paper health record",
        created: time::OffsetDateTime::UNIX_EPOCH,
    };
    let mut pdf = PdfStream::start(file, pages, &meta).unwrap();
    for i in 0..pages {
        pdf.add_page(&sample[i % sample.len()]).unwrap();
    }
    pdf.finish(&[7; 16]).unwrap().flush().unwrap();
    // Hashed as it streams: the 2,000-page PDF must not sit in our memory.
    let (mut sha256, mut sha1, mut bytes) = (Sha256::new(), Sha1::new(), 0u64);
    let mut f = std::fs::File::open(&path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        sha256.update(&buf[..n]);
        sha1.update(&buf[..n]);
        bytes += n as u64;
    }
    DocumentFile {
        id: uuid::Uuid::new_v4().to_string(),
        doc_type: Some("clinical_note".into()),
        pdf_path: path,
        sha256: hex::encode(sha256.finalize()),
        sha1: hex::encode(sha1.finalize()),
        bytes,
        pages: pages as u32,
    }
}

fn package(doc: DocumentFile, i: usize) -> RecordPackage {
    RecordPackage {
        origin: Origin {
            batch_id: "bench".into(),
            batch_label: "bench".into(),
            station: "bench-station".into(),
            site: "bench".into(),
            scanned: folio::now_rfc3339(),
            audit_head: None,
        },
        record: ManifestRecord {
            id: uuid::Uuid::new_v4().to_string(),
            patient: Patient {
                nhs_number: Some("9434765919".into()),
                hospital_number: None,
            },
            specialty: Some(format!("specialty-{}", i % 5)),
            flags: vec![],
            documents: vec![],
        },
        documents: vec![doc],
        hospital_number_system: "urn:folio:hospital-number".into(),
        resend: Vec::new(),
        mhd: Default::default(),
    }
}

/// Reads every document back and checks it, timed.
fn read_back(target: &mut FhirTarget, docs: &[DocumentFile]) {
    let total: u64 = docs.iter().map(|d| d.bytes).sum();
    let started = Instant::now();
    for d in docs {
        let back = target.read_back("bench", d).expect("read back");
        assert_eq!(back.verdict(d), Verdict::Verified);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "  read back and checked ({} documents, size and SHA-256): {secs:.1} s, {:.1} MB/s",
        docs.len(),
        total as f64 / 1e6 / secs
    );
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    if std::env::args().any(|a| a == "--serve") {
        let server = fhir_server::FhirServer::start();
        println!("{}", server.base);
        // Serve until the parent closes our stdin.
        let _ = std::io::stdin().lock().lines().count();
        let invalid = server.with(|s| s.invalid.len());
        std::process::exit(if invalid == 0 { 0 } else { 1 });
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--serve")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut base = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut base)
        .unwrap();
    let base = base.trim().to_string();
    let dir = tempfile::Builder::new()
        .prefix("folio-upload-bench-")
        .tempdir()
        .unwrap();
    let mut painter = folio::imaging::draw::TextPainter::new();
    let spec = |dpi| StackSpec {
        dpi,
        ..StackSpec::default()
    };
    let sample = |dpi, painter: &mut _| -> Vec<Encoded> {
        (0..8)
            .map(|i| {
                encode(
                    &render(&SideKind::Clinical { label: None }, &spec(dpi), i, painter),
                    75,
                )
                .unwrap()
            })
            .collect()
    };
    let mut target = FhirTarget::new(&base, &UploadConfig::default()).unwrap();
    let sink: ProgressSink = Arc::new(|_| {});

    let pages200 = sample(200, &mut painter);
    let docs: Vec<DocumentFile> = (0..50)
        .map(|i| pdf(dir.path(), &format!("r{i}"), &pages200, 40))
        .collect();
    let total: u64 = docs.iter().map(|d| d.bytes).sum();
    let started = Instant::now();
    for (i, d) in docs.iter().enumerate() {
        target
            .deliver(&package(d.clone(), i), &sink)
            .expect("delivered");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "50 records x 40 pages (200 dpi grey, {:.0} MB of PDF) to the loopback FHIR server: {secs:.1} s, {:.1} MB/s, {:.1} documents/s",
        total as f64 / 1e6,
        total as f64 / 1e6 / secs,
        50.0 / secs
    );
    read_back(&mut target, &docs);
    let before = peak_rss_mib();
    let pages150 = sample(150, &mut painter);
    let big = pdf(dir.path(), "big", &pages150, 2000);
    let mb = big.bytes as f64 / 1e6;
    let started = Instant::now();
    target
        .deliver(&package(big.clone(), 0), &sink)
        .expect("delivered");
    println!(
        "one record of 2,000 pages ({mb:.0} MB of PDF): {:.1} s; uploader peak memory {:.0} MiB (before it: {before:.0} MiB)",
        started.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
    read_back(&mut target, std::slice::from_ref(&big));
    println!(
        "uploader peak memory after reading it back: {:.0} MiB",
        peak_rss_mib()
    );
    drop(child.stdin.take());
    let ok = child.wait().unwrap().success();
    assert!(ok, "the server found invalid Bundles");
}
