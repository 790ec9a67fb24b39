//! Separation: turns a batch's sides, in feed order, into records, documents and
//! the list of removed sides, following the sheet protocol, and raises the
//! identifier flags (misfiled labels, invalid NHS numbers).

use super::derived_id;
use super::flags::{Flag, FlagCode};
use super::identifiers::PatientId;
use super::protocol::{Control, SheetCode, parse_barcode};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Which face of the sheet a side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Face {
    Front,
    Back,
}

impl Face {
    pub fn as_str(self) -> &'static str {
        match self {
            Face::Front => "front",
            Face::Back => "back",
        }
    }

    pub fn parse(s: &str) -> Face {
        if s == "back" { Face::Back } else { Face::Front }
    }
}

/// Sheet number and face of the side at 0-based feed position `side`.
pub fn sheet_and_face(side: u32, duplex: bool) -> (u32, Face) {
    if duplex {
        (
            side / 2,
            if side.is_multiple_of(2) {
                Face::Front
            } else {
                Face::Back
            },
        )
    } else {
        (side, Face::Front)
    }
}

/// What processing found on one side; the input of separation.
#[derive(Debug, Clone, Default)]
pub struct SideFacts {
    pub side: u32,
    pub sheet: u32,
    pub face: Option<Face>,
    /// Decoded barcode texts, in reading order.
    pub barcodes: Vec<String>,
    pub blank: bool,
    /// A supervisor restored this blank-looking side.
    pub restored: bool,
    /// A supervisor took this side out of the output.
    pub removed: bool,
    /// A supervisor marked this side for rescanning (why), until it is replaced.
    pub rescan: Option<String>,
    /// The document a supervisor moved this side to.
    pub moved_to: Option<String>,
    /// Why the side's image could not be read, if it could not.
    pub unreadable: Option<String>,
    /// Page flags from image checks.
    pub flags: Vec<Flag>,
}

/// Why a side is not in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovedReason {
    Blank,
    ControlSheet,
    /// A supervisor took the page out (a duplicate, another patient's page
    /// sent back to the ward...).
    RemovedBySupervisor,
}

impl RemovedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RemovedReason::Blank => "blank",
            RemovedReason::ControlSheet => "control_sheet",
            RemovedReason::RemovedBySupervisor => "removed_by_supervisor",
        }
    }

    pub fn parse(s: &str) -> Option<RemovedReason> {
        match s {
            "blank" => Some(RemovedReason::Blank),
            "control_sheet" => Some(RemovedReason::ControlSheet),
            "removed_by_supervisor" => Some(RemovedReason::RemovedBySupervisor),
            _ => None,
        }
    }
}

/// A side left out of the output, listed so nothing is dropped silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub side: u32,
    pub reason: RemovedReason,
    pub barcode: Option<String>,
}

/// One page of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLayout {
    pub side: u32,
    pub flags: Vec<Flag>,
}

/// A run of pages with one document type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentLayout {
    pub id: String,
    pub doc_type: Option<String>,
    pub pages: Vec<PageLayout>,
}

/// One patient's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLayout {
    pub id: String,
    pub patient: Option<PatientId>,
    pub specialty: Option<String>,
    pub flags: Vec<Flag>,
    pub documents: Vec<DocumentLayout>,
}

/// The result of separating a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub batch_label: Option<String>,
    pub records: Vec<RecordLayout>,
    pub removed: Vec<Removed>,
}

impl Layout {
    /// Every flag of the layout (record and page level).
    pub fn flag_count(&self) -> usize {
        self.records
            .iter()
            .map(|r| {
                r.flags.len()
                    + r.documents
                        .iter()
                        .flat_map(|d| &d.pages)
                        .map(|p| p.flags.len())
                        .sum::<usize>()
            })
            .sum()
    }
}

/// Settings separation needs.
pub struct SeparationParams<'a> {
    pub batch_id: &'a str,
    pub default_specialty: Option<&'a str>,
    pub default_doc_type: Option<&'a str>,
    pub hospital_pattern: &'a Regex,
    /// Identifiers a supervisor set for records, by record id: they replace
    /// what the record sheet said (or the lack of one).
    pub fixes: &'a HashMap<String, PatientId>,
    /// The patient of pages before any record sheet (an on-demand scan, where
    /// the identifier was typed in rather than printed on a sheet).
    pub default_patient: Option<&'a PatientId>,
}

/// Separates `sides` (in feed order) into records and documents.
pub fn separate(sides: &[SideFacts], p: &SeparationParams<'_>) -> Layout {
    let mut s = Separator {
        p,
        layout: Layout::default(),
        control_sheets: HashSet::new(),
        pending_flags: Vec::new(),
        moves: Vec::new(),
    };
    for side in sides {
        s.side(side);
    }
    s.finish()
}

struct Separator<'a, 'p> {
    p: &'a SeparationParams<'p>,
    layout: Layout,
    control_sheets: HashSet<u32>,
    /// Flags raised before any record existed, for the next record.
    pending_flags: Vec<Flag>,
    /// Pages a supervisor moved, placed once every document exists.
    moves: Vec<Move>,
}

/// A page to move to another document: its flags apart from the label checks,
/// which are made again against the record it lands in.
struct Move {
    side: u32,
    to: String,
    flags: Vec<Flag>,
    labels: Vec<PatientId>,
}

/// Flags of identifier labels on a page: invalid NHS numbers, and another
/// patient than the record's.
fn label_flags(labels: &[PatientId], record: Option<&PatientId>) -> Vec<Flag> {
    let mut flags = Vec::new();
    for id in labels {
        if let PatientId::Nhs {
            valid: false,
            number,
        } = id
        {
            flags.push(Flag::new(
                FlagCode::InvalidNhsNumber,
                format!("label NHS number {number} fails the check digit"),
            ));
        }
        if let Some(rp) = record.filter(|rp| id.contradicts(rp)) {
            flags.push(Flag::new(
                FlagCode::MisfiledIdentifier,
                format!(
                    "label shows {}, but the record is {}: possibly another patient's page",
                    id.describe(),
                    rp.describe()
                ),
            ));
        }
    }
    flags
}

impl Separator<'_, '_> {
    fn side(&mut self, side: &SideFacts) {
        if let Some(why) = &side.unreadable {
            let flag = Flag::new(
                FlagCode::UnreadableImage,
                format!(
                    "side {} could not be read ({why}): rescan this sheet",
                    side.side
                ),
            )
            .on_side(side.side);
            self.record_flag(flag);
            return;
        }
        let codes: Vec<(SheetCode, &String)> = side
            .barcodes
            .iter()
            .map(|b| (parse_barcode(b, self.p.hospital_pattern), b))
            .collect();
        let mut control: Vec<&(SheetCode, &String)> = codes
            .iter()
            .filter(|(c, _)| matches!(c, SheetCode::Control(_) | SheetCode::MalformedControl(_)))
            .collect();
        // Barcodes are read in no particular order: a batch label first, then a
        // record, then its first document.
        control.sort_by_key(|(c, _)| match c {
            SheetCode::Control(Control::Batch { .. }) => 0,
            SheetCode::Control(Control::Record { .. }) => 1,
            SheetCode::Control(Control::Document { .. }) => 2,
            _ => 3,
        });
        if let Some(first) = control.first() {
            self.control_sheets.insert(side.sheet);
            self.layout.removed.push(Removed {
                side: side.side,
                reason: RemovedReason::ControlSheet,
                barcode: Some(first.1.clone()),
            });
            for (code, _) in control {
                self.control(code, side.side);
            }
            return;
        }
        if side.face == Some(Face::Back) && self.control_sheets.contains(&side.sheet) {
            self.layout.removed.push(Removed {
                side: side.side,
                reason: RemovedReason::ControlSheet,
                barcode: None,
            });
            return;
        }
        if side.removed {
            self.layout.removed.push(Removed {
                side: side.side,
                reason: RemovedReason::RemovedBySupervisor,
                barcode: None,
            });
            return;
        }
        if side.blank && !side.restored {
            self.layout.removed.push(Removed {
                side: side.side,
                reason: RemovedReason::Blank,
                barcode: None,
            });
            return;
        }
        self.page(side, &codes);
    }

    fn control(&mut self, code: &SheetCode, side: u32) {
        match code {
            SheetCode::Control(Control::Record {
                patient,
                raw_id,
                specialty,
            }) => {
                let mut flags = std::mem::take(&mut self.pending_flags);
                let id = derived_id(self.p.batch_id, "rec", side);
                let patient = self.p.fixes.get(&id).cloned().or_else(|| patient.clone());
                match &patient {
                    Some(PatientId::Nhs { number, valid: false }) => flags.push(Flag::new(
                        FlagCode::InvalidNhsNumber,
                        format!("record sheet NHS number {number} fails the check digit: check the folder and fix the number"),
                    )),
                    None => flags.push(Flag::new(
                        FlagCode::InvalidPatientId,
                        format!("record sheet id '{raw_id}' is neither an NHS number nor a hospital number of this site"),
                    )),
                    _ => {}
                }
                // A record scanned on demand for one patient that holds
                // another's record sheet.
                if let (Some(typed), Some(p)) = (self.p.default_patient, &patient)
                    && p.contradicts(typed)
                {
                    flags.push(Flag::new(
                        FlagCode::MisfiledIdentifier,
                        format!(
                            "record sheet shows {}, but this record was scanned on demand for {}: check the folder",
                            p.describe(),
                            typed.describe()
                        ),
                    ));
                }
                self.layout.records.push(RecordLayout {
                    id,
                    patient,
                    specialty: specialty
                        .clone()
                        .or_else(|| self.p.default_specialty.map(str::to_string)),
                    flags,
                    documents: Vec::new(),
                });
            }
            SheetCode::Control(Control::Document { doc_type }) => {
                let id = derived_id(self.p.batch_id, "doc", side);
                self.current_record(side).documents.push(DocumentLayout {
                    id,
                    doc_type: Some(doc_type.clone()),
                    pages: Vec::new(),
                });
            }
            SheetCode::Control(Control::Batch { label }) => {
                self.layout.batch_label.get_or_insert_with(|| label.clone());
            }
            SheetCode::MalformedControl(text) => self.record_flag(Flag::new(
                FlagCode::UnreadableControlSheet,
                format!("side {side} carries '{text}', which is not a valid control sheet: reprint it with `folio sheets`"),
            ).on_side(side)),
            SheetCode::Identifier(_) | SheetCode::Other => {}
        }
    }

    fn page(&mut self, side: &SideFacts, codes: &[(SheetCode, &String)]) {
        let mut flags = side.flags.clone();
        if side.blank && side.restored {
            flags.push(Flag::new(
                FlagCode::BlankRestored,
                "restored by a supervisor",
            ));
        }
        if let Some(why) = &side.rescan {
            flags.push(Flag::new(
                FlagCode::RescanRequested,
                format!("marked for rescan ({why}): put the sheet on the scanner and rescan it"),
            ));
        }
        let labels: Vec<PatientId> = codes
            .iter()
            .filter_map(|(c, _)| match c {
                SheetCode::Identifier(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
        if let Some(to) = &side.moved_to {
            self.moves.push(Move {
                side: side.side,
                to: to.clone(),
                flags: flags.clone(),
                labels: labels.clone(),
            });
        }
        let record_patient = self.current_record(side.side).patient.clone();
        flags.extend(label_flags(&labels, record_patient.as_ref()));
        let default_type = self.p.default_doc_type.map(str::to_string);
        let batch_id = self.p.batch_id;
        let record = self.current_record(side.side);
        if record.documents.is_empty() {
            record.documents.push(DocumentLayout {
                id: derived_id(batch_id, "doc", side.side),
                doc_type: default_type,
                pages: Vec::new(),
            });
        }
        if let Some(doc) = record.documents.last_mut() {
            doc.pages.push(PageLayout {
                side: side.side,
                flags,
            });
        }
    }

    /// The record pages go to; one without a patient (flagged) when the stack did
    /// not start with a record sheet.
    fn current_record(&mut self, side: u32) -> &mut RecordLayout {
        if self.layout.records.is_empty() {
            let mut flags = std::mem::take(&mut self.pending_flags);
            let id = derived_id(self.p.batch_id, "rec", side);
            let patient = self.p.fixes.get(&id).or(self.p.default_patient).cloned();
            if patient.is_none() {
                flags.push(Flag::new(
                    FlagCode::NoRecordSheet,
                    format!(
                        "side {side} comes before any record sheet: assign these pages to a patient"
                    ),
                ));
            }
            self.layout.records.push(RecordLayout {
                id,
                patient,
                specialty: self.p.default_specialty.map(str::to_string),
                flags,
                documents: Vec::new(),
            });
        }
        let last = self.layout.records.len() - 1;
        &mut self.layout.records[last]
    }

    /// Moves a page into the document a supervisor chose, in feed order; when
    /// that document no longer exists the page stays, flagged.
    fn apply_move(&mut self, m: Move) {
        let recs = &mut self.layout.records;
        let Some((ri, di)) = recs.iter().enumerate().find_map(|(ri, r)| {
            let di = r.documents.iter().position(|d| d.id == m.to)?;
            Some((ri, di))
        }) else {
            let page = recs
                .iter_mut()
                .flat_map(|r| &mut r.documents)
                .flat_map(|d| &mut d.pages)
                .find(|p| p.side == m.side);
            if let Some(page) = page {
                page.flags.push(Flag::new(
                    FlagCode::MoveTargetMissing,
                    "the document this page was moved to no longer exists: move it again",
                ));
            }
            return;
        };
        for r in recs.iter_mut() {
            for d in &mut r.documents {
                d.pages.retain(|p| p.side != m.side);
            }
        }
        let mut flags = m.flags;
        flags.extend(label_flags(&m.labels, recs[ri].patient.as_ref()));
        let pages = &mut recs[ri].documents[di].pages;
        let at = pages.partition_point(|p| p.side < m.side);
        pages.insert(
            at,
            PageLayout {
                side: m.side,
                flags,
            },
        );
    }

    fn record_flag(&mut self, flag: Flag) {
        match self.layout.records.last_mut() {
            Some(r) => r.flags.push(flag),
            None => self.pending_flags.push(flag),
        }
    }

    fn finish(mut self) -> Layout {
        if !self.pending_flags.is_empty() {
            let side = 0;
            let flags = std::mem::take(&mut self.pending_flags);
            self.current_record(side).flags.extend(flags);
        }
        for m in std::mem::take(&mut self.moves) {
            self.apply_move(m);
        }
        for r in &mut self.layout.records {
            r.documents.retain(|d| !d.pages.is_empty());
            if r.documents.is_empty() {
                r.flags.push(Flag::new(
                    FlagCode::EmptyRecord,
                    "this record has no pages: check the folder was scanned",
                ));
            }
        }
        self.layout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat() -> Regex {
        Regex::new(r"^[A-Z]{1,3}[0-9]{5,8}$").unwrap()
    }

    fn sides(duplex: bool, items: &[(&[&str], bool)]) -> Vec<SideFacts> {
        items
            .iter()
            .enumerate()
            .map(|(i, (codes, blank))| {
                let (sheet, face) = sheet_and_face(i as u32, duplex);
                SideFacts {
                    side: i as u32,
                    sheet,
                    face: Some(face),
                    barcodes: codes.iter().map(|s| s.to_string()).collect(),
                    blank: *blank,
                    ..Default::default()
                }
            })
            .collect()
    }

    #[test]
    fn a_fixed_identifier_replaces_the_sheets_and_a_typed_patient_needs_no_sheet() {
        let pattern = pat();
        let stack = sides(false, &[(&["FOLIO:REC:9434765918"], false), (&[], false)]);
        let params = |fixes, patient| SeparationParams {
            batch_id: "b1",
            default_specialty: None,
            default_doc_type: None,
            hospital_pattern: &pattern,
            fixes,
            default_patient: patient,
        };
        let none = HashMap::new();
        let before = separate(&stack, &params(&none, None));
        assert_eq!(before.records[0].flags[0].code, FlagCode::InvalidNhsNumber);
        let good = PatientId::Nhs {
            number: "9434765919".into(),
            valid: true,
        };
        let fixes = HashMap::from([(before.records[0].id.clone(), good.clone())]);
        let after = separate(&stack, &params(&fixes, None));
        assert_eq!(after.records[0].patient.as_ref(), Some(&good));
        assert!(after.records[0].flags.is_empty());
        let loose = sides(false, &[(&[], false)]);
        assert_eq!(
            separate(&loose, &params(&none, None)).records[0].flags[0].code,
            FlagCode::NoRecordSheet
        );
        let typed = separate(&loose, &params(&none, Some(&good)));
        assert_eq!(typed.records[0].patient.as_ref(), Some(&good));
        assert!(typed.records[0].flags.is_empty());
        // Scanned on demand for one patient, with another's record sheet.
        let other = sides(false, &[(&["FOLIO:REC:4010232137"], false), (&[], false)]);
        let l = separate(&other, &params(&none, Some(&good)));
        assert_eq!(l.records[0].flags[0].code, FlagCode::MisfiledIdentifier);
        let same = sides(false, &[(&["FOLIO:REC:9434765919"], false), (&[], false)]);
        assert!(
            separate(&same, &params(&none, Some(&good))).records[0]
                .flags
                .is_empty()
        );
    }

    fn run(s: &[SideFacts]) -> Layout {
        let pattern = pat();
        separate(
            s,
            &SeparationParams {
                batch_id: "b1",
                default_specialty: Some("general"),
                default_doc_type: None,
                hospital_pattern: &pattern,
                fixes: &HashMap::new(),
                default_patient: None,
            },
        )
    }

    #[test]
    fn duplex_stack_with_two_records() {
        let s = sides(
            true,
            &[
                (&["FOLIO:REC:9434765919:cardiology"], false),
                (&[], true), // back of control sheet
                (&[], false),
                (&[], true), // blank back
                (&["FOLIO:DOC:results"], false),
                (&[], false), // back of doc sheet, not blank: still removed
                (&["9434765919"], false),
                (&["4010232137"], false), // misfiled label
                (&["FOLIO:REC:RX123456"], false),
                (&[], true),
                (&["9434765918"], false), // invalid label, no contradiction (kinds differ)
                (&[], true),
            ],
        );
        let l = run(&s);
        assert_eq!(l.records.len(), 2);
        let r0 = &l.records[0];
        assert_eq!(r0.specialty.as_deref(), Some("cardiology"));
        assert_eq!(r0.documents.len(), 2);
        assert_eq!(r0.documents[0].doc_type, None);
        assert_eq!(
            r0.documents[0]
                .pages
                .iter()
                .map(|p| p.side)
                .collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(r0.documents[1].doc_type.as_deref(), Some("results"));
        assert_eq!(r0.documents[1].pages.len(), 2);
        assert!(r0.documents[1].pages[0].flags.is_empty());
        assert_eq!(
            r0.documents[1].pages[1].flags[0].code,
            FlagCode::MisfiledIdentifier
        );
        let r1 = &l.records[1];
        assert_eq!(r1.specialty.as_deref(), Some("general"));
        assert_eq!(
            r1.documents[0].pages[0].flags[0].code,
            FlagCode::InvalidNhsNumber
        );
        let removed: Vec<(u32, RemovedReason)> =
            l.removed.iter().map(|r| (r.side, r.reason)).collect();
        use RemovedReason::*;
        assert_eq!(
            removed,
            [
                (0, ControlSheet),
                (1, ControlSheet),
                (3, Blank),
                (4, ControlSheet),
                (5, ControlSheet),
                (8, ControlSheet),
                (9, ControlSheet),
                (11, Blank)
            ]
        );
        assert_eq!(l.flag_count(), 2);
    }

    #[test]
    fn pages_before_any_record_and_bad_sheets_are_flagged() {
        let mut s = sides(
            false,
            &[
                (&[], false),
                (&["FOLIO:REC:1234567890"], false),
                (&["FOLIO:NOPE"], false),
                (&[], false),
            ],
        );
        s.push(SideFacts {
            side: 4,
            sheet: 4,
            unreadable: Some("truncated PNG".into()),
            ..Default::default()
        });
        let l = run(&s);
        assert_eq!(l.records.len(), 2);
        assert_eq!(l.records[0].flags[0].code, FlagCode::NoRecordSheet);
        let codes: Vec<FlagCode> = l.records[1].flags.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [
                FlagCode::InvalidNhsNumber,
                FlagCode::UnreadableControlSheet,
                FlagCode::UnreadableImage
            ]
        );
        // Restoring a blank puts it back with a flag.
        let mut s = sides(false, &[(&["FOLIO:REC:RX123456"], false), (&[], true)]);
        assert_eq!(run(&s).records[0].flags[0].code, FlagCode::EmptyRecord);
        s[1].restored = true;
        let l = run(&s);
        assert_eq!(
            l.records[0].documents[0].pages[0].flags[0].code,
            FlagCode::BlankRestored
        );
    }

    #[test]
    fn supervisor_removals_rescans_and_moves_follow_every_separation() {
        let mut s = sides(
            false,
            &[
                (&["FOLIO:REC:9434765919"], false),
                (&[], false),
                (&["4010232137"], false), // another patient's label
                (&["FOLIO:REC:4010232137"], false),
                (&["FOLIO:DOC:letters"], false),
                (&[], false),
            ],
        );
        let before = run(&s);
        assert_eq!(
            before.records[0].documents[0].pages[1].flags[0].code,
            FlagCode::MisfiledIdentifier
        );
        let letters = before.records[1].documents[0].id.clone();
        s[1].removed = true;
        s[2].moved_to = Some(letters.clone());
        s[5].rescan = Some("streaked".into());
        let l = run(&s);
        assert!(l.removed.contains(&Removed {
            side: 1,
            reason: RemovedReason::RemovedBySupervisor,
            barcode: None
        }));
        // The first record lost both pages; the moved one sits in feed order in
        // the letters, and its label now matches its record.
        assert_eq!(l.records[0].flags[0].code, FlagCode::EmptyRecord);
        let doc = &l.records[1].documents[0];
        assert_eq!(doc.id, letters);
        assert_eq!(doc.pages.iter().map(|p| p.side).collect::<Vec<_>>(), [2, 5]);
        assert!(doc.pages[0].flags.is_empty());
        assert_eq!(doc.pages[1].flags[0].code, FlagCode::RescanRequested);
        // A move to a document that is gone leaves the page where it was, flagged.
        s[2].moved_to = Some("doc-gone".into());
        s[1].removed = false;
        let l = run(&s);
        let codes: Vec<FlagCode> = l.records[0].documents[0].pages[1]
            .flags
            .iter()
            .map(|f| f.code)
            .collect();
        assert_eq!(
            codes,
            [FlagCode::MisfiledIdentifier, FlagCode::MoveTargetMissing]
        );
    }
}
