//! The supervisor's review: the queue of open flags and removed blank pages
//! across closed batches, resolving flags, restoring pages, identifier fixes
//! and the patient of on-demand batches. Every change is audited.

use super::batches::{IMAGE_COLS, stored_image};
use super::{Actor, Store, StoreError, audit};
use crate::batch::{
    BatchState, FlagCode, MoveTarget, PageDecision, PatientId, RemovedReason, rules,
};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use std::collections::HashMap;

/// What a review item asks a person to look at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ReviewKind {
    /// An open flag (its row id, code and words).
    Flag {
        id: i64,
        code: FlagCode,
        detail: String,
    },
    /// A side taken out of the output (as blank, or by a supervisor): a
    /// person may put it back.
    Removed { reason: RemovedReason },
    /// A side, when a supervisor goes through a whole batch: a page of a
    /// document, or (with no record) one that could not be read.
    Page,
}

/// An on-demand record whose record sheet names another patient than the one
/// typed when it was scanned: a person must say which patient it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientMismatch {
    pub batch_id: String,
    pub record_id: String,
    /// The open `misfiled_identifier` flag that says so.
    pub flag_id: i64,
    /// The number on the record sheet, as stored (not yet checked here).
    pub paper: String,
    /// The patient typed for the batch.
    pub typed: PatientId,
}

/// A document a page can be moved to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocChoice {
    pub id: String,
    pub record_id: String,
    /// "record 2 · NHS 9434765919 · letters · 3 pages"
    pub words: String,
}

/// One entry of the review queue: a side with its open flags (the first in
/// `kind`, the others in `more_flags`), a record's flag, or a side taken out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewItem {
    pub kind: ReviewKind,
    /// The side's other open flags (each a [`ReviewKind::Flag`]), decided
    /// with the first: one decision per side.
    pub more_flags: Vec<ReviewKind>,
    /// The barcodes read on the side, as stored (patients' labels among
    /// them, e.g. to offer a record for the label's patient).
    pub barcodes: Vec<String>,
    pub batch_id: String,
    pub batch_label: String,
    pub record_id: Option<String>,
    /// The record's identifier, in words, when it has one.
    pub patient: Option<String>,
    pub side: Option<u32>,
    pub preview_sha256: Option<String>,
    pub thumb_sha256: Option<String>,
    /// Thumbnails of the sides around it, for context: (side, SHA-256).
    pub neighbours: Vec<(u32, String)>,
    /// The page as stored, for looking closely.
    pub image: Option<super::StoredImage>,
}

/// The image columns of the pages table under alias `t`.
fn image_cols(t: &str) -> String {
    IMAGE_COLS
        .split(", ")
        .map(|c| format!("{t}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `b.state IN (...)`: the batches a supervisor may still change
/// ([`rules::may_review`]).
fn in_review(b: &str) -> String {
    format!(
        "{b}.state IN ({})",
        super::sql_names(rules::states_where(rules::may_review), BatchState::as_str)
    )
}

impl ReviewItem {
    /// Every open flag of the item (id, code), its own first.
    pub fn flags(&self) -> Vec<(i64, FlagCode)> {
        std::iter::once(&self.kind)
            .chain(&self.more_flags)
            .filter_map(|k| match k {
                ReviewKind::Flag { id, code, .. } => Some((*id, *code)),
                _ => None,
            })
            .collect()
    }

    /// The patients' labels among the side's barcodes, each once.
    pub fn labels(&self, hospital_pattern: &regex::Regex) -> Vec<PatientId> {
        let mut out: Vec<PatientId> = Vec::new();
        for b in &self.barcodes {
            if let crate::batch::SheetCode::Identifier(p) =
                crate::batch::parse_barcode(b, hospital_pattern)
                && !out.contains(&p)
            {
                out.push(p);
            }
        }
        out
    }
}

/// The side's barcodes from their stored JSON (none if it cannot be read).
fn barcodes(json: Option<String>) -> Vec<String> {
    json.and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

/// Puts the flags of one side (consecutive in the queue) into one item.
fn group_sides(items: Vec<ReviewItem>) -> Vec<ReviewItem> {
    let mut out: Vec<ReviewItem> = Vec::with_capacity(items.len());
    for item in items {
        if let Some(last) = out.last_mut()
            && matches!(item.kind, ReviewKind::Flag { .. })
            && matches!(last.kind, ReviewKind::Flag { .. })
            && item.side.is_some()
            && last.side == item.side
            && last.batch_id == item.batch_id
        {
            last.more_flags.push(item.kind);
            continue;
        }
        out.push(item);
    }
    out
}

fn patient_words(nhs: Option<String>, hosp: Option<String>) -> Option<String> {
    nhs.map(|n| format!("NHS {n}"))
        .or(hosp.map(|h| format!("hospital {h}")))
}

impl Store {
    /// Open flags (those of one side in one item), then removed blank
    /// pages, of batches closed and not yet approved; oldest batch first.
    pub fn review_queue(&self) -> Result<Vec<ReviewItem>, StoreError> {
        let mut stmt = self.conn.prepare(
            &format!("SELECT f.id, f.code, f.detail, f.batch_id, b.label, f.record_id, r.nhs_number, r.hospital_number,
                    f.side, p.preview_sha256, p.thumb_sha256, p.barcodes, {}
             FROM flags f JOIN batches b ON b.id = f.batch_id
             LEFT JOIN records r ON r.id = f.record_id
             LEFT JOIN pages p ON p.batch_id = f.batch_id AND p.side = f.side
             WHERE f.resolved_at IS NULL AND {}
             ORDER BY b.created, f.batch_id, f.side, f.id", image_cols("p"), in_review("b")),
        )?;
        let items: Vec<ReviewItem> = stmt
            .query_map([], |r| {
                Ok(ReviewItem {
                    kind: ReviewKind::Flag {
                        id: r.get(0)?,
                        code: super::parsed(r, 1, "flag code", FlagCode::parse)?,
                        detail: r.get(2)?,
                    },
                    more_flags: Vec::new(),
                    barcodes: barcodes(r.get(11)?),
                    batch_id: r.get(3)?,
                    batch_label: r.get(4)?,
                    record_id: r.get(5)?,
                    patient: patient_words(r.get(6)?, r.get(7)?),
                    side: r.get(8)?,
                    preview_sha256: r.get(9)?,
                    thumb_sha256: r.get(10)?,
                    neighbours: Vec::new(),
                    image: stored_image(r, 12)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut items = group_sides(items);
        let mut stmt = self.conn.prepare(&format!(
            "SELECT x.batch_id, b.label, x.side, p.preview_sha256, p.thumb_sha256, x.reason, p.barcodes, {}
             FROM removed x JOIN batches b ON b.id = x.batch_id
             JOIN pages p ON p.batch_id = x.batch_id AND p.side = x.side
             WHERE x.reason IN ({}) AND {}
             ORDER BY b.created, x.side",
            image_cols("p"),
            super::sql_names(
                [RemovedReason::Blank, RemovedReason::RemovedBySupervisor],
                RemovedReason::as_str
            ),
            in_review("b")
        ))?;
        let blanks = stmt.query_map([], |r| {
            Ok(ReviewItem {
                kind: ReviewKind::Removed {
                    reason: super::parsed(r, 5, "removal reason", RemovedReason::parse)?,
                },
                more_flags: Vec::new(),
                barcodes: barcodes(r.get(6)?),
                batch_id: r.get(0)?,
                batch_label: r.get(1)?,
                record_id: None,
                patient: None,
                side: r.get(2)?,
                preview_sha256: r.get(3)?,
                thumb_sha256: r.get(4)?,
                neighbours: Vec::new(),
                image: stored_image(r, 7)?,
            })
        })?;
        for b in blanks {
            items.push(b?);
        }
        self.add_neighbours(&mut items)?;
        Ok(items)
    }

    /// Every side of a batch in feed order, for going through it page by page:
    /// pages of documents, sides taken out, sides that could not be read.
    pub fn batch_pages(&self, batch_id: &str) -> Result<Vec<ReviewItem>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT p.side, b.label, d.record_id, r.nhs_number, r.hospital_number, x.reason,
                    p.preview_sha256, p.thumb_sha256, p.barcodes, {}
             FROM pages p JOIN batches b ON b.id = p.batch_id
             LEFT JOIN document_pages dp ON dp.batch_id = p.batch_id AND dp.side = p.side
             LEFT JOIN documents d ON d.id = dp.document_id
             LEFT JOIN records r ON r.id = d.record_id
             LEFT JOIN removed x ON x.batch_id = p.batch_id AND x.side = p.side
             WHERE p.batch_id = ?1 ORDER BY p.side",
            image_cols("p")
        ))?;
        let mut items: Vec<ReviewItem> = stmt
            .query_map([batch_id], |r| {
                let reason: Option<String> = r.get(5)?;
                Ok(ReviewItem {
                    kind: match reason {
                        Some(_) => ReviewKind::Removed {
                            reason: super::parsed(r, 5, "removal reason", RemovedReason::parse)?,
                        },
                        None => ReviewKind::Page,
                    },
                    more_flags: Vec::new(),
                    barcodes: barcodes(r.get(8)?),
                    batch_id: batch_id.to_string(),
                    batch_label: r.get(1)?,
                    side: r.get(0)?,
                    record_id: r.get(2)?,
                    patient: patient_words(r.get(3)?, r.get(4)?),
                    preview_sha256: r.get(6)?,
                    thumb_sha256: r.get(7)?,
                    neighbours: Vec::new(),
                    image: stored_image(r, 9)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        self.add_neighbours(&mut items)?;
        Ok(items)
    }

    /// Fills in the thumbnails of the two sides either side of each item,
    /// reading each batch's thumbnails once.
    fn add_neighbours(&self, items: &mut [ReviewItem]) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT side, thumb_sha256 FROM pages WHERE batch_id = ?1 AND thumb_sha256 IS NOT NULL ORDER BY side",
        )?;
        let mut thumbs: HashMap<String, Vec<(u32, String)>> = HashMap::new();
        for item in items {
            let Some(side) = item.side else { continue };
            if !thumbs.contains_key(&item.batch_id) {
                let rows = stmt
                    .query_map([&item.batch_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                thumbs.insert(item.batch_id.clone(), rows);
            }
            let all = &thumbs[&item.batch_id];
            let from = all.partition_point(|(s, _)| *s + 2 < side);
            let to = all.partition_point(|(s, _)| *s <= side + 2);
            item.neighbours = all[from..to]
                .iter()
                .filter(|(s, _)| *s != side)
                .cloned()
                .collect();
        }
        Ok(())
    }

    /// The documents of a batch, for moving a page into one.
    pub fn document_choices(&self, batch_id: &str) -> Result<Vec<DocChoice>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT d.id, d.record_id, d.doc_type, r.ordinal, r.nhs_number, r.hospital_number,
                    (SELECT COUNT(*) FROM document_pages dp WHERE dp.document_id = d.id)
             FROM documents d JOIN records r ON r.id = d.record_id
             WHERE d.batch_id = ?1 ORDER BY r.ordinal, d.ordinal",
        )?;
        let rows = stmt.query_map([batch_id], |r| {
            let ordinal: u32 = r.get(3)?;
            let patient =
                patient_words(r.get(4)?, r.get(5)?).unwrap_or_else(|| "no identifier".into());
            let doc_type: Option<String> = r.get(2)?;
            let pages: u32 = r.get(6)?;
            Ok(DocChoice {
                id: r.get(0)?,
                record_id: r.get(1)?,
                words: format!(
                    "record {} · {patient} · {} · {pages} pages",
                    ordinal + 1,
                    doc_type.as_deref().unwrap_or("default type")
                ),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps a supervisor's decision about a page (audited).
    pub fn decide_page(
        &mut self,
        batch_id: &str,
        side: u32,
        decision: &PageDecision,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let (sql, value, action, detail) = match decision {
            PageDecision::Remove => (
                "UPDATE pages SET removed_by = ?3 WHERE batch_id = ?1 AND side = ?2",
                actor.operator.clone(),
                "page.remove",
                format!("side {side}"),
            ),
            PageDecision::MarkRescan(why) => (
                "UPDATE pages SET rescan = ?3 WHERE batch_id = ?1 AND side = ?2",
                why.clone(),
                "page.mark_rescan",
                format!("side {side}: {why}"),
            ),
            PageDecision::MoveTo(MoveTarget::NewRecord(p)) => (
                "UPDATE pages SET moved_to = ?3 WHERE batch_id = ?1 AND side = ?2",
                MoveTarget::NewRecord(p.clone()).to_stored(),
                "page.move",
                format!("side {side} to a new record for {}", p.describe()),
            ),
            PageDecision::MoveTo(MoveTarget::Document(doc)) => {
                let known: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM documents WHERE id = ?1 AND batch_id = ?2)",
                    params![doc, batch_id],
                    |r| r.get(0),
                )?;
                if !known {
                    return Err(StoreError::NotFound(format!(
                        "document {doc} in batch {batch_id}"
                    )));
                }
                (
                    "UPDATE pages SET moved_to = ?3 WHERE batch_id = ?1 AND side = ?2",
                    doc.clone(),
                    "page.move",
                    format!("side {side} to document {doc}"),
                )
            }
        };
        if tx.execute(sql, params![batch_id, side, value])? == 0 {
            return Err(StoreError::NotFound(format!(
                "side {side} of batch {batch_id}"
            )));
        }
        audit::append(&tx, actor, action, batch_id, &detail)?;
        tx.commit()?;
        Ok(())
    }

    /// The side a flag is about (if any) and its code.
    pub fn flag_about(&self, flag_id: i64) -> Result<(Option<u32>, FlagCode), StoreError> {
        self.conn
            .query_row(
                "SELECT side, code FROM flags WHERE id = ?1",
                params![flag_id],
                |r| {
                    Ok((
                        r.get(0)?,
                        super::parsed(r, 1, "flag code", FlagCode::parse)?,
                    ))
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("flag {flag_id}")))
    }

    /// How far a side is turned from how it was scanned (degrees clockwise,
    /// 0 to 270): its turns since it was last scanned, from the audit trail.
    pub fn page_turn(&self, batch_id: &str, side: u32) -> Result<u16, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT action, detail FROM audit WHERE subject = ?1
               AND action IN ('page.replace_image', 'page.rescan') ORDER BY seq",
        )?;
        let turned = format!("side {side}: turned ");
        let rescanned = format!("side {side} ");
        let mut degrees: u32 = 0;
        let rows = stmt.query_map([batch_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (action, detail) = row?;
            if action == "page.rescan" && detail.starts_with(&rescanned) {
                degrees = 0;
            } else if let Some(d) = detail
                .strip_prefix(&turned)
                .and_then(|rest| rest.strip_suffix(" degrees"))
                .and_then(|d| d.parse::<u32>().ok())
            {
                degrees = (degrees + d) % 360;
            }
        }
        Ok(degrees as u16)
    }

    /// Marks a flag resolved by the actor ("approved", "accepted as it is"...).
    pub fn resolve_flag(
        &mut self,
        flag_id: i64,
        resolution: &str,
        actor: &Actor,
    ) -> Result<String, StoreError> {
        let tx = self.conn.transaction()?;
        let (batch_id, code): (String, String) = tx
            .query_row(
                "SELECT batch_id, code FROM flags WHERE id = ?1",
                params![flag_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("flag {flag_id}")))?;
        tx.execute(
            "UPDATE flags SET resolved_by = ?2, resolution = ?3, resolved_at = ?4 WHERE id = ?1 AND resolved_at IS NULL",
            params![flag_id, actor.operator, resolution, crate::now_rfc3339()],
        )?;
        tx.execute(
            &format!("UPDATE batches SET state = CASE WHEN EXISTS (SELECT 1 FROM flags WHERE batch_id = ?1 AND resolved_at IS NULL)
               THEN ?2 ELSE ?3 END WHERE id = ?1 AND {}", in_review("batches")),
            params![batch_id, BatchState::InReview.as_str(), BatchState::Closed.as_str()],
        )?;
        audit::append(
            &tx,
            actor,
            "flag.resolve",
            &batch_id,
            &format!("{code} #{flag_id}: {resolution}"),
        )?;
        tx.commit()?;
        Ok(batch_id)
    }

    /// Puts back a side that was removed (as blank, or by a supervisor).
    pub fn restore_side(
        &mut self,
        batch_id: &str,
        side: u32,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE pages SET restored = 1, removed_by = NULL WHERE batch_id = ?1 AND side = ?2",
            params![batch_id, side],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "side {side} of batch {batch_id}"
            )));
        }
        audit::append(
            &tx,
            actor,
            "page.restore",
            batch_id,
            &format!("side {side}"),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The stored image of a side.
    pub fn page_image(&self, batch_id: &str, side: u32) -> Result<super::StoredImage, StoreError> {
        self.conn
            .query_row(
                "SELECT image_sha256, encoding, kind, width, height, dpi, bytes FROM pages WHERE batch_id = ?1 AND side = ?2 AND image_sha256 IS NOT NULL",
                params![batch_id, side],
                |r| {
                    let enc: String = r.get(1)?;
                    let kind: String = r.get(2)?;
                    Ok((r.get::<_, String>(0)?, enc, kind, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
                },
            )
            .optional()?
            .and_then(|(sha256, enc, kind, width, height, dpi, bytes)| {
                Some(super::StoredImage {
                    sha256,
                    encoding: crate::pixels::Encoding::parse(&enc)?,
                    kind: serde_json::from_value(serde_json::Value::String(kind)).ok()?,
                    width,
                    height,
                    dpi,
                    bytes,
                })
            })
            .ok_or_else(|| StoreError::NotFound(format!("image of side {side} of batch {batch_id}")))
    }

    /// Replaces a side's image (and its thumbnail and preview), e.g. turned.
    pub fn replace_page_image(
        &mut self,
        batch_id: &str,
        side: u32,
        img: &super::StoredImage,
        (thumb, preview): (&str, &str),
        why: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE pages SET image_sha256 = ?3, width = ?4, height = ?5, bytes = ?6, thumb_sha256 = ?7, preview_sha256 = ?8
             WHERE batch_id = ?1 AND side = ?2",
            params![batch_id, side, img.sha256, img.width, img.height, img.bytes, thumb, preview],
        )?;
        audit::append(
            &tx,
            actor,
            "page.replace_image",
            batch_id,
            &format!("side {side}: {why}"),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Sets a record's identifier (applied whenever the batch is separated).
    pub fn set_identifier_fix(
        &mut self,
        batch_id: &str,
        record_id: &str,
        patient: &PatientId,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(patient).map_err(|e| StoreError::Damaged(e.to_string()))?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO identifier_fixes (batch_id, record_id, patient, fixed_by, fixed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![batch_id, record_id, json, actor.operator, crate::now_rfc3339()],
        )?;
        audit::append(
            &tx,
            actor,
            "record.fix_identifier",
            batch_id,
            &format!("{record_id}: {}", patient.describe()),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The identifier fixes of a batch, by record id.
    pub fn identifier_fixes(
        &self,
        batch_id: &str,
    ) -> Result<HashMap<String, PatientId>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT record_id, patient FROM identifier_fixes WHERE batch_id = ?1")?;
        let rows = stmt.query_map(params![batch_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (rec, json) = row?;
            let p = serde_json::from_str(&json).map_err(|e| StoreError::Damaged(e.to_string()))?;
            out.insert(rec, p);
        }
        Ok(out)
    }

    /// Writes a batch's JSON column (`patient`, `patches`).
    fn set_batch_json<T: serde::Serialize>(
        &mut self,
        batch_id: &str,
        column: BatchJson,
        value: &T,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(value).map_err(|e| StoreError::Damaged(e.to_string()))?;
        self.conn.execute(
            &format!("UPDATE batches SET {} = ?2 WHERE id = ?1", column.name()),
            params![batch_id, json],
        )?;
        Ok(())
    }

    /// Reads a batch's JSON column; None when unset.
    fn batch_json<T: serde::de::DeserializeOwned>(
        &self,
        batch_id: &str,
        column: BatchJson,
    ) -> Result<Option<T>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row(
                &format!("SELECT {} FROM batches WHERE id = ?1", column.name()),
                params![batch_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Damaged(e.to_string())))
            .transpose()
    }

    /// Sets the patient of an on-demand batch.
    pub fn set_batch_patient(
        &mut self,
        batch_id: &str,
        patient: &PatientId,
    ) -> Result<(), StoreError> {
        self.set_batch_json(batch_id, BatchJson::Patient, patient)
    }

    /// The patient of an on-demand batch, if one was given.
    pub fn batch_patient(&self, batch_id: &str) -> Result<Option<PatientId>, StoreError> {
        self.batch_json(batch_id, BatchJson::Patient)
    }

    /// Fixes what each patch code does in a batch (its scan profile's
    /// `patches`), so separating it again later does the same.
    pub fn set_batch_patches(
        &mut self,
        batch_id: &str,
        meanings: &crate::batch::protocol::PatchMeanings,
    ) -> Result<(), StoreError> {
        self.set_batch_json(batch_id, BatchJson::Patches, meanings)
    }

    /// What each patch code does in a batch, when its profile said (else
    /// the station's `[patches]` apply).
    pub fn batch_patches(
        &self,
        batch_id: &str,
    ) -> Result<Option<crate::batch::protocol::PatchMeanings>, StoreError> {
        self.batch_json(batch_id, BatchJson::Patches)
    }

    /// Changes the patient an on-demand batch was scanned for, when a person
    /// decided the paper is right and the typing was not; audited with why.
    pub fn change_batch_patient(
        &mut self,
        batch_id: &str,
        patient: &PatientId,
        actor: &Actor,
        why: &str,
    ) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(patient).map_err(|e| StoreError::Damaged(e.to_string()))?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE batches SET patient = ?2 WHERE id = ?1",
            params![batch_id, json],
        )?;
        audit::append(&tx, actor, "batch.set_patient", batch_id, why)?;
        tx.commit()?;
        Ok(())
    }

    /// On-demand records, in batches not yet approved, whose record sheet
    /// contradicts the patient typed (each waits for a person's choice).
    pub fn patient_mismatches(&self) -> Result<Vec<PatientMismatch>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT f.id, f.batch_id, f.record_id, COALESCE(r.nhs_number, r.hospital_number), b.patient
             FROM flags f
             JOIN records r ON r.id = f.record_id AND r.batch_id = f.batch_id
             JOIN batches b ON b.id = f.batch_id
             WHERE f.code = 'misfiled_identifier' AND f.resolved_at IS NULL AND f.side IS NULL
               AND b.patient IS NOT NULL AND {}
             ORDER BY f.id", in_review("b")),
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (flag_id, batch_id, record_id, paper, typed) = row?;
            let typed =
                serde_json::from_str(&typed).map_err(|e| StoreError::Damaged(e.to_string()))?;
            out.push(PatientMismatch {
                batch_id,
                record_id,
                flag_id,
                paper: paper.unwrap_or_default(),
                typed,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, code: FlagCode, batch: &str, side: Option<u32>) -> ReviewItem {
        ReviewItem {
            kind: ReviewKind::Flag {
                id,
                code,
                detail: String::new(),
            },
            more_flags: Vec::new(),
            barcodes: Vec::new(),
            batch_id: batch.into(),
            batch_label: String::new(),
            record_id: None,
            patient: None,
            side,
            preview_sha256: None,
            thumb_sha256: None,
            neighbours: Vec::new(),
            image: None,
        }
    }

    #[test]
    fn a_sides_flags_are_one_item_and_record_flags_stay_apart() {
        let grouped = group_sides(vec![
            item(1, FlagCode::InvalidNhsNumber, "a", None),
            item(2, FlagCode::EmptyRecord, "a", None),
            item(3, FlagCode::MisfiledIdentifier, "a", Some(2)),
            item(4, FlagCode::Skewed, "a", Some(2)),
            item(5, FlagCode::Skewed, "a", Some(3)),
            item(6, FlagCode::Skewed, "b", Some(3)),
        ]);
        let ids: Vec<Vec<i64>> = grouped
            .iter()
            .map(|i| i.flags().into_iter().map(|(id, _)| id).collect())
            .collect();
        assert_eq!(ids, [vec![1], vec![2], vec![3, 4], vec![5], vec![6]]);
    }

    #[test]
    fn a_pages_turn_is_counted_from_its_last_scan() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let actor = Actor {
            station: "st".into(),
            operator: "op".into(),
            role: None,
        };
        let log = |action: &str, detail: &str| {
            audit::append(&store.conn, &actor, action, "b1", detail).unwrap();
        };
        assert_eq!(store.page_turn("b1", 3).unwrap(), 0);
        log("page.replace_image", "side 3: turned 90 degrees");
        log("page.replace_image", "side 13: turned 180 degrees");
        assert_eq!(store.page_turn("b1", 3).unwrap(), 90);
        log("page.replace_image", "side 3: turned 270 degrees");
        assert_eq!(store.page_turn("b1", 3).unwrap(), 0);
        log("page.replace_image", "side 3: turned 180 degrees");
        log("page.rescan", "side 3 replaced from pnm:0#rescan");
        assert_eq!(store.page_turn("b1", 3).unwrap(), 0);
        log("page.replace_image", "side 3: turned 270 degrees");
        assert_eq!(store.page_turn("b1", 3).unwrap(), 270);
        assert_eq!(store.page_turn("b1", 13).unwrap(), 180);
    }
}

/// The JSON columns of `batches`: named here so no SQL is built from text.
#[derive(Clone, Copy)]
enum BatchJson {
    Patient,
    Patches,
}

impl BatchJson {
    fn name(self) -> &'static str {
        match self {
            BatchJson::Patient => "patient",
            BatchJson::Patches => "patches",
        }
    }
}
