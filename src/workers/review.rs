//! The supervisor's actions: approve a flagged page, turn it, restore a page
//! that was removed, remove one, mark it for rescan, move it to another
//! document, rescan it in place, fix a record's identifier. Changes that affect
//! separation separate the batch again, so records, documents and flags always
//! follow from the pages and the supervisor's decisions. Only batches closed
//! and not yet approved can change. Runs on the station worker's thread (or
//! the caller's).

use super::pipeline::close_batch;
use super::process::{SideMeta, process_side};
use crate::batch::{BatchState, FlagCode, NhsCheck, PatientId, check_nhs_number, rules};
use crate::capture::{CaptureError, ScanSettings};
use crate::config::{Config, ConfigError};
use crate::store::{Actor, BatchRow, PageDecision, Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
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
    #[error("the page was not rescanned: {0}. The stored page is unchanged")]
    Capture(#[from] CaptureError),
    #[error("batch {0} is {1}: only batches closed and not yet approved can be changed")]
    NotInReview(String, BatchState),
}

/// The batch, if it can still be changed (closed or in review).
fn reviewable(store: &Store, batch: &str) -> Result<BatchRow, ReviewError> {
    let b = store.find_batch(batch)?;
    if rules::may_review(b.state) {
        Ok(b)
    } else {
        Err(ReviewError::NotInReview(b.id, b.state))
    }
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
    reviewable(store, batch)?;
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
                    && code == FlagCode::BlankRestored =>
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
    reviewable(store, batch)?;
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
    reviewable(store, batch)?;
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

/// Keeps a decision about a page (remove it, mark it for rescan, move it to
/// another document) and separates the batch again.
pub fn decide_page(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    batch: &str,
    side: u32,
    decision: &PageDecision,
) -> Result<(), ReviewError> {
    reviewable(store, batch)?;
    store.decide_page(batch, side, decision, actor)?;
    separate_again(store, cfg, actor, batch)
}

/// Scans a page again from `device` and puts it in place of the stored one,
/// processed and checked like any scanned side; then separates the batch
/// again. A fault (jam, empty feeder) leaves the stored page as it was.
pub fn rescan_page(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    (batch, side): (&str, u32),
    (device, settings): (&str, &ScanSettings),
    cancel: Arc<AtomicBool>,
) -> Result<(), ReviewError> {
    let b = reviewable(store, batch)?;
    if !store.committed_sides(&b.id)?.contains_key(&side) {
        return Err(StoreError::NotFound(format!("side {side} of batch {}", b.id)).into());
    }
    let raster = super::scan::capture_one(device, settings, b.duplex, side, cancel)?;
    let meta = SideMeta::at(&b.id, side, b.duplex, format!("{device}#rescan"));
    let row = process_side(&meta, &raster, cfg, store.images())?;
    store.replace_page(&row, actor)?;
    separate_again(store, cfg, actor, &b.id)
}
