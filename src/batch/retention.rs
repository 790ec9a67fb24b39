//! The paper's life after upload (issue 18): how long it is held once every
//! document is verified in the central store, when it becomes due for
//! destruction, what a legal hold is, and whether a batch may be certified
//! destroyed now. One place for these rules: the CLI, the window and the
//! store's transitions all ask here.
//!
//! Pure: the caller reads the facts (and the time) and applies the verdict.

use super::{BatchSource, BatchState};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The `[retention]` section: days the paper is held after the batch's
/// documents are all verified in the store, per batch source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionConfig {
    pub site_library_days: u32,
    pub archive_days: u32,
    pub on_demand_days: u32,
    pub import_days: u32,
    /// Days after every document of an on-demand batch is verified that
    /// `folio purge --on-demand` may take its page images off the station
    /// (a field laptop should not carry patients' pages longer than needed).
    pub on_demand_purge_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            site_library_days: DEFAULT_HOLD_DAYS,
            archive_days: DEFAULT_HOLD_DAYS,
            on_demand_days: DEFAULT_HOLD_DAYS,
            import_days: DEFAULT_HOLD_DAYS,
            on_demand_purge_days: 14,
        }
    }
}

/// The quality-assurance period the programme agreed: two months.
pub const DEFAULT_HOLD_DAYS: u32 = 60;

impl RetentionConfig {
    /// Days a batch from `source` is held.
    pub fn hold_days(&self, source: BatchSource) -> u32 {
        match source {
            BatchSource::SiteLibrary => self.site_library_days,
            BatchSource::Archive => self.archive_days,
            BatchSource::OnDemand => self.on_demand_days,
            BatchSource::Import => self.import_days,
        }
    }

    /// Until when the paper of a batch verified at `verified` is held.
    pub fn hold_until(
        &self,
        source: BatchSource,
        verified: time::OffsetDateTime,
    ) -> time::OffsetDateTime {
        verified + time::Duration::days(i64::from(self.hold_days(source)))
    }
}

/// Why a legal hold is placed: each stops destruction until lifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldKind {
    Litigation,
    Complaint,
    /// An inquiry's instruction not to destroy (a public inquiry's, say).
    Inquiry,
    ClinicalQuery,
}

impl HoldKind {
    pub const ALL: [HoldKind; 4] = [
        HoldKind::Litigation,
        HoldKind::Complaint,
        HoldKind::Inquiry,
        HoldKind::ClinicalQuery,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::Litigation => "litigation",
            HoldKind::Complaint => "complaint",
            HoldKind::Inquiry => "inquiry",
            HoldKind::ClinicalQuery => "clinical_query",
        }
    }

    pub fn parse(s: &str) -> Option<HoldKind> {
        HoldKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for HoldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most characters a hold's (or a lift's) reason, a paper location or
/// a destruction method may have.
pub const MAX_TEXT_CHARS: usize = 500;

/// A reason, location or method as typed: trimmed, not empty, not too long,
/// no hidden characters (it goes on a certificate).
pub fn checked_text(what: &str, text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(format!("{what} is required"));
    }
    if t.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("{what} is longer than {MAX_TEXT_CHARS} characters"));
    }
    // The same characters `printable` escapes: controls, tabs and line
    // breaks, zero-width and direction marks (which could reorder a
    // certificate's words).
    if t.chars().any(super::protocol::hidden_char) {
        return Err(format!(
            "{what} holds a hidden character (a line break, a tab, a direction mark): type it on one line"
        ));
    }
    Ok(t.to_string())
}

/// What the cache says about a batch, as the destruction rules need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaperFacts {
    pub batch_id: String,
    pub state: BatchState,
    pub source: BatchSource,
    /// Documents to be kept, and those verified in the store.
    pub documents: u32,
    pub verified: u32,
    /// When the last document was verified (RFC 3339).
    pub verified_at: Option<String>,
    /// Until when the paper is held (RFC 3339), once held.
    pub hold_until: Option<String>,
    /// Legal holds in force on the batch or any of its records.
    pub legal_holds: u32,
    /// Flags open that were not decided at approval (raised since: a
    /// document that did not read back).
    pub open_flags: u32,
    /// Where the paper is (a box or trolley label).
    pub paper_location: Option<String>,
}

/// Why a batch may not be certified destroyed now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// Not (yet, or any more) due: uploaded, held, or destroyed already.
    NotDue {
        state: BatchState,
    },
    NotVerified {
        unverified: u32,
    },
    HoldNotOver {
        until: String,
    },
    LegalHold {
        holds: u32,
    },
    OpenFlags {
        flags: u32,
    },
    NoPaperLocation,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotDue { state } => write!(f, "it is {state}, not due for destruction"),
            Refusal::NotVerified { unverified } => write!(
                f,
                "{unverified} document(s) are not verified in the central store"
            ),
            Refusal::HoldNotOver { until } => write!(f, "its paper is held until {until}"),
            Refusal::LegalHold { holds } => write!(
                f,
                "{holds} legal hold(s) are in force on it or its records (`folio hold list`)"
            ),
            Refusal::OpenFlags { flags } => write!(
                f,
                "{flags} flag(s) raised since approval are open (`folio show`)"
            ),
            Refusal::NoPaperLocation => write!(
                f,
                "where its paper is was never recorded (`folio paper BATCH --location BOX`)"
            ),
        }
    }
}

/// May the batch's paper be destroyed at `now` (RFC 3339)? Every reason it
/// may not, when not: re-checked at the moment of certifying.
pub fn may_destroy(f: &PaperFacts, now: &str) -> Result<(), Vec<Refusal>> {
    let mut why = Vec::new();
    if f.state != BatchState::DestructionDue {
        why.push(Refusal::NotDue { state: f.state });
    }
    if f.verified < f.documents || f.documents == 0 {
        why.push(Refusal::NotVerified {
            unverified: f.documents.saturating_sub(f.verified).max(1),
        });
    }
    match &f.hold_until {
        Some(until) if until.as_str() <= now => {}
        Some(until) => why.push(Refusal::HoldNotOver {
            until: until.clone(),
        }),
        None => why.push(Refusal::HoldNotOver {
            until: "(not held yet)".into(),
        }),
    }
    if f.legal_holds > 0 {
        why.push(Refusal::LegalHold {
            holds: f.legal_holds,
        });
    }
    if f.open_flags > 0 {
        why.push(Refusal::OpenFlags {
            flags: f.open_flags,
        });
    }
    if f.paper_location.as_deref().is_none_or(str::is_empty) {
        why.push(Refusal::NoPaperLocation);
    }
    if why.is_empty() { Ok(()) } else { Err(why) }
}

/// The state the batch's paper should be in at `now`, if it should move:
/// uploaded (every document verified) → held; held past its date with no
/// legal hold → due for destruction; due but put under a legal hold → held
/// again. Every move is one [`super::rules::may_move`] allows.
pub fn next_state(f: &PaperFacts, now: &str) -> Option<BatchState> {
    use BatchState::*;
    let verified = f.documents > 0 && f.verified >= f.documents;
    let passed = f.hold_until.as_deref().is_some_and(|u| u <= now);
    let to = match f.state {
        Uploaded if verified => PaperHeld,
        PaperHeld if passed && f.legal_holds == 0 => DestructionDue,
        DestructionDue if f.legal_holds > 0 => PaperHeld,
        _ => return None,
    };
    debug_assert!(super::rules::may_move(f.state, to));
    Some(to)
}

/// Why the station may take a batch's page images off its disk at `now`:
/// its paper was destroyed; or, asked for (`on_demand`), it was scanned on
/// demand and every document has been verified in the store for
/// `on_demand_purge_days`. None: it keeps them.
pub fn may_purge(
    f: &PaperFacts,
    cfg: &RetentionConfig,
    now: time::OffsetDateTime,
    on_demand: bool,
) -> Option<&'static str> {
    if f.state == BatchState::Destroyed {
        return Some("its paper was destroyed");
    }
    let fmt = &time::format_description::well_known::Rfc3339;
    let verified = f.documents > 0 && f.verified >= f.documents;
    let since = f
        .verified_at
        .as_deref()
        .and_then(|v| time::OffsetDateTime::parse(v, fmt).ok());
    let days = time::Duration::days(i64::from(cfg.on_demand_purge_days));
    match since {
        Some(t)
            if on_demand && verified && f.source == BatchSource::OnDemand && t + days <= now =>
        {
            Some("scanned on demand and verified in the store")
        }
        _ => None,
    }
}

/// A patient identifier as a certificate for people shows it: the last four
/// characters, the rest masked.
pub fn masked(id: &str) -> String {
    let chars: Vec<char> = id.chars().filter(|c| !c.is_whitespace()).collect();
    let keep = chars.len().min(4);
    let hidden = chars.len() - keep;
    let tail: String = chars[hidden..].iter().collect();
    format!("{}{tail}", "•".repeat(hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due() -> PaperFacts {
        PaperFacts {
            batch_id: "b".into(),
            state: BatchState::DestructionDue,
            source: BatchSource::Archive,
            documents: 3,
            verified: 3,
            verified_at: Some("2026-10-01T00:00:00Z".into()),
            hold_until: Some("2026-11-30T00:00:00Z".into()),
            legal_holds: 0,
            open_flags: 0,
            paper_location: Some("BOX-0042".into()),
        }
    }

    const NOW: &str = "2026-12-07T10:00:00Z";

    #[test]
    fn a_due_batch_may_go_and_each_missing_condition_is_named() {
        assert_eq!(may_destroy(&due(), NOW), Ok(()));
        let cases: Vec<(PaperFacts, Refusal)> = vec![
            (
                PaperFacts {
                    state: BatchState::PaperHeld,
                    ..due()
                },
                Refusal::NotDue {
                    state: BatchState::PaperHeld,
                },
            ),
            (
                PaperFacts {
                    verified: 2,
                    ..due()
                },
                Refusal::NotVerified { unverified: 1 },
            ),
            (
                PaperFacts {
                    hold_until: Some("2026-12-08T00:00:00Z".into()),
                    ..due()
                },
                Refusal::HoldNotOver {
                    until: "2026-12-08T00:00:00Z".into(),
                },
            ),
            (
                PaperFacts {
                    legal_holds: 1,
                    ..due()
                },
                Refusal::LegalHold { holds: 1 },
            ),
            (
                PaperFacts {
                    open_flags: 2,
                    ..due()
                },
                Refusal::OpenFlags { flags: 2 },
            ),
            (
                PaperFacts {
                    paper_location: None,
                    ..due()
                },
                Refusal::NoPaperLocation,
            ),
        ];
        for (facts, refusal) in cases {
            assert_eq!(may_destroy(&facts, NOW), Err(vec![refusal]));
        }
        // An empty batch proves nothing.
        let empty = PaperFacts {
            documents: 0,
            verified: 0,
            ..due()
        };
        assert!(may_destroy(&empty, NOW).is_err());
    }

    #[test]
    fn the_paper_moves_held_then_due_and_a_legal_hold_holds_it_again() {
        let f = |state, verified, holds| PaperFacts {
            state,
            verified,
            legal_holds: holds,
            ..due()
        };
        use BatchState::*;
        assert_eq!(next_state(&f(Uploaded, 3, 0), NOW), Some(PaperHeld));
        assert_eq!(
            next_state(&f(Uploaded, 2, 0), NOW),
            None,
            "not all verified"
        );
        assert_eq!(next_state(&f(PaperHeld, 3, 0), NOW), Some(DestructionDue));
        assert_eq!(next_state(&f(PaperHeld, 3, 1), NOW), None, "legal hold");
        let early = "2026-11-01T00:00:00Z";
        assert_eq!(
            next_state(&f(PaperHeld, 3, 0), early),
            None,
            "date not passed"
        );
        assert_eq!(next_state(&f(DestructionDue, 3, 1), NOW), Some(PaperHeld));
        assert_eq!(next_state(&f(DestructionDue, 3, 0), NOW), None);
        assert_eq!(
            next_state(&f(Destroyed, 3, 1), NOW),
            None,
            "destroyed for good"
        );
    }

    #[test]
    fn destroyed_batches_and_old_verified_on_demand_ones_may_be_purged() {
        let cfg = RetentionConfig::default();
        let now = time::macros::datetime!(2026-12-07 10:00 UTC);
        let on_demand = PaperFacts {
            state: BatchState::PaperHeld,
            source: BatchSource::OnDemand,
            verified_at: Some("2026-11-20T09:00:00Z".into()),
            ..due()
        };
        assert!(may_purge(&on_demand, &cfg, now, true).is_some());
        assert!(
            may_purge(&on_demand, &cfg, now, false).is_none(),
            "not asked for"
        );
        let recent = PaperFacts {
            verified_at: Some("2026-12-01T09:00:00Z".into()),
            ..on_demand.clone()
        };
        assert!(
            may_purge(&recent, &cfg, now, true).is_none(),
            "14 days not passed"
        );
        let unverified = PaperFacts {
            verified: 2,
            ..on_demand.clone()
        };
        assert!(may_purge(&unverified, &cfg, now, true).is_none());
        let archive = PaperFacts {
            source: BatchSource::Archive,
            ..on_demand.clone()
        };
        assert!(
            may_purge(&archive, &cfg, now, true).is_none(),
            "held paper's scans stay"
        );
        let destroyed = PaperFacts {
            state: BatchState::Destroyed,
            ..archive
        };
        assert!(may_purge(&destroyed, &cfg, now, false).is_some());
    }

    #[test]
    fn hold_days_are_per_source_and_identifiers_are_masked() {
        let cfg = RetentionConfig {
            on_demand_days: 14,
            ..RetentionConfig::default()
        };
        let t = time::macros::datetime!(2026-12-01 09:00 UTC);
        assert_eq!(
            cfg.hold_until(BatchSource::OnDemand, t),
            time::macros::datetime!(2026-12-15 09:00 UTC)
        );
        assert_eq!(
            cfg.hold_until(BatchSource::Archive, t),
            time::macros::datetime!(2027-01-30 09:00 UTC)
        );
        assert_eq!(masked("943 476 5919"), "••••••5919");
        assert_eq!(masked("RX1"), "RX1");
        assert_eq!(
            checked_text("a reason", "  "),
            Err("a reason is required".into())
        );
        assert!(checked_text("a reason", "a\nb").is_err());
        assert_eq!(checked_text("a reason", " ok "), Ok("ok".into()));
        assert!(checked_text("a reason", &"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert!(
            checked_text("a reason", &"é".repeat(MAX_TEXT_CHARS)).is_ok(),
            "characters, not bytes"
        );
        assert!(checked_text("a reason", "RTL \u{202e}override").is_err());
        assert_eq!(crate::batch::bytes_words(999), "999 bytes");
        assert_eq!(crate::batch::bytes_words(34_900_000), "34.9 MB");
        assert_eq!(crate::batch::bytes_words(65_500_000_000), "65.5 GB");
    }
}
