//! The domain, pure: identifiers, the sheet protocol, separation of a batch's sides
//! into records and documents, flags and the manifest contract.
//!
//! Nothing here does I/O or knows about threads; every function is deterministic so
//! the same sides always give the same records (which is what makes `--resume` and
//! re-separation after a supervisor's change safe). Runs on whichever thread calls it.

use std::collections::HashMap;

pub mod approval;
pub mod at_rest;
pub mod flags;
pub mod identifiers;
pub mod manifest;
pub mod protocol;
pub mod retention;
pub mod roles;
pub mod rules;
pub mod sample;
pub mod separate;
pub mod stats;
pub mod text;
pub mod worklist;

pub use flags::{Flag, FlagCode};
pub use identifiers::{NhsCheck, PatientId, check_nhs_number};
pub use protocol::{Control, SheetCode, parse_barcode};
pub use separate::{
    Face, Layout, RecordLayout, RemovedReason, SeparationParams, Separator, SideFacts, separate,
};

use serde::{Deserialize, Serialize};

/// Where a physical stack came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchSource {
    SiteLibrary,
    Archive,
    OnDemand,
    Import,
}

impl BatchSource {
    /// Every source, for parsing stored names.
    pub const ALL: [BatchSource; 4] = [
        BatchSource::SiteLibrary,
        BatchSource::Archive,
        BatchSource::OnDemand,
        BatchSource::Import,
    ];

    /// The name stored in the cache and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchSource::SiteLibrary => "site_library",
            BatchSource::Archive => "archive",
            BatchSource::OnDemand => "on_demand",
            BatchSource::Import => "import",
        }
    }

    /// Parses a stored source name.
    pub fn parse(s: &str) -> Option<BatchSource> {
        BatchSource::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

impl std::fmt::Display for BatchSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A batch's place in the upload queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting to be sent (or for its next try).
    Queued,
    /// Given up on (tries used up, or the store refused it): a person
    /// queues it again once the cause is fixed.
    Parked,
    /// The store holds different content under one of its document ids: a
    /// supervisor decides.
    Conflict,
    /// Every document acknowledged.
    Done,
}

impl OutboxState {
    /// The name stored in the cache and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Parked => "parked",
            OutboxState::Conflict => "conflict",
            OutboxState::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxState> {
        [
            OutboxState::Queued,
            OutboxState::Parked,
            OutboxState::Conflict,
            OutboxState::Done,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    /// Taken out of the running until a person queues it again.
    pub fn stopped(self) -> bool {
        matches!(self, OutboxState::Parked | OutboxState::Conflict)
    }
}

impl std::fmt::Display for OutboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A batch's place in its life (PRODUCT.md, "Batch life").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    Scanning,
    Closed,
    InReview,
    Approved,
    Uploading,
    Uploaded,
    PaperHeld,
    DestructionDue,
    Destroyed,
}

impl BatchState {
    /// All states in life order.
    pub const ALL: [BatchState; 9] = [
        BatchState::Scanning,
        BatchState::Closed,
        BatchState::InReview,
        BatchState::Approved,
        BatchState::Uploading,
        BatchState::Uploaded,
        BatchState::PaperHeld,
        BatchState::DestructionDue,
        BatchState::Destroyed,
    ];

    /// The name stored in the cache and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Scanning => "scanning",
            BatchState::Closed => "closed",
            BatchState::InReview => "in_review",
            BatchState::Approved => "approved",
            BatchState::Uploading => "uploading",
            BatchState::Uploaded => "uploaded",
            BatchState::PaperHeld => "paper_held",
            BatchState::DestructionDue => "destruction_due",
            BatchState::Destroyed => "destroyed",
        }
    }

    /// Parses a stored state name.
    pub fn parse(s: &str) -> Option<BatchState> {
        BatchState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The state a batch goes to when scanning ends: review first if anything is
    /// flagged.
    pub fn after_scanning(open_flags: usize) -> BatchState {
        if open_flags > 0 {
            BatchState::InReview
        } else {
            BatchState::Closed
        }
    }
}

impl std::fmt::Display for BatchState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A supervisor's decision about one page, kept on the page and applied
/// whenever the batch is separated again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageDecision {
    /// Take it out of the output.
    Remove,
    /// It must be scanned again (why).
    MarkRescan(String),
    /// It belongs elsewhere: another document of the batch, or a record of
    /// its own for the patient whose label it carries.
    MoveTo(MoveTarget),
}

/// Where a supervisor moves a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveTarget {
    /// A document of the same batch (its id).
    Document(String),
    /// A new record holding this page alone, for this patient (the one on
    /// the page's label), placed after the batch's other records.
    NewRecord(PatientId),
}

/// How [`MoveTarget::NewRecord`] is kept in the store, before its JSON.
const NEW_RECORD_PREFIX: &str = "new-record:";

impl MoveTarget {
    /// The text kept on the page (a document id, or `new-record:{json}`).
    pub fn to_stored(&self) -> String {
        match self {
            MoveTarget::Document(id) => id.clone(),
            MoveTarget::NewRecord(p) => format!(
                "{NEW_RECORD_PREFIX}{}",
                serde_json::to_string(p).unwrap_or_default()
            ),
        }
    }

    /// Reads what [`MoveTarget::to_stored`] kept. Anything else is a
    /// document id (one that does not exist is flagged by separation).
    pub fn from_stored(text: &str) -> MoveTarget {
        text.strip_prefix(NEW_RECORD_PREFIX)
            .and_then(|json| serde_json::from_str(json).ok())
            .map_or_else(
                || MoveTarget::Document(text.to_string()),
                MoveTarget::NewRecord,
            )
    }
}

/// Sheets counted (from the box's slip) against sheets scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconciliation {
    pub expected: Option<u32>,
    pub scanned: u32,
}

impl Reconciliation {
    pub fn new(expected: Option<u32>, scanned: u32) -> Reconciliation {
        Reconciliation { expected, scanned }
    }

    /// A batch nobody counted agrees.
    pub fn agrees(&self) -> bool {
        self.expected.is_none_or(|e| e == self.scanned)
    }

    /// The comparison in words.
    pub fn words(&self) -> String {
        match self.expected {
            None => "not counted".into(),
            Some(e) if e == self.scanned => "matches".into(),
            Some(e) if e > self.scanned => format!("{} sheets missing", e - self.scanned),
            Some(e) => format!("{} sheets more than counted", self.scanned - e),
        }
    }
}

/// A size for people, in decimal units: "512 bytes", "48 KB", "1.7 MB", "2.1 GB".
pub fn bytes_words(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} bytes"),
        1_000..1_000_000 => format!("{:.0} KB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

/// Text that came from outside (a barcode, a label, a file name, a server's
/// message), made safe to show on a terminal, in the window or in a log line:
/// every character [`protocol::hidden_char`] names (C0 and C1 controls such as
/// ESC, CR, LF, NUL and DEL; whitespace other than the space, so tabs and line
/// separators; zero-width and direction marks such as U+202E) and the Arabic
/// letter mark is written as a Rust escape (`\u{1b}`, `\n`), so the text is
/// always one line that cannot move the cursor, clear the screen or reorder
/// what follows it. At most `max_chars` characters are kept (an ellipsis marks
/// the cut). Backslashes are left as they are, so escaping twice changes
/// nothing. The text itself is stored as it came (it is evidence); this is
/// only how it is shown.
pub fn printable(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        if protocol::hidden_char(c) || c == '\u{061c}' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Shortest a batch id is shown (batches made within a minute of each other
/// share more, so their names run longer).
pub const SHOWN_ID_CHARS: usize = 8;

/// The name each batch id is shown by: its first [`SHOWN_ID_CHARS`]
/// characters, or as many more as make it the only id starting so among
/// `ids` (a prefix `folio` accepts for it, then).
pub fn short_names<'a>(ids: impl IntoIterator<Item = &'a str>) -> HashMap<String, String> {
    let mut sorted: Vec<&str> = ids.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let common = |a: &str, b: &str| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let mut names = HashMap::with_capacity(sorted.len());
    for (i, id) in sorted.iter().enumerate() {
        let before = i.checked_sub(1).map_or(0, |j| common(sorted[j], id));
        let after = sorted.get(i + 1).map_or(0, |n| common(n, id));
        let n = (before.max(after) + 1).max(SHOWN_ID_CHARS);
        names.insert(id.to_string(), id.chars().take(n).collect());
    }
    names
}

/// Stable id of a record or document: a UUID derived from the batch and the side
/// where it starts, so re-running separation (resume, review) keeps ids and an
/// upload retry can never create a second copy.
pub fn derived_id(batch_id: &str, kind: &str, first_side: u32) -> String {
    let name = format!("{batch_id}/{kind}/{first_side}");
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_unique_and_eight_characters_at_least() {
        let ids = [
            "01a23446-7c21-7000-8000-000000000001",
            "01a23446-7c21-7000-8000-000000000002",
            "01a23446-9999-7000-8000-000000000003",
            "0fffffff-0000-7000-8000-000000000004",
            "ab",
        ];
        let names = short_names(ids);
        assert_eq!(names["0fffffff-0000-7000-8000-000000000004"], "0fffffff");
        assert_eq!(names["01a23446-9999-7000-8000-000000000003"], "01a23446-9");
        assert_eq!(
            names["01a23446-7c21-7000-8000-000000000001"],
            "01a23446-7c21-7000-8000-000000000001"
        );
        assert_eq!(names["ab"], "ab");
        for id in ids {
            let name = &names[id];
            let starting = ids.iter().filter(|o| o.starts_with(name.as_str())).count();
            assert_eq!(starting, 1, "{name} names more than {id}");
        }
    }

    #[test]
    fn move_targets_round_trip_through_their_stored_text() {
        let p = PatientId::Nhs {
            number: "4010232137".into(),
            valid: true,
        };
        for t in [
            MoveTarget::Document("d1".into()),
            MoveTarget::NewRecord(p.clone()),
            MoveTarget::NewRecord(PatientId::Hospital {
                number: "RX123456".into(),
            }),
        ] {
            assert_eq!(MoveTarget::from_stored(&t.to_stored()), t);
        }
        assert!(
            MoveTarget::NewRecord(p)
                .to_stored()
                .starts_with("new-record:{")
        );
        assert_eq!(
            MoveTarget::from_stored("new-record:garbage"),
            MoveTarget::Document("new-record:garbage".into())
        );
    }

    #[test]
    fn states_round_trip_and_ids_are_stable() {
        for st in BatchState::ALL {
            assert_eq!(BatchState::parse(st.as_str()), Some(st));
        }
        assert_eq!(BatchState::parse("nonsense"), None);
        for src in BatchSource::ALL {
            assert_eq!(BatchSource::parse(src.as_str()), Some(src));
            let json = serde_json::to_string(&src).unwrap();
            assert_eq!(json, format!("\"{src}\""));
        }
        assert_eq!(BatchSource::parse("elsewhere"), None);
        assert_eq!(format!("{:<10}|", BatchState::Closed), "closed    |");
        assert_eq!(derived_id("b", "rec", 3), derived_id("b", "rec", 3));
        assert_ne!(derived_id("b", "rec", 3), derived_id("b", "doc", 3));
        assert_eq!(BatchState::after_scanning(0), BatchState::Closed);
        assert_eq!(BatchState::after_scanning(2), BatchState::InReview);
    }

    #[test]
    fn outside_text_is_shown_escaped_and_cut() {
        assert_eq!(printable("pédiatrie", 80), "pédiatrie");
        assert_eq!(printable("a\u{1b}[2Jb\n\t", 80), "a\\u{1b}[2Jb\\n\\t");
        assert_eq!(printable("x\u{202e}y", 80), "x\\u{202e}y");
        assert_eq!(printable(&"z".repeat(300), 5), "zzzzz…");
        // NUL, CR, DEL, a C1 control, the line and paragraph separators, and
        // every direction mark or isolate.
        assert_eq!(
            printable("a\0b\rc\u{7f}\u{85}\u{2028}\u{2029}", 80),
            "a\\u{0}b\\rc\\u{7f}\\u{85}\\u{2028}\\u{2029}"
        );
        for mark in [
            '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}',
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{061c}', '\u{feff}', '\u{200b}',
        ] {
            let shown = printable(&format!("x{mark}y"), 80);
            assert_eq!(shown, format!("x\\u{{{:x}}}y", mark as u32), "{mark:?}");
        }
        // Already escaped text is shown the same again.
        let once = printable("a\u{1b}[2J\n", 80);
        assert_eq!(printable(&once, 80), once);
        // Cut by characters, never inside one.
        assert_eq!(printable(&"é".repeat(10), 3), "ééé…");
        assert!(!printable(&"\u{1b}".repeat(5000), 4000).contains('\u{1b}'));
    }
}
