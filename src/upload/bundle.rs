//! The IHE MHD ITI-65 "Provide Document Bundle" of one record: a transaction
//! Bundle with a SubmissionSet List, a DocumentReference and a Binary per
//! document, and the station as a Device.
//!
//! The Bundle is never held whole in memory: it is a list of JSON pieces and
//! PDF files, read in order with each PDF base64-encoded as it streams, so a
//! 2,000-page record costs a buffer, not several copies of itself. Its length
//! is known beforehand (the request carries Content-Length).

use super::{DocumentFile, RecordPackage, mhd};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};
use std::io::{self, Read};
use std::path::PathBuf;

/// The NHS number's identifier system.
pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// The id of the station's Device, contained in the resources it authors.
const STATION_ID: &str = "station";
/// The identifier system of station names.
pub const STATION_SYSTEM: &str = "urn:folio:station";
/// The tag that keys a Binary to its document (Binary has no identifier).
pub const BINARY_TAG_SYSTEM: &str = "urn:folio:document";
/// Where the PDF's SHA-256 (hex) rides on the attachment, next to FHIR's SHA-1.
pub const SHA256_EXTENSION: &str = "urn:folio:attachment-sha256";
/// The identifier system of operators (their account ids).
pub const OPERATOR_SYSTEM: &str = "urn:folio:operator";
/// Where a document's provenance (the manifest's, as JSON) rides on its
/// DocumentReference.
pub const PROVENANCE_EXTENSION: &str = "urn:folio:provenance";
/// The tag that keys a record's Provenance to it (Provenance has no
/// identifier), for its conditional create.
pub const PROVENANCE_TAG_SYSTEM: &str = "urn:folio:provenance";
/// Where the station's audit chain head ("seq:hash") rides on a Provenance.
pub const AUDIT_HEAD_EXTENSION: &str = "urn:folio:audit-head";
/// The id of the station's organisation, contained when configured.
const ORGANISATION_ID: &str = "organisation";

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
    format!(
        "identifier={}|{}",
        mhd::URI_SYSTEM,
        search_value(&master_identifier(doc_id))
    )
}

/// The conditional-create search that finds a document's Binary.
pub fn binary_query(doc_id: &str) -> String {
    format!("_tag={BINARY_TAG_SYSTEM}|{}", search_value(doc_id))
}

/// The tag code of a record's Provenance.
pub fn provenance_code(batch_id: &str, record_id: &str) -> String {
    format!("{batch_id}:{record_id}")
}

/// The conditional-create search that finds a record's Provenance.
pub fn provenance_query(batch_id: &str, record_id: &str) -> String {
    format!(
        "_tag={PROVENANCE_TAG_SYSTEM}|{}",
        search_value(&provenance_code(batch_id, record_id))
    )
}

/// A token's value as it may stand in a FHIR search (a conditional create's
/// `ifNoneExist`): FHIR's own separators escaped with a backslash, then
/// percent-encoded (all but unreserved characters and `:`, which a query may
/// hold as it is), so a value holding `&`, `|` or `,` cannot add or change
/// search parameters.
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
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
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
        Self::with(p, &Binaries::InBundle)
    }

    /// The Bundle with the Binaries where `binaries` says.
    pub fn with(p: &RecordPackage, binaries: &Binaries) -> StreamedBundle {
        let mut w = PieceWriter::default();
        let (head, entries) = bundle_parts(p, binaries);
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
        w.finish()
    }

    /// A document's Binary alone, as sent by `PUT Binary/<id>` when Binaries
    /// travel separately: `{"resourceType":"Binary","id":...,"data":"<PDF>"}`.
    pub fn binary(doc: &DocumentFile) -> StreamedBundle {
        StreamedBundle::binary_as(doc, &binary_id(&doc.id))
    }

    /// A document's Binary with the server's id `id`, for `PUT Binary/<id>`.
    pub fn binary_as(doc: &DocumentFile, id: &str) -> StreamedBundle {
        let mut w = PieceWriter::default();
        let mut resource = binary_resource(doc);
        resource.insert("id".into(), Value::String(id.to_string()));
        w.resource_with_data(&resource, doc);
        w.finish()
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
                    self.resource_with_data(resource, doc)
                }
                _ => self.value(v),
            }
        }
        self.json(b"}");
    }

    /// A Binary resource: its members, then `data` as the PDF in base64.
    fn resource_with_data(&mut self, resource: &Map<String, Value>, doc: &DocumentFile) {
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

    fn finish(mut self) -> StreamedBundle {
        let json = std::mem::take(&mut self.json);
        self.pieces.push(Piece::Json(json));
        let len = self
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Json(b) => b.len() as u64,
                Piece::Base64Of { bytes, .. } => b64_len(*bytes),
            })
            .sum();
        StreamedBundle {
            pieces: self.pieces,
            len,
        }
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
    let (mut head, entries) = bundle_parts(p, &Binaries::InBundle);
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

/// Where a record's Binaries travel.
pub enum Binaries {
    /// In the transaction, each a conditional create on its tag.
    InBundle,
    /// Already stored (`PUT Binary/<id>` before the transaction), at these
    /// URLs, one per document.
    Stored(Vec<String>),
}

/// The id a document's Binary gets when sent on its own: a UUID derived from
/// the document id (a valid FHIR id whatever the document id holds).
pub fn binary_id(doc_id: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("binary-id:{doc_id}").as_bytes(),
    )
    .to_string()
}

/// A document's Binary without its data: the tag that finds it again.
fn binary_resource(d: &DocumentFile) -> Map<String, Value> {
    object(json!({
        "resourceType": "Binary",
        "meta": {"tag": [{"system": BINARY_TAG_SYSTEM, "code": d.id}]},
        "contentType": "application/pdf",
    }))
}

/// The station as a Device, contained in each resource that names it (so a
/// re-send creates no second Device and two stations cannot race to create one).
fn station_device(p: &RecordPackage) -> Value {
    json!({
        "resourceType": "Device",
        "id": STATION_ID,
        "identifier": [{"system": STATION_SYSTEM, "value": p.origin.station}],
        "deviceName": [{"name": format!("Folio scanning station {} ({})", p.origin.station, p.origin.site), "type": "user-friendly-name"}],
    })
}

/// The identifiers of a record's SubmissionSet: its uniqueId (an OID) and its
/// entryUUID. Neither is ever an entry's fullUrl, which a server rewrites.
pub fn submission_set_ids(batch_id: &str, record_id: &str) -> (String, String) {
    let name = format!("submissionset:{batch_id}:{record_id}");
    (format!("urn:oid:{}", mhd::uuid_oid(&name)), urn(&name))
}

/// The entryUUID of a document's DocumentReference.
pub fn document_entry_uuid(doc_id: &str) -> String {
    urn(&format!("entryuuid:documentreference:{doc_id}"))
}

/// The patient as a Reference: by NHS number, else by hospital number.
fn subject(p: &RecordPackage) -> Value {
    match (
        &p.record.patient.nhs_number,
        &p.record.patient.hospital_number,
    ) {
        (Some(nhs), _) => json!({"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs}}),
        (None, Some(hn)) => {
            json!({"identifier": {"system": p.hospital_number_system, "value": hn}})
        }
        (None, None) => json!({"display": "unidentified patient"}),
    }
}

/// The operator's label when there is one, else the batch id.
fn batch_name(p: &RecordPackage) -> &str {
    match p.origin.batch_label.trim() {
        "" => p.origin.batch_id.as_str(),
        label => label,
    }
}

/// The station, contained, as the author of what it sends.
fn author() -> Value {
    json!({"reference": format!("#{STATION_ID}")})
}

/// A document's provenance, as the manifest gives it.
fn provenance_of<'p>(
    p: &'p RecordPackage,
    doc_id: &str,
) -> Option<&'p crate::batch::manifest::Provenance> {
    p.record
        .documents
        .iter()
        .find(|d| d.id == doc_id)?
        .provenance
        .as_ref()
}

/// Who scanned the documents `ids`: each operator once, in the order they
/// first scanned, with the role they signed in with.
fn operators<'p>(p: &'p RecordPackage, ids: &[&str]) -> Vec<(&'p str, Option<&'p str>)> {
    let mut out: Vec<(&str, Option<&str>)> = Vec::new();
    let sessions = ids
        .iter()
        .filter_map(|id| provenance_of(p, id))
        .flat_map(|prov| &prov.sessions);
    for s in sessions {
        if out.iter().all(|(op, _)| *op != s.operator) {
            out.push((s.operator.as_str(), s.role.as_deref()));
        }
    }
    out
}

/// The resources a resource about `ids` contains (the station's Device, the
/// operators as Practitioners, the organisation when configured) and the
/// references to them, the Device's first.
fn people(p: &RecordPackage, ids: &[&str]) -> (Vec<Value>, Vec<Value>) {
    let mut contained = vec![station_device(p)];
    let mut refs = vec![author()];
    for (i, (op, role)) in operators(p, ids).into_iter().enumerate() {
        let id = format!("operator-{}", i + 1);
        let mut practitioner = json!({
            "resourceType": "Practitioner",
            "id": id,
            "identifier": [{"system": OPERATOR_SYSTEM, "value": op}],
            "name": [{"text": op}],
        });
        if let Some(role) = role {
            practitioner["extension"] = json!([{"url": "urn:folio:role", "valueString": role}]);
        }
        contained.push(practitioner);
        refs.push(json!({"reference": format!("#{id}")}));
    }
    if let Some(mut org) = p.mhd.custodian() {
        if let Some(name) = org.get("display").cloned() {
            org["name"] = name;
        }
        if let Some(identifier) = org.get("identifier").cloned() {
            org["identifier"] = json!([identifier]);
        }
        let mut org = object(org);
        org.remove("display");
        org.insert("resourceType".into(), json!("Organization"));
        org.insert("id".into(), json!(ORGANISATION_ID));
        contained.push(Value::Object(org));
        refs.push(json!({"reference": format!("#{ORGANISATION_ID}")}));
    }
    (contained, refs)
}

/// The record's Provenance: its documents were captured by these operators
/// at this station, with the station's audit chain head when it was sent.
fn provenance_resource(p: &RecordPackage, docrefs: Vec<Value>) -> Value {
    let ids: Vec<&str> = p.documents.iter().map(|d| d.id.as_str()).collect();
    let (contained, refs) = people(p, &ids);
    let agent_type = |code: &str| json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": code}]});
    let agents: Vec<Value> = refs
        .into_iter()
        .enumerate()
        .map(|(i, who)| {
            // The station assembled the record; each operator performed the scan.
            let role = if i == 0 { "assembler" } else { "performer" };
            json!({"type": agent_type(role), "who": who})
        })
        .collect();
    let mut r = json!({
        "resourceType": "Provenance",
        "meta": {"tag": [{"system": PROVENANCE_TAG_SYSTEM, "code": provenance_code(&p.origin.batch_id, &p.record.id)}]},
        "contained": contained,
        "target": docrefs,
        "recorded": p.origin.scanned,
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "CREATE"}]},
        "agent": agents,
    });
    if let Some(head) = &p.origin.audit_head {
        r["extension"] = json!([{"url": AUDIT_HEAD_EXTENSION, "valueString": format!("{}:{}", head.seq, head.hash)}]);
    }
    r
}

/// A document's DocumentReference (MHD Minimal), its attachment at `binary`.
fn document_reference(p: &RecordPackage, d: &DocumentFile, binary: &str) -> Value {
    let m = &p.mhd;
    let doc_type = d.doc_type.as_deref();
    let name = doc_type.unwrap_or("document");
    let (contained, authors) = people(p, &[d.id.as_str()]);
    let mut resource = json!({
        "resourceType": "DocumentReference",
        "meta": {"profile": [mhd::DOCUMENT_REFERENCE_PROFILE]},
        "contained": contained,
        "masterIdentifier": {"use": "usual", "system": mhd::URI_SYSTEM, "value": master_identifier(&d.id)},
        "identifier": [{"use": "official", "system": mhd::URI_SYSTEM, "value": document_entry_uuid(&d.id)}],
        "status": "current",
        "type": m.document_type(doc_type),
        "category": [m.category.concept()],
        "subject": subject(p),
        "date": p.origin.scanned,
        "author": authors,
        "description": format!("{name}, {} pages, scanned in batch {}", d.pages, batch_name(p)),
        "securityLabel": m.security_label(),
        "content": [{
            "attachment": {
                "contentType": "application/pdf",
                "language": m.language,
                "url": binary,
                "size": d.bytes,
                "hash": sha1_base64_of_hex(&d.sha1),
                "title": format!("{name} ({} pages)", d.pages),
                "creation": p.origin.scanned,
                "extension": [{"url": SHA256_EXTENSION, "valueString": d.sha256}],
            },
            "format": m.format(),
        }],
        "context": {"facilityType": m.facility_type.concept()},
    });
    if let Some(sp) = &p.record.specialty {
        resource["context"]["practiceSetting"] = m.practice_setting(sp);
    }
    if let Some(c) = m.custodian() {
        resource["custodian"] = c;
    }
    if let Some(prov) = provenance_of(p, &d.id).and_then(|v| serde_json::to_string(v).ok()) {
        resource["extension"] = json!([{"url": PROVENANCE_EXTENSION, "valueString": prov}]);
    }
    resource
}

/// The record's SubmissionSet List (MHD Minimal), naming `items`.
fn submission_set(p: &RecordPackage, items: Vec<Value>) -> Value {
    let m = &p.mhd;
    let (unique_id, entry_uuid) = submission_set_ids(&p.origin.batch_id, &p.record.id);
    let mut list = json!({
        "resourceType": "List",
        "meta": {"profile": [mhd::SUBMISSION_SET_PROFILE]},
        "contained": [station_device(p)],
        "extension": [
            {"url": mhd::SOURCE_ID_EXTENSION, "valueIdentifier": {"system": mhd::URI_SYSTEM, "value": format!("urn:oid:{}", m.source_oid(&p.origin.station))}},
            {"url": mhd::DESIGNATION_TYPE_EXTENSION, "valueCodeableConcept": m.designation_type.concept()},
        ],
        "identifier": [
            {"use": "usual", "system": mhd::URI_SYSTEM, "value": unique_id},
            {"use": "official", "system": mhd::URI_SYSTEM, "value": entry_uuid},
        ],
        "status": "current",
        "mode": "working",
        "title": format!("Folio batch {} record {}", batch_name(p), p.record.id),
        "code": {"coding": [{"system": mhd::LIST_TYPES_SYSTEM, "code": "submissionset"}]},
        "date": p.origin.scanned,
        "source": author(),
        "entry": items,
    });
    let subject = subject(p);
    if subject.get("identifier").is_some() {
        list["subject"] = subject;
    }
    list
}

/// The Bundle's own members (all but `entry`), and its entries in order: the
/// SubmissionSet List, then each document's DocumentReference and Binary,
/// then the record's Provenance.
/// Every entry is a conditional create on an identifier of its own, so a
/// re-send (after a timeout, a reset, a crash) creates nothing twice.
fn bundle_parts(p: &RecordPackage, binaries: &Binaries) -> (Map<String, Value>, Vec<Entry>) {
    let mut entries = Vec::new();
    let mut items = Vec::new();
    for (i, d) in p.documents.iter().enumerate() {
        let docref = urn(&format!("documentreference:{}", d.id));
        let binary = match binaries {
            Binaries::InBundle => urn(&format!("binary:{}", d.id)),
            Binaries::Stored(urls) => urls.get(i).cloned().unwrap_or_default(),
        };
        items.push(json!({"item": {"reference": docref}}));
        entries.push(Entry {
            json: object(json!({
                "fullUrl": docref,
                "resource": document_reference(p, d, &binary),
                "request": {"method": "POST", "url": "DocumentReference", "ifNoneExist": identifier_query(&d.id)},
            })),
            data_of: None,
        });
        if let Binaries::InBundle = binaries {
            let mut resource = binary_resource(d);
            resource.insert("securityContext".into(), json!({"reference": docref}));
            entries.push(Entry {
                json: object(json!({
                    "fullUrl": binary,
                    "resource": resource,
                    "request": {"method": "POST", "url": "Binary", "ifNoneExist": binary_query(&d.id)},
                })),
                data_of: Some(i),
            });
        }
    }
    // Last, so the answers to the List and the documents keep their places.
    let targets = items.iter().map(|i| i["item"].clone()).collect();
    entries.push(Entry {
        json: object(json!({
            "fullUrl": urn(&format!("provenance:{}:{}", p.origin.batch_id, p.record.id)),
            "resource": provenance_resource(p, targets),
            "request": {"method": "POST", "url": "Provenance", "ifNoneExist": provenance_query(&p.origin.batch_id, &p.record.id)},
        })),
        data_of: None,
    });
    let (unique_id, _) = submission_set_ids(&p.origin.batch_id, &p.record.id);
    let mut all = vec![Entry {
        json: object(json!({
            "fullUrl": urn(&format!("entry:submissionset:{}:{}", p.origin.batch_id, p.record.id)),
            "resource": submission_set(p, items),
            "request": {"method": "POST", "url": "List", "ifNoneExist": format!("identifier={}|{}", mhd::URI_SYSTEM, search_value(&unique_id))},
        })),
        data_of: None,
    }];
    all.extend(entries);
    let head = object(json!({
        "resourceType": "Bundle",
        "meta": {"profile": [mhd::PROVIDE_BUNDLE_PROFILE]},
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
    current: Option<Box<dyn Read + Send + Sync>>,
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
                    self.current = Some(
                        crate::store::images::open_path(&path)
                            .map_err(|e| io::Error::other(e.to_string()))?,
                    );
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
            mhd: mhd::MhdConfig::default(),
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
    fn case_1_a_value_cannot_change_a_conditional_search() {
        assert_eq!(
            search_value("st 1&x=2|y,z\\é:"),
            "st%201%26x%3D2%5C%7Cy%5C%2Cz%5C%5C%C3%A9:"
        );
        assert_eq!(
            binary_query("a|b&c"),
            "_tag=urn:folio:document|a%5C%7Cb%26c"
        );
    }

    /// Every string value anywhere in `v`, with its path.
    fn strings<'a>(v: &'a Value, path: String, out: &mut Vec<(String, &'a str)>) {
        match v {
            Value::String(s) => out.push((path, s)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| strings(x, format!("{path}[{i}]"), out)),
            Value::Object(m) => m
                .iter()
                .for_each(|(k, x)| strings(x, format!("{path}.{k}"), out)),
            _ => {}
        }
    }

    #[test]
    fn re_sends_are_conditional_creates_on_identifiers_that_survive_rewriting() {
        let dir = tempfile::tempdir().unwrap();
        let p = package(dir.path(), &[5, 6]);
        let b = bundle_json(&p, |_, _| Value::Null);
        assert_eq!(
            b,
            bundle_json(&p, |_, _| Value::Null),
            "stable across tries"
        );
        let entries = b["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 1 + 2 * p.documents.len() + 1);
        let full_urls: Vec<&str> = entries
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap())
            .collect();
        for e in entries {
            assert_eq!(e["request"]["method"], "POST");
            let cond = e["request"]["ifNoneExist"].as_str().unwrap();
            // A server rewrites every fullUrl string in the Bundle: no
            // identifier, and no conditional search, may be one.
            assert!(!full_urls.iter().any(|u| cond.contains(u)), "{cond}");
            let mut found = Vec::new();
            strings(&e["resource"], String::new(), &mut found);
            for (path, s) in found {
                if path.contains("identifier")
                    || path.contains("Identifier")
                    || path.contains(".tag")
                {
                    assert!(
                        !full_urls.contains(&s),
                        "{path} = {s} is an entry's fullUrl"
                    );
                }
            }
        }
        let list = &entries[0]["resource"];
        assert_eq!(list["identifier"][0]["use"], "usual");
        assert!(
            list["identifier"][0]["value"]
                .as_str()
                .unwrap()
                .starts_with("urn:oid:2.25.")
        );
        assert_eq!(list["identifier"][1]["use"], "official");
        assert!(
            list["identifier"][1]["value"]
                .as_str()
                .unwrap()
                .starts_with("urn:uuid:")
        );
        assert_eq!(list["extension"][0]["url"], mhd::SOURCE_ID_EXTENSION);
        assert_eq!(list["source"]["reference"], "#station");
        assert_eq!(list["contained"][0]["id"], "station");
        let binary = &entries[2]["resource"];
        assert_eq!(binary["meta"]["tag"][0]["code"], p.documents[0].id);
        assert_eq!(
            entries[2]["request"]["ifNoneExist"],
            format!("_tag=urn:folio:document|{}", p.documents[0].id)
        );
        let docref = &entries[1]["resource"];
        assert_eq!(docref["masterIdentifier"]["use"], "usual");
        assert_eq!(docref["author"][0]["reference"], "#station");
        assert_eq!(docref["content"][0]["attachment"]["url"], full_urls[2]);
        assert!(docref["content"][0]["attachment"].get("data").is_none());
    }

    /// A package whose first document was scanned by one operator and the
    /// second by two, sent with an audit head, from a configured organisation.
    fn attributed(dir: &std::path::Path) -> RecordPackage {
        let mut p = package(dir, &[5, 6]);
        p.origin.audit_head = Some(crate::batch::manifest::AuditHead {
            seq: 42,
            hash: "ff".repeat(32),
        });
        let session = |op: &str| crate::batch::manifest::ProvenanceSession {
            id: format!("s-{op}"),
            operator: op.into(),
            role: Some("operator".into()),
            device: "test:0".into(),
            vendor: "Noname".into(),
            model: "frontend-tester".into(),
            profile: "default".into(),
            settings: json!({"dpi": 300}),
            started: "2026-01-02T03:00:00Z".into(),
            target: None,
        };
        // The first document scanned by one operator, the second by two.
        p.record.documents = p
            .documents
            .iter()
            .enumerate()
            .map(|(i, d)| crate::batch::manifest::ManifestDocument {
                id: d.id.clone(),
                doc_type: None,
                pdf: crate::batch::manifest::PdfInfo {
                    path: String::new(),
                    sha256: d.sha256.clone(),
                    bytes: d.bytes,
                    pages: d.pages,
                },
                pages: Vec::new(),
                provenance: Some(crate::batch::manifest::Provenance {
                    station: "st".into(),
                    operator: hostile("op"),
                    sessions: (0..=i)
                        .map(|k| session(&hostile(&format!("op{k}"))))
                        .collect(),
                    captured_from: "a".into(),
                    captured_to: "b".into(),
                    sample: None,
                    pages: d.pages,
                    sha256: d.sha256.clone(),
                }),
            })
            .collect();
        p.mhd.organisation_ods_code = Some("RX1".into());
        p
    }

    #[test]
    fn operators_are_authors_and_the_records_provenance_carries_the_audit_head() {
        let dir = tempfile::tempdir().unwrap();
        let p = attributed(dir.path());
        let b = bundle_json(&p, |_, _| Value::Null);
        let entries = b["entry"].as_array().unwrap();
        let docref = &entries[3]["resource"];
        assert_eq!(docref["resourceType"], "DocumentReference");
        let authors: Vec<&str> = docref["author"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["reference"].as_str().unwrap())
            .collect();
        assert_eq!(
            authors,
            ["#station", "#operator-1", "#operator-2", "#organisation"]
        );
        let contained = docref["contained"].as_array().unwrap();
        assert_eq!(contained[1]["resourceType"], "Practitioner");
        assert_eq!(contained[1]["identifier"][0]["system"], OPERATOR_SYSTEM);
        assert_eq!(contained[1]["identifier"][0]["value"], hostile("op0"));
        assert_eq!(contained[3]["resourceType"], "Organization");
        assert_eq!(contained[3]["identifier"][0]["value"], "RX1");
        let prov: crate::batch::manifest::Provenance =
            serde_json::from_str(docref["extension"][0]["valueString"].as_str().unwrap()).unwrap();
        assert_eq!(prov.sessions.len(), 2);
        // The record's Provenance comes last: every document its target.
        let last = entries.last().unwrap();
        let r = &last["resource"];
        assert_eq!(r["resourceType"], "Provenance");
        let targets: Vec<&Value> = r["target"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| &t["reference"])
            .collect();
        assert_eq!(targets, [&entries[1]["fullUrl"], &entries[3]["fullUrl"]]);
        assert_eq!(r["agent"][0]["who"]["reference"], "#station");
        assert_eq!(r["agent"][0]["type"]["coding"][0]["code"], "assembler");
        assert_eq!(r["agent"][1]["type"]["coding"][0]["code"], "performer");
        assert_eq!(
            r["extension"][0],
            json!({"url": AUDIT_HEAD_EXTENSION, "valueString": format!("42:{}", "ff".repeat(32))})
        );
        assert_eq!(
            last["request"]["ifNoneExist"],
            provenance_query(&p.origin.batch_id, &p.record.id)
        );
        assert_eq!(r["meta"]["tag"][0]["system"], PROVENANCE_TAG_SYSTEM);
    }

    #[test]
    fn binaries_sent_separately_are_put_whole_and_referenced_by_url() {
        let dir = tempfile::tempdir().unwrap();
        let p = package(dir.path(), &[CHUNK + 1, 7]);
        let urls: Vec<String> = p
            .documents
            .iter()
            .map(|d| format!("http://store/fhir/Binary/{}", binary_id(&d.id)))
            .collect();
        let b = StreamedBundle::with(&p, &Binaries::Stored(urls.clone()));
        let len = b.len;
        let mut out = Vec::new();
        b.reader().read_to_end(&mut out).unwrap();
        assert_eq!(out.len() as u64, len);
        let b: Value = serde_json::from_slice(&out).unwrap();
        let entries = b["entry"].as_array().unwrap();
        assert_eq!(
            entries.len(),
            1 + p.documents.len() + 1,
            "no Binary entries"
        );
        for (i, url) in urls.iter().enumerate() {
            let docref = &entries[1 + i]["resource"];
            assert_eq!(docref["resourceType"], "DocumentReference");
            assert_eq!(docref["content"][0]["attachment"]["url"], url.as_str());
        }
        for d in &p.documents {
            let one = StreamedBundle::binary(d);
            let len = one.len;
            let mut out = Vec::new();
            one.reader().read_to_end(&mut out).unwrap();
            assert_eq!(out.len() as u64, len);
            let r: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(r["resourceType"], "Binary");
            assert_eq!(r["id"], binary_id(&d.id));
            assert_eq!(r["meta"]["tag"][0]["code"], d.id.as_str());
            let data = B64.decode(r["data"].as_str().unwrap()).unwrap();
            assert_eq!(data, std::fs::read(&d.pdf_path).unwrap());
        }
        assert_ne!(binary_id(&p.documents[0].id), binary_id(&p.documents[1].id));
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
