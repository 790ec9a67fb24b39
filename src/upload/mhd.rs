//! The IHE MHD metadata Folio claims and the settings behind it
//! (`[upload.mhd]`): the station's source OID, the organisation, the codes
//! for category, facility, confidentiality and language, and the tables that
//! map Folio's local document types and specialties to real code systems
//! (LOINC document codes, SNOMED CT practice settings).
//!
//! Folio claims the MHD 4.2 **Minimal** ProvideBundle and meets it fully; it
//! also carries most of what Comprehensive asks (category, securityLabel,
//! format, language, facility type, contained author) but not all (no
//! `sourcePatientInfo`, no practice setting when a record has no specialty), so
//! it does not claim Comprehensive.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The profiles claimed (`meta.profile`).
pub const PROVIDE_BUNDLE_PROFILE: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.ProvideBundle";
pub const SUBMISSION_SET_PROFILE: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.SubmissionSet";
pub const DOCUMENT_REFERENCE_PROFILE: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.DocumentReference";
pub const SOURCE_ID_EXTENSION: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId";
pub const DESIGNATION_TYPE_EXTENSION: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType";
pub const LIST_TYPES_SYSTEM: &str = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes";
/// Identifiers that are URIs (urn:oid:, urn:uuid:).
pub const URI_SYSTEM: &str = "urn:ietf:rfc:3986";
const FORMAT_CODE_SYSTEM: &str = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode";
const CONFIDENTIALITY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";

/// A code in a code system, as the settings give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    pub system: String,
    pub code: String,
    #[serde(default)]
    pub display: Option<String>,
}

impl Code {
    fn new(system: &str, code: &str, display: &str) -> Code {
        Code {
            system: system.into(),
            code: code.into(),
            display: Some(display.into()),
        }
    }

    /// As a FHIR Coding.
    pub fn coding(&self) -> Value {
        let mut c = json!({"system": self.system, "code": self.code});
        if let Some(d) = &self.display {
            c["display"] = json!(d);
        }
        c
    }

    /// As a CodeableConcept with this one coding.
    pub fn concept(&self) -> Value {
        json!({"coding": [self.coding()]})
    }
}

/// How a record's PDFs travel to a FHIR server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryTransport {
    /// In the ITI-65 transaction, each Binary a conditional create on its tag
    /// (`_tag=urn:folio:document|<document id>`): for MHD Document Recipients
    /// and servers that can search Binaries (HAPI).
    #[default]
    InBundle,
    /// Each Binary first, by `PUT Binary/<id>` with an id derived from the
    /// document, then the transaction with the List and DocumentReferences:
    /// for FHIR servers that store Binaries but cannot search them (Medplum).
    Separate,
}

/// The `[upload.mhd]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MhdConfig {
    /// The station's sourceId, an OID (`1.2.826.0.1...`); unset: one derived
    /// from the station's name under the UUID arc (`2.25.<n>`, ITU-T X.667),
    /// unique without registration. A hospital with its own OID root sets it.
    pub source_oid: Option<String>,
    /// The organisation that keeps the records (DocumentReference.custodian).
    pub organisation_name: Option<String>,
    /// Its NHS ODS code.
    pub organisation_ods_code: Option<String>,
    /// DocumentReference.category (XDS classCode).
    pub category: Code,
    /// The SubmissionSet's designationType (XDS contentTypeCode).
    pub designation_type: Code,
    /// DocumentReference.context.facilityType.
    pub facility_type: Code,
    /// DocumentReference.securityLabel, an HL7 v3 Confidentiality code (N, R, V).
    pub confidentiality: String,
    /// The documents' language (BCP 47).
    pub language: String,
    /// The code of a document type missing from `document_types`.
    pub default_document_type: Code,
    /// Folio's document type (from the control sheet) to its real code.
    pub document_types: BTreeMap<String, Code>,
    /// Folio's specialty (from the record sheet) to a practice setting.
    pub specialties: BTreeMap<String, Code>,
    /// The system of the local codes carried beside the mapped ones.
    pub local_document_type_system: String,
    pub local_specialty_system: String,
    /// `in_bundle` or `separate` (see [`BinaryTransport`]).
    pub binaries: BinaryTransport,
}

impl Default for MhdConfig {
    fn default() -> Self {
        let doc = |code, display| Code::new(LOINC, code, display);
        let sct = |code, display| Code::new(SNOMED, code, display);
        MhdConfig {
            source_oid: None,
            organisation_name: None,
            organisation_ods_code: None,
            category: sct("419891008", "Record artifact"),
            designation_type: sct("419891008", "Record artifact"),
            facility_type: sct("22232009", "Hospital"),
            confidentiality: "N".into(),
            language: "en-GB".into(),
            default_document_type: doc("34109-9", "Note"),
            document_types: [
                ("clinical_note", doc("34109-9", "Note")),
                ("correspondence", doc("34109-9", "Note")),
                ("referral", doc("57133-1", "Referral note")),
                ("results", doc("11502-2", "Laboratory report")),
                ("discharge_summary", doc("18842-5", "Discharge summary")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            specialties: [
                ("cardiology", sct("394579002", "Cardiology")),
                ("respiratory", sct("418112009", "Pulmonary medicine")),
                ("oncology", sct("394592004", "Clinical oncology")),
                ("orthopaedics", sct("394801008", "Trauma and orthopaedics")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            local_document_type_system: "urn:folio:document-type".into(),
            local_specialty_system: "urn:folio:specialty".into(),
            binaries: BinaryTransport::InBundle,
        }
    }
}

impl MhdConfig {
    /// The sourceId OID of `station`.
    pub fn source_oid(&self, station: &str) -> String {
        match &self.source_oid {
            Some(oid) => oid.clone(),
            None => uuid_oid(&format!("folio:station:{station}")),
        }
    }

    /// A document's type: the mapped code (the default one when the table
    /// does not know it, or the sheet gave none) and the local one, with the
    /// local name as text.
    pub fn document_type(&self, local: Option<&str>) -> Value {
        let Some(local) = local else {
            return self.default_document_type.concept();
        };
        let mapped = self
            .document_types
            .get(local)
            .unwrap_or(&self.default_document_type);
        let own = json!({"system": self.local_document_type_system, "code": local});
        json!({"coding": [mapped.coding(), own], "text": local})
    }

    /// A specialty as a practice setting: mapped when the table knows it,
    /// always with the local code.
    pub fn practice_setting(&self, local: &str) -> Value {
        let own = json!({"system": self.local_specialty_system, "code": local});
        let coding = match self.specialties.get(local) {
            Some(c) => vec![c.coding(), own],
            None => vec![own],
        };
        json!({"coding": coding, "text": local})
    }

    pub fn security_label(&self) -> Value {
        json!([{"coding": [{"system": CONFIDENTIALITY_SYSTEM, "code": self.confidentiality}]}])
    }

    /// The IHE format code: a PDF needs nothing beyond its MIME type.
    pub fn format(&self) -> Value {
        json!({"system": FORMAT_CODE_SYSTEM, "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient", "display": "mimeType Sufficient"})
    }

    /// DocumentReference.custodian, when an organisation is configured.
    pub fn custodian(&self) -> Option<Value> {
        match (&self.organisation_ods_code, &self.organisation_name) {
            (None, None) => None,
            (ods, name) => {
                let mut r = json!({});
                if let Some(code) = ods {
                    r["identifier"] = json!({"system": ODS_SYSTEM, "value": code});
                }
                if let Some(n) = name {
                    r["display"] = json!(n);
                }
                Some(r)
            }
        }
    }

    /// What is wrong with the settings, in words (checked with the rest of
    /// the configuration when it loads).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(oid) = &self.source_oid
            && !is_oid(oid)
        {
            out.push(format!(
                "upload.mhd.source_oid = {oid:?} is not an OID (digits separated by dots, like 1.2.826.0.1.123456, at most 64 characters, no urn:oid: prefix)"
            ));
        }
        if !["U", "L", "M", "N", "R", "V"].contains(&self.confidentiality.as_str()) {
            out.push(format!(
                "upload.mhd.confidentiality = {:?} is not an HL7 v3 Confidentiality code (U, L, M, N, R or V)",
                self.confidentiality
            ));
        }
        if !is_language_tag(&self.language) {
            out.push(format!(
                "upload.mhd.language = {:?} is not a language tag like en-GB",
                self.language
            ));
        }
        let codes = [
            ("category".to_string(), &self.category),
            ("designation_type".to_string(), &self.designation_type),
            ("facility_type".to_string(), &self.facility_type),
            (
                "default_document_type".to_string(),
                &self.default_document_type,
            ),
        ];
        let tables = self
            .document_types
            .iter()
            .map(|(k, c)| (format!("document_types.{k}"), c))
            .chain(
                self.specialties
                    .iter()
                    .map(|(k, c)| (format!("specialties.{k}"), c)),
            );
        for (name, c) in codes.into_iter().chain(tables) {
            if !is_uri(&c.system)
                || c.code.trim().is_empty()
                || c.code.chars().any(char::is_control)
            {
                out.push(format!(
                    "upload.mhd.{name} needs a system that is an absolute URI (like http://loinc.org) and a code"
                ));
            }
        }
        for (name, s) in [
            (
                "local_document_type_system",
                &self.local_document_type_system,
            ),
            ("local_specialty_system", &self.local_specialty_system),
        ] {
            if !is_uri(s) {
                out.push(format!("upload.mhd.{name} = {s:?} is not an absolute URI"));
            }
        }
        out
    }
}

/// An OID under the UUID arc for a name: `2.25.` and the name's v5 UUID as
/// one decimal number.
pub fn uuid_oid(name: &str) -> String {
    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes());
    format!("2.25.{}", id.as_u128())
}

/// An OID as XDS accepts it: arcs of digits without leading zeros, first arc
/// 0-2, at least two arcs, at most 64 characters.
pub fn is_oid(s: &str) -> bool {
    let arcs: Vec<&str> = s.split('.').collect();
    s.len() <= 64
        && arcs.len() >= 2
        && matches!(arcs[0], "0" | "1" | "2")
        && arcs.iter().all(|a| {
            !a.is_empty()
                && a.bytes().all(|b| b.is_ascii_digit())
                && (a.len() == 1 || !a.starts_with('0'))
        })
}

fn is_uri(s: &str) -> bool {
    s.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.len() > 1
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    }) && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_language_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 35
        && s.split('-')
            .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_the_derived_source_oid_is_an_oid() {
        let m = MhdConfig::default();
        assert_eq!(m.problems(), Vec::<String>::new());
        let oid = m.source_oid("station-1");
        assert!(is_oid(&oid), "{oid}");
        assert_eq!(oid, m.source_oid("station-1"), "stable");
        assert_ne!(oid, m.source_oid("station-2"));
    }

    #[test]
    fn oids_are_checked() {
        for good in ["1.2.826.0.1.3680043", "2.25.0", "0.9"] {
            assert!(is_oid(good), "{good}");
        }
        for bad in [
            "",
            "1",
            "3.1",
            "1.02",
            "1..2",
            "urn:oid:1.2",
            "1.2.",
            "1.2.a",
            &"1.2".repeat(30),
        ] {
            assert!(!is_oid(bad), "{bad}");
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let mut m = MhdConfig {
            source_oid: Some("urn:oid:1.2.3".into()),
            confidentiality: "secret".into(),
            language: "en GB".into(),
            ..MhdConfig::default()
        };
        m.document_types.insert(
            "letter".into(),
            Code {
                system: "loinc".into(),
                code: "1".into(),
                display: None,
            },
        );
        let p = m.problems().join("\n");
        for want in [
            "source_oid",
            "confidentiality",
            "language",
            "document_types.letter",
        ] {
            assert!(p.contains(want), "{want} in {p}");
        }
    }

    #[test]
    fn local_codes_ride_beside_mapped_ones() {
        let m = MhdConfig::default();
        let t = m.document_type(Some("referral"));
        assert_eq!(t["coding"][0]["system"], LOINC);
        assert_eq!(t["coding"][0]["code"], "57133-1");
        assert_eq!(t["coding"][1]["code"], "referral");
        let unknown = m.document_type(Some("x-ray film"));
        assert_eq!(unknown["coding"][0]["code"], "34109-9");
        assert_eq!(unknown["text"], "x-ray film");
        assert_eq!(m.document_type(None)["coding"][0]["code"], "34109-9");
        let p = m.practice_setting("podiatry");
        assert_eq!(p["coding"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            m.practice_setting("cardiology")["coding"][0]["code"],
            "394579002"
        );
    }
}
