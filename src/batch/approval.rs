//! May this batch be approved for upload? One rule, decided here and called by
//! the window, the CLI and the station worker alike (a rule that one front end
//! enforces and another does not is a bug).
//!
//! Pure: the caller gathers the facts from the cache and applies the verdict.

use super::flags::FlagCode;
use super::sample::SampleState;
use super::{BatchState, Reconciliation};
use std::fmt;

/// Longest override reason kept (the audit trail is not a document store).
pub const MAX_REASON_CHARS: usize = 500;

/// What the cache says about a batch, as the rule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalFacts {
    pub batch_id: String,
    pub state: BatchState,
    /// Sides stored (scanned or imported), unreadable ones included.
    pub sides: u32,
    /// What would be sent.
    pub records: u32,
    pub documents: u32,
    pub pages: u32,
    /// Records no patient is known for (no record sheet, a damaged or
    /// conflicting one): they can never be sent.
    pub records_without_patient: u32,
    /// Records scanned on demand whose record sheet shows another patient than
    /// the one typed, not yet decided: a person must say whose they are.
    pub patient_contradictions: u32,
    /// Open flags by code (each code once).
    pub open_flags: Vec<(FlagCode, u32)>,
    /// Sheets counted against sheets scanned.
    pub count: Reconciliation,
    /// The sampling QA's state (see [`super::sample`]).
    pub sample: SampleState,
    /// Scanning sessions of the batch without a passing test target, counted
    /// only where the station refuses such batches (`[session_target]
    /// block_approval`).
    pub unproven_sessions: u32,
    /// How far its searchable text has got (not an approval condition: an
    /// upload waits for it, see [`super::text::upload_waits`]).
    pub text: super::text::TextProgress,
}

impl ApprovalFacts {
    /// Open flags in all.
    pub fn open_flag_count(&self) -> u32 {
        self.open_flags.iter().map(|(_, n)| n).sum()
    }

    /// Open flags that a person must look at one by one: each may stand for a
    /// page whose content is lost (a lamp failure, a cut-off file, a side that
    /// crashed processing) or for two patients' sheets on one side. No blanket
    /// override covers them.
    pub fn must_be_seen(&self) -> Vec<(FlagCode, u32)> {
        self.open_flags
            .iter()
            .copied()
            .filter(|(code, n)| *n > 0 && code.must_be_seen())
            .collect()
    }
}

/// What a person explicitly accepts when approving, for this batch only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Send with the open flags as they are.
    pub accept_flags: bool,
    /// Send although the sheets counted differ from those scanned.
    pub accept_count: bool,
    /// Why; required with any override, and written to the audit trail.
    pub reason: Option<String>,
}

impl Overrides {
    /// No override at all.
    pub fn none() -> Overrides {
        Overrides::default()
    }

    pub fn any(&self) -> bool {
        self.accept_flags || self.accept_count
    }
}

/// Why a batch may not be approved, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    StillScanning,
    AlreadyApproved(BatchState),
    /// Nothing would be sent: no page survived separation.
    Empty {
        sides: u32,
    },
    /// Records with no patient identifier.
    NoPatient(u32),
    /// On-demand records whose paper contradicts the patient typed.
    PatientContradiction(u32),
    /// Flags that each need a person's decision.
    MustBeSeen(Vec<(FlagCode, u32)>),
    OpenFlags(u32),
    CountMismatch(String),
    /// The sample was not drawn, not finished, or failed.
    Sample(SampleState),
    /// Sides from sessions without a passing test target, at a station that
    /// refuses them.
    NoSessionTarget(u32),
    /// An override was asked for without a reason.
    ReasonMissing,
    ReasonTooLong,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::StillScanning => write!(
                f,
                "it is still being scanned: close it first (`folio scan --resume` or Close batch)"
            ),
            Refusal::AlreadyApproved(state) => {
                write!(f, "it is already {}: nothing to approve", state.as_str())
            }
            Refusal::Empty { sides } => write!(
                f,
                "it holds no pages to send ({sides} sides scanned, all removed or unreadable): \
                 restore pages in Review or rescan the stack"
            ),
            Refusal::NoPatient(n) => write!(
                f,
                "{n} record(s) have no patient: set each record's NHS or hospital number in \
                 Review (Correct identifier), or move its pages, before it can be sent"
            ),
            Refusal::PatientContradiction(n) => write!(
                f,
                "{n} record(s) show another patient on the record sheet than the one typed: \
                 choose whose record it is in the window (On demand or Review), or rescan the right folder"
            ),
            Refusal::MustBeSeen(flags) => {
                let list: Vec<String> = flags
                    .iter()
                    .map(|(code, n)| format!("{n} {code}"))
                    .collect();
                write!(
                    f,
                    "{} must each be looked at in Review (approve, rescan or remove every one): \
                     pages may be unreadable or lost, so no override covers them",
                    list.join(", ")
                )
            }
            Refusal::OpenFlags(n) => write!(
                f,
                "it has {n} open flags: review them first, or accept them with a reason"
            ),
            Refusal::CountMismatch(words) => write!(
                f,
                "the sheets counted do not match those scanned ({words}): find the missing \
                 sheets, correct the count, or accept the difference with a reason"
            ),
            Refusal::Sample(state) => match state {
                SampleState::Failed { .. } => write!(f, "its {}", state.words()),
                SampleState::Open { done, of, .. } => write!(
                    f,
                    "its sample is not finished ({done} of {of} sides checked): check the rest \
                     in Review (Sample)"
                ),
                _ => write!(
                    f,
                    "its pages have not been sampled: a supervisor who did not scan it checks \
                     a sample in Review (Sample) first"
                ),
            },
            Refusal::NoSessionTarget(n) => write!(
                f,
                "{n} of its scanning sessions had no passing test target, and this station sends \
                 nothing scanned without one: scan the test target (`folio sheets --target`) first, \
                 then scan these sheets again"
            ),
            Refusal::ReasonMissing => write!(
                f,
                "an override needs a reason: say why the batch may go as it is"
            ),
            Refusal::ReasonTooLong => write!(
                f,
                "the reason is longer than {MAX_REASON_CHARS} characters: shorten it"
            ),
        }
    }
}

impl Refusal {
    /// How the command line accepts what is refused, if an override can
    /// (the window shows its own tick box and reason field instead).
    pub fn cli_hint(&self) -> Option<&'static str> {
        match self {
            Refusal::OpenFlags(_) => Some("--accept-flags --reason \"...\""),
            Refusal::CountMismatch(_) => Some("--accept-count-mismatch --reason \"...\""),
            _ => None,
        }
    }
}

/// A batch that may be approved: what will be sent, and what is overridden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub records: u32,
    pub documents: u32,
    pub pages: u32,
    /// Each override used, in words ("3 open flags accepted").
    pub overridden: Vec<String>,
    /// The reason given, cleaned for the audit trail.
    pub reason: Option<String>,
}

impl Approval {
    /// The audit trail's line for it.
    pub fn audit_detail(&self) -> String {
        let mut s = format!(
            "queued for upload: {} records, {} documents, {} pages",
            self.records, self.documents, self.pages
        );
        if !self.overridden.is_empty() {
            s.push_str(&format!("; overrides: {}", self.overridden.join(", ")));
        }
        if let Some(r) = &self.reason {
            s.push_str(&format!("; reason: {r}"));
        }
        s
    }
}

/// Decides whether a batch may be approved with the given overrides.
pub fn decide(facts: &ApprovalFacts, ov: &Overrides) -> Result<Approval, Refusal> {
    if !super::rules::may_approve(facts.state) {
        return Err(match facts.state {
            BatchState::Scanning => Refusal::StillScanning,
            other => Refusal::AlreadyApproved(other),
        });
    }
    if facts.pages == 0 || facts.documents == 0 {
        return Err(Refusal::Empty { sides: facts.sides });
    }
    if facts.records_without_patient > 0 {
        return Err(Refusal::NoPatient(facts.records_without_patient));
    }
    if facts.patient_contradictions > 0 {
        return Err(Refusal::PatientContradiction(facts.patient_contradictions));
    }
    let seen = facts.must_be_seen();
    if !seen.is_empty() {
        return Err(Refusal::MustBeSeen(seen));
    }
    // Nor the session target's, where the station asks for it.
    if facts.unproven_sessions > 0 {
        return Err(Refusal::NoSessionTarget(facts.unproven_sessions));
    }
    // No override takes the sample's place: it is the evidence that the
    // capture was checked by a person.
    match &facts.sample {
        SampleState::NotRequired | SampleState::Passed { .. } => {}
        other => return Err(Refusal::Sample(other.clone())),
    }
    let reason = clean_reason(ov.reason.as_deref());
    if ov.any() && reason.is_none() {
        return Err(Refusal::ReasonMissing);
    }
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(Refusal::ReasonTooLong);
    }
    let mut overridden = Vec::new();
    let open = facts.open_flag_count();
    if open > 0 {
        if !ov.accept_flags {
            return Err(Refusal::OpenFlags(open));
        }
        overridden.push(format!("{open} open flags accepted"));
    }
    if !facts.count.agrees() {
        if !ov.accept_count {
            return Err(Refusal::CountMismatch(facts.count.words()));
        }
        overridden.push(format!("count accepted ({})", facts.count.words()));
    }
    Ok(Approval {
        records: facts.records,
        documents: facts.documents,
        pages: facts.pages,
        overridden,
        // A reason given when nothing needed overriding is still kept.
        reason,
    })
}

/// A reason as typed, trimmed, with control characters turned into spaces (it is
/// shown in the audit trail and on terminals); `None` when nothing is left.
fn clean_reason(reason: Option<&str>) -> Option<String> {
    let r: String = reason?
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let r = r.trim();
    (!r.is_empty()).then(|| r.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_no_command_line_flags_and_say_which_override_takes_them() {
        let flags = Refusal::OpenFlags(3);
        assert!(!flags.to_string().contains("--"), "{flags}");
        assert_eq!(flags.cli_hint(), Some("--accept-flags --reason \"...\""));
        let count = Refusal::CountMismatch("2 sheets missing".into());
        assert!(!count.to_string().contains("--"), "{count}");
        assert!(
            count
                .cli_hint()
                .is_some_and(|h| h.starts_with("--accept-count"))
        );
        assert_eq!(Refusal::ReasonMissing.cli_hint(), None);
    }

    fn facts() -> ApprovalFacts {
        ApprovalFacts {
            batch_id: "b".into(),
            state: BatchState::InReview,
            sides: 10,
            records: 2,
            documents: 3,
            pages: 8,
            records_without_patient: 0,
            patient_contradictions: 0,
            open_flags: vec![],
            count: Reconciliation::new(None, 10),
            sample: SampleState::NotRequired,
            unproven_sessions: 0,
            text: Default::default(),
        }
    }

    fn with(reason: &str, accept_flags: bool, accept_count: bool) -> Overrides {
        Overrides {
            accept_flags,
            accept_count,
            reason: Some(reason.into()),
        }
    }

    #[test]
    fn case_10_one_rule_decides_flags_counts_and_reasons() {
        let ok = decide(&facts(), &Overrides::none()).unwrap();
        assert_eq!((ok.records, ok.documents, ok.pages), (2, 3, 8));
        assert!(ok.overridden.is_empty());

        let mut f = facts();
        f.open_flags = vec![(FlagCode::MisfiledIdentifier, 2)];
        assert_eq!(decide(&f, &Overrides::none()), Err(Refusal::OpenFlags(2)));
        // An override without a reason (or an empty / control-only one) is refused.
        let bare = Overrides {
            accept_flags: true,
            ..Default::default()
        };
        assert_eq!(decide(&f, &bare), Err(Refusal::ReasonMissing));
        assert_eq!(
            decide(&f, &with(" \t\u{7}\n", true, false)),
            Err(Refusal::ReasonMissing)
        );
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        assert_eq!(
            decide(&f, &with(&long, true, false)),
            Err(Refusal::ReasonTooLong)
        );
        let a = decide(&f, &with("labels checked\u{1b}[2J by hand", true, false)).unwrap();
        assert_eq!(a.reason.as_deref(), Some("labels checked [2J by hand"));
        assert!(a.audit_detail().contains("2 open flags accepted"));

        // Counted sheets that differ need their own override.
        let mut f = facts();
        f.count = Reconciliation::new(Some(12), 10);
        assert!(matches!(
            decide(&f, &with("r", true, false)),
            Err(Refusal::CountMismatch(w)) if w == "2 sheets missing"
        ));
        let a = decide(&f, &with("two sheets were stapled", false, true)).unwrap();
        assert_eq!(a.overridden, ["count accepted (2 sheets missing)"]);
        assert!(a.audit_detail().contains("reason: two sheets were stapled"));
    }

    #[test]
    fn case_16_empty_batches_and_unseen_dark_pages_cannot_be_approved() {
        let mut f = facts();
        f.pages = 0;
        f.documents = 0;
        assert_eq!(
            decide(&f, &with("r", true, true)),
            Err(Refusal::Empty { sides: 10 })
        );
        let mut f = facts();
        f.open_flags = vec![(FlagCode::TooDark, 3), (FlagCode::Skewed, 1)];
        let refused = decide(&f, &with("all fine", true, true));
        assert_eq!(
            refused,
            Err(Refusal::MustBeSeen(vec![(FlagCode::TooDark, 3)]))
        );
        assert!(refused.unwrap_err().to_string().contains("3 too_dark"));
        f.open_flags = vec![(FlagCode::Skewed, 1)];
        assert!(decide(&f, &with("all fine", true, true)).is_ok());
        f.records_without_patient = 1;
        assert_eq!(
            decide(&f, &with("r", true, true)),
            Err(Refusal::NoPatient(1))
        );
        f.records_without_patient = 0;
        f.patient_contradictions = 1;
        f.open_flags = vec![(FlagCode::MisfiledIdentifier, 1)];
        assert_eq!(
            decide(&f, &with("r", true, true)),
            Err(Refusal::PatientContradiction(1))
        );
        f.patient_contradictions = 0;
        assert!(decide(&f, &with("r", true, true)).is_ok());
        for state in [
            BatchState::Scanning,
            BatchState::Approved,
            BatchState::Uploaded,
        ] {
            f.state = state;
            assert!(decide(&f, &with("r", true, true)).is_err(), "{state:?}");
        }
    }

    #[test]
    fn every_state_is_approved_or_refused_by_the_state_rule() {
        for state in BatchState::ALL {
            let mut f = facts();
            f.state = state;
            let verdict = decide(&f, &Overrides::none());
            match state {
                BatchState::Closed | BatchState::InReview => {
                    assert!(verdict.is_ok(), "{state}: {verdict:?}")
                }
                BatchState::Scanning => assert_eq!(verdict, Err(Refusal::StillScanning)),
                other => assert_eq!(verdict, Err(Refusal::AlreadyApproved(other))),
            }
            assert_eq!(
                verdict.is_ok(),
                crate::batch::rules::may_approve(state),
                "{state}"
            );
        }
    }

    #[test]
    fn no_override_takes_the_place_of_a_passed_sample() {
        let all = Overrides {
            accept_flags: true,
            accept_count: true,
            reason: Some("urgent".into()),
        };
        for (sample, words) in [
            (SampleState::NotDrawn, "not been sampled"),
            (
                SampleState::Open {
                    draw: 1,
                    done: 2,
                    of: 5,
                },
                "2 of 5",
            ),
            (
                SampleState::Failed {
                    draw: 1,
                    failed: vec![4, 9],
                },
                "side(s) 4, 9",
            ),
        ] {
            let f = ApprovalFacts { sample, ..facts() };
            let e = decide(&f, &all).unwrap_err();
            assert!(matches!(e, Refusal::Sample(_)), "{e:?}");
            assert!(e.to_string().contains(words), "{e}");
        }
        let passed = ApprovalFacts {
            sample: SampleState::Passed {
                draw: 1,
                by: "m.jones".into(),
                at: "t".into(),
            },
            ..facts()
        };
        assert!(decide(&passed, &Overrides::none()).is_ok());
    }

    #[test]
    fn a_station_that_blocks_unproven_sessions_takes_no_override_for_them() {
        let f = ApprovalFacts {
            unproven_sessions: 2,
            ..facts()
        };
        let all = Overrides {
            accept_flags: true,
            accept_count: true,
            reason: Some("urgent".into()),
        };
        let e = decide(&f, &all).unwrap_err();
        assert_eq!(e, Refusal::NoSessionTarget(2));
        assert!(e.to_string().contains("folio sheets --target"), "{e}");
        assert_eq!(e.cli_hint(), None);
    }
}
