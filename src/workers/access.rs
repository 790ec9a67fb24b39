//! The gate every data-changing command passes, from the window's workers and
//! the command line alike: [`crate::batch::roles`] decides, this module only
//! gathers what the rule needs from the store (whether the station has
//! accounts, who scanned the batch).

use crate::batch::roles::{self, Action, Refusal};
use crate::config::Config;
use crate::store::{Actor, Store, StoreError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AccessError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// May `actor` do `action` (on `batch`, an id or prefix, when it is about
/// one)? The four-eyes rule ([`roles::needs_other_eyes`]) is applied against
/// everyone who scanned the batch when `[accounts] four_eyes` is on.
pub fn permit(
    store: &Store,
    cfg: &Config,
    actor: &Actor,
    action: Action,
    batch: Option<&str>,
) -> Result<(), AccessError> {
    roles::permit(actor.role, action, store.has_operators()?)?;
    if let (Some(role), Some(batch), true) = (actor.role, batch, roles::needs_other_eyes(action)) {
        let id = store.find_batch(batch)?.id;
        let scanners = store.batch_scanners(&id)?;
        let scanners: Vec<&str> = scanners.iter().map(String::as_str).collect();
        roles::may_approve(&actor.operator, role, &scanners, cfg.accounts.four_eyes)?;
    }
    Ok(())
}

/// What the approval rule knows of a batch, with this station's sampling
/// and session-target policies applied: a sample is required where
/// `[sampling] required` is on and the station has accounts (without them
/// nobody can be held to it); sessions without a passing target count where
/// [`targets_required`] and `[session_target] block_approval`.
pub fn approval_facts(
    store: &Store,
    cfg: &Config,
    batch: &str,
) -> Result<crate::batch::approval::ApprovalFacts, StoreError> {
    let mut facts = store.approval_facts(batch)?;
    if !(cfg.sampling.required && store.has_operators()?) {
        facts.sample = crate::batch::sample::SampleState::NotRequired;
    }
    if cfg.session_target.block_approval && targets_required(store, cfg)? {
        let sessions = store.batch_sessions(&facts.batch_id)?;
        facts.unproven_sessions = sessions.iter().filter(|s| !s.proven()).count() as u32;
    }
    Ok(facts)
}

/// Whether sides must come from a session with a passing test target:
/// `[session_target] required`, at a station with accounts (a demo or trial
/// station never asks).
pub fn targets_required(store: &Store, cfg: &Config) -> Result<bool, StoreError> {
    Ok(cfg.session_target.required && store.has_operators()?)
}
