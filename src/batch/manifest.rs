//! `manifest.json`: the batch's contract with the central store. Version 2
//! (`folio.manifest/2`, written now) is PRODUCT.md's `folio.manifest/1` with
//! each document's provenance added (who scanned it, at which station, with
//! which device and settings, when, the session test target's and the
//! sample's results); version 1 is still read. Optional fields are omitted,
//! not null.

use super::flags::Flag;
use super::identifiers::PatientId;
use super::separate::Face;
use serde::{Deserialize, Serialize};

/// The format tag of the manifest written now.
pub const FORMAT: &str = "folio.manifest/2";
/// Every format tag this Folio reads.
pub const READABLE: [&str; 2] = ["folio.manifest/1", FORMAT];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub batch: BatchInfo,
    pub records: Vec<ManifestRecord>,
    pub removed: Vec<ManifestRemoved>,
    /// The station's audit chain head when the batch was delivered: kept by
    /// the central store, it lets `folio check` see a chain whose last events
    /// were removed. Absent from exports and from older manifests.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub audit_head: Option<AuditHead>,
}

/// The audit chain's head: the last event's sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchInfo {
    pub id: String,
    pub label: String,
    pub station: String,
    pub operator: String,
    pub created: String,
    pub closed: Option<String>,
    pub sides_scanned: u32,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Patient {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nhs_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hospital_number: Option<String>,
}

impl Patient {
    pub fn from_id(id: Option<&PatientId>) -> Patient {
        match id {
            Some(PatientId::Nhs { number, .. }) => Patient {
                nhs_number: Some(number.clone()),
                hospital_number: None,
            },
            Some(PatientId::Hospital { number }) => Patient {
                nhs_number: None,
                hospital_number: Some(number.clone()),
            },
            None => Patient::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestFlag {
    pub code: String,
    pub detail: String,
}

impl From<&Flag> for ManifestFlag {
    fn from(f: &Flag) -> Self {
        ManifestFlag {
            code: f.code.as_str().to_string(),
            detail: f.detail.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestRecord {
    pub id: String,
    pub patient: Patient,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub specialty: Option<String>,
    pub flags: Vec<ManifestFlag>,
    pub documents: Vec<ManifestDocument>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestDocument {
    pub id: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
    pub doc_type: Option<String>,
    pub pdf: PdfInfo,
    pub pages: Vec<ManifestPage>,
    /// Where the document comes from (version 2; absent in version 1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub provenance: Option<Provenance>,
}

/// A document's provenance: what BS 10008 asks to attribute every image to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The station it was scanned at.
    pub station: String,
    /// Who started the batch.
    pub operator: String,
    /// The scanning sessions its pages come from, in page order: who scanned
    /// them (and in which role), the device (its name, vendor and model),
    /// the settings, and the session test target's result. Empty for pages
    /// stored before sessions were kept.
    pub sessions: Vec<ProvenanceSession>,
    /// When its first and its last page were stored.
    pub captured_from: String,
    pub captured_to: String,
    /// The batch's sampling check, when one was drawn.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sample: Option<ProvenanceSample>,
    pub pages: u32,
    /// The PDF's SHA-256 (as `pdf.sha256`).
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvenanceSession {
    pub id: String,
    pub operator: String,
    /// The role they signed in with (absent at a station without accounts).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub role: Option<String>,
    /// As named to SANE (or `folio:demo`, or `import`).
    pub device: String,
    pub vendor: String,
    pub model: String,
    pub profile: String,
    /// What was asked of the device: dpi, mode, source, page size.
    pub settings: serde_json::Value,
    pub started: String,
    /// The session test target's result (absent: none was scanned).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<ProvenanceTarget>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvenanceTarget {
    pub passed: bool,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvenanceSample {
    pub draw: u32,
    /// `passed`, `failed` or `open`.
    pub result: String,
    /// Who judged it and when (a passed sample).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub at: Option<String>,
    /// Sides in the sample, and those that failed.
    pub sides: u32,
    pub failed: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PdfInfo {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub pages: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestPage {
    pub side: u32,
    pub sheet: u32,
    pub face: Face,
    pub sha256: String,
    pub flags: Vec<ManifestFlag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestRemoved {
    pub side: u32,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub barcode: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_omitted() {
        let d = ManifestDocument {
            id: "d".into(),
            doc_type: None,
            pdf: PdfInfo {
                path: "documents/d.pdf".into(),
                sha256: "00".into(),
                bytes: 1,
                pages: 1,
            },
            pages: vec![],
            provenance: None,
        };
        let v = serde_json::to_value(&d).unwrap();
        assert!(v.get("type").is_none());
        assert!(v.get("provenance").is_none());
        let p = serde_json::to_value(Patient::from_id(Some(&PatientId::Hospital {
            number: "RX1".into(),
        })))
        .unwrap();
        assert_eq!(p, serde_json::json!({"hospital_number": "RX1"}));
    }
}
