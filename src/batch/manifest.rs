//! `manifest.json` (`folio.manifest/1`): the batch's contract with the central
//! store, exactly the fields of PRODUCT.md. Optional fields are omitted, not null.

use super::flags::Flag;
use super::identifiers::PatientId;
use super::separate::Face;
use serde::{Deserialize, Serialize};

/// The format tag of this version of the manifest.
pub const FORMAT: &str = "folio.manifest/1";

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
        };
        let v = serde_json::to_value(&d).unwrap();
        assert!(v.get("type").is_none());
        let p = serde_json::to_value(Patient::from_id(Some(&PatientId::Hospital {
            number: "RX1".into(),
        })))
        .unwrap();
        assert_eq!(p, serde_json::json!({"hospital_number": "RX1"}));
    }
}
