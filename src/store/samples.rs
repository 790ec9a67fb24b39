//! Sampling QA in the cache: each draw of a batch's sample (its seed and
//! sides) and each sampled side's verdict, audited. What a sample's size,
//! sides and outcome are is decided in [`crate::batch::sample`].

use super::{Actor, Store, StoreError, audit};
use crate::batch::sample::{self, SampleState, Verdict};
use rusqlite::{OptionalExtension, Transaction, params};

/// Longest reason kept for a failed side.
pub const MAX_SAMPLE_REASON_CHARS: usize = 200;

/// A batch's latest draw, with its verdicts so far.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sample {
    pub batch_id: String,
    pub draw: u32,
    pub seed: u64,
    /// The sampled sides, in the order they are inspected.
    pub sides: Vec<u32>,
    pub drawn_by: String,
    pub drawn_at: String,
    pub verdicts: Vec<Verdict>,
}

impl Sample {
    pub fn state(&self) -> SampleState {
        SampleState::of(self.draw, &self.sides, &self.verdicts)
    }

    /// The next side without a verdict, if any.
    pub fn next_side(&self) -> Option<u32> {
        self.sides
            .iter()
            .copied()
            .find(|s| !self.verdicts.iter().any(|v| v.side == *s))
    }
}

/// Why a draw or a verdict is refused.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("batch {0} has its {1}: a new sample is drawn only when none is open or passed")]
    CannotDraw(String, String),
    #[error("batch {0} has no pages to sample")]
    NothingToSample(String),
    #[error("batch {0} has no sample open: draw one first")]
    NoOpenSample(String),
    #[error("side {side} is not in batch {batch}'s sample")]
    NotSampled { batch: String, side: u32 },
    #[error("side {side} of batch {batch} has its verdict already")]
    AlreadyJudged { batch: String, side: u32 },
    #[error("say why side {0} fails (what is wrong with the image)")]
    ReasonMissing(u32),
}

impl From<rusqlite::Error> for SampleError {
    fn from(e: rusqlite::Error) -> Self {
        SampleError::Store(StoreError::Sqlite(e))
    }
}

fn latest(tx: &rusqlite::Connection, batch_id: &str) -> Result<Option<Sample>, StoreError> {
    let row: Option<(u32, i64, String, String, String)> = tx
        .query_row(
            "SELECT draw, seed, sides, drawn_by, drawn_at FROM samples
             WHERE batch_id = ?1 ORDER BY draw DESC LIMIT 1",
            [batch_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((draw, seed, sides, drawn_by, drawn_at)) = row else {
        return Ok(None);
    };
    let sides: Vec<u32> = serde_json::from_str(&sides)
        .map_err(|e| StoreError::Damaged(format!("sample {draw} of batch {batch_id}: {e}")))?;
    let mut stmt = tx.prepare(
        "SELECT side, passed, reason, operator, at FROM sample_verdicts
         WHERE batch_id = ?1 AND draw = ?2 ORDER BY at, side",
    )?;
    let verdicts = stmt
        .query_map(params![batch_id, draw], |r| {
            Ok(Verdict {
                side: r.get(0)?,
                passed: r.get(1)?,
                reason: r.get(2)?,
                operator: r.get(3)?,
                at: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(Sample {
        batch_id: batch_id.to_string(),
        draw,
        // Stored as SQLite's signed integer, bit for bit.
        seed: seed as u64,
        sides,
        drawn_by,
        drawn_at,
        verdicts,
    }))
}

fn state_of(s: Option<&Sample>) -> SampleState {
    s.map_or(SampleState::NotDrawn, Sample::state)
}

impl Store {
    /// A batch's latest sample (`None`: never drawn).
    pub fn sample(&self, batch: &str) -> Result<Option<Sample>, StoreError> {
        let id = self.find_batch(batch)?.id;
        latest(&self.conn, &id)
    }

    /// Where a batch's sampling stands (not asking whether the station
    /// requires it: see [`crate::workers::access`]'s caller).
    pub fn sample_state(&self, batch_id: &str) -> Result<SampleState, StoreError> {
        Ok(state_of(latest(&self.conn, batch_id)?.as_ref()))
    }

    /// Draws a new sample of the pages the batch would send: `percent` of
    /// them, at least `min_pages`, with a fresh random seed (kept, so the
    /// same sides can be drawn again). Refused over an open or passed one.
    pub fn draw_sample(
        &mut self,
        batch: &str,
        actor: &Actor,
        (percent, min_pages): (f32, u32),
    ) -> Result<Sample, SampleError> {
        let id = self.find_batch(batch)?.id;
        let tx = self.conn.transaction()?;
        let last = latest(&tx, &id)?;
        let state = state_of(last.as_ref());
        if !state.may_draw() {
            return Err(SampleError::CannotDraw(id, state.words()));
        }
        let candidates: Vec<u32> = {
            let mut stmt = tx.prepare(
                "SELECT DISTINCT side FROM document_pages WHERE batch_id = ?1 ORDER BY side",
            )?;
            stmt.query_map([&id], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let n = sample::size(candidates.len() as u32, percent, min_pages);
        if n == 0 {
            return Err(SampleError::NothingToSample(id));
        }
        let seed = fresh_seed();
        let sides = sample::draw(seed, &candidates, n);
        let draw = last.map_or(1, |s| s.draw + 1);
        let at = crate::now_rfc3339();
        let listed = serde_json::to_string(&sides)
            .map_err(|e| StoreError::Damaged(format!("sample sides: {e}")))?;
        tx.execute(
            "INSERT INTO samples (batch_id, draw, seed, sides, drawn_by, drawn_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            // The seed is kept bit for bit in SQLite's signed integer.
            params![id, draw, seed as i64, listed, actor.operator, at],
        )?;
        let detail = format!(
            "draw {draw}: {n} of {} pages ({percent}%, at least {min_pages}), seed {seed}, sides {listed}",
            candidates.len()
        );
        audit::append(&tx, actor, "sample.draw", &id, &detail)?;
        tx.commit()?;
        Ok(latest(&self.conn, &id)?.ok_or(StoreError::NotFound(format!("sample of {id}")))?)
    }

    /// A sampled side's verdict. When it completes a failed sample, the
    /// failing sides are marked for rescan in the same transaction (with
    /// the reasons given), so the batch goes back for them.
    pub fn record_verdict(
        &mut self,
        batch: &str,
        side: u32,
        failure: Option<&str>,
        actor: &Actor,
    ) -> Result<Sample, SampleError> {
        let id = self.find_batch(batch)?.id;
        let reason = match failure {
            Some(r) => {
                let r = clean(r);
                if r.is_empty() {
                    return Err(SampleError::ReasonMissing(side));
                }
                Some(r)
            }
            None => None,
        };
        let tx = self.conn.transaction()?;
        let s = latest(&tx, &id)?.ok_or_else(|| SampleError::NoOpenSample(id.clone()))?;
        if !matches!(s.state(), SampleState::Open { .. }) {
            return Err(SampleError::NoOpenSample(id));
        }
        if !s.sides.contains(&side) {
            return Err(SampleError::NotSampled { batch: id, side });
        }
        if s.verdicts.iter().any(|v| v.side == side) {
            return Err(SampleError::AlreadyJudged { batch: id, side });
        }
        tx.execute(
            "INSERT INTO sample_verdicts (batch_id, draw, side, passed, reason, operator, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                s.draw,
                side,
                reason.is_none(),
                reason.clone().unwrap_or_default(),
                actor.operator,
                crate::now_rfc3339()
            ],
        )?;
        let detail = match &reason {
            None => format!("draw {}: side {side} passed", s.draw),
            Some(r) => format!("draw {}: side {side} failed: {r}", s.draw),
        };
        let action = if reason.is_some() {
            "sample.fail"
        } else {
            "sample.pass"
        };
        audit::append(&tx, actor, action, &id, &detail)?;
        let now = latest(&tx, &id)?.ok_or(StoreError::NotFound(format!("sample of {id}")))?;
        if let SampleState::Failed { .. } = now.state() {
            send_back(&tx, &now, actor)?;
        }
        tx.commit()?;
        Ok(now)
    }
}

/// Marks every failing side of a finished sample for rescan.
fn send_back(tx: &Transaction<'_>, s: &Sample, actor: &Actor) -> Result<(), StoreError> {
    for v in s.verdicts.iter().filter(|v| !v.passed) {
        let why = format!("sample {} failed: {}", s.draw, v.reason);
        tx.execute(
            "UPDATE pages SET rescan = ?3 WHERE batch_id = ?1 AND side = ?2",
            params![s.batch_id, v.side, why],
        )?;
        audit::append(
            tx,
            actor,
            "page.mark_rescan",
            &s.batch_id,
            &format!("side {}: {why}", v.side),
        )?;
    }
    Ok(())
}

/// A reason as typed: control characters as spaces, trimmed, cut short.
fn clean(reason: &str) -> String {
    let r: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    r.trim().chars().take(MAX_SAMPLE_REASON_CHARS).collect()
}

/// A random seed from the operating system (the time as a last resort:
/// a seed need not be secret, only not chosen by the person sampling).
fn fresh_seed() -> u64 {
    use password_hash::rand_core::RngCore;
    let mut bytes = [0u8; 8];
    match password_hash::rand_core::OsRng.try_fill_bytes(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    }
}
