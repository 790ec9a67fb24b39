//! Separation: turns a batch's sides, in feed order, into records, documents and
//! the list of removed sides, following the sheet protocol, and raises the
//! identifier flags (misfiled labels, invalid NHS numbers).

use super::flags::{Flag, FlagCode};
use super::identifiers::PatientId;
use super::protocol::{Control, Patch, PatchAction, PatchMeanings, SheetCode, parse_barcode};
use super::{MoveTarget, derived_id, printable};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Barcode texts for a flag's words: quoted, escaped, cut.
fn quoted<S: AsRef<str>>(texts: &[S]) -> String {
    texts
        .iter()
        .map(|t| format!("'{}'", printable(t.as_ref(), 60)))
        .collect::<Vec<_>>()
        .join(", ")
}

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
    /// Where a supervisor moved this side, as kept in the store
    /// ([`MoveTarget::to_stored`]).
    pub moved_to: Option<String>,
    /// Why the side's image could not be read, if it could not.
    pub unreadable: Option<String>,
    /// Page flags from image checks.
    pub flags: Vec<Flag>,
    /// The scanning session this side came from, in words, when that session
    /// has no passing test target and the station asks for one.
    pub unproven_session: Option<String>,
    /// The side measured as the session test target (its registration
    /// marks found, its barcode read or not): never a page.
    pub target: bool,
    /// The Kodak patch code read on the side, if any.
    pub patch: Option<Patch>,
}

/// Why a side is not in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovedReason {
    Blank,
    ControlSheet,
    /// A Kodak patch sheet (the side's `barcode` says which patch).
    PatchSheet,
    /// A supervisor took the page out (a duplicate, another patient's page
    /// sent back to the ward...).
    RemovedBySupervisor,
}

impl RemovedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RemovedReason::Blank => "blank",
            RemovedReason::ControlSheet => "control_sheet",
            RemovedReason::PatchSheet => "patch_sheet",
            RemovedReason::RemovedBySupervisor => "removed_by_supervisor",
        }
    }

    pub fn parse(s: &str) -> Option<RemovedReason> {
        match s {
            "blank" => Some(RemovedReason::Blank),
            "control_sheet" => Some(RemovedReason::ControlSheet),
            "patch_sheet" => Some(RemovedReason::PatchSheet),
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
#[derive(Clone, Copy)]
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
    /// What each patch code does.
    pub patches: &'a PatchMeanings,
}

/// Separates `sides` (in feed order) into records and documents: a
/// [`Separator`] fed every side, so the whole-batch result and the one built
/// side by side during a scan are the same by construction.
pub fn separate(sides: &[SideFacts], p: &SeparationParams<'_>) -> Layout {
    let mut s = Separator::new(*p);
    for side in sides {
        s.push(side);
    }
    s.finish()
}

/// Separation one side at a time, in feed order: each side costs the same
/// however long the batch already is, so a scan can show the layout as it
/// grows without separating the whole batch again for every side.
/// [`Separator::layout`] after sides `0..n` equals [`separate`] of those sides.
#[derive(Clone)]
pub struct Separator<'p> {
    p: SeparationParams<'p>,
    layout: Layout,
    /// Sheets that are control sheets, with the texts their front carried.
    control_sheets: HashMap<u32, Vec<String>>,
    /// Where each patient's record sheet was first seen.
    record_sheets: HashMap<String, u32>,
    /// Flags raised before any record existed, for the next record.
    pending_flags: Vec<Flag>,
    /// Pages a supervisor moved, placed once every document exists.
    moves: Vec<Move>,
    /// Sessions without a passing test target already flagged.
    unproven: HashSet<String>,
}

/// A page to move to another document or a record of its own: its flags
/// apart from the label checks, which are made again against the record it
/// lands in.
#[derive(Clone)]
struct Move {
    side: u32,
    to: MoveTarget,
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

/// The barcodes of a side read as sheet codes, each with its text.
fn sheet_codes<'s>(side: &'s SideFacts, pattern: &Regex) -> Vec<(SheetCode, &'s String)> {
    side.barcodes
        .iter()
        .map(|b| (parse_barcode(b, pattern), b))
        .collect()
}

/// The control barcodes among `codes`, each text once, in the order they
/// act: a batch label first, then a record, then its first document.
fn distinct_controls<'c, 's>(
    codes: &'c [(SheetCode, &'s String)],
) -> Vec<&'c (SheetCode, &'s String)> {
    // The same text read twice (two symbologies, one barcode read twice) is
    // one instruction.
    let mut seen = HashSet::new();
    let mut control: Vec<&(SheetCode, &String)> = codes
        .iter()
        .filter(|(c, _)| matches!(c, SheetCode::Control(_) | SheetCode::MalformedControl(_)))
        .filter(|(_, text)| seen.insert(text.trim()))
        .collect();
    // Barcodes are read in no particular order.
    control.sort_by_key(|(c, _)| match c {
        SheetCode::Control(Control::Batch { .. }) => 0,
        SheetCode::Control(Control::Record { .. }) => 1,
        SheetCode::Control(Control::Document { .. }) => 2,
        _ => 3,
    });
    control
}

impl<'p> Separator<'p> {
    /// A separator that has seen no side yet.
    pub fn new(p: SeparationParams<'p>) -> Separator<'p> {
        Separator {
            p,
            layout: Layout::default(),
            control_sheets: HashMap::new(),
            record_sheets: HashMap::new(),
            pending_flags: Vec::new(),
            moves: Vec::new(),
            unproven: HashSet::new(),
        }
    }

    /// Takes the next side in feed order.
    pub fn push(&mut self, side: &SideFacts) {
        self.push_side(side);
        // Once per session, on the record its first side went to.
        if let Some(session) = &side.unproven_session
            && self.unproven.insert(session.clone())
        {
            let flag = Flag::new(
                FlagCode::NoSessionTarget,
                format!(
                    "side {} and the sides after it were scanned in a session with no passing test target ({}): \
                     the capture's quality is not shown. Look at these pages closely, or rescan them \
                     after scanning the test target (`folio sheets --target`) first",
                    side.side,
                    printable(session, 120)
                ),
            )
            .on_side(side.side);
            self.record_flag(flag);
        }
    }

    fn push_side(&mut self, side: &SideFacts) {
        if let Some(why) = &side.unreadable {
            self.unreadable(side.side, why);
            return;
        }
        if side.target {
            self.target_side(side);
            return;
        }
        let codes = sheet_codes(side, self.p.hospital_pattern);
        let control = distinct_controls(&codes);
        if !control.is_empty() {
            self.control_side(side, &control);
            return;
        }
        if let Some(patch) = side.patch
            && !(side.face == Some(Face::Back) && self.control_sheets.contains_key(&side.sheet))
        {
            self.patch_side(side, patch, &codes);
            return;
        }
        if let Some(reason) = self.left_out(side) {
            self.layout.removed.push(Removed {
                side: side.side,
                reason,
                barcode: None,
            });
            return;
        }
        if side
            .flags
            .iter()
            .any(|f| f.code == FlagCode::UnreadableControlSheet)
        {
            // Looks like a control sheet whose barcode cannot be read: whose
            // pages follow is unknown, so they start a record of their own.
            self.start_record(side.side, None, None, Vec::new());
        }
        self.page(side, &codes);
    }

    /// The layout of the sides taken so far, as [`separate`] gives it for
    /// them (the separator keeps taking sides). Costs a copy of the layout,
    /// never a new separation.
    pub fn layout(&self) -> Layout {
        // Finishing needs only what is built, not the sheets seen so far.
        Separator {
            p: self.p,
            layout: self.layout.clone(),
            control_sheets: HashMap::new(),
            record_sheets: HashMap::new(),
            pending_flags: self.pending_flags.clone(),
            moves: self.moves.clone(),
            unproven: HashSet::new(),
        }
        .finish()
    }

    /// The session test target: left out like a control sheet (its back too),
    /// acting on nothing, whatever else its barcodes say.
    fn target_side(&mut self, side: &SideFacts) {
        self.layout.removed.push(Removed {
            side: side.side,
            reason: RemovedReason::ControlSheet,
            barcode: side.barcodes.first().cloned(),
        });
        if side.face != Some(Face::Back) {
            self.control_sheets.insert(side.sheet, Vec::new());
        }
    }

    /// A patch sheet: left out like a control sheet (its back too), acting as
    /// the configured meaning of its patch says. A new record takes its
    /// patient from an identifier label on the patch sheet, if there is one;
    /// without one it is flagged, for a supervisor to type the identifier,
    /// and never joins the previous patient's record.
    fn patch_side(&mut self, side: &SideFacts, patch: Patch, codes: &[(SheetCode, &String)]) {
        let text = format!("patch {}", patch.as_str());
        self.layout.removed.push(Removed {
            side: side.side,
            reason: RemovedReason::PatchSheet,
            barcode: Some(text.clone()),
        });
        self.control_sheets.insert(side.sheet, vec![text]);
        match self.p.patches.action(patch) {
            PatchAction::NewDocument => self.start_document(side.side, None),
            PatchAction::Separator => {}
            PatchAction::NewRecord => {
                let mut ids = codes.iter().filter_map(|(c, _)| match c {
                    SheetCode::Identifier(id) => Some(id.clone()),
                    _ => None,
                });
                let (patient, flags) = match (ids.next(), ids.next()) {
                    (Some(id), None) => (Some(id), Vec::new()),
                    (first, second) => {
                        let why = if first.is_some() && second.is_some() {
                            "carries more than one patient label"
                        } else {
                            "carries no patient label"
                        };
                        let flag = Flag::new(
                            FlagCode::InvalidPatientId,
                            format!(
                                "patch {} at side {} starts a new record but {why}:                                  set this record's patient from its folder",
                                patch.as_str(),
                                side.side
                            ),
                        )
                        .on_side(side.side);
                        (None, vec![flag])
                    }
                };
                self.start_record(side.side, patient, None, flags);
            }
        }
    }

    /// A side whose image could not be read: a flag for the record, no page.
    fn unreadable(&mut self, side: u32, why: &str) {
        let flag = Flag::new(
            FlagCode::UnreadableImage,
            format!("side {side} could not be read ({why}): rescan this sheet"),
        )
        .on_side(side);
        self.record_flag(flag);
    }

    /// Why a side with no control barcode is left out of the output, if it
    /// is: the back of a control sheet, taken out by a supervisor, or blank
    /// (and not restored).
    fn left_out(&self, side: &SideFacts) -> Option<RemovedReason> {
        if side.face == Some(Face::Back) && self.control_sheets.contains_key(&side.sheet) {
            Some(RemovedReason::ControlSheet)
        } else if side.removed {
            Some(RemovedReason::RemovedBySupervisor)
        } else if side.blank && !side.restored {
            Some(RemovedReason::Blank)
        } else {
            None
        }
    }

    /// A side that carries control barcodes (`control`, not empty): it is
    /// left out of the output and its instructions act, unless it is the
    /// back of a control sheet repeating its front.
    fn control_side(&mut self, side: &SideFacts, control: &[&(SheetCode, &String)]) {
        let texts: Vec<String> = control.iter().map(|(_, t)| t.trim().to_string()).collect();
        self.layout.removed.push(Removed {
            side: side.side,
            reason: RemovedReason::ControlSheet,
            barcode: control.first().map(|(_, t)| (*t).clone()),
        });
        // A control sheet printed on both faces: its back repeats the front.
        if side.face == Some(Face::Back) && self.control_sheets.get(&side.sheet) == Some(&texts) {
            return;
        } // The target's barcode on a page that did not measure as the target
        // (a copied barcode, a torn target): left out like any control
        // sheet, and a person looks at what it was.
        if !side.target
            && control
                .iter()
                .any(|(c, _)| matches!(c, SheetCode::Control(Control::Target { .. })))
        {
            let flag = Flag::new(
                FlagCode::UnreadableControlSheet,
                format!(
                    "side {} carries the test target's barcode but is not the test target (its registration marks \
                     were not found): it is left out like a control sheet; look at it, and rescan the page \
                     without that barcode if it belongs to the record",
                    side.side
                ),
            )
            .on_side(side.side);
            self.record_flag(flag);
        }
        let front = self.control_sheets.get(&side.sheet);
        if let (Some(Face::Back), Some(front)) = (side.face, front) {
            let flag = Flag::new(
                FlagCode::ConflictingControlSheet,
                format!(
                    "sheet {} says {} on its front (side {}) but {} on its back (side {}): check which is right",
                    side.sheet,
                    quoted(front),
                    side.side.saturating_sub(1),
                    quoted(&texts),
                    side.side
                ),
            )
            .on_side(side.side);
            self.record_flag(flag);
        }
        self.control_sheets.insert(side.sheet, texts);
        self.controls(control, side.side);
    }

    /// Acts on the control barcodes of one side (distinct texts, in order).
    fn controls(&mut self, control: &[&(SheetCode, &String)], side: u32) {
        let records: Vec<&String> = control
            .iter()
            .filter(|(c, _)| matches!(c, SheetCode::Control(Control::Record { .. })))
            .map(|(_, t)| *t)
            .collect();
        let docs: Vec<&String> = control
            .iter()
            .filter(|(c, _)| matches!(c, SheetCode::Control(Control::Document { .. })))
            .map(|(_, t)| *t)
            .collect();
        if records.len() > 1 {
            // Two cover sheets stuck together, a photocopied cover over another:
            // whose pages follow is for a person to say, never a guess.
            let flag = Flag::new(
                FlagCode::ConflictingControlSheet,
                format!(
                    "side {side} carries {} different record sheets ({}): two cover sheets stuck together? \
                     Check the paper, then set this record's patient or rescan",
                    records.len(),
                    quoted(&records)
                ),
            )
            .on_side(side);
            self.start_record(side, None, None, vec![flag]);
        }
        let doc_conflict = (docs.len() > 1).then(|| {
            Flag::new(
                FlagCode::ConflictingControlSheet,
                format!(
                    "side {side} carries {} different document sheets ({}): the first is used; check the paper",
                    docs.len(),
                    quoted(&docs)
                ),
            )
            .on_side(side)
        });
        let mut doc_started = false;
        for (code, _) in control {
            match code {
                SheetCode::Control(Control::Record { .. }) if records.len() > 1 => {}
                SheetCode::Control(Control::Document { .. }) if doc_started => {}
                SheetCode::Control(Control::Document { .. }) => {
                    doc_started = true;
                    self.control(code, side);
                }
                _ => self.control(code, side),
            }
        }
        if let Some(flag) = doc_conflict {
            self.record_flag(flag);
        }
    }

    fn control(&mut self, code: &SheetCode, side: u32) {
        match code {
            SheetCode::Control(Control::Record {
                patient,
                raw_id,
                specialty,
            }) => {
                let mut flags = Vec::new();
                let id = derived_id(self.p.batch_id, "rec", side);
                let patient = self.p.fixes.get(&id).cloned().or_else(|| patient.clone());
                match &patient {
                    Some(PatientId::Nhs { number, valid: false }) => flags.push(Flag::new(
                        FlagCode::InvalidNhsNumber,
                        format!("record sheet NHS number {number} fails the check digit: check the folder and fix the number"),
                    )),
                    None => flags.push(Flag::new(
                        FlagCode::InvalidPatientId,
                        format!(
                            "record sheet id '{}' is neither an NHS number nor a hospital number of this site",
                            printable(raw_id, 80)
                        ),
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
                let key = match &patient {
                    Some(p) => p.describe(),
                    None => raw_id.clone(),
                };
                match self.record_sheets.get(&key) {
                    Some(first) => flags.push(
                        Flag::new(
                            FlagCode::DuplicateControlSheet,
                            format!(
                                "the record sheet of {} at side {side} was already used at side {first}: \
                                 a second volume of the same folder, or a sheet used twice? Check the paper",
                                printable(&key, 80)
                            ),
                        )
                        .on_side(side),
                    ),
                    None => {
                        self.record_sheets.insert(key, side);
                    }
                }
                self.start_record(side, patient, specialty.clone(), flags);
            }
            SheetCode::Control(Control::Document { doc_type }) => {
                self.start_document(side, Some(doc_type.clone()));
            }
            SheetCode::Control(Control::Batch { label }) => {
                self.layout.batch_label.get_or_insert_with(|| label.clone());
            }
            SheetCode::MalformedControl(text) => self.malformed(text, side),
            // The session's test target: measured when processed, never a page.
            SheetCode::Control(Control::Target { .. })
            | SheetCode::Identifier(_)
            | SheetCode::Other => {}
        }
    }

    /// A control barcode that is not a valid instruction. One that may have
    /// been a record sheet (or of a kind not known) starts a record with no
    /// patient: following pages must never join the previous patient's record
    /// on a guess. A bad document sheet starts a document of no type.
    fn malformed(&mut self, text: &str, side: u32) {
        let flag = Flag::new(
            FlagCode::UnreadableControlSheet,
            format!(
                "side {side} carries '{}', which is not a valid control sheet: the pages after it \
                 are kept apart until a person says whose they are (reprint it with `folio sheets`)",
                printable(text, 80)
            ),
        )
        .on_side(side);
        let upper = text.trim().to_ascii_uppercase();
        if upper.starts_with("FOLIO:BATCH:") {
            self.record_flag(flag);
        } else if upper.starts_with("FOLIO:DOC:") {
            self.start_document(side, None);
            self.record_flag(flag);
        } else {
            self.start_record(side, None, None, vec![flag]);
        }
    }

    /// Starts the document whose sheet is at `side` (once per side).
    fn start_document(&mut self, side: u32, doc_type: Option<String>) {
        let id = derived_id(self.p.batch_id, "doc", side);
        let record = self.current_record(side);
        if record.documents.last().is_some_and(|d| d.id == id) {
            return;
        }
        record.documents.push(DocumentLayout {
            id,
            doc_type,
            pages: Vec::new(),
        });
    }

    /// Starts the record whose sheet is at `side` (its id derives from the side,
    /// so one side starts one record at most).
    fn start_record(
        &mut self,
        side: u32,
        patient: Option<PatientId>,
        specialty: Option<String>,
        flags: Vec<Flag>,
    ) {
        let id = derived_id(self.p.batch_id, "rec", side);
        // One side starts one record at most (a valid and a malformed record
        // barcode on one sheet): more flags, not a second record with its id.
        if let Some(last) = self.layout.records.last_mut().filter(|r| r.id == id) {
            last.flags.extend(flags);
            return;
        }
        let patient = self.p.fixes.get(&id).cloned().or(patient);
        let mut all = std::mem::take(&mut self.pending_flags);
        all.extend(flags);
        self.layout.records.push(RecordLayout {
            id,
            patient,
            specialty: specialty.or_else(|| self.p.default_specialty.map(str::to_string)),
            flags: all,
            documents: Vec::new(),
        });
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
                to: MoveTarget::from_stored(to),
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
        let to = match &m.to {
            MoveTarget::Document(id) => id.clone(),
            MoveTarget::NewRecord(p) => {
                let p = p.clone();
                return self.apply_new_record(m, p);
            }
        };
        let recs = &mut self.layout.records;
        let Some((ri, di)) = recs.iter().enumerate().find_map(|(ri, r)| {
            let di = r.documents.iter().position(|d| d.id == to)?;
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

    /// Makes a record of the moved page alone, for the patient of its
    /// label, after the batch's other records; the page keeps its document
    /// type. Its label now agrees with its record, so no misfiled flag.
    fn apply_new_record(&mut self, m: Move, patient: PatientId) {
        let mut doc_type = None;
        let mut found = false;
        for d in self
            .layout
            .records
            .iter_mut()
            .flat_map(|r| &mut r.documents)
        {
            let before = d.pages.len();
            d.pages.retain(|p| p.side != m.side);
            if d.pages.len() != before {
                found = true;
                doc_type = d.doc_type.clone();
            }
        }
        if !found {
            return;
        }
        let id = derived_id(self.p.batch_id, "rec-moved", m.side);
        let patient = self.p.fixes.get(&id).cloned().unwrap_or(patient);
        let mut flags = m.flags;
        flags.extend(label_flags(&m.labels, Some(&patient)));
        self.layout.records.push(RecordLayout {
            id,
            patient: Some(patient),
            specialty: self.p.default_specialty.map(str::to_string),
            flags: Vec::new(),
            documents: vec![DocumentLayout {
                id: derived_id(self.p.batch_id, "doc-moved", m.side),
                doc_type,
                pages: vec![PageLayout {
                    side: m.side,
                    flags,
                }],
            }],
        });
    }

    fn record_flag(&mut self, flag: Flag) {
        match self.layout.records.last_mut() {
            Some(r) => r.flags.push(flag),
            None => self.pending_flags.push(flag),
        }
    }

    /// The layout of every side taken.
    pub fn finish(mut self) -> Layout {
        if !self.pending_flags.is_empty() {
            let side = 0;
            let flags = std::mem::take(&mut self.pending_flags);
            self.current_record(side).flags.extend(flags);
        }
        // Pages to records of their own first (in feed order, after the
        // batch's records), so a page moved into such a record's document
        // finds it.
        let (new, docs): (Vec<Move>, Vec<Move>) = std::mem::take(&mut self.moves)
            .into_iter()
            .partition(|m| matches!(m.to, MoveTarget::NewRecord(_)));
        for m in new.into_iter().chain(docs) {
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

    /// [`separate`], checked against a [`Separator`] fed the same sides one
    /// by one: after every side, its layout is the whole-batch result of the
    /// sides so far, and its end result is the whole batch's.
    fn separated(s: &[SideFacts], p: &SeparationParams<'_>) -> Layout {
        let mut inc = Separator::new(*p);
        for n in 0..s.len() {
            assert_eq!(inc.layout(), separate(&s[..n], p), "after {n} sides: {s:?}");
            inc.push(&s[n]);
        }
        let whole = separate(s, p);
        assert_eq!(inc.layout(), whole, "{s:?}");
        assert_eq!(inc.finish(), whole, "{s:?}");
        whole
    }

    fn default_patches() -> &'static PatchMeanings {
        static P: std::sync::LazyLock<PatchMeanings> =
            std::sync::LazyLock::new(PatchMeanings::default);
        &P
    }

    /// Batch "b1" with no fixes, defaults or typed patient.
    fn plain_params<'a>(
        pattern: &'a Regex,
        none: &'a HashMap<String, PatientId>,
    ) -> SeparationParams<'a> {
        SeparationParams {
            batch_id: "b1",
            default_specialty: None,
            default_doc_type: None,
            hospital_pattern: pattern,
            fixes: none,
            default_patient: None,
            patches: default_patches(),
        }
    }

    /// Sides with patches: (barcodes, patch) each, simplex.
    fn patch_sides(items: &[(&[&str], Option<Patch>)]) -> Vec<SideFacts> {
        items
            .iter()
            .enumerate()
            .map(|(i, (codes, patch))| SideFacts {
                side: i as u32,
                sheet: i as u32,
                face: Some(Face::Front),
                barcodes: codes.iter().map(|s| s.to_string()).collect(),
                patch: *patch,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn patch_sheets_separate_as_configured_and_are_listed() {
        let (pattern, none) = (pat(), HashMap::new());
        let params = plain_params(&pattern, &none);
        let stack = patch_sides(&[
            (&["FOLIO:REC:9434765919"], None),
            (&[], None),
            (&[], Some(Patch::P2)),
            (&[], None),
            (&[], Some(Patch::T)),
            (&[], None),
            // A new record whose patient is the label on the patch sheet.
            (&["9434765919"], Some(Patch::P3)),
            (&[], None),
            // A new record with no label: flagged, never joined to the last.
            (&[], Some(Patch::P3)),
            (&[], None),
            // A control barcode wins over a patch on the same side.
            (&["FOLIO:DOC:letter"], Some(Patch::P3)),
            (&[], None),
        ]);
        let l = separated(&stack, &params);
        let pages = |r: &RecordLayout| -> Vec<Vec<u32>> {
            r.documents
                .iter()
                .map(|d| d.pages.iter().map(|p| p.side).collect())
                .collect()
        };
        assert_eq!(l.records.len(), 3, "{l:?}");
        assert_eq!(pages(&l.records[0]), vec![vec![1], vec![3, 5]]);
        assert_eq!(pages(&l.records[1]), vec![vec![7]]);
        assert!(l.records[1].patient.is_some() && l.records[1].flags.is_empty());
        assert_eq!(pages(&l.records[2]), vec![vec![9], vec![11]]);
        assert_eq!(l.records[2].patient, None);
        assert_eq!(l.records[2].flags[0].code, FlagCode::InvalidPatientId);
        assert!(l.records[2].flags[0].detail.contains("no patient label"));
        let removed: Vec<(u32, RemovedReason, Option<&str>)> = l
            .removed
            .iter()
            .map(|r| (r.side, r.reason, r.barcode.as_deref()))
            .collect();
        assert_eq!(
            removed,
            vec![
                (0, RemovedReason::ControlSheet, Some("FOLIO:REC:9434765919")),
                (2, RemovedReason::PatchSheet, Some("patch 2")),
                (4, RemovedReason::PatchSheet, Some("patch T")),
                (6, RemovedReason::PatchSheet, Some("patch 3")),
                (8, RemovedReason::PatchSheet, Some("patch 3")),
                (10, RemovedReason::ControlSheet, Some("FOLIO:DOC:letter")),
            ]
        );
        // Configured otherwise: patch 2 only separates.
        let only = PatchMeanings([(Patch::P2, PatchAction::Separator)].into_iter().collect());
        let l = separated(
            &stack[..4],
            &SeparationParams {
                patches: &only,
                ..params
            },
        );
        assert_eq!(pages(&l.records[0]), vec![vec![1, 3]]);
    }

    #[test]
    fn the_back_of_a_patch_sheet_is_left_out_with_it() {
        let (pattern, none) = (pat(), HashMap::new());
        let params = plain_params(&pattern, &none);
        let mut stack = sides(
            true,
            &[
                (&["FOLIO:REC:9434765919"], false),
                (&[], true),
                (&[], false),
                (&[], false),
                (&[], false),
                (&[], false),
                (&[], false),
                (&[], false),
            ],
        );
        stack[4].patch = Some(Patch::P2);
        // Printed on both faces: the back reads the same patch.
        stack[5].patch = Some(Patch::P2);
        let l = separated(&stack, &params);
        assert_eq!(l.records[0].documents.len(), 2, "{l:?}");
        assert_eq!(
            l.records[0].documents[1]
                .pages
                .iter()
                .map(|p| p.side)
                .collect::<Vec<_>>(),
            vec![6, 7]
        );
        let r: Vec<(u32, RemovedReason)> = l.removed.iter().map(|r| (r.side, r.reason)).collect();
        assert!(r.contains(&(4, RemovedReason::PatchSheet)), "{r:?}");
        assert!(r.contains(&(5, RemovedReason::ControlSheet)), "{r:?}");
    }

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
            patches: default_patches(),
        };
        let none = HashMap::new();
        let before = separated(&stack, &params(&none, None));
        assert_eq!(before.records[0].flags[0].code, FlagCode::InvalidNhsNumber);
        let good = PatientId::Nhs {
            number: "9434765919".into(),
            valid: true,
        };
        let fixes = HashMap::from([(before.records[0].id.clone(), good.clone())]);
        let after = separated(&stack, &params(&fixes, None));
        assert_eq!(after.records[0].patient.as_ref(), Some(&good));
        assert!(after.records[0].flags.is_empty());
        let loose = sides(false, &[(&[], false)]);
        assert_eq!(
            separated(&loose, &params(&none, None)).records[0].flags[0].code,
            FlagCode::NoRecordSheet
        );
        let typed = separated(&loose, &params(&none, Some(&good)));
        assert_eq!(typed.records[0].patient.as_ref(), Some(&good));
        assert!(typed.records[0].flags.is_empty());
        // Scanned on demand for one patient, with another's record sheet.
        let other = sides(false, &[(&["FOLIO:REC:4010232137"], false), (&[], false)]);
        let l = separated(&other, &params(&none, Some(&good)));
        assert_eq!(l.records[0].flags[0].code, FlagCode::MisfiledIdentifier);
        let same = sides(false, &[(&["FOLIO:REC:9434765919"], false), (&[], false)]);
        assert!(
            separated(&same, &params(&none, Some(&good))).records[0]
                .flags
                .is_empty()
        );
    }

    fn run(s: &[SideFacts]) -> Layout {
        let pattern = pat();
        separated(
            s,
            &SeparationParams {
                batch_id: "b1",
                default_specialty: Some("general"),
                default_doc_type: None,
                hospital_pattern: &pattern,
                fixes: &HashMap::new(),
                default_patient: None,
                patches: default_patches(),
            },
        )
    }

    #[test]
    fn a_test_target_is_left_out_and_an_unproven_session_is_flagged_once() {
        let mut s = sides(
            true,
            &[
                (&["FOLIO:TARGET:1"], false),
                (&[], true), // back of the target
                (&["FOLIO:REC:9434765919"], false),
                (&[], true),
                (&[], false),
                (&[], false),
                (&["FOLIO:REC:4010232137"], false),
                (&[], true),
                (&[], false),
                (&[], false),
            ],
        );
        // Measured as the target when it was processed.
        s[0].target = true;
        let clean = run(&s);
        assert_eq!(clean.records.len(), 2, "the target starts no record");
        assert_eq!(clean.flag_count(), 0, "nor is it an unreadable sheet");
        assert!(clean.removed.iter().any(|r| r.side == 0
            && r.reason == RemovedReason::ControlSheet
            && r.barcode.as_deref() == Some("FOLIO:TARGET:1")));
        // A target measured as one although its barcode did not read (a
        // blurred scan of it): the same, never a page of the first record.
        let mut blurred = s.clone();
        blurred[0].barcodes.clear();
        let l = run(&blurred);
        assert_eq!(l.records.len(), 2);
        assert_eq!(l.flag_count(), 0);
        assert!(
            l.removed
                .iter()
                .any(|r| r.side == 0 && r.reason == RemovedReason::ControlSheet)
        );
        assert!(
            l.removed
                .iter()
                .any(|r| r.side == 1 && r.reason == RemovedReason::ControlSheet)
        );
        // The target's barcode on a page that is not the target: left out,
        // and flagged for a person.
        let mut copied = s.clone();
        copied[8].barcodes = vec!["FOLIO:TARGET:1".into()];
        let l = run(&copied);
        assert!(
            l.removed
                .iter()
                .any(|r| r.side == 8 && r.reason == RemovedReason::ControlSheet)
        );
        // (Its record is left empty: sheet 4 was its only page.)
        let flags: Vec<_> = l
            .records
            .iter()
            .flat_map(|r| &r.flags)
            .filter(|f| f.code != FlagCode::EmptyRecord)
            .collect();
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(
            (flags[0].code, flags[0].side),
            (FlagCode::UnreadableControlSheet, Some(8))
        );
        // Sides 4.. came from a session whose target failed: one flag, on the
        // record side 4 went to, about side 4.
        for f in &mut s[4..] {
            f.unproven_session = Some("j.op on test:0, profile 'Letters'".into());
        }
        let l = run(&s);
        let flagged: Vec<_> = l
            .records
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.flags.iter().map(move |f| (i, f)))
            .collect();
        assert_eq!(flagged.len(), 1, "{flagged:?}");
        let (record, flag) = flagged[0];
        assert_eq!(
            (record, flag.code, flag.side),
            (0, FlagCode::NoSessionTarget, Some(4))
        );
        assert!(flag.detail.contains("j.op on test:0"), "{}", flag.detail);
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
        assert_eq!(l.records.len(), 3);
        assert_eq!(l.records[0].flags[0].code, FlagCode::NoRecordSheet);
        assert_eq!(
            flag_codes(&l.records[1]),
            [FlagCode::InvalidNhsNumber, FlagCode::EmptyRecord]
        );
        // A sheet that is not a valid instruction keeps the pages after it
        // apart, with no patient, rather than in the record before it.
        assert_eq!(l.records[2].patient, None);
        assert_eq!(
            flag_codes(&l.records[2]),
            [FlagCode::UnreadableControlSheet, FlagCode::UnreadableImage]
        );
        assert_eq!(l.records[2].documents[0].pages[0].side, 3);
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

    #[test]
    fn a_page_moved_to_a_new_record_makes_a_record_of_it_alone_after_the_others() {
        let mut s = sides(
            false,
            &[
                (&["FOLIO:REC:9434765919"], false),
                (&["FOLIO:DOC:letters"], false),
                (&[], false),
                (&["4010232137"], false), // another patient's label
                (&[], false),
                (&["FOLIO:REC:RX123456"], false),
                (&[], false),
            ],
        );
        let label = PatientId::Nhs {
            number: "4010232137".into(),
            valid: true,
        };
        s[3].moved_to = Some(MoveTarget::NewRecord(label.clone()).to_stored());
        let l = run(&s);
        assert_eq!(l.records.len(), 3, "{l:?}");
        let sides_of = |r: &RecordLayout| -> Vec<u32> {
            r.documents
                .iter()
                .flat_map(|d| &d.pages)
                .map(|p| p.side)
                .collect()
        };
        assert_eq!(sides_of(&l.records[0]), [2, 4]);
        assert_eq!(sides_of(&l.records[1]), [6]);
        let new = &l.records[2];
        assert_eq!(new.patient, Some(label));
        assert_eq!(sides_of(new), [3]);
        assert_eq!(new.documents[0].doc_type.as_deref(), Some("letters"));
        assert!(new.flags.is_empty() && new.documents[0].pages[0].flags.is_empty());
        assert_eq!(new.id, derived_id("b1", "rec-moved", 3));
        // Ids stay put across separations, and another page can join it.
        let doc = new.documents[0].id.clone();
        s[4].moved_to = Some(doc.clone());
        let again = run(&s);
        assert_eq!(again.records[2].id, new.id);
        assert_eq!(again.records[2].documents[0].id, doc);
        assert_eq!(sides_of(&again.records[2]), [3, 4]);
        assert_eq!(sides_of(&again.records[0]), [2]);
    }

    fn flag_codes(r: &RecordLayout) -> Vec<FlagCode> {
        r.flags.iter().map(|f| f.code).collect()
    }

    #[test]
    fn case_2_two_record_barcodes_on_one_side_are_a_flag_not_a_storage_error() {
        // Two cover sheets stuck together: the pages after them belong to
        // neither patient until a person says so.
        let s = sides(
            false,
            &[
                (&["FOLIO:REC:9434765919"], false),
                (&[], false),
                (&["FOLIO:REC:4010232137", "FOLIO:REC:RX123456"], false),
                (&[], false),
            ],
        );
        let l = run(&s);
        assert_eq!(l.records.len(), 2);
        let r = &l.records[1];
        assert_eq!(r.patient, None);
        assert_eq!(flag_codes(r), [FlagCode::ConflictingControlSheet]);
        assert_eq!(r.flags[0].side, Some(2));
        assert!(r.flags[0].detail.contains("'FOLIO:REC:4010232137'"));
        assert_eq!(r.documents[0].pages[0].side, 3);
        assert_eq!(l.records[0].documents[0].pages.len(), 1);
        // A supervisor sets the patient: the flag stays for a person to approve.
        let fixed = HashMap::from([(
            r.id.clone(),
            PatientId::Nhs {
                number: "4010232137".into(),
                valid: true,
            },
        )]);
        let pattern = pat();
        let l = separated(
            &s,
            &SeparationParams {
                batch_id: "b1",
                default_specialty: None,
                default_doc_type: None,
                hospital_pattern: &pattern,
                fixes: &fixed,
                default_patient: None,
                patches: default_patches(),
            },
        );
        assert!(l.records[1].patient.is_some());
    }

    #[test]
    fn case_2_repeated_and_conflicting_control_sheets_in_every_shape() {
        // The same text twice on a side (two symbologies) is one instruction.
        let l = run(&sides(
            false,
            &[
                (&["FOLIO:REC:9434765919", " FOLIO:REC:9434765919"], false),
                (&[], false),
            ],
        ));
        assert_eq!(l.records.len(), 1);
        assert!(l.records[0].flags.is_empty(), "{:?}", l.records[0].flags);
        // A control sheet printed on both faces: the back is its back.
        let l = run(&sides(
            true,
            &[
                (&["FOLIO:REC:9434765919"], false),
                (&["FOLIO:REC:9434765919"], false),
                (&[], false),
                (&[], true),
            ],
        ));
        assert_eq!(l.records.len(), 1);
        assert!(l.records[0].flags.is_empty(), "{:?}", l.records[0].flags);
        assert_eq!(
            l.removed
                .iter()
                .filter(|r| r.reason == RemovedReason::ControlSheet)
                .count(),
            2
        );
        // Front and back that disagree.
        let l = run(&sides(
            true,
            &[
                (&["FOLIO:REC:9434765919"], false),
                (&["FOLIO:REC:4010232137"], false),
                (&[], false),
                (&[], true),
            ],
        ));
        assert!(
            l.records
                .iter()
                .flat_map(|r| &r.flags)
                .any(|f| f.code == FlagCode::ConflictingControlSheet && f.side == Some(1))
        );
        // The same record sheet again later in the batch.
        let l = run(&sides(
            false,
            &[
                (&["FOLIO:REC:9434765919"], false),
                (&[], false),
                (&["FOLIO:REC:9434765919"], false),
                (&[], false),
            ],
        ));
        assert_eq!(l.records.len(), 2);
        assert_eq!(flag_codes(&l.records[1]), [FlagCode::DuplicateControlSheet]);
        assert!(l.records[1].flags[0].detail.contains("side 0"));
        // Two document types on one side: one document, flagged.
        let l = run(&sides(
            false,
            &[
                (
                    &[
                        "FOLIO:REC:9434765919",
                        "FOLIO:DOC:letters",
                        "FOLIO:DOC:results",
                    ],
                    false,
                ),
                (&[], false),
            ],
        ));
        assert_eq!(l.records[0].documents.len(), 1);
        assert_eq!(
            l.records[0].documents[0].doc_type.as_deref(),
            Some("letters")
        );
        assert_eq!(
            flag_codes(&l.records[0]),
            [FlagCode::ConflictingControlSheet]
        );
    }

    /// Every side ends in exactly one place (a page, the removed list or an
    /// unreadable-side flag) and no id repeats, whatever barcodes the sides carry.
    #[test]
    fn case_2_any_mix_of_barcodes_gives_unique_ids_and_loses_no_side() {
        let pool = [
            "FOLIO:REC:9434765919",
            "FOLIO:REC:4010232137",
            "FOLIO:REC:RX123456",
            "FOLIO:REC:",
            "folio:rec:9434765919:cardiology",
            "FOLIO:REC:bad id",
            "FOLIO:DOC:letters",
            "FOLIO:DOC:results",
            "FOLIO:DOC:",
            "FOLIO:BATCH:Box 1",
            "FOLIO:",
            "FOLIO:REC:9434765919:x:y",
            "FOLIO:\u{0}\u{1b}",
            "9434765919",
            "4010232137",
            "9434765918",
            "LAB-77",
        ];
        let mut rng = 0x9e3779b97f4a7c15u64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n) as usize
        };
        for round in 0..2000 {
            let duplex = round % 2 == 0;
            let count = 1 + next(14);
            let stack: Vec<SideFacts> = (0..count)
                .map(|i| {
                    let (sheet, face) = sheet_and_face(i as u32, duplex);
                    let n = next(4);
                    SideFacts {
                        side: i as u32,
                        sheet,
                        face: Some(face),
                        barcodes: (0..n)
                            .map(|_| pool[next(pool.len() as u64)].to_string())
                            .collect(),
                        blank: next(5) == 0,
                        unreadable: (next(12) == 0).then(|| "cut short".to_string()),
                        flags: if next(10) == 0 {
                            vec![Flag::new(
                                FlagCode::UnreadableControlSheet,
                                "looks like one",
                            )]
                        } else {
                            Vec::new()
                        },
                        ..Default::default()
                    }
                })
                .collect();
            let l = run(&stack);
            let mut ids = HashSet::new();
            let mut placed: Vec<u32> = l.removed.iter().map(|r| r.side).collect();
            for r in &l.records {
                assert!(ids.insert(r.id.clone()), "record id repeats: {stack:?}");
                for d in &r.documents {
                    assert!(ids.insert(d.id.clone()), "document id repeats: {stack:?}");
                    placed.extend(d.pages.iter().map(|p| p.side));
                }
                placed.extend(
                    r.flags
                        .iter()
                        .filter(|f| f.code == FlagCode::UnreadableImage)
                        .filter_map(|f| f.side),
                );
            }
            placed.sort_unstable();
            let all: Vec<u32> = (0..count as u32).collect();
            assert_eq!(placed, all, "every side once: {stack:?}");
        }
    }

    #[test]
    fn case_3_a_control_sheet_without_a_readable_barcode_keeps_its_pages_apart() {
        let mut s = sides(
            false,
            &[
                (&["FOLIO:REC:9434765919"], false),
                (&[], false),
                (&[], false), // a record sheet whose barcode did not print
                (&[], false),
                (&["FOLIO:REC:"], false), // a near-miss protocol string
                (&[], false),
            ],
        );
        s[2].flags.push(Flag::new(
            FlagCode::UnreadableControlSheet,
            "looks like a control sheet",
        ));
        let l = run(&s);
        let pages = |r: &RecordLayout| -> Vec<u32> {
            r.documents
                .iter()
                .flat_map(|d| d.pages.iter().map(|p| p.side))
                .collect()
        };
        assert_eq!(l.records.len(), 3);
        assert_eq!(pages(&l.records[0]), [1]);
        assert_eq!(l.records[1].patient, None);
        assert_eq!(pages(&l.records[1]), [2, 3]);
        assert_eq!(l.records[2].patient, None);
        assert_eq!(pages(&l.records[2]), [5]);
        assert_eq!(
            flag_codes(&l.records[2]),
            [FlagCode::UnreadableControlSheet]
        );
    }

    /// A stack of `count` sides of every kind separation knows: control
    /// sheets good and bad, labels, blanks (restored or not), sides removed,
    /// marked for rescan, moved (to a document of the batch or one gone),
    /// unreadable, with image flags. `next(n)` picks in `0..n`.
    fn random_stack(
        next: &mut impl FnMut(u64) -> usize,
        count: usize,
        duplex: bool,
    ) -> Vec<SideFacts> {
        const POOL: [&str; 13] = [
            "FOLIO:REC:9434765919",
            "FOLIO:REC:4010232137:cardiology",
            "FOLIO:REC:RX123456",
            "FOLIO:REC:bad id",
            "FOLIO:DOC:letters",
            "FOLIO:DOC:results",
            "FOLIO:DOC:",
            "FOLIO:BATCH:Box 1",
            "FOLIO:",
            "9434765919",
            "9434765918",
            "RX123456",
            "LAB-77",
        ];
        (0..count)
            .map(|i| {
                let (sheet, face) = sheet_and_face(i as u32, duplex);
                SideFacts {
                    side: i as u32,
                    sheet,
                    face: Some(face),
                    barcodes: (0..next(3))
                        .map(|_| POOL[next(POOL.len() as u64)].to_string())
                        .collect(),
                    blank: next(4) == 0,
                    patch: (next(8) == 0).then(|| Patch::ALL[next(6)]),
                    restored: next(3) == 0,
                    removed: next(12) == 0,
                    rescan: (next(15) == 0).then(|| "blurred".to_string()),
                    moved_to: match next(10) {
                        0 => Some(derived_id("b9", "doc", next(count as u64) as u32)),
                        1 => Some("a document that is gone".to_string()),
                        _ => None,
                    },
                    unreadable: (next(15) == 0).then(|| "cut short".to_string()),
                    flags: match next(12) {
                        0 => vec![Flag::new(
                            FlagCode::UnreadableControlSheet,
                            "looks like one",
                        )],
                        1 => vec![Flag::new(FlagCode::Skewed, "4 degrees")],
                        _ => Vec::new(),
                    },
                    target: next(20) == 0,
                    unproven_session: (next(6) == 0).then(|| format!("session {}", next(2))),
                }
            })
            .collect()
    }

    #[test]
    fn a_separator_fed_side_by_side_agrees_with_the_whole_batch_for_any_stack() {
        let pattern = pat();
        let typed = PatientId::Nhs {
            number: "9434765919".into(),
            valid: true,
        };
        let mut fixes = HashMap::new();
        fixes.insert(
            derived_id("b9", "rec", 2),
            PatientId::Hospital {
                number: "RX654321".into(),
            },
        );
        let mut rng = 0x2545f4914f6cdd1du64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n) as usize
        };
        let mut shapes = HashSet::new();
        for round in 0..1500 {
            let count = 1 + next(20);
            let stack = random_stack(&mut next, count, round % 2 == 1);
            let params = SeparationParams {
                batch_id: "b9",
                default_specialty: (round % 3 == 0).then_some("general"),
                default_doc_type: (round % 4 == 0).then_some("letters"),
                hospital_pattern: &pattern,
                fixes: &fixes,
                default_patient: (round % 5 == 0).then_some(&typed),
                patches: default_patches(),
            };
            let l = separated(&stack, &params);
            shapes.insert((l.records.len(), l.removed.len(), l.flag_count().min(6)));
        }
        // The stacks were varied enough to mean something.
        assert!(shapes.len() > 40, "{}", shapes.len());
    }
}
