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
use serde_json::{Map, Value, json};
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

/// A token's value as it may stand in a FHIR search (a conditional create's
/// `ifNoneExist`): FHIR's own separators escaped with a backslash, then
/// percent-encoded, so a station name holding `&`, `|` or `,` cannot add or
/// change search parameters.
fn search_value(value: &str) -> String {
    let mut escaped = String::new();
    for c in value.chars() {
        if matches!(c, '\\' | '|' | ',' | '$') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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

/// Base64 length of `n` bytes (padded).
fn b64_len(n: u64) -> u64 {
    n.div_ceil(3) * 4
}

impl StreamedBundle {
    /// Builds the Bundle of a record.
    ///
    /// The JSON is written structurally: every key and value goes through
    /// serde_json on its own, and each Binary's `data` string is opened and
    /// closed here, around the PDF streamed as base64. Nothing is searched for
    /// in serialised text, so no content of any field (a barcode, a label)
    /// can move the PDF's bytes or end up in their place.
    pub fn of(p: &RecordPackage) -> StreamedBundle {
        let mut w = PieceWriter::default();
        let (head, entries) = bundle_parts(p);
        w.json(b"{");
        w.members(&head, false);
        if !head.is_empty() {
            w.json(b",");
        }
        w.key("entry");
        w.json(b"[");
        for (n, entry) in entries.iter().enumerate() {
            if n > 0 {
                w.json(b",");
            }
            match entry.data_of.and_then(|i| p.documents.get(i)) {
                None => w.value(&Value::Object(entry.json.clone())),
                Some(doc) => w.entry_with_data(&entry.json, doc),
            }
        }
        w.json(b"]}");
        let pieces = w.finish();
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

/// Writes JSON structurally into pieces, merging adjacent JSON bytes.
#[derive(Default)]
struct PieceWriter {
    pieces: Vec<Piece>,
    json: Vec<u8>,
}

impl PieceWriter {
    fn json(&mut self, bytes: &[u8]) {
        self.json.extend_from_slice(bytes);
    }

    /// One whole JSON value, serialised by serde_json (which escapes quotes,
    /// backslashes and control characters).
    fn value(&mut self, v: &Value) {
        self.json(v.to_string().as_bytes());
    }

    fn key(&mut self, k: &str) {
        self.value(&Value::String(k.to_string()));
        self.json(b":");
    }

    /// The members of `map`, comma-separated, with a comma before the first
    /// when `after_member` (the object already has one).
    fn members(&mut self, map: &Map<String, Value>, mut after_member: bool) {
        for (k, v) in map {
            if after_member {
                self.json(b",");
            }
            after_member = true;
            self.key(k);
            self.value(v);
        }
    }

    /// A Bundle entry whose resource is a Binary: its members as JSON, the
    /// resource's `data` as the document's PDF in base64, streamed.
    fn entry_with_data(&mut self, entry: &Map<String, Value>, doc: &DocumentFile) {
        self.json(b"{");
        for (n, (k, v)) in entry.iter().enumerate() {
            if n > 0 {
                self.json(b",");
            }
            self.key(k);
            match v {
                Value::Object(resource) if k == "resource" => {
                    self.json(b"{");
                    self.members(resource, false);
                    if !resource.is_empty() {
                        self.json(b",");
                    }
                    self.key("data");
                    self.json(b"\"");
                    let json = std::mem::take(&mut self.json);
                    self.pieces.push(Piece::Json(json));
                    self.pieces.push(Piece::Base64Of {
                        path: doc.pdf_path.clone(),
                        bytes: doc.bytes,
                    });
                    self.json(b"\"}");
                }
                _ => self.value(v),
            }
        }
        self.json(b"}");
    }

    fn finish(mut self) -> Vec<Piece> {
        let json = std::mem::take(&mut self.json);
        self.pieces.push(Piece::Json(json));
        self.pieces
    }
}

/// One entry of the Bundle: its JSON and, for a Binary, the index of the
/// document whose PDF is its `data` (left out of `json`).
struct Entry {
    json: Map<String, Value>,
    data_of: Option<usize>,
}

/// The Bundle as JSON with each Binary's data given by `data(index, doc)`
/// (for checks and tests; uploads stream the data with [`StreamedBundle`]).
pub fn bundle_json(p: &RecordPackage, data: impl Fn(usize, &DocumentFile) -> Value) -> Value {
    let (mut head, entries) = bundle_parts(p);
    let entries = entries
        .into_iter()
        .map(|mut e| {
            if let (Some(i), Some(Value::Object(r))) = (e.data_of, e.json.get_mut("resource"))
                && let Some(d) = p.documents.get(i)
            {
                r.insert("data".into(), data(i, d));
            }
            Value::Object(e.json)
        })
        .collect();
    head.insert("entry".into(), Value::Array(entries));
    Value::Object(head)
}

/// Turns a `json!({...})` object into its map (every caller passes an object).
fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The Bundle's own members (all but `entry`), and its entries in order.
fn bundle_parts(p: &RecordPackage) -> (Map<String, Value>, Vec<Entry>) {
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
        entries.push(Entry {
            json: object(json!({
                "fullUrl": docref,
                "resource": resource,
                "request": {"method": "POST", "url": "DocumentReference", "ifNoneExist": identifier_query(&d.id)},
            })),
            data_of: None,
        });
        entries.push(Entry {
            json: object(json!({
                "fullUrl": binary,
                "resource": {"resourceType": "Binary", "contentType": "application/pdf"},
                "request": {"method": "POST", "url": "Binary"},
            })),
            data_of: Some(i),
        });
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
        "request": {"method": "POST", "url": "Device", "ifNoneExist": format!("identifier=urn:folio:station|{}", search_value(&p.origin.station))},
    });
    let mut all = vec![Entry {
        json: object(list),
        data_of: None,
    }];
    all.extend(entries);
    all.push(Entry {
        json: object(device_entry),
        data_of: None,
    });
    let head = object(json!({
        "resourceType": "Bundle",
        "meta": {"profile": [ITI65_PROFILE]},
        "type": "transaction",
    }));
    (head, all)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::manifest::{ManifestRecord, Patient};
    use crate::upload::Origin;

    /// Text that breaks naive JSON splicing: the old in-band marker, quotes,
    /// backslashes, control characters and non-ASCII.
    fn hostile(tag: &str) -> String {
        format!(
            "{tag} @@folio-binary-data-0@@ @@folio-binary-data-1@@ \" \\ \\\" \n\r\t\u{0}\u{1b}\u{7f} é Ł 中 \u{2028} }}]\",\"data\":\""
        )
    }

    fn package(dir: &std::path::Path, sizes: &[usize]) -> RecordPackage {
        let documents = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let mut bytes = b"%PDF-1.7\n".to_vec();
                bytes.extend((0..n).map(|k| (k * 7 + i) as u8));
                let pdf_path = dir.join(format!("{i}.pdf"));
                std::fs::write(&pdf_path, &bytes).unwrap();
                DocumentFile {
                    id: uuid::Uuid::new_v4().to_string(),
                    doc_type: Some(hostile("type")),
                    pdf_path,
                    sha256: "ab".repeat(32),
                    sha1: "cd".repeat(20),
                    bytes: bytes.len() as u64,
                    pages: 3,
                }
            })
            .collect();
        RecordPackage {
            origin: Origin {
                batch_id: hostile("batch"),
                batch_label: hostile("label"),
                station: hostile("station"),
                site: hostile("site"),
                scanned: "2026-01-02T03:04:05Z".into(),
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
        }
    }

    fn streamed(p: &RecordPackage) -> Vec<u8> {
        let b = StreamedBundle::of(p);
        let len = b.len;
        let mut out = Vec::new();
        b.reader().read_to_end(&mut out).unwrap();
        assert_eq!(out.len() as u64, len, "Content-Length is the bytes sent");
        out
    }

    #[test]
    fn case_1_upload_bundle_is_structural_whatever_its_fields_hold() {
        let dir = tempfile::tempdir().unwrap();
        // Sizes around base64's 3-byte groups and the reader's chunk.
        let p = package(dir.path(), &[0, 1, 2, CHUNK - 9, CHUNK - 8, 2 * CHUNK + 5]);
        let got: Value = serde_json::from_slice(&streamed(&p)).unwrap();
        let want = bundle_json(&p, |_, d| {
            Value::String(B64.encode(std::fs::read(&d.pdf_path).unwrap()))
        });
        assert_eq!(got, want);
        // Each Binary decodes to its own PDF, and every text is as given.
        let entries = got["entry"].as_array().unwrap();
        for (i, d) in p.documents.iter().enumerate() {
            let docref = &entries[1 + 2 * i]["resource"];
            assert_eq!(docref["type"]["text"], hostile("type"));
            let binary = &entries[2 + 2 * i]["resource"];
            let data = B64.decode(binary["data"].as_str().unwrap()).unwrap();
            assert_eq!(data, std::fs::read(&d.pdf_path).unwrap(), "document {i}");
        }
        let list = &entries[0]["resource"];
        assert!(list["title"].as_str().unwrap().contains(&hostile("label")));
        assert_eq!(
            list["subject"]["identifier"]["value"],
            hostile("hospital number")
        );
    }

    #[test]
    fn case_1_a_station_name_cannot_change_the_device_search() {
        assert_eq!(
            search_value("st 1&x=2|y,z\\é"),
            "st%201%26x%3D2%5C%7Cy%5C%2Cz%5C%5C%C3%A9"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut p = package(dir.path(), &[1]);
        p.origin.station = "north&_id=1".into();
        let b = bundle_json(&p, |_, _| Value::Null);
        let device = b["entry"].as_array().unwrap().last().unwrap();
        assert_eq!(
            device["request"]["ifNoneExist"],
            "identifier=urn:folio:station|north%26_id%3D1"
        );
    }

    #[test]
    fn the_bundle_json_does_not_grow_with_the_pdfs() {
        let dir = tempfile::tempdir().unwrap();
        let small = StreamedBundle::of(&package(dir.path(), &[10]));
        let big = StreamedBundle::of(&package(dir.path(), &[3_000_000]));
        let json = |b: &StreamedBundle| -> usize {
            b.pieces
                .iter()
                .map(|p| match p {
                    Piece::Json(j) => j.len(),
                    Piece::Base64Of { .. } => 0,
                })
                .sum()
        };
        // Only the digits of the sizes differ.
        assert!(json(&big).abs_diff(json(&small)) < 10);
        assert!(big.len > 4_000_000);
    }
}
