//! What may be done to a batch in each state of its life: scanned into,
//! resumed, closed, reviewed, approved, exported, queued again for upload.
//! One function per rule, called by the CLI, the workers, the store and the
//! window alike, so no front end decides a state question on its own (a rule
//! one front end enforces and another does not is a bug). Whether a batch's
//! content may be approved is [`super::approval::decide`]; the state part of it
//! is [`may_approve`].
//!
//! Pure: the caller reads the state and applies the verdict.

use super::{BatchState, OutboxState};

/// May a batch move from `from` to `to`? The one table of a batch's life
/// (PRODUCT.md, "Batch life"), which every state the store writes goes
/// through: scanned; closed, or in review while anything is flagged (and
/// back as flags are decided); approved; uploading; uploaded; its paper
/// held; due for destruction (held again under a new hold); destroyed, for
/// good. A state written again is a move only where that happens: a batch
/// separated again stays closed or in review, one approved again stays
/// approved.
pub fn may_move(from: BatchState, to: BatchState) -> bool {
    use BatchState::*;
    matches!(
        (from, to),
        (Scanning, Closed | InReview)
            | (Closed | InReview, Closed | InReview | Approved)
            | (Approved, Approved | Uploading | Uploaded)
            | (Uploading, Uploaded)
            | (Uploaded, PaperHeld)
            | (PaperHeld, DestructionDue)
            | (DestructionDue, PaperHeld | Destroyed)
    )
}

/// Every state a batch may move to `to` from: the guard the store writes
/// into its update, so the check and the change are one statement.
pub fn sources(to: BatchState) -> Vec<BatchState> {
    BatchState::ALL
        .into_iter()
        .filter(|from| may_move(*from, to))
        .collect()
}

/// May more sides be stored in the batch (a scan or an import adding to it)?
/// Only while it is still being scanned: once closed, its sides are settled
/// and changed only through review (rescanning a page in place).
pub fn may_scan_into(state: BatchState) -> bool {
    matches!(state, BatchState::Scanning)
}

/// May a stopped scan or import of the batch be continued
/// (`folio scan --resume`, Resume in the window)?
pub fn may_resume(state: BatchState) -> bool {
    may_scan_into(state)
}

/// May the batch be closed (separated, its scanning ended) as it is?
pub fn may_close(state: BatchState) -> bool {
    matches!(state, BatchState::Scanning)
}

/// May a supervisor change the batch in review (approve or remove a page,
/// turn, move or rescan it, fix an identifier)? Only once it is closed and
/// until it is approved: what is approved is what is sent.
pub fn may_review(state: BatchState) -> bool {
    matches!(state, BatchState::Closed | BatchState::InReview)
}

/// May the batch be approved, as far as its state goes? (Its content is
/// judged by [`super::approval::decide`], which calls this.)
pub fn may_approve(state: BatchState) -> bool {
    may_review(state)
}

/// May the batch be written to a folder (`folio export`)? Any batch whose
/// scanning ended: an open one is still changing.
pub fn may_export(state: BatchState) -> bool {
    !matches!(state, BatchState::Scanning)
}

/// May an approved batch be queued again for upload? Only when its upload
/// was stopped (parked after its tries, or a conflict a supervisor settled):
/// a queued batch is already waiting, a delivered one is done.
pub fn may_requeue(upload: OutboxState) -> bool {
    upload.stopped()
}

/// The states a rule allows, in life order (for a store query).
pub fn states_where(rule: fn(BatchState) -> bool) -> Vec<BatchState> {
    BatchState::ALL.into_iter().filter(|s| rule(*s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use BatchState::*;

    /// Each rule against every state, so a new state cannot slip through.
    fn allowed(rule: fn(BatchState) -> bool) -> Vec<BatchState> {
        BatchState::ALL.into_iter().filter(|s| rule(*s)).collect()
    }

    #[test]
    fn only_a_batch_being_scanned_takes_sides_resumes_or_closes() {
        for st in BatchState::ALL {
            let open = st == Scanning;
            assert_eq!(may_scan_into(st), open, "{st}");
            assert_eq!(may_resume(st), open, "{st}");
            assert_eq!(may_close(st), open, "{st}");
        }
        assert_eq!(allowed(may_scan_into), vec![Scanning]);
        assert_eq!(allowed(may_resume), vec![Scanning]);
        assert_eq!(allowed(may_close), vec![Scanning]);
    }

    #[test]
    fn only_closed_batches_not_yet_approved_are_reviewed_or_approved() {
        for st in BatchState::ALL {
            let expected = matches!(st, Closed | InReview);
            assert_eq!(may_review(st), expected, "{st}");
            assert_eq!(may_approve(st), expected, "{st}");
        }
        assert_eq!(allowed(may_review), vec![Closed, InReview]);
        assert_eq!(states_where(may_approve), vec![Closed, InReview]);
    }

    #[test]
    fn every_batch_but_an_open_one_may_be_exported() {
        for st in BatchState::ALL {
            assert_eq!(may_export(st), st != Scanning, "{st}");
        }
        assert_eq!(
            allowed(may_export),
            vec![
                Closed,
                InReview,
                Approved,
                Uploading,
                Uploaded,
                PaperHeld,
                DestructionDue,
                Destroyed
            ]
        );
    }

    #[test]
    fn every_pair_of_states_is_a_legal_move_or_refused() {
        let legal = [
            (Scanning, Closed),
            (Scanning, InReview),
            (Closed, Closed),
            (Closed, InReview),
            (Closed, Approved),
            (InReview, Closed),
            (InReview, InReview),
            (InReview, Approved),
            (Approved, Approved),
            (Approved, Uploading),
            (Approved, Uploaded),
            (Uploading, Uploaded),
            (Uploaded, PaperHeld),
            (PaperHeld, DestructionDue),
            (DestructionDue, PaperHeld),
            (DestructionDue, Destroyed),
        ];
        for from in BatchState::ALL {
            for to in BatchState::ALL {
                assert_eq!(
                    may_move(from, to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        // What the review found skipped: nothing jumps to the shredder,
        // nothing leaves it, nothing goes back to scanning.
        assert!(!may_move(Uploaded, Destroyed));
        assert!(
            BatchState::ALL
                .into_iter()
                .all(|to| !may_move(Destroyed, to))
        );
        assert_eq!(sources(Scanning), vec![]);
        assert_eq!(sources(Destroyed), vec![DestructionDue]);
        assert_eq!(sources(Uploaded), vec![Approved, Uploading]);
        assert_eq!(sources(Closed), sources(InReview));
    }

    #[test]
    fn only_a_stopped_upload_is_queued_again() {
        assert!(!may_requeue(OutboxState::Queued));
        assert!(may_requeue(OutboxState::Parked));
        assert!(may_requeue(OutboxState::Conflict));
        assert!(!may_requeue(OutboxState::Done));
    }

    #[test]
    fn a_batch_is_never_both_open_and_in_review() {
        for st in BatchState::ALL {
            assert!(!(may_scan_into(st) && may_review(st)), "{st}");
            assert!(!(may_close(st) && may_approve(st)), "{st}");
        }
    }
}
