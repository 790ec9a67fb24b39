//! The sheet protocol: what a barcode's text means (PRODUCT.md, "Separation").

use super::identifiers::PatientId;
use regex::Regex;

/// A control instruction printed on a control sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// `FOLIO:REC:<patient id>[:<specialty>]`: a new record starts.
    Record {
        patient: Option<PatientId>,
        raw_id: String,
        specialty: Option<String>,
    },
    /// `FOLIO:DOC:<document type>`: a new document starts within the record.
    Document { doc_type: String },
    /// `FOLIO:BATCH:<label>`: names the batch.
    Batch { label: String },
}

/// What one barcode on a page says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SheetCode {
    Control(Control),
    /// Starts with `FOLIO:` but is not a well-formed instruction.
    MalformedControl(String),
    /// A patient identifier on an ordinary page (an ID label).
    Identifier(PatientId),
    /// Any other barcode (a lab form's own code, say): kept, not acted on.
    Other,
}

/// Interprets one decoded barcode.
pub fn parse_barcode(text: &str, hospital_pattern: &Regex) -> SheetCode {
    let t = text.trim();
    let Some(rest) = strip_prefix_ci(t, "FOLIO:") else {
        return match PatientId::classify(t, hospital_pattern) {
            Some(id) => SheetCode::Identifier(id),
            None => SheetCode::Other,
        };
    };
    let malformed = || SheetCode::MalformedControl(t.to_string());
    let (kind, arg) = match rest.split_once(':') {
        Some((k, a)) => (k.to_ascii_uppercase(), a.trim()),
        None => return malformed(),
    };
    match kind.as_str() {
        "REC" => {
            let (id, specialty) = match arg.split_once(':') {
                Some((id, sp)) => (id.trim(), non_empty(sp)),
                None => (arg, None),
            };
            if id.is_empty() {
                return malformed();
            }
            SheetCode::Control(Control::Record {
                patient: PatientId::classify(id, hospital_pattern),
                raw_id: id.to_string(),
                specialty,
            })
        }
        "DOC" => match non_empty(arg) {
            Some(doc_type) => SheetCode::Control(Control::Document { doc_type }),
            None => malformed(),
        },
        "BATCH" => match non_empty(arg) {
            Some(label) => SheetCode::Control(Control::Batch { label }),
            None => malformed(),
        },
        _ => malformed(),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// The barcode text for a record sheet.
pub fn record_code(patient_id: &str, specialty: Option<&str>) -> String {
    match specialty {
        Some(sp) => format!("FOLIO:REC:{patient_id}:{sp}"),
        None => format!("FOLIO:REC:{patient_id}"),
    }
}

/// The barcode text for a document sheet.
pub fn document_code(doc_type: &str) -> String {
    format!("FOLIO:DOC:{doc_type}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat() -> Regex {
        Regex::new(r"^[A-Z]{1,3}[0-9]{5,8}$").unwrap()
    }

    #[test]
    fn parses_the_protocol() {
        match parse_barcode("FOLIO:REC:9434765919:cardiology", &pat()) {
            SheetCode::Control(Control::Record {
                patient: Some(PatientId::Nhs { valid: true, .. }),
                specialty: Some(sp),
                ..
            }) => assert_eq!(sp, "cardiology"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_barcode("FOLIO:DOC:results", &pat()),
            SheetCode::Control(Control::Document {
                doc_type: "results".into()
            })
        );
        assert!(matches!(
            parse_barcode("FOLIO:REC:", &pat()),
            SheetCode::MalformedControl(_)
        ));
        assert!(matches!(
            parse_barcode("FOLIO:XYZ:1", &pat()),
            SheetCode::MalformedControl(_)
        ));
        assert!(matches!(
            parse_barcode("RX123456", &pat()),
            SheetCode::Identifier(PatientId::Hospital { .. })
        ));
        assert_eq!(parse_barcode("LAB-ORDER-77", &pat()), SheetCode::Other);
        assert!(matches!(
            parse_barcode(&record_code("RX123456", None), &pat()),
            SheetCode::Control(Control::Record {
                patient: Some(PatientId::Hospital { .. }),
                specialty: None,
                ..
            })
        ));
    }
}
