//! The IHE MHD ITI-65 "Provide Document Bundle" of one record: a transaction
//! Bundle with a SubmissionSet List, a DocumentReference and a Binary per
//! document, and the station as a Device.
//!
//! The Bundle is never held whole in memory: it is a list of JSON pieces and
//! PDF files, read in order with each PDF base64-encoded as it streams, so a
//! 2,000-page record costs a buffer, not several copies of itself. Its length
//! is known beforehand (the request carries Content-Length).

use super::{DocumentFile, RecordPackage};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

/// The NHS number's identifier system.
pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// IHE's profile of a comprehensive Provide Document Bundle.
pub const ITI65_PROFILE: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.ProvideBundle";
/// Where the PDF's SHA-256 (hex) rides on the attachment, next to FHIR's SHA-1.
pub const SHA256_EXTENSION: &str = "urn:folio:attachment-sha256";

/// A stable urn:uuid derived from a name (the same on every retry).
pub fn urn(name: &str) -> String {
    format!(
        "urn:uuid:{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
    )
}

/// The masterIdentifier of a document: its own id, which never changes.
pub fn master_identifier(doc_id: &str) -> String {
    format!("urn:uuid:{doc_id}")
}

/// The conditional-create search that finds a document already stored.
pub fn identifier_query(doc_id: &str) -> String {
    format!("identifier=urn:ietf:rfc:3986|{}", master_identifier(doc_id))
}

enum Piece {
    Json(Vec<u8>),
    Base64Of { path: PathBuf, bytes: u64 },
}

/// A Bundle as pieces, and its length in bytes.
pub struct StreamedBundle {
    pieces: Vec<Piece>,
    pub len: u64,
}

fn marker(i: usize) -> String {
    format!("@@folio-binary-data-{i}@@")
}

/// Base64 length of `n` bytes (padded).
fn b64_len(n: u64) -> u64 {
    n.div_ceil(3) * 4
}

impl StreamedBundle {
    /// Builds the Bundle of a record.
    pub fn of(p: &RecordPackage) -> StreamedBundle {
        let bundle = bundle_json(p, |i, _| Value::String(marker(i)));
        let text = serde_json::to_string(&bundle).unwrap_or_default();
        let mut pieces = Vec::new();
        let mut rest = text.as_str();
        for (i, d) in p.documents.iter().enumerate() {
            if let Some((before, after)) = rest.split_once(&marker(i)) {
                pieces.push(Piece::Json(before.as_bytes().to_vec()));
                pieces.push(Piece::Base64Of {
                    path: d.pdf_path.clone(),
                    bytes: d.bytes,
                });
                rest = after;
            }
        }
        pieces.push(Piece::Json(rest.as_bytes().to_vec()));
        let len = pieces
            .iter()
            .map(|p| match p {
                Piece::Json(b) => b.len() as u64,
                Piece::Base64Of { bytes, .. } => b64_len(*bytes),
            })
            .sum();
        StreamedBundle { pieces, len }
    }

    /// A reader over the Bundle's bytes.
    pub fn reader(self) -> BundleReader {
        BundleReader {
            pieces: self.pieces.into_iter(),
            current: None,
            raw: Vec::new(),
            out: Vec::new(),
            pos: 0,
        }
    }
}

/// The Bundle as JSON with each Binary's data given by `data(index, doc)`.
pub fn bundle_json(p: &RecordPackage, data: impl Fn(usize, &DocumentFile) -> Value) -> Value {
    let r = &p.record;
    let subject = match (&r.patient.nhs_number, &r.patient.hospital_number) {
        (Some(nhs), _) => json!({"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs}}),
        (None, Some(hn)) => {
            json!({"identifier": {"system": p.hospital_number_system, "value": hn}})
        }
        (None, None) => json!({"display": "unidentified patient"}),
    };
    let device = urn(&format!("device:{}", p.origin.station));
    let submission = urn(&format!("submissionset:{}:{}", p.origin.batch_id, r.id));
    let mut entries = Vec::new();
    let mut items = Vec::new();
    for (i, d) in p.documents.iter().enumerate() {
        let docref = urn(&format!("documentreference:{}", d.id));
        let binary = urn(&format!("binary:{}", d.id));
        items.push(json!({"item": {"reference": docref}}));
        let doc_type = d.doc_type.as_deref().unwrap_or("document");
        let mut resource = json!({
            "resourceType": "DocumentReference",
            "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": master_identifier(&d.id)},
            "status": "current",
            "type": {"coding": [{"system": "urn:folio:document-type", "code": doc_type}], "text": doc_type},
            "subject": subject,
            "date": p.origin.scanned,
            "author": [{"reference": device}],
            "description": format!("{doc_type}, {} pages, scanned in batch {}", d.pages, p.origin.batch_label),
            "content": [{"attachment": {
                "contentType": "application/pdf",
                "url": binary,
                "size": d.bytes,
                "hash": sha1_base64_of_hex(&d.sha1),
                "title": format!("{doc_type} ({} pages)", d.pages),
                "creation": p.origin.scanned,
                "extension": [{"url": SHA256_EXTENSION, "valueString": d.sha256}],
            }}],
        });
        if let Some(sp) = &r.specialty {
            resource["context"] = json!({"practiceSetting": {
                "coding": [{"system": "urn:folio:specialty", "code": sp}], "text": sp}});
        }
        entries.push(json!({
            "fullUrl": docref,
            "resource": resource,
            "request": {"method": "POST", "url": "DocumentReference", "ifNoneExist": identifier_query(&d.id)},
        }));
        entries.push(json!({
            "fullUrl": binary,
            "resource": {"resourceType": "Binary", "contentType": "application/pdf", "data": data(i, d)},
            "request": {"method": "POST", "url": "Binary"},
        }));
    }
    let list = json!({
        "fullUrl": submission,
        "resource": {
            "resourceType": "List",
            "identifier": [{"use": "usual", "system": "urn:ietf:rfc:3986", "value": submission}],
            "status": "current",
            "mode": "working",
            "title": format!("Folio batch {} record {}", p.origin.batch_label, r.id),
            "code": {"coding": [{"system": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes", "code": "submissionset"}]},
            "subject": subject,
            "date": p.origin.scanned,
            "source": {"reference": device},
            "entry": items,
        },
        "request": {"method": "POST", "url": "List", "ifNoneExist": format!("identifier=urn:ietf:rfc:3986|{submission}")},
    });
    let device_entry = json!({
        "fullUrl": device,
        "resource": {
            "resourceType": "Device",
            "identifier": [{"system": "urn:folio:station", "value": p.origin.station}],
            "deviceName": [{"name": format!("Folio scanning station {} ({})", p.origin.station, p.origin.site), "type": "user-friendly-name"}],
        },
        "request": {"method": "POST", "url": "Device", "ifNoneExist": format!("identifier=urn:folio:station|{}", p.origin.station)},
    });
    let mut all = vec![list];
    all.extend(entries);
    all.push(device_entry);
    json!({
        "resourceType": "Bundle",
        "meta": {"profile": [ITI65_PROFILE]},
        "type": "transaction",
        "entry": all,
    })
}

/// FHIR R4's Attachment.hash is the SHA-1, base64.
pub(crate) fn sha1_base64_of_hex(hex_digest: &str) -> String {
    B64.encode(hex::decode(hex_digest).unwrap_or_default())
}

/// Reads a StreamedBundle's pieces in order, base64-encoding the PDFs.
pub struct BundleReader {
    pieces: std::vec::IntoIter<Piece>,
    current: Option<File>,
    /// PDF bytes read, before encoding.
    raw: Vec<u8>,
    /// Bytes ready to hand out, from `pos`.
    out: Vec<u8>,
    pos: usize,
}

/// PDF bytes read at a time (a multiple of 3, so chunks encode without padding
/// until the end).
const CHUNK: usize = 3 * 64 * 1024;

impl BundleReader {
    /// Refills `out`; false at the end.
    fn refill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.pos = 0;
        loop {
            if let Some(f) = &mut self.current {
                self.raw.resize(CHUNK, 0);
                let mut n = 0;
                while n < CHUNK {
                    let k = f.read(&mut self.raw[n..])?;
                    if k == 0 {
                        break;
                    }
                    n += k;
                }
                if n > 0 {
                    self.out.resize(b64_len(n as u64) as usize, 0);
                    let written = B64
                        .encode_slice(&self.raw[..n], &mut self.out)
                        .map_err(io::Error::other)?;
                    self.out.truncate(written);
                    return Ok(true);
                }
                self.current = None;
            }
            match self.pieces.next() {
                None => return Ok(false),
                Some(Piece::Json(b)) => {
                    self.out = b;
                    if !self.out.is_empty() {
                        return Ok(true);
                    }
                }
                Some(Piece::Base64Of { path, .. }) => {
                    self.current = Some(File::open(&path).map_err(|e| {
                        io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                    })?);
                }
            }
        }
    }
}

impl Read for BundleReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.out.len() && !self.refill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
