//! The sheet protocol: what a barcode's text means (PRODUCT.md, "Separation").

use super::identifiers::PatientId;
use regex::Regex;
use serde::{Deserialize, Serialize};

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
    /// `FOLIO:TARGET:<version>`: Folio's session test target
    /// (`folio sheets --target`): measured, never part of a record.
    Target { version: String },
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

/// A Kodak patch code: four bars, two wide (0.20 in) and two narrow
/// (0.08 in), three narrow spaces, read from the sheet's leading edge. The
/// separator most bureaus already own (`folio sheets --patch` prints them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Patch {
    #[serde(rename = "1")]
    P1,
    #[serde(rename = "2")]
    P2,
    #[serde(rename = "3")]
    P3,
    #[serde(rename = "4")]
    P4,
    #[serde(rename = "6")]
    P6,
    #[serde(rename = "T")]
    T,
}

impl Patch {
    pub const ALL: [Patch; 6] = [
        Patch::P1,
        Patch::P2,
        Patch::P3,
        Patch::P4,
        Patch::P6,
        Patch::T,
    ];

    /// The bars from the leading edge, `true` for wide (the spaces are all
    /// narrow).
    pub fn bars(self) -> [bool; 4] {
        match self {
            Patch::P1 => [true, true, false, false],
            Patch::P2 => [true, false, false, true],
            Patch::P3 => [true, false, true, false],
            Patch::P4 => [false, true, true, false],
            Patch::P6 => [false, false, true, true],
            Patch::T => [false, true, false, true],
        }
    }

    /// The patch with these bars, if any.
    pub fn from_bars(bars: [bool; 4]) -> Option<Patch> {
        Patch::ALL.into_iter().find(|p| p.bars() == bars)
    }

    /// "1", "2", "3", "4", "6" or "T", as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Patch::P1 => "1",
            Patch::P2 => "2",
            Patch::P3 => "3",
            Patch::P4 => "4",
            Patch::P6 => "6",
            Patch::T => "T",
        }
    }

    pub fn parse(s: &str) -> Option<Patch> {
        Patch::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// What a patch sheet does in separation (`[patches]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchAction {
    /// A new document starts in the current record (of the default type).
    NewDocument,
    /// A new record starts. Its patient is the identifier label on the patch
    /// sheet, if it carries one; otherwise a supervisor types it in Review
    /// (the record is flagged until then).
    NewRecord,
    /// The sheet only separates (a bundle's end, say): removed, no action.
    Separator,
}

/// The meaning of each patch code. The bureau defaults: patch 2 a new
/// document, patch 3 a new record, T and the rest separators only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PatchMeanings(pub std::collections::BTreeMap<Patch, PatchAction>);

impl Default for PatchMeanings {
    fn default() -> Self {
        PatchMeanings(
            [
                (Patch::P2, PatchAction::NewDocument),
                (Patch::P3, PatchAction::NewRecord),
            ]
            .into_iter()
            .collect(),
        )
    }
}

impl PatchMeanings {
    /// What `patch` does: as configured, else a separator.
    pub fn action(&self, patch: Patch) -> PatchAction {
        self.0
            .get(&patch)
            .copied()
            .unwrap_or(PatchAction::Separator)
    }
}

/// A field of a control instruction, with the rules its text must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    PatientId,
    Specialty,
    DocumentType,
    BatchLabel,
}

impl Field {
    /// Longest text accepted, in characters: what a person can read on a
    /// sheet and a store can file; longer is damage or a wrong sheet.
    pub fn max_chars(self) -> usize {
        match self {
            Field::PatientId => 32,
            Field::Specialty | Field::DocumentType => 64,
            Field::BatchLabel => 120,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Field::PatientId => "patient id",
            Field::Specialty => "specialty",
            Field::DocumentType => "document type",
            Field::BatchLabel => "batch label",
        }
    }
}

/// Why a field's text is not acceptable on a control sheet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("the {0} is empty")]
    Empty(&'static str),
    #[error("the {field} is {chars} characters long; at most {max} fit a control sheet")]
    TooLong {
        field: &'static str,
        chars: usize,
        max: usize,
    },
    #[error("the {0} holds control or text-direction characters")]
    ControlCharacters(&'static str),
    #[error("the {0} holds ':', which separates the fields of a control sheet")]
    Colon(&'static str),
}

/// Checks one field's text (already trimmed) against the protocol's rules; the
/// printer (`folio sheets`) and the reader use the same ones.
pub fn check_field(field: Field, text: &str) -> Result<(), FieldError> {
    let name = field.name();
    if text.is_empty() {
        return Err(FieldError::Empty(name));
    }
    let chars = text.chars().count();
    if chars > field.max_chars() {
        return Err(FieldError::TooLong {
            field: name,
            chars,
            max: field.max_chars(),
        });
    }
    if text.chars().any(hidden_char) {
        return Err(FieldError::ControlCharacters(name));
    }
    // The last fields of a sheet may hold ':' (a label "Box 12: ward 7");
    // an id or a document type may not.
    if matches!(field, Field::PatientId | Field::DocumentType) && text.contains(':') {
        return Err(FieldError::Colon(name));
    }
    Ok(())
}

/// Characters that are invisible or reorder text on screen (control
/// characters, whitespace other than the space, zero-width and direction
/// marks): never part of a field, since they would let a sheet show one thing
/// and say another, and never shown raw.
pub fn hidden_char(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Interprets one decoded barcode. A control instruction any of whose fields
/// breaks the rules of [`check_field`] is malformed (flagged), never acted on.
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
    let ok = |field, text: &str| check_field(field, text).is_ok();
    match kind.as_str() {
        "REC" => {
            let (id, specialty) = match arg.split_once(':') {
                Some((id, sp)) => (id.trim(), non_empty(sp)),
                None => (arg, None),
            };
            if !ok(Field::PatientId, id)
                || specialty
                    .as_deref()
                    .is_some_and(|sp| !ok(Field::Specialty, sp))
            {
                return malformed();
            }
            SheetCode::Control(Control::Record {
                patient: PatientId::classify(id, hospital_pattern),
                raw_id: id.to_string(),
                specialty,
            })
        }
        "DOC" if ok(Field::DocumentType, arg) => SheetCode::Control(Control::Document {
            doc_type: arg.to_string(),
        }),
        "BATCH" if ok(Field::BatchLabel, arg) => SheetCode::Control(Control::Batch {
            label: arg.to_string(),
        }),
        // Only versions this Folio can measure; another is a sheet it does
        // not know, kept apart like any malformed control sheet.
        "TARGET" if arg == TARGET_VERSION => SheetCode::Control(Control::Target {
            version: arg.to_string(),
        }),
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

/// The version of the test target this Folio prints and measures.
pub const TARGET_VERSION: &str = "1";

/// Whether a barcode's text is the session test target's.
pub fn is_target_code(text: &str) -> bool {
    strip_prefix_ci(text.trim(), "FOLIO:TARGET:").is_some_and(|v| v.trim() == TARGET_VERSION)
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
        assert_eq!(
            parse_barcode(crate::imaging::target_layout::CODE, &pat()),
            SheetCode::Control(Control::Target {
                version: TARGET_VERSION.into()
            })
        );
        assert!(is_target_code(" folio:target:1 "));
        assert!(!is_target_code("FOLIO:TARGET:2"));
        assert_eq!(
            parse_barcode("folio:doc:results", &pat()),
            SheetCode::Control(Control::Document {
                doc_type: "results".into()
            })
        );
        assert!(matches!(
            parse_barcode(&record_code("RX123456", None), &pat()),
            SheetCode::Control(Control::Record {
                patient: Some(PatientId::Hospital { .. }),
                specialty: None,
                ..
            })
        ));
    }

    #[test]
    fn near_misses_and_hostile_fields_are_malformed_never_acted_on() {
        let long = format!("FOLIO:DOC:{}", "x".repeat(2000));
        for text in [
            "FOLIO:REC:",
            "FOLIO:REC: ",
            "FOLIO:",
            "FOLIO::REC:9434765919",
            "FOLIO:REC:94347\u{0}65919",
            "FOLIO:DOC:letters\u{1b}[2J",
            "FOLIO:DOC:\u{202e}srettel",
            "FOLIO:DOC:a:b",
            "FOLIO:BATCH:",
            "FOLIO:BATCH:box\n12",
            "FOLIO:TARGET:",
            "FOLIO:TARGET:2",
            "FOLIO:TARGET:1:extra",
            long.as_str(),
        ] {
            assert!(
                matches!(parse_barcode(text, &pat()), SheetCode::MalformedControl(_)),
                "{text:?}"
            );
        }
        // Outside the protocol any text is just another barcode.
        assert_eq!(parse_barcode(&"A".repeat(2000), &pat()), SheetCode::Other);
        assert_eq!(
            parse_barcode("\u{fffd}\u{fffd}\u{0}", &pat()),
            SheetCode::Other
        );
        assert!(matches!(
            parse_barcode("FOLIO:REC:9434765919:paeds: A&E", &pat()),
            SheetCode::Control(Control::Record { specialty: Some(sp), .. }) if sp == "paeds: A&E"
        ));
        // Non-ASCII text is fine in every field.
        assert!(matches!(
            parse_barcode("FOLIO:REC:9434765919:pédiatrie", &pat()),
            SheetCode::Control(Control::Record { specialty: Some(sp), .. }) if sp == "pédiatrie"
        ));
        assert!(matches!(
            parse_barcode("FOLIO:BATCH:Box 12: ward 7 中", &pat()),
            SheetCode::Control(Control::Batch { .. })
        ));
    }
}
