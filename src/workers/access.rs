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
/// policy applied: a sample is required where `[sampling] required` is on
/// and the station has accounts (without them nobody can be held to it).
pub fn approval_facts(
    store: &Store,
    cfg: &Config,
    batch: &str,
) -> Result<crate::batch::approval::ApprovalFacts, StoreError> {
    let mut facts = store.approval_facts(batch)?;
    if !(cfg.sampling.required && store.has_operators()?) {
        facts.sample = crate::batch::sample::SampleState::NotRequired;
    }
    Ok(facts)
}
