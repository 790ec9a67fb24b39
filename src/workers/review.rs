//! The supervisor's actions: approve a flagged page, restore a page removed as
//! blank, fix a record's identifier. Changes that affect separation (a restored
//! page, a new identifier) separate the batch again, so records, documents and
//! flags always follow from the pages and the supervisor's decisions. Runs on
//! the station worker's thread (or the caller's).

use super::pipeline::close_batch;
use crate::batch::{FlagCode, NhsCheck, PatientId, check_nhs_number};
use crate::config::{Config, ConfigError};
use crate::store::{Actor, Store, StoreError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("'{0}' is neither an NHS number (ten digits) nor a hospital number of this site")]
    NotAnIdentifier(String),
    #[error("NHS number {0} fails the check digit: check the folder and type it again")]
    BadCheckDigit(String),
    #[error("cannot turn the page: {0}")]
    Imaging(#[from] crate::imaging::ImagingError),
}

/// Approves a flagged page or record as it is.
pub fn approve_flag(store: &mut Store, actor: &Actor, flag_id: i64) -> Result<(), ReviewError> {
    store.resolve_flag(flag_id, "approved as it is", actor)?;
    Ok(())
}

fn separate_again(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    batch: &str,
) -> Result<(), ReviewError> {
    let specialty = store.find_batch(batch)?.specialty;
    close_batch::<ReviewError>(store, cfg, actor, batch, specialty.as_deref())?;
    Ok(())
}

/// Puts a page removed as blank back into its document.
pub fn restore_page(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    batch: &str,
    side: u32,
) -> Result<(), ReviewError> {
    store.restore_side(batch, side, actor)?;
    separate_again(store, cfg, actor, batch)?;
    // Separation notes the restoration as a flag; it is this very decision.
    let note = store
        .review_queue()?
        .into_iter()
        .find_map(|i| match i.kind {
            crate::store::ReviewKind::Flag { id, code, .. }
                if i.batch_id == batch
                    && i.side == Some(side)
                    && code == FlagCode::BlankRestored.as_str() =>
            {
                Some(id)
            }
            _ => None,
        });
    if let Some(id) = note {
        store.resolve_flag(id, "restored by the supervisor", actor)?;
    }
    Ok(())
}

/// Checks typed text as a patient identifier: a valid NHS number, or a
/// hospital number of this site.
pub fn parse_identifier(cfg: &Config, text: &str) -> Result<PatientId, ReviewError> {
    let pattern = cfg.hospital_pattern()?;
    match PatientId::classify(text, &pattern) {
        Some(PatientId::Nhs { number, .. }) if check_nhs_number(&number) != NhsCheck::Valid => {
            Err(ReviewError::BadCheckDigit(number))
        }
        Some(p) => Ok(p),
        None => Err(ReviewError::NotAnIdentifier(text.trim().to_string())),
    }
}

/// Sets a record's identifier (refusing one that fails its check) and
/// separates the batch again, so the record's flags follow from it.
pub fn fix_identifier(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    batch: &str,
    record_id: &str,
    text: &str,
) -> Result<PatientId, ReviewError> {
    let patient = parse_identifier(cfg, text)?;
    store.set_identifier_fix(batch, record_id, &patient, actor)?;
    separate_again(store, cfg, actor, batch)?;
    Ok(patient)
}

/// Turns a page clockwise by 90, 180 or 270 degrees (losslessly), with new
/// thumbnail and preview; its document's PDF is rebuilt when next needed.
pub fn rotate_page(
    store: &mut Store,
    actor: &Actor,
    batch: &str,
    side: u32,
    degrees: u16,
) -> Result<(), ReviewError> {
    let img = store.page_image(batch, side)?;
    let bytes = store.images().get(&img.sha256)?;
    let (out, page) = crate::imaging::encode::rotate_stored(
        &bytes,
        img.encoding,
        img.kind,
        (img.width, img.height, img.dpi),
        degrees,
    )?;
    let (thumb, preview) = super::process::renderings(&page)?;
    let turned = crate::store::StoredImage {
        sha256: store.images().put(&out)?,
        width: page.width,
        height: page.height,
        bytes: out.len() as u64,
        ..img
    };
    let thumb = store.images().put(&thumb)?;
    let preview = store.images().put(&preview)?;
    store.replace_page_image(
        batch,
        side,
        &turned,
        (&thumb, &preview),
        &format!("turned {degrees} degrees"),
        actor,
    )?;
    Ok(())
}
