//! Searchable text (OCR): which batches may have it asked for, which pages
//! still want it, and whether a batch's upload waits for it. Decided here
//! for the CLI, the window, the OCR worker and the uploader alike.
//!
//! Pure: the store counts, these rules judge.

use super::BatchState;

/// How far a batch's text has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TextProgress {
    /// Text was asked for (by the batch's profile, a flag or on demand).
    pub wanted: bool,
    /// Pages that get text: every stored side not blank and not removed.
    pub pages: u32,
    /// Pages read.
    pub done: u32,
    /// Pages OCR gave up on (their PDF pages have no text).
    pub failed: u32,
}

impl TextProgress {
    /// Pages still to read.
    pub fn pending(&self) -> u32 {
        if self.wanted {
            self.pages.saturating_sub(self.done + self.failed)
        } else {
            0
        }
    }

    /// "12 of 40 pages read", or "" when no text was asked for.
    pub fn describe(&self) -> String {
        if !self.wanted {
            return String::new();
        }
        let mut s = format!("text: {} of {} pages read", self.done, self.pages);
        if self.failed > 0 {
            s.push_str(&format!(", {} could not be read", self.failed));
        }
        s
    }
}

/// Does OCR still reach a batch's PDFs in this state? Until its upload
/// starts; after that the PDFs sent are the record and are not rebuilt.
pub fn text_useful(state: BatchState) -> bool {
    matches!(
        state,
        BatchState::Scanning | BatchState::Closed | BatchState::InReview | BatchState::Approved
    )
}

/// May text be asked for on this batch now? Why not, if not.
pub fn may_request_text(state: BatchState) -> Result<(), String> {
    if text_useful(state) {
        Ok(())
    } else {
        Err(format!(
            "it is {}: its PDFs are already on their way to, or in, the central store and are not rebuilt",
            state.as_str().replace('_', " ")
        ))
    }
}

/// Must the upload of a batch wait for its text? Why, if so. `waits` is the
/// station's `[ocr] upload_waits`.
pub fn upload_waits(progress: &TextProgress, waits: bool) -> Option<String> {
    let pending = progress.pending();
    (waits && pending > 0).then(|| {
        format!(
            "waiting for its text ({pending} of {} pages still to read); it is sent when OCR finishes (or set [ocr] upload_waits = false to send without)",
            progress.pages
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(wanted: bool, pages: u32, done: u32, failed: u32) -> TextProgress {
        TextProgress {
            wanted,
            pages,
            done,
            failed,
        }
    }

    #[test]
    fn only_batches_whose_pdfs_are_not_sent_take_text() {
        let allowed: Vec<_> = BatchState::ALL
            .into_iter()
            .filter(|s| may_request_text(*s).is_ok())
            .collect();
        assert_eq!(
            allowed,
            [
                BatchState::Scanning,
                BatchState::Closed,
                BatchState::InReview,
                BatchState::Approved
            ]
        );
        let why = may_request_text(BatchState::PaperHeld).unwrap_err();
        assert!(why.contains("paper held"), "{why}");
    }

    #[test]
    fn upload_waits_only_for_wanted_pending_text() {
        assert!(upload_waits(&progress(false, 10, 0, 0), true).is_none());
        assert!(upload_waits(&progress(true, 10, 10, 0), true).is_none());
        // A page OCR gave up on does not hold the batch for ever.
        assert!(upload_waits(&progress(true, 10, 9, 1), true).is_none());
        assert!(upload_waits(&progress(true, 10, 3, 0), false).is_none());
        let why = upload_waits(&progress(true, 10, 3, 1), true).unwrap();
        assert!(why.contains("6 of 10"), "{why}");
        // Counts that disagree (a page re-stored mid-count) never underflow.
        assert_eq!(progress(true, 2, 3, 1).pending(), 0);
    }

    #[test]
    fn progress_is_said_in_words() {
        assert_eq!(progress(false, 4, 0, 0).describe(), "");
        assert_eq!(
            progress(true, 40, 12, 1).describe(),
            "text: 12 of 40 pages read, 1 could not be read"
        );
    }
}
