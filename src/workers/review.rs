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
    /// Typed text that is no identifier: what was typed and what the site
    /// expects (its pattern, with an example when one can be made).
    #[error("{}", not_an_identifier(.text, .pattern))]
    NotAnIdentifier { text: String, pattern: String },
    #[error("NHS number {0} fails the check digit: check the folder and type it again")]
    BadCheckDigit(String),
    #[error("cannot turn the page: {0}")]
    Imaging(#[from] crate::imaging::ImagingError),
    #[error("the page was not rescanned: {0}. The stored page is unchanged")]
    Capture(#[from] CaptureError),
    #[error("batch {0} is {1}: only batches closed and not yet approved can be changed")]
    NotInReview(String, BatchState),
    #[error(transparent)]
    Sample(#[from] crate::store::SampleError),
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

/// Why typed text is refused, in words: the site's pattern (escaped, as it
/// comes from the configuration) and an example of it.
fn not_an_identifier(text: &str, pattern: &str) -> String {
    let shown = crate::batch::printable(text.trim(), 40);
    let example = crate::batch::identifiers::pattern_example(pattern)
        .map(|e| format!("e.g. {e} "))
        .unwrap_or_default();
    let pattern = crate::batch::printable(pattern, 80);
    let digits = text
        .trim()
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
    if digits {
        format!(
            "{shown} is not an NHS number (ten digits), nor a hospital number here: expected {example}(pattern {pattern})"
        )
    } else {
        format!("{shown} is not a hospital number here: expected {example}(pattern {pattern})")
    }
}

/// Approves a flagged page or record as it is; says so in words ("side 3
/// approved as it is: Page scanned crooked").
pub fn approve_flag(store: &mut Store, actor: &Actor, flag_id: i64) -> Result<String, ReviewError> {
    let (side, code) = store.flag_about(flag_id)?;
    store.resolve_flag(flag_id, "approved as it is", actor)?;
    let what = match side {
        Some(s) => format!("side {s}"),
        None => "record".into(),
    };
    Ok(format!("{what} approved as it is: {}", code.title()))
}

/// A page's turn from how it was scanned, in words for the status line.
pub fn turned_words(side: u32, net_degrees: u16) -> String {
    match net_degrees % 360 {
        0 => format!("side {side} turned back to as scanned"),
        90 => format!("side {side} now turned 90° right"),
        180 => format!("side {side} now turned upside down (180°)"),
        270 => format!("side {side} now turned 90° left"),
        d => format!("side {side} now turned {d}° right"),
    }
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
///
/// With `[identifiers] case_insensitive = true` a hospital number typed in
/// lower case is taken in upper case.
pub fn parse_identifier(cfg: &Config, text: &str) -> Result<PatientId, ReviewError> {
    let pattern = cfg.hospital_pattern()?;
    let found = PatientId::classify(text, &pattern).or_else(|| {
        cfg.identifiers
            .case_insensitive
            .then(|| PatientId::classify(&text.to_uppercase(), &pattern))
            .flatten()
    });
    match found {
        Some(PatientId::Nhs { number, .. }) if check_nhs_number(&number) != NhsCheck::Valid => {
            Err(ReviewError::BadCheckDigit(number))
        }
        Some(p) => Ok(p),
        None => Err(ReviewError::NotAnIdentifier {
            text: text.trim().to_string(),
            pattern: cfg.hospital_number_pattern.clone(),
        }),
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
/// Returns how far it is now turned from how it was scanned (0 to 270
/// degrees clockwise): right then left is 0, back as scanned.
pub fn rotate_page(
    store: &mut Store,
    actor: &Actor,
    batch: &str,
    side: u32,
    degrees: u16,
) -> Result<u16, ReviewError> {
    reviewable(store, batch)?;
    let before = store.page_turn(batch, side)?;
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
    Ok((before + degrees) % 360)
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

/// Draws a batch's sample for inspection (the station's `[sampling]` size).
pub fn draw_sample(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    batch: &str,
) -> Result<crate::store::Sample, ReviewError> {
    let b = reviewable(store, batch)?;
    let size = (cfg.sampling.percent, cfg.sampling.min_pages);
    Ok(store.draw_sample(&b.id, actor, size)?)
}

/// A sampled side's verdict: passed (`failure` None) or failed with the
/// reason. A failed sample sends its failing sides back for rescan, and the
/// batch is separated again so they show as flags.
pub fn sample_verdict(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    (batch, side): (&str, u32),
    failure: Option<&str>,
) -> Result<crate::store::Sample, ReviewError> {
    let b = reviewable(store, batch)?;
    let sample = store.record_verdict(&b.id, side, failure, actor)?;
    if matches!(
        sample.state(),
        crate::batch::sample::SampleState::Failed { .. }
    ) {
        separate_again(store, cfg, actor, &b.id)?;
    }
    Ok(sample)
}

/// Scans a page again from `device` and puts it in place of the stored one,
/// processed and checked like any scanned side; then separates the batch
/// again. A fault (jam, empty feeder) leaves the stored page as it was.
/// The new page belongs to the scanning session of `sitting` (the window's
/// sign-in and the profile), like a scan's sides.
pub fn rescan_page(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    (batch, side): (&str, u32),
    (device, settings): (&str, &ScanSettings),
    (sitting, cancel): ((Option<&str>, Option<&str>), Arc<AtomicBool>),
) -> Result<(), ReviewError> {
    let b = reviewable(store, batch)?;
    store.check_at_rest(cfg.require_encrypted_disk)?;
    if !store.committed_sides(&b.id)?.contains_key(&side) {
        return Err(StoreError::NotFound(format!("side {side} of batch {}", b.id)).into());
    }
    let raster = super::scan::capture_one(device, settings, b.duplex, side, cancel)?;
    let session = super::scan::session_of(store, actor, (device, settings), sitting)?;
    let meta = SideMeta::at(&b.id, side, b.duplex, format!("{device}#rescan"));
    let mut row = process_side(&meta, &raster, cfg, store.images())?;
    row.session = Some(session);
    store.replace_page(&row, actor)?;
    separate_again(store, cfg, actor, &b.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_identifier_shows_the_pattern_and_lower_case_is_taken_where_allowed() {
        let mut cfg = Config {
            hospital_number_pattern: "^[A-Z]{2}[0-9]{6}$".into(),
            ..Config::default()
        };
        let refused = parse_identifier(&cfg, "rx648221").unwrap_err().to_string();
        assert_eq!(
            refused,
            "rx648221 is not a hospital number here: expected e.g. AB123456 (pattern ^[A-Z]{2}[0-9]{6}$)"
        );
        cfg.identifiers.case_insensitive = true;
        assert_eq!(
            parse_identifier(&cfg, " rx648221 ").unwrap(),
            PatientId::Hospital {
                number: "RX648221".into()
            }
        );
        // A pattern from the configuration is shown escaped.
        cfg.hospital_number_pattern = "^X\u{1b}[0-9]$".into();
        let refused = parse_identifier(&cfg, "nope").unwrap_err().to_string();
        assert!(
            refused.contains("\\u{1b}") && !refused.contains('\u{1b}'),
            "{refused}"
        );
    }

    #[test]
    fn turns_are_said_as_the_net_turn_from_the_scan() {
        assert_eq!(turned_words(3, 0), "side 3 turned back to as scanned");
        assert_eq!(turned_words(3, 90), "side 3 now turned 90° right");
        assert_eq!(turned_words(3, 270), "side 3 now turned 90° left");
    }
}
