//! Flags: why a page, record or batch needs a person. Codes are the contract of
//! `manifest.json`; the detail is words for the supervisor.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Reason codes (PRODUCT.md lists the shared ones; the rest are Folio's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum FlagCode {
    MisfiledIdentifier,
    InvalidNhsNumber,
    InvalidPatientId,
    BlankRestored,
    Skewed,
    TooDark,
    TooLight,
    LowContrast,
    UnreadableControlSheet,
    PossibleDoubleFeed,
    CutShort,
    UnreadableImage,
    NoRecordSheet,
    EmptyRecord,
    RescanRequested,
    MoveTargetMissing,
    /// One side carries control barcodes that disagree (two record sheets stuck
    /// together, a photocopied cover over another).
    ConflictingControlSheet,
    /// The same record sheet appears again later in the batch.
    DuplicateControlSheet,
    /// The image file or scan data is damaged (truncated, bad checksum): what
    /// could be decoded is kept, but the sheet must be looked at or rescanned.
    DamagedImage,
    /// Processing the side failed unexpectedly; its raw image is kept.
    ProcessingFailed,
    /// Sides scanned in a session (sign-in, scanner, profile) that scanned no
    /// passing test target: the capture's quality is not shown.
    NoSessionTarget,
    /// A document the central store accepted did not read back as sent (a
    /// different size or hash, or not there at all): it is sent again.
    UploadNotVerified,
}

impl FlagCode {
    /// Every code, for parsing stored names.
    pub const ALL: [FlagCode; 22] = [
        FlagCode::MisfiledIdentifier,
        FlagCode::InvalidNhsNumber,
        FlagCode::InvalidPatientId,
        FlagCode::BlankRestored,
        FlagCode::Skewed,
        FlagCode::TooDark,
        FlagCode::TooLight,
        FlagCode::LowContrast,
        FlagCode::UnreadableControlSheet,
        FlagCode::PossibleDoubleFeed,
        FlagCode::CutShort,
        FlagCode::UnreadableImage,
        FlagCode::NoRecordSheet,
        FlagCode::EmptyRecord,
        FlagCode::RescanRequested,
        FlagCode::MoveTargetMissing,
        FlagCode::ConflictingControlSheet,
        FlagCode::DuplicateControlSheet,
        FlagCode::DamagedImage,
        FlagCode::ProcessingFailed,
        FlagCode::NoSessionTarget,
        FlagCode::UploadNotVerified,
    ];

    /// The snake_case code written to the cache and the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagCode::MisfiledIdentifier => "misfiled_identifier",
            FlagCode::InvalidNhsNumber => "invalid_nhs_number",
            FlagCode::InvalidPatientId => "invalid_patient_id",
            FlagCode::BlankRestored => "blank_restored",
            FlagCode::Skewed => "skewed",
            FlagCode::TooDark => "too_dark",
            FlagCode::TooLight => "too_light",
            FlagCode::LowContrast => "low_contrast",
            FlagCode::UnreadableControlSheet => "unreadable_control_sheet",
            FlagCode::PossibleDoubleFeed => "possible_double_feed",
            FlagCode::CutShort => "cut_short",
            FlagCode::UnreadableImage => "unreadable_image",
            FlagCode::NoRecordSheet => "no_record_sheet",
            FlagCode::EmptyRecord => "empty_record",
            FlagCode::RescanRequested => "rescan_requested",
            FlagCode::MoveTargetMissing => "move_target_missing",
            FlagCode::ConflictingControlSheet => "conflicting_control_sheet",
            FlagCode::DuplicateControlSheet => "duplicate_control_sheet",
            FlagCode::DamagedImage => "damaged_image",
            FlagCode::ProcessingFailed => "processing_failed",
            FlagCode::NoSessionTarget => "no_session_target",
            FlagCode::UploadNotVerified => "upload_not_verified",
        }
    }

    /// What the flag means, in plain words for the people who decide it (the
    /// code itself is shown beside it, small, for support and the manifest).
    pub fn title(self) -> &'static str {
        match self {
            FlagCode::MisfiledIdentifier => "Another patient's label on this page",
            FlagCode::InvalidNhsNumber => "NHS number fails its check",
            FlagCode::InvalidPatientId => "Hospital number not in the site's format",
            FlagCode::BlankRestored => "Blank page put back",
            FlagCode::Skewed => "Page scanned crooked",
            FlagCode::TooDark => "Page too dark to read",
            FlagCode::TooLight => "Page too faint to read",
            FlagCode::LowContrast => "Page has little contrast",
            FlagCode::UnreadableControlSheet => "Control sheet could not be read",
            FlagCode::PossibleDoubleFeed => "Two sheets may have fed together",
            FlagCode::CutShort => "Page cut short",
            FlagCode::UnreadableImage => "Image could not be read",
            FlagCode::NoRecordSheet => "Pages before any record sheet",
            FlagCode::EmptyRecord => "Record with no pages",
            FlagCode::RescanRequested => "Marked for rescan",
            FlagCode::MoveTargetMissing => "Page's new document is gone",
            FlagCode::ConflictingControlSheet => "Control sheets on one side disagree",
            FlagCode::DuplicateControlSheet => "Record sheet seen twice",
            FlagCode::DamagedImage => "Image damaged in transfer",
            FlagCode::ProcessingFailed => "Page could not be processed",
            FlagCode::NoSessionTarget => "Scanned without a passing test target",
            FlagCode::UploadNotVerified => "Stored copy did not read back as sent",
        }
    }

    /// Flags that a person must decide one by one (no blanket override): each
    /// may mean a page's content is lost, or two patients' sheets on one side.
    pub fn must_be_seen(self) -> bool {
        matches!(
            self,
            FlagCode::TooDark
                | FlagCode::UnreadableImage
                | FlagCode::DamagedImage
                | FlagCode::ProcessingFailed
                | FlagCode::ConflictingControlSheet
        )
    }

    /// Parses a stored code.
    pub fn parse(s: &str) -> Option<FlagCode> {
        FlagCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for FlagCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason for a person to look, with details in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub code: FlagCode,
    pub detail: String,
    /// The side a record-level flag is about (one that could not be read, a
    /// damaged control sheet), so review can show and rescan it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<u32>,
}

impl Flag {
    pub fn new(code: FlagCode, detail: impl Into<String>) -> Flag {
        Flag {
            code,
            detail: detail.into(),
            side: None,
        }
    }

    /// The flag, about one side.
    pub fn on_side(self, side: u32) -> Flag {
        Flag {
            side: Some(side),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_names_and_serde() {
        for c in FlagCode::ALL {
            assert_eq!(FlagCode::parse(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
    }

    #[test]
    fn every_code_has_its_own_plain_title() {
        let titles: std::collections::BTreeSet<&str> =
            FlagCode::ALL.iter().map(|c| c.title()).collect();
        assert_eq!(titles.len(), FlagCode::ALL.len(), "two codes share a title");
        for c in FlagCode::ALL {
            let t = c.title();
            assert!(!t.contains('_') && t.starts_with(char::is_uppercase), "{t}");
        }
    }
}
