//! May this person do this? One rule, decided here for the window, the CLI and
//! the station worker alike: operators scan, close and rescan; supervisors
//! also decide flagged pages, restore them, change identifiers, set counts and
//! approve (with overrides when they give a reason); admins also manage
//! accounts and settings. The four-eyes rule: whoever approves a batch did
//! not scan it.
//!
//! Pure: the caller knows who is signed in and who scanned the batch.

use std::fmt;

/// What a signed-in person is allowed to be at a station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Operator,
    Supervisor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Operator, Role::Supervisor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// "an operator", "a supervisor", "an admin".
    pub fn with_article(self) -> &'static str {
        match self {
            Role::Operator => "an operator",
            Role::Supervisor => "a supervisor",
            Role::Admin => "an admin",
        }
    }

    /// A role by its name, as stored and typed (`folio operators add --role`).
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text.trim())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` keeps widths ("{:<10}") for the accounts listing.
        f.pad(self.as_str())
    }
}

/// Everything at a station that changes data, as the rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Scan or import a batch, resume it, scan one record on demand.
    Scan,
    CloseBatch,
    /// Mark a page for rescan, or rescan it in place.
    Rescan,
    /// Approve a flag, turn, remove or move a page.
    DecidePage,
    RestorePage,
    FixIdentifier,
    /// Say which patient an on-demand record belongs to.
    ChoosePatient,
    SetExpectedSheets,
    ApproveBatch,
    /// Approve although flags are open or the count differs (with a reason).
    OverrideApproval,
    /// Draw a batch's sample and give each sampled side its verdict.
    InspectSample,
    /// Write a batch's PDFs and manifest to a folder (patient data leaves
    /// the station).
    Export,
    /// Queue a stopped upload again, pause or resume uploads.
    ManageUploads,
    ChangeSettings,
    ManageOperators,
    /// Record where a batch's paper is (a box or trolley label).
    RecordPaperLocation,
    /// Place or lift a legal hold on a batch or a record.
    LegalHold,
    /// Authorise the destruction of paper and sign its certificate.
    CertifyDestruction,
    /// Witness a destruction (the second person of the four eyes).
    WitnessDestruction,
    /// Purge page images of destroyed batches from the cache.
    PurgeCache,
    /// Ask for a batch's searchable text (OCR).
    RequestText,
}

impl Action {
    /// The least role that may do it.
    pub fn needs(self) -> Role {
        match self {
            Action::Scan
            | Action::CloseBatch
            | Action::Rescan
            | Action::Export
            | Action::RecordPaperLocation
            | Action::WitnessDestruction
            | Action::RequestText => Role::Operator,
            Action::DecidePage
            | Action::RestorePage
            | Action::FixIdentifier
            | Action::ChoosePatient
            | Action::SetExpectedSheets
            | Action::ApproveBatch
            | Action::OverrideApproval
            | Action::InspectSample
            | Action::ManageUploads
            | Action::LegalHold
            | Action::CertifyDestruction
            | Action::PurgeCache => Role::Supervisor,
            Action::ChangeSettings | Action::ManageOperators => Role::Admin,
        }
    }

    /// What it is, in words for a refusal.
    pub fn words(self) -> &'static str {
        match self {
            Action::Scan => "scan",
            Action::CloseBatch => "close a batch",
            Action::Rescan => "rescan a page",
            Action::DecidePage => "decide a flagged page",
            Action::RestorePage => "restore a page",
            Action::FixIdentifier => "change a record's identifier",
            Action::ChoosePatient => "say whose record it is",
            Action::SetExpectedSheets => "set the sheets counted",
            Action::ApproveBatch => "approve a batch",
            Action::OverrideApproval => "approve a batch as it is",
            Action::InspectSample => "inspect a batch's sample",
            Action::Export => "export a batch",
            Action::ManageUploads => "manage uploads",
            Action::ChangeSettings => "change the settings",
            Action::ManageOperators => "manage operator accounts",
            Action::RecordPaperLocation => "record where paper is",
            Action::LegalHold => "place or lift a legal hold",
            Action::CertifyDestruction => "authorise the destruction of paper",
            Action::WitnessDestruction => "witness the destruction of paper",
            Action::PurgeCache => "purge page images from the cache",
            Action::RequestText => "ask for a batch's text (OCR)",
        }
    }
}

/// Why someone may not do something, in words that say who may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The role is not enough for the action.
    Role { role: Role, action: Action },
    /// The approver scanned (part of) the batch.
    FourEyes { operator: String },
    /// The station has accounts and nobody is signed in.
    SignInNeeded,
    /// The action needs named people and the station has no accounts.
    AccountsNeeded { action: Action },
    /// The witness of a destruction is the person who authorises it.
    SameWitness { operator: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Role { role, action } => write!(
                f,
                "{} may not {}: ask {}",
                role.with_article(),
                action.words(),
                action.needs().with_article()
            ),
            Refusal::FourEyes { operator } => write!(
                f,
                "{} scanned this batch, so another supervisor must check and approve it (four-eyes rule)",
                super::printable(operator, 64)
            ),
            Refusal::AccountsNeeded { action } => write!(
                f,
                "only named people may {}: this station has no operator accounts; an admin sets them up with `folio operators init`",
                action.words()
            ),
            Refusal::SameWitness { operator } => write!(
                f,
                "{} cannot witness their own authorisation: a second person signs as witness (four eyes)",
                super::printable(operator, 64)
            ),
            Refusal::SignInNeeded => write!(
                f,
                "sign in first: this station has operator accounts, so every change is made by \
                 someone signed in (in the window, or `--operator ID` with the PIN)"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// May `role` do `action`? Each role may do what the roles below it may.
pub fn may(role: Role, action: Action) -> Result<(), Refusal> {
    if role >= action.needs() {
        Ok(())
    } else {
        Err(Refusal::Role { role, action })
    }
}

/// May whoever acts do `action`? `role` is theirs when signed in, `None`
/// when nobody is; `accounts` says whether the station has accounts (one
/// without any is a demo or trial station where anyone may do anything, and
/// nothing is attributed to a signed-in person).
pub fn permit(role: Option<Role>, action: Action, accounts: bool) -> Result<(), Refusal> {
    match role {
        Some(role) => may(role, action),
        None if accounts => Err(Refusal::SignInNeeded),
        // Destroying paper is never anonymous: it needs two named people.
        None if needs_accounts(action) => Err(Refusal::AccountsNeeded { action }),
        None => Ok(()),
    }
}

/// Actions that only people with accounts may do, even at a station
/// without any: the paper's destruction is signed by two named people.
pub fn needs_accounts(action: Action) -> bool {
    matches!(
        action,
        Action::CertifyDestruction | Action::WitnessDestruction
    )
}

/// Whether the four-eyes rule applies to the action: approving a batch and
/// inspecting its sample are the check on whoever scanned it.
pub fn needs_other_eyes(action: Action) -> bool {
    matches!(
        action,
        Action::ApproveBatch | Action::OverrideApproval | Action::InspectSample
    )
}

/// May `approver` approve a batch scanned by `scanned_by` (everyone who
/// stored a side of it)? Not if they scanned any of it, when the four-eyes
/// rule is on.
pub fn may_approve(
    approver: &str,
    role: Role,
    scanned_by: &[&str],
    four_eyes: bool,
) -> Result<(), Refusal> {
    may(role, Action::ApproveBatch)?;
    match scanned_by.iter().find(|o| o.trim() == approver.trim()) {
        Some(o) if four_eyes => Err(Refusal::FourEyes {
            operator: (*o).to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_do_what_the_roles_below_it_may() {
        for action in [Action::Scan, Action::CloseBatch, Action::Rescan] {
            for role in Role::ALL {
                assert_eq!(may(role, action), Ok(()), "{role} {action:?}");
            }
        }
        for action in [
            Action::DecidePage,
            Action::RestorePage,
            Action::FixIdentifier,
            Action::ApproveBatch,
            Action::OverrideApproval,
        ] {
            assert!(may(Role::Operator, action).is_err(), "{action:?}");
            assert_eq!(may(Role::Supervisor, action), Ok(()));
            assert_eq!(may(Role::Admin, action), Ok(()));
        }
        for action in [Action::ChangeSettings, Action::ManageOperators] {
            assert!(may(Role::Operator, action).is_err());
            assert!(may(Role::Supervisor, action).is_err());
            assert_eq!(may(Role::Admin, action), Ok(()));
        }
    }

    #[test]
    fn a_refusal_says_who_may() {
        let e = may(Role::Operator, Action::ApproveBatch).unwrap_err();
        assert_eq!(
            e.to_string(),
            "an operator may not approve a batch: ask a supervisor"
        );
        let e = may(Role::Supervisor, Action::ManageOperators).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a supervisor may not manage operator accounts: ask an admin"
        );
    }

    #[test]
    fn the_four_eyes_rule_refuses_whoever_scanned_the_batch() {
        let scanned = ["j.smith", "a.khan"];
        assert!(may_approve("m.jones", Role::Supervisor, &scanned, true).is_ok());
        let e = may_approve("a.khan", Role::Supervisor, &scanned, true).unwrap_err();
        assert!(matches!(&e, Refusal::FourEyes { operator } if operator == "a.khan"));
        assert!(e.to_string().contains("another supervisor"), "{e}");
        // Off: a one-person station approves its own scans.
        assert!(may_approve("a.khan", Role::Supervisor, &scanned, false).is_ok());
        // The role still counts, whatever the rule.
        assert!(may_approve("m.jones", Role::Operator, &scanned, false).is_err());
        // A name from outside is printed safely.
        let e = may_approve("x\u{1b}[2J", Role::Admin, &["x\u{1b}[2J"], true).unwrap_err();
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
    }

    #[test]
    fn nobody_signed_in_may_act_only_where_there_are_no_accounts() {
        assert_eq!(permit(None, Action::ApproveBatch, false), Ok(()));
        assert_eq!(permit(None, Action::Scan, true), Err(Refusal::SignInNeeded));
        assert!(permit(Some(Role::Operator), Action::ApproveBatch, true).is_err());
        assert!(permit(Some(Role::Operator), Action::Scan, true).is_ok());
        assert!(needs_other_eyes(Action::InspectSample));
        assert!(!needs_other_eyes(Action::Rescan));
        assert!(
            Refusal::SignInNeeded
                .to_string()
                .starts_with("sign in first"),
            "{}",
            Refusal::SignInNeeded
        );
    }

    #[test]
    fn roles_are_read_by_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse(" supervisor "), Some(Role::Supervisor));
        assert_eq!(Role::parse("Supervisor"), None);
        assert_eq!(Role::parse(""), None);
        assert_eq!(format!("[{:<10}]", Role::Admin), "[admin     ]");
    }
}
